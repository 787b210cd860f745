/*
 * settle_page: a closed fiscal year out to the caller's pager as a blob,
 * and back (see settle.h, Paging).
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

/* --- paging -------------------------------------------------------------------- */

#define BLOB_MAGIC	0x31594853u	/* "SHY1" in the first bytes */
#define KEYBUF		(64 + 1 + 4 + 1)

/* "<agreement>/<year>", the year's name in messages. */
static char *
year_key(const struct agr *a, int32_t y, char *buf)
{
	snprintf(buf, KEYBUF, "%s/%04d", a->id, (int)y);
	return buf;
}

/* Integers a period's block holds after its struct (see eng_period_new()). */
static size_t
period_nint(const struct agr *a)
{
	return (a->r->confirm ? 3 : 1) * a->nfig + a->nvals;
}

/* The summary of a resident year, from its periods. */
void
eng_year_summarize(const struct agr *a, struct year *yr)
{
	yr->settled = 0;
	yr->status = 0;
	for (int k = 0; k < eng_per_year(a); k++) {
		const struct period *pe = yr->res->pes[k];

		if (pe == NULL)
			continue;
		if (pe->settled)
			yr->settled |= (uint16_t)(1u << k);
		yr->status |= (uint32_t)eng_period_status(a, pe) << (2 * k);
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
	put_u32(b, eng_year_present(yr));
	for (int k = 0; k < eng_per_year(a); k++) {
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
			    eng_idlist_add(&res->ids[k], id, hash) == NULL)
				goto bad;
		}
	}
	present = rd_u32(&r);
	for (int k = 0; k < eng_per_year(a) && !r.bad; k++) {
		struct period *pe;
		unsigned char fl[5];

		if (!(present & 1u << k))
			continue;
		if ((pe = eng_period_new(a, yr->y * eng_per_year(a) + k)) == NULL)
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
	if (r.bad || r.p != r.end || present != eng_year_present(yr))
		goto bad;
	check = *yr;
	check.res = res;
	eng_year_summarize(a, &check);
	if (check.settled != yr->settled || check.status != yr->status)
		goto bad;
	return res;
bad:
	eng_yres_free(res);
	return NULL;
}

/* Reads a paged-out year back: 0, or -1 with the reason. */
int
eng_year_load(struct settle *s, struct agr *a, struct year *yr, char *err,
    size_t errlen)
{
	char key[KEYBUF];
	void *blob = NULL;
	size_t len = 0;

	if (yr->res != NULL)
		return 0;
	if (eng_resident_reserve(a) == -1)
		return seterr(err, errlen, "out of memory");
	s->pstats.gets++;
	if (yr->ref == SETTLE_PAGE_NONE ||
	    s->pager.get(s->pager.arg, yr->ref, &blob, &len) == -1)
		return seterr(err, errlen, "the paged state of %s could not be "
		    "read back", year_key(a, yr->y, key));
	yr->res = year_decode(a, yr, blob, len);
	free(blob);
	if (yr->res == NULL)
		return seterr(err, errlen, "the paged state of %s is damaged "
		    "(or memory ran out reading it)", year_key(a, yr->y, key));
	a->resident[a->nresident++] = yr->y;
	return 0;
}

/* Hands a resident year to the pager; it stays resident when put fails. */
static void
year_unload(struct settle *s, struct agr *a, struct year *yr)
{
	if (yr->res->dirty) {
		year_encode(a, yr, &s->blob);
		s->pstats.puts++;
		if (s->blob.failed || s->pager.put(s->pager.arg, &yr->ref,
		    s->blob.p, s->blob.len) == -1) {
			s->pstats.put_failures++;
			return;
		}
	}
	eng_yres_free(yr->res);
	yr->res = NULL;
	for (size_t i = 0; i < a->nresident; i++)
		if (a->resident[i] == yr->y) {
			a->resident[i] = a->resident[--a->nresident];
			break;
		}
}

/* Every planned period of the year settled. */
int
eng_year_complete(const struct agr *a, const struct year *yr)
{
	int per = eng_per_year(a);
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
void
eng_close_years(struct settle *s, struct agr *a)
{
	int all;

	if (s->pager.put == NULL || a->nresident == 0)
		return;
	all = (s->pager.flags & SETTLE_PAGE_ALL) != 0;
	/*
	 * Only the resident years, not every year of the history: from the
	 * end, as year_unload() moves the last of the list into the place
	 * of the one it removes, which this walk has then seen.
	 */
	for (size_t i = a->nresident; i-- > 0;) {
		struct year *yr = eng_year_find(a, a->resident[i]);

		if (all || (yr != &a->years[a->nyears - 1] &&
		    eng_year_complete(a, yr)))
			year_unload(s, a, yr);
	}
}
