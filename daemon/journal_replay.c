/*
 * journal_replay: the engine rebuilt from the stored ledger through the
 * replay module (core/replay.c), with the daemon's part of it: the period
 * map, and the `key` entries. The only file of the journal that uses the
 * replay API.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/log.h"
#include "shanhai/note.h"
#include "shanhai/pagefile.h"
#include "shanhai/replay.h"

#include "journal_impl.h"

/* ---- replay: the engine rebuilt from the store ---- */

/*
 * The daemon's side of the replay (the replay module does the engine's):
 * the period map, and the `key` entries, which announce verifier keys.
 */
struct jreplay {
	struct replay		*rp;
	struct pmap		*periods;
	struct strset		*announced;
	const char		*origin;
	char			*err;
	size_t			 errlen;
	int			 refused;	/* err says why the walk stopped */
};

static const char *
json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * A `key` entry: exactly as the daemon writes it, announcing a verifier
 * key of this ledger's origin (the replay module's hook for other types).
 */
static int
replay_key(void *arg, uint64_t index, const char *body, size_t len,
    const json_t *e, char *err, size_t errlen)
{
	struct jreplay *jr = arg;
	const char *vkey = json_str(e, "key"), *stamp = json_str(e, "time"),
	    *type = json_str(e, "type");
	char msg[256], *again;
	size_t alen;
	int same;

	if (type == NULL || strcmp(type, "key") != 0) {
		snprintf(err, errlen, "entry %llu: a %s entry that no report "
		    "before it caused", (unsigned long long)index,
		    type ? type : "untyped");
		return -1;
	}
	if (note_key_entry_check(vkey, stamp, json_object_size(e), jr->origin,
	    msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "entry %llu: %s",
		    (unsigned long long)index, msg);
		return -1;
	}
	if ((again = jn_key_entry_bytes(vkey, stamp, &alen, msg,
	    sizeof(msg))) == NULL) {
		snprintf(err, errlen, "entry %llu: %s",
		    (unsigned long long)index, msg);
		return -1;
	}
	same = alen == len && memcmp(again, body, len) == 0;
	free(again);
	if (!same) {
		snprintf(err, errlen, "entry %llu: key entry is not as the "
		    "daemon writes it", (unsigned long long)index);
		return -1;
	}
	if (jn_strset_add(jr->announced, vkey) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
replay_stored(void *ctx, uint64_t index, const char *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	struct jreplay *jr = ctx;
	const struct settle_result *res;
	uint64_t at;

	(void)leaf;
	if (replay_entry(jr->rp, index, body, len, jr->err, jr->errlen) != 0) {
		jr->refused = 1;
		return -1;
	}
	if ((res = replay_get0_report(jr->rp, &at)) != NULL &&
	    jn_pmap_add_result(jr->periods, res, at) < 0) {
		snprintf(jr->err, jr->errlen, "out of memory");
		jr->refused = 1;
		return -1;
	}
	return 0;
}

/*
 * A new engine holding the state the stored ledger describes, the map of
 * its periods into *periods and the keys its
 * `key` entries announce into *announced (all emptied first).
 */
struct settle *
jn_replay(struct store *s, const char *origin, const char *pagedir,
    struct pagefile **pages, uint64_t *size, struct pmap *periods,
    struct strset *announced, char *err, size_t errlen)
{
	struct jreplay jr = { .periods = periods, .announced = announced,
	    .origin = origin, .err = err, .errlen = errlen };
	struct settle_pager pg;
	struct settle *engine;
	char msg[512];
	int rc;

	*pages = NULL;
	if (store_size(s, size) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		return NULL;
	}
	if ((engine = settle_new()) == NULL ||
	    (jr.rp = replay_new(engine, replay_key, &jr)) == NULL) {
		settle_free(engine);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/*
	 * The engine's closed years go to an unlinked file beside the
	 * database: a cache of the engine's memory, rebuilt with it from the
	 * ledger (doc/DESIGN.md, Engine). Without one they stay in memory.
	 */
	if ((*pages = pagefile_new(pagedir, msg, sizeof(msg))) == NULL)
		log_warnx("journal: %s; closed years stay in memory", msg);
	else {
		pagefile_pager(*pages, 0, &pg);
		if (settle_set_pager(engine, &pg) < 0)
			fatalx("journal: a new engine refused its pager");
	}
	jn_pmap_clear(periods);
	jn_strset_clear(announced);
	rc = store_foreach(s, 0, *size, replay_stored, &jr);
	if (rc == 0)
		rc = replay_finish(jr.rp, err, errlen);
	else if (!jr.refused)
		snprintf(err, errlen, "%s", store_errmsg(s));
	replay_free(jr.rp);
	if (rc != 0) {
		settle_free(engine);
		pagefile_free(*pages);
		*pages = NULL;
		jn_pmap_clear(periods);
		jn_strset_clear(announced);
		return NULL;
	}
	return engine;
}
