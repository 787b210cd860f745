/*
 * document_csv: the statement as CSV that Excel on a Chinese Windows opens
 * as it is: UTF-8 with a byte-order mark (without it Excel reads GBK), CRLF
 * line ends and RFC 4180 quoting. The sections follow one another, each a
 * title line, a header line and its rows, with an empty line between.
 *
 * Formula injection: a cell Excel would read as a formula (beginning with
 * = + - @, or a tab or CR) gets a leading apostrophe, for free text only:
 * titles, names, ids, times. Amounts are never altered: they come from the
 * checked model as §2 strings (-?digits.digits), so "-12.30" is a number to
 * Excel, never a formula, and must stay one.
 */
#include <string.h>

#include "shanhai/textbuf.h"

#include "document_impl.h"

static void
put_text(struct textbuf *out, const char *s)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;

	if (strchr("=+-@\t\r", *s) != NULL && *s != '\0') {
		quote = 1;
		textbuf_add(out, "\"'", 2);
	} else if (quote)
		textbuf_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			textbuf_add(out, "\"", 1);
		textbuf_add(out, s, 1);
	}
	if (quote)
		textbuf_add(out, "\"", 1);
}

static void
put_cell(struct textbuf *out, const struct doc_cell *c)
{
	char buf[MONEY_BUFSZ];

	switch (c->kind) {
	case CELL_EMPTY:
		break;
	case CELL_TEXT:
		put_text(out, c->text);
		break;
	case CELL_AMOUNT:
		textbuf_puts(out, money_format(c->v, buf));
		break;
	case CELL_WAN:
		textbuf_puts(out, doc_amount_wan(c->v, buf));
		break;
	case CELL_INT:
		textbuf_printf(out, "%lld", (long long)c->v);
		break;
	}
}

int
doc_write_csv(const struct doc *d, struct textbuf *out, char *err,
    size_t errlen)
{
	struct textbuf title = TEXTBUF_INIT;
	struct doc_book b;

	if (doc_book_build(d, &b) != 0) {
		doc_book_free(&b);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	textbuf_add(out, "\xef\xbb\xbf", 3);
	/* The document's title as the first line, like the PDF's. */
	textbuf_printf(&title, doc_msg(d, M_TITLE), d->title, d->year);
	put_text(out, title.p != NULL ? title.p : "");
	textbuf_release(&title);
	textbuf_add(out, "\r\n", 2);
	for (size_t i = 0; i < b.n; i++) {
		const struct doc_table *t = &b.t[i];

		textbuf_add(out, "\r\n", 2);
		put_text(out, doc_msg(d, t->title));
		textbuf_add(out, "\r\n", 2);
		for (size_t c = 0; c < t->ncols; c++) {
			if (c > 0)
				textbuf_add(out, ",", 1);
			put_text(out, t->head[c]);
		}
		textbuf_add(out, "\r\n", 2);
		for (size_t r = 0; r < t->nrows; r++) {
			for (size_t c = 0; c < t->ncols; c++) {
				if (c > 0)
					textbuf_add(out, ",", 1);
				put_cell(out, DOC_CELL(t, r, c));
			}
			textbuf_add(out, "\r\n", 2);
		}
	}
	doc_book_free(&b);
	return 0;
}
