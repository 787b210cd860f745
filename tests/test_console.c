/* test_console: which names the console serves, as what, and how cached. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "shanhai/console.h"

static void
file_types(void **state)
{
	static const struct { const char *name, *type; } t[] = {
		{ "index.html", "text/html; charset=utf-8" },
		{ "app-5ZQH2K7A.js", "text/javascript; charset=utf-8" },
		{ "app-5ZQH2K7A.css", "text/css; charset=utf-8" },
		{ "chunk-ABCDEFGH.js", "text/javascript; charset=utf-8" },
		{ "logo.svg", "image/svg+xml" },
		{ "favicon.ico", "image/x-icon" },
		{ "a_b-c.1.png", "image/png" },
		{ "font-X.woff2", "font/woff2" },
		{ "meta.json", "application/json" },
		{ "robots.txt", "text/plain; charset=utf-8" },
		/* refused: not one plain segment, or no known type */
		{ "", NULL }, { ".html", NULL }, { ".hidden.js", NULL },
		{ "..", NULL }, { "../x.js", NULL }, { "a/b.js", NULL },
		{ "-x.js", NULL }, { "_x.js", NULL }, { "x.js ", NULL },
		{ "x%2e.js", NULL }, { "x.JS", NULL }, { "x.map", NULL },
		{ "x.exe", NULL }, { "html", NULL }, { "x.html~", NULL },
		{ "x\\y.js", NULL }, { "x\ny.js", NULL }, { "中文.js", NULL },
		{ "build.mjs", NULL }, { "package.json.bak", NULL },
	};
	char longname[200];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got = console_file_type(t[i].name);
		if (t[i].type == NULL && got != NULL)
			fail_msg("'%s' served as %s", t[i].name, got);
		if (t[i].type != NULL && (got == NULL ||
		    strcmp(got, t[i].type) != 0))
			fail_msg("'%s': %s, not %s", t[i].name,
			    got ? got : "refused", t[i].type);
	}
	/* 128 bytes is the longest name. */
	memset(longname, 'a', sizeof(longname));
	strcpy(longname + 125, ".js");
	assert_non_null(console_file_type(longname));
	memset(longname, 'a', sizeof(longname));
	strcpy(longname + 126, ".js");
	assert_null(console_file_type(longname));
}

static void
file_cache(void **state)
{
	static const struct { const char *name; int immutable; } t[] = {
		{ "app-5ZQH2K7A.js", 1 }, { "app-5ZQH2K7A.css", 1 },
		{ "chunk-00000000.js", 1 }, { "a-b-ABCDEFGH.png", 1 },
		{ "index.html", 0 }, { "app.js", 0 }, { "app-5zqh2k7a.js", 0 },
		{ "app-5ZQH2K7.js", 0 }, { "app-5ZQH2K7AB.js", 0 },
		{ "app_5ZQH2K7A.js", 0 }, { "-5ZQH2K7A.js", 0 },
		{ "5ZQH2K7A.js", 0 }, { "app-5ZQH2K7A", 0 }, { "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (console_file_immutable(t[i].name) != t[i].immutable)
			fail_msg("'%s': immutable %d, expected %d", t[i].name,
			    !t[i].immutable, t[i].immutable);
}

static void
policy(void **state)
{
	(void)state;
	/* Only this origin; nothing inline; no framing. */
	assert_non_null(strstr(CONSOLE_CSP, "default-src 'none'"));
	assert_non_null(strstr(CONSOLE_CSP, "script-src 'self';"));
	assert_non_null(strstr(CONSOLE_CSP, "frame-ancestors 'none'"));
	assert_null(strstr(CONSOLE_CSP, "unsafe"));
	assert_null(strstr(CONSOLE_CSP, "http"));
	assert_null(strstr(CONSOLE_CSP, "*"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(file_types),
		cmocka_unit_test(file_cache),
		cmocka_unit_test(policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
