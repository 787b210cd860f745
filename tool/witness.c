/*
 * witness: tlog-witness add-checkpoint, checked and cosigned.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/cosig.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/witness.h"
#include "shanhai/witstate.h"

#define MAX_LOG_KEYS	4
#define CT_TEXT		"text/plain; charset=utf-8"
#define CT_SIZE		"text/x.tlog.size"

struct wlog {
	char			*origin;
	struct note_verifier	*keys[MAX_LOG_KEYS];
	size_t			 nkeys;
};

struct witness {
	struct note_signer	*key;
	struct witstate		*state;
	struct wlog		*logs;
	size_t			 nlogs;
};

static void __attribute__((format(printf, 3, 4)))
answer(struct witness_answer *a, int status, const char *fmt, ...)
{
	va_list ap;

	a->status = status;
	a->ctype = CT_TEXT;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	/* A refusal's body says why, for the log's operator. */
	if (status != 200 && asprintf(&a->body, "%s\n", a->why) != -1)
		a->len = strlen(a->body);
}

struct witness *
witness_new(struct note_signer *key, const char *state_path, char *err,
    size_t errlen)
{
	struct witness *w;

	if (note_signer_type(key) != NOTE_COSIG_ED25519) {
		snprintf(err, errlen, "the witness key must be a cosigner key "
		    "(shanhai keygen --witness)");
		note_signer_free(key);
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		note_signer_free(key);
		return NULL;
	}
	w->key = key;
	if ((w->state = witstate_open(state_path, err, errlen)) == NULL) {
		witness_free(w);
		return NULL;
	}
	return w;
}

void
witness_free(struct witness *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->nlogs; i++) {
		for (size_t k = 0; k < w->logs[i].nkeys; k++)
			note_verifier_free(w->logs[i].keys[k]);
		free(w->logs[i].origin);
	}
	free(w->logs);
	witstate_close(w->state);
	note_signer_free(w->key);
	free(w);
}

static struct wlog *
find_log(struct witness *w, const char *origin)
{
	for (size_t i = 0; i < w->nlogs; i++)
		if (strcmp(w->logs[i].origin, origin) == 0)
			return &w->logs[i];
	return NULL;
}

int
witness_add_log(struct witness *w, const char *origin, const char *vkey,
    char *err, size_t errlen)
{
	struct note_verifier *v;
	struct wlog *l, *nl;

	if (note_verifier_parse(vkey, &v, err, errlen) < 0)
		return -1;
	if (note_verifier_type(v) == NOTE_COSIG_ED25519) {
		snprintf(err, errlen, "log %s: key %s is a witness's key, not "
		    "a log's", origin, note_verifier_name(v));
		note_verifier_free(v);
		return -1;
	}
	if ((l = find_log(w, origin)) == NULL) {
		if ((nl = reallocarray(w->logs, w->nlogs + 1,
		    sizeof(*nl))) == NULL) {
			note_verifier_free(v);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		w->logs = nl;
		l = &w->logs[w->nlogs];
		memset(l, 0, sizeof(*l));
		if ((l->origin = strdup(origin)) == NULL) {
			note_verifier_free(v);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		w->nlogs++;
	}
	if (l->nkeys == MAX_LOG_KEYS) {
		snprintf(err, errlen, "log %s: more than %d keys", origin,
		    MAX_LOG_KEYS);
		note_verifier_free(v);
		return -1;
	}
	l->keys[l->nkeys++] = v;
	return 0;
}

size_t
witness_log_count(const struct witness *w)
{
	return w->nlogs;
}

/* Decimal without sign or leading zeros ("0" alone), fitting int64. */
static int
parse_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

/* The request, split: old size, proof, and the signed checkpoint. */
struct request {
	uint64_t	 old;
	unsigned char	 proof[WITNESS_MAX_PROOF][MERKLE_HASH_SIZE];
	size_t		 nproof;
	const char	*note;
	size_t		 notelen;
};

static int
parse_request(const char *body, size_t len, struct request *r, char *why,
    size_t whylen)
{
	const char *p = body, *stop = body + len, *end;

	if ((end = memchr(p, '\n', len)) == NULL || end - p < 5 ||
	    memcmp(p, "old ", 4) != 0 ||
	    parse_size(p + 4, (size_t)(end - p) - 4, &r->old) < 0) {
		snprintf(why, whylen, "the first line is not \"old <size>\" "
		    "(a decimal without leading zeros)");
		return -1;
	}
	p = end + 1;
	r->nproof = 0;
	for (;;) {
		unsigned char h[MERKLE_HASH_SIZE + 1];

		if (p >= stop || (end = memchr(p, '\n', (size_t)(stop - p))) ==
		    NULL) {
			snprintf(why, whylen, "no empty line before the "
			    "checkpoint");
			return -1;
		}
		if (end == p)
			break;
		if (r->nproof == WITNESS_MAX_PROOF) {
			snprintf(why, whylen, "more than %d consistency proof "
			    "lines", WITNESS_MAX_PROOF);
			return -1;
		}
		if (note_b64_decode(p, (size_t)(end - p), h, sizeof(h)) !=
		    MERKLE_HASH_SIZE) {
			snprintf(why, whylen, "consistency proof line %zu is "
			    "not base64 of a 32-byte hash", r->nproof + 1);
			return -1;
		}
		memcpy(r->proof[r->nproof++], h, MERKLE_HASH_SIZE);
		p = end + 1;
	}
	r->note = end + 1;
	r->notelen = (size_t)(stop - r->note);
	return 0;
}

static int
no_check(void *arg, const char *text, size_t textlen,
    const struct note_sig *ns, char *err, size_t errlen)
{
	return 0;
}

/* Keeps the lines by the log's keys, to publish with the cosignature. */
struct keep {
	const struct wlog *log;
	char		*buf;
	size_t		 len;
};

static int
keep_log_sigs(void *arg, const char *text, size_t textlen,
    const struct note_sig *ns, char *err, size_t errlen)
{
	struct keep *k = arg;

	for (size_t i = 0; i < k->log->nkeys; i++)
		if (note_sig_by(ns, k->log->keys[i])) {
			memcpy(k->buf + k->len, ns->line, ns->linelen);
			k->len += ns->linelen;
			break;
		}
	return 0;
}

void
witness_add_checkpoint(struct witness *w, const char *body, size_t len,
    uint64_t now, struct witness_answer *a)
{
	struct request r;
	unsigned char root[MERKLE_HASH_SIZE], old_root[MERKLE_HASH_SIZE];
	char why[256], *origin = NULL, *line = NULL;
	struct keep keep = { NULL, NULL, 0 };
	const struct wlog *log;
	uint64_t size, stored;
	size_t textlen;
	int rc;

	memset(a, 0, sizeof(*a));
	if (len > WITNESS_MAX_BODY) {
		answer(a, 400, "the body is longer than %d bytes",
		    WITNESS_MAX_BODY);
		return;
	}
	if (parse_request(body, len, &r, why, sizeof(why)) < 0) {
		answer(a, 400, "%s", why);
		return;
	}
	if (note_sigs(r.note, r.notelen, &textlen, no_check, NULL, why,
	    sizeof(why)) < 0 ||
	    note_checkpoint_parse(r.note, textlen, &origin, &size, root, why,
	    sizeof(why)) < 0) {
		answer(a, 400, "checkpoint: %s", why);
		return;
	}
	if ((log = find_log(w, origin)) == NULL) {
		answer(a, 404, "unknown log origin '%s'", origin);
		goto done;
	}
	if (note_open(r.note, r.notelen, (struct note_verifier *const *)
	    log->keys, log->nkeys, &textlen, NULL, why, sizeof(why)) < 0) {
		answer(a, 403, "%s: %s", origin, why);
		goto done;
	}
	if (r.old > size) {
		answer(a, 400, "old size %" PRIu64 " is above the checkpoint's "
		    "size %" PRIu64, r.old, size);
		goto done;
	}
	if (size > INT64_MAX) {
		answer(a, 400, "checkpoint size %" PRIu64 " is above 2^63 - 1",
		    size);
		goto done;
	}
	if (witstate_begin(w->state, why, sizeof(why)) < 0) {
		answer(a, 500, "%s", why);
		goto done;
	}
	rc = witstate_get(w->state, origin, &stored, old_root, NULL, NULL, why,
	    sizeof(why));
	if (rc < 0 && rc != WITSTATE_ENOENT) {
		answer(a, 500, "%s", why);
		goto rollback;
	}
	if (r.old != stored) {
		answer(a, 409, "%s: old size %" PRIu64 ", the latest cosigned "
		    "is %" PRIu64, origin, r.old, stored);
		free(a->body);
		a->body = NULL;
		a->ctype = CT_SIZE;
		if (asprintf(&a->body, "%" PRIu64 "\n", stored) == -1)
			a->body = NULL;
		else
			a->len = strlen(a->body);
		goto rollback;
	}
	if (r.old == size && r.old > 0) {
		if (r.nproof != 0) {
			answer(a, 422, "%s: a proof from size %" PRIu64 " to "
			    "itself must be empty", origin, size);
			goto rollback;
		}
		if (memcmp(root, old_root, sizeof(root)) != 0) {
			answer(a, 409, "%s: size %" PRIu64 " was cosigned with "
			    "another root hash", origin, size);
			goto rollback;
		}
	} else if (r.old == 0) {
		unsigned char empty[MERKLE_HASH_SIZE];

		merkle_hash_empty(empty);
		if (r.nproof != 0 || (size == 0 && memcmp(root, empty,
		    sizeof(root)) != 0)) {
			answer(a, 422, "%s: from size 0 the proof must be empty "
			    "(and an empty tree's root SHA-256 of nothing)",
			    origin);
			goto rollback;
		}
	} else if (merkle_verify_consistency(r.old, size, old_root, root,
	    (const unsigned char (*)[MERKLE_HASH_SIZE])r.proof, r.nproof) !=
	    0) {
		answer(a, 422, "%s: the consistency proof from %" PRIu64 " to %"
		    PRIu64 " does not verify", origin, r.old, size);
		goto rollback;
	}
	if (cosig_sign(w->key, r.note, textlen, now, &line) < 0) {
		answer(a, 500, "cannot cosign");
		goto rollback;
	}
	/* What GET shows: the text, the log's signatures, the cosignature. */
	keep.log = log;
	if ((keep.buf = malloc(r.notelen + strlen(line) + 1)) == NULL) {
		answer(a, 500, "out of memory");
		goto rollback;
	}
	memcpy(keep.buf, r.note, textlen + 1);
	keep.len = textlen + 1;
	if (note_sigs(r.note, r.notelen, &textlen, keep_log_sigs, &keep, why,
	    sizeof(why)) < 0) {
		answer(a, 500, "%s", why);
		goto rollback;
	}
	memcpy(keep.buf + keep.len, line, strlen(line));
	keep.len += strlen(line);
	if (witstate_put(w->state, origin, r.old, size, root, keep.buf,
	    keep.len, now, why, sizeof(why)) < 0 ||
	    witstate_commit(w->state, why, sizeof(why)) < 0) {
		answer(a, 500, "%s", why);
		goto rollback;
	}
	a->status = 200;
	a->ctype = CT_TEXT;
	a->body = line;
	a->len = strlen(line);
	line = NULL;
	snprintf(a->why, sizeof(a->why), "%s: cosigned size %" PRIu64
	    " (from %" PRIu64 ")", origin, size, r.old);
	goto done;
rollback:
	witstate_rollback(w->state);
done:
	free(keep.buf);
	free(line);
	free(origin);
}

void
witness_get_checkpoint(struct witness *w, const char *origin,
    struct witness_answer *a)
{
	char why[256];
	uint64_t size;
	int rc;

	memset(a, 0, sizeof(*a));
	if (find_log(w, origin) == NULL) {
		answer(a, 404, "unknown log origin '%s'", origin);
		return;
	}
	rc = witstate_get(w->state, origin, &size, NULL, &a->body, &a->len,
	    why, sizeof(why));
	if (rc == WITSTATE_ENOENT)
		answer(a, 404, "%s: nothing cosigned yet", origin);
	else if (rc < 0)
		answer(a, 500, "%s", why);
	else {
		a->status = 200;
		a->ctype = CT_TEXT;
	}
}
