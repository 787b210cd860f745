/*
 * journal_receipt: the receipts of a committed group (SPEC 7), built by
 * the writer: a tlog-proof of the report entry against its group's
 * checkpoint; a resubmission's from its first report's row.
 */

#include <stdlib.h>
#include <string.h>

#include "shanhai/canon.h"
#include "shanhai/log.h"
#include "shanhai/note.h"
#include "shanhai/textbuf.h"

#include "journal_impl.h"

/* ---- receipts ---- */

/* Appends the decimal digits of v. */
static void
put_u64(struct textbuf *b, uint64_t v)
{
	char d[24];
	size_t n = sizeof(d);

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	textbuf_add(b, d + n, sizeof(d) - n);
}

/*
 * The receipt of SPEC 7 for report row r against the signed checkpoint cp
 * (of size r->checkpoint), into a malloc'd JSON text: the proof carries the
 * report entry (entry[0..elen), as hashed) as its extra data, so that it
 * verifies without the ledger. The bytes are those of jansson's compact
 * dump of {"report","index","entries","status","proof"}, written directly
 * (a dump through jansson cost more than the proof). Writer thread.
 */
static int
build_receipt(struct journal *j, const struct store_report *r, const char *cp,
    const char *entry, size_t elen, char **out, size_t *outlen)
{
	unsigned char hashes[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE];
	struct textbuf b = TEXTBUF_INIT;
	size_t n;
	char *proof = NULL;

	if (merkle_inclusion_proof(r->index, r->checkpoint, jn_cache_get, j,
	    hashes, &n) < 0 || n > NOTE_MAX_PROOF)
		return -1;
	if (note_proof_format(r->index, entry, elen,
	    (const unsigned char (*)[NOTE_HASH_SIZE])hashes, n, cp, strlen(cp),
	    &proof) < 0)
		return -1;
	/* An approval's row (report_id "@approval/YYYY") names its statement. */
	textbuf_puts(&b, r->report_id[0] == '@' ? "{\"statement\":" :
	    "{\"report\":");
	canon_put_string(&b, r->sha256, strlen(r->sha256));
	textbuf_puts(&b, ",\"index\":");
	put_u64(&b, r->index);
	textbuf_puts(&b, ",\"entries\":[");
	for (uint64_t i = 0; i < r->count; i++) {
		if (i > 0)
			textbuf_add(&b, ",", 1);
		put_u64(&b, r->index + i);
	}
	textbuf_puts(&b, "],\"status\":");
	canon_put_string(&b, r->status, strlen(r->status));
	textbuf_puts(&b, ",\"proof\":");
	canon_put_string(&b, proof, strlen(proof));
	textbuf_add(&b, "}", 1);
	free(proof);
	if (b.failed) {
		textbuf_release(&b);
		return -1;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

/*
 * The report row of a resubmission: among the entries of its period (from
 * the period index, which holds the first report's by now: it is in this
 * group or an earlier one), the report entry with its hash. Writer.
 */
static int
find_report(struct journal *j, struct item *it)
{
	char sha[STORE_HEX_BUFSZ];

	if (it->cand == NULL && store_period_entries(j->wr, it->rep.agreement,
	    it->period, INT64_MAX, &it->cand, &it->ncand) < 0)
		return -1;
	memcpy(sha, it->rep.sha256, sizeof(sha));
	for (size_t k = 0; k < it->ncand; k++)
		if (store_report_at(j->wr, it->cand[k], &it->rep) == 0 &&
		    strcmp(sha, it->rep.sha256) == 0)
			return 0;
	memcpy(it->rep.sha256, sha, sizeof(sha));
	return -1;
}

/* Fills in every item's answer once g is durable. */
void
jn_answer_group(struct journal *j, struct group *g)
{
	for (size_t i = 0; i < g->nitems; i++) {
		struct item *it = &g->items[i];
		char *cp = NULL, *stored = NULL;
		const char *note, *entry;
		size_t elen;

		if (it->kind == ITEM_RULES || it->kind == ITEM_KEY)
			continue;
		it->code = 201;
		if (it->kind == ITEM_DUPLICATE) {
			it->code = 200;
			if (find_report(j, it) < 0 ||
			    store_entry(j->wr, it->rep.index, &stored,
			    &elen) < 0)
				goto fail;
			entry = stored;
		} else {
			entry = g->entries[it->rep.index - g->first].body;
			elen = g->entries[it->rep.index - g->first].len;
		}
		if (it->rep.checkpoint == j->cp_size)
			note = j->cp_note;
		else if (store_checkpoint(j->wr, it->rep.checkpoint, &cp) == 0)
			note = cp;
		else
			goto fail;
		if (build_receipt(j, &it->rep, note, entry, elen, &it->text,
		    &it->textlen) < 0)
			goto fail;
		free(cp);
		free(stored);
		continue;
fail:
		free(cp);
		free(stored);
		it->code = 500;
		if ((it->text = strdup("receipt: cannot be built from the"
		    " store")) != NULL)
			it->textlen = strlen(it->text);
		log_warnx("receipt of report %s: %s", it->rep.sha256,
		    store_errmsg(j->wr));
	}
}
