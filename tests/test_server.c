/* test_server: the daemon's life in one process: a module answering
 * asynchronously, a reload during its request, SIGTERM draining it, and a
 * module vetoing a reload; the ingest module when memory runs out for a
 * report's body (a link-time seam on malloc). The client is the project's
 * own TLS client context (tls_client_ctx_new) in a thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "shanhai/config.h"
#include "shanhai/http.h"
#include "shanhai/ingest.h"
#include "shanhai/note.h"
#include "shanhai/server.h"
#include "shanhai/tls.h"

static char dir[100], conf[160];
static int port;

/* The seam: the next malloc() of exactly fail_size bytes fails. */
static size_t fail_size;
void *__real_malloc(size_t);
void *__wrap_malloc(size_t size);

void *
__wrap_malloc(size_t size)
{
	if (fail_size != 0 && size == fail_size) {
		fail_size = 0;
		return NULL;
	}
	return __real_malloc(size);
}

/* The test module: GET /slow answers 300 ms later, after a reload. */
struct slow {
	struct server	*s;
	struct event	*timer;
	struct http_req	*pending;
	int		 veto;
	int		 commits;
	int		 gen_kept;
};


/* One entry of the clients list. */
#define CLIENT(name, cn) "{ name = \"" name "\"; role = \"auditor\"; " \
	"common_name = \"" cn "\"; }"

/* Writes shanhaid.conf with the given clients list. */
static void
write_conf(const char *clients)
{
	char cwd[256];
	FILE *f;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_non_null(f = fopen(conf, "w"));
	fprintf(f, "listen = [ \"127.0.0.1:%d\" ];\nrules_dir = \"%s/rules\";\n"
	    "state_dir = \"state\";\n"
	    "log_level = \"warning\";\n"
	    "tls = { certificate = \"server.crt\"; key = \"server.key\"; "
	    "client_ca = \"ca.crt\"; };\n"
	    "ledger = { origin = \"test.example/log\"; };\n"
	    "clients = ( %s );\n", port, cwd, clients);
	assert_int_equal(fclose(f), 0);
}

static void
slow_answer(evutil_socket_t fd, short what, void *arg)
{
	struct slow *st = arg;
	struct server_gen *g = http_req_gen(st->pending);
	struct evbuffer *b = evbuffer_new();
	char err[1024];

	/*
	 * A reload while the request waits, with the clients changed: the
	 * new generation has two, renamed; the request keeps its own (one
	 * client, "audit"), which the new one no longer has.
	 */
	write_conf(CLIENT("audit-renamed", "audit.zj.example")
	    ", " CLIENT("other", "other.zj.example"));
	assert_int_equal(server_reload(st->s, err, sizeof(err)), 0);
	write_conf(CLIENT("audit", "audit.zj.example"));
	st->gen_kept = g != NULL && g != server_get0_gen(st->s) &&
	    config_client_count(server_gen_config(server_get0_gen(st->s))) ==
	    2 && config_client_count(server_gen_config(g)) == 1 &&
	    strcmp(config_client_get0_name(http_req_client(st->pending)),
	    "audit") == 0;
	evbuffer_add_printf(b, "late\n");
	http_reply(st->pending, 200, "text/plain", b);
	evbuffer_free(b);
	st->pending = NULL;
}

static void
slow_get(struct http_req *r, void *arg)
{
	struct slow *st = arg;
	struct timeval tv = { 0, 300000 };

	st->pending = r;
	evtimer_add(st->timer, &tv);
}

static const struct http_route slow_routes[] = {
	{ HTTP_GET, "/slow", CONFIG_ROLE_AUDITOR, slow_get },
};

static int
slow_start(struct server *s, void **statep, char *err, size_t errlen)
{
	struct slow *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return -1;
	st->s = s;
	st->timer = evtimer_new(server_get0_base(s), slow_answer, st);
	*statep = st;
	return http_add_routes(server_get0_http(s), slow_routes, 1, st);
}

static int
slow_check(struct server *s, void *state, const struct server_gen *next,
    char *err, size_t errlen)
{
	struct slow *st = state;

	if (st->veto) {
		snprintf(err, errlen, "vetoed");
		return -1;
	}
	return 0;
}

static int
slow_commit(struct server *s, void *state, const struct server_gen *next,
    char *err, size_t errlen)
{
	((struct slow *)state)->commits++;
	return 0;
}

static void
slow_free(struct server *s, void *state)
{
	struct slow *st = state;

	event_free(st->timer);
	free(st);
}

static const struct server_module slow_module = {
	.name = "slow", .start = slow_start, .reload_check = slow_check,
	.reload_commit = slow_commit, .free = slow_free,
};
static const struct server_module *const modules[] = { &slow_module };

static struct server *
start(void)
{
	char err[4096];
	struct server_gen *g = server_gen_load(conf, err, sizeof(err));
	struct server *s;

	if (g == NULL)
		fail_msg("%s", err);
	if ((s = server_new(g, modules, 1, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	return s;
}

/* The client: GET /slow, then SIGTERM to the process while it waits. */
static char answer[4096];

static void *
client(void *arg)
{
	char err[512], path[160], key[160];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	SSL_CTX *ctx;
	SSL *ssl;
	size_t used = 0;
	int fd, n;

	snprintf(path, sizeof(path), "%s/auditor.crt", dir);
	snprintf(key, sizeof(key), "%s/auditor.key", dir);
	snprintf(err, sizeof(err), "%s/ca.crt", dir);
	ctx = tls_client_ctx_new(err, path, key, err, sizeof(err));
	if (ctx == NULL) {
		snprintf(answer, sizeof(answer), "ctx: %s", err);
		kill(getpid(), SIGTERM);
		return NULL;
	}
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ssl = SSL_new(ctx);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    tls_client_set_host(ssl, "127.0.0.1") == -1 ||
	    SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		snprintf(answer, sizeof(answer), "connect failed");
		goto out;
	}
	static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
	SSL_write(ssl, req, sizeof(req) - 1);
	usleep(100000);
	kill(getpid(), SIGTERM);
	while (used < sizeof(answer) - 1 && (n = SSL_read(ssl, answer + used,
	    (int)(sizeof(answer) - 1 - used))) > 0)
		used += (size_t)n;
	answer[used] = '\0';
out:
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return NULL;
}

static void
test_async_reload_and_drain(void **state)
{
	struct server *s = start();
	struct slow *st = server_module_state(s, "slow");
	pthread_t t;

	assert_non_null(st);
	assert_int_equal(pthread_create(&t, NULL, client, NULL), 0);
	assert_int_equal(server_run(s), 0);
	pthread_join(t, NULL);
	if (strncmp(answer, "HTTP/1.1 200 OK\r\n", 17) != 0 ||
	    strstr(answer, "\r\n\r\nlate\n") == NULL ||
	    strstr(answer, "Connection: close\r\n") == NULL)
		fail_msg("answer: %s", answer);
	assert_true(server_stopping(s));
	assert_true(st->gen_kept);
	assert_int_equal(st->commits, 1);
	server_free(s);
}

static void
test_reload_veto(void **state)
{
	struct server *s = start();
	struct slow *st = server_module_state(s, "slow");
	struct server_gen *g = server_get0_gen(s);
	char err[1024] = "";

	st->veto = 1;
	assert_int_equal(server_reload(s, err, sizeof(err)), -1);
	assert_string_equal(err, "slow: vetoed");
	assert_ptr_equal(server_get0_gen(s), g);
	assert_int_equal(st->commits, 0);
	st->veto = 0;
	assert_int_equal(server_reload(s, err, sizeof(err)), 0);
	assert_ptr_not_equal(server_get0_gen(s), g);
	assert_int_equal(st->commits, 1);
	assert_null(server_module_state(s, "nothing"));
	server_free(s);
}

/*
 * One request on its own TLS connection as pki client `who`; the answer
 * (up to the server's close) into out. 0, or -1 when it could not connect.
 */
static int
tls_ask(const char *who, const char *req, size_t reqlen, char *out,
    size_t outlen)
{
	char err[512], ca[160], crt[160], key[160];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	size_t used = 0;
	int fd = -1, n, rc = -1;

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, who);
	snprintf(key, sizeof(key), "%s/%s.key", dir, who);
	if ((ctx = tls_client_ctx_new(ca, crt, key, err, sizeof(err))) == NULL)
		return -1;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    (ssl = SSL_new(ctx)) == NULL ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    tls_client_set_host(ssl, "127.0.0.1") == -1 ||
	    SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1 ||
	    SSL_write(ssl, req, (int)reqlen) != (int)reqlen)
		goto out;
	while (used < outlen - 1 && (n = SSL_read(ssl, out + used,
	    (int)(outlen - 1 - used))) > 0)
		used += (size_t)n;
	out[used] = '\0';
	rc = 0;
out:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return rc;
}

/*
 * A client that asks for /slow and hangs up (a reset) before the answer;
 * then SIGTERM once the answer has been given to no one.
 */
static void *
hangup_client(void *arg)
{
	char err[512], ca[160], crt[160], key[160];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct linger lg = { 1, 0 };
	static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	int fd;

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/auditor.crt", dir);
	snprintf(key, sizeof(key), "%s/auditor.key", dir);
	ctx = tls_client_ctx_new(ca, crt, key, err, sizeof(err));
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (ctx != NULL && (ssl = SSL_new(ctx)) != NULL &&
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    tls_client_set_host(ssl, "127.0.0.1") == 0 &&
	    SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1)
		(void)SSL_write(ssl, req, sizeof(req) - 1);
	usleep(100000);
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	usleep(600000);		/* /slow answers after 300 ms */
	kill(getpid(), SIGTERM);
	return NULL;
}

/*
 * The answer to a client gone: dropped, the daemon goes on. (libevent 2.1
 * stops reading while a request waits for its answer, so the hang-up is
 * seen only at the write; http_reply() checks for a request that lost its
 * connection all the same, as evhttp documents it may.)
 */
static void
test_answer_after_hangup(void **state)
{
	struct server *s = start();
	struct slow *st = server_module_state(s, "slow");
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, hangup_client, NULL), 0);
	assert_int_equal(server_run(s), 0);
	pthread_join(t, NULL);
	assert_null(st->pending);	/* answered (to no one) */
	server_free(s);
}

/* What the report client saw; it ends the server's run with SIGTERM. */
static char oom_answer[4096], ok_answer[4096];
#define OOM_BODY	7777	/* a length nothing else allocates + 1 of */

static void *
report_client(void *arg)
{
	static char req[OOM_BODY + 256];
	int n;

	n = snprintf(req, sizeof(req), "POST /v1/reports HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: application/json\r\nContent-Length:"
	    " %d\r\nConnection: close\r\n\r\n{}", OOM_BODY);
	memset(req + n, ' ', OOM_BODY - 2);
	n += OOM_BODY - 2;
	/* Memory runs out for the copy of the body: 503, not a crash. */
	fail_size = OOM_BODY + 1;
	if (tls_ask("yuhang", req, (size_t)n, oom_answer,
	    sizeof(oom_answer)) < 0)
		snprintf(oom_answer, sizeof(oom_answer), "connect failed");
	fail_size = 0;
	/* The same with memory: the report is read (and refused). */
	if (tls_ask("yuhang", req, (size_t)n, ok_answer,
	    sizeof(ok_answer)) < 0)
		snprintf(ok_answer, sizeof(ok_answer), "connect failed");
	kill(getpid(), SIGTERM);
	return NULL;
}

static void
test_report_body_oom(void **state)
{
	static const struct server_module *const ingest[] = { &ingest_module };
	char err[4096], path[200];
	struct note_signer *k;
	struct server_gen *g;
	struct server *s;
	pthread_t t;

	snprintf(path, sizeof(path), "%s/ledger.key", dir);
	if (note_key_generate(path, "test.example/log", NOTE_ED25519, &k, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	note_signer_free(k);
	write_conf(CLIENT("audit", "audit.zj.example") ", { name = \"yuhang"
	    "\"; role = \"bureau\"; codes = [ \"330110\" ]; common_name"
	    " = \"yuhang-finance\"; }");
	if ((g = server_gen_load(conf, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	if ((s = server_new(g, ingest, 1, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(pthread_create(&t, NULL, report_client, NULL), 0);
	assert_int_equal(server_run(s), 0);
	pthread_join(t, NULL);
	server_free(s);
	write_conf(CLIENT("audit", "audit.zj.example"));
	if (strncmp(oom_answer, "HTTP/1.1 503 ", 13) != 0 ||
	    strstr(oom_answer, "Retry-After: 1\r\n") == NULL ||
	    strstr(oom_answer, "body: out of memory") == NULL)
		fail_msg("out of memory: %s", oom_answer);
	if (strncmp(ok_answer, "HTTP/1.1 4", 10) != 0 ||
	    strstr(ok_answer, "out of memory") != NULL)
		fail_msg("with memory: %s", ok_answer);
}

static int
setup(void **state)
{
	char cmd[256], cwd[256];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	snprintf(dir, sizeof(dir), "%s/shanhai-server-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh tests/pki.sh %s >/dev/null", dir);
	if (system(cmd) != 0)
		return -1;
	/* A free port: bind 0, read it, close. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	port = ntohs(sin.sin_port);
	close(fd);
	snprintf(conf, sizeof(conf), "%s/shanhaid.conf", dir);
	write_conf(CLIENT("audit", "audit.zj.example"));
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_reload_and_drain),
		cmocka_unit_test(test_reload_veto),
		cmocka_unit_test(test_report_body_oom),
		cmocka_unit_test(test_answer_after_hangup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
