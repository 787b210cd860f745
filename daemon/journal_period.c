/*
 * journal_period: GET /v1/agreements/{id}/periods/{p} (its entries from the
 * store's period index), the map of periods with entries not yet on disk,
 * and the period reads held until what they show is on disk.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/fnv.h"
#include "shanhai/settle.h"

#include "journal_impl.h"

/* ---- the map of periods with entries not yet on disk ---- */

/* The hash of "a/p": the same for the node's own key "a/p". */
static uint64_t
pmap_hash(const char *a, const char *p)
{
	return fnv1a(fnv1a(fnv1a(FNV1A_BASIS, a), "/"), p);
}

void
jn_pmap_clear(struct pmap *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct pnode *n, *next;

		for (n = m->b[i]; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* The link that points at a/p's node (*link NULL when there is none). */
static struct pnode **
pmap_link(const struct pmap *m, const char *a, const char *p)
{
	size_t alen = strlen(a);
	struct pnode **pp;

	for (pp = &m->b[pmap_hash(a, p) & (m->nb - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (strncmp((*pp)->key, a, alen) == 0 &&
		    (*pp)->key[alen] == '/' &&
		    strcmp((*pp)->key + alen + 1, p) == 0)
			break;
	return pp;
}

static struct pnode *
pmap_find(const struct pmap *m, const char *a, const char *p)
{
	return m->nb == 0 ? NULL : *pmap_link(m, a, p);
}

/* Entry index concerns a/p and is queued. */
static int
pmap_add(struct pmap *m, const char *a, const char *p, uint64_t index)
{
	struct pnode *n = pmap_find(m, a, p);
	size_t i;

	if (n != NULL) {
		if (index > n->last)
			n->last = index;
		return 0;
	}
	if (m->n + 1 > m->nb) {
		size_t nb = m->nb ? m->nb * 2 : 64;
		struct pnode **b = calloc(nb, sizeof(*b)), *x, *next;

		if (b == NULL)
			return -1;
		for (i = 0; i < m->nb; i++)
			for (x = m->b[i]; x != NULL; x = next) {
				size_t k = fnv1a(FNV1A_BASIS, x->key) &
				    (nb - 1);

				next = x->next;
				x->next = b[k];
				b[k] = x;
			}
		free(m->b);
		m->b = b;
		m->nb = nb;
	}
	if ((n = calloc(1, sizeof(*n) + strlen(a) + strlen(p) + 2)) ==
	    NULL)
		return -1;
	sprintf(n->key, "%s/%s", a, p);
	i = pmap_hash(a, p) & (m->nb - 1);
	n->next = m->b[i];
	m->b[i] = n;
	m->n++;
	n->last = index;
	return 0;
}

/*
 * Adds the entries of an accepted report (numbered from first on) to the
 * period map.
 */
int
jn_pmap_add_result(struct pmap *m, const struct settle_result *res,
    uint64_t first)
{
	const char *a = settle_result_agreement(res);

	for (size_t i = 0; i < settle_result_count(res); i++) {
		char pb[RULES_PERIOD_BUFSZ];
		const char *p = settle_result_entry_period(res, i, pb);

		if (p != NULL && pmap_add(m, a, p, first + i) < 0)
			return -1;
	}
	return 0;
}

/*
 * Group g is on disk: the periods of its entries leave the map unless an
 * entry of theirs still waits (in a later group).
 */
void
jn_pmap_committed(struct journal *j, const struct group *g)
{
	struct pmap *m = &j->periods;

	for (size_t i = 0; i < g->nentries && m->n > 0; i++) {
		const struct gentry *e = &g->entries[i];
		struct pnode **pp, *n;

		if (e->period[0] == '\0' || (i > 0 && e->item ==
		    g->entries[i - 1].item && strcmp(e->period,
		    g->entries[i - 1].period) == 0))
			continue;	/* no period, or the one just done */
		pp = pmap_link(m, g->items[e->item].rep.agreement, e->period);
		if ((n = *pp) != NULL && n->last < j->committed) {
			*pp = n->next;
			free(n);
			m->n--;
		}
	}
}

int
journal_period(struct journal *j, const char *agreement, const char *period,
    json_t **out, char *err, size_t errlen)
{
	uint64_t *v = NULL;
	size_t n = 0;
	json_t *o, *arr;

	if (settle_get0_rules(j->engine, agreement) == NULL) {
		snprintf(err, errlen, "agreement: no agreement \"%s\" is in"
		    " force", agreement);
		return 404;
	}
	if (settle_period_load(j->engine, agreement, period, err, errlen) < 0)
		return 503;
	if ((o = settle_period_json(j->engine, agreement, period, err,
	    errlen)) == NULL)
		return 400;
	/*
	 * Only what is on disk: queued entries are not in the ledger yet, and
	 * the connection may see a group committed but not yet synced.
	 */
	if (store_period_entries(j->rd, agreement, period, j->committed, &v,
	    &n) < 0) {
		json_decref(o);
		snprintf(err, errlen, "%s", store_errmsg(j->rd));
		return 500;
	}
	if ((arr = json_array()) == NULL) {
		free(v);
		json_decref(o);
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_integer((json_int_t)v[i]));
	free(v);
	json_object_set_new(o, "entries", arr);
	*out = o;
	return 0;
}

/*
 * How far the ledger must be committed before the period's state in the
 * engine is all on disk: past its last entry (report, dispute, adjustment,
 * settlement) and past any queued rules entry (a term may change); 0 when
 * it is already.
 */
static uint64_t
period_pending(const struct journal *j, const char *agreement,
    const char *period)
{
	const struct pnode *n = pmap_find(&j->periods, agreement, period);
	uint64_t upto = j->rules_upto > j->committed ? j->rules_upto : 0;

	if (n != NULL && n->last >= j->committed && n->last + 1 > upto)
		upto = n->last + 1;
	return upto;
}

/* After a commit or a rebuild: the held reads whose periods are on disk. */
void
jn_wake_waiters(struct journal *j)
{
	struct pwait *w, **pp = &j->waiters, *ready = NULL;

	while ((w = *pp) != NULL) {
		if (!j->broken && (w->period[0] == '\0' ? j->committed <
		    w->upto : period_pending(j, w->agreement, w->period) != 0)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = ready;
		ready = w;
	}
	while ((w = ready) != NULL) {
		ready = w->next;
		w->ready(j, w->arg, !j->broken);
		free(w);
	}
	if (j->waiters != NULL)
		journal_kick(j);
}

void
journal_when_committed(struct journal *j, const char *agreement,
    const char *period, journal_ready_fn *ready, void *arg)
{
	size_t la = strlen(agreement), lp = period ? strlen(period) : 0;
	struct pwait *w;

	if (j->broken || (period == NULL ? j->committed >= j->next :
	    period_pending(j, agreement, period) == 0)) {
		ready(j, arg, !j->broken);
		return;
	}
	if ((w = malloc(sizeof(*w) + la + lp + 2)) == NULL) {
		ready(j, arg, 0);
		return;
	}
	w->ready = ready;
	w->arg = arg;
	memcpy(w->agreement, agreement, la + 1);
	w->period = w->agreement + la + 1;
	memcpy(w->period, period ? period : "", lp + 1);
	w->upto = j->next;
	w->next = j->waiters;
	j->waiters = w;
	journal_kick(j);	/* a group still filling goes now */
}
