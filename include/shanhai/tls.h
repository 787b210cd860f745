/*
 * tls: OpenSSL contexts for the server and for the project's own clients,
 * and the identity of a connection's peer (SPEC §7).
 *
 * The server context speaks TLS 1.3 only, asks every client for a
 * certificate and verifies one against tls.client_ca, but lets a client
 * without one finish the handshake so /healthz answers; routes that need an
 * identity refuse such a client with 403. A bad certificate (expired, from
 * another CA) or a TLS 1.2 client fails the handshake, and the refusal is
 * logged with the peer's address.
 */
#ifndef SHANHAI_TLS_H
#define SHANHAI_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct config;
struct tls_peer;

/*
 * A new server context from the config's tls { } keys: chain, key (checked
 * against the chain), client CA, cipher suites. NULL with the reason in err
 * ("tls.key /etc/shanhai/tls/server.key: …"). Free with SSL_CTX_free().
 */
SSL_CTX		*tls_server_ctx_new(const struct config *c, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/*
 * A new SSL for one accepted connection, with a fresh struct tls_peer
 * attached; NULL when out of memory. The peer is freed with the SSL.
 */
SSL		*tls_server_ssl_new(SSL_CTX *ctx);

/*
 * A client context: TLS 1.3, the server verified against cafile, and, when
 * certfile is not NULL, the client's certificate and key (keyfile, or
 * certfile when NULL). NULL with the reason in err.
 */
SSL_CTX		*tls_client_ctx_new(const char *cafile, const char *certfile,
		    const char *keyfile, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/*
 * Readies a client SSL to talk to host: SNI and certificate name checks
 * (as an IP address when host is one). Returns 0 or -1.
 */
int		 tls_client_set_host(SSL *ssl, const char *host)
		    __attribute__((warn_unused_result));

/*
 * Writes the lowercase hex SHA-256 of cert's DER into out
 * (CONFIG_FINGERPRINT_BUFSZ bytes). Returns 0 or -1.
 */
int		 tls_fingerprint(X509 *cert, char *out);

/* The peer of a server SSL made by tls_server_ssl_new(); NULL otherwise. */
struct tls_peer	*tls_peer_get0(const SSL *ssl);
/* "127.0.0.1:53124" / "[::1]:53124"; "-" until the handshake starts. */
const char	*tls_peer_addr(const struct tls_peer *p);
/*
 * The verified client certificate's fingerprint (hex) and subject CN, both
 * NULL when the client sent none; the CN alone may be NULL. Known once the
 * handshake is done.
 */
const char	*tls_peer_fingerprint(const struct tls_peer *p);
const char	*tls_peer_common_name(const struct tls_peer *p);
/* "ADDR FPR8" for log lines: address and fingerprint prefix ("-"). */
const char	*tls_peer_label(const struct tls_peer *p);
/*
 * Attaches the caller's per-connection state app to p; gone(app) is called
 * once when the connection's SSL is freed (the connection is gone).
 */
void		 tls_peer_set_app(struct tls_peer *p, void *app,
		    void (*gone)(void *));
void		*tls_peer_get0_app(const struct tls_peer *p);
/* Sends close_notify (without waiting for the peer's) if not yet sent. */
void		 tls_shutdown(SSL *ssl);

#endif
