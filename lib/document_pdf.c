/*
 * document_pdf: the statement as an A4 PDF for filing, drawn with cairo
 * and laid out with pango; Chinese set in Noto CJK (Debian fonts-noto-cjk),
 * serif for the text as in government documents, sans for headings. cairo
 * embeds the subset of each font the document uses, so the file prints the
 * same anywhere. The sections are those of document_book.c; the header,
 * the sentences of the remittance and subsidy, the approval blocks and the
 * verification block are drawn here.
 */
#include <stdio.h>
#include <string.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

#include "shanhai/daxie.h"
#include "shanhai/textbuf.h"

#include "document_impl.h"

#define PAGE_W		595.276		/* A4 in points */
#define PAGE_H		841.890
#define MARGIN_X	56.0		/* about 2 cm */
#define MARGIN_TOP	56.0
#define MARGIN_BOTTOM	64.0
#define TEXT_W		(PAGE_W - 2 * MARGIN_X)
#define ROW_H		16.0
#define CELL_PAD	3.0

#define FONT_TEXT	"Noto Serif CJK SC 8"
#define FONT_TEXT_BOLD	"Noto Serif CJK SC Bold 8"
#define FONT_BODY	"Noto Serif CJK SC 10"
#define FONT_HEAD	"Noto Sans CJK SC Bold 11"
#define FONT_TITLE	"Noto Serif CJK SC Bold 17"
#define FONT_SMALL	"Noto Sans CJK SC 7.5"
#define FONT_MONO	"Noto Sans Mono CJK SC 8"

/* Official red, as the rule under a government document's heading. */
#define RED		0.78, 0.06, 0.08

struct pdf {
	const struct doc	*d;
	cairo_surface_t		*surface;
	cairo_t			*cr;
	double			 y;
	int			 page;
};

static cairo_status_t
write_out(void *closure, const unsigned char *data, unsigned int len)
{
	struct textbuf *out = closure;

	textbuf_add(out, data, len);
	return out->failed ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

/* A layout of text in font, wrapped at width (none when width <= 0). */
static PangoLayout *
layout(struct pdf *p, const char *text, const char *font, double width,
    PangoAlignment align)
{
	PangoLayout *l = pango_cairo_create_layout(p->cr);
	PangoFontDescription *fd = pango_font_description_from_string(font);

	pango_layout_set_font_description(l, fd);
	pango_font_description_free(fd);
	if (width > 0) {
		pango_layout_set_width(l, (int)(width * PANGO_SCALE));
		pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	}
	pango_layout_set_alignment(l, align);
	pango_layout_set_text(l, text, -1);
	return l;
}

static void
layout_size(PangoLayout *l, double *w, double *h)
{
	int lw, lh;

	pango_layout_get_size(l, &lw, &lh);
	if (w != NULL)
		*w = (double)lw / PANGO_SCALE;
	if (h != NULL)
		*h = (double)lh / PANGO_SCALE;
}

/* Draws text at (x, y) in font; returns its height. */
static double
draw_text(struct pdf *p, double x, double y, const char *text,
    const char *font, double width, PangoAlignment align)
{
	PangoLayout *l = layout(p, text, font, width, align);
	double h;

	layout_size(l, NULL, &h);
	cairo_move_to(p->cr, x, y);
	pango_cairo_show_layout(p->cr, l);
	g_object_unref(l);
	return h;
}

static double
text_width(struct pdf *p, const char *text, const char *font)
{
	PangoLayout *l = layout(p, text, font, 0, PANGO_ALIGN_LEFT);
	double w;

	layout_size(l, &w, NULL);
	g_object_unref(l);
	return w;
}

static void
footer(struct pdf *p)
{
	struct textbuf t = TEXTBUF_INIT;
	char page[64];

	cairo_set_source_rgb(p->cr, 0.35, 0.35, 0.35);
	cairo_set_line_width(p->cr, 0.4);
	cairo_move_to(p->cr, MARGIN_X, PAGE_H - MARGIN_BOTTOM + 14);
	cairo_line_to(p->cr, PAGE_W - MARGIN_X, PAGE_H - MARGIN_BOTTOM + 14);
	cairo_stroke(p->cr);
	textbuf_printf(&t, "%s  %.16s…", doc_msg(p->d, M_HASH), p->d->sha256);
	draw_text(p, MARGIN_X, PAGE_H - MARGIN_BOTTOM + 18, t.p ? t.p : "",
	    FONT_SMALL, 0, PANGO_ALIGN_LEFT);
	snprintf(page, sizeof(page), doc_msg(p->d, M_PAGE), p->page);
	draw_text(p, MARGIN_X, PAGE_H - MARGIN_BOTTOM + 18, page, FONT_SMALL,
	    TEXT_W, PANGO_ALIGN_RIGHT);
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	textbuf_release(&t);
}

static void
new_page(struct pdf *p)
{
	footer(p);
	cairo_show_page(p->cr);
	p->page++;
	p->y = MARGIN_TOP;
}

/* Starts a new page unless h more points fit on this one. */
static void
need(struct pdf *p, double h)
{
	if (p->y + h > PAGE_H - MARGIN_BOTTOM)
		new_page(p);
}

static void
heading(struct pdf *p, enum doc_msg m)
{
	need(p, 24 + 3 * ROW_H);	/* never a heading alone at the foot */
	p->y += 8;
	p->y += draw_text(p, MARGIN_X, p->y, doc_msg(p->d, m), FONT_HEAD, 0,
	    PANGO_ALIGN_LEFT) + 4;
}

/* The height of the header row: its names may wrap to two lines or more. */
static double
head_height(struct pdf *p, const struct doc_table *t, const double *w)
{
	double h = ROW_H;

	for (size_t c = 0; c < t->ncols; c++) {
		PangoLayout *l = layout(p, t->head[c], FONT_TEXT_BOLD,
		    w[c] - 2 * CELL_PAD, PANGO_ALIGN_CENTER);
		double lh;

		layout_size(l, NULL, &lh);
		g_object_unref(l);
		if (lh + 4 > h)
			h = lh + 4;
	}
	return h;
}

static void
table_row(struct pdf *p, const struct doc_table *t, const double *w,
    const int *right, ssize_t r, int bold, double rh)
{
	char buf[MONEY_BUFSZ];
	double x = MARGIN_X;

	if (r < 0 || bold) {
		cairo_set_source_rgb(p->cr, r < 0 ? 0.88 : 0.95,
		    r < 0 ? 0.90 : 0.95, r < 0 ? 0.94 : 0.95);
		cairo_rectangle(p->cr, MARGIN_X, p->y, TEXT_W, rh);
		cairo_fill(p->cr);
		cairo_set_source_rgb(p->cr, 0, 0, 0);
	}
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = r < 0 ? t->head[c] :
		    doc_cell_text(DOC_CELL(t, (size_t)r, c), buf);
		PangoAlignment a = r < 0 ? PANGO_ALIGN_CENTER : right[c] ?
		    PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT;
		PangoLayout *l = layout(p, s, r < 0 || bold ? FONT_TEXT_BOLD :
		    FONT_TEXT, w[c] - 2 * CELL_PAD, a);
		double lh;

		/* Centred in the row, as the grid of a printed form. */
		layout_size(l, NULL, &lh);
		cairo_move_to(p->cr, x + CELL_PAD, p->y + (rh - lh) / 2);
		pango_cairo_show_layout(p->cr, l);
		g_object_unref(l);
		x += w[c];
	}
	/* The grid: a line under the row and between the columns. */
	cairo_set_line_width(p->cr, 0.5);
	cairo_rectangle(p->cr, MARGIN_X, p->y, TEXT_W, rh);
	x = MARGIN_X;
	for (size_t c = 0; c + 1 < t->ncols; c++) {
		x += w[c];
		cairo_move_to(p->cr, x, p->y);
		cairo_line_to(p->cr, x, p->y + rh);
	}
	cairo_stroke(p->cr);
	p->y += rh;
}

/*
 * A table across the text width. Each column gets the width of its widest
 * cell, so no figure ever wraps; the header names get theirs too when all
 * fit, else they wrap. The room left is shared out in proportion. The
 * header row is repeated on each page the table runs onto. rows: how many
 * of the table's rows to draw. A column is right-aligned when every cell
 * of it that is not empty is a number.
 */
static void
table(struct pdf *p, const struct doc_table *t, size_t rows)
{
	double w[8] = { 0 }, hw[8] = { 0 }, sum = 0, hsum = 0, hh;
	int right[8] = { 0 };
	char buf[MONEY_BUFSZ];

	for (size_t c = 0; c < t->ncols; c++) {
		int text = 0, numbers = 0;

		hw[c] = text_width(p, t->head[c], FONT_TEXT_BOLD) +
		    2 * CELL_PAD + 2;
		for (size_t r = 0; r < rows; r++) {
			const struct doc_cell *x = DOC_CELL(t, r, c);
			double cw;

			if (x->kind == CELL_EMPTY)
				continue;
			cw = text_width(p, doc_cell_text(x, buf), FONT_TEXT_BOLD);
			if (cw > w[c])
				w[c] = cw;
			if (x->kind == CELL_TEXT)
				text = 1;
			else
				numbers = 1;
		}
		right[c] = numbers && !text;
		w[c] += 2 * CELL_PAD + 2;
		if (hw[c] < w[c])
			hw[c] = w[c];
		sum += w[c];
		hsum += hw[c];
	}
	if (hsum <= TEXT_W) {
		for (size_t c = 0; c < t->ncols; c++)
			w[c] = hw[c] * TEXT_W / hsum;
	} else if (sum > TEXT_W) {
		/* Not reached with a year's figures: shrink, and wrap. */
		for (size_t c = 0; c < t->ncols; c++)
			w[c] *= TEXT_W / sum;
	} else {
		/* The figures keep their width; the names share the rest. */
		double extra = TEXT_W - sum, want = hsum - sum;

		for (size_t c = 0; c < t->ncols; c++)
			w[c] += extra > 0 ? (hw[c] - w[c]) * extra / want : 0;
	}
	hh = head_height(p, t, w);
	need(p, hh + ROW_H);
	table_row(p, t, w, right, -1, 0, hh);
	for (size_t r = 0; r < rows; r++) {
		if (p->y + ROW_H > PAGE_H - MARGIN_BOTTOM) {
			new_page(p);
			table_row(p, t, w, right, -1, 0, hh);
		}
		table_row(p, t, w, right, (ssize_t)r, t->total_row &&
		    r + 1 == t->nrows, ROW_H);
	}
	p->y += 2;
}

/* "name（code）", or the code alone when the bureau has no name. */
static void
side_label(const struct doc *d, int host, struct textbuf *t)
{
	const char *name = host ? d->host_name : d->home_name;
	const char *code = host ? d->host : d->home;

	if (name == code)
		textbuf_puts(t, code);
	else
		textbuf_printf(t, d->lang == DOCUMENT_ZH ? "%s（%s）" :
		    "%s (%s)", name, code);
}

static void
header(struct pdf *p)
{
	const struct doc *d = p->d;
	struct textbuf t = TEXTBUF_INIT;

	p->y += draw_text(p, MARGIN_X, p->y, doc_msg(d, M_SUBTITLE),
	    FONT_SMALL, TEXT_W, PANGO_ALIGN_CENTER) + 6;
	textbuf_printf(&t, doc_msg(d, M_TITLE), d->title, d->year);
	p->y += draw_text(p, MARGIN_X, p->y, t.p ? t.p : "", FONT_TITLE,
	    TEXT_W, PANGO_ALIGN_CENTER) + 6;
	textbuf_release(&t);
	/* The red rule of an official document: a thick and a thin line. */
	cairo_set_source_rgb(p->cr, RED);
	cairo_set_line_width(p->cr, 1.8);
	cairo_move_to(p->cr, MARGIN_X, p->y);
	cairo_line_to(p->cr, PAGE_W - MARGIN_X, p->y);
	cairo_stroke(p->cr);
	cairo_set_line_width(p->cr, 0.6);
	cairo_move_to(p->cr, MARGIN_X, p->y + 3);
	cairo_line_to(p->cr, PAGE_W - MARGIN_X, p->y + 3);
	cairo_stroke(p->cr);
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	p->y += 12;

	/* Both bureaus by name and code; the agreement, the year, the status. */
	{
		const char *sep = d->lang == DOCUMENT_ZH ? "：" : ": ";
		double h1, h2;

		textbuf_printf(&t, "%s%s", doc_msg(d, M_HOME_SIDE), sep);
		side_label(d, 0, &t);
		textbuf_printf(&t, "\n%s%s", doc_msg(d, M_HOST_SIDE), sep);
		side_label(d, 1, &t);
		h1 = draw_text(p, MARGIN_X, p->y, t.p ? t.p : "", FONT_BODY,
		    TEXT_W * 0.6, PANGO_ALIGN_LEFT);
		textbuf_release(&t);
		textbuf_printf(&t, "%s%s%s\n%s%s%s\n%s%s%s",
		    doc_msg(d, M_AGREEMENT), sep, d->id, doc_msg(d, M_YEAR),
		    sep, d->year, doc_msg(d, M_STATUS), sep, doc_status(d));
		h2 = draw_text(p, MARGIN_X + TEXT_W * 0.6, p->y, t.p ? t.p :
		    "", FONT_BODY, TEXT_W * 0.4, PANGO_ALIGN_LEFT);
		textbuf_release(&t);
		p->y += (h1 > h2 ? h1 : h2) + 4;
	}
}

static void
daxie_box(struct pdf *p)
{
	const struct doc *d = p->d;
	struct textbuf t = TEXTBUF_INIT;
	char dx[DAXIE_BUFSZ];
	double h;

	if (daxie_format(d->total.f[DOC_HOME], dx, sizeof(dx)) != 0)
		dx[0] = '\0';	/* not reached: a §2 amount always fits */
	textbuf_printf(&t, "%s %s", doc_msg(d, M_DAXIE), dx);
	need(p, 34);
	p->y += 8;
	h = draw_text(p, MARGIN_X + 8, p->y + 5, t.p ? t.p : "",
	    FONT_HEAD, TEXT_W - 16, PANGO_ALIGN_LEFT);
	cairo_set_line_width(p->cr, 0.8);
	cairo_rectangle(p->cr, MARGIN_X, p->y, TEXT_W, h + 10);
	cairo_stroke(p->cr);
	p->y += h + 14;
	textbuf_release(&t);
}

static void
transfer(struct pdf *p)
{
	const struct doc *d = p->d;
	struct textbuf t = TEXTBUF_INIT, from = TEXTBUF_INIT, to = TEXTBUF_INIT;
	char amt[MONEY_BUFSZ];
	int64_t amount;
	int payer;

	heading(p, M_SEC_SETTLE);
	doc_transfer(d, &payer, &amount);
	if (amount == 0) {
		p->y += draw_text(p, MARGIN_X, p->y, doc_msg(d,
		    M_NOTHING_OWED), FONT_BODY, TEXT_W, PANGO_ALIGN_LEFT) + 4;
		return;
	}
	doc_amount_grouped(amount, amt);
	side_label(d, payer == DOC_SIDE_HOST, &from);
	side_label(d, payer != DOC_SIDE_HOST, &to);
	textbuf_printf(&t, doc_msg(d, M_REMIT), from.p ? from.p : "", amt);
	textbuf_add(&t, "\n", 1);
	textbuf_printf(&t, doc_msg(d, M_GRANT), to.p ? to.p : "", amt);
	textbuf_release(&from);
	textbuf_release(&to);
	p->y += draw_text(p, MARGIN_X, p->y, t.p ? t.p : "", FONT_BODY,
	    TEXT_W, PANGO_ALIGN_LEFT) + 4;
	textbuf_release(&t);
}

/* Each side's approval in a block, as the two seals of a paper statement. */
static void
approvals(struct pdf *p)
{
	const struct doc *d = p->d;
	double bw = (TEXT_W - 16) / 2, bh = 96;

	heading(p, M_SEC_APPROVAL);
	need(p, bh + 4);
	for (int s = 0; s < 2; s++) {
		/* The host side on the left: it pays, it signs first. */
		const struct doc_approval *a = &d->approval[s];
		int host = s == DOC_SIDE_HOST;
		double x = MARGIN_X + (double)s * (bw + 16), y = p->y + 6;
		struct textbuf t = TEXTBUF_INIT;

		cairo_set_line_width(p->cr, 0.6);
		cairo_rectangle(p->cr, x, p->y, bw, bh);
		cairo_stroke(p->cr);
		textbuf_printf(&t, "%s%s", doc_msg(d, host ? M_HOST_SIDE :
		    M_HOME_SIDE), d->lang == DOCUMENT_ZH ? "：" : ": ");
		side_label(d, host, &t);
		y += draw_text(p, x + 8, y, t.p ? t.p : "", FONT_TEXT_BOLD,
		    bw - 16, PANGO_ALIGN_LEFT) + 4;
		textbuf_release(&t);
		if (!a->present)
			textbuf_printf(&t, "%s", doc_msg(d, M_PENDING));
		else
			textbuf_printf(&t, "%s\n%s %s\n%s %lld", doc_msg(d,
			    a->current ? M_APPROVED_AT : M_STALE),
			    doc_msg(d, M_TIME), a->time, doc_msg(d, M_ENTRY),
			    a->index);
		draw_text(p, x + 8, y, t.p ? t.p : "", a->present &&
		    a->current ? FONT_BODY : FONT_HEAD, bw - 16,
		    PANGO_ALIGN_LEFT);
		textbuf_release(&t);
		draw_text(p, x + 8, p->y + bh - 18, doc_msg(d, M_SEAL),
		    FONT_SMALL, bw - 16, PANGO_ALIGN_RIGHT);
	}
	p->y += bh + 6;
}

static void
verification(struct pdf *p)
{
	const struct doc *d = p->d;
	struct textbuf t = TEXTBUF_INIT;

	heading(p, M_SEC_CHECK);
	need(p, 70);
	textbuf_printf(&t, "%s\n  %s\n", doc_msg(d, M_HASH), d->sha256);
	if (d->has_checkpoint)
		textbuf_printf(&t, "%s  %s\n%s  %lld\n%s  %s",
		    doc_msg(d, M_CP_ORIGIN), d->cp_origin, doc_msg(d,
		    M_CP_SIZE), d->cp_size, doc_msg(d, M_CP_ROOT), d->cp_root);
	else
		textbuf_puts(&t, doc_msg(d, M_NO_CHECKPOINT));
	p->y += draw_text(p, MARGIN_X, p->y, t.p ? t.p : "", FONT_MONO,
	    TEXT_W, PANGO_ALIGN_LEFT) + 8;
	textbuf_release(&t);
	need(p, 20);
	p->y += draw_text(p, MARGIN_X, p->y, doc_msg(d, M_NOTE), FONT_SMALL,
	    TEXT_W, PANGO_ALIGN_LEFT);
}

int
doc_write_pdf(const struct doc *d, struct textbuf *out, char *err,
    size_t errlen)
{
	struct textbuf title = TEXTBUF_INIT;
	struct pdf p;
	struct doc_book b;
	cairo_status_t st;

	if (doc_book_build(d, &b) != 0) {
		doc_book_free(&b);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.d = d;
	p.page = 1;
	p.y = MARGIN_TOP;
	p.surface = cairo_pdf_surface_create_for_stream(write_out, out,
	    PAGE_W, PAGE_H);
	p.cr = cairo_create(p.surface);
	textbuf_printf(&title, doc_msg(d, M_TITLE), d->title, d->year);
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_TITLE,
	    title.p ? title.p : "");
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_SUBJECT,
	    d->sha256);
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_CREATOR,
	    "shanhai");
	{
		/*
		 * Dated by the latest approval when there is one, not the
		 * clock: the same approved statement gives the same bytes.
		 */
		const char *t = NULL;

		for (int s = 0; s < 2; s++)
			if (d->approval[s].present && (t == NULL ||
			    strcmp(d->approval[s].time, t) > 0))
				t = d->approval[s].time;
		if (t != NULL)
			cairo_pdf_surface_set_metadata(p.surface,
			    CAIRO_PDF_METADATA_CREATE_DATE, t);
	}
	textbuf_release(&title);

	header(&p);
	for (size_t i = 0; i < b.n; i++) {
		const struct doc_table *t = &b.t[i];

		switch (t->title) {
		case M_SEC_SUMMARY:
			break;	/* the header says it */
		case M_SEC_TOTALS:
			/* The totals and their 大写 stay on one page. */
			need(&p, 40 + (double)(t->nrows + 1) * ROW_H + 44);
			heading(&p, t->title);
			table(&p, t, t->nrows - 1);	/* 大写 boxed below */
			daxie_box(&p);
			break;
		case M_SEC_SETTLE:
			transfer(&p);
			break;
		case M_SEC_APPROVAL:
			approvals(&p);
			break;
		case M_SEC_CHECK:
			verification(&p);
			break;
		default:
			heading(&p, t->title);
			table(&p, t, t->nrows);
			break;
		}
	}
	footer(&p);
	cairo_destroy(p.cr);
	cairo_surface_finish(p.surface);
	st = cairo_surface_status(p.surface);
	cairo_surface_destroy(p.surface);
	doc_book_free(&b);
	if (st != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "pdf: %s", out->failed ? "out of memory" :
		    cairo_status_to_string(st));
		return -1;
	}
	return 0;
}
