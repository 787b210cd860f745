/*
 * settle_query: what the daemon reads of the engine: a period's state and
 * status, the counts for metrics, and the year statements of SPEC §5a with
 * their approvals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/fnv.h"
#include "shanhai/money.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"
#include "shanhai/textbuf.h"
#include "settle_impl.h"

/* --- results and queries ------------------------------------------------------- */

const char *settle_result_hash(const struct settle_result *res) { return res->hash; }
const char *settle_result_agreement(const struct settle_result *res) { return res->agreement; }
const char *settle_result_period(const struct settle_result *res) { return res->period; }
const char *settle_result_role(const struct settle_result *res) { return res->role; }
const char *settle_result_report_id(const struct settle_result *res) { return res->report_id; }
enum settle_status settle_result_status(const struct settle_result *res) { return res->st; }
uint64_t settle_result_first_index(const struct settle_result *res) { return res->first_index; }

const char *
settle_result_status_text(const struct settle_result *res)
{
	return res->status_text != NULL ? res->status_text :
	    settle_status_name(res->st);
}
size_t settle_result_count(const struct settle_result *res) { return res->n; }

const char *
settle_result_entry(const struct settle_result *res, size_t i, size_t *lenp)
{
	if (i >= res->n)
		return NULL;
	if (lenp != NULL)
		*lenp = res->lens[i];
	return res->entries[i];
}

const char *
settle_result_entry_period(const struct settle_result *res, size_t i,
    char buf[RULES_PERIOD_BUFSZ])
{
	if (i >= res->n)
		return NULL;
	return rules_period_format(res->cadence, res->eperiod[i], buf);
}

json_t *
settle_result_get0_json(const struct settle_result *res, size_t i)
{
	struct settle_result *mres = (struct settle_result *)res;

	if (i >= res->n)
		return NULL;
	/* Built on first use: most callers only store the canonical bytes. */
	if (mres->json[i] == NULL)
		mres->json[i] = json_loadb(res->entries[i], res->lens[i], 0, NULL);
	return mres->json[i];
}

const char *
settle_status_name(enum settle_status st)
{
	switch (st) {
	case SETTLE_SETTLED:
		return "settled";
	case SETTLE_DISPUTED:
		return "disputed";
	case SETTLE_NONE:
	case SETTLE_WAITING:
		break;
	}
	return "waiting";
}

static struct agr *
lookup_period(const struct settle *s, const char *agreement, const char *period,
    int32_t *p, char *err, size_t errlen)
{
	struct agr *a = eng_find_agr(s, agreement);

	if (a == NULL || !a->active) {
		seterr(err, errlen, "agreement: \"%.64s\" is not a loaded "
		    "agreement", agreement);
		return NULL;
	}
	if (rules_period_parse(a->r->cadence, period, p) == -1 ||
	    *p < a->r->start || *p > a->r->end) {
		seterr(err, errlen, "period: \"%.16s\" is not a period of %s",
		    period, a->id);
		return NULL;
	}
	return a;
}

int
settle_period_load(struct settle *s, const char *agreement,
    const char *period, char *err, size_t errlen)
{
	int32_t p;
	struct agr *a = lookup_period(s, agreement, period, &p, err,
	    errlen);
	struct year *yr;

	if (a == NULL || (yr = eng_year_find(a, p / eng_per_year(a))) == NULL)
		return 0;
	return eng_year_load(s, a, yr, err, errlen);
}

enum settle_status
settle_period_status(const struct settle *s, const char *agreement,
    const char *period)
{
	char err[256];
	int32_t p;
	const struct agr *a = lookup_period(s, agreement, period, &p, err,
	    sizeof(err));

	const struct year *yr;

	if (a == NULL || (yr = eng_year_find(a, p / eng_per_year(a))) == NULL)
		return SETTLE_NONE;
	return (enum settle_status)(yr->status >> 2 * (p - yr->y *
	    eng_per_year(a)) & 3);
}

int
settle_status_counts(const struct settle *s, const char *agreement,
    size_t counts[SETTLE_DISPUTED + 1])
{
	const struct agr *a = eng_find_agr(s, agreement);

	if (a == NULL || !a->active)
		return -1;
	memset(counts, 0, (SETTLE_DISPUTED + 1) * sizeof(counts[0]));
	for (size_t i = 0; i < a->nyears; i++)
		for (int k = 0; k < eng_per_year(a); k++)
			if (a->years[i].status >> 2 * k & 3)
				counts[a->years[i].status >> 2 * k & 3]++;
	return 0;
}

json_t *
settle_period_json(struct settle *s, const char *agreement,
    const char *period, char *err, size_t errlen)
{
	struct agr *a;
	const struct period *pe;
	struct year *yr;
	char pb[RULES_PERIOD_BUFSZ], tb[RULES_PERIOD_BUFSZ], hx[HEXBUF];
	struct seg sg;
	json_t *o, *fig = json_null(), *reps = json_array();
	int32_t p;

	if ((a = lookup_period(s, agreement, period, &p, err, errlen)) == NULL) {
		json_decref(reps);
		return NULL;
	}
	if ((yr = eng_year_find(a, p / eng_per_year(a))) != NULL &&
	    eng_year_load(s, a, yr, err, errlen) == -1) {
		json_decref(reps);
		return NULL;
	}
	pe = eng_year_period(a, yr, p);
	eng_seg_of(a->r, p, &sg);
	if (pe != NULL && pe->settled) {
		struct textbuf b = TEXTBUF_INIT;

		/* The figures as a settlement-shaped object, parsed back. */
		textbuf_puts(&b, "{");
		eng_sb_values(&b, a, pe->cur, 0);
		textbuf_puts(&b, ",");
		eng_sb_values(&b, a, pe->cur, 1);
		textbuf_puts(&b, ",");
		eng_sb_values(&b, a, pe->cur, 2);
		textbuf_puts(&b, "}");
		if (!b.failed) {
			json_decref(fig);
			fig = json_loadb(b.p, b.len, 0, NULL);
		}
		free(b.p);
	}
	if (pe != NULL && pe->has_eff)
		for (int i = 0; i < pe->neff; i++)
			json_array_append_new(reps, json_string(eng_bin_to_hex(
			    pe->eff_hash[i], hx)));
	o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o*,s:o*}",
	    "agreement", a->id,
	    "period", rules_period_format(a->r->cadence, p, pb),
	    "status", settle_status_name(eng_period_status(a, pe)),
	    "term", rules_period_format(a->r->cadence, sg.t->from, tb),
	    "figures", fig ? fig : json_null(),
	    "reports", reps,
	    "host_report", pe && pe->has[ROLE_HOST] ?
	    json_string(eng_bin_to_hex(pe->hash[ROLE_HOST], hx)) : json_null(),
	    "home_report", pe && pe->has[ROLE_HOME] ?
	    json_string(eng_bin_to_hex(pe->hash[ROLE_HOME], hx)) : json_null());
	if (o == NULL)
		seterr(err, errlen, "out of memory");
	eng_close_years(s, a);
	return o;
}

int
settle_broken(const struct settle *s)
{
	return s->broken;
}

/* --- year statements and approvals (SPEC §5a) ------------------------------------ */

static const char *const year_status_names[] = {
	[SETTLE_YEAR_INCOMPLETE] = "incomplete",
	[SETTLE_YEAR_PENDING] = "pending",
	[SETTLE_YEAR_APPROVED] = "approved",
	[SETTLE_YEAR_CHANGED] = "changed",
};

const char *
settle_year_status_name(enum settle_year_status st)
{
	return year_status_names[st];
}

/* "YYYY" to a year; -1 when it is not one. */
static int
parse_year(const char *s, int32_t *y)
{
	if (s == NULL || strlen(s) != 4)
		return -1;
	*y = 0;
	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*y = *y * 10 + (s[i] - '0');
	}
	return 0;
}

/* The agreement in force and year y of it, or NULL (err, *code 404). */
static struct agr *
lookup_year(struct settle *s, const char *agreement, const char *year,
    int32_t *y, int *code, char *err, size_t errlen)
{
	struct agr *a = eng_find_agr(s, agreement);
	int per;

	*code = SETTLE_NOTFOUND;
	if (a == NULL || !a->active) {
		seterr(err, errlen, "agreement: \"%.64s\" is not a loaded "
		    "agreement", agreement);
		return NULL;
	}
	per = eng_per_year(a);
	if (parse_year(year, y) == -1 || (*y + 1) * per - 1 < a->r->start ||
	    *y * per > a->r->end) {
		seterr(err, errlen, "year: \"%.16s\" is not a fiscal year of %s",
		    year, a->id);
		return NULL;
	}
	return a;
}

/* Adds v to *sum; -1 on overflow. */
static int
sum_into(int64_t *sum, int64_t v)
{
	return money_add(*sum, v, sum);
}

static json_t *
jfen(int64_t v)
{
	char buf[MONEY_BUFSZ];

	return json_string(money_format(v, buf));
}

/* The values v (nvals of them) as the statement's object of one row. */
static json_t *
values_json(const struct agr *a, const int64_t *v)
{
	const struct rules *r = a->r;
	json_t *o = json_object(), *bn = json_object(), *st = json_object();

	json_object_set_new(o, "base", jfen(v[V_BASE]));
	json_object_set_new(o, "home", jfen(v[V_HOME]));
	json_object_set_new(o, "host", jfen(v[V_HOST]));
	json_object_set_new(o, "floor_topup", jfen(v[V_TOPUP]));
	for (size_t i = 0; i < r->nbenefs; i++)
		json_object_set_new(bn, r->benefs[i].id, jfen(v[V_BEN + i]));
	for (size_t i = 0; i < r->nstats; i++) {
		size_t k = eng_v_stat_home(a, i);

		json_object_set_new(st, r->stats[i].code, json_pack("{s:o,s:o}",
		    "home", jfen(v[k]), "host", jfen(v[k + 1])));
	}
	json_object_set_new(o, "beneficiaries", bn);
	json_object_set_new(o, "statistics", st);
	return o;
}

/*
 * The statement of year y of a (SPEC §5a) as canonical bytes (malloc'd) and
 * their hash: 1; 0 when some planned period of the year has not settled
 * (nothing set); -1 with the reason in err. Reads a paged year back.
 */
static int
year_statement(struct settle *s, struct agr *a, int32_t y, char **bytes,
    size_t *len, char hash[HEXBUF], char *err, size_t errlen)
{
	const struct rules *r = a->r;
	int per = eng_per_year(a);
	int32_t first = y * per, last = first + per - 1;
	struct year *yr = eng_year_find(a, y);
	int64_t *tot = NULL;
	json_t *doc = NULL, *rows;
	char pb[RULES_PERIOD_BUFSZ], yb[8];
	int rc = -1;

	if (first < r->start)
		first = r->start;
	if (last > r->end)
		last = r->end;
	if (yr == NULL || !eng_year_complete(a, yr))
		return 0;
	if (eng_year_load(s, a, yr, err, errlen) == -1)
		return -1;
	if ((tot = calloc(a->nvals, sizeof(*tot))) == NULL ||
	    (rows = json_array()) == NULL)
		goto oom;
	snprintf(yb, sizeof(yb), "%04d", (int)y);
	doc = json_pack("{s:s,s:s,s:s,s:s,s:o}", "agreement", a->id, "year", yb,
	    "home", r->home, "host", r->host, "periods", rows);
	if (doc == NULL)
		goto oom;
	for (int32_t p = first; p <= last; p++) {
		const struct period *pe = eng_year_period(a, yr, p);
		struct seg sg;
		json_t *row;

		if (pe == NULL || !pe->settled || pe->cur == NULL) {
			seterr(err, errlen, "period %s settled but has no values",
			    rules_period_format(r->cadence, p, pb));
			goto out;
		}
		eng_seg_of(r, p, &sg);
		if ((row = values_json(a, pe->cur)) == NULL)
			goto oom;
		json_object_set_new(row, "period", json_string(
		    rules_period_format(r->cadence, p, pb)));
		json_object_set_new(row, "term", json_string(
		    rules_period_format(r->cadence, sg.t->from, pb)));
		json_array_append_new(rows, row);
		for (size_t k = 0; k < a->nvals; k++)
			if (sum_into(&tot[k], pe->cur[k]) == -1) {
				seterr(err, errlen, "the year's totals overflow");
				goto out;
			}
	}
	json_object_set_new(doc, "total", values_json(a, tot));
	if ((*bytes = canon_dump(doc, len, err, errlen)) == NULL)
		goto out;
	canon_sha256_hex(*bytes, *len, hash);
	rc = 1;
	goto out;
oom:
	seterr(err, errlen, "out of memory");
out:
	json_decref(doc);
	free(tot);
	eng_close_years(s, a);
	return rc;
}

static enum settle_year_status
year_status(const struct agr *a, int32_t y, int complete,
    const unsigned char *cur)
{
	const struct yappr *ya = eng_year_apprs(a, y);
	int changed = 0, both = 1;

	if (!complete)
		return SETTLE_YEAR_INCOMPLETE;
	for (int role = 0; role < 2; role++) {
		const struct approval *ap = ya != NULL ? &ya->v[role] : NULL;

		if (ap == NULL || !ap->has)
			both = 0;
		else if (memcmp(ap->hash, cur, 32) != 0)
			changed = 1, both = 0;
	}
	if (changed)
		return SETTLE_YEAR_CHANGED;
	return both ? SETTLE_YEAR_APPROVED : SETTLE_YEAR_PENDING;
}

json_t *
settle_year_json(struct settle *s, const char *agreement, const char *year,
    int *code, char *err, size_t errlen)
{
	char hash[HEXBUF], hx[HEXBUF];
	unsigned char bin[32];
	struct agr *a;
	const struct yappr *ya;
	json_t *doc, *stmt = json_null(), *appr;
	char *bytes = NULL;
	size_t len;
	int32_t y;
	int rc;

	if ((a = lookup_year(s, agreement, year, &y, code, err, errlen)) == NULL)
		return NULL;
	*code = SETTLE_UNAVAILABLE;
	if ((rc = year_statement(s, a, y, &bytes, &len, hash, err,
	    errlen)) == -1)
		return NULL;
	if (rc == 1) {
		json_decref(stmt);
		stmt = json_loadb(bytes, len, 0, NULL);
		free(bytes);
		if (stmt == NULL) {
			seterr(err, errlen, "out of memory");
			return NULL;
		}
		eng_hex_to_bin(hash, bin);
	}
	ya = eng_year_apprs(a, y);
	appr = json_object();
	for (int role = 0; role < 2; role++) {
		const struct approval *ap = ya != NULL ? &ya->v[role] : NULL;
		json_t *v = json_null();

		if (ap != NULL && ap->has)
			v = json_pack("{s:I,s:s,s:s}", "index",
			    (json_int_t)ap->index, "statement",
			    eng_bin_to_hex(ap->hash, hx), "time", ap->time);
		json_object_set_new(appr, role == ROLE_HOST ? "host" : "home",
		    v);
	}
	doc = json_pack("{s:o,s:o,s:s,s:o}", "statement", stmt,
	    "sha256", rc == 1 ? json_string(hash) : json_null(),
	    "status", settle_year_status_name(year_status(a, y, rc == 1, bin)),
	    "approvals", appr);
	if (doc == NULL) {
		*code = SETTLE_UNAVAILABLE;
		seterr(err, errlen, "out of memory");
	}
	return doc;
}

/* The role a submitter speaking for sides approves as, or -1 (err). */
static int
approval_role(const struct agr *a, const char *role,
    const char *const *sides, size_t nsides, int *code, char *err,
    size_t errlen)
{
	int speaks[2] = { sides == NULL, sides == NULL };

	for (size_t i = 0; sides != NULL && i < nsides; i++) {
		if (strcmp(sides[i], a->r->host) == 0)
			speaks[ROLE_HOST] = 1;
		if (strcmp(sides[i], a->r->home) == 0)
			speaks[ROLE_HOME] = 1;
	}
	if (role != NULL) {
		int want = strcmp(role, "host") == 0 ? ROLE_HOST :
		    strcmp(role, "home") == 0 ? ROLE_HOME : -1;

		if (want == -1) {
			*code = SETTLE_INVALID;
			return seterr(err, errlen, "role: \"%.16s\" is not host "
			    "or home", role);
		}
		if (!speaks[want]) {
			*code = SETTLE_FORBIDDEN;
			return seterr(err, errlen, "role: this client does not "
			    "speak for the %s side of %s", role, a->id);
		}
		return want;
	}
	if (speaks[ROLE_HOST] && speaks[ROLE_HOME]) {
		*code = SETTLE_INVALID;
		return seterr(err, errlen, "role: this client speaks for both "
		    "sides of %s; say which with \"role\"", a->id);
	}
	if (!speaks[ROLE_HOST] && !speaks[ROLE_HOME]) {
		*code = SETTLE_FORBIDDEN;
		return seterr(err, errlen, "this client is not a bureau of "
		    "either side of %s", a->id);
	}
	return speaks[ROLE_HOST] ? ROLE_HOST : ROLE_HOME;
}

int
settle_approve(struct settle *s, const char *agreement, const char *year,
    const char *body, size_t len, const char *const *sides, size_t nsides,
    const char *time, const char *submitter, uint64_t index,
    struct settle_result **resp, char *err, size_t errlen)
{
	struct settle_result *res = NULL;
	const char *want, *rolename = NULL;
	char hash[HEXBUF], *bytes = NULL, yb[8];
	unsigned char bin[32];
	struct approval *ap;
	size_t blen;
	struct textbuf b = TEXTBUF_INIT;
	struct agr *a;
	struct yappr *ya;
	json_t *o;
	int32_t y;
	int code, role, rc;

	*resp = NULL;
	if (s->broken)
		return seterr(err, errlen, "%s", eng_broken_msg), SETTLE_UNAVAILABLE;
	if ((a = lookup_year(s, agreement, year, &y, &code, err, errlen)) == NULL)
		return code;
	if ((o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		seterr(err, errlen, "not a JSON object");
		return SETTLE_BADJSON;
	}
	{
		const char *key;
		json_t *v;

		json_object_foreach(o, key, v) {
			if (strcmp(key, "statement") != 0 &&
			    strcmp(key, "role") != 0) {
				seterr(err, errlen, "%.32s: unknown field (an "
				    "approval has \"statement\" and, for a "
				    "bureau of both sides, \"role\")", key);
				json_decref(o);
				return SETTLE_INVALID;
			}
		}
	}
	want = json_string_value(json_object_get(o, "statement"));
	if (json_object_get(o, "role") != NULL &&
	    (rolename = json_string_value(json_object_get(o, "role"))) ==
	    NULL) {
		json_decref(o);
		seterr(err, errlen, "role: must be a string");
		return SETTLE_INVALID;
	}
	if (want == NULL || strlen(want) != 64 ||
	    strspn(want, "0123456789abcdef") != 64) {
		json_decref(o);
		seterr(err, errlen, "statement: must be the statement's SHA-256, "
		    "64 lowercase hex digits");
		return SETTLE_INVALID;
	}
	if ((role = approval_role(a, rolename, sides, nsides, &code, err,
	    errlen)) == -1) {
		json_decref(o);
		return code;
	}
	if ((rc = year_statement(s, a, y, &bytes, &blen, hash, err,
	    errlen)) == -1) {
		json_decref(o);
		return SETTLE_UNAVAILABLE;
	}
	free(bytes);
	if (rc == 0) {
		json_decref(o);
		seterr(err, errlen, "year %s of %s is incomplete: not every "
		    "period of it has settled, so there is no statement to "
		    "approve", year, a->id);
		return SETTLE_CONFLICT;
	}
	eng_hex_to_bin(want, bin);
	if (strcmp(want, hash) != 0) {
		seterr(err, errlen, "statement: %s is not the current statement "
		    "of %s %s, which is %s", want, a->id, year, hash);
		json_decref(o);
		return SETTLE_CONFLICT;
	}
	snprintf(yb, sizeof(yb), "%04d", (int)y);
	if ((res = eng_result_new(a, y * eng_per_year(a), role, hash, "")) == NULL)
		goto oom;
	snprintf(res->period, sizeof(res->period), "%s", yb);
	ya = eng_year_apprs(a, y);
	ap = ya != NULL ? &ya->v[role] : NULL;
	if (ap != NULL && ap->has && memcmp(ap->hash, bin, 32) == 0) {
		/* The same approval again: nothing is written. */
		res->first_index = ap->index;
		res->status_text = settle_year_status_name(year_status(a, y, 1,
		    bin));
		json_decref(o);
		*resp = res;
		return SETTLE_DUPLICATE;
	}
	/* Approved years only: the rest cost nothing. */
	if ((ya = eng_year_apprs_add(a, y)) == NULL)
		goto oom;
	ap = &ya->v[role];
	textbuf_puts(&b, "{");
	eng_sb_kv(&b, "agreement", a->id);
	textbuf_puts(&b, ",");
	eng_sb_kv(&b, "role", role == ROLE_HOST ? "host" : "home");
	textbuf_puts(&b, ",");
	eng_sb_kv(&b, "statement", hash);
	if (submitter != NULL) {
		textbuf_puts(&b, ",");
		eng_sb_kv(&b, "submitter", submitter);
	}
	if (time != NULL) {
		textbuf_puts(&b, ",");
		eng_sb_kv(&b, "time", time);
	}
	textbuf_puts(&b, ",");
	eng_sb_kv(&b, "type", "approval");
	textbuf_puts(&b, ",");
	eng_sb_kv(&b, "year", yb);
	textbuf_puts(&b, "}");
	if (eng_result_add(res, &b, y * eng_per_year(a)) == -1)
		goto oom;
	ap->has = 1;
	memcpy(ap->hash, bin, 32);
	ap->index = index;
	snprintf(ap->time, sizeof(ap->time), "%s", time != NULL ? time : "");
	res->first_index = index;
	res->status_text = settle_year_status_name(year_status(a, y, 1, bin));
	json_decref(o);
	*resp = res;
	return SETTLE_ACCEPTED;
oom:
	json_decref(o);
	settle_result_free(res);
	seterr(err, errlen, "out of memory");
	return SETTLE_UNAVAILABLE;
}

int
settle_approval_replay(struct settle *s, const char *entry, size_t len,
    uint64_t index, const char **status, char *err, size_t errlen)
{
	struct settle_result *res = NULL;
	const char *agreement, *year, *role, *hash, *time, *submitter, *got;
	char body[160], msg[512];
	size_t glen;
	json_t *e;
	int code;

	if ((e = json_loadb(entry, len, 0, NULL)) == NULL)
		return seterr(err, errlen, "approval entry: not JSON");
	agreement = json_string_value(json_object_get(e, "agreement"));
	year = json_string_value(json_object_get(e, "year"));
	role = json_string_value(json_object_get(e, "role"));
	hash = json_string_value(json_object_get(e, "statement"));
	time = json_string_value(json_object_get(e, "time"));
	submitter = json_string_value(json_object_get(e, "submitter"));
	if (agreement == NULL || year == NULL || role == NULL || hash == NULL ||
	    strlen(hash) > 64 || strlen(role) > 8) {
		json_decref(e);
		return seterr(err, errlen, "approval entry without agreement, "
		    "year, role or statement");
	}
	snprintf(body, sizeof(body), "{\"statement\":\"%s\",\"role\":\"%s\"}",
	    hash, role);
	code = settle_approve(s, agreement, year, body, strlen(body), NULL, 0,
	    time, submitter, index, &res, msg, sizeof(msg));
	if (code == SETTLE_DUPLICATE) {
		seterr(err, errlen, "approval entry repeats the %s side's "
		    "approval at entry %llu, which the daemon never writes", role,
		    (unsigned long long)settle_result_first_index(res));
		code = -1;
	} else if (code != SETTLE_ACCEPTED) {
		seterr(err, errlen, "approval of %s %s by the %s side: %s",
		    agreement, year, role, msg);
		code = -1;
	} else if ((got = settle_result_entry(res, 0, &glen)) == NULL ||
	    glen != len || memcmp(got, entry, len) != 0) {
		seterr(err, errlen, "approval entry is not as the daemon writes "
		    "it");
		code = -1;
	} else {
		if (status != NULL)
			*status = settle_result_status_text(res);
		code = 0;
	}
	settle_result_free(res);
	json_decref(e);
	return code;
}

json_t *
settle_year_detail(struct settle *s, const char *agreement, const char *year,
    int *code, char *err, size_t errlen)
{
	char pb[RULES_PERIOD_BUFSZ];
	struct agr *a;
	struct year *yr;
	json_t *out;
	int32_t y, first, last;
	int per;

	if ((a = lookup_year(s, agreement, year, &y, code, err, errlen)) == NULL)
		return NULL;
	*code = SETTLE_UNAVAILABLE;
	per = eng_per_year(a);
	first = y * per > a->r->start ? y * per : a->r->start;
	last = y * per + per - 1 < a->r->end ? y * per + per - 1 : a->r->end;
	if ((out = json_array()) == NULL)
		return seterr(err, errlen, "out of memory"), NULL;
	if ((yr = eng_year_find(a, y)) != NULL &&
	    eng_year_load(s, a, yr, err, errlen) == -1) {
		json_decref(out);
		return NULL;
	}
	for (int32_t p = first; p <= last; p++) {
		const struct period *pe = eng_year_period(a, yr, p);
		const struct rules_term *t = &a->r->terms[eng_term_index(a->r, p)];
		json_t *row, *taxes;

		if (pe == NULL || !pe->has_eff || !pe->settled)
			continue;
		taxes = json_object();
		for (size_t i = 0; i < a->r->ntaxes; i++) {
			int64_t kept = 0;

			if (money_mul_ratio(pe->eff[i], &t->taxes[i].retain,
			    &kept) == -1)
				kept = 0;	/* cannot be: the base was computed */
			json_object_set_new(taxes, t->taxes[i].code, json_pack(
			    "{s:o,s:s,s:o}", "amount", jfen(pe->eff[i]),
			    "retain", t->taxes[i].retain_text, "retained",
			    jfen(kept)));
		}
		row = json_pack("{s:s,s:o,s:o}", "period",
		    rules_period_format(a->r->cadence, p, pb), "deductions",
		    jfen(pe->eff[a->r->ntaxes]), "taxes", taxes);
		if (row == NULL || json_array_append_new(out, row) == -1) {
			json_decref(out);
			eng_close_years(s, a);
			return seterr(err, errlen, "out of memory"), NULL;
		}
	}
	eng_close_years(s, a);
	return out;
}
