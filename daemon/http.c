/*
 * http: the front itself: listeners (bound or from systemd), accepting
 * under limits.max_connections, the generation in force, the stop and the
 * free (see http.h; http_impl.h says which file holds which job).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <systemd/sd-daemon.h>

#include "shanhai/generation.h"

#include "http_impl.h"

/* Every live front: libevent hands an accept error only the struct evhttp. */
static LIST_HEAD(, http) fronts = LIST_HEAD_INITIALIZER(fronts);

void
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

void
http_listeners_enable(struct http *h, int on)
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

/* Whether paused listeners may accept again: room, and not closing. */
int
http_may_accept(const struct http *h)
{
	return h->paused && !h->stopping && !h->freed &&
	    h->conns < (size_t)config_max_connections(server_gen_config(h->gen));
}

/* After an accept() pause: listen again unless something else holds it. */
static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;

	if (http_may_accept(h))
		http_listeners_enable(h, 1);
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
	http_listeners_enable(h, 0);
	if (h->accept_retry != NULL)
		evtimer_add(h->accept_retry, &pause);
}

static void
apply_limits(struct http *h)
{
	const struct config *c = server_gen_config(h->gen);

	/*
	 * evhttp refuses bodies past twice the limit on its own (a bare 413
	 * before reading them); http_dispatch() answers those in between with a
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
	evhttp_set_bevcb(h->evh, http_conn_new, h);
	evhttp_set_gencb(h->evh, http_dispatch, h);
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
			http_conn_cut(c);
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
