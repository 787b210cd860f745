/*
 * http_error: the answers evhttp writes on its own, before dispatch() sees
 * a request (a body or headers over the limits, a malformed request, an
 * unknown method or Expect), found in a connection's output buffer by the
 * HTTP grammar alone and replaced there by the problem+json of SPEC 7.
 * libevent 2.1 has no hook for them (2.2's evhttp_set_errorcb); nothing
 * here depends on the page evhttp writes, only on its status line, its
 * header block and its Content-Length.
 */
#ifndef SHANHAI_HTTP_ERROR_H
#define SHANHAI_HTTP_ERROR_H

#include <stddef.h>

struct evbuffer;

enum http_error_scan {
	HTTP_ERROR_PARTIAL,	/* not all of the answer is there yet */
	HTTP_ERROR_KEPT,	/* a whole answer, not a refusal: left as is */
	HTTP_ERROR_REPLACED,	/* a refusal, now problem+json */
	HTTP_ERROR_FAILED,	/* not an HTTP answer, or out of memory: left */
};

/*
 * The problem+json body for a refusal with this status (a malloc'd string
 * without its newline), or NULL.
 */
typedef char *http_error_body_fn(int status, void *arg);

/*
 * Looks at the answer that starts at byte `from` of buf. Once it is whole
 * and its status is 400 or more, replaces it (from its first byte to the
 * end of its body) by the same status line and headers with Content-Type
 * application/problem+json, Content-Length and the body that body(status,
 * arg) makes. *status is the answer's status when known.
 */
enum http_error_scan http_error_rewrite(struct evbuffer *buf, size_t from,
    http_error_body_fn *body, void *arg, int *status);

#endif
