/*
 * http_error: evhttp's own refusals rewritten as problem+json (see
 * http_error.h). Public libevent API only: evbuffer_ptr and copy-outs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "shanhai/http_error.h"

/* A header block larger than this is not one evhttp wrote for a refusal. */
#define HEAD_MAX	8192
#define BODY_MAX	65536

/* Content-Length of the header block head[0..len), or -1. */
static long
content_length(const char *head, size_t len)
{
	const char *line = head, *end = head + len, *nl;
	static const char name[] = "Content-Length:";
	char *stop;
	long v;

	for (; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			break;
		if ((size_t)(nl - line) > sizeof(name) - 1 &&
		    strncasecmp(line, name, sizeof(name) - 1) == 0) {
			v = strtol(line + sizeof(name) - 1, &stop, 10);
			return v >= 0 && v <= BODY_MAX && stop <= nl ? v : -1;
		}
	}
	return -1;
}

enum http_error_scan
http_error_rewrite(struct evbuffer *buf, size_t from, http_error_body_fn *body,
    void *arg, int *status)
{
	size_t len = evbuffer_get_length(buf), hlen, total;
	struct evbuffer_ptr at, hend;
	struct evbuffer *keep = NULL, *out = NULL;
	char *head = NULL, *json = NULL, *line, *next;
	int major, minor, n = 0;
	long clen;
	enum http_error_scan rc = HTTP_ERROR_FAILED;

	*status = 0;
	if (from >= len)
		return HTTP_ERROR_PARTIAL;
	if (evbuffer_ptr_set(buf, &at, from, EVBUFFER_PTR_SET) < 0)
		return HTTP_ERROR_FAILED;
	hend = evbuffer_search(buf, "\r\n\r\n", 4, &at);
	if (hend.pos < 0)
		return len - from > HEAD_MAX ? HTTP_ERROR_FAILED :
		    HTTP_ERROR_PARTIAL;
	hlen = (size_t)hend.pos - from + 4;
	if (hlen > HEAD_MAX || (head = malloc(hlen + 1)) == NULL ||
	    evbuffer_copyout_from(buf, &at, head, hlen) != (ev_ssize_t)hlen)
		goto out;
	head[hlen] = '\0';
	if (sscanf(head, "HTTP/%d.%d %3d%n", &major, &minor, status, &n) != 3 ||
	    n == 0 || (head[n] != ' ' && head[n] != '\r') || *status < 100)
		goto out;
	if ((clen = content_length(head, hlen)) < 0) {
		/* An answer without a length (none of evhttp's refusals). */
		rc = *status >= 400 ? HTTP_ERROR_FAILED : HTTP_ERROR_KEPT;
		goto out;
	}
	total = hlen + (size_t)clen;
	if (len - from < total) {
		rc = HTTP_ERROR_PARTIAL;
		goto out;
	}
	if (*status < 400) {
		rc = HTTP_ERROR_KEPT;
		goto out;
	}
	if ((json = body(*status, arg)) == NULL ||
	    (keep = evbuffer_new()) == NULL || (out = evbuffer_new()) == NULL)
		goto out;
	/* The status line and evhttp's headers but its type and length. */
	line = head;
	next = strchr(line, '\n') + 1;
	evbuffer_add(out, line, (size_t)(next - line));
	for (line = next; line < head + hlen - 2; line = next) {
		next = strchr(line, '\n') + 1;
		if (strncasecmp(line, "Content-Type:", 13) != 0 &&
		    strncasecmp(line, "Content-Length:", 15) != 0)
			evbuffer_add(out, line, (size_t)(next - line));
	}
	if (evbuffer_add_printf(out, "Content-Type: application/problem+json"
	    "\r\nContent-Length: %zu\r\n\r\n%s\n", strlen(json) + 1, json) < 0)
		goto out;
	/* What came before stays; the refusal goes; anything after stays. */
	if (evbuffer_remove_buffer(buf, keep, from) != (int)from ||
	    evbuffer_drain(buf, total) < 0 ||
	    evbuffer_prepend_buffer(buf, out) < 0 ||
	    evbuffer_prepend_buffer(buf, keep) < 0)
		goto out;
	rc = HTTP_ERROR_REPLACED;
out:
	if (keep != NULL)
		evbuffer_free(keep);
	if (out != NULL)
		evbuffer_free(out);
	free(json);
	free(head);
	return rc;
}
