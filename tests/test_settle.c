/*
 * test_settle: the engine through its API: every refusal class, idempotent
 * resubmission, authorization, statuses, period queries, rule replacement,
 * replay from report entries, and properties over thousands of generated
 * agreements and report runs (deterministic PRNG).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/canon.h"
#include "shanhai/money.h"
#include "shanhai/pagefile.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

/* Fewer generated runs under memcheck, which is some 50 times slower. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#define RUNS(n) (RUNNING_ON_VALGRIND ? (n) / 25 : (n))

static const char KY[] =
    "id = \"ky\"; home = \"330802\"; host = \"330110\";\n"
    "cadence = \"monthly\"; start = \"2026-01\"; end = \"2026-12\";\n"
    "taxes = ( { code = \"vat\"; retain = \"50%\"; } );\n"
    "statistics = ( { code = \"gdp\"; mode = \"both\"; } );\n"
    "beneficiaries = ( { id = \"v1\"; weight = 2; }, { id = \"v2\"; weight = 1; } );\n"
    "terms = ( { from = \"2026-01\"; home = \"60%\"; floor = \"1000.00\"; } );\n";

static const char CF[] =
    "id = \"cf\"; home = \"331181\"; host = \"330109\";\n"
    "cadence = \"quarterly\"; start = \"2026-Q1\"; confirm = true;\n"
    "taxes = ( { code = \"vat\"; } );\n"
    "terms = ( { from = \"2026-Q1\"; home = \"1/2\"; } );\n";

static struct settle *
engine(const char *const *texts, const char *const *names, size_t n)
{
	struct settle *s = settle_new();
	char err[512];

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		struct rules *r = rules_parse(texts[i], names[i], err,
		    sizeof(err));

		if (r == NULL)
			fail_msg("%s", err);
		assert_int_equal(settle_install(s, r, err, sizeof(err)), 0);
	}
	return s;
}

static struct settle *
two(void)
{
	const char *t[] = { KY, CF }, *n[] = { "ky.conf", "cf.conf" };

	return engine(t, n, 2);
}

/* Submits text; returns the code, the result in *res (may be NULL). */
static int
sub(struct settle *s, const char *text, struct settle_result **res,
    char *err, size_t errlen)
{
	struct settle_result *r = NULL;
	int rc = settle_submit(s, text, strlen(text), NULL, 0, NULL, NULL, &r,
	    err, errlen);

	if (res != NULL)
		*res = r;
	else
		settle_result_free(r);
	return rc;
}

static void
refusal_classes(void **state)
{
	struct settle *s = two();
	char err[512], *big;
	static const struct { const char *text; int code; const char *msg; } t[] = {
		{ "nope", SETTLE_BADJSON, "not JSON" },
		{ "\"str\"", SETTLE_BADJSON, "not JSON" },
		{ "[]", SETTLE_BADJSON, "not a JSON object" },
		{ "{\"a\":1,\"a\":1}", SETTLE_BADJSON, "duplicate" },
		{ "{\"report_id\":\"a\",\"x\":1}", SETTLE_INVALID, "x: unknown field" },
		{ "{\"report_id\":\"a\",\"agreement\":\"ky\",\"period\":\"2026-01\","
		  "\"role\":\"host\"}", SETTLE_INVALID, "taxes: missing" },
		{ "{\"report_id\":\"a\",\"agreement\":\"ky\",\"period\":\"2026-01\","
		  "\"role\":\"host\",\"taxes\":{\"vat\":1}}", SETTLE_INVALID,
		  "taxes.vat: JSON numbers are refused" },
		{ "{\"report_id\":\"a\",\"agreement\":\"ky\",\"period\":\"2026-01\","
		  "\"role\":\"host\",\"taxes\":{\"vat\":\"a\\u0000\"}}", SETTLE_BADJSON,
		  "not JSON" },
		{ "{\"report_id\":\"a\",\"agreement\":\"cf\",\"period\":\"2026-01\","
		  "\"role\":\"host\",\"taxes\":{}}", SETTLE_INVALID,
		  "period: \"2026-01\" is not a quarterly period" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(sub(s, t[i].text, NULL, err, sizeof(err)),
		    t[i].code);
		if (strstr(err, t[i].msg) == NULL)
			fail_msg("%s: got \"%s\"", t[i].text, err);
	}
	big = malloc(SETTLE_REPORT_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', SETTLE_REPORT_MAX + 1);
	big[0] = '{';
	big[SETTLE_REPORT_MAX] = '}';
	big[SETTLE_REPORT_MAX + 1] = '\0';
	assert_int_equal(sub(s, big, NULL, err, sizeof(err)), SETTLE_TOOLARGE);
	free(big);
	settle_free(s);
}

static void
authorization_and_duplicates(void **state)
{
	struct settle *s = two();
	struct settle_result *res = NULL;
	char err[512], hash[CANON_HASH_BUFSZ];
	const char *rep = "{\"report_id\":\"h1\",\"agreement\":\"cf\","
	    "\"period\":\"2026-Q1\",\"role\":\"host\",\"taxes\":{\"vat\":\"10\"}}";
	const char *home = "{\"report_id\":\"m1\",\"agreement\":\"cf\","
	    "\"period\":\"2026-Q1\",\"role\":\"home\",\"taxes\":{\"vat\":\"10.00\"}}";
	const char *hostside[] = { "330109" }, *homeside[] = { "331181", "1" };
	const char *bad = "{\"report_id\":\"zz\",\"agreement\":\"cf\","
	    "\"period\":\"2026-Q1\",\"role\":\"host\",\"taxes\":{\"vat\":1}}";

	(void)state;
	/* The home bureau may not file the host's report. */
	assert_int_equal(settle_submit(s, rep, strlen(rep), homeside, 2, NULL,
	    NULL, &res, err, sizeof(err)), SETTLE_FORBIDDEN);
	assert_null(res);
	assert_non_null(strstr(err, "330109"));
	/* Invalid fields are reported before authorization. */
	assert_int_equal(settle_submit(s, bad, strlen(bad), homeside, 2, NULL,
	    NULL, &res, err, sizeof(err)), SETTLE_INVALID);
	assert_int_equal(settle_submit(s, rep, strlen(rep), hostside, 1,
	    "2026-11-27T10:00:00Z", "ab12", &res, err, sizeof(err)),
	    SETTLE_ACCEPTED);
	assert_int_equal(settle_result_count(res), 1);
	assert_string_equal(settle_status_name(settle_result_status(res)),
	    "waiting");
	assert_non_null(strstr(settle_result_entry(res, 0, NULL),
	    ",\"submitter\":\"ab12\",\"time\":\"2026-11-27T10:00:00Z\","
	    "\"type\":\"report\"}"));
	snprintf(hash, sizeof(hash), "%s", settle_result_hash(res));
	settle_result_free(res);
	/* Resubmission: same bytes or the same canonical form. */
	assert_int_equal(sub(s, rep, &res, err, sizeof(err)), SETTLE_DUPLICATE);
	assert_int_equal(settle_result_count(res), 0);
	assert_string_equal(settle_result_hash(res), hash);
	settle_result_free(res);
	assert_int_equal(sub(s, "{ \"taxes\":{\"vat\":\"10\"}, \"role\":\"host\","
	    "\"period\":\"2026-Q1\",\"agreement\":\"cf\",\"report_id\":\"h1\" }",
	    NULL, err, sizeof(err)), SETTLE_DUPLICATE);
	assert_int_equal(sub(s, "{\"report_id\":\"h1\",\"agreement\":\"cf\","
	    "\"period\":\"2026-Q1\",\"role\":\"host\",\"taxes\":{\"vat\":\"10.00\"}}",
	    NULL, err, sizeof(err)), SETTLE_CONFLICT);
	/* Confirmation by the home side settles, with time on every entry. */
	assert_int_equal(settle_submit(s, home, strlen(home), homeside, 2,
	    "2026-11-27T10:00:01Z", NULL, &res, err, sizeof(err)),
	    SETTLE_ACCEPTED);
	assert_int_equal(settle_result_count(res), 2);
	assert_int_equal(settle_result_status(res), SETTLE_SETTLED);
	for (size_t i = 0; i < 2; i++)
		assert_non_null(strstr(settle_result_entry(res, i, NULL),
		    "\"time\":\"2026-11-27T10:00:01Z\""));
	assert_string_equal(json_string_value(json_object_get(
	    settle_result_get0_json(res, 1), "home")), "5.00");
	settle_result_free(res);
	assert_int_equal(settle_period_status(s, "cf", "2026-Q1"), SETTLE_SETTLED);
	assert_int_equal(settle_period_status(s, "cf", "2026-Q2"), SETTLE_NONE);
	/* Time and submitter go into entries raw, so they are checked. */
	assert_int_equal(settle_submit(s, rep, strlen(rep), NULL, 0,
	    "10:00\"", NULL, &res, err, sizeof(err)), SETTLE_INVALID);
	settle_free(s);
}

static void
disputes_and_queries(void **state)
{
	struct settle *s = two();
	struct settle_result *res;
	char err[512];
	json_t *q;

	(void)state;
	assert_int_equal(sub(s, "{\"report_id\":\"h2\",\"agreement\":\"cf\","
	    "\"period\":\"2026-Q2\",\"role\":\"host\",\"taxes\":{\"vat\":\"10\"}}",
	    NULL, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(sub(s, "{\"report_id\":\"m2\",\"agreement\":\"cf\","
	    "\"period\":\"2026-Q2\",\"role\":\"home\",\"taxes\":{\"vat\":\"11\"}}",
	    &res, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(settle_result_count(res), 2);
	assert_string_equal(json_string_value(json_object_get(
	    settle_result_get0_json(res, 1), "type")), "dispute");
	assert_int_equal(settle_result_status(res), SETTLE_DISPUTED);
	settle_result_free(res);
	q = settle_period_json(s, "cf", "2026-Q2", err, sizeof(err));
	assert_non_null(q);
	assert_string_equal(json_string_value(json_object_get(q, "status")),
	    "disputed");
	assert_true(json_is_null(json_object_get(q, "figures")));
	assert_int_equal(json_array_size(json_object_get(q, "reports")), 0);
	json_decref(q);
	assert_null(settle_period_json(s, "cf", "2026-05", err, sizeof(err)));
	assert_null(settle_period_json(s, "nope", "2026-Q1", err, sizeof(err)));
	assert_null(settle_period_json(s, "cf", "2020-Q1", err, sizeof(err)));

	/* ky: a settled month's figures in force after a correction. */
	assert_int_equal(sub(s, "{\"report_id\":\"k1\",\"agreement\":\"ky\","
	    "\"period\":\"2026-01\",\"role\":\"host\",\"taxes\":{\"vat\":\"100\"},"
	    "\"statistics\":{\"gdp\":\"7\"}}", NULL, err, sizeof(err)),
	    SETTLE_ACCEPTED);
	assert_int_equal(sub(s, "{\"report_id\":\"k1b\",\"agreement\":\"ky\","
	    "\"period\":\"2026-01\",\"role\":\"host\",\"taxes\":{\"vat\":\"300\"},"
	    "\"supersedes\":\"k1\"}", &res, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(settle_result_count(res), 2);
	settle_result_free(res);
	q = settle_period_json(s, "ky", "2026-01", err, sizeof(err));
	assert_non_null(q);
	{
		json_t *f = json_object_get(q, "figures");

		assert_string_equal(json_string_value(json_object_get(f, "base")),
		    "150.00");
		assert_string_equal(json_string_value(json_object_get(f, "home")),
		    "90.00");
		assert_string_equal(json_string_value(json_object_get(
		    json_object_get(f, "beneficiaries"), "v1")), "60.00");
		assert_string_equal(json_string_value(json_object_get(
		    json_object_get(json_object_get(f, "statistics"), "gdp"),
		    "host")), "0.00");
		assert_string_equal(json_string_value(json_object_get(q,
		    "term")), "2026-01");
		assert_int_equal(json_array_size(json_object_get(q, "reports")), 1);
	}
	json_decref(q);
	settle_free(s);
}

static int
install_text(struct settle *s, const char *text, const char *name, char *err,
    size_t errlen)
{
	struct rules *r = rules_parse(text, name, err, errlen);

	if (r == NULL)
		fail_msg("%s", err);
	if (settle_install(s, r, err, errlen) == -1) {
		rules_free(r);
		return -1;
	}
	return 0;
}

static void
replacement(void **state)
{
	static const char base[] =
	    "id = \"rp\"; home = \"330802\"; host = \"330110\";\n"
	    "cadence = \"monthly\"; start = \"2026-01\";\n"
	    "taxes = ( { code = \"vat\"; } );\n"
	    "terms = ( { from = \"2026-01\"; home = \"50%\"; } );\n";
	const char *t[] = { base }, *n[] = { "rp.conf" };
	struct settle *s = engine(t, n, 1);
	char err[512];

	(void)state;
	/* Nothing reported yet: anything may change, sizes included. */
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330803\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\";"
	    "taxes = ( { code = \"vat\"; }, { code = \"a\"; }, { code = \"b\"; },"
	    "{ code = \"c\"; }, { code = \"d\"; } );"
	    "statistics = ( { code = \"s\"; }, { code = \"t\"; } );"
	    "beneficiaries = ( { id = \"x\"; weight = 1; } );"
	    "terms = ( { from = \"2026-01\"; home = \"40%\"; } );", "rp.conf", err,
	    sizeof(err)), 0);
	{
		struct settle_result *res;
		const char *one = "{\"report_id\":\"z\",\"agreement\":\"rp\","
		    "\"period\":\"2026-01\",\"role\":\"host\",\"taxes\":{"
		    "\"vat\":\"1\",\"a\":\"1\",\"b\":\"1\",\"c\":\"1\","
		    "\"d\":\"1.01\"},\"statistics\":{\"s\":\"1\",\"t\":\"2\"}}";
		struct settle *s2 = settle_new();

		/* Grown from the small agreement before any report. */
		assert_int_equal(install_text(s2, base, "rp.conf", err,
		    sizeof(err)), 0);
		assert_int_equal(install_text(s2, rules_get0_text(
		    settle_get0_rules(s, "rp")), "rp.conf", err, sizeof(err)), 0);
		assert_int_equal(sub(s2, one, &res, err, sizeof(err)),
		    SETTLE_ACCEPTED);
		assert_non_null(strstr(settle_result_entry(res, 1, NULL),
		    "\"base\":\"5.01\""));
		settle_result_free(res);
		settle_free(s2);
	}
	assert_int_equal(install_text(s, base, "rp.conf", err, sizeof(err)), 0);
	assert_int_equal(sub(s, "{\"report_id\":\"a\",\"agreement\":\"rp\","
	    "\"period\":\"2026-03\",\"role\":\"host\",\"taxes\":{\"vat\":\"10\"}}",
	    NULL, err, sizeof(err)), SETTLE_ACCEPTED);
	/* Title and comments may change. */
	assert_int_equal(install_text(s, "# new\ntitle = \"T\";\n" "id = \"rp\"; "
	    "home = \"330802\"; host = \"330110\"; cadence = \"monthly\"; "
	    "start = \"2026-01\"; taxes = ( { code = \"vat\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"1/2\"; } );", "rp.conf",
	    err, sizeof(err)), 0);
	assert_string_equal(rules_get0_title(settle_get0_rules(s, "rp")), "T");
	/* Reports accepted: the codes of taxes stay as they are. */
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; }, { code = \"cit\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"50%\"; } );", "rp.conf", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "\"taxes\" changed"));
	/*
	 * Nothing settled yet: the retention of a waiting period may change,
	 * and its base follows (SPEC §4: only the settled past is fixed).
	 */
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; retain = \"99%\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"50%\"; } );", "rp.conf", err,
	    sizeof(err)), 0);

	/* 2026-03 waits for January: the term may still change. */
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"70%\"; } );", "rp.conf", err,
	    sizeof(err)), 0);
	assert_int_equal(sub(s, "{\"report_id\":\"b\",\"agreement\":\"rp\","
	    "\"period\":\"2026-01\",\"role\":\"host\",\"taxes\":{\"vat\":\"10\"}}",
	    NULL, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(settle_period_status(s, "rp", "2026-01"), SETTLE_SETTLED);
	/* January settled: its term may not change, nor its year's plan. */
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"50%\"; } );", "rp.conf", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "term 2026-01 changed or removed, but its "
	    "period 2026-01 already settled"));
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"70%\"; },"
	    "{ from = \"2026-06\"; home = \"10%\"; } );", "rp.conf", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "planned"));
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "end = \"2026-06\"; taxes = ( { code = \"vat\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"70%\"; } );", "rp.conf", err,
	    sizeof(err)), -1);
	/* A new term from next year, and an end after it, are fine. */
	assert_int_equal(install_text(s, "id = \"rp\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "end = \"2030-12\"; taxes = ( { code = \"vat\"; } );"
	    "terms = ( { from = \"2026-01\"; home = \"7/10\"; },"
	    "{ from = \"2027-01\"; home = \"10%\"; } );", "rp.conf", err,
	    sizeof(err)), 0);
	assert_int_equal(rules_term_count(settle_get0_rules(s, "rp")), 2);
	/* Removal is refused once a period settled. */
	assert_int_equal(settle_remove(s, "rp", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "term 2026-01"));
	settle_free(s);
}

/*
 * SPEC v2: a term's retention applies to its periods; a reload may change
 * the retention of periods that did not settle (their bases follow) but
 * not of one that did, and the refusal names the term and the tax.
 */
static void
term_retention(void **state)
{
	const char *v1 = "id = \"tr\"; home = \"330802\"; host = \"330110\"; "
	    "cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; retain = \"25%\"; }, "
	    "{ code = \"cit\"; retain = \"40%\"; } ); "
	    "statistics = ( { code = \"gdp\"; } ); "
	    "terms = ( { from = \"2026-01\"; home = \"1/2\"; } );";
	const char *v2 = "id = \"tr\"; home = \"330802\"; host = \"330110\"; "
	    "cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; retain = \"25%\"; }, "
	    "{ code = \"cit\"; retain = \"40%\"; } ); "
	    "statistics = ( { code = \"gdp\"; } ); "
	    "terms = ( { from = \"2026-01\"; home = \"1/2\"; }, "
	    "{ from = \"2026-03\"; home = \"1/2\"; retain = { vat = \"50%\"; }; "
	    "statistics = ( { code = \"gdp\"; mode = \"both\"; } ); } );";
	struct settle *s = settle_new();
	struct settle_result *res;
	char err[512];

	(void)state;
	assert_int_equal(install_text(s, v1, "tr.conf", err, sizeof(err)), 0);
	/* March waits for January and February, under 25%. */
	assert_int_equal(sub(s, "{\"report_id\":\"m\",\"agreement\":\"tr\","
	    "\"period\":\"2026-03\",\"role\":\"host\",\"taxes\":{"
	    "\"vat\":\"100.00\",\"cit\":\"10.00\"},\"statistics\":{"
	    "\"gdp\":\"7.00\"}}", NULL, err, sizeof(err)), SETTLE_ACCEPTED);
	/* A term from March retains half of VAT and counts gdp for both. */
	assert_int_equal(install_text(s, v2, "tr.conf", err, sizeof(err)), 0);
	assert_int_equal(sub(s, "{\"report_id\":\"j\",\"agreement\":\"tr\","
	    "\"period\":\"2026-01\",\"role\":\"host\",\"taxes\":{"
	    "\"vat\":\"100.00\"}}", NULL, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(sub(s, "{\"report_id\":\"f\",\"agreement\":"
	    "\"tr\",\"period\":\"2026-02\",\"role\":\"host\",\"taxes\":{"
	    "\"vat\":\"100.00\"}}", &res, err, sizeof(err)), SETTLE_ACCEPTED);
	/* February under 25%; March, in a segment of its own, settles with
	 * the next report of that segment. */
	assert_int_equal(settle_result_count(res), 2);
	assert_non_null(strstr(settle_result_entry(res, 1, NULL),
	    "\"base\":\"25.00\""));
	settle_result_free(res);
	assert_int_equal(sub(s, "{\"report_id\":\"a\",\"agreement\":"
	    "\"tr\",\"period\":\"2026-04\",\"role\":\"host\",\"taxes\":{"
	    "}}", &res, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(settle_result_count(res), 3);
	assert_non_null(strstr(settle_result_entry(res, 1, NULL),
	    "\"base\":\"54.00\""));
	assert_non_null(strstr(settle_result_entry(res, 1, NULL),
	    "\"base\":\"54.00\""));
	assert_non_null(strstr(settle_result_entry(res, 1, NULL),
	    "\"gdp\":{\"home\":\"7.00\",\"host\":\"7.00\"}"));
	assert_non_null(strstr(settle_result_entry(res, 1, NULL),
	    "\"term\":\"2026-03\""));
	settle_result_free(res);
	/* Now March settled: its retention and attribution are fixed. */
	assert_int_equal(install_text(s, v1, "tr.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "tr: term 2026-01: the change alters the "
	    "periods planned for the segment of 2026-01, which already settled");
	{
		char v3[2048];

		snprintf(v3, sizeof(v3), "%s", v2);
		memcpy(strstr(v3, "vat = \"50%\""), "vat = \"51%\"", 11);
		assert_int_equal(install_text(s, v3, "tr.conf", err,
		    sizeof(err)), -1);
		assert_string_equal(err, "tr: term 2026-03: the retention of tax "
		    "vat changed (50% to 51%), but its period 2026-03 already "
		    "settled");
		snprintf(v3, sizeof(v3), "%s", v2);
		memcpy(strstr(v3, "mode = \"both\""), "mode = \"home\"", 13);
		assert_int_equal(install_text(s, v3, "tr.conf", err,
		    sizeof(err)), -1);
		assert_string_equal(err, "tr: term 2026-03: the attribution of "
		    "statistic gdp changed, but its period 2026-03 already "
		    "settled");
		/* The agreement's own retention is in force in January. */
		snprintf(v3, sizeof(v3), "%s", v2);
		memcpy(strstr(v3, "retain = \"40%\""), "retain = \"41%\"", 14);
		assert_int_equal(install_text(s, v3, "tr.conf", err,
		    sizeof(err)), -1);
		assert_string_equal(err, "tr: term 2026-01: the retention of tax "
		    "cit changed (40% to 41%), but its period 2026-01 already "
		    "settled");
	}
	settle_free(s);
}

static void
withdraw_and_return(void **state)
{
	const char *t[] = { KY }, *n[] = { "ky.conf" };
	struct settle *s = engine(t, n, 1);
	char err[512];
	const char *rep = "{\"report_id\":\"w\",\"agreement\":\"ky\","
	    "\"period\":\"2026-03\",\"role\":\"host\",\"taxes\":{\"vat\":\"1\"}}";

	(void)state;
	assert_int_equal(sub(s, rep, NULL, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(settle_remove(s, "ky", err, sizeof(err)), 0);
	assert_int_equal(settle_rules_count(s), 0);
	assert_null(settle_get0_rules(s, "ky"));
	assert_int_equal(sub(s, rep, NULL, err, sizeof(err)), SETTLE_INVALID);
	assert_int_equal(install_text(s, KY, "ky.conf", err, sizeof(err)), 0);
	assert_int_equal(settle_rules_count(s), 1);
	assert_string_equal(rules_get0_id(settle_get0_rules_at(s, 0)), "ky");
	/* The state came back with it. */
	assert_int_equal(sub(s, rep, NULL, err, sizeof(err)), SETTLE_DUPLICATE);
	settle_free(s);
}

/* --- generated inputs --------------------------------------------------- */

struct rng {
	uint64_t x;
};

static uint64_t
rnext(struct rng *g)
{
	g->x ^= g->x >> 12;
	g->x ^= g->x << 25;
	g->x ^= g->x >> 27;
	return g->x * 0x2545F4914F6CDD1DULL;
}

static int64_t
rint_(struct rng *g, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnext(g) % (uint64_t)(hi - lo + 1));
}

struct text {
	char	buf[16384];
	size_t	len;
};

static void __attribute__((format(printf, 2, 3)))
tadd(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(t->buf) - t->len);
	t->len += (size_t)n;
}

static const char *const RATIOS[] = { "100%", "50%", "40%", "60%", "0%",
    "33.333333%", "12.5%", "1/3", "2/7", "999999998/999999999", "0/5",
    "0.000001%" };
#define NRATIOS (sizeof(RATIOS) / sizeof(RATIOS[0]))

static const char *
ratio(struct rng *g)
{
	return RATIOS[rnext(g) % NRATIOS];
}

static void
amount(struct rng *g, char *buf, int64_t lo, int64_t hi)
{
	money_format(rint_(g, lo, hi), buf);
}

struct gen_ag {
	char		 id[16];
	int		 quarterly;
	int		 confirm;
	int		 ntax, nstat;
	const char	*tax[3], *stat[2];
	int32_t		 first, last;	/* periods reported */
	struct rules	*r;
};

static void
gen_agreement(struct rng *g, struct gen_ag *ga, int n, int confirm,
    struct text *t)
{
	static const char *const taxes[] = { "vat", "cit", "pit" };
	static const char *const stats[] = { "output", "gdp" };
	static const char *const modes[] = { "host", "home", "both", "split" };
	char pb[RULES_PERIOD_BUFSZ], a1[MONEY_BUFSZ], a2[MONEY_BUFSZ];
	enum rules_cadence c;
	int per, nterms, nben;
	int32_t start, from;
	char err[512];

	memset(ga, 0, sizeof(*ga));
	t->len = 0;
	snprintf(ga->id, sizeof(ga->id), "ag-%d", n);
	ga->quarterly = rnext(g) & 1;
	ga->confirm = confirm;
	c = ga->quarterly ? RULES_QUARTERLY : RULES_MONTHLY;
	per = ga->quarterly ? 4 : 12;
	start = 2024 * per + (int32_t)rint_(g, 0, per - 1);
	tadd(t, "id = \"%s\"; home = \"33%04d\"; host = \"34%04d\";\n", ga->id,
	    n, n);
	tadd(t, "cadence = \"%s\"; start = \"%s\"; confirm = %s;\n",
	    ga->quarterly ? "quarterly" : "monthly",
	    rules_period_format(c, start, pb), confirm ? "true" : "false");
	ga->first = start;
	ga->last = start + 2 * per - 1;
	if (rint_(g, 0, 9) < 3) {
		ga->last = start + (int32_t)rint_(g, 0, 2 * per - 1);
		tadd(t, "end = \"%s\";\n", rules_period_format(c, ga->last, pb));
	}
	ga->ntax = (int)rint_(g, 1, 3);
	tadd(t, "taxes = (");
	for (int i = 0; i < ga->ntax; i++) {
		ga->tax[i] = taxes[i];
		tadd(t, "%s { code = \"%s\"; retain = \"%s\"; }", i ? "," : "",
		    taxes[i], ratio(g));
	}
	tadd(t, " );\n");
	ga->nstat = (int)rint_(g, 0, 2);
	if (ga->nstat > 0) {
		tadd(t, "statistics = (");
		for (int i = 0; i < ga->nstat; i++) {
			int m = (int)rint_(g, 0, 3);

			ga->stat[i] = stats[i];
			tadd(t, "%s { code = \"%s\"; mode = \"%s\";", i ? "," : "",
			    stats[i], modes[m]);
			if (m == 3)
				tadd(t, " home = \"%s\";", ratio(g));
			tadd(t, " }");
		}
		tadd(t, " );\n");
	}
	nben = (int)rint_(g, 0, 3);
	if (nben > 0) {
		tadd(t, "beneficiaries = (");
		for (int i = 0; i < nben; i++)
			tadd(t, "%s { id = \"b%d\"; weight = %d; }", i ? "," : "",
			    i, (int)rint_(g, 1, 9));
		tadd(t, " );\n");
	}
	nterms = (int)rint_(g, 1, 3);
	from = start;
	tadd(t, "terms = (");
	for (int i = 0; i < nterms; i++) {
		int kind = (int)rint_(g, 0, 2);

		tadd(t, "%s { from = \"%s\"; ", i ? "," : "",
		    rules_period_format(c, from, pb));
		if (kind == 0) {
			amount(g, a1, 0, INT64_C(100000000000));
			if (rnext(g) & 1)
				tadd(t, "fixed = { annual = \"%s\"; };", a1);
			else
				tadd(t, "fixed = { principal = \"%s\"; rate = "
				    "\"%s\"; };", a1, ratio(g));
		} else {
			if (kind == 1)
				tadd(t, "home = \"%s\";", ratio(g));
			else {
				int64_t upto = 0;
				int nb = (int)rint_(g, 1, 3);

				tadd(t, "bands = (");
				for (int b = 0; b < nb; b++) {
					upto += rint_(g, 1, INT64_C(1000000000));
					tadd(t, "{ upto = \"%s\"; home = \"%s\"; },",
					    money_format(upto, a1), ratio(g));
				}
				tadd(t, "{ home = \"%s\"; } );", ratio(g));
			}
			{
				int64_t fl = rint_(g, 0, INT64_C(1000000000));
				int64_t cp = rint_(g, 0, INT64_C(2000000000));
				int hf = rint_(g, 0, 9) < 4, hc = rint_(g, 0, 9) < 4;

				if (hf && hc && fl > cp) {
					int64_t x = fl;
					fl = cp;
					cp = x;
				}
				if (hf)
					tadd(t, " floor = \"%s\";",
					    money_format(fl, a2));
				if (hc)
					tadd(t, " cap = \"%s\";",
					    money_format(cp, a2));
			}
		}
		tadd(t, " }");
		from += (int32_t)rint_(g, 1, per + 2);
	}
	tadd(t, " );\n");
	{
		char name[32];

		snprintf(name, sizeof(name), "%s.conf", ga->id);
		ga->r = rules_parse(t->buf, name, err, sizeof(err));
		if (ga->r == NULL)
			fail_msg("generated agreement refused: %s\n%s", err,
			    t->buf);
	}
}

/* One report's JSON text into out. */
static void
gen_report(struct rng *g, const struct gen_ag *ga, int32_t p, const char *role,
    const char *id, const char *supersedes, int big, struct text *out)
{
	char pb[RULES_PERIOD_BUFSZ], a[MONEY_BUFSZ];
	/*
	 * Big: near the largest amount, but so that three taxes over twelve
	 * months keep the year's totals amounts (beyond, a report is refused:
	 * tests/cases/sums-at-the-edge).
	 */
	int64_t lim = big ? MONEY_AMOUNT_MAX / 64 : INT64_C(10000000000);
	int first = 1;

	out->len = 0;
	tadd(out, "{\"report_id\":\"%s\",\"agreement\":\"%s\",\"period\":\"%s\","
	    "\"role\":\"%s\",\"taxes\":{", id, ga->id, rules_period_format(
	    ga->quarterly ? RULES_QUARTERLY : RULES_MONTHLY, p, pb), role);
	for (int i = 0; i < ga->ntax; i++) {
		if (rint_(g, 0, 9) == 0)
			continue;
		amount(g, a, -lim / 20, lim);
		tadd(out, "%s\"%s\":\"%s\"", first ? "" : ",", ga->tax[i], a);
		first = 0;
	}
	tadd(out, "}");
	if (rint_(g, 0, 9) < 3) {
		amount(g, a, -100000, INT64_C(1000000000));
		tadd(out, ",\"deductions\":\"%s\"", a);
	}
	if (ga->nstat > 0) {
		tadd(out, ",\"statistics\":{");
		for (int i = 0; i < ga->nstat; i++) {
			amount(g, a, -1000, INT64_C(100000000000));
			tadd(out, "%s\"%s\":\"%s\"", i ? "," : "", ga->stat[i], a);
		}
		tadd(out, "}");
	}
	if (supersedes != NULL)
		tadd(out, ",\"supersedes\":\"%s\"", supersedes);
	tadd(out, "}");
}

static int64_t
jfen(const json_t *v)
{
	/* Output amounts may exceed the 13 digits of input amounts. */
	const char *str = json_string_value(v), *dot;
	int64_t f = 0;
	int neg;

	assert_non_null(str);
	neg = str[0] == '-';
	dot = strchr(str, '.');
	assert_non_null(dot);
	assert_int_equal(strlen(dot), 3);
	for (const char *c = str + neg; *c != '\0'; c++)
		if (*c != '.')
			f = f * 10 + (*c - '0');
	return neg ? -f : f;
}

/* Every settlement and adjustment: home + host = base, Σ beneficiaries = home. */
static void
check_entry(const json_t *e)
{
	const char *type = json_string_value(json_object_get(e, "type"));
	const json_t *b = json_object_get(e, "beneficiaries");
	const char *k;
	json_t *v;
	int64_t sum = 0;

	if (type != NULL && strcmp(type, "settlement") != 0 &&
	    strcmp(type, "adjustment") != 0)
		return;
	assert_true(jfen(json_object_get(e, "home")) +
	    jfen(json_object_get(e, "host")) == jfen(json_object_get(e, "base")));
	if (json_object_size(b) == 0)
		return;
	json_object_foreach((json_t *)b, k, v)
		sum += jfen(v);
	assert_true(sum == jfen(json_object_get(e, "home")));
}

/* acc (period -> figures) += the figures or deltas of entry e. */
static void
add_fig(json_t *acc, const json_t *e)
{
	const char *per = json_string_value(json_object_get(e, "period"));
	json_t *f = json_object_get(acc, per), *v;
	const char *k;
	char buf[MONEY_BUFSZ];

	if (f == NULL) {
		f = json_pack("{s:s,s:s,s:s,s:s,s:{},s:{}}", "base", "0.00",
		    "home", "0.00", "host", "0.00", "floor_topup", "0.00",
		    "beneficiaries", "statistics");
		json_object_set_new(acc, per, f);
	}
	json_object_foreach((json_t *)e, k, v) {
		if (json_is_object(v)) {
			json_t *dst = json_object_get(f, k);
			const char *k2;
			json_t *v2;

			if (dst == NULL)
				continue;
			json_object_foreach(v, k2, v2) {
				if (json_is_object(v2)) {
					json_t *d2 = json_object_get(dst, k2);

					if (d2 == NULL) {
						d2 = json_pack("{s:s,s:s}", "home",
						    "0.00", "host", "0.00");
						json_object_set_new(dst, k2, d2);
					}
					for (int s = 0; s < 2; s++) {
						const char *side = s ? "host" : "home";

						json_object_set_new(d2, side,
						    json_string(money_format(
						    jfen(json_object_get(d2, side)) +
						    jfen(json_object_get(v2, side)),
						    buf)));
					}
				} else {
					json_t *old = json_object_get(dst, k2);

					json_object_set_new(dst, k2, json_string(
					    money_format((old ? jfen(old) : 0) +
					    jfen(v2), buf)));
				}
			}
		} else if (json_object_get(f, k) != NULL) {
			json_object_set_new(f, k, json_string(money_format(
			    jfen(json_object_get(f, k)) + jfen(v), buf)));
		}
	}
}

/* Submits text, checks properties of its entries, records them. */
static void
feed(struct settle *s, const char *text, json_t *acc, json_t *log)
{
	struct settle_result *res;
	char err[512];
	int rc = sub(s, text, &res, err, sizeof(err));

	if (rc < 0)
		fail_msg("refused: %s\n%s", err, text);
	for (size_t i = 0; i < settle_result_count(res); i++) {
		const json_t *e = settle_result_get0_json(res, i);

		assert_non_null(e);
		check_entry(e);
		if (acc != NULL && json_object_get(e, "base") != NULL)
			add_fig(acc, e);
		if (log != NULL)
			json_array_append_new(log, json_string(
			    settle_result_entry(res, i, NULL)));
	}
	settle_result_free(res);
}

static struct settle *
engine_of(struct rules *r)
{
	struct settle *s = settle_new();
	char err[512], *text = strdup(rules_get0_text(r)), name[80];
	struct rules *copy;

	snprintf(name, sizeof(name), "%s.conf", rules_get0_id(r));
	copy = rules_parse(text, name, err, sizeof(err));
	assert_non_null(copy);
	assert_int_equal(settle_install(s, copy, err, sizeof(err)), 0);
	free(text);
	return s;
}

/*
 * Corrections end with the totals of settling the final figures directly;
 * the figures in force equal settlement + adjustments; replaying the report
 * entries regenerates the same entries.
 */
static void
prop_corrections(void **state)
{
	struct rng g = { 0x9E3779B97F4A7C15ULL };
	struct text t, rep;
	char perr[256];
	struct pagefile *pf = pagefile_new(getenv("TMPDIR"), perr, sizeof(perr));
	struct settle_pager pg;

	(void)state;
	if (pf == NULL)
		fail_msg("%s", perr);
	/* The replay pages every year out after every report. */
	pagefile_pager(pf, SETTLE_PAGE_ALL, &pg);
	for (int run = 0; run < RUNS(1200); run++) {
		struct gen_ag ga;
		struct settle *s1, *s2, *s3;
		json_t *acc1 = json_object(), *log = json_array();
		int32_t n, order[24];
		char ids[24][16], id[16], pb[RULES_PERIOD_BUFSZ];
		char *final[24];
		int serial = 0, big = run % 7 == 6;

		gen_agreement(&g, &ga, run, 0, &t);
		s1 = engine_of(ga.r);
		s2 = engine_of(ga.r);
		s3 = engine_of(ga.r);
		assert_int_equal(settle_set_pager(s3, &pg), 0);
		n = ga.last - ga.first + 1;
		for (int32_t i = 0; i < n; i++)
			order[i] = i;
		for (int32_t i = n - 1; i > 0; i--) {
			int32_t j = (int32_t)rint_(&g, 0, i), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		memset(final, 0, sizeof(final));
		for (int32_t k = 0; k < n; k++) {
			int32_t i = order[k];

			snprintf(ids[i], sizeof(ids[i]), "r%d", serial++);
			gen_report(&g, &ga, ga.first + i, "host", ids[i], NULL,
			    big, &rep);
			feed(s1, rep.buf, acc1, log);
			free(final[i]);
			final[i] = strdup(rep.buf);
			/* Now and then correct a random earlier period. */
			while (rint_(&g, 0, 9) < 3) {
				int32_t c = order[rint_(&g, 0, k)];

				snprintf(id, sizeof(id), "r%d", serial++);
				gen_report(&g, &ga, ga.first + c, "host", id,
				    ids[c], big, &rep);
				feed(s1, rep.buf, acc1, log);
				memcpy(ids[c], id, sizeof(id));
				free(final[c]);
				final[c] = strdup(rep.buf);
			}
		}
		/* The final figures, in period order, without corrections. */
		for (int32_t i = 0; i < n; i++) {
			char *sup = strstr(final[i], ",\"supersedes\"");

			if (sup != NULL)
				strcpy(sup, "}");
			feed(s2, final[i], NULL, NULL);
			free(final[i]);
		}
		for (int32_t i = 0; i < n; i++) {
			char err[256];
			json_t *q1, *q2;

			rules_period_format(ga.quarterly ? RULES_QUARTERLY :
			    RULES_MONTHLY, ga.first + i, pb);
			q1 = settle_period_json(s1, ga.id, pb, err, sizeof(err));
			q2 = settle_period_json(s2, ga.id, pb, err, sizeof(err));
			assert_non_null(q1);
			assert_non_null(q2);
			assert_string_equal(json_string_value(json_object_get(q1,
			    "status")), "settled");
			if (!json_equal(json_object_get(q1, "figures"),
			    json_object_get(q2, "figures")) ||
			    !json_equal(json_object_get(q1, "figures"),
			    json_object_get(acc1, pb))) {
				char *x = json_dumps(q1, JSON_SORT_KEYS);
				char *y = json_dumps(q2, JSON_SORT_KEYS);
				char *z = json_dumps(json_object_get(acc1, pb),
				    JSON_SORT_KEYS);

				fail_msg("run %d period %s:\n%s\n%s\n%s\n%s", run,
				    pb, x, y, z, t.buf);
			}
			check_entry(json_object_get(q1, "figures")) ;
			json_decref(q1);
			json_decref(q2);
		}
		/* Replay: report entries fed back give the same entries. */
		{
			size_t i = 0, nlog = json_array_size(log);

			while (i < nlog) {
				const char *e = json_string_value(
				    json_array_get(log, i));
				json_t *ej = json_loads(e, 0, NULL), *rj;
				struct settle_result *res;
				char err[256], *c;
				size_t clen;

				assert_non_null(ej);
				rj = json_object_get(ej, "report");
				assert_non_null(rj);
				c = canon_dump(rj, &clen, err, sizeof(err));
				assert_non_null(c);
				assert_int_equal(settle_submit(s3, c, clen, NULL, 0,
				    NULL, NULL, &res, err, sizeof(err)),
				    SETTLE_ACCEPTED);
				for (size_t k = 0; k < settle_result_count(res);
				    k++, i++) {
					assert_true(i < nlog);
					assert_string_equal(settle_result_entry(res,
					    k, NULL), json_string_value(
					    json_array_get(log, i)));
				}
				settle_result_free(res);
				free(c);
				json_decref(ej);
			}
		}
		json_decref(acc1);
		json_decref(log);
		settle_free(s1);
		settle_free(s2);
		settle_free(s3);
		rules_free(ga.r);
	}
	pagefile_free(pf);
}

/* Output per agreement does not depend on how agreements interleave. */
static void
prop_interleaving(void **state)
{
	struct rng g = { 0xD1B54A32D192ED03ULL };
	struct text t, rep;

	(void)state;
	for (int run = 0; run < RUNS(600); run++) {
		struct gen_ag ga[3];
		char *lines[3][64];
		int nl[3] = { 0, 0, 0 }, pos[3] = { 0, 0, 0 };
		json_t *logs[2][3];
		struct settle *s[2];

		for (int a = 0; a < 3; a++) {
			int serial = 0;
			char last[24][16];
			int32_t n;

			gen_agreement(&g, &ga[a], a, rint_(&g, 0, 2) == 0, &t);
			n = ga[a].last - ga[a].first + 1;
			memset(last, 0, sizeof(last));
			for (int k = 0; k < n + 4 && nl[a] < 60; k++) {
				int32_t i = (int32_t)rint_(&g, 0, n - 1);
				char id[16];

				snprintf(id, sizeof(id), "x%d", serial++);
				gen_report(&g, &ga[a], ga[a].first + i, "host", id,
				    last[i][0] ? last[i] : NULL, 0, &rep);
				lines[a][nl[a]++] = strdup(rep.buf);
				if (ga[a].confirm) {
					/* the home side agrees, mostly */
					char *h = strdup(rep.buf), *r = strstr(h,
					    "\"role\":\"host\"");

					memcpy(r, "\"role\":\"home\"", 13);
					if (rint_(&g, 0, 4) == 0) {
						char *v = strstr(h, "\"taxes\":{");

						if (v != NULL && v[9] == '"') {
							char *q = strchr(v + 9, ':');

							if (q != NULL && q[2] >= '0' &&
							    q[2] <= '8')
								q[2]++;
						}
					}
					lines[a][nl[a]++] = h;
				}
				memcpy(last[i], id, sizeof(id));
			}
		}
		for (int way = 0; way < 2; way++) {
			const char *txt[3];
			char name[3][300];

			for (int a = 0; a < 3; a++) {
				txt[a] = rules_get0_text(ga[a].r);
				snprintf(name[a], sizeof(name[a]), "%s.conf",
				    ga[a].id);
				logs[way][a] = json_array();
				pos[a] = 0;
			}
			{
				const char *nm[3] = { name[0], name[1], name[2] };

				s[way] = engine(txt, nm, 3);
			}
			for (;;) {
				int a, left = 0;

				for (a = 0; a < 3; a++)
					left += pos[a] < nl[a];
				if (left == 0)
					break;
				if (way == 0) {
					for (a = 0; pos[a] == nl[a]; a++)
						;
				} else {
					do
						a = (int)rint_(&g, 0, 2);
					while (pos[a] == nl[a]);
				}
				{
					struct settle_result *res;
					char err[512];
					const char *l = lines[a][pos[a]++];
					int rc = sub(s[way], l, &res, err,
					    sizeof(err));

					/* Same home/host ids may clash: the
					 * refusal must be the same both ways. */
					json_array_append_new(logs[way][a],
					    json_integer(rc));
					for (size_t k = 0; res != NULL &&
					    k < settle_result_count(res); k++) {
						check_entry(settle_result_get0_json(
						    res, k));
						json_array_append_new(logs[way][a],
						    json_string(settle_result_entry(
						    res, k, NULL)));
					}
					settle_result_free(res);
				}
			}
		}
		for (int a = 0; a < 3; a++) {
			assert_true(json_equal(logs[0][a], logs[1][a]));
			json_decref(logs[0][a]);
			json_decref(logs[1][a]);
			for (int k = 0; k < nl[a]; k++)
				free(lines[a][k]);
			rules_free(ga[a].r);
		}
		settle_free(s[0]);
		settle_free(s[1]);
	}
}

/* The published kecheng example replays from its own report entries. */
static void
replay_example(void **state)
{
	(void)state;
	/* Covered for every generated run in prop_corrections; here the
	 * canonical form of a report entry's member is its hash's input. */
	const char *e = "{\"report\":{\"agreement\":\"ky\",\"period\":\"2026-02\","
	    "\"report_id\":\"q\",\"role\":\"host\",\"taxes\":{\"vat\":\"1.5\"}},"
	    "\"sha256\":\"X\",\"type\":\"report\"}";
	const char *t[] = { KY }, *n[] = { "ky.conf" };
	struct settle *s = engine(t, n, 1);
	struct settle_result *res;
	json_t *ej = json_loads(e, 0, NULL);
	char err[256], *c;
	size_t clen;

	c = canon_dump(json_object_get(ej, "report"), &clen, err, sizeof(err));
	assert_int_equal(settle_submit(s, c, clen, NULL, 0, NULL, NULL, &res,
	    err, sizeof(err)), SETTLE_ACCEPTED);
	assert_non_null(strstr(settle_result_entry(res, 0, NULL),
	    "\"vat\":\"1.5\""));
	{
		char h[CANON_HASH_BUFSZ];

		canon_sha256_hex(c, clen, h);
		assert_string_equal(settle_result_hash(res), h);
	}
	settle_result_free(res);
	free(c);
	json_decref(ej);
	settle_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refusal_classes),
		cmocka_unit_test(authorization_and_duplicates),
		cmocka_unit_test(disputes_and_queries),
		cmocka_unit_test(replacement),
		cmocka_unit_test(term_retention),
		cmocka_unit_test(withdraw_and_return),
		cmocka_unit_test(replay_example),
		cmocka_unit_test(prop_corrections),
		cmocka_unit_test(prop_interleaving),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
