/*
 * errbuf: the one way a module writes its reason for a refusal into the
 * caller's buffer (char *err, size_t errlen, the convention of every
 * module that can refuse). Pure: no I/O.
 */
#ifndef SHANHAI_ERRBUF_H
#define SHANHAI_ERRBUF_H

#include <stddef.h>

/*
 * Formats the reason into err (truncated to errlen, always terminated);
 * does nothing when err is NULL or errlen 0. Returns -1, so that a
 * refusal reads `return seterr(err, errlen, "...");`.
 */
int	seterr(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
