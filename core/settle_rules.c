/*
 * settle_rules: agreements put in force, replaced or withdrawn in the
 * engine, refused when the change would alter a settled period.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/fnv.h"
#include "shanhai/money.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"
#include "shanhai/textbuf.h"
#include "settle_impl.h"

/* --- rules installation ------------------------------------------------------ */

static int
ratio_same(const struct money_ratio *a, const struct money_ratio *b)
{
	return money_ratio_eq(a, b);
}

static int
term_same(const struct rules_term *a, const struct rules_term *b)
{
	if (a->from != b->from || a->kind != b->kind ||
	    a->has_floor != b->has_floor || a->has_cap != b->has_cap ||
	    (a->has_floor && a->floor != b->floor) ||
	    (a->has_cap && a->cap != b->cap))
		return 0;
	switch (a->kind) {
	case RULES_TERM_FIXED:
		return a->annual == b->annual;
	case RULES_TERM_HOME:
		return ratio_same(&a->home, &b->home);
	case RULES_TERM_BANDS:
		if (a->nbands != b->nbands)
			return 0;
		for (size_t i = 0; i < a->nbands; i++)
			if (a->bands[i].has_upto != b->bands[i].has_upto ||
			    a->bands[i].upto != b->bands[i].upto ||
			    !ratio_same(&a->bands[i].home, &b->bands[i].home))
				return 0;
		return 1;
	}
	return 0;
}

/* The first key other than title, end and terms that differs, or NULL. */
static const char *
fixed_part_differs(const struct rules *a, const struct rules *b)
{
	if (strcmp(a->home, b->home) != 0)
		return "home";
	if (strcmp(a->host, b->host) != 0)
		return "host";
	if (a->cadence != b->cadence)
		return "cadence";
	if (a->start != b->start)
		return "start";
	if (a->confirm != b->confirm)
		return "confirm";
	/*
	 * The codes, in order, shape every report's figures; their retention
	 * and attribution are checked per settled period (eng_check_replace).
	 */
	if (a->ntaxes != b->ntaxes)
		return "taxes";
	for (size_t i = 0; i < a->ntaxes; i++)
		if (strcmp(a->taxes[i].code, b->taxes[i].code) != 0)
			return "taxes";
	if (a->nstats != b->nstats)
		return "statistics";
	for (size_t i = 0; i < a->nstats; i++)
		if (strcmp(a->stats[i].code, b->stats[i].code) != 0)
			return "statistics";
	if (a->nbenefs != b->nbenefs)
		return "beneficiaries";
	for (size_t i = 0; i < a->nbenefs; i++)
		if (strcmp(a->benefs[i].id, b->benefs[i].id) != 0 ||
		    a->benefs[i].weight != b->benefs[i].weight)
			return "beneficiaries";
	return NULL;
}

/*
 * -1 with the reason when the retention of a tax or the attribution of a
 * statistic in force in settled period p differs between the old term ot
 * and the new one nt (both as resolved: the agreement's where the term
 * names nothing).
 */
static int
overrides_differ(const struct rules *r, const struct rules_term *ot,
    const struct rules_term *nt, int32_t p, char *err, size_t errlen)
{
	char pb[RULES_PERIOD_BUFSZ], pb2[RULES_PERIOD_BUFSZ];

	for (size_t i = 0; i < r->ntaxes; i++)
		if (!ratio_same(&ot->taxes[i].retain, &nt->taxes[i].retain)) {
			snprintf(err, errlen, "%s: term %s: the retention of tax "
			    "%s changed (%s to %s), but its period %s already "
			    "settled", r->id, rules_period_format(r->cadence,
			    ot->from, pb), ot->taxes[i].code,
			    ot->taxes[i].retain_text, nt->taxes[i].retain_text,
			    rules_period_format(r->cadence, p, pb2));
			return -1;
		}
	for (size_t i = 0; i < r->nstats; i++) {
		const struct rules_stat *x = &ot->stats[i], *y = &nt->stats[i];

		if (x->mode != y->mode || (x->mode == RULES_STAT_SPLIT &&
		    !ratio_same(&x->home, &y->home))) {
			snprintf(err, errlen, "%s: term %s: the attribution of "
			    "statistic %s changed, but its period %s already "
			    "settled", r->id, rules_period_format(r->cadence,
			    ot->from, pb), x->code, rules_period_format(
			    r->cadence, p, pb2));
			return -1;
		}
	}
	return 0;
}

int
eng_check_replace(const struct agr *a, const struct rules *nr, char *err,
    size_t errlen)
{
	const struct rules *or = a->r;
	const char *key;
	char pb[RULES_PERIOD_BUFSZ], pb2[RULES_PERIOD_BUFSZ];

	if (a->nreports == 0)
		return 0;
	if ((key = fixed_part_differs(or, nr)) != NULL) {
		snprintf(err, errlen, "%s: \"%s\" changed, but reports were "
		    "already accepted under it; only title, end and terms for "
		    "periods not yet settled may change", nr->id, key);
		return -1;
	}
	/* Every settled period keeps its term and its segment's plan. */
	/* From the years' summaries: paged-out years stay where they are. */
	for (size_t i = 0; i < a->nyears; i++) {
		for (int k = 0; k < eng_per_year(a); k++) {
			int32_t p = a->years[i].y * eng_per_year(a) + k;
			struct seg os, ns;

			if (!(a->years[i].settled & 1u << k))
				continue;
			eng_seg_of(or, p, &os);
			if (p > nr->end) {
				snprintf(err, errlen, "%s: end %s would drop "
				    "period %s, which already settled", nr->id,
				    rules_period_format(nr->cadence, nr->end, pb),
				    rules_period_format(nr->cadence, p, pb2));
				return -1;
			}
			eng_seg_of(nr, p, &ns);
			if (!term_same(os.t, ns.t)) {
				snprintf(err, errlen, "%s: term %s changed or "
				    "removed, but its period %s already settled",
				    nr->id, rules_period_format(or->cadence,
				    os.t->from, pb), rules_period_format(
				    or->cadence, p, pb2));
				return -1;
			}
			if (overrides_differ(or, os.t, ns.t, p, err,
			    errlen) == -1)
				return -1;
			if (os.first != ns.first || os.last != ns.last) {
				snprintf(err, errlen, "%s: term %s: the change "
				    "alters the periods planned for the segment "
				    "of %s, which already settled", nr->id,
				    rules_period_format(or->cadence, os.t->from,
				    pb), rules_period_format(or->cadence, p,
				    pb2));
				return -1;
			}
		}
	}
	return 0;
}

int
settle_check_replace(const struct settle *s, const struct rules *r, char *err,
    size_t errlen)
{
	const struct agr *a = eng_find_agr(s, r->id);

	return a == NULL ? 0 : eng_check_replace(a, r, err, errlen);
}

static int
cmp_benef(const void *x, const void *y, void *arg)
{
	const struct rules *r = arg;

	return strcmp(r->benefs[*(const size_t *)x].id,
	    r->benefs[*(const size_t *)y].id);
}

static int
cmp_stat(const void *x, const void *y, void *arg)
{
	const struct rules *r = arg;

	return strcmp(r->stats[*(const size_t *)x].code,
	    r->stats[*(const size_t *)y].code);
}

/* Output orders of beneficiaries and statistics (ASCII: byte order). */
static int
make_orders(struct agr *a, struct rules *r)
{
	size_t *bo = calloc(r->nbenefs + 1, sizeof(size_t));
	size_t *so = calloc(r->nstats + 1, sizeof(size_t));
	int64_t *w = calloc(r->nbenefs + 1, sizeof(int64_t));

	if (bo == NULL || so == NULL || w == NULL) {
		free(bo);
		free(so);
		free(w);
		return -1;
	}
	for (size_t i = 0; i < r->nbenefs; i++)
		w[i] = r->benefs[i].weight;
	for (size_t i = 0; i < r->nbenefs; i++)
		bo[i] = i;
	for (size_t i = 0; i < r->nstats; i++)
		so[i] = i;
	qsort_r(bo, r->nbenefs, sizeof(size_t), cmp_benef, r);
	qsort_r(so, r->nstats, sizeof(size_t), cmp_stat, r);
	free(a->border);
	free(a->sorder);
	free(a->weights);
	a->border = bo;
	a->sorder = so;
	a->weights = w;
	return 0;
}

/*
 * The bases of periods that have effective figures but did not settle yet
 * were computed with the retention then in force; under rules r a term may
 * retain otherwise. Computes them again (into place when apply), -1 when
 * one overflows. Paged-out years hold settled periods only.
 */
static int
rebase_unsettled(struct agr *a, const struct rules *r, int apply)
{
	for (size_t i = 0; i < a->nyears; i++) {
		struct yres *res = a->years[i].res;

		if (res == NULL)
			continue;
		for (int k = 0; k < eng_per_year(a); k++) {
			struct period *pe = res->pes[k];
			int64_t b;

			if (pe == NULL || !pe->has_eff || pe->settled)
				continue;
			if (eng_compute_base(r, pe->p, pe->eff, &b) == -1)
				return -1;
			if (apply)
				pe->eff_base = b;
		}
	}
	return 0;
}

int
settle_install(struct settle *s, struct rules *r, char *err, size_t errlen)
{
	struct agr *a = eng_find_agr(s, r->id);

	if (a != NULL) {
		if (eng_check_replace(a, r, err, errlen) == -1)
			return -1;
		if (rebase_unsettled(a, r, 0) == -1) {
			snprintf(err, errlen, "%s: amounts too large: a waiting "
			    "period's base would overflow under the new rules",
			    r->id);
			return -1;
		}
		if (make_orders(a, r) == -1)
			goto oom;
		rules_free(a->r);
		a->r = r;
		(void)rebase_unsettled(a, r, 1);
		a->active = 1;
		/* Sizes change only while no report was accepted (no periods). */
		a->nfig = r->ntaxes + 1 + r->nstats;
		a->nvals = 4 + r->nbenefs + 2 * r->nstats;
		return eng_rebuild_active(s) == -1 ? (snprintf(err, errlen,
		    "out of memory"), -1) : 0;
	}
	{
		struct agr **na;
		size_t pos = 0;

		if ((a = calloc(1, sizeof(*a))) == NULL ||
		    (a->id = strdup(r->id)) == NULL || make_orders(a, r) == -1)
			goto oom_a;
		a->active = 1;
		a->nfig = r->ntaxes + 1 + r->nstats;
		a->nvals = 4 + r->nbenefs + 2 * r->nstats;
		if ((na = realloc(s->agrs, (s->nagrs + 1) * sizeof(*na))) == NULL)
			goto oom_a;
		s->agrs = na;
		while (pos < s->nagrs && strcmp(s->agrs[pos]->id, r->id) < 0)
			pos++;
		memmove(&s->agrs[pos + 1], &s->agrs[pos],
		    (s->nagrs - pos) * sizeof(*na));
		s->agrs[pos] = a;
		s->nagrs++;
		a->r = r;
		if (eng_rebuild_active(s) == -1)
			goto oom;
		return 0;
	oom_a:
		if (a != NULL)
			a->r = NULL;
		eng_agr_free(a);
	}
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
settle_check_remove(const struct settle *s, const char *id, char *err,
    size_t errlen)
{
	const struct agr *a = eng_find_agr(s, id);
	char pb[RULES_PERIOD_BUFSZ], pb2[RULES_PERIOD_BUFSZ];

	if (a == NULL || !a->active) {
		snprintf(err, errlen, "%s: no such agreement", id);
		return -1;
	}
	for (size_t i = 0; i < a->nyears; i++)
		for (int k = 0; k < eng_per_year(a); k++) {
			int32_t p = a->years[i].y * eng_per_year(a) + k;
			struct seg sg;

			if (!(a->years[i].settled & 1u << k))
				continue;
			eng_seg_of(a->r, p, &sg);
			snprintf(err, errlen, "%s: removing the agreement would "
			    "remove term %s, whose period %s already settled",
			    id, rules_period_format(a->r->cadence, sg.t->from,
			    pb), rules_period_format(a->r->cadence, p, pb2));
			return -1;
		}
	return 0;
}

int
settle_remove(struct settle *s, const char *id, char *err, size_t errlen)
{
	struct agr *a;

	if (settle_check_remove(s, id, err, errlen) == -1)
		return -1;
	a = eng_find_agr(s, id);
	a->active = 0;
	if (eng_rebuild_active(s) == -1) {
		a->active = 1;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

const struct rules *
settle_get0_rules(const struct settle *s, const char *id)
{
	const struct agr *a = eng_find_agr(s, id);

	return a != NULL && a->active ? a->r : NULL;
}

size_t
settle_rules_count(const struct settle *s)
{
	return s->nactive;
}

const struct rules *
settle_get0_rules_at(const struct settle *s, size_t i)
{
	return i < s->nactive ? s->active[i]->r : NULL;
}
