/*
 * witnessing: shanhaid's side of SPEC 6.6. With `witnesses` configured, a
 * thread of its own sends the latest signed checkpoint to every witness
 * each witness_interval seconds (tlog-witness add-checkpoint, with the
 * consistency proof from the size that witness last cosigned; on 409 it
 * takes the size the witness returns and tries again from there), checks
 * each cosignature against that witness's key, and publishes as the
 * witnessed checkpoint the latest checkpoint carrying witness_quorum of
 * them: at GET /v1/ledger/checkpoint/witnessed and, with ledger.tiles_dir,
 * as tiles_dir/checkpoint. Ingest never waits for it: receipts keep the
 * log-signed checkpoint, and a slow, absent or lying witness costs lag.
 *
 * witnessing_guard_module, before ingest: never a fork (SPEC 6.7). Each
 * reachable witness is asked for the size it last cosigned; when one is
 * above the database's, the daemon refuses to start, naming both.
 */
#ifndef SHANHAI_WITNESSING_H
#define SHANHAI_WITNESSING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shanhai/server.h"

extern const struct server_module witnessing_guard_module;
extern const struct server_module witnessing_module;

/* One witness as /metrics and `shanhai status` show it. */
struct witnessing_stat {
	const char	*name;		/* borrowed until the module is freed */
	uint64_t	 cosigned;	/* size it last cosigned for us */
	uint64_t	 errors;	/* failed requests and bad answers */
	time_t		 last_ok;	/* 0: never */
};

/*
 * Fills up to n stats (in config order) and returns the number of
 * witnesses; *wsize, *lag_entries and *lag_seconds describe the witnessed
 * checkpoint (size 0 and lags 0 while none, or without witnesses).
 */
size_t	witnessing_stats(const struct server *s, struct witnessing_stat *st,
	    size_t n, uint64_t *wsize, uint64_t *lag_entries,
	    double *lag_seconds);

#endif
