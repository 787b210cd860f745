/*
 * http: the HTTPS front of shanhaid (SPEC §7), evhttp over
 * bufferevent_openssl. It owns the listeners, the connections and their
 * limits, a route table, and answers: every answer is one evbuffer, errors
 * are RFC 9457 application/problem+json.
 *
 * Adding an endpoint is one row and a handler:
 *
 *	static const struct http_route routes[] = {
 *		{ HTTP_GET, "/v1/agreements/{id}/periods/{period}",
 *		  CONFIG_ROLE_ANY, period_get },
 *	};
 *	http_add_routes(server_get0_http(s), routes, 1, state);
 *
 * The handler runs when the whole request arrived, the client's role was
 * checked against the row's mask (no certificate or an unmapped one: 403,
 * unless the mask is HTTP_PUBLIC), and the path matched; {name} segments
 * are read with http_req_param(). It must answer exactly once with
 * http_reply*() or http_problem(): before it returns, or later from any
 * callback of the same event loop (asynchronous answer, e.g. after a group
 * commit reached the disk). Until then the request, its client and its
 * generation stay valid; if the client went away meanwhile the answer is
 * dropped silently but must still be given, to free the request.
 */
#ifndef SHANHAI_HTTP_H
#define SHANHAI_HTTP_H

#include <stddef.h>

#include <jansson.h>

#include "shanhai/config.h"

struct evbuffer;
struct event_base;
struct http;
struct http_req;
struct server_gen;

enum http_method {
	HTTP_GET = 1,
	HTTP_POST = 2,
	HTTP_PUT = 4,
	HTTP_DELETE = 8,
};

/* Role mask of a route anyone may call, even without a certificate. */
#define HTTP_PUBLIC	0x100

struct http_route {
	enum http_method method;
	const char	*pattern;	/* "/v1/x/{id}": {name} = one segment */
	unsigned	 roles;		/* CONFIG_ROLE_* bits, or HTTP_PUBLIC */
	void		(*handler)(struct http_req *req, void *arg);
};

/*
 * A front on base serving generation g (a reference is taken): binds every
 * `listen` address. NULL with the reason in err.
 */
struct http	*http_new(struct event_base *base, struct server_gen *g,
		    char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/* Tears down every connection and listener; pending requests are dropped. */
void		 http_free(struct http *h);
/*
 * Adds routes (the table must outlive h); arg is passed to their handlers.
 * Returns 0, or -1 when a (method, pattern) is already taken.
 */
int		 http_add_routes(struct http *h, const struct http_route *routes,
		    size_t n, void *arg) __attribute__((warn_unused_result));
/* Switches to generation g for new requests and connections (reload). */
void		 http_set_gen(struct http *h, struct server_gen *g);
/*
 * Closes the listeners and the idle connections; the others close once
 * their answers are written ("Connection: close").
 */
void		 http_stop(struct http *h);
/* Requests dispatched and not yet answered; open connections. */
size_t		 http_inflight(const struct http *h);
size_t		 http_connections(const struct http *h);
/*
 * For metrics: fn(arg, …) hears every answer as it is sent, on the event
 * loop: the method ("GET"), the matched route's pattern (NULL when no route
 * matched), the status, and the seconds since the request had arrived.
 * One observer; NULL removes it.
 */
typedef void http_observe_fn(void *arg, const char *method,
    const char *route, int status, double seconds);
void		 http_set_observer(struct http *h, http_observe_fn *fn,
		    void *arg);

/* The request. Borrowed pointers stay valid until it is answered. */
enum http_method http_req_method(const struct http_req *r);
const char	*http_req_path(const struct http_req *r);
/* The {name} segment of the matched pattern (decoded), or NULL. */
const char	*http_req_param(const struct http_req *r, const char *name);
/* A query parameter (decoded), or NULL when absent. */
const char	*http_req_query(const struct http_req *r, const char *name);
const char	*http_req_header(const struct http_req *r, const char *name);
/*
 * The body, NUL-terminated for convenience (len excludes the NUL); NULL
 * (and *len 0) when there is no memory to copy it into.
 */
const char	*http_req_body(struct http_req *r, size_t *len);
/* The mapped client, or NULL (only on HTTP_PUBLIC routes). */
const struct config_client *http_req_client(const struct http_req *r);
/* The client certificate's fingerprint (hex), or NULL. */
const char	*http_req_fingerprint(const struct http_req *r);
/* "ADDR FPR8" of the connection, for log lines. */
const char	*http_req_peer(const struct http_req *r);
/* The generation the request was dispatched under. */
struct server_gen *http_req_gen(const struct http_req *r);
/* A log line prefixed with the peer, e.g. "127.0.0.1:5321 5f0c1a2b: …". */
void		 http_req_log(const struct http_req *r, enum log_level level,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Answers status with body (its contents are moved out; NULL: empty) and
 * content type ctype (NULL: none). Frees r.
 */
void		 http_reply(struct http_req *r, int status, const char *ctype,
		    struct evbuffer *body);
/* Answers with j as compact JSON + "\n" (application/json); j borrowed. */
void		 http_reply_json(struct http_req *r, int status,
		    const json_t *j);
/*
 * Answers an RFC 9457 problem: {"type":"about:blank","title":<reason
 * phrase>,"status":status,"detail":"<field>: <why>"} (field may be NULL
 * when no one field is at fault, then detail is <why>).
 */
void		 http_problem(struct http_req *r, int status, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Adds a response header before the answer. */
void		 http_req_add_header(struct http_req *r, const char *name,
		    const char *value);

#endif
