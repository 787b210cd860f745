/*
 * witstate: the state of a `shanhai witness` (SPEC 6.6): for each log,
 * the latest checkpoint it cosigned, in its own SQLite database. A second
 * database beside the ledger's (store.h): another program's, with another
 * owner and lifetime, so it has its own module.
 *
 * tlog-witness requires that checking the old size and recording the new
 * checkpoint be atomic. witstate_begin() opens a write transaction (BEGIN
 * IMMEDIATE: one writer at a time, across processes sharing the file), and
 * witstate_put() is itself a compare-and-swap on the size it read, so even
 * a caller that skipped the transaction could not roll a log back; a
 * trigger refuses a smaller size, or another root for the same size.
 *
 * Errors: 0; WITSTATE_ENOENT no such row; WITSTATE_ECONFLICT the stored
 * size is no longer the one expected; WITSTATE_EIO otherwise, with the
 * reason in err.
 */
#ifndef SHANHAI_WITSTATE_H
#define SHANHAI_WITSTATE_H

#include <stddef.h>
#include <stdint.h>

#define WITSTATE_EIO		(-1)
#define WITSTATE_ENOENT		(-2)
#define WITSTATE_ECONFLICT	(-3)

struct witstate;

/* Opens or creates the database at path (WAL, synchronous=FULL). */
struct witstate	*witstate_open(const char *path, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
void		 witstate_close(struct witstate *ws);

int	witstate_begin(struct witstate *ws, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* Durable on return. */
int	witstate_commit(struct witstate *ws, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
void	witstate_rollback(struct witstate *ws);

/*
 * The latest cosigned checkpoint of origin: size, root (may be NULL) and,
 * when note is not NULL, the cosigned note (malloc'd, NUL-terminated,
 * *notelen bytes). WITSTATE_ENOENT when the witness never cosigned one.
 */
int	witstate_get(struct witstate *ws, const char *origin, uint64_t *size,
	    unsigned char root[32], char **note, size_t *notelen, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * Records size, root and the cosigned note as origin's latest, if and only
 * if the stored size is still old_size (0: no row yet). WITSTATE_ECONFLICT
 * otherwise. Sizes above INT64_MAX are refused (WITSTATE_EIO).
 */
int	witstate_put(struct witstate *ws, const char *origin, uint64_t old_size,
	    uint64_t size, const unsigned char root[32], const char *note,
	    size_t notelen, uint64_t when, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

#endif
