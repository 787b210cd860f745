/*
 * pagefile: a settle_pager over an unlinked temporary file, for the
 * engines of `shanhai settle` and the auditor's replay. Blobs are written
 * once at the file's end and rewritten in place while they fit. Keys are
 * the engine's "<agreement>/<year>" (a year of one to four digits; put
 * refuses any other key): the index in memory is an array by year per
 * agreement, 16 bytes a paged year, never anything per report. The file
 * is gone when the process ends.
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
/* Keys held, and the file's size in bytes. */
size_t		 pagefile_count(const struct pagefile *pf);
size_t		 pagefile_bytes(const struct pagefile *pf);

#endif
