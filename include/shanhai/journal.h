/*
 * journal: the durable core of shanhaid (SPEC 5, 6, 6.4). It owns the
 * settlement engine of the running daemon and the store behind it, and
 * turns accepted reports into committed, signed ledger entries:
 *
 *   - the engine runs in the event loop: journal_submit() settles a report
 *     at once, numbers the entries it causes and queues them;
 *   - a writer thread commits queued entries in groups (group commit): the
 *     entries, their Merkle subtree hashes, a newly signed checkpoint over
 *     the whole ledger and the report index rows, in one transaction. What
 *     arrives while a group is being committed joins the next group;
 *   - each submission is answered (201 receipt, 200 the first receipt again
 *     for an identical resubmission) only once its group is on disk;
 *   - when a commit fails, every queued submission is answered 503 and the
 *     engine is rebuilt from the store: nothing half-written survives.
 *
 * At open, the engine is rebuilt by replaying the stored `rules` and
 * `report` entries through it; every entry it regenerates must equal the
 * stored bytes, or the journal refuses to open.
 *
 * Everything here runs on the event loop's thread except the writer.
 */
#ifndef SHANHAI_JOURNAL_H
#define SHANHAI_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shanhai/store.h"

struct event_base;
struct evbuffer;
struct journal;
struct note_signer;
struct rules;
struct settle;

/* The ledger database's file in state_dir. */
#define JOURNAL_DB_NAME		STORE_DB_NAME
/* Most entries one GET /v1/ledger/entries answers. */
#define JOURNAL_MAX_ENTRIES	65536
/* Keys on one checkpoint: the key, the next key, an SM2 key. */
#define JOURNAL_MAX_SIGNERS	3

/*
 * The answer to a submission: status 201 or 200 with text the receipt
 * (JSON, SPEC 7); 503 with text the reason (the client should retry: the
 * engine was rebuilt from the store). Called once, from the event loop.
 */
typedef void journal_done_fn(void *arg, int status, const char *text,
    size_t len);

/*
 * Opens the ledger database in state_dir (created if needed), checks that
 * it belongs to `origin` (the first open records it), rebuilds the engine
 * from it and starts the writer thread, whose answers arrive through base.
 *
 * The keys (taken over, also on failure): `key` (Ed25519) signs every
 * checkpoint and must be one the ledger accepts (journal_keys_check);
 * `next` (Ed25519, NULL: none) is the key that will replace it: unless a
 * `key` entry in the ledger announces it already, one is queued, and once
 * that entry is committed (under a checkpoint without next's signature)
 * next co-signs every checkpoint; `sm2` (NULL: none) co-signs every
 * checkpoint. When the keys in force did not all sign the latest
 * checkpoint, it is signed again by them (same size, same root). NULL with
 * the reason in err.
 */
struct journal	*journal_open(struct event_base *base, const char *state_dir,
		    const char *origin, struct note_signer *key,
		    struct note_signer *next, struct note_signer *sm2,
		    char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/* Commits and answers what is queued, stops the writer, closes the store. */
void		 journal_free(struct journal *j);

/*
 * Would putting the agreements list[0..n) in force (new ones added,
 * changed ones replaced, missing ones withdrawn) change any settled period?
 * 0 no; -1 with the engine's reason, naming the agreement, in err.
 */
int		 journal_rules_check(struct journal *j,
		    const struct rules *const *list, size_t n, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/*
 * Puts list[0..n) in force (copies are taken) and queues a `rules` entry for
 * each new or changed agreement, ahead of any entry they produce. With
 * strict, nothing changes unless all of it passes journal_rules_check();
 * without (at start), an agreement whose change is refused keeps the
 * version in the ledger and the reason is logged. 0 or -1 (err).
 */
int		 journal_rules_apply(struct journal *j,
		    const struct rules *const *list, size_t n, int strict,
		    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * The checks of the keys alone, without a ledger (`shanhaid -t`): key and
 * next (NULL: none) Ed25519, next not the key. 0, or -1 (err).
 */
int		 journal_keys_valid(const struct note_signer *key,
		    const struct note_signer *next, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/*
 * Would the ledger take `key` as its signing key and `next` (NULL: none)
 * as the next key? The key must be Ed25519 and either the one in force,
 * or have signed the latest stored checkpoint, or be announced by a
 * committed `key` entry (an empty ledger takes any key); the next key must
 * be Ed25519 and not the key. 0, or -1 with the reason, naming the config
 * key (ledger.signing_key, ledger.next_key), in err.
 */
int		 journal_keys_check(struct journal *j,
		    const struct note_signer *key, const struct note_signer *next,
		    char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/*
 * Puts key and next in force (taken over, also on failure) after the
 * checks of journal_keys_check(), as journal_open() does: keys equal to
 * the ones in force are kept, a new next key gets its `key` entry, and the
 * next checkpoint (or the latest, signed again) carries the new set.
 * 0, or -1 (err) with the old keys kept.
 */
int		 journal_keys_apply(struct journal *j, struct note_signer *key,
		    struct note_signer *next, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

/*
 * Submits one report: body[0..len) as received, by a client speaking for
 * sides[0..nsides) (NULL: any side) with certificate fingerprint submitter
 * (hex; NULL: none). Returns 0 when queued: done(arg, …) follows once the
 * report is durable. Otherwise returns the refusal's HTTP status (400, 403,
 * 409, 413, 422; 503 while the store is failing) with the field and reason
 * in err, and done is never called.
 */
int		 journal_submit(struct journal *j, const char *body, size_t len,
		    const char *const *sides, size_t nsides,
		    const char *submitter, journal_done_fn *done, void *arg,
		    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Approves the statement of agreement's fiscal year (SPEC §5a, §7): body is
 * {"statement":"<hex>"}, by a bureau speaking for sides. As
 * journal_submit(): 0 when queued (done() answers 201 with the approval's
 * receipt once durable, or 200 with the first receipt for a repeat), or the
 * refusal's HTTP status (400, 403, 404, 409, 422, 503) with err.
 */
int		 journal_approve(struct journal *j, const char *agreement,
		    const char *year, const char *body, size_t len,
		    const char *const *sides, size_t nsides,
		    const char *submitter, journal_done_fn *done, void *arg,
		    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * The year's statement, status and approvals (settle_year_json()) as a new
 * reference in *out: 0, or 404/503 with err.
 */
int		 journal_year(struct journal *j, const char *agreement,
		    const char *year, json_t **out, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

/*
 * The year's statement document model (statement_model()), with the latest
 * signed checkpoint: 0, or 404/503 with err.
 */
int		 journal_year_model(struct journal *j, const char *agreement,
		    const char *year, json_t **out, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

/* Submissions queued or being committed. */
size_t		 journal_pending(const struct journal *j);
/*
 * For metrics: fn(arg, …) hears every group that was committed, on the
 * event loop: the submissions it answers, the entries it wrote, the seconds
 * the whole write took (entries, hashes, checkpoint, index) and those of
 * its COMMIT alone (the fsync of the WAL). One observer; NULL removes it.
 */
typedef void journal_observe_fn(void *arg, size_t reports, size_t entries,
    double write_seconds, double commit_seconds);
void		 journal_set_observer(struct journal *j, journal_observe_fn *fn,
		    void *arg);
/* The event loop the journal answers on. */
struct event_base *journal_get0_base(const struct journal *j);
/*
 * fn(arg, size) hears, on the event loop, the ledger's size once a group
 * that wrote entries is committed (its checkpoint is then on disk): the
 * tile mirror (mirror.h) publishes from there. One hook; NULL removes it.
 */
typedef void journal_commit_fn(void *arg, uint64_t size);
void		 journal_set_commit_hook(struct journal *j,
		    journal_commit_fn *fn, void *arg);
/* The engine in force (borrowed, event loop only, until the next call). */
const struct settle *journal_get0_engine(const struct journal *j);
/*
 * Blocks until everything queued is committed and answered (start, stop,
 * tests). 0, or -1 when a commit failed.
 */
int		 journal_flush(struct journal *j);

/*
 * Reads of the committed ledger. Each returns 0, or the HTTP status of a
 * refusal (400 bad range, 404 nothing there) with the reason in err.
 */
/* The latest signed checkpoint, malloc'd. */
int		 journal_checkpoint(struct journal *j, char **note, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/* Entries start .. end-1 appended to out, one per line, as hashed. */
int		 journal_entries(struct journal *j, uint64_t start, uint64_t end,
		    struct evbuffer *out, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/* {"index":N,"size":S,"hashes":[base64…]} as a new reference in *out. */
int		 journal_inclusion(struct journal *j, uint64_t index,
		    uint64_t size, json_t **out, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/* {"from":A,"to":B,"hashes":[base64…]} as a new reference in *out. */
int		 journal_consistency(struct journal *j, uint64_t from,
		    uint64_t to, json_t **out, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/*
 * A period's status, figures and entry indexes (the engine's view plus
 * "entries": the committed entries that concern it).
 */
int		 journal_period(struct journal *j, const char *agreement,
		    const char *period, json_t **out, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/*
 * The engine runs ahead of the disk: a report's figures are in it while its
 * group is being committed. ready(j, arg, 1) is called once no entry that
 * concerns the period (nor any rules entry) waits to be committed: at once,
 * or on the loop after the commit that brings it there, so that what
 * journal_period() then shows is committed state. ready(j, arg, 0) when
 * the journal cannot say (store broken, out of memory, journal freed).
 * With period NULL: once every entry queued at the call is committed (a
 * year's statement, which spans periods).
 */
typedef void journal_ready_fn(struct journal *j, void *arg, int ok);
void		 journal_when_committed(struct journal *j,
		    const char *agreement, const char *period,
		    journal_ready_fn *ready, void *arg);

#endif
