/*
 * document_xlsx: the statement as an Excel workbook through libxlsxwriter,
 * one sheet per section of the PDF, named in the document's language, the
 * header row frozen, columns sized to their contents. Amounts are numbers
 * with a two-decimal format (never text), so a bureau can sum them.
 *
 * This libxlsxwriter (Debian 12's) writes only to a file: the workbook goes
 * to a temporary file of our own, is read back into the output and removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "shanhai/textbuf.h"

#include "document_impl.h"

/*
 * The double of an amount, built from the exact fen integer at the last
 * step. Exact enough: |fen| <= 999999999999999 < 2^53, so fen itself is an
 * exact double, and fen / 100.0 is the double nearest the true decimal
 * (IEEE division rounds correctly). A decimal of at most 15 significant
 * digits (13 + 2 here) survives the round trip through the nearest double
 * (DBL_DIG is 15), so Excel, which shows 15 significant digits, and any
 * reader rounding to two decimals get the ledger's amount to the fen.
 * tests/it/documents.sh checks every amount read back with openpyxl.
 */
static double
yuan(int64_t fen)
{
	return (double)fen / 100.0;
}

/* 万元, likewise: fen / 10^6, 15 significant digits at most. */
static double
wan(int64_t fen)
{
	return (double)fen / 1000000.0;
}

/* The first error of a sequence of calls. */
static void
keep(lxw_error *e, lxw_error x)
{
	if (*e == LXW_NO_ERROR)
		*e = x;
}

struct formats {
	lxw_format	*head;
	lxw_format	*text;
	lxw_format	*amount;
	lxw_format	*wan;
	lxw_format	*integer;
	lxw_format	*total_text;
	lxw_format	*total_amount;
	lxw_format	*title;
};

static lxw_format *
fmt_new(lxw_workbook *wb, const char *num, int bold, int fill)
{
	lxw_format *f = workbook_add_format(wb);

	format_set_font_name(f, "宋体");
	format_set_font_size(f, 11);
	format_set_border(f, LXW_BORDER_THIN);
	if (num != NULL)
		format_set_num_format(f, num);
	if (bold)
		format_set_bold(f);
	if (fill)
		format_set_bg_color(f, fill);
	format_set_align(f, LXW_ALIGN_VERTICAL_CENTER);
	return f;
}

static void
formats_new(lxw_workbook *wb, struct formats *f)
{
	f->head = fmt_new(wb, NULL, 1, 0xD9E1F2);
	format_set_align(f->head, LXW_ALIGN_CENTER);
	f->text = fmt_new(wb, NULL, 0, 0);
	f->amount = fmt_new(wb, "#,##0.00", 0, 0);
	f->wan = fmt_new(wb, "#,##0.000000", 0, 0);
	f->integer = fmt_new(wb, "0", 0, 0);
	f->total_text = fmt_new(wb, NULL, 1, 0xF2F2F2);
	f->total_amount = fmt_new(wb, "#,##0.00", 1, 0xF2F2F2);
	f->title = workbook_add_format(wb);
	format_set_bold(f->title);
	format_set_font_size(f->title, 14);
}

static lxw_error
put_sheet(const struct doc *d, lxw_workbook *wb, const struct formats *f,
    const struct doc_table *t)
{
	lxw_worksheet *ws;
	double w[8];
	char buf[MONEY_BUFSZ];
	lxw_error e = LXW_NO_ERROR;

	if ((ws = workbook_add_worksheet(wb, doc_msg(d, t->title))) == NULL)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = (double)doc_text_width(t->head[c]);
		keep(&e, worksheet_write_string(ws, 0, (lxw_col_t)c, t->head[c],
		    f->head));
	}
	for (size_t r = 0; r < t->nrows; r++) {
		int total = t->total_row && r + 1 == t->nrows;
		lxw_row_t row = (lxw_row_t)(r + 1);

		for (size_t c = 0; c < t->ncols; c++) {
			const struct doc_cell *x = DOC_CELL(t, r, c);
			lxw_col_t col = (lxw_col_t)c;
			double cw = 0;

			switch (x->kind) {
			case CELL_EMPTY:
				keep(&e, worksheet_write_blank(ws, row, col,
				    total ? f->total_text : f->text));
				break;
			case CELL_TEXT:
				keep(&e, worksheet_write_string(ws, row, col,
				    x->text, total ? f->total_text : f->text));
				cw = (double)doc_text_width(x->text);
				break;
			case CELL_AMOUNT:
				keep(&e, worksheet_write_number(ws, row, col,
				    yuan(x->v), total ? f->total_amount :
				    f->amount));
				cw = (double)doc_text_width(
				    doc_amount_grouped(x->v, buf));
				break;
			case CELL_WAN:
				keep(&e, worksheet_write_number(ws, row, col,
				    wan(x->v), f->wan));
				cw = (double)doc_text_width(
				    doc_amount_wan(x->v, buf)) + 1;
				break;
			case CELL_INT:
				keep(&e, worksheet_write_number(ws, row, col,
				    (double)x->v, f->integer));
				cw = 12;
				break;
			}
			if (cw > w[c])
				w[c] = cw;
		}
	}
	/* Between 8 and 70 characters, and room for the cell's borders. */
	for (size_t c = 0; c < t->ncols; c++)
		keep(&e, worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c,
		    (w[c] > 70 ? 70 : w[c] < 8 ? 8 : w[c]) + 2, NULL));
	worksheet_freeze_panes(ws, 1, 0);
	return e;
}

static int
read_back(const char *path, struct textbuf *out, char *err, size_t errlen)
{
	char buf[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1) {
		snprintf(err, errlen, "xlsx: %s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		textbuf_add(out, buf, (size_t)n);
	if (n < 0)
		snprintf(err, errlen, "xlsx: %s: %s", path, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}

int
doc_write_xlsx(const struct doc *d, struct textbuf *out, char *err,
    size_t errlen)
{
	struct textbuf title = TEXTBUF_INIT;
	lxw_doc_properties props;
	struct doc_book b;
	struct formats f;
	lxw_workbook *wb = NULL;
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	lxw_error e = LXW_NO_ERROR;
	int fd, rc = -1;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(path, sizeof(path), "%s/shanhai-xlsx.XXXXXX", tmp);
	if ((fd = mkstemp(path)) == -1) {
		snprintf(err, errlen, "xlsx: temporary file in %s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	close(fd);
	if (doc_book_build(d, &b) != 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if ((wb = workbook_new(path)) == NULL) {
		snprintf(err, errlen, "xlsx: cannot start a workbook");
		goto done;
	}
	textbuf_printf(&title, doc_msg(d, M_TITLE), d->title, d->year);
	memset(&props, 0, sizeof(props));
	props.title = title.p;
	props.subject = (char *)d->sha256;
	props.author = "shanhai";
	keep(&e, workbook_set_properties(wb, &props));
	formats_new(wb, &f);
	for (size_t i = 0; i < b.n; i++)
		keep(&e, put_sheet(d, wb, &f, &b.t[i]));
	keep(&e, workbook_close(wb));
	wb = NULL;
	if (e != LXW_NO_ERROR) {
		snprintf(err, errlen, "xlsx: %s", lxw_strerror(e));
		goto done;
	}
	rc = read_back(path, out, err, errlen);
done:
	textbuf_release(&title);
	doc_book_free(&b);
	unlink(path);
	return rc;
}
