/*
 * server: the daemon's life: reload, signals, drain
 * (see server.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "shanhai/config.h"
#include "shanhai/http.h"
#include "shanhai/log.h"
#include "shanhai/notify.h"
#include "shanhai/server.h"

struct server {
	struct event_base	*base;
	struct server_gen	*gen;
	struct http		*http;
	struct notify		*notify;
	const struct server_module *const *modules;
	size_t			 nmodules;
	size_t			 nstarted;
	void			**states;
	struct event		*ev_hup;
	struct event		*ev_term;
	struct event		*ev_int;
	struct event		*ev_drain;
	struct timespec		 deadline;
	int			 stopping;
};

static char *
clock_of(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

/* "serving on A, B: 3 agreements, 9 clients" */
static void
describe(const struct server_gen *g, char *buf, size_t len)
{
	const struct config *c = server_gen_config(g);
	size_t used = 0;
	int m;

	m = snprintf(buf, len, "serving on");
	for (size_t i = 0; m > 0 && (size_t)m < len - used &&
	    i < config_listen_count(c); i++) {
		used += (size_t)m;
		m = snprintf(buf + used, len - used, "%s %s", i ? "," : "",
		    config_get0_listen(c, i));
	}
	if (m > 0 && (size_t)m < len - used) {
		used += (size_t)m;
		snprintf(buf + used, len - used, ": %zu agreement%s, %zu "
		    "client%s", server_gen_rules_count(g),
		    server_gen_rules_count(g) == 1 ? "" : "s",
		    config_client_count(c), config_client_count(c) == 1 ? "" :
		    "s");
	}
}

/* Root only: give the process to `user` once the sockets are bound. */
static int
drop_privileges(const struct config *c, char *err, size_t errlen)
{
	const char *user = config_get0_user(c);
	struct passwd *pw;

	if (geteuid() != 0) {
		if (user != NULL && ((pw = getpwnam(user)) == NULL ||
		    pw->pw_uid != geteuid()))
			log_info("not started as root: 'user' (%s) is not "
			    "needed", user);
		return 0;
	}
	if (user == NULL) {
		log_warnx("running as root: set 'user' to drop privileges");
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user '%s': %s", user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		snprintf(err, errlen, "user '%s': cannot switch: %s", user,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		snprintf(err, errlen, "user '%s': root came back", user);
		return -1;
	}
	log_info("running as user %s", user);
	return 0;
}

/*
 * Started as root, the daemon read the TLS key before it dropped to
 * `user`; a reload reads it again as `user`. A key only root can read
 * would have every reload refused: say so now, once, with the fix.
 */
static void
check_key_after_drop(const struct config *c)
{
	const char *key = config_get0_tls_key(c);
	int fd;

	if ((fd = open(key, O_RDONLY | O_CLOEXEC)) >= 0) {
		close(fd);
		return;
	}
	log_warnx("tls.key %s: user %s cannot read it (%s): every reload"
	    " (SIGHUP) will be refused until it can (e.g. chgrp the key to"
	    " the user's group and chmod g+r); a restart reads it as root",
	    key, config_get0_user(c), strerror(errno));
}

static void
report_restart_only(void *arg, const char *msg)
{
	log_warnx("reload: %s", msg);
}

int
server_reload(struct server *s, char *err, size_t errlen)
{
	const char *path = config_get0_path(server_gen_config(s->gen));
	struct server_gen *next, *old;
	char when[16], what[256];
	size_t i;

	log_info("reload: reading %s", path);
	notify_reloading("reloading %s", path);
	if ((next = server_gen_load(path, err, errlen)) == NULL)
		goto refused;
	server_gen_keep_restart_only(next, s->gen, report_restart_only, NULL);
	for (i = 0; i < s->nmodules; i++) {
		const struct server_module *m = s->modules[i];
		if (m->reload_check != NULL && m->reload_check(s,
		    s->states[i], next, err, errlen) == -1)
			goto vetoed;
	}
	for (i = 0; i < s->nmodules; i++) {
		const struct server_module *m = s->modules[i];
		if (m->reload_commit != NULL && m->reload_commit(s,
		    s->states[i], next, err, errlen) == -1)
			goto vetoed;
	}
	old = s->gen;
	s->gen = next;
	http_set_gen(s->http, next);
	server_gen_unref(old);
	log_set_level(config_log_level(server_gen_config(next)));
	describe(next, what, sizeof(what));
	log_info("reload: done; %s", what);
	notify_ready("%s (reloaded at %s)", what,
	    clock_of(server_gen_loaded_at(next), when, sizeof(when)));
	return 0;
vetoed:
	server_gen_unref(next);
	{
		/* Name the module that refused. */
		char why[1024];
		snprintf(why, sizeof(why), "%s: %s", s->modules[i]->name, err);
		snprintf(err, errlen, "%s", why);
	}
refused:
	clock_of(server_gen_loaded_at(s->gen), when, sizeof(when));
	/* One line per problem; the first says what was kept. */
	log_warnx("reload refused: keeping the configuration loaded at %s",
	    when);
	for (char *line = err, *nl; line != NULL && *line != '\0';
	    line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		log_warnx("reload refused: %.*s", nl ? (int)(nl - line) :
		    (int)strlen(line), line);
	}
	describe(s->gen, what, sizeof(what));
	notify_ready("%s (reload refused at %s; see the log)", what,
	    clock_of(time(NULL), when, sizeof(when)));
	return -1;
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	char err[4096];

	if (s->stopping) {
		log_info("reload: ignored while stopping");
		return;
	}
	(void)server_reload(s, err, sizeof(err));
}

static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct timespec now;

	if (http_inflight(s->http) == 0 && http_connections(s->http) == 0) {
		log_info("stopped: no request left in flight");
		event_base_loopexit(s->base, NULL);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > s->deadline.tv_sec || (now.tv_sec ==
	    s->deadline.tv_sec && now.tv_nsec >= s->deadline.tv_nsec)) {
		log_warnx("stopping: %zu request%s still in flight, %zu "
		    "connection%s open after limits.shutdown_timeout; exiting "
		    "without them", http_inflight(s->http),
		    http_inflight(s->http) == 1 ? "" : "s",
		    http_connections(s->http),
		    http_connections(s->http) == 1 ? "" : "s");
		event_base_loopexit(s->base, NULL);
	}
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	struct timeval tick = { 0, 20000 };

	if (s->stopping) {
		log_warnx("signal %d again: exiting now", (int)sig);
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->stopping = 1;
	log_info("signal %d: stopping; %zu request%s in flight, %zu "
	    "connection%s", (int)sig, http_inflight(s->http),
	    http_inflight(s->http) == 1 ? "" : "s", http_connections(s->http),
	    http_connections(s->http) == 1 ? "" : "s");
	notify_stopping("stopping: finishing %zu request%s in flight",
	    http_inflight(s->http), http_inflight(s->http) == 1 ? "" : "s");
	http_stop(s->http);
	for (size_t i = 0; i < s->nmodules; i++)
		if (s->modules[i]->stop != NULL)
			s->modules[i]->stop(s, s->states[i]);
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += config_shutdown_timeout(server_gen_config(s->gen));
	if ((s->ev_drain = event_new(s->base, -1, EV_PERSIST, drain_check,
	    s)) == NULL || event_add(s->ev_drain, &tick) == -1)
		event_base_loopexit(s->base, NULL);
	else
		drain_check(-1, 0, s);
}

/*
 * With the epoll changelist, the event changes evhttp makes around each
 * request (read off, write on, write off, read on) are folded into one
 * epoll_ctl per loop turn instead of one each.
 */
static struct event_base *
base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

struct server *
server_new(struct server_gen *g, const struct server_module *const *modules,
    size_t n, char *err, size_t errlen)
{
	struct server *s;
	int root;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->states = calloc(n + 1, sizeof(*s->states))) == NULL ||
	    (s->base = base_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		if (s != NULL)
			free(s->states);
		free(s);
		server_gen_unref(g);
		return NULL;
	}
	s->gen = g;
	s->modules = modules;
	s->nmodules = n;
	log_set_level(config_log_level(server_gen_config(g)));
	if ((s->http = http_new(s->base, g, err, errlen)) == NULL)
		goto fail;
	root = geteuid() == 0;
	if (drop_privileges(server_gen_config(g), err, errlen) == -1)
		goto fail;
	if (root && geteuid() != 0)
		check_key_after_drop(server_gen_config(g));
	s->ev_hup = evsignal_new(s->base, SIGHUP, on_hup, s);
	s->ev_term = evsignal_new(s->base, SIGTERM, on_term, s);
	s->ev_int = evsignal_new(s->base, SIGINT, on_term, s);
	if (s->ev_hup == NULL || s->ev_term == NULL || s->ev_int == NULL ||
	    event_add(s->ev_hup, NULL) == -1 ||
	    event_add(s->ev_term, NULL) == -1 ||
	    event_add(s->ev_int, NULL) == -1) {
		snprintf(err, errlen, "signals: cannot watch them");
		goto fail;
	}
	for (; s->nstarted < n; s->nstarted++) {
		const struct server_module *m = modules[s->nstarted];
		char why[1024];
		if (m->start != NULL && m->start(s, &s->states[s->nstarted],
		    why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", m->name, why);
			goto fail;
		}
	}
	if ((s->notify = notify_new(s->base)) == NULL) {
		snprintf(err, errlen, "watchdog: cannot start its timer");
		goto fail;
	}
	return s;
fail:
	server_free(s);
	return NULL;
}

int
server_run(struct server *s)
{
	char what[256];

	describe(s->gen, what, sizeof(what));
	log_info("%s", what);
	notify_ready("%s", what);
	if (event_base_dispatch(s->base) == -1) {
		log_warnx("event loop failed");
		return 1;
	}
	return 0;
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	if (s->ev_drain != NULL)
		event_free(s->ev_drain);
	if (s->ev_hup != NULL)
		event_free(s->ev_hup);
	if (s->ev_term != NULL)
		event_free(s->ev_term);
	if (s->ev_int != NULL)
		event_free(s->ev_int);
	notify_free(s->notify);
	http_free(s->http);
	while (s->nstarted > 0) {
		s->nstarted--;
		if (s->modules[s->nstarted]->free != NULL)
			s->modules[s->nstarted]->free(s,
			    s->states[s->nstarted]);
	}
	server_gen_unref(s->gen);
	free(s->states);
	if (s->base != NULL)
		event_base_free(s->base);
	free(s);
}

struct event_base *
server_get0_base(const struct server *s)
{
	return s->base;
}

struct http *
server_get0_http(const struct server *s)
{
	return s->http;
}

struct server_gen *
server_get0_gen(const struct server *s)
{
	return s->gen;
}

void *
server_module_state(const struct server *s, const char *name)
{
	for (size_t i = 0; i < s->nstarted; i++)
		if (strcmp(s->modules[i]->name, name) == 0)
			return s->states[i];
	return NULL;
}

int
server_stopping(const struct server *s)
{
	return s->stopping;
}
