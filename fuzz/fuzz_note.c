/*
 * fuzz_note: the strict parsers of signed notes, checkpoints, tlog proofs,
 * verifier keys and base64. The first input byte picks the parser. What is
 * accepted is canonical: base64 and checkpoints and proofs that parse
 * format back to the very bytes given (checkpoint extension lines and a
 * proof's extra line aside); an opened note's text is a prefix ending in a
 * newline. Nothing crashes or leaks on any input.
 */
#include "fuzz.h"

#include "shanhai/note.h"

/* golang.org/x/mod/sumdb/note's example key. */
#define VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"

static struct note_verifier *v;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	if (note_verifier_parse(VKEY, &v, err, sizeof(err)) != 0)
		abort();
	return 0;
}

static void
base64(const char *s, size_t len)
{
	unsigned char out[4096];
	long n = note_b64_decode(s, len, out, sizeof(out));

	if (n < 0)
		return;
	char *again = note_b64_encode(out, (size_t)n);
	FUZZ_CHECK(again != NULL && strlen(again) == len &&
	    memcmp(again, s, len) == 0, "decoded base64 is not canonical");
	free(again);
}

static void
checkpoint(const char *s, size_t len)
{
	unsigned char root[NOTE_HASH_SIZE];
	char err[256], *origin, *body;
	uint64_t size;

	if (note_checkpoint_parse(s, len, &origin, &size, root, err,
	    sizeof(err)) != 0) {
		FUZZ_CHECK(origin == NULL, "origin left on refusal");
		return;
	}
	body = note_checkpoint_body(origin, size, root);
	FUZZ_CHECK(body != NULL && strlen(body) <= len &&
	    memcmp(body, s, strlen(body)) == 0,
	    "accepted checkpoint does not format back");
	free(body);
	free(origin);
}

static void
proof(const char *s, size_t len)
{
	unsigned char hashes[NOTE_MAX_PROOF][NOTE_HASH_SIZE], *extra;
	const char *cp;
	char err[256], *again;
	size_t n, cplen, xlen;
	uint64_t index;

	if (note_proof_parse(s, len, &index, &extra, &xlen, hashes, &n, &cp,
	    &cplen, err, sizeof(err)) != 0)
		return;
	FUZZ_CHECK(cp > s && cp + cplen == s + len, "checkpoint outside");
	FUZZ_CHECK((extra == NULL) == (xlen == 0), "extra without length");
	FUZZ_CHECK(note_proof_format(index, extra, xlen,
	    (const unsigned char (*)[NOTE_HASH_SIZE])hashes, n, cp, cplen,
	    &again) == 0, "cannot format");
	/* The checkpoint is opaque here (it may even hold NULs). */
	size_t pre = (size_t)(cp - s);
	FUZZ_CHECK(strnlen(again, pre) == pre && memcmp(again, s, pre) == 0 &&
	    memcmp(again + pre, cp, cplen) == 0,
	    "accepted proof does not format back");
	free(again);
	free(extra);
}

static void
note(const char *s, size_t len)
{
	char err[256];
	size_t textlen;
	int ok;

	if (note_open(s, len, &v, 1, &textlen, &ok, err, sizeof(err)) != 0)
		return;
	FUZZ_CHECK(ok == 1 && textlen > 0 && textlen < len &&
	    s[textlen - 1] == '\n' && s[textlen] == '\n', "bad text split");
}

static void
vkey(const char *s)
{
	struct note_verifier *w;
	char err[256];

	if (note_verifier_parse(s, &w, err, sizeof(err)) == 0) {
		FUZZ_CHECK(strchr(s, '+') - s ==
		    (ptrdiff_t)strlen(note_verifier_name(w)), "name");
		note_verifier_free(w);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *s = fuzz_strndup(data + 1, size - 1);
	size_t len = size - 1;

	switch (data[0] % 5) {
	case 0: base64(s, len); break;
	case 1: checkpoint(s, len); break;
	case 2: proof(s, len); break;
	case 3: note(s, len); break;
	case 4: vkey(s); break;
	}
	free(s);
	return 0;
}
