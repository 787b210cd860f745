/*
 * test_store: the database's append-only rules, checkpoint monotonicity,
 * migrations and the atomicity of a group's transaction. Some tests attack
 * the file through SQLite directly, as any other writer could, to show the
 * rules hold in SQL and not only in store.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "shanhai/merkle.h"
#include "shanhai/store.h"

/*
 * The seam on fdatasync (store.c's calls only; SQLite's own are inside
 * its library): what file each call synced.
 */
static char synced[8][512];
static int nsynced;
int __real_fdatasync(int);
int __wrap_fdatasync(int fd);

int
__wrap_fdatasync(int fd)
{
	char link[64];
	ssize_t n;

	if (nsynced < 8) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, synced[nsynced], sizeof(synced[0]) - 1);
		synced[nsynced][n > 0 ? n : 0] = '\0';
	}
	nsynced++;
	return __real_fdatasync(fd);
}

struct fixture {
	char	dir[256];
	char	path[300];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/store-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/shanhai.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct store *
open_ok(const struct fixture *f)
{
	char err[512] = "";
	struct store *s = store_open(f->path, err, sizeof(err));

	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

static void
leaf_of(uint64_t i, unsigned char leaf[STORE_HASH_SIZE])
{
	memset(leaf, (int)(i & 0xff), STORE_HASH_SIZE);
	leaf[0] = 0xa5;
}

/* Appends entries [from, to) with bodies "{"n":i}". */
static void
append_n(struct store *s, uint64_t from, uint64_t to)
{
	unsigned char leaf[STORE_HASH_SIZE];
	char body[64];

	for (uint64_t i = from; i < to; i++) {
		int n = snprintf(body, sizeof(body), "{\"n\":%llu}",
		    (unsigned long long)i);
		leaf_of(i, leaf);
		assert_int_equal(store_append(s, i, body, (size_t)n, leaf), 0);
	}
}

/* Runs sql on the file through a separate, plain SQLite connection. */
static int
raw_exec(const struct fixture *f, const char *sql, char *msg, size_t msglen)
{
	sqlite3 *db;
	char *m = NULL;
	int rc;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, &m);
	if (msg != NULL)
		snprintf(msg, msglen, "%s", m ? m : "");
	sqlite3_free(m);
	sqlite3_close(db);
	return rc;
}

static void
test_fresh(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	uint64_t size = 99;
	char *note = NULL;

	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	assert_int_equal(store_size(s, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(store_latest_checkpoint(s, &size, &note),
	    STORE_ENOENT);
	assert_null(note);
	assert_int_equal(store_entry(s, 0, &note, NULL), STORE_ENOENT);
	store_close(s);
}

static int
collect(void *ctx, uint64_t index, const char *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	char *acc = ctx;
	unsigned char want[STORE_HASH_SIZE];

	leaf_of(index, want);
	assert_memory_equal(leaf, want, STORE_HASH_SIZE);
	strncat(acc, body, len);
	strcat(acc, "\n");
	return index == 7 ? 42 : 0;
}

static void
test_append_reopen(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char leaf[STORE_HASH_SIZE], got[STORE_HASH_SIZE];
	char acc[1024] = "", *body;
	uint64_t size;
	size_t len;

	assert_int_equal(store_begin(s), 0);
	append_n(s, 0, 10);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_ok(f);
	assert_int_equal(store_size(s, &size), 0);
	assert_int_equal(size, 10);
	assert_int_equal(store_entry(s, 3, &body, &len), 0);
	assert_string_equal(body, "{\"n\":3}");
	assert_int_equal(len, 7);
	free(body);
	assert_int_equal(store_foreach(s, 2, 5, collect, acc), 0);
	assert_string_equal(acc, "{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
	acc[0] = '\0';
	/* A callback's non-zero return stops the walk and comes back. */
	assert_int_equal(store_foreach(s, 6, 100, collect, acc), 42);
	assert_string_equal(acc, "{\"n\":6}\n{\"n\":7}\n");
	/* Level 0 is the entry's leaf hash. */
	assert_int_equal(store_get_hash(s, 0, 9, got), 0);
	leaf_of(9, leaf);
	assert_memory_equal(got, leaf, STORE_HASH_SIZE);
	assert_int_equal(store_get_hash(s, 0, 10, got), STORE_ENOENT);
	store_close(s);
}

static void
test_append_in_order(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char leaf[STORE_HASH_SIZE] = { 0 };
	char msg[256];

	append_n(s, 0, 3);
	/* A gap, a rewrite of an index, and a short leaf are all refused. */
	assert_int_equal(store_append(s, 4, "{}", 2, leaf), STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "index order"));
	assert_int_equal(store_append(s, 1, "{}", 2, leaf), STORE_EREFUSED);
	assert_int_equal(raw_exec(f, "INSERT INTO entry VALUES (3, x'00', x'00')",
	    msg, sizeof(msg)), SQLITE_CONSTRAINT);
	assert_int_equal(raw_exec(f, "INSERT INTO entry VALUES (3, 'text',"
	    " zeroblob(32))", msg, sizeof(msg)), SQLITE_CONSTRAINT);
	assert_non_null(strstr(msg, "cannot store TEXT value in BLOB column"));
	assert_int_equal(store_append(s, 3, "{}", 2, leaf), 0);
	store_close(s);
}

static void
test_triggers_refuse(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char h[STORE_HASH_SIZE] = { 1 };
	struct store_report r = {
		.agreement = "a", .role = "host", .report_id = "r1",
		.index = 0, .count = 2, .status = "settled", .checkpoint = 2,
	};
	static const char *const attacks[] = {
		"UPDATE entry SET body = x'7b7d' WHERE idx = 0",
		"DELETE FROM entry WHERE idx = 1",
		"DELETE FROM entry",
		"INSERT OR REPLACE INTO entry VALUES (1, x'7b7d', zeroblob(32))",
		"UPDATE node SET hash = zeroblob(32)",
		"DELETE FROM node",
		"INSERT OR REPLACE INTO node VALUES (964, zeroblob(32))",
		"INSERT INTO node VALUES (65, zeroblob(32))",	/* derived */
		"INSERT INTO node VALUES (66, zeroblob(32))",	/* misaligned */
		"UPDATE checkpoint SET note = 'forged'",
		"DELETE FROM checkpoint",
		"INSERT OR REPLACE INTO checkpoint VALUES (2, zeroblob(32), 'x')",
		"UPDATE report SET entry = 1",
		"DELETE FROM report",
		"UPDATE rules SET sha256 = sha256",
		"DELETE FROM rules",
		"UPDATE meta SET value = 'other'",
		"DELETE FROM meta",
	};
	char msg[256], *v;

	memset(r.sha256, 'a', 64);
	assert_int_equal(store_begin(s), 0);
	append_n(s, 0, 16);
	assert_int_equal(store_put_hash(s, 4, 0, h), 0);
	assert_int_equal(store_put_checkpoint(s, 2, h, "note\n"), 0);
	assert_int_equal(store_put_report(s, &r), 0);
	assert_int_equal(store_put_rules(s, "a", r.sha256, 1), 0);
	assert_int_equal(store_put_meta(s, "origin", "example.org/log"), 0);
	assert_int_equal(store_commit(s), 0);

	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		int rc = raw_exec(f, attacks[i], msg, sizeof(msg));
		if (rc != SQLITE_CONSTRAINT)
			fail_msg("not refused (%d): %s", rc, attacks[i]);
	}
	/* Through the API: a second write of any key is refused too. */
	assert_int_equal(store_put_hash(s, 4, 0, h), STORE_EREFUSED);
	assert_int_equal(store_put_report(s, &r), STORE_EREFUSED);
	assert_int_equal(store_put_meta(s, "origin", "other"), STORE_EREFUSED);
	assert_int_equal(store_meta(s, "origin", &v), 0);
	assert_string_equal(v, "example.org/log");
	free(v);
	assert_int_equal(store_meta(s, "nothing", &v), STORE_ENOENT);
	store_close(s);
}

/* The root of leaves [first, first + 2^level), as the merkle module has it. */
static void
fold_of(uint64_t first, unsigned level, unsigned char out[STORE_HASH_SIZE])
{
	unsigned char h[16][STORE_HASH_SIZE];
	size_t n = (size_t)1 << level;

	for (size_t i = 0; i < n; i++)
		leaf_of(first + i, h[i]);
	assert_int_equal(merkle_root_mem((const unsigned char (*)[
	    MERKLE_HASH_SIZE])h, n, out), 0);
}

static void
test_subtree(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char h[STORE_HASH_SIZE], got[STORE_HASH_SIZE];
	unsigned char want[STORE_HASH_SIZE];

	memset(h, 7, sizeof(h));
	append_n(s, 0, 3);
	/* Below level 4: derived from the leaves, never stored. */
	assert_int_equal(store_get_hash(s, 1, 0, got), 0);
	fold_of(0, 1, want);
	assert_memory_equal(got, want, STORE_HASH_SIZE);
	assert_int_equal(store_get_hash(s, 1, 1, got), STORE_ENOENT);
	assert_non_null(strstr(store_errmsg(s), "not complete"));
	assert_int_equal(store_get_hash(s, 2, 0, got), STORE_ENOENT);
	assert_int_equal(store_put_hash(s, 1, 0, h), STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "derived"));
	assert_int_equal(store_put_hash(s, 3, 0, h), STORE_EREFUSED);
	assert_int_equal(store_put_hash(s, 0, 0, h), STORE_EREFUSED);
	append_n(s, 3, 24);
	for (unsigned level = 1; level < STORE_HASH_MIN_LEVEL; level++)
		for (uint64_t i = 0; i < (UINT64_C(24) >> level); i++) {
			assert_int_equal(store_get_hash(s, level, i, got), 0);
			fold_of(i << level, level, want);
			assert_memory_equal(got, want, STORE_HASH_SIZE);
		}
	/* From level 4 on: stored, once complete. */
	assert_int_equal(store_put_hash(s, 4, 0, h), 0);
	assert_int_equal(store_put_hash(s, 4, 1, h), STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "before its leaves"));
	assert_int_equal(store_put_hash(s, 5, 0, h), STORE_EREFUSED);
	append_n(s, 24, 32);
	h[0] = 9;
	assert_int_equal(store_put_hash(s, 4, 1, h), 0);
	assert_int_equal(store_get_hash(s, 4, 1, got), 0);
	assert_memory_equal(got, h, STORE_HASH_SIZE);
	assert_int_equal(store_get_hash(s, 5, 0, got), STORE_ENOENT);
	store_close(s);
}

static void
test_checkpoint_monotonic(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char root[STORE_HASH_SIZE] = { 3 };
	uint64_t size;
	char *note;

	append_n(s, 0, 5);
	assert_int_equal(store_put_checkpoint(s, 2, root, "two\n"), 0);
	/* Never two roots for one size, never smaller, never past the end. */
	assert_int_equal(store_put_checkpoint(s, 2, root, "two'\n"),
	    STORE_EREFUSED);
	assert_int_equal(store_put_checkpoint(s, 1, root, "one\n"),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "must grow"));
	assert_int_equal(store_put_checkpoint(s, 6, root, "six\n"),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "beyond the ledger"));
	assert_int_equal(store_put_checkpoint(s, 5, root, "five\n"), 0);
	assert_int_equal(store_latest_checkpoint(s, &size, &note), 0);
	assert_int_equal(size, 5);
	assert_string_equal(note, "five\n");
	free(note);
	assert_int_equal(store_checkpoint(s, 2, &note), 0);
	assert_string_equal(note, "two\n");
	free(note);
	assert_int_equal(store_checkpoint(s, 3, &note), STORE_ENOENT);
	/* Also for a writer that bypasses the API. */
	assert_int_equal(raw_exec(f, "INSERT INTO checkpoint VALUES"
	    " (4, zeroblob(32), 'x')", NULL, 0), SQLITE_CONSTRAINT);

	/*
	 * Signed again (key rotation): only the latest size, only its root;
	 * the latest signing is the latest checkpoint, the first stays the
	 * one of its size, and none is ever changed.
	 */
	unsigned char other[STORE_HASH_SIZE] = { 4 };
	assert_int_equal(store_resign_checkpoint(s, 2, root, "two again\n"),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "only the latest"));
	assert_int_equal(store_resign_checkpoint(s, 5, other, "five'\n"),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "one root for one size"));
	assert_int_equal(store_resign_checkpoint(s, 5, root, "five B\n"), 0);
	assert_int_equal(store_resign_checkpoint(s, 5, root, "five C\n"), 0);
	assert_int_equal(store_latest_checkpoint(s, &size, &note), 0);
	assert_int_equal(size, 5);
	assert_string_equal(note, "five C\n");
	free(note);
	assert_int_equal(store_checkpoint(s, 5, &note), 0);
	assert_string_equal(note, "five\n");
	free(note);
	assert_int_equal(raw_exec(f, "UPDATE resigned SET note = 'x'", NULL,
	    0), SQLITE_CONSTRAINT);
	assert_int_equal(raw_exec(f, "DELETE FROM resigned", NULL, 0),
	    SQLITE_CONSTRAINT);
	/* A new size is signed as ever, and is the latest. */
	append_n(s, 5, 6);
	assert_int_equal(store_put_checkpoint(s, 6, root, "six\n"), 0);
	assert_int_equal(store_latest_checkpoint(s, &size, &note), 0);
	assert_string_equal(note, "six\n");
	free(note);
	/* A size's latest signing, still when a larger size follows. */
	assert_int_equal(store_checkpoint_latest(s, 5, &note), 0);
	assert_string_equal(note, "five C\n");
	free(note);
	assert_int_equal(store_checkpoint_latest(s, 2, &note), 0);
	assert_string_equal(note, "two\n");
	free(note);
	assert_int_equal(store_checkpoint_latest(s, 3, &note), STORE_ENOENT);
	store_close(s);
}

static void
test_report_index(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char root[STORE_HASH_SIZE] = { 0 };
	struct store_report r = {
		.agreement = "kecheng-yuhang", .role = "host",
		.report_id = "yh-2026-10", .index = 1, .count = 3,
		.status = "settled", .checkpoint = 4,
	}, got;
	char sha[STORE_HEX_BUFSZ];
	uint64_t idx;

	memset(r.sha256, 'f', 64);
	append_n(s, 0, 4);
	/* The checkpoint it names must exist, and must cover its entries. */
	assert_int_equal(store_put_report(s, &r), STORE_EREFUSED);
	assert_int_equal(store_put_checkpoint(s, 3, root, "3\n"), 0);
	r.checkpoint = 3;
	assert_int_equal(store_put_report(s, &r), STORE_EREFUSED);
	assert_int_equal(store_put_checkpoint(s, 4, root, "4\n"), 0);
	r.checkpoint = 4;
	assert_int_equal(store_put_report(s, &r), 0);
	assert_int_equal(store_report_at(s, 1, &got), 0);
	assert_memory_equal(&got, &r, sizeof(r));
	assert_int_equal(store_report_at(s, 0, &got), STORE_ENOENT);
	/* Rows come in entry order, one per report entry. */
	strcpy(r.report_id, "other");
	assert_int_equal(store_put_report(s, &r), STORE_EREFUSED);
	r.index = 0;
	r.count = 1;
	assert_int_equal(store_put_report(s, &r), STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "entry order"));
	r.index = 9;
	assert_int_equal(store_put_report(s, &r), STORE_EREFUSED);
	strcpy(r.role, "both");
	r.index = 3;
	assert_int_equal(store_put_report(s, &r), STORE_EREFUSED);
	strcpy(r.role, "home");
	assert_int_equal(store_put_report(s, &r), 0);
	assert_int_equal(store_report_at(s, 3, &got), 0);
	assert_string_equal(got.report_id, "other");
	assert_string_equal(got.role, "home");

	/* Rules versions: the latest per agreement. */
	assert_int_equal(store_rules_latest(s, "a", sha, &idx), STORE_ENOENT);
	memset(sha, '1', 64);
	sha[64] = '\0';
	assert_int_equal(store_put_rules(s, "a", sha, 0), 0);
	sha[0] = '2';
	assert_int_equal(store_put_rules(s, "a", sha, 3), 0);
	assert_int_equal(store_put_rules(s, "b", sha, 3), STORE_EREFUSED);
	assert_int_equal(store_put_rules(s, "b", sha, 9), STORE_EREFUSED);
	memset(sha, 0, sizeof(sha));
	assert_int_equal(store_rules_latest(s, "a", sha, &idx), 0);
	assert_int_equal(idx, 3);
	assert_int_equal(sha[0], '2');
	store_close(s);
}

static void
test_migrations(void **state)
{
	struct fixture *f = *state;
	char err[512];
	struct store *s;

	/* A database from a newer release is refused, and left alone. */
	assert_int_equal(raw_exec(f, "PRAGMA user_version = 99", NULL, 0),
	    SQLITE_OK);
	s = store_open(f->path, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, "schema version 99 is newer"));
	unlink(f->path);

	/* A failing step rolls back whole: the version stays at 0. */
	assert_int_equal(raw_exec(f, "CREATE TABLE report (x INTEGER)", NULL,
	    0), SQLITE_OK);
	s = store_open(f->path, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, "migration to schema 1"));
	assert_int_equal(raw_exec(f, "PRAGMA user_version = 0;"
	    " SELECT * FROM entry", NULL, 0), SQLITE_ERROR);
	assert_int_equal(raw_exec(f, "DROP TABLE report", NULL, 0), SQLITE_OK);

	/* Then it migrates, and reopening does not migrate again. */
	s = open_ok(f);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	append_n(s, 0, 1);
	store_close(s);
	s = open_ok(f);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	store_close(s);
}

/*
 * The period index (schema 5): runs of entries by period, in entry order,
 * within the ledger, written once; read back as entry indexes below a
 * bound; store_period_indexed() says how far the rows go.
 */
static void
test_period_index(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	uint64_t *v, upto;
	size_t n;
	char msg[256];

	assert_int_equal(store_period_indexed(s, &upto), 0);
	assert_int_equal(upto, 0);
	append_n(s, 0, 6);
	assert_int_equal(store_put_period(s, "a", "2026-01", 0, 2), 0);
	assert_int_equal(store_put_period(s, "b", "2026-01", 2, 1), 0);
	assert_int_equal(store_put_period(s, "a", "2026-01", 4, 1), 0);
	/* Out of order, overlapping, or beyond the ledger: refused. */
	assert_int_equal(store_put_period(s, "a", "2026-02", 3, 1),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "entry order"));
	assert_int_equal(store_put_period(s, "a", "2026-02", 4, 1),
	    STORE_EREFUSED);
	assert_int_equal(store_put_period(s, "a", "2026-02", 5, 2),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_errmsg(s), "in the ledger"));
	assert_int_equal(store_period_indexed(s, &upto), 0);
	assert_int_equal(upto, 5);

	assert_int_equal(store_period_entries(s, "a", "2026-01", INT64_MAX, &v,
	    &n), 0);
	assert_int_equal(n, 3);
	assert_true(v[0] == 0 && v[1] == 1 && v[2] == 4);
	free(v);
	/* Only the entries below the bound (on disk). */
	assert_int_equal(store_period_entries(s, "a", "2026-01", 4, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);
	assert_int_equal(store_period_entries(s, "a", "2026-02", INT64_MAX, &v,
	    &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	store_close(s);
	assert_int_equal(raw_exec(f, "UPDATE period_entry SET period = 'x'",
	    msg, sizeof(msg)), SQLITE_CONSTRAINT);
	assert_int_equal(raw_exec(f, "DELETE FROM period_entry", msg,
	    sizeof(msg)), SQLITE_CONSTRAINT);
	assert_non_null(strstr(msg, "append-only"));
}

/* Step 3 moves the subtree hashes of a version 2 database, unchanged. */
static void
test_migrate_subtree(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char h[STORE_HASH_SIZE], got[STORE_HASH_SIZE];
	char msg[256];

	append_n(s, 0, 64);
	for (unsigned level = 4; level <= 6; level++)
		for (uint64_t i = 0; i < (UINT64_C(64) >> level); i++) {
			memset(h, (int)(level * 16 + i), sizeof(h));
			assert_int_equal(store_put_hash(s, level, i, h), 0);
		}
	store_close(s);
	/* The table as versions 1 and 2 had it, and the version back at 2. */
	if (raw_exec(f, "CREATE TABLE subtree (level INTEGER NOT NULL,"
	    " idx INTEGER NOT NULL, hash BLOB NOT NULL,"
	    " PRIMARY KEY (level, idx)) STRICT, WITHOUT ROWID;"
	    "INSERT INTO subtree SELECT pos & 63,"
	    " (((pos >> 6) + 1) >> (pos & 63)) - 1, hash FROM node;"
	    "DROP TABLE node; DROP TABLE period_entry;"
	    " PRAGMA user_version = 2", msg,
	    sizeof(msg)) != SQLITE_OK)
		fail_msg("making a version 1 database: %s", msg);
	s = open_ok(f);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	for (unsigned level = 4; level <= 6; level++)
		for (uint64_t i = 0; i < (UINT64_C(64) >> level); i++) {
			memset(h, (int)(level * 16 + i), sizeof(h));
			assert_int_equal(store_get_hash(s, level, i, got), 0);
			assert_memory_equal(got, h, STORE_HASH_SIZE);
		}
	assert_int_equal(store_get_hash(s, 7, 0, got), STORE_ENOENT);
	/* Step 4 refuses the small subtrees it derives. */
	assert_int_equal(raw_exec(f, "INSERT INTO node VALUES (65, zeroblob(32))",
	    msg, sizeof(msg)), SQLITE_CONSTRAINT);
	assert_non_null(strstr(msg, "derived"));
	store_close(s);
}

/* A child writes a group and dies by SIGKILL before or after COMMIT. */
static void
group_then_die(const struct fixture *f, int commit)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		struct store *s = store_open(f->path, err, sizeof(err));
		unsigned char root[STORE_HASH_SIZE] = { 5 };
		uint64_t n;

		if (s == NULL || store_size(s, &n) < 0 || store_begin(s) < 0)
			_exit(3);
		append_n(s, n, n + 3);
		if (store_put_checkpoint(s, n + 3, root, "cp\n") < 0)
			_exit(4);
		if (commit && store_commit(s) < 0)
			_exit(5);
		raise(SIGKILL);
		_exit(6);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void
test_crash_atomic(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	unsigned char root[STORE_HASH_SIZE] = { 0 };
	uint64_t size, cp;
	char *note;

	store_close(s);
	group_then_die(f, 0);
	s = open_ok(f);
	assert_int_equal(store_size(s, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(store_latest_checkpoint(s, &cp, NULL), STORE_ENOENT);
	store_close(s);

	group_then_die(f, 1);
	group_then_die(f, 0);
	s = open_ok(f);
	assert_int_equal(store_size(s, &size), 0);
	assert_int_equal(size, 3);
	assert_int_equal(store_latest_checkpoint(s, &cp, &note), 0);
	assert_int_equal(cp, 3);
	free(note);

	/* A group refused half-way leaves nothing of itself behind. */
	assert_int_equal(store_begin(s), 0);
	append_n(s, 3, 5);
	assert_int_equal(store_put_checkpoint(s, 3, root, "again\n"),
	    STORE_EREFUSED);
	store_rollback(s);
	store_rollback(s);
	assert_int_equal(store_size(s, &size), 0);
	assert_int_equal(size, 3);
	store_close(s);
}

static void
test_reader_isolation(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_ok(f), *r = open_ok(f);
	uint64_t size;

	assert_int_equal(store_begin(w), 0);
	append_n(w, 0, 2);
	/* A reader on another connection sees only what is committed. */
	assert_int_equal(store_size(r, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(store_commit(w), 0);
	assert_int_equal(store_size(r, &size), 0);
	assert_int_equal(size, 2);
	store_close(w);
	store_close(r);
}

static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	char err[512], path[400];

	snprintf(path, sizeof(path), "%s/missing/dir/shanhai.db", f->dir);
	assert_null(store_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
}

/*
 * Group commit's durability: after store_defer_sync() a COMMIT no longer
 * syncs, so store_sync() must sync the write-ahead log itself; a no-op
 * there loses acknowledged reports to a power cut that SIGKILL tests
 * never make.
 */
static void
test_sync_syncs_the_log(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f);
	char wal[600];

	assert_int_equal(store_defer_sync(s), 0);
	assert_int_equal(store_begin(s), 0);
	append_n(s, 0, 3);
	assert_int_equal(store_commit(s), 0);
	nsynced = 0;
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(nsynced, 1);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	if (strcmp(synced[0], wal) != 0 && strstr(synced[0], "-wal") == NULL)
		fail_msg("synced %s, not the log %s", synced[0], wal);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_syncs_the_log, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_append_reopen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_append_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_triggers_refuse, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_subtree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_monotonic,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_index, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrations, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_subtree, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_period_index, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_atomic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reader_isolation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
