/*
 * rules: agreements of SPEC §4 from libconfig text, validated with every
 * refusal as "file:line: message", and the period arithmetic of §1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "shanhai/canon.h"
#include "shanhai/money.h"
#include "shanhai/rules.h"
#include "rules_impl.h"

/* Parsing context: where messages go and what they are prefixed with. */
struct ctx {
	const char	*name;
	char		*err;
	size_t		 errlen;
	char		 where[96];	/* "term 2022-07: " or "" */
};

static int __attribute__((format(printf, 3, 4)))
fail(struct ctx *c, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%d: %s%s", c->name, line, c->where,
	    msg);
	return -1;
}

static int
setting_line(const config_setting_t *s)
{
	int line = config_setting_source_line(s);

	return line > 0 ? line : 1;
}

/* --- periods ------------------------------------------------------------ */

static const struct {
	const char	*name;
	const char	*pattern;
	int		 per_year;
} cadences[] = {
	[RULES_MONTHLY] = { "monthly", "YYYY-MM", 12 },
	[RULES_QUARTERLY] = { "quarterly", "YYYY-Qn", 4 },
	[RULES_YEARLY] = { "yearly", "YYYY", 1 },
};

const char *
rules_cadence_name(enum rules_cadence c)
{
	return cadences[c].name;
}

const char *
rules_cadence_pattern(enum rules_cadence c)
{
	return cadences[c].pattern;
}

int
rules_periods_per_year(enum rules_cadence c)
{
	return cadences[c].per_year;
}

int
rules_period_parse(enum rules_cadence c, const char *s, int32_t *out)
{
	int32_t y = 0;

	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		y = y * 10 + (s[i] - '0');
	}
	if (c == RULES_YEARLY) {
		if (s[4] != '\0')
			return -1;
		*out = y;
		return 0;
	}
	if (s[4] != '-')
		return -1;
	if (c == RULES_MONTHLY) {
		int m;

		if (s[5] < '0' || s[5] > '1' || s[6] < '0' || s[6] > '9' ||
		    s[7] != '\0')
			return -1;
		m = (s[5] - '0') * 10 + (s[6] - '0');
		if (m < 1 || m > 12)
			return -1;
		*out = y * 12 + m - 1;
		return 0;
	}
	if (s[5] != 'Q' || s[6] < '1' || s[6] > '4' || s[7] != '\0')
		return -1;
	*out = y * 4 + (s[6] - '1');
	return 0;
}

char *
rules_period_format(enum rules_cadence c, int32_t p, char *buf)
{
	int per = rules_periods_per_year(c);
	int32_t y = p / per, i = p % per + 1;

	if (p < 0 || y > 9999) {
		snprintf(buf, RULES_PERIOD_BUFSZ, "?");
		return buf;
	}
	/* No printf: this runs for every entry written. */
	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	switch (c) {
	case RULES_MONTHLY:
		buf[4] = '-';
		buf[5] = (char)('0' + i / 10);
		buf[6] = (char)('0' + i % 10);
		buf[7] = '\0';
		break;
	case RULES_QUARTERLY:
		buf[4] = '-';
		buf[5] = 'Q';
		buf[6] = (char)('0' + i);
		buf[7] = '\0';
		break;
	case RULES_YEARLY:
		buf[4] = '\0';
		break;
	}
	return buf;
}

int32_t
rules_period_year(enum rules_cadence c, int32_t p)
{
	return p / rules_periods_per_year(c);
}

int
rules_period_months(enum rules_cadence c)
{
	return 12 / rules_periods_per_year(c);
}

/* --- value checks ------------------------------------------------------- */

static int
match_id(const char *s, size_t maxlen, int upper)
{
	size_t n = strlen(s);

	if (n == 0 || n > maxlen)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (upper && ch >= 'A' && ch <= 'Z');

		if (!ok && i > 0)
			ok = ch == '.' || ch == '_' || ch == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

/* ^[a-z][a-z0-9_]{0,31}$ */
static int
match_code(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
match_side(const char *s)
{
	if (strlen(s) != 6)
		return 0;
	for (int i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* --- libconfig access ----------------------------------------------------- */

static int
check_keys(struct ctx *c, const config_setting_t *g, const char *const *keys)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const char *name = config_setting_name(s);
		int known = 0;

		for (const char *const *k = keys; *k != NULL; k++)
			if (name != NULL && strcmp(name, *k) == 0)
				known = 1;
		if (!known)
			return fail(c, setting_line(s), "unknown key \"%s\"",
			    name ? name : "?");
	}
	return 0;
}

/*
 * The string value of key in group g: 1 found, 0 absent (an error when
 * required), -1 refused.
 */
static int
get_str(struct ctx *c, const config_setting_t *g, const char *key,
    int required, const char **out, int *line)
{
	config_setting_t *s = config_setting_get_member(g, key);

	if (s == NULL) {
		if (required)
			return fail(c, setting_line(g), "missing key \"%s\"",
			    key);
		return 0;
	}
	*line = setting_line(s);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(c, *line, "%s: must be a string", key);
	*out = config_setting_get_string(s);
	return 1;
}

static int
get_amount(struct ctx *c, const config_setting_t *g, const char *key,
    int required, int64_t *fen, int *line)
{
	const char *v = NULL;
	char why[128];
	int rc = get_str(c, g, key, required, &v, line);

	if (rc != 1)
		return rc;
	if (money_parse(v, fen) == -1)
		return fail(c, *line, "%s: \"%s\" is not an amount: %s", key, v,
		    money_why_n(v, strlen(v), why, sizeof(why)));
	if (*fen < 0)
		return fail(c, *line, "%s: \"%s\" must not be negative", key, v);
	return 1;
}

static int
get_ratio(struct ctx *c, const config_setting_t *g, const char *key,
    int required, struct money_ratio *r, char *text, int *line)
{
	const char *v = NULL;
	char why[128];
	int rc = get_str(c, g, key, required, &v, line);

	if (rc != 1)
		return rc;
	if (money_ratio_parse(v, r) == -1)
		return fail(c, *line, "%s: \"%s\" is not a ratio: %s (\"12.5%%\" "
		    "or \"a/b\", from 0 to 1)", key, v, money_ratio_why(v, why,
		    sizeof(why)));
	snprintf(text, RULES_RATIO_BUFSZ, "%s", v);
	return 1;
}

static int
get_period(struct ctx *c, const struct rules *r, const config_setting_t *g,
    const char *key, int required, int32_t *p, int *line)
{
	const char *v = NULL;
	int rc = get_str(c, g, key, required, &v, line);

	if (rc != 1)
		return rc;
	if (rules_period_parse(r->cadence, v, p) == -1)
		return fail(c, *line, "%s: \"%s\" is not a %s period (%s)", key,
		    v, rules_cadence_name(r->cadence),
		    rules_cadence_pattern(r->cadence));
	return 1;
}

/* A list of groups (or absent, when not required): its length, or -1. */
static int
get_list(struct ctx *c, const config_setting_t *root, const char *key,
    int required, config_setting_t **out)
{
	config_setting_t *s = config_setting_get_member(root, key);
	int n;

	*out = s;
	if (s == NULL) {
		if (required)
			return fail(c, 1, "missing key \"%s\"", key);
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(c, setting_line(s), "%s: must be a list ( { … }, … )",
		    key);
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);

		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(c, setting_line(e), "%s: element %d must be "
			    "a group { … }", key, i + 1);
	}
	return n;
}

/* --- sections ------------------------------------------------------------- */

static int
parse_taxes(struct ctx *c, struct rules *r, config_setting_t *root)
{
	static const char *const keys[] = { "code", "retain", NULL };
	config_setting_t *l;
	int n = get_list(c, root, "taxes", 1, &l), line;
	const char *code = NULL;

	if (n < 0)
		return -1;
	if (n == 0)
		return fail(c, setting_line(l), "taxes: at least one tax code "
		    "is needed");
	if ((r->taxes = calloc((size_t)n, sizeof(*r->taxes))) == NULL)
		return fail(c, 1, "out of memory");
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(l, i);
		struct rules_tax *t = &r->taxes[i];

		snprintf(c->where, sizeof(c->where), "taxes: ");
		if (check_keys(c, e, keys) == -1 ||
		    get_str(c, e, "code", 1, &code, &line) == -1)
			return -1;
		if (!match_code(code))
			return fail(c, line, "code \"%s\" is not a tax code "
			    "([a-z][a-z0-9_]{0,31})", code);
		for (int k = 0; k < i; k++)
			if (strcmp(r->taxes[k].code, code) == 0)
				return fail(c, line, "duplicate tax code \"%s\"",
				    code);
		snprintf(t->code, sizeof(t->code), "%s", code);
		snprintf(c->where, sizeof(c->where), "tax %s: ", code);
		t->retain.num = t->retain.den = 1;
		snprintf(t->retain_text, sizeof(t->retain_text), "100%%");
		if (get_ratio(c, e, "retain", 0, &t->retain, t->retain_text,
		    &line) == -1)
			return -1;
		r->ntaxes++;
	}
	c->where[0] = '\0';
	return 0;
}

static const char *const stat_modes[] = { "host", "home", "split", "both" };

/*
 * One statistic's code, mode and split ratio, from group e, into st;
 * messages start with prefix ("" or "term 2027-01: ").
 */
static int
parse_stat(struct ctx *c, const char *prefix, config_setting_t *e,
    struct rules_stat *st)
{
	static const char *const keys[] = { "code", "mode", "home", NULL };
	const char *code = NULL, *mode = NULL;
	int line, rc, m;

	snprintf(c->where, sizeof(c->where), "%.60sstatistics: ", prefix);
	if (check_keys(c, e, keys) == -1 ||
	    get_str(c, e, "code", 1, &code, &line) == -1)
		return -1;
	if (!match_code(code))
		return fail(c, line, "code \"%s\" is not a statistic code "
		    "([a-z][a-z0-9_]{0,31})", code);
	snprintf(st->code, sizeof(st->code), "%s", code);
	snprintf(c->where, sizeof(c->where), "%.40sstatistic %s: ", prefix, code);
	st->mode = RULES_STAT_HOST;
	if ((rc = get_str(c, e, "mode", 0, &mode, &line)) == -1)
		return -1;
	if (rc == 1) {
		for (m = 0; m < 4; m++)
			if (strcmp(mode, stat_modes[m]) == 0)
				break;
		if (m == 4)
			return fail(c, line, "mode: \"%s\" is not one of host, "
			    "home, split, both", mode);
		st->mode = (enum rules_stat_mode)m;
	}
	rc = get_ratio(c, e, "home", st->mode == RULES_STAT_SPLIT, &st->home,
	    st->home_text, &line);
	if (rc == -1)
		return -1;
	if (rc == 1 && st->mode != RULES_STAT_SPLIT)
		return fail(c, line, "home: only with mode \"split\"");
	return 0;
}

static int
parse_stats(struct ctx *c, struct rules *r, config_setting_t *root)
{
	config_setting_t *l;
	int n = get_list(c, root, "statistics", 0, &l);

	if (n <= 0)
		return n;
	if ((r->stats = calloc((size_t)n, sizeof(*r->stats))) == NULL)
		return fail(c, 1, "out of memory");
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(l, i);

		if (parse_stat(c, "", e, &r->stats[i]) == -1)
			return -1;
		for (int k = 0; k < i; k++)
			if (strcmp(r->stats[k].code, r->stats[i].code) == 0) {
				snprintf(c->where, sizeof(c->where),
				    "statistics: ");
				return fail(c, setting_line(
				    config_setting_get_member(e, "code")),
				    "duplicate statistic code \"%s\"",
				    r->stats[i].code);
			}
		r->nstats++;
	}
	c->where[0] = '\0';
	return 0;
}

static int
parse_benefs(struct ctx *c, struct rules *r, config_setting_t *root)
{
	static const char *const keys[] = { "id", "weight", NULL };
	config_setting_t *l;
	int n = get_list(c, root, "beneficiaries", 0, &l), line;
	const char *id = NULL;
	int64_t sum = 0;

	if (n <= 0)
		return n;
	if ((r->benefs = calloc((size_t)n, sizeof(*r->benefs))) == NULL)
		return fail(c, 1, "out of memory");
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(l, i), *w;
		struct rules_benef *b = &r->benefs[i];

		snprintf(c->where, sizeof(c->where), "beneficiaries: ");
		if (check_keys(c, e, keys) == -1 ||
		    get_str(c, e, "id", 1, &id, &line) == -1)
			return -1;
		if (!match_id(id, 64, 0))
			return fail(c, line, "id \"%s\" is not a beneficiary id "
			    "([a-z0-9][a-z0-9._-]{0,63})", id);
		for (int k = 0; k < i; k++)
			if (strcmp(r->benefs[k].id, id) == 0)
				return fail(c, line, "duplicate beneficiary id "
				    "\"%s\"", id);
		snprintf(b->id, sizeof(b->id), "%s", id);
		snprintf(c->where, sizeof(c->where), "beneficiary %s: ", id);
		if ((w = config_setting_get_member(e, "weight")) == NULL)
			return fail(c, setting_line(e), "missing key \"weight\"");
		if (config_setting_type(w) != CONFIG_TYPE_INT &&
		    config_setting_type(w) != CONFIG_TYPE_INT64)
			return fail(c, setting_line(w), "weight: must be an "
			    "integer");
		b->weight = config_setting_get_int64(w);
		if (b->weight < 1 || b->weight > INT64_C(999999999))
			return fail(c, setting_line(w), "weight: %lld is not a "
			    "positive integer up to 999999999",
			    (long long)b->weight);
		sum += b->weight;
		r->nbenefs++;
	}
	(void)sum;
	c->where[0] = '\0';
	return 0;
}

static __int128
gcd128(__int128 a, __int128 b)
{
	while (b != 0) {
		__int128 t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int
parse_bands(struct ctx *c, struct rules_term *t, config_setting_t *bl)
{
	static const char *const keys[] = { "upto", "home", NULL };
	int n, line, rc;
	/* Bound on the common denominator: |C| * num stays far inside 128 bits. */
	const __int128 den_max = (__int128)INT64_C(1000000000000000000);

	if (config_setting_type(bl) != CONFIG_TYPE_LIST)
		return fail(c, setting_line(bl), "bands: must be a list "
		    "( { … }, … )");
	n = config_setting_length(bl);
	if (n == 0)
		return fail(c, setting_line(bl), "bands: at least one band is "
		    "needed");
	if ((t->bands = calloc((size_t)n, sizeof(*t->bands))) == NULL)
		return fail(c, 1, "out of memory");
	t->band_den = 1;
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(bl, i);
		struct rules_band *b = &t->bands[i];

		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(c, setting_line(e), "bands: element %d must "
			    "be a group { … }", i + 1);
		if (check_keys(c, e, keys) == -1)
			return -1;
		if ((rc = get_amount(c, e, "upto", 0, &b->upto, &line)) == -1)
			return -1;
		b->has_upto = rc == 1;
		if (i < n - 1 && !b->has_upto)
			return fail(c, setting_line(e), "band %d: only the last "
			    "band may lack \"upto\"", i + 1);
		if (i == n - 1 && b->has_upto)
			return fail(c, line, "band %d: the last band must not "
			    "have \"upto\"", i + 1);
		if (i > 0 && b->has_upto && b->upto <= t->bands[i - 1].upto)
			return fail(c, line, "band %d: upto must be above the "
			    "previous band's", i + 1);
		if (get_ratio(c, e, "home", 1, &b->home, b->home_text,
		    &line) == -1)
			return -1;
		/* Common denominator of every band ratio, refused when huge. */
		{
			__int128 g = gcd128(t->band_den, b->home.den);
			__int128 l = t->band_den / g * b->home.den;

			if (l > den_max)
				return fail(c, line, "band %d: the band ratios' "
				    "denominators have no common denominator "
				    "up to 10^18; use simpler fractions", i + 1);
			t->band_den = l;
		}
		t->nbands++;
	}
	for (size_t i = 0; i < t->nbands; i++)
		t->bands[i].num = (__int128)t->bands[i].home.num *
		    (t->band_den / t->bands[i].home.den);
	return 0;
}

static int
parse_fixed(struct ctx *c, struct rules_term *t, config_setting_t *f)
{
	static const char *const keys[] = { "annual", "principal", "rate", NULL };
	int line, ra, rp, rr;

	if (config_setting_type(f) != CONFIG_TYPE_GROUP)
		return fail(c, setting_line(f), "fixed: must be a group { … }");
	if (check_keys(c, f, keys) == -1)
		return -1;
	if ((ra = get_amount(c, f, "annual", 0, &t->annual, &line)) == -1 ||
	    (rp = get_amount(c, f, "principal", 0, &t->principal,
	    &line)) == -1 ||
	    (rr = get_ratio(c, f, "rate", 0, &t->rate, t->rate_text,
	    &line)) == -1)
		return -1;
	if (ra == 1 && (rp == 1 || rr == 1))
		return fail(c, setting_line(f), "fixed: either \"annual\" or "
		    "\"principal\" and \"rate\", not both");
	if (ra == 1) {
		t->has_annual = 1;
		return 0;
	}
	if (rp != 1 || rr != 1)
		return fail(c, setting_line(f), "fixed: needs \"annual\", or "
		    "\"principal\" and \"rate\"");
	if (money_mul_ratio(t->principal, &t->rate, &t->annual) == -1)
		return fail(c, setting_line(f), "fixed: principal × rate "
		    "overflows");
	return 0;
}

/*
 * The term's own retention and attribution: the agreement's, with what the
 * term's `retain` group and `statistics` list name in its place. Every code
 * named must be one the agreement declares.
 */
static int
parse_term_overrides(struct ctx *c, const struct rules *r,
    struct rules_term *t, config_setting_t *e)
{
	config_setting_t *g, *l;
	char prefix[sizeof(c->where)];
	int n;

	t->taxes = calloc(r->ntaxes + 1, sizeof(*t->taxes));
	t->stats = calloc(r->nstats + 1, sizeof(*t->stats));
	if (t->taxes == NULL || t->stats == NULL)
		return fail(c, 1, "out of memory");
	/* (memcpy takes no NULL source, even for 0 bytes: no statistics.) */
	if (r->ntaxes > 0)
		memcpy(t->taxes, r->taxes, r->ntaxes * sizeof(*t->taxes));
	if (r->nstats > 0)
		memcpy(t->stats, r->stats, r->nstats * sizeof(*t->stats));
	snprintf(prefix, sizeof(prefix), "%s", c->where);
	if ((g = config_setting_get_member(e, "retain")) != NULL) {
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(c, setting_line(g), "retain: must be a group "
			    "{ code = \"ratio\"; … }");
		n = config_setting_length(g);
		for (int i = 0; i < n; i++) {
			config_setting_t *v = config_setting_get_elem(g, i);
			const char *code = config_setting_name(v);
			struct rules_tax *tx = NULL;

			for (size_t k = 0; k < r->ntaxes; k++)
				if (strcmp(t->taxes[k].code, code) == 0)
					tx = &t->taxes[k];
			if (tx == NULL)
				return fail(c, setting_line(v), "retain: tax "
				    "\"%s\" is not declared in the agreement's "
				    "taxes", code);
			snprintf(c->where, sizeof(c->where), "%.80sretain: ",
			    prefix);
			{
				int line;

				if (get_ratio(c, g, code, 1, &tx->retain,
				    tx->retain_text, &line) == -1)
					return -1;
			}
			tx->set = 1;
			snprintf(c->where, sizeof(c->where), "%s", prefix);
		}
	}
	if ((n = get_list(c, e, "statistics", 0, &l)) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		config_setting_t *v = config_setting_get_elem(l, i);
		struct rules_stat st, *to = NULL;

		memset(&st, 0, sizeof(st));
		if (parse_stat(c, prefix, v, &st) == -1)
			return -1;
		snprintf(c->where, sizeof(c->where), "%s", prefix);
		for (size_t k = 0; k < r->nstats; k++)
			if (strcmp(t->stats[k].code, st.code) == 0)
				to = &t->stats[k];
		if (to == NULL)
			return fail(c, setting_line(config_setting_get_member(v,
			    "code")), "statistics: statistic \"%s\" is not "
			    "declared in the agreement's statistics", st.code);
		if (to->set)
			return fail(c, setting_line(config_setting_get_member(v,
			    "code")), "statistics: duplicate statistic code "
			    "\"%s\"", st.code);
		*to = st;
		to->set = 1;
	}
	return 0;
}

static int
parse_terms(struct ctx *c, struct rules *r, config_setting_t *root)
{
	static const char *const keys[] = { "from", "fixed", "home", "bands",
	    "floor", "cap", "retain", "statistics", NULL };
	config_setting_t *l;
	int n = get_list(c, root, "terms", 1, &l), line, rc;
	char pbuf[RULES_PERIOD_BUFSZ];

	if (n < 0)
		return -1;
	if (n == 0)
		return fail(c, setting_line(l), "terms: at least one term is "
		    "needed");
	if ((r->terms = calloc((size_t)n, sizeof(*r->terms))) == NULL)
		return fail(c, 1, "out of memory");
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(l, i);
		config_setting_t *fx, *bd, *hm;
		struct rules_term *t = &r->terms[i];
		int kinds;

		r->nterms++;	/* so rules_free() sees its bands */
		t->line = setting_line(e);
		snprintf(c->where, sizeof(c->where), "terms: ");
		if (get_period(c, r, e, "from", 1, &t->from, &line) == -1)
			return -1;
		snprintf(c->where, sizeof(c->where), "term %s: ",
		    rules_period_format(r->cadence, t->from, pbuf));
		if (check_keys(c, e, keys) == -1)
			return -1;
		if (i == 0 && t->from != r->start)
			return fail(c, line, "the first term must start at "
			    "start (%s)", rules_period_format(r->cadence,
			    r->start, pbuf));
		if (i > 0 && t->from <= r->terms[i - 1].from)
			return fail(c, line, "terms must be in strictly "
			    "increasing order of \"from\"");
		fx = config_setting_get_member(e, "fixed");
		hm = config_setting_get_member(e, "home");
		bd = config_setting_get_member(e, "bands");
		kinds = (fx != NULL) + (hm != NULL) + (bd != NULL);
		if (kinds != 1)
			return fail(c, t->line, "needs exactly one of \"fixed\", "
			    "\"home\", \"bands\"");
		if (fx != NULL) {
			t->kind = RULES_TERM_FIXED;
			if (parse_fixed(c, t, fx) == -1)
				return -1;
		} else if (hm != NULL) {
			t->kind = RULES_TERM_HOME;
			if (get_ratio(c, e, "home", 1, &t->home, t->home_text,
			    &line) == -1)
				return -1;
		} else {
			t->kind = RULES_TERM_BANDS;
			if (parse_bands(c, t, bd) == -1)
				return -1;
		}
		if ((rc = get_amount(c, e, "floor", 0, &t->floor, &line)) == -1)
			return -1;
		t->has_floor = rc == 1;
		if (rc == 1 && t->kind == RULES_TERM_FIXED)
			return fail(c, line, "floor: not with a fixed term");
		if ((rc = get_amount(c, e, "cap", 0, &t->cap, &line)) == -1)
			return -1;
		t->has_cap = rc == 1;
		if (rc == 1 && t->kind == RULES_TERM_FIXED)
			return fail(c, line, "cap: not with a fixed term");
		if (t->has_floor && t->has_cap && t->floor > t->cap)
			return fail(c, line, "floor above cap");
		if (parse_term_overrides(c, r, t, e) == -1)
			return -1;
	}
	c->where[0] = '\0';
	return 0;
}

/* libconfig would read @include files from the working directory. */
static int
refuse_includes(struct ctx *c, const char *text)
{
	int line = 1;

	for (const char *p = text; *p != '\0'; line++) {
		const char *q = p;

		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, "@include", 8) == 0)
			return fail(c, line, "@include is not allowed in rule "
			    "files");
		if ((p = strchr(p, '\n')) == NULL)
			break;
		p++;
	}
	return 0;
}

/*
 * An optional free-text name (a bureau's, in any script): a copy in *out,
 * or NULL when absent. Refused when empty, over 256 bytes, or holding a
 * control character (it is printed on statements).
 */
static int
get_name(struct ctx *c, const config_setting_t *root, const char *key,
    char **out)
{
	const char *v = NULL;
	int line, rc = get_str(c, root, key, 0, &v, &line);

	if (rc != 1)
		return rc;
	if (*v == '\0' || strlen(v) > 256)
		return fail(c, line, "%s: must be 1 to 256 bytes of text", key);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fail(c, line, "%s: control character in the name",
			    key);
	if ((*out = strdup(v)) == NULL)
		return fail(c, 1, "out of memory");
	return 1;
}

static int
parse_root(struct ctx *c, struct rules *r, config_setting_t *root)
{
	static const char *const keys[] = { "id", "title", "home", "host",
	    "home_name", "host_name", "cadence", "start", "end", "confirm", "taxes", "statistics",
	    "beneficiaries", "terms", NULL };
	const char *v = NULL, *base;
	config_setting_t *s;
	int line, rc;
	size_t idlen;

	if (check_keys(c, root, keys) == -1)
		return -1;
	/* Missing required keys first, in the order §4 lists them. */
	{
		static const char *const req[] = { "id", "home", "host",
		    "cadence", "start", "taxes", "terms", NULL };

		for (const char *const *k = req; *k != NULL; k++)
			if (config_setting_get_member(root, *k) == NULL)
				return fail(c, 1, "missing key \"%s\"", *k);
	}
	if (get_str(c, root, "id", 1, &v, &line) == -1)
		return -1;
	if (!match_id(v, 64, 0))
		return fail(c, line, "id: \"%s\" is not an agreement id "
		    "([a-z0-9][a-z0-9._-]{0,63})", v);
	base = strrchr(c->name, '/');
	base = base ? base + 1 : c->name;
	idlen = strlen(v);
	if (strncmp(base, v, idlen) != 0 || strcmp(base + idlen, ".conf") != 0)
		return fail(c, line, "id: \"%s\" does not match the file "
		    "name %s (it must be %s.conf)", v, base, v);
	if ((r->id = strdup(v)) == NULL)
		return fail(c, 1, "out of memory");
	if ((rc = get_str(c, root, "title", 0, &v, &line)) == -1)
		return -1;
	if ((r->title = strdup(rc == 1 ? v : "")) == NULL)
		return fail(c, 1, "out of memory");
	if (get_str(c, root, "home", 1, &v, &line) == -1)
		return -1;
	if (!match_side(v))
		return fail(c, line, "home: \"%s\" is not a 6-digit division "
		    "code", v);
	memcpy(r->home, v, 7);
	if (get_str(c, root, "host", 1, &v, &line) == -1)
		return -1;
	if (!match_side(v))
		return fail(c, line, "host: \"%s\" is not a 6-digit division "
		    "code", v);
	memcpy(r->host, v, 7);
	if (strcmp(r->home, r->host) == 0)
		return fail(c, line, "host: the same code as home");
	if (get_name(c, root, "home_name", &r->home_name) == -1 ||
	    get_name(c, root, "host_name", &r->host_name) == -1)
		return -1;
	if (get_str(c, root, "cadence", 1, &v, &line) == -1)
		return -1;
	if (strcmp(v, "monthly") == 0)
		r->cadence = RULES_MONTHLY;
	else if (strcmp(v, "quarterly") == 0)
		r->cadence = RULES_QUARTERLY;
	else if (strcmp(v, "yearly") == 0)
		r->cadence = RULES_YEARLY;
	else
		return fail(c, line, "cadence: \"%s\" is not monthly, "
		    "quarterly or yearly", v);
	if (get_period(c, r, root, "start", 1, &r->start, &line) == -1)
		return -1;
	r->end = INT32_MAX;
	if ((rc = get_period(c, r, root, "end", 0, &r->end, &line)) == -1)
		return -1;
	r->has_end = rc == 1;
	if (r->has_end && r->end < r->start)
		return fail(c, line, "end: before start");
	if ((s = config_setting_get_member(root, "confirm")) != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(c, setting_line(s), "confirm: must be true "
			    "or false");
		r->confirm = config_setting_get_bool(s);
	}
	if (parse_taxes(c, r, root) == -1 || parse_stats(c, r, root) == -1 ||
	    parse_benefs(c, r, root) == -1 || parse_terms(c, r, root) == -1)
		return -1;
	return 0;
}

/* The offset of the first byte that is not valid UTF-8, or (size_t)-1. */
static size_t
utf8_invalid_at(const char *text)
{
	const unsigned char *s = (const unsigned char *)text, *p = s;

	while (*p != '\0') {
		unsigned char b = *p;
		size_t n;
		uint32_t cp, min;

		if (b < 0x80) {
			p++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			n = 1, cp = b & 0x1f, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			n = 2, cp = b & 0x0f, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			n = 3, cp = b & 0x07, min = 0x10000;
		} else
			return (size_t)(p - s);
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (size_t)(p - s);
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (size_t)(p - s);
		p += n + 1;
	}
	return (size_t)-1;
}

struct rules *
rules_parse(const char *text, const char *name, char *err, size_t errlen)
{
	struct ctx c = { name, err, errlen, "" };
	struct rules *r;
	config_t cfg;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	config_init(&cfg);
	if (refuse_includes(&c, text) == -1)
		goto fail;
	{
		/* The text goes into the ledger as a JSON string: UTF-8 only. */
		size_t bad = utf8_invalid_at(text);

		if (bad != (size_t)-1) {
			int line = 1;

			for (size_t i = 0; i < bad; i++)
				line += text[i] == '\n';
			fail(&c, line, "not valid UTF-8 text (byte %zu)", bad + 1);
			goto fail;
		}
	}
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		fail(&c, config_error_line(&cfg), "%s", config_error_text(&cfg));
		goto fail;
	}
	if (parse_root(&c, r, config_root_setting(&cfg)) == -1)
		goto fail;
	if ((r->text = strdup(text)) == NULL) {
		fail(&c, 1, "out of memory");
		goto fail;
	}
	canon_sha256_hex(text, strlen(text), r->sha256);
	config_destroy(&cfg);
	return r;
fail:
	config_destroy(&cfg);
	rules_free(r);
	return NULL;
}

void
rules_free(struct rules *r)
{
	if (r == NULL)
		return;
	free(r->id);
	free(r->title);
	free(r->home_name);
	free(r->host_name);
	free(r->taxes);
	free(r->stats);
	free(r->benefs);
	for (size_t i = 0; i < r->nterms; i++) {
		free(r->terms[i].bands);
		free(r->terms[i].taxes);
		free(r->terms[i].stats);
	}
	free(r->terms);
	free(r->text);
	free(r);
}

void
rules_free_list(struct rules **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rules_free(list[i]);
	free(list);
}

const char *rules_get0_id(const struct rules *r) { return r->id; }
const char *rules_get0_title(const struct rules *r) { return r->title; }
const char *rules_get0_home(const struct rules *r) { return r->home; }
const char *rules_get0_host(const struct rules *r) { return r->host; }
const char *rules_get0_home_name(const struct rules *r) { return r->home_name; }
const char *rules_get0_host_name(const struct rules *r) { return r->host_name; }
const char *rules_get0_text(const struct rules *r) { return r->text; }
const char *rules_get0_sha256(const struct rules *r) { return r->sha256; }
enum rules_cadence rules_cadence(const struct rules *r) { return r->cadence; }
int rules_confirm(const struct rules *r) { return r->confirm; }
int32_t rules_start(const struct rules *r) { return r->start; }
int32_t rules_end(const struct rules *r) { return r->end; }
size_t rules_term_count(const struct rules *r) { return r->nterms; }
int32_t rules_term_from(const struct rules *r, size_t i) { return r->terms[i].from; }

static json_t *
jamount(int64_t fen)
{
	char buf[MONEY_BUFSZ];

	return json_string(money_format(fen, buf));
}

static json_t *
stat_json(const struct rules_stat *st)
{
	json_t *o = json_pack("{s:s,s:s}", "code", st->code, "mode",
	    stat_modes[st->mode]);

	if (st->mode == RULES_STAT_SPLIT)
		json_object_set_new(o, "home", json_string(st->home_text));
	return o;
}

static json_t *
term_json(const struct rules *r, const struct rules_term *t)
{
	char pbuf[RULES_PERIOD_BUFSZ];
	json_t *o = json_object();

	json_object_set_new(o, "from", json_string(rules_period_format(
	    r->cadence, t->from, pbuf)));
	switch (t->kind) {
	case RULES_TERM_FIXED: {
		json_t *f = json_object();

		if (t->has_annual)
			json_object_set_new(f, "annual", jamount(t->annual));
		else {
			json_object_set_new(f, "principal", jamount(t->principal));
			json_object_set_new(f, "rate", json_string(t->rate_text));
			json_object_set_new(f, "annual", jamount(t->annual));
		}
		json_object_set_new(o, "fixed", f);
		break;
	}
	case RULES_TERM_HOME:
		json_object_set_new(o, "home", json_string(t->home_text));
		break;
	case RULES_TERM_BANDS: {
		json_t *a = json_array();

		for (size_t i = 0; i < t->nbands; i++) {
			json_t *b = json_object();

			if (t->bands[i].has_upto)
				json_object_set_new(b, "upto",
				    jamount(t->bands[i].upto));
			json_object_set_new(b, "home",
			    json_string(t->bands[i].home_text));
			json_array_append_new(a, b);
		}
		json_object_set_new(o, "bands", a);
		break;
	}
	}
	if (t->has_floor)
		json_object_set_new(o, "floor", jamount(t->floor));
	if (t->has_cap)
		json_object_set_new(o, "cap", jamount(t->cap));
	{
		json_t *ret = json_object(), *st = json_array();

		for (size_t i = 0; i < r->ntaxes; i++)
			if (t->taxes[i].set)
				json_object_set_new(ret, t->taxes[i].code,
				    json_string(t->taxes[i].retain_text));
		for (size_t i = 0; i < r->nstats; i++)
			if (t->stats[i].set)
				json_array_append_new(st, stat_json(&t->stats[i]));
		if (json_object_size(ret) > 0)
			json_object_set_new(o, "retain", ret);
		else
			json_decref(ret);
		if (json_array_size(st) > 0)
			json_object_set_new(o, "statistics", st);
		else
			json_decref(st);
	}
	return o;
}

json_t *
rules_to_json(const struct rules *r)
{
	char pbuf[RULES_PERIOD_BUFSZ];
	json_t *o = json_object(), *a;

	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "title", json_string(r->title));
	json_object_set_new(o, "home", json_string(r->home));
	json_object_set_new(o, "host", json_string(r->host));
	if (r->home_name != NULL)
		json_object_set_new(o, "home_name", json_string(r->home_name));
	if (r->host_name != NULL)
		json_object_set_new(o, "host_name", json_string(r->host_name));
	json_object_set_new(o, "cadence", json_string(
	    rules_cadence_name(r->cadence)));
	json_object_set_new(o, "start", json_string(rules_period_format(
	    r->cadence, r->start, pbuf)));
	if (r->has_end)
		json_object_set_new(o, "end", json_string(rules_period_format(
		    r->cadence, r->end, pbuf)));
	json_object_set_new(o, "confirm", json_boolean(r->confirm));
	json_object_set_new(o, "sha256", json_string(r->sha256));
	a = json_array();
	for (size_t i = 0; i < r->ntaxes; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "code",
		    r->taxes[i].code, "retain", r->taxes[i].retain_text));
	json_object_set_new(o, "taxes", a);
	a = json_array();
	for (size_t i = 0; i < r->nstats; i++)
		json_array_append_new(a, stat_json(&r->stats[i]));
	json_object_set_new(o, "statistics", a);
	a = json_array();
	for (size_t i = 0; i < r->nbenefs; i++)
		json_array_append_new(a, json_pack("{s:s,s:I}", "id",
		    r->benefs[i].id, "weight", (json_int_t)r->benefs[i].weight));
	json_object_set_new(o, "beneficiaries", a);
	a = json_array();
	for (size_t i = 0; i < r->nterms; i++)
		json_array_append_new(a, term_json(r, &r->terms[i]));
	json_object_set_new(o, "terms", a);
	return o;
}

json_t *
rules_entry(const struct rules *r)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "type", "rules", "agreement",
	    r->id, "sha256", r->sha256, "text", r->text);
}

char *
rules_entry_text(const struct rules *r, const char *stamp, size_t *len,
    char *err, size_t errlen)
{
	json_t *e = rules_entry(r);
	char *b;

	if (e == NULL || (stamp != NULL && json_object_set_new(e, "time",
	    json_string(stamp)) == -1)) {
		json_decref(e);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b = canon_dump(e, len, err, errlen);
	json_decref(e);
	return b;
}
