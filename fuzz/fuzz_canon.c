/*
 * fuzz_canon: RFC 8785 canonical JSON. Whatever canon_check() accepts is a
 * fixed point (parse then dump gives back the very bytes); whatever parses
 * and dumps gives a canonical text that checks, and dumping that again
 * changes nothing. Nothing crashes or leaks on any input.
 */
#include "fuzz.h"

#include "shanhai/canon.h"

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
		return 0;
	}
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
