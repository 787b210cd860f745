/*
 * Out of memory inside settle_submit(): every allocation the engine makes
 * while it takes a report is failed in turn (the link wraps malloc, calloc,
 * realloc and strdup). Each failure must be a 503 (SETTLE_UNAVAILABLE),
 * never a 422: before the commit, with the engine exactly as it was (the
 * same report then gives the same entries as in an engine that never
 * failed); inside it, with the engine marked broken, refusing everything
 * until it is rebuilt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "shanhai/rules.h"
#include "shanhai/settle.h"

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
char	*__real_strdup(const char *);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
char	*__wrap_strdup(const char *);

/* -1: never fail; else the number of allocations that still succeed. */
static long budget = -1;
static long used;

static int
fails(void)
{
	if (budget < 0)
		return 0;
	used++;
	if (budget == 0)
		return 1;
	budget--;
	return 0;
}

void *__wrap_malloc(size_t n) { return fails() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t n) { return fails() ? NULL : __real_calloc(a, n); }
void *__wrap_realloc(void *p, size_t n) { return fails() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fails() ? NULL : __real_strdup(s); }

static const char RULES[] =
    "id = \"oom\"; home = \"330802\"; host = \"330110\"; cadence = \"monthly\";"
    " start = \"2026-01\"; taxes = ( { code = \"vat\"; retain = \"50%\"; },"
    " { code = \"cit\"; } ); statistics = ( { code = \"gdp\"; mode = \"both\"; } );"
    " beneficiaries = ( { id = \"a\"; weight = 2; }, { id = \"b\"; weight = 1; } );"
    " terms = ( { from = \"2026-01\"; home = \"1/3\"; floor = \"1200.00\"; } );";

/* Three months, then a correction of January that adjusts all three. */
static const char *const reports[] = {
	"{\"report_id\":\"j\",\"agreement\":\"oom\",\"period\":\"2026-01\","
	"\"role\":\"host\",\"taxes\":{\"vat\":\"100.00\"}}",
	"{\"report_id\":\"f\",\"agreement\":\"oom\",\"period\":\"2026-02\","
	"\"role\":\"host\",\"taxes\":{\"vat\":\"200.00\",\"cit\":\"3\"},"
	"\"statistics\":{\"gdp\":\"9\"}}",
	"{\"report_id\":\"m\",\"agreement\":\"oom\",\"period\":\"2026-03\","
	"\"role\":\"host\",\"taxes\":{\"vat\":\"300.00\"}}",
	"{\"report_id\":\"j2\",\"agreement\":\"oom\",\"period\":\"2026-01\","
	"\"role\":\"host\",\"supersedes\":\"j\",\"taxes\":{\"vat\":\"999.99\"},"
	"\"deductions\":\"1.00\"}",
};
#define NREPORTS (sizeof(reports) / sizeof(reports[0]))

static struct settle *
engine(void)
{
	struct settle *s = settle_new();
	struct rules *r;
	char err[512];

	assert_non_null(s);
	assert_non_null(r = rules_parse(RULES, "oom.conf", err, sizeof(err)));
	assert_int_equal(settle_install(s, r, err, sizeof(err)), 0);
	return s;
}

static int
submit(struct settle *s, size_t i, struct settle_result **res, char *err,
    size_t errlen)
{
	return settle_submit(s, reports[i], strlen(reports[i]), NULL, 0,
	    "2027-01-05T00:00:00Z", NULL, res, err, errlen);
}

/* All the entries of a result, one per line, into a malloc'd string. */
static char *
entries_of(const struct settle_result *res)
{
	size_t total = 1, n = settle_result_count(res);
	char *out, *p;

	for (size_t i = 0; i < n; i++) {
		size_t len;

		settle_result_entry(res, i, &len);
		total += len + 1;
	}
	assert_non_null(p = out = __real_malloc(total));
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *e = settle_result_entry(res, i, &len);

		memcpy(p, e, len);
		p += len;
		*p++ = '\n';
	}
	*p = '\0';
	return out;
}

static void
each_allocation_fails(void **state)
{
	struct settle_result *res;
	char err[512], *want[NREPORTS];
	struct settle *ref = engine();
	size_t before = 0, after = 0;

	(void)state;
	for (size_t i = 0; i < NREPORTS; i++) {
		assert_int_equal(submit(ref, i, &res, err, sizeof(err)),
		    SETTLE_ACCEPTED);
		want[i] = entries_of(res);
		settle_result_free(res);
	}
	settle_free(ref);
	/* For each report k, fail its n-th allocation, n = 0, 1, … */
	for (size_t k = 0; k < NREPORTS; k++) {
		for (long n = 0;; n++) {
			struct settle *s = engine();
			int rc;

			for (size_t i = 0; i < k; i++) {
				assert_int_equal(submit(s, i, &res, err,
				    sizeof(err)), SETTLE_ACCEPTED);
				settle_result_free(res);
			}
			budget = n;
			used = 0;
			res = NULL;
			rc = submit(s, k, &res, err, sizeof(err));
			budget = -1;
			if (rc == SETTLE_ACCEPTED) {
				char *got = entries_of(res);

				assert_string_equal(got, want[k]);
				free(got);
				settle_result_free(res);
				settle_free(s);
				break;
			}
			if (rc != SETTLE_UNAVAILABLE)
				fail_msg("report %zu, allocation %ld: code %d, not "
				    "503: %s", k, n, rc, err);
			assert_null(res);
			if (settle_broken(s)) {
				after++;
				/* Refuses everything until rebuilt. */
				assert_int_equal(submit(s, k, &res, err,
				    sizeof(err)), SETTLE_UNAVAILABLE);
				assert_non_null(strstr(err, "rebuilt"));
			} else {
				before++;
				/* Unchanged: the report goes in as if never tried. */
				assert_int_equal(submit(s, k, &res, err,
				    sizeof(err)), SETTLE_ACCEPTED);
				{
					char *got = entries_of(res);

					assert_string_equal(got, want[k]);
					free(got);
				}
				settle_result_free(res);
				for (size_t i = k + 1; i < NREPORTS; i++) {
					char *got;

					assert_int_equal(submit(s, i, &res, err,
					    sizeof(err)), SETTLE_ACCEPTED);
					got = entries_of(res);
					assert_string_equal(got, want[i]);
					free(got);
					settle_result_free(res);
				}
			}
			settle_free(s);
			assert_true(n < 10000);
		}
	}
	/* Both kinds happened: the test reaches inside the commit too. */
	assert_true(before > 0);
	assert_true(after > 0);
	for (size_t i = 0; i < NREPORTS; i++)
		free(want[i]);
}

static const char YRULES[] =
    "id = \"yr\"; home = \"330802\"; host = \"330110\"; cadence = \"yearly\";"
    " start = \"2025\"; taxes = ( { code = \"vat\"; } );"
    " terms = ( { from = \"2025\"; home = \"1/3\"; } );";

/* The approvals of 2025 as the year's document shows them, malloc'd. */
static char *
approvals_of(struct settle *s)
{
	char err[512], *out;
	json_t *y;
	int code;

	assert_non_null(y = settle_year_json(s, "yr", "2025", &code, err,
	    sizeof(err)));
	assert_non_null(out = json_dumps(json_object_get(y, "approvals"),
	    JSON_SORT_KEYS));
	json_decref(y);
	return out;
}

/*
 * A year's first approval allocates its room: each allocation of it
 * failed in turn is a 503 that leaves the year unapproved, and the
 * approval then goes in as in an engine that never failed.
 */
static void
approval_allocation_fails(void **state)
{
	struct settle *s = settle_new();
	struct settle_result *res;
	struct rules *r;
	char err[512], body[160], *none, *want = NULL, *got;
	const char *rep = "{\"report_id\":\"a\",\"agreement\":\"yr\","
	    "\"period\":\"2025\",\"role\":\"host\",\"taxes\":{\"vat\":\"3.00\"}}";
	json_t *y;
	int code;

	(void)state;
	assert_non_null(s);
	assert_non_null(r = rules_parse(YRULES, "yr.conf", err, sizeof(err)));
	assert_int_equal(settle_install(s, r, err, sizeof(err)), 0);
	assert_int_equal(settle_submit(s, rep, strlen(rep), NULL, 0,
	    "2026-01-05T00:00:00Z", NULL, &res, err, sizeof(err)),
	    SETTLE_ACCEPTED);
	settle_result_free(res);
	assert_non_null(y = settle_year_json(s, "yr", "2025", &code, err,
	    sizeof(err)));
	snprintf(body, sizeof(body), "{\"statement\":\"%s\",\"role\":\"host\"}",
	    json_string_value(json_object_get(y, "sha256")));
	json_decref(y);
	none = approvals_of(s);
	for (long n = 0;; n++) {
		budget = n;
		res = NULL;
		code = settle_approve(s, "yr", "2025", body, strlen(body), NULL,
		    0, "2026-02-01T00:00:00Z", NULL, 7, &res, err, sizeof(err));
		budget = -1;
		if (code == SETTLE_ACCEPTED)
			break;
		if (code != SETTLE_UNAVAILABLE)
			fail_msg("allocation %ld: code %d, not 503: %s", n, code,
			    err);
		assert_null(res);
		got = approvals_of(s);
		assert_string_equal(got, none);
		free(got);
		assert_true(n < 1000);
	}
	want = approvals_of(s);
	assert_string_not_equal(want, none);
	assert_non_null(strstr(want, "\"index\": 7"));
	assert_int_equal(settle_result_count(res), 1);
	settle_result_free(res);
	free(want);
	free(none);
	settle_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_allocation_fails),
		cmocka_unit_test(approval_allocation_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
