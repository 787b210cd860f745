/*
 * bench_proofs: inclusion and consistency proof latency through the merkle
 * callback API at a large tree size (default 10,000,000 leaves), over an
 * in-memory table of complete subtrees filled by merkle_append() exactly as
 * a store fills its table. Prints the build rate, then for random (index,
 * size) and (from, to) pairs: mean and worst latency of generating a proof,
 * of computing the root it is checked against, and of verifying it, and the
 * callback reads each took. Usage: bench_proofs [LEAVES [SAMPLES]].
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shanhai/merkle.h"

#define H MERKLE_HASH_SIZE

struct table {
	unsigned char	*level[MERKLE_MAX_DEPTH];	/* level[L][i * H] */
	uint64_t	 count[MERKLE_MAX_DEPTH];
	uint64_t	 reads;
};

static int
get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	struct table *t = ctx;

	t->reads++;
	if (level >= MERKLE_MAX_DEPTH || index >= t->count[level])
		return -1;
	memcpy(out, t->level[level] + index * H, H);
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
	double	sum, max;
	uint64_t reads, maxreads;
};

static void
add(struct stat *st, double t, uint64_t reads)
{
	st->sum += t;
	if (t > st->max)
		st->max = t;
	st->reads += reads;
	if (reads > st->maxreads)
		st->maxreads = reads;
}

static void
show(const char *what, const struct stat *st, int n)
{
	printf("  %-28s mean %7.1f us  max %7.1f us  reads mean %5.1f max %3"
	    PRIu64 "\n", what, st->sum / n * 1e6, st->max * 1e6,
	    (double)st->reads / n, st->maxreads);
}

int
main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	int samples = argc > 2 ? atoi(argv[2]) : 2000;
	struct merkle_subtree st[MERKLE_MAX_DEPTH + 1];
	unsigned char p[MERKLE_MAX_PROOF][H], r1[H], r2[H], leaf[H];
	struct stat gi = { 0 }, ri = { 0 }, vi = { 0 };
	struct stat gc = { 0 }, rc = { 0 }, vc = { 0 };
	struct table t;
	uint64_t seed = 0x5eed5eed5eedULL;
	size_t len;
	double t0;

	memset(&t, 0, sizeof(t));
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
		int c = merkle_append(i, leaf, get, &t, st);
		if (c < 0)
			return 2;
		for (int j = 0; j < c; j++) {
			memcpy(t.level[st[j].level] + st[j].index * H,
			    st[j].hash, H);
			t.count[st[j].level] = st[j].index + 1;
		}
	}
	printf("merkle_append: %" PRIu64 " leaves in %.2f s (%.0f leaves/s, "
	    "leaf hash included)\n", n, now() - t0, (double)n / (now() - t0));

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
	show("inclusion proof", &gi, samples);
	show("root at that size", &ri, samples);
	show("inclusion verify", &vi, samples);
	show("consistency proof", &gc, samples);
	show("root at the old size", &rc, samples);
	show("consistency verify", &vc, samples);
	for (unsigned l = 0; l < MERKLE_MAX_DEPTH; l++)
		free(t.level[l]);
	return 0;
}
