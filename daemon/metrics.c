/*
 * metrics: counters, gauges and histograms, rendered in the Prometheus
 * text format. A series is found by its rendered label set
 * (`route="/v1/reports",status="201"`), which is also what is printed, so
 * escaping happens once, when the series is made. Families and series are
 * few (routes x methods x statuses): plain arrays and linear search.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/metrics.h"
#include "shanhai/textbuf.h"

struct series {
	char		*labels;	/* rendered, "" for none */
	double		 value;		/* counter, gauge; histogram: sum */
	double		 count;		/* histogram: observations */
	double		*buckets;	/* histogram: per bound, not cumulative */
};

struct metrics_family {
	char		*name;
	char		*help;
	enum metrics_type type;
	double		*bounds;
	size_t		 nbounds;
	struct series	*series;
	size_t		 nseries;
	struct textbuf	 key;		/* series_get()'s, kept for the next */
};

struct metrics {
	struct metrics_family **fams;
	size_t		 nfams;
};

/* Escapes a label value as the format wants: \\, \" and \n. */
static void
out_label_value(struct textbuf *o, const char *v)
{
	const char *run = v;

	for (; *v != '\0'; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" :
		    *v == '\n' ? "\\n" : NULL;

		if (esc == NULL)
			continue;
		textbuf_add(o, run, (size_t)(v - run));
		textbuf_puts(o, esc);
		run = v + 1;
	}
	textbuf_add(o, run, (size_t)(v - run));
}

/* Integers as integers, other values with enough digits to round-trip. */
static void
out_number(struct textbuf *o, double v)
{
	if (isinf(v))
		textbuf_printf(o, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		textbuf_printf(o, "NaN");
	else if (v == floor(v) && fabs(v) < 1e15)
		textbuf_printf(o, "%.0f", v);
	else
		textbuf_printf(o, "%.9g", v);
}

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void
series_free(struct series *s)
{
	free(s->labels);
	free(s->buckets);
}

void
metrics_clear(struct metrics_family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		series_free(&f->series[i]);
	free(f->series);
	f->series = NULL;
	f->nseries = 0;
}

static void
family_free(struct metrics_family *f)
{
	if (f == NULL)
		return;
	metrics_clear(f);
	textbuf_release(&f->key);
	free(f->name);
	free(f->help);
	free(f->bounds);
	free(f);
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nfams; i++)
		family_free(m->fams[i]);
	free(m->fams);
	free(m);
}

struct metrics_family *
metrics_family(struct metrics *m, const char *name, enum metrics_type type,
    const char *help, const double *bounds, size_t nbounds)
{
	struct metrics_family *f, **fams;

	for (size_t i = 0; i < m->nfams; i++)
		if (strcmp(m->fams[i]->name, name) == 0)
			return m->fams[i]->type == type ? m->fams[i] : NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->type = type;
	if ((f->name = strdup(name)) == NULL ||
	    (f->help = strdup(help)) == NULL)
		goto fail;
	if (type == METRICS_HISTOGRAM && nbounds > 0) {
		if ((f->bounds = calloc(nbounds, sizeof(double))) == NULL)
			goto fail;
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
		f->nbounds = nbounds;
	}
	if ((fams = realloc(m->fams, (m->nfams + 1) * sizeof(*fams))) == NULL)
		goto fail;
	m->fams = fams;
	m->fams[m->nfams++] = f;
	return f;
fail:
	family_free(f);
	return NULL;
}

/*
 * The series of f with the labels of ap, made when new; NULL on ENOMEM.
 * The label set is rendered into the family's own buffer, reused from
 * call to call: a series is looked up at every request, and a buffer of
 * its own each time was an allocation and a free per label set.
 */
static struct series *
series_get(struct metrics_family *f, va_list ap)
{
	struct textbuf *key = &f->key;
	struct series *s, *all;
	const char *name;
	char *labels;
	int n = 0;

	key->len = 0;
	textbuf_add(key, "", 0);
	while ((name = va_arg(ap, const char *)) != NULL &&
	    n++ < METRICS_MAX_LABELS) {
		if (n > 1)
			textbuf_add(key, ",", 1);
		textbuf_puts(key, name);
		textbuf_add(key, "=\"", 2);
		out_label_value(key, va_arg(ap, const char *));
		textbuf_add(key, "\"", 1);
	}
	if (key->failed) {
		textbuf_release(key);
		return NULL;
	}
	for (size_t i = 0; i < f->nseries; i++)
		if (strcmp(f->series[i].labels, key->p) == 0)
			return &f->series[i];
	if ((labels = strdup(key->p)) == NULL)
		return NULL;
	all = realloc(f->series, (f->nseries + 1) * sizeof(*all));
	if (all == NULL) {
		free(labels);
		return NULL;
	}
	f->series = all;
	s = &all[f->nseries];
	memset(s, 0, sizeof(*s));
	s->labels = labels;
	if (f->type == METRICS_HISTOGRAM &&
	    (s->buckets = calloc(f->nbounds + 1, sizeof(double))) == NULL) {
		free(labels);
		return NULL;
	}
	f->nseries++;
	return s;
}

void
metrics_add(struct metrics_family *f, double v, ...)
{
	struct series *s;
	va_list ap;

	if (f == NULL)
		return;
	va_start(ap, v);
	s = series_get(f, ap);
	va_end(ap);
	if (s != NULL)
		s->value += v;
}

void
metrics_set(struct metrics_family *f, double v, ...)
{
	struct series *s;
	va_list ap;

	if (f == NULL)
		return;
	va_start(ap, v);
	s = series_get(f, ap);
	va_end(ap);
	if (s != NULL)
		s->value = v;
}

void
metrics_observe(struct metrics_family *f, double v, ...)
{
	struct series *s;
	va_list ap;
	size_t b;

	if (f == NULL || f->type != METRICS_HISTOGRAM)
		return;
	va_start(ap, v);
	s = series_get(f, ap);
	va_end(ap);
	if (s == NULL)
		return;
	for (b = 0; b < f->nbounds && v > f->bounds[b]; b++)
		;
	s->buckets[b]++;	/* b == nbounds: only in +Inf */
	s->count++;
	s->value += v;
}

static int
series_cmp(const void *a, const void *b)
{
	return strcmp(((const struct series *)a)->labels,
	    ((const struct series *)b)->labels);
}

static void
render_family(struct textbuf *o, struct metrics_family *f)
{
	static const char *const types[] = {
		[METRICS_COUNTER] = "counter",
		[METRICS_GAUGE] = "gauge",
		[METRICS_HISTOGRAM] = "histogram",
	};

	/* Sorted series: the same figures always read the same. */
	if (f->nseries > 1)
		qsort(f->series, f->nseries, sizeof(*f->series), series_cmp);
	textbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
	    f->name, types[f->type]);
	for (size_t i = 0; i < f->nseries; i++) {
		const struct series *s = &f->series[i];
		const char *l = s->labels, *sep = *l ? "," : "";
		double cum = 0;

		if (f->type != METRICS_HISTOGRAM) {
			textbuf_printf(o, "%s%s%s%s ", f->name, *l ? "{" : "", l,
			    *l ? "}" : "");
			out_number(o, s->value);
			textbuf_printf(o, "\n");
			continue;
		}
		for (size_t b = 0; b <= f->nbounds; b++) {
			cum += s->buckets[b];
			textbuf_printf(o, "%s_bucket{%s%sle=\"", f->name, l, sep);
			out_number(o, b < f->nbounds ? f->bounds[b] : INFINITY);
			textbuf_printf(o, "\"} ");
			out_number(o, cum);
			textbuf_printf(o, "\n");
		}
		textbuf_printf(o, "%s_sum%s%s%s ", f->name, *l ? "{" : "", l,
		    *l ? "}" : "");
		out_number(o, s->value);
		textbuf_printf(o, "\n%s_count%s%s%s ", f->name, *l ? "{" : "", l,
		    *l ? "}" : "");
		out_number(o, s->count);
		textbuf_printf(o, "\n");
	}
}

char *
metrics_render(const struct metrics *m, size_t *lenp)
{
	struct textbuf o = TEXTBUF_INIT;

	textbuf_printf(&o, "%s", "");
	for (size_t i = 0; i < m->nfams; i++)
		render_family(&o, m->fams[i]);
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = o.len;
	return o.p;
}
