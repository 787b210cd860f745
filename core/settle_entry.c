/*
 * settle_entry: the entries a report causes, written directly in canonical
 * form (keys in RFC 8785 order), and the results that carry them.
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

/* --- entries ------------------------------------------------------------------ */

static void
sb_tail(struct textbuf *b, const char *time, const char *type)
{
	if (time != NULL) {
		textbuf_puts(b, ",");
		eng_sb_kv(b, "time", time);
	}
	textbuf_puts(b, ",");
	eng_sb_kv(b, "type", type);
	textbuf_puts(b, "}");
}

void
eng_sb_values(struct textbuf *b, const struct agr *a, const int64_t *v, int part)
{
	const struct rules *r = a->r;

	/* part 0: base beneficiaries (floor_topup home host follow later);
	 * part 1: floor_topup home host; part 2: statistics */
	if (part == 0) {
		eng_sb_kamount(b, "base", v[V_BASE]);
		textbuf_puts(b, ",\"beneficiaries\":{");
		for (size_t i = 0; i < r->nbenefs; i++) {
			size_t k = a->border[i];

			if (i > 0)
				textbuf_puts(b, ",");
			eng_sb_kamount(b, r->benefs[k].id, v[V_BEN + k]);
		}
		textbuf_puts(b, "}");
	} else if (part == 1) {
		eng_sb_kamount(b, "floor_topup", v[V_TOPUP]);
		textbuf_puts(b, ",");
		eng_sb_kamount(b, "home", v[V_HOME]);
		textbuf_puts(b, ",");
		eng_sb_kamount(b, "host", v[V_HOST]);
	} else {
		textbuf_puts(b, "\"statistics\":{");
		for (size_t i = 0; i < r->nstats; i++) {
			size_t k = a->sorder[i], o = eng_v_stat_home(a, k);

			if (i > 0)
				textbuf_puts(b, ",");
			textbuf_puts(b, "\"");
			textbuf_puts(b, r->stats[k].code);
			textbuf_puts(b, "\":{");
			eng_sb_kamount(b, "home", v[o]);
			textbuf_puts(b, ",");
			eng_sb_kamount(b, "host", v[o + 1]);
			textbuf_puts(b, "}");
		}
		textbuf_puts(b, "}");
	}
}

void
eng_entry_settlement(struct textbuf *b, const struct agr *a, const char *period,
    const char *term, const int64_t *v, const struct period *pe,
    const char *time)
{
	textbuf_puts(b, "{");
	eng_sb_kv(b, "agreement", a->id);
	textbuf_puts(b, ",");
	eng_sb_values(b, a, v, 0);
	textbuf_puts(b, ",");
	eng_sb_values(b, a, v, 1);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "period", period);
	textbuf_puts(b, ",\"reports\":[");
	for (int i = 0; i < pe->neff; i++) {
		char hx[HEXBUF];

		eng_bin_to_hex(pe->eff_hash[i], hx);
		textbuf_puts(b, i > 0 ? ",\"" : "\"");
		textbuf_add(b, hx, 64);
		textbuf_puts(b, "\"");
	}
	textbuf_puts(b, "],");
	eng_sb_values(b, a, v, 2);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "term", term);
	sb_tail(b, time, "settlement");
}

void
eng_entry_adjustment(struct textbuf *b, const struct agr *a, const char *period,
    const int64_t *delta, const char *cause, const char *time)
{
	textbuf_puts(b, "{");
	eng_sb_kv(b, "agreement", a->id);
	textbuf_puts(b, ",");
	eng_sb_values(b, a, delta, 0);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "cause", cause);
	textbuf_puts(b, ",");
	eng_sb_values(b, a, delta, 1);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "period", period);
	textbuf_puts(b, ",");
	eng_sb_values(b, a, delta, 2);
	sb_tail(b, time, "adjustment");
}

void
eng_entry_dispute(struct textbuf *b, const struct agr *a, const char *period,
    const char *host, const char *home, const char *time)
{
	textbuf_puts(b, "{");
	eng_sb_kv(b, "agreement", a->id);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "home_report", home);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "host_report", host);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "period", period);
	sb_tail(b, time, "dispute");
}

void
eng_entry_report(struct textbuf *b, const char *canon, size_t clen, const char *hash,
    const char *submitter, const char *time)
{
	textbuf_puts(b, "{\"report\":");
	textbuf_add(b, canon, clen);
	textbuf_puts(b, ",");
	eng_sb_kv(b, "sha256", hash);
	if (submitter != NULL) {
		textbuf_puts(b, ",");
		eng_sb_kv(b, "submitter", submitter);
	}
	sb_tail(b, time, "report");
}

int
eng_result_add(struct settle_result *res, struct textbuf *b, int32_t p)
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

struct settle_result *
eng_result_new(const struct agr *a, int32_t p, int role, const char *hash,
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
