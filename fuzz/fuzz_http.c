/*
 * fuzz_http: the daemon's HTTP request path. One shanhaid runs in this
 * process (its own config, test PKI, ledger key and state in a temporary
 * folder; the modules of shanhaid.c), and each input is one request sent
 * over a new mutually authenticated TLS connection: the first byte picks
 * the client (a bureau, the auditor, the operator, none), the rest are
 * the bytes on the wire. The request goes through evhttp's parser, the
 * routes, the role checks, the limits and the handlers, POST /v1/reports
 * through the engine and a group commit. Properties: the daemon never
 * crashes, never answers 500, and every answer it gives is well-formed
 * HTTP/1.1 with a status it documents.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "fuzz.h"

#include "shanhai/api.h"
#include "shanhai/ingest.h"
#include "shanhai/log.h"
#include "shanhai/monitor.h"
#include "shanhai/note.h"
#include "shanhai/server.h"

static const struct server_module *const modules[] = {
	&api_module,
	&ingest_module,
	&monitor_module,
};
static const char *const idents[] = { "yuhang", "auditor", "operator", NULL };

static struct server	*srv;
static struct event_base *base;
static SSL_CTX		*cctx[4];
static int		 port;

struct exchange {
	const uint8_t		*req;
	size_t			 len;
	struct evbuffer		*resp;
	int			 done;
};

static char	 tmpdir[] = "/tmp/shanhai-fuzz-http.XXXXXX";

static void
cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_http: could not remove %s\n", tmpdir);
}

static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == -1)
		abort();
	p = ntohs(sin.sin_port);
	close(fd);
	return p;
}

static char *
slurp_fpr(const char *dir, const char *name)
{
	char path[512], line[256], *fpr = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/fingerprints", dir);
	if ((f = fopen(path, "r")) == NULL)
		abort();
	while (fgets(line, sizeof(line), f) != NULL) {
		char n[64], h[128];

		if (sscanf(line, "%63s %127s", n, h) == 2 && strcmp(n, name) == 0)
			fpr = strdup(h);
	}
	fclose(f);
	if (fpr == NULL)
		abort();
	return fpr;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cwd[512];
	const char *top = getenv("TOP");
	char *dir = tmpdir, cmd[1024], path[600];
	char err[8192], *fy, *fo;
	struct note_signer *signer;
	struct server_gen *g;
	FILE *f;

	/* Paths in the config must not depend on where it is read from. */
	if (top == NULL)
		top = getcwd(cwd, sizeof(cwd));
	if (top == NULL || top[0] != '/')
		abort();
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup);
	log_set_level(LOG_LVL_ERR);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/pki.sh' '%s/pki' >/dev/null",
	    top, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "fuzz_http: %s failed; run from the top of "
		    "the tree or set TOP\n", cmd);
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/ledger.key", dir);
	if (note_key_generate(path, "fuzz.example/shanhai", NOTE_ED25519,
	    &signer, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		exit(2);
	}
	note_signer_free(signer);
	snprintf(path, sizeof(path), "%s/pki", dir);
	fy = slurp_fpr(path, "yuhang");
	fo = slurp_fpr(path, "operator");
	port = free_port();
	snprintf(path, sizeof(path), "%s/shanhaid.conf", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fprintf(f, "listen = [ \"127.0.0.1:%d\" ];\n"
	    "state_dir = \"%s\";\nrules_dir = \"%s/rules\";\n"
	    "log_level = \"%s\";\n"
	    "tls = { certificate = \"pki/server.crt\"; key = \"pki/server.key\";"
	    " client_ca = \"pki/ca.crt\"; };\n"
	    "ledger = { origin = \"fuzz.example/shanhai\"; "
	    "signing_key = \"ledger.key\"; };\n"
	    "clients = (\n"
	    " { name = \"yuhang\"; role = \"bureau\"; codes = [ \"330110\" ];"
	    " fingerprint = \"%s\"; },\n"
	    " { name = \"audit\"; role = \"auditor\";"
	    " common_name = \"audit.zj.example\"; },\n"
	    " { name = \"ops\"; role = \"operator\"; fingerprint = \"%s\"; }\n"
	    ");\n", port, dir, top, getenv("FUZZ_HTTP_VERBOSE") ? "debug" :
	    "err", fy, fo);
	fclose(f);
	free(fy);
	free(fo);
	if ((g = server_gen_load(path, err, sizeof(err))) == NULL ||
	    (srv = server_new(g, modules, sizeof(modules) / sizeof(modules[0]),
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		exit(2);
	}
	base = server_get0_base(srv);
	for (size_t i = 0; i < 4; i++) {
		cctx[i] = SSL_CTX_new(TLS_client_method());
		snprintf(path, sizeof(path), "%s/pki/ca.crt", dir);
		if (cctx[i] == NULL ||
		    SSL_CTX_load_verify_locations(cctx[i], path, NULL) != 1)
			abort();
		SSL_CTX_set_verify(cctx[i], SSL_VERIFY_PEER, NULL);
		if (idents[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/pki/%s.crt", dir, idents[i]);
		if (SSL_CTX_use_certificate_file(cctx[i], path,
		    SSL_FILETYPE_PEM) != 1)
			abort();
		snprintf(path, sizeof(path), "%s/pki/%s.key", dir, idents[i]);
		if (SSL_CTX_use_PrivateKey_file(cctx[i], path,
		    SSL_FILETYPE_PEM) != 1)
			abort();
	}
	return 0;
}

/* Whole answer read: headers and Content-Length bytes of body. */
static int
answer_complete(struct evbuffer *b)
{
	struct evbuffer_ptr end = evbuffer_search(b, "\r\n\r\n", 4, NULL);
	size_t hlen, clen = 0;
	char *head, *cl;

	if (end.pos < 0)
		return 0;
	hlen = (size_t)end.pos + 4;
	if ((head = malloc(hlen + 1)) == NULL)
		abort();
	evbuffer_copyout(b, head, hlen);
	head[hlen] = '\0';
	if ((cl = strcasestr(head, "\r\nContent-Length:")) != NULL)
		clen = strtoul(cl + 17, NULL, 10);
	free(head);
	return evbuffer_get_length(b) >= hlen + clen;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct exchange *x = arg;

	evbuffer_add_buffer(x->resp, bufferevent_get_input(bev));
	if (answer_complete(x->resp)) {
		x->done = 1;
		event_base_loopbreak(base);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct exchange *x = arg;

	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_write(bev, x->req, x->len);
		return;
	}
	/* EOF, an error, or the daemon refused the handshake. */
	x->done = 1;
	event_base_loopbreak(base);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void
check_answer(struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	char line[64] = "";
	int status;

	if (len == 0)
		return;	/* closed without an answer: allowed */
	evbuffer_copyout(b, line, len < sizeof(line) - 1 ? len : sizeof(line) - 1);
	/*
	 * evhttp echoes the request's version as it parsed it ("HTTP/0.1",
	 * even "HTTP/-1.1"): only the status after it is checked.
	 */
	const char *sp = strchr(line, ' ');
	FUZZ_CHECK(strncmp(line, "HTTP/", 5) == 0 && sp != NULL &&
	    strlen(sp) >= 4, "not an HTTP answer: %.20s", line);
	status = atoi(sp + 1);
	if (getenv("FUZZ_HTTP_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_http: answered %d\n", status);
	FUZZ_CHECK(status != 500, "500 Internal Server Error");
	FUZZ_CHECK(status == 200 || status == 201 || status == 400 ||
	    status == 403 || status == 404 || status == 405 || status == 409 ||
	    status == 411 || status == 413 || status == 415 || status == 422 ||
	    status == 429 || status == 431 || status == 501 || status == 503 ||
	    status == 505 || status == 417, "undocumented status %d", status);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct exchange x = { data + 1, size ? size - 1 : 0, NULL, 0 };
	struct timeval tv = { 0, 100000 };
	struct bufferevent *bev;
	struct event *timer;

	if (size == 0)
		return 0;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if ((x.resp = evbuffer_new()) == NULL)
		abort();
	bev = bufferevent_openssl_socket_new(base, -1,
	    SSL_new(cctx[data[0] % 4]), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		abort();
	bufferevent_setcb(bev, on_read, NULL, on_event, &x);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1)
		abort();
	timer = evtimer_new(base, on_timeout, NULL);
	evtimer_add(timer, &tv);
	event_base_dispatch(base);
	event_free(timer);
	bufferevent_free(bev);
	check_answer(x.resp);
	evbuffer_free(x.resp);
	/* Let the daemon see the close and free the connection. */
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
