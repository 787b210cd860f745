/*
 * journal_sync: the threads beside the writer. The sync thread syncs the
 * write-ahead log for every group committed and hands them back to the
 * loop in order; the checkpoint thread copies the log back into the
 * database off the commit path (doc/DESIGN.md, Group commit).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shanhai/log.h"

#include "journal_impl.h"

/*
 * The write-ahead log is copied back into the database by the checkpoint
 * thread once it holds CKPT_PAGES pages, so that no commit waits for it;
 * the writer makes the log start over (a restart checkpoint, which copies
 * what is left) once no more than CKPT_TAIL pages are left to copy.
 */
#define CKPT_PAGES	1000
#define CKPT_TAIL	64

/*
 * After a commit, the writer decides about the log: nothing while it is
 * short; else the checkpoint thread copies it back while the writer goes
 * on, and when only a short tail is left the writer copies that itself
 * with a restart, so that the next commit writes the log from its start
 * (a log that only grows makes every sync slower). Writer thread.
 */
void
jn_wal_check(struct journal *j)
{
	uint64_t frames = store_wal_frames(j->wr), log, done;
	int restart = 0;

	pthread_mutex_lock(&j->mu);
	if (frames < j->wal_seen)
		j->ck_done = 0;		/* the log started over */
	j->wal_seen = frames;
	if (frames >= CKPT_PAGES && !j->ck_busy && j->ck != NULL) {
		if (j->ck_done > 0 && j->ck_done + CKPT_TAIL >= frames)
			restart = 1;
		else {
			j->ck_want = 1;
			pthread_cond_signal(&j->cv_ck);
		}
	}
	pthread_mutex_unlock(&j->mu);
	if (!restart)
		return;
	if (store_checkpoint_wal(j->wr, 1, &log, &done) < 0)
		log_warnx("journal: checkpoint of the write-ahead log: %s",
		    store_errmsg(j->wr));
	pthread_mutex_lock(&j->mu);
	j->ck_done = 0;
	pthread_mutex_unlock(&j->mu);
}

void *
jn_ckpt_main(void *arg)
{
	struct journal *j = arg;
	uint64_t log, done;
	int rc;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->ck_want && !j->quit)
			pthread_cond_wait(&j->cv_ck, &j->mu);
		if (j->quit)
			break;
		j->ck_want = 0;
		j->ck_busy = 1;
		pthread_mutex_unlock(&j->mu);
		rc = store_checkpoint_wal(j->ck, 0, &log, &done);
		if (rc < 0)
			log_warnx("journal: checkpoint of the write-ahead log:"
			    " %s", store_errmsg(j->ck));
		pthread_mutex_lock(&j->mu);
		j->ck_busy = 0;
		/* A pass that began before the log started over copies 0. */
		if (rc == 0 && done <= j->wal_seen)
			j->ck_done = done;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/*
 * The sync thread: the groups the writer committed are on disk once the
 * log is synced (store_defer_sync); one sync covers every group waiting,
 * while the writer builds their receipts and commits the next group. Once
 * synced and built, and only then, they go back to the loop, in order, to
 * be answered. A failed sync may have lost data that later syncs would not
 * bring back, so from then on every group fails until the daemon is
 * restarted (which replays what is on disk).
 */
void *
jn_sync_main(void *arg)
{
	struct journal *j = arg;
	struct group *list, *g;
	struct timespec t0, t1;
	uint64_t one = 1;
	double took;
	int need, rc = 0, failed;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (j->tosync == NULL && !j->quit)
			pthread_cond_wait(&j->cv_sync, &j->mu);
		list = j->tosync;
		j->tosync = NULL;
		j->tosync_tail = &j->tosync;
		failed = j->sync_failed;
		pthread_mutex_unlock(&j->mu);
		if (list == NULL)
			break;
		need = 0;
		for (g = list; g != NULL; g = g->next)
			need |= (g->nentries > 0 || g->resign) && !g->failed;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (need && !failed && (rc = store_sync(j->wr)) < 0) {
			log_warnx("journal: syncing the write-ahead log: %s;"
			    " nothing more is acknowledged until shanhaid is"
			    " restarted", strerror(-rc));
			failed = 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		took = (double)(t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9;
		/* The writer may still be building the last one's receipts. */
		pthread_mutex_lock(&j->mu);
		for (g = list; g != NULL; g = g->next)
			while (!g->built)
				pthread_cond_wait(&j->cv_sync, &j->mu);
		pthread_mutex_unlock(&j->mu);
		for (g = list; g != NULL; g = g->next) {
			g->write_s += took;
			g->commit_s += took;
			if (failed && !g->failed) {
				g->failed = 1;
				snprintf(g->why, sizeof(g->why), "the disk"
				    " failed to sync the write-ahead log; restart"
				    " shanhaid");
			}
		}
		pthread_mutex_lock(&j->mu);
		j->sync_failed |= failed;
		*j->fin_tail = list;
		for (g = list; g->next != NULL; g = g->next)
			;
		j->fin_tail = &g->next;
		pthread_cond_signal(&j->cv_finished);
		pthread_mutex_unlock(&j->mu);
		if (write(j->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("journal: waking the event loop");
	}
	return NULL;
}
