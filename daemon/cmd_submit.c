/*
 * shanhai submit --url URL --cert C --key K --cacert CA [--out FILE]
 * REPORT.json: a bureau's submission (SPEC 7). Posts the report over mutual
 * TLS with the daemon's own client context, prints the receipt and saves it
 * next to the report as REPORT.receipt.json (or FILE). A refusal prints the
 * problem's detail and exits 1; transport and server errors exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "shanhai/cmd.h"
#include "shanhai/tls.h"
#include "shanhai/version.h"

/* A report is at most 64 KiB; read a little more so the server says 413. */
#define REPORT_READ_MAX	(1024 * 1024)
#define ANSWER_MAX	(4 * 1024 * 1024)
#define IO_TIMEOUT	30

struct url {
	char	host[256];
	char	port[8];
	char	path[1024];
};

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai submit --url URL --cert FILE --key FILE"
	    " --cacert FILE [--out FILE] REPORT.json\n");
	return CMD_USAGE;
}

/*
 * https://HOST[:PORT][/PREFIX]: the report goes to PREFIX/v1/reports, or to
 * the URL itself when it already ends in /v1/reports.
 */
static int
parse_url(const char *s, struct url *u)
{
	const char *p, *end;
	size_t n;

	if (strncasecmp(s, "https://", 8) != 0)
		return -1;
	s += 8;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		n = (size_t)(end - s - 1);
		if (n == 0 || n >= sizeof(u->host))
			return -1;
		memcpy(u->host, s + 1, n);
		u->host[n] = '\0';
		p = end + 1;
	} else {
		n = strcspn(s, ":/");
		if (n == 0 || n >= sizeof(u->host))
			return -1;
		memcpy(u->host, s, n);
		u->host[n] = '\0';
		p = s + n;
	}
	snprintf(u->port, sizeof(u->port), "443");
	if (*p == ':') {
		n = strspn(p + 1, "0123456789");
		if (n == 0 || n > 5 || (p[1 + n] != '\0' && p[1 + n] != '/'))
			return -1;
		memcpy(u->port, p + 1, n);
		u->port[n] = '\0';
		p += 1 + n;
	}
	if (*p != '\0' && *p != '/')
		return -1;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n >= 11 && strncmp(p + n - 11, "/v1/reports", 11) == 0)
		n -= 11;
	if (n + 12 > sizeof(u->path))
		return -1;
	snprintf(u->path, sizeof(u->path), "%.*s/v1/reports", (int)n, p);
	return 0;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(REPORT_READ_MAX + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, REPORT_READ_MAX, f);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int
dial(const struct url *u, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { .tv_sec = IO_TIMEOUT };
	int fd = -1, rc;

	if ((rc = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		snprintf(err, errlen, "%s port %s: %s", u->host, u->port,
		    strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void
ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "connection closed");
	ERR_clear_error();
}

static int
write_all(SSL *ssl, const char *p, size_t n, char *err, size_t errlen)
{
	while (n > 0) {
		int w = SSL_write(ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

		if (w <= 0) {
			ssl_err(err, errlen, "sending");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads the answer: status, and a malloc'd body. Stops at Content-Length
 * or at the end of the connection.
 */
static int
read_answer(SSL *ssl, int *status, char **body, size_t *bodylen, char *err,
    size_t errlen)
{
	char *buf = NULL, *hend = NULL, *cl;
	size_t len = 0, cap = 0, want = 0;
	int r, have_cl = 0;

	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 16384;
			if (cap > ANSWER_MAX || (nb = realloc(buf, cap)) == NULL) {
				snprintf(err, errlen, "answer too large");
				goto fail;
			}
			buf = nb;
		}
		r = SSL_read(ssl, buf + len, (int)(cap - len - 1));
		if (r <= 0) {
			if (hend != NULL && !have_cl)
				break;
			ssl_err(err, errlen, "reading the answer");
			goto fail;
		}
		len += (size_t)r;
		buf[len] = '\0';
		if (hend == NULL && (hend = strstr(buf, "\r\n\r\n")) != NULL) {
			*hend = '\0';
			if (sscanf(buf, "HTTP/1.%*[01] %d", status) != 1) {
				snprintf(err, errlen, "not an HTTP answer");
				goto fail;
			}
			for (cl = strchr(buf, '\n'); cl != NULL;
			    cl = strchr(cl + 1, '\n'))
				if (strncasecmp(cl + 1, "Content-Length:", 15) == 0) {
					want = strtoul(cl + 16, NULL, 10);
					have_cl = 1;
				}
			hend += 4;
		}
		if (hend != NULL && have_cl && len - (size_t)(hend - buf) >= want)
			break;
	}
	*bodylen = have_cl ? want : len - (size_t)(hend - buf);
	if ((*body = malloc(*bodylen + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(*body, hend, *bodylen);
	(*body)[*bodylen] = '\0';
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

/* Posts body to u; the answer's status and body. */
static int
post(const struct url *u, SSL_CTX *ctx, const char *report, size_t len,
    int *status, char **answer, size_t *alen, char *err, size_t errlen)
{
	char head[2048];
	SSL *ssl = NULL;
	int fd, n, rc = -1;

	if ((fd = dial(u, err, errlen)) < 0)
		return -1;
	if ((ssl = SSL_new(ctx)) == NULL || tls_client_set_host(ssl,
	    u->host) < 0 || SSL_set_fd(ssl, fd) != 1) {
		ssl_err(err, errlen, "TLS");
		goto done;
	}
	if (SSL_connect(ssl) != 1) {
		ssl_err(err, errlen, "TLS handshake");
		goto done;
	}
	n = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: %s%s%s:%s"
	    "\r\nUser-Agent: shanhai/%s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", u->path,
	    strchr(u->host, ':') ? "[" : "", u->host,
	    strchr(u->host, ':') ? "]" : "", u->port, SHANHAI_VERSION, len);
	if (write_all(ssl, head, (size_t)n, err, errlen) < 0 ||
	    write_all(ssl, report, len, err, errlen) < 0 ||
	    read_answer(ssl, status, answer, alen, err, errlen) < 0)
		goto done;
	SSL_shutdown(ssl);
	rc = 0;
done:
	SSL_free(ssl);
	close(fd);
	return rc;
}

/* REPORT.json -> REPORT.receipt.json; REPORT -> REPORT.receipt.json */
static char *
receipt_path(const char *report)
{
	size_t n = strlen(report);
	char *p;

	if (n > 5 && strcmp(report + n - 5, ".json") == 0)
		n -= 5;
	if ((p = malloc(n + sizeof(".receipt.json"))) == NULL)
		return NULL;
	memcpy(p, report, n);
	strcpy(p + n, ".receipt.json");
	return p;
}

/* Writes data to path through a temporary file and a rename. */
static int
save(const char *path, const char *data, size_t len)
{
	char *tmp;
	FILE *f;
	int ok;

	if ((tmp = malloc(strlen(path) + 8)) == NULL)
		return -1;
	sprintf(tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL) {
		free(tmp);
		return -1;
	}
	ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 &&
	    fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

/* The detail of a problem+json answer, or the answer itself. */
static void
print_problem(int status, const char *answer)
{
	json_t *p = json_loads(answer, 0, NULL);
	const char *detail = json_string_value(json_object_get(p, "detail"));

	fprintf(stderr, "shanhai submit: refused (%d): %s\n", status,
	    detail ? detail : answer);
	json_decref(p);
}

int
cmd_submit(int argc, char **argv)
{
	const char *url = NULL, *cert = NULL, *key = NULL, *ca = NULL,
	    *out = NULL, *report = NULL;
	char err[1024], *body = NULL, *answer = NULL, *dest = NULL;
	size_t len, alen;
	struct url u;
	SSL_CTX *ctx = NULL;
	int status = 0, rc = CMD_USAGE;

	for (int i = 1; i < argc; i++) {
		const char **opt = NULL;

		if (strcmp(argv[i], "--url") == 0)
			opt = &url;
		else if (strcmp(argv[i], "--cert") == 0)
			opt = &cert;
		else if (strcmp(argv[i], "--key") == 0)
			opt = &key;
		else if (strcmp(argv[i], "--cacert") == 0)
			opt = &ca;
		else if (strcmp(argv[i], "--out") == 0)
			opt = &out;
		else if (argv[i][0] != '-' && report == NULL) {
			report = argv[i];
			continue;
		} else
			return usage();
		if (i + 1 >= argc)
			return usage();
		*opt = argv[++i];
	}
	if (url == NULL || cert == NULL || key == NULL || ca == NULL ||
	    report == NULL)
		return usage();
	if (parse_url(url, &u) < 0) {
		fprintf(stderr, "shanhai submit: --url %s: not https://HOST[:PORT]"
		    "[/PATH]\n", url);
		return CMD_USAGE;
	}
	if ((body = read_file(report, &len)) == NULL) {
		fprintf(stderr, "shanhai submit: %s: %s\n", report,
		    strerror(errno));
		return CMD_USAGE;
	}
	if ((ctx = tls_client_ctx_new(ca, cert, key, err, sizeof(err))) == NULL) {
		fprintf(stderr, "shanhai submit: %s\n", err);
		goto done;
	}
	if (post(&u, ctx, body, len, &status, &answer, &alen, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "shanhai submit: %s: %s\n", url, err);
		goto done;
	}
	if (status != 200 && status != 201) {
		print_problem(status, answer);
		rc = status >= 400 && status < 500 ? CMD_FAILED : CMD_USAGE;
		goto done;
	}
	fwrite(answer, 1, alen, stdout);
	if (alen == 0 || answer[alen - 1] != '\n')
		putchar('\n');
	if ((dest = out ? strdup(out) : receipt_path(report)) == NULL ||
	    save(dest, answer, alen) < 0) {
		fprintf(stderr, "shanhai submit: saving the receipt to %s: %s\n",
		    dest ? dest : "?", strerror(errno));
		goto done;
	}
	fprintf(stderr, "shanhai submit: %s (%d); receipt saved in %s\n",
	    status == 201 ? "accepted" : "already accepted", status, dest);
	rc = CMD_OK;
done:
	free(dest);
	free(answer);
	free(body);
	SSL_CTX_free(ctx);
	return rc;
}
