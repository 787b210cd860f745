/*
 * witness: the core of `shanhai witness`, a C2SP tlog-witness v1.0.0 for
 * the third parties of SPEC 6.6. It knows a set of logs (origin and
 * verifier keys), checks each add-checkpoint request against the latest
 * checkpoint it cosigned for that log (witstate.h), and cosigns with its
 * tlog-cosignature v1 key (cosig.h). No sockets here: cmd_witness.c
 * serves it over HTTP, tests call it directly.
 */
#ifndef SHANHAI_WITNESS_H
#define SHANHAI_WITNESS_H

#include <stddef.h>
#include <stdint.h>

struct note_signer;
struct witness;

/* Longest add-checkpoint body read (63 proof lines and a checkpoint). */
#define WITNESS_MAX_BODY	(64 * 1024)
/* Proof lines tlog-witness allows. */
#define WITNESS_MAX_PROOF	63

/* One answer: an HTTP status, a content type and a body (to free). */
struct witness_answer {
	int		 status;
	const char	*ctype;
	char		*body;
	size_t		 len;
	/* For the log line: why a request was refused (empty when 200). */
	char		 why[256];
};

/*
 * A witness cosigning with `key` (a cosigner, note_signer_set_cosigner();
 * taken over, also on failure) and keeping its state in the SQLite file
 * state_path. NULL with the reason in err.
 */
struct witness	*witness_new(struct note_signer *key, const char *state_path,
		    char *err, size_t errlen)
		    __attribute__((warn_unused_result));
void		 witness_free(struct witness *w);

/*
 * Adds a log: its origin and the verifier key (signed-note text) its
 * checkpoints are signed with; called again with the same origin, adds
 * another key (rotation). -1 with the reason in err.
 */
int		 witness_add_log(struct witness *w, const char *origin,
		    const char *vkey, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
size_t		 witness_log_count(const struct witness *w);

/*
 * Handles one add-checkpoint request body at time `now` (POSIX seconds):
 * 200 with the cosignature line (text/plain; charset=utf-8), 400 malformed,
 * 403 no valid signature by the log's keys, 404 unknown origin, 409 the old
 * size is not the last cosigned size (body "<size>\n", text/x.tlog.size)
 * or the same size with another root, 422 the consistency proof fails,
 * 500 the state could not be read or written. Free a->body.
 */
void		 witness_add_checkpoint(struct witness *w, const char *body,
		    size_t len, uint64_t now, struct witness_answer *a);

/*
 * The latest checkpoint cosigned for origin, with the log's signatures
 * and this witness's cosignature: 200 (text/plain) or 404. Free a->body.
 */
void		 witness_get_checkpoint(struct witness *w, const char *origin,
		    struct witness_answer *a);

#endif
