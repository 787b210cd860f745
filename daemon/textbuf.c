/*
 * textbuf: the slow path of the growing string used by the JSON writers.
 */
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
