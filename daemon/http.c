/*
 * http: evhttp over bufferevent_openssl, routes, limits, problem+json
 * (see http.h).
 *
 * Lifetimes. A connection's state (struct conn) hangs off its SSL through
 * tls_peer and goes when libevent frees the SSL. A request's state (struct
 * http_req) is made at dispatch and freed by its answer; it copies what it
 * needs from the connection, which may close first. struct http itself
 * lives on until its last connection and request are gone, so a late
 * callback never touches freed memory.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <systemd/sd-daemon.h>

#include "shanhai/canon.h"
#include "shanhai/config.h"
#include "shanhai/http.h"
#include "shanhai/http_error.h"
#include "shanhai/log.h"
#include "shanhai/server.h"
#include "shanhai/tls.h"

#define MAX_PARAMS	8
#define MAX_SEGMENTS	16

struct routeset {
	const struct http_route	*routes;
	size_t			 n;
	void			*arg;
};

/* Per-client counters, by name: connections open and the rate bucket. */
struct client_stat {
	char		*name;
	long long	 conns;
	double		 tokens;
	struct timespec	 last;
};

struct listener {
	struct evhttp_bound_socket	*bs;
	char				*name;
};

struct http {
	struct event_base	*base;
	struct evhttp		*evh;
	struct server_gen	*gen;
	struct listener		*ls;
	size_t			 nls;
	struct routeset		*sets;
	size_t			 nsets;
	struct client_stat	*stats;
	size_t			 nstats;
	size_t			 inflight;
	size_t			 conns;
	int			 replying;	/* in http_reply(): our answer */
	int			 paused;
	int			 stopping;
	int			 freed;
	LIST_HEAD(, http_req)	 pending;
	LIST_HEAD(, conn)	 conns_open;
	http_observe_fn		*observe;	/* metrics: one call per answer */
	void			*observe_arg;
	struct event		*accept_retry;	/* listeners paused after accept() failed */
	time_t			 accept_logged;
	unsigned long		 accept_errors;
	LIST_ENTRY(http)	 entry;		/* in fronts, to find it from its listeners */
};

/* Every live front: libevent hands an accept error only the struct evhttp. */
static LIST_HEAD(, http) fronts = LIST_HEAD_INITIALIZER(fronts);

struct conn {
	struct http		*h;
	struct bufferevent	*bev;
	struct event		*timer;		/* request_timeout, until the first request */
	char			*client;	/* counted in h->stats under this name */
	int			 requests;
	int			 busy;		/* dispatched, answer not yet written */
	int			 foreign;	/* evhttp's own answer at foreign_at */
	size_t			 foreign_at;
	int			 rewriting;	/* http_error_rewrite() runs */
	LIST_ENTRY(conn)	 entry;
};

struct http_req {
	struct http		*h;
	struct evhttp_request	*ev;		/* NULL once h was freed */
	LIST_ENTRY(http_req)	 entry;
	struct server_gen	*gen;
	const struct config_client *client;
	enum http_method	 method;
	char			*path;
	struct evkeyvalq	 query;
	const char		*pnames[MAX_PARAMS];
	size_t			 pnamelen[MAX_PARAMS];
	char			*pvals[MAX_PARAMS];
	size_t			 nparams;
	char			 peer[80];
	char			 fingerprint[CONFIG_FINGERPRINT_BUFSZ];
	char			*body;
	size_t			 bodylen;
	const char		*route;		/* the matched pattern, or NULL */
	struct timespec		 arrived;
};

static void __attribute__((format(printf, 2, 3)))
http_log(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(level, fmt, ap);
	va_end(ap);
}

static void
http_release(struct http *h)
{
	if (!h->freed || h->conns != 0 || !LIST_EMPTY(&h->pending))
		return;
	for (size_t i = 0; i < h->nstats; i++)
		free(h->stats[i].name);
	free(h->stats);
	free(h->sets);
	free(h);
}

static void
listeners_enable(struct http *h, int on)
{
	for (size_t i = 0; i < h->nls; i++) {
		struct evconnlistener *l;
		if (h->ls[i].bs == NULL)
			continue;
		l = evhttp_bound_socket_get_listener(h->ls[i].bs);
		if (on)
			evconnlistener_enable(l);
		else
			evconnlistener_disable(l);
	}
	h->paused = !on;
}

static struct client_stat *
client_stat(struct http *h, const char *name)
{
	struct client_stat *st;

	for (size_t i = 0; i < h->nstats; i++)
		if (strcmp(h->stats[i].name, name) == 0)
			return &h->stats[i];
	st = realloc(h->stats, (h->nstats + 1) * sizeof(*st));
	if (st == NULL)
		return NULL;
	h->stats = st;
	st = &h->stats[h->nstats];
	memset(st, 0, sizeof(*st));
	if ((st->name = strdup(name)) == NULL)
		return NULL;
	h->nstats++;
	return st;
}

/* Whether paused listeners may accept again: room, and not closing. */
static int
may_accept(const struct http *h)
{
	return h->paused && !h->stopping && !h->freed &&
	    h->conns < (size_t)config_max_connections(server_gen_config(h->gen));
}

/* Called by tls when libevent frees the connection's SSL. */
static void
conn_gone(void *arg)
{
	struct conn *c = arg;
	struct http *h = c->h;
	struct client_stat *st;

	if (c->timer != NULL)
		event_free(c->timer);
	if (c->client != NULL && (st = client_stat(h, c->client)) != NULL)
		st->conns--;
	free(c->client);
	LIST_REMOVE(c, entry);
	free(c);
	h->conns--;
	if (may_accept(h)) {
		listeners_enable(h, 1);
		log_info("connections: %zu open, accepting again", h->conns);
	}
	http_release(h);
}

/* "ADDR FPR8" of a connection, for log lines. */
static const char *
conn_label(const struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	struct tls_peer *p = ssl ? tls_peer_get0(ssl) : NULL;

	return p ? tls_peer_label(p) : "-";
}

/* Ends a connection that has no answer to write (shutdown: idle ones). */
static void
conn_cut(struct conn *c)
{
	evutil_socket_t sock = bufferevent_getfd(c->bev);

	if (sock >= 0)
		(void)shutdown(sock, SHUT_RDWR);
}

/* Handshake and first request must arrive within request_timeout. */
static void
conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->requests > 0)
		return;
	log_notice("%s: no request within %llds: closing", conn_label(c),
	    config_request_timeout(server_gen_config(c->h->gen)));
	/* evhttp sees the end of the stream and frees the connection. */
	conn_cut(c);
}

static void foreign_answer(struct conn *c, struct evbuffer *buf);

/*
 * Output added to a connection. Outside http_reply() it is evhttp's own
 * answer (a refusal before dispatch, a 100 Continue): foreign_answer()
 * looks at it. Then: evhttp adds an answer's status line, headers and body
 * to the output in pieces, and bufferevent_openssl makes one TLS record
 * (one write) of each piece. Joined into one piece, a small answer leaves
 * as one record.
 */
static void
coalesce(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;
	size_t len;

	if (info->n_added == 0 || c->rewriting)
		return;
	if (!c->h->replying && !c->foreign) {
		c->foreign = 1;
		c->foreign_at = info->orig_size;
	}
	if (c->foreign)
		foreign_answer(c, buf);
	len = evbuffer_get_length(buf);
	if (len <= 16384 && evbuffer_get_contiguous_space(buf) < len)
		(void)evbuffer_pullup(buf, -1);
}

/* After an accept() pause: listen again unless something else holds it. */
static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;

	if (may_accept(h))
		listeners_enable(h, 1);
}

/*
 * accept() failed for another reason than "try again" (out of file
 * descriptors, mostly). libevent would call it again at once, forever:
 * a busy loop and a log line each time. Pause the listeners for 100 ms
 * instead (a closing connection resumes them sooner), and say so at most
 * once a second.
 */
static void
accept_error(struct evconnlistener *l, void *arg)
{
	static const struct timeval pause = { 0, 100000 };
	int e = EVUTIL_SOCKET_ERROR();
	struct http *h;
	time_t now = time(NULL);

	LIST_FOREACH(h, &fronts, entry)
		if ((void *)h->evh == arg)
			break;
	if (h == NULL) {
		evconnlistener_disable(l);
		return;
	}
	h->accept_errors++;
	if (now != h->accept_logged) {
		log_warnx("accept: %s; new connections wait (%zu open, %lu "
		    "failures this second)", evutil_socket_error_to_string(e),
		    h->conns, h->accept_errors);
		h->accept_logged = now;
		h->accept_errors = 0;
	}
	listeners_enable(h, 0);
	if (h->accept_retry != NULL)
		evtimer_add(h->accept_retry, &pause);
}

static struct bufferevent *
bev_new(struct event_base *base, void *arg)
{
	struct http *h = arg;
	const struct config *cfg = server_gen_config(h->gen);
	struct timeval tv = { (time_t)config_request_timeout(cfg), 0 };
	struct bufferevent *bev;
	struct conn *c;
	SSL *ssl;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((ssl = tls_server_ssl_new(server_gen_ssl_ctx(h->gen))) == NULL) {
		free(c);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		free(c);
		return NULL;
	}
	c->h = h;
	c->bev = bev;
	(void)evbuffer_add_cb(bufferevent_get_output(bev), coalesce, c);
	LIST_INSERT_HEAD(&h->conns_open, c, entry);
	h->conns++;
	tls_peer_set_app(tls_peer_get0(ssl), c, conn_gone);
	if ((c->timer = evtimer_new(base, conn_timeout, c)) != NULL)
		evtimer_add(c->timer, &tv);
	if (h->conns >= (size_t)config_max_connections(cfg) && !h->paused) {
		listeners_enable(h, 0);
		log_warnx("connections: %zu open, limits.max_connections "
		    "(%lld) reached; new ones wait", h->conns,
		    config_max_connections(cfg));
	}
	return bev;
}

/* The answer is written out: the connection is idle again. */
static void
conn_answered(struct evhttp_request *ev, void *arg)
{
	struct conn *c = arg;

	c->busy--;
}

/* Connection close: say close_notify first (libevent 2.1 does not). */
static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	if (ssl != NULL)
		tls_shutdown(ssl);
}

static const char *
method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:		return "GET";
	case HTTP_POST:		return "POST";
	case HTTP_PUT:		return "PUT";
	case HTTP_DELETE:	return "DELETE";
	}
	return "?";
}

static const char *
reason_phrase(int status)
{
	static const struct {
		int		 status;
		const char	*phrase;
	} phrases[] = {
		{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
		{ 400, "Bad Request" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 409, "Conflict" }, { 413, "Content Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 417, "Expectation Failed" },
		{ 422, "Unprocessable Content" }, { 429, "Too Many Requests" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 503, "Service Unavailable" },
	};

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (phrases[i].status == status)
			return phrases[i].phrase;
	return status < 400 ? "OK" : status < 500 ? "Client Error" : "Error";
}

static void
req_free(struct http_req *r)
{
	struct http *h = r->h;

	LIST_REMOVE(r, entry);
	h->inflight--;
	evhttp_clear_headers(&r->query);
	for (size_t i = 0; i < r->nparams; i++)
		free(r->pvals[i]);
	free(r->path);
	free(r->body);
	server_gen_unref(r->gen);
	free(r);
	http_release(h);
}

void
http_req_add_header(struct http_req *r, const char *name, const char *value)
{
	if (r->ev != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev),
		    name, value);
}

void
http_reply(struct http_req *r, int status, const char *ctype,
    struct evbuffer *body)
{
	struct evhttp_request *ev = r->ev;

	if (ev != NULL) {
		struct evkeyvalq *hdr = evhttp_request_get_output_headers(ev);
		struct evhttp_connection *evcon =
		    evhttp_request_get_connection(ev);
		struct bufferevent *bev = evcon != NULL ?
		    evhttp_connection_get_bufferevent(evcon) : NULL;
		evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;

		if (ctype != NULL)
			evhttp_add_header(hdr, "Content-Type", ctype);
		if (r->h->stopping &&
		    evhttp_find_header(hdr, "Connection") == NULL)
			evhttp_add_header(hdr, "Connection", "close");
		/* One buffer, one write: headers and body leave together. */
		r->h->replying = 1;
		evhttp_send_reply(ev, status, reason_phrase(status), body);
		r->h->replying = 0;
		/*
		 * And now: a bufferevent_openssl writes only when its write
		 * event fires, an epoll round later (and two epoll_ctl calls
		 * to arm and disarm it). Run the write events armed on its
		 * socket in this pass of the loop instead (public API: the
		 * bufferevent's own event is not ours to touch); if the
		 * socket cannot take it all, the event stays armed as before.
		 * (doc/DESIGN.md, Benchmark.)
		 */
		if (fd >= 0)
			event_base_active_by_fd(r->h->base, fd, EV_WRITE);
		http_log(status >= 400 ? LOG_LVL_NOTICE : LOG_LVL_DEBUG,
		    "%s: %s %s %d%s%s", r->peer, method_name(r->method), r->path,
		    status, r->client ? " " : "",
		    r->client ? config_client_get0_name(r->client) : "");
		if (r->h->observe != NULL) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			r->h->observe(r->h->observe_arg, method_name(r->method),
			    r->route, status, (double)(now.tv_sec -
			    r->arrived.tv_sec) + (now.tv_nsec -
			    r->arrived.tv_nsec) / 1e9);
		}
	} else if (body != NULL)
		evbuffer_drain(body, evbuffer_get_length(body));
	req_free(r);
}

/* Answers j as one compact JSON line of content type ctype. */
static void
reply_json_as(struct http_req *r, int status, const char *ctype,
    const json_t *j)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (buf == NULL || text == NULL) {
		free(text);
		if (buf != NULL)
			evbuffer_free(buf);
		http_reply(r, 500, NULL, NULL);
		return;
	}
	evbuffer_add_printf(buf, "%s\n", text);
	free(text);
	http_reply(r, status, ctype, buf);
	evbuffer_free(buf);
}

void
http_reply_json(struct http_req *r, int status, const json_t *j)
{
	reply_json_as(r, status, "application/json", j);
}

/*
 * Replaces every byte that is not part of a valid UTF-8 sequence with '?'
 * in place: a detail quotes what the client sent (a path, a name) and may
 * be cut in the middle of a character, and JSON must be UTF-8.
 */
static void
utf8_scrub(char *s)
{
	size_t left = strlen(s), n;

	while (left > 0) {
		if ((n = canon_utf8_len(s, left)) == 0) {
			*s = '?';
			n = 1;
		}
		s += n;
		left -= n;
	}
}

/* The RFC 9457 object of a refusal; detail is scrubbed in place. */
static json_t *
problem_new(int status, char *detail)
{
	utf8_scrub(detail);
	return json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank",
	    "title", reason_phrase(status), "status", status,
	    "detail", detail);
}

/*
 * evhttp answers some requests itself, before dispatch() sees them: a body
 * over the size it was told (twice limits.max_body), declared or chunked;
 * a malformed request or headers over limits.max_header; an Expect other
 * than 100-continue; a method it does not know; and dispatch() itself
 * when it cannot make a request. http_error_rewrite() replaces them in the
 * output by the problem+json answer SPEC 7 asks for, with this detail.
 */
static char *
refusal_body(int status, void *arg)
{
	struct conn *c = arg;
	const struct config *cfg = server_gen_config(c->h->gen);
	char detail[256], *json;
	json_t *j;

	switch (status) {
	case 413:
		snprintf(detail, sizeof(detail), "body: more than "
		    "limits.max_body (%lld bytes)", config_max_body(cfg));
		break;
	case 400:
		snprintf(detail, sizeof(detail), "request: not valid HTTP/1.1, "
		    "or headers over limits.max_header (%lld bytes)",
		    config_max_header(cfg));
		break;
	case 417:
		snprintf(detail, sizeof(detail), "Expect: only 100-continue "
		    "is understood");
		break;
	case 501:
		snprintf(detail, sizeof(detail), "method: not one of GET, "
		    "HEAD, POST, PUT, DELETE");
		break;
	case 503:
		snprintf(detail, sizeof(detail), "server: out of memory for "
		    "the request; try again");
		break;
	default:
		snprintf(detail, sizeof(detail), "request: refused");
		break;
	}
	if ((j = problem_new(status, detail)) == NULL)
		return NULL;
	json = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (json != NULL)
		http_log(LOG_LVL_NOTICE, "%s: refused by libevent: %d %s",
		    conn_label(c), status, detail);
	return json;
}

/* evhttp's own answer at c->foreign_at: replaced once whole, if a refusal. */
static void
foreign_answer(struct conn *c, struct evbuffer *buf)
{
	enum http_error_scan rc;
	int status;

	c->rewriting = 1;
	rc = http_error_rewrite(buf, c->foreign_at, refusal_body, c, &status);
	c->rewriting = 0;
	if (rc == HTTP_ERROR_PARTIAL)
		return;
	c->foreign = 0;
	if (rc == HTTP_ERROR_FAILED && status >= 400)
		http_log(LOG_LVL_WARNING, "%s: libevent's own %d answer left"
		    " as it is", conn_label(c), status);
}

void
http_problem(struct http_req *r, int status, const char *field,
    const char *fmt, ...)
{
	char why[512], detail[640];
	json_t *j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (field != NULL)
		snprintf(detail, sizeof(detail), "%s: %s", field, why);
	else
		snprintf(detail, sizeof(detail), "%s", why);
	if ((j = problem_new(status, detail)) == NULL) {
		http_reply(r, 500, NULL, NULL);
		return;
	}
	reply_json_as(r, status, "application/problem+json", j);
	json_decref(j);
}

/*
 * Matches path against pattern; on success stores the {name} segments in
 * r (when r is not NULL) and returns 1.
 */
static int
route_match(const char *pattern, const char *path, struct http_req *r)
{
	const char *p = pattern, *q = path;
	size_t np = 0;

	while (*p != '\0' && *q != '\0') {
		if (*p == '{') {
			const char *pend = strchr(p, '}');
			const char *qend = strchrnul(q, '/');
			if (pend == NULL || qend == q || np == MAX_PARAMS)
				return 0;
			if (r != NULL) {
				r->pnames[np] = p + 1;
				r->pnamelen[np] = (size_t)(pend - p - 1);
				r->pvals[np] = strndup(q, (size_t)(qend - q));
				r->nparams = ++np;
			} else
				np++;
			p = pend + 1;
			q = qend;
			continue;
		}
		if (*p != *q)
			return 0;
		p++;
		q++;
	}
	return *p == '\0' && *q == '\0';
}

static enum http_method
method_of(struct evhttp_request *ev)
{
	switch (evhttp_request_get_command(ev)) {
	case EVHTTP_REQ_HEAD:	/* a GET whose body evhttp leaves out */
	case EVHTTP_REQ_GET:	return HTTP_GET;
	case EVHTTP_REQ_POST:	return HTTP_POST;
	case EVHTTP_REQ_PUT:	return HTTP_PUT;
	case EVHTTP_REQ_DELETE:	return HTTP_DELETE;
	default:		return 0;
	}
}

/* Token bucket per client: client_rate a second, bursts of as many. */
static int
rate_ok(struct http *h, const struct config_client *cl)
{
	long long rate = config_client_rate(server_gen_config(h->gen));
	struct client_stat *st;
	struct timespec now;
	double dt;

	if (rate == 0 || (st = client_stat(h, config_client_get0_name(cl)))
	    == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (st->last.tv_sec == 0)
		st->tokens = (double)rate;
	else {
		dt = (double)(now.tv_sec - st->last.tv_sec) +
		    (double)(now.tv_nsec - st->last.tv_nsec) / 1e9;
		st->tokens += dt * (double)rate;
		if (st->tokens > (double)rate)
			st->tokens = (double)rate;
	}
	st->last = now;
	if (st->tokens < 1.0)
		return 0;
	st->tokens -= 1.0;
	return 1;
}

/* The first request of a connection: count it under its client. */
static int
conn_admit(struct http *h, struct conn *c, struct http_req *r)
{
	struct client_stat *st;
	const char *name;

	if (c->requests++ > 0 || r->client == NULL)
		return 1;
	if (c->timer != NULL)
		evtimer_del(c->timer);
	name = config_client_get0_name(r->client);
	if ((st = client_stat(h, name)) == NULL ||
	    (c->client = strdup(name)) == NULL)
		return 1;
	st->conns++;
	return st->conns <= config_client_connections(server_gen_config(
	    h->gen));
}

static void
dispatch(struct evhttp_request *ev, void *arg)
{
	struct http *h = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	struct bufferevent *bev = evcon != NULL ?
	    evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct tls_peer *peer = ssl ? tls_peer_get0(ssl) : NULL;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const struct http_route *route = NULL;
	const struct config *cfg;
	struct conn *c = NULL;
	struct evbuffer *in;
	struct http_req *r;
	void *route_arg = NULL;
	char allow[64] = "";
	const char *fpr, *raw;
	size_t len;

	if (peer == NULL) {
		/* Never speak HTTP in the clear: out of memory at accept. */
		if (bev != NULL && bufferevent_getfd(bev) >= 0)
			(void)shutdown(bufferevent_getfd(bev), SHUT_RDWR);
		evhttp_send_error(ev, 500, NULL);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		evhttp_send_error(ev, 503, NULL);
		return;
	}
	r->h = h;
	r->ev = ev;
	clock_gettime(CLOCK_MONOTONIC, &r->arrived);
	LIST_INSERT_HEAD(&h->pending, r, entry);
	h->inflight++;
	r->gen = server_gen_ref(h->gen);
	cfg = server_gen_config(r->gen);
	TAILQ_INIT(&r->query);
	r->method = method_of(ev);
	snprintf(r->peer, sizeof(r->peer), "%s", tls_peer_label(peer));
	if ((fpr = tls_peer_fingerprint(peer)) != NULL) {
		snprintf(r->fingerprint, sizeof(r->fingerprint), "%s", fpr);
		r->client = config_client_find(cfg, fpr,
		    tls_peer_common_name(peer));
	}
	/*
	 * No configured client behind the connection (no certificate, or one
	 * not in the config: only public routes such as /healthz answer it):
	 * counted under no client's limits.client_connections, so it is
	 * closed after one answer, or such connections could hold every slot
	 * of limits.max_connections with keep-alive.
	 */
	if (r->client == NULL)
		http_req_add_header(r, "Connection", "close");
	c = tls_peer_get0_app(peer);
	if (c != NULL && c->requests == 0 && evcon != NULL)
		evhttp_connection_set_closecb(evcon, conn_closed, NULL);
	if (c != NULL) {
		c->busy++;
		evhttp_request_set_on_complete_cb(ev, conn_answered, c);
	}

	raw = uri ? evhttp_uri_get_path(uri) : NULL;
	if (raw == NULL || *raw == '\0')
		raw = "/";
	r->path = evhttp_uridecode(raw, 0, &len);
	if (r->path == NULL || strlen(r->path) != len) {
		http_problem(r, 400, "path", "not a valid URL path");
		return;
	}
	if (uri != NULL && evhttp_uri_get_query(uri) != NULL &&
	    evhttp_parse_query_str(evhttp_uri_get_query(uri), &r->query)
	    == -1) {
		http_problem(r, 400, "query", "not a valid query string");
		return;
	}
	if (c != NULL && !conn_admit(h, c, r)) {
		http_req_add_header(r, "Connection", "close");
		http_problem(r, 429, NULL, "client '%s' has more than "
		    "limits.client_connections (%lld) connections open",
		    config_client_get0_name(r->client),
		    config_client_connections(cfg));
		return;
	}
	in = evhttp_request_get_input_buffer(ev);
	if ((long long)evbuffer_get_length(in) > config_max_body(cfg)) {
		http_problem(r, 413, "body", "%zu bytes, more than "
		    "limits.max_body (%lld)", evbuffer_get_length(in),
		    config_max_body(cfg));
		return;
	}
	for (size_t i = 0; i < h->nsets && route == NULL; i++)
		for (size_t j = 0; j < h->sets[i].n; j++) {
			const struct http_route *rt = &h->sets[i].routes[j];
			if (!route_match(rt->pattern, r->path, NULL))
				continue;
			if (rt->method != r->method) {
				size_t al = strlen(allow);
				snprintf(allow + al, sizeof(allow) - al,
				    "%s%s", al ? ", " : "",
				    method_name(rt->method));
				continue;
			}
			route = rt;
			route_arg = h->sets[i].arg;
			break;
		}
	if (route == NULL && *allow != '\0') {
		http_req_add_header(r, "Allow", allow);
		http_problem(r, 405, "method", "%s is not allowed on %s "
		    "(allowed: %s)", method_name(r->method) , r->path, allow);
		return;
	}
	if (route == NULL) {
		http_problem(r, 404, "path", "no such resource: %s", r->path);
		return;
	}
	(void)route_match(route->pattern, r->path, r);
	r->route = route->pattern;
	if (!(route->roles & HTTP_PUBLIC)) {
		if (fpr == NULL) {
			http_problem(r, 403, "certificate", "a client "
			    "certificate is required");
			return;
		}
		if (r->client == NULL) {
			http_problem(r, 403, "certificate", "certificate "
			    "%.16s… is not one of the configured clients", fpr);
			return;
		}
		if (!(route->roles & config_client_role(r->client))) {
			http_problem(r, 403, "role", "client '%s' is %s %s; "
			    "%s %s is not for that role",
			    config_client_get0_name(r->client),
			    config_client_role(r->client) ==
			    CONFIG_ROLE_BUREAU ? "a" : "an",
			    config_role_name(config_client_role(r->client)),
			    method_name(r->method), route->pattern);
			return;
		}
	}
	if (r->client != NULL && !rate_ok(h, r->client)) {
		http_req_add_header(r, "Retry-After", "1");
		http_problem(r, 429, NULL, "client '%s' is over "
		    "limits.client_rate (%lld requests a second)",
		    config_client_get0_name(r->client),
		    config_client_rate(cfg));
		return;
	}
	route->handler(r, route_arg);
}

static void
apply_limits(struct http *h)
{
	const struct config *c = server_gen_config(h->gen);

	/*
	 * evhttp refuses bodies past twice the limit on its own (a bare 413
	 * before reading them); dispatch() answers those in between with a
	 * problem that names the limit.
	 */
	evhttp_set_max_body_size(h->evh, (ev_ssize_t)(2 * config_max_body(c)));
	evhttp_set_max_headers_size(h->evh, (ev_ssize_t)config_max_header(c));
	evhttp_set_timeout(h->evh, (int)config_idle_timeout(c));
}

struct http *
http_new(struct event_base *base, struct server_gen *g, char *err,
    size_t errlen)
{
	const struct config *c = server_gen_config(g);
	struct http *h;
	int nfds;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->evh = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->base = base;
	h->gen = server_gen_ref(g);
	LIST_INIT(&h->pending);
	LIST_INIT(&h->conns_open);
	LIST_INSERT_HEAD(&fronts, h, entry);
	h->accept_retry = evtimer_new(base, accept_resume, h);
	evhttp_set_bevcb(h->evh, bev_new, h);
	evhttp_set_gencb(h->evh, dispatch, h);
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	/* Read a refused body out before closing, so the client sees 413. */
	evhttp_set_flags(h->evh, EVHTTP_SERVER_LINGERING_CLOSE);
	apply_limits(h);
	/* Socket activation (systemd/shanhaid.socket): systemd bound them. */
	nfds = sd_listen_fds(1);
	if ((h->ls = calloc(nfds > 0 ? (size_t)nfds : config_listen_count(c),
	    sizeof(*h->ls))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < nfds; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
		    evutil_make_socket_nonblocking(fd) == -1 ||
		    (h->ls[i].bs = evhttp_accept_socket_with_handle(h->evh,
		    fd)) == NULL) {
			snprintf(err, errlen, "listen: socket %d from systemd "
			    "is not a listening TCP socket", fd);
			goto fail;
		}
		h->ls[i].name = "socket from systemd";
		h->nls++;
	}
	if (nfds > 0)
		log_info("listen: serving on the %d socket%s systemd passed; "
		    "'listen' is not used", nfds, nfds > 1 ? "s" : "");
	for (size_t i = 0; nfds <= 0 && i < config_listen_count(c); i++) {
		const char *name = config_get0_listen(c, i);
		char host[256];
		uint16_t port;

		if (config_listen_parse(name, host, sizeof(host), &port) == -1) {
			snprintf(err, errlen, "listen: '%s' is malformed", name);
			goto fail;
		}
		h->ls[i].bs = evhttp_bind_socket_with_handle(h->evh,
		    *host ? host : "0.0.0.0", port);
		if (h->ls[i].bs == NULL) {
			snprintf(err, errlen, "listen: cannot bind %s: %s",
			    name, strerror(errno));
			goto fail;
		}
		h->ls[i].name = (char *)name;
		h->nls++;
	}
	/* Out of descriptors: pause, not a busy loop (accept_error). */
	for (size_t i = 0; i < h->nls; i++)
		evconnlistener_set_error_cb(
		    evhttp_bound_socket_get_listener(h->ls[i].bs), accept_error);
	return h;
fail:
	http_free(h);
	return NULL;
}

void
http_free(struct http *h)
{
	struct http_req *r;

	if (h == NULL)
		return;
	/* Answers given after this are dropped quietly. */
	LIST_FOREACH(r, &h->pending, entry)
		r->ev = NULL;
	h->freed = 1;
	LIST_REMOVE(h, entry);
	if (h->accept_retry != NULL)
		event_free(h->accept_retry);
	h->accept_retry = NULL;
	h->nls = 0;
	free(h->ls);
	h->ls = NULL;
	evhttp_free(h->evh);
	server_gen_unref(h->gen);
	h->gen = NULL;
	http_release(h);
}

int
http_add_routes(struct http *h, const struct http_route *routes, size_t n,
    void *arg)
{
	struct routeset *s;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < h->nsets; j++)
			for (size_t k = 0; k < h->sets[j].n; k++)
				if (h->sets[j].routes[k].method ==
				    routes[i].method &&
				    strcmp(h->sets[j].routes[k].pattern,
				    routes[i].pattern) == 0) {
					log_warnx("route %s %s added twice",
					    method_name(routes[i].method),
					    routes[i].pattern);
					return -1;
				}
	if ((s = realloc(h->sets, (h->nsets + 1) * sizeof(*s))) == NULL)
		return -1;
	h->sets = s;
	h->sets[h->nsets++] = (struct routeset){ routes, n, arg };
	return 0;
}

void
http_set_gen(struct http *h, struct server_gen *g)
{
	struct server_gen *old = h->gen;

	h->gen = server_gen_ref(g);
	server_gen_unref(old);
	apply_limits(h);
}

void
http_stop(struct http *h)
{
	struct conn *c;

	h->stopping = 1;
	/* Idle connections go now; busy ones close after their answer. */
	LIST_FOREACH(c, &h->conns_open, entry)
		if (c->busy == 0)
			conn_cut(c);
	for (size_t i = 0; i < h->nls; i++)
		if (h->ls[i].bs != NULL) {
			evhttp_del_accept_socket(h->evh, h->ls[i].bs);
			h->ls[i].bs = NULL;
		}
}

size_t
http_inflight(const struct http *h)
{
	return h->inflight;
}

size_t
http_connections(const struct http *h)
{
	return h->conns;
}

void
http_set_observer(struct http *h, http_observe_fn *fn, void *arg)
{
	h->observe = fn;
	h->observe_arg = arg;
}

enum http_method
http_req_method(const struct http_req *r)
{
	return r->method;
}

const char *
http_req_path(const struct http_req *r)
{
	return r->path;
}

const char *
http_req_param(const struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strlen(name) == r->pnamelen[i] &&
		    strncmp(r->pnames[i], name, r->pnamelen[i]) == 0)
			return r->pvals[i];
	return NULL;
}

const char *
http_req_query(const struct http_req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

const char *
http_req_header(const struct http_req *r, const char *name)
{
	if (r->ev == NULL)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    name);
}

const char *
http_req_body(struct http_req *r, size_t *len)
{
	struct evbuffer *in;

	if (r->body == NULL && r->ev != NULL) {
		in = evhttp_request_get_input_buffer(r->ev);
		r->bodylen = evbuffer_get_length(in);
		if ((r->body = malloc(r->bodylen + 1)) == NULL) {
			*len = 0;
			return NULL;
		}
		evbuffer_copyout(in, r->body, r->bodylen);
		r->body[r->bodylen] = '\0';
	}
	*len = r->bodylen;
	return r->body;
}

const struct config_client *
http_req_client(const struct http_req *r)
{
	return r->client;
}

const char *
http_req_fingerprint(const struct http_req *r)
{
	return r->fingerprint[0] ? r->fingerprint : NULL;
}

const char *
http_req_peer(const struct http_req *r)
{
	return r->peer;
}

struct server_gen *
http_req_gen(const struct http_req *r)
{
	return r->gen;
}

void
http_req_log(const struct http_req *r, enum log_level level,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_log(level, "%s: %s", r->peer, msg);
}
