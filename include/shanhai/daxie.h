/*
 * daxie: amounts in Chinese capital numerals (大写金额), as finance bureaus
 * write them on statements, cheques and vouchers: 壹佰贰拾叁万肆仟伍佰陆拾柒
 * 元捌角玖分. Pure: no I/O, no allocation.
 *
 * The rules followed (those of China's payment and settlement practice):
 * - 壹 … 玖 with 拾 佰 仟 inside a group of four digits, 万 and 亿 between
 *   groups (so 10^12 is 壹万亿); 拾 always has its digit (壹拾万, not 拾万);
 * - one 零 for a run of zeros between non-zero digits, across 万 and 亿;
 * - 整 after 元 when there are neither 角 nor 分; none after 角 or 分;
 * - 零 after 元 when 角 is zero and 分 is not (叁佰元零肆分), and also when
 *   the 元 digit is zero and 角 is not (壹拾万柒仟元零伍角);
 * - no 元 when the amount is under one yuan (壹分, 伍角), 零元整 for zero;
 * - 负 in front of a negative amount.
 */
#ifndef SHANHAI_DAXIE_H
#define SHANHAI_DAXIE_H

#include <stddef.h>
#include <stdint.h>

/* Room for any amount of SPEC §2 (at most 50 characters of 3 bytes) and NUL. */
#define DAXIE_BUFSZ	160

/*
 * Writes fen in capital numerals, NUL-terminated UTF-8, into buf[0..len).
 * Returns 0, or -1 when |fen| is beyond the largest §2 amount
 * (9999999999999.99) or len is too small (buf is then "").
 */
int	daxie_format(int64_t fen, char *buf, size_t len)
	    __attribute__((warn_unused_result));

#endif
