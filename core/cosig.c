/*
 * cosig: tlog-cosignature v1 (Ed25519) lines, signed and checked. The note
 * syntax is note.c's; this file knows only the cosigned message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/cosig.h"
#include "shanhai/errbuf.h"
#include "shanhai/note.h"

#define COSIG_HEADER	"cosignature/v1\n"
#define EM_DASH		"\xe2\x80\x94 "
/* Longest timestamp line: "time " and 19 digits (2^63 - 1) and "\n". */
#define TIME_LINE_MAX	(5 + 19 + 1)

/* The signed message for text at `when`; *msglen its length; to free. */
static char *
message(const char *text, size_t len, uint64_t when, size_t *msglen)
{
	size_t hl = strlen(COSIG_HEADER);
	char *m;
	int n;

	if ((m = malloc(hl + TIME_LINE_MAX + len + 1)) == NULL)
		return NULL;
	memcpy(m, COSIG_HEADER, hl);
	n = snprintf(m + hl, TIME_LINE_MAX + 1, "time %" PRIu64 "\n", when);
	memcpy(m + hl + (size_t)n, text, len);
	*msglen = hl + (size_t)n + len;
	return m;
}

int
cosig_sign(const struct note_signer *s, const char *text, size_t len,
    uint64_t when, char **line)
{
	unsigned char sig[4 + COSIG_SIG_SIZE];
	uint32_t id = note_signer_id(s);
	size_t mlen;
	char *m, *b64;
	int rc;

	*line = NULL;
	if (note_signer_type(s) != NOTE_COSIG_ED25519 || when > INT64_MAX ||
	    len == 0 || text[len - 1] != '\n')
		return NOTE_EFORMAT;
	if ((m = message(text, len, when, &mlen)) == NULL)
		return NOTE_ESYS;
	sig[0] = (unsigned char)(id >> 24);
	sig[1] = (unsigned char)(id >> 16);
	sig[2] = (unsigned char)(id >> 8);
	sig[3] = (unsigned char)id;
	for (int i = 0; i < 8; i++)
		sig[4 + i] = (unsigned char)(when >> (56 - 8 * i));
	rc = note_signer_sign_ed25519(s, m, mlen, sig + 12);
	free(m);
	if (rc < 0)
		return NOTE_ESYS;
	if ((b64 = note_b64_encode(sig, sizeof(sig))) == NULL)
		return NOTE_ESYS;
	if (asprintf(line, EM_DASH "%s %s\n", note_signer_name(s), b64) == -1) {
		*line = NULL;
		rc = NOTE_ESYS;
	}
	free(b64);
	return rc;
}

struct verify_ctx {
	struct note_verifier *const *vs;
	size_t		 nvs;
	uint64_t	 now;
	int		*valid;
	uint64_t	*when;
};

static int
check_line(void *arg, const char *text, size_t textlen,
    const struct note_sig *ns, char *err, size_t errlen)
{
	struct verify_ctx *c = arg;
	const struct note_verifier *v;
	uint64_t when = 0;
	size_t mlen;
	char *m;
	int rc;

	for (size_t i = 0; i < c->nvs; i++) {
		v = c->vs[i];
		if (!note_sig_by(ns, v))
			continue;
		if (ns->siglen != COSIG_SIG_SIZE) {
			seterr(err, errlen, "cosignature by %s+%08" PRIx32 ": "
			    "%zu bytes, not a timestamp and an Ed25519 "
			    "signature", note_verifier_name(v),
			    note_verifier_id(v), ns->siglen);
			return NOTE_EVERIFY;
		}
		for (int k = 0; k < 8; k++)
			when = when << 8 | ns->sig[k];
		if (when > INT64_MAX) {
			seterr(err, errlen, "cosignature by %s: timestamp "
			    "above 2^63 - 1", note_verifier_name(v));
			return NOTE_EVERIFY;
		}
		if ((m = message(text, textlen, when, &mlen)) == NULL) {
			seterr(err, errlen, "out of memory");
			return NOTE_ESYS;
		}
		rc = note_verifier_check(v, m, mlen, ns->sig + 8, 64);
		free(m);
		if (rc < 0) {
			seterr(err, errlen, "cosignature by %s+%08" PRIx32
			    " does not verify", note_verifier_name(v),
			    note_verifier_id(v));
			return NOTE_EVERIFY;
		}
		if (when > c->now + COSIG_MAX_SKEW) {
			seterr(err, errlen, "cosignature by %s is dated %"
			    PRIu64 ", %" PRIu64 " s in the future",
			    note_verifier_name(v), when, when - c->now);
			return NOTE_EVERIFY;
		}
		c->valid[i] = 1;
		if (c->when != NULL)
			c->when[i] = when;
	}
	return 0;
}

int
cosig_verify(const char *msg, size_t len, struct note_verifier *const *vs,
    size_t nvs, uint64_t now, int *valid, uint64_t *when, size_t *count,
    char *err, size_t errlen)
{
	struct verify_ctx c = { vs, nvs, now, valid, when };
	size_t textlen;
	int rc;

	*count = 0;
	memset(valid, 0, nvs * sizeof(*valid));
	for (size_t i = 0; i < nvs; i++)
		if (note_verifier_type(vs[i]) != NOTE_COSIG_ED25519) {
			seterr(err, errlen, "%s: not a cosigner (witness) key "
			    "(type 0x%02x, not 0x04)", note_verifier_name(vs[i]),
			    (unsigned)note_verifier_type(vs[i]));
			return NOTE_EFORMAT;
		}
	if ((rc = note_sigs(msg, len, &textlen, check_line, &c, err,
	    errlen)) < 0) {
		memset(valid, 0, nvs * sizeof(*valid));
		return rc;
	}
	/* The same key given twice is one witness. */
	for (size_t i = 0; i < nvs; i++) {
		int dup = 0;
		for (size_t j = 0; j < i && !dup; j++)
			dup = valid[j] && note_verifier_id(vs[j]) ==
			    note_verifier_id(vs[i]) &&
			    strcmp(note_verifier_name(vs[j]),
			    note_verifier_name(vs[i])) == 0;
		*count += valid[i] && !dup;
	}
	return 0;
}
