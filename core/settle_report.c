/*
 * settle_report: a report's JSON read (a fast reader for the common
 * case, jansson for the rest) and validated field by field (SPEC §3).
 */
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

/* --- report validation --------------------------------------------------------- */

/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ */
static int
match_report_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (!ok && i > 0)
			ok = c == '.' || c == '_' || c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

void
eng_jarena_free(struct jarena *ar)
{
	if (ar == NULL)
		return;
	free(ar->kv);
	free(ar->text);
	free(ar);
}

static struct jkv *
jarena_take(struct jarena *ar, size_t n)
{
	/* Even for n = 0: the result must point somewhere (NULL + 0 is UB). */
	if (ar->kv == NULL || ar->n + n > ar->cap) {
		size_t cap = ar->cap ? ar->cap : 64;
		struct jkv *nk;

		while (ar->n + n > cap)
			cap *= 2;
		/* Pointers into kv are taken only after all of it is taken. */
		if ((nk = realloc(ar->kv, cap * sizeof(*nk))) == NULL)
			return NULL;
		ar->kv = nk;
		ar->cap = cap;
	}
	ar->n += n;
	return ar->kv + ar->n - n;
}

/*
 * A member's key or value (plain: canon's scanner found it a string of
 * printable ASCII without escapes): 0 and its text, NUL-terminated in
 * place (the reader's own copy), or -1.
 */
static int
fast_str(const char *span, size_t len, int plain, const char **s,
    size_t *slen)
{
	if (!plain)
		return -1;
	((char *)span)[len - 1] = '\0';
	*s = span + 1;
	*slen = len - 2;
	return 0;
}

/* A member's key (canon_members() gives it without its quotes). */
static int
fast_key(const struct canon_member *m, struct jkv *kv)
{
	return fast_str(m->key - 1, m->klen + 2, m->kplain, &kv->k, &kv->klen);
}

static int
fast_dupes(const struct jkv *kv, size_t n)
{
	if (n > 64)
		return 1;	/* leave big objects to jansson */
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (kv[i].klen == kv[j].klen &&
			    memcmp(kv[i].k, kv[j].k, kv[i].klen) == 0)
				return 1;
	return 0;
}

/*
 * The members of an object value, all strings, from the scanner's sub
 * into consecutive arena slots from *first; -1 for anything else
 * (jansson's case).
 */
static int
fast_obj(struct jarena *ar, const struct canon_member *m, size_t n,
    size_t *first)
{
	struct jkv *kv;

	*first = ar->n;
	if ((kv = jarena_take(ar, n)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		memset(&kv[i], 0, sizeof(kv[i]));
		kv[i].v.type = JV_STR;
		if (fast_key(&m[i], &kv[i]) < 0 ||
		    fast_str(m[i].val, m[i].vlen, m[i].vplain, &kv[i].v.s,
		    &kv[i].v.len) < 0)
			return -1;
	}
	return fast_dupes(kv, n) ? -1 : 0;
}

/*
 * The fast reader: 0 and the tree in *top, or -1 to hand over to jansson.
 * canon's member scanner splits the report (at most 8 top-level members
 * are valid) and the objects in it, in one pass; only strings of
 * printable ASCII without escapes, and objects of such strings, are
 * taken. Nested members go to the arena first, the top level after them.
 */
int
eng_fast_read(struct jarena *ar, const char *buf, size_t len, struct jv *top)
{
	struct canon_member m[8], sub[64];
	struct jkv tops[8];
	size_t ntop, nsub, nf;

	ar->n = 0;
	if (len + 1 > ar->textcap) {
		char *t = realloc(ar->text, len + 1);

		if (t == NULL)
			return -1;
		ar->text = t;
		ar->textcap = len + 1;
	}
	memcpy(ar->text, buf, len);
	ar->text[len] = '\0';
	if (canon_members_deep(ar->text, len, CANON_SCAN_WS | CANON_SCAN_PLAIN,
	    m, 8, &ntop, sub, 64, &nsub) < 0)
		return -1;
	for (size_t i = 0; i < ntop; i++) {
		struct jkv *kv = &tops[i];

		memset(kv, 0, sizeof(*kv));
		if (fast_key(&m[i], kv) < 0)
			return -1;
		if (m[i].val[0] == '"') {
			kv->v.type = JV_STR;
			if (fast_str(m[i].val, m[i].vlen, m[i].vplain,
			    &kv->v.s, &kv->v.len) < 0)
				return -1;
		} else if (m[i].val[0] == '{') {
			kv->v.type = JV_OBJ;
			if (fast_obj(ar, sub + m[i].sub, m[i].nsub, &nf) < 0)
				return -1;
			kv->v.n = m[i].nsub;
			kv->v.len = nf;	/* arena index until fixed up below */
		} else
			return -1;
	}
	if (fast_dupes(tops, ntop))
		return -1;
	{
		struct jkv *t = jarena_take(ar, ntop);

		if (t == NULL)
			return -1;
		memcpy(t, tops, ntop * sizeof(*t));
		for (size_t i = 0; i < ntop; i++)
			if (t[i].v.type == JV_OBJ) {
				t[i].v.kv = ar->kv + t[i].v.len;
				t[i].v.len = 0;
			}
		memset(top, 0, sizeof(*top));
		top->type = JV_OBJ;
		top->kv = t;
		top->n = ntop;
	}
	return 0;
}

static void
jv_from_json(struct jv *v, const json_t *j)
{
	memset(v, 0, sizeof(*v));
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->type = JV_STR;
		v->s = json_string_value(j);
		v->len = json_string_length(j);
		v->nul = strlen(v->s) != v->len;
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		v->type = JV_NUM;
		break;
	case JSON_OBJECT:
		v->type = JV_OBJ;
		break;
	default:
		v->type = JV_OTHER;
		break;
	}
}

/* The slow reader: the tree of a jansson object (two levels). */
int
eng_json_read(struct jarena *ar, const json_t *o, struct jv *top)
{
	size_t n = json_object_size(o), total = n, k = 0;
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)o, key, val)
		if (json_is_object(val))
			total += json_object_size(val);
	ar->n = 0;
	if (jarena_take(ar, total) == NULL)
		return -1;
	memset(top, 0, sizeof(*top));
	top->type = JV_OBJ;
	top->kv = ar->kv;
	top->n = n;
	json_object_foreach((json_t *)o, key, val) {
		struct jkv *kv = &ar->kv[k++];

		kv->k = key;
		kv->klen = strlen(key);
		jv_from_json(&kv->v, val);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *sub = json_object_get(o, ar->kv[i].k);
		const char *k2;
		json_t *v2;

		if (!json_is_object(sub))
			continue;
		ar->kv[i].v.kv = ar->kv + k;
		ar->kv[i].v.n = json_object_size(sub);
		json_object_foreach(sub, k2, v2) {
			struct jkv *kv = &ar->kv[k++];

			kv->k = k2;
			kv->klen = strlen(k2);
			jv_from_json(&kv->v, v2);
		}
	}
	return 0;
}

static int
kv_cmp(const void *x, const void *y)
{
	const struct jkv *a = x, *b = y;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->k, b->k, n);

	return c != 0 ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/*
 * Canonical form of a tree from the fast reader (printable ASCII, no
 * escapes: byte order is UTF-16 order and no character needs escaping).
 */
void
eng_fast_canon(struct textbuf *b, struct jv *o)
{
	qsort(o->kv, o->n, sizeof(*o->kv), kv_cmp);
	textbuf_add(b, "{", 1);
	for (size_t i = 0; i < o->n; i++) {
		struct jkv *kv = &o->kv[i];

		if (i > 0)
			textbuf_add(b, ",", 1);
		textbuf_add(b, "\"", 1);
		textbuf_add(b, kv->k, kv->klen);
		textbuf_add(b, "\":", 2);
		if (kv->v.type == JV_OBJ)
			eng_fast_canon(b, &kv->v);
		else {
			textbuf_add(b, "\"", 1);
			textbuf_add(b, kv->v.s, kv->v.len);
			textbuf_add(b, "\"", 1);
		}
	}
	textbuf_add(b, "}", 1);
}

/* field is "prefix.key" (or "prefix" when key is NULL), built on refusal. */
static int
get_amount(const struct jv *v, const char *prefix, const char *key,
    int64_t *fen, char *err, size_t errlen)
{
	if (v->type == JV_STR && money_parse_n(v->s, v->len, fen) == 0)
		return 0;
	if (v->type == JV_NUM)
		return seterr(err, errlen, "%s%s%.32s: JSON numbers are refused "
		    "for amounts; send a string such as \"1234.50\"", prefix,
		    key ? "." : "", key ? key : "");
	if (v->type == JV_STR) {
		char why[128];

		return seterr(err, errlen, "%s%s%.32s: \"%.32s\" is not an "
		    "amount: %s", prefix, key ? "." : "", key ? key : "",
		    v->s, money_why_n(v->s, v->len, why, sizeof(why)));
	}
	return seterr(err, errlen, "%s%s%.32s: not an amount (a string of yuan "
	    "with at most 2 decimals, such as \"1234.50\")", prefix,
	    key ? "." : "", key ? key : "");
}

static const struct jv *
get_string_field(const struct jv *v, const char *field, int required,
    char *err, size_t errlen, int *bad)
{
	*bad = 0;
	if (v == NULL) {
		if (required) {
			*bad = 1;
			seterr(err, errlen, "%s: missing", field);
		}
		return NULL;
	}
	if (v->type != JV_STR || v->nul) {
		*bad = 1;
		seterr(err, errlen, "%s: must be a string", field);
		return NULL;
	}
	return v;
}

int
eng_validate(struct settle *s, const struct jv *o, struct report *rep, char *err,
    size_t errlen)
{
	static const char *const fields[] = { "report_id", "agreement",
	    "period", "role", "taxes", "deductions", "statistics",
	    "supersedes", NULL };
	const struct jv *v;
	const char *str;
	const struct rules *r;
	char pb[RULES_PERIOD_BUFSZ];
	int bad;

	const struct jv *slot[8] = { NULL };	/* by index in fields[] */

	for (size_t k = 0; k < o->n; k++) {
		size_t f;

		for (f = 0; fields[f] != NULL; f++)
			if (strcmp(fields[f], o->kv[k].k) == 0)
				break;
		if (fields[f] == NULL)
			return seterr(err, errlen, "%.64s: unknown field",
			    o->kv[k].k);
		slot[f] = &o->kv[k].v;
	}

	if ((v = get_string_field(slot[0], "report_id", 1, err, errlen, &bad)) == NULL)
		return -1;
	rep->report_id = v->s;
	if (!match_report_id(rep->report_id))
		return seterr(err, errlen, "report_id: not a report id "
		    "([A-Za-z0-9][A-Za-z0-9._-]{0,63})");
	if ((v = get_string_field(slot[1], "agreement", 1, err, errlen, &bad)) == NULL)
		return -1;
	str = v->s;
	rep->a = eng_find_agr(s, str);
	if (rep->a == NULL || !rep->a->active)
		return seterr(err, errlen, "agreement: \"%.64s\" is not a loaded "
		    "agreement", str);
	r = rep->a->r;
	if ((v = get_string_field(slot[2], "period", 1, err, errlen, &bad)) == NULL)
		return -1;
	str = v->s;
	if (rules_period_parse(r->cadence, str, &rep->p) == -1)
		return seterr(err, errlen, "period: \"%.16s\" is not a %s period "
		    "(%s)", str, rules_cadence_name(r->cadence),
		    rules_cadence_pattern(r->cadence));
	if (rep->p < r->start)
		return seterr(err, errlen, "period: %s is before the agreement's "
		    "start %s", str, rules_period_format(r->cadence, r->start,
		    pb));
	if (rep->p > r->end)
		return seterr(err, errlen, "period: %s is after the agreement's "
		    "end %s", str, rules_period_format(r->cadence, r->end, pb));
	if ((v = get_string_field(slot[3], "role", 1, err, errlen, &bad)) == NULL)
		return -1;
	str = v->s;
	if (strcmp(str, "host") == 0)
		rep->role = ROLE_HOST;
	else if (strcmp(str, "home") == 0) {
		rep->role = ROLE_HOME;
		if (!r->confirm)
			return seterr(err, errlen, "role: \"home\" reports only "
			    "where the agreement has confirm = true");
	} else
		return seterr(err, errlen, "role: must be \"host\" or \"home\"");
	memset(rep->fig, 0, rep->a->nfig * sizeof(int64_t));
	if ((v = slot[4]) == NULL)
		return seterr(err, errlen, "taxes: missing");
	if (v->type != JV_OBJ)
		return seterr(err, errlen, "taxes: must be an object");
	for (size_t k = 0; k < v->n; k++) {
		const char *key = v->kv[k].k;
		size_t i;

		for (i = 0; i < r->ntaxes; i++)
			if (strcmp(r->taxes[i].code, key) == 0)
				break;
		if (i == r->ntaxes)
			return seterr(err, errlen, "taxes.%.32s: not a tax code "
			    "of agreement %s", key, r->id);
		if (get_amount(&v->kv[k].v, "taxes", key, &rep->fig[i], err,
		    errlen) == -1)
			return -1;
	}
	if ((v = slot[5]) != NULL &&
	    get_amount(v, "deductions", NULL, &rep->fig[r->ntaxes], err,
	    errlen) == -1)
		return -1;
	if ((v = slot[6]) != NULL) {
		if (v->type != JV_OBJ)
			return seterr(err, errlen, "statistics: must be an "
			    "object");
		for (size_t k = 0; k < v->n; k++) {
			const char *key = v->kv[k].k;
			size_t i;

			for (i = 0; i < r->nstats; i++)
				if (strcmp(r->stats[i].code, key) == 0)
					break;
			if (i == r->nstats)
				return seterr(err, errlen, "statistics.%.32s: not "
				    "a statistic code of agreement %s", key,
				    r->id);
			if (get_amount(&v->kv[k].v, "statistics", key,
			    &rep->fig[r->ntaxes + 1 + i], err, errlen) == -1)
				return -1;
		}
	}
	rep->supersedes = NULL;
	v = get_string_field(slot[7], "supersedes", 0, err, errlen, &bad);
	if (bad)
		return -1;
	if (v != NULL) {
		rep->supersedes = v->s;
		if (!match_report_id(rep->supersedes))
			return seterr(err, errlen, "supersedes: not a report id "
			    "([A-Za-z0-9][A-Za-z0-9._-]{0,63})");
		if (strcmp(rep->supersedes, rep->report_id) == 0)
			return seterr(err, errlen, "supersedes: names the report "
			    "itself");
	}
	return 0;
}

/* time: RFC 3339 characters only; submitter: hex. Both go into entries raw. */
int
eng_check_meta(const char *time, const char *submitter, char *err, size_t errlen)
{
	if (time != NULL) {
		size_t n = strlen(time);

		if (n == 0 || n > 40 || strspn(time, "0123456789TZ:.+-") != n)
			return seterr(err, errlen, "time: \"%.40s\" is not an "
			    "RFC 3339 time", time);
	}
	if (submitter != NULL) {
		size_t n = strlen(submitter);

		if (n == 0 || n > 128 ||
		    strspn(submitter, "0123456789abcdef") != n)
			return seterr(err, errlen, "submitter: not a lowercase "
			    "hex fingerprint");
	}
	return 0;
}
