/*
 * fuzz_money: the amount and ratio parsers of SPEC §2 against an
 * independent reading of the two regular expressions, with round trips
 * (parse, format, parse gives the same value), and the arithmetic that
 * uses them: round(fen × ratio) within half a fen with halves away from
 * zero, and alloc() parts that sum to the total, each within one fen of
 * its exact share.
 */
#include "fuzz.h"

#include "shanhai/money.h"

static int
digits(const char *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* ^-?(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$, value in fen. */
static int
ref_amount(const char *s, int64_t *fen)
{
	size_t len = strlen(s), i = 0, dot;
	const char *p;
	int64_t v = 0;

	if (s[0] == '-')
		i = 1;
	p = strchr(s + i, '.');
	dot = p ? (size_t)(p - s) : len;
	if (dot == i || dot - i > 13 || !digits(s, i, dot) ||
	    (dot - i > 1 && s[i] == '0'))
		return 0;
	if (p != NULL && (len - dot - 1 < 1 || len - dot - 1 > 2 ||
	    !digits(s, dot + 1, len)))
		return 0;
	for (size_t k = i; k < dot; k++)
		v = v * 10 + (s[k] - '0');
	v *= 100;
	if (p != NULL) {
		v += (s[dot + 1] - '0') * 10;
		if (len - dot - 1 == 2)
			v += s[dot + 2] - '0';
	}
	*fen = i ? -v : v;
	return 1;
}

/* §2 ratio as num/den (not reduced), or 0 when s is not one. */
static int
ref_ratio(const char *s, int64_t *num, int64_t *den)
{
	size_t len = strlen(s);
	const char *slash = strchr(s, '/');

	if (slash != NULL) {
		size_t a = (size_t)(slash - s), b = len - a - 1;

		/* Plain decimals of 1..9 digits, no leading zero but "0". */
		if (a < 1 || a > 9 || b < 1 || b > 9 || !digits(s, 0, a) ||
		    !digits(slash + 1, 0, b) || (a > 1 && s[0] == '0') ||
		    (b > 1 && slash[1] == '0'))
			return 0;
		*num = strtoll(s, NULL, 10);
		*den = strtoll(slash + 1, NULL, 10);
		return *den >= 1 && *num <= *den;
	}
	/* ^(100|[0-9]{1,2})(\.[0-9]{1,6})?%$ and at most 100%. */
	if (len < 2 || s[len - 1] != '%')
		return 0;
	const char *p = memchr(s, '.', len - 1);
	size_t dot = p ? (size_t)(p - s) : len - 1, nfrac = 0;
	if (dot < 1 || dot > 3 || !digits(s, 0, dot) ||
	    (dot == 3 && strncmp(s, "100", 3) != 0))
		return 0;
	if (p != NULL) {
		nfrac = len - 1 - dot - 1;
		if (nfrac < 1 || nfrac > 6 || !digits(s, dot + 1, len - 1))
			return 0;
	}
	int64_t v = 0;
	for (size_t k = 0; k < dot; k++)
		v = v * 10 + (s[k] - '0');
	for (size_t k = 0; k < 6; k++)
		v = v * 10 + (k < nfrac ? s[dot + 1 + k] - '0' : 0);
	*num = v;
	*den = INT64_C(100000000);
	return v <= *den;
}

static int64_t
gcd(int64_t a, int64_t b)
{
	while (b != 0) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int64_t
get64(const uint8_t *data, size_t size, size_t at)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (at + i < size ? data[at + i] : 0);
	return (int64_t)v;
}

/* round(fen × r) must be the integer nearest, halves away from zero. */
static void
check_mul(int64_t fen, const struct money_ratio *r)
{
	int64_t out;
	__int128 exact = (__int128)fen * r->num, d;

	FUZZ_CHECK(money_mul_ratio(fen, r, &out) == 0, "%lld", (long long)fen);
	d = (__int128)out * r->den - exact;	/* out - x, scaled by den */
	if (d < 0)
		d = -d;
	FUZZ_CHECK(2 * d <= r->den, "%lld × %lld/%lld gave %lld",
	    (long long)fen, (long long)r->num, (long long)r->den,
	    (long long)out);
	if (2 * d == r->den)	/* a half: away from zero */
		FUZZ_CHECK(fen >= 0 ? (__int128)out * r->den > exact :
		    (__int128)out * r->den < exact, "half toward zero");
}

static void
check_alloc(int64_t total, const uint8_t *w8, size_t n)
{
	int64_t w[8], parts[8], sum = 0;
	__int128 W = 0, t = total < 0 ? -(__int128)total : total;

	for (size_t i = 0; i < n; i++) {
		w[i] = (int64_t)w8[i] + 1;
		W += w[i];
	}
	FUZZ_CHECK(money_alloc(total, w, n, parts) == 0, "alloc refused");
	for (size_t i = 0; i < n; i++) {
		__int128 p = total < 0 ? -(__int128)parts[i] : parts[i];
		__int128 lo = t * w[i] / W;

		FUZZ_CHECK(p == lo || p == lo + 1, "part %zu off its share", i);
		sum += parts[i];
	}
	FUZZ_CHECK(sum == total, "parts sum to %lld, not %lld",
	    (long long)sum, (long long)total);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), buf[MONEY_BUFSZ];
	int64_t fen, ref, num, den;
	struct money_ratio r, r2;
	int ok, rok;

	/* Amounts: the parser accepts exactly the regex, with its value. */
	ok = money_parse(s, &fen) == 0;
	rok = ref_amount(s, &ref);
	FUZZ_CHECK(ok == rok, "\"%s\": parser %d, regex %d", s, ok, rok);
	if (ok) {
		int64_t back;

		FUZZ_CHECK(fen == ref, "\"%s\": %lld, not %lld", s,
		    (long long)fen, (long long)ref);
		money_format(fen, buf);
		FUZZ_CHECK(money_parse(buf, &back) == 0 && back == fen,
		    "\"%s\" formats as \"%s\" which does not parse back", s, buf);
		FUZZ_CHECK(strcmp(buf, "-0.00") != 0, "-0.00");
	}
	/* The length-bounded parser, on the raw bytes, agrees. */
	if (memchr(data, '\0', size) == NULL) {
		char *exact = malloc(size ? size : 1);
		int64_t fen2 = 0;

		if (exact == NULL)
			abort();
		if (size > 0)
			memcpy(exact, data, size);
		FUZZ_CHECK((money_parse_n(exact, size, &fen2) == 0) == ok &&
		    (!ok || fen2 == fen), "money_parse_n disagrees");
		free(exact);
	}

	/* Ratios: the regexes and [0, 1], held reduced and exact. */
	ok = money_ratio_parse(s, &r) == 0;
	rok = ref_ratio(s, &num, &den);
	FUZZ_CHECK(ok == rok, "\"%s\": parser %d, reference %d", s, ok, rok);
	if (ok) {
		FUZZ_CHECK(r.den >= 1 && r.num >= 0 && r.num <= r.den &&
		    gcd(r.num, r.den) == 1, "\"%s\" held as %lld/%lld", s,
		    (long long)r.num, (long long)r.den);
		FUZZ_CHECK((__int128)r.num * den == (__int128)num * r.den,
		    "\"%s\" is not %lld/%lld", s, (long long)r.num,
		    (long long)r.den);
		money_ratio_format(&r, buf);
		FUZZ_CHECK(money_ratio_parse(buf, &r2) == 0 &&
		    money_ratio_eq(&r, &r2) && r2.num == r.num &&
		    r2.den == r.den, "\"%s\" formats as \"%s\"", s, buf);
		/* Applied to an amount from the input's first bytes. */
		fen = get64(data, size, 0) % (MONEY_AMOUNT_MAX + 1);
		check_mul(fen, &r);
	}

	/* Any amount in range formats to a string that parses back. */
	fen = get64(data, size, 0) % (MONEY_AMOUNT_MAX + 1);
	money_format(fen, buf);
	FUZZ_CHECK(money_parse(buf, &ref) == 0 && ref == fen, "%lld as \"%s\"",
	    (long long)fen, buf);
	/* Allocation by up to 8 weights taken from the next bytes. */
	if (size > 8) {
		size_t n = data[size - 1] % 8 + 1;

		check_alloc(fen, data + 8, n < size - 8 ? n : size - 8);
	}
	free(s);
	return 0;
}
