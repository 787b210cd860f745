/* test_tls: contexts from files, their refusals, the fingerprint and the
 * client's host check, with the test PKI of tests/pki.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
