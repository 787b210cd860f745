/*
 * server: the daemon's life: generations, reload, signals, drain
 * (see server.h).
 */
#include <dirent.h>
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
#include "shanhai/rules.h"
#include "shanhai/server.h"
#include "shanhai/tiles.h"
#include "shanhai/tls.h"

struct server_gen {
	int		 refs;
	struct config	*config;
	SSL_CTX		*ssl_ctx;
	struct rules	**rules;
	size_t		 nrules;
	time_t		 loaded_at;
};

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

/* Appends each message on its own line, so -t can show them all. */
struct errs {
	char	*buf;
	size_t	 len;
	size_t	 used;
	int	 n;
};

static void
errs_add(void *arg, const char *msg)
{
	struct errs *e = arg;
	int m;

	if (e->used >= e->len)
		return;
	m = snprintf(e->buf + e->used, e->len - e->used, "%s%s",
	    e->n++ ? "\n" : "", msg);
	if (m > 0)
		e->used += (size_t)m;
}

/* The rules folder opens as a folder, or err names the key and why. */
static int
rules_dir_ok(const struct config *c, char *err, size_t errlen)
{
	const char *dir = config_get0_rules_dir(c);
	char w[512];
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		closedir(d);
		return 0;
	}
	snprintf(err, errlen, "%s %s: %s", config_where(c, "rules_dir", w,
	    sizeof(w)), dir, strerror(errno));
	return -1;
}

/*
 * With ledger.tiles_dir set, every ledger entry must fit an entry bundle
 * (SPEC §6.5): an agreement whose `rules` entry would be longer is refused
 * here, at start, by -t and on reload, rather than stopping the mirror.
 */
static int
rules_fit_tiles(const struct server_gen *g, char *err, size_t errlen)
{
	char msg[256], *e;
	size_t len;

	if (config_get0_ledger_tiles_dir(g->config) == NULL)
		return 0;
	for (size_t i = 0; i < g->nrules; i++) {
		/* The daemon stamps every entry with a time of this length. */
		if ((e = rules_entry_text(g->rules[i], "2026-01-01T00:00:00Z",
		    &len, msg, sizeof(msg))) == NULL) {
			snprintf(err, errlen, "%s", msg);
			return -1;
		}
		free(e);
		if (len > TILES_MAX_ENTRY) {
			snprintf(err, errlen, "%s/%s.conf: its ledger entry would "
			    "be %zu bytes, more than the %d a tlog-tiles entry "
			    "bundle holds (ledger.tiles_dir is set): shorten the "
			    "file (its comments too: the whole text is in the "
			    "entry)", config_get0_rules_dir(g->config),
			    rules_get0_id(g->rules[i]), len, TILES_MAX_ENTRY);
			return -1;
		}
	}
	return 0;
}

struct server_gen *
server_gen_load(const char *path, char *err, size_t errlen)
{
	struct errs errs = { err, errlen, 0, 0 };
	struct server_gen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->refs = 1;
	g->loaded_at = time(NULL);
	if ((g->config = config_load(path, err, errlen)) == NULL)
		goto fail;
	if ((g->ssl_ctx = tls_server_ctx_new(g->config, err, errlen)) == NULL)
		goto fail;
	if (rules_dir_ok(g->config, err, errlen) == -1)
		goto fail;
	if (rules_load_dir(config_get0_rules_dir(g->config), &g->rules,
	    &g->nrules, errs_add, &errs) == -1) {
		if (errs.n == 0)
			snprintf(err, errlen, "%s: cannot load the rules",
			    config_get0_rules_dir(g->config));
		goto fail;
	}
	if (rules_fit_tiles(g, err, errlen) == -1)
		goto fail;
	return g;
fail:
	server_gen_unref(g);
	return NULL;
}

/* Whether uid/gid may do what (R_OK, W_OK, X_OK bits) to a file of st. */
static int
allowed(const struct stat *st, uid_t uid, gid_t gid, int what)
{
	mode_t m = st->st_mode;
	int have;

	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		have = (m >> 6) & 7;
	else if (st->st_gid == gid)
		have = (m >> 3) & 7;
	else
		have = m & 7;
	return (have & what) == what;
}

/* The state folder: there and writable, or makeable, by uid/gid. */
static int
state_dir_ok(const struct config *c, uid_t uid, gid_t gid, const char *who,
    char *err, size_t errlen)
{
	const char *dir = config_get0_state_dir(c);
	char w[512], parent[4096], *slash;
	struct stat st;

	config_where(c, "state_dir", w, sizeof(w));
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s %s: not a folder", w, dir);
			return -1;
		}
		if (!allowed(&st, uid, gid, W_OK | X_OK)) {
			snprintf(err, errlen, "%s %s: %s cannot write in it "
			    "(owner uid %u, mode %04o)", w, dir, who,
			    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s %s: %s", w, dir, strerror(errno));
		return -1;
	}
	/* Start makes it (mode 0700) in its parent. */
	snprintf(parent, sizeof(parent), "%s", dir);
	if ((slash = strrchr(parent, '/')) != NULL)
		*(slash == parent ? slash + 1 : slash) = '\0';
	if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    !allowed(&st, uid, gid, W_OK | X_OK)) {
		snprintf(err, errlen, "%s %s: No such file or directory, and "
		    "%s cannot make it in %s", w, dir, who, parent);
		return -1;
	}
	return 0;
}

/* A ledger key, read after the switch to uid: it must be uid's. */
static int
key_owner_ok(const struct config *c, const char *key, const char *path,
    uid_t uid, const char *who, char *err, size_t errlen)
{
	char w[512];
	struct stat st;

	if (path == NULL || path[0] == '\0' || stat(path, &st) == -1)
		return 0;	/* loading it said what is wrong */
	if (uid == 0 || st.st_uid == uid)
		return 0;
	snprintf(err, errlen, "%s %s: owned by uid %u, but the daemon reads "
	    "it as %s; run: chown %s %s", config_where(c, key, w, sizeof(w)),
	    path, (unsigned)st.st_uid, who, who, path);
	return -1;
}

int
server_gen_check_start(const struct server_gen *g, char *err, size_t errlen)
{
	static const char *const keys[] = { "ledger.signing_key",
	    "ledger.next_key", "ledger.sm2_key" };
	const struct config *c = g->config;
	const char *user = config_get0_user(c);
	char who[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct passwd *pw;

	snprintf(who, sizeof(who), "uid %u", (unsigned)uid);
	if ((pw = getpwuid(uid)) != NULL)
		snprintf(who, sizeof(who), "%s", pw->pw_name);
	if (uid == 0 && user != NULL) {
		errno = 0;
		if ((pw = getpwnam(user)) == NULL) {
			snprintf(err, errlen, "user '%s': %s", user, errno ?
			    strerror(errno) : "no such user");
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		snprintf(who, sizeof(who), "%s", user);
	}
	if (state_dir_ok(c, uid, gid, who, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *path = i == 0 ? config_get0_ledger_signing_key(c) :
		    i == 1 ? config_get0_ledger_next_key(c) :
		    config_get0_ledger_sm2_key(c);
		if (key_owner_ok(c, keys[i], path, uid, who, err, errlen) == -1)
			return -1;
	}
	return 0;
}

struct server_gen *
server_gen_ref(struct server_gen *g)
{
	if (g != NULL)
		g->refs++;
	return g;
}

void
server_gen_unref(struct server_gen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	rules_free_list(g->rules, g->nrules);
	SSL_CTX_free(g->ssl_ctx);
	config_free(g->config);
	free(g);
}

const struct config *
server_gen_config(const struct server_gen *g)
{
	return g->config;
}

SSL_CTX *
server_gen_ssl_ctx(const struct server_gen *g)
{
	return g->ssl_ctx;
}

size_t
server_gen_rules_count(const struct server_gen *g)
{
	return g->nrules;
}

const struct rules *
server_gen_rules(const struct server_gen *g, size_t i)
{
	return i < g->nrules ? g->rules[i] : NULL;
}

const struct rules *
server_gen_rules_find(const struct server_gen *g, const char *id)
{
	for (size_t i = 0; i < g->nrules; i++)
		if (strcmp(rules_get0_id(g->rules[i]), id) == 0)
			return g->rules[i];
	return NULL;
}

time_t
server_gen_loaded_at(const struct server_gen *g)
{
	return g->loaded_at;
}

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
	const struct config *c = g->config;
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
		    "client%s", g->nrules, g->nrules == 1 ? "" : "s",
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
	const char *path = config_get0_path(s->gen->config);
	struct server_gen *next, *old;
	char when[16], what[256];
	size_t i;

	log_info("reload: reading %s", path);
	notify_reloading("reloading %s", path);
	if ((next = server_gen_load(path, err, errlen)) == NULL)
		goto refused;
	config_keep_restart_only(next->config, s->gen->config,
	    report_restart_only, NULL);
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
	log_set_level(config_log_level(next->config));
	describe(next, what, sizeof(what));
	log_info("reload: done; %s", what);
	notify_ready("%s (reloaded at %s)", what,
	    clock_of(next->loaded_at, when, sizeof(when)));
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
	clock_of(s->gen->loaded_at, when, sizeof(when));
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
	s->deadline.tv_sec += config_shutdown_timeout(s->gen->config);
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
	log_set_level(config_log_level(g->config));
	if ((s->http = http_new(s->base, g, err, errlen)) == NULL)
		goto fail;
	root = geteuid() == 0;
	if (drop_privileges(g->config, err, errlen) == -1)
		goto fail;
	if (root && geteuid() != 0)
		check_key_after_drop(g->config);
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
