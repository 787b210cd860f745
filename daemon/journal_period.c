/*
 * journal_period: the period map (agreement/period -> the entries that
 * concern it), GET /v1/agreements/{id}/periods/{p}, and the period reads
 * held until what they show is on disk.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/fnv.h"
#include "shanhai/settle.h"

#include "journal_impl.h"

/* ---- the period map ---- */

/* FNV-1a of s, going on from h. */
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
			if (n->cap > 0)
				free(n->u.v);
			free(n);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

struct pnode *
jn_pmap_find(const struct pmap *m, const char *a, const char *p)
{
	size_t alen = strlen(a);
	struct pnode *n;

	if (m->nb == 0)
		return NULL;
	for (n = m->b[pmap_hash(a, p) & (m->nb - 1)]; n != NULL; n = n->next)
		if (strncmp(n->key, a, alen) == 0 && n->key[alen] == '/' &&
		    strcmp(n->key + alen + 1, p) == 0)
			return n;
	return NULL;
}

static int
pmap_add(struct pmap *m, const char *a, const char *p, uint64_t index)
{
	struct pnode *n = jn_pmap_find(m, a, p);
	size_t i;

	if (n == NULL) {
		if (m->n + 1 > m->nb) {
			size_t nb = m->nb ? m->nb * 2 : 256;
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
	}
	if (n->cap == 0 && n->n < PNODE_INLINE) {
		n->u.in[n->n++] = index;
		return 0;
	}
	if (n->cap == 0 || n->n == n->cap) {	/* inline full, or array */
		uint32_t cap = n->cap ? n->cap * 2 : 2 * PNODE_INLINE;
		uint64_t *v = malloc(cap * sizeof(*v));

		if (v == NULL || n->n >= UINT32_MAX / 2) {
			free(v);
			return -1;
		}
		memcpy(v, pnode_v(n), n->n * sizeof(*v));
		if (n->cap > 0)
			free(n->u.v);
		n->u.v = v;
		n->cap = cap;
	}
	n->u.v[n->n++] = index;
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

int
journal_period(struct journal *j, const char *agreement, const char *period,
    json_t **out, char *err, size_t errlen)
{
	const struct pnode *n;
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
	if ((arr = json_array()) == NULL) {
		json_decref(o);
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	/* Only what is on disk: queued entries are not in the ledger yet. */
	if ((n = jn_pmap_find(&j->periods, agreement, period)) != NULL) {
		const uint64_t *v = pnode_v(n);

		for (size_t i = 0; i < n->n && v[i] < j->committed; i++)
			json_array_append_new(arr, json_integer((json_int_t)v[i]));
	}
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
	const struct pnode *n = jn_pmap_find(&j->periods, agreement, period);
	uint64_t upto = j->rules_upto > j->committed ? j->rules_upto : 0;
	uint64_t last;

	if (n != NULL && n->n > 0 && (last = pnode_v(n)[n->n - 1]) >=
	    j->committed && last + 1 > upto)
		upto = last + 1;
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
