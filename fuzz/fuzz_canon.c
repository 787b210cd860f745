/*
 * fuzz_canon: RFC 8785 canonical JSON. Whatever canon_check() accepts is a
 * fixed point (parse then dump gives back the very bytes); whatever parses
 * and dumps gives a canonical text that checks, and dumping that again
 * changes nothing. The member scanner (canon_members(), which the replay
 * and the engine's fast report reader use) agrees with the parser: on an
 * object that parses, its spans are the object's keys and values; a
 * canonical object splits without CANON_SCAN_WS and its spans joined give
 * back its bytes; canon_members_deep() gives the same spans, and those of
 * each object value, and the plain flags are canon_plain_string()'s.
 * Nothing crashes or leaks on any input.
 */
#include "fuzz.h"

#include "shanhai/canon.h"

#define MAXM	64

/* A span parsed alone (a key wrapped in its quotes again). */
static json_t *
span(const char *s, size_t len, int key)
{
	char *t = malloc(len + 2), err[64];
	json_t *v;

	if (t == NULL)
		abort();
	if (key) {
		t[0] = '"';
		memcpy(t + 1, s, len);
		t[len + 1] = '"';
	} else
		memcpy(t, s, len);
	v = canon_parse(t, len + (key ? 2 : 0), err, sizeof(err));
	free(t);
	return v;
}

static void
scan(const char *s, size_t size, const json_t *v, int checked)
{
	static struct canon_member m[MAXM], mw[MAXM];
	size_t n, nw, len = 2;
	int strict = canon_members(s, size, 0, m, MAXM, &n) == 0,
	    ws = canon_members(s, size, CANON_SCAN_WS | CANON_SCAN_PLAIN, mw,
	    MAXM, &nw) == 0;

	if (strict) {
		FUZZ_CHECK(ws && nw == n, "split strictly, not with whitespace");
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(m[i].key == mw[i].key && m[i].vlen ==
			    mw[i].vlen, "the two splits differ at member %zu",
			    i);
	}
	if (ws) {
		static struct canon_member d[MAXM], sub[MAXM], each[MAXM];
		size_t nd, nsub, ne, at = 0;

		/* The deep split is the split, and the split of each object. */
		if (canon_members_deep(s, size, CANON_SCAN_WS | CANON_SCAN_PLAIN,
		    d, MAXM, &nd, sub, MAXM, &nsub) == 0) {
			FUZZ_CHECK(nd == nw, "deep: %zu members, %zu", nd, nw);
			for (size_t i = 0; i < nd; i++) {
				FUZZ_CHECK(d[i].val == mw[i].val && d[i].vlen ==
				    mw[i].vlen, "deep: value %zu", i);
				if (d[i].val[0] != '{') {
					FUZZ_CHECK(d[i].nsub == 0, "deep: sub");
					continue;
				}
				FUZZ_CHECK(d[i].sub == at, "deep: order");
				FUZZ_CHECK(canon_members(d[i].val, d[i].vlen,
				    CANON_SCAN_WS | CANON_SCAN_PLAIN, each, MAXM,
				    &ne) == 0 && ne == d[i].nsub, "deep: object");
				for (size_t k = 0; k < ne; k++)
					FUZZ_CHECK(each[k].key == sub[at + k].key &&
					    each[k].vlen == sub[at + k].vlen &&
					    each[k].vplain == sub[at + k].vplain,
					    "deep: member %zu", k);
				at += ne;
			}
			FUZZ_CHECK(at == nsub, "deep: count");
		}
	}
	if (checked && json_is_object(v) && json_object_size(v) <= MAXM) {
		FUZZ_CHECK(strict, "a canonical object does not split");
		for (size_t i = 0; i < n; i++)
			len += m[i].klen + m[i].vlen + 3 + (i > 0);
		FUZZ_CHECK(len == size || (n == 0 && size == 2),
		    "the spans of a canonical object are not all of it");
	}
	if (!ws || !json_is_object(v))
		return;
	FUZZ_CHECK(nw == json_object_size(v), "%zu members split, %zu parsed",
	    nw, json_object_size(v));
	for (size_t i = 0; i < nw; i++) {
		json_t *k = span(mw[i].key, mw[i].klen, 1),
		    *val = span(mw[i].val, mw[i].vlen, 0);

		FUZZ_CHECK(json_is_string(k), "key %zu is not a string", i);
		FUZZ_CHECK(val != NULL && json_equal(val, json_object_get(v,
		    json_string_value(k))), "value %zu is not the parsed one", i);
		if (canon_plain_string(mw[i].val, mw[i].vlen))
			FUZZ_CHECK(json_is_string(val) && json_string_length(val)
			    == mw[i].vlen - 2 && memcmp(json_string_value(val),
			    mw[i].val + 1, mw[i].vlen - 2) == 0,
			    "a plain string is not its text");
		FUZZ_CHECK(mw[i].kplain == canon_plain_string(mw[i].key - 1,
		    mw[i].klen + 2), "key %zu: plain flag", i);
		FUZZ_CHECK(mw[i].vplain == canon_plain_string(mw[i].val,
		    mw[i].vlen), "value %zu: plain flag", i);
		json_decref(k);
		json_decref(val);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *c, *c2;
	size_t clen, c2len;
	json_t *v, *v2;
	int checked;

	checked = canon_check((const char *)data, size, err, sizeof(err)) == 0;
	if ((v = canon_parse((const char *)data, size, err, sizeof(err))) == NULL) {
		FUZZ_CHECK(!checked, "canon_check accepted what does not parse");
		scan((const char *)data, size, NULL, 0);
		return 0;
	}
	scan((const char *)data, size, v, checked);
	c = canon_dump(v, &clen, err, sizeof(err));
	if (checked)
		FUZZ_CHECK(c != NULL && clen == size && memcmp(c, data, size) == 0,
		    "accepted as canonical but dumps differently");
	if (c != NULL) {
		FUZZ_CHECK(canon_check(c, clen, err, sizeof(err)) == 0,
		    "own output not canonical: %s", err);
		v2 = canon_parse(c, clen, err, sizeof(err));
		FUZZ_CHECK(v2 != NULL, "own output does not parse: %s", err);
		FUZZ_CHECK(json_equal(v, v2), "value changed by a round trip");
		c2 = canon_dump(v2, &c2len, err, sizeof(err));
		FUZZ_CHECK(c2 != NULL && c2len == clen &&
		    memcmp(c, c2, clen) == 0, "dump not idempotent");
		free(c2);
		json_decref(v2);
		/* The hash of a canonical text is its hex SHA-256, 64 digits. */
		char hex[CANON_HASH_BUFSZ];
		canon_sha256_hex(c, clen, hex);
		FUZZ_CHECK(strlen(hex) == CANON_HASH_HEXLEN, "hash length");
	}
	free(c);
	json_decref(v);
	return 0;
}
