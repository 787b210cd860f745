/*
 * client: a small blocking HTTPS/1.1 client for the `shanhai` verbs that
 * talk to shanhaid (see client.h). The TLS context is tls.c's, so the tool
 * and the daemon agree on versions and checks.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <jansson.h>

#include "shanhai/client.h"
#include "shanhai/tls.h"
#include "shanhai/version.h"

#define CLIENT_TIMEOUT	60		/* seconds without progress */
#define HEADER_MAX	65536
#define BODY_MAX	(1024L * 1024 * 1024)

struct client {
	char		 host[256];	/* without brackets */
	char		 port[8];
	char		 hostport[272];	/* for the Host header */
	char		 path[1024];	/* the URL's path, no trailing '/' */
	SSL_CTX		*ctx;		/* NULL: plain http:// */
	SSL		*ssl;
	int		 fd;
	int		 up;		/* connected */
	int		 used;		/* requests answered on this connection */
	int		 plain;		/* http:// */
	int		 timeout;	/* seconds without progress */
	char		 rbuf[16384];
	size_t		 rpos, rlen;
};

/* Fills err with what failed and OpenSSL's last reason, clearing its queue. */
static void
tls_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "%s: %s", what, reason ? reason :
	    errno ? strerror(errno) : "connection closed");
	ERR_clear_error();
}

/*
 * https://HOST[:PORT][/PATH]: HOST a name, an IPv4 address or "[v6]"; the
 * path is kept without its trailing slashes.
 */
static int
parse_url(struct client *c, const char *url, int plain_ok, char *err,
    size_t errlen)
{
	const char *p, *end;
	size_t n;

	if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (plain_ok && strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
		c->plain = 1;
	} else
		goto bad;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			goto bad;
		n = (size_t)(end - p - 1);
		p++;
		end++;
	} else {
		end = p + strcspn(p, ":/");
		n = (size_t)(end - p);
	}
	if (n == 0 || n >= sizeof(c->host))
		goto bad;
	memcpy(c->host, p, n);
	c->host[n] = '\0';
	snprintf(c->port, sizeof(c->port), c->plain ? "80" : "443");
	if (*end == ':') {
		n = strspn(end + 1, "0123456789");
		if (n == 0 || n > 5)
			goto bad;
		memcpy(c->port, end + 1, n);
		c->port[n] = '\0';
		end += 1 + n;
	}
	if (*end != '\0' && *end != '/')
		goto bad;
	n = strlen(end);
	while (n > 0 && end[n - 1] == '/')
		n--;
	if (n >= sizeof(c->path))
		goto bad;
	memcpy(c->path, end, n);
	c->path[n] = '\0';
	snprintf(c->hostport, sizeof(c->hostport), "%s%s%s:%s",
	    strchr(c->host, ':') ? "[" : "", c->host,
	    strchr(c->host, ':') ? "]" : "", c->port);
	return 0;
bad:
	snprintf(err, errlen, "%s: not %shttps://HOST[:PORT][/PATH]", url,
	    plain_ok ? "http:// or " : "");
	return -1;
}

int
client_url_ok(const char *url, char *err, size_t errlen)
{
	struct client *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = parse_url(c, url, 0, err, errlen);
	free(c);
	return rc;
}

static struct client *
client_make(const char *url, const char *cert, const char *key,
    const char *cacert, int plain_ok, char *err, size_t errlen)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->timeout = CLIENT_TIMEOUT;
	if (parse_url(c, url, plain_ok, err, errlen) != 0)
		goto fail;
	if (c->plain)
		return c;
	if ((c->ctx = tls_client_ctx_new(cacert, cert, key, err, errlen)) ==
	    NULL)
		goto fail;
	/* A server closing a kept-alive connection without close_notify. */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	return c;
fail:
	client_free(c);
	return NULL;
}

struct client *
client_new(const char *url, const char *cert, const char *key,
    const char *cacert, char *err, size_t errlen)
{
	return client_make(url, cert, key, cacert, 0, err, errlen);
}

struct client *
client_new_http(const char *url, const char *cacert, char *err,
    size_t errlen)
{
	return client_make(url, NULL, NULL, cacert, 1, err, errlen);
}

static void
disconnect(struct client *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	c->up = 0;
	c->used = 0;
	c->rpos = c->rlen = 0;
}

void
client_set_timeout(struct client *c, int seconds)
{
	c->timeout = seconds;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	disconnect(c);
	SSL_CTX_free(c->ctx);
	free(c);
}

static int
dial(struct client *c, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	struct timeval tv = { c->timeout, 0 };
	int rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(c->host, c->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", c->hostport, gai_strerror(rc));
		return -1;
	}
	errno = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (c->fd == -1)
			continue;
		/* SO_SNDTIMEO bounds connect() too. */
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		rc = errno;
		close(c->fd);
		c->fd = -1;
		errno = rc;
	}
	freeaddrinfo(res);
	if (c->fd == -1) {
		snprintf(err, errlen, "connect %s: %s", c->hostport,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
connect_tls(struct client *c, char *err, size_t errlen)
{
	char what[320];

	if (dial(c, err, errlen) != 0)
		return -1;
	if (c->plain) {
		c->up = 1;
		return 0;
	}
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    tls_client_set_host(c->ssl, c->host) != 0) {
		tls_err(err, errlen, "TLS set-up");
		goto fail;
	}
	errno = 0;
	if (SSL_connect(c->ssl) != 1) {
		long v = SSL_get_verify_result(c->ssl);

		snprintf(what, sizeof(what), "TLS handshake with %s",
		    c->hostport);
		if (v != X509_V_OK) {
			snprintf(err, errlen, "%s: server certificate: %s",
			    what, X509_verify_cert_error_string(v));
			ERR_clear_error();
		} else
			tls_err(err, errlen, what);
		goto fail;
	}
	c->up = 1;
	return 0;
fail:
	disconnect(c);
	return -1;
}

static int
write_all(struct client *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		int n = c->plain ? (int)write(c->fd, p, len > 1 << 30 ? 1 << 30 :
		    len) : SSL_write(c->ssl, p, len > 1 << 30 ? 1 << 30 :
		    (int)len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Refills the read buffer: 1 data, 0 clean end of stream, -1 error. */
static int
fill(struct client *c)
{
	int n;

	c->rpos = 0;
	c->rlen = 0;
	errno = 0;
	if (c->plain) {
		ssize_t r = read(c->fd, c->rbuf, sizeof(c->rbuf));
		if (r > 0)
			c->rlen = (size_t)r;
		return r > 0 ? 1 : r == 0 ? 0 : -1;
	}
	n = SSL_read(c->ssl, c->rbuf, sizeof(c->rbuf));
	if (n > 0) {
		c->rlen = (size_t)n;
		return 1;
	}
	return SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

/* Reads one line (CRLF or LF, stripped) into buf; -1 on EOF or overlong. */
static int
read_line(struct client *c, char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		char ch;

		if (c->rpos == c->rlen && fill(c) != 1)
			return -1;
		ch = c->rbuf[c->rpos++];
		if (ch == '\n')
			break;
		if (n + 1 >= cap)
			return -1;
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

/* Appends up to want bytes (or to EOF when want is -1) to resp's body. */
static int
read_body(struct client *c, struct client_resp *resp, long want)
{
	while (want != 0) {
		size_t n, cap;
		char *nb;
		int r;

		if (c->rpos == c->rlen) {
			if ((r = fill(c)) == 0 && want < 0)
				return 0;
			if (r != 1)
				return -1;
		}
		n = c->rlen - c->rpos;
		if (want > 0 && (size_t)want < n)
			n = (size_t)want;
		if (resp->len + n > BODY_MAX)
			return -1;
		for (cap = 4096; cap < resp->len + n + 1; cap *= 2)
			;
		if ((nb = realloc(resp->body, cap)) == NULL)
			return -1;
		resp->body = nb;
		memcpy(resp->body + resp->len, c->rbuf + c->rpos, n);
		resp->len += n;
		resp->body[resp->len] = '\0';
		c->rpos += n;
		if (want > 0)
			want -= (long)n;
	}
	return 0;
}

static int
read_chunked(struct client *c, struct client_resp *resp)
{
	char line[256], *end;
	long size;

	for (;;) {
		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
		size = strtol(line, &end, 16);
		if (end == line || size < 0 || size > BODY_MAX)
			return -1;
		if (size == 0)
			break;
		if (read_body(c, resp, size) != 0 ||
		    read_line(c, line, sizeof(line)) != 0 || line[0] != '\0')
			return -1;
	}
	/* Trailers, up to the empty line. */
	do {
		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
	} while (line[0] != '\0');
	return 0;
}

/*
 * Reads one response. Returns 0, -1 on a malformed or cut answer, and -2
 * when the connection was closed before a single byte came (a kept-alive
 * connection the server had closed: worth one retry).
 */
static int
read_response(struct client *c, struct client_resp *resp, int *keep)
{
	char line[HEADER_MAX / 8], *v;
	long clen = -1;
	int chunked = 0, minor, total = 0;

	if (c->rpos == c->rlen && fill(c) != 1)
		return -2;
	if (read_line(c, line, sizeof(line)) != 0 ||
	    sscanf(line, "HTTP/1.%d %3d", &minor, &resp->status) != 2 ||
	    resp->status < 100 || resp->status > 599)
		return -1;
	*keep = minor >= 1;
	for (;;) {
		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
		if (line[0] == '\0')
			break;
		if ((total += (int)strlen(line)) > HEADER_MAX ||
		    (v = strchr(line, ':')) == NULL)
			return -1;
		*v++ = '\0';
		v += strspn(v, " \t");
		if (strcasecmp(line, "Content-Length") == 0) {
			char *end;

			clen = strtol(v, &end, 10);
			if (end == v || *end != '\0' || clen < 0 ||
			    clen > BODY_MAX)
				return -1;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0)
			chunked = strcasecmp(v, "chunked") == 0;
		else if (strcasecmp(line, "Connection") == 0)
			*keep = strcasecmp(v, "close") != 0 &&
			    (minor >= 1 || strcasecmp(v, "keep-alive") == 0);
		else if (strcasecmp(line, "Content-Type") == 0)
			snprintf(resp->ctype, sizeof(resp->ctype), "%s", v);
		else if (strcasecmp(line, "Shanhai-Current-Status") == 0)
			snprintf(resp->current_status,
			    sizeof(resp->current_status), "%s", v);
	}
	if ((resp->body = calloc(1, 1)) == NULL)
		return -1;
	if (chunked)
		return read_chunked(c, resp);
	if (clen >= 0)
		return read_body(c, resp, clen);
	*keep = 0;
	return read_body(c, resp, -1);
}

int
client_request(struct client *c, const char *method, const char *path,
    const char *ctype, const void *body, size_t len, struct client_resp *resp,
    char *err, size_t errlen)
{
	char head[1024];
	int n, rc, keep = 0;

	memset(resp, 0, sizeof(*resp));
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: shanhai/%s\r\nAccept: */*\r\n", method, path,
	    c->hostport, SHANHAI_VERSION);
	if (body != NULL)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
		    "Content-Type: %s\r\nContent-Length: %zu\r\n",
		    ctype ? ctype : "application/octet-stream", len);
	if (n + 3 >= (int)sizeof(head)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(head + n, "\r\n", 3);
	n += 2;
	for (int attempt = 0; ; attempt++) {
		int reused = c->up && c->used > 0;

		if (!c->up && connect_tls(c, err, errlen) != 0)
			return -1;
		/*
		 * A server may answer before it has read the whole body (413)
		 * and close: its answer is still worth reading.
		 */
		if (write_all(c, head, (size_t)n) == 0 &&
		    (body == NULL || write_all(c, body, len) == 0))
			rc = read_response(c, resp, &keep);
		else if ((rc = read_response(c, resp, &keep)) == 0)
			keep = 0;
		else
			rc = -2;
		if (rc == 0)
			break;
		client_resp_free(resp);
		memset(resp, 0, sizeof(*resp));
		if (rc == -2 && reused && attempt == 0) {
			disconnect(c);	/* the server closed it meanwhile */
			continue;
		}
		tls_err(err, errlen, rc == -2 ? "no answer from server" :
		    "malformed or cut answer from server");
		disconnect(c);
		return -1;
	}
	c->used++;
	if (!keep)
		disconnect(c);
	return 0;
}

void
client_resp_free(struct client_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

const char *
client_get0_path(const struct client *c)
{
	return c->path;
}

int
client_resp_detail(const struct client_resp *resp, char *buf, size_t len)
{
	json_t *j = json_loadb(resp->body ? resp->body : "", resp->len, 0,
	    NULL);
	const char *detail = json_string_value(json_object_get(j, "detail"));
	int rc = detail != NULL ? 0 : -1;

	snprintf(buf, len, "%s", detail ? detail : "");
	json_decref(j);
	return rc;
}

int
client_get(struct client *c, const char *path, struct client_resp *resp,
    char *err, size_t errlen)
{
	char detail[512];

	if (client_request(c, "GET", path, NULL, NULL, 0, resp, err,
	    errlen) != 0)
		return -1;
	if (resp->status == 200)
		return 0;
	/* A problem+json answer says why; show its detail. */
	snprintf(err, errlen, "GET %s: %d%s%s", path, resp->status,
	    client_resp_detail(resp, detail, sizeof(detail)) == 0 ? ": " : "",
	    detail);
	client_resp_free(resp);
	return -1;
}
