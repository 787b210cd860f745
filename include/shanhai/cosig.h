/*
 * cosig: C2SP tlog-cosignature v1 with Ed25519 (signed-note key type 0x04),
 * on top of note.h's one signed-note parser (SPEC 6.6).
 *
 * A cosignature is a signed-note signature line whose signature is an
 * 8-byte big-endian POSIX timestamp followed by an Ed25519 signature of
 *
 *	"cosignature/v1\n" "time <timestamp>\n" <checkpoint note text>
 *
 * by the cosigner (witness) key, under the key ID of
 * SHA-256(name || "\n" || 0x04 || public key)[:4].
 *
 * Errors: negative note.h codes (NOTE_EFORMAT, NOTE_EVERIFY, NOTE_ESYS)
 * with the reason in the caller's err buffer.
 */
#ifndef SHANHAI_COSIG_H
#define SHANHAI_COSIG_H

#include <stddef.h>
#include <stdint.h>

struct note_signer;
struct note_verifier;

/* Bytes of a cosignature after the key ID: timestamp and signature. */
#define COSIG_SIG_SIZE	(8 + 64)
/* A cosignature dated more than this many seconds after "now" is refused. */
#define COSIG_MAX_SKEW	60

/*
 * Cosigns the checkpoint note text (text, len: the note's text with its
 * final newline, no signature lines) at time `when` with the cosigner
 * `signer` (note_signer_set_cosigner()). *line is one signature line
 * "— name base64(id || timestamp || signature)\n", NUL-terminated, to free.
 */
int	cosig_sign(const struct note_signer *signer, const char *text,
	    size_t len, uint64_t when, char **line)
	    __attribute__((warn_unused_result));

/*
 * Checks the cosignatures on a signed note by the cosigner keys vs (their
 * type must be NOTE_COSIG_ED25519; others are refused). Lines by other keys
 * are ignored. A cosignature by one of vs that does not verify, or that is
 * dated after now + COSIG_MAX_SKEW, fails the whole note (NOTE_EVERIFY,
 * naming the witness). On success (0) valid[i] is 1 and when[i] the
 * timestamp for each key of vs that cosigned (when may be NULL), and *count
 * the number of distinct keys of vs that did. The log's own signature is
 * not checked here: note_checkpoint_open() does that.
 */
int	cosig_verify(const char *msg, size_t len,
	    struct note_verifier *const *vs, size_t nvs, uint64_t now,
	    int *valid, uint64_t *when, size_t *count, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

#endif
