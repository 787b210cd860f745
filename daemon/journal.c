/*
 * journal: the engine of the running daemon and the store behind it (see
 * journal.h, journal_impl.h for its files, and doc/DESIGN.md, Store and
 * ingest). This file: submissions (reports, approvals) settled on the
 * loop and queued for the writer; the journal opened (store, replay,
 * keys, threads) and closed.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "shanhai/log.h"
#include "shanhai/note.h"
#include "shanhai/pagefile.h"
#include "shanhai/statement.h"

#include "journal_impl.h"

/*
 * The loop's reads wait at most this long (milliseconds) for a lock held
 * elsewhere (a restart of the write-ahead log, a tool holding the file):
 * the loop serves every client, so one read fails rather than all stall.
 */
#define RD_BUSY_MS	100
/* A broken store is retried at most this often (seconds). */
#define RESTORE_EVERY	1

void
jn_now_rfc3339(char buf[TIME_BUFSZ])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, TIME_BUFSZ, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- submissions ---- */

/* Queues the entries of an accepted report and the item that waits. */
static int
queue_report(struct journal *j, struct settle_result *res,
    journal_done_fn *done, void *arg)
{
	size_t count = settle_result_count(res);
	const char *report_id = settle_result_report_id(res);
	struct group *g;
	struct item *it;

	if (count == 0 || report_id[0] == '\0')
		return -1;
	if ((g = journal_cur(j)) == NULL || (it = jn_group_add_item(g)) == NULL)
		return -1;
	it->kind = ITEM_REPORT;
	it->done = done;
	it->arg = arg;
	snprintf(it->rep.agreement, sizeof(it->rep.agreement), "%s",
	    settle_result_agreement(res));
	snprintf(it->rep.role, sizeof(it->rep.role), "%s",
	    settle_result_role(res));
	snprintf(it->rep.report_id, sizeof(it->rep.report_id), "%s",
	    report_id);
	snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
	    settle_result_hash(res));
	snprintf(it->rep.status, sizeof(it->rep.status), "%s",
	    settle_status_name(settle_result_status(res)));
	it->rep.index = j->next;
	it->rep.count = count;
	if (jn_pmap_add_result(&j->periods, res, it->rep.index) < 0) {
		it->done = NULL;
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct gentry *e;
		const char *body;
		size_t len;

		body = settle_result_entry(res, i, &len);
		if (jn_group_add_entry(j, g, body, len) < 0) {
			/* The caller answers; the item must not. */
			it->done = NULL;
			return -1;
		}
		/* The writer indexes it under its period. */
		e = &g->entries[g->nentries - 1];
		e->item = (size_t)(it - g->items);
		if (settle_result_entry_period(res, i, e->period) == NULL)
			e->period[0] = '\0';
	}
	return 0;
}

/*
 * 0 when the store takes writes; else 503 with the reason. A store that
 * failed is first tried again (journal_restore()) once nothing is in
 * flight and RESTORE_EVERY has passed, whichever write comes: a report or
 * an approval.
 */
static int
journal_writable(struct journal *j, char *err, size_t errlen)
{
	if (j->broken && j->outstanding == 0 &&
	    time(NULL) - j->broken_at >= RESTORE_EVERY)
		journal_restore(j);
	if (!j->broken)
		return 0;
	snprintf(err, errlen, "the ledger store is failing: %s", j->broken_why);
	return 503;
}

int
journal_submit(struct journal *j, const char *body, size_t len,
    const char *const *sides, size_t nsides, const char *submitter,
    journal_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct settle_result *res = NULL;
	char stamp[TIME_BUFSZ];
	struct group *g;
	struct item *it;
	int code;

	j->submits++;
	if ((code = journal_writable(j, err, errlen)) != 0)
		return code;
	jn_now_rfc3339(stamp);
	code = settle_submit(j->engine, body, len, sides, nsides, stamp,
	    submitter, &res, err, errlen);
	if (code < 0) {
		/* Half a report in the engine: rebuild it from the store. */
		if (settle_broken(j->engine))
			journal_fail_all(j, err);
		return -code;
	}
	if (code == SETTLE_DUPLICATE) {
		if ((g = journal_cur(j)) == NULL ||
		    (it = jn_group_add_item(g)) == NULL) {
			settle_result_free(res);
			snprintf(err, errlen, "out of memory");
			return 503;
		}
		it->kind = ITEM_DUPLICATE;
		it->done = done;
		it->arg = arg;
		snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
		    settle_result_hash(res));
		/* The writer finds the report among its period's entries. */
		snprintf(it->rep.agreement, sizeof(it->rep.agreement), "%s",
		    settle_result_agreement(res));
		snprintf(it->period, sizeof(it->period), "%s",
		    settle_result_period(res));
	} else if (queue_report(j, res, done, arg) < 0) {
		settle_result_free(res);
		snprintf(err, errlen, "out of memory");
		journal_fail_all(j, err);
		return 503;
	}
	settle_result_free(res);
	journal_kick(j);
	return 0;
}

/*
 * Approves a year's statement (SPEC §5a) as journal_submit() submits a
 * report: the approval entry is queued and done() answers with its receipt
 * once it is durable; a repeat is answered with the first receipt.
 */
int
journal_approve(struct journal *j, const char *agreement, const char *year,
    const char *body, size_t len, const char *const *sides, size_t nsides,
    const char *submitter, journal_done_fn *done, void *arg, char *err,
    size_t errlen)
{
	struct settle_result *res = NULL;
	char stamp[TIME_BUFSZ];
	const char *e;
	struct group *g;
	struct item *it;
	size_t elen;
	int code;

	if ((code = journal_writable(j, err, errlen)) != 0)
		return code;
	jn_now_rfc3339(stamp);
	code = settle_approve(j->engine, agreement, year, body, len, sides,
	    nsides, stamp, submitter, j->next, &res, err, errlen);
	if (code < 0)
		return -code;
	if ((g = journal_cur(j)) == NULL ||
	    (it = jn_group_add_item(g)) == NULL) {
		settle_result_free(res);
		snprintf(err, errlen, "out of memory");
		if (code == SETTLE_ACCEPTED)
			journal_fail_all(j, err);
		return 503;
	}
	it->done = done;
	it->arg = arg;
	snprintf(it->rep.agreement, sizeof(it->rep.agreement), "%s", agreement);
	snprintf(it->rep.role, sizeof(it->rep.role), "%s",
	    settle_result_role(res));
	snprintf(it->rep.report_id, sizeof(it->rep.report_id), "@approval/%s",
	    settle_result_period(res));
	snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
	    settle_result_hash(res));
	snprintf(it->rep.status, sizeof(it->rep.status), "%s",
	    settle_result_status_text(res));
	if (code == SETTLE_DUPLICATE) {
		it->kind = ITEM_DUPLICATE;
		if ((it->cand = malloc(sizeof(*it->cand))) != NULL) {
			it->cand[0] = settle_result_first_index(res);
			it->ncand = 1;
		}	/* else answered 500 */
	} else {
		it->kind = ITEM_REPORT;
		it->rep.index = j->next;
		it->rep.count = 1;
		e = settle_result_entry(res, 0, &elen);
		if (jn_group_add_entry(j, g, e, elen) < 0) {
			it->done = NULL;
			settle_result_free(res);
			snprintf(err, errlen, "out of memory");
			journal_fail_all(j, err);
			return 503;
		}
	}
	settle_result_free(res);
	journal_kick(j);
	return 0;
}

int
journal_year_model(struct journal *j, const char *agreement,
    const char *year, json_t **out, char *err, size_t errlen)
{
	json_t *cp = NULL;
	char *note = NULL;
	int code;

	/* The latest checkpoint covers every entry the statement reflects. */
	if (journal_checkpoint(j, &note, err, errlen) == 0)
		cp = statement_checkpoint(note);
	free(note);
	*out = statement_model(j->engine, agreement, year, cp, &code, err,
	    errlen);
	json_decref(cp);
	return *out == NULL ? -code : 0;
}

struct event_base *
journal_get0_base(const struct journal *j)
{
	return j->base;
}

int
journal_year(struct journal *j, const char *agreement, const char *year,
    json_t **out, char *err, size_t errlen)
{
	int code;

	if ((*out = settle_year_json(j->engine, agreement, year, &code, err,
	    errlen)) == NULL)
		return -code;
	return 0;
}

/* ---- open and close ---- */

/*
 * Makes sure the ledger has a checkpoint covering all of it, signed by the
 * keys in force (at open; a new signing of the latest when the keys
 * changed since it was signed).
 */
static int
cover_ledger(struct journal *j, uint64_t size, char *err, size_t errlen)
{
	struct note_signer *signers[JOURNAL_MAX_SIGNERS];
	size_t n = journal_signers(j, signers);
	uint64_t cps;
	char *note = NULL, msg[400];
	int rc;

	rc = store_latest_checkpoint(j->wr, &cps, NULL);
	if (rc == 0 && cps == size) {
		if (jn_resign_latest(j, signers, n, err, errlen) < 0)
			return -1;
		if (store_checkpoint(j->wr, size, &note) < 0) {
			snprintf(err, errlen, "%s", store_errmsg(j->wr));
			return -1;
		}
		j->cp_size = cps;
		j->cp_note = note;
		return 0;
	}
	if (rc < 0 && rc != STORE_ENOENT) {
		snprintf(err, errlen, "%s", store_errmsg(j->wr));
		return -1;
	}
	if (store_begin(j->wr) < 0 ||
	    jn_sign_checkpoint(j, size, signers, n, &note, msg,
	    sizeof(msg)) < 0 ||
	    store_commit(j->wr) < 0) {
		snprintf(err, errlen, "signing a checkpoint of size %llu: %s",
		    (unsigned long long)size, note ? store_errmsg(j->wr) : msg);
		free(note);
		store_rollback(j->wr);
		return -1;
	}
	j->cp_size = size;
	j->cp_note = note;
	return 0;
}

/* The ledger's origin is fixed by the first start. */
static int
check_origin(struct journal *j, char *err, size_t errlen)
{
	char *have = NULL;
	int rc = store_meta(j->rd, "origin", &have);

	if (rc == STORE_ENOENT) {
		if (store_put_meta(j->wr, "origin", j->origin) == 0)
			return 0;
		snprintf(err, errlen, "%s", store_errmsg(j->wr));
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", store_errmsg(j->rd));
		return -1;
	}
	rc = strcmp(have, j->origin) == 0 ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "the ledger here is the one of origin"
		    " \"%s\", not \"%s\" (ledger.origin)", have, j->origin);
	free(have);
	return rc;
}

/*
 * Starts one of the journal's threads, fn(j), and names it (for top -H,
 * ps -L and the benchmark's CPU split); sets *started. 0, or -1 with the
 * reason, which says what thread.
 */
static int
thread_start(struct journal *j, pthread_t *t, int *started,
    void *(*fn)(void *), const char *what, const char *name, char *err,
    size_t errlen)
{
	int rc;

	/* pthread_create returns its error; errno is not set. */
	if ((rc = pthread_create(t, NULL, fn, j)) != 0) {
		snprintf(err, errlen, "journal: %s thread: %s", what,
		    strerror(rc));
		return -1;
	}
	*started = 1;
	(void)pthread_setname_np(*t, name);
	return 0;
}

/* Tells the threads to quit, wakes the one waiting on cv and joins it. */
static void
thread_stop(struct journal *j, pthread_t t, pthread_cond_t *cv)
{
	pthread_mutex_lock(&j->mu);
	j->quit = 1;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(t, NULL);
}

struct journal *
journal_open(struct event_base *base, const char *state_dir,
    const char *origin, struct note_signer *key, struct note_signer *next,
    struct note_signer *sm2, char *err, size_t errlen)
{
	struct journal *j;
	char path[PATH_MAX], msg[512];
	uint64_t size;
	int rc = 0;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "out of memory");
		note_signer_free(key);
		note_signer_free(next);
		note_signer_free(sm2);
		return NULL;
	}
	/* Ours from here; checked once the ledger is read. */
	j->key = key;
	j->nextkey = next;
	j->sm2 = sm2;
	j->efd = -1;
	j->base = base;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv_todo, NULL);
	pthread_cond_init(&j->cv_finished, NULL);
	pthread_cond_init(&j->cv_ck, NULL);
	pthread_cond_init(&j->cv_sync, NULL);
	j->tosync_tail = &j->tosync;
	j->fin_tail = &j->finished;
	if ((j->origin = strdup(origin)) == NULL ||
	    (j->cache = calloc(CACHE_SLOTS, sizeof(*j->cache))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "state_dir %s: %s", state_dir,
		    strerror(errno));
		goto fail;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
	    DB_NAME) >= sizeof(path)) {
		snprintf(err, errlen, "state_dir %s: path too long", state_dir);
		goto fail;
	}
	if ((j->rd = store_open(path, err, errlen)) == NULL ||
	    (j->wr = store_open(path, err, errlen)) == NULL ||
	    (j->ck = store_open(path, err, errlen)) == NULL)
		goto fail;
	store_wal_manual(j->wr);
	if (check_origin(j, err, errlen) < 0)
		goto fail;
	if ((j->state_dir = strdup(state_dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((j->engine = jn_replay(j->rd, j->wr, j->origin, j->state_dir,
	    &j->pages, &size, &j->announced, msg, sizeof(msg))) == NULL) {
		snprintf(err, errlen, "%s: replaying the ledger: %s", path, msg);
		goto fail;
	}
	j->next = size;
	j->committed = size;
	if (jn_keys_check(j, NULL, key, next, size, err, errlen) < 0)
		goto fail;
	jn_keys_update(j);
	if (cover_ledger(j, size, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		goto fail;
	}
	/*
	 * From here COMMIT returns before the log is synced; sync_main syncs
	 * it before anything is answered. Whatever a killed daemon left
	 * written but not synced is synced now, before it is served.
	 */
	if (store_defer_sync(j->wr) < 0 || (rc = store_sync(j->wr)) < 0) {
		snprintf(err, errlen, "%s: %s", path, rc < 0 ? strerror(-rc) :
		    store_errmsg(j->wr));
		goto fail;
	}
	if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (j->ev = event_new(base, j->efd, EV_READ | EV_PERSIST, jn_on_writer,
	    j)) == NULL || event_add(j->ev, NULL) < 0 ||
	    (j->linger = evtimer_new(base, jn_on_linger, j)) == NULL) {
		snprintf(err, errlen, "journal: eventfd: %s", strerror(errno));
		goto fail;
	}
	/*
	 * The writer last: a group it commits is answered only through the
	 * sync thread, so once the writer runs the others must (journal_free
	 * waits for the writer's groups to come back).
	 */
	if (thread_start(j, &j->sy_thread, &j->sy_started, jn_sync_main,
	    "sync", "shanhai-sync", err, errlen) < 0 ||
	    thread_start(j, &j->ck_thread, &j->ck_started, jn_ckpt_main,
	    "checkpoint", "shanhai-walckpt", err, errlen) < 0 ||
	    thread_start(j, &j->thread, &j->thread_started, jn_writer_main,
	    "writer", "shanhai-writer", err, errlen) < 0)
		goto fail;
	store_set_busy_timeout(j->rd, RD_BUSY_MS);
	log_info("journal: %s: %llu %s, checkpoint %llu", path,
	    (unsigned long long)size, size == 1 ? "entry" : "entries",
	    (unsigned long long)j->cp_size);
	{
		struct settle_pager_stats ps;

		settle_pager_stats(j->engine, &ps);
		size_t ids = 0, ids_mem = 0;

		settle_pager_stats(j->engine, &ps);
		if (j->pages != NULL)
			ids = pagefile_ids(j->pages, &ids_mem);
		log_info("journal: engine: %zu fiscal years in memory, %zu "
		    "paged out to %s, %zu report ids indexed there%s",
		    ps.resident, ps.paged_out, j->pages ? "a page file in the "
		    "state folder" : "nowhere (no page file)", ids, ids_mem ?
		    " (some kept in memory: the disk is full)" : "");
	}
	journal_kick(j);
	return j;
fail:
	journal_free(j);
	return NULL;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->thread_started) {
		/* Groups come back only through the sync thread. */
		if (j->sy_started)
			(void)journal_flush(j);
		thread_stop(j, j->thread, &j->cv_todo);
	}
	while (j->waiters != NULL) {
		struct pwait *w = j->waiters;

		j->waiters = w->next;
		w->ready(j, w->arg, 0);
		free(w);
	}
	if (j->sy_started)
		thread_stop(j, j->sy_thread, &j->cv_sync);
	if (j->ck_started)
		thread_stop(j, j->ck_thread, &j->cv_ck);
	jn_group_free(j->cur);
	jn_group_free(j->inflight);
	while (j->finished != NULL) {
		struct group *g = j->finished;

		j->finished = g->next;
		jn_group_free(g);
	}
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->linger != NULL)
		event_free(j->linger);
	if (j->efd >= 0)
		close(j->efd);
	store_close(j->ck);
	store_close(j->rd);
	store_close(j->wr);
	settle_free(j->engine);
	pagefile_free(j->pages);
	free(j->state_dir);
	jn_pmap_clear(&j->periods);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv_todo);
	pthread_cond_destroy(&j->cv_finished);
	pthread_cond_destroy(&j->cv_ck);
	pthread_cond_destroy(&j->cv_sync);
	free(j->cache);
	note_signer_free(j->key);
	note_signer_free(j->nextkey);
	note_signer_free(j->sm2);
	for (size_t i = 0; i < j->nretired; i++)
		note_signer_free(j->retired[i]);
	free(j->retired);
	jn_strset_clear(&j->announced);
	free(j->cp_note);
	free(j->origin);
	free(j);
}
