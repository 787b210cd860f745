/*
 * test_note: signed notes against Go's golang.org/x/mod/sumdb/note vector
 * (byte for byte), strict parsing (key IDs, canonical base64, line
 * structure), unknown signatures ignored, SM2 co-signatures, checkpoints,
 * tlog proofs, and key files (mode, no overwrite).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "shanhai/merkle.h"
#include "shanhai/note.h"

/* golang.org/x/mod/sumdb/note's documented example. */
#define GO_VKEY	"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define GO_TEXT	"If you think cryptography is the answer to your problem,\n" \
		"then you don't know what your problem is.\n"
#define GO_SIG	"x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
#define GO_NOTE	GO_TEXT "\n\xe2\x80\x94 PeterNeumann " GO_SIG "\n"
/* The same key's Ed25519 seed (from "PRIVATE+KEY+PeterNeumann+c74f20a3+..."). */
#define GO_SEED	"gQoUAtUUbI2E8kQzMPVAgOv5juF9nHT2JS/F1ccoMXM="

static char dir[256];
static char errbuf[512];

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/note-XXXXXX", t ? t : "/tmp");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
path(const char *name)
{
	static char buf[4][400];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* Writes an Ed25519 key of the given seed as a PKCS#8 PEM file (0600). */
static void
write_ed25519_key(const char *file, const unsigned char seed[32])
{
	unsigned char der[48] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05,
	    0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
	char *b64;
	FILE *f;

	memcpy(der + 16, seed, 32);
	b64 = note_b64_encode(der, sizeof(der));
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n",
	    b64);
	fclose(f);
	chmod(file, 0600);
	free(b64);
}

/* Writes the Go example key. */
static void
write_go_key(const char *file)
{
	unsigned char seed[32];

	assert_int_equal(note_b64_decode(GO_SEED, strlen(GO_SEED), seed, 32),
	    32);
	write_ed25519_key(file, seed);
}

static struct note_verifier *
verifier(const char *text)
{
	struct note_verifier *v;

	if (note_verifier_parse(text, &v, errbuf, sizeof(errbuf)) != 0)
		fail_msg("%s: %s", text, errbuf);
	return v;
}

static int
open_with(const char *msg, struct note_verifier *v)
{
	size_t tl;

	return note_open(msg, strlen(msg), &v, 1, &tl, NULL, errbuf,
	    sizeof(errbuf));
}

static void
test_go_vector(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_signer *s;
	char *out, *vk;
	size_t len, tl;
	int ok[1];

	assert_string_equal(note_verifier_name(v), "PeterNeumann");
	assert_int_equal(note_verifier_id(v), 0xc74f20a3);
	assert_int_equal(note_open(GO_NOTE, strlen(GO_NOTE), &v, 1, &tl, ok,
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(tl, strlen(GO_TEXT));
	assert_int_equal(ok[0], 1);

	write_go_key(path("go.pem"));
	assert_int_equal(note_key_load(path("go.pem"), "PeterNeumann", &s,
	    errbuf, sizeof(errbuf)), 0);
	vk = note_signer_vkey(s);
	assert_string_equal(vk, GO_VKEY);
	assert_int_equal(note_sign(GO_TEXT, strlen(GO_TEXT), &s, 1, &out, &len,
	    errbuf, sizeof(errbuf)), 0);
	assert_string_equal(out, GO_NOTE);
	assert_int_equal(len, strlen(GO_NOTE));
	free(out);
	free(vk);
	note_signer_free(s);
	note_verifier_free(v);
}

/*
 * Ed25519 notes are signed with libsodium; RFC 8032 signatures are
 * deterministic, so each must be the very bytes OpenSSL's EVP_DigestSign
 * gives for the same seed and text: random seeds, texts of 1 to 400 bytes.
 */
static void
test_ed25519_same_as_openssl(void **state)
{
	unsigned char seed[32], want[64], got[4 + 64 + 1];
	char text[402], *out, *sig;
	struct note_signer *s;
	EVP_PKEY *pkey;
	EVP_MD_CTX *md;
	size_t len, n;

	for (int k = 0; k < 64; k++) {
		assert_int_equal(RAND_bytes(seed, sizeof(seed)), 1);
		n = 1 + (size_t)k * 397 / 63;
		for (size_t i = 0; i + 1 < n; i++)
			text[i] = (char)(' ' + (seed[i % 32] + i) % 95);
		text[n - 1] = '\n';
		text[n] = '\0';

		write_ed25519_key(path("rand.pem"), seed);
		assert_int_equal(note_key_load(path("rand.pem"), "rand", &s,
		    errbuf, sizeof(errbuf)), 0);
		unlink(path("rand.pem"));
		assert_int_equal(note_sign(text, n, &s, 1, &out, &len, errbuf,
		    sizeof(errbuf)), 0);
		sig = strrchr(out, ' ');
		assert_non_null(sig);
		assert_int_equal(note_b64_decode(sig + 1, strlen(sig + 1) - 1,
		    got, sizeof(got)), 4 + 64);

		pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
		    seed, sizeof(seed));
		md = EVP_MD_CTX_new();
		assert_non_null(pkey);
		assert_non_null(md);
		assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, pkey),
		    1);
		len = sizeof(want);
		assert_int_equal(EVP_DigestSign(md, want, &len,
		    (const unsigned char *)text, n), 1);
		assert_int_equal(len, 64);
		assert_memory_equal(got + 4, want, 64);

		EVP_MD_CTX_free(md);
		EVP_PKEY_free(pkey);
		free(out);
		note_signer_free(s);
	}
}

static void
test_verifier_keys(void **state)
{
	struct note_verifier *v;
	static const char *bad[] = {
		"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",	/* wrong ID */
		"PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",	/* upper-case ID */
		"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",	/* short ID */
		"PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",	/* other name */
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",	/* other key */
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",	/* not base64 */
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",	/* padding */
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",
		"PeterNeumann+c74f20a3",
		"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		/* a type 0x02 key of the right ID is still refused: unknown type */
		"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = (void *)1;
		assert_int_not_equal(note_verifier_parse(bad[i], &v, errbuf,
		    sizeof(errbuf)), 0);
		assert_null(v);
	}
	assert_int_equal(note_verifier_parse(GO_VKEY "x", &v, errbuf,
	    sizeof(errbuf)), NOTE_EFORMAT);
}

static void
test_base64(void **state)
{
	unsigned char out[8];

	assert_int_equal(note_b64_decode("", 0, out, 8), 0);
	assert_int_equal(note_b64_decode("AA==", 4, out, 8), 1);
	assert_int_equal(note_b64_decode("AB==", 4, out, 8), -1);	/* stray bits */
	assert_int_equal(note_b64_decode("AAA=", 4, out, 8), 2);
	assert_int_equal(note_b64_decode("AAB=", 4, out, 8), -1);
	assert_int_equal(note_b64_decode("AA=A", 4, out, 8), -1);
	assert_int_equal(note_b64_decode("A===", 4, out, 8), -1);
	assert_int_equal(note_b64_decode("AA", 2, out, 8), -1);	/* no padding */
	assert_int_equal(note_b64_decode("AA==AAAA", 8, out, 8), -1);
	assert_int_equal(note_b64_decode("AA-_", 4, out, 8), -1);	/* URL alphabet */
	assert_int_equal(note_b64_decode("AA A", 4, out, 8), -1);
	assert_int_equal(note_b64_decode("AAAAAAAAAAAA", 12, out, 8), -1); /* too long */
	assert_int_equal(note_b64_decode("+/+/", 4, out, 8), 3);
}

static void
test_note_structure(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	/* The signature with stray bits before its padding ('M' -> 'N'). */
	char sig[sizeof(GO_SIG)];
	char msg[1024];
	static const char *bad[] = {
		GO_TEXT "\xe2\x80\x94 PeterNeumann " GO_SIG "\n",	/* no blank line */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann " GO_SIG,		/* no final newline */
		GO_TEXT "\n",						/* no signatures */
		GO_TEXT "\n- PeterNeumann " GO_SIG "\n",		/* hyphen, not em dash */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann  " GO_SIG "\n",	/* two spaces */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann " GO_SIG " \n",	/* trailing space */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann " GO_SIG "\n\n",	/* blank line after */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann\n",
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann AAAA\n",		/* too short */
		"If you think\r\n" "\n\xe2\x80\x94 PeterNeumann " GO_SIG "\n",	/* control char */
		"If you think \xc0\xaf\n" "\n\xe2\x80\x94 PeterNeumann " GO_SIG "\n",	/* overlong UTF-8 */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(open_with(bad[i], v), NOTE_EFORMAT);

	strcpy(sig, GO_SIG);
	char *m = strstr(sig, "nAM=");
	assert_non_null(m);
	m[2] = 'N';
	snprintf(msg, sizeof(msg), "%s\n\xe2\x80\x94 PeterNeumann %s\n",
	    GO_TEXT, sig);
	assert_int_equal(open_with(msg, v), NOTE_EFORMAT);
	/* Without the padding. */
	snprintf(msg, sizeof(msg), "%s\n\xe2\x80\x94 PeterNeumann %.*s\n",
	    GO_TEXT, (int)strlen(GO_SIG) - 1, GO_SIG);
	assert_int_equal(open_with(msg, v), NOTE_EFORMAT);
	/* The text changed by one byte. */
	snprintf(msg, sizeof(msg), "%s", GO_NOTE);
	msg[3] = 'Y';
	assert_int_equal(open_with(msg, v), NOTE_EVERIFY);
	/* A blank line inside the text is fine: the last one splits. */
	assert_int_equal(open_with(GO_NOTE, v), 0);
	note_verifier_free(v);
}

static void
test_unknown_signatures(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_signer *other;
	char msg[2048], *signed_by_other;
	size_t len;
	/* Same name, other key ID: an unknown key, ignored. */
	char badid[sizeof(GO_SIG)];

	assert_int_equal(note_key_generate(path("other.pem"), "PeterNeumann",
	    NOTE_ED25519, &other, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_sign(GO_TEXT, strlen(GO_TEXT), &other, 1,
	    &signed_by_other, &len, errbuf, sizeof(errbuf)), 0);
	/* Only the unknown key signed: refused. */
	assert_int_equal(open_with(signed_by_other, v), NOTE_EVERIFY);
	assert_non_null(strstr(errbuf, "no signature by a known key"));
	/* Unknown signature first, known one second: accepted. */
	snprintf(msg, sizeof(msg), "%s\xe2\x80\x94 PeterNeumann %s\n",
	    signed_by_other, GO_SIG);
	assert_int_equal(open_with(msg, v), 0);
	/* Unknown names and a witness-style line: ignored. */
	snprintf(msg, sizeof(msg), "%s\n\xe2\x80\x94 witness.example/w1 "
	    "AAAAAAAAAAAAAAAA\n\xe2\x80\x94 PeterNeumann %s\n", GO_TEXT, GO_SIG);
	assert_int_equal(open_with(msg, v), 0);
	/* The Go signature under a wrong key ID: ignored, so nothing verifies. */
	strcpy(badid, GO_SIG);
	badid[0] = 'y';
	snprintf(msg, sizeof(msg), "%s\n\xe2\x80\x94 PeterNeumann %s\n",
	    GO_TEXT, badid);
	assert_int_equal(open_with(msg, v), NOTE_EVERIFY);
	/* A known key whose signature fails spoils the whole note. */
	char *known = strstr(signed_by_other, "\xe2\x80\x94 ");
	assert_non_null(known);
	snprintf(msg, sizeof(msg), "%s\n\xe2\x80\x94 PeterNeumann %s\n",
	    GO_TEXT, GO_SIG);
	char *vk = note_signer_vkey(other);
	struct note_verifier *vs[2] = { v, verifier(vk) };
	size_t tl;
	char spoiled[2048];
	/* other's signature over a different text, pasted under GO_TEXT. */
	snprintf(spoiled, sizeof(spoiled), "%s%s", msg, known);
	char *tamper = strstr(spoiled, "then");
	tamper[0] = 'T';
	assert_int_equal(note_open(spoiled, strlen(spoiled), vs, 2, &tl, NULL,
	    errbuf, sizeof(errbuf)), NOTE_EVERIFY);
	free(vk);
	note_verifier_free(vs[1]);
	free(signed_by_other);
	note_signer_free(other);
	note_verifier_free(v);
}

static void
test_sm2(void **state)
{
	struct note_signer *ed, *sm[1], *both[2];
	struct note_verifier *ved, *vsm;
	char *out, *vk;
	size_t len, tl;
	int ok[2];

	assert_int_equal(note_key_generate(path("ed.pem"), "log.example/a",
	    NOTE_ED25519, &ed, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_key_generate(path("sm.pem"), "log.example/a",
	    NOTE_SM2, &sm[0], errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_signer_type(sm[0]), NOTE_SM2);
	note_signer_free(sm[0]);
	/* Loaded back from its PEM file, it is still an SM2 key. */
	assert_int_equal(note_key_load(path("sm.pem"), "log.example/a", &sm[0],
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_signer_type(sm[0]), NOTE_SM2);
	vk = note_signer_vkey(ed);
	ved = verifier(vk);
	free(vk);
	vk = note_signer_vkey(sm[0]);
	assert_non_null(strstr(vk, "+/w")); /* 0xff type byte: base64 "/w..." */
	vsm = verifier(vk);
	free(vk);
	both[0] = ed;
	both[1] = sm[0];
	assert_int_equal(note_sign("x\n", 2, both, 2, &out, &len, errbuf,
	    sizeof(errbuf)), 0);
	struct note_verifier *vs[2] = { ved, vsm };
	assert_int_equal(note_open(out, len, vs, 2, &tl, ok, errbuf,
	    sizeof(errbuf)), 0);
	assert_true(ok[0] && ok[1]);
	/* A verifier that only knows Ed25519 ignores the SM2 line. */
	assert_int_equal(note_open(out, len, &ved, 1, &tl, NULL, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(note_open(out, len, &vsm, 1, &tl, NULL, errbuf,
	    sizeof(errbuf)), 0);
	free(out);
	/* SM2 signatures are randomised: two differ, both verify. */
	assert_int_equal(note_sign("x\n", 2, sm, 1, &out, &len, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(note_open(out, len, &vsm, 1, &tl, NULL, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(note_open(out, len, &ved, 1, &tl, NULL, errbuf,
	    sizeof(errbuf)), NOTE_EVERIFY);
	free(out);
	note_verifier_free(ved);
	note_verifier_free(vsm);
	note_signer_free(ed);
	note_signer_free(sm[0]);
}

static void
test_key_files(void **state)
{
	struct note_signer *s;

	assert_int_equal(note_key_generate(path("k.pem"), "a.example/log",
	    NOTE_ED25519, &s, errbuf, sizeof(errbuf)), 0);
	note_signer_free(s);
	struct stat st;
	assert_int_equal(stat(path("k.pem"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never over an existing file. */
	assert_int_equal(note_key_generate(path("k.pem"), "a.example/log",
	    NOTE_ED25519, &s, errbuf, sizeof(errbuf)), NOTE_ESYS);
	assert_null(s);
	chmod(path("k.pem"), 0640);
	assert_int_equal(note_key_load(path("k.pem"), "a.example/log", &s,
	    errbuf, sizeof(errbuf)), NOTE_ESYS);
	char want[512];
	snprintf(want, sizeof(want), "run: chmod 600 %s", path("k.pem"));
	assert_non_null(strstr(errbuf, want));
	chmod(path("k.pem"), 0400);
	assert_int_equal(note_key_load(path("k.pem"), "a.example/log", &s,
	    errbuf, sizeof(errbuf)), 0);
	note_signer_free(s);
	/* Bad names, missing files, not a key. */
	assert_int_equal(note_key_load(path("k.pem"), "a b", &s, errbuf,
	    sizeof(errbuf)), NOTE_EFORMAT);
	assert_int_equal(note_key_load(path("none.pem"), "a", &s, errbuf,
	    sizeof(errbuf)), NOTE_ESYS);
	FILE *f = fopen(path("junk.pem"), "w");
	fputs("not a key\n", f);
	fclose(f);
	chmod(path("junk.pem"), 0600);
	assert_int_equal(note_key_load(path("junk.pem"), "a", &s, errbuf,
	    sizeof(errbuf)), NOTE_EFORMAT);
}

static void
test_checkpoint(void **state)
{
	unsigned char root[32], got[32];
	char *body, *origin;
	uint64_t size;

	merkle_hash_empty(root);
	body = note_checkpoint_body("log.example/a", 0, root);
	assert_string_equal(body, "log.example/a\n0\n"
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
	assert_int_equal(note_checkpoint_parse(body, strlen(body), &origin,
	    &size, got, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(origin, "log.example/a");
	assert_int_equal(size, 0);
	assert_memory_equal(got, root, 32);
	free(origin);
	free(body);

	static const char *ok[] = {
		"o\n18446744073709551615\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n",
	};
	static const char *bad[] = {
		"o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"o\n+1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"o\n18446744073709551616\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n",
		"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n",
		"o\n1\nAAAA\n",
		"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\next\n",
		"\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"o p\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"o\n1\n",
		"o\n 1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(note_checkpoint_parse(ok[i], strlen(ok[i]),
		    &origin, &size, got, errbuf, sizeof(errbuf)), 0);
		free(origin);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(note_checkpoint_parse(bad[i], strlen(bad[i]),
		    &origin, &size, got, errbuf, sizeof(errbuf)), NOTE_EFORMAT);
		assert_null(origin);
	}
}

static void
test_checkpoint_open_and_proof(void **state)
{
	unsigned char leaves[5][32], root[32], p[MERKLE_MAX_PROOF][32];
	unsigned char hashes[NOTE_MAX_PROOF][32], got[32];
	struct note_signer *s, *wrong;
	struct note_verifier *v, *vw;
	char *body, *cp, *proof, *origin, *vk;
	size_t cplen, plen, n;
	uint64_t size, index;
	const char *cpin;
	unsigned char *extra;
	size_t xlen;

	for (int i = 0; i < 5; i++)
		merkle_hash_leaf(&i, sizeof(i), leaves[i]);
	assert_int_equal(merkle_root_mem(leaves, 5, root), 0);
	assert_int_equal(note_key_generate(path("cp.pem"), "log.example/cp",
	    NOTE_ED25519, &s, errbuf, sizeof(errbuf)), 0);
	vk = note_signer_vkey(s);
	v = verifier(vk);
	free(vk);
	body = note_checkpoint_body("log.example/cp", 5, root);
	assert_int_equal(note_sign(body, strlen(body), &s, 1, &cp, &cplen,
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_checkpoint_open(cp, cplen, &v, 1, &origin, &size,
	    got, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(size, 5);
	assert_memory_equal(got, root, 32);
	free(origin);

	/* A checkpoint whose origin is not its signer's name is refused. */
	assert_int_equal(note_key_generate(path("w.pem"), "log.example/other",
	    NOTE_ED25519, &wrong, errbuf, sizeof(errbuf)), 0);
	vk = note_signer_vkey(wrong);
	vw = verifier(vk);
	free(vk);
	char *cpw;
	size_t cpwlen;
	assert_int_equal(note_sign(body, strlen(body), &wrong, 1, &cpw, &cpwlen,
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_checkpoint_open(cpw, cpwlen, &vw, 1, &origin,
	    &size, got, errbuf, sizeof(errbuf)), NOTE_EVERIFY);
	free(cpw);

	/* tlog-proof of leaf 3. */
	assert_int_equal(merkle_inclusion_proof_mem(leaves, 5, 3, 5, p, &plen),
	    0);
	assert_int_equal(note_proof_format(3, NULL, 0,
	    (const unsigned char (*)[32])p, plen, cp, cplen, &proof), 0);
	assert_int_equal(strncmp(proof, "c2sp.org/tlog-proof@v1\nindex 3\n",
	    31), 0);
	assert_int_equal(note_proof_parse(proof, strlen(proof), &index, &extra,
	    &xlen, hashes, &n, &cpin, &cplen, errbuf, sizeof(errbuf)), 0);
	assert_null(extra);
	assert_int_equal(xlen, 0);
	assert_int_equal(index, 3);
	assert_int_equal(n, plen);
	assert_memory_equal(hashes, p, n * 32);
	assert_string_equal(cpin, cp);
	assert_int_equal(note_proof_verify(proof, strlen(proof), leaves[3], &v,
	    1, &index, &size, got, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(size, 5);
	/* Another leaf, another key, a changed index: refused. */
	assert_int_equal(note_proof_verify(proof, strlen(proof), leaves[2], &v,
	    1, NULL, NULL, NULL, errbuf, sizeof(errbuf)), NOTE_EVERIFY);
	assert_int_equal(note_proof_verify(proof, strlen(proof), leaves[3], &vw,
	    1, NULL, NULL, NULL, errbuf, sizeof(errbuf)), NOTE_EVERIFY);
	char *mut = strdup(proof);
	mut[29] = '2';
	assert_int_equal(note_proof_verify(mut, strlen(mut), leaves[3], &v, 1,
	    NULL, NULL, NULL, errbuf, sizeof(errbuf)), NOTE_EVERIFY);
	free(mut);
	/* An extra line is allowed; a bad header or no blank line is not. */
	char buf[4096];
	snprintf(buf, sizeof(buf), "c2sp.org/tlog-proof@v1\nextra AAAA\n%s",
	    proof + strlen("c2sp.org/tlog-proof@v1\n"));
	assert_int_equal(note_proof_verify(buf, strlen(buf), leaves[3], &v, 1,
	    NULL, NULL, NULL, errbuf, sizeof(errbuf)), 0);
	/* Extra data: written as the second line, read back exactly. */
	char *px;
	assert_int_equal(note_proof_format(3, "{\"a\":1}", 7,
	    (const unsigned char (*)[32])p, plen, cp, cplen, &px), 0);
	assert_int_equal(strncmp(px, "c2sp.org/tlog-proof@v1\n"
	    "extra eyJhIjoxfQ==\nindex 3\n", 50), 0);
	assert_int_equal(note_proof_parse(px, strlen(px), &index, &extra,
	    &xlen, hashes, &n, &cpin, &cplen, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(xlen, 7);
	assert_string_equal((char *)extra, "{\"a\":1}");
	assert_int_equal(n, plen);
	assert_string_equal(cpin, cp);
	free(extra);
	assert_int_equal(note_proof_verify(px, strlen(px), leaves[3], &v, 1,
	    NULL, NULL, NULL, errbuf, sizeof(errbuf)), 0);
	free(px);
	/* Strictly: no empty extra, only canonical base64, only before index. */
	static const char *const bad_extra[] = {
		"c2sp.org/tlog-proof@v1\nextra \n%s",
		"c2sp.org/tlog-proof@v1\nextra eyJhIjoxfQ\n%s",
		"c2sp.org/tlog-proof@v1\nextra eyJhIjoxfR==\n%s",
		"c2sp.org/tlog-proof@v1\nextra  eyJhIjoxfQ==\n%s",
		"c2sp.org/tlog-proof@v1\nextra AAAA\nextra AAAA\n%s",
	};
	for (size_t k = 0; k < sizeof(bad_extra) / sizeof(bad_extra[0]); k++) {
		snprintf(buf, sizeof(buf), bad_extra[k],
		    proof + strlen("c2sp.org/tlog-proof@v1\n"));
		extra = (unsigned char *)"untouched";
		assert_int_equal(note_proof_parse(buf, strlen(buf), &index,
		    &extra, &xlen, hashes, &n, &cpin, &cplen, errbuf,
		    sizeof(errbuf)), NOTE_EFORMAT);
		assert_null(extra);
	}
	snprintf(buf, sizeof(buf), "c2sp.org/tlog-proof@v1\nindex 3\n"
	    "extra AAAA\n%s", strchr(proof + 24, '\n') + 1);
	assert_int_equal(note_proof_verify(buf, strlen(buf), leaves[3], &v, 1,
	    NULL, NULL, NULL, errbuf, sizeof(errbuf)), NOTE_EFORMAT);
	snprintf(buf, sizeof(buf), "c2sp.org/tlog-proof@v2\n%s",
	    proof + strlen("c2sp.org/tlog-proof@v1\n"));
	assert_int_equal(note_proof_verify(buf, strlen(buf), leaves[3], &v, 1,
	    NULL, NULL, NULL, errbuf, sizeof(errbuf)), NOTE_EFORMAT);
	snprintf(buf, sizeof(buf), "c2sp.org/tlog-proof@v1\nindex 03\n%s",
	    strchr(proof + 24, '\n') + 1);
	assert_int_equal(note_proof_verify(buf, strlen(buf), leaves[3], &v, 1,
	    NULL, NULL, NULL, errbuf, sizeof(errbuf)), NOTE_EFORMAT);
	free(proof);
	free(body);
	free(cp);
	note_verifier_free(v);
	note_verifier_free(vw);
	note_signer_free(s);
	note_signer_free(wrong);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_vector),
		cmocka_unit_test(test_ed25519_same_as_openssl),
		cmocka_unit_test(test_verifier_keys),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_note_structure),
		cmocka_unit_test(test_unknown_signatures),
		cmocka_unit_test(test_sm2),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_checkpoint_open_and_proof),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
