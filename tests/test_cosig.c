/*
 * test_cosig: tlog-cosignature v1 lines. Cosigner keys (type 0x04: their
 * own key ID, refused by note_sign), a table of cosigned notes checked
 * against sets of witness keys (valid, tampered, future-dated, truncated,
 * unknown, the same key twice), and the message layout itself checked with
 * a bare Ed25519 verification of the bytes the spec defines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "shanhai/cosig.h"
#include "shanhai/note.h"

#define ORIGIN	"test.example/log"
#define NOW	1700000000ULL
#define EM	"\xe2\x80\x94 "

static char dir[256];
static char errbuf[512];
static struct note_signer *logkey, *w1, *w2, *w3;
static struct note_verifier *vlog, *v1, *v2, *v3;
static char *text;

static char *
path(const char *name)
{
	static char buf[400];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static struct note_signer *
gen(const char *file, const char *name, int type)
{
	struct note_signer *s;

	assert_int_equal(note_key_generate(path(file), name, type, &s, errbuf,
	    sizeof(errbuf)), 0);
	return s;
}

static struct note_verifier *
verifier(const struct note_signer *s)
{
	struct note_verifier *v;
	char *vk = note_signer_vkey(s);

	assert_non_null(vk);
	assert_int_equal(note_verifier_parse(vk, &v, errbuf, sizeof(errbuf)),
	    0);
	free(vk);
	return v;
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");
	unsigned char root[32] = { 1, 2, 3 };

	snprintf(dir, sizeof(dir), "%s/cosig-XXXXXX", t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	logkey = gen("log.key", ORIGIN, NOTE_ED25519);
	w1 = gen("w1.key", "witness.one.example", NOTE_COSIG_ED25519);
	w2 = gen("w2.key", "witness.two.example", NOTE_COSIG_ED25519);
	w3 = gen("w3.key", "witness.three.example", NOTE_COSIG_ED25519);
	vlog = verifier(logkey);
	v1 = verifier(w1);
	v2 = verifier(w2);
	v3 = verifier(w3);
	text = note_checkpoint_body(ORIGIN, 42, root);
	return text == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	note_signer_free(logkey);
	note_signer_free(w1);
	note_signer_free(w2);
	note_signer_free(w3);
	note_verifier_free(vlog);
	note_verifier_free(v1);
	note_verifier_free(v2);
	note_verifier_free(v3);
	free(text);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The log's signed checkpoint with cosignature lines appended; to free. */
static char *
cosigned(const char *extra_lines)
{
	char *note, *out;
	size_t len;

	assert_int_equal(note_sign(text, strlen(text), &logkey, 1, &note, &len,
	    errbuf, sizeof(errbuf)), 0);
	assert_true(asprintf(&out, "%s%s", note, extra_lines) != -1);
	free(note);
	return out;
}

static char *
line(const struct note_signer *s, uint64_t when)
{
	char *l = NULL;
	int rc = cosig_sign(s, text, strlen(text), when, &l);

	if (rc != 0 || l == NULL)
		fail_msg("cosig_sign: %d", rc);
	return l;
}

static void
test_cosigner_keys(void **state)
{
	char *vk = note_signer_vkey(w1), *note;
	unsigned char key[33];
	size_t len;

	/* name+id+base64(0x04 || key): "BA", "BB", "BC" or "BD" ... */
	assert_non_null(vk);
	const char *b64 = strchr(strchr(vk, '+') + 1, '+') + 1;
	assert_int_equal(note_b64_decode(b64, strlen(b64), key, sizeof(key)),
	    33);
	assert_int_equal(key[0], 0x04);
	assert_int_equal(note_verifier_type(v1), NOTE_COSIG_ED25519);
	/* The ID commits to the type byte: not the Ed25519 note key's ID. */
	assert_int_equal(note_verifier_id(v1),
	    note_key_id("witness.one.example", key, 33));
	key[0] = 0x01;
	assert_int_not_equal(note_verifier_id(v1),
	    note_key_id("witness.one.example", key, 33));
	free(vk);
	/* A cosigner never signs a plain note. */
	assert_int_equal(note_sign(text, strlen(text), &w1, 1, &note, &len,
	    errbuf, sizeof(errbuf)), NOTE_EFORMAT);
	assert_non_null(strstr(errbuf, "cosigner key"));
	/* And a note key never signs a cosignature. */
	assert_int_equal(cosig_sign(logkey, text, strlen(text), NOW, &note),
	    NOTE_EFORMAT);
	/* A cosigner's key file loads back as that cosigner. */
	struct note_signer *again;
	assert_int_equal(note_key_load(path("w1.key"), "witness.one.example",
	    &again, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_signer_set_cosigner(again), 0);
	assert_int_equal(note_signer_id(again), note_signer_id(w1));
	note_signer_free(again);
}

/* The signed bytes are exactly those of the spec. */
static void
test_message_layout(void **state)
{
	char *l = line(w1, NOW), *msg;
	unsigned char raw[4 + 72], pub[33];
	char *vk = note_signer_vkey(w1);
	const char *b64 = strchr(l + strlen(EM), ' ') + 1;

	assert_int_equal(strncmp(l, EM "witness.one.example ", strlen(EM) + 20),
	    0);
	assert_int_equal(note_b64_decode(b64, strlen(b64) - 1, raw,
	    sizeof(raw)), 76);
	uint64_t when = 0;
	for (int i = 0; i < 8; i++)
		when = when << 8 | raw[4 + i];
	assert_int_equal(when, NOW);
	assert_int_equal((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
	    (uint32_t)raw[2] << 8 | raw[3], note_signer_id(w1));
	const char *kb = strchr(strchr(vk, '+') + 1, '+') + 1;
	assert_int_equal(note_b64_decode(kb, strlen(kb), pub, sizeof(pub)), 33);
	assert_true(asprintf(&msg, "cosignature/v1\ntime %" PRIu64 "\n%s",
	    (uint64_t)NOW, text) != -1);
	assert_int_equal(crypto_sign_verify_detached(raw + 12,
	    (unsigned char *)msg, strlen(msg), pub + 1), 0);
	msg[strlen("cosignature/v1\ntime 1")] = '8';
	assert_int_not_equal(crypto_sign_verify_detached(raw + 12,
	    (unsigned char *)msg, strlen(msg), pub + 1), 0);
	free(msg);
	free(vk);
	free(l);
}

enum mutation { NONE, TAMPER_TEXT, TRUNCATE_SIG };

static void
test_verify_table(void **state)
{
	struct {
		const char	*what;
		int		 by[3];		/* cosign with w1, w2, w3? */
		int64_t		 skew;		/* timestamp - NOW */
		enum mutation	 mut;
		int		 keys[4];	/* 1..3: v1..v3, in order; 0 ends */
		int		 rc;
		size_t		 count;
		const char	*why;
	} cases[] = {
		{ "one of one", { 1, 0, 0 }, 0, NONE, { 1 }, 0, 1, NULL },
		{ "two of two", { 1, 1, 0 }, 0, NONE, { 1, 2 }, 0, 2, NULL },
		{ "two of three keys", { 1, 1, 0 }, 0, NONE, { 1, 2, 3 }, 0, 2,
		  NULL },
		{ "none known", { 0, 0, 1 }, 0, NONE, { 1, 2 }, 0, 0, NULL },
		{ "the same key twice is one", { 1, 0, 0 }, 0, NONE, { 1, 1 },
		  0, 1, NULL },
		{ "unknown cosigner ignored", { 1, 0, 1 }, 0, NONE, { 1 }, 0, 1,
		  NULL },
		{ "within the skew", { 1, 0, 0 }, COSIG_MAX_SKEW, NONE, { 1 },
		  0, 1, NULL },
		{ "in the past", { 1, 0, 0 }, -86400, NONE, { 1 }, 0, 1, NULL },
		{ "dated in the future", { 1, 1, 0 }, 3600, NONE, { 1, 2 },
		  NOTE_EVERIFY, 0, "in the future" },
		{ "tampered text", { 1, 0, 0 }, 0, TAMPER_TEXT, { 1 },
		  NOTE_EVERIFY, 0, "does not verify" },
		{ "tampered text, unknown cosigner", { 0, 0, 1 }, 0,
		  TAMPER_TEXT, { 1 }, 0, 0, NULL },
		{ "truncated cosignature", { 1, 0, 0 }, 0, TRUNCATE_SIG, { 1 },
		  NOTE_EVERIFY, 0, "not a timestamp" },
	};
	struct note_verifier *vv[] = { NULL, v1, v2, v3 };
	struct note_signer *ws[] = { w1, w2, w3 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char lines[2048] = "", *note;
		struct note_verifier *keys[4];
		int valid[4];
		uint64_t when[4];
		size_t nk = 0, count = 99;

		for (int i = 0; i < 3; i++)
			if (cases[c].by[i]) {
				char *l = line(ws[i], NOW + cases[c].skew);
				if (cases[c].mut == TRUNCATE_SIG) {
					/* 4 + 68 bytes: a valid base64 of less. */
					char *b = strchr(l + strlen(EM), ' ') + 1;
					unsigned char raw[76];
					assert_int_equal(note_b64_decode(b,
					    strlen(b) - 1, raw, sizeof(raw)), 76);
					char *s = note_b64_encode(raw, 72);
					snprintf(b, strlen(b) + 1, "%s\n", s);
					free(s);
				}
				strcat(lines, l);
				free(l);
			}
		note = cosigned(lines);
		if (cases[c].mut == TAMPER_TEXT)
			note[strlen(ORIGIN) + 1] = '7';	/* size 42 -> 72 */
		while (nk < 4 && cases[c].keys[nk] != 0) {
			keys[nk] = vv[cases[c].keys[nk]];
			nk++;
		}
		errbuf[0] = '\0';
		int rc = cosig_verify(note, strlen(note), keys, nk, NOW, valid,
		    when, &count, errbuf, sizeof(errbuf));
		if (rc != cases[c].rc || (rc == 0 && count != cases[c].count))
			fail_msg("%s: rc %d count %zu (%s)", cases[c].what, rc,
			    count, errbuf);
		if (cases[c].why != NULL && strstr(errbuf, cases[c].why) == NULL)
			fail_msg("%s: '%s' lacks '%s'", cases[c].what, errbuf,
			    cases[c].why);
		if (rc == 0 && count > 0 && valid[0])
			assert_int_equal(when[0], NOW + cases[c].skew);
		free(note);
	}
}

/* The log's key checks the checkpoint; cosignatures do not disturb it. */
static void
test_note_open_ignores_cosignatures(void **state)
{
	char *l1 = line(w1, NOW), *l2 = line(w2, NOW), both[1024], *note;
	struct note_verifier *vs[] = { vlog, v1 };
	size_t tl;
	int verified[2];

	snprintf(both, sizeof(both), "%s%s", l1, l2);
	note = cosigned(both);
	assert_int_equal(note_open(note, strlen(note), vs, 2, &tl, verified,
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(tl, strlen(text));
	assert_int_equal(verified[0], 1);
	assert_int_equal(verified[1], 0);
	/* Only cosigner keys: the log's signature is not theirs to check. */
	assert_int_equal(note_open(note, strlen(note), vs + 1, 1, &tl, NULL,
	    errbuf, sizeof(errbuf)), NOTE_EVERIFY);
	/* And a note key among witness keys is refused, by name. */
	int valid[2];
	size_t count;
	assert_int_equal(cosig_verify(note, strlen(note), vs, 2, NOW, valid,
	    NULL, &count, errbuf, sizeof(errbuf)), NOTE_EFORMAT);
	assert_non_null(strstr(errbuf, "not a cosigner"));
	free(note);
	free(l1);
	free(l2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cosigner_keys),
		cmocka_unit_test(test_message_layout),
		cmocka_unit_test(test_verify_table),
		cmocka_unit_test(test_note_open_ignores_cosignatures),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
