/*
 * bench_proofs: inclusion and consistency proof latency through the merkle
 * callback API at a large tree size (default 10,000,000 leaves), over an
 * in-memory table of complete subtrees filled by merkle_append() exactly as
 * a store fills its table. Prints the build rate, then for random (index,
 * size) and (from, to) pairs: mean and worst latency of generating a proof,
 * of computing the root it is checked against, and of verifying it, and the
 * callback reads each took. With DB, the table is the store's SQLite
 * database at that path (entries and subtree hashes written as the daemon
 * writes them, in transactions of 10,000 entries), read back through
 * store_get_hash(). Usage: bench_proofs [LEAVES [SAMPLES [DB]]].
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shanhai/merkle.h"
#include "shanhai/store.h"

#define H MERKLE_HASH_SIZE

struct table {
	unsigned char	*level[MERKLE_MAX_DEPTH];	/* level[L][i * H] */
	uint64_t	 count[MERKLE_MAX_DEPTH];
	struct store	*db;		/* instead of the arrays, when set */
	uint64_t	 reads;
};

static int
get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	struct table *t = ctx;

	t->reads++;
	if (t->db != NULL)
		return store_get_hash(t->db, level, index, out);
	if (level >= MERKLE_MAX_DEPTH || index >= t->count[level])
		return -1;
	memcpy(out, t->level[level] + index * H, H);
	return 0;
}

/* Appends leaf i and the subtrees it completes. */
static int
put(struct table *t, uint64_t i, const char *body, size_t len,
    const unsigned char leaf[H])
{
	struct merkle_subtree st[MERKLE_MAX_DEPTH + 1];
	int c = merkle_append(i, leaf, get, t, st);

	if (c < 0)
		return -1;
	if (t->db != NULL) {
		if (store_append(t->db, i, body, len, leaf) < 0)
			return -1;
		for (int j = 1; j < c; j++)
			if (st[j].level >= STORE_HASH_MIN_LEVEL &&
			    store_put_hash(t->db, st[j].level, st[j].index,
			    st[j].hash) < 0)
				return -1;
		return 0;
	}
	for (int j = 0; j < c; j++) {
		memcpy(t->level[st[j].level] + st[j].index * H, st[j].hash, H);
		t->count[st[j].level] = st[j].index + 1;
	}
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: reproducible sampling without libc's rand() range limits. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

struct stat {
	double	*t;
	int	 n;
	uint64_t reads, maxreads;
};

static void
add(struct stat *st, double t, uint64_t reads)
{
	st->t[st->n++] = t;
	st->reads += reads;
	if (reads > st->maxreads)
		st->maxreads = reads;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, 99th percentile and worst: the worst is mostly the scheduler's. */
static void
show(const char *what, struct stat *st)
{
	double sum = 0;

	qsort(st->t, (size_t)st->n, sizeof(double), cmp_double);
	for (int i = 0; i < st->n; i++)
		sum += st->t[i];
	printf("  %-22s mean %6.1f  p50 %6.1f  p99 %7.1f  max %7.1f us  "
	    "reads mean %4.1f max %2" PRIu64 "\n", what, sum / st->n * 1e6,
	    st->t[st->n / 2] * 1e6, st->t[st->n * 99 / 100] * 1e6,
	    st->t[st->n - 1] * 1e6, (double)st->reads / st->n, st->maxreads);
}

int
main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	int samples = argc > 2 ? atoi(argv[2]) : 2000;
	const char *dbpath = argc > 3 ? argv[3] : NULL;
	unsigned char p[MERKLE_MAX_PROOF][H], r1[H], r2[H], leaf[H];
	struct stat gi = { 0 }, ri = { 0 }, vi = { 0 };
	struct stat gc = { 0 }, rc = { 0 }, vc = { 0 };
	struct stat *all[] = { &gi, &ri, &vi, &gc, &rc, &vc };
	struct table t;
	uint64_t seed = 0x5eed5eed5eedULL;
	size_t len;
	double t0;

	if (samples < 1)
		samples = 1;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if ((all[i]->t = calloc((size_t)samples, sizeof(double))) == NULL)
			return 2;
	memset(&t, 0, sizeof(t));
	if (dbpath != NULL) {
		char err[512];
		if ((t.db = store_open(dbpath, err, sizeof(err))) == NULL) {
			fprintf(stderr, "bench_proofs: %s\n", err);
			return 2;
		}
	} else
		for (unsigned l = 0; l < MERKLE_MAX_DEPTH && (n >> l) > 0; l++)
			if ((t.level[l] = malloc((n >> l) * H)) == NULL) {
				fprintf(stderr, "bench_proofs: out of memory\n");
				return 2;
			}
	t0 = now();
	for (uint64_t i = 0; i < n; i++) {
		char e[64];
		int k = snprintf(e, sizeof(e), "{\"n\":%" PRIu64 "}", i);
		merkle_hash_leaf(e, (size_t)k, leaf);
		if (t.db != NULL && i % 10000 == 0 && (i > 0 &&
		    store_commit(t.db) < 0))
			goto dberr;
		if (t.db != NULL && i % 10000 == 0 && store_begin(t.db) < 0)
			goto dberr;
		if (put(&t, i, e, (size_t)k, leaf) < 0)
			goto dberr;
	}
	if (t.db != NULL && store_commit(t.db) < 0)
		goto dberr;
	printf("%s: %" PRIu64 " leaves appended in %.2f s (%.0f leaves/s, "
	    "leaf hash included)\n", t.db ? "SQLite store" : "memory table",
	    n, now() - t0, (double)n / (now() - t0));

	for (int s = 0; s < samples; s++) {
		uint64_t size = n / 2 + rnd(&seed) % (n - n / 2) + 1;
		uint64_t index = rnd(&seed) % size;
		double a;

		t.reads = 0;
		a = now();
		if (merkle_inclusion_proof(index, size, get, &t, p, &len) < 0)
			return 2;
		add(&gi, now() - a, t.reads);
		t.reads = 0;
		a = now();
		if (merkle_root(size, get, &t, r2) < 0)
			return 2;
		add(&ri, now() - a, t.reads);
		if (get(&t, 0, index, leaf) < 0)
			return 2;
		a = now();
		if (merkle_verify_inclusion(index, size, leaf,
		    (const unsigned char (*)[H])p, len, r2) != 0) {
			fprintf(stderr, "inclusion %" PRIu64 "/%" PRIu64
			    " does not verify\n", index, size);
			return 1;
		}
		add(&vi, now() - a, 0);

		uint64_t from = rnd(&seed) % size + 1;
		t.reads = 0;
		a = now();
		if (merkle_consistency_proof(from, size, get, &t, p, &len) < 0)
			return 2;
		add(&gc, now() - a, t.reads);
		t.reads = 0;
		a = now();
		if (merkle_root(from, get, &t, r1) < 0)
			return 2;
		add(&rc, now() - a, t.reads);
		a = now();
		if (merkle_verify_consistency(from, size, r1, r2,
		    (const unsigned char (*)[H])p, len) != 0) {
			fprintf(stderr, "consistency %" PRIu64 " -> %" PRIu64
			    " does not verify\n", from, size);
			return 1;
		}
		add(&vc, now() - a, 0);
	}
	printf("proofs at sizes in (%" PRIu64 ", %" PRIu64 "], %d samples "
	    "each (target: under 5 ms):\n", n / 2, n, samples);
	show("inclusion proof", &gi);
	show("root at that size", &ri);
	show("inclusion verify", &vi);
	show("consistency proof", &gc);
	show("root at the old size", &rc);
	show("consistency verify", &vc);
	for (unsigned l = 0; l < MERKLE_MAX_DEPTH; l++)
		free(t.level[l]);
	store_close(t.db);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->t);
	return 0;
dberr:
	fprintf(stderr, "bench_proofs: %s\n", store_errmsg(t.db));
	store_close(t.db);
	return 2;
}
