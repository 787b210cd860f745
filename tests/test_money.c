/* test_money: amounts, ratios, rounding and allocation of SPEC §2 at the extremes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "shanhai/money.h"

static void
parse_good(void **state)
{
	static const struct { const char *s; int64_t fen; } t[] = {
		{ "0", 0 }, { "-0", 0 }, { "0.00", 0 }, { "-0.00", 0 },
		{ "1234.5", 123450 }, { "1234.56", 123456 }, { "-12.3", -1230 },
		{ "0.01", 1 }, { "-0.01", -1 }, { "10", 1000 },
		{ "9999999999999.99", INT64_C(999999999999999) },
		{ "-9999999999999.99", -INT64_C(999999999999999) },
		{ "1000000000000", INT64_C(100000000000000) },
	};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(money_parse(t[i].s, &v), 0);
		assert_true(v == t[i].fen);
	}
}

static void
parse_bad(void **state)
{
	static const char *const t[] = {
		"", "-", "+1", "01", "00", "-01", "1.", ".5", "1.234", "1e3",
		"10000000000000", "1 ", " 1", "1,00", "0x10", "1.2.3", "--1",
		"١", "1.-1", "NaN", "-.5",
	};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(money_parse(t[i], &v), -1);
	/* Length-bounded form does not read past len. */
	assert_int_equal(money_parse_n("12.345", 5, &v), 0);
	assert_true(v == 1234);
}

static void
format(void **state)
{
	char buf[MONEY_BUFSZ];

	(void)state;
	assert_string_equal(money_format(0, buf), "0.00");
	assert_string_equal(money_format(-1, buf), "-0.01");
	assert_string_equal(money_format(123450, buf), "1234.50");
	assert_string_equal(money_format(-1230, buf), "-12.30");
	assert_string_equal(money_format(INT64_MAX, buf),
	    "92233720368547758.07");
	assert_string_equal(money_format(INT64_MIN, buf),
	    "-92233720368547758.08");
}

static void
ratios(void **state)
{
	struct money_ratio r;
	char buf[MONEY_BUFSZ];

	(void)state;
	assert_int_equal(money_ratio_parse("60%", &r), 0);
	assert_string_equal(money_ratio_format(&r, buf), "3/5");
	assert_int_equal(money_ratio_parse("100%", &r), 0);
	assert_string_equal(money_ratio_format(&r, buf), "1/1");
	assert_int_equal(money_ratio_parse("0%", &r), 0);
	assert_string_equal(money_ratio_format(&r, buf), "0/1");
	assert_int_equal(money_ratio_parse("33.333333%", &r), 0);
	assert_string_equal(money_ratio_format(&r, buf), "33333333/100000000");
	assert_int_equal(money_ratio_parse("0.000001%", &r), 0);
	assert_string_equal(money_ratio_format(&r, buf), "1/100000000");
	assert_int_equal(money_ratio_parse("100.000000%", &r), 0);
	assert_int_equal(money_ratio_parse("2/4", &r), 0);
	assert_string_equal(money_ratio_format(&r, buf), "1/2");
	assert_int_equal(money_ratio_parse("999999998/999999999", &r), 0);
	assert_int_equal(money_ratio_parse("0/5", &r), 0);
	assert_int_equal(money_ratio_parse("5/5", &r), 0);
	{
		struct money_ratio a, b;

		assert_int_equal(money_ratio_parse("50%", &a), 0);
		assert_int_equal(money_ratio_parse("1/2", &b), 0);
		assert_true(money_ratio_eq(&a, &b));
	}
	static const char *const bad[] = {
		"100.000001%", "101%", "1000%", "%", "50", "1.%", "50.1234567%",
		"-5%", "3/2", "1/0", "0/0", "1/1000000000", "01/2", "1/02",
		"a/b", "1//2", "/2", "1/", "50 %", "+5%", "1.5/2", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(money_ratio_parse(bad[i], &r), -1);
}

static void
rounding(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(money_round(5, 10, &v), 0);
	assert_true(v == 1);
	assert_int_equal(money_round(-5, 10, &v), 0);
	assert_true(v == -1);
	assert_int_equal(money_round(4, 10, &v), 0);
	assert_true(v == 0);
	assert_int_equal(money_round(-4, 10, &v), 0);
	assert_true(v == 0);
	assert_int_equal(money_round(15, 10, &v), 0);
	assert_true(v == 2);
	assert_int_equal(money_round(-25, 10, &v), 0);
	assert_true(v == -3);
	assert_int_equal(money_round(1, 3, &v), 0);
	assert_true(v == 0);
	assert_int_equal(money_round(2, 3, &v), 0);
	assert_true(v == 1);
	assert_int_equal(money_round(7, 0, &v), -1);
	assert_int_equal(money_round(7, -1, &v), -1);
	/* Results beyond int64 are errors, never wrapped numbers. */
	assert_int_equal(money_round((__int128)INT64_MAX * 4, 2, &v), -1);
	assert_int_equal(money_round((__int128)INT64_MAX, 1, &v), 0);
	assert_true(v == INT64_MAX);
}

/* 13-digit amounts times 9-digit ratio terms need 128-bit products. */
static void
extremes(void **state)
{
	struct money_ratio r;
	int64_t v;

	(void)state;
	assert_int_equal(money_ratio_parse("999999998/999999999", &r), 0);
	/* 9999999999999.99 × 999999998/999999999 = 9999999989999.99999...
	 * exactly 999999999999999 − 999999999999999/999999999 fen. */
	assert_int_equal(money_mul_ratio(MONEY_AMOUNT_MAX, &r, &v), 0);
	assert_true(v == INT64_C(999999998999999));
	assert_int_equal(money_mul_ratio(-MONEY_AMOUNT_MAX, &r, &v), 0);
	assert_true(v == -INT64_C(999999998999999));
	assert_int_equal(money_ratio_parse("1/999999999", &r), 0);
	assert_int_equal(money_mul_ratio(MONEY_AMOUNT_MAX, &r, &v), 0);
	assert_true(v == 1000000);	/* 999999.999999999... → 1000000 */
	assert_int_equal(money_mul_ratio(INT64_MAX, &r, &v), 0);
	assert_int_equal(money_mul_div(INT64_MAX, 12, 12, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(money_mul_div(INT64_MAX, 13, 12, &v), -1);
	assert_int_equal(money_add(INT64_MAX, 1, &v), -1);
	assert_int_equal(money_sub(INT64_MIN, 1, &v), -1);
	assert_int_equal(money_add(1, 2, &v), 0);
	assert_true(v == 3);
	/* SPEC §5 example 3: round(333333333.33 × 10%) = 33333333.33 */
	assert_int_equal(money_ratio_parse("10%", &r), 0);
	assert_int_equal(money_mul_ratio(INT64_C(33333333333), &r, &v), 0);
	assert_true(v == INT64_C(3333333333));
}

static void
allocation(void **state)
{
	int64_t p[4];
	const int64_t w3[] = { 3, 2, 2 }, w1[] = { 1, 1, 1 };

	(void)state;
	/* 10 by 1:1:1 → 3.33 each, the fen left over to the first listed */
	assert_int_equal(money_alloc(10, w1, 3, p), 0);
	assert_true(p[0] == 4 && p[1] == 3 && p[2] == 3);
	assert_int_equal(money_alloc(-10, w1, 3, p), 0);
	assert_true(p[0] == -4 && p[1] == -3 && p[2] == -3);
	assert_int_equal(money_alloc(11, w1, 3, p), 0);
	assert_true(p[0] == 4 && p[1] == 4 && p[2] == 3);
	/* 100 by 3:2:2: 42.857, 28.571, 28.571 → 43, 29, 28 (remainders 6, 4, 4) */
	assert_int_equal(money_alloc(100, w3, 3, p), 0);
	assert_true(p[0] == 43 && p[1] == 29 && p[2] == 28);
	assert_int_equal(money_alloc(0, w3, 3, p), 0);
	assert_true(p[0] == 0 && p[1] == 0 && p[2] == 0);
	{
		const int64_t bad[] = { 1, 0 };

		assert_int_equal(money_alloc(5, bad, 2, p), -1);
	}
	{
		const int64_t big[] = { 999999999, 999999998, 1 };
		int64_t sum = 0;

		assert_int_equal(money_alloc(INT64_MAX, big, 3, p), 0);
		for (int i = 0; i < 3; i++)
			sum += p[i];
		assert_true(sum == INT64_MAX);
	}
	assert_int_equal(money_alloc(INT64_MIN, w1, 3, p), -1);
}

/*
 * Properties over generated inputs: parts sum to T, and each part is
 * floor(|T|·wi/W) plus the one leftover fen that §2 gives it: one each to
 * the largest remainders (|T|·wi) mod W, ties to the first listed, the sign
 * of T after. Small weights half the time, so remainders tie often.
 */
static void
alloc_properties(void **state)
{
	uint64_t x = 0x2545F4914F6CDD1DULL;
	size_t ties = 0;

	(void)state;
	for (int n = 0; n < 20000; n++) {
		int64_t w[4], p[4], T, sum = 0, W = 0, A, left;
		__int128 rem[4];
		size_t k;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		k = 1 + x % 4;
		T = (int64_t)(x >> 8) % INT64_C(1000000000000000);
		if (x & 1)
			T = -T;
		for (size_t i = 0; i < k; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			w[i] = 1 + (int64_t)(x % (n % 2 ? 1000 : 3));
			W += w[i];
		}
		assert_int_equal(money_alloc(T, w, k, p), 0);
		A = T < 0 ? -T : T;
		left = A;
		for (size_t i = 0; i < k; i++) {
			rem[i] = (__int128)A * w[i] % W;
			left -= (int64_t)((__int128)A * w[i] / W);
		}
		assert_true(left >= 0 && left < (int64_t)k);
		for (size_t i = 0; i < k; i++) {
			int64_t base = (int64_t)((__int128)A * w[i] / W), want;
			size_t ahead = 0;

			/* Those served before i: larger remainders, or equal
			 * and listed first. */
			for (size_t j = 0; j < k; j++) {
				if (rem[j] > rem[i] || (rem[j] == rem[i] && j < i))
					ahead++;
				ties += j < i && rem[j] == rem[i];
			}
			want = base + (ahead < (size_t)left ? 1 : 0);
			if (T < 0)
				want = -want;
			if (p[i] != want)
				fail_msg("alloc(%lld, k=%zu) part %zu: %lld, want"
				    " %lld", (long long)T, k, i, (long long)p[i],
				    (long long)want);
			sum += p[i];
		}
		assert_true(sum == T);
	}
	/* The generator does reach the tie rule. */
	assert_true(ties > 1000);
}

/* Parse and format are inverse on every canonical spelling. */
static void
roundtrip(void **state)
{
	uint64_t x = 88172645463325252ULL;
	char buf[MONEY_BUFSZ];
	int64_t v, back;

	(void)state;
	for (int n = 0; n < 20000; n++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		v = (int64_t)(x % (uint64_t)(2 * MONEY_AMOUNT_MAX + 1)) -
		    MONEY_AMOUNT_MAX;
		money_format(v, buf);
		assert_int_equal(money_parse(buf, &back), 0);
		assert_true(back == v);
	}
}

/* Why a refused amount or ratio is refused: the real reason, in words. */
static void
reasons(void **state)
{
	static const struct { const char *s, *why; } amounts[] = {
		{ "10000000000000.00", "14 integer digits: an amount has 13 "
		  "at most (9999999999999.99 yuan)" },
		{ "-99999999999999", "14 integer digits: an amount has 13 at "
		  "most" },
		{ "1.234", "3 decimals: an amount has 2 at most (fen)" },
		{ "012.5", "a leading zero" },
		{ "-012", "a leading zero" },
		{ "12.", "no digit after the '.'" },
		{ "", "an amount starts with a digit" },
		{ "-", "an amount starts with a digit" },
		{ ".5", "an amount starts with a digit" },
		{ "1,000.00", "an amount holds digits and one '.' only" },
		{ "1.2.3", "an amount holds digits and one '.' only" },
		{ "9999999999999.99", "an amount" },
	};
	static const struct { const char *s, *why; } ratios[] = {
		{ "50.1234567%", "7 decimals: a percentage has 6 at most" },
		{ "0.12345678%", "8 decimals: a percentage has 6 at most" },
		{ "100.000001%", "above 100%" },
		{ "250%", "above 100%" },
		{ "5.%", "no digit after the '.'" },
		{ "5,5%", "a percentage is digits, at most one '.', then '%'" },
		{ "%", "not a ratio in [0, 1]" },
		{ "0.5", "not a ratio in [0, 1]" },
		{ "3/2", "3/2 is above 1" },
		{ "1/0", "the denominator is 0" },
		{ "01/2", "a/b needs two whole numbers" },
		{ "1/1000000000", "a/b needs two whole numbers" },
		{ "12.345678%", "a ratio" },
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
		money_why_n(amounts[i].s, strlen(amounts[i].s), why,
		    sizeof(why));
		if (strncmp(why, amounts[i].why, strlen(amounts[i].why)) != 0)
			fail_msg("amount '%s': '%s', want '%s'", amounts[i].s,
			    why, amounts[i].why);
	}
	for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
		money_ratio_why(ratios[i].s, why, sizeof(why));
		if (strncmp(why, ratios[i].why, strlen(ratios[i].why)) != 0)
			fail_msg("ratio '%s': '%s', want '%s'", ratios[i].s,
			    why, ratios[i].why);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_good),
		cmocka_unit_test(parse_bad),
		cmocka_unit_test(format),
		cmocka_unit_test(ratios),
		cmocka_unit_test(rounding),
		cmocka_unit_test(extremes),
		cmocka_unit_test(allocation),
		cmocka_unit_test(alloc_properties),
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
