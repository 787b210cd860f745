/*
 * settle: the settlement engine of SPEC §5.
 *
 * State per agreement, by fiscal year: the report ids used per side (for
 * idempotence and conflicts), and per period the latest report of each
 * side, the effective figures and, once settled, the values in force
 * (settlement plus adjustments). Closed years go out through the caller's
 * pager and come back when needed; what stays is a summary per year and a
 * fingerprint per report id, which says which years to read back to find
 * it. A report changes at most one period's effective figures;
 * its segment is then recomputed from the effective figures of its planned
 * periods (at most 12), which gives the adjustments of periods already
 * settled and the settlements of periods that can now settle. Everything is
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

#define ROLE_HOST	0
#define ROLE_HOME	1
#define HEXBUF		CANON_HASH_BUFSZ
#define SEG_MAX		12	/* periods in a segment: at most a year of months */

static const char broken_msg[] = "out of memory while committing: the "
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
static void
sb_kv(struct textbuf *b, const char *key, const char *val)
{
	textbuf_puts(b, "\"");
	textbuf_puts(b, key);
	textbuf_puts(b, "\":\"");
	textbuf_puts(b, val);
	textbuf_puts(b, "\"");
}

static void
sb_kamount(struct textbuf *b, const char *key, int64_t fen)
{
	char buf[MONEY_BUFSZ];

	sb_kv(b, key, money_format(fen, buf));
}

/* --- maps ------------------------------------------------------------------ */

struct period;

/* A report id of one side, with the hash of the report that used it. */
struct idrec {
	char		*id;
	unsigned char	 hash[32];
};

/* The ids used by the reports of one side in one fiscal year. */
struct idlist {
	struct idrec	*v;
	size_t		 n;
	size_t		 cap;
};

/*
 * Which years used a report id, per side of an agreement: one 32-bit
 * fingerprint per report id (18 bits of the id's hash, never 0, above the
 * 14-bit year), open addressing, linear probing, power-of-two capacity.
 * A fingerprint only says where to look: the id itself is in the year's
 * idlist, read back through the pager when the year is paged out. Several
 * ids may share a fingerprint; none is ever missing one.
 */
struct fpset {
	uint32_t	*slots;
	size_t		 cap;
	size_t		 n;
};

#define FP_YEARBITS	14	/* years 0000..9999 */
#define FP_YEARMASK	((1u << FP_YEARBITS) - 1)

/* The id's part of its fingerprints: 1..2^18-1. */
static uint32_t
fp_idpart(const char *id)
{
	return (uint32_t)((fnv1a(FNV1A_BASIS, id) >> 20) % ((1u << 18) - 1)) + 1;
}

/* Where a fingerprint's probe starts (murmur3's finalizer). */
static size_t
fp_start(uint32_t idpart, size_t cap)
{
	uint32_t h = idpart;

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h & (cap - 1);
}

static int
fpset_add(struct fpset *m, uint32_t fp)
{
	size_t i;

	if ((m->n + 1) * 4 > m->cap * 3) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		uint32_t *ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL)
			return -1;
		for (size_t k = 0; k < m->cap; k++) {
			if (m->slots[k] == 0)
				continue;
			for (i = fp_start(m->slots[k] >> FP_YEARBITS, ncap);
			    ns[i] != 0; i = (i + 1) & (ncap - 1))
				;
			ns[i] = m->slots[k];
		}
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	for (i = fp_start(fp >> FP_YEARBITS, m->cap); m->slots[i] != 0;
	    i = (i + 1) & (m->cap - 1))
		;
	m->slots[i] = fp;
	m->n++;
	return 0;
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
static const char *
idlist_add(struct idlist *l, const char *id, const unsigned char *hash)
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

struct period {
	int32_t		 p;
	int		 has[2];		/* a latest report of the side */
	const char	*id[2];			/* its report_id (in the year's ids) */
	unsigned char	 hash[2][32];		/* its hash */
	int		 has_eff;		/* effective figures exist */
	int		 neff;			/* reports behind them: 1 or 2 */
	unsigned char	 eff_hash[2][32];
	int64_t		 eff_base;
	int		 settled;
	int64_t		*fig[2];		/* latest figures per side */
	int64_t		*eff;			/* effective figures */
	int64_t		*cur;			/* values in force once settled */
};

/* What a fiscal year holds while it is in memory. */
struct yres {
	struct period	*pes[SEG_MAX];		/* by period within the year */
	struct idlist	 ids[2];		/* report ids used, per side */
};

/*
 * One fiscal year of an agreement (all its segments). The summary stays in
 * memory when the rest is paged out: which periods have reports, which
 * settled, and each one's status (2 bits, enum settle_status).
 */
/* A side's latest approval of the year's statement (SPEC §5a). */
struct approval {
	int		 has;
	unsigned char	 hash[32];	/* the statement it names */
	uint64_t	 index;		/* its entry */
	char		 time[24];	/* RFC 3339, or "" */
};

struct year {
	int32_t		 y;
	uint16_t	 present;
	uint16_t	 settled;
	uint32_t	 status;
	unsigned char	 dirty;		/* the pager's blob missing or old */
	struct yres	*res;		/* NULL: paged out */
	struct approval	 appr[2];	/* by role; stays in memory */
};

struct agr {
	char		*id;
	struct rules	*r;
	int		 active;
	size_t		 nreports;
	size_t		 nfig;		/* taxes, deductions, statistics */
	size_t		 nvals;		/* base home host topup, benefs, stats h/h */
	struct year	*years;		/* sorted by y */
	size_t		 nyears;
	size_t		 capyears;
	size_t		 nresident;	/* years with res */
	struct fpset	 fps[2];	/* report ids used, per side */
	size_t		*border;	/* beneficiaries sorted by id */
	size_t		*sorder;	/* statistics sorted by code */
	int64_t		*weights;	/* beneficiaries' weights, as listed */
};

struct settle {
	struct agr	**agrs;		/* sorted by id */
	size_t		  nagrs;
	struct agr	**active;	/* those in force, sorted by id */
	size_t		  nactive;
	size_t		  maxfig;	/* largest nfig, for the report buffer */
	size_t		  maxvals;	/* largest nvals, for the plan buffer */
	void		 *rep_buf;	/* scratch: struct report */
	void		 *plan_buf;	/* scratch: struct plan */
	int64_t		 *delta_buf;	/* scratch: one adjustment */
	int		  scratch_ok;	/* buffers sized for maxfig, maxvals */
	struct jarena	 *ar;		/* scratch: the report as a tree */
	int		  has_pager;
	int		  submitted;	/* a report was accepted */
	struct settle_pager pager;
	struct settle_pager_stats pstats;
	struct textbuf	  blob;		/* scratch: a year being paged out */
	int		  broken;	/* memory ran out inside a commit */
};

struct settle_result {
	char		 hash[HEXBUF];
	const char	*status_text;	/* approvals: the year's status */
	uint64_t	 first_index;	/* a repeated approval: its entry */
	char		*agreement;
	char		 period[RULES_PERIOD_BUFSZ];
	char		 report_id[SETTLE_REPORT_ID_BUFSZ];
	const char	*role;
	enum settle_status st;
	enum rules_cadence cadence;
	size_t		 n;
	char		*entries[3 + 2 * SEG_MAX];
	size_t		 lens[3 + 2 * SEG_MAX];
	int32_t		 eperiod[3 + 2 * SEG_MAX];	/* the period each concerns */
	json_t		*json[3 + 2 * SEG_MAX];
};

/* Value layout of a settled period's `cur`. */
#define V_BASE	0
#define V_HOME	1
#define V_HOST	2
#define V_TOPUP	3
#define V_BEN	4

static size_t
v_stat_home(const struct agr *a, size_t i)
{
	return V_BEN + a->r->nbenefs + 2 * i;
}

/* Periods in a fiscal year. */
static int
per_year(const struct agr *a)
{
	return rules_periods_per_year(a->r->cadence);
}

static struct year *
year_find(const struct agr *a, int32_t y)
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

/* A new, resident, empty year y (pointers into a->years move). */
static struct year *
year_add(struct agr *a, int32_t y)
{
	struct yres *res = calloc(1, sizeof(*res));
	size_t pos = a->nyears;

	if (res == NULL)
		return NULL;
	if (a->nyears == a->capyears) {
		size_t ncap = a->capyears ? a->capyears * 2 : 4;
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
	a->years[pos].y = y;
	a->years[pos].res = res;
	a->years[pos].dirty = 1;
	a->nresident++;
	return &a->years[pos];
}

/* The period p of a resident year, or NULL. */
static struct period *
year_period(const struct agr *a, const struct year *yr, int32_t p)
{
	if (yr == NULL || yr->res == NULL)
		return NULL;
	return yr->res->pes[p - yr->y * per_year(a)];
}

static void
hex_to_bin(const char *hex, unsigned char *out)
{
	for (int i = 0; i < 32; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];

		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
}

static char *
bin_to_hex(const unsigned char *bin, char *out)
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

static void
yres_free(struct yres *res)
{
	if (res == NULL)
		return;
	for (int i = 0; i < SEG_MAX; i++)
		period_free(res->pes[i]);
	idlist_clear(&res->ids[0]);
	idlist_clear(&res->ids[1]);
	free(res);
}

static void
agr_free(struct agr *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nyears; i++)
		yres_free(a->years[i].res);
	free(a->years);
	free(a->fps[0].slots);
	free(a->fps[1].slots);
	free(a->border);
	free(a->sorder);
	free(a->weights);
	rules_free(a->r);
	free(a->id);
	free(a);
}

static void	jarena_free(struct jarena *);

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
		agr_free(s->agrs[i]);
	free(s->agrs);
	free(s->active);
	free(s->rep_buf);
	free(s->plan_buf);
	free(s->delta_buf);
	jarena_free(s->ar);
	free(s->blob.p);
	free(s);
}

int
settle_set_pager(struct settle *s, const struct settle_pager *pg)
{
	if (s->submitted)
		return -1;
	s->has_pager = pg != NULL;
	if (pg != NULL)
		s->pager = *pg;
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

static struct agr *
find_agr(const struct settle *s, const char *id)
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

static int
rebuild_active(struct settle *s)
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

struct seg {
	const struct rules_term *t;
	int32_t		 first;		/* planned periods first..last */
	int32_t		 last;
	int		 n;
	int		 months;	/* M */
};

static size_t
term_index(const struct rules *r, int32_t p)
{
	size_t i = 0;

	while (i + 1 < r->nterms && r->terms[i + 1].from <= p)
		i++;
	return i;
}

/* The segment of period p (which lies in [start, end]). */
static void
seg_of(const struct rules *r, int32_t p, struct seg *sg)
{
	int per = rules_periods_per_year(r->cadence);
	int32_t y0 = p / per * per, y1 = y0 + per - 1;
	size_t ti = term_index(r, p);

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
static int
compute_base(const struct rules *r, int32_t p, const int64_t *fig,
    int64_t *base)
{
	const struct rules_term *t = &r->terms[term_index(r, p)];
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
		if (t->has_floor && i == sg->n - 1 && floorM > R)
			topup = floorM - R;
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
			size_t o = v_stat_home(a, s);

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
	 * and attribution are checked per settled period (check_replace).
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

static int
check_replace(const struct agr *a, const struct rules *nr, char *err,
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
		for (int k = 0; k < per_year(a); k++) {
			int32_t p = a->years[i].y * per_year(a) + k;
			struct seg os, ns;

			if (!(a->years[i].settled & 1u << k))
				continue;
			seg_of(or, p, &os);
			if (p > nr->end) {
				snprintf(err, errlen, "%s: end %s would drop "
				    "period %s, which already settled", nr->id,
				    rules_period_format(nr->cadence, nr->end, pb),
				    rules_period_format(nr->cadence, p, pb2));
				return -1;
			}
			seg_of(nr, p, &ns);
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
	const struct agr *a = find_agr(s, r->id);

	return a == NULL ? 0 : check_replace(a, r, err, errlen);
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
		for (int k = 0; k < per_year(a); k++) {
			struct period *pe = res->pes[k];
			int64_t b;

			if (pe == NULL || !pe->has_eff || pe->settled)
				continue;
			if (compute_base(r, pe->p, pe->eff, &b) == -1)
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
	struct agr *a = find_agr(s, r->id);

	if (a != NULL) {
		if (check_replace(a, r, err, errlen) == -1)
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
		return rebuild_active(s) == -1 ? (snprintf(err, errlen,
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
		if (rebuild_active(s) == -1)
			goto oom;
		return 0;
	oom_a:
		if (a != NULL)
			a->r = NULL;
		agr_free(a);
	}
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
settle_check_remove(const struct settle *s, const char *id, char *err,
    size_t errlen)
{
	const struct agr *a = find_agr(s, id);
	char pb[RULES_PERIOD_BUFSZ], pb2[RULES_PERIOD_BUFSZ];

	if (a == NULL || !a->active) {
		snprintf(err, errlen, "%s: no such agreement", id);
		return -1;
	}
	for (size_t i = 0; i < a->nyears; i++)
		for (int k = 0; k < per_year(a); k++) {
			int32_t p = a->years[i].y * per_year(a) + k;
			struct seg sg;

			if (!(a->years[i].settled & 1u << k))
				continue;
			seg_of(a->r, p, &sg);
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
	a = find_agr(s, id);
	a->active = 0;
	if (rebuild_active(s) == -1) {
		a->active = 1;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

const struct rules *
settle_get0_rules(const struct settle *s, const char *id)
{
	const struct agr *a = find_agr(s, id);

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

/* --- report validation --------------------------------------------------------- */

struct report {
	struct agr	*a;
	const char	*report_id;
	const char	*supersedes;
	int32_t		 p;
	int		 role;
	int64_t		 fig[];		/* a->nfig */
};

static int __attribute__((format(printf, 3, 4)))
refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ */
static int
match_report_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (!ok && i > 0)
			ok = c == '.' || c == '_' || c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

/*
 * A report as a small tree: top-level members, and for taxes and
 * statistics one level of members. Two readers fill it: a fast one for the
 * common shape (an object of printable-ASCII strings without escapes, and
 * objects of such strings), and jansson for everything else, which has the
 * final word on what is JSON. Both give the same tree for what the fast
 * one accepts; the fast one steps aside, never refuses.
 */
enum jv_type {
	JV_STR,
	JV_OBJ,
	JV_NUM,
	JV_OTHER,	/* array, true, false, null */
};

struct jkv;

struct jv {
	enum jv_type	 type;
	const char	*s;		/* JV_STR: NUL-terminated */
	size_t		 len;
	int		 nul;		/* JV_STR holding a NUL */
	struct jkv	*kv;		/* JV_OBJ members */
	size_t		 n;
};

struct jkv {
	const char	*k;		/* NUL-terminated */
	size_t		 klen;
	struct jv	 v;
};

/* Member storage for one report; grows, kept by the engine. */
struct jarena {
	struct jkv	*kv;
	size_t		 n;
	size_t		 cap;
	char		*text;		/* the fast reader's copy of the report */
	size_t		 textcap;
};

static void
jarena_free(struct jarena *ar)
{
	if (ar == NULL)
		return;
	free(ar->kv);
	free(ar->text);
	free(ar);
}

static struct jkv *
jarena_take(struct jarena *ar, size_t n)
{
	/* Even for n = 0: the result must point somewhere (NULL + 0 is UB). */
	if (ar->kv == NULL || ar->n + n > ar->cap) {
		size_t cap = ar->cap ? ar->cap : 64;
		struct jkv *nk;

		while (ar->n + n > cap)
			cap *= 2;
		/* Pointers into kv are taken only after all of it is taken. */
		if ((nk = realloc(ar->kv, cap * sizeof(*nk))) == NULL)
			return NULL;
		ar->kv = nk;
		ar->cap = cap;
	}
	ar->n += n;
	return ar->kv + ar->n - n;
}

static const char *
fast_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A string of printable ASCII without escapes; NUL-terminates it in place. */
static char *
fast_str(char *p, const char *end, const char **s, size_t *len)
{
	char *q;

	if (p >= end || *p != '"')
		return NULL;
	for (q = ++p; q < end && *q != '"'; q++)
		if (*q == '\\' || (unsigned char)*q < 0x20 ||
		    (unsigned char)*q > 0x7e)
			return NULL;
	if (q >= end)
		return NULL;
	*q = '\0';
	*s = p;
	*len = (size_t)(q - p);
	return q + 1;
}

/* Members of an object at p ('{'), into consecutive arena slots. */
static char *
fast_obj(struct jarena *ar, char *p, const char *end, int depth, size_t *first,
    size_t *count)
{
	*first = ar->n;
	*count = 0;
	p = (char *)fast_ws(p + 1, end);
	if (p < end && *p == '}')
		return p + 1;
	for (;;) {
		struct jkv kv;

		memset(&kv, 0, sizeof(kv));
		if ((p = fast_str(p, end, &kv.k, &kv.klen)) == NULL)
			return NULL;
		p = (char *)fast_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = (char *)fast_ws(p + 1, end);
		if (p < end && *p == '"') {
			kv.v.type = JV_STR;
			if ((p = fast_str(p, end, &kv.v.s, &kv.v.len)) == NULL)
				return NULL;
		} else
			return NULL;	/* nested objects: handled by caller */
		if (jarena_take(ar, 1) == NULL)
			return NULL;
		ar->kv[ar->n - 1] = kv;
		(*count)++;
		(void)depth;
		p = (char *)fast_ws(p, end);
		if (p < end && *p == ',') {
			p = (char *)fast_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return p + 1;
		return NULL;
	}
}

static int
fast_dupes(const struct jkv *kv, size_t n)
{
	if (n > 64)
		return 1;	/* leave big objects to jansson */
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (kv[i].klen == kv[j].klen &&
			    memcmp(kv[i].k, kv[j].k, kv[i].klen) == 0)
				return 1;
	return 0;
}

/*
 * The fast reader: 0 and the tree in *top, or -1 to hand over to jansson.
 * Top-level members are collected first into a small array (at most 8 are
 * valid), nested ones go to the arena.
 */
static int
fast_read(struct jarena *ar, const char *buf, size_t len, struct jv *top)
{
	struct jkv tops[8];
	size_t ntop = 0, nf, nc;
	char *p, *end;

	ar->n = 0;
	if (len + 1 > ar->textcap) {
		char *t = realloc(ar->text, len + 1);

		if (t == NULL)
			return -1;
		ar->text = t;
		ar->textcap = len + 1;
	}
	memcpy(ar->text, buf, len);
	ar->text[len] = '\0';
	p = ar->text;
	end = p + len;
	p = (char *)fast_ws(p, end);
	if (p >= end || *p != '{')
		return -1;
	p = (char *)fast_ws(p + 1, end);
	if (p < end && *p == '}')
		p++;
	else for (;;) {
		struct jkv kv;

		memset(&kv, 0, sizeof(kv));
		if (ntop == 8 || (p = fast_str(p, end, &kv.k, &kv.klen)) == NULL)
			return -1;
		p = (char *)fast_ws(p, end);
		if (p >= end || *p != ':')
			return -1;
		p = (char *)fast_ws(p + 1, end);
		if (p < end && *p == '"') {
			kv.v.type = JV_STR;
			if ((p = fast_str(p, end, &kv.v.s, &kv.v.len)) == NULL)
				return -1;
		} else if (p < end && *p == '{') {
			kv.v.type = JV_OBJ;
			if ((p = fast_obj(ar, p, end, 1, &nf, &nc)) == NULL)
				return -1;
			kv.v.kv = NULL;
			kv.v.n = nc;
			kv.v.len = nf;	/* arena index until fixed up below */
		} else
			return -1;
		tops[ntop++] = kv;
		p = (char *)fast_ws(p, end);
		if (p < end && *p == ',') {
			p = (char *)fast_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		return -1;
	}
	if (fast_ws(p, end) != end || fast_dupes(tops, ntop))
		return -1;
	{
		struct jkv *t = jarena_take(ar, ntop);

		if (t == NULL)
			return -1;
		memcpy(t, tops, ntop * sizeof(*t));
		for (size_t i = 0; i < ntop; i++)
			if (t[i].v.type == JV_OBJ) {
				t[i].v.kv = ar->kv + t[i].v.len;
				t[i].v.len = 0;
				if (fast_dupes(t[i].v.kv, t[i].v.n))
					return -1;
			}
		memset(top, 0, sizeof(*top));
		top->type = JV_OBJ;
		top->kv = t;
		top->n = ntop;
	}
	return 0;
}

static void
jv_from_json(struct jv *v, const json_t *j)
{
	memset(v, 0, sizeof(*v));
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->type = JV_STR;
		v->s = json_string_value(j);
		v->len = json_string_length(j);
		v->nul = strlen(v->s) != v->len;
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		v->type = JV_NUM;
		break;
	case JSON_OBJECT:
		v->type = JV_OBJ;
		break;
	default:
		v->type = JV_OTHER;
		break;
	}
}

/* The slow reader: the tree of a jansson object (two levels). */
static int
json_read(struct jarena *ar, const json_t *o, struct jv *top)
{
	size_t n = json_object_size(o), total = n, k = 0;
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)o, key, val)
		if (json_is_object(val))
			total += json_object_size(val);
	ar->n = 0;
	if (jarena_take(ar, total) == NULL)
		return -1;
	memset(top, 0, sizeof(*top));
	top->type = JV_OBJ;
	top->kv = ar->kv;
	top->n = n;
	json_object_foreach((json_t *)o, key, val) {
		struct jkv *kv = &ar->kv[k++];

		kv->k = key;
		kv->klen = strlen(key);
		jv_from_json(&kv->v, val);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *sub = json_object_get(o, ar->kv[i].k);
		const char *k2;
		json_t *v2;

		if (!json_is_object(sub))
			continue;
		ar->kv[i].v.kv = ar->kv + k;
		ar->kv[i].v.n = json_object_size(sub);
		json_object_foreach(sub, k2, v2) {
			struct jkv *kv = &ar->kv[k++];

			kv->k = k2;
			kv->klen = strlen(k2);
			jv_from_json(&kv->v, v2);
		}
	}
	return 0;
}

static int
kv_cmp(const void *x, const void *y)
{
	const struct jkv *a = x, *b = y;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->k, b->k, n);

	return c != 0 ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/*
 * Canonical form of a tree from the fast reader (printable ASCII, no
 * escapes: byte order is UTF-16 order and no character needs escaping).
 */
static void
fast_canon(struct textbuf *b, struct jv *o)
{
	qsort(o->kv, o->n, sizeof(*o->kv), kv_cmp);
	textbuf_add(b, "{", 1);
	for (size_t i = 0; i < o->n; i++) {
		struct jkv *kv = &o->kv[i];

		if (i > 0)
			textbuf_add(b, ",", 1);
		textbuf_add(b, "\"", 1);
		textbuf_add(b, kv->k, kv->klen);
		textbuf_add(b, "\":", 2);
		if (kv->v.type == JV_OBJ)
			fast_canon(b, &kv->v);
		else {
			textbuf_add(b, "\"", 1);
			textbuf_add(b, kv->v.s, kv->v.len);
			textbuf_add(b, "\"", 1);
		}
	}
	textbuf_add(b, "}", 1);
}

/* field is "prefix.key" (or "prefix" when key is NULL), built on refusal. */
static int
get_amount(const struct jv *v, const char *prefix, const char *key,
    int64_t *fen, char *err, size_t errlen)
{
	if (v->type == JV_STR && money_parse_n(v->s, v->len, fen) == 0)
		return 0;
	if (v->type == JV_NUM)
		return refuse(err, errlen, "%s%s%.32s: JSON numbers are refused "
		    "for amounts; send a string such as \"1234.50\"", prefix,
		    key ? "." : "", key ? key : "");
	if (v->type == JV_STR) {
		char why[128];

		return refuse(err, errlen, "%s%s%.32s: \"%.32s\" is not an "
		    "amount: %s", prefix, key ? "." : "", key ? key : "",
		    v->s, money_why_n(v->s, v->len, why, sizeof(why)));
	}
	return refuse(err, errlen, "%s%s%.32s: not an amount (a string of yuan "
	    "with at most 2 decimals, such as \"1234.50\")", prefix,
	    key ? "." : "", key ? key : "");
}

static const struct jv *
get_string_field(const struct jv *v, const char *field, int required,
    char *err, size_t errlen, int *bad)
{
	*bad = 0;
	if (v == NULL) {
		if (required) {
			*bad = 1;
			refuse(err, errlen, "%s: missing", field);
		}
		return NULL;
	}
	if (v->type != JV_STR || v->nul) {
		*bad = 1;
		refuse(err, errlen, "%s: must be a string", field);
		return NULL;
	}
	return v;
}

static int
validate(struct settle *s, const struct jv *o, struct report *rep, char *err,
    size_t errlen)
{
	static const char *const fields[] = { "report_id", "agreement",
	    "period", "role", "taxes", "deductions", "statistics",
	    "supersedes", NULL };
	const struct jv *v;
	const char *str;
	const struct rules *r;
	char pb[RULES_PERIOD_BUFSZ];
	int bad;

	const struct jv *slot[8] = { NULL };	/* by index in fields[] */

	for (size_t k = 0; k < o->n; k++) {
		size_t f;

		for (f = 0; fields[f] != NULL; f++)
			if (strcmp(fields[f], o->kv[k].k) == 0)
				break;
		if (fields[f] == NULL)
			return refuse(err, errlen, "%.64s: unknown field",
			    o->kv[k].k);
		slot[f] = &o->kv[k].v;
	}

	if ((v = get_string_field(slot[0], "report_id", 1, err, errlen, &bad)) == NULL)
		return -1;
	rep->report_id = v->s;
	if (!match_report_id(rep->report_id))
		return refuse(err, errlen, "report_id: not a report id "
		    "([A-Za-z0-9][A-Za-z0-9._-]{0,63})");
	if ((v = get_string_field(slot[1], "agreement", 1, err, errlen, &bad)) == NULL)
		return -1;
	str = v->s;
	rep->a = find_agr(s, str);
	if (rep->a == NULL || !rep->a->active)
		return refuse(err, errlen, "agreement: \"%.64s\" is not a loaded "
		    "agreement", str);
	r = rep->a->r;
	if ((v = get_string_field(slot[2], "period", 1, err, errlen, &bad)) == NULL)
		return -1;
	str = v->s;
	if (rules_period_parse(r->cadence, str, &rep->p) == -1)
		return refuse(err, errlen, "period: \"%.16s\" is not a %s period "
		    "(%s)", str, rules_cadence_name(r->cadence),
		    rules_cadence_pattern(r->cadence));
	if (rep->p < r->start)
		return refuse(err, errlen, "period: %s is before the agreement's "
		    "start %s", str, rules_period_format(r->cadence, r->start,
		    pb));
	if (rep->p > r->end)
		return refuse(err, errlen, "period: %s is after the agreement's "
		    "end %s", str, rules_period_format(r->cadence, r->end, pb));
	if ((v = get_string_field(slot[3], "role", 1, err, errlen, &bad)) == NULL)
		return -1;
	str = v->s;
	if (strcmp(str, "host") == 0)
		rep->role = ROLE_HOST;
	else if (strcmp(str, "home") == 0) {
		rep->role = ROLE_HOME;
		if (!r->confirm)
			return refuse(err, errlen, "role: \"home\" reports only "
			    "where the agreement has confirm = true");
	} else
		return refuse(err, errlen, "role: must be \"host\" or \"home\"");
	memset(rep->fig, 0, rep->a->nfig * sizeof(int64_t));
	if ((v = slot[4]) == NULL)
		return refuse(err, errlen, "taxes: missing");
	if (v->type != JV_OBJ)
		return refuse(err, errlen, "taxes: must be an object");
	for (size_t k = 0; k < v->n; k++) {
		const char *key = v->kv[k].k;
		size_t i;

		for (i = 0; i < r->ntaxes; i++)
			if (strcmp(r->taxes[i].code, key) == 0)
				break;
		if (i == r->ntaxes)
			return refuse(err, errlen, "taxes.%.32s: not a tax code "
			    "of agreement %s", key, r->id);
		if (get_amount(&v->kv[k].v, "taxes", key, &rep->fig[i], err,
		    errlen) == -1)
			return -1;
	}
	if ((v = slot[5]) != NULL &&
	    get_amount(v, "deductions", NULL, &rep->fig[r->ntaxes], err,
	    errlen) == -1)
		return -1;
	if ((v = slot[6]) != NULL) {
		if (v->type != JV_OBJ)
			return refuse(err, errlen, "statistics: must be an "
			    "object");
		for (size_t k = 0; k < v->n; k++) {
			const char *key = v->kv[k].k;
			size_t i;

			for (i = 0; i < r->nstats; i++)
				if (strcmp(r->stats[i].code, key) == 0)
					break;
			if (i == r->nstats)
				return refuse(err, errlen, "statistics.%.32s: not "
				    "a statistic code of agreement %s", key,
				    r->id);
			if (get_amount(&v->kv[k].v, "statistics", key,
			    &rep->fig[r->ntaxes + 1 + i], err, errlen) == -1)
				return -1;
		}
	}
	rep->supersedes = NULL;
	v = get_string_field(slot[7], "supersedes", 0, err, errlen, &bad);
	if (bad)
		return -1;
	if (v != NULL) {
		rep->supersedes = v->s;
		if (!match_report_id(rep->supersedes))
			return refuse(err, errlen, "supersedes: not a report id "
			    "([A-Za-z0-9][A-Za-z0-9._-]{0,63})");
		if (strcmp(rep->supersedes, rep->report_id) == 0)
			return refuse(err, errlen, "supersedes: names the report "
			    "itself");
	}
	return 0;
}

/* time: RFC 3339 characters only; submitter: hex. Both go into entries raw. */
static int
check_meta(const char *time, const char *submitter, char *err, size_t errlen)
{
	if (time != NULL) {
		size_t n = strlen(time);

		if (n == 0 || n > 40 || strspn(time, "0123456789TZ:.+-") != n)
			return refuse(err, errlen, "time: \"%.40s\" is not an "
			    "RFC 3339 time", time);
	}
	if (submitter != NULL) {
		size_t n = strlen(submitter);

		if (n == 0 || n > 128 ||
		    strspn(submitter, "0123456789abcdef") != n)
			return refuse(err, errlen, "submitter: not a lowercase "
			    "hex fingerprint");
	}
	return 0;
}

/* --- entries ------------------------------------------------------------------ */

static void
sb_tail(struct textbuf *b, const char *time, const char *type)
{
	if (time != NULL) {
		textbuf_puts(b, ",");
		sb_kv(b, "time", time);
	}
	textbuf_puts(b, ",");
	sb_kv(b, "type", type);
	textbuf_puts(b, "}");
}

static void
sb_values(struct textbuf *b, const struct agr *a, const int64_t *v, int part)
{
	const struct rules *r = a->r;

	/* part 0: base beneficiaries (floor_topup home host follow later);
	 * part 1: floor_topup home host; part 2: statistics */
	if (part == 0) {
		sb_kamount(b, "base", v[V_BASE]);
		textbuf_puts(b, ",\"beneficiaries\":{");
		for (size_t i = 0; i < r->nbenefs; i++) {
			size_t k = a->border[i];

			if (i > 0)
				textbuf_puts(b, ",");
			sb_kamount(b, r->benefs[k].id, v[V_BEN + k]);
		}
		textbuf_puts(b, "}");
	} else if (part == 1) {
		sb_kamount(b, "floor_topup", v[V_TOPUP]);
		textbuf_puts(b, ",");
		sb_kamount(b, "home", v[V_HOME]);
		textbuf_puts(b, ",");
		sb_kamount(b, "host", v[V_HOST]);
	} else {
		textbuf_puts(b, "\"statistics\":{");
		for (size_t i = 0; i < r->nstats; i++) {
			size_t k = a->sorder[i], o = v_stat_home(a, k);

			if (i > 0)
				textbuf_puts(b, ",");
			textbuf_puts(b, "\"");
			textbuf_puts(b, r->stats[k].code);
			textbuf_puts(b, "\":{");
			sb_kamount(b, "home", v[o]);
			textbuf_puts(b, ",");
			sb_kamount(b, "host", v[o + 1]);
			textbuf_puts(b, "}");
		}
		textbuf_puts(b, "}");
	}
}

static void
entry_settlement(struct textbuf *b, const struct agr *a, const char *period,
    const char *term, const int64_t *v, const struct period *pe,
    const char *time)
{
	textbuf_puts(b, "{");
	sb_kv(b, "agreement", a->id);
	textbuf_puts(b, ",");
	sb_values(b, a, v, 0);
	textbuf_puts(b, ",");
	sb_values(b, a, v, 1);
	textbuf_puts(b, ",");
	sb_kv(b, "period", period);
	textbuf_puts(b, ",\"reports\":[");
	for (int i = 0; i < pe->neff; i++) {
		char hx[HEXBUF];

		bin_to_hex(pe->eff_hash[i], hx);
		textbuf_puts(b, i > 0 ? ",\"" : "\"");
		textbuf_add(b, hx, 64);
		textbuf_puts(b, "\"");
	}
	textbuf_puts(b, "],");
	sb_values(b, a, v, 2);
	textbuf_puts(b, ",");
	sb_kv(b, "term", term);
	sb_tail(b, time, "settlement");
}

static void
entry_adjustment(struct textbuf *b, const struct agr *a, const char *period,
    const int64_t *delta, const char *cause, const char *time)
{
	textbuf_puts(b, "{");
	sb_kv(b, "agreement", a->id);
	textbuf_puts(b, ",");
	sb_values(b, a, delta, 0);
	textbuf_puts(b, ",");
	sb_kv(b, "cause", cause);
	textbuf_puts(b, ",");
	sb_values(b, a, delta, 1);
	textbuf_puts(b, ",");
	sb_kv(b, "period", period);
	textbuf_puts(b, ",");
	sb_values(b, a, delta, 2);
	sb_tail(b, time, "adjustment");
}

static void
entry_dispute(struct textbuf *b, const struct agr *a, const char *period,
    const char *host, const char *home, const char *time)
{
	textbuf_puts(b, "{");
	sb_kv(b, "agreement", a->id);
	textbuf_puts(b, ",");
	sb_kv(b, "home_report", home);
	textbuf_puts(b, ",");
	sb_kv(b, "host_report", host);
	textbuf_puts(b, ",");
	sb_kv(b, "period", period);
	sb_tail(b, time, "dispute");
}

static void
entry_report(struct textbuf *b, const char *canon, size_t clen, const char *hash,
    const char *submitter, const char *time)
{
	textbuf_puts(b, "{\"report\":");
	textbuf_add(b, canon, clen);
	textbuf_puts(b, ",");
	sb_kv(b, "sha256", hash);
	if (submitter != NULL) {
		textbuf_puts(b, ",");
		sb_kv(b, "submitter", submitter);
	}
	sb_tail(b, time, "report");
}

static int
result_add(struct settle_result *res, struct textbuf *b, int32_t p)
{
	if (b->failed) {
		free(b->p);
		return -1;
	}
	res->entries[res->n] = b->p;
	res->lens[res->n] = b->len;
	res->eperiod[res->n] = p;
	res->n++;
	memset(b, 0, sizeof(*b));
	return 0;
}

void
settle_result_free(struct settle_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n; i++) {
		free(res->entries[i]);
		json_decref(res->json[i]);
	}
	free(res->agreement);
	free(res);
}

static struct settle_result *
result_new(const struct agr *a, int32_t p, int role, const char *hash,
    const char *report_id)
{
	struct settle_result *res = calloc(1, sizeof(*res));

	if (res == NULL)
		return NULL;
	if ((res->agreement = strdup(a->id)) == NULL) {
		free(res);
		return NULL;
	}
	memcpy(res->hash, hash, HEXBUF);
	snprintf(res->report_id, sizeof(res->report_id), "%s", report_id);
	res->cadence = a->r->cadence;
	rules_period_format(a->r->cadence, p, res->period);
	res->role = role == ROLE_HOST ? "host" : "home";
	return res;
}

/* --- submission ---------------------------------------------------------------- */

static enum settle_status
period_status(const struct agr *a, const struct period *pe)
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

static struct period *
period_new(const struct agr *a, int32_t p)
{
	/*
	 * Without confirm the latest host figures are the effective ones: one
	 * array serves both (the agreement's confirm cannot change once a
	 * report was accepted, see check_replace()).
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

/* --- paging -------------------------------------------------------------------- */

#define BLOB_MAGIC	0x31594853u	/* "SHY1" in the first bytes */
#define KEYBUF		(64 + 1 + 4 + 1)

/* "<agreement>/<year>": agreement ids hold no '/'. */
static char *
year_key(const struct agr *a, int32_t y, char *buf)
{
	snprintf(buf, KEYBUF, "%s/%04d", a->id, (int)y);
	return buf;
}

/* Integers a period's block holds after its struct (see period_new()). */
static size_t
period_nint(const struct agr *a)
{
	return (a->r->confirm ? 3 : 1) * a->nfig + a->nvals;
}

static enum settle_status	period_status(const struct agr *,
				    const struct period *);

/* The summary of a resident year, from its periods. */
static void
year_summarize(const struct agr *a, struct year *yr)
{
	yr->present = yr->settled = 0;
	yr->status = 0;
	for (int k = 0; k < per_year(a); k++) {
		const struct period *pe = yr->res->pes[k];

		if (pe == NULL)
			continue;
		yr->present |= (uint16_t)(1u << k);
		if (pe->settled)
			yr->settled |= (uint16_t)(1u << k);
		yr->status |= (uint32_t)period_status(a, pe) << (2 * k);
	}
}

static void
put_u32(struct textbuf *b, uint32_t v)
{
	textbuf_add(b, &v, sizeof(v));
}

/*
 * A resident year as a blob, in this process's byte order (blobs never
 * leave the machine): magic, year, nfig, nvals, the ids of each side
 * (count, then length, bytes and hash of each), then each period with a
 * report (its index in the year, flags, the index of each side's latest
 * id, hashes, base, and the integers of its block).
 */
static void
year_encode(const struct agr *a, const struct year *yr, struct textbuf *b)
{
	const struct yres *res = yr->res;
	unsigned char u8;

	b->len = 0;
	b->failed = 0;
	put_u32(b, BLOB_MAGIC);
	put_u32(b, (uint32_t)yr->y);
	put_u32(b, (uint32_t)a->nfig);
	put_u32(b, (uint32_t)a->nvals);
	for (int r = 0; r < 2; r++) {
		put_u32(b, (uint32_t)res->ids[r].n);
		for (size_t i = 0; i < res->ids[r].n; i++) {
			u8 = (unsigned char)strlen(res->ids[r].v[i].id);
			textbuf_add(b, &u8, 1);
			textbuf_add(b, res->ids[r].v[i].id, u8);
			textbuf_add(b, res->ids[r].v[i].hash, 32);
		}
	}
	put_u32(b, yr->present);
	for (int k = 0; k < per_year(a); k++) {
		const struct period *pe = res->pes[k];
		unsigned char fl[5];

		if (pe == NULL)
			continue;
		fl[0] = (unsigned char)pe->has[0];
		fl[1] = (unsigned char)pe->has[1];
		fl[2] = (unsigned char)pe->has_eff;
		fl[3] = (unsigned char)pe->neff;
		fl[4] = (unsigned char)pe->settled;
		textbuf_add(b, fl, sizeof(fl));
		for (int r = 0; r < 2; r++) {
			uint32_t ix = UINT32_MAX;

			for (size_t i = 0; pe->has[r] && i < res->ids[r].n; i++)
				if (res->ids[r].v[i].id == pe->id[r])
					ix = (uint32_t)i;
			put_u32(b, ix);
		}
		textbuf_add(b, pe->hash, sizeof(pe->hash));
		textbuf_add(b, pe->eff_hash, sizeof(pe->eff_hash));
		textbuf_add(b, &pe->eff_base, sizeof(pe->eff_base));
		textbuf_add(b, pe->fig[0], period_nint(a) * sizeof(int64_t));
	}
}

struct reader {
	const unsigned char *p;
	const unsigned char *end;
	int		 bad;
};

static void
rd(struct reader *r, void *out, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
}

static uint32_t
rd_u32(struct reader *r)
{
	uint32_t v;

	rd(r, &v, sizeof(v));
	return v;
}

static struct period	*period_new(const struct agr *, int32_t);

/* The year a blob holds, checked against what the engine knows of it. */
static struct yres *
year_decode(const struct agr *a, const struct year *yr, const void *blob,
    size_t len)
{
	struct reader r = { blob, (const unsigned char *)blob + len, 0 };
	struct yres *res = calloc(1, sizeof(*res));
	struct year check;
	uint32_t present;

	if (res == NULL)
		return NULL;
	if (rd_u32(&r) != BLOB_MAGIC || rd_u32(&r) != (uint32_t)yr->y ||
	    rd_u32(&r) != a->nfig || rd_u32(&r) != a->nvals)
		goto bad;
	for (int k = 0; k < 2; k++) {
		uint32_t n = rd_u32(&r);

		for (uint32_t i = 0; i < n && !r.bad; i++) {
			char id[256];
			unsigned char u8, hash[32];

			rd(&r, &u8, 1);
			rd(&r, id, u8);
			id[u8] = '\0';
			rd(&r, hash, 32);
			if (r.bad || strlen(id) != u8 ||
			    idlist_add(&res->ids[k], id, hash) == NULL)
				goto bad;
		}
	}
	present = rd_u32(&r);
	for (int k = 0; k < per_year(a) && !r.bad; k++) {
		struct period *pe;
		unsigned char fl[5];

		if (!(present & 1u << k))
			continue;
		if ((pe = period_new(a, yr->y * per_year(a) + k)) == NULL)
			goto bad;
		res->pes[k] = pe;
		rd(&r, fl, sizeof(fl));
		pe->has[0] = fl[0];
		pe->has[1] = fl[1];
		pe->has_eff = fl[2];
		pe->neff = fl[3];
		pe->settled = fl[4];
		for (int s = 0; s < 2; s++) {
			uint32_t ix = rd_u32(&r);

			if (pe->has[s] && ix < res->ids[s].n)
				pe->id[s] = res->ids[s].v[ix].id;
			else if (pe->has[s] || ix != UINT32_MAX)
				goto bad;
		}
		rd(&r, pe->hash, sizeof(pe->hash));
		rd(&r, pe->eff_hash, sizeof(pe->eff_hash));
		rd(&r, &pe->eff_base, sizeof(pe->eff_base));
		rd(&r, pe->fig[0], period_nint(a) * sizeof(int64_t));
	}
	if (r.bad || r.p != r.end || present != yr->present)
		goto bad;
	check = *yr;
	check.res = res;
	year_summarize(a, &check);
	if (check.present != yr->present || check.settled != yr->settled ||
	    check.status != yr->status)
		goto bad;
	return res;
bad:
	yres_free(res);
	return NULL;
}

/* Reads a paged-out year back: 0, or -1 with the reason. */
static int
year_load(struct settle *s, struct agr *a, struct year *yr, char *err,
    size_t errlen)
{
	char key[KEYBUF];
	void *blob = NULL;
	size_t len = 0;

	if (yr->res != NULL)
		return 0;
	s->pstats.gets++;
	if (s->pager.get(s->pager.arg, year_key(a, yr->y, key), &blob,
	    &len) == -1)
		return refuse(err, errlen, "the paged state of %s could not be "
		    "read back", key);
	yr->res = year_decode(a, yr, blob, len);
	free(blob);
	if (yr->res == NULL)
		return refuse(err, errlen, "the paged state of %s is damaged "
		    "(or memory ran out reading it)", key);
	yr->dirty = 0;
	a->nresident++;
	return 0;
}

/* Hands a resident year to the pager; it stays resident when put fails. */
static void
year_unload(struct settle *s, struct agr *a, struct year *yr)
{
	char key[KEYBUF];

	if (yr->dirty) {
		year_encode(a, yr, &s->blob);
		s->pstats.puts++;
		if (s->blob.failed || s->pager.put(s->pager.arg,
		    year_key(a, yr->y, key), s->blob.p, s->blob.len) == -1) {
			s->pstats.put_failures++;
			return;
		}
		yr->dirty = 0;
	}
	yres_free(yr->res);
	yr->res = NULL;
	a->nresident--;
}

/* Every planned period of the year settled. */
static int
year_complete(const struct agr *a, const struct year *yr)
{
	int per = per_year(a);
	int32_t first = yr->y * per, last = first + per - 1;

	if (a->r->start > first)
		first = a->r->start;
	if (a->r->end < last)
		last = a->r->end;
	for (int32_t p = first; p <= last; p++)
		if (!(yr->settled & 1u << (p - yr->y * per)))
			return 0;
	return 1;
}

/*
 * Pages out the agreement's closed years: complete, and older than its
 * latest year with reports (all resident ones with SETTLE_PAGE_ALL).
 */
static void
close_years(struct settle *s, struct agr *a)
{
	int all;

	if (!s->has_pager || a->nresident == 0)
		return;
	all = (s->pager.flags & SETTLE_PAGE_ALL) != 0;
	/* The usual case: only the latest year is in memory. */
	if (!all && a->nresident == 1 && a->years[a->nyears - 1].res != NULL)
		return;
	for (size_t i = 0; i < a->nyears; i++) {
		struct year *yr = &a->years[i];

		if (yr->res != NULL && (all || (i + 1 < a->nyears &&
		    year_complete(a, yr))))
			year_unload(s, a, yr);
	}
}

/*
 * The report id's record on that side, reading back the years its
 * fingerprint names: 0 (*out NULL when the id is new), or -1.
 */
static int
id_find(struct settle *s, struct agr *a, int role, const char *id,
    struct idrec **out, char *err, size_t errlen)
{
	const struct fpset *m = &a->fps[role];
	uint32_t idp = fp_idpart(id);

	*out = NULL;
	if (m->cap == 0)
		return 0;
	for (size_t i = fp_start(idp, m->cap); m->slots[i] != 0;
	    i = (i + 1) & (m->cap - 1)) {
		struct year *yr;

		if (m->slots[i] >> FP_YEARBITS != idp)
			continue;
		if ((yr = year_find(a, (int32_t)(m->slots[i] & FP_YEARMASK)))
		    == NULL)
			return refuse(err, errlen, "%s: report ids point to a "
			    "year without reports", a->id);
		if (year_load(s, a, yr, err, errlen) == -1)
			return -1;
		if ((*out = idlist_find(&yr->res->ids[role], id)) != NULL)
			return 0;
	}
	return 0;
}

/* The plan for one report, computed before anything is committed. */
struct plan {
	int		 dispute;
	int		 settle_from;		/* first newly settled index */
	int		 settle_to;		/* one past the last settled */
	int		 nsettled_old;
	struct seg	 sg;
	int64_t		 base;			/* new effective base */
	const int64_t	*new_eff;
	struct period	*pes[SEG_MAX];
	int64_t		 vals[];		/* SEG_MAX × nvals */
};

static int
plan_segment(const struct agr *a, const struct year *yr, struct period *pe,
    int32_t p, struct plan *pl, char *err, size_t errlen)
{
	int64_t *eff[SEG_MAX], base[SEG_MAX];
	int k = 0;

	seg_of(a->r, p, &pl->sg);
	pl->nsettled_old = 0;
	for (int i = 0; i < pl->sg.n; i++) {
		int32_t q = pl->sg.first + i;
		struct period *x = q == p ? pe : year_period(a, yr, q);

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
		return refuse(err, errlen, "amounts too large: settling this "
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
	const int per = per_year(a);
	int32_t y0 = pl->sg.first / per * per;
	__int128 *tot = calloc(a->nvals, sizeof(*tot));
	int rc = 0;

	if (tot == NULL)
		return refuse(err, errlen, "out of memory"), SETTLE_UNAVAILABLE;
	for (int32_t p = y0; p < y0 + per && rc == 0; p++) {
		int i = (int)(p - pl->sg.first);
		const struct period *x = year_period(a, yr, p);
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
				rc = refuse(err, errlen, "amounts too large: "
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
			rc = refuse(err, errlen, "amounts too large: the %d "
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
	d = realloc(s->delta_buf, (s->maxvals + 1) * sizeof(int64_t));
	if (d == NULL)
		return -1;
	s->delta_buf = d;
	s->scratch_ok = 1;
	return 0;
}

int
settle_submit(struct settle *s, const char *buf, size_t len,
    const char *const *sides, size_t nsides, const char *time,
    const char *submitter, struct settle_result **resp, char *err,
    size_t errlen)
{
	struct report *rep = NULL;
	struct plan *pl = NULL;
	struct settle_result *res = NULL;
	struct period *pe, *npe = NULL;
	struct agr *a = NULL;
	struct year *yr;
	struct idrec *idr;
	json_t *o = NULL;
	struct jv top;
	char *canon = NULL, hash[HEXBUF], pbuf[RULES_PERIOD_BUFSZ];
	const char *side;
	size_t clen;
	unsigned char hbin[32];
	int rc = SETTLE_INVALID, role, other;
	struct textbuf b = TEXTBUF_INIT;

	*resp = NULL;
	if (len > SETTLE_REPORT_MAX)
		return refuse(err, errlen, "report: larger than %d bytes",
		    SETTLE_REPORT_MAX), SETTLE_TOOLARGE;
	if (s->broken)
		return refuse(err, errlen, "%s", broken_msg), SETTLE_UNAVAILABLE;
	if (check_meta(time, submitter, err, errlen) == -1)
		return SETTLE_INVALID;
	if (s->ar == NULL && (s->ar = calloc(1, sizeof(*s->ar))) == NULL)
		return refuse(err, errlen, "out of memory"), SETTLE_UNAVAILABLE;
	if (fast_read(s->ar, buf, len, &top) == -1) {
		json_error_t je;

		o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
		if (o == NULL || !json_is_object(o)) {
			if (o == NULL) {
				char why[200];

				refuse(err, errlen, "not JSON: %s (byte %d)",
				    canon_json_error(&je, why, sizeof(why)),
				    je.position);
			}
			else
				refuse(err, errlen, "not a JSON object");
			json_decref(o);
			return SETTLE_BADJSON;
		}
		if (json_read(s->ar, o, &top) == -1) {
			refuse(err, errlen, "out of memory");
			rc = SETTLE_UNAVAILABLE;
			goto out;
		}
	}
	if (ensure_scratch(s) == -1) {
		refuse(err, errlen, "out of memory");
		rc = SETTLE_UNAVAILABLE;
		goto out;
	}
	rep = s->rep_buf;
	memset(rep, 0, sizeof(*rep));
	if (validate(s, &top, rep, err, errlen) == -1)
		goto out;
	a = rep->a;
	role = rep->role;
	other = 1 - role;
	if (o == NULL) {
		struct textbuf cb = TEXTBUF_INIT;

		fast_canon(&cb, &top);
		if (cb.failed) {
			free(cb.p);
			refuse(err, errlen, "out of memory");
			rc = SETTLE_UNAVAILABLE;
			goto out;
		}
		canon = cb.p;
		clen = cb.len;
	} else if ((canon = canon_dump(o, &clen, err, errlen)) == NULL) {
		/* Validated: strings and objects only; what fails is memory. */
		rc = SETTLE_UNAVAILABLE;
		goto out;
	}
	canon_sha256_hex(canon, clen, hash);
	hex_to_bin(hash, hbin);

	/* Authorization, after the fields and before conflicts. */
	side = role == ROLE_HOST ? a->r->host : a->r->home;
	if (sides != NULL) {
		size_t i;

		for (i = 0; i < nsides; i++)
			if (sides[i] != NULL && strcmp(sides[i], side) == 0)
				break;
		if (i == nsides) {
			refuse(err, errlen, "role: this client does not speak "
			    "for %s (the %s side of %s)", side,
			    role == ROLE_HOST ? "host" : "home", a->id);
			rc = SETTLE_FORBIDDEN;
			goto out;
		}
	}

	/* Conflicts, and idempotent resubmission (reading back paged years). */
	if ((yr = year_find(a, rep->p / per_year(a))) != NULL &&
	    year_load(s, a, yr, err, errlen) == -1) {
		rc = SETTLE_UNAVAILABLE;
		goto out;
	}
	pe = year_period(a, yr, rep->p);
	if (id_find(s, a, role, rep->report_id, &idr, err, errlen) == -1) {
		rc = SETTLE_UNAVAILABLE;
		goto out;
	}
	if (idr != NULL) {
		if (memcmp(idr->hash, hbin, 32) == 0) {
			if ((res = result_new(a, rep->p, role, hash, rep->report_id)) == NULL) {
				refuse(err, errlen, "out of memory");
				rc = SETTLE_UNAVAILABLE;
				goto out;
			}
			res->st = period_status(a, pe);
			*resp = res;
			res = NULL;
			rc = SETTLE_DUPLICATE;
			goto out;
		}
		refuse(err, errlen, "report_id: \"%s\" was already used by the "
		    "%s side of %s for other content", rep->report_id,
		    role == ROLE_HOST ? "host" : "home", a->id);
		rc = SETTLE_CONFLICT;
		goto out;
	}
	rules_period_format(a->r->cadence, rep->p, pbuf);
	if (pe != NULL && pe->has[role]) {
		if (rep->supersedes == NULL) {
			refuse(err, errlen, "supersedes: period %s already has "
			    "%s report \"%s\"; a correction must name it in "
			    "supersedes", pbuf, role == ROLE_HOST ? "host" :
			    "home", pe->id[role]);
			rc = SETTLE_CONFLICT;
			goto out;
		}
		if (strcmp(rep->supersedes, pe->id[role]) != 0) {
			refuse(err, errlen, "supersedes: \"%s\" is not the latest "
			    "%s report of period %s (that is \"%s\")",
			    rep->supersedes, role == ROLE_HOST ? "host" :
			    "home", pbuf, pe->id[role]);
			rc = SETTLE_CONFLICT;
			goto out;
		}
	} else if (rep->supersedes != NULL) {
		refuse(err, errlen, "supersedes: period %s has no %s report to "
		    "correct", pbuf, role == ROLE_HOST ? "host" : "home");
		rc = SETTLE_CONFLICT;
		goto out;
	}

	/* Plan: effective figures, dispute, segment values. */
	pl = s->plan_buf;
	memset(pl, 0, sizeof(*pl));
	if (!a->r->confirm)
		pl->new_eff = rep->fig;
	else if (pe != NULL && pe->has[other]) {
		if (fig_equal(a, rep->fig, pe->fig[other]))
			pl->new_eff = rep->fig;
		else
			pl->dispute = 1;
	}
	if (pl->new_eff != NULL) {
		if (compute_base(a->r, rep->p, pl->new_eff, &pl->base) == -1) {
			refuse(err, errlen, "amounts too large: the base "
			    "overflows");
			goto out;
		}
	}
	/*
	 * The segment is recomputed on every report, not only when effective
	 * figures changed: a period may have become settleable since the last
	 * look (a rules reload that split a segment), and it costs little.
	 */
	if (plan_segment(a, yr, pe, rep->p, pl, err, errlen) == -1)
		goto out;
	if ((rc = plan_in_range(a, yr, pl, err, errlen)) != 0)
		goto out;
	rc = SETTLE_INVALID;

	/* Commit. */
	if ((res = result_new(a, rep->p, role, hash, rep->report_id)) == NULL)
		goto oom;
	if (yr == NULL && (yr = year_add(a, rep->p / per_year(a))) == NULL)
		goto oom;
	if (pe == NULL) {
		if ((npe = period_new(a, rep->p)) == NULL)
			goto oom;
		pe = yr->res->pes[rep->p - yr->y * per_year(a)] = npe;
		npe = NULL;
		pl->pes[rep->p - pl->sg.first] = pe;
	}
	if ((pe->id[role] = idlist_add(&yr->res->ids[role], rep->report_id,
	    hbin)) == NULL || fpset_add(&a->fps[role],
	    fp_idpart(rep->report_id) << FP_YEARBITS | (uint32_t)yr->y) == -1)
		goto oom;
	yr->dirty = 1;
	s->submitted = 1;
	a->nreports++;
	pe->has[role] = 1;
	memcpy(pe->hash[role], hbin, 32);
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
			memcpy(pe->eff_hash[0], hbin, 32);
		}
	}
	entry_report(&b, canon, clen, hash, submitter, time);
	if (result_add(res, &b, rep->p) == -1)
		goto oom;
	if (pl->dispute) {
		char hh[HEXBUF], mh[HEXBUF];

		entry_dispute(&b, a, pbuf, bin_to_hex(pe->hash[ROLE_HOST], hh),
		    bin_to_hex(pe->hash[ROLE_HOME], mh), time);
		if (result_add(res, &b, rep->p) == -1)
			goto oom;
	}
	{
		int64_t *delta = s->delta_buf;

		for (int i = 0; i < pl->settle_from; i++) {
			struct period *x = pl->pes[i];
			const int64_t *nv = pl->vals + (size_t)i * a->nvals;
			int changed = 0;
			char qb[RULES_PERIOD_BUFSZ];

			for (size_t k = 0; k < a->nvals; k++) {
				/* Both sides are results of checked sums. */
				delta[k] = nv[k] - x->cur[k];
				changed |= delta[k] != 0;
			}
			if (!changed)
				continue;
			memcpy(x->cur, nv, a->nvals * sizeof(int64_t));
			entry_adjustment(&b, a, rules_period_format(
			    a->r->cadence, x->p, qb), delta, hash, time);
			if (result_add(res, &b, x->p) == -1)
				goto oom;
		}
		for (int i = pl->settle_from; i < pl->settle_to; i++) {
			struct period *x = pl->pes[i];
			const int64_t *nv = pl->vals + (size_t)i * a->nvals;
			char qb[RULES_PERIOD_BUFSZ], tb[RULES_PERIOD_BUFSZ];

			memcpy(x->cur, nv, a->nvals * sizeof(int64_t));
			x->settled = 1;
			entry_settlement(&b, a, rules_period_format(
			    a->r->cadence, x->p, qb), rules_period_format(
			    a->r->cadence, pl->sg.t->from, tb), nv, x, time);
			if (result_add(res, &b, x->p) == -1)
				goto oom;
		}
	}
	year_summarize(a, yr);
	res->st = period_status(a, pe);
	*resp = res;
	res = NULL;
	rc = SETTLE_ACCEPTED;
	goto out;
oom:
	/*
	 * Out of memory half way through a commit: the engine can no longer
	 * be trusted to match the ledger. Say so; the caller must stop.
	 */
	s->broken = 1;
	refuse(err, errlen, "%s", broken_msg);
	rc = SETTLE_UNAVAILABLE;
out:
	if (a != NULL)
		close_years(s, a);
	free(b.p);
	period_free(npe);
	settle_result_free(res);
	free(canon);
	json_decref(o);
	return rc;
}

/* --- results and queries ------------------------------------------------------- */

const char *settle_result_hash(const struct settle_result *res) { return res->hash; }
const char *settle_result_agreement(const struct settle_result *res) { return res->agreement; }
const char *settle_result_period(const struct settle_result *res) { return res->period; }
const char *settle_result_role(const struct settle_result *res) { return res->role; }
const char *settle_result_report_id(const struct settle_result *res) { return res->report_id; }
enum settle_status settle_result_status(const struct settle_result *res) { return res->st; }
uint64_t settle_result_first_index(const struct settle_result *res) { return res->first_index; }

const char *
settle_result_status_text(const struct settle_result *res)
{
	return res->status_text != NULL ? res->status_text :
	    settle_status_name(res->st);
}
size_t settle_result_count(const struct settle_result *res) { return res->n; }

const char *
settle_result_entry(const struct settle_result *res, size_t i, size_t *lenp)
{
	if (i >= res->n)
		return NULL;
	if (lenp != NULL)
		*lenp = res->lens[i];
	return res->entries[i];
}

const char *
settle_result_entry_period(const struct settle_result *res, size_t i,
    char buf[RULES_PERIOD_BUFSZ])
{
	if (i >= res->n)
		return NULL;
	return rules_period_format(res->cadence, res->eperiod[i], buf);
}

json_t *
settle_result_get0_json(const struct settle_result *res, size_t i)
{
	struct settle_result *mres = (struct settle_result *)res;

	if (i >= res->n)
		return NULL;
	/* Built on first use: most callers only store the canonical bytes. */
	if (mres->json[i] == NULL)
		mres->json[i] = json_loadb(res->entries[i], res->lens[i], 0, NULL);
	return mres->json[i];
}

const char *
settle_status_name(enum settle_status st)
{
	switch (st) {
	case SETTLE_SETTLED:
		return "settled";
	case SETTLE_DISPUTED:
		return "disputed";
	case SETTLE_NONE:
	case SETTLE_WAITING:
		break;
	}
	return "waiting";
}

static struct agr *
lookup_period(const struct settle *s, const char *agreement, const char *period,
    int32_t *p, char *err, size_t errlen)
{
	struct agr *a = find_agr(s, agreement);

	if (a == NULL || !a->active) {
		refuse(err, errlen, "agreement: \"%.64s\" is not a loaded "
		    "agreement", agreement);
		return NULL;
	}
	if (rules_period_parse(a->r->cadence, period, p) == -1 ||
	    *p < a->r->start || *p > a->r->end) {
		refuse(err, errlen, "period: \"%.16s\" is not a period of %s",
		    period, a->id);
		return NULL;
	}
	return a;
}

int
settle_period_load(struct settle *s, const char *agreement,
    const char *period, char *err, size_t errlen)
{
	int32_t p;
	struct agr *a = lookup_period(s, agreement, period, &p, err,
	    errlen);
	struct year *yr;

	if (a == NULL || (yr = year_find(a, p / per_year(a))) == NULL)
		return 0;
	return year_load(s, a, yr, err, errlen);
}

enum settle_status
settle_period_status(const struct settle *s, const char *agreement,
    const char *period)
{
	char err[256];
	int32_t p;
	const struct agr *a = lookup_period(s, agreement, period, &p, err,
	    sizeof(err));

	const struct year *yr;

	if (a == NULL || (yr = year_find(a, p / per_year(a))) == NULL)
		return SETTLE_NONE;
	return (enum settle_status)(yr->status >> 2 * (p - yr->y *
	    per_year(a)) & 3);
}

int
settle_status_counts(const struct settle *s, const char *agreement,
    size_t counts[SETTLE_DISPUTED + 1])
{
	const struct agr *a = find_agr(s, agreement);

	if (a == NULL || !a->active)
		return -1;
	memset(counts, 0, (SETTLE_DISPUTED + 1) * sizeof(counts[0]));
	for (size_t i = 0; i < a->nyears; i++)
		for (int k = 0; k < per_year(a); k++)
			if (a->years[i].present & 1u << k)
				counts[a->years[i].status >> 2 * k & 3]++;
	return 0;
}

json_t *
settle_period_json(struct settle *s, const char *agreement,
    const char *period, char *err, size_t errlen)
{
	struct agr *a;
	const struct period *pe;
	struct year *yr;
	char pb[RULES_PERIOD_BUFSZ], tb[RULES_PERIOD_BUFSZ], hx[HEXBUF];
	struct seg sg;
	json_t *o, *fig = json_null(), *reps = json_array();
	int32_t p;

	if ((a = lookup_period(s, agreement, period, &p, err, errlen)) == NULL) {
		json_decref(reps);
		return NULL;
	}
	if ((yr = year_find(a, p / per_year(a))) != NULL &&
	    year_load(s, a, yr, err, errlen) == -1) {
		json_decref(reps);
		return NULL;
	}
	pe = year_period(a, yr, p);
	seg_of(a->r, p, &sg);
	if (pe != NULL && pe->settled) {
		struct textbuf b = TEXTBUF_INIT;

		/* The figures as a settlement-shaped object, parsed back. */
		textbuf_puts(&b, "{");
		sb_values(&b, a, pe->cur, 0);
		textbuf_puts(&b, ",");
		sb_values(&b, a, pe->cur, 1);
		textbuf_puts(&b, ",");
		sb_values(&b, a, pe->cur, 2);
		textbuf_puts(&b, "}");
		if (!b.failed) {
			json_decref(fig);
			fig = json_loadb(b.p, b.len, 0, NULL);
		}
		free(b.p);
	}
	if (pe != NULL && pe->has_eff)
		for (int i = 0; i < pe->neff; i++)
			json_array_append_new(reps, json_string(bin_to_hex(
			    pe->eff_hash[i], hx)));
	o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o*,s:o*}",
	    "agreement", a->id,
	    "period", rules_period_format(a->r->cadence, p, pb),
	    "status", settle_status_name(period_status(a, pe)),
	    "term", rules_period_format(a->r->cadence, sg.t->from, tb),
	    "figures", fig ? fig : json_null(),
	    "reports", reps,
	    "host_report", pe && pe->has[ROLE_HOST] ?
	    json_string(bin_to_hex(pe->hash[ROLE_HOST], hx)) : json_null(),
	    "home_report", pe && pe->has[ROLE_HOME] ?
	    json_string(bin_to_hex(pe->hash[ROLE_HOME], hx)) : json_null());
	if (o == NULL)
		refuse(err, errlen, "out of memory");
	close_years(s, a);
	return o;
}

int
settle_broken(const struct settle *s)
{
	return s->broken;
}

/* --- year statements and approvals (SPEC §5a) ------------------------------------ */

static const char *const year_status_names[] = {
	[SETTLE_YEAR_INCOMPLETE] = "incomplete",
	[SETTLE_YEAR_PENDING] = "pending",
	[SETTLE_YEAR_APPROVED] = "approved",
	[SETTLE_YEAR_CHANGED] = "changed",
};

const char *
settle_year_status_name(enum settle_year_status st)
{
	return year_status_names[st];
}

/* "YYYY" to a year; -1 when it is not one. */
static int
parse_year(const char *s, int32_t *y)
{
	if (s == NULL || strlen(s) != 4)
		return -1;
	*y = 0;
	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*y = *y * 10 + (s[i] - '0');
	}
	return 0;
}

/* The agreement in force and year y of it, or NULL (err, *code 404). */
static struct agr *
lookup_year(struct settle *s, const char *agreement, const char *year,
    int32_t *y, int *code, char *err, size_t errlen)
{
	struct agr *a = find_agr(s, agreement);
	int per;

	*code = SETTLE_NOTFOUND;
	if (a == NULL || !a->active) {
		refuse(err, errlen, "agreement: \"%.64s\" is not a loaded "
		    "agreement", agreement);
		return NULL;
	}
	per = per_year(a);
	if (parse_year(year, y) == -1 || (*y + 1) * per - 1 < a->r->start ||
	    *y * per > a->r->end) {
		refuse(err, errlen, "year: \"%.16s\" is not a fiscal year of %s",
		    year, a->id);
		return NULL;
	}
	return a;
}

/* Adds v to *sum; -1 on overflow. */
static int
sum_into(int64_t *sum, int64_t v)
{
	return money_add(*sum, v, sum);
}

static json_t *
jfen(int64_t v)
{
	char buf[MONEY_BUFSZ];

	return json_string(money_format(v, buf));
}

/* The values v (nvals of them) as the statement's object of one row. */
static json_t *
values_json(const struct agr *a, const int64_t *v)
{
	const struct rules *r = a->r;
	json_t *o = json_object(), *bn = json_object(), *st = json_object();

	json_object_set_new(o, "base", jfen(v[V_BASE]));
	json_object_set_new(o, "home", jfen(v[V_HOME]));
	json_object_set_new(o, "host", jfen(v[V_HOST]));
	json_object_set_new(o, "floor_topup", jfen(v[V_TOPUP]));
	for (size_t i = 0; i < r->nbenefs; i++)
		json_object_set_new(bn, r->benefs[i].id, jfen(v[V_BEN + i]));
	for (size_t i = 0; i < r->nstats; i++) {
		size_t k = v_stat_home(a, i);

		json_object_set_new(st, r->stats[i].code, json_pack("{s:o,s:o}",
		    "home", jfen(v[k]), "host", jfen(v[k + 1])));
	}
	json_object_set_new(o, "beneficiaries", bn);
	json_object_set_new(o, "statistics", st);
	return o;
}

/*
 * The statement of year y of a (SPEC §5a) as canonical bytes (malloc'd) and
 * their hash: 1; 0 when some planned period of the year has not settled
 * (nothing set); -1 with the reason in err. Reads a paged year back.
 */
static int
year_statement(struct settle *s, struct agr *a, int32_t y, char **bytes,
    size_t *len, char hash[HEXBUF], char *err, size_t errlen)
{
	const struct rules *r = a->r;
	int per = per_year(a);
	int32_t first = y * per, last = first + per - 1;
	struct year *yr = year_find(a, y);
	int64_t *tot = NULL;
	json_t *doc = NULL, *rows;
	char pb[RULES_PERIOD_BUFSZ], yb[8];
	int rc = -1;

	if (first < r->start)
		first = r->start;
	if (last > r->end)
		last = r->end;
	if (yr == NULL || !year_complete(a, yr))
		return 0;
	if (year_load(s, a, yr, err, errlen) == -1)
		return -1;
	if ((tot = calloc(a->nvals, sizeof(*tot))) == NULL ||
	    (rows = json_array()) == NULL)
		goto oom;
	snprintf(yb, sizeof(yb), "%04d", (int)y);
	doc = json_pack("{s:s,s:s,s:s,s:s,s:o}", "agreement", a->id, "year", yb,
	    "home", r->home, "host", r->host, "periods", rows);
	if (doc == NULL)
		goto oom;
	for (int32_t p = first; p <= last; p++) {
		const struct period *pe = year_period(a, yr, p);
		struct seg sg;
		json_t *row;

		if (pe == NULL || !pe->settled || pe->cur == NULL) {
			refuse(err, errlen, "period %s settled but has no values",
			    rules_period_format(r->cadence, p, pb));
			goto out;
		}
		seg_of(r, p, &sg);
		if ((row = values_json(a, pe->cur)) == NULL)
			goto oom;
		json_object_set_new(row, "period", json_string(
		    rules_period_format(r->cadence, p, pb)));
		json_object_set_new(row, "term", json_string(
		    rules_period_format(r->cadence, sg.t->from, pb)));
		json_array_append_new(rows, row);
		for (size_t k = 0; k < a->nvals; k++)
			if (sum_into(&tot[k], pe->cur[k]) == -1) {
				refuse(err, errlen, "the year's totals overflow");
				goto out;
			}
	}
	json_object_set_new(doc, "total", values_json(a, tot));
	if ((*bytes = canon_dump(doc, len, err, errlen)) == NULL)
		goto out;
	canon_sha256_hex(*bytes, *len, hash);
	rc = 1;
	goto out;
oom:
	refuse(err, errlen, "out of memory");
out:
	json_decref(doc);
	free(tot);
	close_years(s, a);
	return rc;
}

static enum settle_year_status
year_status(const struct year *yr, int complete, const unsigned char *cur)
{
	int changed = 0, both = 1;

	if (!complete)
		return SETTLE_YEAR_INCOMPLETE;
	for (int role = 0; role < 2; role++) {
		const struct approval *ap = yr != NULL ? &yr->appr[role] : NULL;

		if (ap == NULL || !ap->has)
			both = 0;
		else if (memcmp(ap->hash, cur, 32) != 0)
			changed = 1, both = 0;
	}
	if (changed)
		return SETTLE_YEAR_CHANGED;
	return both ? SETTLE_YEAR_APPROVED : SETTLE_YEAR_PENDING;
}

json_t *
settle_year_json(struct settle *s, const char *agreement, const char *year,
    int *code, char *err, size_t errlen)
{
	char hash[HEXBUF], hx[HEXBUF];
	unsigned char bin[32];
	struct agr *a;
	struct year *yr;
	json_t *doc, *stmt = json_null(), *appr;
	char *bytes = NULL;
	size_t len;
	int32_t y;
	int rc;

	if ((a = lookup_year(s, agreement, year, &y, code, err, errlen)) == NULL)
		return NULL;
	*code = SETTLE_UNAVAILABLE;
	if ((rc = year_statement(s, a, y, &bytes, &len, hash, err,
	    errlen)) == -1)
		return NULL;
	if (rc == 1) {
		json_decref(stmt);
		stmt = json_loadb(bytes, len, 0, NULL);
		free(bytes);
		if (stmt == NULL) {
			refuse(err, errlen, "out of memory");
			return NULL;
		}
		hex_to_bin(hash, bin);
	}
	yr = year_find(a, y);
	appr = json_object();
	for (int role = 0; role < 2; role++) {
		const struct approval *ap = yr != NULL ? &yr->appr[role] : NULL;
		json_t *v = json_null();

		if (ap != NULL && ap->has)
			v = json_pack("{s:I,s:s,s:s}", "index",
			    (json_int_t)ap->index, "statement",
			    bin_to_hex(ap->hash, hx), "time", ap->time);
		json_object_set_new(appr, role == ROLE_HOST ? "host" : "home",
		    v);
	}
	doc = json_pack("{s:o,s:o,s:s,s:o}", "statement", stmt,
	    "sha256", rc == 1 ? json_string(hash) : json_null(),
	    "status", settle_year_status_name(year_status(yr, rc == 1, bin)),
	    "approvals", appr);
	if (doc == NULL) {
		*code = SETTLE_UNAVAILABLE;
		refuse(err, errlen, "out of memory");
	}
	return doc;
}

/* The role a submitter speaking for sides approves as, or -1 (err). */
static int
approval_role(const struct agr *a, const char *role,
    const char *const *sides, size_t nsides, int *code, char *err,
    size_t errlen)
{
	int speaks[2] = { sides == NULL, sides == NULL };

	for (size_t i = 0; sides != NULL && i < nsides; i++) {
		if (strcmp(sides[i], a->r->host) == 0)
			speaks[ROLE_HOST] = 1;
		if (strcmp(sides[i], a->r->home) == 0)
			speaks[ROLE_HOME] = 1;
	}
	if (role != NULL) {
		int want = strcmp(role, "host") == 0 ? ROLE_HOST :
		    strcmp(role, "home") == 0 ? ROLE_HOME : -1;

		if (want == -1) {
			*code = SETTLE_INVALID;
			return refuse(err, errlen, "role: \"%.16s\" is not host "
			    "or home", role);
		}
		if (!speaks[want]) {
			*code = SETTLE_FORBIDDEN;
			return refuse(err, errlen, "role: this client does not "
			    "speak for the %s side of %s", role, a->id);
		}
		return want;
	}
	if (speaks[ROLE_HOST] && speaks[ROLE_HOME]) {
		*code = SETTLE_INVALID;
		return refuse(err, errlen, "role: this client speaks for both "
		    "sides of %s; say which with \"role\"", a->id);
	}
	if (!speaks[ROLE_HOST] && !speaks[ROLE_HOME]) {
		*code = SETTLE_FORBIDDEN;
		return refuse(err, errlen, "this client is not a bureau of "
		    "either side of %s", a->id);
	}
	return speaks[ROLE_HOST] ? ROLE_HOST : ROLE_HOME;
}

int
settle_approve(struct settle *s, const char *agreement, const char *year,
    const char *body, size_t len, const char *const *sides, size_t nsides,
    const char *time, const char *submitter, uint64_t index,
    struct settle_result **resp, char *err, size_t errlen)
{
	struct settle_result *res = NULL;
	const char *want, *rolename = NULL;
	char hash[HEXBUF], *bytes = NULL, yb[8];
	unsigned char bin[32];
	struct approval *ap;
	size_t blen;
	struct textbuf b = TEXTBUF_INIT;
	struct agr *a;
	struct year *yr;
	json_t *o;
	int32_t y;
	int code, role, rc;

	*resp = NULL;
	if (s->broken)
		return refuse(err, errlen, "%s", broken_msg), SETTLE_UNAVAILABLE;
	if ((a = lookup_year(s, agreement, year, &y, &code, err, errlen)) == NULL)
		return code;
	if ((o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		refuse(err, errlen, "not a JSON object");
		return SETTLE_BADJSON;
	}
	{
		const char *key;
		json_t *v;

		json_object_foreach(o, key, v) {
			if (strcmp(key, "statement") != 0 &&
			    strcmp(key, "role") != 0) {
				refuse(err, errlen, "%.32s: unknown field (an "
				    "approval has \"statement\" and, for a "
				    "bureau of both sides, \"role\")", key);
				json_decref(o);
				return SETTLE_INVALID;
			}
		}
	}
	want = json_string_value(json_object_get(o, "statement"));
	if (json_object_get(o, "role") != NULL &&
	    (rolename = json_string_value(json_object_get(o, "role"))) ==
	    NULL) {
		json_decref(o);
		refuse(err, errlen, "role: must be a string");
		return SETTLE_INVALID;
	}
	if (want == NULL || strlen(want) != 64 ||
	    strspn(want, "0123456789abcdef") != 64) {
		json_decref(o);
		refuse(err, errlen, "statement: must be the statement's SHA-256, "
		    "64 lowercase hex digits");
		return SETTLE_INVALID;
	}
	if ((role = approval_role(a, rolename, sides, nsides, &code, err,
	    errlen)) == -1) {
		json_decref(o);
		return code;
	}
	if ((rc = year_statement(s, a, y, &bytes, &blen, hash, err,
	    errlen)) == -1) {
		json_decref(o);
		return SETTLE_UNAVAILABLE;
	}
	free(bytes);
	if (rc == 0) {
		json_decref(o);
		refuse(err, errlen, "year %s of %s is incomplete: not every "
		    "period of it has settled, so there is no statement to "
		    "approve", year, a->id);
		return SETTLE_CONFLICT;
	}
	yr = year_find(a, y);
	ap = &yr->appr[role];
	hex_to_bin(want, bin);
	if (strcmp(want, hash) != 0) {
		refuse(err, errlen, "statement: %s is not the current statement "
		    "of %s %s, which is %s", want, a->id, year, hash);
		json_decref(o);
		return SETTLE_CONFLICT;
	}
	snprintf(yb, sizeof(yb), "%04d", (int)y);
	if ((res = result_new(a, y * per_year(a), role, hash, "")) == NULL)
		goto oom;
	snprintf(res->period, sizeof(res->period), "%s", yb);
	if (ap->has && memcmp(ap->hash, bin, 32) == 0) {
		/* The same approval again: nothing is written. */
		res->first_index = ap->index;
		res->status_text = settle_year_status_name(year_status(yr, 1,
		    bin));
		json_decref(o);
		*resp = res;
		return SETTLE_DUPLICATE;
	}
	textbuf_puts(&b, "{");
	sb_kv(&b, "agreement", a->id);
	textbuf_puts(&b, ",");
	sb_kv(&b, "role", role == ROLE_HOST ? "host" : "home");
	textbuf_puts(&b, ",");
	sb_kv(&b, "statement", hash);
	if (submitter != NULL) {
		textbuf_puts(&b, ",");
		sb_kv(&b, "submitter", submitter);
	}
	if (time != NULL) {
		textbuf_puts(&b, ",");
		sb_kv(&b, "time", time);
	}
	textbuf_puts(&b, ",");
	sb_kv(&b, "type", "approval");
	textbuf_puts(&b, ",");
	sb_kv(&b, "year", yb);
	textbuf_puts(&b, "}");
	if (result_add(res, &b, y * per_year(a)) == -1)
		goto oom;
	ap->has = 1;
	memcpy(ap->hash, bin, 32);
	ap->index = index;
	snprintf(ap->time, sizeof(ap->time), "%s", time != NULL ? time : "");
	res->first_index = index;
	res->status_text = settle_year_status_name(year_status(yr, 1, bin));
	json_decref(o);
	*resp = res;
	return SETTLE_ACCEPTED;
oom:
	json_decref(o);
	settle_result_free(res);
	refuse(err, errlen, "out of memory");
	return SETTLE_UNAVAILABLE;
}

int
settle_approval_replay(struct settle *s, const char *entry, size_t len,
    uint64_t index, const char **status, char *err, size_t errlen)
{
	struct settle_result *res = NULL;
	const char *agreement, *year, *role, *hash, *time, *submitter, *got;
	char body[160], msg[512];
	size_t glen;
	json_t *e;
	int code;

	if ((e = json_loadb(entry, len, 0, NULL)) == NULL)
		return refuse(err, errlen, "approval entry: not JSON");
	agreement = json_string_value(json_object_get(e, "agreement"));
	year = json_string_value(json_object_get(e, "year"));
	role = json_string_value(json_object_get(e, "role"));
	hash = json_string_value(json_object_get(e, "statement"));
	time = json_string_value(json_object_get(e, "time"));
	submitter = json_string_value(json_object_get(e, "submitter"));
	if (agreement == NULL || year == NULL || role == NULL || hash == NULL ||
	    strlen(hash) > 64 || strlen(role) > 8) {
		json_decref(e);
		return refuse(err, errlen, "approval entry without agreement, "
		    "year, role or statement");
	}
	snprintf(body, sizeof(body), "{\"statement\":\"%s\",\"role\":\"%s\"}",
	    hash, role);
	code = settle_approve(s, agreement, year, body, strlen(body), NULL, 0,
	    time, submitter, index, &res, msg, sizeof(msg));
	if (code == SETTLE_DUPLICATE) {
		refuse(err, errlen, "approval entry repeats the %s side's "
		    "approval at entry %llu, which the daemon never writes", role,
		    (unsigned long long)settle_result_first_index(res));
		code = -1;
	} else if (code != SETTLE_ACCEPTED) {
		refuse(err, errlen, "approval of %s %s by the %s side: %s",
		    agreement, year, role, msg);
		code = -1;
	} else if ((got = settle_result_entry(res, 0, &glen)) == NULL ||
	    glen != len || memcmp(got, entry, len) != 0) {
		refuse(err, errlen, "approval entry is not as the daemon writes "
		    "it");
		code = -1;
	} else {
		if (status != NULL)
			*status = settle_result_status_text(res);
		code = 0;
	}
	settle_result_free(res);
	json_decref(e);
	return code;
}

json_t *
settle_year_detail(struct settle *s, const char *agreement, const char *year,
    int *code, char *err, size_t errlen)
{
	char pb[RULES_PERIOD_BUFSZ];
	struct agr *a;
	struct year *yr;
	json_t *out;
	int32_t y, first, last;
	int per;

	if ((a = lookup_year(s, agreement, year, &y, code, err, errlen)) == NULL)
		return NULL;
	*code = SETTLE_UNAVAILABLE;
	per = per_year(a);
	first = y * per > a->r->start ? y * per : a->r->start;
	last = y * per + per - 1 < a->r->end ? y * per + per - 1 : a->r->end;
	if ((out = json_array()) == NULL)
		return refuse(err, errlen, "out of memory"), NULL;
	if ((yr = year_find(a, y)) != NULL &&
	    year_load(s, a, yr, err, errlen) == -1) {
		json_decref(out);
		return NULL;
	}
	for (int32_t p = first; p <= last; p++) {
		const struct period *pe = year_period(a, yr, p);
		const struct rules_term *t = &a->r->terms[term_index(a->r, p)];
		json_t *row, *taxes;

		if (pe == NULL || !pe->has_eff || !pe->settled)
			continue;
		taxes = json_object();
		for (size_t i = 0; i < a->r->ntaxes; i++) {
			int64_t kept = 0;

			if (money_mul_ratio(pe->eff[i], &t->taxes[i].retain,
			    &kept) == -1)
				kept = 0;	/* cannot be: the base was computed */
			json_object_set_new(taxes, t->taxes[i].code, json_pack(
			    "{s:o,s:s,s:o}", "amount", jfen(pe->eff[i]),
			    "retain", t->taxes[i].retain_text, "retained",
			    jfen(kept)));
		}
		row = json_pack("{s:s,s:o,s:o}", "period",
		    rules_period_format(a->r->cadence, p, pb), "deductions",
		    jfen(pe->eff[a->r->ntaxes]), "taxes", taxes);
		if (row == NULL || json_array_append_new(out, row) == -1) {
			json_decref(out);
			close_years(s, a);
			return refuse(err, errlen, "out of memory"), NULL;
		}
	}
	close_years(s, a);
	return out;
}
