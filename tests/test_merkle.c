/*
 * test_merkle: SPEC 6.2 known answers, the RFC 6962 test-vector proofs,
 * every proof for every size up to 128 against a literal (recursive)
 * transcription of RFC 9162's definitions, the callback and in-memory
 * variants against each other, the append helper, and mutation probes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/merkle.h"

#define H MERKLE_HASH_SIZE
#define MAXN 128

static void
unhex(const char *hex, unsigned char *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

static void
assert_hex(const unsigned char h[H], const char *hex)
{
	unsigned char want[H];

	unhex(hex, want);
	assert_memory_equal(h, want, H);
}

/* The classic 8-leaf CT tree. */
static const char *ct_leaves[] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *ct_roots[] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static unsigned char leaves[MAXN][H];

static void
ct_tree(void)
{
	for (int i = 0; i < 8; i++) {
		unsigned char d[16];
		size_t len = strlen(ct_leaves[i]) / 2;
		unhex(ct_leaves[i], d);
		merkle_hash_leaf(d, len, leaves[i]);
	}
}

static void
many_leaves(void)
{
	for (int i = 0; i < MAXN; i++) {
		char d[32];
		int len = snprintf(d, sizeof(d), "{\"n\":%d}", i);
		merkle_hash_leaf(d, (size_t)len, leaves[i]);
	}
}

/* A stored subtree table filled only through merkle_append(). */
struct table {
	uint64_t	n;
	unsigned char	h[MERKLE_MAX_DEPTH][MAXN][H];
	int		have[MERKLE_MAX_DEPTH][MAXN];
	int		reads;
};

static struct table table;

static int
table_get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	struct table *t = ctx;

	t->reads++;
	if (level >= MERKLE_MAX_DEPTH || index >= MAXN || !t->have[level][index])
		return -99;
	memcpy(out, t->h[level][index], H);
	return 0;
}

static void
table_fill(uint64_t n)
{
	struct merkle_subtree st[MERKLE_MAX_DEPTH + 1];

	memset(&table, 0, sizeof(table));
	for (uint64_t i = 0; i < n; i++) {
		int k = merkle_append(i, leaves[i], table_get, &table, st);
		int ones = __builtin_ctzll(~i);
		assert_int_equal(k, 1 + ones);
		for (int j = 0; j < k; j++) {
			assert_int_equal(st[j].level, j);
			assert_false(table.have[st[j].level][st[j].index]);
			memcpy(table.h[st[j].level][st[j].index], st[j].hash, H);
			table.have[st[j].level][st[j].index] = 1;
		}
	}
	table.n = n;
}

/* RFC 9162 2.1.1, 2.1.3.1, 2.1.4.1, transcribed literally (recursion). */

static uint64_t
ref_k(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
ref_mth(const unsigned char (*d)[H], uint64_t n, unsigned char out[H])
{
	unsigned char l[H], r[H];

	if (n == 0) {
		merkle_hash_empty(out);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], H);
		return;
	}
	uint64_t k = ref_k(n);
	ref_mth(d, k, l);
	ref_mth(d + k, n - k, r);
	merkle_hash_node(l, r, out);
}

static void
ref_path(uint64_t m, const unsigned char (*d)[H], uint64_t n,
    unsigned char out[][H], size_t *len)
{
	if (n == 1)
		return;
	uint64_t k = ref_k(n);
	if (m < k) {
		ref_path(m, d, k, out, len);
		ref_mth(d + k, n - k, out[(*len)++]);
	} else {
		ref_path(m - k, d + k, n - k, out, len);
		ref_mth(d, k, out[(*len)++]);
	}
}

static void
ref_subproof(uint64_t m, const unsigned char (*d)[H], uint64_t n, int b,
    unsigned char out[][H], size_t *len)
{
	if (m == n) {
		if (!b)
			ref_mth(d, n, out[(*len)++]);
		return;
	}
	uint64_t k = ref_k(n);
	if (m <= k) {
		ref_subproof(m, d, k, b, out, len);
		ref_mth(d + k, n - k, out[(*len)++]);
	} else {
		ref_subproof(m - k, d + k, n - k, 0, out, len);
		ref_mth(d, k, out[(*len)++]);
	}
}

static void
test_empty(void **state)
{
	unsigned char r[H];
	struct merkle_acc *acc = merkle_acc_new();

	merkle_hash_empty(r);
	assert_hex(r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(merkle_root(0, table_get, &table, r), 0);
	assert_hex(r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	merkle_acc_root(acc, r);
	assert_hex(r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	merkle_acc_free(acc);
}

static void
test_ct_roots(void **state)
{
	unsigned char r[H];
	struct merkle_acc *acc = merkle_acc_new();

	ct_tree();
	table_fill(8);
	for (int n = 1; n <= 8; n++) {
		assert_int_equal(merkle_root_mem(leaves, n, r), 0);
		assert_hex(r, ct_roots[n - 1]);
		assert_int_equal(merkle_root(n, table_get, &table, r), 0);
		assert_hex(r, ct_roots[n - 1]);
		merkle_acc_push(acc, leaves[n - 1]);
		assert_int_equal(merkle_acc_size(acc), n);
		merkle_acc_root(acc, r);
		assert_hex(r, ct_roots[n - 1]);
	}
	merkle_acc_free(acc);
}

struct vector {
	uint64_t	 a, b;		/* index/size or from/to */
	const char	*hashes[4];
};

/* The RFC 6962 reference implementation's test vectors (0-based here). */
static const struct vector ct_inclusion[] = {
	{ 0, 1, { NULL } },
	{ 0, 8, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		  "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 5, 8, { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		  "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 3, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
	{ 1, 5, { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		  "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
};

static const struct vector ct_consistency[] = {
	{ 1, 1, { NULL } },
	{ 1, 8, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		  "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 6, 8, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		  "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 5, { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		  "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
};

static size_t
vector_len(const struct vector *v)
{
	size_t n = 0;

	while (n < 4 && v->hashes[n] != NULL)
		n++;
	return n;
}

static void
test_ct_proofs(void **state)
{
	unsigned char p[MERKLE_MAX_PROOF][H], r1[H], r2[H];
	size_t len;

	ct_tree();
	table_fill(8);
	for (size_t i = 0; i < sizeof(ct_inclusion) / sizeof(ct_inclusion[0]); i++) {
		const struct vector *v = &ct_inclusion[i];
		assert_int_equal(merkle_inclusion_proof(v->a, v->b, table_get,
		    &table, p, &len), 0);
		assert_int_equal(len, vector_len(v));
		for (size_t j = 0; j < len; j++)
			assert_hex(p[j], v->hashes[j]);
		assert_int_equal(merkle_root(v->b, table_get, &table, r1), 0);
		assert_int_equal(merkle_verify_inclusion(v->a, v->b,
		    leaves[v->a], (const unsigned char (*)[H])p, len, r1), 0);
	}
	for (size_t i = 0; i < sizeof(ct_consistency) / sizeof(ct_consistency[0]); i++) {
		const struct vector *v = &ct_consistency[i];
		assert_int_equal(merkle_consistency_proof(v->a, v->b, table_get,
		    &table, p, &len), 0);
		assert_int_equal(len, vector_len(v));
		for (size_t j = 0; j < len; j++)
			assert_hex(p[j], v->hashes[j]);
		assert_int_equal(merkle_root(v->a, table_get, &table, r1), 0);
		assert_int_equal(merkle_root(v->b, table_get, &table, r2), 0);
		assert_int_equal(merkle_verify_consistency(v->a, v->b, r1, r2,
		    (const unsigned char (*)[H])p, len), 0);
	}
}

#define CP(p) ((const unsigned char (*)[H])(p))

static unsigned char roots[MAXN + 1][H];

/*
 * Every way to spoil an inclusion proof must be refused. A size is only
 * bound through its root (a checkpoint carries both), so a changed size is
 * probed with that size's own root.
 */
static void
probe_inclusion(uint64_t m, uint64_t n, unsigned char p[][H], size_t len)
{
	unsigned char q[MERKLE_MAX_PROOF + 1][H];
	const unsigned char *root = roots[n];

	assert_int_equal(merkle_verify_inclusion(m, n, leaves[m], CP(p), len,
	    root), 0);
	if (m + 1 < n)
		assert_int_not_equal(merkle_verify_inclusion(m + 1, n,
		    leaves[m], CP(p), len, root), 0);
	if (m > 0)
		assert_int_not_equal(merkle_verify_inclusion(m - 1, n,
		    leaves[m], CP(p), len, root), 0);
	if (n < MAXN)
		assert_int_not_equal(merkle_verify_inclusion(m, n + 1,
		    leaves[m], CP(p), len, roots[n + 1]), 0);
	assert_int_not_equal(merkle_verify_inclusion(m, n - 1, leaves[m],
	    CP(p), len, roots[n - 1]), 0);
	/* A different leaf. */
	assert_int_not_equal(merkle_verify_inclusion(m, n,
	    leaves[(m + 1) % MAXN], CP(p), len, root), 0);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8 * H; bit += 37) {
			memcpy(q, p, len * H);
			q[i][bit / 8] ^= (unsigned char)(1 << (bit % 8));
			assert_int_not_equal(merkle_verify_inclusion(m, n,
			    leaves[m], CP(q), len, root), 0);
		}
	if (len > 0) {
		assert_int_not_equal(merkle_verify_inclusion(m, n, leaves[m],
		    CP(p), len - 1, root), 0);
		/* Dropping the first hash instead of the last. */
		assert_int_not_equal(merkle_verify_inclusion(m, n, leaves[m],
		    CP(p + 1), len - 1, root), 0);
	}
	memcpy(q, p, len * H);
	memcpy(q[len], root, H);
	assert_int_not_equal(merkle_verify_inclusion(m, n, leaves[m], CP(q),
	    len + 1, root), 0);
	/* Another tree's root. */
	assert_int_not_equal(merkle_verify_inclusion(m, n, leaves[m], CP(p),
	    len, roots[n - 1]), 0);
}

static void
probe_consistency(uint64_t m, uint64_t n, unsigned char p[][H], size_t len)
{
	unsigned char q[MERKLE_MAX_PROOF + 1][H];
	const unsigned char *r1 = roots[m], *r2 = roots[n];

	assert_int_equal(merkle_verify_consistency(m, n, r1, r2, CP(p), len), 0);
	if (m != n)
		assert_int_not_equal(merkle_verify_consistency(m, n, r2, r1,
		    CP(p), len), 0);
	/* Sizes +-1, each with its own root; any tree extends the empty one. */
	if (m + 1 < n || (m + 1 == n && m > 0))
		assert_int_not_equal(merkle_verify_consistency(m + 1, n,
		    roots[m + 1], r2, CP(p), len), 0);
	if (m > 1 || (m == 1 && len > 0))
		assert_int_not_equal(merkle_verify_consistency(m - 1, n,
		    roots[m - 1], r2, CP(p), len), 0);
	if (m > 0 && n < MAXN)
		assert_int_not_equal(merkle_verify_consistency(m, n + 1, r1,
		    roots[n + 1], CP(p), len), 0);
	if (m > 0 && n > m)
		assert_int_not_equal(merkle_verify_consistency(m, n - 1, r1,
		    roots[n - 1], CP(p), len), 0);
	/* The right sizes against another tree's roots. */
	if (m > 0 && n > m) {
		assert_int_not_equal(merkle_verify_consistency(m, n,
		    roots[m - 1], r2, CP(p), len), 0);
		assert_int_not_equal(merkle_verify_consistency(m, n, r1,
		    roots[n - 1], CP(p), len), 0);
	}
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8 * H; bit += 37) {
			memcpy(q, p, len * H);
			q[i][bit / 8] ^= (unsigned char)(1 << (bit % 8));
			assert_int_not_equal(merkle_verify_consistency(m, n,
			    r1, r2, CP(q), len), 0);
		}
	if (len > 0) {
		assert_int_not_equal(merkle_verify_consistency(m, n, r1, r2,
		    CP(p), len - 1), 0);
		assert_int_not_equal(merkle_verify_consistency(m, n, r1, r2,
		    CP(p + 1), len - 1), 0);
	}
	memcpy(q, p, len * H);
	memcpy(q[len], r2, H);
	assert_int_not_equal(merkle_verify_consistency(m, n, r1, r2, CP(q),
	    len + 1), 0);
}

static void
test_exhaustive(void **state)
{
	unsigned char p[MERKLE_MAX_PROOF][H], pm[MERKLE_MAX_PROOF][H];
	unsigned char ref[MERKLE_MAX_PROOF][H];
	unsigned char r[H];
	size_t len, lenm, lenr;

	many_leaves();
	table_fill(MAXN);
	for (uint64_t n = 0; n <= MAXN; n++) {
		ref_mth(CP(leaves), n, roots[n]);
		assert_int_equal(merkle_root(n, table_get, &table, r), 0);
		assert_memory_equal(r, roots[n], H);
		assert_int_equal(merkle_root_mem(CP(leaves), n, r), 0);
		assert_memory_equal(r, roots[n], H);
	}
	for (uint64_t n = 1; n <= MAXN; n++) {
		for (uint64_t m = 0; m < n; m++) {
			table.reads = 0;
			assert_int_equal(merkle_inclusion_proof(m, n, table_get,
			    &table, p, &len), 0);
			assert_true(table.reads <= 2 * 7 + 1);
			assert_int_equal(merkle_inclusion_proof_mem(CP(leaves),
			    MAXN, m, n, pm, &lenm), 0);
			lenr = 0;
			ref_path(m, CP(leaves), n, ref, &lenr);
			assert_int_equal(len, lenr);
			assert_int_equal(lenm, lenr);
			assert_memory_equal(p, ref, len * H);
			assert_memory_equal(pm, ref, len * H);
			probe_inclusion(m, n, p, len);
		}
		for (uint64_t m = 0; m <= n; m++) {
			table.reads = 0;
			assert_int_equal(merkle_consistency_proof(m, n,
			    table_get, &table, p, &len), 0);
			assert_true(table.reads <= 2 * 7 + 2);
			assert_int_equal(merkle_consistency_proof_mem(
			    CP(leaves), MAXN, m, n, pm, &lenm), 0);
			lenr = 0;
			if (m > 0)
				ref_subproof(m, CP(leaves), n, 1, ref, &lenr);
			assert_int_equal(len, lenr);
			assert_int_equal(lenm, lenr);
			assert_memory_equal(p, ref, len * H);
			assert_memory_equal(pm, ref, len * H);
			probe_consistency(m, n, p, len);
		}
	}
}

static void
test_bad_arguments(void **state)
{
	unsigned char p[MERKLE_MAX_PROOF][H], r[H];
	size_t len = 7;

	many_leaves();
	table_fill(16);
	assert_int_equal(merkle_inclusion_proof(3, 3, table_get, &table, p,
	    &len), MERKLE_EINVAL);
	assert_int_equal(len, 0);
	assert_int_equal(merkle_inclusion_proof(0, 0, table_get, &table, p,
	    &len), MERKLE_EINVAL);
	assert_int_equal(merkle_consistency_proof(5, 4, table_get, &table, p,
	    &len), MERKLE_EINVAL);
	/* Asking beyond what is stored surfaces the callback's error. */
	assert_int_equal(merkle_root(17, table_get, &table, r), -99);
	assert_int_equal(merkle_inclusion_proof_mem(CP(leaves), 16, 0, 17, p,
	    &len), MERKLE_EINVAL);
	merkle_hash_empty(r);
	assert_int_equal(merkle_verify_inclusion(0, 0, leaves[0], CP(p), 0, r),
	    MERKLE_EPROOF);
	assert_int_equal(merkle_verify_inclusion(0, 1, leaves[0], CP(p),
	    MERKLE_MAX_PROOF + 1, leaves[0]), MERKLE_EPROOF);
	/* from 0: empty proof, empty old root. */
	assert_int_equal(merkle_verify_consistency(0, 5, r, leaves[0], CP(p),
	    0), 0);
	assert_int_equal(merkle_verify_consistency(0, 5, leaves[1], leaves[0],
	    CP(p), 0), MERKLE_EPROOF);
	assert_int_equal(merkle_verify_consistency(3, 5, leaves[1], leaves[0],
	    CP(p), 0), MERKLE_EPROOF);
}

/*
 * Sizes near 2^64: the walk must not overflow, and reads stay logarithmic.
 * Every leaf is the same, so level L's subtree hash is one value per level
 * and a consistent table of any size costs 64 hashes.
 */
struct uniform {
	unsigned char	level[MERKLE_MAX_DEPTH][H];
	int		reads;
};

static int
uniform_get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	struct uniform *u = ctx;

	u->reads++;
	memcpy(out, u->level[level], H);
	return 0;
}

static void
test_huge(void **state)
{
	unsigned char p[MERKLE_MAX_PROOF][H], r1[H], r2[H];
	uint64_t sizes[] = { UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 63,
	    ((uint64_t)1 << 63) + 1, 10000000 };
	struct uniform u;
	size_t len;

	merkle_hash_leaf("x", 1, u.level[0]);
	for (int l = 1; l < MERKLE_MAX_DEPTH; l++)
		merkle_hash_node(u.level[l - 1], u.level[l - 1], u.level[l]);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t n = sizes[i];
		uint64_t idx[] = { 0, n / 3, n - 2, n - 1 };
		assert_int_equal(merkle_root(n, uniform_get, &u, r2), 0);
		for (size_t j = 0; j < 4; j++) {
			u.reads = 0;
			assert_int_equal(merkle_inclusion_proof(idx[j], n,
			    uniform_get, &u, p, &len), 0);
			assert_true(len <= 64);
			assert_true(u.reads <= 128);
			assert_int_equal(merkle_verify_inclusion(idx[j], n,
			    u.level[0], CP(p), len, r2), 0);
			u.reads = 0;
			assert_int_equal(merkle_consistency_proof(idx[j] + 1, n,
			    uniform_get, &u, p, &len), 0);
			assert_true(len <= MERKLE_MAX_PROOF);
			assert_true(u.reads <= 130);
			assert_int_equal(merkle_root(idx[j] + 1, uniform_get,
			    &u, r1), 0);
			assert_int_equal(merkle_verify_consistency(idx[j] + 1,
			    n, r1, r2, CP(p), len), 0);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_ct_roots),
		cmocka_unit_test(test_ct_proofs),
		cmocka_unit_test(test_exhaustive),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_huge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
