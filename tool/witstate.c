/*
 * witstate: a witness's latest cosigned checkpoint per log, in SQLite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "shanhai/errbuf.h"
#include "shanhai/witstate.h"

#define SCHEMA \
	"CREATE TABLE IF NOT EXISTS latest (" \
	"  origin TEXT PRIMARY KEY," \
	"  size INTEGER NOT NULL CHECK (size >= 0)," \
	"  root BLOB NOT NULL CHECK (length(root) = 32)," \
	"  note TEXT NOT NULL," \
	"  time INTEGER NOT NULL" \
	") STRICT;" \
	"CREATE TRIGGER IF NOT EXISTS latest_no_rollback BEFORE UPDATE ON latest" \
	"  WHEN NEW.size < OLD.size OR NEW.origin <> OLD.origin OR" \
	"    (NEW.size = OLD.size AND NEW.root <> OLD.root)" \
	"  BEGIN SELECT RAISE(ABORT, 'a witness never rolls a log back'); END;" \
	"CREATE TRIGGER IF NOT EXISTS latest_kept BEFORE DELETE ON latest" \
	"  BEGIN SELECT RAISE(ABORT, 'a witness never forgets a log'); END;"

struct witstate {
	sqlite3		*db;
	sqlite3_stmt	*get, *insert, *update;
};

struct witstate *
witstate_open(const char *path, char *err, size_t errlen)
{
	struct witstate *ws;

	if ((ws = calloc(1, sizeof(*ws))) == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &ws->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(ws->db, 5000);
	if (sqlite3_exec(ws->db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;" SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ws->db, "SELECT size, root, note FROM latest "
	    "WHERE origin = ?1", -1, &ws->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ws->db, "INSERT INTO latest (origin, size, "
	    "root, note, time) VALUES (?1, ?3, ?4, ?5, ?6) ON CONFLICT DO "
	    "NOTHING", -1, &ws->insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ws->db, "UPDATE latest SET size = ?3, root = ?4, "
	    "note = ?5, time = ?6 WHERE origin = ?1 AND size = ?2", -1,
	    &ws->update, NULL) != SQLITE_OK)
		goto fail;
	return ws;
fail:
	seterr(err, errlen, "%s: %s", path, ws->db != NULL ?
	    sqlite3_errmsg(ws->db) : "out of memory");
	witstate_close(ws);
	return NULL;
}

void
witstate_close(struct witstate *ws)
{
	if (ws == NULL)
		return;
	sqlite3_finalize(ws->get);
	sqlite3_finalize(ws->insert);
	sqlite3_finalize(ws->update);
	sqlite3_close(ws->db);
	free(ws);
}

static int
exec(struct witstate *ws, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(ws->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	seterr(err, errlen, "%s: %s", sql, sqlite3_errmsg(ws->db));
	return WITSTATE_EIO;
}

int
witstate_begin(struct witstate *ws, char *err, size_t errlen)
{
	return exec(ws, "BEGIN IMMEDIATE", err, errlen);
}

int
witstate_commit(struct witstate *ws, char *err, size_t errlen)
{
	if (exec(ws, "COMMIT", err, errlen) == 0)
		return 0;
	witstate_rollback(ws);
	return WITSTATE_EIO;
}

void
witstate_rollback(struct witstate *ws)
{
	if (!sqlite3_get_autocommit(ws->db))
		(void)sqlite3_exec(ws->db, "ROLLBACK", NULL, NULL, NULL);
}

int
witstate_get(struct witstate *ws, const char *origin, uint64_t *size,
    unsigned char root[32], char **note, size_t *notelen, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = ws->get;
	int rc;

	*size = 0;
	if (note != NULL)
		*note = NULL;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return WITSTATE_ENOENT;
	}
	if (rc != SQLITE_ROW || sqlite3_column_bytes(st, 1) != 32) {
		seterr(err, errlen, "reading %s: %s", origin,
		    sqlite3_errmsg(ws->db));
		sqlite3_reset(st);
		return WITSTATE_EIO;
	}
	*size = (uint64_t)sqlite3_column_int64(st, 0);
	if (root != NULL)
		memcpy(root, sqlite3_column_blob(st, 1), 32);
	if (note != NULL) {
		size_t n = (size_t)sqlite3_column_bytes(st, 2);
		if ((*note = malloc(n + 1)) == NULL) {
			sqlite3_reset(st);
			seterr(err, errlen, "out of memory");
			return WITSTATE_EIO;
		}
		memcpy(*note, sqlite3_column_text(st, 2), n);
		(*note)[n] = '\0';
		*notelen = n;
	}
	sqlite3_reset(st);
	return 0;
}

int
witstate_put(struct witstate *ws, const char *origin, uint64_t old_size,
    uint64_t size, const unsigned char root[32], const char *note,
    size_t notelen, uint64_t when, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (size > INT64_MAX || old_size > INT64_MAX || when > INT64_MAX) {
		seterr(err, errlen, "size %llu beyond what is stored",
		    (unsigned long long)size);
		return WITSTATE_EIO;
	}
	/* A log never seen has no row: its "size" is 0 and is inserted. */
	st = ws->update;
	for (int pass = 0; pass < 2; pass++) {
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)old_size);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)size);
		sqlite3_bind_blob(st, 4, root, 32, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, note, (int)notelen, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)when);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE) {
			seterr(err, errlen, "recording %s: %s", origin,
			    sqlite3_errmsg(ws->db));
			return WITSTATE_EIO;
		}
		if (sqlite3_changes(ws->db) == 1)
			return 0;
		if (old_size != 0 || st == ws->insert)
			break;
		st = ws->insert;
	}
	seterr(err, errlen, "%s: the stored size is no longer %llu", origin,
	    (unsigned long long)old_size);
	return WITSTATE_ECONFLICT;
}
