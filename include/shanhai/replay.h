/*
 * replay: the ledger's entries fed back through the settlement engine, in
 * ledger order, each checked against what the engine writes (doc/DESIGN.md,
 * Engine). Pure: entries in as bytes, no I/O. A `rules` entry must be
 * exactly the entry of its text (with its time) and is installed; a
 * `report` entry is submitted again and the entries it causes must follow
 * it byte for byte; an `approval` entry must name the statement of its
 * year as the entries before it make it. Any other type goes to the
 * caller's hook (e.g. the daemon's `key` entries), or is refused.
 */
#ifndef SHANHAI_REPLAY_H
#define SHANHAI_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct replay;
struct settle;
struct settle_result;

/*
 * For entries of another type: 0 to accept, -1 with the reason in err.
 * e is the parsed entry (borrowed).
 */
typedef int replay_other_fn(void *arg, uint64_t index, const char *body,
    size_t len, const json_t *e, char *err, size_t errlen);

/* A replay into engine (borrowed); other NULL refuses unknown types. */
struct replay	*replay_new(struct settle *engine, replay_other_fn *other,
		    void *arg);
void		 replay_free(struct replay *rp);

/*
 * Entry `index`, body[0..len) as hashed. 0, or -1 with "entry N: reason"
 * in err; after -1 the replay is done for (the engine may hold the part
 * of a report that came before).
 */
int		 replay_entry(struct replay *rp, uint64_t index, const char *body,
		    size_t len, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/*
 * The result of the latest report replayed and the index of its entry
 * (borrowed until the next call), or NULL: for callers that index periods.
 */
const struct settle_result *replay_get0_report(const struct replay *rp,
		    uint64_t *index);
/* After the last entry: -1 (err) when a report's entries are cut short. */
int		 replay_finish(struct replay *rp, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

#endif
