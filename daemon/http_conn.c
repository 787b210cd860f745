/*
 * http_conn: a connection: its TLS bufferevent, the request timeout of its
 * start, its count under its client (limits.client_connections), the
 * client's rate bucket (limits.client_rate), joining an answer into one
 * TLS record, and close_notify.
 */
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
#include <event2/util.h>

#include "shanhai/generation.h"
#include "shanhai/tls.h"

#include "http_impl.h"

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
	if (http_may_accept(h)) {
		http_listeners_enable(h, 1);
		log_info("connections: %zu open, accepting again", h->conns);
	}
	http_release(h);
}

/* "ADDR FPR8" of a connection, for log lines. */
const char *
http_conn_label(const struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	struct tls_peer *p = ssl ? tls_peer_get0(ssl) : NULL;

	return p ? tls_peer_label(p) : "-";
}

/* Ends a connection that has no answer to write (shutdown: idle ones). */
void
http_conn_cut(struct conn *c)
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
	log_notice("%s: no request within %llds: closing", http_conn_label(c),
	    config_request_timeout(server_gen_config(c->h->gen)));
	/* evhttp sees the end of the stream and frees the connection. */
	http_conn_cut(c);
}

/*
 * Output added to a connection. Outside http_reply() it is evhttp's own
 * answer (a refusal before dispatch, a 100 Continue): http_foreign_answer()
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
		http_foreign_answer(c, buf);
	len = evbuffer_get_length(buf);
	if (len <= 16384 && evbuffer_get_contiguous_space(buf) < len)
		(void)evbuffer_pullup(buf, -1);
}

struct bufferevent *
http_conn_new(struct event_base *base, void *arg)
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
		http_listeners_enable(h, 0);
		log_warnx("connections: %zu open, limits.max_connections "
		    "(%lld) reached; new ones wait", h->conns,
		    config_max_connections(cfg));
	}
	return bev;
}

/* The answer is written out: the connection is idle again. */
void
http_conn_answered(struct evhttp_request *ev, void *arg)
{
	struct conn *c = arg;

	c->busy--;
}

/* Connection close: say close_notify first (libevent 2.1 does not). */
void
http_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	if (ssl != NULL)
		tls_shutdown(ssl);
}

/* Token bucket per client: client_rate a second, bursts of as many. */
int
http_rate_ok(struct http *h, const struct config_client *cl)
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
int
http_conn_admit(struct http *h, struct conn *c, struct http_req *r)
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
