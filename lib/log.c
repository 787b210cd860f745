/*
 * log: stderr lines with sd-daemon priority prefixes (see log.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "shanhai/log.h"

/*
 * Set by the event loop on reload, read by every thread that logs (the
 * journal's writer, sync and checkpoint threads): atomic, relaxed, since
 * nothing else is ordered by it.
 */
static atomic_int log_level = LOG_LVL_INFO;
static const char *log_ident = NULL;

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

void
log_set_ident(const char *ident)
{
	log_ident = ident;
}

/* Emits one whole line with a single write so concurrent writers don't mix. */
static void
log_emit(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;

	if ((int)level > atomic_load_explicit(&log_level,
	    memory_order_relaxed))
		return;
	n = snprintf(line, sizeof(line), "<%d>%s%s", (int)level,
	    log_ident ? log_ident : "", log_ident ? ": " : "");
	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) < sizeof(line) ? n + m : (int)sizeof(line) - 1;
	if (suffix != NULL && (size_t)n < sizeof(line) - 1) {
		m = snprintf(line + n, sizeof(line) - (size_t)n, "%s", suffix);
		if (m > 0)
			n = (size_t)(n + m) < sizeof(line) ? n + m :
			    (int)sizeof(line) - 1;
	}
	/* Keep one event on one line: a newline inside would split it. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	fprintf(stderr, "%.*s\n", n, line);
}

void
log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	log_emit(level, NULL, fmt, ap);
}

void
log_warn(const char *fmt, ...)
{
	char suffix[256];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(ap, fmt);
	log_emit(LOG_LVL_WARNING, suffix, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_emit(level, NULL, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_warnx, LOG_LVL_WARNING)
LOG_FN(log_notice, LOG_LVL_NOTICE)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

void
log_crypto(const char *fmt, ...)
{
	char suffix[1024], buf[256];
	size_t len = 0;
	unsigned long e;
	va_list ap;

	suffix[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		int m = snprintf(suffix + len, sizeof(suffix) - len, ": %s",
		    buf);
		if (m < 0 || (size_t)m >= sizeof(suffix) - len)
			break;
		len += (size_t)m;
	}
	ERR_clear_error();
	va_start(ap, fmt);
	log_emit(LOG_LVL_WARNING, suffix, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char suffix[256];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, suffix, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
