/*
 * audit: the replay of a ledger's entries, as `shanhai verify` does it
 * (SPEC 6.1, 8). Fed the entries in order, it checks that each is canonical
 * JSON, rebuilds the agreements from the `rules` entries, feeds every
 * `report` entry through the settle engine, and requires every settlement,
 * adjustment and dispute in the ledger to be exactly what the engine gives
 * (ignoring "time", and "submitter" on reports), none missing, none extra.
 * Entries of other types (e.g. `key`) are checked canonical and skipped.
 *
 * Agreements are independent, so the work is spread over worker threads,
 * each with its own engine and a share of the agreements; a report's
 * entries always go to one worker, in order. The result does not depend on
 * the number of workers: the failure reported is the one at the smallest
 * entry index, as a sequential replay would stop at.
 *
 * No hashing here: the caller hashes the same bytes into the tree.
 */
#ifndef SHANHAI_AUDIT_H
#define SHANHAI_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct audit;

/*
 * A new replay with `workers` threads (0: one per online CPU, at most 4).
 * NULL when out of memory or when no thread can start.
 */
struct audit	*audit_new(unsigned workers);
/*
 * Entry `index` (indexes from 0 without gaps), its bytes as served without
 * the newline; copied. -1 when out of memory (audit_finish() then fails).
 */
int		 audit_entry(struct audit *a, uint64_t index, const char *line,
		    size_t len) __attribute__((warn_unused_result));
/*
 * Ends the stream after `count` entries and waits for the workers. 0 when
 * every entry held; -1 with the first failure's index in *at and the
 * reason ("entry N: ...") in err.
 */
int		 audit_finish(struct audit *a, uint64_t count, uint64_t *at,
		    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * Asks the replay to note what the report entry at `index` gives: the
 * status of its period after it and how many entries it causes, from
 * `index` on (what a receipt's "status" and "entries" say, SPEC 7). Call
 * before the first audit_entry().
 */
void		 audit_watch(struct audit *a, uint64_t index);
/*
 * After audit_finish(): the watched report's period status ("waiting",
 * "settled", "disputed"; static) and its entry count. -1 when that entry
 * was not a report the replay accepted.
 */
int		 audit_watched(const struct audit *a, const char **status,
		    size_t *count);
/* What was replayed (after audit_finish()). */
void		 audit_counts(const struct audit *a, uint64_t *rules,
		    uint64_t *reports, uint64_t *derived, uint64_t *skipped);
/* Stops and frees (audit_finish() need not have been called). */
void		 audit_free(struct audit *a);

#endif
