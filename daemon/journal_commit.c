/*
 * journal_commit: the event loop's side of group commit. Groups are filled
 * on the loop, handed to the writer one at a time (journal_kick), come back
 * through the sync thread once durable, and are answered (journal_finish);
 * when a commit fails, everything queued is answered 503 and the engine is
 * rebuilt from the store (journal_restore).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "shanhai/log.h"
#include "shanhai/pagefile.h"

#include "journal_impl.h"

/*
 * Under load, the next group waits at least this long (microseconds) after
 * a commit for the clients just answered to come back (see journal_finish),
 * and at most LINGER_MAX_USEC.
 */
#define LINGER_USEC	400
#define LINGER_MAX_USEC	10000
/* Weight of the newest figure in the moving averages of the group policy. */
#define EMA_NEW		0.2

/* ---- groups ---- */

void
jn_group_free(struct group *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nitems; i++) {
		free(g->items[i].text);
		free(g->items[i].cand);
	}
	for (size_t i = 0; i < g->nentries; i++)
		free(g->entries[i].body);
	free(g->items);
	free(g->entries);
	free(g);
}

static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *np;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((np = realloc(*p, ncap * size)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* The group being filled, made on first use; NULL when out of memory. */
struct group *
journal_cur(struct journal *j)
{
	if (j->cur == NULL && (j->cur = calloc(1, sizeof(*j->cur))) != NULL)
		j->cur->first = j->next;
	return j->cur;
}

struct item *
jn_group_add_item(struct group *g)
{
	struct item *it;

	if (grow((void **)&g->items, &g->capitems, g->nitems,
	    sizeof(*g->items)) < 0)
		return NULL;
	it = &g->items[g->nitems++];
	memset(it, 0, sizeof(*it));
	return it;
}

/* Queues one entry (copied) as the next of the ledger. */
int
jn_group_add_entry(struct journal *j, struct group *g, const char *body,
    size_t len)
{
	struct gentry *e;

	if (grow((void **)&g->entries, &g->capentries, g->nentries,
	    sizeof(*g->entries)) < 0)
		return -1;
	e = &g->entries[g->nentries];
	memset(e, 0, sizeof(*e));
	if ((e->body = malloc(len + 1)) == NULL)
		return -1;
	memcpy(e->body, body, len);
	e->body[len] = '\0';
	e->len = len;
	g->nentries++;
	j->next++;
	return 0;
}

/* ---- the loop side of group commit ---- */

void
journal_kick(struct journal *j)
{
	if (j->inflight != NULL)
		return;
	/* New keys sign the next checkpoint, or the latest again. */
	if (j->want_resign && !j->broken && journal_cur(j) != NULL) {
		j->cur->resign = 1;
		j->want_resign = 0;
	}
	if (j->cur == NULL || (j->cur->nitems == 0 && j->cur->nentries == 0 &&
	    !j->cur->resign))
		return;
	if (j->expect > 0) {
		if (j->cur->nitems < j->expect)
			return;		/* lingering: on_linger ends it */
		j->expect = 0;
		event_del(j->linger);
	}
	j->inflight = j->cur;
	j->cur = NULL;
	j->inflight->nsigners = journal_signers(j, j->inflight->signers);
	j->outstanding++;
	j->out_items += j->inflight->nitems;
	j->out_keys += jn_group_key_items(j->inflight);
	pthread_mutex_lock(&j->mu);
	j->todo = j->inflight;
	pthread_cond_signal(&j->cv_todo);
	pthread_mutex_unlock(&j->mu);
}

static void
answer_items(struct group *g, int code, const char *why)
{
	for (size_t i = 0; i < g->nitems; i++) {
		struct item *it = &g->items[i];

		if (it->done == NULL)
			continue;
		if (code != 0)
			it->done(it->arg, code, why, strlen(why));
		else
			it->done(it->arg, it->code, it->text, it->textlen);
	}
}

/*
 * The engine went ahead of the store (a commit failed, or memory ran out
 * after the engine accepted): answer everything queued 503 and rebuild the
 * engine from what is committed.
 */
void
journal_restore(struct journal *j)
{
	struct rules **keep = NULL;
	struct settle *e;
	struct pagefile *pages;
	struct strset announced = { 0 };
	size_t nkeep = 0;
	uint64_t size;
	char err[512];
	int sync_failed;

	pthread_mutex_lock(&j->mu);
	sync_failed = j->sync_failed;
	pthread_mutex_unlock(&j->mu);
	if (sync_failed) {
		/* The store may show what never reached the disk. */
		j->broken = 1;
		j->broken_at = time(NULL);
		snprintf(j->broken_why, sizeof(j->broken_why), "the disk failed"
		    " to sync the write-ahead log; restart shanhaid");
		/* Nothing more commits: the held period reads end now. */
		jn_wake_waiters(j);
		return;
	}
	/* The period index was written with every group: nothing to add. */
	if ((e = jn_replay(j->rd, NULL, j->origin, j->state_dir, &pages,
	    &size, &announced, err, sizeof(err))) == NULL) {
		j->broken = 1;
		j->broken_at = time(NULL);
		snprintf(j->broken_why, sizeof(j->broken_why), "%s", err);
		log_warnx("journal: cannot rebuild the engine from the store:"
		    " %s", err);
		jn_wake_waiters(j);
		return;
	}
	/* The agreements that were in force stay so, as new rules entries. */
	nkeep = settle_rules_count(j->engine);
	if (nkeep > 0 && (keep = calloc(nkeep, sizeof(*keep))) == NULL)
		nkeep = 0;
	for (size_t i = 0; i < nkeep; i++)
		keep[i] = (struct rules *)settle_get0_rules_at(j->engine, i);
	{
		struct settle *old = j->engine;
		struct pagefile *oldpages = j->pages;

		j->engine = e;
		j->pages = pages;
		/* Nothing is queued: no period waits for the disk. */
		jn_pmap_clear(&j->periods);
		jn_strset_clear(&j->announced);
		j->announced = announced;
		j->next = size;
		j->committed = size;
		j->rules_upto = 0;
		j->broken = 0;
		if (journal_rules_apply(j, (const struct rules *const *)keep,
		    nkeep, 0, err, sizeof(err)) < 0)
			log_warnx("journal: rules after rebuilding: %s", err);
		settle_free(old);
		pagefile_free(oldpages);
		/* A key entry lost with the failed group is queued again. */
		jn_keys_update(j);
	}
	free(keep);
	log_notice("journal: engine rebuilt from the store at %llu %s",
	    (unsigned long long)size, size == 1 ? "entry" : "entries");
	jn_wake_waiters(j);
}

void
journal_fail_all(struct journal *j, const char *why)
{
	struct group *g = j->cur;

	j->cur = NULL;
	log_warnx("journal: nothing queued was committed: %s", why);
	if (g != NULL) {
		answer_items(g, 503, why);
		jn_group_free(g);
	}
	j->broken = 1;
	j->broken_at = time(NULL);
	snprintf(j->broken_why, sizeof(j->broken_why), "%s", why);
	if (j->outstanding == 0)
		journal_restore(j);
	else {
		/*
		 * Restored when the last group out comes back; until then
		 * nothing the period reads wait for may commit: they end now.
		 */
		jn_wake_waiters(j);
	}
}

/*
 * The group policy's measures: the COMMIT of g, and the loop's CPU per
 * submission since the last measure (both as moving averages).
 */
static void
measure(struct journal *j, const struct group *g)
{
	struct timespec now;
	double cpu;

	if (g->nentries > 0)
		j->commit_ema += EMA_NEW * (g->commit_s - j->commit_ema);
	if (j->submits < 8 ||
	    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) < 0)
		return;
	cpu = (double)(now.tv_sec - j->cpu_mark.tv_sec) +
	    (now.tv_nsec - j->cpu_mark.tv_nsec) / 1e9;
	if (j->cpu_mark.tv_sec != 0 || j->cpu_mark.tv_nsec != 0)
		j->loop_ema += EMA_NEW * (cpu / (double)j->submits -
		    j->loop_ema);
	j->cpu_mark = now;
	j->submits = 0;
}

/* g is on disk (or failed): answer its items and go on. */
static void
journal_finish(struct journal *j, struct group *g)
{
	j->outstanding--;
	j->out_items -= g->nitems;
	j->out_keys -= jn_group_key_items(g);
	/* The writer is done with g: no one holds a replaced key now. */
	jn_retired_free(j);
	if (g->failed) {
		char why[300];

		snprintf(why, sizeof(why), "the ledger could not be committed:"
		    " %s", g->why);
		answer_items(g, 503, why);
		jn_group_free(g);
		journal_fail_all(j, why);
		journal_kick(j);
		return;
	}
	j->committed = g->first + g->nentries;
	jn_pmap_committed(j, g);
	measure(j, g);
	for (size_t i = 0; i < g->nitems; i++)
		if (g->items[i].kind == ITEM_KEY && g->items[i].text != NULL &&
		    jn_strset_add(&j->announced, g->items[i].text) < 0)
			log_warnx("journal: out of memory noting an announced"
			    " key");
	if (j->broken) {
		if (j->outstanding == 0)
			journal_restore(j);
	} else if (g->nitems > 1) {
		/*
		 * Under load, the clients just answered come back, and the
		 * next group waits for them: for all of them while a COMMIT
		 * costs more than the loop's work for everyone (the disk is
		 * the limit: one group carries all), else for half (the CPU
		 * is: the other half fills while this one commits, so the
		 * loop and the writer work side by side). Never longer than
		 * the loop's work for all, within LINGER_USEC..LINGER_MAX_USEC.
		 */
		size_t all = (j->cur ? j->cur->nitems : 0) + g->nitems;
		double loop_all = j->loop_ema * (double)all;
		long usec = (long)(2e6 * loop_all);
		struct timeval tv = { 0, 0 };

		j->expect = j->commit_ema > loop_all ? all : (all + 1) / 2;
		if (usec < LINGER_USEC)
			usec = LINGER_USEC;
		if (usec > LINGER_MAX_USEC)
			usec = LINGER_MAX_USEC;
		tv.tv_usec = usec;
		event_add(j->linger, &tv);
	}
	/* A next key just announced signs the next group. */
	if (!j->broken)
		jn_keys_update(j);
	/* The writer first, then the answers: they overlap. */
	journal_kick(j);
	if (j->observe != NULL && g->nentries > 0) {
		size_t reports = 0;

		for (size_t i = 0; i < g->nitems; i++)
			reports += g->items[i].kind == ITEM_REPORT ||
			    g->items[i].kind == ITEM_DUPLICATE;
		j->observe(j->observe_arg, reports, g->nentries, g->write_s,
		    g->commit_s);
	}
	if (j->on_commit != NULL && g->nentries > 0)
		j->on_commit(j->on_commit_arg, j->committed);
	answer_items(g, 0, NULL);
	jn_group_free(g);
	jn_wake_waiters(j);
}

void
jn_on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;

	(void)fd;
	(void)what;
	j->expect = 0;
	journal_kick(j);
}

/*
 * What the threads handed back: the groups on disk, in order; and the
 * writer is free for the next group once it says so. Under j->mu.
 */
static struct group *
take_finished_locked(struct journal *j)
{
	struct group *g = j->finished;

	j->finished = NULL;
	j->fin_tail = &j->finished;
	if (j->writer_free) {
		j->writer_free = 0;
		j->inflight = NULL;
	}
	return g;
}

static struct group *
take_finished(struct journal *j)
{
	struct group *g;

	pthread_mutex_lock(&j->mu);
	g = take_finished_locked(j);
	pthread_mutex_unlock(&j->mu);
	return g;
}

/* Finishes a list of groups in order; returns whether any failed. */
static int
finish_list(struct journal *j, struct group *g)
{
	int failed = 0;

	while (g != NULL) {
		struct group *next = g->next;

		failed |= g->failed;
		journal_finish(j, g);
		g = next;
	}
	return failed;
}

void
jn_on_writer(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;
	struct group *g;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("journal: eventfd");
	g = take_finished(j);
	finish_list(j, g);
	journal_kick(j);
}

int
journal_flush(struct journal *j)
{
	int failed = 0;

	j->expect = 0;
	journal_kick(j);
	while (j->outstanding > 0) {
		struct group *g;

		pthread_mutex_lock(&j->mu);
		while (j->finished == NULL)
			pthread_cond_wait(&j->cv_finished, &j->mu);
		g = take_finished_locked(j);
		pthread_mutex_unlock(&j->mu);
		failed |= finish_list(j, g);
		j->expect = 0;
		journal_kick(j);
	}
	return failed || j->broken ? -1 : 0;
}

void
journal_set_observer(struct journal *j, journal_observe_fn *fn, void *arg)
{
	j->observe = fn;
	j->observe_arg = arg;
}

void
journal_set_commit_hook(struct journal *j, journal_commit_fn *fn, void *arg)
{
	j->on_commit = fn;
	j->on_commit_arg = arg;
}

const struct settle *
journal_get0_engine(const struct journal *j)
{
	return j->engine;
}

size_t
journal_pending(const struct journal *j)
{
	size_t n = 0;

	if (j->cur != NULL)
		n += j->cur->nitems;
	return n + j->out_items;
}
