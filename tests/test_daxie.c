/* test_daxie: amounts in Chinese capital numerals, at the edges of the rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "shanhai/daxie.h"
#include "shanhai/money.h"

static void
table(void **state)
{
	static const struct { const char *amount, *want; } t[] = {
		{ "0", "零元整" },
		{ "0.01", "壹分" },
		{ "0.10", "壹角" },
		{ "0.55", "伍角伍分" },
		{ "1", "壹元整" },
		{ "10.00", "壹拾元整" },
		{ "10.50", "壹拾元零伍角" },
		{ "15", "壹拾伍元整" },
		{ "101", "壹佰零壹元整" },
		{ "325.04", "叁佰贰拾伍元零肆分" },
		{ "1680.32", "壹仟陆佰捌拾元零叁角贰分" },
		{ "1001.10", "壹仟零壹元壹角" },
		{ "100000.00", "壹拾万元整" },
		{ "100700.00", "壹拾万零柒佰元整" },
		{ "107000.53", "壹拾万柒仟元零伍角叁分" },
		{ "1234567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分" },
		{ "10010000", "壹仟零壹万元整" },
		{ "10100000", "壹仟零壹拾万元整" },
		{ "10000100", "壹仟万零壹佰元整" },
		{ "100010000", "壹亿零壹万元整" },
		{ "100000001", "壹亿零壹元整" },
		{ "120000000", "壹亿贰仟万元整" },
		{ "1000000000.01", "壹拾亿元零壹分" },
		{ "1000001000", "壹拾亿零壹仟元整" },
		{ "1000000000000", "壹万亿元整" },
		{ "1000100000000", "壹万零壹亿元整" },
		{ "1000000010000", "壹万亿零壹万元整" },
		{ "9999999999999.99", "玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万"
		    "玖仟玖佰玖拾玖元玖角玖分" },
		{ "-0.01", "负壹分" },
		{ "-12250.00", "负壹万贰仟贰佰伍拾元整" },
		{ "-9999999999999.99", "负玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万"
		    "玖仟玖佰玖拾玖元玖角玖分" },
	};
	char buf[DAXIE_BUFSZ];
	int64_t fen;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(money_parse(t[i].amount, &fen), 0);
		assert_int_equal(daxie_format(fen, buf, sizeof(buf)), 0);
		if (strcmp(buf, t[i].want) != 0)
			fail_msg("%s: got %s, want %s", t[i].amount, buf,
			    t[i].want);
	}
}

static void
refused(void **state)
{
	char buf[DAXIE_BUFSZ], small[9];

	(void)state;
	assert_int_equal(daxie_format(MONEY_AMOUNT_MAX + 1, buf, sizeof(buf)),
	    -1);
	assert_string_equal(buf, "");
	assert_int_equal(daxie_format(-MONEY_AMOUNT_MAX - 1, buf,
	    sizeof(buf)), -1);
	assert_int_equal(daxie_format(INT64_MIN, buf, sizeof(buf)), -1);
	/* Three characters need 10 bytes with the NUL: 壹元整 does not fit 9. */
	assert_int_equal(daxie_format(100, small, sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(daxie_format(100, buf, 10), 0);
	assert_string_equal(buf, "壹元整");
	assert_int_equal(daxie_format(100, buf, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
