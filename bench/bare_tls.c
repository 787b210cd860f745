/*
 * bare_tls -c shanhaid.conf -p PORT: the yardstick of bench_ingest. A
 * minimal evhttp server over bufferevent_openssl with the daemon's own TLS
 * context (TLS 1.3, client certificates verified against tls.client_ca),
 * answering every request "200 ok" and doing nothing else: what ingest
 * costs is measured against it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "shanhai/config.h"
#include "shanhai/tls.h"

static struct bufferevent *
bev_new(struct event_base *base, void *arg)
{
	SSL *ssl = tls_server_ssl_new(arg);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/* close_notify, as the daemon sends it: a session kept for resumption
 * is dropped by OpenSSL when its connection ends without one. */
static void
closed(struct evhttp_connection *evcon, void *arg)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	(void)arg;
	if (ssl != NULL)
		tls_shutdown(ssl);
}

static void
answer(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evhttp_request_get_output_buffer(req);

	(void)arg;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    closed, NULL);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evbuffer_add(b, "200 ok\n", 7);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	const char *conf = NULL;
	int port = 0, ch;
	char err[1024];
	struct config *c;
	struct event_base *base;
	struct evhttp *h;
	struct event *ev;
	SSL_CTX *ctx;

	while ((ch = getopt(argc, argv, "c:p:")) != -1) {
		if (ch == 'c')
			conf = optarg;
		else if (ch == 'p')
			port = atoi(optarg);
		else
			break;
	}
	if (conf == NULL || port <= 0 || port > 65535) {
		fprintf(stderr, "usage: bare_tls -c shanhaid.conf -p PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((c = config_load(conf, err, sizeof(err))) == NULL ||
	    (ctx = tls_server_ctx_new(c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bare_tls: %s\n", err);
		return 1;
	}
	base = event_base_new();
	h = evhttp_new(base);
	evhttp_set_bevcb(h, bev_new, ctx);
	evhttp_set_gencb(h, answer, NULL);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if (evhttp_bind_socket(h, "127.0.0.1", (ev_uint16_t)port) != 0) {
		fprintf(stderr, "bare_tls: cannot listen on 127.0.0.1:%d\n", port);
		return 1;
	}
	ev = evsignal_new(base, SIGTERM, on_term, base);
	event_add(ev, NULL);
	event_base_dispatch(base);
	event_free(ev);
	evhttp_free(h);
	event_base_free(base);
	SSL_CTX_free(ctx);
	config_free(c);
	return 0;
}
