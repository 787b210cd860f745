/*
 * http_reply: answers: one evbuffer per answer, JSON, RFC 9457 problems,
 * and evhttp's own refusals replaced by problems (http_error.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "shanhai/canon.h"
#include "shanhai/generation.h"
#include "shanhai/http_error.h"

#include "http_impl.h"

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
		    "%s: %s %s %d%s%s", r->peer, http_method_name(r->method), r->path,
		    status, r->client ? " " : "",
		    r->client ? config_client_get0_name(r->client) : "");
		if (r->h->observe != NULL) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			r->h->observe(r->h->observe_arg, http_method_name(r->method),
			    r->route, status, (double)(now.tv_sec -
			    r->arrived.tv_sec) + (now.tv_nsec -
			    r->arrived.tv_nsec) / 1e9);
		}
	} else if (body != NULL)
		evbuffer_drain(body, evbuffer_get_length(body));
	http_req_free(r);
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
 * evhttp answers some requests itself, before http_dispatch() sees them: a body
 * over the size it was told (twice limits.max_body), declared or chunked;
 * a malformed request or headers over limits.max_header; an Expect other
 * than 100-continue; a method it does not know; and http_dispatch() itself
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
		    http_conn_label(c), status, detail);
	return json;
}

/* evhttp's own answer at c->foreign_at: replaced once whole, if a refusal. */
void
http_foreign_answer(struct conn *c, struct evbuffer *buf)
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
		    " as it is", http_conn_label(c), status);
}
