/*
 * note: C2SP signed notes, checkpoints and tlog proofs over OpenSSL EVP.
 *
 * A key is held with its signed-note encoding, type byte first: Ed25519
 * keys as 0x01 || 32-byte public key, SM2 keys as 0xff || 65-byte
 * uncompressed point (SEC 1). The key ID hashes that encoding after the
 * name, so the two algorithms never share an ID for one name.
 */


#include <errno.h>

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/buffer.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <sodium.h>

#include "shanhai/canon.h"
#include "shanhai/errbuf.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"

#define KEY_MAX		(1 + 65)
#define SIG_MAX		160
/* GM/T 0009's default user ID, set explicitly: OpenSSL 3.0 defaults to "". */
#define SM2_ID		"1234567812345678"
#define EM_DASH		"\xe2\x80\x94 "
#define PROOF_HEADER	"c2sp.org/tlog-proof@v1\n"

struct note_signer {
	char		*name;
	int		 type;
	EVP_PKEY	*pkey;
	/* Ed25519: seed || public key, as libsodium signs with it. */
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES];
	unsigned char	 key[KEY_MAX];
	size_t		 keylen;
	uint32_t	 id;
};

struct note_verifier {
	char		*name;
	int		 type;
	EVP_PKEY	*pkey;
	uint32_t	 id;
};

static int	verify_one(const struct note_verifier *, const char *, size_t,
		    const unsigned char *, size_t);

/* Appends OpenSSL's first queued error (if any) to err and clears the queue. */
static void
seterr_crypto(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		seterr(err, errlen, "%s: %s", what, buf);
	} else
		seterr(err, errlen, "%s", what);
	ERR_clear_error();
}

/* Base64, RFC 4648 section 4. */

char *
note_b64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
note_b64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	size_t n = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + j];
			if (c == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[j] = b64_value(c)) < 0)
				return -1;
		}
		/* "x=y=" is not padding; "xy==" must leave no stray bits. */
		if (pad == 1 && in[i + 3] != '=')
			return -1;
		if ((pad == 2 && (v[1] & 0x0f) != 0) ||
		    (pad == 1 && (v[2] & 0x03) != 0))
			return -1;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		size_t k = 3 - (size_t)pad;
		if (n + k > outcap)
			return -1;
		out[n++] = (unsigned char)(w >> 16);
		if (k > 1)
			out[n++] = (unsigned char)(w >> 8);
		if (k > 2)
			out[n++] = (unsigned char)w;
	}
	return (long)n;
}

/* Text checks. */

/*
 * Valid UTF-8 with no ASCII control characters but newline (signed-note):
 * no overlong forms, surrogates or code points above U+10FFFF.
 */
static int
text_ok(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((unsigned char)s[i] < 0x20 && s[i] != '\n')
			return 0;
		if ((n = canon_utf8_len(s + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* Is there a Unicode space (White_Space, Zs and friends) at s? */
static int
unicode_space(const unsigned char *s, size_t left)
{
	static const char *spaces[] = {
		"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80",
		"\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84",
		"\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88",
		"\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9",
		"\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
	};

	for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
		size_t n = strlen(spaces[i]);
		if (left >= n && memcmp(s, spaces[i], n) == 0)
			return 1;
	}
	return 0;
}

/* A key name: non-empty UTF-8, no spaces of any kind, no '+'. */
static int
name_ok(const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;

	if (len == 0 || !text_ok(name, len))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] == '+' || unicode_space(p + i, len - i))
			return 0;
	return 1;
}

uint32_t
note_key_id(const char *name, const unsigned char *key, size_t len)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, name, strlen(name)) != 1 ||
	    EVP_DigestUpdate(md, "\n", 1) != 1 ||
	    EVP_DigestUpdate(md, key, len) != 1 ||
	    EVP_DigestFinal_ex(md, h, NULL) != 1)
		abort();	/* only allocation failure inside OpenSSL */
	EVP_MD_CTX_free(md);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
}

/* Keys. */

static int
pkey_type(EVP_PKEY *pkey)
{
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return NOTE_ED25519;
	if (EVP_PKEY_is_a(pkey, "SM2"))
		return NOTE_SM2;
	if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[32];
		if (EVP_PKEY_get_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) &&
		    strcmp(group, "SM2") == 0)
			return NOTE_SM2;
	}
	return -1;
}

/*
 * The signing key of an Ed25519 signer as libsodium holds it, from the
 * key's 32-byte seed; the public key it derives must be OpenSSL's. Ed25519
 * signatures are deterministic (RFC 8032), so both libraries write the
 * same bytes; libsodium's take less than half the time of OpenSSL 3.0's.
 */
static int
ed25519_sk(EVP_PKEY *pkey, unsigned char sk[crypto_sign_SECRETKEYBYTES],
    const unsigned char pub[crypto_sign_PUBLICKEYBYTES])
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	size_t len = sizeof(seed);
	int rc = -1;

	if (sodium_init() >= 0 &&
	    EVP_PKEY_get_raw_private_key(pkey, seed, &len) == 1 &&
	    len == sizeof(seed) &&
	    crypto_sign_seed_keypair(pk, sk, seed) == 0 &&
	    memcmp(pk, pub, sizeof(pk)) == 0)
		rc = 0;
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}

/* Takes ownership of pkey whatever happens. */
static int
signer_new(EVP_PKEY *pkey, const char *name, struct note_signer **out,
    char *err, size_t errlen)
{
	struct note_signer *s;
	size_t len;

	*out = NULL;
	if (!name_ok(name, strlen(name))) {
		seterr(err, errlen, "key name '%s': must be non-empty, without "
		    "spaces or '+'", name);
		EVP_PKEY_free(pkey);
		return NOTE_EFORMAT;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = strdup(name)) == NULL) {
		free(s);
		EVP_PKEY_free(pkey);
		seterr(err, errlen, "out of memory");
		return NOTE_ESYS;
	}
	s->pkey = pkey;
	s->type = pkey_type(pkey);
	s->key[0] = (unsigned char)s->type;
	switch (s->type) {
	case NOTE_ED25519:
		len = 32;
		if (EVP_PKEY_get_raw_public_key(pkey, s->key + 1, &len) != 1 ||
		    len != 32)
			goto bad;
		if (ed25519_sk(pkey, s->sk, s->key + 1) == -1) {
			seterr_crypto(err, errlen, "cannot read the Ed25519 "
			    "private key");
			note_signer_free(s);
			return NOTE_ESYS;
		}
		break;
	case NOTE_SM2:
		if (EVP_PKEY_get_octet_string_param(pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, s->key + 1,
		    KEY_MAX - 1, &len) != 1 || len != 65 || s->key[1] != 0x04)
			goto bad;
		break;
	default:
		seterr(err, errlen, "not an Ed25519 or SM2 key");
		note_signer_free(s);
		return NOTE_EFORMAT;
	}
	s->keylen = 1 + len;
	s->id = note_key_id(s->name, s->key, s->keylen);
	*out = s;
	return 0;
bad:
	seterr_crypto(err, errlen, "cannot read the public key");
	note_signer_free(s);
	return NOTE_ESYS;
}

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;	/* keys are unencrypted; never prompt */
}

int
note_signer_from_pem(const char *pem, size_t len, const char *name,
    struct note_signer **signer, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	BIO *b;

	*signer = NULL;
	if (len > INT_MAX || (b = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		seterr(err, errlen, "out of memory");
		return NOTE_ESYS;
	}
	pkey = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (pkey == NULL) {
		seterr_crypto(err, errlen, "not an unencrypted PKCS#8 PEM "
		    "private key");
		return NOTE_EFORMAT;
	}
	return signer_new(pkey, name, signer, err, errlen);
}

int
note_key_new(const char *name, int type, char **pem, size_t *pemlen,
    struct note_signer **signer, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	BUF_MEM *m;
	BIO *b;
	int rc;

	*signer = NULL;
	*pem = NULL;
	if (!name_ok(name, strlen(name))) {
		seterr(err, errlen, "key name '%s': must be non-empty, without "
		    "spaces or '+'", name);
		return NOTE_EFORMAT;
	}
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, type == NOTE_SM2 ? "SM2" :
	    "ED25519");
	if (pkey == NULL) {
		seterr_crypto(err, errlen, "cannot generate a key");
		return NOTE_ESYS;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    BIO_get_mem_ptr(b, &m) != 1 ||
	    (*pem = malloc(m->length + 1)) == NULL) {
		seterr_crypto(err, errlen, "cannot write the key");
		BIO_free(b);
		EVP_PKEY_free(pkey);
		return NOTE_ESYS;
	}
	memcpy(*pem, m->data, m->length);
	(*pem)[m->length] = '\0';
	*pemlen = m->length;
	BIO_free(b);
	if ((rc = signer_new(pkey, name, signer, err, errlen)) < 0) {
		OPENSSL_cleanse(*pem, *pemlen);
		free(*pem);
		*pem = NULL;
	}
	else if (type == NOTE_COSIG_ED25519)
		(void)note_signer_set_cosigner(*signer);
	return rc;
}

void
note_signer_free(struct note_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->pkey);
	OPENSSL_cleanse(s->sk, sizeof(s->sk));
	free(s->name);
	free(s);
}

int
note_signer_type(const struct note_signer *s)
{
	return s->type;
}

int
note_signer_set_cosigner(struct note_signer *s)
{
	if (s->type != NOTE_ED25519 && s->type != NOTE_COSIG_ED25519)
		return -1;
	s->type = NOTE_COSIG_ED25519;
	s->key[0] = NOTE_COSIG_ED25519;
	s->id = note_key_id(s->name, s->key, s->keylen);
	return 0;
}

const char *
note_signer_name(const struct note_signer *s)
{
	return s->name;
}

uint32_t
note_signer_id(const struct note_signer *s)
{
	return s->id;
}

int
note_signer_sign_ed25519(const struct note_signer *s, const void *msg,
    size_t len, unsigned char sig[NOTE_ED25519_SIG_SIZE])
{
	if (s->type != NOTE_ED25519 && s->type != NOTE_COSIG_ED25519)
		return -1;
	return crypto_sign_detached(sig, NULL, msg, len, s->sk) == 0 ? 0 : -1;
}

char *
note_signer_vkey(const struct note_signer *s)
{
	char *b64 = note_b64_encode(s->key, s->keylen), *out = NULL;

	if (b64 != NULL && asprintf(&out, "%s+%08" PRIx32 "+%s", s->name,
	    s->id, b64) == -1)
		out = NULL;
	free(b64);
	return out;
}

struct note_verifier *
note_signer_verifier(const struct note_signer *s)
{
	struct note_verifier *v;

	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->name = strdup(s->name)) == NULL ||
	    EVP_PKEY_up_ref(s->pkey) != 1) {
		if (v != NULL)
			free(v->name);
		free(v);
		return NULL;
	}
	v->pkey = s->pkey;
	v->type = s->type;
	v->id = s->id;
	return v;
}

static EVP_PKEY *
sm2_public(const unsigned char *point, size_t len)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
		    (void *)point, len),
		OSSL_PARAM_END
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *pkey = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

int
note_verifier_parse(const char *text, struct note_verifier **out,
    char *err, size_t errlen)
{
	unsigned char key[KEY_MAX + 1];
	struct note_verifier *v = NULL;
	const char *p1, *p2;
	char hex[9];
	long klen;

	*out = NULL;
	if ((p1 = strchr(text, '+')) == NULL ||
	    (p2 = strchr(p1 + 1, '+')) == NULL || p2 - p1 != 9) {
		seterr(err, errlen, "verifier key: not name+hexid+base64");
		return NOTE_EFORMAT;
	}
	memcpy(hex, p1 + 1, 8);
	hex[8] = '\0';
	if (strspn(hex, "0123456789abcdef") != 8) {
		seterr(err, errlen, "verifier key: key ID '%s' is not 8 "
		    "lowercase hex digits", hex);
		return NOTE_EFORMAT;
	}
	if (!name_ok(text, (size_t)(p1 - text))) {
		seterr(err, errlen, "verifier key: bad key name");
		return NOTE_EFORMAT;
	}
	klen = note_b64_decode(p2 + 1, strlen(p2 + 1), key, sizeof(key));
	if (klen < 1) {
		seterr(err, errlen, "verifier key: key is not canonical base64");
		return NOTE_EFORMAT;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->name = strndup(text, (size_t)(p1 - text))) == NULL) {
		free(v);
		seterr(err, errlen, "out of memory");
		return NOTE_ESYS;
	}
	v->type = key[0];
	v->id = (uint32_t)strtoul(hex, NULL, 16);
	if (note_key_id(v->name, key, (size_t)klen) != v->id) {
		seterr(err, errlen, "verifier key %s: key ID %s does not match "
		    "the key", v->name, hex);
		note_verifier_free(v);
		return NOTE_EFORMAT;
	}
	if ((v->type == NOTE_ED25519 || v->type == NOTE_COSIG_ED25519) &&
	    klen == 33)
		v->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    key + 1, 32);
	else if (v->type == NOTE_SM2 && klen == 66)
		v->pkey = sm2_public(key + 1, 65);
	else {
		seterr(err, errlen, "verifier key %s: unknown key type 0x%02x "
		    "or length %ld", v->name, key[0], klen);
		note_verifier_free(v);
		return NOTE_EFORMAT;
	}
	if (v->pkey == NULL) {
		seterr_crypto(err, errlen, "verifier key: not a valid public key");
		note_verifier_free(v);
		return NOTE_EFORMAT;
	}
	*out = v;
	return 0;
}

void
note_verifier_free(struct note_verifier *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_free(v->pkey);
	free(v->name);
	free(v);
}

const char *
note_verifier_name(const struct note_verifier *v)
{
	return v->name;
}

int
note_key_entry_check(const char *key, const char *time, size_t nmembers,
    const char *origin, char *err, size_t errlen)
{
	struct note_verifier *v;
	char why[256];
	int same;

	if (key == NULL || time == NULL || nmembers != 3) {
		seterr(err, errlen, "a key entry is {key, time, type}");
		return -1;
	}
	if (note_verifier_parse(key, &v, why, sizeof(why)) < 0) {
		seterr(err, errlen, "key entry: %s", why);
		return -1;
	}
	if (!(same = strcmp(v->name, origin) == 0))
		seterr(err, errlen, "key entry: a key of %s, not of %s",
		    v->name, origin);
	note_verifier_free(v);
	return same ? 0 : -1;
}

uint32_t
note_verifier_id(const struct note_verifier *v)
{
	return v->id;
}

int
note_verifier_type(const struct note_verifier *v)
{
	return v->type;
}

int
note_verifier_check(const struct note_verifier *v, const void *msg,
    size_t len, const unsigned char *sig, size_t siglen)
{
	return verify_one(v, msg, len, sig, siglen) ? 0 : NOTE_EVERIFY;
}

/*
 * One EVP digest-sign or digest-verify context for a key: plain for
 * Ed25519 (which hashes internally), SM3 with the explicit SM2 ID for SM2.
 */
static EVP_MD_CTX *
md_for(EVP_PKEY *pkey, int type, int sign, EVP_PKEY_CTX **own)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	*own = NULL;
	if (md == NULL)
		return NULL;
	if (type == NOTE_SM2) {
		if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
		    EVP_PKEY_CTX_set1_id(pctx, SM2_ID, strlen(SM2_ID)) != 1) {
			EVP_PKEY_CTX_free(pctx);
			EVP_MD_CTX_free(md);
			return NULL;
		}
		EVP_MD_CTX_set_pkey_ctx(md, pctx);
		ok = sign ? EVP_DigestSignInit(md, NULL, EVP_sm3(), NULL, pkey) :
		    EVP_DigestVerifyInit(md, NULL, EVP_sm3(), NULL, pkey);
	} else
		ok = sign ? EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) :
		    EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey);
	if (ok != 1) {
		EVP_MD_CTX_free(md);
		EVP_PKEY_CTX_free(pctx);
		return NULL;
	}
	/* A pkey ctx given by EVP_MD_CTX_set_pkey_ctx stays ours to free. */
	*own = pctx;
	return md;
}

static void
md_free(EVP_MD_CTX *md, EVP_PKEY_CTX *own)
{
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(own);
}

static int
sign_one(const struct note_signer *s, const char *text, size_t len,
    unsigned char *sig, size_t *siglen)
{
	EVP_PKEY_CTX *own;
	EVP_MD_CTX *md;
	int ok;

	if (s->type == NOTE_ED25519) {
		unsigned long long n;

		if (*siglen < crypto_sign_BYTES ||
		    crypto_sign_detached(sig, &n, (const unsigned char *)text,
		    len, s->sk) != 0)
			return 0;
		*siglen = (size_t)n;
		return 1;
	}
	/* SM2, the only other kind of signer: SM3 and the explicit ID. */
	if ((md = md_for(s->pkey, s->type, 1, &own)) == NULL)
		return 0;
	ok = EVP_DigestSignUpdate(md, text, len) == 1 &&
	    EVP_DigestSignFinal(md, sig, siglen) == 1;
	md_free(md, own);
	return ok;
}

static int
verify_one(const struct note_verifier *v, const char *text, size_t len,
    const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *own;
	EVP_MD_CTX *md = md_for(v->pkey, v->type, 0, &own);
	int ok;

	if (md == NULL)
		return 0;
	if (v->type == NOTE_SM2)
		ok = EVP_DigestVerifyUpdate(md, text, len) == 1 &&
		    EVP_DigestVerifyFinal(md, sig, siglen) == 1;
	else
		ok = EVP_DigestVerify(md, sig, siglen,
		    (const unsigned char *)text, len) == 1;
	md_free(md, own);
	ERR_clear_error();
	return ok;
}

int
note_sign(const char *text, size_t len, struct note_signer *const *signers,
    size_t nsigners, char **out, size_t *outlen, char *err, size_t errlen)
{
	char *buf;
	size_t cap, n;

	*out = NULL;
	if (len == 0 || text[len - 1] != '\n' || !text_ok(text, len)) {
		seterr(err, errlen, "note text must be UTF-8 ending in a "
		    "newline, without control characters");
		return NOTE_EFORMAT;
	}
	if (nsigners == 0 || nsigners > NOTE_MAX_SIGS) {
		seterr(err, errlen, "a note needs 1 to %d signers",
		    NOTE_MAX_SIGS);
		return NOTE_EFORMAT;
	}
	for (size_t i = 0; i < nsigners; i++)
		if (signers[i]->type == NOTE_COSIG_ED25519) {
			seterr(err, errlen, "%s is a cosigner key: it signs "
			    "cosignatures, not notes", signers[i]->name);
			return NOTE_EFORMAT;
		}
	cap = len + 1 + nsigners * (strlen(EM_DASH) + 512) + 1;
	for (size_t i = 0; i < nsigners; i++)
		cap += strlen(signers[i]->name);
	if ((buf = malloc(cap)) == NULL) {
		seterr(err, errlen, "out of memory");
		return NOTE_ESYS;
	}
	memcpy(buf, text, len);
	buf[len] = '\n';
	n = len + 1;
	for (size_t i = 0; i < nsigners; i++) {
		const struct note_signer *s = signers[i];
		unsigned char sig[4 + SIG_MAX];
		size_t siglen = SIG_MAX;
		sig[0] = (unsigned char)(s->id >> 24);
		sig[1] = (unsigned char)(s->id >> 16);
		sig[2] = (unsigned char)(s->id >> 8);
		sig[3] = (unsigned char)s->id;
		if (!sign_one(s, text, len, sig + 4, &siglen)) {
			seterr_crypto(err, errlen, "cannot sign");
			free(buf);
			return NOTE_ESYS;
		}
		char *b64 = note_b64_encode(sig, 4 + siglen);
		if (b64 == NULL) {
			seterr(err, errlen, "out of memory");
			free(buf);
			return NOTE_ESYS;
		}
		n += (size_t)snprintf(buf + n, cap - n, EM_DASH "%s %s\n",
		    s->name, b64);
		free(b64);
	}
	*out = buf;
	*outlen = n;
	return 0;
}

int
note_sigs(const char *msg, size_t len, size_t *textlen, note_sig_fn *fn,
    void *arg, char *err, size_t errlen)
{
	size_t split, pos, nsigs = 0;
	int rc;

	*textlen = 0;
	if (!text_ok(msg, len)) {
		seterr(err, errlen, "note: not UTF-8, or holds control "
		    "characters");
		return NOTE_EFORMAT;
	}
	if (len < 2 || msg[len - 1] != '\n') {
		seterr(err, errlen, "note: does not end in a newline");
		return NOTE_EFORMAT;
	}
	/* The text ends at the last blank line. */
	for (split = len - 1; split > 0; split--)
		if (msg[split - 1] == '\n' && msg[split] == '\n')
			break;
	if (split == 0) {
		seterr(err, errlen, "note: no blank line before the "
		    "signatures");
		return NOTE_EFORMAT;
	}
	pos = split + 1;
	if (pos == len) {
		seterr(err, errlen, "note: no signature lines");
		return NOTE_EFORMAT;
	}
	while (pos < len) {
		const char *line = msg + pos, *end = memchr(line, '\n', len - pos);
		size_t ll = (size_t)(end - line), dl = strlen(EM_DASH);
		const char *name, *sp;
		unsigned char sig[4 + SIG_MAX + 1];
		long slen;

		if (++nsigs > NOTE_MAX_SIGS) {
			seterr(err, errlen, "note: more than %d signatures",
			    NOTE_MAX_SIGS);
			return NOTE_EFORMAT;
		}
		if (ll < dl || memcmp(line, EM_DASH, dl) != 0) {
			seterr(err, errlen, "note: signature line %zu does not "
			    "start with an em dash and a space", nsigs);
			return NOTE_EFORMAT;
		}
		name = line + dl;
		sp = memchr(name, ' ', (size_t)(end - name));
		if (sp == NULL || !name_ok(name, (size_t)(sp - name))) {
			seterr(err, errlen, "note: signature line %zu: bad key "
			    "name", nsigs);
			return NOTE_EFORMAT;
		}
		slen = note_b64_decode(sp + 1, (size_t)(end - sp - 1), sig,
		    sizeof(sig));
		if (slen < 5) {
			seterr(err, errlen, "note: signature line %zu: not "
			    "canonical base64 of a key ID and a signature",
			    nsigs);
			return NOTE_EFORMAT;
		}
		struct note_sig ns = {
			.line = line,
			.linelen = ll + 1,
			.name = name,
			.namelen = (size_t)(sp - name),
			.id = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 |
			    (uint32_t)sig[2] << 8 | sig[3],
			.sig = sig + 4,
			.siglen = (size_t)slen - 4,
		};
		if (fn != NULL && (rc = fn(arg, msg, split, &ns, err,
		    errlen)) < 0)
			return rc;
		pos += ll + 1;
	}
	*textlen = split;
	return 0;
}

int
note_sig_by(const struct note_sig *ns, const struct note_verifier *v)
{
	return v->id == ns->id && strlen(v->name) == ns->namelen &&
	    memcmp(v->name, ns->name, ns->namelen) == 0;
}

struct open_ctx {
	struct note_verifier *const *vs;
	size_t		 nvs;
	int		*verified;
	size_t		 good;
};

/* note_open's check of one line: a known key's signature must verify. */
static int
open_sig(void *arg, const char *text, size_t textlen,
    const struct note_sig *ns, char *err, size_t errlen)
{
	struct open_ctx *o = arg;

	for (size_t i = 0; i < o->nvs; i++) {
		const struct note_verifier *v = o->vs[i];
		/* Cosignatures sign another message: cosig.h checks them. */
		if (v->type == NOTE_COSIG_ED25519 || !note_sig_by(ns, v))
			continue;
		if (!verify_one(v, text, textlen, ns->sig, ns->siglen)) {
			seterr(err, errlen, "note: the signature by "
			    "%s+%08" PRIx32 " does not verify", v->name, v->id);
			return NOTE_EVERIFY;
		}
		o->good++;
		if (o->verified != NULL)
			o->verified[i] = 1;
	}
	return 0;
}

int
note_open(const char *msg, size_t len, struct note_verifier *const *vs,
    size_t nvs, size_t *textlen, int *verified, char *err, size_t errlen)
{
	struct open_ctx o = { vs, nvs, verified, 0 };
	size_t tl;
	int rc;

	*textlen = 0;
	if (verified != NULL)
		memset(verified, 0, nvs * sizeof(*verified));
	if ((rc = note_sigs(msg, len, &tl, open_sig, &o, err, errlen)) < 0) {
		if (verified != NULL)
			memset(verified, 0, nvs * sizeof(*verified));
		return rc;
	}
	if (o.good == 0) {
		seterr(err, errlen, "note: no signature by a known key");
		return NOTE_EVERIFY;
	}
	*textlen = tl;
	return 0;
}

/* Checkpoints. */

char *
note_checkpoint_body(const char *origin, uint64_t size,
    const unsigned char root[NOTE_HASH_SIZE])
{
	char *b64 = note_b64_encode(root, NOTE_HASH_SIZE), *out = NULL;

	if (b64 != NULL && asprintf(&out, "%s\n%" PRIu64 "\n%s\n", origin,
	    size, b64) == -1)
		out = NULL;
	free(b64);
	return out;
}

/* Decimal without sign or leading zeros, fitting a uint64_t. */
static int
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
note_checkpoint_parse(const char *text, size_t len, char **origin,
    uint64_t *size, unsigned char root[NOTE_HASH_SIZE],
    char *err, size_t errlen)
{
	const char *line[3], *end[3], *p = text, *stop = text + len;

	*origin = NULL;
	if (len == 0 || text[len - 1] != '\n' || !text_ok(text, len)) {
		seterr(err, errlen, "checkpoint: not UTF-8 lines ending in a "
		    "newline");
		return NOTE_EFORMAT;
	}
	for (int i = 0; i < 3; i++) {
		if (p >= stop) {
			seterr(err, errlen, "checkpoint: fewer than 3 lines");
			return NOTE_EFORMAT;
		}
		line[i] = p;
		end[i] = memchr(p, '\n', (size_t)(stop - p));
		p = end[i] + 1;
	}
	/* Extension lines: opaque, but never empty. */
	for (const char *q = p; q < stop; q = (const char *)memchr(q, '\n',
	    (size_t)(stop - q)) + 1)
		if (*q == '\n') {
			seterr(err, errlen, "checkpoint: empty extension line");
			return NOTE_EFORMAT;
		}
	if (!name_ok(line[0], (size_t)(end[0] - line[0]))) {
		seterr(err, errlen, "checkpoint: bad origin line");
		return NOTE_EFORMAT;
	}
	if (parse_u64(line[1], (size_t)(end[1] - line[1]), size) < 0) {
		seterr(err, errlen, "checkpoint: tree size is not a decimal "
		    "without leading zeros");
		return NOTE_EFORMAT;
	}
	unsigned char buf[NOTE_HASH_SIZE + 1];
	if (note_b64_decode(line[2], (size_t)(end[2] - line[2]), buf,
	    sizeof(buf)) != NOTE_HASH_SIZE) {
		seterr(err, errlen, "checkpoint: root is not canonical base64 "
		    "of 32 bytes");
		return NOTE_EFORMAT;
	}
	memcpy(root, buf, NOTE_HASH_SIZE);
	if ((*origin = strndup(line[0], (size_t)(end[0] - line[0]))) == NULL) {
		seterr(err, errlen, "out of memory");
		return NOTE_ESYS;
	}
	return 0;
}

int
note_checkpoint_open(const char *msg, size_t len,
    struct note_verifier *const *vs, size_t nvs, char **origin,
    uint64_t *size, unsigned char root[NOTE_HASH_SIZE],
    char *err, size_t errlen)
{
	int verified[NOTE_MAX_SIGS * 4];
	size_t textlen;
	int rc;

	*origin = NULL;
	if (nvs > sizeof(verified) / sizeof(verified[0])) {
		seterr(err, errlen, "too many verifier keys");
		return NOTE_EFORMAT;
	}
	if ((rc = note_open(msg, len, vs, nvs, &textlen, verified, err,
	    errlen)) < 0)
		return rc;
	if ((rc = note_checkpoint_parse(msg, textlen, origin, size, root, err,
	    errlen)) < 0)
		return rc;
	for (size_t i = 0; i < nvs; i++)
		if (verified[i] && strcmp(vs[i]->name, *origin) == 0)
			return 0;
	seterr(err, errlen, "checkpoint: origin '%s' is not the name of the "
	    "key that signed it", *origin);
	free(*origin);
	*origin = NULL;
	return NOTE_EVERIFY;
}

/* tlog-proof. */

int
note_proof_format(uint64_t index, const void *extra, size_t extralen,
    const unsigned char hashes[][NOTE_HASH_SIZE], size_t nhashes,
    const char *checkpoint, size_t cplen, char **out)
{
	size_t xl = extralen > 0 ? 6 + 4 * ((extralen + 2) / 3) + 1 : 0;
	size_t cap, n;
	char *buf;

	*out = NULL;
	if (nhashes > NOTE_MAX_PROOF || extralen > NOTE_MAX_EXTRA)
		return NOTE_EFORMAT;
	cap = strlen(PROOF_HEADER) + xl + 32 + nhashes * 46 + 1 + cplen + 1;
	if ((buf = malloc(cap)) == NULL)
		return NOTE_ESYS;
	n = strlen(PROOF_HEADER);
	memcpy(buf, PROOF_HEADER, n);
	if (extralen > 0) {
		memcpy(buf + n, "extra ", 6);
		n += 6;
		n += (size_t)EVP_EncodeBlock((unsigned char *)buf + n, extra,
		    (int)extralen);
		buf[n++] = '\n';
	}
	n += (size_t)snprintf(buf + n, cap - n, "index %" PRIu64 "\n", index);
	for (size_t i = 0; i < nhashes; i++) {
		EVP_EncodeBlock((unsigned char *)buf + n, hashes[i],
		    NOTE_HASH_SIZE);
		n += 44;
		buf[n++] = '\n';
	}
	buf[n++] = '\n';
	memcpy(buf + n, checkpoint, cplen);
	buf[n + cplen] = '\0';
	*out = buf;
	return 0;
}

int
note_proof_parse(const char *text, size_t len, uint64_t *index,
    unsigned char **extra, size_t *extralen,
    unsigned char hashes[][NOTE_HASH_SIZE], size_t *nhashes,
    const char **checkpoint, size_t *cplen, char *err, size_t errlen)
{
	const char *p = text, *stop = text + len, *end;
	size_t hl = strlen(PROOF_HEADER);
	unsigned char *x = NULL;
	size_t xlen = 0;

	*nhashes = 0;
	*checkpoint = NULL;
	*cplen = 0;
	if (extra != NULL) {
		*extra = NULL;
		*extralen = 0;
	}
	if (len < hl || memcmp(text, PROOF_HEADER, hl) != 0) {
		seterr(err, errlen, "tlog-proof: first line is not "
		    "c2sp.org/tlog-proof@v1");
		return NOTE_EFORMAT;
	}
	p += hl;
	if ((end = memchr(p, '\n', (size_t)(stop - p))) == NULL)
		goto truncated;
	if ((size_t)(end - p) >= 6 && memcmp(p, "extra ", 6) == 0) {
		size_t el = (size_t)(end - p) - 6;
		long dl;

		if (el == 0) {
			seterr(err, errlen, "tlog-proof: empty extra line (it "
			    "is left out when there is no extra data)");
			return NOTE_EFORMAT;
		}
		if (el / 4 * 3 > NOTE_MAX_EXTRA) {
			seterr(err, errlen, "tlog-proof: extra data longer "
			    "than %d bytes", NOTE_MAX_EXTRA);
			return NOTE_EFORMAT;
		}
		if ((x = malloc(el + 1)) == NULL) {
			seterr(err, errlen, "out of memory");
			return NOTE_ESYS;
		}
		if ((dl = note_b64_decode(p + 6, el, x, el)) <= 0) {
			free(x);
			seterr(err, errlen, "tlog-proof: extra data is not "
			    "canonical base64");
			return NOTE_EFORMAT;
		}
		xlen = (size_t)dl;
		x[xlen] = '\0';
		p = end + 1;
		if ((end = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			goto truncated;
	}
	if ((size_t)(end - p) < 7 || memcmp(p, "index ", 6) != 0 ||
	    parse_u64(p + 6, (size_t)(end - p) - 6, index) < 0) {
		seterr(err, errlen, "tlog-proof: no valid index line");
		goto bad;
	}
	p = end + 1;
	for (;;) {
		if (p >= stop || (end = memchr(p, '\n', (size_t)(stop - p))) ==
		    NULL)
			goto truncated;
		if (end == p)
			break;
		unsigned char buf[NOTE_HASH_SIZE + 1];
		if (*nhashes == NOTE_MAX_PROOF) {
			seterr(err, errlen, "tlog-proof: more than %d hashes",
			    NOTE_MAX_PROOF);
			goto bad;
		}
		if (note_b64_decode(p, (size_t)(end - p), buf, sizeof(buf)) !=
		    NOTE_HASH_SIZE) {
			seterr(err, errlen, "tlog-proof: hash line %zu is not "
			    "canonical base64 of 32 bytes", *nhashes + 1);
			goto bad;
		}
		memcpy(hashes[(*nhashes)++], buf, NOTE_HASH_SIZE);
		p = end + 1;
	}
	*checkpoint = end + 1;
	*cplen = (size_t)(stop - *checkpoint);
	if (*cplen == 0)
		goto truncated;
	if (extra != NULL) {
		*extra = x;
		*extralen = xlen;
	} else
		free(x);
	return 0;
truncated:
	seterr(err, errlen, "tlog-proof: truncated");
bad:
	free(x);
	*checkpoint = NULL;
	*cplen = 0;
	*nhashes = 0;
	return NOTE_EFORMAT;
}

int
note_proof_verify(const char *text, size_t len,
    const unsigned char leaf[NOTE_HASH_SIZE],
    struct note_verifier *const *vs, size_t nvs, uint64_t *index,
    uint64_t *size, unsigned char root[NOTE_HASH_SIZE],
    char *err, size_t errlen)
{
	unsigned char hashes[NOTE_MAX_PROOF][NOTE_HASH_SIZE];
	unsigned char r[NOTE_HASH_SIZE];
	const char *cp;
	size_t n, cplen;
	uint64_t idx, sz;
	char *origin;
	int rc;

	if ((rc = note_proof_parse(text, len, &idx, NULL, NULL, hashes, &n, &cp,
	    &cplen, err, errlen)) < 0)
		return rc;
	if ((rc = note_checkpoint_open(cp, cplen, vs, nvs, &origin, &sz, r,
	    err, errlen)) < 0)
		return rc;
	free(origin);
	if (merkle_verify_inclusion(idx, sz, leaf,
	    (const unsigned char (*)[NOTE_HASH_SIZE])hashes, n, r) != 0) {
		seterr(err, errlen, "tlog-proof: entry %" PRIu64 " is not "
		    "included in the checkpoint of size %" PRIu64, idx, sz);
		return NOTE_EVERIFY;
	}
	if (index != NULL)
		*index = idx;
	if (size != NULL)
		*size = sz;
	if (root != NULL)
		memcpy(root, r, NOTE_HASH_SIZE);
	return 0;
}
