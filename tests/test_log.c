/* test_log: the priority prefixes and one-line guarantee of log.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/log.h"

/* Captures stderr into a buffer around fn. */
static void
capture(void (*fn)(void), char *out, size_t outlen)
{
	char path[] = "/tmp/shanhai-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, out, outlen - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	unlink(path);
}

static void emit_levels(void) {
	log_set_level(LOG_LVL_DEBUG);
	log_warnx("w %d", 1);
	log_info("i");
	log_debug("d");
	errno = ENOENT;
	log_warn("open %s", "x");
	log_info("two\nlines");
	log_set_level(LOG_LVL_INFO);
	log_debug("dropped");
}

static void
test_prefixes(void **state)
{
	char buf[4096];
	capture(emit_levels, buf, sizeof(buf));
	assert_string_equal(buf,
	    "<4>w 1\n<6>i\n<7>d\n<4>open x: No such file or directory\n"
	    "<6>two lines\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
