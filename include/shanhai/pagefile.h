/*
 * pagefile: a settle_pager over unlinked temporary files, for the engines
 * of shanhaid, `shanhai settle` and the auditor's replay: the engine's
 * closed years, each a blob found by the offset put() returns (the engine
 * keeps it: the page file has no index of them), and its index of report
 * ids (ids_add, ids_find) as an extendible hash on disk, under a byte of
 * memory per id (and the ids the file could not take: a full disk costs
 * memory, never a refusal). Blobs are written once at the file's end and
 * rewritten in place while they fit. The files are gone when the process
 * ends.
 */
#ifndef SHANHAI_PAGEFILE_H
#define SHANHAI_PAGEFILE_H

#include <stddef.h>

#include "shanhai/settle.h"

struct pagefile;

/*
 * A new, empty page file in dir (NULL: $TMPDIR, else /tmp), already
 * unlinked. NULL with the reason in err.
 */
struct pagefile	*pagefile_new(const char *dir, char *err, size_t errlen);
void		 pagefile_free(struct pagefile *pf);
/* Fills pg with callbacks over pf (borrowed: pf must outlive their use). */
void		 pagefile_pager(struct pagefile *pf, unsigned flags,
		    struct settle_pager *pg);
/*
 * Blobs held, the blob file's size in bytes, and report ids indexed (of
 * which *in_memory, when not NULL, the file could not take).
 */
size_t		 pagefile_count(const struct pagefile *pf);
size_t		 pagefile_bytes(const struct pagefile *pf);
size_t		 pagefile_ids(const struct pagefile *pf, size_t *in_memory);

#endif
