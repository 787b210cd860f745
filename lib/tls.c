/*
 * tls: server and client SSL_CTX, and who is on the other end (see tls.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "shanhai/config.h"
#include "shanhai/log.h"
#include "shanhai/tls.h"

struct tls_peer {
	char	 addr[64];
	char	 label[80];
	char	 fingerprint[CONFIG_FINGERPRINT_BUFSZ];
	char	*common_name;
	int	 started;
	int	 identified;
	int	 refused;
	void	(*on_free)(void *);
	void	*on_free_arg;
};

static int peer_idx = -1;

/*
 * Sessions a server context keeps for resumption, the oldest dropped
 * first: about 6 KB each with the client's decoded certificate (6 MB in
 * all), and a session is used once (TLS 1.3), so this is the number of
 * clients that come back with a session, far above the clients a config
 * names.
 */
#define TLS_SESSION_CACHE	1024

/*
 * Fills err with "what path: reason", the reason in words from OpenSSL's
 * queue: strerror() of a system call that failed (a file that cannot be
 * opened), otherwise the first reason queued, which is the cause (those
 * after it are callers saying "PEM lib" or "system lib"), after isnot
 * (what the file is not, or NULL). Empties the queue.
 */
static void
crypto_err_as(char *err, size_t errlen, const char *what, const char *path,
    const char *isnot)
{
	unsigned long e, sys = 0, first = 0;
	const char *reason, *lib;
	char why[256];

	while ((e = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(e)) {
			if (sys == 0)
				sys = e;
		} else if (first == 0)
			first = e;
	}
	if (sys != 0)
		snprintf(why, sizeof(why), "%s",
		    strerror(ERR_GET_REASON(sys)));
	else if (first != 0) {
		reason = ERR_reason_error_string(first);
		lib = ERR_lib_error_string(first);
		snprintf(why, sizeof(why), "%s%s%s (%s)", isnot ? isnot : "",
		    isnot ? ": " : "", reason ? reason : "unknown reason",
		    lib ? lib : "OpenSSL");
	} else
		snprintf(why, sizeof(why), "failed");
	snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "",
	    path ? path : "", why);
}

static void
crypto_err(char *err, size_t errlen, const char *what, const char *path)
{
	crypto_err_as(err, errlen, what, path, NULL);
}

/*
 * A file the config names must open as a regular file; else err says
 * "where path: reason" with strerror() (OpenSSL's own words for this are
 * "system lib").
 */
static int
file_ok(const char *where, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s %s: %s", where, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s %s: %s", where, path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: %s", where, path,
		    S_ISDIR(st.st_mode) ? "is a directory, not a file" :
		    "not a regular file");
		return -1;
	}
	return 0;
}

static void
peer_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct tls_peer *p = ptr;

	if (p == NULL)
		return;
	if (p->on_free != NULL)
		p->on_free(p->on_free_arg);
	free(p->common_name);
	free(p);
}

static int
peer_index(void)
{
	if (peer_idx == -1)
		peer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    peer_free);
	return peer_idx;
}

struct tls_peer *
tls_peer_get0(const SSL *ssl)
{
	return peer_idx == -1 ? NULL : SSL_get_ex_data(ssl, peer_idx);
}

static void
peer_set_label(struct tls_peer *p)
{
	snprintf(p->label, sizeof(p->label), "%s %.8s", p->addr,
	    p->identified ? p->fingerprint : "-");
}

/* The address is known once the socket is: at the handshake's start. */
static void
peer_started(struct tls_peer *p, const SSL *ssl)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int fd = SSL_get_fd(ssl), one = 1;

	p->started = 1;
	if (fd < 0)
		return;
	/* evhttp writes headers and body apart: no Nagle delays. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(p->addr, sizeof(p->addr), "%s:%u", host,
		    ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(p->addr, sizeof(p->addr), "[%s]:%u", host,
		    ntohs(s6->sin6_port));
	}
	peer_set_label(p);
}

int
tls_fingerprint(X509 *cert, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return -1;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Trusts a certificate only when one is there and it verified. */
static void
peer_identify(struct tls_peer *p, const SSL *ssl)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	char cn[256];
	int n;

	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	if (tls_fingerprint(cert, p->fingerprint) == -1)
		return;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn));
	if (n > 0 && (size_t)n == strlen(cn))	/* no embedded NUL */
		p->common_name = strdup(cn);
	p->identified = 1;
	peer_set_label(p);
}

static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct tls_peer *p = tls_peer_get0(ssl);

	if (p == NULL)
		return;
	if ((where & SSL_CB_HANDSHAKE_START) && !p->started)
		peer_started(p, ssl);
	if ((where & SSL_CB_HANDSHAKE_DONE) && !p->identified)
		peer_identify(p, ssl);
	/* Fatal alerts: ours refuse the peer, theirs refuse us. */
	if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL &&
	    !p->refused) {
		p->refused = 1;
		if (where & SSL_CB_WRITE)
			log_notice("%s: TLS handshake refused: %s (%s)",
			    p->label, SSL_alert_desc_string_long(ret),
			    SSL_get_version(ssl));
		else
			log_notice("%s: TLS peer gave up: %s", p->label,
			    SSL_alert_desc_string_long(ret));
	}
}

static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_peer *p = ssl ? tls_peer_get0(ssl) : NULL;
	X509 *cert;
	char subject[256] = "?";

	if (ok || p == NULL)
		return ok;
	if ((cert = X509_STORE_CTX_get_current_cert(xs)) != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subject,
		    sizeof(subject));
	log_notice("%s: client certificate refused: %s (depth %d, %s)",
	    p->label, X509_verify_cert_error_string(
	    X509_STORE_CTX_get_error(xs)), X509_STORE_CTX_get_error_depth(xs),
	    subject);
	return 0;
}

static SSL_CTX *
ctx_new(const SSL_METHOD *method, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL) {
		crypto_err(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		crypto_err(err, errlen, "TLS 1.3", NULL);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* libevent 2.1 predates OpenSSL 3's strict EOF; it closes cleanly. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

/*
 * The chain a context sends. When the certificate file holds the leaf
 * alone, OpenSSL builds the chain anew at every handshake from the verify
 * store (an X509_verify_cert() with its signature checks), and sends the
 * root with it, which the peer decodes (in OpenSSL 3.0 a decoder lookup,
 * about as costly as a signature check) only to find it among its trust
 * anchors. Build it once here, without the root; a chain the file gives is
 * sent as it is, as before.
 */
static void
chain_once(SSL_CTX *ctx)
{
	STACK_OF(X509) *chain = NULL;

	if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1 ||
	    sk_X509_num(chain) <= 0)
		(void)SSL_CTX_build_cert_chain(ctx,
		    SSL_BUILD_CHAIN_FLAG_NO_ROOT |
		    SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR |
		    SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR);
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	ERR_clear_error();
}

/*
 * The server's private key must not be readable by others (group may read
 * it: a service group is a common way to hand it over); the refusal names
 * the chmod that fixes it.
 */
static int
key_private(const char *where, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s %s: %s", where, path,
		    strerror(errno));
		return -1;
	}
	if (st.st_mode & S_IRWXO) {
		snprintf(err, errlen, "%s %s: private key is accessible by "
		    "others (mode %04o); run: chmod o-rwx %s", where, path,
		    (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx_new(const struct config *c, char *err, size_t errlen)
{
	static const unsigned char sid[] = "shanhaid";
	const char *cert = config_get0_tls_certificate(c);
	const char *key = config_get0_tls_key(c);
	const char *ca = config_get0_tls_client_ca(c);
	const char *suites = config_get0_tls_ciphersuites(c);
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx;
	char w[512];

	ERR_clear_error();
	if (peer_index() == -1) {
		crypto_err(err, errlen, "SSL_get_ex_new_index", NULL);
		return NULL;
	}
	if ((ctx = ctx_new(TLS_server_method(), err, errlen)) == NULL)
		return NULL;
	config_where(c, "tls.certificate", w, sizeof(w));
	if (file_ok(w, cert, err, errlen) == -1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		crypto_err_as(err, errlen, w, cert, "not a PEM certificate "
		    "chain");
		goto fail;
	}
	config_where(c, "tls.key", w, sizeof(w));
	if (file_ok(w, key, err, errlen) == -1 ||
	    key_private(w, key, err, errlen) == -1)
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		crypto_err_as(err, errlen, w, key, ERR_GET_REASON(
		    ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH ?
		    "not the key of tls.certificate" : "not an unencrypted "
		    "PEM private key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		crypto_err_as(err, errlen, w, key, "not the key of "
		    "tls.certificate");
		goto fail;
	}
	config_where(c, "tls.client_ca", w, sizeof(w));
	if (file_ok(w, ca, err, errlen) == -1)
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(ca)) == NULL) {
		crypto_err_as(err, errlen, w, ca, "no PEM CA certificate in it");
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	chain_once(ctx);
	if (suites != NULL && SSL_CTX_set_ciphersuites(ctx, suites) != 1) {
		crypto_err(err, errlen, config_where(c, "tls.ciphersuites", w,
		    sizeof(w)), suites);
		goto fail;
	}
	/*
	 * Ask for a certificate and verify it, but do not fail a client that
	 * sends none: /healthz needs none, and the routes that need one
	 * answer 403.
	 */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE,
	    verify_cb);
	/* Resumed sessions of verified clients need a session id context. */
	if (SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) {
		crypto_err(err, errlen, "session id context", NULL);
		goto fail;
	}
	SSL_CTX_set_info_callback(ctx, info_cb);
	/* One resumption ticket is enough for a client; OpenSSL sends two. */
	(void)SSL_CTX_set_num_tickets(ctx, 1);
	/*
	 * Stateful tickets: the session stays in this context's cache and
	 * the ticket names it. A stateless ticket costs OpenSSL 3.0 an
	 * encoding, a decoding (the client certificate's key through a
	 * decoder lookup) and an encryption of the session at every full
	 * handshake, and a decryption and decoding at every resumption.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	(void)SSL_CTX_sess_set_cache_size(ctx, TLS_SESSION_CACHE);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL *
tls_server_ssl_new(SSL_CTX *ctx)
{
	struct tls_peer *p;
	SSL *ssl;

	if (peer_index() == -1 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(p->addr, sizeof(p->addr), "-");
	peer_set_label(p);
	if ((ssl = SSL_new(ctx)) == NULL) {
		free(p);
		return NULL;
	}
	if (SSL_set_ex_data(ssl, peer_idx, p) != 1) {
		free(p);
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

SSL_CTX *
tls_client_ctx_new(const char *cafile, const char *certfile,
    const char *keyfile, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = ctx_new(TLS_client_method(), err, errlen)) == NULL)
		return NULL;
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
		crypto_err(err, errlen, "CA", cafile);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (certfile != NULL) {
		if (keyfile == NULL)
			keyfile = certfile;
		if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1) {
			crypto_err(err, errlen, "certificate", certfile);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, keyfile,
		    SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			crypto_err(err, errlen, "key", keyfile);
			goto fail;
		}
		chain_once(ctx);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_client_set_host(SSL *ssl, const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	int ip = inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;

	if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	if (ip) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		return X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1 ? 0 : -1;
	}
	return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

const char *
tls_peer_addr(const struct tls_peer *p)
{
	return p->addr;
}

const char *
tls_peer_fingerprint(const struct tls_peer *p)
{
	return p->identified ? p->fingerprint : NULL;
}

const char *
tls_peer_common_name(const struct tls_peer *p)
{
	return p->identified ? p->common_name : NULL;
}

const char *
tls_peer_label(const struct tls_peer *p)
{
	return p->label;
}

void
tls_peer_set_app(struct tls_peer *p, void *app, void (*gone)(void *))
{
	p->on_free = gone;
	p->on_free_arg = app;
}

void *
tls_peer_get0_app(const struct tls_peer *p)
{
	return p->on_free_arg;
}

void
tls_shutdown(SSL *ssl)
{
	if (SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN)) {
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
}
