/*
 * offload: see include/shanhai/offload.h. Each job has an eventfd the loop
 * watches; the thread writes to it when the work is done (the only thing
 * the thread does with the loop's side, and a write needs no lock).
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "shanhai/offload.h"

struct job {
	void		(*work)(void *);
	void		(*done)(void *);
	void		 *arg;
	int		  fd;
	struct event	 *ev;
};

static void *
job_main(void *p)
{
	struct job *job = p;
	uint64_t one = 1;

	job->work(job->arg);
	while (write(job->fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
	return NULL;
}

/* On the loop, once the thread is done. */
static void
job_done(evutil_socket_t fd, short what, void *p)
{
	struct job *job = p;

	(void)fd;
	(void)what;
	event_free(job->ev);
	close(job->fd);
	job->done(job->arg);
	free(job);
}

int
offload_run(struct event_base *base, void (*work)(void *), void (*done)(void *),
    void *arg)
{
	struct job *job = calloc(1, sizeof(*job));
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (job == NULL)
		return -1;
	job->work = work;
	job->done = done;
	job->arg = arg;
	if ((job->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		free(job);
		return -1;
	}
	if ((job->ev = event_new(base, job->fd, EV_READ, job_done, job)) ==
	    NULL || event_add(job->ev, NULL) != 0)
		goto fail;
	if (pthread_attr_init(&attr) != 0)
		goto fail;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, job_main, job);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	if (job->ev != NULL)
		event_free(job->ev);
	close(job->fd);
	free(job);
	return -1;
}
