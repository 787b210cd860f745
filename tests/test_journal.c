/*
 * test_journal: group commit, receipts, idempotent resubmission, restart by
 * replay, the rules veto, and a failed commit (through a link-time seam on
 * store_commit) answered 503 with the engine rebuilt from the store. More
 * seams: store_sync (held: nothing is answered before the log is synced;
 * failed: held period reads end) and pthread_create (a thread that does
 * not start).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "shanhai/canon.h"
#include "shanhai/journal.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/rules.h"
#include "shanhai/store.h"

#define CASE	"tests/cases/example-kecheng-yuhang-2026"
#define ORIGIN	"test.example/shanhai"

/* The seam: when set, the next COMMITs fail as a full disk would. */
static int fail_commits;
int __real_store_commit(struct store *);
int __wrap_store_commit(struct store *s);

int
__wrap_store_commit(struct store *s)
{
	if (fail_commits > 0) {
		fail_commits--;
		return STORE_EIO;
	}
	return __real_store_commit(s);
}

/*
 * The sync seam, shared with the journal's sync thread under sync_mu:
 * while hold_syncs is set a store_sync() waits (syncs_entered counts the
 * calls); fail_syncs makes the next ones fail as a disk would (-EIO).
 */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cv = PTHREAD_COND_INITIALIZER;
static int hold_syncs, syncs_entered, fail_syncs;
int __real_store_sync(const struct store *);
int __wrap_store_sync(const struct store *s);

int
__wrap_store_sync(const struct store *s)
{
	int fail = 0;

	pthread_mutex_lock(&sync_mu);
	syncs_entered++;
	pthread_cond_broadcast(&sync_cv);
	while (hold_syncs)
		pthread_cond_wait(&sync_cv, &sync_mu);
	if (fail_syncs > 0) {
		fail_syncs--;
		fail = 1;
	}
	pthread_mutex_unlock(&sync_mu);
	return fail ? -EIO : __real_store_sync(s);
}

/* Waits up to 5 s for a store_sync() call after the first `seen`. */
static int
sync_entered_after(int seen)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&sync_mu);
	while (syncs_entered <= seen && rc == 0)
		rc = pthread_cond_timedwait(&sync_cv, &sync_mu, &until);
	rc = syncs_entered > seen;
	pthread_mutex_unlock(&sync_mu);
	return rc;
}

static void
sync_hold(int on)
{
	pthread_mutex_lock(&sync_mu);
	hold_syncs = on;
	pthread_cond_broadcast(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
}

/*
 * The thread seam: the fail_thread-th pthread_create() from now fails with
 * EAGAIN, leaving errno as it found it (0), as glibc's does.
 */
static int fail_thread, threads_made;
int __real_pthread_create(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
    void *(*fn)(void *), void *arg);

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
    void *(*fn)(void *), void *arg)
{
	if (fail_thread > 0 && ++threads_made == fail_thread) {
		fail_thread = 0;
		errno = 0;
		return EAGAIN;
	}
	return __real_pthread_create(t, a, fn, arg);
}

/* The busy waits the store sets, in order (milliseconds). */
static int busy_ms[16], busy_calls;
int __real_sqlite3_busy_timeout(sqlite3 *, int);
int __wrap_sqlite3_busy_timeout(sqlite3 *db, int ms);

int
__wrap_sqlite3_busy_timeout(sqlite3 *db, int ms)
{
	if (busy_calls < 16)
		busy_ms[busy_calls] = ms;
	busy_calls++;
	return __real_sqlite3_busy_timeout(db, ms);
}

struct answer {
	int	 status;
	char	*text;
};

struct fx {
	char			 dir[256];
	struct event_base	*base;
	struct note_signer	*signer;
	struct note_verifier	*verifier;
	struct journal		*j;
	struct rules		**rules;
	size_t			 nrules;
	char			*reports[64];
	size_t			 nreports;
	char			*expected[64];
	size_t			 nexpected;
	struct answer		 answers[64];
};

static void
on_done(void *arg, int status, const char *text, size_t len)
{
	struct answer *a = arg;

	assert_int_equal(a->status, 0);	/* answered once */
	a->status = status;
	a->text = strndup(text, len);
}

static const char *
top(void)
{
	const char *t = getenv("TOP");

	return t ? t : ".";
}

/* The lines of a file, newline stripped. */
static size_t
read_lines(const char *rel, char **out, size_t max)
{
	char path[512], *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top(), rel);
	assert_non_null(f = fopen(path, "r"));
	while ((len = getline(&line, &cap, f)) > 0 && n < max) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0)
			out[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	return n;
}

/* A fresh copy of the key in the fixture's folder (name.key). */
static struct note_signer *
key_of(struct fx *f, const char *name)
{
	struct note_signer *s;
	char path[512], err[512];

	snprintf(path, sizeof(path), "%s/%s.key", f->dir, name);
	if (note_key_load(path, ORIGIN, &s, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return s;
}

static void
open_journal(struct fx *f)
{
	char err[512] = "";

	f->j = journal_open(f->base, f->dir, ORIGIN, key_of(f, "ledger"), NULL,
	    NULL, err, sizeof(err));
	if (f->j == NULL)
		fail_msg("journal_open: %s", err);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char path[512], err[512], *vkey, rdir[512];

	assert_non_null(f);
	/* A test that failed half-way leaves no seam set for the next. */
	fail_commits = 0;
	fail_thread = 0;
	pthread_mutex_lock(&sync_mu);
	fail_syncs = hold_syncs = 0;
	pthread_mutex_unlock(&sync_mu);
	snprintf(f->dir, sizeof(f->dir), "%s/journal-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/ledger.key", f->dir);
	if (note_key_generate(path, ORIGIN, NOTE_ED25519, &f->signer, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	vkey = note_signer_vkey(f->signer);
	assert_int_equal(note_verifier_parse(vkey, &f->verifier, err,
	    sizeof(err)), 0);
	free(vkey);
	/* The case's agreement alone (its rules/ holds all the samples). */
	snprintf(rdir, sizeof(rdir), "%s/%s/rules/kecheng-yuhang.conf", top(),
	    CASE);
	assert_non_null(f->rules = calloc(1, sizeof(*f->rules)));
	if ((f->rules[0] = rules_load_file(rdir, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	f->nrules = 1;
	f->nreports = read_lines(CASE "/reports.jsonl", f->reports, 64);
	f->nexpected = read_lines(CASE "/expected.jsonl", f->expected, 64);
	assert_non_null(f->base = event_base_new());
	open_journal(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	journal_free(f->j);
	event_base_free(f->base);
	note_signer_free(f->signer);
	note_verifier_free(f->verifier);
	rules_free_list(f->rules, f->nrules);
	for (size_t i = 0; i < f->nreports; i++)
		free(f->reports[i]);
	for (size_t i = 0; i < f->nexpected; i++)
		free(f->expected[i]);
	for (size_t i = 0; i < 64; i++)
		free(f->answers[i].text);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
apply_rules(struct fx *f)
{
	char err[512];

	assert_int_equal(journal_rules_apply(f->j,
	    (const struct rules *const *)f->rules, f->nrules, 1, err,
	    sizeof(err)), 0);
}

static int
submit(struct fx *f, size_t i, struct answer *a, char *err, size_t errlen)
{
	const char *sides[] = { "330110" };

	return journal_submit(f->j, f->reports[i], strlen(f->reports[i]),
	    sides, 1, "ab12", on_done, a, err, errlen);
}

/* All entries of the ledger as one string of lines. */
static char *
all_entries(struct fx *f)
{
	struct evbuffer *b = evbuffer_new();
	char *note, err[256], *s;
	json_t *cp;
	size_t len;
	uint64_t size = 0;
	int rc;

	assert_int_equal(journal_checkpoint(f->j, &note, err, sizeof(err)), 0);
	sscanf(strchr(note, '\n') + 1, "%llu", (unsigned long long *)&size);
	free(note);
	rc = journal_entries(f->j, 0, size, b, err, sizeof(err));
	if (rc != 0)
		fail_msg("entries: %s", err);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	(void)cp;
	return s;
}

/* Entry line without time and submitter, canonical again. */
static char *
strip(const char *line, size_t len)
{
	char err[256];
	json_t *e = canon_parse(line, len, err, sizeof(err));
	char *out;

	assert_non_null(e);
	json_object_del(e, "time");
	json_object_del(e, "submitter");
	out = canon_dump(e, NULL, err, sizeof(err));
	json_decref(e);
	return out;
}

/* Checks a receipt's proof against the checkpoint's key and entry bytes. */
static void
check_receipt(struct fx *f, const char *receipt, const char *entries)
{
	char err[256];
	json_t *r = json_loads(receipt, 0, NULL);
	const char *proof, *line = entries;
	unsigned char leaf[MERKLE_HASH_SIZE];
	uint64_t index, got, size;
	char *again;

	assert_non_null(r);
	/* Written directly, byte for byte what jansson's compact dump gives. */
	again = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(again);
	assert_string_equal(again, receipt);
	free(again);
	index = (uint64_t)json_integer_value(json_object_get(r, "index"));
	proof = json_string_value(json_object_get(r, "proof"));
	assert_non_null(proof);
	for (uint64_t i = 0; i < index; i++)
		line = strchr(line, '\n') + 1;
	merkle_hash_leaf(line, (size_t)(strchr(line, '\n') - line), leaf);
	/* The proof carries the report entry, as hashed. */
	{
		unsigned char hashes[NOTE_MAX_PROOF][NOTE_HASH_SIZE], *extra;
		const char *cp;
		size_t n, cplen, xlen;

		assert_int_equal(note_proof_parse(proof, strlen(proof), &got,
		    &extra, &xlen, hashes, &n, &cp, &cplen, err, sizeof(err)),
		    0);
		assert_non_null(extra);
		assert_int_equal(xlen, (size_t)(strchr(line, '\n') - line));
		assert_memory_equal(extra, line, xlen);
		free(extra);
	}
	if (note_proof_verify(proof, strlen(proof), leaf, &f->verifier, 1,
	    &got, &size, NULL, err, sizeof(err)) < 0)
		fail_msg("receipt proof: %s", err);
	assert_int_equal(got, index);
	assert_true(size >= index + json_array_size(json_object_get(r,
	    "entries")));
	json_decref(r);
}

static void
test_ingest_matches_settle(void **state)
{
	struct fx *f = *state;
	char err[512], *all, *line, *nl;
	size_t k = 0;

	apply_rules(f);
	for (size_t i = 0; i < f->nreports; i++)
		assert_int_equal(submit(f, i, &f->answers[i], err,
		    sizeof(err)), 0);
	assert_true(journal_pending(f->j) > 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(journal_pending(f->j), 0);
	for (size_t i = 0; i < f->nreports; i++)
		assert_int_equal(f->answers[i].status, 201);

	/* The ledger: one rules entry, then exactly what settle prints. */
	all = all_entries(f);
	line = strchr(all, '\n') + 1;
	assert_non_null(strstr(all, "\"type\":\"rules\""));
	for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1, k++) {
		char *s = strip(line, (size_t)(nl - line));

		assert_true(k < f->nexpected);
		assert_string_equal(s, f->expected[k]);
		free(s);
		assert_non_null(strstr(line, "\"time\":\""));
	}
	assert_int_equal(k, f->nexpected);
	for (size_t i = 0; i < f->nreports; i++)
		check_receipt(f, f->answers[i].text, all);
	free(all);
}

static void
test_resubmit_and_restart(void **state)
{
	struct fx *f = *state;
	struct answer again = { 0 }, later = { 0 };
	char err[512], *before, *after;
	json_t *p;

	apply_rules(f);
	assert_int_equal(submit(f, 0, &f->answers[0], err, sizeof(err)), 0);
	assert_int_equal(submit(f, 1, &f->answers[1], err, sizeof(err)), 0);
	/* The same report again while the first is not yet durable. */
	assert_int_equal(submit(f, 0, &again, err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(f->answers[0].status, 201);
	assert_int_equal(again.status, 200);
	assert_string_equal(again.text, f->answers[0].text);

	/* Restart: the engine comes back from the ledger, byte for byte. */
	before = all_entries(f);
	journal_free(f->j);
	open_journal(f);
	apply_rules(f);		/* unchanged files: nothing new */
	assert_int_equal(journal_flush(f->j), 0);
	after = all_entries(f);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(submit(f, 1, &later, err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(later.status, 200);
	assert_string_equal(later.text, f->answers[1].text);

	/* Reused id with other content; period lookups; proofs. */
	{
		const char *other = "{\"report_id\":\"yh-2026-01\","
		    "\"agreement\":\"kecheng-yuhang\",\"period\":\"2026-01\","
		    "\"role\":\"host\",\"taxes\":{\"vat\":\"1.00\"}}";
		const char *sides[] = { "330110" };
		struct answer none = { 0 };

		assert_int_equal(journal_submit(f->j, other, strlen(other),
		    sides, 1, NULL, on_done, &none, err, sizeof(err)), 409);
		assert_int_equal(journal_submit(f->j, "[]", 2, sides, 1, NULL,
		    on_done, &none, err, sizeof(err)), 400);
		assert_int_equal(none.status, 0);
	}
	assert_int_equal(journal_period(f->j, "kecheng-yuhang", "2026-01", &p,
	    err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(p, "status")),
	    "settled");
	assert_int_equal(json_array_size(json_object_get(p, "entries")), 2);
	json_decref(p);
	assert_int_equal(journal_period(f->j, "nope", "2026-01", &p, err,
	    sizeof(err)), 404);
	assert_int_equal(journal_inclusion(f->j, 1, 5, &p, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_size(json_object_get(p, "hashes")), 3);
	json_decref(p);
	assert_int_equal(journal_inclusion(f->j, 5, 5, &p, err, sizeof(err)),
	    400);
	assert_int_equal(journal_inclusion(f->j, 0, 99, &p, err, sizeof(err)),
	    400);
	assert_int_equal(journal_consistency(f->j, 2, 5, &p, err, sizeof(err)),
	    0);
	json_decref(p);
	assert_int_equal(journal_consistency(f->j, 3, 2, &p, err, sizeof(err)),
	    400);
	free(before);
	free(again.text);
	free(later.text);
}

static void
test_failed_commit(void **state)
{
	struct fx *f = *state;
	struct answer a = { 0 }, b = { 0 }, c = { 0 };
	char err[512], *all;

	apply_rules(f);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(submit(f, 0, &f->answers[0], err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);

	fail_commits = 1;
	assert_int_equal(submit(f, 1, &a, err, sizeof(err)), 0);
	assert_int_equal(submit(f, 2, &b, err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), -1);
	assert_int_equal(a.status, 503);
	assert_int_equal(b.status, 503);
	assert_non_null(strstr(a.text, "could not be committed"));

	/* The engine forgot them: the same reports go in again, in place. */
	free(a.text);
	free(b.text);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(submit(f, 1, &a, err, sizeof(err)), 0);
	assert_int_equal(submit(f, 2, &b, err, sizeof(err)), 0);
	assert_int_equal(submit(f, 0, &c, err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(a.status, 201);
	assert_int_equal(b.status, 201);
	assert_int_equal(c.status, 200);
	assert_string_equal(c.text, f->answers[0].text);
	all = all_entries(f);
	/* rules, report 0 + settlement, report 1 + settlement, report 2 … */
	assert_non_null(strstr(a.text, "\"index\":3,"));
	check_receipt(f, a.text, all);
	check_receipt(f, b.text, all);
	free(all);
	free(a.text);
	free(b.text);
	free(c.text);
}

static void
test_rules_veto(void **state)
{
	struct fx *f = *state;
	char err[512], *text, *p;
	struct rules *changed;
	const struct rules *list[1];

	apply_rules(f);
	assert_int_equal(submit(f, 0, &f->answers[0], err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);

	/* Rewriting the term that January settled under is refused. */
	text = strdup(rules_get0_text(f->rules[0]));
	assert_non_null(p = strstr(text, "home = \"50%\"; floor"));
	memcpy(p, "home = \"40%\"", 12);
	changed = rules_parse(text, "kecheng-yuhang.conf", err, sizeof(err));
	assert_non_null(changed);
	list[0] = changed;
	assert_int_equal(journal_rules_check(f->j, list, 1, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "kecheng-yuhang"));
	assert_int_equal(journal_rules_apply(f->j, list, 1, 1, err,
	    sizeof(err)), -1);
	/* Withdrawing it is refused too. */
	assert_int_equal(journal_rules_check(f->j, NULL, 0, err, sizeof(err)),
	    -1);
	rules_free(changed);
	free(text);
}

/*
 * Three reports committed and the journal closed; then someone with the
 * file drops the trigger that forbids updates and runs sql, which must
 * change exactly one row.
 */
static void
tamper_ledger(struct fx *f, const char *sql)
{
	char err[512], path[400], all[512];
	sqlite3 *db;

	apply_rules(f);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(submit(f, i, &f->answers[i], err,
		    sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	journal_free(f->j);
	f->j = NULL;
	snprintf(path, sizeof(path), "%s/shanhai.db", f->dir);
	snprintf(all, sizeof(all), "DROP TRIGGER entry_no_update; %s", sql);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, all, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
}

static void
test_tampered_refused(void **state)
{
	struct fx *f = *state;
	char err[512];

	/* A settlement edited. */
	tamper_ledger(f, "UPDATE entry SET body = CAST(replace(CAST(body AS "
	    "TEXT), '\"home\":\"110074.50\"', '\"home\":\"110074.51\"') AS "
	    "BLOB) WHERE idx = 2");
	assert_null(journal_open(f->base, f->dir, ORIGIN, key_of(f, "ledger"),
	    NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "entry 2: settlement: field \"home\" is "
	    "\"110074.51\" in the ledger, the replay gives \"110074.50\""));
	/* Another origin is refused before anything else. */
	assert_null(journal_open(f->base, f->dir, "other.example/log",
	    key_of(f, "ledger"), NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "origin"));
}

/* sqlite3_exec callback: the first column of the one row into *arg. */
static int
first_col(void *arg, int n, char **v, char **names)
{
	char **out = arg;

	(void)names;
	free(*out);
	*out = strdup(n > 0 && v[0] ? v[0] : "");
	return 0;
}

/* Runs sql on the fixture's database; the first column of its last row. */
static char *
db_exec(struct fx *f, const char *sql)
{
	char path[400], *out = NULL, *msg = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/shanhai.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, first_col, &out, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
	return out ? out : strdup("");
}

#define PERIOD_ROWS	"SELECT group_concat(entry || ' ' || count || ' ' ||" \
	" agreement || ' ' || period, ';') FROM" \
	" (SELECT * FROM period_entry ORDER BY entry)"

/* The period endpoint's answers for every period reported, as one text. */
static char *
all_periods(struct fx *f)
{
	char err[256], *s = strdup(""), *d, *n;

	for (size_t i = 0; i < f->nreports; i++) {
		json_t *r = json_loads(f->reports[i], 0, NULL), *p;

		assert_non_null(r);
		assert_int_equal(journal_period(f->j, "kecheng-yuhang",
		    json_string_value(json_object_get(r, "period")), &p, err,
		    sizeof(err)), 0);
		d = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
		assert_true(asprintf(&n, "%s%s\n", s, d) > 0);
		free(s);
		free(d);
		s = n;
		json_decref(p);
		json_decref(r);
	}
	return s;
}

/* Opens the journal: the period index and the period answers are these. */
static void
reopen_same_index(struct fx *f, const char *rows, const char *periods)
{
	char *s;

	open_journal(f);
	s = db_exec(f, PERIOD_ROWS);
	assert_string_equal(s, rows);
	free(s);
	s = all_periods(f);
	assert_string_equal(s, periods);
	free(s);
}

/*
 * The period index (store schema 5): the writer's rows, and the rows the
 * start-up replay writes for a database of schema 4, are the same; a
 * replay cut short goes on from where its rows end. The period endpoint
 * and a resubmission's receipt read them.
 */
static void
test_period_index_built(void **state)
{
	struct fx *f = *state;
	char err[512], *rows, *periods, *cut, *s;
	struct answer again = { 0 };
	struct store *st;
	char path[400];

	apply_rules(f);
	for (size_t i = 0; i < f->nreports; i++)
		assert_int_equal(submit(f, i, &f->answers[i], err,
		    sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	periods = all_periods(f);
	/* The correction of 2026-03: two runs of that period. */
	assert_non_null(strstr(periods, "\"entries\":[5,6,13,14]"));
	journal_free(f->j);
	f->j = NULL;
	rows = db_exec(f, PERIOD_ROWS);
	assert_non_null(strstr(rows, ";5 2 kecheng-yuhang 2026-03;"));
	assert_non_null(strstr(rows, ";13 2 kecheng-yuhang 2026-03;"));

	/* A database of schema 4: its rows come from the replay. */
	free(db_exec(f, "DROP TABLE period_entry; PRAGMA user_version = 4"));
	reopen_same_index(f, rows, periods);
	assert_int_equal(submit(f, 6, &again, err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(again.status, 200);
	assert_string_equal(again.text, f->answers[6].text);
	journal_free(f->j);
	f->j = NULL;

	/* Cut short after the rows of the first three reports. */
	free(db_exec(f, "DROP TABLE period_entry; PRAGMA user_version = 4"));
	snprintf(path, sizeof(path), "%s/shanhai.db", f->dir);
	assert_non_null(st = store_open(path, err, sizeof(err)));
	cut = strdup(rows);
	for (s = cut; s != NULL && *s != '\0'; ) {
		unsigned long long e, c;
		char a[64], p[16];
		char *next = strchr(s, ';');

		assert_int_equal(sscanf(s, "%llu %llu %63s %15[^;]", &e, &c, a,
		    p), 4);
		if (e >= 7)
			break;
		assert_int_equal(store_put_period(st, a, p, e, c), 0);
		s = next ? next + 1 : NULL;
	}
	free(cut);
	store_close(st);
	s = db_exec(f, "SELECT count(*) FROM period_entry");
	assert_string_equal(s, "3");
	free(s);
	reopen_same_index(f, rows, periods);
	free(periods);
	free(rows);
	free(again.text);
}

/* What a held period read saw when it was let go. */
struct held {
	int	 calls;
	int	 ok;
	char	 status[16];
	size_t	 entries;
	char	 agreement[64], period[16];
};

static void
held_ready(struct journal *j, void *arg, int ok)
{
	struct held *h = arg;
	char err[512];
	json_t *p;

	h->calls++;
	h->ok = ok;
	if (ok && journal_period(j, h->agreement, h->period, &p, err,
	    sizeof(err)) == 0) {
		snprintf(h->status, sizeof(h->status), "%s", json_string_value(
		    json_object_get(p, "status")));
		h->entries = json_array_size(json_object_get(p, "entries"));
		json_decref(p);
	}
}

/*
 * A period read is answered only once what concerns the period is
 * committed: never with the figures of a report still with the writer.
 */
static void
test_period_committed(void **state)
{
	struct fx *f = *state;
	struct held h = { 0 }, now = { 0 };
	char err[512];
	json_t *r = json_loads(f->reports[0], 0, NULL);

	assert_non_null(r);
	snprintf(h.agreement, sizeof(h.agreement), "%s",
	    json_string_value(json_object_get(r, "agreement")));
	snprintf(h.period, sizeof(h.period), "%s",
	    json_string_value(json_object_get(r, "period")));
	json_decref(r);
	memcpy(&now, &h, sizeof(now));

	/* A rules entry not yet committed holds every period read. */
	apply_rules(f);
	journal_when_committed(f->j, h.agreement, h.period, held_ready, &h);
	assert_int_equal(h.calls, 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.ok, 1);
	assert_int_equal(h.entries, 0);

	/* The report is in the engine, not on disk: the read waits. */
	assert_int_equal(submit(f, 0, &f->answers[0], err, sizeof(err)), 0);
	journal_when_committed(f->j, h.agreement, h.period, held_ready, &h);
	assert_int_equal(h.calls, 1);
	assert_int_equal(f->answers[0].status, 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(f->answers[0].status, 201);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.ok, 1);
	assert_true(h.entries >= 1);
	assert_string_not_equal(h.status, "");

	/* Nothing pending: answered at once, the same. */
	journal_when_committed(f->j, now.agreement, now.period, held_ready,
	    &now);
	assert_int_equal(now.calls, 1);
	assert_string_equal(now.status, h.status);
	assert_int_equal(now.entries, h.entries);

	/* Held when the journal goes: answered after its last commit. */
	assert_int_equal(submit(f, 1, &f->answers[1], err, sizeof(err)), 0);
	memset(&now, 0, sizeof(now));
	r = json_loads(f->reports[1], 0, NULL);
	snprintf(now.agreement, sizeof(now.agreement), "%s",
	    json_string_value(json_object_get(r, "agreement")));
	snprintf(now.period, sizeof(now.period), "%s",
	    json_string_value(json_object_get(r, "period")));
	json_decref(r);
	journal_when_committed(f->j, now.agreement, now.period, held_ready,
	    &now);
	assert_int_equal(now.calls, 0);
	journal_free(f->j);
	f->j = NULL;
	assert_int_equal(f->answers[1].status, 201);
	assert_int_equal(now.calls, 1);
}

/* Makes key `name` in the fixture's folder. */
static void
gen_key(struct fx *f, const char *name)
{
	struct note_signer *s;
	char path[512], err[512];

	snprintf(path, sizeof(path), "%s/%s.key", f->dir, name);
	if (note_key_generate(path, ORIGIN, NOTE_ED25519, &s, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	note_signer_free(s);
}

/* Does note verify with key `name` alone? Its size in *size. */
static int
verifies_with(struct fx *f, const char *note, const char *name,
    uint64_t *size)
{
	struct note_signer *s = key_of(f, name);
	struct note_verifier *v = note_signer_verifier(s);
	unsigned char root[NOTE_HASH_SIZE];
	char err[256], *origin = NULL;
	uint64_t sz = 0;
	int rc;

	rc = note_checkpoint_open(note, strlen(note), &v, 1, &origin, &sz,
	    root, err, sizeof(err));
	free(origin);
	note_verifier_free(v);
	note_signer_free(s);
	if (size != NULL)
		*size = sz;
	return rc == 0;
}

/* The latest checkpoint's note, to free. */
static char *
latest(struct fx *f)
{
	char *note, err[256];

	assert_int_equal(journal_checkpoint(f->j, &note, err, sizeof(err)), 0);
	return note;
}

/* How many entries of the ledger hold s. */
static size_t
count_entries(struct fx *f, const char *s)
{
	char *all = all_entries(f), *p = all;
	size_t n = 0;

	while ((p = strstr(p, s)) != NULL) {
		n++;
		p++;
	}
	free(all);
	return n;
}

static void
test_key_rotation(void **state)
{
	struct fx *f = *state;
	struct note_signer *k, *nk;
	struct store *st;
	char err[512], path[512], *note, *vkb, want[512];
	uint64_t size, size0;

	gen_key(f, "next");
	gen_key(f, "other");
	apply_rules(f);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(submit(f, i, &f->answers[i], err,
		    sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	note = latest(f);
	assert_true(verifies_with(f, note, "ledger", &size0));
	free(note);

	/* Refused: an unannounced signing key; the key itself as next. */
	k = key_of(f, "other");
	assert_int_equal(journal_keys_check(f->j, k, NULL, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "ledger.signing_key: the key"
	    " test.example/shanhai+"));
	assert_non_null(strstr(err, "nor is announced"));
	note_signer_free(k);
	k = key_of(f, "ledger");
	nk = key_of(f, "ledger");
	assert_int_equal(journal_keys_apply(f->j, k, nk, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "ledger.next_key"));
	assert_non_null(strstr(err, "is the signing key itself"));

	/*
	 * A next key: its key entry is committed under a checkpoint of the
	 * old key alone; then the latest is signed again by both. A commit
	 * failure on the way loses nothing: the entry is queued again.
	 */
	fail_commits = 1;
	assert_int_equal(journal_keys_apply(f->j, key_of(f, "ledger"),
	    key_of(f, "next"), err, sizeof(err)), 0);
	(void)journal_flush(f->j);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(fail_commits, 0);
	nk = key_of(f, "next");
	vkb = note_signer_vkey(nk);
	note_signer_free(nk);
	snprintf(want, sizeof(want), "{\"key\":\"%s\",\"time\":\"", vkb);
	assert_int_equal(count_entries(f, want), 1);
	note = latest(f);
	assert_true(verifies_with(f, note, "ledger", &size));
	assert_int_equal(size, size0 + 1);
	assert_true(verifies_with(f, note, "next", NULL));
	assert_false(verifies_with(f, note, "other", NULL));
	free(note);
	snprintf(path, sizeof(path), "%s/shanhai.db", f->dir);
	assert_non_null(st = store_open(path, err, sizeof(err)));
	assert_int_equal(store_checkpoint(st, size0 + 1, &note), 0);
	assert_true(verifies_with(f, note, "ledger", NULL));
	assert_false(verifies_with(f, note, "next", NULL));
	free(note);
	store_close(st);
	/* The same keys again: nothing new. */
	assert_int_equal(journal_keys_apply(f->j, key_of(f, "ledger"),
	    key_of(f, "next"), err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	assert_int_equal(count_entries(f, want), 1);
	/* A report now: its checkpoint carries both signatures. */
	assert_int_equal(submit(f, 2, &f->answers[2], err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	note = latest(f);
	assert_true(verifies_with(f, note, "ledger", &size));
	assert_true(size > size0 + 1);
	assert_true(verifies_with(f, note, "next", NULL));
	free(note);

	/*
	 * Finishing on the running journal: the next key alone. It signed
	 * the latest already, so nothing is signed until the next report.
	 */
	note = latest(f);
	assert_int_equal(journal_keys_apply(f->j, key_of(f, "next"), NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	char *again = latest(f);
	assert_string_equal(again, note);
	free(again);
	free(note);
	assert_int_equal(submit(f, 4, &f->answers[4], err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	note = latest(f);
	assert_true(verifies_with(f, note, "next", NULL));
	assert_false(verifies_with(f, note, "ledger", NULL));
	free(note);
	/* The old key is not taken back: it did not sign the latest. */
	k = key_of(f, "ledger");
	assert_int_equal(journal_keys_check(f->j, k, NULL, err, sizeof(err)),
	    -1);
	note_signer_free(k);

	/* After a restart (a replay, which reads the key entry). */
	journal_free(f->j);
	f->j = journal_open(f->base, f->dir, ORIGIN, key_of(f, "next"), NULL,
	    NULL, err, sizeof(err));
	if (f->j == NULL)
		fail_msg("journal_open: %s", err);
	assert_int_equal(submit(f, 5, &f->answers[5], err, sizeof(err)), 0);
	assert_int_equal(journal_flush(f->j), 0);
	note = latest(f);
	assert_true(verifies_with(f, note, "next", &size0));
	assert_false(verifies_with(f, note, "ledger", NULL));
	free(note);
	journal_free(f->j);
	f->j = NULL;
	/* The old key neither signed the latest nor was announced. */
	assert_null(journal_open(f->base, f->dir, ORIGIN, key_of(f, "ledger"),
	    NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "ledger.signing_key"));
	assert_null(journal_open(f->base, f->dir, ORIGIN, key_of(f, "other"),
	    NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "ledger.signing_key"));
	f->j = journal_open(f->base, f->dir, ORIGIN, key_of(f, "next"), NULL,
	    NULL, err, sizeof(err));
	assert_non_null(f->j);
	note = latest(f);
	assert_true(verifies_with(f, note, "next", &size));
	assert_int_equal(size, size0);
	free(note);
	free(vkb);
}

/*
 * A next key and an SM2 key given at the start: the key entry comes first,
 * under the key and SM2, then all three sign.
 */
static void
test_key_at_start_with_sm2(void **state)
{
	struct fx *f = *state;
	struct note_signer *sm2;
	char err[512], path[512], *note, *all;
	uint64_t size;

	gen_key(f, "next");
	snprintf(path, sizeof(path), "%s/sm2.key", f->dir);
	if (note_key_generate(path, ORIGIN, NOTE_SM2, &sm2, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	note_signer_free(sm2);
	journal_free(f->j);
	f->j = journal_open(f->base, f->dir, ORIGIN, key_of(f, "ledger"),
	    key_of(f, "next"), key_of(f, "sm2"), err, sizeof(err));
	if (f->j == NULL)
		fail_msg("journal_open: %s", err);
	apply_rules(f);
	assert_int_equal(journal_flush(f->j), 0);
	all = all_entries(f);
	assert_true(strncmp(all, "{\"key\":\"", 8) == 0);
	free(all);
	note = latest(f);
	assert_true(verifies_with(f, note, "ledger", &size));
	assert_true(verifies_with(f, note, "next", NULL));
	assert_true(verifies_with(f, note, "sm2", NULL));
	free(note);
	/* The entry's own checkpoint: not by the next key. */
	{
		struct store *st;

		snprintf(path, sizeof(path), "%s/shanhai.db", f->dir);
		assert_non_null(st = store_open(path, err, sizeof(err)));
		assert_int_equal(store_checkpoint(st, 1, &note), 0);
		assert_true(verifies_with(f, note, "ledger", NULL));
		assert_true(verifies_with(f, note, "sm2", NULL));
		assert_false(verifies_with(f, note, "next", NULL));
		free(note);
		store_close(st);
	}
	/* A key given as the next key is refused if it is the SM2 one. */
	assert_int_equal(journal_keys_apply(f->j, key_of(f, "ledger"),
	    key_of(f, "sm2"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ledger.next_key: not an Ed25519 key"));
}

/* An empty ledger takes any key; its empty checkpoint is signed again. */
static void
test_key_empty_ledger(void **state)
{
	struct fx *f = *state;
	char err[512], *note;
	uint64_t size;

	gen_key(f, "other");
	journal_free(f->j);
	f->j = journal_open(f->base, f->dir, ORIGIN, key_of(f, "other"), NULL,
	    NULL, err, sizeof(err));
	if (f->j == NULL)
		fail_msg("journal_open: %s", err);
	note = latest(f);
	assert_true(verifies_with(f, note, "other", &size));
	assert_int_equal(size, 0);
	assert_false(verifies_with(f, note, "ledger", NULL));
	free(note);
}

/* The agreement and period of report i, into h. */
static void
period_of(struct fx *f, size_t i, struct held *h)
{
	json_t *r = json_loads(f->reports[i], 0, NULL);

	assert_non_null(r);
	snprintf(h->agreement, sizeof(h->agreement), "%s",
	    json_string_value(json_object_get(r, "agreement")));
	snprintf(h->period, sizeof(h->period), "%s",
	    json_string_value(json_object_get(r, "period")));
	json_decref(r);
}

/*
 * A receipt says "on disk": none leaves while the log's sync is held, even
 * with the group committed and its receipts built; all leave once it is
 * let go. A store_sync() skipped, or answers sent before it, fail here.
 */
static void
test_no_receipt_before_sync(void **state)
{
	struct fx *f = *state;
	struct held h = { 0 };
	char err[512];
	int seen;

	apply_rules(f);
	assert_int_equal(journal_flush(f->j), 0);
	period_of(f, 0, &h);
	pthread_mutex_lock(&sync_mu);
	seen = syncs_entered;
	pthread_mutex_unlock(&sync_mu);
	sync_hold(1);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(submit(f, i, &f->answers[i], err,
		    sizeof(err)), 0);
	journal_when_committed(f->j, h.agreement, h.period, held_ready, &h);
	if (!sync_entered_after(seen)) {
		sync_hold(0);
		fail_msg("the committed group was never synced");
	}
	/* The writer had time to build the receipts; the loop runs. */
	for (int i = 0; i < 20; i++) {
		usleep(10000);
		event_base_loop(f->base, EVLOOP_NONBLOCK);
	}
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->answers[i].status, 0);
	assert_int_equal(h.calls, 0);
	sync_hold(0);
	assert_int_equal(journal_flush(f->j), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->answers[i].status, 201);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.ok, 1);
}

/*
 * A failed sync of the log: the reports are answered 503, and a period
 * read held for them ends (not ok) instead of waiting for a commit that
 * cannot come; later reads do not wait either.
 */
static void
test_failed_sync_ends_reads(void **state)
{
	struct fx *f = *state;
	struct held h = { 0 }, later = { 0 };
	char err[512];

	apply_rules(f);
	assert_int_equal(journal_flush(f->j), 0);
	period_of(f, 0, &h);
	memcpy(&later, &h, sizeof(later));
	pthread_mutex_lock(&sync_mu);
	fail_syncs = 1;
	pthread_mutex_unlock(&sync_mu);
	assert_int_equal(submit(f, 0, &f->answers[0], err, sizeof(err)), 0);
	journal_when_committed(f->j, h.agreement, h.period, held_ready, &h);
	assert_int_equal(h.calls, 0);
	assert_int_equal(journal_flush(f->j), -1);
	assert_int_equal(f->answers[0].status, 503);
	assert_non_null(strstr(f->answers[0].text, "sync"));
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.ok, 0);
	journal_when_committed(f->j, later.agreement, later.period, held_ready,
	    &later);
	assert_int_equal(later.calls, 1);
	assert_int_equal(later.ok, 0);
	/* A new report is refused at once, not held. */
	assert_int_equal(submit(f, 1, &f->answers[1], err, sizeof(err)) != 0 ||
	    f->answers[1].status == 503, 1);
}

/*
 * One of the journal's threads does not start: journal_open fails at once
 * with pthread_create's own reason (not errno's), naming the thread, and
 * frees what it made without waiting for a thread that never ran. The
 * next key makes a group to commit at open, which only the sync thread
 * would hand back.
 */
static void
test_thread_fails_to_start(void **state)
{
	struct fx *f = *state;
	static const char *which[] = { "sync", "checkpoint", "writer" };
	char err[512], want[128];

	journal_free(f->j);
	f->j = NULL;
	gen_key(f, "next");
	for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
		threads_made = 0;
		fail_thread = (int)i + 1;
		alarm(20);	/* a journal_free() that waits for ever */
		err[0] = '\0';
		assert_null(journal_open(f->base, f->dir, ORIGIN,
		    key_of(f, "ledger"), key_of(f, "next"), NULL, err,
		    sizeof(err)));
		alarm(0);
		fail_thread = 0;
		snprintf(want, sizeof(want), "journal: %s thread: %s",
		    which[i], strerror(EAGAIN));
		if (strstr(err, want) == NULL)
			fail_msg("thread %zu: \"%s\", want \"%s\"", i + 1,
			    err, want);
	}
	open_journal(f);
}

/*
 * The store fails under the replay (a leaf hash of the wrong size, as a
 * damaged file gives): journal_open says the store's reason, where it
 * used to print the uninitialised buffer the replay keeps for its own.
 */
static void
test_replay_store_error(void **state)
{
	struct fx *f = *state;
	char err[512];

	tamper_ledger(f, "PRAGMA ignore_check_constraints = ON;"
	    "UPDATE entry SET leaf = x'00' WHERE idx = 2");
	memset(err, 0x7f, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	assert_null(journal_open(f->base, f->dir, ORIGIN, key_of(f, "ledger"),
	    NULL, NULL, err, sizeof(err)));
	if (strstr(err, "replaying the ledger: stored hash of unexpected"
	    " size") == NULL)
		fail_msg("journal_open: %s", err);
}

/*
 * The event loop's reads wait for a lock held elsewhere at most a moment:
 * a connection of the journal's that the loop reads on must not keep the
 * store's 10 s wait, which would stall every client of the loop. (SQLite's
 * own waits are what this seam sees: a test cannot make a WAL reader wait
 * for a lock without breaking the file.)
 */
static void
test_loop_read_not_stalled(void **state)
{
	struct fx *f = *state;
	int lo = 0;

	journal_free(f->j);
	f->j = NULL;
	busy_calls = 0;
	open_journal(f);
	for (int i = 0; i < busy_calls && i < 16; i++)
		if (busy_ms[i] > 0 && busy_ms[i] <= 1000)
			lo++;
	/* The writer and the checkpoint thread may wait; the reader not. */
	assert_true(busy_calls >= 3);
	assert_int_equal(lo, 1);
	apply_rules(f);
	assert_int_equal(journal_flush(f->j), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ingest_matches_settle,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_period_committed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resubmit_and_restart,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rules_veto, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_rotation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_empty_ledger, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_at_start_with_sm2,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_period_index_built, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_receipt_before_sync,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_sync_ends_reads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_fails_to_start,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_store_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_read_not_stalled,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
