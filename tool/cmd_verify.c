/*
 * shanhai verify: the auditor's check of a signed ledger, offline (SPEC 6, 8).
 *
 *   the checkpoint's signature, by any of the given verifier keys;
 *   with --entries, that each of the first `size` entries is canonical JSON,
 *     that they hash to the checkpoint's root, and the replay: agreements
 *     rebuilt from `rules` entries, `report` entries fed through the settle
 *     engine, and every settlement, adjustment and dispute the ledger holds
 *     must be exactly what the engine gives (ignoring "time", and
 *     "submitter" on reports), none missing, none extra;
 *   with --receipt, the receipt's tlog-proof for its report entry: the
 *     entry its proof carries as extra data (canonical, a report entry of
 *     the receipt's report hash) is included at the receipt's index in the
 *     proof's signed checkpoint; with --entries, it is also entry `index`
 *     (a receipt without the entry needs --entries). Alone (no
 *     --checkpoint), a bureau's check of its receipt;
 *   with --from and --proof, a consistency proof from an older checkpoint;
 *     with --receipt and --checkpoint, --proof alone proves the receipt's
 *     checkpoint consistent with the one under audit;
 *   with --witness (cosigner verifier keys, type 0x04) and --quorum N
 *     (default: all of them), that the checkpoint under audit carries valid
 *     tlog-cosignature v1 cosignatures by at least N distinct witnesses,
 *     none dated in the future (SPEC 6.6). The checkpoint under audit is
 *     --checkpoint, or without it the receipt's. Any other checkpoint read
 *     (--from, a receipt's older one) is vouched for by its consistency
 *     with the witnessed one, which must be shown (a proof, the entries,
 *     or the same size and root): a receipt is signed before the
 *     witnesses cosign, so its checkpoint rarely carries cosignatures.
 *
 * Exit 0 when everything asked for verified, 1 when something did not (the
 * message names the entry and why), 2 for usage and I/O errors. --entries -
 * reads the entries from standard input (e.g. piped from the API).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "shanhai/audit.h"
#include "shanhai/canon.h"
#include "shanhai/cmd.h"
#include "shanhai/cosig.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"

#define MAX_VKEYS	16
#define MAX_ANNOUNCED	64
#define MAX_NOTE	(1 << 20)

struct checkpoint {
	char		*origin;
	uint64_t	 size;
	unsigned char	 root[MERKLE_HASH_SIZE];
};

struct verify {
	struct note_verifier	*vs[MAX_VKEYS];
	size_t			 nvs;
	/* --witness: cosigner keys, and what their cosignatures showed */
	struct note_verifier	*ws[MAX_VKEYS];
	size_t			 nws;
	int			 wvalid[MAX_VKEYS];
	uint64_t		 wtime[MAX_VKEYS];
	size_t			 ncosig;
	size_t			 quorum;
	struct checkpoint	 cp;		/* the checkpoint under audit */
	struct checkpoint	 old;		/* --from */
	int			 have_old;
	/* --receipt */
	json_t			*receipt;
	int			 rc_approval;	/* of an approval (SPEC §5a) */
	uint64_t		 rc_index, rc_size;
	unsigned char		 rc_root[MERKLE_HASH_SIZE];
	unsigned char		 rc_leaf[MERKLE_HASH_SIZE];
	char			 rc_report[CANON_HASH_BUFSZ];
	int			 rc_seen;
	int			 rc_extra;	/* the proof carries the entry */
	int			 rc_linked;	/* consistent with v->cp, shown */
	uint64_t		 nrules, nreports, nderived, nskipped;
	uint64_t		 uncovered;	/* lines after the checkpoint's size */
	/* The receipt's status and entries as the replay gives them. */
	int			 rc_replayed;
	const char		*rc_status;
	size_t			 rc_count;
	/* The keys that `key` entries announce (key rotation), in order. */
	char			*keys[MAX_ANNOUNCED];
	uint64_t		 key_at[MAX_ANNOUNCED];
	size_t			 nkeys;
	char			 why[1024];	/* first failure */
	char			 also[256];	/* a second failure, said after it */
};

static int __attribute__((format(printf, 2, 3)))
fail(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	if (v->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(v->why, sizeof(v->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai verify --vkey FILE [--vkey FILE ...] "
	    "--checkpoint FILE\n"
	    "       [--entries FILE] [--receipt FILE] "
	    "[--from OLDCHECKPOINT --proof FILE]\n"
	    "       [--witness FILE ... [--quorum N]]\n"
	    "       shanhai verify --vkey FILE [--vkey FILE ...] "
	    "--checkpoint FILE\n"
	    "       --receipt FILE [--proof FILE] [--witness FILE ... "
	    "[--quorum N]]\n"
	    "       shanhai verify --vkey FILE [--vkey FILE ...] "
	    "--receipt FILE\n"
	    "       [--witness FILE ... [--quorum N]]\n");
	return CMD_USAGE;
}

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer. */
static char *
slurp(const char *path, size_t max, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (nb == NULL)
				goto fail;
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (len > max) {
			fprintf(stderr, "shanhai verify: %s: larger than %zu "
			    "bytes\n", path, max);
			free(buf);
			fclose(f);
			return NULL;
		}
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	fprintf(stderr, "shanhai verify: %s: %s\n", path, strerror(errno));
	free(buf);
	fclose(f);
	return NULL;
}

/*
 * Every non-empty line of the file is one verifier key: a log's (into
 * v->vs) or, with witness, a cosigner's (into v->ws, type 0x04 only).
 */
static int
load_vkeys(struct verify *v, const char *path, int witness)
{
	struct note_verifier **to = witness ? v->ws : v->vs;
	size_t *n = witness ? &v->nws : &v->nvs;
	size_t len;
	char *buf = slurp(path, 65536, &len), *line, *save = NULL;
	char err[512];

	if (buf == NULL)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (*n == MAX_VKEYS) {
			fprintf(stderr, "shanhai verify: more than %d verifier "
			    "keys\n", MAX_VKEYS);
			free(buf);
			return -1;
		}
		if (note_verifier_parse(line, &to[*n], err, sizeof(err)) < 0) {
			fprintf(stderr, "shanhai verify: %s: %s\n", path, err);
			free(buf);
			return -1;
		}
		if (witness != (note_verifier_type(to[*n]) ==
		    NOTE_COSIG_ED25519)) {
			fprintf(stderr, "shanhai verify: %s: %s is %s\n", path,
			    note_verifier_name(to[*n]), witness ?
			    "not a witness's key (type 0x04): give it with "
			    "--vkey" : "a witness's key: give it with --witness");
			note_verifier_free(to[*n]);
			free(buf);
			return -1;
		}
		(*n)++;
	}
	free(buf);
	return 0;
}

/* Opens a signed checkpoint file: 0, -1 not verified (v->why), -2 I/O. */
static int
load_checkpoint(struct verify *v, const char *path, struct checkpoint *cp)
{
	char err[512];
	size_t len;
	char *buf = slurp(path, MAX_NOTE, &len);

	if (buf == NULL)
		return -2;
	if (note_checkpoint_open(buf, len, v->vs, v->nvs, &cp->origin,
	    &cp->size, cp->root, err, sizeof(err)) < 0) {
		free(buf);
		return fail(v, "%s: %s", path, err);
	}
	free(buf);
	return 0;
}

/*
 * The cosignatures on a checkpoint note (what names it in messages) by the
 * --witness keys: at least v->quorum distinct witnesses. When there is none
 * at all, the message is what `none` says, if given. 0, -1 not enough or a
 * bad one (v->why).
 */
static int
check_cosigs(struct verify *v, const char *what, const char *note,
    size_t len, const char *none)
{
	char err[512];

	if (cosig_verify(note, len, v->ws, v->nws, (uint64_t)time(NULL),
	    v->wvalid, v->wtime, &v->ncosig, err, sizeof(err)) < 0)
		return fail(v, "%s: %s", what, err);
	if (v->ncosig == 0 && none != NULL)
		return fail(v, "%s %s", what, none);
	if (v->ncosig < v->quorum)
		return fail(v, "%s: cosigned by %zu of the given witnesses, "
		    "the quorum is %zu", what, v->ncosig, v->quorum);
	return 0;
}

/* check_cosigs() on a checkpoint file. 0, -1 (v->why), -2 I/O. */
static int
check_cosigs_file(struct verify *v, const char *path)
{
	size_t len;
	char *buf = slurp(path, MAX_NOTE, &len);
	int rc;

	if (buf == NULL)
		return -2;
	rc = check_cosigs(v, path, buf, len, NULL);
	free(buf);
	return rc;
}

/* {"from":A,"to":B,"hashes":[base64...]} as the daemon serves it. */
static int
check_consistency(struct verify *v, const char *path)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE];
	json_error_t je;
	json_t *j, *hashes, *h;
	json_int_t from, to;
	size_t i, n = 0;

	if ((j = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path, je.text);
		return -2;
	}
	if (json_unpack(j, "{s:I, s:I, s:o !}", "from", &from, "to", &to,
	    "hashes", &hashes) != 0 || !json_is_array(hashes) || from < 0 ||
	    to < 0) {
		json_decref(j);
		return fail(v, "%s: not {\"from\":A,\"to\":B,\"hashes\":[...]}",
		    path);
	}
	if ((uint64_t)from != v->old.size || (uint64_t)to != v->cp.size) {
		json_decref(j);
		return fail(v, "%s: proves %" PRId64 " -> %" PRId64 ", but the "
		    "checkpoints are of sizes %" PRIu64 " and %" PRIu64, path,
		    (int64_t)from, (int64_t)to, v->old.size, v->cp.size);
	}
	json_array_foreach(hashes, i, h) {
		const char *s = json_string_value(h);
		unsigned char buf[MERKLE_HASH_SIZE + 1];
		if (n == MERKLE_MAX_PROOF || s == NULL ||
		    note_b64_decode(s, strlen(s), buf, sizeof(buf)) !=
		    MERKLE_HASH_SIZE) {
			json_decref(j);
			return fail(v, "%s: hash %zu is not base64 of 32 bytes",
			    path, i);
		}
		memcpy(proof[n++], buf, MERKLE_HASH_SIZE);
	}
	json_decref(j);
	if (strcmp(v->old.origin, v->cp.origin) != 0)
		return fail(v, "the checkpoints are of different logs: %s, %s",
		    v->old.origin, v->cp.origin);
	if (merkle_verify_consistency(v->old.size, v->cp.size, v->old.root,
	    v->cp.root, (const unsigned char (*)[MERKLE_HASH_SIZE])proof,
	    n) != 0)
		return fail(v, "%s: the tree of size %" PRIu64 " is not an "
		    "extension of the tree of size %" PRIu64, path, v->cp.size,
		    v->old.size);
	return 0;
}

/*
 * --receipt with --checkpoint and --proof: the consistency proof from the
 * receipt's checkpoint to the one under audit.
 */
static int
link_receipt(struct verify *v, const char *path)
{
	int rc;

	if ((v->old.origin = strdup(v->cp.origin)) == NULL) {
		fprintf(stderr, "shanhai verify: out of memory\n");
		return -2;
	}
	v->old.size = v->rc_size;
	memcpy(v->old.root, v->rc_root, MERKLE_HASH_SIZE);
	if ((rc = check_consistency(v, path)) == 0)
		v->rc_linked = 1;
	return rc;
}

/*
 * The inclusion of the receipt's leaf (the entry its proof carries, or
 * entry `index` of the entries) in the proof's signed checkpoint.
 */
static int
finish_receipt(struct verify *v, const char *path)
{
	char err[512];
	const char *proof = json_string_value(json_object_get(v->receipt,
	    "proof"));

	if (!v->rc_extra && !v->rc_seen)
		return fail(v, "%s: entry %" PRIu64 " is not in the entries",
		    path, v->rc_index);
	if (note_proof_verify(proof, strlen(proof), v->rc_leaf, v->vs, v->nvs,
	    NULL, NULL, NULL, err, sizeof(err)) < 0)
		return fail(v, "%s: %s", path, err);
	return 0;
}

/*
 * The approval entry an approval's receipt carries (SPEC §5a): the members
 * the daemon writes, naming the receipt's statement.
 */
static int
check_approval_entry(struct verify *v, const char *path, json_t *e)
{
	static const char *const keys[] = { "agreement", "role", "statement",
	    "submitter", "time", "type", "year", NULL };
	const char *key, *type, *stmt;
	json_t *val;

	json_object_foreach(e, key, val) {
		int known = 0;

		for (const char *const *k = keys; *k != NULL; k++)
			known |= strcmp(key, *k) == 0 && json_is_string(val);
		if (!known)
			return fail(v, "%s: proof: extra data: member \"%s\" is "
			    "not one of an approval entry", path, key);
	}
	type = json_string_value(json_object_get(e, "type"));
	stmt = json_string_value(json_object_get(e, "statement"));
	if (type == NULL || strcmp(type, "approval") != 0 || stmt == NULL ||
	    json_object_get(e, "agreement") == NULL ||
	    json_object_get(e, "year") == NULL ||
	    json_object_get(e, "role") == NULL)
		return fail(v, "%s: proof: extra data: not an approval entry "
		    "{agreement, role, statement, time, type, year}", path);
	if (strcmp(stmt, v->rc_report) != 0)
		return fail(v, "%s: proof: extra data: the approval of statement "
		    "%s, not of the receipt's statement %s", path, stmt,
		    v->rc_report);
	return 0;
}

/*
 * The report entry a receipt's proof carries (extra[0..len)): canonical,
 * a `report` entry with the members the daemon writes, whose report hashes
 * to its sha256, which is the receipt's report.
 */
static int
check_receipt_entry(struct verify *v, const char *path, const char *extra,
    size_t len)
{
	char err[512], sha[CANON_HASH_BUFSZ], *rep;
	const char *key, *want_sha, *type;
	size_t rlen;
	json_t *e, *val;
	int rc = 0;

	if (canon_check(extra, len, err, sizeof(err)) < 0)
		return fail(v, "%s: proof: extra data: not a canonical entry: %s",
		    path, err);
	if ((e = canon_parse(extra, len, err, sizeof(err))) == NULL)
		return fail(v, "%s: proof: extra data: %s", path, err);
	if (!json_is_object(e)) {
		json_decref(e);
		return fail(v, "%s: proof: extra data: not a JSON object", path);
	}
	if (v->rc_approval) {
		rc = check_approval_entry(v, path, e);
		json_decref(e);
		return rc;
	}
	json_object_foreach(e, key, val) {
		int known = strcmp(key, "report") == 0 ? json_is_object(val) :
		    (strcmp(key, "sha256") == 0 || strcmp(key, "submitter") == 0 ||
		    strcmp(key, "time") == 0 || strcmp(key, "type") == 0) &&
		    json_is_string(val);

		if (!known) {
			rc = fail(v, "%s: proof: extra data: member \"%s\" is "
			    "not one of a report entry", path, key);
			goto done;
		}
	}
	type = json_string_value(json_object_get(e, "type"));
	want_sha = json_string_value(json_object_get(e, "sha256"));
	if (type == NULL || strcmp(type, "report") != 0 || want_sha == NULL ||
	    json_object_get(e, "time") == NULL ||
	    json_object_get(e, "report") == NULL) {
		rc = fail(v, "%s: proof: extra data: not a report entry "
		    "{report, sha256, time, type}", path);
		goto done;
	}
	if ((rep = canon_dump(json_object_get(e, "report"), &rlen, err,
	    sizeof(err))) == NULL) {
		rc = fail(v, "%s: proof: extra data: report: %s", path, err);
		goto done;
	}
	canon_sha256_hex(rep, rlen, sha);
	free(rep);
	if (strcmp(sha, want_sha) != 0)
		rc = fail(v, "%s: proof: extra data: the report hashes to %s, "
		    "not to its sha256 %s", path, sha, want_sha);
	else if (strcmp(want_sha, v->rc_report) != 0)
		rc = fail(v, "%s: proof: extra data: the entry of report %s, "
		    "not of the receipt's report %s", path, want_sha,
		    v->rc_report);
done:
	json_decref(e);
	return rc;
}

/*
 * The receipt's "status" and "entries" as far as they can be checked
 * without the ledger: a status a period can have, and the entries of a
 * report, which are its own entry and those right after it (the replay
 * allows no gap), all covered by the proof's checkpoint. Each bad entry
 * is named by its position and value.
 */
static int
check_receipt_fields(struct verify *v, const char *path, json_t *entries,
    const char *status, json_int_t index)
{
	json_t *e;
	size_t i;

	if (v->rc_approval) {
		if (strcmp(status, "pending") != 0 &&
		    strcmp(status, "approved") != 0 &&
		    strcmp(status, "changed") != 0)
			return fail(v, "%s: status: \"%.64s\" is not a year's "
			    "status after an approval (pending, approved or "
			    "changed)", path, status);
	} else if (strcmp(status, "waiting") != 0 &&
	    strcmp(status, "settled") != 0 && strcmp(status, "disputed") != 0)
		return fail(v, "%s: status: \"%.64s\" is not a period's status "
		    "(waiting, settled or disputed)", path, status);
	if (json_array_size(entries) == 0)
		return fail(v, "%s: entries: empty; a receipt lists the report "
		    "entry %" PRId64 " first", path, (int64_t)index);
	json_array_foreach(entries, i, e) {
		json_int_t n = json_integer_value(e);
		char *txt;

		if (!json_is_integer(e) || n < 0) {
			txt = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
			fail(v, "%s: entries[%zu]: %.64s is not an entry index",
			    path, i, txt != NULL ? txt : "?");
			free(txt);
			return -1;
		}
		if ((uint64_t)n >= v->rc_size)
			return fail(v, "%s: entries[%zu]: %" PRId64 " is beyond "
			    "the proof's checkpoint (size %" PRIu64 "), which "
			    "covers every entry of the report", path, i,
			    (int64_t)n, v->rc_size);
		if ((uint64_t)n != (uint64_t)index + i)
			return fail(v, "%s: entries[%zu]: %" PRId64 ", not %"
			    PRIu64 ": a report's entries are its own (%" PRId64
			    ") and those right after it", path, i, (int64_t)n,
			    (uint64_t)index + i, (int64_t)index);
	}
	return 0;
}

/*
 * With the entries: the receipt's status and entries must be what the
 * replay gives for its report.
 */
static int
check_receipt_replay(struct verify *v, const char *path)
{
	json_t *entries = json_object_get(v->receipt, "entries");
	const char *status = json_string_value(json_object_get(v->receipt,
	    "status"));
	size_t n = json_array_size(entries);
	uint64_t first = v->rc_index, last = v->rc_index + v->rc_count - 1;

	if (!v->rc_replayed)
		return fail(v, "%s: entry %" PRIu64 " is not a report the "
		    "replay accepted", path, v->rc_index);
	if (n > v->rc_count)
		return fail(v, "%s: entries[%zu]: %" PRIu64 " is not an entry "
		    "of the report; the replay gives entries %" PRIu64 "..%"
		    PRIu64, path, v->rc_count, first + v->rc_count, first,
		    last);
	if (n < v->rc_count)
		return fail(v, "%s: entries: ends at %" PRIu64 ", but the "
		    "report caused entries %" PRIu64 "..%" PRIu64 " (%zu) in "
		    "the replay", path, first + n - 1, first, last,
		    v->rc_count);
	if (strcmp(status, v->rc_status) != 0)
		return fail(v, "%s: status: \"%s\", but the replay gives \"%s\""
		    " for the report's period after entry %" PRIu64, path,
		    status, v->rc_status, last);
	return 0;
}

/*
 * --witness on a receipt alone: its checkpoint must carry the quorum. The
 * daemon signs a receipt before any witness has seen its checkpoint, so
 * one without a cosignature is the usual case, and the way out is named.
 */
static int
check_receipt_cosigs(struct verify *v, const char *path, const char *cp,
    size_t cplen)
{
	char what[1100], none[400];

	snprintf(what, sizeof(what), "%s: its checkpoint (size %" PRIu64 ")",
	    path, v->rc_size);
	snprintf(none, sizeof(none), "carries no cosignature by the given "
	    "witnesses: a receipt is signed before the witnesses cosign. "
	    "Check it against the witnessed checkpoint "
	    "(GET /v1/ledger/checkpoint/witnessed): --checkpoint WITNESSED "
	    "--proof CONSISTENCY, the consistency proof from size %" PRIu64
	    " to the witnessed size (GET /v1/ledger/proof/consistency)",
	    v->rc_size);
	return check_cosigs(v, what, cp, cplen, none);
}

/*
 * A receipt (SPEC 7): its tlog-proof's checkpoint must verify, and the
 * entry its proof carries, if any, must be the receipt's report entry and
 * included at its index. Without that entry, the inclusion is checked once
 * the entries give the leaf. With a checkpoint under audit (have_cp), the
 * receipt's must be of the same log and no newer. 0, -1 not verified
 * (v->why), -2 usage or I/O.
 */
static int
load_receipt(struct verify *v, const char *path, int have_cp,
    int have_entries)
{
	json_error_t je;
	json_t *entries;
	const char *report, *status, *proof;
	json_int_t index;
	char err[512];
	unsigned char hashes[NOTE_MAX_PROOF][NOTE_HASH_SIZE];
	unsigned char *extra = NULL;
	const char *cp;
	size_t n, cplen, xlen;
	char *origin;
	int rc;

	if ((v->receipt = json_load_file(path, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path, je.text);
		return -2;
	}
	/* A report's receipt names the report; an approval's, the statement. */
	v->rc_approval = json_object_get(v->receipt, "statement") != NULL;
	if (json_unpack(v->receipt, "{s:s, s:I, s:o, s:s, s:s !}",
	    v->rc_approval ? "statement" : "report",
	    &report, "index", &index, "entries", &entries, "status", &status,
	    "proof", &proof) != 0 || !json_is_array(entries) || index < 0 ||
	    strlen(report) != CANON_HASH_HEXLEN)
		return fail(v, "%s: not a receipt {report or statement, index, "
		    "entries, status, proof}", path);
	snprintf(v->rc_report, sizeof(v->rc_report), "%s", report);
	if (note_proof_parse(proof, strlen(proof), &v->rc_index, &extra, &xlen,
	    hashes, &n, &cp, &cplen, err, sizeof(err)) < 0)
		return fail(v, "%s: proof: %s", path, err);
	if (extra == NULL && !have_entries) {
		fprintf(stderr, "shanhai verify: %s: its proof does not carry "
		    "the report entry (a receipt from an older shanhaid): "
		    "--receipt needs --entries\n", path);
		return -2;
	}
	if (v->rc_index != (uint64_t)index) {
		free(extra);
		return fail(v, "%s: the proof is for entry %" PRIu64 ", the "
		    "receipt for entry %" PRId64, path, v->rc_index,
		    (int64_t)index);
	}
	if (extra != NULL) {
		v->rc_extra = 1;
		rc = check_receipt_entry(v, path, (const char *)extra, xlen);
		merkle_hash_leaf(extra, xlen, v->rc_leaf);
		free(extra);
		if (rc < 0)
			return rc;
	}
	if (note_checkpoint_open(cp, cplen, v->vs, v->nvs, &origin,
	    &v->rc_size, v->rc_root, err, sizeof(err)) < 0)
		return fail(v, "%s: proof: %s", path, err);
	rc = have_cp && strcmp(origin, v->cp.origin) != 0 ? fail(v, "%s: its "
	    "checkpoint is of the log %s, not %s", path, origin,
	    v->cp.origin) : 0;
	free(origin);
	if (rc < 0)
		return rc;
	if (have_cp && v->rc_size > v->cp.size)
		return fail(v, "%s: its checkpoint (size %" PRIu64 ") is newer "
		    "than the one under audit (size %" PRIu64 "); audit a newer "
		    "one%s", path, v->rc_size, v->cp.size, v->nws > 0 ?
		    " (the witnessed checkpoint follows the ledger within a "
		    "few witness intervals)" : "");
	if (have_cp && v->rc_size == v->cp.size &&
	    memcmp(v->rc_root, v->cp.root, MERKLE_HASH_SIZE) != 0)
		return fail(v, "%s: its checkpoint has another root than the "
		    "one under audit for the same size %" PRIu64, path,
		    v->rc_size);
	v->rc_linked = have_cp && v->rc_size == v->cp.size;
	/* Alone, the receipt's own checkpoint is the one witnessed. */
	if (!have_cp && v->nws > 0 &&
	    (rc = check_receipt_cosigs(v, path, cp, cplen)) < 0)
		return rc;
	if ((rc = check_receipt_fields(v, path, entries, status, index)) < 0)
		return rc;
	return v->rc_extra ? finish_receipt(v, path) : 0;
}

static const char *
type_of(json_t *e)
{
	const char *t = json_string_value(json_object_get(e, "type"));

	return t != NULL ? t : "";
}

/* The first of the pass's own failures (they come in index order). */
struct own {
	uint64_t	at;
	char		why[1024];
};

static void __attribute__((format(printf, 3, 4)))
own_fail(struct own *o, uint64_t at, const char *fmt, ...)
{
	va_list ap;

	if (o->at != UINT64_MAX)
		return;
	o->at = at;
	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
}

/*
 * A `key` entry (key rotation, doc/DESIGN.md): exactly {key, time, type},
 * announcing a verifier key named as the checkpoint's origin; noted for
 * the summary, since auditors add that key to their --vkey list.
 */
static void
check_key_entry(struct verify *v, struct own *own, uint64_t i,
    const char *line, size_t len)
{
	json_t *e = canon_parse(line, len, NULL, 0);
	const char *key = json_string_value(json_object_get(e, "key"));
	char err[512];

	/* Anything not JSON is the replay's to report. */
	if (e == NULL || strcmp(type_of(e), "key") != 0) {
		json_decref(e);
		return;
	}
	if (note_key_entry_check(key, json_string_value(json_object_get(e,
	    "time")), json_object_size(e), v->cp.origin, err,
	    sizeof(err)) < 0)
		own_fail(own, i, "entry %" PRIu64 ": %s", i, err);
	else if (v->nkeys < MAX_ANNOUNCED &&
	    (v->keys[v->nkeys] = strdup(key)) != NULL)
		v->key_at[v->nkeys++] = i;
	json_decref(e);
}

/*
 * One pass over the entries: leaf hashes into a running root (and the roots
 * at the other checkpoints' sizes), the receipt's leaf, and every entry
 * handed to the replay (module audit), which checks the canonical form and
 * the settlements. The failure at the smallest index is the one reported.
 */
static int
check_entries(struct verify *v, const char *path)
{
	struct merkle_acc *acc = merkle_acc_new();
	struct audit *a = audit_new(0);
	unsigned char root[MERKLE_HASH_SIZE], leaf[MERKLE_HASH_SIZE];
	struct own own = { UINT64_MAX, "" };
	char *line = NULL, err[1024];
	uint64_t i = 0, at;
	size_t cap = 0;
	ssize_t len;
	FILE *f = NULL;
	int rc = 0, replayed;

	if (acc == NULL || a == NULL || (f = strcmp(path, "-") == 0 ? stdin :
	    fopen(path, "r")) == NULL) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path,
		    acc && a ? strerror(errno) : "out of memory");
		merkle_acc_free(acc);
		audit_free(a);
		return -2;
	}
	if (v->receipt != NULL)
		audit_watch(a, v->rc_index);
	while (i < v->cp.size && (len = getline(&line, &cap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			len--;
		merkle_hash_leaf(line, (size_t)len, leaf);
		merkle_acc_push(acc, leaf);
		if (v->have_old && i + 1 == v->old.size) {
			merkle_acc_root(acc, root);
			if (memcmp(root, v->old.root, MERKLE_HASH_SIZE) != 0)
				own_fail(&own, i, "entries 0..%" PRIu64 " do not "
				    "hash to the older checkpoint's root", i);
		}
		if (v->receipt != NULL && i == v->rc_index) {
			json_t *e = canon_parse(line, (size_t)len, err,
			    sizeof(err));
			/* A report entry's hash, or the statement approved. */
			const char *sha = json_string_value(json_object_get(e,
			    v->rc_approval ? "statement" : "sha256"));
			if (v->rc_extra && memcmp(v->rc_leaf, leaf,
			    MERKLE_HASH_SIZE) != 0)
				own_fail(&own, i, "entry %" PRIu64 ": not the "
				    "entry that the receipt's proof carries", i);
			memcpy(v->rc_leaf, leaf, MERKLE_HASH_SIZE);
			v->rc_seen = 1;
			if (strcmp(type_of(e), v->rc_approval ? "approval" :
			    "report") != 0 || sha == NULL ||
			    strcmp(sha, v->rc_report) != 0)
				own_fail(&own, i, "entry %" PRIu64 ": not the "
				    "%s %s that the receipt names", i,
				    v->rc_approval ? "approval of statement" :
				    "report", v->rc_report);
			json_decref(e);
		}
		if (v->receipt != NULL && i + 1 == v->rc_size) {
			merkle_acc_root(acc, root);
			if (memcmp(root, v->rc_root, MERKLE_HASH_SIZE) != 0)
				own_fail(&own, i, "entries 0..%" PRIu64 " do not "
				    "hash to the root of the receipt's "
				    "checkpoint", i);
		}
		/* Canonical, a key entry starts so ("key" sorts first). */
		if (len > 8 && memcmp(line, "{\"key\":\"", 8) == 0)
			check_key_entry(v, &own, i, line, (size_t)len);
		if (audit_entry(a, i, line, (size_t)len) < 0)
			break;
		i++;
	}
	/* Lines the checkpoint does not cover: counted, not checked. */
	while (i == v->cp.size && !ferror(f) && getline(&line, &cap, f) != -1)
		v->uncovered++;
	if (ferror(f)) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path,
		    strerror(errno));
		rc = -2;
	}
	replayed = audit_finish(a, i, &at, err, sizeof(err)) == 0;
	if (replayed)
		v->rc_replayed = audit_watched(a, &v->rc_status,
		    &v->rc_count) == 0;
	if (!replayed && strcmp(err, "out of memory") == 0) {
		fprintf(stderr, "shanhai verify: %s\n", err);
		rc = -2;
	}
	audit_counts(a, &v->nrules, &v->nreports, &v->nderived, &v->nskipped);
	audit_free(a);
	if (rc == 0) {
		/* A short file: its end is the news, not what is missing there. */
		if (!replayed && i < v->cp.size && at >= i)
			replayed = 1;
		if (!replayed && at < own.at)
			rc = fail(v, "%s", err);
		else if (own.at != UINT64_MAX)
			rc = fail(v, "%s", own.why);
		else if (i < v->cp.size)
			rc = fail(v, "%s: %" PRIu64 " %s, the checkpoint "
			    "covers %" PRIu64, path, i, i == 1 ? "entry" :
			    "entries", v->cp.size);
		/* The root tells whether these are the entries signed. */
		merkle_acc_root(acc, root);
		if (i == v->cp.size &&
		    memcmp(root, v->cp.root, MERKLE_HASH_SIZE) != 0) {
			if (rc == 0)
				rc = fail(v, "entries 0..%" PRIu64 " do not hash "
				    "to the checkpoint's root", i - 1);
			else
				snprintf(v->also, sizeof(v->also), "and entries "
				    "0..%" PRIu64 " do not hash to the "
				    "checkpoint's root", i - 1);
		}
	}
	free(line);
	if (f != stdin)
		fclose(f);
	merkle_acc_free(acc);
	return rc;
}

/* "N lines after entry S-1 ...": what --entries held beyond the checkpoint. */
static const char *
uncovered_msg(const struct verify *v, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 " more line%s after the checkpoint's %"
	    PRIu64 " %s: not covered by it, not checked", v->uncovered,
	    v->uncovered == 1 ? "" : "s", v->cp.size, v->cp.size == 1 ?
	    "entry" : "entries");
	return buf;
}

static void
verify_free(struct verify *v)
{
	for (size_t i = 0; i < v->nvs; i++)
		note_verifier_free(v->vs[i]);
	free(v->cp.origin);
	free(v->old.origin);
	json_decref(v->receipt);
	for (size_t i = 0; i < v->nkeys; i++)
		free(v->keys[i]);
	for (size_t i = 0; i < v->nws; i++)
		note_verifier_free(v->ws[i]);
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vkey", required_argument, NULL, 'k' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "entries", required_argument, NULL, 'e' },
		{ "receipt", required_argument, NULL, 'r' },
		{ "from", required_argument, NULL, 'f' },
		{ "proof", required_argument, NULL, 'p' },
		{ "witness", required_argument, NULL, 'w' },
		{ "quorum", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vkeys[MAX_VKEYS], *cpath = NULL, *epath = NULL;
	const char *rpath = NULL, *fpath = NULL, *ppath = NULL;
	const char *wkeys[MAX_VKEYS], *qarg = NULL;
	struct verify v;
	char msg[256];
	size_t nvk = 0, nwk = 0, quorum = 0;
	int ch, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (nvk == MAX_VKEYS)
				return usage();
			vkeys[nvk++] = optarg;
			break;
		case 'c': cpath = optarg; break;
		case 'e': epath = optarg; break;
		case 'r': rpath = optarg; break;
		case 'f': fpath = optarg; break;
		case 'p': ppath = optarg; break;
		case 'w':
			if (nwk == MAX_VKEYS)
				return usage();
			wkeys[nwk++] = optarg;
			break;
		case 'q': qarg = optarg; break;
		default: return usage();
		}
	}
	/*
	 * A receipt alone is checked against its own checkpoint; --proof
	 * alone, with a receipt, proves it consistent with --checkpoint.
	 */
	if (optind != argc || nvk == 0 || (cpath == NULL &&
	    (rpath == NULL || epath != NULL || fpath != NULL)) ||
	    (fpath != NULL && ppath == NULL) || (ppath != NULL &&
	    fpath == NULL && (rpath == NULL || cpath == NULL)))
		return usage();
	if (qarg != NULL) {
		char *end;
		errno = 0;
		unsigned long long q = strtoull(qarg, &end, 10);
		if (nwk == 0 || *end != '\0' || qarg[0] < '1' || qarg[0] > '9' ||
		    errno != 0 || q > MAX_VKEYS) {
			fprintf(stderr, "shanhai verify: --quorum: '%s' is not "
			    "a count from 1 to %d, given with --witness\n", qarg,
			    MAX_VKEYS);
			return CMD_USAGE;
		}
		quorum = (size_t)q;
	}
	memset(&v, 0, sizeof(v));
	for (size_t i = 0; i < nvk; i++)
		if (load_vkeys(&v, vkeys[i], 0) < 0) {
			verify_free(&v);
			return CMD_USAGE;
		}
	for (size_t i = 0; i < nwk; i++)
		if (load_vkeys(&v, wkeys[i], 1) < 0) {
			verify_free(&v);
			return CMD_USAGE;
		}
	if (nwk > 0 && qarg == NULL)
		quorum = v.nws;		/* default: every witness given */
	v.quorum = quorum;
	if (quorum > v.nws) {
		fprintf(stderr, "shanhai verify: --quorum %zu: only %zu witness "
		    "keys given\n", quorum, v.nws);
		verify_free(&v);
		return CMD_USAGE;
	}
	if (cpath != NULL)
		rc = load_checkpoint(&v, cpath, &v.cp);
	if (rc == 0 && nwk > 0 && cpath != NULL)
		rc = check_cosigs_file(&v, cpath);
	if (rc == 0 && fpath != NULL) {
		if ((rc = load_checkpoint(&v, fpath, &v.old)) == 0) {
			v.have_old = 1;
			rc = check_consistency(&v, ppath);
		}
	}
	if (rc == 0 && rpath != NULL)
		rc = load_receipt(&v, rpath, cpath != NULL, epath != NULL);
	if (rc == 0 && rpath != NULL && ppath != NULL && fpath == NULL)
		rc = link_receipt(&v, ppath);
	if (rc == 0 && epath != NULL)
		rc = check_entries(&v, epath);
	/* The entries link the receipt's checkpoint: both roots are checked. */
	if (rc == 0 && rpath != NULL && cpath != NULL && nwk > 0 &&
	    !v.rc_linked && epath == NULL)
		rc = fail(&v, "%s: its checkpoint (size %" PRIu64 ") is not the "
		    "witnessed one (size %" PRIu64 ") and nothing shows that "
		    "they are of one ledger: give --proof with the consistency "
		    "proof from %" PRIu64 " to %" PRIu64 " "
		    "(GET /v1/ledger/proof/consistency), or --entries", rpath,
		    v.rc_size, v.cp.size, v.rc_size, v.cp.size);
	if (rc == 0 && rpath != NULL && !v.rc_extra)
		rc = finish_receipt(&v, rpath);
	if (rc == 0 && rpath != NULL && epath != NULL)
		rc = check_receipt_replay(&v, rpath);
	if (rc == -2) {
		verify_free(&v);
		return CMD_USAGE;
	}
	if (rc < 0) {
		fprintf(stderr, "shanhai verify: FAILED: %s\n", v.why);
		if (v.also[0] != '\0')
			fprintf(stderr, "shanhai verify: %s\n", v.also);
		if (v.uncovered > 0)
			fprintf(stderr, "shanhai verify: %s: %s\n", epath,
			    uncovered_msg(&v, msg, sizeof(msg)));
		verify_free(&v);
		return CMD_FAILED;
	}
	if (cpath != NULL)
		printf("checkpoint %s size %" PRIu64 ": signature verified\n",
		    v.cp.origin, v.cp.size);
	if (nwk > 0) {
		printf("%scosigned by %zu witness(es), quorum %zu:", cpath ==
		    NULL ? "the receipt's checkpoint: " : "", v.ncosig,
		    quorum);
		for (size_t i = 0; i < v.nws; i++)
			if (v.wvalid[i])
				printf(" %s (time %" PRIu64 ")",
				    note_verifier_name(v.ws[i]), v.wtime[i]);
		printf("\n");
	}
	if (fpath != NULL)
		printf("consistent with the checkpoint of size %" PRIu64 "\n",
		    v.old.size);
	if (epath != NULL && v.cp.size == 0)
		printf("no entries: the empty ledger's root matches\n");
	else if (epath != NULL)
		printf("entries 0..%" PRIu64 ": canonical, root matches; "
		    "replay of %" PRIu64 " rules and %" PRIu64 " reports gives "
		    "the %" PRIu64 " settlements, adjustments, disputes and "
		    "approvals exactly (%" PRIu64 " other %s)\n", v.cp.size - 1,
		    v.nrules, v.nreports, v.nderived, v.nskipped,
		    v.nskipped == 1 ? "entry" : "entries");
	if (v.uncovered > 0)
		printf("%s: %s\n", epath, uncovered_msg(&v, msg, sizeof(msg)));
	for (size_t i = 0; i < v.nkeys; i++)
		printf("entry %" PRIu64 ": a key entry announces the key %s\n",
		    v.key_at[i], v.keys[i]);
	if (rpath != NULL)
		printf("receipt: report %s is entry %" PRIu64 ", included in "
		    "the signed checkpoint of size %" PRIu64 "\n", v.rc_report,
		    v.rc_index, v.rc_size);
	if (rpath != NULL && ppath != NULL && fpath == NULL)
		printf("receipt: its checkpoint (size %" PRIu64 ") is "
		    "consistent with the checkpoint of size %" PRIu64 "\n",
		    v.rc_size, v.cp.size);
	if (rpath != NULL && epath != NULL)
		printf("receipt: status \"%s\" and entries %" PRIu64 "..%"
		    PRIu64 " are what the replay gives\n", v.rc_status,
		    v.rc_index, v.rc_index + v.rc_count - 1);
	else if (rpath != NULL)
		printf("receipt: \"status\" and \"entries\" not checked: that "
		    "needs the ledger (--checkpoint and --entries)\n");
	verify_free(&v);
	return CMD_OK;
}
