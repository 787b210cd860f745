/*
 * journal_read: reads of the committed ledger on the loop's connection:
 * the checkpoint, entries, inclusion and consistency proofs. They stop at
 * the last group on disk (j->committed), not at what the store sees.
 */

#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "shanhai/note.h"

#include "journal_impl.h"

/* ---- reads of the committed ledger ---- */

int
journal_checkpoint(struct journal *j, char **note, char *err, size_t errlen)
{
	/*
	 * The latest signing of the latest checkpoint, unless that is of a
	 * group committed and not yet synced, which the store's connection
	 * may already see: then the checkpoint of the last group on disk,
	 * in its latest signing too (once new keys signed it again, a
	 * verifier with only the new key must not be served the old alone).
	 */
	uint64_t size;
	int rc = store_latest_checkpoint(j->rd, &size, note);

	if (rc == 0 && size > j->committed) {
		free(*note);
		*note = NULL;
		rc = store_checkpoint_latest(j->rd, j->committed, note);
	}

	if (rc == STORE_ENOENT) {
		snprintf(err, errlen, "no checkpoint was signed yet");
		return 404;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", store_errmsg(j->rd));
		return 500;
	}
	return 0;
}

static int
add_line(void *ctx, uint64_t index, const char *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	struct evbuffer *out = ctx;

	(void)index;
	(void)leaf;
	if (evbuffer_add(out, body, len) < 0 || evbuffer_add(out, "\n", 1) < 0)
		return -1;
	return 0;
}

int
journal_entries(struct journal *j, uint64_t start, uint64_t end,
    struct evbuffer *out, char *err, size_t errlen)
{
	uint64_t size = j->committed;	/* on disk, not what the store sees */

	if (start > end) {
		snprintf(err, errlen, "end: %llu is before start %llu",
		    (unsigned long long)end, (unsigned long long)start);
		return 400;
	}
	if (end > size) {
		snprintf(err, errlen, "end: beyond the ledger's %llu %s",
		    (unsigned long long)size, size == 1 ? "entry" : "entries");
		return 400;
	}
	if (end - start > JOURNAL_MAX_ENTRIES) {
		snprintf(err, errlen, "end: at most %d entries per request",
		    JOURNAL_MAX_ENTRIES);
		return 400;
	}
	if (store_foreach(j->rd, start, end, add_line, out) != 0) {
		snprintf(err, errlen, "%s", store_errmsg(j->rd));
		return 500;
	}
	return 0;
}

/* {key1:a, key2:b, "hashes":[base64…]} */
static json_t *
proof_json(const char *k1, uint64_t a, const char *k2, uint64_t b,
    unsigned char hashes[][MERKLE_HASH_SIZE], size_t n)
{
	json_t *o = json_object(), *arr = json_array();

	if (o == NULL || arr == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		char *h = note_b64_encode(hashes[i], MERKLE_HASH_SIZE);

		if (h == NULL || json_array_append_new(arr, json_string(h)) < 0) {
			free(h);
			goto fail;
		}
		free(h);
	}
	json_object_set_new(o, k1, json_integer((json_int_t)a));
	json_object_set_new(o, k2, json_integer((json_int_t)b));
	json_object_set_new(o, "hashes", arr);
	return o;
fail:
	json_decref(o);
	json_decref(arr);
	return NULL;
}

int
journal_inclusion(struct journal *j, uint64_t index, uint64_t size,
    json_t **out, char *err, size_t errlen)
{
	unsigned char hashes[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE];
	uint64_t have = j->committed;	/* on disk, not what the store sees */
	size_t n;

	if (size == 0 || size > have) {
		snprintf(err, errlen, "size: must be 1 to %llu",
		    (unsigned long long)have);
		return 400;
	}
	if (index >= size) {
		snprintf(err, errlen, "index: must be below size %llu",
		    (unsigned long long)size);
		return 400;
	}
	if (merkle_inclusion_proof(index, size, store_get_hash, j->rd, hashes,
	    &n) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(j->rd));
		return 500;
	}
	if ((*out = proof_json("index", index, "size", size, hashes,
	    n)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	return 0;
}

int
journal_consistency(struct journal *j, uint64_t from, uint64_t to,
    json_t **out, char *err, size_t errlen)
{
	unsigned char hashes[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE];
	uint64_t have = j->committed;	/* on disk, not what the store sees */
	size_t n;

	if (to > have) {
		snprintf(err, errlen, "to: beyond the ledger's %llu %s",
		    (unsigned long long)have, have == 1 ? "entry" : "entries");
		return 400;
	}
	if (from > to) {
		snprintf(err, errlen, "from: above to %llu",
		    (unsigned long long)to);
		return 400;
	}
	if (merkle_consistency_proof(from, to, store_get_hash, j->rd, hashes,
	    &n) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(j->rd));
		return 500;
	}
	if ((*out = proof_json("from", from, "to", to, hashes, n)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	return 0;
}
