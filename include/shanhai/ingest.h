/*
 * ingest: the daemon module that puts the journal (journal.h) behind the
 * HTTPS front (SPEC 7): POST /v1/reports with its receipts, the ledger's
 * GET endpoints (checkpoint, entries, inclusion and consistency proofs) and
 * GET /v1/agreements/{id}/periods/{period}. It loads the ledger signing
 * keys, writes `rules` entries at start and on every reload that changes a
 * rule file, and vetoes a reload whose rules would change a settled period.
 */
#ifndef SHANHAI_INGEST_H
#define SHANHAI_INGEST_H

#include "shanhai/server.h"

extern const struct server_module ingest_module;

struct config;

/*
 * For `shanhaid -t`: loads the ledger keys of c (ledger.signing_key,
 * ledger.next_key, ledger.sm2_key) as a start would and checks them
 * without the ledger (which only the running daemon reads). 0, or -1 with
 * the reason, naming the key, in err.
 */
int		 ingest_check_keys(const struct config *c, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

struct http_req;

/*
 * Answers 503 (Retry-After) for a read whose wait for a commit the
 * journal gave up: its store is being restored, or the daemon stops.
 */
void		 ingest_unavailable(struct http_req *r);

/* The journal of the running ingest module, for metrics; NULL when none. */
struct journal	*ingest_get0_journal(const struct server *s);

#endif
