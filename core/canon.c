/*
 * canon: RFC 8785 canonical JSON. Object members are ordered by the UTF-16
 * code units of their names (which differs from UTF-8 byte order only for
 * characters above U+FFFF against U+E000..U+FFFF); strings carry the minimal
 * escapes; numbers may only be integers that a double holds exactly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED	/* SHA256_Init(): see canon_sha256_hex() */
#include <openssl/sha.h>

#include "shanhai/canon.h"
#include "shanhai/textbuf.h"

static void
buf_addc(struct textbuf *b, char c)
{
	textbuf_add(b, &c, 1);
}

/*
 * Next UTF-16 code unit of the UTF-8 string s[*i..len); *pending holds the
 * low surrogate still owed for a character above U+FFFF. Input is valid
 * UTF-8 (jansson checks strings it creates).
 */
static unsigned
next_unit(const unsigned char *s, size_t len, size_t *i, unsigned *pending)
{
	unsigned cp, c;

	if (*pending) {
		c = *pending;
		*pending = 0;
		return c;
	}
	c = s[(*i)++];
	if (c < 0x80)
		return c;
	if (c < 0xe0) {
		cp = c & 0x1f;
		cp = (cp << 6) | (*i < len ? s[(*i)++] & 0x3f : 0);
	} else if (c < 0xf0) {
		cp = c & 0x0f;
		for (int k = 0; k < 2; k++)
			cp = (cp << 6) | (*i < len ? s[(*i)++] & 0x3f : 0);
	} else {
		cp = c & 0x07;
		for (int k = 0; k < 3; k++)
			cp = (cp << 6) | (*i < len ? s[(*i)++] & 0x3f : 0);
	}
	if (cp < 0x10000)
		return cp;
	cp -= 0x10000;
	*pending = 0xdc00 | (cp & 0x3ff);
	return 0xd800 | (cp >> 10);
}

static int
utf16_cmp(const char *a, const char *b)
{
	const unsigned char *ua = (const unsigned char *)a;
	const unsigned char *ub = (const unsigned char *)b;
	size_t la = strlen(a), lb = strlen(b), i = 0, j = 0;
	unsigned pa = 0, pb = 0;

	while ((i < la || pa) && (j < lb || pb)) {
		unsigned ca = next_unit(ua, la, &i, &pa);
		unsigned cb = next_unit(ub, lb, &j, &pb);

		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	if (i < la || pa)
		return 1;
	if (j < lb || pb)
		return -1;
	return 0;
}

static int
key_cmp(const void *x, const void *y)
{
	return utf16_cmp(*(const char *const *)x, *(const char *const *)y);
}

/* Bytes a JSON string carries as they are: not ", \\ or a control. */
static const unsigned char plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	[0x60] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x90] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xa0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xb0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xc0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xd0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xe0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xf0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * Whether none of the eight bytes at p needs escaping: no byte below 0x20,
 * no '"' and no '\\' (the word tests of "Bit Twiddling Hacks": a borrow
 * reaches a byte's top bit only from a byte that is below the bound, so
 * the answer is exact; bytes from 0x80 on have their top bit masked out).
 */
static int
plain8(const char *p)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = ones * 0x80;
	uint64_t v, q, bs;

	memcpy(&v, p, sizeof(v));
	q = v ^ (ones * '"');
	bs = v ^ (ones * '\\');
	return ((((v - ones * 0x20) & ~v) | ((q - ones) & ~q) |
	    ((bs - ones) & ~bs)) & high) == 0;
}

void
canon_put_string(struct textbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;

	buf_addc(b, '"');
	while (i < len) {
		unsigned char c;
		char u[6];

		/* Plain text, mostly: eight bytes at a time, then one. */
		while (i + 8 <= len && plain8(s + i))
			i += 8;
		if (i == len)
			break;
		c = (unsigned char)s[i];
		if (plain[c]) {
			i++;
			continue;
		}
		textbuf_add(b, s + run, i - run);
		switch (c) {
		case '"':  textbuf_add(b, "\\\"", 2); break;
		case '\\': textbuf_add(b, "\\\\", 2); break;
		case '\b': textbuf_add(b, "\\b", 2); break;
		case '\f': textbuf_add(b, "\\f", 2); break;
		case '\n': textbuf_add(b, "\\n", 2); break;
		case '\r': textbuf_add(b, "\\r", 2); break;
		case '\t': textbuf_add(b, "\\t", 2); break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 0xf];
			textbuf_add(b, u, 6);
			break;
		}
		run = ++i;
	}
	textbuf_add(b, s + run, len - run);
	buf_addc(b, '"');
}

/* Integers a double holds exactly: |i| <= 2^53 - 1 (RFC 8785 §3.2.2.3). */
#define CANON_INT_MAX	((json_int_t)9007199254740991LL)

static int
put_value(struct textbuf *b, const json_t *v, char *err, size_t errlen)
{
	char num[32];

	switch (json_typeof(v)) {
	case JSON_NULL:
		textbuf_add(b, "null", 4);
		return 0;
	case JSON_TRUE:
		textbuf_add(b, "true", 4);
		return 0;
	case JSON_FALSE:
		textbuf_add(b, "false", 5);
		return 0;
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);

		if (i > CANON_INT_MAX || i < -CANON_INT_MAX) {
			snprintf(err, errlen, "integer %" JSON_INTEGER_FORMAT
			    " is beyond the exact range of JSON numbers", i);
			return -1;
		}
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, i);
		textbuf_add(b, num, strlen(num));
		return 0;
	}
	case JSON_REAL:
		snprintf(err, errlen, "real number refused: entries hold no "
		    "floating point");
		return -1;
	case JSON_STRING:
		canon_put_string(b, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_ARRAY:
		buf_addc(b, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				buf_addc(b, ',');
			if (put_value(b, json_array_get(v, i), err, errlen) == -1)
				return -1;
		}
		buf_addc(b, ']');
		return 0;
	case JSON_OBJECT: {
		size_t n = json_object_size(v), k = 0;
		const char **keys;
		const char *key;
		json_t *val;
		int rc = 0;

		if (n == 0) {
			textbuf_add(b, "{}", 2);
			return 0;
		}
		if ((keys = calloc(n, sizeof(*keys))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		/* json_object_foreach wants a non-const object; it only reads. */
		json_object_foreach((json_t *)v, key, val)
			keys[k++] = key;
		qsort(keys, n, sizeof(*keys), key_cmp);
		buf_addc(b, '{');
		for (k = 0; k < n && rc == 0; k++) {
			if (k > 0)
				buf_addc(b, ',');
			canon_put_string(b, keys[k], strlen(keys[k]));
			buf_addc(b, ':');
			rc = put_value(b, json_object_get(v, keys[k]), err, errlen);
		}
		buf_addc(b, '}');
		free(keys);
		return rc;
	}
	}
	snprintf(err, errlen, "unknown JSON type");
	return -1;
}

char *
canon_dump(const json_t *v, size_t *lenp, char *err, size_t errlen)
{
	struct textbuf b = TEXTBUF_INIT;

	if (v == NULL) {
		snprintf(err, errlen, "no value");
		return NULL;
	}
	if (put_value(&b, v, err, errlen) == -1 || b.failed) {
		if (b.failed)
			snprintf(err, errlen, "out of memory");
		free(b.p);
		return NULL;
	}
	if (b.p == NULL)
		textbuf_add(&b, "", 0);
	if (lenp != NULL)
		*lenp = b.len;
	return b.p;
}

const char *
canon_json_error(const json_error_t *e, char *buf, size_t len)
{
	if (strstr(e->text, "JSON_ALLOW_NUL") != NULL)
		snprintf(buf, len, "a string holds \\u0000 (NUL), which JSON "
		    "here may not");
	else if (strstr(e->text, "NUL byte in object key") != NULL)
		snprintf(buf, len, "a key holds \\u0000 (NUL), which JSON here "
		    "may not");
	else if (strncmp(e->text, "control character 0x0 ", 22) == 0)
		snprintf(buf, len, "a raw NUL byte inside a string");
	else
		snprintf(buf, len, "%s", e->text);
	return buf;
}

json_t *
canon_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t e;
	json_t *v;
	char why[JSON_ERROR_TEXT_LENGTH + 64];

	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (v == NULL && err != NULL)
		snprintf(err, errlen, "not JSON: %s at byte %d",
		    canon_json_error(&e, why, sizeof(why)), e.position);
	return v;
}

int
canon_check(const char *buf, size_t len, char *err, size_t errlen)
{
	json_t *v;
	char *c;
	size_t clen;
	int rc = -1;

	if ((v = canon_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if ((c = canon_dump(v, &clen, err, errlen)) != NULL) {
		if (clen == len && memcmp(c, buf, len) == 0)
			rc = 0;
		else {
			size_t i = 0;

			while (i < len && i < clen && c[i] == buf[i])
				i++;
			snprintf(err, errlen, "not canonical JSON from byte %zu",
			    i);
		}
	}
	free(c);
	json_decref(v);
	return rc;
}

void
canon_sha256_hex(const void *buf, size_t len, char out[CANON_HASH_BUFSZ])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	/*
	 * The low-level interface, as merkle's digest(): the one-shot
	 * SHA256() fetches the algorithm from the provider and allocates a
	 * context at every call, ~2.5 us more than the hash of a report.
	 */
	SHA256_Init(&c);
	SHA256_Update(&c, buf, len);
	SHA256_Final(md, &c);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[CANON_HASH_HEXLEN] = '\0';
}

size_t
canon_utf8_len(const char *s, size_t avail)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp, min;
	size_t n;

	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 1, cp = p[0] & 0x1f, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 2, cp = p[0] & 0x0f, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 3, cp = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n >= avail)
		return 0;
	for (size_t i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

/* --- the member scanner -------------------------------------------------- */

/*
 * What a byte is to a string being scanned for plainness: 0 printable
 * ASCII that needs no escape, 1 '"', 2 '\\', 3 anything else.
 */
static const unsigned char strclass[256] = {
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

/*
 * The string at s[*i] == '"': *i past its closing quote. With plainp, also
 * whether it is printable ASCII without escapes, byte by byte (the strings
 * of reports are short). Without, memchr() to each quote and a count of
 * the backslashes before it (entries hold longer ones: hashes, texts).
 */
static int
scan_string(const char *s, size_t len, size_t *i, int *plainp)
{
	size_t j = *i + 1;
	int plain_so_far = 1;

	if (*i >= len || s[*i] != '"')
		return -1;
	while (plainp == NULL && j < len) {
		const char *q = memchr(s + j, '"', len - j);
		size_t bs = 0;

		if (q == NULL)
			return -1;
		j = (size_t)(q - s);
		while (j - bs > *i + 1 && s[j - bs - 1] == '\\')
			bs++;
		j++;
		if (bs % 2 == 0) {	/* not escaped */
			*i = j;
			return 0;
		}
	}
	for (;;) {
		while (j < len && strclass[(unsigned char)s[j]] == 0)
			j++;
		if (j >= len)
			return -1;
		switch (strclass[(unsigned char)s[j]]) {
		case 1:
			*i = j + 1;
			*plainp = plain_so_far;
			return 0;
		case 2:
			j++;	/* the escaped byte */
			/* FALLTHROUGH */
		default:
			plain_so_far = 0;
			j++;
		}
	}
}

int
canon_skip_string(const char *s, size_t len, size_t *i)
{
	return scan_string(s, len, i, NULL);
}

/* The bytes that matter inside an object or array being skipped. */
static const unsigned char bracket[256] = {
	['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1,
};

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
canon_skip_value(const char *s, size_t len, size_t *i)
{
	size_t depth = 0, j = *i;

	if (j >= len)
		return -1;
	if (s[j] == '"')
		return scan_string(s, len, i, NULL);
	if (s[j] != '{' && s[j] != '[') {
		/* A number, true, false or null: up to a delimiter. */
		while (j < len && s[j] != ',' && s[j] != '}' && s[j] != ']' &&
		    s[j] != ':' && s[j] != '"' && !is_ws(s[j]))
			j++;
		if (j == *i)
			return -1;
		*i = j;
		return 0;
	}
	for (;;) {
		char c;

		while (j < len && !bracket[(unsigned char)s[j]])
			j++;
		if (j >= len)
			return -1;
		if ((c = s[j]) == '"') {
			if (scan_string(s, len, &j, NULL) < 0)
				return -1;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (--depth == 0) {
			*i = j + 1;
			return 0;
		}
		j++;
	}
}

static size_t
skip_ws(const char *s, size_t len, size_t i, int flags)
{
	if (flags & CANON_SCAN_WS)
		while (i < len && is_ws(s[i]))
			i++;
	return i;
}

/*
 * The members of the object at s[*ip] == '{' into m (at most max), *ip
 * then past its '}'. With sub, the members of object values go there (at
 * most submax in all, counted in *nsub) in the same pass.
 */
static int
scan_object(const char *s, size_t len, int flags, size_t *ip,
    struct canon_member *m, size_t max, size_t *n, struct canon_member *sub,
    size_t submax, size_t *nsub)
{
	size_t i = *ip, k;

	*n = 0;
	if (i >= len || s[i] != '{')
		return -1;
	if ((i = skip_ws(s, len, i + 1, flags)) < len && s[i] == '}') {
		*ip = i + 1;
		return 0;
	}
	for (;;) {
		struct canon_member *c = &m[*n];

		if (*n == max || i >= len || s[i] != '"')
			return -1;
		k = i;
		c->kplain = c->vplain = 0;
		c->sub = c->nsub = 0;
		if (scan_string(s, len, &i, flags & CANON_SCAN_PLAIN ?
		    &c->kplain : NULL) < 0)
			return -1;
		c->key = s + k + 1;
		c->klen = i - k - 2;
		if ((i = skip_ws(s, len, i, flags)) >= len || s[i] != ':')
			return -1;
		k = i = skip_ws(s, len, i + 1, flags);
		if (sub != NULL && i < len && s[i] == '{') {
			c->sub = *nsub;
			if (scan_object(s, len, flags, &i, sub + *nsub,
			    submax - *nsub, &c->nsub, NULL, 0, NULL) < 0)
				return -1;
			*nsub += c->nsub;
		} else if (i < len && s[i] == '"') {
			if (scan_string(s, len, &i, flags & CANON_SCAN_PLAIN ?
			    &c->vplain : NULL) < 0)
				return -1;
		} else if (canon_skip_value(s, len, &i) < 0)
			return -1;
		c->val = s + k;
		c->vlen = i - k;
		(*n)++;
		if ((i = skip_ws(s, len, i, flags)) < len && s[i] == '}') {
			*ip = i + 1;
			return 0;
		}
		if (i >= len || s[i] != ',')
			return -1;
		i = skip_ws(s, len, i + 1, flags);
	}
}

int
canon_members_deep(const char *s, size_t len, int flags,
    struct canon_member *m, size_t max, size_t *n, struct canon_member *sub,
    size_t submax, size_t *nsub)
{
	size_t i = skip_ws(s, len, 0, flags);

	*n = 0;
	if (nsub != NULL)
		*nsub = 0;
	if (scan_object(s, len, flags, &i, m, max, n, sub, submax, nsub) < 0)
		return -1;
	return skip_ws(s, len, i, flags) == len ? 0 : -1;
}

int
canon_members(const char *s, size_t len, int flags, struct canon_member *m,
    size_t max, size_t *n)
{
	return canon_members_deep(s, len, flags, m, max, n, NULL, 0, NULL);
}

const struct canon_member *
canon_member_get(const struct canon_member *m, size_t n, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < n; i++)
		if (m[i].klen == kl && memcmp(m[i].key, key, kl) == 0)
			return &m[i];
	return NULL;
}

int
canon_plain_string(const char *s, size_t len)
{
	size_t i = 0;
	int p;

	return scan_string(s, len, &i, &p) == 0 && i == len && p;
}
