/*
 * textbuf: the slow path of the growing string used by the JSON writers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/textbuf.h"

void
textbuf_grow(struct textbuf *b, const void *s, size_t n)
{
	size_t cap;
	char *np;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 1024;
		while (b->len + n + 1 > cap) {
			if (cap > (size_t)-1 / 2) {
				b->failed = 1;
				return;
			}
			cap *= 2;
		}
		if ((np = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
textbuf_release(struct textbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		textbuf_add(b, small, (size_t)n);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		b->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	textbuf_add(b, big, (size_t)n);
	free(big);
}
