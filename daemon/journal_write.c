/*
 * journal_write: the writer thread. It commits one group at a time in one
 * transaction (entries, subtree hashes, the signed checkpoint, the report
 * and rules rows), hands it to the sync thread and builds its receipts.
 * Its hash cache sits in front of its store connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shanhai/log.h"
#include "shanhai/note.h"

#include "journal_impl.h"

/* ---- the writer's hash cache (hashes never change once written) ---- */

static struct hslot *
cache_slot(struct journal *j, unsigned level, uint64_t index)
{
	uint64_t x = (index + 1) * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)level * 0xc2b2ae3d27d4eb4fULL;

	return &j->cache[(x >> (64 - CACHE_BITS)) & (CACHE_SLOTS - 1)];
}

static void
cache_put(struct journal *j, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH_SIZE])
{
	struct hslot *h = cache_slot(j, level, index);

	h->index = index;
	h->level = (unsigned char)level;
	h->valid = 1;
	memcpy(h->hash, hash, MERKLE_HASH_SIZE);
}

/* merkle_get_fn for the writer: the cache, then its store connection. */
int
jn_cache_get(void *ctx, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_SIZE])
{
	struct journal *j = ctx;
	struct hslot *h = cache_slot(j, level, index);
	int rc;

	if (h->valid && h->level == level && h->index == index) {
		memcpy(out, h->hash, MERKLE_HASH_SIZE);
		return 0;
	}
	if ((rc = store_get_hash(j->wr, level, index, out)) < 0)
		return rc;
	cache_put(j, level, index, out);
	return 0;
}

/* ---- the writer thread ---- */

/*
 * The note of a checkpoint of the first size entries signed by
 * signers[0..n), and its root (writer's connection).
 */
static int
checkpoint_note(struct journal *j, uint64_t size,
    struct note_signer *const *signers, size_t n,
    unsigned char root[MERKLE_HASH_SIZE], char **note, char *err,
    size_t errlen)
{
	char *body;
	size_t len;
	int rc;

	if ((rc = merkle_root(size, jn_cache_get, j, root)) < 0) {
		snprintf(err, errlen, "tree root of size %llu: %s",
		    (unsigned long long)size, store_errmsg(j->wr));
		return -1;
	}
	if ((body = note_checkpoint_body(j->origin, size, root)) == NULL) {
		snprintf(err, errlen, "checkpoint: out of memory");
		return -1;
	}
	rc = note_sign(body, strlen(body), signers, n, note, &len, err,
	    errlen);
	free(body);
	return rc < 0 ? -1 : 0;
}

/* Signs and stores a checkpoint of the first size entries. */
int
jn_sign_checkpoint(struct journal *j, uint64_t size,
    struct note_signer *const *signers, size_t n, char **note, char *err,
    size_t errlen)
{
	unsigned char root[MERKLE_HASH_SIZE];

	if (checkpoint_note(j, size, signers, n, root, note, err, errlen) < 0)
		return -1;
	if (store_put_checkpoint(j->wr, size, root, *note) < 0) {
		snprintf(err, errlen, "checkpoint %llu: %s",
		    (unsigned long long)size, store_errmsg(j->wr));
		free(*note);
		*note = NULL;
		return -1;
	}
	return 0;
}

/*
 * The period index rows of g's entries: one for each run of entries of
 * one report that concern one period.
 */
static int
put_periods(struct store *s, const struct group *g)
{
	for (size_t i = 0, k; i < g->nentries; i = k) {
		const struct gentry *e = &g->entries[i];

		for (k = i + 1; k < g->nentries && g->entries[k].item ==
		    e->item && strcmp(g->entries[k].period, e->period) == 0; k++)
			;
		if (e->period[0] != '\0' && store_put_period(s,
		    g->items[e->item].rep.agreement, e->period, g->first + i,
		    k - i) < 0)
			return -1;
	}
	return 0;
}

/* Writes g's entries, hashes, checkpoint and index rows in one commit. */
static int
write_group(struct journal *j, struct group *g)
{
	struct merkle_subtree subs[MERKLE_MAX_DEPTH + 1];
	struct store *s = j->wr;
	struct timespec t0, t1, t2;
	uint64_t size;
	char *note = NULL;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (store_begin(s) < 0)
		goto fail_db;
	if (store_size(s, &size) < 0)
		goto fail_db;
	if (size != g->first) {
		snprintf(g->why, sizeof(g->why), "the ledger holds %llu %s, "
		    "the group starts at %llu", (unsigned long long)size,
		    size == 1 ? "entry" : "entries",
		    (unsigned long long)g->first);
		goto fail;
	}
	for (size_t i = 0; i < g->nentries; i++) {
		struct gentry *e = &g->entries[i];
		uint64_t idx = g->first + i;
		unsigned char leaf[MERKLE_HASH_SIZE];

		merkle_hash_leaf(e->body, e->len, leaf);
		if (store_append(s, idx, e->body, e->len, leaf) < 0)
			goto fail_db;
		if ((n = merkle_append(idx, leaf, jn_cache_get, j, subs)) < 0)
			goto fail_db;
		cache_put(j, 0, idx, leaf);
		for (int k = 1; k < n; k++) {
			/* The store derives the small ones from the leaves. */
			if (subs[k].level >= STORE_HASH_MIN_LEVEL &&
			    store_put_hash(s, subs[k].level, subs[k].index,
			    subs[k].hash) < 0)
				goto fail_db;
			cache_put(j, subs[k].level, subs[k].index, subs[k].hash);
		}
	}
	if (put_periods(s, g) < 0)
		goto fail_db;
	size = g->first + g->nentries;
	if (jn_sign_checkpoint(j, size, g->signers, g->nsigners, &note, g->why,
	    sizeof(g->why)) < 0)
		goto fail;
	for (size_t i = 0; i < g->nitems; i++) {
		struct item *it = &g->items[i];

		if (it->kind == ITEM_REPORT) {
			it->rep.checkpoint = size;
			if (store_put_report(s, &it->rep) < 0)
				goto fail_db;
		} else if (it->kind == ITEM_RULES) {
			if (store_put_rules(s, it->rep.agreement, it->rep.sha256,
			    it->rep.index) < 0)
				goto fail_db;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (store_commit(s) < 0)
		goto fail_db;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	g->write_s = (double)(t2.tv_sec - t0.tv_sec) +
	    (t2.tv_nsec - t0.tv_nsec) / 1e9;
	g->commit_s = (double)(t2.tv_sec - t1.tv_sec) +
	    (t2.tv_nsec - t1.tv_nsec) / 1e9;
	free(j->cp_note);
	j->cp_note = note;
	j->cp_size = size;
	return 0;
fail_db:
	snprintf(g->why, sizeof(g->why), "%s", store_errmsg(s));
fail:
	free(note);
	store_rollback(s);
	/* Hashes of the rolled-back entries may sit in the cache. */
	memset(j->cache, 0, CACHE_SLOTS * sizeof(*j->cache));
	return -1;
}

/*
 * After the signing keys changed: unless every one of signers[0..n) signed
 * the latest checkpoint, signs it again, same size and root, and keeps that
 * note too (its own transaction). No entry changes, so SPEC 6.3 holds: one
 * root per size, sizes only growing. Writer's connection (or the loop's
 * before the writer starts).
 */
int
jn_resign_latest(struct journal *j, struct note_signer *const *signers,
    size_t n, char *err, size_t errlen)
{
	unsigned char root[MERKLE_HASH_SIZE];
	char *latest = NULL, *note = NULL;
	uint64_t size;
	size_t k;

	if (store_begin(j->wr) < 0 ||
	    store_latest_checkpoint(j->wr, &size, &latest) < 0)
		goto fail_db;
	for (k = 0; k < n && jn_signed_by(latest, signers[k]); k++)
		;
	free(latest);
	if (k == n) {
		store_rollback(j->wr);
		return 0;
	}
	if (checkpoint_note(j, size, signers, n, root, &note, err,
	    errlen) < 0)
		goto fail;
	if (store_resign_checkpoint(j->wr, size, root, note) < 0 ||
	    store_commit(j->wr) < 0)
		goto fail_db;
	log_notice("journal: checkpoint %llu signed again by the keys now in"
	    " force", (unsigned long long)size);
	free(note);
	return 0;
fail_db:
	snprintf(err, errlen, "signing checkpoint again: %s",
	    store_errmsg(j->wr));
fail:
	free(note);
	store_rollback(j->wr);
	memset(j->cache, 0, CACHE_SLOTS * sizeof(*j->cache));
	return -1;
}

void *
jn_writer_main(void *arg)
{
	struct journal *j = arg;
	struct group *g;
	uint64_t one = 1;
	int failed;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (j->todo == NULL && !j->quit)
			pthread_cond_wait(&j->cv_todo, &j->mu);
		g = j->todo;
		j->todo = NULL;
		pthread_mutex_unlock(&j->mu);
		if (g == NULL)
			break;
		if (g->nentries > 0 && write_group(j, g) < 0)
			g->failed = 1;
		else if (g->nentries == 0 && g->resign &&
		    jn_resign_latest(j, g->signers, g->nsigners, g->why,
		    sizeof(g->why)) < 0)
			g->failed = 1;
		failed = g->failed;
		/*
		 * Committed: the sync thread syncs the log while the receipts
		 * are built here. It hands g back to the loop once both are
		 * done, and only then, so g's items are the writer's until it
		 * sets g->built.
		 */
		pthread_mutex_lock(&j->mu);
		g->next = NULL;
		*j->tosync_tail = g;
		j->tosync_tail = &g->next;
		pthread_cond_signal(&j->cv_sync);
		pthread_mutex_unlock(&j->mu);
		if (!failed)
			jn_answer_group(j, g);
		/*
		 * The loop may give the next group; this one is the sync
		 * thread's (and the loop's once synced): not to be touched.
		 */
		pthread_mutex_lock(&j->mu);
		g->built = 1;
		j->writer_free = 1;
		pthread_cond_signal(&j->cv_sync);
		pthread_mutex_unlock(&j->mu);
		if (write(j->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("journal: waking the event loop");
		if (!failed)
			jn_wal_check(j);
	}
	return NULL;
}
