/* test_metrics: the Prometheus text exposition of the metrics registry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/metrics.h"

static void
counters_and_gauges(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *req, *up;
	char *text;

	req = metrics_family(m, "x_requests_total", METRICS_COUNTER,
	    "Requests answered.", NULL, 0);
	up = metrics_family(m, "x_up", METRICS_GAUGE, "Up.", NULL, 0);
	assert_non_null(req);
	/* The same name finds the same family; another type is refused. */
	assert_ptr_equal(metrics_family(m, "x_requests_total",
	    METRICS_COUNTER, "", NULL, 0), req);
	assert_null(metrics_family(m, "x_up", METRICS_COUNTER, "", NULL, 0));
	metrics_add(req, 1, "route", "/b", "status", "200", NULL);
	metrics_add(req, 1, "route", "/a", "status", "403", NULL);
	metrics_add(req, 2, "route", "/b", "status", "200", NULL);
	metrics_set(up, 5, NULL);
	metrics_set(up, 1.5, NULL);
	text = metrics_render(m, NULL);
	assert_string_equal(text,
	    "# HELP x_requests_total Requests answered.\n"
	    "# TYPE x_requests_total counter\n"
	    "x_requests_total{route=\"/a\",status=\"403\"} 1\n"
	    "x_requests_total{route=\"/b\",status=\"200\"} 3\n"
	    "# HELP x_up Up.\n"
	    "# TYPE x_up gauge\n"
	    "x_up 1.5\n");
	free(text);
	metrics_clear(up);
	text = metrics_render(m, NULL);
	assert_non_null(strstr(text, "# TYPE x_up gauge\n"));
	assert_null(strstr(text, "x_up 1.5"));
	free(text);
	metrics_free(m);
}

static void
histograms_are_cumulative(void **state)
{
	static const double b[] = { 0.01, 0.1, 1 };
	struct metrics *m = metrics_new();
	struct metrics_family *h;
	char *text;

	h = metrics_family(m, "x_seconds", METRICS_HISTOGRAM, "Latency.", b,
	    3);
	metrics_observe(h, 0.01, "route", "/a", NULL);	/* le is inclusive */
	metrics_observe(h, 0.05, "route", "/a", NULL);
	metrics_observe(h, 7, "route", "/a", NULL);
	text = metrics_render(m, NULL);
	assert_string_equal(text,
	    "# HELP x_seconds Latency.\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{route=\"/a\",le=\"0.01\"} 1\n"
	    "x_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
	    "x_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
	    "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
	    "x_seconds_sum{route=\"/a\"} 7.06\n"
	    "x_seconds_count{route=\"/a\"} 3\n");
	free(text);
	metrics_free(m);
}

static void
label_values_are_escaped(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f;
	char *text;

	f = metrics_family(m, "x", METRICS_GAUGE, "X.", NULL, 0);
	metrics_set(f, 1, "title", "a \"b\" \\ c\nd", NULL);
	text = metrics_render(m, NULL);
	assert_non_null(strstr(text, "x{title=\"a \\\"b\\\" \\\\ c\\nd\"} 1\n"));
	free(text);
	metrics_free(m);
}

/* A line longer than the formatter's stack buffer comes out whole. */
static void
long_help_text(void **state)
{
	struct metrics *m = metrics_new();
	char help[1001], want[1100], *text;

	(void)state;
	memset(help, 'h', sizeof(help) - 1);
	help[sizeof(help) - 1] = '\0';
	assert_non_null(metrics_family(m, "x_long", METRICS_GAUGE, help,
	    NULL, 0));
	text = metrics_render(m, NULL);
	assert_non_null(text);
	snprintf(want, sizeof(want), "# HELP x_long %s\n# TYPE x_long gauge\n",
	    help);
	assert_string_equal(text, want);
	free(text);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counters_and_gauges),
		cmocka_unit_test(histograms_are_cumulative),
		cmocka_unit_test(label_values_are_escaped),
		cmocka_unit_test(long_help_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
