/*
 * settle: the settlement engine of SPEC §5.
 *
 * State per agreement, by fiscal year: the report ids used per side (for
 * idempotence and conflicts), and per period the latest report of each
 * side, the effective figures and, once settled, the values in force
 * (settlement plus adjustments). Closed years go out through the caller's
 * pager and come back when needed; what stays is a summary per year (24
 * bytes) and, when the pager keeps no index of report ids, a fingerprint
 * per id, which says which years to read back to find it. A report
 * changes at most one period's effective figures; its segment is then
 * recomputed from the effective figures of its planned periods (at most
 * 12), which gives the adjustments of periods already settled and the
 * settlements of periods that can now settle. Everything is
 * computed first and committed only when no step overflowed, so a refused
 * report leaves the engine as it was. Entries are written directly in
 * canonical form (keys in RFC 8785 order), which is what the ledger stores.
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
#include "rules_impl.h"
#include "settle_impl.h"

const char eng_broken_msg[] = "out of memory while committing: the "
    "engine no longer matches the ledger and must be rebuilt from it";

/* --- string builder ------------------------------------------------------- */

/* A 128-bit fen amount as yuan with two decimals (for messages). */
static const char *
money_format128(__int128 v, char buf[64])
{
	char d[48];
	size_t n = 0, o = 0;
	unsigned __int128 u = v < 0 ? -(unsigned __int128)v :
	    (unsigned __int128)v;

	do {
		d[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0 || n < 3);
	if (v < 0)
		buf[o++] = '-';
	while (n > 2)
		buf[o++] = d[--n];
	buf[o++] = '.';
	buf[o++] = d[1];
	buf[o++] = d[0];
	buf[o] = '\0';
	return buf;
}

/* "key":"value" for values that need no escaping (validated ids, codes). */
void
eng_sb_kv(struct textbuf *b, const char *key, const char *val)
{
	textbuf_puts(b, "\"");
	textbuf_puts(b, key);
	textbuf_puts(b, "\":\"");
	textbuf_puts(b, val);
	textbuf_puts(b, "\"");
}

void
eng_sb_kamount(struct textbuf *b, const char *key, int64_t fen)
{
	char buf[MONEY_BUFSZ];

	eng_sb_kv(b, key, money_format(fen, buf));
}

/* --- maps ------------------------------------------------------------------ */

/* The id's part of its fingerprints: 1..2^18-1. */
static uint32_t
fp_idpart(const char *id)
{
	return (uint32_t)((fnv1a(FNV1A_BASIS, id) >> 20) % ((1u << 18) - 1)) + 1;
}

static int
fp_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return (a > b) - (a < b);
}

/* The recent fingerprints into v, which grows by an eighth at least. */
static int
fpset_merge(struct fpset *m)
{
	size_t i, j, k;

	if (m->n + m->nrecent > m->cap) {
		size_t ncap = m->n + m->nrecent + m->n / 8;
		uint32_t *nv = realloc(m->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		m->v = nv;
		m->cap = ncap;
	}
	qsort(m->recent, m->nrecent, sizeof(*m->recent), fp_cmp);
	/* From the end, so that v is merged in place. */
	i = m->n;
	j = m->nrecent;
	k = m->n + m->nrecent;
	while (j > 0) {
		if (i > 0 && m->v[i - 1] > m->recent[j - 1])
			m->v[--k] = m->v[--i];
		else
			m->v[--k] = m->recent[--j];
	}
	m->n += m->nrecent;
	m->nrecent = 0;
	return 0;
}

static int
fpset_add(struct fpset *m, uint32_t fp)
{
	if (m->recent == NULL &&
	    (m->recent = malloc(FP_RECENT * sizeof(*m->recent))) == NULL)
		return -1;
	if (m->nrecent == FP_RECENT && fpset_merge(m) == -1)
		return -1;
	m->recent[m->nrecent++] = fp;
	return 0;
}

/* The first fingerprint of v at or above fp. */
static size_t
fpset_lower(const struct fpset *m, uint32_t fp)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid] < fp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct idrec *
idlist_find(const struct idlist *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].id, id) == 0)
			return &l->v[i];
	return NULL;
}

/* Returns the stored copy of id (stable while the list lives), or NULL. */
const char *
eng_idlist_add(struct idlist *l, const char *id, const unsigned char *hash)
{
	char *c;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 4;
		struct idrec *nv = realloc(l->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		l->v = nv;
		l->cap = ncap;
	}
	if ((c = strdup(id)) == NULL)
		return NULL;
	l->v[l->n].id = c;
	memcpy(l->v[l->n].hash, hash, 32);
	l->n++;
	return c;
}

static void
idlist_clear(struct idlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].id);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* --- state ----------------------------------------------------------------- */

size_t
eng_v_stat_home(const struct agr *a, size_t i)
{
	return V_BEN + a->r->nbenefs + 2 * i;
}

/* Periods in a fiscal year. */
int
eng_per_year(const struct agr *a)
{
	return rules_periods_per_year(a->r->cadence);
}

struct year *
eng_year_find(const struct agr *a, int32_t y)
{
	size_t lo = 0, hi = a->nyears;

	if (hi > 0 && a->years[hi - 1].y == y)
		return &a->years[hi - 1];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a->years[mid].y == y)
			return &a->years[mid];
		if (a->years[mid].y < y)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The periods of the year with a report: those whose status is not NONE. */
uint16_t
eng_year_present(const struct year *yr)
{
	uint16_t m = 0;

	for (int k = 0; k < 16; k++)
		if (yr->status >> 2 * k & 3)
			m |= (uint16_t)(1u << k);
	return m;
}

static size_t
apprs_lower(const struct agr *a, int32_t y)
{
	size_t lo = 0, hi = a->napprs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a->apprs[mid].y < y)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The approvals of year y, or NULL before the first. */
struct yappr *
eng_year_apprs(const struct agr *a, int32_t y)
{
	size_t i = apprs_lower(a, y);

	return i < a->napprs && a->apprs[i].y == y ? &a->apprs[i] : NULL;
}

/*
 * The approvals of year y, made empty when there are none yet (pointers
 * into a->apprs move); NULL out of memory.
 */
struct yappr *
eng_year_apprs_add(struct agr *a, int32_t y)
{
	size_t i = apprs_lower(a, y);
	struct yappr *nv;

	if (i < a->napprs && a->apprs[i].y == y)
		return &a->apprs[i];
	if (a->napprs == a->capapprs) {
		size_t ncap = a->capapprs + a->capapprs / 2 + 4;

		if ((nv = realloc(a->apprs, ncap * sizeof(*nv))) == NULL)
			return NULL;
		a->apprs = nv;
		a->capapprs = ncap;
	}
	nv = a->apprs;
	memmove(&nv[i + 1], &nv[i], (a->napprs - i) * sizeof(*nv));
	a->napprs++;
	memset(&nv[i], 0, sizeof(nv[i]));
	nv[i].y = y;
	return &nv[i];
}

/* Room in a->resident for one more year: 0, or -1 out of memory. */
int
eng_resident_reserve(struct agr *a)
{
	if (a->nresident == a->capresident) {
		size_t ncap = a->capresident * 2 + 4;
		int32_t *nr = realloc(a->resident, ncap * sizeof(*nr));

		if (nr == NULL)
			return -1;
		a->resident = nr;
		a->capresident = ncap;
	}
	return 0;
}

/*
 * The next capacity of an agreement's years: a quarter more, as the array
 * lives as long as the agreement. Past YEARS_SMALL bytes (683 years: only
 * long histories get there, such as bench_history's 6,510 years an
 * agreement) it jumps to YEARS_LARGE, which allocators serve from whole
 * pages of their own (tcmalloc above 256 KiB, glibc by mmap above 128
 * KiB): pages not yet written cost no memory, and the array does not pass
 * through every size in between, each step leaving a freed block in a
 * size-class cache that no other allocation asks for (10 MiB of
 * tcmalloc's at 10 million entries).
 */
#define YEARS_SMALL	(16 * 1024)
#define YEARS_LARGE	(512 * 1024)

static size_t
years_capacity(size_t cap)
{
	size_t ncap = cap + cap / 4 + 4;

	if (ncap * sizeof(struct year) > YEARS_SMALL &&
	    ncap * sizeof(struct year) < YEARS_LARGE)
		ncap = YEARS_LARGE / sizeof(struct year);
	return ncap;
}

/* A new, resident, empty year y (pointers into a->years move). */
static struct year *
year_add(struct agr *a, int32_t y)
{
	struct yres *res;
	size_t pos = a->nyears;

	if (eng_resident_reserve(a) == -1 ||
	    (res = calloc(1, sizeof(*res))) == NULL)
		return NULL;
	if (a->nyears == a->capyears) {
		size_t ncap = years_capacity(a->capyears);
		struct year *ny = realloc(a->years, ncap * sizeof(*ny));

		if (ny == NULL) {
			free(res);
			return NULL;
		}
		a->years = ny;
		a->capyears = ncap;
	}
	while (pos > 0 && a->years[pos - 1].y > y)
		pos--;
	memmove(&a->years[pos + 1], &a->years[pos],
	    (a->nyears - pos) * sizeof(*a->years));
	a->nyears++;
	memset(&a->years[pos], 0, sizeof(a->years[pos]));
	a->years[pos].ref = SETTLE_PAGE_NONE;
	a->years[pos].y = (int16_t)y;
	a->years[pos].res = res;
	res->dirty = 1;
	a->resident[a->nresident++] = y;
	return &a->years[pos];
}

/* The period p of a resident year, or NULL. */
struct period *
eng_year_period(const struct agr *a, const struct year *yr, int32_t p)
{
	if (yr == NULL || yr->res == NULL)
		return NULL;
	return yr->res->pes[p - yr->y * eng_per_year(a)];
}

void
eng_hex_to_bin(const char *hex, unsigned char *out)
{
	for (int i = 0; i < 32; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];

		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
}

char *
eng_bin_to_hex(const unsigned char *bin, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[bin[i] >> 4];
		out[2 * i + 1] = hex[bin[i] & 0xf];
	}
	out[64] = '\0';
	return out;
}

static void
period_free(struct period *pe)
{
	free(pe);
}

void
eng_yres_free(struct yres *res)
{
	if (res == NULL)
		return;
	for (int i = 0; i < SEG_MAX; i++)
		period_free(res->pes[i]);
	idlist_clear(&res->ids[0]);
	idlist_clear(&res->ids[1]);
	free(res);
}

void
eng_agr_free(struct agr *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nyears; i++)
		eng_yres_free(a->years[i].res);
	free(a->years);
	free(a->apprs);
	free(a->resident);
	for (int r = 0; r < 2; r++) {
		free(a->fps[r].v);
		free(a->fps[r].recent);
	}
	free(a->border);
	free(a->sorder);
	free(a->weights);
	rules_free(a->r);
	free(a->id);
	free(a);
}

struct settle *
settle_new(void)
{
	return calloc(1, sizeof(struct settle));
}

void
settle_free(struct settle *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nagrs; i++)
		eng_agr_free(s->agrs[i]);
	free(s->agrs);
	free(s->active);
	free(s->rep_buf);
	free(s->plan_buf);
	free(s->delta_buf);
	eng_jarena_free(s->ar);
	free(s->blob.p);
	free(s);
}

int
settle_set_pager(struct settle *s, const struct settle_pager *pg)
{
	if (s->submitted || (pg != NULL && (pg->put == NULL ||
	    pg->get == NULL || (pg->ids_add == NULL) != (pg->ids_find == NULL))))
		return -1;
	if (pg != NULL)
		s->pager = *pg;
	else
		memset(&s->pager, 0, sizeof(s->pager));
	return 0;
}

void
settle_pager_stats(const struct settle *s, struct settle_pager_stats *st)
{
	*st = s->pstats;
	st->resident = st->paged_out = 0;
	for (size_t i = 0; i < s->nagrs; i++) {
		st->resident += s->agrs[i]->nresident;
		st->paged_out += s->agrs[i]->nyears - s->agrs[i]->nresident;
	}
}

struct agr *
eng_find_agr(const struct settle *s, const char *id)
{
	size_t lo = 0, hi = s->nagrs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->agrs[mid]->id, id);

		if (c == 0)
			return s->agrs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
eng_rebuild_active(struct settle *s)
{
	struct agr **act = NULL;
	size_t n = 0;

	if (s->nagrs > 0 && (act = calloc(s->nagrs, sizeof(*act))) == NULL)
		return -1;
	for (size_t i = 0; i < s->nagrs; i++)
		if (s->agrs[i]->active)
			act[n++] = s->agrs[i];
	free(s->active);
	s->active = act;
	s->nactive = n;
	for (size_t i = 0; i < s->nagrs; i++) {
		if (s->agrs[i]->nfig > s->maxfig)
			s->maxfig = s->agrs[i]->nfig;
		if (s->agrs[i]->nvals > s->maxvals)
			s->maxvals = s->agrs[i]->nvals;
	}
	s->scratch_ok = 0;
	return 0;
}

/* --- segments ---------------------------------------------------------------- */

size_t
eng_term_index(const struct rules *r, int32_t p)
{
	size_t i = 0;

	while (i + 1 < r->nterms && r->terms[i + 1].from <= p)
		i++;
	return i;
}

/* The segment of period p (which lies in [start, end]). */
void
eng_seg_of(const struct rules *r, int32_t p, struct seg *sg)
{
	int per = rules_periods_per_year(r->cadence);
	int32_t y0 = p / per * per, y1 = y0 + per - 1;
	size_t ti = eng_term_index(r, p);

	sg->t = &r->terms[ti];
	sg->first = y0;
	if (sg->t->from > sg->first)
		sg->first = sg->t->from;
	if (r->start > sg->first)
		sg->first = r->start;
	sg->last = y1;
	if (ti + 1 < r->nterms && r->terms[ti + 1].from - 1 < sg->last)
		sg->last = r->terms[ti + 1].from - 1;
	if (r->end < sg->last)
		sg->last = r->end;
	sg->n = (int)(sg->last - sg->first + 1);
	sg->months = sg->n * rules_period_months(r->cadence);
}

/*
 * base = Σ round(amount_t × retain_t) − deductions, with the retention in
 * force in period p (its term's).
 */
int
eng_compute_base(const struct rules *r, int32_t p, const int64_t *fig,
    int64_t *base)
{
	const struct rules_term *t = &r->terms[eng_term_index(r, p)];
	int64_t b = 0, v;

	for (size_t i = 0; i < r->ntaxes; i++)
		if (money_mul_ratio(fig[i], &t->taxes[i].retain, &v) == -1 ||
		    money_add(b, v, &b) == -1)
			return -1;
	return money_sub(b, fig[r->ntaxes], base);
}

/*
 * R = the home side's cumulative amount for cumulative base C (before cap);
 * lim[i] is band i's limit in the segment, round(upto × M / 12).
 */
static int
cumulative_home(const struct rules_term *t, const int64_t *lim, int64_t C,
    int months, int64_t *R)
{
	switch (t->kind) {
	case RULES_TERM_FIXED:
		return money_mul_div(t->annual, months, 12, R);
	case RULES_TERM_HOME:
		return money_mul_ratio(C, &t->home, R);
	case RULES_TERM_BANDS: {
		__int128 num = 0, lo = 0;

		if (C < 0)
			return money_round((__int128)C * t->bands[0].num,
			    t->band_den, R);
		for (size_t i = 0; i < t->nbands && C > lo; i++) {
			const struct rules_band *b = &t->bands[i];
			__int128 hi = b->has_upto ? lim[i] : C;
			__int128 slice = (C < hi ? C : hi) - lo, prod;

			if (slice > 0 && (__builtin_mul_overflow(slice, b->num,
			    &prod) || __builtin_add_overflow(num, prod, &num)))
				return -1;
			if (b->has_upto)
				lo = lim[i];
		}
		return money_round(num, t->band_den, R);
	}
	}
	return -1;
}

/*
 * Computes the values of the first k planned periods of segment sg (all of
 * which have effective figures: eff[i], base[i]) into vals (k × nvals).
 */
static int
seg_compute(const struct agr *a, const struct seg *sg, int k,
    int64_t *const *eff, const int64_t *base, int64_t *vals)
{
	const struct rules *r = a->r;
	const struct rules_term *t = sg->t;
	int mpp = rules_period_months(r->cadence);
	int64_t C = 0, Rprev = 0, capM = 0, floorM = 0;
	int64_t prevparts[64], parts[64], *pp = prevparts, *np = parts;
	int64_t limbuf[16], *lim = limbuf;
	int64_t *heapbuf = NULL;
	int rc = -1;

	if (r->nbenefs > 64 || t->nbands > 16) {
		if ((heapbuf = calloc(2 * r->nbenefs + t->nbands, sizeof(int64_t)))
		    == NULL)
			return -1;
		pp = heapbuf;
		np = heapbuf + r->nbenefs;
		lim = heapbuf + 2 * r->nbenefs;
	} else
		memset(prevparts, 0, sizeof(prevparts));
	/* Band limits, cap and floor are yearly: scaled to the segment. */
	for (size_t b = 0; b < t->nbands; b++)
		if (t->bands[b].has_upto && money_mul_div(t->bands[b].upto,
		    sg->months, 12, &lim[b]) == -1)
			goto out;
	if (t->has_cap && money_mul_div(t->cap, sg->months, 12, &capM) == -1)
		goto out;
	if (t->has_floor &&
	    money_mul_div(t->floor, sg->months, 12, &floorM) == -1)
		goto out;
	for (int i = 0; i < k; i++) {
		int64_t *v = vals + (size_t)i * a->nvals, R, topup = 0, K, home;

		if (money_add(C, base[i], &C) == -1 ||
		    cumulative_home(t, lim, C, (i + 1) * mpp, &R) == -1)
			goto out;
		if (t->has_cap && R > capM)
			R = capM;
		if (t->has_floor && i == sg->n - 1 && floorM > R &&
		    money_sub(floorM, R, &topup) == -1)
			goto out;
		if (money_sub(R, Rprev, &home) == -1 ||
		    money_add(home, topup, &home) == -1 ||
		    money_add(R, topup, &K) == -1)
			goto out;
		v[V_BASE] = base[i];
		v[V_HOME] = home;
		v[V_TOPUP] = topup;
		if (money_sub(base[i], home, &v[V_HOST]) == -1)
			goto out;
		if (r->nbenefs > 0) {
			int64_t *tmp;

			if (money_alloc(K, a->weights, r->nbenefs, np) == -1)
				goto out;
			for (size_t b = 0; b < r->nbenefs; b++)
				v[V_BEN + b] = np[b] - pp[b];
			tmp = pp;
			pp = np;
			np = tmp;
		}
		for (size_t s = 0; s < r->nstats; s++) {
			const struct rules_stat *st = &t->stats[s];
			int64_t V = eff[i][r->ntaxes + 1 + s], sh = 0, sv = 0;
			size_t o = eng_v_stat_home(a, s);

			switch (st->mode) {
			case RULES_STAT_HOST:
				sv = V;
				break;
			case RULES_STAT_HOME:
				sh = V;
				break;
			case RULES_STAT_BOTH:
				sh = sv = V;
				break;
			case RULES_STAT_SPLIT:
				if (money_mul_ratio(V, &st->home, &sh) == -1 ||
				    money_sub(V, sh, &sv) == -1)
					goto out;
				break;
			}
			v[o] = sh;
			v[o + 1] = sv;
		}
		Rprev = R;
	}
	rc = 0;
out:
	free(heapbuf);
	return rc;
}

/* --- submission ---------------------------------------------------------------- */

enum settle_status
eng_period_status(const struct agr *a, const struct period *pe)
{
	if (pe == NULL)
		return SETTLE_NONE;
	if (a->r->confirm && pe->has[ROLE_HOST] && pe->has[ROLE_HOME] &&
	    memcmp(pe->fig[ROLE_HOST], pe->fig[ROLE_HOME],
	    a->nfig * sizeof(int64_t)) != 0)
		return SETTLE_DISPUTED;
	if (pe->settled)
		return SETTLE_SETTLED;
	return SETTLE_WAITING;
}

struct period *
eng_period_new(const struct agr *a, int32_t p)
{
	/*
	 * Without confirm the latest host figures are the effective ones: one
	 * array serves both (the agreement's confirm cannot change once a
	 * report was accepted, see eng_check_replace()).
	 */
	int confirm = a->r->confirm;
	size_t nint = (confirm ? 3 : 1) * a->nfig + a->nvals;
	struct period *pe = calloc(1, sizeof(*pe) + nint * sizeof(int64_t));
	int64_t *base;

	if (pe == NULL)
		return NULL;
	base = (int64_t *)(void *)(pe + 1);
	pe->p = p;
	if (confirm) {
		pe->fig[0] = base;
		pe->fig[1] = base + a->nfig;
		pe->eff = base + 2 * a->nfig;
		pe->cur = base + 3 * a->nfig;
	} else {
		pe->fig[0] = pe->fig[1] = pe->eff = base;
		pe->cur = base + a->nfig;
	}
	return pe;
}

/*
 * Reads back year y, which an id's fingerprint or the pager's index names,
 * and looks for the id there: 1 found (*out), 0 not there, -1 (err). A
 * year without reports is an error for a fingerprint, which is added with
 * its report, and not there for the pager's index, which is told of an id
 * just before the report is taken (sub_record_id()).
 */
static int
id_in_year(struct settle *s, struct agr *a, int role, const char *id,
    int32_t y, struct idrec **out, char *err, size_t errlen)
{
	struct year *yr = eng_year_find(a, y);

	if (yr == NULL)
		return s->pager.ids_find != NULL ? 0 : seterr(err, errlen,
		    "%s: report ids point to a year without reports", a->id);
	if (eng_year_load(s, a, yr, err, errlen) == -1)
		return -1;
	*out = idlist_find(&yr->res->ids[role], id);
	return *out != NULL;
}

/* The key of a report id in the pager's index: agreement, side, id. */
static uint64_t
id_hash(const struct agr *a, int role, const char *id)
{
	uint64_t h = fnv1a(FNV1A_BASIS, a->id);

	h = (h * 0x100000001b3ULL ^ (uint64_t)('0' + role)) * 0x100000001b3ULL;
	h = fnv1a(h, id);
	/* The index splits on the top bits, which FNV mixes poorly. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 33;
}

struct idsearch {
	struct settle	*s;
	struct agr	*a;
	int		 role;
	const char	*id;
	struct idrec	**out;
	char		*err;
	size_t		 errlen;
	int		 failed;	/* a year could not be read back */
};

static int
id_search_year(void *arg, int32_t y)
{
	struct idsearch *q = arg;
	int rc = id_in_year(q->s, q->a, q->role, q->id, y, q->out, q->err,
	    q->errlen);

	q->failed = rc == -1;
	return rc;
}

/*
 * The report id's record on that side, reading back the years its
 * fingerprints (or the pager's index) name: 0 (*out NULL when the id is
 * new), or -1.
 */
static int
id_find(struct settle *s, struct agr *a, int role, const char *id,
    struct idrec **out, char *err, size_t errlen)
{
	const struct fpset *m = &a->fps[role];
	uint32_t idp = fp_idpart(id);
	int rc;

	*out = NULL;
	if (s->pager.ids_find != NULL) {
		struct idsearch q = { s, a, role, id, out, err, errlen, 0 };

		if ((rc = s->pager.ids_find(s->pager.arg, id_hash(a, role, id),
		    id_search_year, &q)) == -1 && !q.failed)
			seterr(err, errlen, "the index of report ids of %s could "
			    "not be read", a->id);
		return rc == -1 ? -1 : 0;
	}
	for (size_t i = fpset_lower(m, idp << FP_YEARBITS);
	    i < m->n && m->v[i] >> FP_YEARBITS == idp; i++)
		if ((rc = id_in_year(s, a, role, id, (int32_t)(m->v[i] &
		    FP_YEARMASK), out, err, errlen)) != 0)
			return rc == 1 ? 0 : -1;
	for (size_t i = 0; i < m->nrecent; i++)
		if (m->recent[i] >> FP_YEARBITS == idp &&
		    (rc = id_in_year(s, a, role, id, (int32_t)(m->recent[i] &
		    FP_YEARMASK), out, err, errlen)) != 0)
			return rc == 1 ? 0 : -1;
	return 0;
}

static int
plan_segment(const struct agr *a, const struct year *yr, struct period *pe,
    int32_t p, struct plan *pl, char *err, size_t errlen)
{
	int64_t *eff[SEG_MAX], base[SEG_MAX];
	int k = 0;

	eng_seg_of(a->r, p, &pl->sg);
	pl->nsettled_old = 0;
	for (int i = 0; i < pl->sg.n; i++) {
		int32_t q = pl->sg.first + i;
		struct period *x = q == p ? pe : eng_year_period(a, yr, q);

		pl->pes[i] = x;
		if (x != NULL && x->settled)
			pl->nsettled_old = i + 1;
	}
	for (k = 0; k < pl->sg.n; k++) {
		struct period *x = pl->pes[k];

		if (pl->sg.first + k == p && pl->new_eff != NULL) {
			eff[k] = (int64_t *)pl->new_eff;
			base[k] = pl->base;
		} else if (x != NULL && x->has_eff) {
			eff[k] = x->eff;
			base[k] = x->eff_base;
		} else
			break;
	}
	pl->settle_from = pl->nsettled_old;
	pl->settle_to = k;
	if (seg_compute(a, &pl->sg, k, eff, base, pl->vals) == -1)
		return seterr(err, errlen, "amounts too large: settling this "
		    "report would overflow");
	return 0;
}

/* The name of value k of a period ("base", "beneficiaries.v-a", …). */
static const char *
val_name(const struct agr *a, size_t k, char *buf, size_t len)
{
	const struct rules *r = a->r;
	static const char *const fixed[] = { "base", "home", "host",
	    "floor_topup" };

	if (k < V_BEN)
		return fixed[k];
	if (k < V_BEN + r->nbenefs)
		snprintf(buf, len, "beneficiaries.%s", r->benefs[k - V_BEN].id);
	else {
		size_t i = (k - V_BEN - r->nbenefs) / 2;

		snprintf(buf, len, "statistics.%s.%s", r->stats[i].code,
		    (k - V_BEN - r->nbenefs) % 2 == 0 ? "home" : "host");
	}
	return buf;
}

static int
out_of_range(__int128 v)
{
	return v > MONEY_AMOUNT_MAX || v < -MONEY_AMOUNT_MAX;
}

/*
 * Every amount a report would have written is a SPEC §2 amount (at most 13
 * integer digits), and so is every total of its fiscal year, which a
 * statement shows: the values of the planned periods, the adjustments'
 * differences and the year's sums. 0; SETTLE_INVALID with the field and the
 * amount in err; SETTLE_UNAVAILABLE when memory runs out.
 */
static int
plan_in_range(const struct agr *a, const struct year *yr,
    const struct plan *pl, char *err, size_t errlen)
{
	char nb[96], pb[RULES_PERIOD_BUFSZ], vb[64];
	const int per = eng_per_year(a);
	int32_t y0 = pl->sg.first / per * per;
	__int128 *tot = calloc(a->nvals, sizeof(*tot));
	int rc = 0;

	if (tot == NULL)
		return seterr(err, errlen, "out of memory"), SETTLE_UNAVAILABLE;
	for (int32_t p = y0; p < y0 + per && rc == 0; p++) {
		int i = (int)(p - pl->sg.first);
		const struct period *x = eng_year_period(a, yr, p);
		const int64_t *v = NULL;

		if (i >= 0 && i < pl->settle_to)
			v = pl->vals + (size_t)i * a->nvals;
		else if (x != NULL && x->settled)
			v = x->cur;
		if (v == NULL)
			continue;
		for (size_t k = 0; k < a->nvals && rc == 0; k++) {
			__int128 d = (__int128)v[k] - (i >= 0 && i <
			    pl->settle_from ? x->cur[k] : 0);

			tot[k] += v[k];
			if (out_of_range(v[k]) || out_of_range(d))
				rc = seterr(err, errlen, "amounts too large: "
				    "%s of %s would be %s%s, beyond the 13 "
				    "integer digits of an amount",
				    val_name(a, k, nb, sizeof(nb)),
				    rules_period_format(a->r->cadence, p, pb),
				    out_of_range(v[k]) ? "" : "adjusted by ",
				    money_format128(out_of_range(v[k]) ? v[k] :
				    d, vb));
		}
	}
	for (size_t k = 0; k < a->nvals && rc == 0; k++)
		if (out_of_range(tot[k]))
			rc = seterr(err, errlen, "amounts too large: the %d "
			    "total of %s would be %s, beyond the 13 integer "
			    "digits of an amount", (int)(y0 / per),
			    val_name(a, k, nb, sizeof(nb)),
			    money_format128(tot[k], vb));
	free(tot);
	return rc == 0 ? 0 : SETTLE_INVALID;
}

static int
fig_equal(const struct agr *a, const int64_t *x, const int64_t *y)
{
	return memcmp(x, y, a->nfig * sizeof(int64_t)) == 0;
}

/* Sizes the per-submission buffers once, not per report. */
static int
ensure_scratch(struct settle *s)
{
	void *r, *p, *d;

	if (s->scratch_ok)
		return 0;
	r = realloc(s->rep_buf, sizeof(struct report) +
	    (s->maxfig + 1) * sizeof(int64_t));
	if (r == NULL)
		return -1;
	s->rep_buf = r;
	p = realloc(s->plan_buf, sizeof(struct plan) +
	    (SEG_MAX * s->maxvals + 1) * sizeof(int64_t));
	if (p == NULL)
		return -1;
	s->plan_buf = p;
	d = realloc(s->delta_buf, (SEG_MAX * s->maxvals + 1) *
	    sizeof(int64_t));
	if (d == NULL)
		return -1;
	s->delta_buf = d;
	s->scratch_ok = 1;
	return 0;
}

/*
 * One report on its way through settle_submit(): what each step found,
 * for the next. The steps, in order:
 *
 *   parse      bytes -> a validated report, its canonical text and hash
 *   authorise  the client speaks for the report's side
 *   conflicts  resubmission (same id, same content), reused id, supersedes
 *   plan       effective figures, dispute, the segment's values, ranges
 *   apply      the engine takes the report and the planned values
 *   emit       the entries of the result, from the engine as applied
 *
 * Nothing in the engine changes before apply (parse may grow the engine's
 * scratch buffers and read paged years back, neither of which a refusal
 * can observe); every refusal of the first four leaves the engine as it
 * was. Apply and emit cannot be refused: they fail only for memory, and
 * then the engine is marked broken (503 until it is rebuilt from the
 * ledger, see tests/test_settle_oom.c).
 */
struct submission {
	struct settle		*s;
	const char		*time;
	const char		*submitter;
	char			*err;
	size_t			 errlen;
	json_t			*o;	/* jansson's tree, when the fast reader declined */
	struct jv		 top;
	struct report		*rep;
	struct agr		*a;	/* set once the report validated */
	int			 role;
	char			*canon;
	size_t			 clen;
	char			 hash[HEXBUF];
	unsigned char		 hbin[32];
	char			 pbuf[RULES_PERIOD_BUFSZ];
	struct year		*yr;	/* NULL: the report opens its year */
	struct period		*pe;	/* NULL: the first report of its period */
	struct plan		*pl;
	struct settle_result	*res;
	struct textbuf		 b;
};

static int
sub_oom(struct submission *u)
{
	seterr(u->err, u->errlen, "out of memory");
	return SETTLE_UNAVAILABLE;
}

/*
 * Parse: size, a working engine, the metadata, JSON (the fast reader, else
 * jansson), the fields (eng_validate), the canonical text and its SHA-256.
 * 0 with u->rep, u->a, u->role, u->canon and u->hash set, or a code.
 */
static int
sub_parse(struct submission *u, const char *buf, size_t len)
{
	struct settle *s = u->s;

	if (len > SETTLE_REPORT_MAX)
		return seterr(u->err, u->errlen, "report: larger than %d "
		    "bytes", SETTLE_REPORT_MAX), SETTLE_TOOLARGE;
	if (s->broken)
		return seterr(u->err, u->errlen, "%s", eng_broken_msg),
		    SETTLE_UNAVAILABLE;
	if (eng_check_meta(u->time, u->submitter, u->err, u->errlen) == -1)
		return SETTLE_INVALID;
	if (s->ar == NULL && (s->ar = calloc(1, sizeof(*s->ar))) == NULL)
		return sub_oom(u);
	if (eng_fast_read(s->ar, buf, len, &u->top) == -1) {
		json_error_t je;
		char why[200];

		u->o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
		if (u->o == NULL)
			return seterr(u->err, u->errlen, "not JSON: %s "
			    "(byte %d)", canon_json_error(&je, why, sizeof(why)),
			    je.position), SETTLE_BADJSON;
		if (!json_is_object(u->o))
			return seterr(u->err, u->errlen, "not a JSON "
			    "object"), SETTLE_BADJSON;
		if (eng_json_read(s->ar, u->o, &u->top) == -1)
			return sub_oom(u);
	}
	if (ensure_scratch(s) == -1)
		return sub_oom(u);
	u->rep = s->rep_buf;
	memset(u->rep, 0, sizeof(*u->rep));
	if (eng_validate(s, &u->top, u->rep, u->err, u->errlen) == -1)
		return SETTLE_INVALID;
	u->a = u->rep->a;
	u->role = u->rep->role;
	if (u->o == NULL) {
		struct textbuf cb = TEXTBUF_INIT;

		eng_fast_canon(&cb, &u->top);
		if (cb.failed) {
			free(cb.p);
			return sub_oom(u);
		}
		u->canon = cb.p;
		u->clen = cb.len;
	} else if ((u->canon = canon_dump(u->o, &u->clen, u->err,
	    u->errlen)) == NULL)
		/* Validated: strings and objects only; what fails is memory. */
		return SETTLE_UNAVAILABLE;
	canon_sha256_hex(u->canon, u->clen, u->hash);
	eng_hex_to_bin(u->hash, u->hbin);
	return 0;
}

/*
 * Authorise, after the fields and before conflicts: a client that speaks
 * for sides (NULL: for any) may report only for one of them. 0, or
 * SETTLE_FORBIDDEN.
 */
static int
sub_authorise(struct submission *u, const char *const *sides,
    size_t nsides)
{
	const struct agr *a = u->a;
	const char *side = u->role == ROLE_HOST ? a->r->host : a->r->home;

	if (sides == NULL)
		return 0;
	for (size_t i = 0; i < nsides; i++)
		if (sides[i] != NULL && strcmp(sides[i], side) == 0)
			return 0;
	seterr(u->err, u->errlen, "role: this client does not speak for "
	    "%s (the %s side of %s)", side, u->role == ROLE_HOST ? "host" :
	    "home", a->id);
	return SETTLE_FORBIDDEN;
}

/*
 * Conflicts, reading back the paged years they need: the same report again
 * is SETTLE_DUPLICATE with u->res (the first receipt's result, the
 * period's status now); its id used for other content, a second report of
 * the period without supersedes, or a supersedes that is not the latest
 * report, SETTLE_CONFLICT. 0 with u->yr and u->pe found (either may be
 * NULL), or a code.
 */
static int
sub_conflicts(struct submission *u)
{
	struct settle *s = u->s;
	struct agr *a = u->a;
	const struct report *rep = u->rep;
	const char *side = u->role == ROLE_HOST ? "host" : "home";
	struct idrec *idr;

	if ((u->yr = eng_year_find(a, rep->p / eng_per_year(a))) != NULL &&
	    eng_year_load(s, a, u->yr, u->err, u->errlen) == -1)
		return SETTLE_UNAVAILABLE;
	u->pe = eng_year_period(a, u->yr, rep->p);
	if (id_find(s, a, u->role, rep->report_id, &idr, u->err, u->errlen)
	    == -1)
		return SETTLE_UNAVAILABLE;
	if (idr != NULL) {
		if (memcmp(idr->hash, u->hbin, 32) != 0)
			return seterr(u->err, u->errlen, "report_id: \"%s\" "
			    "was already used by the %s side of %s for other "
			    "content", rep->report_id, side, a->id),
			    SETTLE_CONFLICT;
		if ((u->res = eng_result_new(a, rep->p, u->role, u->hash,
		    rep->report_id)) == NULL)
			return sub_oom(u);
		u->res->st = eng_period_status(a, u->pe);
		return SETTLE_DUPLICATE;
	}
	rules_period_format(a->r->cadence, rep->p, u->pbuf);
	if (u->pe != NULL && u->pe->has[u->role]) {
		if (rep->supersedes == NULL)
			return seterr(u->err, u->errlen, "supersedes: period "
			    "%s already has %s report \"%s\"; a correction must "
			    "name it in supersedes", u->pbuf, side,
			    u->pe->id[u->role]), SETTLE_CONFLICT;
		if (strcmp(rep->supersedes, u->pe->id[u->role]) != 0)
			return seterr(u->err, u->errlen, "supersedes: \"%s\" "
			    "is not the latest %s report of period %s (that is "
			    "\"%s\")", rep->supersedes, side, u->pbuf,
			    u->pe->id[u->role]), SETTLE_CONFLICT;
	} else if (rep->supersedes != NULL)
		return seterr(u->err, u->errlen, "supersedes: period %s has "
		    "no %s report to correct", u->pbuf, side), SETTLE_CONFLICT;
	return 0;
}

/*
 * Plan: the period's new effective figures (with confirm, only once both
 * sides agree; differing figures are a dispute) and their base, then the
 * segment's values from every planned period's effective figures, each
 * amount and each year total within range. Writes only the plan (the
 * engine's scratch). 0 with u->pl, or SETTLE_INVALID (an overflow) or
 * SETTLE_UNAVAILABLE.
 */
static int
sub_plan(struct submission *u)
{
	const struct agr *a = u->a;
	const struct report *rep = u->rep;
	struct plan *pl = u->pl = u->s->plan_buf;

	memset(pl, 0, sizeof(*pl));
	if (!a->r->confirm)
		pl->new_eff = rep->fig;
	else if (u->pe != NULL && u->pe->has[1 - u->role]) {
		if (fig_equal(a, rep->fig, u->pe->fig[1 - u->role]))
			pl->new_eff = rep->fig;
		else
			pl->dispute = 1;
	}
	if (pl->new_eff != NULL && eng_compute_base(a->r, rep->p,
	    pl->new_eff, &pl->base) == -1)
		return seterr(u->err, u->errlen, "amounts too large: the "
		    "base overflows"), SETTLE_INVALID;
	/*
	 * The segment is recomputed on every report, not only when effective
	 * figures changed: a period may have become settleable since the last
	 * look (a rules reload that split a segment), and it costs little.
	 */
	if (plan_segment(a, u->yr, u->pe, rep->p, pl, u->err, u->errlen) == -1)
		return SETTLE_INVALID;
	return plan_in_range(a, u->yr, pl, u->err, u->errlen);
}

/*
 * Record: the pager's index of report ids (when it keeps one) learns the
 * report's id and year before anything else changes, so that a failure
 * to write it refuses the report (SETTLE_UNAVAILABLE) with the engine as
 * it was. An entry whose report is then not taken is only a year read
 * back in vain by a later lookup (id_in_year()).
 */
static int
sub_record_id(struct submission *u)
{
	const struct settle_pager *pg = &u->s->pager;

	if (pg->ids_add == NULL || pg->ids_add(pg->arg, id_hash(u->a, u->role,
	    u->rep->report_id), u->rep->p / eng_per_year(u->a)) == 0)
		return 0;
	return seterr(u->err, u->errlen, "the index of report ids of %s could "
	    "not be written", u->a->id), SETTLE_UNAVAILABLE;
}

/*
 * Apply: the engine takes the report (its year and period made when new,
 * its id, figures and effective figures) and the plan's values (periods
 * already settled get the new values, the differences kept in
 * s->delta_buf for emit; newly settleable periods settle). Only memory can
 * fail it: -1, with the engine part changed.
 */
static int
sub_apply(struct submission *u)
{
	struct agr *a = u->a;
	const struct report *rep = u->rep;
	struct plan *pl = u->pl;
	struct period *pe;
	int role = u->role;

	if ((u->res = eng_result_new(a, rep->p, role, u->hash,
	    rep->report_id)) == NULL)
		return -1;
	if (u->yr == NULL && (u->yr = year_add(a, rep->p / eng_per_year(a)))
	    == NULL)
		return -1;
	if (u->pe == NULL) {
		if ((pe = eng_period_new(a, rep->p)) == NULL)
			return -1;
		u->pe = u->yr->res->pes[rep->p - u->yr->y * eng_per_year(a)] =
		    pe;
		pl->pes[rep->p - pl->sg.first] = pe;
	}
	pe = u->pe;
	if ((pe->id[role] = eng_idlist_add(&u->yr->res->ids[role],
	    rep->report_id, u->hbin)) == NULL ||
	    (u->s->pager.ids_add == NULL && fpset_add(&a->fps[role],
	    fp_idpart(rep->report_id) << FP_YEARBITS | (uint32_t)u->yr->y)
	    == -1))
		return -1;
	u->yr->res->dirty = 1;
	u->s->submitted = 1;
	a->nreports++;
	pe->has[role] = 1;
	memcpy(pe->hash[role], u->hbin, 32);
	memcpy(pe->fig[role], rep->fig, a->nfig * sizeof(int64_t));
	if (pl->new_eff != NULL) {
		pe->has_eff = 1;
		memcpy(pe->eff, pl->new_eff, a->nfig * sizeof(int64_t));
		pe->eff_base = pl->base;
		if (a->r->confirm) {
			pe->neff = 2;
			memcpy(pe->eff_hash[0], pe->hash[ROLE_HOST], 32);
			memcpy(pe->eff_hash[1], pe->hash[ROLE_HOME], 32);
		} else {
			pe->neff = 1;
			memcpy(pe->eff_hash[0], u->hbin, 32);
		}
	}
	for (int i = 0; i < pl->settle_to; i++) {
		struct period *x = pl->pes[i];
		const int64_t *nv = pl->vals + (size_t)i * a->nvals;
		int64_t *delta = u->s->delta_buf + (size_t)i * a->nvals;

		if (i < pl->settle_from)
			for (size_t k = 0; k < a->nvals; k++)
				/* plan_in_range checked this difference. */
				delta[k] = nv[k] - x->cur[k];
		else
			x->settled = 1;
		memcpy(x->cur, nv, a->nvals * sizeof(int64_t));
	}
	eng_year_summarize(a, u->yr);
	return 0;
}

/*
 * Emit: the entries into u->res, in ledger order: the report, a dispute,
 * an adjustment of each settled period whose values changed, a settlement
 * of each period that settled now; then the period's status. Reads the
 * engine as applied, changes nothing in it. Only memory can fail it: -1.
 */
static int
sub_emit(struct submission *u)
{
	const struct agr *a = u->a;
	const struct plan *pl = u->pl;
	struct period *pe = u->pe;
	struct textbuf *b = &u->b;
	char qb[RULES_PERIOD_BUFSZ], tb[RULES_PERIOD_BUFSZ];

	eng_entry_report(b, u->canon, u->clen, u->hash, u->submitter, u->time);
	if (eng_result_add(u->res, b, u->rep->p) == -1)
		return -1;
	if (pl->dispute) {
		char hh[HEXBUF], mh[HEXBUF];

		eng_entry_dispute(b, a, u->pbuf, eng_bin_to_hex(
		    pe->hash[ROLE_HOST], hh), eng_bin_to_hex(
		    pe->hash[ROLE_HOME], mh), u->time);
		if (eng_result_add(u->res, b, u->rep->p) == -1)
			return -1;
	}
	for (int i = 0; i < pl->settle_from; i++) {
		const struct period *x = pl->pes[i];
		const int64_t *delta = u->s->delta_buf + (size_t)i * a->nvals;
		int changed = 0;

		for (size_t k = 0; k < a->nvals; k++)
			changed |= delta[k] != 0;
		if (!changed)
			continue;
		eng_entry_adjustment(b, a, rules_period_format(a->r->cadence,
		    x->p, qb), delta, u->hash, u->time);
		if (eng_result_add(u->res, b, x->p) == -1)
			return -1;
	}
	for (int i = pl->settle_from; i < pl->settle_to; i++) {
		struct period *x = pl->pes[i];

		eng_entry_settlement(b, a, rules_period_format(a->r->cadence,
		    x->p, qb), rules_period_format(a->r->cadence,
		    pl->sg.t->from, tb), pl->vals + (size_t)i * a->nvals, x,
		    u->time);
		if (eng_result_add(u->res, b, x->p) == -1)
			return -1;
	}
	u->res->st = eng_period_status(a, pe);
	return 0;
}

int
settle_submit(struct settle *s, const char *buf, size_t len,
    const char *const *sides, size_t nsides, const char *time,
    const char *submitter, struct settle_result **resp, char *err,
    size_t errlen)
{
	struct submission u = { .s = s, .time = time, .submitter = submitter,
	    .err = err, .errlen = errlen, .b = TEXTBUF_INIT };
	int rc;

	*resp = NULL;
	if ((rc = sub_parse(&u, buf, len)) == 0 &&
	    (rc = sub_authorise(&u, sides, nsides)) == 0 &&
	    (rc = sub_conflicts(&u)) == 0 &&
	    (rc = sub_plan(&u)) == 0 &&
	    (rc = sub_record_id(&u)) == 0) {
		if (sub_apply(&u) == 0 && sub_emit(&u) == 0)
			rc = SETTLE_ACCEPTED;
		else {
			/*
			 * Out of memory half way through: the engine can no
			 * longer be trusted to match the ledger. Say so; the
			 * caller must stop or rebuild it.
			 */
			s->broken = 1;
			seterr(err, errlen, "%s", eng_broken_msg);
			rc = SETTLE_UNAVAILABLE;
		}
	}
	if (rc == SETTLE_ACCEPTED || rc == SETTLE_DUPLICATE) {
		*resp = u.res;
		u.res = NULL;
	}
	if (u.a != NULL)
		eng_close_years(s, u.a);
	free(u.b.p);
	settle_result_free(u.res);
	free(u.canon);
	json_decref(u.o);
	return rc;
}
