/*
 * money: amounts, ratios, rounding and allocation of SPEC §2. Every product
 * is taken in __int128 and checked; nothing passes through floating point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/money.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
money_parse_n(const char *s, size_t len, int64_t *fen)
{
	size_t i = 0, nint = 0, nfrac = 0;
	int neg = 0;
	int64_t v = 0, frac = 0;

	if (i < len && s[i] == '-') {
		neg = 1;
		i++;
	}
	/* ^-?(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$ */
	while (i < len && is_digit(s[i])) {
		if (nint == 13)
			return -1;
		v = v * 10 + (s[i] - '0');
		nint++;
		i++;
	}
	if (nint == 0 || (nint > 1 && s[i - nint] == '0'))
		return -1;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && is_digit(s[i])) {
			if (nfrac == 2)
				return -1;
			frac = frac * 10 + (s[i] - '0');
			nfrac++;
			i++;
		}
		if (nfrac == 0)
			return -1;
		if (nfrac == 1)
			frac *= 10;
	}
	if (i != len)
		return -1;
	v = v * 100 + frac;
	*fen = neg ? -v : v;
	return 0;
}

int
money_parse(const char *s, int64_t *fen)
{
	return money_parse_n(s, strlen(s), fen);
}

const char *
money_why_n(const char *s, size_t len, char *why, size_t whylen)
{
	size_t i = 0, nint = 0, nfrac = 0;
	int64_t fen;

	if (money_parse_n(s, len, &fen) == 0) {
		snprintf(why, whylen, "an amount");
		return why;
	}
	if (i < len && s[i] == '-')
		i++;
	while (i + nint < len && is_digit(s[i + nint]))
		nint++;
	if (nint == 0) {
		snprintf(why, whylen, "an amount starts with a digit (yuan "
		    "with at most 2 decimals, such as \"1234.50\")");
		return why;
	}
	i += nint;
	if (i < len && s[i] == '.') {
		while (i + 1 + nfrac < len && is_digit(s[i + 1 + nfrac]))
			nfrac++;
		i += 1 + nfrac;
	}
	if (i != len)
		snprintf(why, whylen, "an amount holds digits and one '.' "
		    "only (yuan with at most 2 decimals, such as \"1234.50\")");
	else if (nint > 13)
		snprintf(why, whylen, "%zu integer digits: an amount has 13 at "
		    "most (9999999999999.99 yuan)", nint);
	else if (nint > 1 && s[s[0] == '-'] == '0')
		snprintf(why, whylen, "a leading zero: write the yuan without "
		    "it");
	else if (nfrac == 0)
		snprintf(why, whylen, "no digit after the '.'");
	else
		snprintf(why, whylen, "%zu decimals: an amount has 2 at most "
		    "(fen)", nfrac);
	return why;
}

char *
money_format(int64_t fen, char *buf)
{
	/* Magnitude as unsigned so INT64_MIN formats too; no printf: hot path. */
	uint64_t m = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	char tmp[MONEY_BUFSZ], *p = tmp + sizeof(tmp);
	size_t n;

	*--p = (char)('0' + m % 10);
	m /= 10;
	*--p = (char)('0' + m % 10);
	m /= 10;
	*--p = '.';
	do {
		*--p = (char)('0' + m % 10);
		m /= 10;
	} while (m > 0);
	if (fen < 0)
		*--p = '-';
	n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static int64_t
gcd64(int64_t a, int64_t b)
{
	while (b != 0) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void
ratio_reduce(struct money_ratio *r)
{
	int64_t g = gcd64(r->num, r->den);

	if (g > 1) {
		r->num /= g;
		r->den /= g;
	}
}

static int
ratio_parse_percent(const char *s, size_t len, struct money_ratio *r)
{
	/* ^(100|[0-9]{1,2})(\.[0-9]{1,6})?%$ */
	size_t i = 0, nint = 0, nfrac = 0;
	int64_t v = 0;

	if (len < 2 || s[len - 1] != '%')
		return -1;
	len--;
	while (i < len && is_digit(s[i])) {
		if (nint == 3)
			return -1;
		v = v * 10 + (s[i] - '0');
		nint++;
		i++;
	}
	if (nint == 0 || (nint == 3 && v != 100))
		return -1;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && is_digit(s[i])) {
			if (nfrac == 6)
				return -1;
			v = v * 10 + (s[i] - '0');
			nfrac++;
			i++;
		}
		if (nfrac == 0)
			return -1;
	}
	if (i != len)
		return -1;
	for (size_t k = nfrac; k < 6; k++)
		v *= 10;
	/* v is the percentage in millionths; 100% = 10^8. */
	if (v > INT64_C(100000000))
		return -1;
	r->num = v;
	r->den = INT64_C(100000000);
	ratio_reduce(r);
	return 0;
}

static int
parse_uint9(const char *s, size_t len, int64_t *out)
{
	/* Plain decimal, no sign, no leading zero (except "0"), <= 9 digits. */
	int64_t v = 0;

	if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
money_ratio_parse(const char *s, struct money_ratio *r)
{
	size_t len = strlen(s);
	const char *slash = memchr(s, '/', len);
	int64_t a, b;

	if (slash == NULL)
		return ratio_parse_percent(s, len, r);
	if (parse_uint9(s, (size_t)(slash - s), &a) == -1 ||
	    parse_uint9(slash + 1, len - (size_t)(slash - s) - 1, &b) == -1)
		return -1;
	if (b < 1 || a > b)
		return -1;
	r->num = a;
	r->den = b;
	ratio_reduce(r);
	return 0;
}

const char *
money_ratio_why(const char *s, char *why, size_t whylen)
{
	size_t len = strlen(s), i = 0, nint = 0, nfrac = 0;
	const char *slash = memchr(s, '/', len);
	struct money_ratio r;
	int64_t a, b;

	if (money_ratio_parse(s, &r) == 0)
		snprintf(why, whylen, "a ratio");
	else if (slash != NULL) {
		size_t la = (size_t)(slash - s), lb = len - la - 1;
		if (parse_uint9(s, la, &a) == -1 ||
		    parse_uint9(slash + 1, lb, &b) == -1)
			snprintf(why, whylen, "a/b needs two whole numbers of "
			    "1 to 9 digits, without leading zeros");
		else if (b < 1)
			snprintf(why, whylen, "the denominator is 0");
		else
			snprintf(why, whylen, "%lld/%lld is above 1",
			    (long long)a, (long long)b);
	} else if (len < 2 || s[len - 1] != '%')
		snprintf(why, whylen, "not a ratio in [0, 1] (\"12.5%%\" or "
		    "\"a/b\")");
	else {
		len--;
		while (i < len && is_digit(s[i])) {
			nint++;
			i++;
		}
		if (i < len && s[i] == '.')
			for (i++; i < len && is_digit(s[i]); i++)
				nfrac++;
		if (nint == 0 || i != len)
			snprintf(why, whylen, "a percentage is digits, at most "
			    "one '.', then '%%' (\"12.5%%\")");
		else if (nfrac > 6)
			snprintf(why, whylen, "%zu decimals: a percentage has 6 "
			    "at most", nfrac);
		else if (nfrac == 0 && s[nint] == '.')
			snprintf(why, whylen, "no digit after the '.'");
		else
			snprintf(why, whylen, "above 100%%");
	}
	return why;
}

char *
money_ratio_format(const struct money_ratio *r, char *buf)
{
	snprintf(buf, MONEY_BUFSZ, "%lld/%lld", (long long)r->num,
	    (long long)r->den);
	return buf;
}

int
money_ratio_eq(const struct money_ratio *a, const struct money_ratio *b)
{
	return (__int128)a->num * b->den == (__int128)b->num * a->den;
}

int
money_round(__int128 num, __int128 den, int64_t *out)
{
	unsigned __int128 m, q, rem, d;
	int neg;

	if (den <= 0)
		return -1;
	neg = num < 0;
	m = neg ? (unsigned __int128)0 - (unsigned __int128)num :
	    (unsigned __int128)num;
	d = (unsigned __int128)den;
	q = m / d;
	rem = m % d;
	/* Half or more of den left over rounds the magnitude up. */
	if (rem >= d - rem)
		q++;
	if (q > (unsigned __int128)INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)q : (int64_t)q;
	return 0;
}

int
money_mul_ratio(int64_t fen, const struct money_ratio *r, int64_t *out)
{
	return money_round((__int128)fen * r->num, r->den, out);
}

int
money_mul_div(int64_t fen, int64_t num, int64_t den, int64_t *out)
{
	return money_round((__int128)fen * num, den, out);
}

int
money_add(int64_t a, int64_t b, int64_t *out)
{
	return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

int
money_sub(int64_t a, int64_t b, int64_t *out)
{
	return __builtin_sub_overflow(a, b, out) ? -1 : 0;
}

int
money_alloc(int64_t total, const int64_t *w, size_t n, int64_t *parts)
{
	unsigned __int128 t, W = 0, left;
	int neg = total < 0;

	if (n == 0)
		return total == 0 ? 0 : -1;
	for (size_t i = 0; i < n; i++) {
		if (w[i] <= 0)
			return -1;
		W += (unsigned __int128)w[i];
	}
	t = neg ? (unsigned __int128)0 - (unsigned __int128)(__int128)total :
	    (unsigned __int128)total;
	if (t > (unsigned __int128)INT64_MAX)
		return -1;
	left = t;
	for (size_t i = 0; i < n; i++) {
		/* |T| < 2^63 and wi < 2^63: the product fits 128 bits. */
		unsigned __int128 q = t * (unsigned __int128)w[i] / W;
		parts[i] = (int64_t)q;
		left -= q;
	}
	/*
	 * left < n: one fen each to the largest remainders, ties to the first
	 * listed. n is small (beneficiaries), so a pass per fen is fine.
	 */
	if (left > 0) {
		unsigned char small[64];
		unsigned char *got = n <= sizeof(small) ? small : calloc(n, 1);

		if (got == NULL)
			return -1;
		if (got == small)
			memset(small, 0, n);
		for (; left > 0; left--) {
			size_t best = n;
			unsigned __int128 bestrem = 0;

			for (size_t i = 0; i < n; i++) {
				unsigned __int128 rem;

				if (got[i])
					continue;
				rem = t * (unsigned __int128)w[i] % W;
				if (best == n || rem > bestrem) {
					best = i;
					bestrem = rem;
				}
			}
			got[best] = 1;
			parts[best]++;
		}
		if (got != small)
			free(got);
	}
	if (neg)
		for (size_t i = 0; i < n; i++)
			parts[i] = -parts[i];
	return 0;
}
