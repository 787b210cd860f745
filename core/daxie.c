/*
 * daxie: amounts in Chinese capital numerals (大写金额). The rules are listed
 * in include/shanhai/daxie.h.
 */
#include <string.h>

#include "shanhai/daxie.h"
#include "shanhai/money.h"

static const char *const digit[10] = {
	"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖",
};
/* The unit of a digit inside its group of four: ones, 拾, 佰, 仟. */
static const char *const inner[4] = { "", "拾", "佰", "仟" };

struct out {
	char	*p;
	size_t	 left;
	int	 full;
};

static void
put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->full || n >= o->left) {
		o->full = 1;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
	o->left -= n;
	*o->p = '\0';
}

int
daxie_format(int64_t fen, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	int d[16], top = -1, zero = 0, jiao, cents;
	int64_t yuan, v;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if (fen < -MONEY_AMOUNT_MAX || fen > MONEY_AMOUNT_MAX)
		return -1;
	v = fen < 0 ? -fen : fen;
	yuan = v / 100;
	jiao = (int)(v / 10 % 10);
	cents = (int)(v % 10);
	if (v == 0) {
		put(&o, "零元整");
		goto done;
	}
	if (fen < 0)
		put(&o, "负");
	for (int i = 0; i < 16; i++) {
		d[i] = (int)(yuan % 10);
		yuan /= 10;
		if (d[i] != 0)
			top = i;
	}
	/*
	 * From the highest digit down: a zero only becomes 零 when a non-zero
	 * digit follows it in the same group or the next; a group's unit (万,
	 * 亿, and 万 again for 万亿) is written when any digit it closes is
	 * non-zero, and swallows the zeros before it (壹拾万柒仟, not 壹拾万零
	 * 柒仟; the zeros of the next group still give one: 壹拾万零柒佰).
	 */
	for (int i = top; i >= 0; i--) {
		if (d[i] != 0) {
			if (zero)
				put(&o, "零");
			zero = 0;
			put(&o, digit[d[i]]);
			put(&o, inner[i % 4]);
		} else
			zero = 1;
		if (i == 4 || i == 12) {
			if (d[i] || d[i + 1] || d[i + 2] || d[i + 3]) {
				put(&o, "万");
				zero = 0;
			}
		} else if (i == 8) {
			put(&o, "亿");	/* i == 8 <= top: something above */
			zero = 0;
		}
	}
	if (top >= 0) {
		put(&o, "元");
		if (jiao == 0 && cents == 0) {
			put(&o, "整");
			goto done;
		}
		/* 零 after 元: 角 is zero, or the 元 digit was. */
		if (jiao == 0 || d[0] == 0)
			put(&o, "零");
	}
	if (jiao != 0) {
		put(&o, digit[jiao]);
		put(&o, "角");
	}
	if (cents != 0) {
		put(&o, digit[cents]);
		put(&o, "分");
	}
done:
	if (o.full) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}
