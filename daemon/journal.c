/*
 * journal: the engine, the group-committing writer thread and the reads of
 * the committed ledger (see journal.h and doc/DESIGN.md, Store and ingest).
 *
 * Threads. The event loop owns the engine, the group being filled (cur) and
 * the store connection `rd`. The writer thread owns the connection `wr` and
 * the hash cache. They share only the hand-over slots `todo` (a group for
 * the writer) and `finished` (a group written, or failed), under `mu`; the
 * writer wakes the loop through an eventfd. At most one group is with the
 * writer at a time (inflight), so groups commit in the order they filled.
 *
 * Keys. The loop owns the ledger keys (key, next, sm2). A group takes the
 * set that signs its checkpoint when it is handed to the writer, so a key
 * replaced on the loop is freed only once no group in flight holds it
 * (retired). The next key joins that set only once the group holding its
 * `key` entry is committed (next_live).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "shanhai/canon.h"
#include "shanhai/fnv.h"
#include "shanhai/journal.h"
#include "shanhai/log.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/pagefile.h"
#include "shanhai/rules.h"
#include "shanhai/replay.h"
#include "shanhai/settle.h"
#include "shanhai/statement.h"
#include "shanhai/store.h"
#include "shanhai/textbuf.h"

#define DB_NAME		JOURNAL_DB_NAME
#define TIME_BUFSZ	32
/* Direct-mapped cache of subtree hashes for the writer: 2^16 slots. */
#define CACHE_BITS	16
#define CACHE_SLOTS	(1u << CACHE_BITS)
/*
 * Under load, the next group waits at least this long (microseconds) after
 * a commit for the clients just answered to come back (see journal_finish),
 * and at most LINGER_MAX_USEC.
 */
#define LINGER_USEC	400
#define LINGER_MAX_USEC	10000
/* Weight of the newest figure in the moving averages of the group policy. */
#define EMA_NEW		0.2
/*
 * The write-ahead log is copied back into the database by the checkpoint
 * thread once it holds CKPT_PAGES pages, so that no commit waits for it;
 * the writer makes the log start over (a restart checkpoint, which copies
 * what is left) once no more than CKPT_TAIL pages are left to copy.
 */
#define CKPT_PAGES	1000
#define CKPT_TAIL	64
/*
 * The loop's reads wait at most this long (milliseconds) for a lock held
 * elsewhere (a restart of the write-ahead log, a tool holding the file):
 * the loop serves every client, so one read fails rather than all stall.
 */
#define RD_BUSY_MS	100
/* A broken store is retried at most this often (seconds). */
#define RESTORE_EVERY	1

enum item_kind {
	ITEM_REPORT,		/* a new report: its entries are in the group */
	ITEM_DUPLICATE,		/* an identical resubmission: answer only */
	ITEM_RULES,		/* a rules entry: no one waits for it */
	ITEM_KEY,		/* a key entry: text is the verifier key */
};

struct item {
	enum item_kind		 kind;
	journal_done_fn		*done;
	void			*arg;
	struct store_report	 rep;	/* RULES: agreement, sha256, index */
	uint64_t		*cand;	/* DUPLICATE: where its report may be */
	size_t			 ncand;
	int			 code;	/* the answer, set by the writer */
	char			*text;
	size_t			 textlen;
};

struct gentry {
	char	*body;
	size_t	 len;
};

struct group {
	struct group	*next;		/* in the sync and finished queues */
	struct item	*items;
	size_t		 nitems, capitems;
	struct gentry	*entries;
	size_t		 nentries, capentries;
	uint64_t	 first;		/* ledger index of entries[0] */
	/* The keys that sign its checkpoint, set when handed to the writer. */
	struct note_signer *signers[JOURNAL_MAX_SIGNERS];
	size_t		 nsigners;
	int		 resign;	/* no entries: sign the latest again */
	int		 failed;
	int		 built;		/* its receipts are built (under j->mu) */
	char		 why[256];
	double		 write_s;	/* metrics: the whole write_group() */
	double		 commit_s;	/* and its COMMIT (the WAL's fsync) */
};

/*
 * "agreement/period" -> the indexes of the entries that concern it (report,
 * dispute, adjustment, settlement), in ledger order: the entry indexes of
 * GET /v1/agreements/{id}/periods/{p} and of the reports a resubmission may
 * repeat, rebuilt from the ledger at open. Most periods have one to two
 * entries, held in the node itself (cap 0); more go to an array. One node
 * is one allocation of about 64 bytes per period (the report hash map this
 * replaced, and a separate array per period, cost about 100 more).
 */
#define PNODE_INLINE	2
struct pnode {
	struct pnode	*next;
	uint32_t	 n, cap;
	union {
		uint64_t	 in[PNODE_INLINE];
		uint64_t	*v;
	} u;
	char		 key[];
};

/* The entry indexes of node n, in ledger order (n->n of them). */
static inline const uint64_t *
pnode_v(const struct pnode *n)
{
	return n->cap == 0 ? n->u.in : n->u.v;
}

struct pmap {
	struct pnode	**b;
	size_t		 nb, n;
};

/* A period read held until no entry that concerns it waits for the disk. */
struct pwait {
	struct pwait		*next;
	journal_ready_fn	*ready;
	void			*arg;
	uint64_t		 upto;		/* period "": the ledger's size */
	char			*period;
	char			 agreement[];
};

/* The verifier keys announced by committed `key` entries. */
struct strset {
	char		**v;
	size_t		  n;
};

struct hslot {
	uint64_t	index;
	unsigned char	level;
	unsigned char	valid;
	unsigned char	hash[MERKLE_HASH_SIZE];
};

struct journal {
	struct event_base	*base;
	char			*origin;
	struct note_signer	*key;		/* signs every checkpoint */
	struct note_signer	*nextkey;	/* the next key, or NULL */
	struct note_signer	*sm2;		/* co-signs, or NULL */
	int			 next_live;	/* its key entry is committed */
	int			 want_resign;	/* the signing keys changed */
	struct strset		 announced;
	struct note_signer	**retired;	/* freed once nothing flies */
	size_t			 nretired;
	struct store		*rd;		/* the loop's connection */
	struct settle		*engine;
	struct pagefile		*pages;		/* its closed years, or NULL */
	char			*state_dir;	/* where page files go */
	struct pmap		 periods;	/* period -> entry indexes */
	uint64_t		 committed;	/* entries on disk */
	uint64_t		 next;		/* next index to hand out */
	uint64_t		 rules_upto;	/* after the last rules entry queued */
	struct pwait		*waiters;	/* period reads held for a commit */
	struct group		*cur;		/* filling */
	struct group		*inflight;	/* with the writer */
	size_t			 outstanding;	/* groups given, not finished */
	size_t			 out_items;	/* and their items */
	size_t			 out_keys;	/* and their key entries */
	journal_observe_fn	*observe;	/* metrics, on the loop */
	void			*observe_arg;
	journal_commit_fn	*on_commit;
	void			*on_commit_arg;
	int			 broken;	/* engine not rebuilt yet */
	time_t			 broken_at;
	char			 broken_why[512];
	int			 efd;
	struct event		*ev;
	struct event		*linger;	/* holds the next group back */
	size_t			 expect;	/* items that will end it early */
	/* The group policy's measures (journal_finish), loop side. */
	double			 commit_ema;	/* a group's COMMIT, seconds */
	double			 loop_ema;	/* loop CPU per submission */
	struct timespec		 cpu_mark;	/* loop CPU at the last measure */
	size_t			 submits;	/* journal_submit() calls since */

	pthread_t		 thread;
	int			 thread_started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv_todo;
	pthread_cond_t		 cv_finished;
	struct group		*todo;
	int			 writer_free;	/* done with inflight */
	struct group		*tosync, **tosync_tail;	/* written */
	struct group		*finished, **fin_tail;	/* and synced */
	int			 quit;
	int			 sync_failed;	/* for good: see sync_main */

	/* The sync thread. */
	pthread_t		 sy_thread;
	int			 sy_started;
	pthread_cond_t		 cv_sync;

	/* The checkpoint thread: its connection, and its slots under mu. */
	pthread_t		 ck_thread;
	int			 ck_started;
	struct store		*ck;
	pthread_cond_t		 cv_ck;
	int			 ck_want;	/* a pass is asked for */
	int			 ck_busy;	/* one runs */
	uint64_t		 ck_done;	/* pages of this log copied */

	/* writer thread only */
	uint64_t		 wal_seen;	/* the log's pages after a commit */
	struct store		*wr;
	struct hslot		*cache;
	uint64_t		 cp_size;	/* last checkpoint it signed */
	char			*cp_note;
};

static void	journal_kick(struct journal *);
static void	wake_waiters(struct journal *);
static void	journal_finish(struct journal *, struct group *);
static void	keys_update(struct journal *);

static void
now_rfc3339(char buf[TIME_BUFSZ])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, TIME_BUFSZ, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the period map ---- */

/* FNV-1a of s, going on from h. */
/* The hash of "a/p": the same for the node's own key "a/p". */
static uint64_t
pmap_hash(const char *a, const char *p)
{
	return fnv1a(fnv1a(fnv1a(FNV1A_BASIS, a), "/"), p);
}

static void
pmap_clear(struct pmap *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct pnode *n, *next;

		for (n = m->b[i]; n != NULL; n = next) {
			next = n->next;
			if (n->cap > 0)
				free(n->u.v);
			free(n);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

static struct pnode *
pmap_find(const struct pmap *m, const char *a, const char *p)
{
	size_t alen = strlen(a);
	struct pnode *n;

	if (m->nb == 0)
		return NULL;
	for (n = m->b[pmap_hash(a, p) & (m->nb - 1)]; n != NULL; n = n->next)
		if (strncmp(n->key, a, alen) == 0 && n->key[alen] == '/' &&
		    strcmp(n->key + alen + 1, p) == 0)
			return n;
	return NULL;
}

static int
pmap_add(struct pmap *m, const char *a, const char *p, uint64_t index)
{
	struct pnode *n = pmap_find(m, a, p);
	size_t i;

	if (n == NULL) {
		if (m->n + 1 > m->nb) {
			size_t nb = m->nb ? m->nb * 2 : 256;
			struct pnode **b = calloc(nb, sizeof(*b)), *x, *next;

			if (b == NULL)
				return -1;
			for (i = 0; i < m->nb; i++)
				for (x = m->b[i]; x != NULL; x = next) {
					size_t k = fnv1a(FNV1A_BASIS, x->key) &
					    (nb - 1);

					next = x->next;
					x->next = b[k];
					b[k] = x;
				}
			free(m->b);
			m->b = b;
			m->nb = nb;
		}
		if ((n = calloc(1, sizeof(*n) + strlen(a) + strlen(p) + 2)) ==
		    NULL)
			return -1;
		sprintf(n->key, "%s/%s", a, p);
		i = pmap_hash(a, p) & (m->nb - 1);
		n->next = m->b[i];
		m->b[i] = n;
		m->n++;
	}
	if (n->cap == 0 && n->n < PNODE_INLINE) {
		n->u.in[n->n++] = index;
		return 0;
	}
	if (n->cap == 0 || n->n == n->cap) {	/* inline full, or array */
		uint32_t cap = n->cap ? n->cap * 2 : 2 * PNODE_INLINE;
		uint64_t *v = malloc(cap * sizeof(*v));

		if (v == NULL || n->n >= UINT32_MAX / 2) {
			free(v);
			return -1;
		}
		memcpy(v, pnode_v(n), n->n * sizeof(*v));
		if (n->cap > 0)
			free(n->u.v);
		n->u.v = v;
		n->cap = cap;
	}
	n->u.v[n->n++] = index;
	return 0;
}

/*
 * Adds the entries of an accepted report (numbered from first on) to the
 * period map.
 */
static int
pmap_add_result(struct pmap *m, const struct settle_result *res,
    uint64_t first)
{
	const char *a = settle_result_agreement(res);

	for (size_t i = 0; i < settle_result_count(res); i++) {
		char pb[RULES_PERIOD_BUFSZ];
		const char *p = settle_result_entry_period(res, i, pb);

		if (p != NULL && pmap_add(m, a, p, first + i) < 0)
			return -1;
	}
	return 0;
}

/* ---- the set of announced keys ---- */

static int
strset_has(const struct strset *set, const char *x)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i], x) == 0)
			return 1;
	return 0;
}

static int
strset_add(struct strset *set, const char *x)
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

static void
strset_clear(struct strset *set)
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
static int
signed_by(const char *note, const struct note_signer *s)
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
static size_t
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
static void
retired_free(struct journal *j)
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
static char *
key_entry_bytes(const char *vkey, const char *stamp, size_t *len, char *err,
    size_t errlen)
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

/* ---- groups ---- */

static void
group_free(struct group *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nitems; i++) {
		free(g->items[i].text);
		free(g->items[i].cand);
	}
	for (size_t i = 0; i < g->nentries; i++)
		free(g->entries[i].body);
	free(g->items);
	free(g->entries);
	free(g);
}

static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *np;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((np = realloc(*p, ncap * size)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* The group being filled, made on first use; NULL when out of memory. */
static struct group *
journal_cur(struct journal *j)
{
	if (j->cur == NULL && (j->cur = calloc(1, sizeof(*j->cur))) != NULL)
		j->cur->first = j->next;
	return j->cur;
}

static struct item *
group_add_item(struct group *g)
{
	struct item *it;

	if (grow((void **)&g->items, &g->capitems, g->nitems,
	    sizeof(*g->items)) < 0)
		return NULL;
	it = &g->items[g->nitems++];
	memset(it, 0, sizeof(*it));
	return it;
}

/* Queues one entry (copied) as the next of the ledger. */
static int
group_add_entry(struct journal *j, struct group *g, const char *body,
    size_t len)
{
	struct gentry *e;

	if (grow((void **)&g->entries, &g->capentries, g->nentries,
	    sizeof(*g->entries)) < 0)
		return -1;
	e = &g->entries[g->nentries];
	memset(e, 0, sizeof(*e));
	if ((e->body = malloc(len + 1)) == NULL)
		return -1;
	memcpy(e->body, body, len);
	e->body[len] = '\0';
	e->len = len;
	g->nentries++;
	j->next++;
	return 0;
}

/* ---- the writer's hash cache (hashes never change once written) ---- */

static struct hslot *
cache_slot(struct journal *j, unsigned level, uint64_t index)
{
	uint64_t x = (index + 1) * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)level * 0xc2b2ae3d27d4eb4fULL;

	return &j->cache[(x >> (64 - CACHE_BITS)) & (CACHE_SLOTS - 1)];
}

static void
cache_put(struct journal *j, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH_SIZE])
{
	struct hslot *h = cache_slot(j, level, index);

	h->index = index;
	h->level = (unsigned char)level;
	h->valid = 1;
	memcpy(h->hash, hash, MERKLE_HASH_SIZE);
}

/* merkle_get_fn for the writer: the cache, then its store connection. */
static int
cache_get(void *ctx, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_SIZE])
{
	struct journal *j = ctx;
	struct hslot *h = cache_slot(j, level, index);
	int rc;

	if (h->valid && h->level == level && h->index == index) {
		memcpy(out, h->hash, MERKLE_HASH_SIZE);
		return 0;
	}
	if ((rc = store_get_hash(j->wr, level, index, out)) < 0)
		return rc;
	cache_put(j, level, index, out);
	return 0;
}

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

	if (merkle_inclusion_proof(r->index, r->checkpoint, cache_get, j,
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

/* ---- the writer thread ---- */

/*
 * The note of a checkpoint of the first size entries signed by
 * signers[0..n), and its root (writer's connection).
 */
static int
checkpoint_note(struct journal *j, uint64_t size,
    struct note_signer *const *signers, size_t n,
    unsigned char root[MERKLE_HASH_SIZE], char **note, char *err,
    size_t errlen)
{
	char *body;
	size_t len;
	int rc;

	if ((rc = merkle_root(size, cache_get, j, root)) < 0) {
		snprintf(err, errlen, "tree root of size %llu: %s",
		    (unsigned long long)size, store_errmsg(j->wr));
		return -1;
	}
	if ((body = note_checkpoint_body(j->origin, size, root)) == NULL) {
		snprintf(err, errlen, "checkpoint: out of memory");
		return -1;
	}
	rc = note_sign(body, strlen(body), signers, n, note, &len, err,
	    errlen);
	free(body);
	return rc < 0 ? -1 : 0;
}

/* Signs and stores a checkpoint of the first size entries. */
static int
sign_checkpoint(struct journal *j, uint64_t size,
    struct note_signer *const *signers, size_t n, char **note, char *err,
    size_t errlen)
{
	unsigned char root[MERKLE_HASH_SIZE];

	if (checkpoint_note(j, size, signers, n, root, note, err, errlen) < 0)
		return -1;
	if (store_put_checkpoint(j->wr, size, root, *note) < 0) {
		snprintf(err, errlen, "checkpoint %llu: %s",
		    (unsigned long long)size, store_errmsg(j->wr));
		free(*note);
		*note = NULL;
		return -1;
	}
	return 0;
}

/* Writes g's entries, hashes, checkpoint and index rows in one commit. */
static int
write_group(struct journal *j, struct group *g)
{
	struct merkle_subtree subs[MERKLE_MAX_DEPTH + 1];
	struct store *s = j->wr;
	struct timespec t0, t1, t2;
	uint64_t size;
	char *note = NULL;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (store_begin(s) < 0)
		goto fail_db;
	if (store_size(s, &size) < 0)
		goto fail_db;
	if (size != g->first) {
		snprintf(g->why, sizeof(g->why), "the ledger holds %llu %s, "
		    "the group starts at %llu", (unsigned long long)size,
		    size == 1 ? "entry" : "entries",
		    (unsigned long long)g->first);
		goto fail;
	}
	for (size_t i = 0; i < g->nentries; i++) {
		struct gentry *e = &g->entries[i];
		uint64_t idx = g->first + i;
		unsigned char leaf[MERKLE_HASH_SIZE];

		merkle_hash_leaf(e->body, e->len, leaf);
		if (store_append(s, idx, e->body, e->len, leaf) < 0)
			goto fail_db;
		if ((n = merkle_append(idx, leaf, cache_get, j, subs)) < 0)
			goto fail_db;
		cache_put(j, 0, idx, leaf);
		for (int k = 1; k < n; k++) {
			/* The store derives the small ones from the leaves. */
			if (subs[k].level >= STORE_HASH_MIN_LEVEL &&
			    store_put_hash(s, subs[k].level, subs[k].index,
			    subs[k].hash) < 0)
				goto fail_db;
			cache_put(j, subs[k].level, subs[k].index, subs[k].hash);
		}
	}
	size = g->first + g->nentries;
	if (sign_checkpoint(j, size, g->signers, g->nsigners, &note, g->why,
	    sizeof(g->why)) < 0)
		goto fail;
	for (size_t i = 0; i < g->nitems; i++) {
		struct item *it = &g->items[i];

		if (it->kind == ITEM_REPORT) {
			it->rep.checkpoint = size;
			if (store_put_report(s, &it->rep) < 0)
				goto fail_db;
		} else if (it->kind == ITEM_RULES) {
			if (store_put_rules(s, it->rep.agreement, it->rep.sha256,
			    it->rep.index) < 0)
				goto fail_db;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (store_commit(s) < 0)
		goto fail_db;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	g->write_s = (double)(t2.tv_sec - t0.tv_sec) +
	    (t2.tv_nsec - t0.tv_nsec) / 1e9;
	g->commit_s = (double)(t2.tv_sec - t1.tv_sec) +
	    (t2.tv_nsec - t1.tv_nsec) / 1e9;
	free(j->cp_note);
	j->cp_note = note;
	j->cp_size = size;
	return 0;
fail_db:
	snprintf(g->why, sizeof(g->why), "%s", store_errmsg(s));
fail:
	free(note);
	store_rollback(s);
	/* Hashes of the rolled-back entries may sit in the cache. */
	memset(j->cache, 0, CACHE_SLOTS * sizeof(*j->cache));
	return -1;
}

/*
 * After the signing keys changed: unless every one of signers[0..n) signed
 * the latest checkpoint, signs it again, same size and root, and keeps that
 * note too (its own transaction). No entry changes, so SPEC 6.3 holds: one
 * root per size, sizes only growing. Writer's connection (or the loop's
 * before the writer starts).
 */
static int
resign_latest(struct journal *j, struct note_signer *const *signers,
    size_t n, char *err, size_t errlen)
{
	unsigned char root[MERKLE_HASH_SIZE];
	char *latest = NULL, *note = NULL;
	uint64_t size;
	size_t k;

	if (store_begin(j->wr) < 0 ||
	    store_latest_checkpoint(j->wr, &size, &latest) < 0)
		goto fail_db;
	for (k = 0; k < n && signed_by(latest, signers[k]); k++)
		;
	free(latest);
	if (k == n) {
		store_rollback(j->wr);
		return 0;
	}
	if (checkpoint_note(j, size, signers, n, root, &note, err,
	    errlen) < 0)
		goto fail;
	if (store_resign_checkpoint(j->wr, size, root, note) < 0 ||
	    store_commit(j->wr) < 0)
		goto fail_db;
	log_notice("journal: checkpoint %llu signed again by the keys now in"
	    " force", (unsigned long long)size);
	free(note);
	return 0;
fail_db:
	snprintf(err, errlen, "signing checkpoint again: %s",
	    store_errmsg(j->wr));
fail:
	free(note);
	store_rollback(j->wr);
	memset(j->cache, 0, CACHE_SLOTS * sizeof(*j->cache));
	return -1;
}

/*
 * The report row of a resubmission: among the entries of its period (the
 * loop's list when it came), the report entry with its hash. Writer.
 */
static int
find_report(struct journal *j, struct item *it)
{
	char sha[STORE_HEX_BUFSZ];

	memcpy(sha, it->rep.sha256, sizeof(sha));
	for (size_t k = 0; k < it->ncand; k++)
		if (store_report_at(j->wr, it->cand[k], &it->rep) == 0 &&
		    strcmp(sha, it->rep.sha256) == 0)
			return 0;
	memcpy(it->rep.sha256, sha, sizeof(sha));
	return -1;
}

/* Fills in every item's answer once g is durable. */
static void
answer_group(struct journal *j, struct group *g)
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

/*
 * After a commit, the writer decides about the log: nothing while it is
 * short; else the checkpoint thread copies it back while the writer goes
 * on, and when only a short tail is left the writer copies that itself
 * with a restart, so that the next commit writes the log from its start
 * (a log that only grows makes every sync slower). Writer thread.
 */
static void
wal_check(struct journal *j)
{
	uint64_t frames = store_wal_frames(j->wr), log, done;
	int restart = 0;

	pthread_mutex_lock(&j->mu);
	if (frames < j->wal_seen)
		j->ck_done = 0;		/* the log started over */
	j->wal_seen = frames;
	if (frames >= CKPT_PAGES && !j->ck_busy && j->ck != NULL) {
		if (j->ck_done > 0 && j->ck_done + CKPT_TAIL >= frames)
			restart = 1;
		else {
			j->ck_want = 1;
			pthread_cond_signal(&j->cv_ck);
		}
	}
	pthread_mutex_unlock(&j->mu);
	if (!restart)
		return;
	if (store_checkpoint_wal(j->wr, 1, &log, &done) < 0)
		log_warnx("journal: checkpoint of the write-ahead log: %s",
		    store_errmsg(j->wr));
	pthread_mutex_lock(&j->mu);
	j->ck_done = 0;
	pthread_mutex_unlock(&j->mu);
}

static void *
ckpt_main(void *arg)
{
	struct journal *j = arg;
	uint64_t log, done;
	int rc;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->ck_want && !j->quit)
			pthread_cond_wait(&j->cv_ck, &j->mu);
		if (j->quit)
			break;
		j->ck_want = 0;
		j->ck_busy = 1;
		pthread_mutex_unlock(&j->mu);
		rc = store_checkpoint_wal(j->ck, 0, &log, &done);
		if (rc < 0)
			log_warnx("journal: checkpoint of the write-ahead log:"
			    " %s", store_errmsg(j->ck));
		pthread_mutex_lock(&j->mu);
		j->ck_busy = 0;
		/* A pass that began before the log started over copies 0. */
		if (rc == 0 && done <= j->wal_seen)
			j->ck_done = done;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

static void *
writer_main(void *arg)
{
	struct journal *j = arg;
	struct group *g;
	uint64_t one = 1;
	int failed;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (j->todo == NULL && !j->quit)
			pthread_cond_wait(&j->cv_todo, &j->mu);
		g = j->todo;
		j->todo = NULL;
		pthread_mutex_unlock(&j->mu);
		if (g == NULL)
			break;
		if (g->nentries > 0 && write_group(j, g) < 0)
			g->failed = 1;
		else if (g->nentries == 0 && g->resign &&
		    resign_latest(j, g->signers, g->nsigners, g->why,
		    sizeof(g->why)) < 0)
			g->failed = 1;
		failed = g->failed;
		/*
		 * Committed: the sync thread syncs the log while the receipts
		 * are built here. It hands g back to the loop once both are
		 * done, and only then, so g's items are the writer's until it
		 * sets g->built.
		 */
		pthread_mutex_lock(&j->mu);
		g->next = NULL;
		*j->tosync_tail = g;
		j->tosync_tail = &g->next;
		pthread_cond_signal(&j->cv_sync);
		pthread_mutex_unlock(&j->mu);
		if (!failed)
			answer_group(j, g);
		/*
		 * The loop may give the next group; this one is the sync
		 * thread's (and the loop's once synced): not to be touched.
		 */
		pthread_mutex_lock(&j->mu);
		g->built = 1;
		j->writer_free = 1;
		pthread_cond_signal(&j->cv_sync);
		pthread_mutex_unlock(&j->mu);
		if (write(j->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("journal: waking the event loop");
		if (!failed)
			wal_check(j);
	}
	return NULL;
}

/*
 * The sync thread: the groups the writer committed are on disk once the
 * log is synced (store_defer_sync); one sync covers every group waiting,
 * while the writer builds their receipts and commits the next group. Once
 * synced and built, and only then, they go back to the loop, in order, to
 * be answered. A failed sync may have lost data that later syncs would not
 * bring back, so from then on every group fails until the daemon is
 * restarted (which replays what is on disk).
 */
static void *
sync_main(void *arg)
{
	struct journal *j = arg;
	struct group *list, *g;
	struct timespec t0, t1;
	uint64_t one = 1;
	double took;
	int need, rc = 0, failed;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (j->tosync == NULL && !j->quit)
			pthread_cond_wait(&j->cv_sync, &j->mu);
		list = j->tosync;
		j->tosync = NULL;
		j->tosync_tail = &j->tosync;
		failed = j->sync_failed;
		pthread_mutex_unlock(&j->mu);
		if (list == NULL)
			break;
		need = 0;
		for (g = list; g != NULL; g = g->next)
			need |= (g->nentries > 0 || g->resign) && !g->failed;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (need && !failed && (rc = store_sync(j->wr)) < 0) {
			log_warnx("journal: syncing the write-ahead log: %s;"
			    " nothing more is acknowledged until shanhaid is"
			    " restarted", strerror(-rc));
			failed = 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		took = (double)(t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9;
		/* The writer may still be building the last one's receipts. */
		pthread_mutex_lock(&j->mu);
		for (g = list; g != NULL; g = g->next)
			while (!g->built)
				pthread_cond_wait(&j->cv_sync, &j->mu);
		pthread_mutex_unlock(&j->mu);
		for (g = list; g != NULL; g = g->next) {
			g->write_s += took;
			g->commit_s += took;
			if (failed && !g->failed) {
				g->failed = 1;
				snprintf(g->why, sizeof(g->why), "the disk"
				    " failed to sync the write-ahead log; restart"
				    " shanhaid");
			}
		}
		pthread_mutex_lock(&j->mu);
		j->sync_failed |= failed;
		*j->fin_tail = list;
		for (g = list; g->next != NULL; g = g->next)
			;
		j->fin_tail = &g->next;
		pthread_cond_signal(&j->cv_finished);
		pthread_mutex_unlock(&j->mu);
		if (write(j->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("journal: waking the event loop");
	}
	return NULL;
}

/* ---- replay: the engine rebuilt from the store ---- */

/* A private copy of r, since the engine takes what it installs. */
static struct rules *
rules_copy(const struct rules *r, char *err, size_t errlen)
{
	char name[STORE_ID_BUFSZ + 16];

	snprintf(name, sizeof(name), "%s.conf", rules_get0_id(r));
	return rules_parse(rules_get0_text(r), name, err, errlen);
}

/*
 * The daemon's side of the replay (the replay module does the engine's):
 * the period map, and the `key` entries, which announce verifier keys.
 */
struct jreplay {
	struct replay		*rp;
	struct pmap		*periods;
	struct strset		*announced;
	const char		*origin;
	char			*err;
	size_t			 errlen;
	int			 refused;	/* err says why the walk stopped */
};

static const char *
json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * A `key` entry: exactly as the daemon writes it, announcing a verifier
 * key of this ledger's origin (the replay module's hook for other types).
 */
static int
replay_key(void *arg, uint64_t index, const char *body, size_t len,
    const json_t *e, char *err, size_t errlen)
{
	struct jreplay *jr = arg;
	const char *vkey = json_str(e, "key"), *stamp = json_str(e, "time"),
	    *type = json_str(e, "type");
	char msg[256], *again;
	size_t alen;
	int same;

	if (type == NULL || strcmp(type, "key") != 0) {
		snprintf(err, errlen, "entry %llu: a %s entry that no report "
		    "before it caused", (unsigned long long)index,
		    type ? type : "untyped");
		return -1;
	}
	if (note_key_entry_check(vkey, stamp, json_object_size(e), jr->origin,
	    msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "entry %llu: %s",
		    (unsigned long long)index, msg);
		return -1;
	}
	if ((again = key_entry_bytes(vkey, stamp, &alen, msg,
	    sizeof(msg))) == NULL) {
		snprintf(err, errlen, "entry %llu: %s",
		    (unsigned long long)index, msg);
		return -1;
	}
	same = alen == len && memcmp(again, body, len) == 0;
	free(again);
	if (!same) {
		snprintf(err, errlen, "entry %llu: key entry is not as the "
		    "daemon writes it", (unsigned long long)index);
		return -1;
	}
	if (strset_add(jr->announced, vkey) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
replay_stored(void *ctx, uint64_t index, const char *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	struct jreplay *jr = ctx;
	const struct settle_result *res;
	uint64_t at;

	(void)leaf;
	if (replay_entry(jr->rp, index, body, len, jr->err, jr->errlen) != 0) {
		jr->refused = 1;
		return -1;
	}
	if ((res = replay_get0_report(jr->rp, &at)) != NULL &&
	    pmap_add_result(jr->periods, res, at) < 0) {
		snprintf(jr->err, jr->errlen, "out of memory");
		jr->refused = 1;
		return -1;
	}
	return 0;
}

/*
 * A new engine holding the state the stored ledger describes, the map of
 * its periods into *periods and the keys its
 * `key` entries announce into *announced (all emptied first).
 */
static struct settle *
replay(struct store *s, const char *origin, const char *pagedir,
    struct pagefile **pages, uint64_t *size, struct pmap *periods,
    struct strset *announced, char *err, size_t errlen)
{
	struct jreplay jr = { .periods = periods, .announced = announced,
	    .origin = origin, .err = err, .errlen = errlen };
	struct settle_pager pg;
	struct settle *engine;
	char msg[512];
	int rc;

	*pages = NULL;
	if (store_size(s, size) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		return NULL;
	}
	if ((engine = settle_new()) == NULL ||
	    (jr.rp = replay_new(engine, replay_key, &jr)) == NULL) {
		settle_free(engine);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/*
	 * The engine's closed years go to an unlinked file beside the
	 * database: a cache of the engine's memory, rebuilt with it from the
	 * ledger (doc/DESIGN.md, Engine). Without one they stay in memory.
	 */
	if ((*pages = pagefile_new(pagedir, msg, sizeof(msg))) == NULL)
		log_warnx("journal: %s; closed years stay in memory", msg);
	else {
		pagefile_pager(*pages, 0, &pg);
		if (settle_set_pager(engine, &pg) < 0)
			fatalx("journal: a new engine refused its pager");
	}
	pmap_clear(periods);
	strset_clear(announced);
	rc = store_foreach(s, 0, *size, replay_stored, &jr);
	if (rc == 0)
		rc = replay_finish(jr.rp, err, errlen);
	else if (!jr.refused)
		snprintf(err, errlen, "%s", store_errmsg(s));
	replay_free(jr.rp);
	if (rc != 0) {
		settle_free(engine);
		pagefile_free(*pages);
		*pages = NULL;
		pmap_clear(periods);
		strset_clear(announced);
		return NULL;
	}
	return engine;
}

/* ---- rules ---- */

/* Does list hold agreement id? */
static int
list_has(const struct rules *const *list, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rules_get0_id(list[i]), id) == 0)
			return 1;
	return 0;
}

/*
 * msg without its leading "id: ": the engine's refusals name the agreement
 * already, and a caller that names it too would say it twice.
 */
static const char *
unprefixed(const char *msg, const char *id)
{
	size_t n = strlen(id);

	return strncmp(msg, id, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ' ?
	    msg + n + 2 : msg;
}

static int
rules_changed(const struct settle *e, const struct rules *r)
{
	const struct rules *old = settle_get0_rules(e, rules_get0_id(r));

	return old == NULL || strcmp(rules_get0_sha256(old),
	    rules_get0_sha256(r)) != 0;
}

int
journal_rules_check(struct journal *j, const struct rules *const *list,
    size_t n, char *err, size_t errlen)
{
	char msg[512];

	if (j->broken) {
		snprintf(err, errlen, "the ledger store is failing: %s",
		    j->broken_why);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!rules_changed(j->engine, list[i]))
			continue;
		if (settle_check_replace(j->engine, list[i], msg,
		    sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: %s", rules_get0_id(list[i]),
			    unprefixed(msg, rules_get0_id(list[i])));
			return -1;
		}
	}
	for (size_t i = 0; i < settle_rules_count(j->engine); i++) {
		const char *id = rules_get0_id(settle_get0_rules_at(j->engine, i));

		if (!list_has(list, n, id) &&
		    settle_check_remove(j->engine, id, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: %s", id, unprefixed(msg, id));
			return -1;
		}
	}
	return 0;
}

/* Installs a copy of r and queues its rules entry. */
static int
rules_put(struct journal *j, const struct rules *r, const char *stamp,
    char *err, size_t errlen)
{
	struct rules *mine;
	struct group *g;
	struct item *it;
	char *bytes;
	size_t len;

	if ((mine = rules_copy(r, err, errlen)) == NULL)
		return -1;
	if ((bytes = rules_entry_text(mine, stamp, &len, err, errlen)) == NULL) {
		rules_free(mine);
		return -1;
	}
	if (settle_install(j->engine, mine, err, errlen) < 0) {
		rules_free(mine);
		free(bytes);
		return -1;
	}
	/* The engine changed: from here a failure must rebuild it. */
	if ((g = journal_cur(j)) == NULL || (it = group_add_item(g)) == NULL ||
	    group_add_entry(j, g, bytes, len) < 0) {
		free(bytes);
		snprintf(err, errlen, "out of memory");
		return -2;
	}
	free(bytes);
	it->kind = ITEM_RULES;
	j->rules_upto = j->next;
	snprintf(it->rep.agreement, sizeof(it->rep.agreement), "%s",
	    rules_get0_id(r));
	snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
	    rules_get0_sha256(r));
	it->rep.index = j->next - 1;
	return 0;
}

static void	journal_fail_all(struct journal *, const char *);

int
journal_rules_apply(struct journal *j, const struct rules *const *list,
    size_t n, int strict, char *err, size_t errlen)
{
	char stamp[TIME_BUFSZ], msg[512];
	int rc;

	if (strict && journal_rules_check(j, list, n, err, errlen) < 0)
		return -1;
	if (j->broken) {
		snprintf(err, errlen, "the ledger store is failing: %s",
		    j->broken_why);
		return -1;
	}
	now_rfc3339(stamp);
	for (size_t i = 0; i < n; i++) {
		if (!rules_changed(j->engine, list[i]))
			continue;
		if (settle_check_replace(j->engine, list[i], msg,
		    sizeof(msg)) < 0) {
			log_warnx("rules %s: change refused, keeping the version"
			    " in the ledger: %s", rules_get0_id(list[i]),
			    unprefixed(msg, rules_get0_id(list[i])));
			continue;
		}
		if ((rc = rules_put(j, list[i], stamp, msg, sizeof(msg))) < 0) {
			snprintf(err, errlen, "%s: %s", rules_get0_id(list[i]),
			    msg);
			if (rc == -2)
				journal_fail_all(j, err);
			return -1;
		}
		log_info("rules %s: in force, sha256 %s", rules_get0_id(list[i]),
		    rules_get0_sha256(list[i]));
	}
	for (size_t i = 0; i < settle_rules_count(j->engine); ) {
		const char *id = rules_get0_id(settle_get0_rules_at(j->engine, i));

		if (list_has(list, n, id) ||
		    settle_check_remove(j->engine, id, msg, sizeof(msg)) < 0) {
			if (!list_has(list, n, id))
				log_warnx("rules %s: the file is gone, but its"
				    " periods settled; keeping it: %s", id,
				    unprefixed(msg, id));
			i++;
			continue;
		}
		log_info("rules %s: withdrawn", id);
		if (settle_remove(j->engine, id, msg, sizeof(msg)) < 0)
			i++;
	}
	journal_kick(j);
	return 0;
}

/* ---- keys: rotation (doc/DESIGN.md, "Key rotation") ---- */

/* How many key entries group g queues. */
static size_t
group_key_items(const struct group *g)
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
static void
keys_update(struct journal *j)
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
	now_rfc3339(stamp);
	if ((bytes = key_entry_bytes(vkey, stamp, &len, msg,
	    sizeof(msg))) == NULL || (g = journal_cur(j)) == NULL ||
	    group_add_entry(j, g, bytes, len) < 0) {
		log_warnx("journal: announcing the next key %s: out of memory",
		    vkey);
		free(bytes);
		free(vkey);
		return;
	}
	free(bytes);
	/* Without its item, the entry is still written, just not noted. */
	if ((it = group_add_item(g)) == NULL) {
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
		ok = rc == 0 && signed_by(note, key);
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
static int
keys_check(struct journal *j, const struct note_signer *running,
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
	return keys_check(j, j->key, key, next, j->committed, err, errlen);
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
	keys_update(j);
	journal_kick(j);
	return 0;
}

/* ---- the loop side of group commit ---- */

static void
journal_kick(struct journal *j)
{
	if (j->inflight != NULL)
		return;
	/* New keys sign the next checkpoint, or the latest again. */
	if (j->want_resign && !j->broken && journal_cur(j) != NULL) {
		j->cur->resign = 1;
		j->want_resign = 0;
	}
	if (j->cur == NULL || (j->cur->nitems == 0 && j->cur->nentries == 0 &&
	    !j->cur->resign))
		return;
	if (j->expect > 0) {
		if (j->cur->nitems < j->expect)
			return;		/* lingering: on_linger() ends it */
		j->expect = 0;
		event_del(j->linger);
	}
	j->inflight = j->cur;
	j->cur = NULL;
	j->inflight->nsigners = journal_signers(j, j->inflight->signers);
	j->outstanding++;
	j->out_items += j->inflight->nitems;
	j->out_keys += group_key_items(j->inflight);
	pthread_mutex_lock(&j->mu);
	j->todo = j->inflight;
	pthread_cond_signal(&j->cv_todo);
	pthread_mutex_unlock(&j->mu);
}

static void
answer_items(struct group *g, int code, const char *why)
{
	for (size_t i = 0; i < g->nitems; i++) {
		struct item *it = &g->items[i];

		if (it->done == NULL)
			continue;
		if (code != 0)
			it->done(it->arg, code, why, strlen(why));
		else
			it->done(it->arg, it->code, it->text, it->textlen);
	}
}

/*
 * The engine went ahead of the store (a commit failed, or memory ran out
 * after the engine accepted): answer everything queued 503 and rebuild the
 * engine from what is committed.
 */
static void
journal_restore(struct journal *j)
{
	struct rules **keep = NULL;
	struct settle *e;
	struct pagefile *pages;
	struct pmap periods = { 0 };
	struct strset announced = { 0 };
	size_t nkeep = 0;
	uint64_t size;
	char err[512];
	int sync_failed;

	pthread_mutex_lock(&j->mu);
	sync_failed = j->sync_failed;
	pthread_mutex_unlock(&j->mu);
	if (sync_failed) {
		/* The store may show what never reached the disk. */
		j->broken = 1;
		j->broken_at = time(NULL);
		snprintf(j->broken_why, sizeof(j->broken_why), "the disk failed"
		    " to sync the write-ahead log; restart shanhaid");
		/* Nothing more commits: the held period reads end now. */
		wake_waiters(j);
		return;
	}
	if ((e = replay(j->rd, j->origin, j->state_dir, &pages, &size,
	    &periods, &announced, err, sizeof(err))) == NULL) {
		j->broken = 1;
		j->broken_at = time(NULL);
		snprintf(j->broken_why, sizeof(j->broken_why), "%s", err);
		log_warnx("journal: cannot rebuild the engine from the store:"
		    " %s", err);
		wake_waiters(j);
		return;
	}
	/* The agreements that were in force stay so, as new rules entries. */
	nkeep = settle_rules_count(j->engine);
	if (nkeep > 0 && (keep = calloc(nkeep, sizeof(*keep))) == NULL)
		nkeep = 0;
	for (size_t i = 0; i < nkeep; i++)
		keep[i] = (struct rules *)settle_get0_rules_at(j->engine, i);
	{
		struct settle *old = j->engine;
		struct pagefile *oldpages = j->pages;

		j->engine = e;
		j->pages = pages;
		pmap_clear(&j->periods);
		j->periods = periods;
		strset_clear(&j->announced);
		j->announced = announced;
		j->next = size;
		j->committed = size;
		j->rules_upto = 0;
		j->broken = 0;
		if (journal_rules_apply(j, (const struct rules *const *)keep,
		    nkeep, 0, err, sizeof(err)) < 0)
			log_warnx("journal: rules after rebuilding: %s", err);
		settle_free(old);
		pagefile_free(oldpages);
		/* A key entry lost with the failed group is queued again. */
		keys_update(j);
	}
	free(keep);
	log_notice("journal: engine rebuilt from the store at %llu %s",
	    (unsigned long long)size, size == 1 ? "entry" : "entries");
	wake_waiters(j);
}

static void
journal_fail_all(struct journal *j, const char *why)
{
	struct group *g = j->cur;

	j->cur = NULL;
	log_warnx("journal: nothing queued was committed: %s", why);
	if (g != NULL) {
		answer_items(g, 503, why);
		group_free(g);
	}
	j->broken = 1;
	j->broken_at = time(NULL);
	snprintf(j->broken_why, sizeof(j->broken_why), "%s", why);
	if (j->outstanding == 0)
		journal_restore(j);
	else {
		/*
		 * Restored when the last group out comes back; until then
		 * nothing the period reads wait for may commit: they end now.
		 */
		wake_waiters(j);
	}
}

/*
 * The group policy's measures: the COMMIT of g, and the loop's CPU per
 * submission since the last measure (both as moving averages).
 */
static void
measure(struct journal *j, const struct group *g)
{
	struct timespec now;
	double cpu;

	if (g->nentries > 0)
		j->commit_ema += EMA_NEW * (g->commit_s - j->commit_ema);
	if (j->submits < 8 ||
	    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) < 0)
		return;
	cpu = (double)(now.tv_sec - j->cpu_mark.tv_sec) +
	    (now.tv_nsec - j->cpu_mark.tv_nsec) / 1e9;
	if (j->cpu_mark.tv_sec != 0 || j->cpu_mark.tv_nsec != 0)
		j->loop_ema += EMA_NEW * (cpu / (double)j->submits -
		    j->loop_ema);
	j->cpu_mark = now;
	j->submits = 0;
}

/* g is on disk (or failed): answer its items and go on. */
static void
journal_finish(struct journal *j, struct group *g)
{
	j->outstanding--;
	j->out_items -= g->nitems;
	j->out_keys -= group_key_items(g);
	/* The writer is done with g: no one holds a replaced key now. */
	retired_free(j);
	if (g->failed) {
		char why[300];

		snprintf(why, sizeof(why), "the ledger could not be committed:"
		    " %s", g->why);
		answer_items(g, 503, why);
		group_free(g);
		journal_fail_all(j, why);
		journal_kick(j);
		return;
	}
	j->committed = g->first + g->nentries;
	measure(j, g);
	for (size_t i = 0; i < g->nitems; i++)
		if (g->items[i].kind == ITEM_KEY && g->items[i].text != NULL &&
		    strset_add(&j->announced, g->items[i].text) < 0)
			log_warnx("journal: out of memory noting an announced"
			    " key");
	if (j->broken) {
		if (j->outstanding == 0)
			journal_restore(j);
	} else if (g->nitems > 1) {
		/*
		 * Under load, the clients just answered come back, and the
		 * next group waits for them: for all of them while a COMMIT
		 * costs more than the loop's work for everyone (the disk is
		 * the limit: one group carries all), else for half (the CPU
		 * is: the other half fills while this one commits, so the
		 * loop and the writer work side by side). Never longer than
		 * the loop's work for all, within LINGER_USEC..LINGER_MAX_USEC.
		 */
		size_t all = (j->cur ? j->cur->nitems : 0) + g->nitems;
		double loop_all = j->loop_ema * (double)all;
		long usec = (long)(2e6 * loop_all);
		struct timeval tv = { 0, 0 };

		j->expect = j->commit_ema > loop_all ? all : (all + 1) / 2;
		if (usec < LINGER_USEC)
			usec = LINGER_USEC;
		if (usec > LINGER_MAX_USEC)
			usec = LINGER_MAX_USEC;
		tv.tv_usec = usec;
		event_add(j->linger, &tv);
	}
	/* A next key just announced signs the next group. */
	if (!j->broken)
		keys_update(j);
	/* The writer first, then the answers: they overlap. */
	journal_kick(j);
	if (j->observe != NULL && g->nentries > 0) {
		size_t reports = 0;

		for (size_t i = 0; i < g->nitems; i++)
			reports += g->items[i].kind == ITEM_REPORT ||
			    g->items[i].kind == ITEM_DUPLICATE;
		j->observe(j->observe_arg, reports, g->nentries, g->write_s,
		    g->commit_s);
	}
	if (j->on_commit != NULL && g->nentries > 0)
		j->on_commit(j->on_commit_arg, j->committed);
	answer_items(g, 0, NULL);
	group_free(g);
	wake_waiters(j);
}

static void
on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;

	(void)fd;
	(void)what;
	j->expect = 0;
	journal_kick(j);
}

/*
 * What the threads handed back: the groups on disk, in order; and the
 * writer is free for the next group once it says so. Under j->mu.
 */
static struct group *
take_finished_locked(struct journal *j)
{
	struct group *g = j->finished;

	j->finished = NULL;
	j->fin_tail = &j->finished;
	if (j->writer_free) {
		j->writer_free = 0;
		j->inflight = NULL;
	}
	return g;
}

static struct group *
take_finished(struct journal *j)
{
	struct group *g;

	pthread_mutex_lock(&j->mu);
	g = take_finished_locked(j);
	pthread_mutex_unlock(&j->mu);
	return g;
}

/* Finishes a list of groups in order; returns whether any failed. */
static int
finish_list(struct journal *j, struct group *g)
{
	int failed = 0;

	while (g != NULL) {
		struct group *next = g->next;

		failed |= g->failed;
		journal_finish(j, g);
		g = next;
	}
	return failed;
}

static void
on_writer(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;
	struct group *g;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("journal: eventfd");
	g = take_finished(j);
	finish_list(j, g);
	journal_kick(j);
}

int
journal_flush(struct journal *j)
{
	int failed = 0;

	j->expect = 0;
	journal_kick(j);
	while (j->outstanding > 0) {
		struct group *g;

		pthread_mutex_lock(&j->mu);
		while (j->finished == NULL)
			pthread_cond_wait(&j->cv_finished, &j->mu);
		g = take_finished_locked(j);
		pthread_mutex_unlock(&j->mu);
		failed |= finish_list(j, g);
		j->expect = 0;
		journal_kick(j);
	}
	return failed || j->broken ? -1 : 0;
}

void
journal_set_observer(struct journal *j, journal_observe_fn *fn, void *arg)
{
	j->observe = fn;
	j->observe_arg = arg;
}

void
journal_set_commit_hook(struct journal *j, journal_commit_fn *fn, void *arg)
{
	j->on_commit = fn;
	j->on_commit_arg = arg;
}

const struct settle *
journal_get0_engine(const struct journal *j)
{
	return j->engine;
}

size_t
journal_pending(const struct journal *j)
{
	size_t n = 0;

	if (j->cur != NULL)
		n += j->cur->nitems;
	return n + j->out_items;
}

/* ---- submissions ---- */

/* Queues the entries of an accepted report and the item that waits. */
static int
queue_report(struct journal *j, struct settle_result *res,
    journal_done_fn *done, void *arg)
{
	size_t count = settle_result_count(res);
	const char *report_id = settle_result_report_id(res);
	struct group *g;
	struct item *it;

	if (count == 0 || report_id[0] == '\0')
		return -1;
	if ((g = journal_cur(j)) == NULL || (it = group_add_item(g)) == NULL)
		return -1;
	it->kind = ITEM_REPORT;
	it->done = done;
	it->arg = arg;
	snprintf(it->rep.agreement, sizeof(it->rep.agreement), "%s",
	    settle_result_agreement(res));
	snprintf(it->rep.role, sizeof(it->rep.role), "%s",
	    settle_result_role(res));
	snprintf(it->rep.report_id, sizeof(it->rep.report_id), "%s",
	    report_id);
	snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
	    settle_result_hash(res));
	snprintf(it->rep.status, sizeof(it->rep.status), "%s",
	    settle_status_name(settle_result_status(res)));
	it->rep.index = j->next;
	it->rep.count = count;
	if (pmap_add_result(&j->periods, res, it->rep.index) < 0) {
		it->done = NULL;
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *body;
		size_t len;

		body = settle_result_entry(res, i, &len);
		if (group_add_entry(j, g, body, len) < 0) {
			/* The caller answers; the item must not. */
			it->done = NULL;
			return -1;
		}
	}
	return 0;
}

int
journal_submit(struct journal *j, const char *body, size_t len,
    const char *const *sides, size_t nsides, const char *submitter,
    journal_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct settle_result *res = NULL;
	char stamp[TIME_BUFSZ];
	const struct pnode *n;
	struct group *g;
	struct item *it;
	int code;

	j->submits++;
	if (j->broken && j->outstanding == 0 &&
	    time(NULL) - j->broken_at >= RESTORE_EVERY)
		journal_restore(j);
	if (j->broken) {
		snprintf(err, errlen, "the ledger store is failing: %s",
		    j->broken_why);
		return 503;
	}
	now_rfc3339(stamp);
	code = settle_submit(j->engine, body, len, sides, nsides, stamp,
	    submitter, &res, err, errlen);
	if (code < 0) {
		/* Half a report in the engine: rebuild it from the store. */
		if (settle_broken(j->engine))
			journal_fail_all(j, err);
		return -code;
	}
	if (code == SETTLE_DUPLICATE) {
		if ((g = journal_cur(j)) == NULL ||
		    (it = group_add_item(g)) == NULL) {
			settle_result_free(res);
			snprintf(err, errlen, "out of memory");
			return 503;
		}
		it->kind = ITEM_DUPLICATE;
		it->done = done;
		it->arg = arg;
		snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
		    settle_result_hash(res));
		/* The writer finds the report among its period's entries. */
		n = pmap_find(&j->periods, settle_result_agreement(res),
		    settle_result_period(res));
		if (n != NULL && (it->cand = malloc(n->n *
		    sizeof(*it->cand))) != NULL) {
			memcpy(it->cand, pnode_v(n), n->n * sizeof(*it->cand));
			it->ncand = n->n;
		}	/* else answered 500 */
	} else if (queue_report(j, res, done, arg) < 0) {
		settle_result_free(res);
		snprintf(err, errlen, "out of memory");
		journal_fail_all(j, err);
		return 503;
	}
	settle_result_free(res);
	journal_kick(j);
	return 0;
}

/*
 * Approves a year's statement (SPEC §5a) as journal_submit() submits a
 * report: the approval entry is queued and done() answers with its receipt
 * once it is durable; a repeat is answered with the first receipt.
 */
int
journal_approve(struct journal *j, const char *agreement, const char *year,
    const char *body, size_t len, const char *const *sides, size_t nsides,
    const char *submitter, journal_done_fn *done, void *arg, char *err,
    size_t errlen)
{
	struct settle_result *res = NULL;
	char stamp[TIME_BUFSZ];
	const char *e;
	struct group *g;
	struct item *it;
	size_t elen;
	int code;

	if (j->broken) {
		snprintf(err, errlen, "the ledger store is failing: %s",
		    j->broken_why);
		return 503;
	}
	now_rfc3339(stamp);
	code = settle_approve(j->engine, agreement, year, body, len, sides,
	    nsides, stamp, submitter, j->next, &res, err, errlen);
	if (code < 0)
		return -code;
	if ((g = journal_cur(j)) == NULL || (it = group_add_item(g)) == NULL) {
		settle_result_free(res);
		snprintf(err, errlen, "out of memory");
		if (code == SETTLE_ACCEPTED)
			journal_fail_all(j, err);
		return 503;
	}
	it->done = done;
	it->arg = arg;
	snprintf(it->rep.agreement, sizeof(it->rep.agreement), "%s", agreement);
	snprintf(it->rep.role, sizeof(it->rep.role), "%s",
	    settle_result_role(res));
	snprintf(it->rep.report_id, sizeof(it->rep.report_id), "@approval/%s",
	    settle_result_period(res));
	snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
	    settle_result_hash(res));
	snprintf(it->rep.status, sizeof(it->rep.status), "%s",
	    settle_result_status_text(res));
	if (code == SETTLE_DUPLICATE) {
		it->kind = ITEM_DUPLICATE;
		if ((it->cand = malloc(sizeof(*it->cand))) != NULL) {
			it->cand[0] = settle_result_first_index(res);
			it->ncand = 1;
		}	/* else answered 500 */
	} else {
		it->kind = ITEM_REPORT;
		it->rep.index = j->next;
		it->rep.count = 1;
		e = settle_result_entry(res, 0, &elen);
		if (group_add_entry(j, g, e, elen) < 0) {
			it->done = NULL;
			settle_result_free(res);
			snprintf(err, errlen, "out of memory");
			journal_fail_all(j, err);
			return 503;
		}
	}
	settle_result_free(res);
	journal_kick(j);
	return 0;
}

int
journal_year_model(struct journal *j, const char *agreement,
    const char *year, json_t **out, char *err, size_t errlen)
{
	json_t *cp = NULL;
	char *note = NULL;
	int code;

	/* The latest checkpoint covers every entry the statement reflects. */
	if (journal_checkpoint(j, &note, err, errlen) == 0)
		cp = statement_checkpoint(note);
	free(note);
	*out = statement_model(j->engine, agreement, year, cp, &code, err,
	    errlen);
	json_decref(cp);
	return *out == NULL ? -code : 0;
}

struct event_base *
journal_get0_base(const struct journal *j)
{
	return j->base;
}

int
journal_year(struct journal *j, const char *agreement, const char *year,
    json_t **out, char *err, size_t errlen)
{
	int code;

	if ((*out = settle_year_json(j->engine, agreement, year, &code, err,
	    errlen)) == NULL)
		return -code;
	return 0;
}

/* ---- open and close ---- */

/*
 * Makes sure the ledger has a checkpoint covering all of it, signed by the
 * keys in force (at open; a new signing of the latest when the keys
 * changed since it was signed).
 */
static int
cover_ledger(struct journal *j, uint64_t size, char *err, size_t errlen)
{
	struct note_signer *signers[JOURNAL_MAX_SIGNERS];
	size_t n = journal_signers(j, signers);
	uint64_t cps;
	char *note = NULL, msg[400];
	int rc;

	rc = store_latest_checkpoint(j->wr, &cps, NULL);
	if (rc == 0 && cps == size) {
		if (resign_latest(j, signers, n, err, errlen) < 0)
			return -1;
		if (store_checkpoint(j->wr, size, &note) < 0) {
			snprintf(err, errlen, "%s", store_errmsg(j->wr));
			return -1;
		}
		j->cp_size = cps;
		j->cp_note = note;
		return 0;
	}
	if (rc < 0 && rc != STORE_ENOENT) {
		snprintf(err, errlen, "%s", store_errmsg(j->wr));
		return -1;
	}
	if (store_begin(j->wr) < 0 ||
	    sign_checkpoint(j, size, signers, n, &note, msg, sizeof(msg)) < 0 ||
	    store_commit(j->wr) < 0) {
		snprintf(err, errlen, "signing a checkpoint of size %llu: %s",
		    (unsigned long long)size, note ? store_errmsg(j->wr) : msg);
		free(note);
		store_rollback(j->wr);
		return -1;
	}
	j->cp_size = size;
	j->cp_note = note;
	return 0;
}

/* The ledger's origin is fixed by the first start. */
static int
check_origin(struct journal *j, char *err, size_t errlen)
{
	char *have = NULL;
	int rc = store_meta(j->rd, "origin", &have);

	if (rc == STORE_ENOENT) {
		if (store_put_meta(j->wr, "origin", j->origin) == 0)
			return 0;
		snprintf(err, errlen, "%s", store_errmsg(j->wr));
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", store_errmsg(j->rd));
		return -1;
	}
	rc = strcmp(have, j->origin) == 0 ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "the ledger here is the one of origin"
		    " \"%s\", not \"%s\" (ledger.origin)", have, j->origin);
	free(have);
	return rc;
}

/*
 * Starts one of the journal's threads, fn(j), and names it (for top -H,
 * ps -L and the benchmark's CPU split); sets *started. 0, or -1 with the
 * reason, which says what thread.
 */
static int
thread_start(struct journal *j, pthread_t *t, int *started,
    void *(*fn)(void *), const char *what, const char *name, char *err,
    size_t errlen)
{
	int rc;

	/* pthread_create returns its error; errno is not set. */
	if ((rc = pthread_create(t, NULL, fn, j)) != 0) {
		snprintf(err, errlen, "journal: %s thread: %s", what,
		    strerror(rc));
		return -1;
	}
	*started = 1;
	(void)pthread_setname_np(*t, name);
	return 0;
}

/* Tells the threads to quit, wakes the one waiting on cv and joins it. */
static void
thread_stop(struct journal *j, pthread_t t, pthread_cond_t *cv)
{
	pthread_mutex_lock(&j->mu);
	j->quit = 1;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(t, NULL);
}

struct journal *
journal_open(struct event_base *base, const char *state_dir,
    const char *origin, struct note_signer *key, struct note_signer *next,
    struct note_signer *sm2, char *err, size_t errlen)
{
	struct journal *j;
	char path[PATH_MAX], msg[512];
	uint64_t size;
	int rc = 0;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "out of memory");
		note_signer_free(key);
		note_signer_free(next);
		note_signer_free(sm2);
		return NULL;
	}
	/* Ours from here; checked once the ledger is read. */
	j->key = key;
	j->nextkey = next;
	j->sm2 = sm2;
	j->efd = -1;
	j->base = base;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv_todo, NULL);
	pthread_cond_init(&j->cv_finished, NULL);
	pthread_cond_init(&j->cv_ck, NULL);
	pthread_cond_init(&j->cv_sync, NULL);
	j->tosync_tail = &j->tosync;
	j->fin_tail = &j->finished;
	if ((j->origin = strdup(origin)) == NULL ||
	    (j->cache = calloc(CACHE_SLOTS, sizeof(*j->cache))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "state_dir %s: %s", state_dir,
		    strerror(errno));
		goto fail;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
	    DB_NAME) >= sizeof(path)) {
		snprintf(err, errlen, "state_dir %s: path too long", state_dir);
		goto fail;
	}
	if ((j->rd = store_open(path, err, errlen)) == NULL ||
	    (j->wr = store_open(path, err, errlen)) == NULL ||
	    (j->ck = store_open(path, err, errlen)) == NULL)
		goto fail;
	store_wal_manual(j->wr);
	if (check_origin(j, err, errlen) < 0)
		goto fail;
	if ((j->state_dir = strdup(state_dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((j->engine = replay(j->rd, j->origin, j->state_dir, &j->pages,
	    &size, &j->periods, &j->announced, msg,
	    sizeof(msg))) == NULL) {
		snprintf(err, errlen, "%s: replaying the ledger: %s", path, msg);
		goto fail;
	}
	j->next = size;
	j->committed = size;
	if (keys_check(j, NULL, key, next, size, err, errlen) < 0)
		goto fail;
	keys_update(j);
	if (cover_ledger(j, size, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		goto fail;
	}
	/*
	 * From here COMMIT returns before the log is synced; sync_main syncs
	 * it before anything is answered. Whatever a killed daemon left
	 * written but not synced is synced now, before it is served.
	 */
	if (store_defer_sync(j->wr) < 0 || (rc = store_sync(j->wr)) < 0) {
		snprintf(err, errlen, "%s: %s", path, rc < 0 ? strerror(-rc) :
		    store_errmsg(j->wr));
		goto fail;
	}
	if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (j->ev = event_new(base, j->efd, EV_READ | EV_PERSIST, on_writer,
	    j)) == NULL || event_add(j->ev, NULL) < 0 ||
	    (j->linger = evtimer_new(base, on_linger, j)) == NULL) {
		snprintf(err, errlen, "journal: eventfd: %s", strerror(errno));
		goto fail;
	}
	/*
	 * The writer last: a group it commits is answered only through the
	 * sync thread, so once the writer runs the others must (journal_free
	 * waits for the writer's groups to come back).
	 */
	if (thread_start(j, &j->sy_thread, &j->sy_started, sync_main,
	    "sync", "shanhai-sync", err, errlen) < 0 ||
	    thread_start(j, &j->ck_thread, &j->ck_started, ckpt_main,
	    "checkpoint", "shanhai-walckpt", err, errlen) < 0 ||
	    thread_start(j, &j->thread, &j->thread_started, writer_main,
	    "writer", "shanhai-writer", err, errlen) < 0)
		goto fail;
	store_set_busy_timeout(j->rd, RD_BUSY_MS);
	log_info("journal: %s: %llu %s, checkpoint %llu", path,
	    (unsigned long long)size, size == 1 ? "entry" : "entries",
	    (unsigned long long)j->cp_size);
	{
		struct settle_pager_stats ps;

		settle_pager_stats(j->engine, &ps);
		log_info("journal: engine: %zu fiscal years in memory, %zu "
		    "paged out to %s", ps.resident, ps.paged_out, j->pages ?
		    "a page file in the state folder" : "nowhere (no page file)");
	}
	journal_kick(j);
	return j;
fail:
	journal_free(j);
	return NULL;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->thread_started) {
		/* Groups come back only through the sync thread. */
		if (j->sy_started)
			(void)journal_flush(j);
		thread_stop(j, j->thread, &j->cv_todo);
	}
	while (j->waiters != NULL) {
		struct pwait *w = j->waiters;

		j->waiters = w->next;
		w->ready(j, w->arg, 0);
		free(w);
	}
	if (j->sy_started)
		thread_stop(j, j->sy_thread, &j->cv_sync);
	if (j->ck_started)
		thread_stop(j, j->ck_thread, &j->cv_ck);
	group_free(j->cur);
	group_free(j->inflight);
	while (j->finished != NULL) {
		struct group *g = j->finished;

		j->finished = g->next;
		group_free(g);
	}
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->linger != NULL)
		event_free(j->linger);
	if (j->efd >= 0)
		close(j->efd);
	store_close(j->ck);
	store_close(j->rd);
	store_close(j->wr);
	settle_free(j->engine);
	pagefile_free(j->pages);
	free(j->state_dir);
	pmap_clear(&j->periods);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv_todo);
	pthread_cond_destroy(&j->cv_finished);
	pthread_cond_destroy(&j->cv_ck);
	pthread_cond_destroy(&j->cv_sync);
	free(j->cache);
	note_signer_free(j->key);
	note_signer_free(j->nextkey);
	note_signer_free(j->sm2);
	for (size_t i = 0; i < j->nretired; i++)
		note_signer_free(j->retired[i]);
	free(j->retired);
	strset_clear(&j->announced);
	free(j->cp_note);
	free(j->origin);
	free(j);
}

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

int
journal_period(struct journal *j, const char *agreement, const char *period,
    json_t **out, char *err, size_t errlen)
{
	const struct pnode *n;
	json_t *o, *arr;

	if (settle_get0_rules(j->engine, agreement) == NULL) {
		snprintf(err, errlen, "agreement: no agreement \"%s\" is in"
		    " force", agreement);
		return 404;
	}
	if (settle_period_load(j->engine, agreement, period, err, errlen) < 0)
		return 503;
	if ((o = settle_period_json(j->engine, agreement, period, err,
	    errlen)) == NULL)
		return 400;
	if ((arr = json_array()) == NULL) {
		json_decref(o);
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	/* Only what is on disk: queued entries are not in the ledger yet. */
	if ((n = pmap_find(&j->periods, agreement, period)) != NULL) {
		const uint64_t *v = pnode_v(n);

		for (size_t i = 0; i < n->n && v[i] < j->committed; i++)
			json_array_append_new(arr, json_integer((json_int_t)v[i]));
	}
	json_object_set_new(o, "entries", arr);
	*out = o;
	return 0;
}

/*
 * How far the ledger must be committed before the period's state in the
 * engine is all on disk: past its last entry (report, dispute, adjustment,
 * settlement) and past any queued rules entry (a term may change); 0 when
 * it is already.
 */
static uint64_t
period_pending(const struct journal *j, const char *agreement,
    const char *period)
{
	const struct pnode *n = pmap_find(&j->periods, agreement, period);
	uint64_t upto = j->rules_upto > j->committed ? j->rules_upto : 0;
	uint64_t last;

	if (n != NULL && n->n > 0 && (last = pnode_v(n)[n->n - 1]) >=
	    j->committed && last + 1 > upto)
		upto = last + 1;
	return upto;
}

/* After a commit or a rebuild: the held reads whose periods are on disk. */
static void
wake_waiters(struct journal *j)
{
	struct pwait *w, **pp = &j->waiters, *ready = NULL;

	while ((w = *pp) != NULL) {
		if (!j->broken && (w->period[0] == '\0' ? j->committed <
		    w->upto : period_pending(j, w->agreement, w->period) != 0)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = ready;
		ready = w;
	}
	while ((w = ready) != NULL) {
		ready = w->next;
		w->ready(j, w->arg, !j->broken);
		free(w);
	}
	if (j->waiters != NULL)
		journal_kick(j);
}

void
journal_when_committed(struct journal *j, const char *agreement,
    const char *period, journal_ready_fn *ready, void *arg)
{
	size_t la = strlen(agreement), lp = period ? strlen(period) : 0;
	struct pwait *w;

	if (j->broken || (period == NULL ? j->committed >= j->next :
	    period_pending(j, agreement, period) == 0)) {
		ready(j, arg, !j->broken);
		return;
	}
	if ((w = malloc(sizeof(*w) + la + lp + 2)) == NULL) {
		ready(j, arg, 0);
		return;
	}
	w->ready = ready;
	w->arg = arg;
	memcpy(w->agreement, agreement, la + 1);
	w->period = w->agreement + la + 1;
	memcpy(w->period, period ? period : "", lp + 1);
	w->upto = j->next;
	w->next = j->waiters;
	j->waiters = w;
	journal_kick(j);	/* a group still filling goes now */
}
