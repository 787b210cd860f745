/*
 * replay: see include/shanhai/replay.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/replay.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

/* Steps of an entry's checks, in a sequential replay's order. */
#define FORM		0
#define PENDING		1
#define OWN		2

/* Top-level members an entry split as bytes may have. */
#define MAX_MEMBERS	32

struct replay {
	struct settle		*engine;
	enum replay_mode	 mode;
	replay_other_fn		*other;
	void			*arg;
	struct settle_result	*pending;	/* the latest report's */
	size_t			 next;		/* its next entry to meet */
	uint64_t		 report_at;
	int			 new_report;	/* pending is the entry just met */
	/* The first failure (replay_failure()), and the call's err. */
	int			 failed;
	uint64_t		 fail_rank;
	char			 why[1024];
	char			*err;
	size_t			 errlen;
	/* replay_noted(). */
	int			 noted;
	uint64_t		 noted_at;
	const char		*noted_status;
	size_t			 noted_count;
	struct replay_counts	 counts;
	char			*scratch;	/* an entry rebuilt from members */
	size_t			 scratchcap;
};

struct replay *
replay_new_mode(struct settle *engine, enum replay_mode mode,
    replay_other_fn *other, void *arg)
{
	struct replay *rp = calloc(1, sizeof(*rp));

	if (rp == NULL)
		return NULL;
	rp->engine = engine;
	rp->mode = mode;
	rp->other = other;
	rp->arg = arg;
	return rp;
}

struct replay *
replay_new(struct settle *engine, replay_other_fn *other, void *arg)
{
	return replay_new_mode(engine, REPLAY_DAEMON, other, arg);
}

void
replay_free(struct replay *rp)
{
	if (rp == NULL)
		return;
	settle_result_free(rp->pending);
	free(rp->scratch);
	free(rp);
}

/* Keeps msg, the failure of the check of rank `rank`; -1. */
static int
record(struct replay *rp, uint64_t rank, const char *msg)
{
	if (rp->err != NULL)
		snprintf(rp->err, rp->errlen, "%s", msg);
	/* A check that comes earlier in a sequential replay wins. */
	if (!rp->failed || rank < rp->fail_rank) {
		rp->failed = 1;
		rp->fail_rank = rank;
		snprintf(rp->why, sizeof(rp->why), "%s", msg);
	}
	return -1;
}

/* "entry N: ..." for the check of the given step at entry i; -1. */
static int __attribute__((format(printf, 4, 5)))
fail(struct replay *rp, uint64_t i, int step, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "entry %" PRIu64 ": ", i);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return record(rp, REPLAY_RANK(i, step), msg);
}

static const char *
type_of(const json_t *e)
{
	const char *t = json_string_value(json_object_get(e, "type"));

	return t != NULL ? t : "";
}

static int
derived_type(const char *t)
{
	return strcmp(t, "settlement") == 0 || strcmp(t, "adjustment") == 0 ||
	    strcmp(t, "dispute") == 0;
}

/* Is key a member the mode does not compare (time; submitter on reports)? */
static int
loose_key(const struct replay *rp, const char *key, size_t klen, int report)
{
	return rp->mode == REPLAY_AUDIT && ((klen == 4 &&
	    memcmp(key, "time", 4) == 0) || (report && klen == 9 &&
	    memcmp(key, "submitter", 9) == 0));
}

/* The entry parsed, after checking it is canonical; NULL after fail(). */
static json_t *
parse_canonical(struct replay *rp, uint64_t i, int step, const char *line,
    size_t len)
{
	char err[512], *c;
	size_t clen;
	json_t *e;

	/* A file that went through a DOS tool: say so, not where bytes differ. */
	if (len > 0 && line[len - 1] == '\r') {
		fail(rp, i, step, "not canonical JSON: its line ends in CR LF "
		    "(the file has CR line endings; entries are separated by "
		    "LF alone)");
		return NULL;
	}
	if ((e = canon_parse(line, len, err, sizeof(err))) == NULL ||
	    !json_is_object(e)) {
		json_decref(e);
		fail(rp, i, step, "not a JSON object%s%s", e ? "" : ": ",
		    e ? "" : err);
		return NULL;
	}
	if ((c = canon_dump(e, &clen, err, sizeof(err))) == NULL ||
	    clen != len || memcmp(c, line, clen) != 0) {
		size_t pos = 0;

		while (c != NULL && pos < clen && pos < len &&
		    c[pos] == line[pos])
			pos++;
		fail(rp, i, step, "not canonical JSON (from byte %zu)%s%s", pos,
		    c ? "" : ": ", c ? "" : err);
		free(c);
		json_decref(e);
		return NULL;
	}
	free(c);
	return e;
}

/*
 * Is the ledger's entry got what the engine gave (want), but for the
 * members the mode does not compare? If not, says which field differs.
 */
static int
same_entry(struct replay *rp, uint64_t i, const json_t *got,
    const json_t *want)
{
	const char *key;
	json_t *val;
	int report = strcmp(type_of(want), "report") == 0;

	json_object_foreach((json_t *)want, key, val) {
		json_t *g = json_object_get(got, key);

		if (g != NULL && json_equal(g, val))
			continue;
		char err[64], *gs = g ? canon_dump(g, NULL, err, sizeof(err)) :
		    NULL, *ws = canon_dump(val, NULL, err, sizeof(err));
		fail(rp, i, OWN, "%s: field \"%s\" is %.200s in the ledger, "
		    "the replay gives %.200s", type_of(want), key,
		    gs ? gs : "missing", ws ? ws : "?");
		free(gs);
		free(ws);
		return -1;
	}
	json_object_foreach((json_t *)got, key, val) {
		if (json_object_get(want, key) != NULL ||
		    loose_key(rp, key, strlen(key), report))
			continue;
		return fail(rp, i, OWN, "%s: field \"%s\" is not one the "
		    "replay gives", type_of(want), key);
	}
	return 0;
}

/* The bytes of entry i differ from the engine's entry k: say how. */
static int
explain(struct replay *rp, uint64_t i, const char *line, size_t len, size_t k)
{
	json_t *e = parse_canonical(rp, i, OWN, line, len);
	int rc;

	if (e == NULL)
		return -1;
	rc = same_entry(rp, i, e, settle_result_get0_json(rp->pending, k));
	json_decref(e);
	/* Canonical and equal in every field compared: equal bytes. */
	if (rc == 0 && rp->mode == REPLAY_DAEMON)
		rc = fail(rp, i, OWN, "differs from the replay of the report "
		    "at %" PRIu64, rp->report_at);
	return rc;
}

/* Entries the engine gave that the ledger does not hold before entry i. */
static int
check_nothing_pending(struct replay *rp, uint64_t i)
{
	if (rp->pending == NULL)
		return 0;
	if (rp->next < settle_result_count(rp->pending)) {
		json_t *w = settle_result_get0_json(rp->pending, rp->next);
		const char *a = json_string_value(json_object_get(w,
		    "agreement")), *p = json_string_value(json_object_get(w,
		    "period"));

		return fail(rp, i, PENDING, "missing: the report at entry "
		    "%" PRIu64 " gives a %s for %s %s here", rp->report_at,
		    type_of(w), a ? a : "?", p ? p : "?");
	}
	settle_result_free(rp->pending);
	rp->pending = NULL;
	return 0;
}

static int
replay_rules(struct replay *rp, uint64_t i, const char *body, size_t len,
    const json_t *e)
{
	const char *agreement, *sha, *text;
	char name[128], msg[1024], *again;
	struct rules *r;
	size_t alen;
	json_t *want;
	int rc;

	if (json_unpack((json_t *)e, "{s:s, s:s, s:s}", "agreement",
	    &agreement, "sha256", &sha, "text", &text) != 0)
		return fail(rp, i, OWN, "rules: needs agreement, sha256 and "
		    "text");
	snprintf(name, sizeof(name), "%.64s.conf", agreement);
	if ((r = rules_parse(text, name, msg, sizeof(msg))) == NULL)
		return fail(rp, i, OWN, "rules do not load: %s", msg);
	if (rp->mode == REPLAY_AUDIT) {
		/* As its text gives it, but for "time", which is not compared. */
		if ((want = rules_entry(r)) == NULL) {
			rules_free(r);
			return fail(rp, i, OWN, "rules: out of memory");
		}
		rc = same_entry(rp, i, e, want);
		json_decref(want);
		again = NULL;
	} else if ((again = rules_entry_text(r, json_string_value(
	    json_object_get(e, "time")), &alen, msg, sizeof(msg))) == NULL) {
		/* Without "time": as `shanhai settle` would write it, offline. */
		rules_free(r);
		return fail(rp, i, OWN, "rules: %s", msg);
	} else if (alen == len && memcmp(again, body, len) == 0)
		rc = 0;
	else if ((want = canon_parse(again, alen, msg, sizeof(msg))) == NULL)
		rc = fail(rp, i, OWN, "rules: %s", msg);
	else {
		rc = same_entry(rp, i, e, want);
		json_decref(want);
		if (rc == 0)
			rc = fail(rp, i, OWN, "rules entry is not as the "
			    "daemon writes it");
	}
	free(again);
	if (rc < 0) {
		rules_free(r);
		return -1;
	}
	if (settle_install(rp->engine, r, msg, sizeof(msg)) < 0) {
		rules_free(r);
		return fail(rp, i, OWN, "rules for %s refused: %s", agreement,
		    msg);
	}
	rp->counts.rules++;
	return 0;
}

/*
 * Submits the report bytes of entry i; its entries become pending. When
 * the engine refuses them, an entry that is not canonical is reported as
 * such: its bytes, not the engine, are at fault.
 */
static int
submit(struct replay *rp, uint64_t i, const char *report, size_t rlen,
    const char *stamp, const char *submitter, const char *line, size_t len)
{
	char err[1024];
	int code;

	settle_result_free(rp->pending);
	rp->pending = NULL;
	code = settle_submit(rp->engine, report, rlen, NULL, 0, stamp,
	    submitter, &rp->pending, err, sizeof(err));
	if (code < 0) {
		json_t *e;

		settle_result_free(rp->pending);
		rp->pending = NULL;
		if ((e = parse_canonical(rp, i, OWN, line, len)) == NULL)
			return -1;
		json_decref(e);
		return fail(rp, i, OWN, "the engine refuses this report: %s",
		    err);
	}
	if (code == SETTLE_DUPLICATE || settle_result_count(rp->pending) == 0) {
		settle_result_free(rp->pending);
		rp->pending = NULL;
		return fail(rp, i, OWN, "a resubmission of an earlier report, "
		    "which causes no entry");
	}
	rp->next = 1;
	rp->report_at = i;
	rp->new_report = 1;
	rp->noted = 1;
	rp->noted_at = i;
	rp->noted_status = settle_status_name(settle_result_status(
	    rp->pending));
	rp->noted_count = settle_result_count(rp->pending);
	rp->counts.reports++;
	return 0;
}

static int
replay_report(struct replay *rp, uint64_t i, const char *line, size_t len,
    const json_t *e)
{
	const json_t *report = json_object_get(e, "report");
	const char *stamp = NULL, *submitter = NULL;
	char err[512], *buf;
	size_t blen;
	int rc;

	if (!json_is_object(report))
		return fail(rp, i, OWN, "report: no report object");
	if ((buf = canon_dump(report, &blen, err, sizeof(err))) == NULL)
		return fail(rp, i, OWN, "report: %s", err);
	if (rp->mode == REPLAY_DAEMON) {
		stamp = json_string_value(json_object_get(e, "time"));
		submitter = json_string_value(json_object_get(e, "submitter"));
	}
	rc = submit(rp, i, buf, blen, stamp, submitter, line, len);
	free(buf);
	if (rc < 0)
		return -1;
	return same_entry(rp, i, e, settle_result_get0_json(rp->pending, 0));
}

/*
 * An approval: it must name the statement computed from the entries
 * before it, of a year that was complete, as the daemon writes it.
 */
static int
replay_approval(struct replay *rp, uint64_t i, const char *body, size_t len)
{
	const char *status = NULL;
	char err[1024];

	if (settle_approval_replay(rp->engine, body, len, i, &status, err,
	    sizeof(err)) < 0)
		return fail(rp, i, OWN, "%s", err);
	rp->noted = 1;
	rp->noted_at = i;
	rp->noted_status = status;
	rp->noted_count = 1;
	rp->counts.approvals++;
	return 0;
}

/* The slow path: parse, check canonical, replay on the JSON value. */
static int
slow_entry(struct replay *rp, uint64_t i, const char *body, size_t len)
{
	json_t *e = parse_canonical(rp, i, FORM, body, len);
	const char *type;
	char msg[768];
	int rc;

	if (e == NULL)
		return -1;
	type = type_of(e);
	if (derived_type(type)) {
		if (rp->pending == NULL ||
		    rp->next >= settle_result_count(rp->pending))
			rc = fail(rp, i, OWN, "extra: a %s that no report "
			    "caused", type);
		else if ((rc = same_entry(rp, i, e, settle_result_get0_json(
		    rp->pending, rp->next))) == 0) {
			rp->next++;
			rp->counts.derived++;
		}
	} else if (check_nothing_pending(rp, i) < 0)
		rc = -1;
	else if (rp->engine == NULL && (strcmp(type, "rules") == 0 ||
	    strcmp(type, "report") == 0 || strcmp(type, "approval") == 0))
		rc = fail(rp, i, OWN, "a %s entry where its type said another",
		    type);
	else if (strcmp(type, "rules") == 0)
		rc = replay_rules(rp, i, body, len, e);
	else if (strcmp(type, "report") == 0)
		rc = replay_report(rp, i, body, len, e);
	else if (strcmp(type, "approval") == 0)
		rc = replay_approval(rp, i, body, len);
	else if (rp->other != NULL) {
		if ((rc = rp->other(rp->arg, i, body, len, e, msg,
		    sizeof(msg))) < 0)
			record(rp, REPLAY_RANK(i, OWN), msg);
	} else if (rp->mode == REPLAY_AUDIT) {
		rp->counts.skipped++;	/* e.g. "key": hashed, not replayed */
		rc = 0;
	} else
		rc = fail(rp, i, OWN, "a %s entry that no report before it "
		    "caused", *type ? type : "untyped");
	json_decref(e);
	return rc;
}

/*
 * Does the entry split into m[0..n), without the members the mode does
 * not compare, equal the canonical bytes want? Rebuilds the object from
 * its spans (keys in order, the dropped members plain strings: then equal
 * bytes prove the entry canonical too).
 */
static int
same_bytes(struct replay *rp, const struct canon_member *m, size_t n,
    int report, const char *want, size_t wlen)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			size_t kl = m[i - 1].klen < m[i].klen ?
			    m[i - 1].klen : m[i].klen;
			int c = memcmp(m[i - 1].key, m[i].key, kl);

			/* Byte order: UTF-16 order for the ASCII keys here. */
			if (c > 0 || (c == 0 && m[i - 1].klen >= m[i].klen))
				return 0;
		}
		if (loose_key(rp, m[i].key, m[i].klen, report)) {
			if (!canon_plain_string(m[i].val, m[i].vlen))
				return 0;
			continue;
		}
		size_t need = len + m[i].klen + m[i].vlen + 5;
		if (need > rp->scratchcap) {
			char *nb = realloc(rp->scratch, need * 2);

			if (nb == NULL)
				return 0;
			rp->scratch = nb;
			rp->scratchcap = need * 2;
		}
		rp->scratch[len] = len == 0 ? '{' : ',';
		len++;
		rp->scratch[len++] = '"';
		memcpy(rp->scratch + len, m[i].key, m[i].klen);
		len += m[i].klen;
		rp->scratch[len++] = '"';
		rp->scratch[len++] = ':';
		memcpy(rp->scratch + len, m[i].val, m[i].vlen);
		len += m[i].vlen;
	}
	if (len == 0)
		return wlen == 2 && memcmp(want, "{}", 2) == 0;
	return len + 1 == wlen && memcmp(rp->scratch, want, len) == 0 &&
	    want[len] == '}';
}

/* A plain string member's text into buf; 0, or -1 (none, or too long). */
static int
plain_text(const struct canon_member *m, char *buf, size_t size)
{
	if (m == NULL || !canon_plain_string(m->val, m->vlen) ||
	    m->vlen - 2 >= size)
		return -1;
	memcpy(buf, m->val + 1, m->vlen - 2);
	buf[m->vlen - 2] = '\0';
	return 0;
}

/* A report entry split into m[0..n) (its "report" r): the fast path. */
static int
fast_report(struct replay *rp, uint64_t i, const char *body, size_t len,
    const struct canon_member *m, size_t n, const struct canon_member *r)
{
	const struct canon_member *tm = canon_member_get(m, n, "time"),
	    *sm = canon_member_get(m, n, "submitter");
	char stamp[128], submitter[512];
	const char *want;
	size_t wlen;
	int same;

	if (rp->mode == REPLAY_DAEMON &&
	    ((tm != NULL && plain_text(tm, stamp, sizeof(stamp)) < 0) ||
	    (sm != NULL && plain_text(sm, submitter, sizeof(submitter)) < 0)))
		return slow_entry(rp, i, body, len);
	if (check_nothing_pending(rp, i) < 0)
		return -1;
	if (submit(rp, i, r->val, r->vlen, rp->mode == REPLAY_DAEMON &&
	    tm != NULL ? stamp : NULL, rp->mode == REPLAY_DAEMON &&
	    sm != NULL ? submitter : NULL, body, len) < 0)
		return -1;
	want = settle_result_entry(rp->pending, 0, &wlen);
	if (rp->mode == REPLAY_DAEMON)
		same = wlen == len && memcmp(want, body, len) == 0;
	else
		same = same_bytes(rp, m, n, 1, want, wlen);
	return same ? 0 : explain(rp, i, body, len, 0);
}

int
replay_entry(struct replay *rp, uint64_t i, const char *body, size_t len,
    char *err, size_t errlen)
{
	struct canon_member m[MAX_MEMBERS];
	const struct canon_member *t, *r;
	const char *want = NULL;
	size_t n, wlen = 0;
	int rc;

	rp->err = err;
	rp->errlen = errlen;
	rp->new_report = 0;
	rp->noted = 0;
	if (rp->pending != NULL && rp->next < settle_result_count(rp->pending))
		want = settle_result_entry(rp->pending, rp->next, &wlen);
	/* The daemon's own entries: the next one expected, byte for byte. */
	if (want != NULL && rp->mode == REPLAY_DAEMON && wlen == len &&
	    memcmp(want, body, len) == 0) {
		rp->next++;
		rp->counts.derived++;
		rc = 0;
	} else if (canon_members(body, len, 0, m, MAX_MEMBERS, &n) < 0 ||
	    (t = canon_member_get(m, n, "type")) == NULL ||
	    !canon_plain_string(t->val, t->vlen))
		rc = slow_entry(rp, i, body, len);
	else if ((t->vlen == 12 && memcmp(t->val, "\"settlement\"", 12) == 0) ||
	    (t->vlen == 12 && memcmp(t->val, "\"adjustment\"", 12) == 0) ||
	    (t->vlen == 9 && memcmp(t->val, "\"dispute\"", 9) == 0)) {
		if (want == NULL)
			rc = slow_entry(rp, i, body, len);	/* "extra" */
		else if ((rp->mode == REPLAY_AUDIT && same_bytes(rp, m, n, 0,
		    want, wlen)) || (rc = explain(rp, i, body, len,
		    rp->next)) == 0) {
			rp->next++;
			rp->counts.derived++;
			rc = 0;
		}
	} else if (t->vlen == 8 && memcmp(t->val, "\"report\"", 8) == 0 &&
	    rp->engine != NULL && (r = canon_member_get(m, n, "report")) != NULL)
		rc = fast_report(rp, i, body, len, m, n, r);
	else
		rc = slow_entry(rp, i, body, len);
	rp->err = NULL;
	return rc;
}

int
replay_end(struct replay *rp, uint64_t next, char *err, size_t errlen)
{
	int rc;

	rp->err = err;
	rp->errlen = errlen;
	rc = check_nothing_pending(rp, next);
	rp->err = NULL;
	return rc;
}

int
replay_form(struct replay *rp, uint64_t i, const char *body, size_t len,
    char *err, size_t errlen)
{
	json_t *e;

	rp->err = err;
	rp->errlen = errlen;
	e = parse_canonical(rp, i, FORM, body, len);
	rp->err = NULL;
	json_decref(e);
	return e != NULL ? 0 : -1;
}

int
replay_failure(const struct replay *rp, uint64_t *rank, const char **why)
{
	if (!rp->failed)
		return -1;
	*rank = rp->fail_rank;
	*why = rp->why;
	return 0;
}

int
replay_noted(const struct replay *rp, uint64_t index, const char **status,
    size_t *count)
{
	if (!rp->noted || rp->noted_at != index)
		return -1;
	*status = rp->noted_status;
	*count = rp->noted_count;
	return 0;
}

const struct settle_result *
replay_get0_report(const struct replay *rp, uint64_t *index)
{
	if (!rp->new_report)
		return NULL;
	*index = rp->report_at;
	return rp->pending;
}

void
replay_counts(const struct replay *rp, struct replay_counts *c)
{
	*c = rp->counts;
}

int
replay_finish(struct replay *rp, char *err, size_t errlen)
{
	if (rp->pending != NULL && rp->next < settle_result_count(rp->pending)) {
		snprintf(err, errlen, "the ledger ends inside the entries of "
		    "the report at %" PRIu64, rp->report_at);
		return -1;
	}
	return 0;
}
