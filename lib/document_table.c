/*
 * document_table: the statement as text tables for a terminal. Columns are
 * aligned by display width (a CJK character takes two cells), amounts are
 * right-aligned with thousands separators.
 */
#include <stdio.h>
#include <string.h>

#include "shanhai/textbuf.h"

#include "document_impl.h"

static void
pad(struct textbuf *out, size_t n)
{
	while (n-- > 0)
		textbuf_add(out, " ", 1);
}

static void
put_table(const struct doc *d, const struct doc_table *t, struct textbuf *out)
{
	size_t w[8] = { 0 };
	int right[8] = { 0 }, text[8] = { 0 };
	char buf[MONEY_BUFSZ];

	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = doc_text_width(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			const struct doc_cell *x = DOC_CELL(t, r, c);
			size_t cw = doc_text_width(doc_cell_text(x, buf));

			if (cw > w[c])
				w[c] = cw;
			if (x->kind == CELL_TEXT)
				text[c] = 1;
			else if (x->kind != CELL_EMPTY)
				right[c] = 1;
		}
		right[c] = right[c] && !text[c];
	}
	textbuf_printf(out, "\n%s\n", doc_msg(d, t->title));
	for (size_t r = 0; r <= t->nrows; r++) {
		struct textbuf line = TEXTBUF_INIT;

		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c] :
			    doc_cell_text(DOC_CELL(t, r - 1, c), buf);
			size_t sw = doc_text_width(s);

			if (c > 0)
				textbuf_add(&line, "  ", 2);
			if (right[c])
				pad(&line, w[c] - sw);
			textbuf_puts(&line, s);
			if (!right[c] && c + 1 < t->ncols)
				pad(&line, w[c] - sw);
		}
		/* No trailing blanks. */
		while (line.len > 0 && line.p[line.len - 1] == ' ')
			line.p[--line.len] = '\0';
		if (line.p != NULL)
			textbuf_add(out, line.p, line.len);
		textbuf_add(out, "\n", 1);
		textbuf_release(&line);
	}
}

int
doc_write_table(const struct doc *d, struct textbuf *out, char *err,
    size_t errlen)
{
	struct doc_book b;

	if (doc_book_build(d, &b) != 0) {
		doc_book_free(&b);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	textbuf_printf(out, doc_msg(d, M_TITLE), d->title, d->year);
	textbuf_add(out, "\n", 1);
	for (size_t i = 0; i < b.n; i++)
		put_table(d, &b.t[i], out);
	doc_book_free(&b);
	return 0;
}
