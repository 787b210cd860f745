/* test_canon: RFC 8785 serialization, the canonical check, SHA-256 hex. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shanhai/canon.h"
#include "shanhai/textbuf.h"

static void
expect_canon(const char *in, const char *want)
{
	char err[256];
	json_t *v = canon_parse(in, strlen(in), err, sizeof(err));
	char *got;
	size_t len;

	assert_non_null(v);
	got = canon_dump(v, &len, err, sizeof(err));
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(canon_check(got, len, err, sizeof(err)), 0);
	free(got);
	json_decref(v);
}

/* RFC 8785 §3.2.2.2's escaping one byte at a time, to compare with. */
static void
escape_slowly(struct textbuf *b, const unsigned char *s, size_t len)
{
	textbuf_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		const char *esc = NULL;

		switch (s[i]) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		}
		if (esc != NULL)
			textbuf_puts(b, esc);
		else if (s[i] < 0x20)
			textbuf_printf(b, "\\u%04x", s[i]);
		else
			textbuf_add(b, &s[i], 1);
	}
	textbuf_add(b, "\"", 1);
}

/*
 * canon_put_string() skips plain text eight bytes at a time: every byte
 * value at every offset of the eight, beside plain neighbours of every
 * kind, and random strings, must escape as the byte-at-a-time rule does.
 */
static void
string_escapes(void **state)
{
	static const unsigned char fill[] = { 'a', ' ', 0x7f, 0x80, 0xff, '#',
	    ']', 0x21, 0x5b, 0x5d };
	unsigned char s[64];
	uint32_t x = 12345;

	(void)state;
	for (unsigned c = 0; c < 256; c++)
		for (size_t at = 0; at < 24; at++)
			for (size_t f = 0; f < sizeof(fill); f++) {
				struct textbuf got = TEXTBUF_INIT;
				struct textbuf want = TEXTBUF_INIT;
				size_t len = 24 + at % 5;

				memset(s, fill[f], sizeof(s));
				s[at] = (unsigned char)c;
				canon_put_string(&got, (const char *)s, len);
				escape_slowly(&want, s, len);
				assert_false(got.failed || want.failed);
				assert_int_equal(got.len, want.len);
				assert_memory_equal(got.p, want.p, want.len);
				textbuf_release(&got);
				textbuf_release(&want);
			}
	for (int k = 0; k < 20000; k++) {
		struct textbuf got = TEXTBUF_INIT, want = TEXTBUF_INIT;
		size_t len = (size_t)k % 64;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			/* Mostly plain, some of everything. */
			s[i] = (x >> 24) % 4 ? (unsigned char)(0x20 + (x >> 8) % 95) :
			    (unsigned char)(x >> 16);
		}
		canon_put_string(&got, (const char *)s, len);
		escape_slowly(&want, s, len);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.p, want.p, want.len);
		textbuf_release(&got);
		textbuf_release(&want);
	}
}

static void
serialize(void **state)
{
	(void)state;
	expect_canon("{ \"b\" : 1, \"a\" : [true, false, null, \"x\"] }",
	    "{\"a\":[true,false,null,\"x\"],\"b\":1}");
	expect_canon("{}", "{}");
	expect_canon("[]", "[]");
	expect_canon("{\"a\":{\"d\":{},\"c\":[]}}", "{\"a\":{\"c\":[],\"d\":{}}}");
	/* minimal escapes; other control characters as lowercase \u00xx */
	expect_canon("\"\\\" \\\\ \\b \\f \\n \\r \\t \\u0001 \\u001f \\u007f\"",
	    "\"\\\" \\\\ \\b \\f \\n \\r \\t \\u0001 \\u001f \x7f\"");
	/* no escaping of / or of non-ASCII: UTF-8 output */
	expect_canon("\"\\/ \\u00e9 \\u4e2d \\ud83d\\ude00\"",
	    "\"/ \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"");
	expect_canon("-0", "0");
	expect_canon("[9007199254740991,-9007199254740991]",
	    "[9007199254740991,-9007199254740991]");
}

/* RFC 8785 §3.2.3: keys by UTF-16 code units, not by UTF-8 bytes. */
static void
key_order(void **state)
{
	(void)state;
	/* U+FB33 (UTF-16 0xFB33) sorts after U+1F600 (0xD83D...) in UTF-16
	 * but before it in UTF-8 byte order. */
	expect_canon("{\"\xef\xac\xb3\":1,\"\xf0\x9f\x98\x80\":2,\"a\":3,"
	    "\"\\u0080\":4,\"ab\":5,\"\":6}",
	    "{\"\":6,\"a\":3,\"ab\":5,\"\xc2\x80\":4,\"\xf0\x9f\x98\x80\":2,"
	    "\"\xef\xac\xb3\":1}");
}

static void
refusals(void **state)
{
	char err[256];
	json_t *v;

	(void)state;
	v = json_real(1.5);
	assert_null(canon_dump(v, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "real"));
	json_decref(v);
	v = json_integer(9007199254740992LL);
	assert_null(canon_dump(v, NULL, err, sizeof(err)));
	json_decref(v);
	assert_null(canon_parse("{\"a\":1,\"a\":2}", 13, err, sizeof(err)));
	assert_null(canon_parse("{", 1, err, sizeof(err)));
	assert_null(canon_parse("{} x", 4, err, sizeof(err)));
}

static void
check(void **state)
{
	static const char *const bad[] = {
		"{\"b\":1,\"a\":2}", "{ \"a\":1}", "{\"a\":1}\n", "{\"a\":1.0}",
		"{\"a\":\"\\u0041\"}", "{\"a\":\"\\/\"}", "{\"a\":1e2}",
		"{\"a\":1,\"a\":1}", "{\"a\":\"\\u00E9\"}", "[1, 2]", "",
		"{\"a\":-0}", "{\"a\":\"\\u001F\"}",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(canon_check(bad[i], strlen(bad[i]), err,
		    sizeof(err)), -1);
	assert_int_equal(canon_check("{\"a\":\"\\u001f\"}", 14, err,
	    sizeof(err)), 0);
}

static void
sha256(void **state)
{
	char hex[CANON_HASH_BUFSZ];

	(void)state;
	canon_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	canon_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}

/* A report of the published examples hashes to the published hash. */
static void
example_hash(void **state)
{
	const char *in = "{\"report_id\": \"yh-2026-01\", \"agreement\": "
	    "\"kecheng-yuhang\", \"period\": \"2026-01\", \"role\": \"host\", "
	    "\"taxes\": {\"vat\": \"312378.71\", \"cit\": \"149412.70\", "
	    "\"pit\": \"10486.37\"}, \"statistics\": {\"industrial_output\": "
	    "\"9623029.64\", \"gdp\": \"2226202.24\"}}";
	char err[256], hex[CANON_HASH_BUFSZ], *c;
	json_t *v = canon_parse(in, strlen(in), err, sizeof(err));
	size_t len;

	(void)state;
	assert_non_null(v);
	c = canon_dump(v, &len, err, sizeof(err));
	assert_non_null(c);
	canon_sha256_hex(c, len, hex);
	assert_string_equal(hex, "f2859e4c9cbed854e99766fd757f7509"
	    "0299c01cba1a6a4b58c653eeb81bd788");
	free(c);
	json_decref(v);
}

/* canon_utf8_len: each valid length, and what RFC 3629 forbids. */
static void
utf8_len(void **state)
{
	static const struct {
		const char	*s;
		size_t		 avail, want;
	} cases[] = {
		{ "a", 1, 1 },
		{ "\x7f", 1, 1 },
		{ "\xc2\x80", 2, 2 },		/* U+0080 */
		{ "\xe4\xb8\xad", 3, 3 },	/* U+4E2D */
		{ "\xf0\x9f\x98\x80", 4, 4 },	/* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 4, 4 },	/* U+10FFFF */
		{ "a", 0, 0 },
		{ "\x80", 1, 0 },		/* a lone continuation */
		{ "\xc0\x80", 2, 0 },		/* overlong NUL */
		{ "\xc1\xbf", 2, 0 },		/* overlong */
		{ "\xe0\x80\x80", 3, 0 },	/* overlong */
		{ "\xf0\x80\x80\x80", 4, 0 },	/* overlong */
		{ "\xed\xa0\x80", 3, 0 },	/* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", 4, 0 },	/* past U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xe4\xb8\xad", 2, 0 },	/* cut by avail */
		{ "\xe4\xb8", 2, 0 },		/* cut */
		{ "\xe4\x41\xad", 3, 0 },	/* not a continuation */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(canon_utf8_len(cases[i].s, cases[i].avail),
		    cases[i].want);
}

/* A parse error says what is wrong in words, never jansson's flag names. */
static void
parse_errors(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} t[] = {
		{ "{\"a\":\"x\\u0000y\"}", 0,
		  "not JSON: a string holds \\u0000 (NUL), which JSON here may not" },
		{ "{\"\\u0000\":1}", 0,
		  "not JSON: a key holds \\u0000 (NUL)" },
		{ "{\"a\":\"x\0y\"}", 11, "not JSON: a raw NUL byte inside a string" },
		{ "{\"a\":1,\"a\":2}", 0, "not JSON: duplicate object key" },
		{ "[1,", 0, "not JSON: " },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		json_t *v = canon_parse(t[i].in, len, err, sizeof(err));
		assert_null(v);
		if (strncmp(err, t[i].want, strlen(t[i].want)) != 0 ||
		    strstr(err, "JSON_") != NULL)
			fail_msg("case %zu: '%s', want '%s'", i, err, t[i].want);
	}
}

/* canon_members() of s: the "key=value" spans joined by '|', or NULL. */
static char *
members(const char *s, int flags, size_t max)
{
	struct canon_member m[16];
	size_t n;
	struct textbuf b = TEXTBUF_INIT;

	assert_true(max <= 16);
	if (canon_members(s, strlen(s), flags, m, max, &n) < 0)
		return NULL;
	textbuf_add(&b, "", 0);
	for (size_t i = 0; i < n; i++)
		textbuf_printf(&b, "%s%.*s=%.*s", i ? "|" : "", (int)m[i].klen,
		    m[i].key, (int)m[i].vlen, m[i].val);
	assert_false(b.failed);
	return b.p;
}

static void
expect_members(const char *s, int flags, const char *want)
{
	char *got = members(s, flags, 16);

	if (want == NULL) {
		if (got != NULL)
			fail_msg("%s: split as %s", s, got);
		return;
	}
	if (got == NULL)
		fail_msg("%s: not split", s);
	assert_string_equal(got, want);
	free(got);
}

/* The one member scanner, strict and with whitespace. */
static void
scanner(void **state)
{
	const struct canon_member *t;
	struct canon_member m[4];
	const char *s;
	size_t n, i;

	(void)state;
	expect_members("{}", 0, "");
	expect_members("{\"a\":\"b\",\"c\":{\"d\":[1,{\"e\":\"}\"}]},"
	    "\"f\":-1.5e3,\"g\":true,\"h\":null}", 0,
	    "a=\"b\"|c={\"d\":[1,{\"e\":\"}\"}]}|f=-1.5e3|g=true|h=null");
	/* Escaped quotes and backslashes, in keys and values. */
	expect_members("{\"a\\\"\":\"x\\\\\",\"b\":\"\\\"}\"}", 0,
	    "a\\\"=\"x\\\\\"|b=\"\\\"}\"");
	/* Whitespace only where the flag allows it, and kept out of spans. */
	expect_members("{ \"a\" : 1 ,\n\"b\":{ \"c\" : \"d\" } }", 0, NULL);
	expect_members(" {\t\"a\" : 1 ,\r\n\"b\":{ \"c\" : \"d\" } }\n",
	    CANON_SCAN_WS, "a=1|b={ \"c\" : \"d\" }");
	expect_members("{ }", CANON_SCAN_WS, "");
	/* Not one object. */
	expect_members("", 0, NULL);
	expect_members("[]", 0, NULL);
	expect_members("{\"a\":1}x", 0, NULL);
	expect_members("{\"a\":1}{}", CANON_SCAN_WS, NULL);
	expect_members("{\"a\":1,}", 0, NULL);
	expect_members("{\"a\"1}", 0, NULL);
	expect_members("{a:1}", 0, NULL);
	expect_members("{\"a\":}", 0, NULL);
	expect_members("{\"a\":\"b}", 0, NULL);
	expect_members("{\"a\":{\"b\":1}", 0, NULL);
	expect_members("{\"a\":[1,2}", 0, NULL);
	/* At most max members. */
	assert_int_equal(canon_members("{\"a\":1,\"b\":2}", 13, 0, m, 1, &n),
	    -1);
	assert_int_equal(canon_members("{\"a\":1,\"b\":2}", 13, 0, m, 2, &n),
	    0);
	assert_int_equal(n, 2);
	assert_non_null(t = canon_member_get(m, n, "b"));
	assert_memory_equal(t->val, "2", 1);
	assert_null(canon_member_get(m, n, "c"));
	/* With CANON_SCAN_PLAIN, which keys and values are plain strings. */
	s = "{\"a\":\"x\",\"b\\n\":\"\\u0041\",\"c\":1,\"d\":\"\xe4\xb8\xad\"}";
	assert_int_equal(canon_members(s, strlen(s), CANON_SCAN_PLAIN, m, 4,
	    &n), 0);
	assert_int_equal(n, 4);
	assert_true(m[0].kplain && m[0].vplain);
	assert_true(!m[1].kplain && !m[1].vplain);
	assert_true(m[2].kplain && !m[2].vplain);
	assert_true(m[3].kplain && !m[3].vplain);
	assert_int_equal(canon_members("{\"a\":\"x\"}", 9, 0, m, 4, &n), 0);
	assert_true(!m[0].kplain && !m[0].vplain);	/* not asked */
	/* One level deeper in the same pass. */
	{
		struct canon_member sub[3];
		size_t nsub;

		s = "{\"a\":\"x\",\"b\":{\"c\":\"d\",\"e\":{\"f\":1}},\"g\":{}}";
		assert_int_equal(canon_members_deep(s, strlen(s), 0, m, 4, &n,
		    sub, 3, &nsub), 0);
		assert_int_equal(n, 3);
		assert_int_equal(nsub, 2);
		assert_int_equal(m[0].nsub, 0);
		assert_int_equal(m[1].sub, 0);
		assert_int_equal(m[1].nsub, 2);
		assert_int_equal(m[1].vlen, 21);
		assert_memory_equal(sub[1].key, "e", 1);
		assert_int_equal(sub[1].vlen, 7);	/* {"f":1}, not split */
		assert_int_equal(m[2].nsub, 0);
		assert_int_equal(m[2].vlen, 2);
		assert_int_equal(canon_members_deep(s, strlen(s), 0, m, 4, &n,
		    sub, 1, &nsub), -1);
	}
	/* Values alone. */
	i = 0;
	assert_int_equal(canon_skip_value("[\"]\",[]],", 9, &i), 0);
	assert_int_equal(i, 8);
	i = 0;
	assert_int_equal(canon_skip_value("\"a\\\\\"b", 6, &i), 0);
	assert_int_equal(i, 5);
	i = 0;
	assert_int_equal(canon_skip_string("\"a\\\"", 4, &i), -1);
	i = 0;
	assert_int_equal(canon_skip_value("12 ", 3, &i), 0);
	assert_int_equal(i, 2);
	i = 0;
	assert_int_equal(canon_skip_value(",", 1, &i), -1);
	/* Plain strings: printable ASCII, no escape. */
	assert_true(canon_plain_string("\"ab c\"", 6));
	assert_true(canon_plain_string("\"\"", 2));
	assert_false(canon_plain_string("\"a\\nb\"", 6));
	assert_false(canon_plain_string("\"a\tb\"", 5));
	assert_false(canon_plain_string("\"\xe4\xb8\xad\"", 5));
	assert_false(canon_plain_string("\"", 1));
	assert_false(canon_plain_string("1", 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(serialize),
		cmocka_unit_test(parse_errors),
		cmocka_unit_test(string_escapes),
		cmocka_unit_test(key_order),
		cmocka_unit_test(refusals),
		cmocka_unit_test(check),
		cmocka_unit_test(sha256),
		cmocka_unit_test(example_hash),
		cmocka_unit_test(utf8_len),
		cmocka_unit_test(scanner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
