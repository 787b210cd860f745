/* test_statement: folding ledger entries into a year's statement. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/statement.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"

static const char *settlement_q1 =
    "{\"agreement\":\"a\",\"base\":\"100.00\",\"beneficiaries\":"
    "{\"v-b\":\"20.00\",\"v-a\":\"40.00\"},\"floor_topup\":\"0.00\","
    "\"home\":\"60.00\",\"host\":\"40.00\",\"period\":\"2026-Q1\","
    "\"reports\":[],\"statistics\":{},\"term\":\"2026-Q1\","
    "\"type\":\"settlement\"}";
static const char *adjust_q1 =
    "{\"agreement\":\"a\",\"base\":\"-0.01\",\"beneficiaries\":"
    "{\"v-a\":\"-0.01\",\"v-b\":\"0.00\"},\"cause\":\"" H1 "\","
    "\"floor_topup\":\"0.00\",\"home\":\"-0.01\",\"host\":\"0.00\","
    "\"period\":\"2026-Q1\",\"statistics\":{},\"type\":\"adjustment\"}";

static void
add(struct statement *st, const char *e)
{
	char err[256];

	if (statement_add(st, e, strlen(e), err, sizeof(err)) != 0)
		fail_msg("refused: %s: %s", e, err);
}

static void
refused(struct statement *st, const char *e, const char *why)
{
	char err[256] = "";

	assert_int_equal(statement_add(st, e, strlen(e), err, sizeof(err)), -1);
	if (strstr(err, why) == NULL)
		fail_msg("'%s' does not say '%s'", err, why);
}

/* The statement printed in fmt, as a malloc'd string. */
static char *
print(const struct statement *st, enum statement_format fmt)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(statement_print(st, fmt, f, err, sizeof(err)), 0);
	fclose(f);
	return buf;
}

static void
adjustments_are_added(void **state)
{
	struct statement *st = statement_new("a", 2026);
	char *out;

	add(st, settlement_q1);
	add(st, adjust_q1);
	assert_int_equal(statement_period_count(st), 1);
	out = print(st, STATEMENT_CSV);
	assert_string_equal(out,
	    "agreement,year,period,status,term,base,home,host,floor_topup,"
	    "adjustments,beneficiary:v-a,beneficiary:v-b\n"
	    "a,2026,2026-Q1,settled,2026-Q1,99.99,59.99,40.00,0.00,1,39.99,"
	    "20.00\n"
	    "a,2026,total,,,99.99,59.99,40.00,0.00,1,39.99,20.00\n");
	free(out);
	statement_free(st);
}

static void
other_agreements_and_years_are_skipped(void **state)
{
	struct statement *st = statement_new("b", 2026);
	struct statement *st2 = statement_new("a", 2025);

	add(st, settlement_q1);
	add(st, "{\"type\":\"rules\",\"agreement\":\"a\",\"sha256\":\"" H1
	    "\",\"text\":\"id = \\\"b\\\";\"}");
	assert_int_equal(statement_period_count(st), 0);
	add(st2, settlement_q1);
	assert_int_equal(statement_period_count(st2), 0);
	statement_free(st);
	statement_free(st2);
}

static void
status_follows_reports_and_disputes(void **state)
{
	struct statement *st = statement_new("a", 2026);
	char *out;

	add(st, "{\"report\":{\"agreement\":\"a\",\"period\":\"2026-Q2\","
	    "\"report_id\":\"x\",\"role\":\"host\",\"taxes\":{}},\"sha256\":\""
	    H1 "\",\"type\":\"report\"}");
	add(st, "{\"report\":{\"agreement\":\"a\",\"period\":\"2026-Q2\","
	    "\"report_id\":\"y\",\"role\":\"home\",\"taxes\":{}},\"sha256\":\""
	    H2 "\",\"type\":\"report\"}");
	add(st, "{\"agreement\":\"a\",\"home_report\":\"" H2 "\","
	    "\"host_report\":\"" H1 "\",\"period\":\"2026-Q2\","
	    "\"type\":\"dispute\"}");
	add(st, "{\"report\":{\"agreement\":\"a\",\"period\":\"2026-Q3\","
	    "\"report_id\":\"z\",\"role\":\"host\",\"taxes\":{}},\"sha256\":\""
	    H3 "\",\"type\":\"report\"}");
	out = print(st, STATEMENT_JSON);
	assert_non_null(strstr(out, "\"period\": \"2026-Q2\",\n"
	    "      \"status\": \"disputed\""));
	assert_non_null(strstr(out, "\"period\": \"2026-Q3\",\n"
	    "      \"status\": \"waiting\""));
	free(out);
	/* A new home report that agrees ends the dispute. */
	add(st, "{\"report\":{\"agreement\":\"a\",\"period\":\"2026-Q2\","
	    "\"report_id\":\"y2\",\"role\":\"home\",\"supersedes\":\"y\","
	    "\"taxes\":{}},\"sha256\":\"" H3 "\",\"type\":\"report\"}");
	out = print(st, STATEMENT_TABLE);
	assert_non_null(strstr(out, "2026-Q2  waiting"));
	assert_null(strstr(out, "disputed"));
	free(out);
	statement_free(st);
}

static void
bad_entries_are_refused(void **state)
{
	struct statement *st = statement_new("a", 2026);

	refused(st, "not json", "");
	refused(st, "{\"agreement\":\"a\"}", "no 'type'");
	refused(st, adjust_q1, "never settled");
	refused(st, "{\"agreement\":\"a\",\"type\":\"settlement\","
	    "\"period\":\"2026-13\"}", "valid period");
	add(st, settlement_q1);
	refused(st, settlement_q1, "settled twice");
	/* Amounts must be SPEC strings, never JSON numbers. */
	refused(st, "{\"agreement\":\"a\",\"base\":100,\"floor_topup\":"
	    "\"0.00\",\"home\":\"60.00\",\"host\":\"40.00\",\"period\":"
	    "\"2026-Q2\",\"term\":\"2026-Q1\",\"type\":\"settlement\"}",
	    "'base' is not an amount");
	assert_int_equal(statement_period_count(st), 1);
	statement_free(st);
}

/* A `rules` entry names the agreement's title and sides in the heading. */
static void
rules_entries_give_the_heading(void **state)
{
	struct statement *st = statement_new("a", 2026);
	char *out;

	add(st, "{\"agreement\":\"a\",\"sha256\":\"" H1 "\",\"text\":"
	    "\"id = \\\"a\\\"; title = \\\"The A park\\\"; "
	    "home = \\\"330802\\\"; host = \\\"330110\\\"; "
	    "cadence = \\\"quarterly\\\"; start = \\\"2026-Q1\\\"; "
	    "taxes = ( { code = \\\"vat\\\"; } ); "
	    "terms = ( { from = \\\"2026-Q1\\\"; home = \\\"60%\\\"; } );"
	    "\",\"type\":\"rules\"}");
	add(st, settlement_q1);
	out = print(st, STATEMENT_TABLE);
	assert_non_null(strstr(out, "a, fiscal year 2026 (yuan)\n"
	    "The A park; home 330802, host 330110\n"));
	free(out);
	out = print(st, STATEMENT_JSON);
	assert_non_null(strstr(out, "\"title\": \"The A park\""));
	free(out);
	refused(st, "{\"agreement\":\"a\",\"sha256\":\"" H1 "\",\"text\":"
	    "\"id = 1;\",\"type\":\"rules\"}", "does not load");
	statement_free(st);
}

static void
formats_parse(void **state)
{
	enum statement_format f;

	assert_int_equal(statement_format_parse("csv", &f), 0);
	assert_int_equal(f, STATEMENT_CSV);
	assert_int_equal(statement_format_parse("json", &f), 0);
	assert_int_equal(f, STATEMENT_JSON);
	assert_int_equal(statement_format_parse("table", &f), 0);
	assert_int_equal(f, STATEMENT_TABLE);
	assert_int_equal(statement_format_parse("xml", &f), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adjustments_are_added),
		cmocka_unit_test(other_agreements_and_years_are_skipped),
		cmocka_unit_test(status_follows_reports_and_disputes),
		cmocka_unit_test(bad_entries_are_refused),
		cmocka_unit_test(rules_entries_give_the_heading),
		cmocka_unit_test(formats_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
