/*
 * journal_replay: the engine rebuilt from the stored ledger through the
 * replay module (core/replay.c), with the daemon's part of it: the `key`
 * entries, and at open the rows of the period index that a database of an
 * earlier schema lacks. The only file of the journal that uses the replay
 * API.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/log.h"
#include "shanhai/note.h"
#include "shanhai/pagefile.h"
#include "shanhai/replay.h"

#include "journal_impl.h"

/* Rows of the period index written in one transaction at open. */
#define INDEX_BATCH	8192

/* ---- replay: the engine rebuilt from the store ---- */

/* Entries first .. first+count-1 of one report concern one period. */
struct jrun {
	uint64_t	first, count;
	char		period[RULES_PERIOD_BUFSZ];
};

/*
 * The daemon's side of the replay (the replay module does the engine's):
 * the `key` entries, which announce verifier keys; and the period index
 * for the entries from ix_from on, written through ix. A report's rows
 * are written once the replay has reached the report after it (or the
 * end), so only entries the engine gave back byte for byte are indexed.
 */
struct jreplay {
	struct replay		*rp;
	struct store		*ix;		/* NULL: index nothing */
	uint64_t		 ix_from;
	size_t			 ix_rows;	/* in the open transaction */
	uint64_t		 ix_total;
	char			 ix_agreement[STORE_ID_BUFSZ];
	struct jrun		*runs;		/* the latest report's */
	size_t			 nruns, capruns;
	struct strset		*announced;
	const char		*origin;
	char			*err;
	size_t			 errlen;
	int			 refused;	/* err says why the walk stopped */
};

static const char *
json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * A `key` entry: exactly as the daemon writes it, announcing a verifier
 * key of this ledger's origin (the replay module's hook for other types).
 */
static int
replay_key(void *arg, uint64_t index, const char *body, size_t len,
    const json_t *e, char *err, size_t errlen)
{
	struct jreplay *jr = arg;
	const char *vkey = json_str(e, "key"), *stamp = json_str(e, "time"),
	    *type = json_str(e, "type");
	char msg[256], *again;
	size_t alen;
	int same;

	if (type == NULL || strcmp(type, "key") != 0) {
		snprintf(err, errlen, "entry %llu: a %s entry that no report "
		    "before it caused", (unsigned long long)index,
		    type ? type : "untyped");
		return -1;
	}
	if (note_key_entry_check(vkey, stamp, json_object_size(e), jr->origin,
	    msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "entry %llu: %s",
		    (unsigned long long)index, msg);
		return -1;
	}
	if ((again = jn_key_entry_bytes(vkey, stamp, &alen, msg,
	    sizeof(msg))) == NULL) {
		snprintf(err, errlen, "entry %llu: %s",
		    (unsigned long long)index, msg);
		return -1;
	}
	same = alen == len && memcmp(again, body, len) == 0;
	free(again);
	if (!same) {
		snprintf(err, errlen, "entry %llu: key entry is not as the "
		    "daemon writes it", (unsigned long long)index);
		return -1;
	}
	if (jn_strset_add(jr->announced, vkey) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Writes the rows of the runs noted, committing every INDEX_BATCH. */
static int
index_flush(struct jreplay *jr)
{
	struct store *s = jr->ix;

	for (size_t i = 0; i < jr->nruns; i++) {
		if (jr->ix_rows == 0 && store_begin(s) < 0)
			goto fail;
		if (store_put_period(s, jr->ix_agreement, jr->runs[i].period,
		    jr->runs[i].first, jr->runs[i].count) < 0)
			goto fail;
		jr->ix_total++;
		if (++jr->ix_rows >= INDEX_BATCH) {
			if (store_commit(s) < 0)
				goto fail;
			jr->ix_rows = 0;
		}
	}
	jr->nruns = 0;
	return 0;
fail:
	snprintf(jr->err, jr->errlen, "indexing the periods: %s",
	    store_errmsg(s));
	if (jr->ix_rows > 0)
		store_rollback(s);
	jr->ix_rows = 0;
	return -1;
}

/*
 * A new report at entry `at`: the rows of the one before are written, and
 * its own runs (consecutive entries of one period) noted.
 */
static int
index_report(struct jreplay *jr, const struct settle_result *res,
    uint64_t at)
{
	size_t n = settle_result_count(res);

	if (index_flush(jr) < 0)
		return -1;
	if (at < jr->ix_from)
		return 0;
	snprintf(jr->ix_agreement, sizeof(jr->ix_agreement), "%s",
	    settle_result_agreement(res));
	for (size_t i = 0; i < n; i++) {
		char pb[RULES_PERIOD_BUFSZ];
		const char *p = settle_result_entry_period(res, i, pb);
		struct jrun *r = jr->nruns ? &jr->runs[jr->nruns - 1] : NULL;

		if (p == NULL)
			continue;
		if (r != NULL && r->first + r->count == at + i &&
		    strcmp(r->period, p) == 0) {
			r->count++;
			continue;
		}
		if (jr->nruns == jr->capruns) {
			size_t cap = jr->capruns ? jr->capruns * 2 : 8;
			struct jrun *v = realloc(jr->runs, cap * sizeof(*v));

			if (v == NULL) {
				snprintf(jr->err, jr->errlen, "out of memory");
				return -1;
			}
			jr->runs = v;
			jr->capruns = cap;
		}
		r = &jr->runs[jr->nruns++];
		r->first = at + i;
		r->count = 1;
		snprintf(r->period, sizeof(r->period), "%s", p);
	}
	return 0;
}

static int
replay_stored(void *ctx, uint64_t index, const char *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	struct jreplay *jr = ctx;
	const struct settle_result *res;
	uint64_t at;

	(void)leaf;
	if (replay_entry(jr->rp, index, body, len, jr->err, jr->errlen) != 0) {
		jr->refused = 1;
		return -1;
	}
	if (jr->ix != NULL &&
	    (res = replay_get0_report(jr->rp, &at)) != NULL &&
	    index_report(jr, res, at) < 0) {
		jr->refused = 1;
		return -1;
	}
	return 0;
}

/*
 * A new engine holding the state the stored ledger (read through s)
 * describes, and the keys its `key` entries announce into *announced
 * (emptied first). With ix, a connection that may write, the entries the
 * period index does not cover yet (a database of schema 4 or before, or
 * one whose indexing was cut short) get their rows, in transactions of
 * INDEX_BATCH rows: whatever is cut short goes on at the next start.
 */
struct settle *
jn_replay(struct store *s, struct store *ix, const char *origin,
    const char *pagedir, struct pagefile **pages, uint64_t *size,
    struct strset *announced, char *err, size_t errlen)
{
	struct jreplay jr = { .ix = ix, .announced = announced,
	    .origin = origin, .err = err, .errlen = errlen };
	struct settle_pager pg;
	struct settle *engine;
	char msg[512];
	int rc;

	*pages = NULL;
	if (store_size(s, size) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		return NULL;
	}
	if (ix != NULL && store_period_indexed(ix, &jr.ix_from) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(ix));
		return NULL;
	}
	if (jr.ix_from >= *size)
		jr.ix = NULL;		/* the index covers the ledger */
	else if (ix != NULL)
		log_notice("journal: indexing the periods of entries %llu to %llu",
		    (unsigned long long)jr.ix_from, (unsigned long long)*size);
	if ((engine = settle_new()) == NULL ||
	    (jr.rp = replay_new(engine, replay_key, &jr)) == NULL) {
		settle_free(engine);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/*
	 * The engine's closed years go to an unlinked file beside the
	 * database: a cache of the engine's memory, rebuilt with it from the
	 * ledger (doc/DESIGN.md, Engine). Without one they stay in memory.
	 */
	if ((*pages = pagefile_new(pagedir, msg, sizeof(msg))) == NULL)
		log_warnx("journal: %s; closed years stay in memory", msg);
	else {
		pagefile_pager(*pages, 0, &pg);
		if (settle_set_pager(engine, &pg) < 0)
			fatalx("journal: a new engine refused its pager");
	}
	jn_strset_clear(announced);
	rc = store_foreach(s, 0, *size, replay_stored, &jr);
	if (rc == 0)
		rc = replay_finish(jr.rp, err, errlen);
	else if (!jr.refused)
		snprintf(err, errlen, "%s", store_errmsg(s));
	if (jr.ix != NULL) {
		if (rc == 0 && (rc = index_flush(&jr)) == 0 &&
		    jr.ix_rows > 0 && (rc = store_commit(ix)) < 0)
			snprintf(err, errlen, "indexing the periods: %s",
			    store_errmsg(ix));
		if (rc != 0 && jr.ix_rows > 0)
			store_rollback(ix);
		if (rc == 0)
			log_notice("journal: %llu rows of the period index"
			    " written", (unsigned long long)jr.ix_total);
	}
	free(jr.runs);
	replay_free(jr.rp);
	if (rc != 0) {
		settle_free(engine);
		pagefile_free(*pages);
		*pages = NULL;
		jn_strset_clear(announced);
		return NULL;
	}
	return engine;
}
