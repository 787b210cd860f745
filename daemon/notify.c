/*
 * notify: sd_notify(3) messages and the watchdog timer (see notify.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "shanhai/log.h"
#include "shanhai/notify.h"

struct notify {
	struct event	*watchdog;
};

static void
send_state(const char *state, const char *fmt, va_list ap)
{
	char status[512];
	int rc;

	vsnprintf(status, sizeof(status), fmt, ap);
	rc = sd_notifyf(0, "%s%sSTATUS=%s", state ? state : "",
	    state ? "\n" : "", status);
	if (rc < 0)
		log_warnx("sd_notify: %s", strerror(-rc));
}

#define NOTIFY_FN(name, state)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	send_state(state, fmt, ap);			\
	va_end(ap);					\
}
NOTIFY_FN(notify_ready, "READY=1")
NOTIFY_FN(notify_stopping, "STOPPING=1")
NOTIFY_FN(notify_status, NULL)

void
notify_reloading(const char *fmt, ...)
{
	char state[64];
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	va_start(ap, fmt);
	send_state(state, fmt, ap);
	va_end(ap);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	int rc = sd_notify(0, "WATCHDOG=1");

	if (rc < 0)
		log_warnx("sd_notify WATCHDOG=1: %s", strerror(-rc));
}

struct notify *
notify_new(struct event_base *base)
{
	struct notify *n = calloc(1, sizeof(*n));
	uint64_t usec = 0;
	struct timeval tv;

	if (n == NULL)
		return NULL;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return n;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	n->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, n);
	if (n->watchdog == NULL || event_add(n->watchdog, &tv) == -1) {
		notify_free(n);
		return NULL;
	}
	log_info("watchdog: pinging systemd every %lld.%03lld s",
	    (long long)tv.tv_sec, (long long)tv.tv_usec / 1000);
	return n;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->watchdog != NULL)
		event_free(n->watchdog);
	free(n);
}
