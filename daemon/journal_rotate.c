/*
 * journal_rotate: the ledger keys (doc/DESIGN.md, "Key rotation"): which
 * keys sign, whether a new key may, the next key announced by a `key`
 * entry, and replaced keys kept until no group in flight holds them.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/canon.h"
#include "shanhai/log.h"
#include "shanhai/note.h"

#include "journal_impl.h"

/* ---- the set of announced keys ---- */

static int
strset_has(const struct strset *set, const char *x)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i], x) == 0)
			return 1;
	return 0;
}

int
jn_strset_add(struct strset *set, const char *x)
{
	char **v;

	if (strset_has(set, x))
		return 0;
	if ((v = realloc(set->v, (set->n + 1) * sizeof(*v))) == NULL)
		return -1;
	set->v = v;
	if ((v[set->n] = strdup(x)) == NULL)
		return -1;
	set->n++;
	return 0;
}

void
jn_strset_clear(struct strset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* ---- keys ---- */

/* Is s's verifier key vkey? (Same name, key ID and key.) */
static int
is_key(const struct note_signer *s, const char *vkey)
{
	char *mine = note_signer_vkey(s);
	int same = mine != NULL && strcmp(mine, vkey) == 0;

	free(mine);
	return same;
}

static int
same_key(const struct note_signer *a, const struct note_signer *b)
{
	char *vb = note_signer_vkey(b);
	int same = vb != NULL && is_key(a, vb);

	free(vb);
	return same;
}

/* 1 when the signed note holds a signature by s that verifies. */
int
jn_signed_by(const char *note, const struct note_signer *s)
{
	struct note_verifier *v = note_signer_verifier(s);
	size_t textlen;
	int ok;

	if (v == NULL)
		return 0;
	ok = note_open(note, strlen(note), &v, 1, &textlen, NULL, NULL, 0) == 0;
	note_verifier_free(v);
	return ok;
}

/* The keys that sign checkpoints now: the key, the live next key, SM2. */
size_t
journal_signers(const struct journal *j,
    struct note_signer *out[JOURNAL_MAX_SIGNERS])
{
	size_t n = 0;

	out[n++] = j->key;
	if (j->nextkey != NULL && j->next_live)
		out[n++] = j->nextkey;
	if (j->sm2 != NULL)
		out[n++] = j->sm2;
	return n;
}

/* Frees the replaced keys once no group in flight may hold them. */
void
jn_retired_free(struct journal *j)
{
	if (j->inflight != NULL)
		return;
	for (size_t i = 0; i < j->nretired; i++)
		note_signer_free(j->retired[i]);
	free(j->retired);
	j->retired = NULL;
	j->nretired = 0;
}

/* s is no longer in use by the loop; it goes when the writer is done. */
static void
retire(struct journal *j, struct note_signer *s)
{
	struct note_signer **r;

	if (s == NULL)
		return;
	if (j->inflight == NULL) {
		note_signer_free(s);
		return;
	}
	if ((r = realloc(j->retired, (j->nretired + 1) * sizeof(*r))) == NULL) {
		/* Rather a small leak than a key freed under the writer. */
		log_warnx("journal: out of memory retiring a key");
		return;
	}
	j->retired = r;
	r[j->nretired++] = s;
}

/* The canonical bytes of the `key` entry announcing vkey at stamp. */
char *
jn_key_entry_bytes(const char *vkey, const char *stamp, size_t *len,
    char *err, size_t errlen)
{
	json_t *e = json_pack("{s:s, s:s, s:s}", "key", vkey, "time", stamp,
	    "type", "key");
	char *b;

	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b = canon_dump(e, len, err, errlen);
	json_decref(e);
	return b;
}

/* ---- keys: rotation (doc/DESIGN.md, "Key rotation") ---- */

/* How many key entries group g queues. */
size_t
jn_group_key_items(const struct group *g)
{
	size_t n = 0;

	for (size_t i = 0; i < g->nitems; i++)
		n += g->items[i].kind == ITEM_KEY;
	return n;
}

/* Does group g queue a key entry announcing vkey? */
static int
group_announces(const struct group *g, const char *vkey)
{
	for (size_t i = 0; g != NULL && i < g->nitems; i++)
		if (g->items[i].kind == ITEM_KEY && g->items[i].text != NULL &&
		    strcmp(g->items[i].text, vkey) == 0)
			return 1;
	return 0;
}

/*
 * Brings the next key along: live once a committed `key` entry announces
 * it (checkpoints carry its signature from then on, starting with the
 * latest signed again); otherwise its key entry is queued, unless one is
 * already. Every checkpoint before that entry's is signed without it.
 */
void
jn_keys_update(struct journal *j)
{
	char *vkey, stamp[TIME_BUFSZ], *bytes, msg[256];
	struct group *g;
	struct item *it;
	size_t len;

	if (j->nextkey == NULL) {
		j->next_live = 0;
		return;
	}
	/* Announced for good (the ledger only grows) until the key changes. */
	if (j->next_live)
		return;
	if ((vkey = note_signer_vkey(j->nextkey)) == NULL) {
		log_warnx("journal: out of memory announcing the next key");
		return;
	}
	if (strset_has(&j->announced, vkey)) {
		if (!j->next_live) {
			j->next_live = 1;
			j->want_resign = 1;
			log_info("ledger keys: the next key %s is announced in"
			    " the ledger: it signs every checkpoint from now"
			    " on", vkey);
		}
		free(vkey);
		return;
	}
	j->next_live = 0;
	/* Groups out may be past the writer, waiting for their sync. */
	if (j->broken || group_announces(j->cur, vkey) || j->out_keys > 0) {
		free(vkey);
		return;
	}
	jn_now_rfc3339(stamp);
	if ((bytes = jn_key_entry_bytes(vkey, stamp, &len, msg,
	    sizeof(msg))) == NULL || (g = journal_cur(j)) == NULL ||
	    jn_group_add_entry(j, g, bytes, len) < 0) {
		log_warnx("journal: announcing the next key %s: out of memory",
		    vkey);
		free(bytes);
		free(vkey);
		return;
	}
	free(bytes);
	/* Without its item, the entry is still written, just not noted. */
	if ((it = jn_group_add_item(g)) == NULL) {
		log_warnx("journal: announcing the next key %s: out of memory",
		    vkey);
		free(vkey);
		return;
	}
	it->kind = ITEM_KEY;
	it->text = vkey;
	it->rep.index = j->next - 1;
	log_info("ledger keys: announcing the next key %s in entry %llu",
	    vkey, (unsigned long long)it->rep.index);
}

/*
 * May key sign this ledger? When the ledger is empty, when it is the
 * running key (NULL: none yet), when it signed the latest stored
 * checkpoint, or when a committed `key` entry announced it.
 */
static int
key_accepted(struct journal *j, const struct note_signer *running,
    const struct note_signer *key, uint64_t size, char *err, size_t errlen)
{
	char *vkey, *note = NULL;
	uint64_t cps = 0;
	int rc, ok;

	if (size == 0 || (running != NULL && same_key(running, key)))
		return 0;
	if ((vkey = note_signer_vkey(key)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ok = strset_has(&j->announced, vkey);
	if (!ok) {
		rc = store_latest_checkpoint(j->rd, &cps, &note);
		if (rc < 0 && rc != STORE_ENOENT) {
			snprintf(err, errlen, "%s", store_errmsg(j->rd));
			free(vkey);
			return -1;
		}
		ok = rc == 0 && jn_signed_by(note, key);
		free(note);
	}
	if (!ok)
		snprintf(err, errlen, "ledger.signing_key: the key %s neither"
		    " signed the latest checkpoint (size %llu) nor is announced"
		    " by a key entry in the ledger: name it ledger.next_key"
		    " first, and make it the signing key once its key entry"
		    " is in the ledger", vkey, (unsigned long long)cps);
	free(vkey);
	return ok ? 0 : -1;
}

int
journal_keys_valid(const struct note_signer *key,
    const struct note_signer *next, char *err, size_t errlen)
{
	char *vkey;

	if (note_signer_type(key) != NOTE_ED25519) {
		snprintf(err, errlen, "ledger.signing_key: not an Ed25519 key");
		return -1;
	}
	if (next == NULL)
		return 0;
	if (note_signer_type(next) != NOTE_ED25519) {
		snprintf(err, errlen, "ledger.next_key: not an Ed25519 key");
		return -1;
	}
	if (same_key(key, next)) {
		vkey = note_signer_vkey(next);
		snprintf(err, errlen, "ledger.next_key: the key %s is the"
		    " signing key itself; make a new one with shanhai keygen",
		    vkey ? vkey : "");
		free(vkey);
		return -1;
	}
	return 0;
}

/*
 * The checks of journal_keys_check() on a ledger of size entries, with
 * the key running now (NULL: none).
 */
int
jn_keys_check(struct journal *j, const struct note_signer *running,
    const struct note_signer *key, const struct note_signer *next,
    uint64_t size, char *err, size_t errlen)
{
	if (journal_keys_valid(key, next, err, errlen) < 0)
		return -1;
	return key_accepted(j, running, key, size, err, errlen);
}

int
journal_keys_check(struct journal *j, const struct note_signer *key,
    const struct note_signer *next, char *err, size_t errlen)
{
	if (j->broken) {
		snprintf(err, errlen, "the ledger store is failing: %s",
		    j->broken_why);
		return -1;
	}
	return jn_keys_check(j, j->key, key, next, j->committed, err, errlen);
}

int
journal_keys_apply(struct journal *j, struct note_signer *key,
    struct note_signer *next, char *err, size_t errlen)
{
	int changed = 0;

	if (journal_keys_check(j, key, next, err, errlen) < 0) {
		note_signer_free(key);
		note_signer_free(next);
		return -1;
	}
	if (same_key(j->key, key))
		note_signer_free(key);
	else {
		retire(j, j->key);
		j->key = key;
		changed = 1;
	}
	if (next != NULL && j->nextkey != NULL && same_key(j->nextkey, next))
		note_signer_free(next);
	else if (next != NULL || j->nextkey != NULL) {
		retire(j, j->nextkey);
		j->nextkey = next;
		j->next_live = 0;
		changed = 1;
	}
	if (changed) {
		char *vk = note_signer_vkey(j->key);

		log_info("ledger keys: signing with %s%s", vk ? vk : "?",
		    j->nextkey != NULL ? ", and a next key" : "");
		free(vk);
		j->want_resign = 1;
	}
	jn_keys_update(j);
	journal_kick(j);
	return 0;
}
