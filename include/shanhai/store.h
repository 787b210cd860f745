/*
 * store: the daemon's one SQLite database (SPEC 6, 6.4). The only module that
 * includes sqlite3.h. It holds the ledger entries (canonical bytes exactly as
 * hashed, and their leaf hashes), the complete aligned Merkle subtree hashes
 * of 16 leaves and more (smaller ones are derived from the leaf hashes),
 * every signed checkpoint, the report index that makes
 * resubmission idempotent, and which rules version each agreement's
 * latest `rules` entry carries. Everything else the daemon knows is rebuilt from it.
 *
 * The database runs in WAL mode with synchronous=FULL (a commit is on disk
 * when store_commit() returns), foreign keys on, STRICT tables, and a schema
 * version in PRAGMA user_version that store_open() migrates forward. The
 * ledger tables are append-only, enforced in SQL: triggers refuse UPDATE and
 * DELETE, entries must arrive in index order, subtree hashes only once their
 * leaves exist, checkpoint sizes only grow and never exceed the ledger, and
 * only the latest checkpoint may be signed again, with its own root.
 *
 * One struct store is one connection, for one thread at a time. Open one per
 * thread on the same file: WAL lets readers go on while a writer commits.
 *
 * Errors: 0 on success; STORE_ENOENT when the asked-for row does not exist;
 * STORE_EREFUSED when a constraint or trigger refused a write (the database
 * protecting its own rules); STORE_EIO otherwise. store_errmsg() says why.
 */
#ifndef SHANHAI_STORE_H
#define SHANHAI_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_EIO	(-1)
#define STORE_ENOENT	(-2)
#define STORE_EREFUSED	(-3)

#define STORE_HASH_SIZE	32
/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION	5
/* Buffer sizes for the text keys of the report index (SPEC 2 ids + NUL). */
#define STORE_ID_BUFSZ		65
#define STORE_HEX_BUFSZ		65
#define STORE_STATUS_BUFSZ	16

struct store;

/* One row of the report index: what a receipt is rebuilt from. */
struct store_report {
	char		agreement[STORE_ID_BUFSZ];
	char		role[STORE_ID_BUFSZ];
	char		report_id[STORE_ID_BUFSZ];
	char		sha256[STORE_HEX_BUFSZ];	/* report hash, hex */
	uint64_t	index;		/* the report entry */
	uint64_t	count;		/* entries caused: index .. index+count-1 */
	char		status[STORE_STATUS_BUFSZ];	/* period status after it */
	uint64_t	checkpoint;	/* size of the checkpoint its receipt cites */
};

/*
 * Opens (creating if needed) the database at path and migrates its schema to
 * STORE_SCHEMA_VERSION. Refuses a database written by a newer schema. NULL
 * with the reason in err on failure.
 */
struct store	*store_open(const char *path, char *err, size_t errlen);
/* The ledger database's file in a state folder. */
#define STORE_DB_NAME	"shanhai.db"
/* "<state_dir>/shanhai.db", malloc'd; NULL when out of memory. */
char		*store_path(const char *state_dir);
void		 store_close(struct store *s);
/*
 * How long a statement on this connection waits for a lock another holds
 * before failing (STORE_EIO, "database is locked"); store_open() sets 10 s.
 * A connection an event loop reads on takes a short one, so that a lock
 * held elsewhere costs one request an error, not every client a stall.
 */
void		 store_set_busy_timeout(struct store *s, int ms);
/* The last SQLite message of this connection (borrowed). */
const char	*store_errmsg(const struct store *s);
/* The schema version of the open database. */
int		 store_schema_version(struct store *s);

/* Transactions: BEGIN IMMEDIATE .. COMMIT (durable on return) / ROLLBACK. */
int	store_begin(struct store *s) __attribute__((warn_unused_result));
int	store_commit(struct store *s) __attribute__((warn_unused_result));
/*
 * Checkpoints of the write-ahead log into the database file. By default a
 * commit that leaves the log over 1000 pages copies it back itself, before
 * COMMIT returns. store_wal_manual() stops that on this connection and
 * keeps the log's size in pages after each commit for store_wal_frames().
 * store_checkpoint_wal() copies what it can (restart 0: without waiting
 * for anyone) or all of it and makes the next writer start the log over
 * (restart 1: waits for readers of older data, with the busy timeout);
 * *log is then the log's size and *done the pages copied.
 */
void	 store_wal_manual(struct store *s);
uint64_t store_wal_frames(const struct store *s);
int	 store_checkpoint_wal(struct store *s, int restart, uint64_t *log,
	    uint64_t *done) __attribute__((warn_unused_result));

/*
 * Group commit with the sync apart: store_defer_sync() makes this
 * connection's COMMIT return once the log is written, before it is synced
 * (synchronous=NORMAL, checked), and store_sync() then syncs the log
 * (fdatasync), after which every transaction committed before it is on
 * disk, as COMMIT under synchronous=FULL would have left it. store_sync()
 * touches only a descriptor of the log, so another thread may call it
 * while this connection goes on; 0 or -errno. Without store_defer_sync()
 * it does nothing: COMMIT synced already.
 */
int	 store_defer_sync(struct store *s) __attribute__((warn_unused_result));
int	 store_sync(const struct store *s) __attribute__((warn_unused_result));

/* Safe to call when no transaction is open. */
void	store_rollback(struct store *s);

/*
 * A consistent copy of the database (SQLite's online backup API: the
 * database as of one commit, while a daemon goes on writing) into a new
 * file at path (mode 0600, never over an existing file), passed through
 * PRAGMA integrity_check and synced. STORE_EIO with the reason in err; no
 * file is left then.
 */
int	store_backup(struct store *s, const char *path, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/* Number of ledger entries (the next index to append). */
int	store_size(struct store *s, uint64_t *size)
	    __attribute__((warn_unused_result));
/*
 * Appends entry `index` (which must equal the current size) with its
 * canonical bytes and leaf hash.
 */
int	store_append(struct store *s, uint64_t index, const void *body,
	    size_t len, const unsigned char leaf[STORE_HASH_SIZE])
	    __attribute__((warn_unused_result));
/* Entry `index` in a malloc'd buffer (NUL-terminated, length in *len). */
int	store_entry(struct store *s, uint64_t index, char **body, size_t *len)
	    __attribute__((warn_unused_result));
/*
 * Calls fn for entries start .. end-1 in order; a non-zero return from fn
 * stops the walk and is returned. body is valid only during the call.
 */
typedef int store_entry_fn(void *ctx, uint64_t index, const char *body,
    size_t len, const unsigned char leaf[STORE_HASH_SIZE]);
int	store_foreach(struct store *s, uint64_t start, uint64_t end,
	    store_entry_fn *fn, void *ctx) __attribute__((warn_unused_result));

/*
 * Complete aligned subtree hashes: (level, index) covers leaves
 * [index * 2^level, (index + 1) * 2^level). Level 0 is the leaf hash of the
 * entry. Levels 1 to STORE_HASH_MIN_LEVEL - 1 are not stored: their hashes
 * are derived from the leaf hashes (at most 8) when asked for. Higher levels
 * are stored with store_put_hash(), once all their leaves exist; it refuses
 * the levels below. store_get_hash() takes the store as its void * so that
 * it can serve directly as the Merkle module's read callback.
 */
#define STORE_HASH_MIN_LEVEL	4
int	store_put_hash(struct store *s, unsigned level, uint64_t index,
	    const unsigned char hash[STORE_HASH_SIZE])
	    __attribute__((warn_unused_result));
int	store_get_hash(void *store, unsigned level, uint64_t index,
	    unsigned char out[STORE_HASH_SIZE]);

/*
 * Signed checkpoints, one per size, sizes strictly increasing and at most
 * the ledger's size; the note text as signed. Getters give a malloc'd copy.
 * store_checkpoint() gives the note first signed for that size (the one
 * receipts cite).
 */
int	store_put_checkpoint(struct store *s, uint64_t size,
	    const unsigned char root[STORE_HASH_SIZE], const char *note)
	    __attribute__((warn_unused_result));
int	store_checkpoint(struct store *s, uint64_t size, char **note)
	    __attribute__((warn_unused_result));
/* The latest signing of that size: a re-signing, if any, else the first. */
int	store_checkpoint_latest(struct store *s, uint64_t size, char **note)
	    __attribute__((warn_unused_result));
/*
 * Keeps another signing of the latest checkpoint (new keys, after a key
 * rotation): the same size and the same root, or STORE_EREFUSED.
 */
int	store_resign_checkpoint(struct store *s, uint64_t size,
	    const unsigned char root[STORE_HASH_SIZE], const char *note)
	    __attribute__((warn_unused_result));
/*
 * The checkpoint of greatest size, in its latest signing;
 * STORE_ENOENT when none was signed.
 */
int	store_latest_checkpoint(struct store *s, uint64_t *size, char **note)
	    __attribute__((warn_unused_result));

/*
 * The report index: one row per accepted report, appended in entry order
 * (so a group's rows fill one page instead of touching one page each).
 * Rows are found by their report entry's index; the daemon keeps the map
 * from report hash to that index in memory, rebuilt from the ledger.
 */
int	store_put_report(struct store *s, const struct store_report *r)
	    __attribute__((warn_unused_result));
int	store_report_at(struct store *s, uint64_t index,
	    struct store_report *out) __attribute__((warn_unused_result));

/*
 * Rules versions: the `rules` entry at `index` carries agreement's file with
 * SHA-256 `sha256` (hex). store_rules_latest() gives the latest one.
 */
int	store_put_rules(struct store *s, const char *agreement,
	    const char *sha256, uint64_t index)
	    __attribute__((warn_unused_result));
int	store_rules_latest(struct store *s, const char *agreement,
	    char sha256[STORE_HEX_BUFSZ], uint64_t *index)
	    __attribute__((warn_unused_result));

/*
 * The period index: entries index .. index+count-1 concern agreement's
 * period (rows appended in entry order). store_period_entries() gives
 * those below `below`, in ledger order, in a malloc'd array (NULL when
 * none); store_period_indexed() one past the last entry the rows cover (0
 * when there are none): a database of schema 4 or earlier gets its rows
 * for the entries it held from the daemon's start-up replay.
 */
int	store_put_period(struct store *s, const char *agreement,
	    const char *period, uint64_t index, uint64_t count)
	    __attribute__((warn_unused_result));
int	store_period_entries(struct store *s, const char *agreement,
	    const char *period, uint64_t below, uint64_t **v, size_t *n)
	    __attribute__((warn_unused_result));
int	store_period_indexed(struct store *s, uint64_t *upto)
	    __attribute__((warn_unused_result));

/*
 * Small key-value facts fixed at the first start (e.g. the ledger origin):
 * set once, never changed.
 */
int	store_put_meta(struct store *s, const char *key, const char *value)
	    __attribute__((warn_unused_result));
/* malloc'd copy of the value. */
int	store_meta(struct store *s, const char *key, char **value)
	    __attribute__((warn_unused_result));

#endif
