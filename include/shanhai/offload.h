/*
 * offload: one piece of slow, self-contained work (a PDF of a year's
 * statement) on a thread of its own, so that the event loop answers
 * everyone else meanwhile; its result comes back on the loop. The work
 * must touch nothing the loop touches: it gets its own inputs (e.g. a JSON
 * model built on the loop and handed over) and fills its own outputs.
 */
#ifndef SHANHAI_OFFLOAD_H
#define SHANHAI_OFFLOAD_H

struct event_base;

/*
 * Runs work(arg) on a new thread, then done(arg) on base's loop. 0, or -1
 * (no thread or event could be made: nothing ran, the caller still owns
 * arg and does the work itself or refuses).
 */
int	offload_run(struct event_base *base, void (*work)(void *arg),
	    void (*done)(void *arg), void *arg)
	    __attribute__((warn_unused_result));

#endif
