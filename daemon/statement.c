/*
 * statement: folds ledger entries into one agreement's year, per period.
 *
 * A period's current figures are its `settlement` plus every later
 * `adjustment` (SPEC §5: the ledger is append-only, the auditor adds).
 * Its status follows the daemon's: `disputed` while the latest `dispute`
 * names exactly the latest host and home reports of the period, otherwise
 * `settled` once a settlement exists, otherwise `waiting`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/money.h"
#include "shanhai/rules.h"
#include "shanhai/statement.h"

#define HASH_BUFSZ	CANON_HASH_BUFSZ
#define PERIOD_BUFSZ	16

/* The money fields of settlement and adjustment entries, in column order. */
enum { F_BASE, F_HOME, F_HOST, F_TOPUP, NFIELDS };
static const char *const field_names[NFIELDS] = {
	"base", "home", "host", "floor_topup",
};
static const char *const field_titles[NFIELDS] = {
	"base", "home", "host", "top-up",
};

struct row {
	char		 period[PERIOD_BUFSZ];
	char		 term[PERIOD_BUFSZ];
	int		 settled;
	int64_t		 f[NFIELDS];
	int64_t		*ben;		/* st->nben amounts, by st->ben_ids */
	int		 nadj;
	char		 host_report[HASH_BUFSZ];
	char		 home_report[HASH_BUFSZ];
	char		 dispute_host[HASH_BUFSZ];
	char		 dispute_home[HASH_BUFSZ];
};

struct statement {
	char		*agreement;
	int		 year;
	struct row	*rows;
	size_t		 nrows;
	char		**ben_ids;
	size_t		 nben;
	struct rules	*rules;		/* the latest `rules` entry's, if any */
};

/* One beneficiary amount of an entry, before it is applied. */
struct ben_amount {
	const char	*id;
	int64_t		 fen;
};

struct statement *
statement_new(const char *agreement, int year)
{
	struct statement *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->agreement = strdup(agreement)) == NULL) {
		free(st);
		return NULL;
	}
	st->year = year;
	return st;
}

void
statement_free(struct statement *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nrows; i++)
		free(st->rows[i].ben);
	free(st->rows);
	for (size_t i = 0; i < st->nben; i++)
		free(st->ben_ids[i]);
	free(st->ben_ids);
	rules_free(st->rules);
	free(st->agreement);
	free(st);
}

size_t
statement_period_count(const struct statement *st)
{
	return st->nrows;
}

int
statement_format_parse(const char *s, enum statement_format *fmt)
{
	if (strcmp(s, "table") == 0)
		*fmt = STATEMENT_TABLE;
	else if (strcmp(s, "csv") == 0)
		*fmt = STATEMENT_CSV;
	else if (strcmp(s, "json") == 0)
		*fmt = STATEMENT_JSON;
	else
		return -1;
	return 0;
}

/* "YYYY-MM", "YYYY-Qn" or "YYYY" (yearly); its year in *year. */
static int
period_year(const char *p, int *year)
{
	size_t n = strlen(p);

	if ((n != 7 || p[4] != '-') && n != 4)
		return -1;
	for (int i = 0; i < 4; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	if (n == 4)
		;
	else if (p[5] == 'Q') {
		if (p[6] < '1' || p[6] > '4')
			return -1;
	} else if (!(p[5] == '0' && p[6] >= '1' && p[6] <= '9') &&
	    !(p[5] == '1' && p[6] >= '0' && p[6] <= '2'))
		return -1;
	*year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 +
	    (p[3] - '0');
	return 0;
}

static const char *
get_string(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int
get_amount(json_t *obj, const char *key, int64_t *fen)
{
	const char *s = get_string(obj, key);

	return s == NULL ? -1 : money_parse(s, fen);
}

static int
copy_hash(char dst[HASH_BUFSZ], const char *src)
{
	if (src == NULL || strlen(src) != CANON_HASH_HEXLEN)
		return -1;
	memcpy(dst, src, HASH_BUFSZ);
	return 0;
}

static struct row *
find_row(const struct statement *st, const char *period)
{
	for (size_t i = 0; i < st->nrows; i++)
		if (strcmp(st->rows[i].period, period) == 0)
			return &st->rows[i];
	return NULL;
}

/* The row of period, made (in period order) when new; NULL on ENOMEM. */
static struct row *
get_row(struct statement *st, const char *period)
{
	struct row *r, *rows;
	size_t at;

	if ((r = find_row(st, period)) != NULL)
		return r;
	if ((rows = realloc(st->rows, (st->nrows + 1) * sizeof(*rows))) == NULL)
		return NULL;
	st->rows = rows;
	for (at = 0; at < st->nrows; at++)
		if (strcmp(rows[at].period, period) > 0)
			break;
	memmove(&rows[at + 1], &rows[at], (st->nrows - at) * sizeof(*rows));
	r = &rows[at];
	memset(r, 0, sizeof(*r));
	snprintf(r->period, sizeof(r->period), "%s", period);
	if (st->nben > 0 && (r->ben = calloc(st->nben, sizeof(int64_t))) ==
	    NULL) {
		memmove(&rows[at], &rows[at + 1],
		    (st->nrows - at) * sizeof(*rows));
		return NULL;
	}
	st->nrows++;
	return r;
}

/* Column of beneficiary id, added (in id order) when new; -1 on ENOMEM. */
static long
ben_column(struct statement *st, const char *id)
{
	char **ids, *copy;
	size_t at;

	for (at = 0; at < st->nben; at++) {
		int c = strcmp(st->ben_ids[at], id);

		if (c == 0)
			return (long)at;
		if (c > 0)
			break;
	}
	for (size_t i = 0; i < st->nrows; i++) {
		int64_t *b = realloc(st->rows[i].ben,
		    (st->nben + 1) * sizeof(int64_t));

		if (b == NULL)
			return -1;
		memmove(&b[at + 1], &b[at], (st->nben - at) * sizeof(int64_t));
		b[at] = 0;
		st->rows[i].ben = b;
	}
	if ((ids = realloc(st->ben_ids, (st->nben + 1) * sizeof(*ids))) ==
	    NULL)
		goto undo;
	st->ben_ids = ids;
	if ((copy = strdup(id)) == NULL)
		goto undo;
	memmove(&ids[at + 1], &ids[at], (st->nben - at) * sizeof(*ids));
	ids[at] = copy;
	st->nben++;
	return (long)at;
undo:
	for (size_t i = 0; i < st->nrows; i++)
		memmove(&st->rows[i].ben[at], &st->rows[i].ben[at + 1],
		    (st->nben - at) * sizeof(int64_t));
	return -1;
}

/*
 * The money of a settlement or adjustment entry: the four fields and the
 * beneficiaries object. *bens is malloc'd (NULL when there are none).
 */
static int
parse_money(json_t *e, int64_t f[NFIELDS], struct ben_amount **bens,
    size_t *nbens, char *err, size_t errlen)
{
	json_t *bo, *v;
	const char *id;
	size_t n = 0;

	*bens = NULL;
	*nbens = 0;
	for (int i = 0; i < NFIELDS; i++)
		if (get_amount(e, field_names[i], &f[i]) != 0) {
			snprintf(err, errlen, "'%s' is not an amount",
			    field_names[i]);
			return -1;
		}
	bo = json_object_get(e, "beneficiaries");
	if (bo == NULL)
		return 0;
	if (!json_is_object(bo)) {
		snprintf(err, errlen, "'beneficiaries' is not an object");
		return -1;
	}
	if (json_object_size(bo) == 0)
		return 0;
	if ((*bens = calloc(json_object_size(bo), sizeof(**bens))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_object_foreach(bo, id, v) {
		const char *s = json_string_value(v);

		if (s == NULL || money_parse(s, &(*bens)[n].fen) != 0) {
			snprintf(err, errlen, "beneficiary '%s': not an amount",
			    id);
			free(*bens);
			*bens = NULL;
			return -1;
		}
		(*bens)[n++].id = id;
	}
	*nbens = n;
	return 0;
}

static int
add_money(struct statement *st, json_t *e, const char *period, int is_adj,
    char *err, size_t errlen)
{
	int64_t f[NFIELDS];
	struct ben_amount *bens;
	size_t nbens;
	struct row *r;
	const char *term = NULL;
	int rc = -1;

	if (parse_money(e, f, &bens, &nbens, err, errlen) != 0)
		return -1;
	r = find_row(st, period);
	if (is_adj) {
		if (r == NULL || !r->settled) {
			snprintf(err, errlen, "adjustment of %s, which never "
			    "settled", period);
			goto done;
		}
		/* Sums must not overflow: check them all before changing any. */
		for (int i = 0; i < NFIELDS; i++) {
			int64_t t;

			if (money_add(r->f[i], f[i], &t) != 0) {
				snprintf(err, errlen, "'%s' overflows",
				    field_names[i]);
				goto done;
			}
		}
	} else {
		if ((term = get_string(e, "term")) == NULL ||
		    strlen(term) >= PERIOD_BUFSZ) {
			snprintf(err, errlen, "'term' is missing");
			goto done;
		}
		if (r != NULL && r->settled) {
			snprintf(err, errlen, "%s settled twice", period);
			goto done;
		}
	}
	for (size_t i = 0; i < nbens; i++)
		if (ben_column(st, bens[i].id) < 0)
			goto nomem;
	if ((r = get_row(st, period)) == NULL)
		goto nomem;
	for (size_t i = 0; i < nbens; i++) {
		long c = ben_column(st, bens[i].id);
		int64_t t;

		if (money_add(r->ben[c], bens[i].fen, &t) != 0) {
			snprintf(err, errlen, "beneficiary '%s' overflows",
			    bens[i].id);
			goto done;
		}
	}
	for (size_t i = 0; i < nbens; i++) {
		long c = ben_column(st, bens[i].id);

		r->ben[c] += bens[i].fen;
	}
	for (int i = 0; i < NFIELDS; i++)
		r->f[i] += f[i];
	if (is_adj)
		r->nadj++;
	else {
		snprintf(r->term, sizeof(r->term), "%s", term);
		r->settled = 1;
	}
	rc = 0;
	goto done;
nomem:
	snprintf(err, errlen, "out of memory");
done:
	free(bens);
	return rc;
}

static int
add_report(struct statement *st, json_t *e, char *err, size_t errlen)
{
	json_t *rep = json_object_get(e, "report");
	const char *period = get_string(rep, "period");
	const char *role = get_string(rep, "role");
	const char *hash = get_string(e, "sha256");
	char tmp[HASH_BUFSZ];
	struct row *r;
	int year;

	if (period == NULL || period_year(period, &year) != 0 ||
	    role == NULL || copy_hash(tmp, hash) != 0) {
		snprintf(err, errlen, "report entry without period, role or "
		    "sha256");
		return -1;
	}
	if (year != st->year)
		return 0;
	if (strcmp(role, "host") != 0 && strcmp(role, "home") != 0) {
		snprintf(err, errlen, "report entry with role '%s'", role);
		return -1;
	}
	if ((r = get_row(st, period)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(strcmp(role, "host") == 0 ? r->host_report : r->home_report,
	    tmp, sizeof(tmp));
	return 0;
}

/* A `rules` entry of this agreement: its title and sides, for headings. */
static int
add_rules(struct statement *st, json_t *e, char *err, size_t errlen)
{
	const char *text = get_string(e, "text");
	char name[128], why[256];
	struct rules *r;

	snprintf(name, sizeof(name), "%s.conf", st->agreement);
	if (text == NULL || (r = rules_parse(text, name, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "rules entry that does not load: %s",
		    text == NULL ? "no text" : why);
		return -1;
	}
	rules_free(st->rules);
	st->rules = r;
	return 0;
}

static int
add_dispute(struct statement *st, json_t *e, const char *period, char *err,
    size_t errlen)
{
	char h[HASH_BUFSZ], m[HASH_BUFSZ];
	struct row *r;

	if (copy_hash(h, get_string(e, "host_report")) != 0 ||
	    copy_hash(m, get_string(e, "home_report")) != 0) {
		snprintf(err, errlen, "dispute entry without host_report or "
		    "home_report");
		return -1;
	}
	if ((r = get_row(st, period)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(r->dispute_host, h, sizeof(h));
	memcpy(r->dispute_home, m, sizeof(m));
	return 0;
}

int
statement_add(struct statement *st, const char *buf, size_t len, char *err,
    size_t errlen)
{
	json_t *e;
	const char *type, *agreement, *period;
	int year, rc = 0;

	if ((e = canon_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if (!json_is_object(e) || (type = get_string(e, "type")) == NULL) {
		snprintf(err, errlen, "not a ledger entry (no 'type')");
		rc = -1;
		goto done;
	}
	if (strcmp(type, "report") == 0)
		agreement = get_string(json_object_get(e, "report"),
		    "agreement");
	else
		agreement = get_string(e, "agreement");
	if (agreement == NULL) {
		snprintf(err, errlen, "%s entry without agreement", type);
		rc = -1;
		goto done;
	}
	if (strcmp(agreement, st->agreement) != 0)
		goto done;
	if (strcmp(type, "report") == 0) {
		rc = add_report(st, e, err, errlen);
		goto done;
	}
	if (strcmp(type, "rules") == 0) {
		rc = add_rules(st, e, err, errlen);
		goto done;
	}
	if (strcmp(type, "settlement") != 0 &&
	    strcmp(type, "adjustment") != 0 && strcmp(type, "dispute") != 0)
		goto done;	/* kinds a statement has no use for */
	if ((period = get_string(e, "period")) == NULL ||
	    period_year(period, &year) != 0) {
		snprintf(err, errlen, "%s entry without a valid period", type);
		rc = -1;
		goto done;
	}
	if (year != st->year)
		goto done;
	if (strcmp(type, "dispute") == 0)
		rc = add_dispute(st, e, period, err, errlen);
	else
		rc = add_money(st, e, period, strcmp(type, "adjustment") == 0,
		    err, errlen);
done:
	json_decref(e);
	return rc;
}

static const char *
row_status(const struct row *r)
{
	if (r->dispute_host[0] != '\0' &&
	    strcmp(r->dispute_host, r->host_report) == 0 &&
	    strcmp(r->dispute_home, r->home_report) == 0)
		return "disputed";
	return r->settled ? "settled" : "waiting";
}

/* The year's totals over the periods with figures: one row, "total". */
static int
totals(const struct statement *st, struct row *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->period, sizeof(t->period), "total");
	if (st->nben > 0 && (t->ben = calloc(st->nben, sizeof(int64_t))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < st->nrows; i++) {
		const struct row *r = &st->rows[i];

		if (!r->settled)
			continue;
		t->settled = 1;
		t->nadj += r->nadj;
		for (int k = 0; k < NFIELDS; k++)
			if (money_add(t->f[k], r->f[k], &t->f[k]) != 0)
				goto overflow;
		for (size_t k = 0; k < st->nben; k++)
			if (money_add(t->ben[k], r->ben[k], &t->ben[k]) != 0)
				goto overflow;
	}
	return 0;
overflow:
	snprintf(err, errlen, "the year's total overflows");
	free(t->ben);
	t->ben = NULL;
	return -1;
}

/*
 * The cells of one row, as the table and CSV show them: period, status,
 * term, the four amounts, adjustments, then one per beneficiary. Amounts
 * of a period without figures are empty.
 */
#define FIXED_COLS	(3 + NFIELDS + 1)

static void
row_cells(const struct statement *st, const struct row *r, int is_total,
    char (*cells)[MONEY_BUFSZ])
{
	size_t c = 0;

	snprintf(cells[c++], MONEY_BUFSZ, "%s", r->period);
	snprintf(cells[c++], MONEY_BUFSZ, "%s", is_total ? "" : row_status(r));
	snprintf(cells[c++], MONEY_BUFSZ, "%s", r->term);
	for (int k = 0; k < NFIELDS; k++, c++)
		if (r->settled)
			money_format(r->f[k], cells[c]);
		else
			cells[c][0] = '\0';
	if (r->nadj > 0)
		snprintf(cells[c++], MONEY_BUFSZ, "%d", r->nadj);
	else
		cells[c++][0] = '\0';
	for (size_t k = 0; k < st->nben; k++, c++)
		if (r->settled)
			money_format(r->ben[k], cells[c]);
		else
			cells[c][0] = '\0';
}

static const char *
column_title(const struct statement *st, size_t c)
{
	static const char *const fixed[FIXED_COLS] = {
		"period", "status", "term", NULL, NULL, NULL, NULL, "adj",
	};

	if (c >= 3 && c < 3 + NFIELDS)
		return field_titles[c - 3];
	if (c < FIXED_COLS)
		return fixed[c];
	return st->ben_ids[c - FIXED_COLS];
}

static void
print_table(const struct statement *st, const struct row *total, FILE *f,
    char (*cells)[MONEY_BUFSZ], size_t *width)
{
	size_t ncols = FIXED_COLS + st->nben, line = 0, last;
	int waiting = 0, disputed = 0, adjusted = 0;

	for (size_t c = 0; c < ncols; c++)
		width[c] = strlen(column_title(st, c));
	for (size_t i = 0; i <= st->nrows; i++) {
		const struct row *r = i < st->nrows ? &st->rows[i] : total;

		row_cells(st, r, i == st->nrows, cells);
		for (size_t c = 0; c < ncols; c++)
			if (strlen(cells[c]) > width[c])
				width[c] = strlen(cells[c]);
	}
	fprintf(f, "%s, fiscal year %d (yuan)\n", st->agreement, st->year);
	if (st->rules != NULL)
		fprintf(f, "%s%shome %s, host %s\n",
		    rules_get0_title(st->rules),
		    *rules_get0_title(st->rules) ? "; " : "",
		    rules_get0_home(st->rules), rules_get0_host(st->rules));
	fputc('\n', f);
	/* Text columns left-aligned, amounts and counts right-aligned. */
	for (size_t c = 0; c < ncols; c++) {
		fprintf(f, c < 3 ? "%s%-*s" : "%s%*s", c ? "  " : "",
		    (int)width[c], column_title(st, c));
		line += width[c] + (c ? 2 : 0);
	}
	fputc('\n', f);
	for (size_t i = 0; i <= st->nrows; i++) {
		const struct row *r = i < st->nrows ? &st->rows[i] : total;

		if (i == st->nrows) {
			for (size_t k = 0; k < line; k++)
				fputc('-', f);
			fputc('\n', f);
		} else {
			const char *s = row_status(r);

			waiting |= strcmp(s, "waiting") == 0;
			disputed |= strcmp(s, "disputed") == 0;
			adjusted |= r->nadj > 0;
		}
		row_cells(st, r, i == st->nrows, cells);
		for (size_t c = 3; c < 3 + NFIELDS; c++)
			if (cells[c][0] == '\0')
				snprintf(cells[c], MONEY_BUFSZ, "-");
		/* No trailing blanks: stop at the last cell that says something. */
		for (last = ncols; last > 0 && cells[last - 1][0] == '\0';)
			last--;
		for (size_t c = 0; c < last; c++) {
			int w = (int)width[c];

			if (c < 3 && c + 1 == last)
				w = 0;	/* last and left-aligned: no padding */
			fprintf(f, c < 3 ? "%s%-*s" : "%s%*s", c ? "  " : "",
			    w, cells[c]);
		}
		fputc('\n', f);
	}
	if (adjusted)
		fprintf(f, "\nadj: corrections applied; the figures are the "
		    "settlement plus its adjustments.\n");
	if (waiting)
		fprintf(f, "%swaiting: not settled yet (a report is missing, "
		    "or an earlier period waits).\n", adjusted ? "" : "\n");
	if (disputed)
		fprintf(f, "%sdisputed: the latest host and home reports "
		    "differ; figures shown are the last both agreed on.\n",
		    adjusted || waiting ? "" : "\n");
}

static void
print_csv(const struct statement *st, const struct row *total, FILE *f,
    char (*cells)[MONEY_BUFSZ])
{
	size_t ncols = FIXED_COLS + st->nben;

	/* Ids and amounts hold no comma or quote: no quoting is needed. */
	fprintf(f, "agreement,year");
	for (size_t c = 0; c < ncols; c++)
		fprintf(f, ",%s%s", c >= FIXED_COLS ? "beneficiary:" : "",
		    c == FIXED_COLS - 1 ? "adjustments" :
		    c == 6 ? "floor_topup" : column_title(st, c));
	fputc('\n', f);
	for (size_t i = 0; i <= st->nrows; i++) {
		const struct row *r = i < st->nrows ? &st->rows[i] : total;

		row_cells(st, r, i == st->nrows, cells);
		if (r->nadj == 0)
			snprintf(cells[FIXED_COLS - 1], MONEY_BUFSZ, "0");
		fprintf(f, "%s,%d", st->agreement, st->year);
		for (size_t c = 0; c < ncols; c++)
			fprintf(f, ",%s", cells[c]);
		fputc('\n', f);
	}
}

/* The money of r as JSON members of o: the four fields and beneficiaries. */
static int
money_json(const struct statement *st, const struct row *r, json_t *o)
{
	char buf[MONEY_BUFSZ];
	json_t *b;
	int rc = 0;

	for (int k = 0; k < NFIELDS; k++)
		rc |= json_object_set_new(o, field_names[k], r->settled ?
		    json_string(money_format(r->f[k], buf)) : json_null());
	if ((b = json_object()) == NULL)
		return -1;
	for (size_t k = 0; k < st->nben; k++)
		if (r->settled)
			rc |= json_object_set_new(b, st->ben_ids[k],
			    json_string(money_format(r->ben[k], buf)));
	rc |= json_object_set_new(o, "beneficiaries", b);
	rc |= json_object_set_new(o, "adjustments", json_integer(r->nadj));
	return rc ? -1 : 0;
}

static int
print_json(const struct statement *st, const struct row *total, FILE *f)
{
	json_t *doc, *periods = NULL, *t = NULL;
	int rc = -1;

	doc = json_pack("{s:s, s:i}", "agreement", st->agreement, "year",
	    st->year);
	if (doc != NULL && st->rules != NULL &&
	    json_object_update_new(doc, json_pack("{s:s, s:s, s:s}", "title",
	    rules_get0_title(st->rules), "home", rules_get0_home(st->rules),
	    "host", rules_get0_host(st->rules))) != 0)
		goto done;
	periods = json_array();
	t = json_object();
	if (doc == NULL || periods == NULL || t == NULL)
		goto done;
	for (size_t i = 0; i < st->nrows; i++) {
		const struct row *r = &st->rows[i];
		json_t *p = json_pack("{s:s, s:s, s:s?}", "period", r->period,
		    "status", row_status(r), "term",
		    r->settled ? r->term : NULL);

		if (p == NULL || money_json(st, r, p) != 0 ||
		    json_array_append_new(periods, p) != 0) {
			json_decref(p);
			goto done;
		}
	}
	if (money_json(st, total, t) != 0)
		goto done;
	if (json_object_set(doc, "periods", periods) != 0 ||
	    json_object_set(doc, "totals", t) != 0)
		goto done;
	if (json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
		fputc('\n', f);
		rc = 0;
	}
done:
	json_decref(periods);
	json_decref(t);
	json_decref(doc);
	return rc;
}

int
statement_print(const struct statement *st, enum statement_format fmt,
    FILE *f, char *err, size_t errlen)
{
	size_t ncols = FIXED_COLS + st->nben;
	char (*cells)[MONEY_BUFSZ] = NULL;
	size_t *width = NULL;
	struct row total;
	int rc = -1;

	if (totals(st, &total, err, errlen) != 0)
		return -1;
	if ((cells = calloc(ncols, sizeof(*cells))) == NULL ||
	    (width = calloc(ncols, sizeof(*width))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	switch (fmt) {
	case STATEMENT_TABLE:
		print_table(st, &total, f, cells, width);
		rc = 0;
		break;
	case STATEMENT_CSV:
		print_csv(st, &total, f, cells);
		rc = 0;
		break;
	case STATEMENT_JSON:
		if ((rc = print_json(st, &total, f)) != 0)
			snprintf(err, errlen, "out of memory");
		break;
	}
done:
	free(cells);
	free(width);
	free(total.ben);
	return rc;
}
