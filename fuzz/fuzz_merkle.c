/*
 * fuzz_merkle: RFC 9162 trees of up to 1024 leaves, sizes and indexes chosen
 * by the input. The stored-subtree generators (merkle_append, merkle_root,
 * the proofs through a read callback) agree with the in-memory ones and the
 * running accumulator; every generated proof verifies; and a proof with one
 * flipped bit, one hash too few or too many, or checked against a changed
 * leaf or root, never does.
 */
#include "fuzz.h"

#include "shanhai/merkle.h"

#define MAXLEAVES	1024
#define H		MERKLE_HASH_SIZE

/* The aligned subtrees of the tree, as a store would hold them. */
static unsigned char sub[11][MAXLEAVES][H];
static unsigned char leaves[MAXLEAVES][H];

static int
get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	uint64_t n = *(uint64_t *)ctx;

	FUZZ_CHECK(level < 11 && ((index + 1) << level) <= n,
	    "read of subtree (%u, %llu) not complete in %llu leaves", level,
	    (unsigned long long)index, (unsigned long long)n);
	memcpy(out, sub[level][index], H);
	return 0;
}

struct in {
	const uint8_t	*p;
	size_t		 left;
};

static unsigned
take(struct in *in, unsigned bytes)
{
	unsigned v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8;
		if (in->left > 0) {
			v |= *in->p++;
			in->left--;
		}
	}
	return v;
}

/* Applies mutation m (from the input) to a copy; 0 when it is a no-op. */
static int
mutate(unsigned m, unsigned char proof[][H], size_t *len,
    unsigned char leaf[H], unsigned char root[H], int root_matters)
{
	unsigned what = m % 5, bit = m / 5;

	switch (what) {
	case 0:
		if (*len == 0)
			return 0;
		proof[(bit / (8 * H)) % *len][(bit / 8) % H] ^= 1u << (bit % 8);
		return 1;
	case 1:
		if (*len == 0)
			return 0;
		(*len)--;
		return 1;
	case 2:
		if (*len >= MERKLE_MAX_PROOF)
			return 0;
		memset(proof[*len], (int)bit, H);
		(*len)++;
		return 1;
	case 3:
		if (leaf == NULL)
			return 0;
		leaf[(bit / 8) % H] ^= 1u << (bit % 8);
		return 1;
	default:
		if (!root_matters)
			return 0;
		root[(bit / 8) % H] ^= 1u << (bit % 8);
		return 1;
	}
}

static int built;

/*
 * The tree of MAXLEAVES leaves, built once with merkle_append() as a store
 * would, checking the accumulator's root against merkle_root() at every
 * size on the way.
 */
static void
build(void)
{
	struct merkle_subtree out[MERKLE_MAX_DEPTH + 1];
	struct merkle_acc *acc;
	unsigned char r1[H], r2[H];
	uint64_t cur = 0;

	if ((acc = merkle_acc_new()) == NULL)
		abort();
	for (uint64_t i = 0; i < MAXLEAVES; i++) {
		int k;

		merkle_hash_leaf(&i, sizeof(i), leaves[i]);
		k = merkle_append(i, leaves[i], get, &cur, out);
		FUZZ_CHECK(k == 1 + __builtin_ctzll(~i), "append gave %d", k);
		for (int j = 0; j < k; j++) {
			FUZZ_CHECK(out[j].level == (unsigned)j &&
			    out[j].index == i >> j, "append order");
			memcpy(sub[out[j].level][out[j].index], out[j].hash, H);
		}
		cur = i + 1;
		merkle_acc_push(acc, leaves[i]);
		merkle_acc_root(acc, r1);
		FUZZ_CHECK(merkle_acc_size(acc) == cur &&
		    merkle_root(cur, get, &cur, r2) == 0 &&
		    memcmp(r1, r2, H) == 0, "accumulator root at %llu",
		    (unsigned long long)cur);
	}
	merkle_acc_free(acc);
	built = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	unsigned char root[H], root2[H], r1[H], r2[H], leaf[H];
	unsigned char proof[MERKLE_MAX_PROOF + 1][H], proof2[MERKLE_MAX_PROOF][H];
	uint64_t n, cur;
	size_t len, len2;

	if (!built)
		build();
	/* The tree has n leaves; reads beyond it are errors. */
	n = take(&in, 2) % MAXLEAVES + 1;
	cur = n;

	/* Roots of a chosen size, both ways. */
	uint64_t s = take(&in, 2) % (n + 1);
	FUZZ_CHECK(merkle_root(s, get, &cur, root) == 0, "root");
	FUZZ_CHECK(merkle_root_mem((const unsigned char (*)[H])leaves, s,
	    root2) == 0 && memcmp(root, root2, H) == 0, "root_mem differs");

	/* Inclusion of a chosen leaf in a chosen size. */
	if (s > 0) {
		uint64_t idx = take(&in, 2) % s;

		FUZZ_CHECK(merkle_inclusion_proof(idx, s, get, &cur, proof,
		    &len) == 0, "inclusion proof");
		FUZZ_CHECK(merkle_inclusion_proof_mem(
		    (const unsigned char (*)[H])leaves, n, idx, s, proof2,
		    &len2) == 0 && len == len2 &&
		    memcmp(proof, proof2, len * H) == 0, "inclusion_mem differs");
		FUZZ_CHECK(merkle_verify_inclusion(idx, s, leaves[idx],
		    (const unsigned char (*)[H])proof, len, root) == 0,
		    "inclusion %llu in %llu does not verify",
		    (unsigned long long)idx, (unsigned long long)s);
		memcpy(leaf, leaves[idx], H);
		memcpy(r1, root, H);
		if (mutate(take(&in, 3), proof, &len, leaf, r1, 1))
			FUZZ_CHECK(merkle_verify_inclusion(idx, s, leaf,
			    (const unsigned char (*)[H])proof, len, r1) ==
			    MERKLE_EPROOF, "a mutated inclusion proof verifies");
	}

	/* Consistency between two chosen sizes. */
	uint64_t from = take(&in, 2) % (n + 1), to = take(&in, 2) % (n + 1);
	if (from > to) {
		uint64_t t = from;
		from = to;
		to = t;
	}
	FUZZ_CHECK(merkle_root(from, get, &cur, r1) == 0 &&
	    merkle_root(to, get, &cur, r2) == 0, "roots");
	FUZZ_CHECK(merkle_consistency_proof(from, to, get, &cur, proof,
	    &len) == 0, "consistency proof");
	FUZZ_CHECK(merkle_consistency_proof_mem(
	    (const unsigned char (*)[H])leaves, n, from, to, proof2, &len2) == 0 &&
	    len == len2 && memcmp(proof, proof2, len * H) == 0,
	    "consistency_mem differs");
	FUZZ_CHECK(merkle_verify_consistency(from, to, r1, r2,
	    (const unsigned char (*)[H])proof, len) == 0,
	    "consistency %llu -> %llu does not verify",
	    (unsigned long long)from, (unsigned long long)to);
	/*
	 * From the empty tree anything is consistent, so only proofs and
	 * second roots of a non-empty first tree must notice a change.
	 */
	unsigned m = take(&in, 3);
	if (from > 0 && mutate(m, proof, &len, (m / 5) % 2 ? r1 : NULL, r2, 1))
		FUZZ_CHECK(merkle_verify_consistency(from, to, r1, r2,
		    (const unsigned char (*)[H])proof, len) == MERKLE_EPROOF,
		    "a mutated consistency proof %llu -> %llu verifies",
		    (unsigned long long)from, (unsigned long long)to);
	return 0;
}
