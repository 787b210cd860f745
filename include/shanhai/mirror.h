/*
 * mirror: shanhaid's tile mirror (SPEC 6.5, 6.7). With ledger.tiles_dir
 * set, a thread of its own publishes the ledger there (tiles.h) after each
 * committed group, so ingest never waits for the mirror's disk; when it
 * falls behind it publishes the latest checkpoint only.
 *
 * Two modules, because of when they must run:
 *   mirror_guard_module, before ingest: never a fork. When the database is
 *     behind the checkpoint published in tiles_dir (a state restored from
 *     an old backup), or holds another tree at that size, the daemon
 *     refuses to start, naming both sizes and how to recover, before the
 *     journal could sign anything.
 *   mirror_module, after ingest: the publishing thread, fed by the
 *     journal's commit hook.
 */
#ifndef SHANHAI_MIRROR_H
#define SHANHAI_MIRROR_H

#include <stdint.h>

#include "shanhai/server.h"

extern const struct server_module mirror_guard_module;
extern const struct server_module mirror_module;

/*
 * The size last published in tiles_dir, and the publishing errors since
 * start (for /metrics). 0 and 0 without a mirror.
 */
void	mirror_stats(const struct server *s, uint64_t *published,
	    uint64_t *errors);

/*
 * The running mirror (NULL without one), found once on the main thread:
 * the witnessing thread asks it how far the full tiles are written, and is
 * freed before it.
 */
struct mirror	*mirror_get(const struct server *s);
/* The size up to which every full tile and bundle is on disk. */
uint64_t	 mirror_published(struct mirror *m);

#endif
