/*
 * log: one line per event on stderr, with the <N> priority prefixes of
 * sd-daemon(3) so the journal keeps real levels. In the manner of OpenBSD's
 * log.c: the *_warn variants append strerror(errno), the *x variants do not;
 * log_crypto() drains OpenSSL's error queue into the same line.
 */
#ifndef SHANHAI_LOG_H
#define SHANHAI_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Lines above this level are dropped; default LOG_LVL_INFO. */
void	log_set_level(enum log_level level);
/* Name printed after the prefix when not under systemd (e.g. "shanhaid"). */
void	log_set_ident(const char *ident);

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning with OpenSSL's queued errors appended, and the queue cleared. */
void	log_crypto(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Level-explicit form used by the others and by per-connection loggers. */
void	log_vlog(enum log_level level, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));

/* Only before the daemon is ready: log at error level and exit(1). */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
