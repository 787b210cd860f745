/*
 * http_impl.h: what the files of the HTTPS front share; private to
 * daemon/http*.c (the interface is include/shanhai/http.h).
 *
 *   http.c        the front: listeners, accepting under
 *                 limits.max_connections, the generation in force, stop
 *   http_conn.c   a connection: TLS bufferevent, request timeout, its
 *                 client's connection count and rate, one TLS record per
 *                 answer, close_notify
 *   http_route.c  the route table and dispatch (limits, roles, handler)
 *   http_reply.c  answers: JSON, problems, evhttp's own refusals replaced
 *   http_req.c    the request as a handler reads it
 *   http_error.c  finding evhttp's own answers in the output (http_error.h)
 *
 * The front reads the generation (generation.h) and never the server:
 * server.c uses http.h, not the other way round.
 *
 * Lifetimes. A connection's state (struct conn) hangs off its SSL through
 * tls_peer and goes when libevent frees the SSL. A request's state (struct
 * http_req) is made at dispatch and freed by its answer; it copies what it
 * needs from the connection, which may close first. struct http itself
 * lives on until its last connection and request are gone, so a late
 * callback never touches freed memory.
 */
#ifndef SHANHAI_HTTP_IMPL_H
#define SHANHAI_HTTP_IMPL_H

#include <stddef.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/keyvalq_struct.h>

#include "shanhai/config.h"
#include "shanhai/http.h"
#include "shanhai/log.h"

struct bufferevent;
struct evbuffer;
struct evhttp_connection;
struct evhttp_request;

#define MAX_PARAMS	8

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

/* http.c */
/* Frees h once it was freed and its last connection and request went. */
void		 http_release(struct http *h);
void		 http_listeners_enable(struct http *h, int on);
/* Whether paused listeners may accept again: room, and not closing. */
int		 http_may_accept(const struct http *h);

/* http_conn.c */
/* evhttp's bufferevent callback: a new TLS connection of h (arg). */
struct bufferevent *http_conn_new(struct event_base *base, void *arg);
const char	*http_conn_label(const struct conn *c);
void		 http_conn_cut(struct conn *c);
void		 http_conn_answered(struct evhttp_request *ev, void *arg);
void		 http_conn_closed(struct evhttp_connection *evcon, void *arg);
int		 http_conn_admit(struct http *h, struct conn *c,
		    struct http_req *r);
int		 http_rate_ok(struct http *h, const struct config_client *cl);

/* http_route.c: evhttp's request callback. */
void		 http_dispatch(struct evhttp_request *ev, void *arg);

/* http_reply.c: evhttp's own answer at c->foreign_at, in buf. */
void		 http_foreign_answer(struct conn *c, struct evbuffer *buf);

/* http_req.c */
void		 http_log(enum log_level level, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*http_method_name(enum http_method m);
void		 http_req_free(struct http_req *r);

#endif
