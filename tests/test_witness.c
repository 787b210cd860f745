/*
 * test_witness: the tlog-witness core against requests built by hand from
 * the spec. A table walks one log through every status (200, 400, 403,
 * 404, 409 with text/x.tlog.size, 422) in order, since each answer depends
 * on what was cosigned before; then the state's compare-and-swap, directly
 * and with two threads on two connections racing to move one log forward.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/cosig.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/witness.h"
#include "shanhai/witstate.h"

#define ORIGIN	"test.example/log"
#define OTHER	"other.example/log"
#define NLEAVES	64
#define NOW	1800000000ULL

static char dir[256], errbuf[512];
static struct note_signer *logkey, *otherkey, *stranger;
static unsigned char leaves[NLEAVES][MERKLE_HASH_SIZE];
static char *vkey_log, *vkey_other, *vkey_w;

static char *
path(const char *name)
{
	static char buf[2][400];
	static int k;

	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static struct note_signer *
gen(const char *file, const char *name, int type)
{
	struct note_signer *s;

	if (note_key_generate(path(file), name, type, &s, errbuf,
	    sizeof(errbuf)) != 0)
		return NULL;
	return s;
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");
	struct note_signer *w;

	snprintf(dir, sizeof(dir), "%s/witness-XXXXXX", t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	logkey = gen("log.key", ORIGIN, NOTE_ED25519);
	otherkey = gen("other.key", OTHER, NOTE_ED25519);
	/* A key of the right name that the witness does not know. */
	stranger = gen("stranger.key", ORIGIN, NOTE_ED25519);
	w = gen("w.key", "witness.test.example", NOTE_COSIG_ED25519);
	if (logkey == NULL || otherkey == NULL || stranger == NULL || w == NULL)
		return -1;
	vkey_log = note_signer_vkey(logkey);
	vkey_other = note_signer_vkey(otherkey);
	vkey_w = note_signer_vkey(w);
	note_signer_free(w);
	for (int i = 0; i < NLEAVES; i++) {
		char e[32];
		snprintf(e, sizeof(e), "{\"i\":%d}", i);
		merkle_hash_leaf(e, strlen(e), leaves[i]);
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	note_signer_free(logkey);
	note_signer_free(otherkey);
	note_signer_free(stranger);
	free(vkey_log);
	free(vkey_other);
	free(vkey_w);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct witness *
open_witness(const char *db)
{
	struct note_signer *key;
	struct witness *w;

	assert_int_equal(note_key_load(path("w.key"), "witness.test.example",
	    &key, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(note_signer_set_cosigner(key), 0);
	w = witness_new(key, path(db), errbuf, sizeof(errbuf));
	assert_non_null(w);
	assert_int_equal(witness_add_log(w, ORIGIN, vkey_log, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(witness_add_log(w, OTHER, vkey_other, errbuf,
	    sizeof(errbuf)), 0);
	return w;
}

enum mut {
	M_NONE,
	M_STRANGER,	/* signed by an unknown key of the log's name */
	M_BAD_SIG,	/* the log's signature, one byte changed */
	M_OTHER_LOG,	/* the checkpoint of a log the witness knows too */
	M_UNKNOWN,	/* a log the witness does not know */
	M_BAD_PROOF,	/* one proof hash changed */
	M_EXTRA_PROOF,	/* one proof line too many */
	M_FORK,		/* same size, another root */
	M_OLD_LINE,	/* "old 01" */
	M_NO_BLANK,	/* no empty line before the checkpoint */
	M_PROOF_B64,	/* a proof line that is not a hash */
	M_LONG_PROOF,	/* 64 proof lines */
	M_NOT_NOTE,	/* checkpoint without signatures */
};

/* An add-checkpoint body for size `size` from `old`, mutated; to free. */
static char *
body(uint64_t old, uint64_t size, enum mut m)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE], root[32];
	struct note_signer *signer = logkey;
	const char *origin = ORIGIN;
	char *text, *note, *out, *p;
	size_t plen = 0, nlen;

	/* A long proof (M_LONG_PROOF) goes past the hashes computed. */
	memset(proof, 0, sizeof(proof));
	if (old > 0 && old < size)
		assert_int_equal(merkle_consistency_proof_mem(
		    (const unsigned char (*)[32])leaves, NLEAVES, old, size,
		    proof, &plen), 0);
	assert_int_equal(merkle_root_mem((const unsigned char (*)[32])leaves,
	    size, root), 0);
	if (m == M_FORK)
		root[0] ^= 1;
	if (m == M_BAD_PROOF)
		proof[0][5] ^= 1;
	if (m == M_EXTRA_PROOF)
		memcpy(proof[plen++], leaves[0], 32);
	if (m == M_LONG_PROOF)
		plen = 64;
	if (m == M_STRANGER)
		signer = stranger;
	if (m == M_OTHER_LOG) {
		signer = otherkey;
		origin = OTHER;
	}
	if (m == M_UNKNOWN)
		origin = "unknown.example/log";
	text = note_checkpoint_body(origin, size, root);
	assert_int_equal(note_sign(text, strlen(text), &signer, 1, &note, &nlen,
	    errbuf, sizeof(errbuf)), 0);
	if (m == M_BAD_SIG)
		note[nlen - 10] = note[nlen - 10] == 'A' ? 'B' : 'A';
	if (m == M_NOT_NOTE)
		note[strlen(text)] = '\0';
	out = malloc(64 + plen * 46 + nlen + 16);
	p = out + sprintf(out, m == M_OLD_LINE ? "old 0%" PRIu64 "\n" :
	    "old %" PRIu64 "\n", old);
	for (size_t i = 0; i < plen; i++) {
		char *b = note_b64_encode(proof[i % MERKLE_MAX_PROOF], 32);
		p += sprintf(p, "%s\n", m == M_PROOF_B64 ? "AAAA" : b);
		free(b);
	}
	if (m != M_NO_BLANK)
		*p++ = '\n';
	strcpy(p, note);
	free(text);
	free(note);
	return out;
}

static void
test_status_table(void **state)
{
	static const struct {
		const char	*what;
		uint64_t	 old, size;
		enum mut	 mut;
		int		 status;
		const char	*body;		/* exact body, or NULL */
		const char	*why;		/* in a->why, or NULL */
	} steps[] = {
		{ "first checkpoint from 0", 0, 5, M_NONE, 200, NULL, NULL },
		{ "again from 0: the latest is 5", 0, 8, M_NONE, 409, "5\n",
		  "latest cosigned is 5" },
		{ "from a size never cosigned", 4, 8, M_NONE, 409, "5\n", NULL },
		{ "5 to 8 with a proof", 5, 8, M_NONE, 200, NULL, NULL },
		{ "unknown key of the log's name", 8, 13, M_STRANGER, 403, NULL,
		  "no signature by a known key" },
		{ "the log's signature altered", 8, 13, M_BAD_SIG, 403, NULL,
		  "does not verify" },
		{ "unknown origin", 0, 3, M_UNKNOWN, 404, NULL,
		  "unknown log origin" },
		{ "old above size", 9, 8, M_NONE, 400, NULL, "above the" },
		{ "leading zero in old", 1, 8, M_OLD_LINE, 400, NULL,
		  "old <size>" },
		{ "no empty line", 8, 13, M_NO_BLANK, 400, NULL, NULL },
		{ "a proof line not a hash", 8, 13, M_PROOF_B64, 400, NULL,
		  "proof line 1" },
		{ "64 proof lines", 8, 13, M_LONG_PROOF, 400, NULL,
		  "more than 63" },
		{ "no signature lines", 8, 13, M_NOT_NOTE, 400, NULL, NULL },
		{ "a proof that fails", 8, 13, M_BAD_PROOF, 422, NULL,
		  "does not verify" },
		{ "a proof with a line too many", 8, 13, M_EXTRA_PROOF, 422,
		  NULL, NULL },
		{ "refused ones changed nothing", 8, 13, M_NONE, 200, NULL,
		  NULL },
		{ "the same size again: cosigned again", 13, 13, M_NONE, 200,
		  NULL, NULL },
		{ "the same size, another root: a fork", 13, 13, M_FORK, 409,
		  NULL, "another root" },
		{ "the other log starts at 0", 0, 2, M_OTHER_LOG, 200, NULL,
		  NULL },
		{ "a proof from 0 must be empty", 0, 3, M_EXTRA_PROOF, 409,
		  "13\n", NULL },
		{ "13 to 64", 13, 64, M_NONE, 200, NULL, NULL },
	};
	struct witness *w = open_witness("table.db");
	struct note_verifier *wv, *lv;

	assert_int_equal(note_verifier_parse(vkey_w, &wv, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(note_verifier_parse(vkey_log, &lv, errbuf,
	    sizeof(errbuf)), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct witness_answer a;
		char *b = body(steps[i].old, steps[i].size, steps[i].mut);

		witness_add_checkpoint(w, b, strlen(b), NOW + i, &a);
		if (a.status != steps[i].status)
			fail_msg("%s: status %d, not %d (%s)", steps[i].what,
			    a.status, steps[i].status, a.why);
		if (steps[i].body != NULL && (a.len != strlen(steps[i].body) ||
		    memcmp(a.body, steps[i].body, a.len) != 0))
			fail_msg("%s: body '%.*s'", steps[i].what, (int)a.len,
			    a.body);
		if (a.status == 409 && steps[i].body != NULL)
			assert_string_equal(a.ctype, "text/x.tlog.size");
		if (steps[i].why != NULL && strstr(a.why, steps[i].why) == NULL)
			fail_msg("%s: '%s' lacks '%s'", steps[i].what, a.why,
			    steps[i].why);
		if (a.status == 200) {
			/* The client's way: append, verify as a note. */
			const char *cp = strstr(b, "\n\n") + 2;
			char *full;
			int valid[1];
			uint64_t when[1];
			size_t count;

			assert_true(asprintf(&full, "%s%.*s", cp, (int)a.len,
			    a.body) != -1);
			assert_int_equal(cosig_verify(full, strlen(full), &wv, 1,
			    NOW + i, valid, when, &count, errbuf,
			    sizeof(errbuf)), 0);
			assert_int_equal(count, 1);
			assert_int_equal(when[0], NOW + i);
			free(full);
		}
		free(a.body);
		free(b);
	}
	/* GET: the log's signature and the latest cosignature, verifying. */
	struct witness_answer g;
	uint64_t size;
	unsigned char root[32];
	char *origin;
	int valid[1];
	size_t count;
	witness_get_checkpoint(w, ORIGIN, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(note_checkpoint_open(g.body, g.len, &lv, 1, &origin,
	    &size, root, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(size, 64);
	free(origin);
	assert_int_equal(cosig_verify(g.body, g.len, &wv, 1, NOW + 100, valid,
	    NULL, &count, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(count, 1);
	free(g.body);
	witness_get_checkpoint(w, "unknown.example/log", &g);
	assert_int_equal(g.status, 404);
	free(g.body);
	note_verifier_free(wv);
	note_verifier_free(lv);
	witness_free(w);
}

/* The state survives a restart: a second witness on the same file. */
static void
test_restart_keeps_state(void **state)
{
	struct witness *w = open_witness("restart.db");
	struct witness_answer a;
	char *b = body(0, 10, M_EXTRA_PROOF);

	/* From 0 the proof must be empty. */
	witness_add_checkpoint(w, b, strlen(b), NOW, &a);
	assert_int_equal(a.status, 422);
	free(a.body);
	free(b);
	b = body(0, 10, M_NONE);

	witness_add_checkpoint(w, b, strlen(b), NOW, &a);
	assert_int_equal(a.status, 200);
	free(a.body);
	witness_free(w);
	w = open_witness("restart.db");
	witness_add_checkpoint(w, b, strlen(b), NOW, &a);
	assert_int_equal(a.status, 409);
	assert_memory_equal(a.body, "10\n", 3);
	free(a.body);
	free(b);
	witness_free(w);
}

static void
test_state_cas(void **state)
{
	unsigned char r5[32] = { 5 }, r3[32] = { 3 }, r9[32] = { 9 };
	struct witstate *a, *b;
	uint64_t size;
	unsigned char root[32];

	a = witstate_open(path("cas.db"), errbuf, sizeof(errbuf));
	b = witstate_open(path("cas.db"), errbuf, sizeof(errbuf));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(witstate_get(a, ORIGIN, &size, root, NULL, NULL,
	    errbuf, sizeof(errbuf)), WITSTATE_ENOENT);
	/* Both read "nothing yet"; a moves first; b's swap must fail. */
	assert_int_equal(witstate_put(a, ORIGIN, 0, 5, r5, "n5", 2, NOW,
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(witstate_put(b, ORIGIN, 0, 3, r3, "n3", 2, NOW,
	    errbuf, sizeof(errbuf)), WITSTATE_ECONFLICT);
	/* Even a put that claims the right old size cannot shrink it. */
	assert_int_equal(witstate_put(b, ORIGIN, 5, 3, r3, "n3", 2, NOW,
	    errbuf, sizeof(errbuf)), WITSTATE_EIO);
	assert_non_null(strstr(errbuf, "never rolls a log back"));
	/* Nor give the same size another root. */
	assert_int_equal(witstate_put(b, ORIGIN, 5, 5, r9, "n9", 2, NOW,
	    errbuf, sizeof(errbuf)), WITSTATE_EIO);
	assert_int_equal(witstate_put(b, ORIGIN, 5, 9, r9, "n9", 2, NOW,
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(witstate_get(a, ORIGIN, &size, root, NULL, NULL,
	    errbuf, sizeof(errbuf)), 0);
	assert_int_equal(size, 9);
	assert_memory_equal(root, r9, 32);
	witstate_close(a);
	witstate_close(b);
}

/*
 * Two threads, each with its own witness (connection) on one file, race
 * to move the log forward: each learns the latest size from a 409 and
 * submits a bigger one. Whatever the interleaving, the 200s form one
 * chain (each from the size cosigned just before it: no rollback, no
 * fork), and the final state is its end.
 */
struct racer {
	struct witness	*w;
	unsigned	 seed;
	uint64_t	 from[NLEAVES], cosigned[NLEAVES];
	size_t		 n;
};

static pthread_barrier_t start;

static void *
race(void *arg)
{
	struct racer *r = arg;
	uint64_t known = 0;

	pthread_barrier_wait(&start);
	for (int i = 0; i < 4 * NLEAVES; i++) {
		struct witness_answer a;
		uint64_t size = known + 1 + rand_r(&r->seed) % 2;
		char *b;

		if (size >= NLEAVES)
			break;
		b = body(known, size, M_NONE);
		witness_add_checkpoint(r->w, b, strlen(b), NOW, &a);
		free(b);
		if (a.status == 200) {
			r->from[r->n] = known;
			r->cosigned[r->n++] = size;
			known = size;
		} else if (a.status == 409)
			known = strtoull(a.body, NULL, 10);
		else
			fail_msg("racer: %d %s", a.status, a.why);
		free(a.body);
		/* Let the other in: SQLite's busy wait favours the holder. */
		usleep(rand_r(&r->seed) % 2000);
	}
	return NULL;
}

static void
test_concurrent_no_rollback(void **state)
{
	struct racer r[2];

	memset(r, 0, sizeof(r));
	r[0].w = open_witness("race.db");
	r[0].seed = 1;
	r[1].w = open_witness("race.db");
	r[1].seed = 2;
	pthread_t t[2];
	struct witness_answer a;
	uint64_t max = 0, next = 0;
	size_t k[2] = { 0, 0 }, total;
	char *b;

	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	/* Merge the two (each increasing) by size: one unbroken chain. */
	for (total = r[0].n + r[1].n; total > 0; total--) {
		int i = k[1] == r[1].n || (k[0] < r[0].n &&
		    r[0].cosigned[k[0]] < r[1].cosigned[k[1]]) ? 0 : 1;
		if (r[i].from[k[i]] != next)
			fail_msg("racer %d cosigned %" PRIu64 " from %" PRIu64
			    ", but the size before was %" PRIu64, i,
			    r[i].cosigned[k[i]], r[i].from[k[i]], next);
		next = max = r[i].cosigned[k[i]++];
	}
	pthread_barrier_destroy(&start);
	print_message("racers cosigned %zu and %zu\n", r[0].n, r[1].n);
	/* Both raced to the end of the tree (an interleaving is not forced). */
	assert_true(max >= NLEAVES - 2);
	/* The stored size is the largest cosigned: ask with old 0. */
	b = body(0, 1, M_NONE);
	witness_add_checkpoint(r[0].w, b, strlen(b), NOW, &a);
	assert_int_equal(a.status, 409);
	assert_int_equal(strtoull(a.body, NULL, 10), max);
	free(a.body);
	free(b);
	witness_free(r[0].w);
	witness_free(r[1].w);
}

static void
test_config_errors(void **state)
{
	struct note_signer *key;
	struct witness *w;

	/* A log key that is a witness's, and a log key that does not parse. */
	assert_int_equal(note_key_load(path("w.key"), "witness.test.example",
	    &key, errbuf, sizeof(errbuf)), 0);
	/* A plain note key is no witness key. */
	assert_null(witness_new(key, path("x.db"), errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "cosigner key"));
	w = open_witness("cfg.db");
	assert_int_equal(witness_add_log(w, ORIGIN, vkey_w, errbuf,
	    sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "a witness's key, not a log's"));
	assert_int_equal(witness_add_log(w, ORIGIN, "nonsense", errbuf,
	    sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "verifier key"));
	witness_free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_restart_keeps_state),
		cmocka_unit_test(test_state_cas),
		cmocka_unit_test(test_concurrent_no_rollback),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
