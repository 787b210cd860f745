/* test_rules: agreement parsing, accessors, JSON forms, periods, loaders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shanhai/canon.h"
#include "shanhai/rules.h"

static const char KY[] =
    "# comment\n"
    "id = \"kecheng-yuhang\";\n"
    "title = \"K\";\n"
    "home = \"330802\"; host = \"330110\";\n"
    "cadence = \"monthly\"; start = \"2017-07\"; end = \"2036-12\";\n"
    "confirm = false;\n"
    "taxes = ( { code = \"vat\"; retain = \"50%\"; }, { code = \"cit\"; } );\n"
    "statistics = ( { code = \"io\"; mode = \"split\"; home = \"1/2\"; } );\n"
    "beneficiaries = ( { id = \"v-a\"; weight = 3; } );\n"
    "terms = (\n"
    "  { from = \"2017-07\"; fixed = { principal = \"20000000.00\"; rate = \"10%\"; }; },\n"
    "  { from = \"2022-07\"; home = \"50%\"; floor = \"1500000.00\"; },\n"
    "  { from = \"2027-01\"; bands = ( { upto = \"5000000\"; home = \"0%\"; },\n"
    "      { home = \"60%\"; } ); cap = \"8000000.00\"; }\n"
    ");\n";

static void
parse_and_access(void **state)
{
	char err[512], hex[CANON_HASH_BUFSZ];
	struct rules *r = rules_parse(KY, "rules/kecheng-yuhang.conf", err,
	    sizeof(err));
	int32_t p;

	(void)state;
	if (r == NULL)
		fail_msg("%s", err);
	assert_string_equal(rules_get0_id(r), "kecheng-yuhang");
	assert_string_equal(rules_get0_title(r), "K");
	assert_string_equal(rules_get0_home(r), "330802");
	assert_string_equal(rules_get0_host(r), "330110");
	assert_int_equal(rules_cadence(r), RULES_MONTHLY);
	assert_int_equal(rules_confirm(r), 0);
	assert_int_equal(rules_period_parse(RULES_MONTHLY, "2017-07", &p), 0);
	assert_int_equal(rules_start(r), p);
	assert_int_equal(rules_period_parse(RULES_MONTHLY, "2036-12", &p), 0);
	assert_int_equal(rules_end(r), p);
	assert_int_equal(rules_term_count(r), 3);
	assert_int_equal(rules_period_parse(RULES_MONTHLY, "2022-07", &p), 0);
	assert_int_equal(rules_term_from(r, 1), p);
	assert_string_equal(rules_get0_text(r), KY);
	canon_sha256_hex(KY, strlen(KY), hex);
	assert_string_equal(rules_get0_sha256(r), hex);
	rules_free(r);
}

static void
json_forms(void **state)
{
	char err[512], *s;
	struct rules *r = rules_parse(KY, "kecheng-yuhang.conf", err,
	    sizeof(err));
	json_t *j;

	(void)state;
	assert_non_null(r);
	j = rules_to_json(r);
	s = canon_dump(j, NULL, err, sizeof(err));
	assert_non_null(s);
	assert_non_null(strstr(s, "\"terms\":[{\"fixed\":{\"annual\":"
	    "\"2000000.00\",\"principal\":\"20000000.00\",\"rate\":\"10%\"},"
	    "\"from\":\"2017-07\"},{\"floor\":\"1500000.00\",\"from\":"
	    "\"2022-07\",\"home\":\"50%\"},{\"bands\":[{\"home\":\"0%\","
	    "\"upto\":\"5000000.00\"},{\"home\":\"60%\"}],\"cap\":"
	    "\"8000000.00\",\"from\":\"2027-01\"}]"));
	assert_non_null(strstr(s, "\"end\":\"2036-12\""));
	assert_non_null(strstr(s, "{\"code\":\"io\",\"home\":\"1/2\","
	    "\"mode\":\"split\"}"));
	free(s);
	json_decref(j);
	j = rules_entry(r);
	s = canon_dump(j, NULL, err, sizeof(err));
	assert_non_null(s);
	assert_true(strncmp(s, "{\"agreement\":\"kecheng-yuhang\",\"sha256\":\"",
	    40) == 0);
	assert_non_null(strstr(s, "\"text\":\"# comment\\nid = "));
	assert_non_null(strstr(s, ",\"type\":\"rules\"}"));
	free(s);
	json_decref(j);
	rules_free(r);
}

static void
periods(void **state)
{
	char buf[RULES_PERIOD_BUFSZ];
	int32_t p;

	(void)state;
	assert_int_equal(rules_period_parse(RULES_MONTHLY, "2026-10", &p), 0);
	assert_string_equal(rules_period_format(RULES_MONTHLY, p, buf), "2026-10");
	assert_int_equal(rules_period_year(RULES_MONTHLY, p), 2026);
	assert_int_equal(rules_period_parse(RULES_MONTHLY, "2026-01", &p), 0);
	assert_string_equal(rules_period_format(RULES_MONTHLY, p - 1, buf),
	    "2025-12");
	assert_int_equal(rules_period_parse(RULES_QUARTERLY, "2026-Q4", &p), 0);
	assert_string_equal(rules_period_format(RULES_QUARTERLY, p + 1, buf),
	    "2027-Q1");
	assert_int_equal(rules_period_year(RULES_QUARTERLY, p), 2026);
	assert_int_equal(rules_period_months(RULES_QUARTERLY), 3);
	assert_int_equal(rules_period_months(RULES_MONTHLY), 1);
	static const char *const badm[] = { "2026-00", "2026-13", "2026-1",
	    "26-01", "2026/01", "2026-Q1", "2026-011", "", "abcd-01" };
	for (size_t i = 0; i < sizeof(badm) / sizeof(badm[0]); i++)
		assert_int_equal(rules_period_parse(RULES_MONTHLY, badm[i], &p), -1);
	static const char *const badq[] = { "2026-Q0", "2026-Q5", "2026-q1",
	    "2026-01", "2026-Q12" };
	for (size_t i = 0; i < sizeof(badq) / sizeof(badq[0]); i++)
		assert_int_equal(rules_period_parse(RULES_QUARTERLY, badq[i], &p),
		    -1);
}

static void
refusals(void **state)
{
	char err[512];

	(void)state;
	assert_null(rules_parse("@include \"x.conf\"\n", "a.conf", err,
	    sizeof(err)));
	assert_string_equal(err, "a.conf:1: @include is not allowed in rule files");
	assert_null(rules_parse("id = \"a\xff\";\n", "a.conf", err, sizeof(err)));
	assert_string_equal(err, "a.conf:1: not valid UTF-8 text (byte 8)");
	/* A bad byte is reported on its own line, not line 1. */
	assert_null(rules_parse("id = \"a\";\n# \xe5\xb1\xb1\n\xe5\xb1\n",
	    "a.conf", err, sizeof(err)));
	assert_string_equal(err, "a.conf:3: not valid UTF-8 text (byte 17)");
	/* Overlong forms and surrogates are not UTF-8 either. */
	assert_null(rules_parse("# \xc0\xaf\n", "a.conf", err, sizeof(err)));
	assert_string_equal(err, "a.conf:1: not valid UTF-8 text (byte 3)");
	assert_null(rules_parse("\n# \xed\xa0\x80\n", "a.conf", err,
	    sizeof(err)));
	assert_string_equal(err, "a.conf:2: not valid UTF-8 text (byte 4)");
	assert_null(rules_parse("id = \"a\";\nhome = \"330802\";\nhost = "
	    "\"330110\";\ncadence = \"monthly\";\nstart = \"2026-01\";\n"
	    "taxes = ( { code = \"vat\"; } );\nterms = ( { from = \"2026-01\"; "
	    "home = \"1/3\"; floor = \"2.00\"; cap = \"1.00\"; } );\n",
	    "dir/a.conf", err, sizeof(err)));
	assert_string_equal(err, "dir/a.conf:7: term 2026-01: floor above cap");
	assert_null(rules_parse("", "a.conf", err, sizeof(err)));
	assert_string_equal(err, "a.conf:1: missing key \"id\"");
}

static void
report_msg(void *arg, const char *msg)
{
	int *n = arg;

	(*n)++;
	(void)msg;
}

static void
loaders(void **state)
{
	char dir[200], path[256], err[512];
	const char *tmp = getenv("TMPDIR");
	struct rules **list;
	size_t n;
	int nmsg = 0;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/shanhai-rules-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kecheng-yuhang.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(KY, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a rule file\n", f);
	fclose(f);
	assert_int_equal(rules_load_dir(dir, &list, &n, report_msg, &nmsg), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nmsg, 0);
	assert_string_equal(rules_get0_id(list[0]), "kecheng-yuhang");
	rules_free_list(list, n);
	snprintf(path, sizeof(path), "%s/other.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("id = \"other\";\n", f);
	fclose(f);
	assert_int_equal(rules_load_dir(dir, &list, &n, report_msg, &nmsg), -1);
	assert_null(list);
	assert_int_equal(nmsg, 1);
	assert_null(rules_load_file("/nonexistent/x.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/x.conf: "));
	assert_int_equal(rules_load_dir("/nonexistent", &list, &n, report_msg,
	    &nmsg), -1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/kecheng-yuhang.conf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_and_access),
		cmocka_unit_test(json_forms),
		cmocka_unit_test(periods),
		cmocka_unit_test(refusals),
		cmocka_unit_test(loaders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
