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
 *   with --receipt, the receipt's tlog-proof for its report entry;
 *   with --from and --proof, a consistency proof from an older checkpoint.
 *
 * Exit 0 when everything asked for verified, 1 when something did not (the
 * message names the entry and why), 2 for usage and I/O errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/cmd.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

#define MAX_VKEYS	16
#define MAX_NOTE	(1 << 20)

struct checkpoint {
	char		*origin;
	uint64_t	 size;
	unsigned char	 root[MERKLE_HASH_SIZE];
};

struct verify {
	struct note_verifier	*vs[MAX_VKEYS];
	size_t			 nvs;
	struct checkpoint	 cp;		/* the checkpoint under audit */
	struct checkpoint	 old;		/* --from */
	int			 have_old;
	/* --receipt */
	json_t			*receipt;
	uint64_t		 rc_index, rc_size;
	unsigned char		 rc_root[MERKLE_HASH_SIZE];
	unsigned char		 rc_leaf[MERKLE_HASH_SIZE];
	char			 rc_report[CANON_HASH_BUFSZ];
	int			 rc_seen;
	/* replay */
	struct settle		*engine;
	struct settle_result	*pending;	/* entries still expected */
	size_t			 next;		/* next expected in pending */
	uint64_t		 pending_from;	/* index of its report entry */
	int			 replay_failed;
	uint64_t		 nrules, nreports, nderived, nskipped;
	char			 why[1024];	/* first failure */
	char			*scratch;	/* fast path's rebuilt entry */
	size_t			 scratchcap;
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
	    "[--from OLDCHECKPOINT --proof FILE]\n");
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

/* Every non-empty line of the file is one verifier key. */
static int
load_vkeys(struct verify *v, const char *path)
{
	size_t len;
	char *buf = slurp(path, 65536, &len), *line, *save = NULL;
	char err[512];

	if (buf == NULL)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (v->nvs == MAX_VKEYS) {
			fprintf(stderr, "shanhai verify: more than %d verifier "
			    "keys\n", MAX_VKEYS);
			free(buf);
			return -1;
		}
		if (note_verifier_parse(line, &v->vs[v->nvs], err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "shanhai verify: %s: %s\n", path, err);
			free(buf);
			return -1;
		}
		v->nvs++;
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
 * A receipt (SPEC 7): its tlog-proof's checkpoint must verify; the
 * inclusion itself is checked once the entries give the leaf.
 */
static int
load_receipt(struct verify *v, const char *path)
{
	json_error_t je;
	json_t *entries;
	const char *report, *status, *proof;
	json_int_t index;
	char err[512];
	unsigned char hashes[NOTE_MAX_PROOF][NOTE_HASH_SIZE];
	const char *cp;
	size_t n, cplen;
	char *origin;

	if ((v->receipt = json_load_file(path, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path, je.text);
		return -2;
	}
	if (json_unpack(v->receipt, "{s:s, s:I, s:o, s:s, s:s !}", "report",
	    &report, "index", &index, "entries", &entries, "status", &status,
	    "proof", &proof) != 0 || !json_is_array(entries) || index < 0 ||
	    strlen(report) != CANON_HASH_HEXLEN)
		return fail(v, "%s: not a receipt {report, index, entries, "
		    "status, proof}", path);
	snprintf(v->rc_report, sizeof(v->rc_report), "%s", report);
	if (note_proof_parse(proof, strlen(proof), &v->rc_index, hashes, &n,
	    &cp, &cplen, err, sizeof(err)) < 0)
		return fail(v, "%s: proof: %s", path, err);
	if (v->rc_index != (uint64_t)index)
		return fail(v, "%s: the proof is for entry %" PRIu64 ", the "
		    "receipt for entry %" PRId64, path, v->rc_index,
		    (int64_t)index);
	if (note_checkpoint_open(cp, cplen, v->vs, v->nvs, &origin,
	    &v->rc_size, v->rc_root, err, sizeof(err)) < 0)
		return fail(v, "%s: proof: %s", path, err);
	free(origin);
	if (v->rc_size > v->cp.size)
		return fail(v, "%s: its checkpoint (size %" PRIu64 ") is newer "
		    "than the one under audit (size %" PRIu64 "); audit a newer "
		    "one", path, v->rc_size, v->cp.size);
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    (uint64_t)json_integer_value(e) >= v->rc_size ||
		    (i == 0 && json_integer_value(e) != index))
			return fail(v, "%s: entries: %zu is not an entry the "
			    "proof's checkpoint (size %" PRIu64 ") covers, "
			    "starting at the report", path, i, v->rc_size);
	}
	return 0;
}

static int
finish_receipt(struct verify *v, const char *path)
{
	char err[512];
	const char *proof = json_string_value(json_object_get(v->receipt,
	    "proof"));

	if (!v->rc_seen)
		return fail(v, "%s: entry %" PRIu64 " is not in the entries",
		    path, v->rc_index);
	if (note_proof_verify(proof, strlen(proof), v->rc_leaf, v->vs, v->nvs,
	    NULL, NULL, NULL, err, sizeof(err)) < 0)
		return fail(v, "%s: %s", path, err);
	return 0;
}

/* Replay. */

static const char *
type_of(json_t *e)
{
	const char *t = json_string_value(json_object_get(e, "type"));

	return t != NULL ? t : "";
}

/*
 * Is the ledger's entry exactly what the engine gave, but for "time" (and
 * "submitter" on a report)? If not, says which field differs.
 */
static int
same_entry(struct verify *v, uint64_t index, json_t *got, json_t *want)
{
	const char *key;
	json_t *val;
	int report = strcmp(type_of(want), "report") == 0;

	json_object_foreach(want, key, val) {
		json_t *g = json_object_get(got, key);
		if (g != NULL && json_equal(g, val))
			continue;
		char err[64], *gs = g ? canon_dump(g, NULL, err, sizeof(err)) :
		    NULL, *ws = canon_dump(val, NULL, err, sizeof(err));
		fail(v, "entry %" PRIu64 ": %s: field \"%s\" is %.200s in the "
		    "ledger, the replay gives %.200s", index, type_of(want),
		    key, gs ? gs : "missing", ws ? ws : "?");
		free(gs);
		free(ws);
		return -1;
	}
	json_object_foreach(got, key, val) {
		if (json_object_get(want, key) != NULL ||
		    strcmp(key, "time") == 0 ||
		    (report && strcmp(key, "submitter") == 0))
			continue;
		return fail(v, "entry %" PRIu64 ": %s: field \"%s\" is not one "
		    "the replay gives", index, type_of(want), key);
	}
	return 0;
}

/* Entries the engine gave that the ledger does not hold before index. */
static int
check_nothing_pending(struct verify *v, uint64_t index)
{
	if (v->pending == NULL)
		return 0;
	if (v->next < settle_result_count(v->pending)) {
		json_t *w = settle_result_get0_json(v->pending, v->next);
		const char *a = json_string_value(json_object_get(w,
		    "agreement")), *p = json_string_value(json_object_get(w,
		    "period"));
		return fail(v, "entry %" PRIu64 ": missing: the report at "
		    "entry %" PRIu64 " gives a %s for %s %s here", index,
		    v->pending_from, type_of(w), a ? a : "?", p ? p : "?");
	}
	settle_result_free(v->pending);
	v->pending = NULL;
	return 0;
}

static int
replay_rules(struct verify *v, uint64_t index, json_t *e)
{
	const char *agreement, *sha, *text;
	char name[128], err[1024];
	struct rules *r;
	json_t *re;

	if (json_unpack(e, "{s:s, s:s, s:s}", "agreement", &agreement,
	    "sha256", &sha, "text", &text) != 0)
		return fail(v, "entry %" PRIu64 ": rules: needs agreement, "
		    "sha256 and text", index);
	snprintf(name, sizeof(name), "%s.conf", agreement);
	if ((r = rules_parse(text, name, err, sizeof(err))) == NULL)
		return fail(v, "entry %" PRIu64 ": rules do not load: %s",
		    index, err);
	re = rules_entry(r);
	int rc = same_entry(v, index, e, re);
	json_decref(re);
	if (rc < 0) {
		rules_free(r);
		return -1;
	}
	if (settle_install(v->engine, r, err, sizeof(err)) < 0) {
		rules_free(r);
		return fail(v, "entry %" PRIu64 ": rules for %s refused: %s",
		    index, agreement, err);
	}
	v->nrules++;
	return 0;
}

/* Feeds the report entry at index to the engine; its entries are pending. */
static int
submit(struct verify *v, uint64_t index, const char *buf, size_t len)
{
	char err[1024];
	int code;

	code = settle_submit(v->engine, buf, len, NULL, 0, NULL, NULL,
	    &v->pending, err, sizeof(err));
	if (code < 0)
		return fail(v, "entry %" PRIu64 ": the engine refuses this "
		    "report: %s", index, err);
	if (code == SETTLE_DUPLICATE || settle_result_count(v->pending) == 0)
		return fail(v, "entry %" PRIu64 ": a resubmission of an "
		    "earlier report, which causes no entry", index);
	v->pending_from = index;
	v->next = 1;
	v->nreports++;
	return 0;
}

static int
replay_report(struct verify *v, uint64_t index, json_t *e)
{
	json_t *report = json_object_get(e, "report");
	char err[1024], *buf;
	size_t len;

	if (!json_is_object(report))
		return fail(v, "entry %" PRIu64 ": report: no report object",
		    index);
	if ((buf = canon_dump(report, &len, err, sizeof(err))) == NULL)
		return fail(v, "entry %" PRIu64 ": report: %s", index, err);
	int rc = submit(v, index, buf, len);
	free(buf);
	if (rc < 0)
		return -1;
	return same_entry(v, index, e, settle_result_get0_json(v->pending, 0));
}

static int
replay(struct verify *v, uint64_t index, json_t *e)
{
	const char *type = type_of(e);

	if (strcmp(type, "settlement") == 0 ||
	    strcmp(type, "adjustment") == 0 || strcmp(type, "dispute") == 0) {
		if (v->pending == NULL ||
		    v->next >= settle_result_count(v->pending))
			return fail(v, "entry %" PRIu64 ": extra: a %s that no "
			    "report caused", index, type);
		v->nderived++;
		return same_entry(v, index, e,
		    settle_result_get0_json(v->pending, v->next++));
	}
	if (check_nothing_pending(v, index) < 0)
		return -1;
	if (strcmp(type, "rules") == 0)
		return replay_rules(v, index, e);
	if (strcmp(type, "report") == 0)
		return replay_report(v, index, e);
	v->nskipped++;	/* e.g. "key": hashed, nothing to replay */
	return 0;
}

/*
 * The fast path. Entries are canonical JSON and the engine gives canonical
 * bytes, so a derived or report entry is checked by splitting its top-level
 * members, dropping "time" (and "submitter" on a report), and comparing the
 * rest byte for byte with the engine's entry. Equal bytes prove the entry
 * canonical too, provided the dropped members are plain strings and the
 * keys are in order, which is checked. Anything else takes the slow path
 * (full parse, canonical check, field-by-field comparison), which also
 * writes the messages.
 */
struct member {
	const char	*key, *val;
	size_t		 klen, vlen;
};

#define MAX_MEMBERS	32

/* Skips a JSON string starting at s[*i] == '"'. */
static int
skip_string(const char *s, size_t len, size_t *i)
{
	for (size_t j = *i + 1; j < len; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == '"') {
			*i = j + 1;
			return 0;
		}
	}
	return -1;
}

/* Skips one value of a whitespace-free JSON text. */
static int
skip_value(const char *s, size_t len, size_t *i)
{
	size_t depth = 0, j = *i;

	if (j >= len)
		return -1;
	if (s[j] == '"')
		return skip_string(s, len, i);
	while (j < len) {
		char c = s[j];
		if (c == '"') {
			if (skip_string(s, len, &j) < 0)
				return -1;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (depth == 0)
				break;
			if (--depth == 0) {
				j++;
				break;
			}
		} else if (c == ',' && depth == 0)
			break;
		j++;
	}
	if (depth != 0 || j == *i)
		return -1;
	*i = j;
	return 0;
}

/* The top-level members of an object, as raw spans; -1 if it is not one. */
static int
split_members(const char *s, size_t len, struct member *m, size_t *n)
{
	size_t i = 1;

	*n = 0;
	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return -1;
	if (len == 2)
		return 0;
	for (;;) {
		size_t k;
		if (*n == MAX_MEMBERS || s[i] != '"')
			return -1;
		k = i;
		if (skip_string(s, len, &i) < 0 || i >= len || s[i] != ':')
			return -1;
		m[*n].key = s + k + 1;
		m[*n].klen = i - k - 2;
		k = ++i;
		if (skip_value(s, len, &i) < 0)
			return -1;
		m[*n].val = s + k;
		m[*n].vlen = i - k;
		(*n)++;
		if (i == len - 1 && s[i] == '}')
			return 0;
		if (s[i] != ',')
			return -1;
		i++;
	}
}

static int
key_is(const struct member *m, const char *k)
{
	return m->klen == strlen(k) && memcmp(m->key, k, m->klen) == 0;
}

/* Byte order of raw keys: UTF-16 order for the ASCII keys entries have. */
static int
key_cmp(const struct member *a, const struct member *b)
{
	int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);

	return c != 0 ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/* A string value that needs no escape: printable ASCII, no '"' or '\\'. */
static int
plain_string(const struct member *m)
{
	if (m->vlen < 2 || m->val[0] != '"' || m->val[m->vlen - 1] != '"')
		return 0;
	for (size_t i = 1; i + 1 < m->vlen; i++)
		if (m->val[i] < 0x20 || m->val[i] > 0x7e || m->val[i] == '"' ||
		    m->val[i] == '\\')
			return 0;
	return 1;
}

/* The raw value of member key, or NULL. */
static const struct member *
member(const struct member *m, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (key_is(&m[i], key))
			return &m[i];
	return NULL;
}

/*
 * Does the entry, without "time" (and "submitter" when report), equal the
 * canonical bytes want? Rebuilds the object from its spans in buf.
 */
static int
same_bytes(const struct member *m, size_t n, int report, const char *want,
    size_t wlen, char **buf, size_t *cap)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && key_cmp(&m[i - 1], &m[i]) >= 0)
			return 0;	/* keys out of order */
		if (key_is(&m[i], "time") ||
		    (report && key_is(&m[i], "submitter"))) {
			if (!plain_string(&m[i]))
				return 0;
			continue;
		}
		size_t need = len + m[i].klen + m[i].vlen + 5;
		if (need > *cap) {
			char *nb = realloc(*buf, need * 2);
			if (nb == NULL)
				return 0;
			*buf = nb;
			*cap = need * 2;
		}
		(*buf)[len] = len == 0 ? '{' : ',';
		len++;
		(*buf)[len++] = '"';
		memcpy(*buf + len, m[i].key, m[i].klen);
		len += m[i].klen;
		(*buf)[len++] = '"';
		(*buf)[len++] = ':';
		memcpy(*buf + len, m[i].val, m[i].vlen);
		len += m[i].vlen;
	}
	if (len == 0)
		return wlen == 2 && memcmp(want, "{}", 2) == 0;
	return len + 1 == wlen && memcmp(*buf, want, len) == 0 &&
	    want[len] == '}';
}

/* The entry parsed, after checking it is canonical; NULL after fail(). */
static json_t *
parse_canonical(struct verify *v, uint64_t i, const char *line, size_t len)
{
	char err[512], *c;
	size_t clen;
	json_t *e;

	if ((e = canon_parse(line, len, err, sizeof(err))) == NULL ||
	    !json_is_object(e)) {
		json_decref(e);
		fail(v, "entry %" PRIu64 ": not a JSON object%s%s", i,
		    e ? "" : ": ", e ? "" : err);
		return NULL;
	}
	if ((c = canon_dump(e, &clen, err, sizeof(err))) == NULL ||
	    clen != len || memcmp(c, line, clen) != 0) {
		size_t at = 0;
		while (c != NULL && at < clen && at < len && c[at] == line[at])
			at++;
		fail(v, "entry %" PRIu64 ": not canonical JSON (from byte %zu)"
		    "%s%s", i, at, c ? "" : ": ", c ? "" : err);
		free(c);
		json_decref(e);
		return NULL;
	}
	free(c);
	return e;
}

/* The slow path: parse, check canonical, replay on the JSON value. */
static int
slow_entry(struct verify *v, uint64_t i, const char *line, size_t len)
{
	json_t *e = parse_canonical(v, i, line, len);
	int rc;

	if (e == NULL)
		return -1;
	rc = replay(v, i, e);
	json_decref(e);
	return rc;
}

/* The bytes differ from the engine's entry k: say how (or accept). */
static int
explain(struct verify *v, uint64_t i, const char *line, size_t len, size_t k)
{
	json_t *e = parse_canonical(v, i, line, len);
	int rc;

	if (e == NULL)
		return -1;
	rc = same_entry(v, i, e, settle_result_get0_json(v->pending, k));
	json_decref(e);
	return rc;
}

static int
fast_entry(struct verify *v, uint64_t i, const char *line, size_t len)
{
	struct member m[MAX_MEMBERS];
	const struct member *t, *r;
	const char *want;
	size_t n, wlen;

	if (split_members(line, len, m, &n) < 0 ||
	    (t = member(m, n, "type")) == NULL || !plain_string(t))
		return slow_entry(v, i, line, len);
	if ((t->vlen == 12 && memcmp(t->val, "\"settlement\"", 12) == 0) ||
	    (t->vlen == 12 && memcmp(t->val, "\"adjustment\"", 12) == 0) ||
	    (t->vlen == 9 && memcmp(t->val, "\"dispute\"", 9) == 0)) {
		if (v->pending == NULL ||
		    v->next >= settle_result_count(v->pending))
			return slow_entry(v, i, line, len);	/* "extra" */
		want = settle_result_entry(v->pending, v->next, &wlen);
		if (!same_bytes(m, n, 0, want, wlen, &v->scratch,
		    &v->scratchcap) && explain(v, i, line, len, v->next) < 0)
			return -1;
		v->next++;
		v->nderived++;
		return 0;
	}
	if (t->vlen != 8 || memcmp(t->val, "\"report\"", 8) != 0 ||
	    (r = member(m, n, "report")) == NULL)
		return slow_entry(v, i, line, len);
	if (check_nothing_pending(v, i) < 0)
		return -1;
	if (submit(v, i, r->val, r->vlen) < 0)
		return -1;
	want = settle_result_entry(v->pending, 0, &wlen);
	if (!same_bytes(m, n, 1, want, wlen, &v->scratch, &v->scratchcap))
		return explain(v, i, line, len, 0);
	return 0;
}

/*
 * One pass over the entries: canonical form, leaf hashes into a running
 * root (and the roots at the other checkpoints' sizes), the replay.
 */
static int
check_entries(struct verify *v, const char *path)
{
	struct merkle_acc *acc = merkle_acc_new();
	unsigned char root[MERKLE_HASH_SIZE], leaf[MERKLE_HASH_SIZE];
	char *line = NULL, err[512];
	size_t cap = 0;
	ssize_t len;
	uint64_t i = 0;
	FILE *f;
	int rc = 0;

	if (acc == NULL || (f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path,
		    strerror(errno));
		merkle_acc_free(acc);
		return -2;
	}
	while (i < v->cp.size && (len = getline(&line, &cap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			len--;
		merkle_hash_leaf(line, (size_t)len, leaf);
		merkle_acc_push(acc, leaf);
		if (v->have_old && i + 1 == v->old.size) {
			merkle_acc_root(acc, root);
			if (memcmp(root, v->old.root, MERKLE_HASH_SIZE) != 0)
				rc = fail(v, "entries 0..%" PRIu64 " do not hash "
				    "to the older checkpoint's root", i);
		}
		if (v->receipt != NULL && i == v->rc_index) {
			json_t *e = canon_parse(line, (size_t)len, err,
			    sizeof(err));
			const char *sha = json_string_value(json_object_get(e,
			    "sha256"));
			memcpy(v->rc_leaf, leaf, MERKLE_HASH_SIZE);
			v->rc_seen = 1;
			if (strcmp(type_of(e), "report") != 0 || sha == NULL ||
			    strcmp(sha, v->rc_report) != 0)
				rc = fail(v, "entry %" PRIu64 ": not the report "
				    "%s that the receipt names", i,
				    v->rc_report);
			json_decref(e);
		}
		if (v->receipt != NULL && i + 1 == v->rc_size) {
			merkle_acc_root(acc, root);
			if (memcmp(root, v->rc_root, MERKLE_HASH_SIZE) != 0)
				rc = fail(v, "entries 0..%" PRIu64 " do not hash "
				    "to the root of the receipt's checkpoint", i);
		}
		/* After a failure, only the hashing goes on. */
		if (!v->replay_failed && fast_entry(v, i, line, (size_t)len) < 0) {
			v->replay_failed = 1;
			rc = -1;
		}
		i++;
	}
	if (ferror(f)) {
		fprintf(stderr, "shanhai verify: %s: %s\n", path,
		    strerror(errno));
		rc = -2;
	} else if (rc == 0 && i < v->cp.size)
		rc = fail(v, "%s: %" PRIu64 " entries, the checkpoint covers %"
		    PRIu64, path, i, v->cp.size);
	if (rc == 0 && !v->replay_failed)
		rc = check_nothing_pending(v, i);
	if (rc >= 0 || v->replay_failed) {
		/* The root tells whether these are the entries signed. */
		merkle_acc_root(acc, root);
		if (i == v->cp.size &&
		    memcmp(root, v->cp.root, MERKLE_HASH_SIZE) != 0) {
			if (rc == 0)
				rc = fail(v, "entries 0..%" PRIu64 " do not hash "
				    "to the checkpoint's root", i - 1);
			else
				fprintf(stderr, "shanhai verify: and entries "
				    "0..%" PRIu64 " do not hash to the "
				    "checkpoint's root\n", i - 1);
		}
	}
	free(line);
	fclose(f);
	merkle_acc_free(acc);
	return rc;
}

static void
verify_free(struct verify *v)
{
	for (size_t i = 0; i < v->nvs; i++)
		note_verifier_free(v->vs[i]);
	free(v->cp.origin);
	free(v->old.origin);
	json_decref(v->receipt);
	settle_result_free(v->pending);
	settle_free(v->engine);
	free(v->scratch);
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
		{ NULL, 0, NULL, 0 },
	};
	const char *vkeys[MAX_VKEYS], *cpath = NULL, *epath = NULL;
	const char *rpath = NULL, *fpath = NULL, *ppath = NULL;
	struct verify v;
	size_t nvk = 0;
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
		default: return usage();
		}
	}
	if (optind != argc || nvk == 0 || cpath == NULL ||
	    (fpath == NULL) != (ppath == NULL))
		return usage();
	if (rpath != NULL && epath == NULL) {
		fprintf(stderr, "shanhai verify: --receipt needs --entries: "
		    "the report entry is the proof's leaf\n");
		return CMD_USAGE;
	}
	memset(&v, 0, sizeof(v));
	for (size_t i = 0; i < nvk; i++)
		if (load_vkeys(&v, vkeys[i]) < 0) {
			verify_free(&v);
			return CMD_USAGE;
		}
	if ((v.engine = settle_new()) == NULL) {
		verify_free(&v);
		return CMD_USAGE;
	}
	rc = load_checkpoint(&v, cpath, &v.cp);
	if (rc == 0 && fpath != NULL) {
		if ((rc = load_checkpoint(&v, fpath, &v.old)) == 0) {
			v.have_old = 1;
			rc = check_consistency(&v, ppath);
		}
	}
	if (rc == 0 && rpath != NULL)
		rc = load_receipt(&v, rpath);
	if (rc == 0 && epath != NULL)
		rc = check_entries(&v, epath);
	if (rc == 0 && rpath != NULL)
		rc = finish_receipt(&v, rpath);
	if (rc == -2) {
		verify_free(&v);
		return CMD_USAGE;
	}
	if (rc < 0) {
		fprintf(stderr, "shanhai verify: FAILED: %s\n", v.why);
		verify_free(&v);
		return CMD_FAILED;
	}
	printf("checkpoint %s size %" PRIu64 ": signature verified\n",
	    v.cp.origin, v.cp.size);
	if (fpath != NULL)
		printf("consistent with the checkpoint of size %" PRIu64 "\n",
		    v.old.size);
	if (epath != NULL)
		printf("entries 0..%" PRIu64 ": canonical, root matches; "
		    "replay of %" PRIu64 " rules and %" PRIu64 " reports gives "
		    "the %" PRIu64 " settlements, adjustments and disputes "
		    "exactly (%" PRIu64 " other entries)\n",
		    v.cp.size == 0 ? 0 : v.cp.size - 1, v.nrules, v.nreports,
		    v.nderived, v.nskipped);
	if (rpath != NULL)
		printf("receipt: report %s is entry %" PRIu64 ", included in "
		    "the signed checkpoint of size %" PRIu64 "\n", v.rc_report,
		    v.rc_index, v.rc_size);
	verify_free(&v);
	return CMD_OK;
}
