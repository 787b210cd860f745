/*
 * money: amounts, ratios, rounding and allocation of SPEC §2, exact to the fen.
 * Amounts are int64_t fen, ratios exact rationals; no float ever touches
 * money. Products and quotients go through __int128 and every overflow is
 * reported as an error (-1), never returned as a wrong number. Pure: no I/O.
 */
#ifndef SHANHAI_MONEY_H
#define SHANHAI_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Largest amount §2 can spell: 9999999999999.99 yuan, in fen. */
#define MONEY_AMOUNT_MAX	INT64_C(999999999999999)
/* Room for any formatted int64 fen amount and its NUL. */
#define MONEY_BUFSZ		32

/*
 * An exact ratio num/den in [0, 1], reduced, den >= 1. A small value type
 * (not opaque): it is copied around by value and has nothing to free.
 */
struct money_ratio {
	int64_t	num;
	int64_t	den;
};

/* Parses a §2 amount string ("-12.3") into fen; -1 when it does not match. */
int	money_parse(const char *s, int64_t *fen)
	    __attribute__((warn_unused_result));
/* Same, for len bytes that need not be NUL-terminated. */
int	money_parse_n(const char *s, size_t len, int64_t *fen)
	    __attribute__((warn_unused_result));
/*
 * Why the len bytes at s are not a §2 amount, in words for a message, such
 * as "14 integer digits: an amount has 13 at most (9999999999999.99 yuan)"
 * or "3 decimals: an amount has 2 at most (fen)"; written into why and
 * returned. For a good amount it says "an amount".
 */
const char *money_why_n(const char *s, size_t len, char *why, size_t whylen);

/*
 * Writes fen as yuan with exactly two decimals and no "-0.00" into buf
 * (at least MONEY_BUFSZ bytes); returns buf.
 */
char	*money_format(int64_t fen, char *buf);

/*
 * Parses a §2 ratio: "12.5%" (up to 6 decimals, at most 100%) or "a/b"
 * (0 <= a <= b, 1 <= b <= 999999999). -1 when it does not match.
 */
int	money_ratio_parse(const char *s, struct money_ratio *r)
	    __attribute__((warn_unused_result));
/*
 * Why s is not a §2 ratio, in words ("7 decimals: a percentage has 6 at
 * most", "above 100%", "3/2 is above 1"); written into why and returned.
 */
const char *money_ratio_why(const char *s, char *why, size_t whylen);
/* Writes r in lowest terms as "a/b" into buf (MONEY_BUFSZ bytes); returns buf. */
char	*money_ratio_format(const struct money_ratio *r, char *buf);
/* Non-zero when the two ratios are the same number. */
int	money_ratio_eq(const struct money_ratio *a, const struct money_ratio *b);

/*
 * round(num/den) to an integer, halves away from zero (四舍五入), den > 0.
 * -1 when den <= 0 or the result does not fit an int64_t.
 */
int	money_round(__int128 num, __int128 den, int64_t *out)
	    __attribute__((warn_unused_result));
/* round(fen * r); -1 on overflow. */
int	money_mul_ratio(int64_t fen, const struct money_ratio *r, int64_t *out)
	    __attribute__((warn_unused_result));
/* round(fen * num / den) for integers (e.g. annual * months / 12); -1 on overflow. */
int	money_mul_div(int64_t fen, int64_t num, int64_t den, int64_t *out)
	    __attribute__((warn_unused_result));
/* *out = a + b, a - b; -1 on int64 overflow. */
int	money_add(int64_t a, int64_t b, int64_t *out)
	    __attribute__((warn_unused_result));
int	money_sub(int64_t a, int64_t b, int64_t *out)
	    __attribute__((warn_unused_result));

/*
 * alloc(total, w[0..n-1]) of §2: each part floor(|T|·wi/W), the fen left
 * over one each to the largest remainders, ties to the first listed; for
 * T < 0 the parts of |T| negated. Weights must be positive. Writes n parts
 * that sum to total; -1 on a bad weight or overflow.
 */
int	money_alloc(int64_t total, const int64_t *w, size_t n, int64_t *parts)
	    __attribute__((warn_unused_result));

#endif
