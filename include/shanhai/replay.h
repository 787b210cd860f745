/*
 * replay: the one place where ledger entries are fed back through the
 * settlement engine, in ledger order, and checked against what the engine
 * writes (doc/DESIGN.md, Engine). Used by the daemon's start-up
 * (journal_open), `shanhai statement --entries` and the auditor's
 * `shanhai verify` (tool/audit.c, one replay per worker thread). Pure:
 * entries in as bytes, no I/O.
 *
 * A `rules` entry must be exactly the entry of its text and is installed;
 * a `report` entry is submitted again and the settlements, adjustments and
 * disputes it causes must follow it, none missing, none extra; an
 * `approval` entry must name the statement of its year as the entries
 * before it make it. Any other type goes to the caller's hook (e.g. the
 * daemon's `key` entries).
 *
 * Entries are compared as bytes: a report's and a derived entry's
 * top-level members are split with canon's member scanner and compared
 * with the engine's canonical entry without a parse; only an entry that
 * differs (or is of another shape) is parsed, to say which field differs
 * or that it is not canonical JSON.
 */
#ifndef SHANHAI_REPLAY_H
#define SHANHAI_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct replay;
struct settle;
struct settle_result;

enum replay_mode {
	/*
	 * The daemon's own ledger: every byte is compared, the `time` and
	 * `submitter` of a report entry are submitted with it; other types
	 * without a hook are refused.
	 */
	REPLAY_DAEMON,
	/*
	 * The auditor's (shanhai-api(7) verify): `time`, and `submitter` on
	 * reports, are not the engine's and not compared (they must be plain
	 * strings where the other members are compared as bytes); other
	 * types without a hook are counted as skipped.
	 */
	REPLAY_AUDIT,
};

/*
 * For entries of another type: 0 to accept, -1 with the reason in err.
 * e is the parsed entry (borrowed).
 */
typedef int replay_other_fn(void *arg, uint64_t index, const char *body,
    size_t len, const json_t *e, char *err, size_t errlen);

/* A REPLAY_DAEMON replay into engine (borrowed); other NULL refuses. */
struct replay	*replay_new(struct settle *engine, replay_other_fn *other,
		    void *arg);
/*
 * A replay of the given mode. engine may be NULL for a replay that only
 * checks forms (replay_form()) and entries no report caused.
 */
struct replay	*replay_new_mode(struct settle *engine, enum replay_mode mode,
		    replay_other_fn *other, void *arg);
void		 replay_free(struct replay *rp);

/*
 * Entry `index`, body[0..len) as hashed. 0, or -1 with "entry N: reason"
 * in err (err may be NULL); after -1 the replay is done for (the engine
 * may hold the part of a report that came before), but for the checks a
 * sequential replay makes before the failed one (replay_failure()).
 */
int		 replay_entry(struct replay *rp, uint64_t index, const char *body,
		    size_t len, char *err, size_t errlen);
/*
 * The entries of the latest report end before entry `next` (the next
 * entry belongs to another replay): -1 (err) when some are missing.
 */
int		 replay_end(struct replay *rp, uint64_t next, char *err,
		    size_t errlen);
/* Only the first check of replay_entry(): body is canonical JSON. */
int		 replay_form(struct replay *rp, uint64_t index, const char *body,
		    size_t len, char *err, size_t errlen);
/*
 * The first failure in the order a sequential replay makes its checks:
 * for entry i, its form (REPLAY_RANK(i, 0)), that the report before it
 * has no entry missing (1), its own replay (2). 0 with its rank and
 * message, -1 when nothing failed. The smallest rank over several replays
 * is the failure a sequential replay would have stopped at.
 */
#define REPLAY_RANK(i, step)	((uint64_t)(i) * 4 + (step))
int		 replay_failure(const struct replay *rp, uint64_t *rank,
		    const char **why);
/*
 * After replay_entry() of a report or approval at `index`: 0 with the
 * status of its period after it ("waiting", "settled", "disputed"; static)
 * and how many entries it causes; -1 otherwise.
 */
int		 replay_noted(const struct replay *rp, uint64_t index,
		    const char **status, size_t *count);
/*
 * The result of the latest report replayed and the index of its entry
 * (borrowed until the next call), or NULL: for callers that index periods.
 */
const struct settle_result *replay_get0_report(const struct replay *rp,
		    uint64_t *index);
/* What was replayed. */
struct replay_counts {
	uint64_t	rules, reports, derived, approvals, skipped;
};
void		 replay_counts(const struct replay *rp, struct replay_counts *c);
/* After the last entry: -1 (err) when a report's entries are cut short. */
int		 replay_finish(struct replay *rp, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

#endif
