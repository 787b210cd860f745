/*
 * audit: the auditor's replay of a ledger, spread over worker threads by
 * agreement. See include/shanhai/audit.h.
 *
 * The replay itself is core/replay.c's (REPLAY_AUDIT), one per worker,
 * each with its own engine: this file only distributes the entries. The
 * main thread (audit_entry()) classifies each entry by its top-level
 * "type" and cuts the stream into groups: a `rules` or `approval` entry,
 * or a `report` entry with the settlements, adjustments and disputes after
 * it. A group goes whole to the worker that owns its agreement (a hash of
 * the id), followed by an end mark naming the index after the group, where
 * a sequential replay would notice entries missing (replay_end()). Other
 * entries are checked canonical by the main thread's own replay, which has
 * no engine. Each replay keeps its first failure; the smallest rank wins
 * (replay_failure()), so the verdict does not depend on the workers.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/audit.h"
#include "shanhai/canon.h"
#include "shanhai/pagefile.h"
#include "shanhai/replay.h"
#include "shanhai/settle.h"

#define MAX_WORKERS	4
/* A batch goes to its worker at this many records or bytes. */
#define BATCH_RECS	2048
#define BATCH_BYTES	(1 << 20)
/* Batches queued per worker before the main thread waits. */
#define QUEUE_DEPTH	8
/* Top-level members of an entry the main thread splits to classify. */
#define MAX_MEMBERS	32

/* The work split. */

struct rec {
	uint64_t	index;
	size_t		off, len;
	int		end;		/* a group's end mark; index is the next */
};

struct batch {
	char		*buf;
	size_t		 len, cap;
	struct rec	*recs;
	size_t		 n;
};

struct worker {
	struct audit	*a;
	pthread_t	 thread;
	int		 started;
	struct settle	*engine;
	struct pagefile	*pages;		/* its closed years, or NULL */
	struct replay	*r;
	/* audit_watch(): what the report at `watch` gave. */
	int		 watched;
	const char	*wstatus;
	size_t		 wcount;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct batch	*queue[QUEUE_DEPTH];
	size_t		 head, count;
	int		 done;		/* no more batches will come */
	struct batch	*fill;		/* the one the main thread fills */
};

enum head { HEAD_NONE, HEAD_RULES, HEAD_REPORT };

struct audit {
	struct worker	*w;
	unsigned	 nw;
	struct replay	*main;		/* the main thread's own checks */
	uint64_t	 nskipped;	/* entries of other types */
	int		 watching;
	uint64_t	 watch;
	enum head	 head;		/* of the group being cut */
	int		 cur;		/* its worker, or -1 */
	int		 oom;
};

static void
batch_free(struct batch *b)
{
	if (b != NULL) {
		free(b->buf);
		free(b->recs);
		free(b);
	}
}

/*
 * After a failure only what could still fail earlier matters: the entry
 * right after a group's end mark is parsed before the mark's check.
 */
static void
run_batch(struct worker *w, struct batch *b)
{
	const struct audit *a = w->a;
	uint64_t rank;
	const char *why;

	for (size_t i = 0; i < b->n; i++) {
		const struct rec *c = &b->recs[i];

		if (replay_failure(w->r, &rank, &why) == 0 &&
		    REPLAY_RANK(c->index, 0) > rank)
			break;
		if (c->end)
			(void)replay_end(w->r, c->index, NULL, 0);
		else if (replay_entry(w->r, c->index, b->buf + c->off, c->len,
		    NULL, 0) == 0 && a->watching && c->index == a->watch &&
		    replay_noted(w->r, c->index, &w->wstatus, &w->wcount) == 0)
			w->watched = 1;
	}
	b->n = 0;
	b->len = 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		struct batch *b;
		pthread_mutex_lock(&w->mu);
		while (w->count == 0 && !w->done)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->count == 0) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		b = w->queue[w->head];
		w->head = (w->head + 1) % QUEUE_DEPTH;
		w->count--;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		run_batch(w, b);
		batch_free(b);
	}
}

/* Hands the batch being filled to its worker, waiting while its queue is full. */
static void
flush(struct worker *w)
{
	if (w->fill == NULL || w->fill->n == 0)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->count == QUEUE_DEPTH)
		pthread_cond_wait(&w->cv, &w->mu);
	w->queue[(w->head + w->count) % QUEUE_DEPTH] = w->fill;
	w->count++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	w->fill = NULL;
}

static int
push(struct audit *a, int wi, uint64_t index, const char *line, size_t len,
    int end)
{
	struct worker *w = &a->w[wi];
	struct batch *b = w->fill;

	if (b == NULL && (b = w->fill = calloc(1, sizeof(*b))) == NULL)
		return -1;
	if (b->recs == NULL &&
	    (b->recs = malloc(BATCH_RECS * sizeof(*b->recs))) == NULL)
		return -1;
	if (b->len + len > b->cap) {
		size_t cap = b->len + len > BATCH_BYTES ? b->len + len :
		    BATCH_BYTES;
		char *nb = realloc(b->buf, cap);
		if (nb == NULL)
			return -1;
		b->buf = nb;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->buf + b->len, line, len);
	b->recs[b->n++] = (struct rec){ index, b->len, len, end };
	b->len += len;
	if (b->n == BATCH_RECS || b->len >= BATCH_BYTES)
		flush(w);
	return 0;
}

/* The group being cut ends before entry `next`. */
static int
end_group(struct audit *a, uint64_t next)
{
	int wi = a->cur;

	a->cur = -1;
	a->head = HEAD_NONE;
	return wi < 0 ? 0 : push(a, wi, next, "", 0, 1);
}

/* FNV-1a of the agreement id picks its worker. */
static int
owner(const struct audit *a, const char *id, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return (int)(h % a->nw);
}

/*
 * A worker's engine and its replay. Closed years of the engine go to a
 * temporary file, so that the replay's memory follows the open years, not
 * the ledger's length; where no file can be made they stay in memory (the
 * result is the same).
 */
static int
worker_engine(struct worker *w)
{
	struct settle_pager pg;
	char err[256];

	if ((w->engine = settle_new()) == NULL ||
	    (w->r = replay_new_mode(w->engine, REPLAY_AUDIT, NULL,
	    NULL)) == NULL)
		return -1;
	if ((w->pages = pagefile_new(NULL, err, sizeof(err))) == NULL)
		return 0;
	pagefile_pager(w->pages, 0, &pg);
	return settle_set_pager(w->engine, &pg);
}

struct audit *
audit_new(unsigned workers)
{
	struct audit *a;

	if (workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		workers = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS :
		    (unsigned)n;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->w = calloc(workers, sizeof(*a->w))) == NULL) {
		free(a);
		return NULL;
	}
	a->cur = -1;
	if ((a->main = replay_new_mode(NULL, REPLAY_AUDIT, NULL,
	    NULL)) == NULL) {
		audit_free(a);
		return NULL;
	}
	for (unsigned i = 0; i < workers; i++) {
		struct worker *w = &a->w[i];
		w->a = a;
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		a->nw++;
		if (worker_engine(w) == -1 ||
		    pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			audit_free(a);
			return NULL;
		}
		w->started = 1;
	}
	return a;
}

/*
 * The type and agreement of a canonical entry without splitting it: keys
 * are sorted, so "type" is the last member (nothing after it but "}"), a
 * rules entry starts with its "agreement", and a report entry with its
 * report's "agreement". Unescaped quotes around "type" at the very end can
 * only be the top-level member's. 0 when that shape is found.
 */
static const char *const types[] = {
	"settlement", "adjustment", "dispute", "report", "rules", "approval",
};

/* The entry type member t names, if the replay knows it. */
static const char *
known_type(const struct canon_member *t)
{
	if (t == NULL || !canon_plain_string(t->val, t->vlen))
		return NULL;
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if (t->vlen == strlen(types[k]) + 2 &&
		    memcmp(t->val + 1, types[k], t->vlen - 2) == 0)
			return types[k];
	return NULL;
}

static int
classify(const char *line, size_t len, const char **type, const char **id,
    size_t *idlen)
{
	static const char rules[] = "{\"agreement\":\"";
	static const char report[] = "{\"report\":{\"agreement\":\"";
	const char *pre;

	*type = NULL;
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		size_t tl = strlen(types[k]), need = tl + 11;
		if (len > need && memcmp(line + len - need, ",\"type\":\"", 9) == 0 &&
		    memcmp(line + len - tl - 2, types[k], tl) == 0 &&
		    memcmp(line + len - 2, "\"}", 2) == 0) {
			*type = types[k];
			break;
		}
	}
	if (*type == NULL)
		return -1;
	*id = NULL;
	*idlen = 0;
	if (strcmp(*type, "rules") == 0 || strcmp(*type, "approval") == 0)
		pre = rules;
	else if (strcmp(*type, "report") == 0)
		pre = report;
	else
		return 0;
	size_t pl = strlen(pre);
	if (len <= pl || memcmp(line, pre, pl) != 0)
		return -1;
	const char *q = memchr(line + pl, '"', len - pl);
	if (q == NULL || memchr(line + pl, '\\', (size_t)(q - line) - pl))
		return -1;
	*id = line + pl;
	*idlen = (size_t)(q - *id);
	return 0;
}

/*
 * A settlement, adjustment or dispute: part of the group being cut, or
 * one that no report caused, which the main thread's replay says.
 */
static int
derived(struct audit *a, uint64_t i, const char *line, size_t len)
{
	if (a->head != HEAD_REPORT) {
		(void)replay_entry(a->main, i, line, len, NULL, 0);
		return 0;
	}
	return push(a, a->cur, i, line, len, 0);
}

/* A rules or report entry starts a group, for its agreement's worker. */
static int
head(struct audit *a, uint64_t i, const char *line, size_t len,
    const char *type, const char *id, size_t idlen)
{
	/* An approval is a group of one, like a rules entry. */
	int rules = strcmp(type, "rules") == 0 ||
	    strcmp(type, "approval") == 0, wi;

	if (end_group(a, i) < 0)
		return -1;
	/* Checked first, as a sequential replay would. */
	if (rules && replay_form(a->main, i, line, len, NULL, 0) < 0)
		return 0;
	wi = id != NULL ? owner(a, id, idlen) : 0;
	a->cur = wi;
	a->head = rules ? HEAD_RULES : HEAD_REPORT;
	return push(a, wi, i, line, len, 0);
}

int
audit_entry(struct audit *a, uint64_t i, const char *line, size_t len)
{
	struct canon_member m[MAX_MEMBERS], rm[MAX_MEMBERS];
	const struct canon_member *r, *idm = NULL;
	const char *type, *id, *why;
	size_t n, rn, idlen;
	uint64_t rank;
	int rc;

	if (replay_failure(a->main, &rank, &why) == 0 || a->oom)
		return a->oom ? -1 : 0;	/* later entries cannot matter */
	if (classify(line, len, &type, &id, &idlen) != 0) {
		if (canon_members(line, len, 0, m, MAX_MEMBERS, &n) < 0 ||
		    (type = known_type(canon_member_get(m, n,
		    "type"))) == NULL) {
			/* Anything else is checked canonical here, and skipped. */
			rc = end_group(a, i);
			if (replay_form(a->main, i, line, len, NULL, 0) == 0)
				a->nskipped++;
			goto out;
		}
		/* Not canonical, most likely: the worker will say so. */
		if (strcmp(type, "rules") == 0 || strcmp(type, "approval") == 0)
			idm = canon_member_get(m, n, "agreement");
		else if ((r = canon_member_get(m, n, "report")) != NULL &&
		    canon_members(r->val, r->vlen, 0, rm, MAX_MEMBERS, &rn) == 0)
			idm = canon_member_get(rm, rn, "agreement");
		if (idm != NULL && !canon_plain_string(idm->val, idm->vlen))
			idm = NULL;
		id = idm ? idm->val + 1 : NULL;
		idlen = idm ? idm->vlen - 2 : 0;
	}
	rc = strcmp(type, "rules") == 0 || strcmp(type, "report") == 0 ||
	    strcmp(type, "approval") == 0 ?
	    head(a, i, line, len, type, id, idlen) :
	    derived(a, i, line, len);
out:
	if (rc < 0)
		a->oom = 1;
	return rc;
}

int
audit_finish(struct audit *a, uint64_t count, uint64_t *at, char *err,
    size_t errlen)
{
	const char *first = NULL, *why;
	uint64_t best = 0, rank;

	if (end_group(a, count) < 0)
		a->oom = 1;
	for (unsigned i = 0; i < a->nw; i++) {
		struct worker *w = &a->w[i];
		flush(w);
		pthread_mutex_lock(&w->mu);
		w->done = 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
		w->started = 0;
	}
	if (a->oom) {
		snprintf(err, errlen, "out of memory");
		*at = count;
		return -1;
	}
	/* The main thread's first, so that it wins a tie. */
	if (replay_failure(a->main, &rank, &why) == 0) {
		first = why;
		best = rank;
	}
	for (unsigned i = 0; i < a->nw; i++)
		if (replay_failure(a->w[i].r, &rank, &why) == 0 &&
		    (first == NULL || rank < best)) {
			first = why;
			best = rank;
		}
	if (first == NULL)
		return 0;
	*at = best / 4;
	snprintf(err, errlen, "%s", first);
	return -1;
}

void
audit_watch(struct audit *a, uint64_t index)
{
	/* Reports and approvals are replayed by the workers only. */
	a->watching = 1;
	a->watch = index;
}

int
audit_watched(const struct audit *a, const char **status, size_t *count)
{
	for (unsigned i = 0; i < a->nw; i++)
		if (a->w[i].watched) {
			*status = a->w[i].wstatus;
			*count = a->w[i].wcount;
			return 0;
		}
	return -1;
}

void
audit_counts(const struct audit *a, uint64_t *rules, uint64_t *reports,
    uint64_t *derived, uint64_t *skipped)
{
	struct replay_counts c;

	replay_counts(a->main, &c);
	*rules = c.rules;
	*reports = c.reports;
	/* Approvals are replayed, not skipped: counted with derived. */
	*derived = c.derived + c.approvals;
	*skipped = c.skipped + a->nskipped;
	for (unsigned i = 0; i < a->nw; i++) {
		replay_counts(a->w[i].r, &c);
		*rules += c.rules;
		*reports += c.reports;
		*derived += c.derived + c.approvals;
		*skipped += c.skipped;
	}
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	for (unsigned i = 0; i < a->nw; i++) {
		struct worker *w = &a->w[i];
		if (w->started) {
			pthread_mutex_lock(&w->mu);
			w->done = 1;
			pthread_cond_signal(&w->cv);
			pthread_mutex_unlock(&w->mu);
			pthread_join(w->thread, NULL);
		}
		while (w->count > 0) {
			batch_free(w->queue[w->head]);
			w->head = (w->head + 1) % QUEUE_DEPTH;
			w->count--;
		}
		batch_free(w->fill);
		replay_free(w->r);
		settle_free(w->engine);
		pagefile_free(w->pages);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
	}
	replay_free(a->main);
	free(a->w);
	free(a);
}
