/*
 * shanhai witness -c FILE: a C2SP tlog-witness v1.0.0 server for a third
 * party (an audit office) that cosigns the checkpoints of the logs it is
 * configured for (SPEC 6.6). HTTP, or HTTPS when the config has a tls
 * group. The protocol is witness.c's; this file is the config and the
 * front:
 *
 *	POST /add-checkpoint		tlog-witness add-checkpoint
 *	GET  /checkpoint/<origin>	the latest checkpoint cosigned for a log
 *	GET  /healthz			200 while serving
 *
 * Config (libconfig; relative paths are relative to the file's folder):
 *
 *	name      = "witness.audit.zj.example";	the cosigner key's name
 *	key       = "witness.key";		shanhai keygen --witness
 *	listen    = [ "127.0.0.1:7380" ];	or one string
 *	state_dir = "/var/lib/shanhai-witness";	SQLite: witness.db
 *	log_level = "info";			optional
 *	tls = { certificate = "…"; key = "…"; };	optional: HTTPS
 *	logs = ( { origin = "…"; key = "<verifier key>"; } );
 *
 * Single-threaded on one event loop: requests are checked and recorded one
 * at a time, and witstate.h's transaction makes that atomic even against
 * another process on the same state_dir.
 *
 * SIGHUP reloads the config between two requests: the logs and their keys,
 * log_level and the TLS certificate. The whole new config is read and
 * checked first; a bad one is logged and the running one kept. A change of
 * name, key (another cosigning key is another witness), state_dir, listen
 * or of plain HTTP against HTTPS takes a restart: it is logged, naming
 * what changed, and the running config kept.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <libconfig.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "shanhai/cmd.h"
#include "shanhai/config.h"
#include "shanhai/log.h"
#include "shanhai/note.h"
#include "shanhai/notify.h"
#include "shanhai/witness.h"

#define MAX_LISTEN	8

struct wconf {
	char		*dir;		/* the config file's folder */
	char		*name;
	char		*key;
	char		*state_dir;
	char		*tls_cert, *tls_key;
	char		*vkey;		/* the cosigning key's verifier key */
	const char	*listen[MAX_LISTEN];
	size_t		 nlisten;
	int		 level;
};

struct front {
	struct event_base	*base;
	struct evhttp		*http;
	struct witness		*w;
	SSL_CTX			*ssl;
	int			 nodelay_done;
	const char		*file;		/* for SIGHUP */
	struct wconf		*c;
};

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai witness [-t] -c FILE\n");
	return CMD_USAGE;
}

static int __attribute__((format(printf, 4, 5)))
bad(const char *file, const config_setting_t *s, char *err, const char *fmt,
    ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, 1024, "%s:%d: %s", file, s != NULL ?
	    (int)config_setting_source_line(s) : 0, msg);
	return -1;
}

/* A required or optional string key of group g; NULL when absent. */
static int
str_key(const char *file, const config_setting_t *g, const char *name,
    int required, const char **out, char *err)
{
	config_setting_t *s = config_setting_get_member(g, name);

	*out = NULL;
	if (s == NULL) {
		if (required)
			return bad(file, g, err, "missing key '%s'", name);
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    (*out = config_setting_get_string(s))[0] == '\0')
		return bad(file, s, err, "%s: must be a non-empty string", name);
	return 0;
}

static int
known_keys(const char *file, const config_setting_t *g,
    const char *const *keys, const char *where, char *err)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *n = config_setting_name(s);
		size_t k;

		for (k = 0; keys[k] != NULL; k++)
			if (strcmp(n, keys[k]) == 0)
				break;
		if (keys[k] == NULL)
			return bad(file, s, err, "unknown key '%s%s'", where, n);
	}
	return 0;
}

static void
wconf_free(struct wconf *c)
{
	free(c->dir);
	free(c->name);
	free(c->key);
	free(c->state_dir);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->vkey);
}

/*
 * Reads the config into c and the logs into a new witness (*wp). The
 * listen strings stay in cf (the caller destroys it after binding). On a
 * reload, running is the config in force: another state_dir is refused
 * before anything is made in it.
 */
static int
load(const char *file, config_t *cf, struct wconf *c, struct witness **wp,
    const struct wconf *running, char *err)
{
	static const char *const top[] = { "name", "key", "listen",
	    "state_dir", "log_level", "tls", "logs", NULL };
	static const char *const tlsk[] = { "certificate", "key", NULL };
	static const char *const logk[] = { "origin", "key", NULL };
	config_setting_t *root, *s, *logs;
	const char *v, *cert, *tkey;
	struct note_signer *signer;
	char *copy, why[512], *db;

	*wp = NULL;
	memset(c, 0, sizeof(*c));
	c->level = LOG_LVL_INFO;
	config_init(cf);
	if (config_read_file(cf, file) != CONFIG_TRUE) {
		snprintf(err, 1024, "%s:%d: %s", config_error_file(cf) ?
		    config_error_file(cf) : file, config_error_line(cf),
		    config_error_text(cf));
		return -1;
	}
	if ((copy = strdup(file)) == NULL || (c->dir = strdup(dirname(copy))) ==
	    NULL) {
		free(copy);
		snprintf(err, 1024, "out of memory");
		return -1;
	}
	free(copy);
	root = config_root_setting(cf);
	if (known_keys(file, root, top, "", err) < 0)
		return -1;
	if (str_key(file, root, "name", 1, &v, err) < 0)
		return -1;
	c->name = strdup(v);
	if (str_key(file, root, "key", 1, &v, err) < 0)
		return -1;
	c->key = config_resolve_path(c->dir, v);
	if (str_key(file, root, "state_dir", 1, &v, err) < 0)
		return -1;
	c->state_dir = config_resolve_path(c->dir, v);
	if (str_key(file, root, "log_level", 0, &v, err) < 0)
		return -1;
	if (v != NULL) {
		static const char *const lv[] = { "error", "warning", "notice",
		    "info", "debug" };
		size_t i;
		for (i = 0; i < 5 && strcmp(v, lv[i]) != 0; i++)
			;
		if (i == 5)
			return bad(file, config_setting_get_member(root,
			    "log_level"), err, "log_level: '%s' is not one of "
			    "error, warning, notice, info, debug", v);
		c->level = LOG_LVL_ERR + (int)i;
	}
	if ((s = config_setting_get_member(root, "listen")) == NULL)
		return bad(file, root, err, "missing key 'listen'");
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		c->listen[c->nlisten++] = config_setting_get_string(s);
	else if (config_setting_is_array(s) || config_setting_is_list(s)) {
		for (int i = 0; i < config_setting_length(s); i++) {
			const char *a = config_setting_get_string_elem(s, i);
			if (a == NULL || c->nlisten == MAX_LISTEN)
				return bad(file, s, err, "listen: 1 to %d "
				    "\"host:port\" strings", MAX_LISTEN);
			c->listen[c->nlisten++] = a;
		}
	}
	if (c->nlisten == 0)
		return bad(file, s, err, "listen: 1 to %d \"host:port\" strings",
		    MAX_LISTEN);
	if ((s = config_setting_get_member(root, "tls")) != NULL) {
		if (!config_setting_is_group(s))
			return bad(file, s, err, "tls: must be a group "
			    "{ certificate = …; key = …; }");
		if (known_keys(file, s, tlsk, "tls.", err) < 0 ||
		    str_key(file, s, "certificate", 1, &cert, err) < 0 ||
		    str_key(file, s, "key", 1, &tkey, err) < 0)
			return -1;
		c->tls_cert = config_resolve_path(c->dir, cert);
		c->tls_key = config_resolve_path(c->dir, tkey);
	}
	if ((logs = config_setting_get_member(root, "logs")) == NULL ||
	    !config_setting_is_list(logs) || config_setting_length(logs) == 0)
		return bad(file, logs != NULL ? logs : root, err, "logs: a list "
		    "( { origin = \"…\"; key = \"<verifier key>\"; } ) of at "
		    "least one log");
	if (c->name == NULL || c->key == NULL || c->state_dir == NULL) {
		snprintf(err, 1024, "out of memory");
		return -1;
	}
	if (running != NULL && strcmp(running->state_dir, c->state_dir) != 0)
		return bad(file, config_setting_get_member(root, "state_dir"),
		    err, "state_dir changed, which takes a restart");
	if (mkdir(c->state_dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, 1024, "state_dir %s: %s", c->state_dir,
		    strerror(errno));
		return -1;
	}
	if (note_key_load(c->key, c->name, &signer, why, sizeof(why)) < 0 ||
	    note_signer_set_cosigner(signer) < 0) {
		if (signer != NULL) {
			note_signer_free(signer);
			snprintf(why, sizeof(why), "%s: not an Ed25519 key",
			    c->key);
		}
		return bad(file, config_setting_get_member(root, "key"), err,
		    "key: %s", why);
	}
	if ((c->vkey = note_signer_vkey(signer)) == NULL) {
		note_signer_free(signer);
		snprintf(err, 1024, "out of memory");
		return -1;
	}
	if (asprintf(&db, "%s/witness.db", c->state_dir) == -1) {
		note_signer_free(signer);
		snprintf(err, 1024, "out of memory");
		return -1;
	}
	*wp = witness_new(signer, db, why, sizeof(why));
	free(db);
	if (*wp == NULL)
		return bad(file, config_setting_get_member(root, "state_dir"),
		    err, "state_dir: %s", why);
	for (int i = 0; i < config_setting_length(logs); i++) {
		config_setting_t *l = config_setting_get_elem(logs, (unsigned)i);
		const char *origin, *vk;

		if (!config_setting_is_group(l))
			return bad(file, l, err, "logs: each log is a group "
			    "{ origin = …; key = …; }");
		if (known_keys(file, l, logk, "logs.", err) < 0 ||
		    str_key(file, l, "origin", 1, &origin, err) < 0 ||
		    str_key(file, l, "key", 1, &vk, err) < 0)
			return -1;
		if (witness_add_log(*wp, origin, vk, why, sizeof(why)) < 0)
			return bad(file, config_setting_get_member(l, "key"),
			    err, "logs: %s", why);
	}
	return 0;
}

static SSL_CTX *
tls_ctx(const struct wconf *c, char *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned long e;

	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		e = ERR_get_error();
		snprintf(err, 1024, "tls.certificate %s: %s", c->tls_cert,
		    ERR_reason_error_string(e));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) !=
	    1 || SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		snprintf(err, 1024, "tls.key %s: %s", c->tls_key,
		    ERR_reason_error_string(e));
		goto fail;
	}
	return ctx;
fail:
	if (ctx == NULL)
		snprintf(err, 1024, "cannot make a TLS context");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static struct bufferevent *
tls_bev(struct event_base *base, void *arg)
{
	struct front *f = arg;
	SSL *ssl = SSL_new(f->ssl);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
reply(struct evhttp_request *req, const char *peer, const char *what,
    struct witness_answer *a)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (a->ctype != NULL)
		evhttp_add_header(h, "Content-Type", a->ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (b != NULL && a->body != NULL)
		evbuffer_add(b, a->body, a->len);
	evhttp_send_reply(req, a->status, NULL, b);
	if (b != NULL)
		evbuffer_free(b);
	if (a->status >= 500)
		log_warnx("%s %s: %d %s", peer, what, a->status, a->why);
	else if (a->status != 200)
		log_notice("%s %s: %d %s", peer, what, a->status, a->why);
	else
		log_debug("%s %s: %d %s", peer, what, a->status, a->why);
	free(a->body);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct front *f = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const char *uri = evhttp_request_get_uri(req), *path;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	struct witness_answer a;
	char peer[80] = "-", *addr = NULL;
	ev_uint16_t port = 0;

	if (conn != NULL) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		int one = 1;

		evhttp_connection_get_peer(conn, &addr, &port);
		snprintf(peer, sizeof(peer), "%s:%u", addr ? addr : "-", port);
		/* Answers go out at once, not after a delayed ACK. */
		if (fd != -1)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
	}
	memset(&a, 0, sizeof(a));
	path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	if (path == NULL) {
		a.status = 400;
		a.ctype = "text/plain; charset=utf-8";
		snprintf(a.why, sizeof(a.why), "bad request target");
	} else if (strcmp(path, "/add-checkpoint") == 0) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);

		if (cmd != EVHTTP_REQ_POST) {
			a.status = 405;
			snprintf(a.why, sizeof(a.why), "add-checkpoint is POST");
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Allow", "POST");
		} else {
			const char *body = (const char *)evbuffer_pullup(in,
			    (ev_ssize_t)len);
			witness_add_checkpoint(f->w, body ? body : "", len,
			    (uint64_t)time(NULL), &a);
		}
	} else if (strncmp(path, "/checkpoint/", 12) == 0 &&
	    (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
		char *origin = evhttp_uridecode(path + 12, 0, NULL);

		if (origin == NULL) {
			a.status = 400;
			snprintf(a.why, sizeof(a.why), "bad origin in the path");
		} else
			witness_get_checkpoint(f->w, origin, &a);
		free(origin);
	} else if (strcmp(path, "/healthz") == 0 &&
	    (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
		a.status = 200;
		a.ctype = "text/plain; charset=utf-8";
		a.body = strdup("ok\n");
		a.len = a.body != NULL ? 3 : 0;
	} else {
		a.status = 404;
		a.ctype = "text/plain; charset=utf-8";
		snprintf(a.why, sizeof(a.why), "no such endpoint: %s", path);
		if (asprintf(&a.body, "%s\n", a.why) != -1)
			a.len = strlen(a.body);
	}
	reply(req, peer, path != NULL ? path : "-", &a);
	evhttp_uri_free(u);
}

/*
 * What of the new config n differs from the running o and takes a restart
 * (state_dir: load() refuses it first).
 */
static const char *
needs_restart(const struct wconf *o, const struct wconf *n)
{
	if (strcmp(o->name, n->name) != 0)
		return "name";
	if (strcmp(o->vkey, n->vkey) != 0)
		return "key (another cosigning key is another witness)";
	if ((o->tls_cert == NULL) != (n->tls_cert == NULL))
		return "tls (HTTP or HTTPS)";
	if (o->nlisten != n->nlisten)
		return "listen";
	for (size_t i = 0; i < o->nlisten; i++)
		if (strcmp(o->listen[i], n->listen[i]) != 0)
			return "listen";
	return NULL;
}

/*
 * SIGHUP: the new config, read and checked in full, replaces the logs, the
 * log level and the TLS context; the old witness (its logs and its own
 * connection to the state) is freed between two requests.
 */
static void
reload(struct front *f)
{
	struct witness *w = NULL;
	SSL_CTX *ssl = NULL;
	const char *what;
	struct wconf c;
	char err[1024];
	config_t cf;

	if (load(f->file, &cf, &c, &w, f->c, err) < 0 ||
	    (c.tls_cert != NULL && (ssl = tls_ctx(&c, err)) == NULL)) {
		log_warnx("SIGHUP: %s; the running configuration is kept", err);
		goto done;
	}
	if ((what = needs_restart(f->c, &c)) != NULL) {
		log_warnx("SIGHUP: %s: %s changed, which takes a restart; the "
		    "running configuration is kept", f->file, what);
		goto done;
	}
	witness_free(f->w);
	f->w = w;
	w = NULL;
	if (ssl != NULL) {
		SSL_CTX_free(f->ssl);	/* connections hold their own reference */
		f->ssl = ssl;
		ssl = NULL;
	}
	/* The listen strings are the same: the running ones stay. */
	free(f->c->tls_cert);
	free(f->c->tls_key);
	f->c->tls_cert = c.tls_cert;
	f->c->tls_key = c.tls_key;
	c.tls_cert = c.tls_key = NULL;
	f->c->level = c.level;
	log_set_level((enum log_level)c.level);
	log_notice("SIGHUP: %s reloaded: %zu log(s)", f->file,
	    witness_log_count(f->w));
done:
	SSL_CTX_free(ssl);
	witness_free(w);
	wconf_free(&c);
	config_destroy(&cf);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct front *f = arg;

	if (sig == SIGHUP) {
		reload(f);
		return;
	}
	log_info("signal %d: stopping", (int)sig);
	notify_stopping("stopping");
	event_base_loopexit(f->base, NULL);
}

static int
bind_all(struct front *f, const struct wconf *c, char *err)
{
	for (size_t i = 0; i < c->nlisten; i++) {
		const char *a = c->listen[i], *colon = strrchr(a, ':');
		char host[256];
		size_t hl;
		long port;
		char *end;

		if (colon == NULL || (hl = (size_t)(colon - a)) == 0 ||
		    hl >= sizeof(host)) {
			snprintf(err, 1024, "listen '%s': not host:port", a);
			return -1;
		}
		if (a[0] == '[' && a[hl - 1] == ']') {
			memcpy(host, a + 1, hl - 2);
			host[hl - 2] = '\0';
		} else {
			memcpy(host, a, hl);
			host[hl] = '\0';
		}
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535) {
			snprintf(err, 1024, "listen '%s': port must be 1 to "
			    "65535", a);
			return -1;
		}
		if (evhttp_bind_socket_with_handle(f->http, host,
		    (ev_uint16_t)port) == NULL) {
			snprintf(err, 1024, "listen '%s': cannot bind: %s", a,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
cmd_witness(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct event *sigs[3] = { NULL, NULL, NULL };
	const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct front f;
	struct wconf c;
	struct notify *n = NULL;
	const char *file = NULL;
	int ch, test = 0, rc = CMD_USAGE;
	char err[1024];
	config_t cf;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:t", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 't': test = 1; break;
		default: return usage();
		}
	}
	if (optind != argc || file == NULL)
		return usage();
	log_set_ident("shanhai-witness");
	memset(&f, 0, sizeof(f));
	f.file = file;
	f.c = &c;
	if (load(file, &cf, &c, &f.w, NULL, err) < 0 ||
	    (c.tls_cert != NULL && (f.ssl = tls_ctx(&c, err)) == NULL)) {
		log_warnx("%s", err);
		if (test)
			fprintf(stdout, "%s\n", err);
		rc = CMD_FAILED;
		goto done;
	}
	log_set_level((enum log_level)c.level);
	if (test) {
		printf("configuration OK\n");
		rc = CMD_OK;
		goto done;
	}
	if ((f.base = event_base_new()) == NULL ||
	    (f.http = evhttp_new(f.base)) == NULL) {
		log_warnx("out of memory");
		rc = CMD_USAGE;
		goto done;
	}
	evhttp_set_allowed_methods(f.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD);
	evhttp_set_max_body_size(f.http, WITNESS_MAX_BODY);
	evhttp_set_max_headers_size(f.http, 16 * 1024);
	evhttp_set_timeout(f.http, 30);
	evhttp_set_gencb(f.http, handle, &f);
	if (f.ssl != NULL)
		evhttp_set_bevcb(f.http, tls_bev, &f);
	if (bind_all(&f, &c, err) < 0) {
		log_warnx("%s", err);
		rc = CMD_USAGE;
		goto done;
	}
	for (int i = 0; i < 3; i++)
		if ((sigs[i] = evsignal_new(f.base, signums[i], on_signal,
		    &f)) == NULL || event_add(sigs[i], NULL) == -1) {
			log_warnx("cannot catch signal %d", signums[i]);
			rc = CMD_USAGE;
			goto done;
		}
	n = notify_new(f.base);
	log_info("witness %s serving %zu log(s) on %s%s", c.name,
	    witness_log_count(f.w), c.listen[0], f.ssl != NULL ? " (HTTPS)" :
	    "");
	notify_ready("witness %s serving %zu log(s)", c.name,
	    witness_log_count(f.w));
	rc = event_base_dispatch(f.base) == -1 ? CMD_FAILED : CMD_OK;
done:
	notify_free(n);
	for (int i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (f.http != NULL)
		evhttp_free(f.http);
	if (f.base != NULL)
		event_base_free(f.base);
	SSL_CTX_free(f.ssl);
	witness_free(f.w);
	wconf_free(&c);
	config_destroy(&cf);
	return rc;
}
