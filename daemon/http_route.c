/*
 * http_route: the route table and dispatch: a request is made from
 * evhttp's, counted under its connection, checked against the limits, its
 * path matched to a route, its client's role to the route's, and handed to
 * the handler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "shanhai/generation.h"
#include "shanhai/tls.h"

#include "http_impl.h"

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
					    http_method_name(routes[i].method),
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
http_dispatch(struct evhttp_request *ev, void *arg)
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
		evhttp_connection_set_closecb(evcon, http_conn_closed, NULL);
	if (c != NULL) {
		c->busy++;
		evhttp_request_set_on_complete_cb(ev, http_conn_answered, c);
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
	if (c != NULL && !http_conn_admit(h, c, r)) {
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
				    http_method_name(rt->method));
				continue;
			}
			route = rt;
			route_arg = h->sets[i].arg;
			break;
		}
	if (route == NULL && *allow != '\0') {
		http_req_add_header(r, "Allow", allow);
		http_problem(r, 405, "method", "%s is not allowed on %s "
		    "(allowed: %s)", http_method_name(r->method) , r->path, allow);
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
			    http_method_name(r->method), route->pattern);
			return;
		}
	}
	if (r->client != NULL && !http_rate_ok(h, r->client)) {
		http_req_add_header(r, "Retry-After", "1");
		http_problem(r, 429, NULL, "client '%s' is over "
		    "limits.client_rate (%lld requests a second)",
		    config_client_get0_name(r->client),
		    config_client_rate(cfg));
		return;
	}
	route->handler(r, route_arg);
}
