/*
 * store: the SQLite database of the ledger, its hash tree, checkpoints and
 * indexes (see store.h). The schema lives in migrations[], one step per
 * schema version; the append-only rules live in the schema itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "shanhai/merkle.h"
#include "shanhai/store.h"

/*
 * migrations[v - 1] takes a database from schema version v - 1 to v. Steps
 * are never edited once released; a change is a new step.
 */
static const char *const migrations[] = {
	/* 1: the first release. */
	"CREATE TABLE entry ("
	"  idx  INTEGER PRIMARY KEY CHECK (idx >= 0),"
	"  body BLOB NOT NULL,"
	"  leaf BLOB NOT NULL CHECK (length(leaf) = 32)"
	") STRICT;"
	"CREATE TRIGGER entry_in_order BEFORE INSERT ON entry"
	"  WHEN NEW.idx IS NOT (SELECT coalesce(max(idx) + 1, 0) FROM entry)"
	"  BEGIN SELECT RAISE(ABORT, 'ledger entries are appended in index order'); END;"
	"CREATE TRIGGER entry_no_update BEFORE UPDATE ON entry"
	"  BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;"
	"CREATE TRIGGER entry_no_delete BEFORE DELETE ON entry"
	"  BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;"

	"CREATE TABLE subtree ("
	"  level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 62),"
	"  idx   INTEGER NOT NULL CHECK (idx >= 0),"
	"  hash  BLOB NOT NULL CHECK (length(hash) = 32),"
	"  PRIMARY KEY (level, idx)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TRIGGER subtree_complete BEFORE INSERT ON subtree"
	"  WHEN (NEW.idx + 1) << NEW.level >"
	"       (SELECT coalesce(max(idx) + 1, 0) FROM entry)"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hash before its leaves'); END;"
	"CREATE TRIGGER subtree_once BEFORE INSERT ON subtree"
	"  WHEN EXISTS (SELECT 1 FROM subtree"
	"               WHERE level = NEW.level AND idx = NEW.idx)"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hashes are written once'); END;"
	"CREATE TRIGGER subtree_no_update BEFORE UPDATE ON subtree"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hashes are append-only'); END;"
	"CREATE TRIGGER subtree_no_delete BEFORE DELETE ON subtree"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hashes are append-only'); END;"

	"CREATE TABLE checkpoint ("
	"  size INTEGER PRIMARY KEY CHECK (size >= 0),"
	"  root BLOB NOT NULL CHECK (length(root) = 32),"
	"  note TEXT NOT NULL"
	") STRICT;"
	"CREATE TRIGGER checkpoint_grows BEFORE INSERT ON checkpoint"
	"  WHEN NEW.size <= (SELECT coalesce(max(size), -1) FROM checkpoint)"
	"  BEGIN SELECT RAISE(ABORT, 'checkpoint size must grow'); END;"
	"CREATE TRIGGER checkpoint_covered BEFORE INSERT ON checkpoint"
	"  WHEN NEW.size > (SELECT coalesce(max(idx) + 1, 0) FROM entry)"
	"  BEGIN SELECT RAISE(ABORT, 'checkpoint beyond the ledger'); END;"
	"CREATE TRIGGER checkpoint_no_update BEFORE UPDATE ON checkpoint"
	"  BEGIN SELECT RAISE(ABORT, 'signed checkpoints are kept as signed'); END;"
	"CREATE TRIGGER checkpoint_no_delete BEFORE DELETE ON checkpoint"
	"  BEGIN SELECT RAISE(ABORT, 'signed checkpoints are kept as signed'); END;"

	"CREATE TABLE report ("
	"  entry      INTEGER PRIMARY KEY REFERENCES entry (idx),"
	"  agreement  TEXT NOT NULL,"
	"  role       TEXT NOT NULL CHECK (role IN ('host', 'home')),"
	"  report_id  TEXT NOT NULL,"
	"  sha256     TEXT NOT NULL CHECK (length(sha256) = 64),"
	"  count      INTEGER NOT NULL CHECK (count >= 1),"
	"  status     TEXT NOT NULL,"
	"  checkpoint INTEGER NOT NULL REFERENCES checkpoint (size),"
	"  CHECK (entry + count <= checkpoint)"
	") STRICT;"
	"CREATE TRIGGER report_in_order BEFORE INSERT ON report"
	"  WHEN NEW.entry <= (SELECT coalesce(max(entry), -1) FROM report)"
	"  BEGIN SELECT RAISE(ABORT, 'report rows are appended in entry order'); END;"
	"CREATE TRIGGER report_no_update BEFORE UPDATE ON report"
	"  BEGIN SELECT RAISE(ABORT, 'the report index is append-only'); END;"
	"CREATE TRIGGER report_no_delete BEFORE DELETE ON report"
	"  BEGIN SELECT RAISE(ABORT, 'the report index is append-only'); END;"

	"CREATE TABLE rules ("
	"  entry     INTEGER PRIMARY KEY REFERENCES entry (idx),"
	"  agreement TEXT NOT NULL,"
	"  sha256    TEXT NOT NULL CHECK (length(sha256) = 64)"
	") STRICT;"
	"CREATE INDEX rules_by_agreement ON rules (agreement, entry);"
	"CREATE TRIGGER rules_no_update BEFORE UPDATE ON rules"
	"  BEGIN SELECT RAISE(ABORT, 'rules versions are append-only'); END;"
	"CREATE TRIGGER rules_no_delete BEFORE DELETE ON rules"
	"  BEGIN SELECT RAISE(ABORT, 'rules versions are append-only'); END;"

	"CREATE TABLE meta ("
	"  key   TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE TRIGGER meta_no_update BEFORE UPDATE ON meta"
	"  BEGIN SELECT RAISE(ABORT, 'ledger facts are set once'); END;"
	"CREATE TRIGGER meta_no_delete BEFORE DELETE ON meta"
	"  BEGIN SELECT RAISE(ABORT, 'ledger facts are set once'); END;",

	/*
	 * 2: key rotation. The latest checkpoint signed again (same size,
	 * same root) by a new set of keys; every such note is kept.
	 */
	"CREATE TABLE resigned ("
	"  seq  INTEGER PRIMARY KEY,"
	"  size INTEGER NOT NULL REFERENCES checkpoint (size),"
	"  root BLOB NOT NULL CHECK (length(root) = 32),"
	"  note TEXT NOT NULL"
	") STRICT;"
	"CREATE TRIGGER resigned_latest BEFORE INSERT ON resigned"
	"  WHEN NEW.size IS NOT (SELECT max(size) FROM checkpoint)"
	"  BEGIN SELECT RAISE(ABORT, 'only the latest checkpoint is signed again'); END;"
	"CREATE TRIGGER resigned_same_root BEFORE INSERT ON resigned"
	"  WHEN NEW.root IS NOT (SELECT root FROM checkpoint WHERE size = NEW.size)"
	"  BEGIN SELECT RAISE(ABORT, 'one root for one size'); END;"
	"CREATE TRIGGER resigned_no_update BEFORE UPDATE ON resigned"
	"  BEGIN SELECT RAISE(ABORT, 'signed checkpoints are kept as signed'); END;"
	"CREATE TRIGGER resigned_no_delete BEFORE DELETE ON resigned"
	"  BEGIN SELECT RAISE(ABORT, 'signed checkpoints are kept as signed'); END;",

	/*
	 * 3: subtree hashes keyed by when they complete. Keyed by (level,
	 * idx), every level had its own place of insertion, and a group
	 * commit dirtied a page for each: 13 of a group's 22 WAL pages.
	 * Keyed by pos = (last leaf << 6) | level, every insertion is an
	 * append, as in the entry table.
	 */
	"CREATE TABLE node ("
	"  pos  INTEGER PRIMARY KEY CHECK (pos >= 0"
	"       AND (pos & 63) BETWEEN 1 AND 62"
	"       AND ((pos >> 6) + 1) % (1 << (pos & 63)) = 0),"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32)"
	") STRICT;"
	"INSERT INTO node (pos, hash)"
	"  SELECT ((((idx + 1) << level) - 1) << 6) | level, hash FROM subtree"
	"  ORDER BY 1;"
	"DROP TABLE subtree;"
	"CREATE TRIGGER node_complete BEFORE INSERT ON node"
	"  WHEN (NEW.pos >> 6) >= (SELECT coalesce(max(idx) + 1, 0) FROM entry)"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hash before its leaves'); END;"
	"CREATE TRIGGER node_once BEFORE INSERT ON node"
	"  WHEN EXISTS (SELECT 1 FROM node WHERE pos = NEW.pos)"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hashes are written once'); END;"
	"CREATE TRIGGER node_no_update BEFORE UPDATE ON node"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hashes are append-only'); END;"
	"CREATE TRIGGER node_no_delete BEFORE DELETE ON node"
	"  BEGIN SELECT RAISE(ABORT, 'subtree hashes are append-only'); END;",

	/*
	 * 4: subtrees of 2, 4 and 8 leaves are no longer stored; their hashes
	 * are derived from the leaf hashes when a proof needs them. They were
	 * three rows in four of the node table, written at every append and
	 * read almost never (a writer keeps recent hashes in memory). The rows
	 * a version 3 database holds stay: they are the same hashes, unread.
	 */
	"CREATE TRIGGER node_derived BEFORE INSERT ON node"
	"  WHEN (NEW.pos & 63) < 4"
	"  BEGIN SELECT RAISE(ABORT, 'subtrees below level 4 are derived from"
	" the leaves, not stored'); END;",

	/*
	 * 5: the period index: which entries concern an agreement's period
	 * (report, dispute, adjustment, settlement), for the period endpoint
	 * and a resubmission's receipt, which the daemon kept in memory for
	 * every period ever reported. One row per run of consecutive entries
	 * of one period (a report's entries are one run as a rule), appended
	 * in entry order in the transaction of the entries. The index by
	 * period is what lookups use. The entries a database of an earlier
	 * version holds get their rows from the daemon's start-up replay,
	 * which reads every entry anyway (store_period_indexed()).
	 */
	"CREATE TABLE period_entry ("
	"  entry     INTEGER PRIMARY KEY CHECK (entry >= 0),"
	"  count     INTEGER NOT NULL CHECK (count >= 1),"
	"  agreement TEXT NOT NULL,"
	"  period    TEXT NOT NULL"
	") STRICT;"
	"CREATE INDEX period_entry_by_period"
	"  ON period_entry (agreement, period, entry);"
	"CREATE TRIGGER period_entry_in_order BEFORE INSERT ON period_entry"
	"  WHEN NEW.entry <"
	"       (SELECT coalesce(max(entry + count), 0) FROM period_entry"
	"        WHERE entry = (SELECT max(entry) FROM period_entry))"
	"  BEGIN SELECT RAISE(ABORT, 'period rows are appended in entry order'); END;"
	"CREATE TRIGGER period_entry_covered BEFORE INSERT ON period_entry"
	"  WHEN NEW.entry + NEW.count > (SELECT coalesce(max(idx) + 1, 0) FROM entry)"
	"  BEGIN SELECT RAISE(ABORT, 'period rows name entries in the ledger'); END;"
	"CREATE TRIGGER period_entry_no_update BEFORE UPDATE ON period_entry"
	"  BEGIN SELECT RAISE(ABORT, 'the period index is append-only'); END;"
	"CREATE TRIGGER period_entry_no_delete BEFORE DELETE ON period_entry"
	"  BEGIN SELECT RAISE(ABORT, 'the period index is append-only'); END;",
};

#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))
/* How long a connection waits for a lock by default (store_set_busy_timeout). */
#define STORE_BUSY_MS	10000
_Static_assert(NMIGRATIONS == STORE_SCHEMA_VERSION,
    "one migration step per schema version");
_Static_assert(STORE_HASH_MIN_LEVEL == 4,
    "migration 4's trigger names the first stored level");

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SIZE,
	ST_APPEND,
	ST_ENTRY,
	ST_RANGE,
	ST_LEAF,
	ST_LEAVES,
	ST_PUT_HASH,
	ST_GET_HASH,
	ST_PUT_CP,
	ST_CP,
	ST_CP_LATEST,
	ST_LATEST_CP,
	ST_RESIGN,
	ST_PUT_REPORT,
	ST_REPORT_AT,
	ST_PUT_RULES,
	ST_RULES_LATEST,
	ST_PUT_META,
	ST_META,
	ST_PUT_PERIOD,
	ST_PERIOD,
	ST_PERIOD_UPTO,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SIZE] = "SELECT coalesce(max(idx) + 1, 0) FROM entry",
	[ST_APPEND] = "INSERT INTO entry (idx, body, leaf) VALUES (?, ?, ?)",
	[ST_ENTRY] = "SELECT body FROM entry WHERE idx = ?",
	[ST_RANGE] = "SELECT idx, body, leaf FROM entry"
	    " WHERE idx >= ? AND idx < ? ORDER BY idx",
	[ST_LEAF] = "SELECT leaf FROM entry WHERE idx = ?",
	[ST_LEAVES] = "SELECT leaf FROM entry WHERE idx >= ? AND idx < ?"
	    " ORDER BY idx",
	[ST_PUT_HASH] = "INSERT INTO node (pos, hash) VALUES (?, ?)",
	[ST_GET_HASH] = "SELECT hash FROM node WHERE pos = ?",
	[ST_PUT_CP] = "INSERT INTO checkpoint (size, root, note) VALUES (?, ?, ?)",
	[ST_CP] = "SELECT note FROM checkpoint WHERE size = ?",
	/* A size's latest signing (a re-signing, if any). */
	[ST_CP_LATEST] = "SELECT note FROM (SELECT note, -1 AS seq"
	    " FROM checkpoint WHERE size = ?1"
	    " UNION ALL SELECT note, seq FROM resigned WHERE size = ?1)"
	    " ORDER BY seq DESC LIMIT 1",
	/* The latest size, and its latest signing (a re-signing, if any). */
	[ST_LATEST_CP] = "SELECT size, note FROM (SELECT size, note, -1 AS seq"
	    " FROM checkpoint WHERE size = (SELECT max(size) FROM checkpoint)"
	    " UNION ALL SELECT size, note, seq FROM resigned"
	    " WHERE size = (SELECT max(size) FROM checkpoint))"
	    " ORDER BY seq DESC LIMIT 1",
	[ST_RESIGN] = "INSERT INTO resigned (size, root, note) VALUES (?, ?, ?)",
	[ST_PUT_REPORT] = "INSERT INTO report (agreement, role, report_id,"
	    " sha256, entry, count, status, checkpoint)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_REPORT_AT] = "SELECT sha256, entry, count, status, checkpoint,"
	    " agreement, role, report_id FROM report WHERE entry = ?",
	[ST_PUT_RULES] = "INSERT INTO rules (entry, agreement, sha256)"
	    " VALUES (?, ?, ?)",
	[ST_RULES_LATEST] = "SELECT sha256, entry FROM rules"
	    " WHERE agreement = ? ORDER BY entry DESC LIMIT 1",
	[ST_PUT_META] = "INSERT INTO meta (key, value) VALUES (?, ?)",
	[ST_META] = "SELECT value FROM meta WHERE key = ?",
	[ST_PUT_PERIOD] = "INSERT INTO period_entry (entry, count, agreement,"
	    " period) VALUES (?, ?, ?, ?)",
	[ST_PERIOD] = "SELECT entry, count FROM period_entry"
	    " WHERE agreement = ? AND period = ? AND entry < ? ORDER BY entry",
	[ST_PERIOD_UPTO] = "SELECT entry + count FROM period_entry"
	    " ORDER BY entry DESC LIMIT 1",
};

struct store {
	sqlite3		*db;
	sqlite3_stmt	*st[ST_COUNT];
	uint64_t	 wal_frames;	/* after the last commit (store_wal_manual) */
	int		 wal_fd;	/* store_defer_sync(): the log, to sync */
	char		 msg[256];
};

static void
store_setmsg(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
}

/* Maps a failed SQLite call to a store error and keeps its message. */
static int
store_fail(struct store *s, int rc)
{
	store_setmsg(s, "%s", sqlite3_errmsg(s->db));
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return STORE_EREFUSED;
	return STORE_EIO;
}

static int
to_i64(struct store *s, uint64_t v, sqlite3_int64 *out)
{
	if (v > (uint64_t)INT64_MAX) {
		store_setmsg(s, "value %llu beyond the database's range",
		    (unsigned long long)v);
		return STORE_EIO;
	}
	*out = (sqlite3_int64)v;
	return 0;
}

/* Binds a uint64_t parameter; an out-of-range value fails the statement. */
static int
bind_u64(struct store *s, sqlite3_stmt *st, int col, uint64_t v)
{
	sqlite3_int64 i;

	if (to_i64(s, v, &i) < 0)
		return STORE_EIO;
	if (sqlite3_bind_int64(st, col, i) != SQLITE_OK)
		return store_fail(s, SQLITE_ERROR);
	return 0;
}

static int
bind_text(struct store *s, sqlite3_stmt *st, int col, const char *v)
{
	if (sqlite3_bind_text(st, col, v, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_fail(s, SQLITE_ERROR);
	return 0;
}

static int
bind_blob(struct store *s, sqlite3_stmt *st, int col, const void *v,
    size_t len)
{
	if (sqlite3_bind_blob64(st, col, v, len, SQLITE_STATIC) != SQLITE_OK)
		return store_fail(s, SQLITE_ERROR);
	return 0;
}

/* Steps a statement that returns no row, then resets it. */
static int
run_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		int err = store_fail(s, rc);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return err;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

/*
 * Steps a query expected to return one row. 0 with the row ready to read;
 * STORE_ENOENT (statement reset) without one. Callers reset after reading.
 */
static int
run_row(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		store_setmsg(s, "not found");
		return STORE_ENOENT;
	}
	rc = store_fail(s, rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static void
row_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Copies a text column into a fixed buffer; too long is a corrupt row. */
static int
col_text(struct store *s, sqlite3_stmt *st, int col, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (t == NULL || n < 0 || (size_t)n >= outsz) {
		store_setmsg(s, "stored value of unexpected size");
		return STORE_EIO;
	}
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return 0;
}

static int
col_u64(struct store *s, sqlite3_stmt *st, int col, uint64_t *out)
{
	sqlite3_int64 v = sqlite3_column_int64(st, col);

	if (v < 0) {
		store_setmsg(s, "stored value out of range");
		return STORE_EIO;
	}
	*out = (uint64_t)v;
	return 0;
}

static int
col_hash(struct store *s, sqlite3_stmt *st, int col,
    unsigned char out[STORE_HASH_SIZE])
{
	const void *h = sqlite3_column_blob(st, col);

	if (h == NULL || sqlite3_column_bytes(st, col) != STORE_HASH_SIZE) {
		store_setmsg(s, "stored hash of unexpected size");
		return STORE_EIO;
	}
	memcpy(out, h, STORE_HASH_SIZE);
	return 0;
}

/* A malloc'd NUL-terminated copy of a text or blob column. */
static int
col_dup(struct store *s, sqlite3_stmt *st, int col, char **out, size_t *lenp)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	char *c;

	if (n < 0 || (c = malloc((size_t)n + 1)) == NULL) {
		store_setmsg(s, "out of memory");
		return STORE_EIO;
	}
	if (n > 0)
		memcpy(c, p, (size_t)n);
	c[n] = '\0';
	*out = c;
	if (lenp != NULL)
		*lenp = (size_t)n;
	return 0;
}

static int
exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		store_setmsg(s, "%s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return STORE_EIO;
	}
	return 0;
}

static int
pragma_int(struct store *s, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, SQLITE_ERROR);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = store_fail(s, rc);
		sqlite3_finalize(st);
		return rc;
	}
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Brings the schema from its stored version to STORE_SCHEMA_VERSION. */
static int
migrate(struct store *s)
{
	char sql[64];
	int v;

	if (pragma_int(s, "PRAGMA user_version", &v) < 0)
		return STORE_EIO;
	if (v < 0 || v > STORE_SCHEMA_VERSION) {
		store_setmsg(s, "schema version %d is newer than this shanhai's"
		    " %d", v, STORE_SCHEMA_VERSION);
		return STORE_EIO;
	}
	for (; v < STORE_SCHEMA_VERSION; v++) {
		if (exec(s, "BEGIN IMMEDIATE") < 0)
			return STORE_EIO;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(s, migrations[v]) < 0 || exec(s, sql) < 0) {
			char keep[sizeof(s->msg)];

			memcpy(keep, s->msg, sizeof(keep));
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			store_setmsg(s, "migration to schema %d: %s", v + 1,
			    keep);
			return STORE_EIO;
		}
		if (exec(s, "COMMIT") < 0)
			return STORE_EIO;
	}
	return 0;
}

/* The connection settings every store relies on; checked, not assumed. */
static int
configure(struct store *s)
{
	int v;

	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if (exec(s, "PRAGMA journal_mode = WAL") < 0 ||
	    exec(s, "PRAGMA synchronous = FULL") < 0 ||
	    exec(s, "PRAGMA foreign_keys = ON") < 0 ||
	    exec(s, "PRAGMA recursive_triggers = ON") < 0 ||
	    exec(s, "PRAGMA trusted_schema = OFF") < 0)
		return STORE_EIO;
	if (pragma_int(s, "PRAGMA synchronous", &v) < 0)
		return STORE_EIO;
	if (v != 2) {
		store_setmsg(s, "synchronous=FULL not in effect");
		return STORE_EIO;
	}
	if (pragma_int(s, "PRAGMA foreign_keys", &v) < 0)
		return STORE_EIO;
	if (v != 1) {
		store_setmsg(s, "foreign keys not available");
		return STORE_EIO;
	}
	return 0;
}

static int
check_wal(struct store *s)
{
	sqlite3_stmt *st;
	int rc, ok;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st,
	    NULL) != SQLITE_OK)
		return store_fail(s, SQLITE_ERROR);
	rc = sqlite3_step(st);
	ok = rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!ok) {
		store_setmsg(s, "cannot switch the database to WAL mode");
		return STORE_EIO;
	}
	return 0;
}

/*
 * Before SQLite's first use: no counting of allocations (a global mutex
 * taken at every malloc and free of every connection; nothing reads the
 * counts).
 */
static void
sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct store *s;
	int rc;

	(void)pthread_once(&once, sqlite_setup);

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	s->wal_fd = -1;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
	    NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ?
		    sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (configure(s) < 0 || check_wal(s) < 0 || migrate(s) < 0)
		goto fail_msg;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			store_setmsg(s, "%s", sqlite3_errmsg(s->db));
			goto fail_msg;
		}
	}
	return s;
fail_msg:
	snprintf(err, errlen, "%s: %s", path, s->msg);
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	free(s);
}

const char *
store_errmsg(const struct store *s)
{
	return s->msg;
}

int
store_schema_version(struct store *s)
{
	int v;

	if (pragma_int(s, "PRAGMA user_version", &v) < 0)
		return STORE_EIO;
	return v;
}

int
store_begin(struct store *s)
{
	return run_done(s, s->st[ST_BEGIN]);
}

int
store_commit(struct store *s)
{
	return run_done(s, s->st[ST_COMMIT]);
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)run_done(s, s->st[ST_ROLLBACK]);
}

/* sqlite3_wal_hook: takes the place of the automatic checkpoint. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	s->wal_frames = frames > 0 ? (uint64_t)frames : 0;
	return SQLITE_OK;
}

void
store_set_busy_timeout(struct store *s, int ms)
{
	sqlite3_busy_timeout(s->db, ms);
}

void
store_wal_manual(struct store *s)
{
	sqlite3_wal_hook(s->db, wal_hook, s);
}

uint64_t
store_wal_frames(const struct store *s)
{
	return s->wal_frames;
}

int
store_defer_sync(struct store *s)
{
	const char *wal = sqlite3_filename_wal(sqlite3_db_filename(s->db,
	    "main"));
	int v;

	if (wal == NULL || *wal == '\0') {
		store_setmsg(s, "no write-ahead log file to sync");
		return STORE_EIO;
	}
	if ((s->wal_fd = open(wal, O_RDWR | O_CLOEXEC)) < 0) {
		store_setmsg(s, "%s: %s", wal, strerror(errno));
		return STORE_EIO;
	}
	if (exec(s, "PRAGMA synchronous = NORMAL") < 0 ||
	    pragma_int(s, "PRAGMA synchronous", &v) < 0)
		return STORE_EIO;
	if (v != 1) {
		store_setmsg(s, "synchronous=NORMAL not in effect");
		return STORE_EIO;
	}
	return 0;
}

int
store_sync(const struct store *s)
{
	if (s->wal_fd < 0)
		return 0;
	return fdatasync(s->wal_fd) < 0 ? -errno : 0;
}

int
store_checkpoint_wal(struct store *s, int restart, uint64_t *log,
    uint64_t *done)
{
	int nlog = 0, ndone = 0, rc;

	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, restart ?
	    SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE, &nlog,
	    &ndone);
	if (rc != SQLITE_OK)
		return store_fail(s, rc);
	*log = nlog > 0 ? (uint64_t)nlog : 0;
	*done = ndone > 0 ? (uint64_t)ndone : 0;
	return 0;
}

int
store_size(struct store *s, uint64_t *size)
{
	sqlite3_stmt *st = s->st[ST_SIZE];
	int rc;

	if ((rc = run_row(s, st)) < 0)
		return rc;
	rc = col_u64(s, st, 0, size);
	row_done(st);
	return rc;
}

int
store_append(struct store *s, uint64_t index, const void *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	sqlite3_stmt *st = s->st[ST_APPEND];

	if (bind_u64(s, st, 1, index) < 0 || bind_blob(s, st, 2, body, len) < 0 ||
	    bind_blob(s, st, 3, leaf, STORE_HASH_SIZE) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	return run_done(s, st);
}

int
store_entry(struct store *s, uint64_t index, char **body, size_t *len)
{
	sqlite3_stmt *st = s->st[ST_ENTRY];
	int rc;

	if (bind_u64(s, st, 1, index) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	if ((rc = run_row(s, st)) < 0)
		return rc;
	rc = col_dup(s, st, 0, body, len);
	row_done(st);
	return rc;
}

int
store_foreach(struct store *s, uint64_t start, uint64_t end,
    store_entry_fn *fn, void *ctx)
{
	sqlite3_stmt *st = s->st[ST_RANGE];
	unsigned char leaf[STORE_HASH_SIZE];
	uint64_t idx;
	int rc, ret = 0;

	if (bind_u64(s, st, 1, start) < 0 || bind_u64(s, st, 2, end) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ret = col_u64(s, st, 0, &idx)) < 0 ||
		    (ret = col_hash(s, st, 2, leaf)) < 0)
			break;
		ret = fn(ctx, idx, sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), leaf);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, rc);
	row_done(st);
	return ret;
}

/*
 * The key of subtree (level, index) in the node table: its last leaf,
 * shifted past the level, so that keys grow as the tree does.
 */
static int
node_pos(struct store *s, unsigned level, uint64_t index, uint64_t *pos)
{
	if (level == 0 || level > 56 ||
	    index >= (UINT64_C(1) << (57 - level))) {
		store_setmsg(s, "subtree (%u, %llu) beyond the tree's range",
		    level, (unsigned long long)index);
		return STORE_ENOENT;
	}
	*pos = ((((index + 1) << level) - 1) << 6) | level;
	return 0;
}

int
store_put_hash(struct store *s, unsigned level, uint64_t index,
    const unsigned char hash[STORE_HASH_SIZE])
{
	sqlite3_stmt *st = s->st[ST_PUT_HASH];
	uint64_t pos;

	if (level == 0) {
		store_setmsg(s, "level 0 is the entry's leaf hash");
		return STORE_EREFUSED;
	}
	if (level < STORE_HASH_MIN_LEVEL) {
		store_setmsg(s, "subtrees below level %d are derived from the "
		    "leaves, not stored", STORE_HASH_MIN_LEVEL);
		return STORE_EREFUSED;
	}
	if (node_pos(s, level, index, &pos) < 0)
		return STORE_EREFUSED;
	if (bind_u64(s, st, 1, pos) < 0 ||
	    bind_blob(s, st, 2, hash, STORE_HASH_SIZE) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	return run_done(s, st);
}

/*
 * The hash of subtree (level, index) below STORE_HASH_MIN_LEVEL (in range:
 * node_pos() said so), from its 2^level leaf hashes in one range read.
 */
static int
derive_hash(struct store *s, unsigned level, uint64_t index,
    unsigned char out[STORE_HASH_SIZE])
{
	unsigned char h[1u << (STORE_HASH_MIN_LEVEL - 1)][STORE_HASH_SIZE];
	sqlite3_stmt *st = s->st[ST_LEAVES];
	size_t n = (size_t)1 << level, got = 0;
	int rc;

	if (bind_u64(s, st, 1, index << level) < 0 ||
	    bind_u64(s, st, 2, (index + 1) << level) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < n)
		if ((rc = col_hash(s, st, 0, h[got++])) < 0) {
			row_done(st);
			return rc;
		}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = store_fail(s, rc);
		row_done(st);
		return rc;
	}
	row_done(st);
	if (got < n) {
		store_setmsg(s, "subtree (%u, %llu) is not complete", level,
		    (unsigned long long)index);
		return STORE_ENOENT;
	}
	/* n is a power of two: the root of the n leaves is the subtree's. */
	if (merkle_root_mem((const unsigned char (*)[MERKLE_HASH_SIZE])h, n,
	    out) < 0) {
		store_setmsg(s, "subtree (%u, %llu): hashing failed", level,
		    (unsigned long long)index);
		return STORE_EIO;
	}
	return 0;
}

int
store_get_hash(void *store, unsigned level, uint64_t index,
    unsigned char out[STORE_HASH_SIZE])
{
	struct store *s = store;
	sqlite3_stmt *st;
	int rc;

	if (level == 0) {
		st = s->st[ST_LEAF];
		rc = bind_u64(s, st, 1, index);
	} else {
		uint64_t pos;

		st = s->st[ST_GET_HASH];
		if ((rc = node_pos(s, level, index, &pos)) == 0) {
			if (level < STORE_HASH_MIN_LEVEL)
				return derive_hash(s, level, index, out);
			rc = bind_u64(s, st, 1, pos);
		}
	}
	if (rc < 0) {
		row_done(st);
		return rc;
	}
	if ((rc = run_row(s, st)) < 0)
		return rc;
	rc = col_hash(s, st, 0, out);
	row_done(st);
	return rc;
}

/* (size, root, note) into a checkpoint table by statement which. */
static int
put_note(struct store *s, enum stmt which, uint64_t size,
    const unsigned char root[STORE_HASH_SIZE], const char *note)
{
	sqlite3_stmt *st = s->st[which];

	if (bind_u64(s, st, 1, size) < 0 ||
	    bind_blob(s, st, 2, root, STORE_HASH_SIZE) < 0 ||
	    bind_text(s, st, 3, note) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	return run_done(s, st);
}

int
store_put_checkpoint(struct store *s, uint64_t size,
    const unsigned char root[STORE_HASH_SIZE], const char *note)
{
	return put_note(s, ST_PUT_CP, size, root, note);
}

int
store_resign_checkpoint(struct store *s, uint64_t size,
    const unsigned char root[STORE_HASH_SIZE], const char *note)
{
	return put_note(s, ST_RESIGN, size, root, note);
}

/* The note of statement st (ST_CP or ST_CP_LATEST) for size. */
static int
checkpoint_note(struct store *s, sqlite3_stmt *st, uint64_t size, char **note)
{
	int rc;

	if (bind_u64(s, st, 1, size) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	if ((rc = run_row(s, st)) < 0)
		return rc;
	rc = col_dup(s, st, 0, note, NULL);
	row_done(st);
	return rc;
}

int
store_checkpoint(struct store *s, uint64_t size, char **note)
{
	return checkpoint_note(s, s->st[ST_CP], size, note);
}

int
store_checkpoint_latest(struct store *s, uint64_t size, char **note)
{
	return checkpoint_note(s, s->st[ST_CP_LATEST], size, note);
}

int
store_latest_checkpoint(struct store *s, uint64_t *size, char **note)
{
	sqlite3_stmt *st = s->st[ST_LATEST_CP];
	int rc;

	if ((rc = run_row(s, st)) < 0)
		return rc;
	if ((rc = col_u64(s, st, 0, size)) == 0 && note != NULL)
		rc = col_dup(s, st, 1, note, NULL);
	row_done(st);
	return rc;
}

int
store_put_report(struct store *s, const struct store_report *r)
{
	sqlite3_stmt *st = s->st[ST_PUT_REPORT];

	if (bind_text(s, st, 1, r->agreement) < 0 ||
	    bind_text(s, st, 2, r->role) < 0 ||
	    bind_text(s, st, 3, r->report_id) < 0 ||
	    bind_text(s, st, 4, r->sha256) < 0 ||
	    bind_u64(s, st, 5, r->index) < 0 ||
	    bind_u64(s, st, 6, r->count) < 0 ||
	    bind_text(s, st, 7, r->status) < 0 ||
	    bind_u64(s, st, 8, r->checkpoint) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	return run_done(s, st);
}

int
store_report_at(struct store *s, uint64_t index, struct store_report *out)
{
	sqlite3_stmt *st = s->st[ST_REPORT_AT];
	int rc;

	memset(out, 0, sizeof(*out));
	if (bind_u64(s, st, 1, index) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	if ((rc = run_row(s, st)) < 0)
		return rc;
	if ((rc = col_text(s, st, 0, out->sha256, sizeof(out->sha256))) == 0 &&
	    (rc = col_u64(s, st, 1, &out->index)) == 0 &&
	    (rc = col_u64(s, st, 2, &out->count)) == 0 &&
	    (rc = col_text(s, st, 3, out->status, sizeof(out->status))) == 0 &&
	    (rc = col_u64(s, st, 4, &out->checkpoint)) == 0 &&
	    (rc = col_text(s, st, 5, out->agreement,
	    sizeof(out->agreement))) == 0 &&
	    (rc = col_text(s, st, 6, out->role, sizeof(out->role))) == 0)
		rc = col_text(s, st, 7, out->report_id, sizeof(out->report_id));
	row_done(st);
	return rc;
}

int
store_put_rules(struct store *s, const char *agreement, const char *sha256,
    uint64_t index)
{
	sqlite3_stmt *st = s->st[ST_PUT_RULES];

	if (bind_u64(s, st, 1, index) < 0 || bind_text(s, st, 2, agreement) < 0 ||
	    bind_text(s, st, 3, sha256) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	return run_done(s, st);
}

int
store_put_period(struct store *s, const char *agreement, const char *period,
    uint64_t index, uint64_t count)
{
	sqlite3_stmt *st = s->st[ST_PUT_PERIOD];

	if (bind_u64(s, st, 1, index) < 0 || bind_u64(s, st, 2, count) < 0 ||
	    bind_text(s, st, 3, agreement) < 0 ||
	    bind_text(s, st, 4, period) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	return run_done(s, st);
}

int
store_period_entries(struct store *s, const char *agreement,
    const char *period, uint64_t below, uint64_t **v, size_t *n)
{
	sqlite3_stmt *st = s->st[ST_PERIOD];
	uint64_t first, count, *nv;
	size_t cap = 0;
	int rc, ret = 0;

	*v = NULL;
	*n = 0;
	if (bind_text(s, st, 1, agreement) < 0 ||
	    bind_text(s, st, 2, period) < 0 || bind_u64(s, st, 3, below) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ret = col_u64(s, st, 0, &first)) < 0 ||
		    (ret = col_u64(s, st, 1, &count)) < 0)
			break;
		for (uint64_t i = first; i < first + count && i < below; i++) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 8;
				if ((nv = realloc(*v, cap * sizeof(*nv))) == NULL) {
					store_setmsg(s, "out of memory");
					ret = STORE_EIO;
					break;
				}
				*v = nv;
			}
			(*v)[(*n)++] = i;
		}
		if (ret < 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, rc);
	row_done(st);
	if (ret < 0) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return ret;
}

int
store_period_indexed(struct store *s, uint64_t *upto)
{
	sqlite3_stmt *st = s->st[ST_PERIOD_UPTO];
	int rc;

	*upto = 0;
	if ((rc = run_row(s, st)) == STORE_ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = col_u64(s, st, 0, upto);
	row_done(st);
	return rc;
}

int
store_rules_latest(struct store *s, const char *agreement,
    char sha256[STORE_HEX_BUFSZ], uint64_t *index)
{
	sqlite3_stmt *st = s->st[ST_RULES_LATEST];
	int rc;

	if (bind_text(s, st, 1, agreement) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	if ((rc = run_row(s, st)) < 0)
		return rc;
	if ((rc = col_text(s, st, 0, sha256, STORE_HEX_BUFSZ)) == 0)
		rc = col_u64(s, st, 1, index);
	row_done(st);
	return rc;
}

int
store_put_meta(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = s->st[ST_PUT_META];

	if (bind_text(s, st, 1, key) < 0 || bind_text(s, st, 2, value) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	return run_done(s, st);
}

int
store_meta(struct store *s, const char *key, char **value)
{
	sqlite3_stmt *st = s->st[ST_META];
	int rc;

	if (bind_text(s, st, 1, key) < 0) {
		row_done(st);
		return STORE_EIO;
	}
	if ((rc = run_row(s, st)) < 0)
		return rc;
	rc = col_dup(s, st, 0, value, NULL);
	row_done(st);
	return rc;
}

int
store_backup(struct store *s, const char *path, char *err, size_t errlen)
{
	sqlite3 *to = NULL;
	sqlite3_backup *b;
	sqlite3_stmt *st = NULL;
	int rc, fd;

	/* Never over an existing file: a backup is not a place to write twice. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return STORE_EIO;
	}
	close(fd);
	if (sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		goto fail;
	if ((b = sqlite3_backup_init(to, "main", s->db, "main")) == NULL)
		goto fail;
	/*
	 * All pages in one step: one read transaction, so the copy is the
	 * database as of one commit while the writer goes on in the WAL.
	 */
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	    rc == SQLITE_LOCKED)
		sqlite3_sleep(10);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE)
		goto fail;
	/* The copy, as a file on its own: checked page by page, on disk. */
	if (sqlite3_exec(to, "PRAGMA journal_mode=DELETE", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(to, "PRAGMA integrity_check", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		snprintf(err, errlen, "%s: integrity check: %s", path,
		    sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(to);
		unlink(path);
		return STORE_EIO;
	}
	sqlite3_finalize(st);
	if (sqlite3_close(to) != SQLITE_OK) {
		to = NULL;
		goto fail;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(path);
		return STORE_EIO;
	}
	close(fd);
	return 0;
fail:
	snprintf(err, errlen, "backup to %s: %s", path, to != NULL ?
	    sqlite3_errmsg(to) : sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	sqlite3_close(to);
	unlink(path);
	return STORE_EIO;
}

char *
store_path(const char *state_dir)
{
	char *p;

	if (asprintf(&p, "%s/%s", state_dir, STORE_DB_NAME) == -1)
		return NULL;
	return p;
}
