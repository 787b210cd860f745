/*
 * audit: replay of a ledger through the settle engine, spread over worker
 * threads by agreement. See include/shanhai/audit.h.
 *
 * The main thread (audit_entry()) only classifies each entry by its
 * top-level "type" and cuts the stream into groups: a `rules` entry, or a
 * `report` entry with the settlements, adjustments and disputes after it.
 * A group goes whole to the worker that owns its agreement (a hash of the
 * id), followed by an end mark naming the index after the group, where a
 * sequential replay would notice entries missing. Other entries are checked
 * canonical by the main thread itself. Each side keeps its first failure;
 * the smallest index wins, the main thread's on a tie.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "shanhai/audit.h"
#include "shanhai/canon.h"
#include "shanhai/pagefile.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

#define MAX_WORKERS	4
/* A batch goes to its worker at this many records or bytes. */
#define BATCH_RECS	2048
#define BATCH_BYTES	(1 << 20)
/* Batches queued per worker before the main thread waits. */
#define QUEUE_DEPTH	8

/* One engine's replay state: a worker's, or the main thread's checks. */
struct replay {
	struct settle		*engine;
	struct pagefile		*pages;		/* its closed years, or NULL */
	struct settle_result	*pending;	/* entries still expected */
	size_t			 next;		/* next expected in pending */
	uint64_t		 pending_from;	/* index of its report entry */
	int			 failed;
	uint64_t		 fail_at;
	char			 why[1024];	/* first failure */
	char			*scratch;	/* fast path's rebuilt entry */
	size_t			 scratchcap;
	uint64_t		 nrules, nreports, nderived, nskipped;
	uint64_t		 napprovals;
	/* audit_watch(): what the report at `watch` gave. */
	int			 watching, watched;
	uint64_t		 watch;
	const char		*wstatus;
	size_t			 wcount;
};

/*
 * Where a failure happened, finer than the entry: for entry i, its
 * canonical check by the main thread (other entries, rules), then the check
 * that the report before it has no entry missing, then the entry's own
 * replay, in the order a sequential replay makes them. Unique per check,
 * so the first failure is the same whichever thread found it.
 */
#define AT_FORM(i)	((i) * 4)
#define AT_PENDING(i)	((i) * 4 + 1)
#define AT(i)		((i) * 4 + 2)

static int __attribute__((format(printf, 3, 4)))
fail(struct replay *r, uint64_t at, const char *fmt, ...)
{
	va_list ap;

	/* A check that comes earlier in a sequential replay wins. */
	if (!r->failed || at < r->fail_at) {
		r->failed = 1;
		r->fail_at = at;
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Replay. */

static const char *
type_of(json_t *e)
{
	const char *t = json_string_value(json_object_get(e, "type"));

	return t != NULL ? t : "";
}

/*
 * Is the ledger's entry exactly what the engine gave, but for "time" (and
 * "submitter" on a report)? If not, says which field differs.
 */
static int
same_entry(struct replay *v, uint64_t index, json_t *got, json_t *want)
{
	const char *key;
	json_t *val;
	int report = strcmp(type_of(want), "report") == 0;

	json_object_foreach(want, key, val) {
		json_t *g = json_object_get(got, key);
		if (g != NULL && json_equal(g, val))
			continue;
		char err[64], *gs = g ? canon_dump(g, NULL, err, sizeof(err)) :
		    NULL, *ws = canon_dump(val, NULL, err, sizeof(err));
		fail(v, AT(index), "entry %" PRIu64 ": %s: field \"%s\" is %.200s in the "
		    "ledger, the replay gives %.200s", index, type_of(want),
		    key, gs ? gs : "missing", ws ? ws : "?");
		free(gs);
		free(ws);
		return -1;
	}
	json_object_foreach(got, key, val) {
		if (json_object_get(want, key) != NULL ||
		    strcmp(key, "time") == 0 ||
		    (report && strcmp(key, "submitter") == 0))
			continue;
		return fail(v, AT(index), "entry %" PRIu64 ": %s: field \"%s\" is not one "
		    "the replay gives", index, type_of(want), key);
	}
	return 0;
}

/* Entries the engine gave that the ledger does not hold before index. */
static int
check_nothing_pending(struct replay *v, uint64_t index)
{
	if (v->pending == NULL)
		return 0;
	if (v->next < settle_result_count(v->pending)) {
		json_t *w = settle_result_get0_json(v->pending, v->next);
		const char *a = json_string_value(json_object_get(w,
		    "agreement")), *p = json_string_value(json_object_get(w,
		    "period"));
		return fail(v, AT_PENDING(index), "entry %" PRIu64 ": missing: "
		    "the report at "
		    "entry %" PRIu64 " gives a %s for %s %s here", index,
		    v->pending_from, type_of(w), a ? a : "?", p ? p : "?");
	}
	settle_result_free(v->pending);
	v->pending = NULL;
	return 0;
}

static int
replay_rules(struct replay *v, uint64_t index, json_t *e)
{
	const char *agreement, *sha, *text;
	char name[128], err[1024];
	struct rules *r;
	json_t *re;

	if (json_unpack(e, "{s:s, s:s, s:s}", "agreement", &agreement,
	    "sha256", &sha, "text", &text) != 0)
		return fail(v, AT(index), "entry %" PRIu64 ": rules: needs agreement, "
		    "sha256 and text", index);
	snprintf(name, sizeof(name), "%s.conf", agreement);
	if ((r = rules_parse(text, name, err, sizeof(err))) == NULL)
		return fail(v, AT(index), "entry %" PRIu64 ": rules do not load: %s",
		    index, err);
	re = rules_entry(r);
	int rc = same_entry(v, index, e, re);
	json_decref(re);
	if (rc < 0) {
		rules_free(r);
		return -1;
	}
	if (settle_install(v->engine, r, err, sizeof(err)) < 0) {
		rules_free(r);
		return fail(v, AT(index), "entry %" PRIu64 ": rules for %s refused: %s",
		    index, agreement, err);
	}
	v->nrules++;
	return 0;
}

static json_t	*parse_canonical(struct replay *, uint64_t, uint64_t,
		    const char *, size_t);

/*
 * Feeds the report entry at index to the engine; its entries are pending.
 * When the engine refuses it and the entry's bytes are at hand (line), an
 * entry that is not canonical is reported as such: its bytes, not the
 * engine, are at fault (and a report whose agreement id is not canonical
 * may have gone to another worker's engine).
 */
static int
submit(struct replay *v, uint64_t index, const char *buf, size_t len,
    const char *line, size_t linelen)
{
	char err[1024];
	int code;

	code = settle_submit(v->engine, buf, len, NULL, 0, NULL, NULL,
	    &v->pending, err, sizeof(err));
	if (code < 0 && line != NULL) {
		json_t *e = parse_canonical(v, AT(index), index, line, linelen);
		if (e == NULL)
			return -1;
		json_decref(e);
	}
	if (code < 0)
		return fail(v, AT(index), "entry %" PRIu64 ": the engine "
		    "refuses this report: %s", index, err);
	if (code == SETTLE_DUPLICATE || settle_result_count(v->pending) == 0)
		return fail(v, AT(index), "entry %" PRIu64 ": a resubmission of an "
		    "earlier report, which causes no entry", index);
	if (v->watching && index == v->watch) {
		v->watched = 1;
		v->wstatus = settle_status_name(settle_result_status(v->pending));
		v->wcount = settle_result_count(v->pending);
	}
	v->pending_from = index;
	v->next = 1;
	v->nreports++;
	return 0;
}

static int
replay_report(struct replay *v, uint64_t index, json_t *e)
{
	json_t *report = json_object_get(e, "report");
	char err[1024], *buf;
	size_t len;

	if (!json_is_object(report))
		return fail(v, AT(index), "entry %" PRIu64 ": report: no report object",
		    index);
	if ((buf = canon_dump(report, &len, err, sizeof(err))) == NULL)
		return fail(v, AT(index), "entry %" PRIu64 ": report: %s", index, err);
	int rc = submit(v, index, buf, len, NULL, 0);
	free(buf);
	if (rc < 0)
		return -1;
	return same_entry(v, index, e, settle_result_get0_json(v->pending, 0));
}

/*
 * An approval (SPEC §5a): it must name the statement computed from the
 * entries before it, of a year that was complete, as the daemon writes it.
 */
static int
replay_approval(struct replay *v, uint64_t index, json_t *e)
{
	char err[1024], *buf;
	const char *status = NULL;
	size_t len;
	int rc;

	if ((buf = canon_dump(e, &len, err, sizeof(err))) == NULL)
		return fail(v, AT(index), "entry %" PRIu64 ": approval: %s",
		    index, err);
	rc = settle_approval_replay(v->engine, buf, len, index, &status, err,
	    sizeof(err));
	free(buf);
	if (rc < 0)
		return fail(v, AT(index), "entry %" PRIu64 ": %s", index, err);
	if (v->watching && index == v->watch) {
		v->watched = 1;
		v->wstatus = status;
		v->wcount = 1;
	}
	v->napprovals++;
	return 0;
}

static int
replay(struct replay *v, uint64_t index, json_t *e)
{
	const char *type = type_of(e);

	if (strcmp(type, "settlement") == 0 ||
	    strcmp(type, "adjustment") == 0 || strcmp(type, "dispute") == 0) {
		if (v->pending == NULL ||
		    v->next >= settle_result_count(v->pending))
			return fail(v, AT(index), "entry %" PRIu64 ": extra: a %s that no "
			    "report caused", index, type);
		v->nderived++;
		return same_entry(v, index, e,
		    settle_result_get0_json(v->pending, v->next++));
	}
	if (check_nothing_pending(v, index) < 0)
		return -1;
	if (strcmp(type, "rules") == 0)
		return replay_rules(v, index, e);
	if (strcmp(type, "report") == 0)
		return replay_report(v, index, e);
	if (strcmp(type, "approval") == 0)
		return replay_approval(v, index, e);
	v->nskipped++;	/* e.g. "key": hashed, nothing to replay */
	return 0;
}

/*
 * The fast path. Entries are canonical JSON and the engine gives canonical
 * bytes, so a derived or report entry is checked by splitting its top-level
 * members, dropping "time" (and "submitter" on a report), and comparing the
 * rest byte for byte with the engine's entry. Equal bytes prove the entry
 * canonical too, provided the dropped members are plain strings and the
 * keys are in order, which is checked. Anything else takes the slow path
 * (full parse, canonical check, field-by-field comparison), which also
 * writes the messages.
 */
struct member {
	const char	*key, *val;
	size_t		 klen, vlen;
};

#define MAX_MEMBERS	32

/* Skips a JSON string starting at s[*i] == '"'. */
static int
skip_string(const char *s, size_t len, size_t *i)
{
	size_t j = *i + 1;

	while (j < len) {
		const char *q = memchr(s + j, '"', len - j);
		size_t bs = 0;
		if (q == NULL)
			return -1;
		j = (size_t)(q - s);
		while (j - bs > *i + 1 && s[j - bs - 1] == '\\')
			bs++;
		j++;
		if (bs % 2 == 0) {	/* not escaped */
			*i = j;
			return 0;
		}
	}
	return -1;
}

/* Skips one value of a whitespace-free JSON text. */
static int
skip_value(const char *s, size_t len, size_t *i)
{
	size_t depth = 0, j = *i;

	if (j >= len)
		return -1;
	if (s[j] == '"')
		return skip_string(s, len, i);
	while (j < len) {
		char c = s[j];
		if (c == '"') {
			if (skip_string(s, len, &j) < 0)
				return -1;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (depth == 0)
				break;
			if (--depth == 0) {
				j++;
				break;
			}
		} else if (c == ',' && depth == 0)
			break;
		j++;
	}
	if (depth != 0 || j == *i)
		return -1;
	*i = j;
	return 0;
}

/* The top-level members of an object, as raw spans; -1 if it is not one. */
static int
split_members(const char *s, size_t len, struct member *m, size_t *n)
{
	size_t i = 1;

	*n = 0;
	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return -1;
	if (len == 2)
		return 0;
	for (;;) {
		size_t k;
		if (*n == MAX_MEMBERS || i >= len || s[i] != '"')
			return -1;
		k = i;
		if (skip_string(s, len, &i) < 0 || i >= len || s[i] != ':')
			return -1;
		m[*n].key = s + k + 1;
		m[*n].klen = i - k - 2;
		k = ++i;
		if (skip_value(s, len, &i) < 0)
			return -1;
		m[*n].val = s + k;
		m[*n].vlen = i - k;
		(*n)++;
		if (i == len - 1 && s[i] == '}')
			return 0;
		if (i >= len || s[i] != ',')
			return -1;
		i++;
	}
}

static int
key_is(const struct member *m, const char *k)
{
	return m->klen == strlen(k) && memcmp(m->key, k, m->klen) == 0;
}

/* Byte order of raw keys: UTF-16 order for the ASCII keys entries have. */
static int
key_cmp(const struct member *a, const struct member *b)
{
	int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);

	return c != 0 ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/* A string value that needs no escape: printable ASCII, no '"' or '\\'. */
static int
plain_string(const struct member *m)
{
	if (m->vlen < 2 || m->val[0] != '"' || m->val[m->vlen - 1] != '"')
		return 0;
	for (size_t i = 1; i + 1 < m->vlen; i++)
		if (m->val[i] < 0x20 || m->val[i] > 0x7e || m->val[i] == '"' ||
		    m->val[i] == '\\')
			return 0;
	return 1;
}

/* Is the (plain string) value of t the string s? */
static int
type_is(const struct member *t, const char *s)
{
	size_t n = strlen(s);

	return t->vlen == n + 2 && memcmp(t->val + 1, s, n) == 0;
}

/* The raw value of member key, or NULL. */
static const struct member *
member(const struct member *m, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (key_is(&m[i], key))
			return &m[i];
	return NULL;
}

/*
 * Does the entry, without "time" (and "submitter" when report), equal the
 * canonical bytes want? Rebuilds the object from its spans in buf.
 */
static int
same_bytes(const struct member *m, size_t n, int report, const char *want,
    size_t wlen, char **buf, size_t *cap)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && key_cmp(&m[i - 1], &m[i]) >= 0)
			return 0;	/* keys out of order */
		if (key_is(&m[i], "time") ||
		    (report && key_is(&m[i], "submitter"))) {
			if (!plain_string(&m[i]))
				return 0;
			continue;
		}
		size_t need = len + m[i].klen + m[i].vlen + 5;
		if (need > *cap) {
			char *nb = realloc(*buf, need * 2);
			if (nb == NULL)
				return 0;
			*buf = nb;
			*cap = need * 2;
		}
		(*buf)[len] = len == 0 ? '{' : ',';
		len++;
		(*buf)[len++] = '"';
		memcpy(*buf + len, m[i].key, m[i].klen);
		len += m[i].klen;
		(*buf)[len++] = '"';
		(*buf)[len++] = ':';
		memcpy(*buf + len, m[i].val, m[i].vlen);
		len += m[i].vlen;
	}
	if (len == 0)
		return wlen == 2 && memcmp(want, "{}", 2) == 0;
	return len + 1 == wlen && memcmp(*buf, want, len) == 0 &&
	    want[len] == '}';
}

/* The entry parsed, after checking it is canonical; NULL after fail(). */
static json_t *
parse_canonical(struct replay *v, uint64_t at, uint64_t i, const char *line,
    size_t len)
{
	char err[512], *c;
	size_t clen;
	json_t *e;

	/* A file that went through a DOS tool: say so, not where bytes differ. */
	if (len > 0 && line[len - 1] == '\r') {
		fail(v, at, "entry %" PRIu64 ": not canonical JSON: its line "
		    "ends in CR LF (the file has CR line endings; entries are "
		    "separated by LF alone)", i);
		return NULL;
	}
	if ((e = canon_parse(line, len, err, sizeof(err))) == NULL ||
	    !json_is_object(e)) {
		json_decref(e);
		fail(v, at, "entry %" PRIu64 ": not a JSON object%s%s", i,
		    e ? "" : ": ", e ? "" : err);
		return NULL;
	}
	if ((c = canon_dump(e, &clen, err, sizeof(err))) == NULL ||
	    clen != len || memcmp(c, line, clen) != 0) {
		size_t pos = 0;
		while (c != NULL && pos < clen && pos < len &&
		    c[pos] == line[pos])
			pos++;
		fail(v, at, "entry %" PRIu64 ": not canonical JSON (from byte "
		    "%zu)%s%s", i, pos, c ? "" : ": ", c ? "" : err);
		free(c);
		json_decref(e);
		return NULL;
	}
	free(c);
	return e;
}

/* The slow path: parse, check canonical, replay on the JSON value. */
static int
slow_entry(struct replay *v, uint64_t i, const char *line, size_t len)
{
	/* A sequential replay parses these before any other check. */
	json_t *e = parse_canonical(v, AT_FORM(i), i, line, len);
	int rc;

	if (e == NULL)
		return -1;
	rc = replay(v, i, e);
	json_decref(e);
	return rc;
}

/* The bytes differ from the engine's entry k: say how (or accept). */
static int
explain(struct replay *v, uint64_t i, const char *line, size_t len, size_t k)
{
	json_t *e = parse_canonical(v, AT(i), i, line, len);
	int rc;

	if (e == NULL)
		return -1;
	rc = same_entry(v, i, e, settle_result_get0_json(v->pending, k));
	json_decref(e);
	return rc;
}

static int
fast_entry(struct replay *v, uint64_t i, const char *line, size_t len)
{
	struct member m[MAX_MEMBERS];
	const struct member *t, *r;
	const char *want;
	size_t n, wlen;

	if (split_members(line, len, m, &n) < 0 ||
	    (t = member(m, n, "type")) == NULL || !plain_string(t))
		return slow_entry(v, i, line, len);
	if (type_is(t, "settlement") || type_is(t, "adjustment") ||
	    type_is(t, "dispute")) {
		if (v->pending == NULL ||
		    v->next >= settle_result_count(v->pending))
			return slow_entry(v, i, line, len);	/* "extra" */
		want = settle_result_entry(v->pending, v->next, &wlen);
		if (!same_bytes(m, n, 0, want, wlen, &v->scratch,
		    &v->scratchcap) && explain(v, i, line, len, v->next) < 0)
			return -1;
		v->next++;
		v->nderived++;
		return 0;
	}
	if (!type_is(t, "report") || (r = member(m, n, "report")) == NULL)
		return slow_entry(v, i, line, len);
	if (check_nothing_pending(v, i) < 0)
		return -1;
	if (submit(v, i, r->val, r->vlen, line, len) < 0)
		return -1;
	want = settle_result_entry(v->pending, 0, &wlen);
	if (!same_bytes(m, n, 1, want, wlen, &v->scratch, &v->scratchcap))
		return explain(v, i, line, len, 0);
	return 0;
}

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
	struct replay	 r;
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
	struct replay	 main;		/* the main thread's own checks */
	enum head	 head;		/* of the group being cut */
	int		 cur;		/* its worker, or -1 */
	int		 oom;
};

static void
replay_clear(struct replay *r)
{
	settle_result_free(r->pending);
	settle_free(r->engine);
	pagefile_free(r->pages);
	free(r->scratch);
}

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
run_batch(struct replay *r, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct rec *c = &b->recs[i];
		if (r->failed && AT_FORM(c->index) > r->fail_at)
			break;
		if (c->end)
			check_nothing_pending(r, c->index);
		else
			fast_entry(r, c->index, b->buf + c->off, c->len);
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
		run_batch(&w->r, b);
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
 * Closed years of the replay's engine go to a temporary file, so that the
 * replay's memory follows the open years, not the ledger's length; where
 * no file can be made they stay in memory (the result is the same).
 */
static int
replay_pages(struct replay *r)
{
	struct settle_pager pg;
	char err[256];

	if ((r->pages = pagefile_new(NULL, err, sizeof(err))) == NULL)
		return 0;
	pagefile_pager(r->pages, 0, &pg);
	return settle_set_pager(r->engine, &pg);
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
	for (unsigned i = 0; i < workers; i++) {
		struct worker *w = &a->w[i];
		w->a = a;
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		a->nw++;
		if ((w->r.engine = settle_new()) == NULL ||
		    replay_pages(&w->r) == -1 ||
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

/* The entry type t names, if the replay knows it. */
static const char *
known_type(const struct member *t)
{
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if (type_is(t, types[k]))
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

/* A settlement, adjustment or dispute: part of the group being cut. */
static int
derived(struct audit *a, uint64_t i, const char *line, size_t len,
    const char *type)
{
	if (a->head != HEAD_REPORT) {
		json_t *e = parse_canonical(&a->main, AT(i), i, line, len);
		if (e == NULL)
			return 0;
		json_decref(e);
		fail(&a->main, AT(i), "entry %" PRIu64 ": extra: a %s that no "
		    "report caused", i, type);
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
	if (rules) {
		/* Checked first, as a sequential replay would. */
		json_t *e = parse_canonical(&a->main, AT_FORM(i), i, line, len);
		if (e == NULL)
			return 0;
		json_decref(e);
	}
	wi = id != NULL ? owner(a, id, idlen) : 0;
	a->cur = wi;
	a->head = rules ? HEAD_RULES : HEAD_REPORT;
	return push(a, wi, i, line, len, 0);
}

int
audit_entry(struct audit *a, uint64_t i, const char *line, size_t len)
{
	struct member m[MAX_MEMBERS], rm[MAX_MEMBERS];
	const struct member *t, *r, *idm = NULL;
	const char *type, *id;
	size_t n, rn, idlen;
	int rc;

	if (a->main.failed || a->oom)
		return a->oom ? -1 : 0;	/* later entries cannot matter */
	if (classify(line, len, &type, &id, &idlen) != 0) {
		if (split_members(line, len, m, &n) < 0 ||
		    (t = member(m, n, "type")) == NULL || !plain_string(t) ||
		    (type = known_type(t)) == NULL) {
			/* Anything else is checked canonical here, and skipped. */
			rc = end_group(a, i);
			json_t *e = parse_canonical(&a->main, AT_FORM(i), i,
			    line, len);
			if (e != NULL)
				a->main.nskipped++;
			json_decref(e);
			goto out;
		}
		/* Not canonical, most likely: the worker will say so. */
		if (strcmp(type, "rules") == 0 || strcmp(type, "approval") == 0)
			idm = member(m, n, "agreement");
		else if ((r = member(m, n, "report")) != NULL &&
		    split_members(r->val, r->vlen, rm, &rn) == 0)
			idm = member(rm, rn, "agreement");
		if (idm != NULL && !plain_string(idm))
			idm = NULL;
		id = idm ? idm->val + 1 : NULL;
		idlen = idm ? idm->vlen - 2 : 0;
	}
	rc = strcmp(type, "rules") == 0 || strcmp(type, "report") == 0 ||
	    strcmp(type, "approval") == 0 ?
	    head(a, i, line, len, type, id, idlen) :
	    derived(a, i, line, len, type);
out:
	if (rc < 0)
		a->oom = 1;
	return rc;
}

int
audit_finish(struct audit *a, uint64_t count, uint64_t *at, char *err,
    size_t errlen)
{
	const struct replay *first = NULL;

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
	if (a->main.failed)
		first = &a->main;
	for (unsigned i = 0; i < a->nw; i++)
		if (a->w[i].r.failed && (first == NULL ||
		    a->w[i].r.fail_at < first->fail_at))
			first = &a->w[i].r;
	if (first == NULL)
		return 0;
	*at = first->fail_at / 4;
	snprintf(err, errlen, "%s", first->why);
	return -1;
}

void
audit_watch(struct audit *a, uint64_t index)
{
	/* Reports are replayed by the workers only. */
	for (unsigned i = 0; i < a->nw; i++) {
		a->w[i].r.watching = 1;
		a->w[i].r.watch = index;
	}
}

int
audit_watched(const struct audit *a, const char **status, size_t *count)
{
	for (unsigned i = 0; i < a->nw; i++)
		if (a->w[i].r.watched) {
			*status = a->w[i].r.wstatus;
			*count = a->w[i].r.wcount;
			return 0;
		}
	return -1;
}

void
audit_counts(const struct audit *a, uint64_t *rules, uint64_t *reports,
    uint64_t *derived, uint64_t *skipped)
{
	*rules = a->main.nrules;
	*reports = a->main.nreports;
	*derived = a->main.nderived;
	*skipped = a->main.nskipped;
	for (unsigned i = 0; i < a->nw; i++) {
		/* Approvals are replayed, not skipped: counted with derived. */
		*derived += a->w[i].r.napprovals;
		*rules += a->w[i].r.nrules;
		*reports += a->w[i].r.nreports;
		*derived += a->w[i].r.nderived;
		*skipped += a->w[i].r.nskipped;
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
		replay_clear(&w->r);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
	}
	replay_clear(&a->main);
	free(a->w);
	free(a);
}
