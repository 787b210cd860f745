/*
 * metrics: a registry of counters, gauges and histograms with labels, and
 * their Prometheus text exposition (format 0.0.4) for GET /metrics. Values
 * are doubles; families and series live until the registry is freed (a
 * gauge recomputed at each scrape is cleared with metrics_clear()). No
 * I/O, no clock: callers measure and pass the values in.
 */
#ifndef SHANHAI_METRICS_H
#define SHANHAI_METRICS_H

#include <stddef.h>

struct metrics;
struct metrics_family;

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* Largest number of labels a series may carry. */
#define METRICS_MAX_LABELS	6

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *m);

/*
 * Declares a family (or finds the one declared under name). Histograms
 * take their upper bounds in increasing order (without +Inf, which is
 * implied; the array is copied). NULL when out of memory, or when name is
 * taken by another type.
 */
struct metrics_family *metrics_family(struct metrics *m, const char *name,
		    enum metrics_type type, const char *help,
		    const double *bounds, size_t nbounds);

/*
 * The series of f with these labels: pairs of name and value, ended by
 * NULL (at most METRICS_MAX_LABELS pairs), e.g.
 *	metrics_add(f, 1, "route", "/v1/reports", "status", "201", NULL);
 * Counters and gauges add v, metrics_set() sets a gauge, histograms
 * observe v. Out of memory loses the observation, nothing else.
 */
void		 metrics_add(struct metrics_family *f, double v, ...)
		    __attribute__((sentinel));
void		 metrics_set(struct metrics_family *f, double v, ...)
		    __attribute__((sentinel));
void		 metrics_observe(struct metrics_family *f, double v, ...)
		    __attribute__((sentinel));
/* Drops every series of f (for gauges rebuilt at each scrape). */
void		 metrics_clear(struct metrics_family *f);

/*
 * The whole registry in the Prometheus text format, families in the order
 * declared: a malloc'd NUL-terminated string (length in *lenp when not
 * NULL), or NULL when out of memory.
 */
char		*metrics_render(const struct metrics *m, size_t *lenp);

#endif
