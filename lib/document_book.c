/*
 * document_book: the statement as tables, one per section (概况, 分期结算,
 * 税收明细, 统计归属, 受益主体, 年度合计, 上解与补助, 双方确认, 核验信息).
 * The CSV, XLSX and text writers print them as they are; the PDF draws
 * them. One source of the sections keeps every format showing the same
 * figures in the same places.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/daxie.h"
#include "shanhai/money.h"

#include "document_impl.h"

/* A text made for the book (freed with it); "" when out of memory. */
static const char *
book_printf(struct doc_book *b, const char *fmt, ...)
{
	char **n, *s;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (len < 0) {
		b->failed = 1;
		return "";
	}
	if ((n = realloc(b->strs, (b->nstrs + 1) * sizeof(*n))) == NULL) {
		free(s);
		b->failed = 1;
		return "";
	}
	b->strs = n;
	b->strs[b->nstrs++] = s;
	return s;
}

static struct doc_table *
table_new(struct doc_book *b, enum doc_msg title, size_t nrows, size_t ncols)
{
	struct doc_table *t = &b->t[b->n++];

	t->title = title;
	t->ncols = ncols;
	t->nrows = nrows;
	if ((t->cells = calloc(nrows * ncols + 1, sizeof(*t->cells))) == NULL)
		b->failed = 1;
	return t;
}

static void
head(const struct doc *d, struct doc_table *t, ...)
{
	va_list ap;

	va_start(ap, t);
	for (size_t c = 0; c < t->ncols; c++)
		t->head[c] = doc_msg(d, va_arg(ap, enum doc_msg));
	va_end(ap);
}

static void
text(struct doc_table *t, size_t r, size_t c, const char *s)
{
	if (t->cells == NULL)
		return;
	DOC_CELL(t, r, c)->kind = CELL_TEXT;
	DOC_CELL(t, r, c)->text = s;
}

static void
num(struct doc_table *t, size_t r, size_t c, enum doc_cell_kind k, int64_t v)
{
	if (t->cells == NULL)
		return;
	DOC_CELL(t, r, c)->kind = k;
	DOC_CELL(t, r, c)->v = v;
}

void
doc_transfer(const struct doc *d, int *payer, int64_t *amount)
{
	/*
	 * The home side's share of the year is carried across by the
	 * province: the host side remits it (上解) and the home side is
	 * granted it (补助). A negative share (a guarantee the base did not
	 * cover the other way) reverses the direction.
	 */
	int64_t h = d->total.f[DOC_HOME];

	*payer = h >= 0 ? DOC_SIDE_HOST : DOC_SIDE_HOME;
	*amount = h >= 0 ? h : -h;
}

static const char *
code_label(const struct doc *d, struct doc_book *b, const char *code)
{
	const char *name = doc_code_name(d, code);

	if (name == code)
		return code;
	return book_printf(b, d->lang == DOCUMENT_ZH ? "%s（%s）" : "%s (%s)",
	    name, code);
}

static void
summary(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t = table_new(b, M_SEC_SUMMARY, 7, 3);

	head(d, t, M_ITEM, M_CONTENT, M_CODE);
	text(t, 0, 0, doc_msg(d, M_AGREEMENT));
	text(t, 0, 1, d->id);
	text(t, 1, 0, doc_msg(d, M_TITLE_ROW));
	text(t, 1, 1, d->title);
	text(t, 2, 0, doc_msg(d, M_YEAR));
	text(t, 2, 1, d->year);
	text(t, 3, 0, doc_msg(d, M_CADENCE));
	text(t, 3, 1, d->cadence);
	text(t, 4, 0, doc_msg(d, M_HOME_SIDE));
	text(t, 4, 1, d->home_name);
	text(t, 4, 2, d->home);
	text(t, 5, 0, doc_msg(d, M_HOST_SIDE));
	text(t, 5, 1, d->host_name);
	text(t, 5, 2, d->host);
	text(t, 6, 0, doc_msg(d, M_STATUS));
	text(t, 6, 1, doc_status(d));
}

static void
periods(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t = table_new(b, M_SEC_PERIODS, d->nper + 1, 7);
	int64_t adj = 0;
	int any = 0;

	head(d, t, M_PERIOD, M_TERM, M_BASE, M_HOME, M_HOST, M_TOPUP, M_ADJ);
	for (size_t i = 0; i < d->nper; i++) {
		const struct doc_period *p = &d->per[i];

		text(t, i, 0, p->period);
		text(t, i, 1, p->term);
		for (int f = 0; f < DOC_NFIELDS; f++)
			num(t, i, 2 + (size_t)f, CELL_AMOUNT, p->fig.f[f]);
		if (p->has_adj) {
			num(t, i, 6, CELL_AMOUNT, p->adj[1]);
			adj += p->adj[1];
			any = 1;
		}
	}
	text(t, d->nper, 0, doc_msg(d, M_TOTAL));
	for (int f = 0; f < DOC_NFIELDS; f++)
		num(t, d->nper, 2 + (size_t)f, CELL_AMOUNT, d->total.f[f]);
	if (any)
		num(t, d->nper, 6, CELL_AMOUNT, adj);
	t->total_row = 1;
}

static void
taxes(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t;
	size_t rows = 0, r = 0;

	for (size_t i = 0; i < d->nper; i++)
		if (d->per[i].has_detail)
			for (size_t k = 0; k <= d->ntax; k++)
				if (k == d->ntax ? d->per[i].deductions != 0 :
				    d->per[i].tax[k].present)
					rows++;
	if (rows == 0)
		return;
	/* Periods with detail but neither taxes nor deductions: no rows. */
	t = table_new(b, M_SEC_TAXES, rows, 5);
	head(d, t, M_PERIOD, M_TAX, M_AMOUNT, M_RETAIN, M_RETAINED);
	for (size_t i = 0; i < d->nper; i++) {
		const struct doc_period *p = &d->per[i];

		if (!p->has_detail)
			continue;
		for (size_t k = 0; k < d->ntax; k++) {
			if (!p->tax[k].present)
				continue;
			text(t, r, 0, p->period);
			text(t, r, 1, code_label(d, b, d->taxcode[k]));
			num(t, r, 2, CELL_AMOUNT, p->tax[k].amount);
			text(t, r, 3, p->tax[k].retain);
			num(t, r, 4, CELL_AMOUNT, p->tax[k].retained);
			r++;
		}
		/* Deductions come off the base: shown as a negative retained. */
		if (p->deductions == 0)
			continue;
		text(t, r, 0, p->period);
		text(t, r, 1, doc_msg(d, M_DEDUCTIONS));
		num(t, r, 2, CELL_AMOUNT, p->deductions);
		num(t, r, 4, CELL_AMOUNT, -p->deductions);
		r++;
	}
}

static void
statistics(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t;

	if (d->nstat == 0)
		return;
	t = table_new(b, M_SEC_STATS, d->nstat, 3);
	head(d, t, M_STAT, M_STAT_HOME, M_STAT_HOST);
	for (size_t i = 0; i < d->nstat; i++) {
		text(t, i, 0, code_label(d, b, d->stat[i]));
		num(t, i, 1, CELL_AMOUNT, d->total.stat[i][0]);
		num(t, i, 2, CELL_AMOUNT, d->total.stat[i][1]);
	}
}

static void
beneficiaries(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t;

	if (d->nben == 0)
		return;
	t = table_new(b, M_SEC_BEN, d->nben + 1, 2);
	head(d, t, M_BEN, M_BEN_AMOUNT);
	for (size_t i = 0; i < d->nben; i++) {
		text(t, i, 0, d->ben[i]);
		num(t, i, 1, CELL_AMOUNT, d->total.ben[i]);
	}
	text(t, d->nben, 0, doc_msg(d, M_TOTAL));
	num(t, d->nben, 1, CELL_AMOUNT, d->total.f[DOC_HOME]);
	t->total_row = 1;
}

static void
totals(const struct doc *d, struct doc_book *b)
{
	static const enum doc_msg names[DOC_NFIELDS] = {
		M_BASE, M_HOME, M_HOST, M_TOPUP,
	};
	struct doc_table *t = table_new(b, M_SEC_TOTALS, DOC_NFIELDS + 1, 3);
	char dx[DAXIE_BUFSZ];

	head(d, t, M_ITEM, M_YUAN, M_WANYUAN);
	for (int f = 0; f < DOC_NFIELDS; f++) {
		text(t, (size_t)f, 0, doc_msg(d, names[f]));
		num(t, (size_t)f, 1, CELL_AMOUNT, d->total.f[f]);
		num(t, (size_t)f, 2, CELL_WAN, d->total.f[f]);
	}
	if (daxie_format(d->total.f[DOC_HOME], dx, sizeof(dx)) != 0)
		dx[0] = '\0';	/* not reached: a §2 amount always fits */
	text(t, DOC_NFIELDS, 0, doc_msg(d, M_DAXIE));
	text(t, DOC_NFIELDS, 1, book_printf(b, "%s", dx));
}

static void
transfer(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t;
	int payer;
	int64_t amount;

	doc_transfer(d, &payer, &amount);
	if (amount == 0) {
		t = table_new(b, M_SEC_SETTLE, 1, 4);
		head(d, t, M_ITEM, M_TREASURY, M_CODE, M_YUAN);
		text(t, 0, 0, doc_msg(d, M_NOTHING_OWED));
		return;
	}
	t = table_new(b, M_SEC_SETTLE, 2, 4);
	head(d, t, M_ITEM, M_TREASURY, M_CODE, M_YUAN);
	text(t, 0, 0, doc_msg(d, M_REMIT_SHORT));
	text(t, 0, 1, payer == DOC_SIDE_HOST ? d->host_name : d->home_name);
	text(t, 0, 2, payer == DOC_SIDE_HOST ? d->host : d->home);
	num(t, 0, 3, CELL_AMOUNT, amount);
	text(t, 1, 0, doc_msg(d, M_GRANT_SHORT));
	text(t, 1, 1, payer == DOC_SIDE_HOST ? d->home_name : d->host_name);
	text(t, 1, 2, payer == DOC_SIDE_HOST ? d->home : d->host);
	num(t, 1, 3, CELL_AMOUNT, amount);
}

static void
approvals(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t = table_new(b, M_SEC_APPROVAL, 2, 7);

	head(d, t, M_SIDE, M_TREASURY, M_CODE, M_STATUS, M_TIME, M_ENTRY,
	    M_APPROVED_HASH);
	for (int s = 0; s < 2; s++) {
		const struct doc_approval *a = &d->approval[s];
		int host = s == DOC_SIDE_HOST;

		text(t, (size_t)s, 0, doc_msg(d, host ? M_HOST_SIDE :
		    M_HOME_SIDE));
		text(t, (size_t)s, 1, host ? d->host_name : d->home_name);
		text(t, (size_t)s, 2, host ? d->host : d->home);
		if (!a->present) {
			text(t, (size_t)s, 3, doc_msg(d, M_PENDING));
			continue;
		}
		text(t, (size_t)s, 3, doc_msg(d, a->current ? M_APPROVED_AT :
		    M_STALE));
		text(t, (size_t)s, 4, a->time);
		num(t, (size_t)s, 5, CELL_INT, a->index);
		text(t, (size_t)s, 6, a->statement);
	}
}

static void
check(const struct doc *d, struct doc_book *b)
{
	struct doc_table *t = table_new(b, M_SEC_CHECK, 4, 2);

	head(d, t, M_ITEM, M_CONTENT);
	text(t, 0, 0, doc_msg(d, M_HASH));
	text(t, 0, 1, d->sha256);
	text(t, 1, 0, doc_msg(d, M_CP_ORIGIN));
	text(t, 2, 0, doc_msg(d, M_CP_SIZE));
	text(t, 3, 0, doc_msg(d, M_CP_ROOT));
	if (!d->has_checkpoint) {
		text(t, 1, 1, doc_msg(d, M_NO_CHECKPOINT));
		return;
	}
	text(t, 1, 1, d->cp_origin);
	num(t, 2, 1, CELL_INT, d->cp_size);
	text(t, 3, 1, d->cp_root);
}

int
doc_book_build(const struct doc *d, struct doc_book *b)
{
	memset(b, 0, sizeof(*b));
	summary(d, b);
	periods(d, b);
	taxes(d, b);
	statistics(d, b);
	beneficiaries(d, b);
	totals(d, b);
	transfer(d, b);
	approvals(d, b);
	check(d, b);
	return b->failed ? -1 : 0;
}

void
doc_book_free(struct doc_book *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->t[i].cells);
	for (size_t i = 0; i < b->nstrs; i++)
		free(b->strs[i]);
	free(b->strs);
	memset(b, 0, sizeof(*b));
}

const char *
doc_cell_text(const struct doc_cell *c, char *buf)
{
	switch (c->kind) {
	case CELL_TEXT:
		return c->text;
	case CELL_AMOUNT:
		return doc_amount_grouped(c->v, buf);
	case CELL_WAN:
		return doc_amount_wan(c->v, buf);
	case CELL_INT:
		snprintf(buf, MONEY_BUFSZ, "%lld", (long long)c->v);
		return buf;
	case CELL_EMPTY:
		break;
	}
	return "";
}
