/*
 * test_tiles: the tlog-tiles layout. Paths against the spec's examples
 * (index 1234067 is x001/x234/067); the spec's tree of 70,000 entries
 * (273 full level-0 tiles and a partial one of 112, a full level-1 tile
 * and a partial one of 17, a partial level-2 tile of 1), read back: every
 * bundle gives the stored entries, every tile hashes to the one above, and
 * the tiles give the tree's root; publishing in steps writes the same
 * files; pruning deletes the partial tiles of tiles full at the published
 * size and keeps those it needs; a tile changed on disk stops publishing;
 * an entry too long for a bundle is named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/merkle.h"
#include "shanhai/store.h"
#include "shanhai/tiles.h"

#define BIG	70000

static char dir[256], errbuf[512];
static struct store *st;
static unsigned char root[MERKLE_HASH_SIZE];

static char *
path(const char *name)
{
	static char buf[4][400];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static void
entry_text(uint64_t i, char *buf, size_t cap, size_t *len)
{
	*len = (size_t)snprintf(buf, cap, "{\"n\":%" PRIu64 ",\"pad\":\"%.*s\"}",
	    i, (int)(i % 40), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

/* Appends entries [from, to) as the journal does: leaves and subtrees. */
static void
append(struct store *s, uint64_t from, uint64_t to)
{
	struct merkle_subtree out[MERKLE_MAX_DEPTH + 1];

	assert_int_equal(store_begin(s), 0);
	for (uint64_t i = from; i < to; i++) {
		unsigned char leaf[32];
		char e[128];
		size_t len;
		int n;

		entry_text(i, e, sizeof(e), &len);
		merkle_hash_leaf(e, len, leaf);
		assert_int_equal(store_append(s, i, e, len, leaf), 0);
		n = merkle_append(i, leaf, store_get_hash, s, out);
		assert_true(n > 0);
		for (int k = 0; k < n; k++)
			if (out[k].level >= STORE_HASH_MIN_LEVEL)
				assert_int_equal(store_put_hash(s, out[k].level,
				    out[k].index, out[k].hash), 0);
	}
	assert_int_equal(store_commit(s), 0);
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/tiles-XXXXXX", t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	if ((st = store_open(path("ledger.db"), errbuf, sizeof(errbuf))) ==
	    NULL)
		return -1;
	append(st, 0, BIG);
	return merkle_root(BIG, store_get_hash, st, root);
}

static int
teardown(void **state)
{
	char cmd[300];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_paths(void **state)
{
	static const struct {
		int		 level;
		uint64_t	 n;
		unsigned	 width;
		const char	*path;
	} cases[] = {
		{ 0, 0, 256, "tile/0/000" },
		{ 0, 1234067, 256, "tile/0/x001/x234/067" },
		{ 0, 7, 112, "tile/0/007.p/112" },
		{ 1, 999, 256, "tile/1/999" },
		{ 2, 1000, 17, "tile/2/x001/000.p/17" },
		{ 63, 0, 1, "tile/63/000.p/1" },
		{ TILES_ENTRIES, 5, 17, "tile/entries/005.p/17" },
		{ TILES_ENTRIES, 1234067, 256, "tile/entries/x001/x234/067" },
		{ 0, UINT64_MAX, 256,
		  "tile/0/x018/x446/x744/x073/x709/x551/615" },
		{ 64, 0, 256, NULL },
		{ -2, 0, 256, NULL },
		{ 0, 0, 0, NULL },
		{ 0, 0, 257, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[TILES_PATH_BUFSZ];
		int rc = tiles_path(buf, cases[i].level, cases[i].n,
		    cases[i].width);

		if (cases[i].path == NULL)
			assert_int_equal(rc, -1);
		else {
			assert_int_equal(rc, 0);
			assert_string_equal(buf, cases[i].path);
		}
	}
}

static unsigned char *
slurp(const char *file, size_t *len)
{
	FILE *f = fopen(file, "rb");
	unsigned char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static unsigned char *
tile(const char *d, int level, uint64_t n, unsigned width, size_t *len)
{
	char rel[TILES_PATH_BUFSZ], full[600];

	assert_int_equal(tiles_path(rel, level, n, width), 0);
	snprintf(full, sizeof(full), "%s/%s", d, rel);
	return slurp(full, len);
}

/* The tiles of `d` for BIG entries, read back and checked. */
static void
check_big(const char *d)
{
	unsigned char level1[TILES_WIDTH + 17][32], level2[1][32], r[32];
	unsigned char *t, *b, (*l0)[32];
	unsigned char (*leaves)[32] = malloc(BIG * 32);
	size_t len, blen;
	uint64_t idx = 0;

	assert_non_null(leaves);

	/* 273 full level-0 tiles and a partial of 112, with their bundles. */
	for (uint64_t n = 0; n <= 273; n++) {
		unsigned w = n < 273 ? 256 : 112;
		size_t off = 0;

		t = tile(d, 0, n, w, &len);
		assert_non_null(t);
		assert_int_equal(len, 32 * w);
		b = tile(d, TILES_ENTRIES, n, w, &blen);
		assert_non_null(b);
		for (unsigned i = 0; i < w; i++, idx++) {
			unsigned char leaf[32];
			char e[128];
			size_t el;

			entry_text(idx, e, sizeof(e), &el);
			assert_true(off + 2 <= blen);
			assert_int_equal((size_t)b[off] << 8 | b[off + 1], el);
			assert_memory_equal(b + off + 2, e, el);
			off += 2 + el;
			merkle_hash_leaf(e, el, leaf);
			assert_memory_equal(t + 32 * i, leaf, 32);
			memcpy(leaves[idx], leaf, 32);
		}
		assert_int_equal(off, blen);
		/* A full tile is the subtree below one level-1 hash. */
		if (w == 256) {
			l0 = (unsigned char (*)[32])t;
			assert_int_equal(merkle_root_mem(
			    (const unsigned char (*)[32])l0, 256, level1[n]), 0);
		}
		free(t);
		free(b);
	}
	/* No full tile 273 and no empty ones. */
	assert_null(tile(d, 0, 273, 256, &len));
	assert_null(tile(d, 2, 0, 256, &len));
	/* Level 1: a full tile of the first 256, a partial one of 17. */
	t = tile(d, 1, 0, 256, &len);
	assert_non_null(t);
	assert_int_equal(len, 8192);
	assert_memory_equal(t, level1, 8192);
	free(t);
	t = tile(d, 1, 1, 17, &len);
	assert_non_null(t);
	assert_int_equal(len, 17 * 32);
	assert_memory_equal(t, level1[256], 17 * 32);
	free(t);
	/* Level 2: one hash, the root of the first 65,536 entries. */
	t = tile(d, 2, 0, 1, &len);
	assert_non_null(t);
	assert_int_equal(len, 32);
	assert_int_equal(merkle_root_mem((const unsigned char (*)[32])level1,
	    256, level2[0]), 0);
	assert_memory_equal(t, level2[0], 32);
	free(t);
	/* The level-0 tiles together hash to the tree's root. */
	assert_int_equal(merkle_root_mem((const unsigned char (*)[32])leaves,
	    BIG, r), 0);
	assert_memory_equal(r, root, 32);
	free(leaves);
}

static void
test_publish_big(void **state)
{
	char *out = path("out");
	uint64_t size;
	char *note;

	assert_int_equal(tiles_published(out, &size, NULL, errbuf,
	    sizeof(errbuf)), 1);
	assert_int_equal(tiles_publish(st, out, 0, BIG, "cp\n70000\nx\n",
	    errbuf, sizeof(errbuf)), 0);
	check_big(out);
	assert_int_equal(tiles_published(out, &size, &note, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(size, BIG);
	assert_string_equal(note, "cp\n70000\nx\n");
	free(note);
	/* Again from 0: every file is already there with the same bytes. */
	assert_int_equal(tiles_publish(st, out, 0, BIG, "cp\n70000\nx\n",
	    errbuf, sizeof(errbuf)), 0);
}

/* Published in steps (as the daemon does), the same files. */
static void
test_publish_steps(void **state)
{
	static const uint64_t steps[] = { 1, 255, 256, 257, 1000, 65535,
	    65536, 65537, 69999, BIG };
	char *out = path("steps"), cmd[1000];
	uint64_t from = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char note[64];
		snprintf(note, sizeof(note), "cp\n%" PRIu64 "\nx\n", steps[i]);
		if (tiles_publish(st, out, from, steps[i], note, errbuf,
		    sizeof(errbuf)) != 0)
			fail_msg("step %" PRIu64 ": %s", steps[i], errbuf);
		from = steps[i];
	}
	check_big(out);
	/* Every file of the one-shot publication is there, byte for byte. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && find tile -type f | while read "
	    "f; do cmp -s \"$f\" '%s'/\"$f\" || exit 1; done", path("out"), out);
	assert_int_equal(system(cmd), 0);
	/* And the earlier partial tiles stay for their checkpoints. */
	snprintf(cmd, sizeof(cmd), "test -f '%s/tile/0/000.p/255' && test -f "
	    "'%s/tile/1/000.p/255'", out, out);
	assert_int_equal(system(cmd), 0);
}

/*
 * Pruned after each publication (as the daemon does), then once from 0:
 * the partials of every tile full at the published size are gone, the
 * tree still reads back, the partials that size needs stay, and so does a
 * narrower partial of a tile that is not yet full.
 */
static void
test_prune(void **state)
{
	static const uint64_t steps[] = { 1, 255, 256, 257, 1000, 65535,
	    65536, 65537, 69999, BIG };
	char *out = path("pruned"), *once = path("steps"), cmd[1200];
	uint64_t from = 0, n, total = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char note[64];
		snprintf(note, sizeof(note), "cp\n%" PRIu64 "\nx\n", steps[i]);
		if (tiles_publish(st, out, from, steps[i], note, errbuf,
		    sizeof(errbuf)) != 0 || tiles_prune(out, from, steps[i], &n,
		    errbuf, sizeof(errbuf)) != 0)
			fail_msg("step %" PRIu64 ": %s", steps[i], errbuf);
		total += n;
		from = steps[i];
	}
	/* 0.p/255 and 0.p/1 (0 full at 256), 3.p/232 (1000), and so on. */
	assert_true(total > 0);
	check_big(out);
	snprintf(cmd, sizeof(cmd), "cd '%s' && ! test -e tile/0/000.p && "
	    "! test -e tile/entries/000.p && ! test -e tile/0/003.p && "
	    "! test -e tile/1/000.p && ! test -e tile/entries/255.p && "
	    "test -f tile/0/273.p/112 && test -f tile/entries/273.p/112 && "
	    "test -f tile/1/001.p/17 && test -f tile/2/000.p/1 && "
	    "test -f tile/0/273.p/111 && test -f tile/entries/273.p/111 && "
	    "test -f tile/0/000 && test -f tile/1/000 && "
	    "test $(find tile -path '*.p/*' | wc -l) = 6", out);
	assert_int_equal(system(cmd), 0);
	/* Once from 0 over test_publish_steps' folder: the same files. */
	snprintf(cmd, sizeof(cmd), "touch '%s/tile/0/001.p/7.tmp.1.1'", once);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tiles_prune(once, 0, BIG, &n, errbuf,
	    sizeof(errbuf)), 0);
	assert_true(n == total + 1);
	snprintf(cmd, sizeof(cmd), "diff -r '%s/tile' '%s/tile' >/dev/null",
	    out, once);
	assert_int_equal(system(cmd), 0);
	/* Nothing more to prune. */
	assert_int_equal(tiles_prune(once, 0, BIG, &n, errbuf,
	    sizeof(errbuf)), 0);
	assert_true(n == 0);
}

static void
test_never_rewritten(void **state)
{
	char *out = path("tamper"), cmd[600];

	assert_int_equal(tiles_publish(st, out, 0, 600, "cp\n600\nx\n", errbuf,
	    sizeof(errbuf)), 0);
	snprintf(cmd, sizeof(cmd), "printf X | dd of='%s/tile/0/001' bs=1 "
	    "seek=100 conv=notrunc 2>/dev/null", out);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tiles_publish(st, out, 0, 600, "cp\n600\nx\n", errbuf,
	    sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "tile/0/001 exists with other bytes"));
	/* The checkpoint was not replaced by the refused run. */
	assert_int_equal(tiles_publish(st, out, 600, 500, "cp\n500\nx\n", errbuf,
	    sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "above the ledger"));
}

static void
test_entry_too_long(void **state)
{
	struct store *s = store_open(path("long.db"), errbuf, sizeof(errbuf));
	unsigned char leaf[32];
	char *e = malloc(TILES_MAX_ENTRY + 2);

	assert_non_null(s);
	memset(e, 'a', TILES_MAX_ENTRY + 1);
	e[TILES_MAX_ENTRY + 1] = '\0';
	merkle_hash_leaf(e, TILES_MAX_ENTRY + 1, leaf);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_append(s, 0, e, TILES_MAX_ENTRY + 1, leaf), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(tiles_publish(s, path("long"), 0, 1, "cp\n1\nx\n",
	    errbuf, sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "entry 0 is 65536 bytes"));
	free(e);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_publish_big),
		cmocka_unit_test(test_publish_steps),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_never_rewritten),
		cmocka_unit_test(test_entry_too_long),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
