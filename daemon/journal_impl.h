/*
 * journal_impl: the inside of the journal, shared by its files (and
 * nothing else; everyone else uses include/shanhai/journal.h):
 *
 *   journal.c          submissions (reports, approvals), open and close
 *   journal_commit.c   the loop side of group commit: groups, hand-over to
 *                      the writer, answers, failure and rebuild
 *   journal_write.c    the writer thread: a group's transaction, the
 *                      checkpoint it signs, its hash cache
 *   journal_sync.c     the sync thread and the WAL checkpoint thread
 *   journal_receipt.c  receipts (tlog-proofs), built by the writer
 *   journal_replay.c   the engine rebuilt from the store (core/replay.c)
 *   journal_rules.c    agreements checked, installed, their rules entries
 *   journal_rotate.c   ledger keys: rotation, announcements
 *   journal_period.c   the period map, period reads held for a commit
 *   journal_read.c     reads of the committed ledger (entries, proofs)
 *
 * Functions shared between these files carry the prefix jn_, or journal_
 * for those that act on the journal as a whole (journal_kick(), ...).
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
#ifndef SHANHAI_JOURNAL_IMPL_H
#define SHANHAI_JOURNAL_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/util.h>

#include "shanhai/journal.h"
#include "shanhai/merkle.h"
#include "shanhai/rules.h"
#include "shanhai/store.h"

struct event;
struct pagefile;
struct settle;
struct settle_result;

#define DB_NAME		JOURNAL_DB_NAME
#define TIME_BUFSZ	32
/* Direct-mapped cache of subtree hashes for the writer: 2^16 slots. */
#define CACHE_BITS	16
#define CACHE_SLOTS	(1u << CACHE_BITS)

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
	size_t			 ncand;	/* (none: its period's entries) */
	char			 period[RULES_PERIOD_BUFSZ];	/* DUPLICATE */
	int			 code;	/* the answer, set by the writer */
	char			*text;
	size_t			 textlen;
};

struct gentry {
	char	*body;
	size_t	 len;
	/* A report's entry: the period it concerns ("" none), its item. */
	char	 period[RULES_PERIOD_BUFSZ];
	size_t	 item;
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
 * "agreement/period" -> the last entry that concerns it (report, dispute,
 * adjustment, settlement), for the periods with an entry not yet on disk
 * only: what a period read waits for (journal_when_committed()). A node
 * goes once its last entry is committed, so the map is empty when the
 * writer is idle; the committed entries of every period are in the
 * store's period index (doc/DESIGN.md, Group commit).
 */
struct pnode {
	struct pnode	*next;
	uint64_t	 last;
	char		 key[];
};

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
	struct pmap		 periods;	/* period -> last entry queued */
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

/* journal.c */
void		 jn_now_rfc3339(char buf[TIME_BUFSZ]);

/* journal_commit.c */
struct group	*journal_cur(struct journal *);
void		 journal_kick(struct journal *);
void		 journal_fail_all(struct journal *, const char *why);
void		 journal_restore(struct journal *);
void		 jn_group_free(struct group *);
struct item	*jn_group_add_item(struct group *);
int		 jn_group_add_entry(struct journal *, struct group *,
		    const char *body, size_t len);
void		 jn_on_linger(evutil_socket_t, short, void *);
void		 jn_on_writer(evutil_socket_t, short, void *);

/* journal_write.c */
void		*jn_writer_main(void *);
int		 jn_cache_get(void *ctx, unsigned level, uint64_t index,
		    unsigned char out[MERKLE_HASH_SIZE]);
int		 jn_sign_checkpoint(struct journal *, uint64_t size,
		    struct note_signer *const *signers, size_t n, char **note,
		    char *err, size_t errlen);
int		 jn_resign_latest(struct journal *,
		    struct note_signer *const *signers, size_t n, char *err,
		    size_t errlen);

/* journal_sync.c */
void		*jn_sync_main(void *);
void		*jn_ckpt_main(void *);
void		 jn_wal_check(struct journal *);

/* journal_receipt.c */
void		 jn_answer_group(struct journal *, struct group *);

/* journal_replay.c */
struct settle	*jn_replay(struct store *, struct store *indexer,
		    const char *origin, const char *pagedir,
		    struct pagefile **pages, uint64_t *size,
		    struct strset *announced, char *err, size_t errlen);

/* journal_rotate.c */
size_t		 journal_signers(const struct journal *,
		    struct note_signer *out[JOURNAL_MAX_SIGNERS]);
void		 jn_keys_update(struct journal *);
int		 jn_keys_check(struct journal *,
		    const struct note_signer *running,
		    const struct note_signer *key,
		    const struct note_signer *next, uint64_t size, char *err,
		    size_t errlen);
void		 jn_retired_free(struct journal *);
size_t		 jn_group_key_items(const struct group *);
int		 jn_signed_by(const char *note, const struct note_signer *);
char		*jn_key_entry_bytes(const char *vkey, const char *stamp,
		    size_t *len, char *err, size_t errlen);
int		 jn_strset_add(struct strset *, const char *);
void		 jn_strset_clear(struct strset *);

/* journal_period.c */
void		 jn_pmap_clear(struct pmap *);
int		 jn_pmap_add_result(struct pmap *,
		    const struct settle_result *, uint64_t first);
void		 jn_pmap_committed(struct journal *, const struct group *);
void		 jn_wake_waiters(struct journal *);

#endif
