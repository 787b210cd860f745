/*
 * merkle: the RFC 6962 / RFC 9162 Merkle tree over SHA-256 (SPEC 6.2).
 * Pure: no I/O. Sizes and indexes are uint64_t; nothing recurses, and no
 * memory grows with the tree.
 *
 * Storage model. A tree of size n is held as the hashes of its complete,
 * aligned subtrees: (level L, index i) is the hash of leaves
 * [i * 2^L, (i + 1) * 2^L). Level 0 holds the leaf hashes. Such a hash never
 * changes once its last leaf exists, so a store appends and never rewrites.
 * merkle_append() says which of them a new leaf completes; the generators
 * below read them through a merkle_get_fn and cost O(log n) reads for any
 * size, including sizes smaller than the current tree (old checkpoints).
 *
 * Errors: MERKLE_EINVAL for arguments outside the tree (index >= size,
 * from > to, a proof longer than MERKLE_MAX_PROOF), or whatever negative
 * value the callback returned. Verification returns 0 when the proof holds
 * and MERKLE_EPROOF when it does not.
 */
#ifndef SHANHAI_MERKLE_H
#define SHANHAI_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_SIZE	32
/* A tree of at most 2^64 - 1 leaves is at most 64 levels deep. */
#define MERKLE_MAX_DEPTH	64
/* Longest inclusion proof is 64 hashes, longest consistency proof 65. */
#define MERKLE_MAX_PROOF	(MERKLE_MAX_DEPTH + 1)

#define MERKLE_EINVAL	(-1)
#define MERKLE_EPROOF	(-2)

/*
 * Reads the stored hash of the complete subtree (level, index) into out.
 * Returns 0, or a negative value that the caller gets back unchanged.
 * Only subtrees that are complete in the size asked for are ever read.
 */
typedef int merkle_get_fn(void *ctx, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_SIZE]);

/* One complete aligned subtree hash, as merkle_append() hands them out. */
struct merkle_subtree {
	unsigned	level;
	uint64_t	index;
	unsigned char	hash[MERKLE_HASH_SIZE];
};

/* SHA-256(0x00 || data): the hash of one entry's canonical bytes. */
void	merkle_hash_leaf(const void *data, size_t len,
	    unsigned char out[MERKLE_HASH_SIZE]);
/* SHA-256(0x01 || left || right). out may alias left or right. */
void	merkle_hash_node(const unsigned char left[MERKLE_HASH_SIZE],
	    const unsigned char right[MERKLE_HASH_SIZE],
	    unsigned char out[MERKLE_HASH_SIZE]);
/* SHA-256(""): the root of the empty tree. */
void	merkle_hash_empty(unsigned char out[MERKLE_HASH_SIZE]);

/*
 * The leaf with hash `leaf` becomes leaf number n (the tree grows from n to
 * n + 1 leaves). Fills out[] with every subtree this completes, level 0 (the
 * leaf itself) first, then upwards: 1 + the number of trailing one bits of n
 * items, at most MERKLE_MAX_DEPTH + 1. Reads (via get) only the left siblings
 * that were complete before, i.e. hashes a store already holds. Returns the
 * number of items, or a negative error. n must be below UINT64_MAX.
 */
int	merkle_append(uint64_t n, const unsigned char leaf[MERKLE_HASH_SIZE],
	    merkle_get_fn *get, void *ctx,
	    struct merkle_subtree out[MERKLE_MAX_DEPTH + 1])
	    __attribute__((warn_unused_result));

/* Root of the first `size` leaves; size 0 gives the empty root. */
int	merkle_root(uint64_t size, merkle_get_fn *get, void *ctx,
	    unsigned char out[MERKLE_HASH_SIZE])
	    __attribute__((warn_unused_result));

/*
 * RFC 9162 2.1.3.1 inclusion proof of leaf `index` in the tree of `size`
 * leaves, bottom up. Writes *len hashes (at most MERKLE_MAX_PROOF) to proof.
 */
int	merkle_inclusion_proof(uint64_t index, uint64_t size,
	    merkle_get_fn *get, void *ctx,
	    unsigned char proof[][MERKLE_HASH_SIZE], size_t *len)
	    __attribute__((warn_unused_result));

/*
 * RFC 9162 2.1.4.1 consistency proof from the tree of `from` leaves to the
 * tree of `to` leaves. from == 0 and from == to give an empty proof.
 */
int	merkle_consistency_proof(uint64_t from, uint64_t to,
	    merkle_get_fn *get, void *ctx,
	    unsigned char proof[][MERKLE_HASH_SIZE], size_t *len)
	    __attribute__((warn_unused_result));

/*
 * The same three over an array of n leaf hashes held in memory (tests,
 * small tools). They cost O(n) time and O(log n) stack space.
 */
int	merkle_root_mem(const unsigned char leaves[][MERKLE_HASH_SIZE],
	    uint64_t n, unsigned char out[MERKLE_HASH_SIZE])
	    __attribute__((warn_unused_result));
int	merkle_inclusion_proof_mem(const unsigned char leaves[][MERKLE_HASH_SIZE],
	    uint64_t n, uint64_t index, uint64_t size,
	    unsigned char proof[][MERKLE_HASH_SIZE], size_t *len)
	    __attribute__((warn_unused_result));
int	merkle_consistency_proof_mem(
	    const unsigned char leaves[][MERKLE_HASH_SIZE], uint64_t n,
	    uint64_t from, uint64_t to,
	    unsigned char proof[][MERKLE_HASH_SIZE], size_t *len)
	    __attribute__((warn_unused_result));

/*
 * RFC 9162 2.1.3.2: does `proof` show leaf hash `leaf` at `index` in the tree
 * of `size` leaves whose root is `root`? 0 yes, MERKLE_EPROOF no.
 */
int	merkle_verify_inclusion(uint64_t index, uint64_t size,
	    const unsigned char leaf[MERKLE_HASH_SIZE],
	    const unsigned char proof[][MERKLE_HASH_SIZE], size_t len,
	    const unsigned char root[MERKLE_HASH_SIZE])
	    __attribute__((warn_unused_result));

/*
 * RFC 9162 2.1.4.2: does `proof` show the tree of `to` leaves with root
 * `root2` extends the tree of `from` leaves with root `root1`? from == 0 is
 * consistent with anything when root1 is the empty root and proof is empty.
 * 0 yes, MERKLE_EPROOF no.
 */
int	merkle_verify_consistency(uint64_t from, uint64_t to,
	    const unsigned char root1[MERKLE_HASH_SIZE],
	    const unsigned char root2[MERKLE_HASH_SIZE],
	    const unsigned char proof[][MERKLE_HASH_SIZE], size_t len)
	    __attribute__((warn_unused_result));

/*
 * A running root over leaves added in order, in O(log n) memory (the
 * "compact range" of the tree's right edge): verifiers and bulk loaders use
 * it to hash a ledger without storing it. merkle_acc_new() returns NULL when
 * out of memory.
 */
struct merkle_acc;

struct merkle_acc	*merkle_acc_new(void);
void			 merkle_acc_free(struct merkle_acc *acc);
/* Adds the next leaf hash. */
void			 merkle_acc_push(struct merkle_acc *acc,
			    const unsigned char leaf[MERKLE_HASH_SIZE]);
/* Number of leaves added so far. */
uint64_t		 merkle_acc_size(const struct merkle_acc *acc);
/* Root of the leaves added so far. */
void			 merkle_acc_root(const struct merkle_acc *acc,
			    unsigned char out[MERKLE_HASH_SIZE]);

#endif
