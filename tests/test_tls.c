/* test_tls: contexts from files, their refusals, the fingerprint and the
 * client's host check, with the test PKI of tests/pki.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "shanhai/config.h"
#include "shanhai/tls.h"

static char dir[64];

static const char *
pki(const char *name)
{
	static char path[4][128];
	static int n;

	n = (n + 1) % 4;
	snprintf(path[n], sizeof(path[n]), "%s/%s", dir, name);
	return path[n];
}

static void
test_fingerprint(void **state)
{
	char cmd[256], want[80] = "", got[CONFIG_FINGERPRINT_BUFSZ];
	FILE *f = fopen(pki("yuhang.crt"), "r"), *p;
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(tls_fingerprint(x, got), 0);
	X509_free(x);
	/* The same as pki.sh prints for it (openssl x509 | dgst -sha256). */
	snprintf(cmd, sizeof(cmd), "awk '$1 == \"yuhang\" { print $2 }' %s",
	    pki("fingerprints"));
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(want, sizeof(want), p));
	pclose(p);
	want[strcspn(want, "\n")] = '\0';
	assert_string_equal(got, want);
	assert_int_equal(strlen(got), 64);
}

static void
test_client_ctx(void **state)
{
	char err[512];
	SSL_CTX *ctx;
	SSL *ssl;

	ctx = tls_client_ctx_new(pki("ca.crt"), pki("auditor.crt"),
	    pki("auditor.key"), err, sizeof(err));
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
	ssl = SSL_new(ctx);
	assert_int_equal(tls_client_set_host(ssl, "localhost"), 0);
	assert_int_equal(tls_client_set_host(ssl, "::1"), 0);
	assert_int_equal(tls_client_set_host(ssl, "127.0.0.1"), 0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	/* Without a client certificate: fine, for /healthz. */
	ctx = tls_client_ctx_new(pki("ca.crt"), NULL, NULL, err, sizeof(err));
	assert_non_null(ctx);
	SSL_CTX_free(ctx);

	assert_null(tls_client_ctx_new(pki("nothere.crt"), NULL, NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "CA "));
	assert_non_null(strstr(err, "nothere.crt"));
	/* A key that is not the certificate's. */
	assert_null(tls_client_ctx_new(pki("ca.crt"), pki("auditor.crt"),
	    pki("yuhang.key"), err, sizeof(err)));
	assert_non_null(strstr(err, "yuhang.key"));
}

static void
test_server_ctx(void **state)
{
	char conf[128], err[512];
	struct config *c;
	SSL_CTX *ctx;
	SSL *ssl;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/t.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "tls = { certificate = \"server.crt\"; key = \"server.key\"; "
	    "client_ca = \"ca.crt\"; ciphersuites = \"TLS_AES_128_GCM_SHA256\"; };\n"
	    "ledger = { origin = \"o\"; };\n");
	fclose(f);
	c = config_load(conf, err, sizeof(err));
	assert_non_null(c);
	ctx = tls_server_ctx_new(c, err, sizeof(err));
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx) &
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, 0);
	assert_true(SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_IGNORE_UNEXPECTED_EOF);
	ssl = tls_server_ssl_new(ctx);
	assert_non_null(ssl);
	assert_string_equal(tls_peer_addr(tls_peer_get0(ssl)), "-");
	assert_null(tls_peer_fingerprint(tls_peer_get0(ssl)));
	assert_string_equal(tls_peer_label(tls_peer_get0(ssl)), "- -");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	config_free(c);

	/* A chain whose key does not match: refused, naming the key file. */
	f = fopen(conf, "w");
	fprintf(f, "tls = { certificate = \"server.crt\"; key = \"ca.key\"; "
	    "client_ca = \"ca.crt\"; };\nledger = { origin = \"o\"; };\n");
	fclose(f);
	c = config_load(conf, err, sizeof(err));
	assert_non_null(c);
	assert_null(tls_server_ctx_new(c, err, sizeof(err)));
	assert_non_null(strstr(err, "tls.key "));
	assert_non_null(strstr(err, "/ca.key"));
	config_free(c);
	/* Cipher suites OpenSSL does not know. */
	f = fopen(conf, "w");
	fprintf(f, "tls = { certificate = \"server.crt\"; key = \"server.key\"; "
	    "client_ca = \"ca.crt\"; ciphersuites = \"NOPE\"; };\n"
	    "ledger = { origin = \"o\"; };\n");
	fclose(f);
	c = config_load(conf, err, sizeof(err));
	assert_non_null(c);
	assert_null(tls_server_ctx_new(c, err, sizeof(err)));
	assert_non_null(strstr(err, "tls.ciphersuites NOPE"));
	config_free(c);
}

/* The server end of one handshake: the test PKI's server certificate. */
struct hs_server {
	SSL_CTX	*ctx;
	int	 fd;
};

static void *
hs_serve(void *arg)
{
	struct hs_server *sv = arg;
	SSL *ssl = SSL_new(sv->ctx);

	if (ssl != NULL && SSL_set_fd(ssl, sv->fd) == 1 &&
	    SSL_accept(ssl) == 1)
		(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	close(sv->fd);
	return NULL;
}

/*
 * The client's host check: a server whose certificate (good CA; names
 * localhost, 127.0.0.1 and ::1) is refused under any other name or
 * address, with OpenSSL's reason; accepted under its own.
 */
static void
test_client_host_check(void **state)
{
	static const struct {
		const char	*host;
		long		 verify;	/* X509_V_OK: accepted */
	} cases[] = {
		{ "localhost", X509_V_OK },
		{ "127.0.0.1", X509_V_OK },
		{ "::1", X509_V_OK },
		{ "bureau.other.example", X509_V_ERR_HOSTNAME_MISMATCH },
		{ "localhost.other.example", X509_V_ERR_HOSTNAME_MISMATCH },
		{ "127.0.0.2", X509_V_ERR_IP_ADDRESS_MISMATCH },
		{ "::2", X509_V_ERR_IP_ADDRESS_MISMATCH },
	};
	char err[512];
	SSL_CTX *cctx;

	signal(SIGPIPE, SIG_IGN);
	cctx = tls_client_ctx_new(pki("ca.crt"), NULL, NULL, err, sizeof(err));
	if (cctx == NULL)
		fail_msg("%s", err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hs_server sv;
		pthread_t t;
		int sv_fd[2], ok;
		SSL *ssl;

		assert_non_null(sv.ctx = SSL_CTX_new(TLS_server_method()));
		assert_int_equal(SSL_CTX_use_certificate_chain_file(sv.ctx,
		    pki("server.crt")), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(sv.ctx,
		    pki("server.key"), SSL_FILETYPE_PEM), 1);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv_fd), 0);
		sv.fd = sv_fd[1];
		assert_int_equal(pthread_create(&t, NULL, hs_serve, &sv), 0);
		assert_non_null(ssl = SSL_new(cctx));
		assert_int_equal(tls_client_set_host(ssl, cases[i].host), 0);
		assert_int_equal(SSL_set_fd(ssl, sv_fd[0]), 1);
		ok = SSL_connect(ssl) == 1;
		if (ok != (cases[i].verify == X509_V_OK) ||
		    SSL_get_verify_result(ssl) != cases[i].verify)
			fail_msg("%s: handshake %s, verify result %ld (%s)",
			    cases[i].host, ok ? "done" : "refused",
			    SSL_get_verify_result(ssl),
			    X509_verify_cert_error_string(
			    SSL_get_verify_result(ssl)));
		if (ok)
			(void)SSL_shutdown(ssl);
		SSL_free(ssl);
		close(sv_fd[0]);
		pthread_join(t, NULL);
		SSL_CTX_free(sv.ctx);
	}
	SSL_CTX_free(cctx);
}

static int
setup(void **state)
{
	char cmd[256];

	snprintf(dir, sizeof(dir), "%s/shanhai-tls-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh tests/pki.sh %s >/dev/null", dir);
	return system(cmd) == 0 ? 0 : -1;
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
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_client_ctx),
		cmocka_unit_test(test_server_ctx),
		cmocka_unit_test(test_client_host_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
