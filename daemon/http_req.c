/*
 * http_req: a request as a handler sees it: its method, path, {name}
 * segments, query, headers, body, client and generation, until it is
 * answered (http_req_free(), from http_reply()).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "shanhai/generation.h"

#include "http_impl.h"

void __attribute__((format(printf, 2, 3)))
http_log(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(level, fmt, ap);
	va_end(ap);
}

const char *
http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:		return "GET";
	case HTTP_POST:		return "POST";
	case HTTP_PUT:		return "PUT";
	case HTTP_DELETE:	return "DELETE";
	}
	return "?";
}

void
http_req_free(struct http_req *r)
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
