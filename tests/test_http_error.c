/*
 * test_http_error: evhttp's own refusals found by the HTTP grammar alone
 * and replaced by problem+json, whatever page the libevent release writes;
 * other answers, partial ones and the bytes around them left alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "shanhai/http_error.h"

static int calls;

static char *
body_of(int status, void *arg)
{
	char *s;

	calls++;
	if (asprintf(&s, "{\"status\":%d,\"detail\":\"%s\"}", status,
	    (const char *)arg) < 0)
		return NULL;
	return s;
}

/* libevent 2.1's page, and one a later release might write instead. */
#define PAGE21 "<HTML><HEAD>\n<TITLE>413 Payload Too Large</TITLE>\n" \
	"</HEAD><BODY>\n<H1>Payload Too Large</H1>\n</BODY></HTML>\n"
#define PAGE22 "<!DOCTYPE html>\n<html><head><title>413</title></head>" \
	"<body><h1>Payload Too Large</h1></body></html>"
#define HEAD(status, type, len) "HTTP/1.1 " status "\r\nContent-Type: " \
	type "\r\nConnection: close\r\nContent-Length: " len "\r\n\r\n"
#define OURS "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
#define NEW(status, len, json) "HTTP/1.1 " status "\r\nConnection: close" \
	"\r\nContent-Type: application/problem+json\r\nContent-Length: " len \
	"\r\n\r\n" json "\n"

static void
test_rewrite(void **state)
{
	static const struct {
		const char		*name;
		const char		*before;	/* in the buffer */
		size_t			 from;
		enum http_error_scan	 rc;
		int			 status;
		const char		*after;		/* NULL: unchanged */
	} cases[] = {
		{ "libevent 2.1's 413", HEAD("413 Payload Too Large",
		    "text/html", "106") PAGE21, 0, HTTP_ERROR_REPLACED, 413,
		    NEW("413 Payload Too Large", "30",
		    "{\"status\":413,\"detail\":\"big\"}") },
		{ "another page, lower-case headers", "HTTP/1.1 413 Payload Too"
		    " Large\r\ncontent-type: text/html; charset=utf-8\r\n"
		    "connection: close\r\ncontent-length: 99\r\n\r\n" PAGE22,
		    0, HTTP_ERROR_REPLACED, 413, "HTTP/1.1 413 Payload Too "
		    "Large\r\nconnection: close\r\nContent-Type: application/"
		    "problem+json\r\nContent-Length: 30\r\n\r\n{\"status\":413,"
		    "\"detail\":\"big\"}\n" },
		{ "behind an answer of ours not yet written, before more",
		    OURS HEAD("400 Bad Request", "text/html", "5") "<p/>\n"
		    "HTTP/1.1", sizeof(OURS) - 1, HTTP_ERROR_REPLACED, 400,
		    OURS NEW("400 Bad Request", "30",
		    "{\"status\":400,\"detail\":\"big\"}") "HTTP/1.1" },
		{ "body not all there", HEAD("413 Payload Too Large",
		    "text/html", "106") "<HTML>", 0, HTTP_ERROR_PARTIAL, 413,
		    NULL },
		{ "headers not all there", "HTTP/1.1 501 Not Implemented\r\n"
		    "Content-Type: text/html\r\n", 0, HTTP_ERROR_PARTIAL, 0,
		    NULL },
		{ "100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", 0,
		    HTTP_ERROR_KEPT, 100, NULL },
		{ "a 200", OURS, 0, HTTP_ERROR_KEPT, 200, NULL },
		{ "not HTTP", "<HTML>413</HTML>\r\n\r\n", 0, HTTP_ERROR_FAILED,
		    0, NULL },
		{ "a refusal without a length", "HTTP/1.1 400 Bad Request\r\n"
		    "\r\n<p/>", 0, HTTP_ERROR_FAILED, 400, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct evbuffer *b = evbuffer_new();
		const char *want = cases[i].after ? cases[i].after :
		    cases[i].before;
		enum http_error_scan rc;
		size_t len;
		int status;
		char *got;

		assert_non_null(b);
		evbuffer_add(b, cases[i].before, strlen(cases[i].before));
		calls = 0;
		rc = http_error_rewrite(b, cases[i].from, body_of, "big",
		    &status);
		len = evbuffer_get_length(b);
		got = (char *)evbuffer_pullup(b, -1);
		if (rc != cases[i].rc || status != cases[i].status ||
		    len != strlen(want) || memcmp(got, want, len) != 0)
			fail_msg("%s: rc %d status %d, got\n%.*s\nwant\n%s",
			    cases[i].name, rc, status, (int)len, got, want);
		assert_int_equal(calls, rc == HTTP_ERROR_REPLACED);
		evbuffer_free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
