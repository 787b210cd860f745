/*
 * canon: RFC 8785 (JCS) canonical JSON for ledger entries and reports, and
 * the SHA-256 hex used for report hashes. Keys sorted by UTF-16 code units,
 * no whitespace, UTF-8 output, the minimal escapes (\" \\ \b \f \n \r \t,
 * other control characters as \u00xx), integers in decimal; any real number
 * is refused, since entries never hold floating point. Pure: no I/O.
 */
#ifndef SHANHAI_CANON_H
#define SHANHAI_CANON_H

#include <stddef.h>

#include <jansson.h>

/* Hex SHA-256 length, and buffer size with its NUL. */
#define CANON_HASH_HEXLEN	64
#define CANON_HASH_BUFSZ	65

/*
 * Serializes v canonically into a malloc'd NUL-terminated string (its length
 * in *lenp when lenp is not NULL). NULL when v holds a real number or a
 * string that is not valid UTF-8, with the reason in err.
 */
char	*canon_dump(const json_t *v, size_t *lenp, char *err, size_t errlen);

/*
 * The reason of a failed jansson parse in words for the person who sent
 * the JSON, written into buf and returned: jansson's own text, except where
 * it names its flags or internals ("\\u0000 is not allowed without
 * JSON_ALLOW_NUL" becomes "a string holds \\u0000 (NUL), which JSON here
 * may not").
 */
const char *canon_json_error(const json_error_t *e, char *buf, size_t len);

/*
 * Parses len bytes strictly (duplicate keys refused) into a new reference;
 * NULL with the reason in err when they are not one JSON value.
 */
json_t	*canon_parse(const char *buf, size_t len, char *err, size_t errlen);

/*
 * 0 when buf[0..len) is exactly the canonical form of the JSON it holds;
 * -1 with the reason in err otherwise (not JSON, duplicate keys, real
 * numbers, or any byte that differs from the canonical form).
 */
int	canon_check(const char *buf, size_t len, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

struct textbuf;
/*
 * Appends s[0..len) as a JSON string: quotes, and the minimal escapes of
 * RFC 8785 (the same bytes jansson writes for text without control
 * characters other than \b \f \n \r \t). s must be valid UTF-8.
 */
void	canon_put_string(struct textbuf *b, const char *s, size_t len);

/*
 * The length (1 to 4) of the valid UTF-8 sequence at s, within avail
 * bytes: no overlong form, surrogate or code point past U+10FFFF; 0 when
 * there is none.
 */
size_t	canon_utf8_len(const char *s, size_t avail);
/* Writes the lowercase hex SHA-256 of buf[0..len) and a NUL into out. */
void	canon_sha256_hex(const void *buf, size_t len, char out[CANON_HASH_BUFSZ]);

/*
 * The one JSON member scanner: finds the spans of an object's top-level
 * members without building a tree, for the readers that only need to
 * split, compare or pick members (the replay's byte compare, the engine's
 * fast report reader). It checks the object's punctuation and that keys
 * are strings; values are skipped (strings to their closing quote,
 * objects and arrays to the matching bracket, other tokens to the next
 * delimiter) and not otherwise checked: a caller that trusts a value must
 * check it, or compare it with bytes it trusts.
 */
struct canon_member {
	const char	*key;		/* between the quotes, escapes as written */
	size_t		 klen;
	const char	*val;		/* the value's bytes, quotes included */
	size_t		 vlen;
	/*
	 * With CANON_SCAN_PLAIN, 1 when the key, the value, is a string as
	 * canon_plain_string() (0 without the flag).
	 */
	int		 kplain, vplain;
	/* canon_members_deep(): an object value's members in sub. */
	size_t		 sub, nsub;
};

/*
 * canon_members() flags: JSON whitespace allowed between tokens; kplain
 * and vplain set (the reader of strings scans them byte by byte then,
 * where without it the scanner looks for quotes only).
 */
#define CANON_SCAN_WS		0x1
#define CANON_SCAN_PLAIN	0x2

/*
 * Skips the string at s[*i] == '"' (*i then just past its closing quote),
 * or the value at s[*i]; -1 when it does not end within len.
 */
int	canon_skip_string(const char *s, size_t len, size_t *i);
int	canon_skip_value(const char *s, size_t len, size_t *i);
/*
 * The members of the object that is exactly s[0..len) (with CANON_SCAN_WS,
 * whitespace may stand around it and between its tokens; without, none
 * may), at most max of them, into m and their number into *n. -1 when it
 * is not such an object or has more than max members.
 */
int	canon_members(const char *s, size_t len, int flags,
	    struct canon_member *m, size_t max, size_t *n);
/*
 * As canon_members(), and in the same pass the members of every value
 * that is an object, into sub (at most submax in all; their number in
 * *nsub): m[i].sub is the index of the first of m[i]'s, m[i].nsub their
 * number (0 for other values). -1 also when sub has no room.
 */
int	canon_members_deep(const char *s, size_t len, int flags,
	    struct canon_member *m, size_t max, size_t *n,
	    struct canon_member *sub, size_t submax, size_t *nsub);
/* Member key of m[0..n), or NULL. */
const struct canon_member *canon_member_get(const struct canon_member *m,
	    size_t n, const char *key);
/*
 * 1 when s[0..len) is a string of printable ASCII without escapes (its
 * bytes are then its canonical form), quotes included.
 */
int	canon_plain_string(const char *s, size_t len);

#endif
