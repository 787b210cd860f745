/*
 * client: the `shanhai` tool's HTTPS client of shanhaid (SPEC §7). One
 * blocking keep-alive connection, TLS 1.3 with a client certificate through
 * tls_client_ctx_new(), the server's name checked against the URL's host.
 * Plain HTTP/1.1: Content-Length, chunked, or read-to-close answers.
 * Every verb that talks to the daemon (submit, status, statement) uses it.
 */
#ifndef SHANHAI_CLIENT_H
#define SHANHAI_CLIENT_H

#include <stddef.h>

struct client;

/*
 * A response: status, Content-Type (or ""), Shanhai-Current-Status (or "";
 * the period's status beside a resubmission's receipt), and the body.
 */
struct client_resp {
	int	 status;
	char	 ctype[128];
	char	 current_status[32];
	char	*body;		/* malloc'd, NUL-terminated */
	size_t	 len;		/* without the NUL */
};

/*
 * A client of url ("https://HOST[:PORT][/PATH]", HOST a name, an IPv4
 * address or "[v6]", PORT 443 when absent), trusting cacert for the server
 * and presenting cert and key (PEM files; cert NULL: no client
 * certificate). Connects lazily. NULL with the reason in err.
 */
struct client	*client_new(const char *url, const char *cert, const char *key,
		    const char *cacert, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/*
 * Whether client_new() takes url: 0, or -1 with "URL: not
 * https://HOST[:PORT][/PATH]" in err.
 */
int		 client_url_ok(const char *url, char *err, size_t errlen);
/*
 * The same without a client certificate, also for "http://" URLs (PORT
 * 80, plain HTTP): shanhaid's client of its witnesses (SPEC 6.6), which
 * may serve either. cacert is used for https only.
 */
struct client	*client_new_http(const char *url, const char *cacert,
		    char *err, size_t errlen) __attribute__((warn_unused_result));
void		 client_free(struct client *c);
/* Seconds a connect, a write or a read may go without progress (60). */
void		 client_set_timeout(struct client *c, int seconds);
/*
 * The URL's path without trailing slashes ("" for none): requests name
 * their own paths, and a verb that serves under a prefix adds it.
 */
const char	*client_get0_path(const struct client *c);

/*
 * Sends one request (body NULL for none) and reads the whole answer into
 * *resp (free its body with client_resp_free()). Reconnects once when a
 * kept-alive connection turned out closed. Returns 0 whatever the HTTP
 * status, or -1 with the reason in err when no answer came (connect, TLS,
 * I/O, malformed HTTP).
 */
int		 client_request(struct client *c, const char *method,
		    const char *path, const char *ctype, const void *body,
		    size_t len, struct client_resp *resp, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
void		 client_resp_free(struct client_resp *resp);
/*
 * The `detail` of a problem+json answer into buf (len bytes): 0, or -1
 * with buf empty when the body is not a problem with a detail.
 */
int		 client_resp_detail(const struct client_resp *resp, char *buf,
		    size_t len);

/*
 * GET path, wanting 200: the body in *resp. Any other status is -1 with
 * "GET path: 403 Forbidden: <detail of the problem+json>" in err.
 */
int		 client_get(struct client *c, const char *path,
		    struct client_resp *resp, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

#endif
