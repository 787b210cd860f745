/*
 * loadgen: the load generator of bench_ingest. N mutually authenticated
 * TLS connections (the tls module's client context), kept alive, each
 * submitting valid reports in turn: connection i reports agreement
 * PREFIX<i % agreements> for consecutive months from --offset on, so every
 * report is new and settles. Prints one line of key=value figures.
 *
 *   loadgen -h HOST -p PORT --cacert CA --cert C --key K
 *           [-c CONNS] [-t THREADS] [-d SECONDS] [-w WARMUP] [-r RATE]
 *           [--agreements M] [--prefix bench-] [--offset K] [--count N]
 *           [--healthz] [--new-conns]
 *
 * -r RATE offers RATE requests/s in total (each connection on a schedule;
 * latency counts from the scheduled time, so a slow answer is not hidden).
 * --new-conns makes every request a new connection with a full handshake
 * (GET /healthz), to count new mTLS connections per second; with --resume
 * each connection resumes the session of the one before (TLS 1.3 tickets),
 * as a returning client would. --count N: each connection stops after N
 * reports (months offset to offset + N - 1), and loadgen once all have,
 * or at -d SECONDS; bench_history builds a ledger's history with it.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "shanhai/tls.h"

struct opts {
	const char	*host, *cacert, *cert, *key, *prefix;
	int		 port, conns, threads, agreements, healthz, newconns;
	int		 resume;
	double		 seconds, warmup, rate;
	long		 offset, count;
};

struct worker;

struct conn {
	struct worker		*w;
	int			 id;
	struct bufferevent	*bev;
	struct event		*timer;
	SSL_SESSION		*sess;		/* --resume: the last one */
	long			 next_period;	/* index of the next report */
	int			 counted;	/* --count reached */
	double			 sent_at;	/* start of the pending request */
	double			 due;		/* rate mode: next scheduled send */
	int			 busy;
};

struct worker {
	const struct opts	*o;
	struct event_base	*base;
	SSL_CTX			*ctx;
	struct conn		*conns;
	int			 nconns, first;
	struct sockaddr_in	 sin;
	double			 t0, measure_from, stop_at;
	int			 counted;	/* connections done (--count) */
	uint32_t		*lat;		/* microseconds */
	size_t			 nlat, caplat;
	uint64_t		 done, errors, connects, bad_status, resumed;
	pthread_t		 thread;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void	conn_start(struct conn *);
static void	conn_send(struct conn *);

static void
record(struct worker *w, double started, int ok)
{
	double t = now();

	if (t < w->measure_from || t > w->stop_at)
		return;
	if (!ok) {
		w->errors++;
		return;
	}
	w->done++;
	if (w->nlat == w->caplat) {
		size_t cap = w->caplat ? w->caplat * 2 : 65536;
		uint32_t *n = realloc(w->lat, cap * sizeof(*n));

		if (n == NULL)
			return;
		w->lat = n;
		w->caplat = cap;
	}
	/* A timer may fire a hair early: never a negative latency. */
	w->lat[w->nlat++] = t > started ? (uint32_t)((t - started) * 1e6) : 0;
}

/* The body of the next report of connection c. */
static int
report_body(struct conn *c, char *buf, size_t len)
{
	const struct opts *o = c->w->o;
	long p = o->offset + c->next_period++;
	int agreement = c->id % o->agreements;

	return snprintf(buf, len, "{\"report_id\":\"b-%ld\",\"agreement\":"
	    "\"%s%02d\",\"period\":\"%04ld-%02ld\",\"role\":\"host\","
	    "\"taxes\":{\"vat\":\"%ld.%02ld\"}}", p, o->prefix, agreement,
	    1000 + p / 12, p % 12 + 1, 100000 + p % 7919, p % 100);
}

static void
conn_send(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char body[512];
	int n;

	c->busy = 1;
	c->sent_at = c->w->o->rate > 0 ? c->due : now();
	if (c->w->o->healthz || c->w->o->newconns) {
		evbuffer_add_printf(out, "GET /healthz HTTP/1.1\r\nHost: bench\r\n"
		    "%s\r\n", c->w->o->newconns ? "Connection: close\r\n" : "");
		return;
	}
	n = report_body(c, body, sizeof(body));
	evbuffer_add_printf(out, "POST /v1/reports HTTP/1.1\r\nHost: bench\r\n"
	    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
	    n, body);
}

/*
 * --count: has c sent its reports? The first time it has, it is counted,
 * and the worker's loop ends once all its connections are.
 */
static int
counted_out(struct conn *c)
{
	struct worker *w = c->w;

	if (w->o->count <= 0 || c->next_period < w->o->count)
		return 0;
	if (!c->counted) {
		c->counted = 1;
		if (++w->counted == w->nconns)
			event_base_loopexit(w->base, NULL);
	}
	return 1;
}

/* Rate mode: send now or when the schedule says. */
static void
conn_next(struct conn *c)
{
	const struct opts *o = c->w->o;
	double t = now(), wait;
	struct timeval tv;

	if (t >= c->w->stop_at || counted_out(c)) {
		c->busy = 0;
		return;
	}
	if (o->rate <= 0) {
		conn_send(c);
		return;
	}
	c->due += (double)o->conns / o->rate;
	wait = c->due - t;
	if (wait <= 0) {
		conn_send(c);
		return;
	}
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(c->timer, &tv);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_send(arg);
}

static void
conn_drop(struct conn *c)
{
	SSL *ssl = c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
	SSL_SESSION *sess = ssl ? SSL_get0_session(ssl) : NULL;

	if (sess != NULL && c->w->o->resume && SSL_SESSION_is_resumable(sess)) {
		SSL_SESSION_free(c->sess);
		c->sess = SSL_get1_session(ssl);
		/* Freed without close_notify, OpenSSL would spoil the session. */
		tls_shutdown(ssl);
	}
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
}

/* Parses whole answers off the input; each one frees the connection. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		char *head, *cl;
		size_t hlen, blen = 0;
		int status = 0;

		if (end.pos < 0)
			return;
		hlen = (size_t)end.pos + 4;
		if ((head = malloc(hlen + 1)) == NULL)
			return;
		evbuffer_copyout(in, head, hlen);
		head[hlen] = '\0';
		sscanf(head, "HTTP/1.%*[01] %d", &status);
		for (cl = head; (cl = strchr(cl, '\n')) != NULL; cl++)
			if (strncasecmp(cl + 1, "Content-Length:", 15) == 0)
				blen = strtoul(cl + 16, NULL, 10);
		free(head);
		if (evbuffer_get_length(in) < hlen + blen)
			return;
		evbuffer_drain(in, hlen + blen);
		if (status != 200 && status != 201)
			c->w->bad_status++;
		record(c->w, c->sent_at, status == 200 || status == 201);
		c->busy = 0;
		if (c->w->o->newconns) {
			conn_drop(c);
			if (now() < c->w->stop_at)
				conn_start(c);
			return;
		}
		conn_next(c);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		c->w->connects++;
		if (SSL_session_reused(bufferevent_openssl_get_ssl(c->bev)))
			c->w->resumed++;
		c->due = now();
		if (!counted_out(c))
			conn_send(c);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		if (c->busy)
			record(c->w, c->sent_at, 0);
		c->busy = 0;
		conn_drop(c);
		if (now() < c->w->stop_at)
			conn_start(c);
	}
}

static void
conn_start(struct conn *c)
{
	struct worker *w = c->w;
	SSL *ssl = SSL_new(w->ctx);

	if (ssl == NULL || tls_client_set_host(ssl, w->o->host) < 0) {
		SSL_free(ssl);
		return;
	}
	if (c->sess != NULL)
		SSL_set_session(ssl, c->sess);
	c->bev = bufferevent_openssl_socket_new(w->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		return;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&w->sin,
	    sizeof(w->sin)) < 0)
		conn_drop(c);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct timeval tv;
	struct event *stop;
	double d = w->stop_at - now();

	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		c->w = w;
		c->id = w->first + i;
		c->timer = evtimer_new(w->base, on_timer, c);
		conn_start(c);
	}
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	stop = evtimer_new(w->base, on_stop, w->base);
	evtimer_add(stop, &tv);
	event_base_dispatch(w->base);
	event_free(stop);
	for (int i = 0; i < w->nconns; i++) {
		conn_drop(&w->conns[i]);
		event_free(w->conns[i].timer);
		SSL_SESSION_free(w->conns[i].sess);
	}
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/*
 * An event base with timers to the microsecond (timerfd). With epoll_wait's
 * millisecond timeout, rate-mode sends fired up to 1 ms late (and latency
 * counts from the scheduled time), and the rounding lined every
 * connection's schedule up on the same tick, so that all of them sent at
 * once, once a period, instead of spread over it.
 */
static struct event_base *
new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cacert", required_argument, NULL, 'A' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "agreements", required_argument, NULL, 'M' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "offset", required_argument, NULL, 'O' },
		{ "count", required_argument, NULL, 'n' },
		{ "healthz", no_argument, NULL, 'H' },
		{ "new-conns", no_argument, NULL, 'N' },
		{ "resume", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .host = "127.0.0.1", .prefix = "bench-",
	    .conns = 32, .threads = 1, .agreements = 32, .seconds = 5,
	    .warmup = 1 };
	struct worker *ws;
	char err[512];
	uint32_t *all;
	size_t nall = 0;
	uint64_t done = 0, errors = 0, connects = 0, bad = 0, resumed = 0;
	double start;
	int ch;

	while ((ch = getopt_long(argc, argv, "h:p:c:t:d:w:r:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'c': o.conns = atoi(optarg); break;
		case 't': o.threads = atoi(optarg); break;
		case 'd': o.seconds = atof(optarg); break;
		case 'w': o.warmup = atof(optarg); break;
		case 'r': o.rate = atof(optarg); break;
		case 'A': o.cacert = optarg; break;
		case 'C': o.cert = optarg; break;
		case 'K': o.key = optarg; break;
		case 'M': o.agreements = atoi(optarg); break;
		case 'P': o.prefix = optarg; break;
		case 'O': o.offset = atol(optarg); break;
		case 'n': o.count = atol(optarg); break;
		case 'H': o.healthz = 1; break;
		case 'N': o.newconns = 1; break;
		case 'R': o.resume = 1; break;
		default:
			fprintf(stderr, "loadgen: see the comment at the top of"
			    " bench/loadgen.c\n");
			return 2;
		}
	}
	if (o.port <= 0 || o.cacert == NULL || o.conns <= 0 ||
	    o.threads <= 0 || o.threads > o.conns || o.agreements <= 0) {
		fprintf(stderr, "usage: loadgen -p PORT --cacert CA --cert C"
		    " --key K [-c CONNS] [-t THREADS] [-d SECONDS] [-r RATE]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((ws = calloc((size_t)o.threads, sizeof(*ws))) == NULL)
		return 1;
	start = now();
	for (int t = 0; t < o.threads; t++) {
		struct worker *w = &ws[t];

		w->o = &o;
		w->first = o.conns * t / o.threads;
		w->nconns = o.conns * (t + 1) / o.threads - w->first;
		w->conns = calloc((size_t)w->nconns, sizeof(*w->conns));
		w->base = new_base();
		w->ctx = tls_client_ctx_new(o.cacert, o.cert, o.key, err,
		    sizeof(err));
		if (w->conns == NULL || w->base == NULL || w->ctx == NULL) {
			fprintf(stderr, "loadgen: %s\n", w->ctx ? "out of memory" :
			    err);
			return 1;
		}
		/* Every handshake a full one, unless resuming is asked for. */
		if (o.resume)
			SSL_CTX_set_session_cache_mode(w->ctx,
			    SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
		else {
			SSL_CTX_set_session_cache_mode(w->ctx,
			    SSL_SESS_CACHE_OFF);
			SSL_CTX_set_options(w->ctx, SSL_OP_NO_TICKET);
		}
		w->sin.sin_family = AF_INET;
		w->sin.sin_port = htons((uint16_t)o.port);
		inet_pton(AF_INET, o.host, &w->sin.sin_addr);
		w->t0 = start;
		w->measure_from = start + o.warmup;
		w->stop_at = start + o.warmup + o.seconds;
	}
	for (int t = 0; t < o.threads; t++)
		pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]);
	for (int t = 0; t < o.threads; t++) {
		pthread_join(ws[t].thread, NULL);
		nall += ws[t].nlat;
		done += ws[t].done;
		errors += ws[t].errors;
		connects += ws[t].connects;
		bad += ws[t].bad_status;
		resumed += ws[t].resumed;
	}
	if ((all = malloc((nall + 1) * sizeof(*all))) == NULL)
		return 1;
	nall = 0;
	for (int t = 0; t < o.threads; t++) {
		memcpy(all + nall, ws[t].lat, ws[t].nlat * sizeof(*all));
		nall += ws[t].nlat;
		free(ws[t].lat);
		free(ws[t].conns);
		SSL_CTX_free(ws[t].ctx);
		event_base_free(ws[t].base);
	}
	qsort(all, nall, sizeof(*all), cmp_u32);
	printf("requests=%llu errors=%llu bad_status=%llu connects=%llu"
	    " resumed=%llu seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	    (unsigned long long)done, (unsigned long long)errors,
	    (unsigned long long)bad, (unsigned long long)connects,
	    (unsigned long long)resumed, o.seconds,
	    (double)done / o.seconds, pct(all, nall, 0.50),
	    pct(all, nall, 0.99), pct(all, nall, 1.0));
	free(all);
	free(ws);
	return errors > 0 && done == 0 ? 1 : 0;
}
