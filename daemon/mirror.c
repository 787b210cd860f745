/*
 * mirror: the tile mirror's thread and the never-a-fork check at start.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shanhai/config.h"
#include "shanhai/ingest.h"
#include "shanhai/journal.h"
#include "shanhai/log.h"
#include "shanhai/merkle.h"
#include "shanhai/mirror.h"
#include "shanhai/note.h"
#include "shanhai/store.h"
#include "shanhai/tiles.h"

/* After a failed publication, the thread tries again this much later. */
#define RETRY_SECONDS	5
/*
 * At most one publication this often: under load each one covers many
 * commit groups, and the mirror's fsyncs do not crowd the journal's.
 */
#define PERIOD_MSEC	500

struct mirror {
	char		*dir;
	struct store	*st;		/* the thread's own connection */
	struct journal	*journal;
	pthread_t	 thread;
	int		 running;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	/* under mu */
	int		 pending;	/* a commit since the last publication */
	int		 witnessed;	/* checkpoint: the witnessed one only */
	uint64_t	 published;
	uint64_t	 errors;
	int		 stop;
	/* the thread's own: partial tiles deleted below this published size */
	uint64_t	 pruned;
};

/* The root of the first size entries of s, from its stored hashes. */
static int
root_at(struct store *s, uint64_t size, unsigned char root[MERKLE_HASH_SIZE])
{
	return merkle_root(size, store_get_hash, s, root);
}

/*
 * Never a fork (SPEC 6.7): the database must hold at least what tiles_dir
 * published, and the same tree at that size.
 */
static int
guard_start(struct server *s, void **statep, char *err, size_t errlen)
{
	const struct config *c = server_gen_config(server_get0_gen(s));
	const char *dir = config_get0_ledger_tiles_dir(c);
	unsigned char root[MERKLE_HASH_SIZE], pub[MERKLE_HASH_SIZE];
	uint64_t psize, dsize = 0;
	char why[512], *note = NULL, *path = NULL, *origin = NULL;
	struct store *st = NULL;
	size_t textlen;
	int rc = -1;

	*statep = NULL;
	if (dir == NULL)
		return 0;
	switch (tiles_published(dir, &psize, &note, why, sizeof(why))) {
	case 1:
		return 0;	/* nothing published yet */
	case 0:
		break;
	default:
		snprintf(err, errlen, "ledger.tiles_dir: %s", why);
		return -1;
	}
	if ((path = store_path(config_get0_state_dir(c))) == NULL ||
	    (st = store_open(path, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "never a fork: cannot read the ledger to "
		    "compare it with %s/checkpoint: %s", dir, path ? why :
		    "out of memory");
		goto done;
	}
	if (store_size(st, &dsize) < 0) {
		snprintf(err, errlen, "never a fork: %s", store_errmsg(st));
		goto done;
	}
	if (dsize < psize) {
		snprintf(err, errlen, "never a fork: %s/checkpoint published "
		    "size %" PRIu64 " but the database in %s holds only %" PRIu64
		    " entries: this state is older than what was published "
		    "(restored from an old backup?), and signing on from it "
		    "would fork the ledger. Recover a state holding at least "
		    "those %" PRIu64 " entries (a newer backup, or rebuilt "
		    "from the entry bundles of %s)",
		    dir, psize, config_get0_state_dir(c), dsize, psize, dir);
		goto done;
	}
	/* The same tree at that size: the published root must be ours. */
	if (note_sigs(note, strlen(note), &textlen, NULL, NULL, why,
	    sizeof(why)) < 0 ||
	    note_checkpoint_parse(note, textlen, &origin, &psize, pub, why,
	    sizeof(why)) < 0) {
		snprintf(err, errlen, "never a fork: %s/checkpoint: %s", dir,
		    why);
		goto done;
	}
	if (strcmp(origin, config_get0_ledger_origin(c)) != 0) {
		snprintf(err, errlen, "never a fork: %s/checkpoint is of the "
		    "ledger '%s', not ledger.origin '%s'", dir, origin,
		    config_get0_ledger_origin(c));
		goto done;
	}
	if (root_at(st, psize, root) != 0 || memcmp(root, pub, sizeof(root))) {
		snprintf(err, errlen, "never a fork: the database's tree of "
		    "size %" PRIu64 " is not the one %s/checkpoint published: "
		    "this state holds another history; it must not sign on",
		    psize, dir);
		goto done;
	}
	log_info("never a fork: the database (%" PRIu64 " entries) extends "
	    "the checkpoint of size %" PRIu64 " in %s", dsize, psize, dir);
	rc = 0;
done:
	store_close(st);
	free(origin);
	free(note);
	free(path);
	return rc;
}

const struct server_module mirror_guard_module = {
	.name = "mirror_guard",
	.start = guard_start,
};

/*
 * After a publication: the partial tiles that the published checkpoint
 * (the one just written, or the witnessed one) no longer needs go. Done
 * here, by the thread that writes tiles, so that it never deletes what a
 * publication of its own is about to rename into place; the witnessing
 * thread writes only the partials of its newer, larger sizes.
 */
static void
prune(struct mirror *m, uint64_t size)
{
	char err[512];
	uint64_t n;

	if (m->witnessed && tiles_published(m->dir, &size, NULL, err,
	    sizeof(err)) != 0)
		return;		/* nothing witnessed yet */
	if (size <= m->pruned)
		return;
	if (tiles_prune(m->dir, m->pruned, size, &n, err, sizeof(err)) < 0) {
		log_warnx("mirror: deleting the partial tiles that size %"
		    PRIu64 " no longer needs: %s", size, err);
		return;
	}
	if (n > 0)
		log_debug("mirror: %" PRIu64 " partial tile(s) deleted, "
		    "their full tiles published", n);
	m->pruned = size;
}

/* Publishes the latest checkpoint; 0, or -1 (logged). */
static int
publish(struct mirror *m, uint64_t from, uint64_t *size)
{
	char err[512], *note = NULL;
	int rc;

	if ((rc = store_latest_checkpoint(m->st, size, &note)) != 0) {
		if (rc == STORE_ENOENT) {
			*size = from;
			return 0;
		}
		log_warnx("mirror: reading the latest checkpoint: %s",
		    store_errmsg(m->st));
		return -1;
	}
	rc = tiles_publish(m->st, m->dir, from, *size, m->witnessed ? NULL :
	    note, err, sizeof(err));
	free(note);
	if (rc < 0) {
		log_warnx("mirror: publishing size %" PRIu64 " in %s: %s; "
		    "retrying in %d s", *size, m->dir, err, RETRY_SECONDS);
		return -1;
	}
	log_debug("mirror: published size %" PRIu64 " in %s", *size, m->dir);
	prune(m, *size);
	return 0;
}

static void *
mirror_main(void *arg)
{
	struct mirror *m = arg;
	uint64_t from, size;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (!m->stop && !m->pending)
			pthread_cond_wait(&m->cv, &m->mu);
		if (m->stop)
			break;
		/* Whatever commits from now on asks for another round. */
		m->pending = 0;
		from = m->published;
		pthread_mutex_unlock(&m->mu);
		if (publish(m, from, &size) < 0) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += RETRY_SECONDS;
			pthread_mutex_lock(&m->mu);
			m->errors++;
			m->pending = 1;
			if (!m->stop)
				pthread_cond_timedwait(&m->cv, &m->mu, &until);
			continue;
		}
		pthread_mutex_lock(&m->mu);
		m->published = size;
		{
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += PERIOD_MSEC * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!m->stop && pthread_cond_timedwait(&m->cv,
			    &m->mu, &until) != ETIMEDOUT)
				;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void
on_commit(void *arg, uint64_t size)
{
	struct mirror *m = arg;

	(void)size;	/* the thread publishes the latest checkpoint */
	pthread_mutex_lock(&m->mu);
	m->pending = 1;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static void
mirror_free(struct server *s, void *state)
{
	struct mirror *m = state;

	if (m == NULL)
		return;
	if (m->journal != NULL)
		journal_set_commit_hook(m->journal, NULL, NULL);
	if (m->running) {
		pthread_mutex_lock(&m->mu);
		m->stop = 1;
		pthread_cond_signal(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	store_close(m->st);
	free(m->dir);
	free(m);
}

static int
mirror_start(struct server *s, void **statep, char *err, size_t errlen)
{
	const struct config *c = server_gen_config(server_get0_gen(s));
	const char *dir = config_get0_ledger_tiles_dir(c);
	struct mirror *m;
	char why[512], *path;
	uint64_t published, size = 0;

	*statep = NULL;
	if (dir == NULL)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->dir = strdup(dir)) == NULL) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	/* With witnesses, witnessing.c writes `checkpoint` (SPEC 6.6). */
	m->witnessed = config_witness_count(c) > 0;
	if (tiles_published(dir, &published, NULL, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "ledger.tiles_dir: %s", why);
		goto fail;
	}
	if ((path = store_path(config_get0_state_dir(c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m->st = store_open(path, why, sizeof(why));
	free(path);
	if (m->st == NULL) {
		snprintf(err, errlen, "mirror: %s", why);
		goto fail;
	}
	if (store_latest_checkpoint(m->st, &size, NULL) != 0)
		size = 0;
	m->published = published;
	/* A first round at start, to catch up with the database. */
	m->pending = 1;
	if (pthread_create(&m->thread, NULL, mirror_main, m) != 0) {
		snprintf(err, errlen, "mirror: cannot start a thread: %s",
		    strerror(errno));
		goto fail;
	}
	/* By name in top -H and /proc: what the mirror costs is its own. */
	(void)pthread_setname_np(m->thread, "mirror");
	m->running = 1;
	if ((m->journal = ingest_get0_journal(s)) != NULL)
		journal_set_commit_hook(m->journal, on_commit, m);
	log_info("mirror: publishing the ledger as tlog-tiles in %s (size %"
	    PRIu64 " published, %" PRIu64 " signed)", dir, published, size);
	*statep = m;
	return 0;
fail:
	mirror_free(s, m);
	return -1;
}

struct mirror *
mirror_get(const struct server *s)
{
	return server_module_state(s, mirror_module.name);
}

uint64_t
mirror_published(struct mirror *m)
{
	uint64_t size;

	pthread_mutex_lock(&m->mu);
	size = m->published;
	pthread_mutex_unlock(&m->mu);
	return size;
}

void
mirror_stats(const struct server *s, uint64_t *published, uint64_t *errors)
{
	struct mirror *m = server_module_state(s, mirror_module.name);

	*published = *errors = 0;
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	*published = m->published;
	*errors = m->errors;
	pthread_mutex_unlock(&m->mu);
}

const struct server_module mirror_module = {
	.name = "mirror",
	.start = mirror_start,
	.free = mirror_free,
};
