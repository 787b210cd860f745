/*
 * console: the web console's files and GET /v1/whoami (see console.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "shanhai/config.h"
#include "shanhai/console.h"
#include "shanhai/http.h"
#include "shanhai/server.h"

/* Larger than any file the console's build makes. */
#define CONSOLE_MAX_FILE	(8 * 1024 * 1024)

static const struct {
	const char	*ext;
	const char	*type;
} types[] = {
	{ ".html",	"text/html; charset=utf-8" },
	{ ".js",	"text/javascript; charset=utf-8" },
	{ ".css",	"text/css; charset=utf-8" },
	{ ".svg",	"image/svg+xml" },
	{ ".png",	"image/png" },
	{ ".ico",	"image/x-icon" },
	{ ".woff2",	"font/woff2" },
	{ ".json",	"application/json" },
	{ ".txt",	"text/plain; charset=utf-8" },
};

const char *
console_file_type(const char *name)
{
	size_t len = strlen(name), el;

	if (len == 0 || len > 128 || !isalnum((unsigned char)name[0]))
		return NULL;
	for (const char *p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		el = strlen(types[i].ext);
		if (len > el && strcmp(name + len - el, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}

int
console_file_immutable(const char *name)
{
	const char *dot = strrchr(name, '.');
	const char *p;

	if (dot == NULL || dot - name < 10 || dot[-9] != '-')
		return 0;
	for (p = dot - 8; p < dot; p++)
		if (!isdigit((unsigned char)*p) && !isupper((unsigned char)*p))
			return 0;
	return 1;
}

/* The headers every console answer carries. */
static void
add_policy(struct http_req *r)
{
	http_req_add_header(r, "Content-Security-Policy", CONSOLE_CSP);
	http_req_add_header(r, "X-Content-Type-Options", "nosniff");
	http_req_add_header(r, "Referrer-Policy", "no-referrer");
	http_req_add_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	http_req_add_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

/* Appends s to b with &, <, >, " escaped. */
static void
add_escaped(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&':	evbuffer_add_printf(b, "&amp;"); break;
		case '<':	evbuffer_add_printf(b, "&lt;"); break;
		case '>':	evbuffer_add_printf(b, "&gt;"); break;
		case '"':	evbuffer_add_printf(b, "&quot;"); break;
		default:	evbuffer_add(b, s, 1); break;
		}
}

/*
 * The plain page of a browser that presented no certificate, or one that
 * no client entry maps: which CA must have issued it, and what was seen.
 */
static void
refuse(struct http_req *r)
{
	SSL_CTX *ctx = server_gen_ssl_ctx(http_req_gen(r));
	STACK_OF(X509_NAME) *cas = SSL_CTX_get_client_CA_list(ctx);
	const char *fpr = http_req_fingerprint(r);
	struct evbuffer *b = evbuffer_new();
	char name[512];

	if (b == NULL) {
		http_reply(r, 500, NULL, NULL);
		return;
	}
	evbuffer_add_printf(b, "<!doctype html>\n<html lang=\"zh-CN\">"
	    "<head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">"
	    "<title>需要客户端证书 · "
	    "Client certificate required</title></head><body>\n"
	    "<h1>需要客户端证书 / Client certificate required</h1>\n");
	if (fpr == NULL)
		evbuffer_add_printf(b, "<p>浏览器没有出示客户端证书。"
		    "<br>Your browser presented no client certificate.</p>\n");
	else {
		evbuffer_add_printf(b, "<p>浏览器出示的证书 (SHA-256 指纹 "
		    "<code>");
		add_escaped(b, fpr);
		evbuffer_add_printf(b, "</code>) 未在本服务的 clients "
		    "配置中登记。<br>The certificate your browser presented "
		    "(SHA-256 fingerprint above) is not one of this service's "
		    "configured clients.</p>\n");
	}
	evbuffer_add_printf(b, "<p>请安装由下列证书机构签发、并已由运维人员"
	    "登记的证书 (财政局、审计或运维), 然后重新打开本页。<br>Install a "
	    "certificate issued by the CA below and registered by the "
	    "operators (bureau, auditor or operator), then reload this "
	    "page.</p>\n<ul>\n");
	for (int i = 0; cas != NULL && i < sk_X509_NAME_num(cas); i++) {
		X509_NAME_oneline(sk_X509_NAME_value(cas, i), name,
		    sizeof(name));
		evbuffer_add_printf(b, "<li><code>");
		add_escaped(b, name);
		evbuffer_add_printf(b, "</code></li>\n");
	}
	evbuffer_add_printf(b, "</ul>\n</body></html>\n");
	add_policy(r);
	http_req_add_header(r, "Cache-Control", "no-store");
	http_reply(r, 403, "text/html; charset=utf-8", b);
	evbuffer_free(b);
}

/* Answers the file name of console_dir, or a problem. */
static void
serve(struct http_req *r, const char *name)
{
	const struct config *cfg = server_gen_config(http_req_gen(r));
	const char *dir = config_get0_console_dir(cfg);
	const char *type = console_file_type(name);
	struct evbuffer *b;
	struct stat st;
	char path[4096];
	int fd;

	if (http_req_client(r) == NULL) {
		refuse(r);
		return;
	}
	if (type == NULL) {
		http_problem(r, 404, "path", "no such console file: %s",
		    http_req_path(r));
		return;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		http_problem(r, 404, "path", "no such console file: %s",
		    http_req_path(r));
		return;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && strcmp(name, "index.html") == 0) {
		http_problem(r, 503, "console_dir", "%s has no index.html: "
		    "the console is not built or installed (make console)",
		    dir);
		return;
	}
	if (fd == -1) {
		if (errno != ENOENT)
			http_req_log(r, LOG_LVL_WARNING, "console: %s: %s",
			    path, strerror(errno));
		http_problem(r, 404, "path", "no such console file: %s",
		    http_req_path(r));
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONSOLE_MAX_FILE) {
		close(fd);
		http_problem(r, 404, "path", "no such console file: %s",
		    http_req_path(r));
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		close(fd);
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	while ((off_t)evbuffer_get_length(b) < st.st_size) {
		int n = evbuffer_read(b, fd, (int)(st.st_size -
		    (off_t)evbuffer_get_length(b)));
		if (n <= 0) {
			http_req_log(r, LOG_LVL_WARNING, "console: %s: %s",
			    path, n == 0 ? "shorter than its size" :
			    strerror(errno));
			close(fd);
			evbuffer_free(b);
			http_problem(r, 500, "path", "cannot read %s",
			    http_req_path(r));
			return;
		}
	}
	close(fd);
	add_policy(r);
	http_req_add_header(r, "Cache-Control", console_file_immutable(name) ?
	    "public, max-age=31536000, immutable" : "no-cache");
	http_reply(r, 200, type, b);
	evbuffer_free(b);
}

static void
console_index(struct http_req *r, void *arg)
{
	serve(r, "index.html");
}

static void
console_file(struct http_req *r, void *arg)
{
	serve(r, http_req_param(r, "file"));
}

/* "/" and "/console" lead to the console. */
static void
console_redirect(struct http_req *r, void *arg)
{
	http_req_add_header(r, "Location", "/console/");
	http_req_add_header(r, "Cache-Control", "no-cache");
	http_reply(r, 303, NULL, NULL);
}

/* Who the certificate is: what a page needs to show the right views. */
static void
whoami(struct http_req *r, void *arg)
{
	const struct config_client *cl = http_req_client(r);
	json_t *codes = json_array(), *doc;

	for (size_t i = 0; codes != NULL &&
	    i < config_client_code_count(cl); i++)
		if (json_array_append_new(codes,
		    json_string(config_client_get0_code(cl, i))) == -1) {
			json_decref(codes);
			codes = NULL;
		}
	if (codes == NULL || (doc = json_pack("{s:s, s:s, s:o, s:s}",
	    "name", config_client_get0_name(cl),
	    "role", config_role_name(config_client_role(cl)),
	    "codes", codes,
	    "fingerprint", http_req_fingerprint(r))) == NULL) {
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	http_req_add_header(r, "Cache-Control", "no-store");
	http_reply_json(r, 200, doc);
	json_decref(doc);
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/", HTTP_PUBLIC, console_redirect },
	{ HTTP_GET, "/console", HTTP_PUBLIC, console_redirect },
	{ HTTP_GET, "/console/", HTTP_PUBLIC, console_index },
	{ HTTP_GET, "/console/{file}", HTTP_PUBLIC, console_file },
	{ HTTP_GET, "/v1/whoami", CONFIG_ROLE_ANY, whoami },
};

static int
console_start(struct server *s, void **statep, char *err, size_t errlen)
{
	if (http_add_routes(server_get0_http(s), routes,
	    sizeof(routes) / sizeof(routes[0]), s) == -1) {
		snprintf(err, errlen, "routes already taken");
		return -1;
	}
	*statep = s;
	return 0;
}

const struct server_module console_module = {
	.name = "console",
	.start = console_start,
};
