/*
 * notify: the daemon's side of sd_notify(3) (libsystemd). Every call is a
 * no-op when NOTIFY_SOCKET is unset, so the daemon runs the same in a
 * terminal. STATUS= texts are for people: `systemctl status` shows them.
 */
#ifndef SHANHAI_NOTIFY_H
#define SHANHAI_NOTIFY_H

struct event_base;
struct notify;

/*
 * Starts the watchdog: when systemd asked for one (sd_watchdog_enabled),
 * sends WATCHDOG=1 from a timer on base at half of WatchdogSec. Returns a
 * handle to free with notify_free() (also when no watchdog was asked for),
 * or NULL when out of memory.
 */
struct notify	*notify_new(struct event_base *base);
void		 notify_free(struct notify *n);

/* READY=1 with a status line; only once the daemon serves. */
void		 notify_ready(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/* RELOADING=1 and MONOTONIC_USEC=now, with a status line. */
void		 notify_reloading(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/* STOPPING=1 with a status line. */
void		 notify_stopping(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/* A status line alone. */
void		 notify_status(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

#endif
