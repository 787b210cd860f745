/*
 * textbuf: a growing NUL-terminated byte string for the writers of canonical
 * JSON (canon, settle) and of the metrics text. A small value type:
 * zero-initialise it (TEXTBUF_INIT), append, then take .p (malloc'd, the
 * caller frees it) or free it with textbuf_release(). An allocation failure
 * sets .failed, after which appends do nothing; check it once at the end.
 * (Not "strbuf": libconfig exports strbuf_* symbols that ours would
 * interpose.)
 */
#ifndef SHANHAI_TEXTBUF_H
#define SHANHAI_TEXTBUF_H

#include <stddef.h>
#include <string.h>

struct textbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

#define TEXTBUF_INIT	{ NULL, 0, 0, 0 }

/* Appends n bytes, growing the buffer (the slow path of textbuf_add()). */
void	textbuf_grow(struct textbuf *b, const void *s, size_t n);
/* Frees the bytes and resets b. */
void	textbuf_release(struct textbuf *b);
/* Appends printf-formatted text. */
void	textbuf_printf(struct textbuf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Appends n bytes; inline because writers call it per token. */
static inline void
textbuf_add(struct textbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 <= b->cap) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
		return;
	}
	textbuf_grow(b, s, n);
}

/* Appends a NUL-terminated string. */
static inline void
textbuf_puts(struct textbuf *b, const char *s)
{
	textbuf_add(b, s, strlen(s));
}

#endif
