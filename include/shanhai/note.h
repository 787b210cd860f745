/*
 * note: C2SP signed notes (signed-note v1.0.0), tlog checkpoints
 * (tlog-checkpoint v1.0.0) and tlog proofs (tlog-proof@v1), signed with
 * Ed25519 (key type 0x01) and optionally SM2 over SM3 (key type 0xff, ID
 * "1234567812345678"), through OpenSSL 3's EVP API (SPEC 6.3, 6.4).
 *
 * Parsing is strict: canonical base64 only, exact line structure, UTF-8
 * without control characters; signatures by keys the caller does not know
 * are ignored, as signed-note requires.
 *
 * Errors: negative returns (NOTE_EFORMAT malformed input, NOTE_EVERIFY a
 * signature or proof that does not verify, NOTE_ESYS I/O or OpenSSL) with
 * the reason in the caller's err buffer.
 */
#ifndef SHANHAI_NOTE_H
#define SHANHAI_NOTE_H

#include <stddef.h>
#include <stdint.h>

#define NOTE_EFORMAT	(-1)
#define NOTE_EVERIFY	(-2)
#define NOTE_ESYS	(-3)

/*
 * Signature type bytes: Ed25519 as signed-note says; Ed25519 cosignatures
 * as tlog-cosignature v1 says (the same key, another ID and message: see
 * cosig.h); SM2-SM3 ours.
 */
#define NOTE_ED25519	0x01
#define NOTE_COSIG_ED25519 0x04
#define NOTE_SM2	0xff
#define NOTE_ED25519_SIG_SIZE 64

#define NOTE_HASH_SIZE	32
/* At most this many signature lines and proof hashes are read. */
#define NOTE_MAX_SIGS	32
#define NOTE_MAX_PROOF	64
/* At most this many bytes of extra data in a tlog-proof. */
#define NOTE_MAX_EXTRA	(1 << 20)

struct note_signer;
struct note_verifier;

/*
 * The core's side of keys, in memory (core/note.c): a signer from the
 * unencrypted PKCS#8 PEM text pem[0..len); and a new key of `type` named
 * `name` as such PEM text (malloc'd in *pem, *pemlen bytes) with its signer.
 */
int	note_signer_from_pem(const char *pem, size_t len, const char *name,
	    struct note_signer **signer, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
int	note_key_new(const char *name, int type, char **pem, size_t *pemlen,
	    struct note_signer **signer, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Key files (lib/note_key.c).
 * Generates a new key of `type` (NOTE_ED25519, NOTE_COSIG_ED25519 or
 * NOTE_SM2) named `name`
 * and writes it as unencrypted PKCS#8 PEM to a new file `path` (mode 0600;
 * an existing file is never overwritten). On success *signer holds it.
 */
int	note_key_generate(const char *path, const char *name, int type,
	    struct note_signer **signer, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Loads a PKCS#8 PEM private key (Ed25519 or SM2) from `path` to sign under
 * `name`. Refuses a file that group or others may read, naming the chmod
 * that fixes it.
 */
int	note_key_load(const char *path, const char *name,
	    struct note_signer **signer, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
void	note_signer_free(struct note_signer *signer);
/* NOTE_ED25519, NOTE_COSIG_ED25519 or NOTE_SM2. */
int	note_signer_type(const struct note_signer *signer);
/*
 * Makes an Ed25519 signer a tlog-cosignature v1 cosigner: key type byte
 * 0x04, and the key ID that follows from it. -1 for an SM2 signer. A
 * cosigner signs only through cosig.h (note_sign() refuses it).
 */
int	note_signer_set_cosigner(struct note_signer *signer);
const char *note_signer_name(const struct note_signer *signer);
uint32_t note_signer_id(const struct note_signer *signer);
/*
 * The bare Ed25519 signature of msg (RFC 8032), for formats built on
 * signed notes (cosig.h). -1 when the signer is not an Ed25519 key.
 */
int	note_signer_sign_ed25519(const struct note_signer *signer,
	    const void *msg, size_t len, unsigned char sig[NOTE_ED25519_SIG_SIZE])
	    __attribute__((warn_unused_result));
/* The verifier key text "name+hexid+base64(type||key)", to free. */
char	*note_signer_vkey(const struct note_signer *signer);
/* The signer's public half as a verifier, to free; NULL out of memory. */
struct note_verifier *note_signer_verifier(const struct note_signer *signer);

/* Parses a verifier key text; refuses a key ID that does not match. */
int	note_verifier_parse(const char *text, struct note_verifier **v,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
void	note_verifier_free(struct note_verifier *v);
const char *note_verifier_name(const struct note_verifier *v);
/*
 * The checks of a ledger `key` entry (doc/DESIGN.md, Key rotation) from
 * its members: exactly key, time and type (nmembers), key a verifier key
 * of origin. 0, or -1 with the reason in err.
 */
int	note_key_entry_check(const char *key, const char *time,
	    size_t nmembers, const char *origin, char *err, size_t errlen);
uint32_t note_verifier_id(const struct note_verifier *v);
/* The key's type byte: NOTE_ED25519, NOTE_COSIG_ED25519 or NOTE_SM2. */
int	note_verifier_type(const struct note_verifier *v);
/* Checks a bare signature of msg by v's key: 0 or NOTE_EVERIFY. */
int	note_verifier_check(const struct note_verifier *v, const void *msg,
	    size_t len, const unsigned char *sig, size_t siglen)
	    __attribute__((warn_unused_result));

/* The signed-note key ID: SHA-256(name || "\n" || key)[:4], big-endian. */
uint32_t note_key_id(const char *name, const unsigned char *key, size_t len);

/*
 * Signs `text` (which must end in a newline) with every signer, in order.
 * *out is the whole note, NUL-terminated, to free; *outlen its length.
 */
int	note_sign(const char *text, size_t len,
	    struct note_signer *const *signers, size_t nsigners,
	    char **out, size_t *outlen, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* One signature line of a note, as note_sigs() hands them out. */
struct note_sig {
	const char	*line;		/* the whole line, with its newline */
	size_t		 linelen;
	const char	*name;		/* the key name (not NUL-terminated) */
	size_t		 namelen;
	uint32_t	 id;		/* the key ID */
	const unsigned char *sig;	/* the signature after the key ID */
	size_t		 siglen;
};

/*
 * Called for each signature line in order with the note text (text,
 * textlen: up to and with the newline before the blank line). A negative
 * return stops the walk and is returned by note_sigs().
 */
typedef int note_sig_fn(void *arg, const char *text, size_t textlen,
    const struct note_sig *sig, char *err, size_t errlen);

/*
 * The one parser of signed notes: checks the whole note's syntax strictly
 * and hands each signature line to fn (NULL: none). *textlen is the
 * text's length.
 */
int	note_sigs(const char *msg, size_t len, size_t *textlen,
	    note_sig_fn *fn, void *arg, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* Is sig by the key v (same name and key ID)? */
int	note_sig_by(const struct note_sig *sig, const struct note_verifier *v);

/*
 * Verifies a signed note against the known keys `vs`. Succeeds when at
 * least one signature by a known key (same name and key ID) verifies and
 * none fails; unknown signatures, and cosigner keys (NOTE_COSIG_ED25519)
 * in vs, are ignored. *textlen is the length of the
 * note text (a prefix of msg, with its final newline). When `verified` is
 * not NULL, verified[i] is set to 1 for each key in vs that signed.
 */
int	note_open(const char *msg, size_t len,
	    struct note_verifier *const *vs, size_t nvs,
	    size_t *textlen, int *verified, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* The checkpoint body: origin, size and base64 root, each ending "\n". */
char	*note_checkpoint_body(const char *origin, uint64_t size,
	    const unsigned char root[NOTE_HASH_SIZE]);

/*
 * Parses a checkpoint body (the note text). *origin is a copy to free.
 * Extension lines are allowed as tlog-checkpoint says, and ignored.
 */
int	note_checkpoint_parse(const char *text, size_t len, char **origin,
	    uint64_t *size, unsigned char root[NOTE_HASH_SIZE],
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * note_open() then note_checkpoint_parse(), and the origin must be the name
 * of the key that verified it.
 */
int	note_checkpoint_open(const char *msg, size_t len,
	    struct note_verifier *const *vs, size_t nvs, char **origin,
	    uint64_t *size, unsigned char root[NOTE_HASH_SIZE],
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * A tlog-proof: "c2sp.org/tlog-proof@v1", then "extra <base64>" when
 * extralen > 0 (tlog-proof's optional opaque data: shanhai's receipts carry
 * the proven entry there), "index N", the inclusion hashes (leaf's sibling
 * first), a blank line, the signed checkpoint verbatim. *out is
 * NUL-terminated, to free. NOTE_EFORMAT when there are more than
 * NOTE_MAX_PROOF hashes or NOTE_MAX_EXTRA bytes of extra data.
 */
int	note_proof_format(uint64_t index, const void *extra, size_t extralen,
	    const unsigned char hashes[][NOTE_HASH_SIZE], size_t nhashes,
	    const char *checkpoint, size_t cplen, char **out)
	    __attribute__((warn_unused_result));

/*
 * Parses a tlog-proof. hashes must hold NOTE_MAX_PROOF items. *checkpoint
 * points into text (not a copy). The extra line, when present, must be
 * canonical base64 of 1 to NOTE_MAX_EXTRA bytes; when extra is not NULL,
 * *extra is the decoded data (malloc'd, NUL-terminated for convenience,
 * *extralen bytes) or NULL when the proof has none. The extra data is not
 * authenticated by the proof: the caller decides what it means.
 */
int	note_proof_parse(const char *text, size_t len, uint64_t *index,
	    unsigned char **extra, size_t *extralen,
	    unsigned char hashes[][NOTE_HASH_SIZE], size_t *nhashes,
	    const char **checkpoint, size_t *cplen, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Verifies a tlog-proof for the leaf hash `leaf`: the checkpoint's signature
 * by one of vs, and the inclusion of leaf at the proof's index. On success
 * *index, *size and root (may be NULL) describe what was proven.
 */
int	note_proof_verify(const char *text, size_t len,
	    const unsigned char leaf[NOTE_HASH_SIZE],
	    struct note_verifier *const *vs, size_t nvs, uint64_t *index,
	    uint64_t *size, unsigned char root[NOTE_HASH_SIZE],
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/* Standard base64 with padding; *out to free, NUL-terminated. */
char	*note_b64_encode(const unsigned char *in, size_t len);
/*
 * Strict decoding: padding required, no whitespace, unused bits zero.
 * Returns the decoded length, or -1 for anything not canonical or longer
 * than outcap.
 */
long	note_b64_decode(const char *in, size_t len, unsigned char *out,
	    size_t outcap);

#endif
