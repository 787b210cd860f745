/*
 * shanhai fixture: builds and signs ledgers without a daemon, for tests,
 * benchmarks and the audit recipe. Not listed in `shanhai help`; see
 * doc/DESIGN.md, "Ledger". It uses the same engine, tree and note code as
 * the daemon, but it holds no state: it signs whatever file it is given.
 *
 *   fixture build --rules DIR [--time T] [--submitter HEX] REPORTS.jsonl
 *	a ledger as the daemon would write it: one `rules` entry per
 *	agreement (name order), then the entries of each report in turn;
 *	with --time, every entry gets "time": T; with --submitter, every
 *	report entry gets "submitter": HEX.
 *   fixture sign --key FILE [--key FILE] --origin O [--size N] LEDGER
 *	the signed checkpoint of the first N entries (all by default).
 *   fixture receipt --key FILE [...] --origin O --index I [--size N] LEDGER
 *	the SPEC 7 receipt of the report entry I against that checkpoint,
 *	the entry in its proof's extra line as the daemon writes it.
 *   fixture consistency --from A [--size N] LEDGER
 *	{"from":A,"to":N,"hashes":[...]} as GET /v1/ledger/proof/consistency.
 *   fixture inclusion --index I [--size N] LEDGER
 *	{"index":I,"size":N,"hashes":[...]} as GET /v1/ledger/proof/inclusion.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/cmd.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

#define MAX_KEYS	4

static int
usage(void)
{
	fprintf(stderr,
	    "usage: shanhai fixture build --rules DIR [--time T] [--submitter HEX] "
	    "REPORTS.jsonl\n"
	    "       shanhai fixture sign --key FILE [--key FILE] --origin O "
	    "[--size N] LEDGER\n"
	    "       shanhai fixture receipt --key FILE --origin O --index I "
	    "[--size N] LEDGER\n"
	    "       shanhai fixture consistency --from A [--size N] LEDGER\n"
	    "       shanhai fixture inclusion --index I [--size N] LEDGER\n");
	return CMD_USAGE;
}

static void
print_msg(void *arg, const char *msg)
{
	fprintf(stderr, "%s\n", msg);
}

static int
put_entry(json_t *e, const char *time)
{
	char err[256], *c;
	size_t len;

	if (time != NULL)
		json_object_set_new(e, "time", json_string(time));
	if ((c = canon_dump(e, &len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "shanhai fixture: %s\n", err);
		return -1;
	}
	fwrite(c, 1, len, stdout);
	putchar('\n');
	free(c);
	return 0;
}

static int
build(const char *dir, const char *time, const char *submitter,
    const char *path)
{
	struct rules **list;
	struct settle *s;
	size_t n, cap = 0, lineno = 0;
	char *line = NULL, err[1024];
	ssize_t len;
	int rc = CMD_OK;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "shanhai fixture: %s: %s\n", path,
		    strerror(errno));
		return CMD_USAGE;
	}
	if (rules_load_dir(dir, &list, &n, print_msg, NULL) == -1 ||
	    (s = settle_new()) == NULL) {
		fclose(f);
		return CMD_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = rules_entry(list[i]);
		put_entry(e, time);
		json_decref(e);
		if (settle_install(s, list[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			rules_free(list[i]);
			rc = CMD_FAILED;
		}
	}
	free(list);
	while (rc == CMD_OK && (len = getline(&line, &cap, f)) != -1) {
		struct settle_result *res;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (settle_submit(s, line, (size_t)len, NULL, 0, time, submitter,
		    &res, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s:%zu: %s\n", path, lineno, err);
			rc = CMD_FAILED;
			break;
		}
		cmd_print_entries(res);
		settle_result_free(res);
	}
	free(line);
	fclose(f);
	settle_free(s);
	if (fflush(stdout) == EOF)
		rc = CMD_USAGE;
	return rc;
}

/* The leaf hashes of the first `size` lines (all when size is UINT64_MAX). */
static unsigned char (*read_leaves(const char *path, uint64_t *size))[MERKLE_HASH_SIZE]
{
	unsigned char (*leaves)[MERKLE_HASH_SIZE] = NULL;
	uint64_t n = 0, cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "shanhai fixture: %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	while (n < *size && (len = getline(&line, &lcap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			void *nl = realloc(leaves, cap * MERKLE_HASH_SIZE);
			if (nl == NULL) {
				free(leaves);
				leaves = NULL;
				break;
			}
			leaves = nl;
		}
		merkle_hash_leaf(line, (size_t)len, leaves[n++]);
	}
	free(line);
	fclose(f);
	if (leaves == NULL && n > 0)
		return NULL;
	if (*size != UINT64_MAX && n < *size) {
		fprintf(stderr, "shanhai fixture: %s: only %" PRIu64
		    " entries\n", path, n);
		free(leaves);
		return NULL;
	}
	*size = n;
	if (leaves == NULL)
		leaves = malloc(MERKLE_HASH_SIZE);	/* empty ledger */
	return leaves;
}

static char *
sign_checkpoint(const char **keys, size_t nkeys, const char *origin,
    uint64_t size, const unsigned char root[MERKLE_HASH_SIZE], size_t *lenp)
{
	struct note_signer *signers[MAX_KEYS];
	char err[512], *body, *out = NULL;
	size_t n = 0;

	for (; n < nkeys; n++)
		if (note_key_load(keys[n], origin, &signers[n], err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "shanhai fixture: %s\n", err);
			goto done;
		}
	body = note_checkpoint_body(origin, size, root);
	if (body == NULL || note_sign(body, strlen(body), signers, nkeys, &out,
	    lenp, err, sizeof(err)) < 0) {
		fprintf(stderr, "shanhai fixture: %s\n", body ? err : "no memory");
		out = NULL;
	}
	free(body);
done:
	while (n > 0)
		note_signer_free(signers[--n]);
	return out;
}

/* The status a receipt would carry, from the entries the report caused. */
static const char *
group_status(const char *path, uint64_t index, json_t *entries)
{
	const char *status = "waiting";
	char *line = NULL;
	size_t cap = 0;
	uint64_t i = 0;
	FILE *f = fopen(path, "r");

	while (f != NULL && getline(&line, &cap, f) != -1) {
		if (i > index) {
			json_t *e = json_loads(line, 0, NULL);
			const char *t = json_string_value(json_object_get(e,
			    "type"));
			if (t == NULL || (strcmp(t, "settlement") != 0 &&
			    strcmp(t, "adjustment") != 0 &&
			    strcmp(t, "dispute") != 0)) {
				json_decref(e);
				break;
			}
			if (strcmp(t, "dispute") == 0)
				status = "disputed";
			else if (strcmp(status, "waiting") == 0)
				status = "settled";
			json_decref(e);
		}
		if (i >= index)
			json_array_append_new(entries, json_integer((json_int_t)i));
		i++;
	}
	free(line);
	if (f != NULL)
		fclose(f);
	return status;
}

static int
receipt(const char *path, uint64_t index, uint64_t size,
    unsigned char (*leaves)[MERKLE_HASH_SIZE], const char *cp, size_t cplen)
{
	unsigned char p[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE];
	char *proof, *line = NULL, *entry = NULL, sha[CANON_HASH_BUFSZ] = "";
	size_t plen, cap = 0, elen = 0;
	uint64_t i = 0;
	ssize_t len;
	json_t *r, *entries = json_array();
	FILE *f;

	if (merkle_inclusion_proof_mem((const unsigned char (*)[32])leaves,
	    size, index, size, p, &plen) < 0) {
		fprintf(stderr, "shanhai fixture: no entry %" PRIu64 "\n",
		    index);
		json_decref(entries);
		return CMD_USAGE;
	}
	/* The report entry, as hashed, is the proof's extra data. */
	if ((f = fopen(path, "r")) != NULL) {
		while ((len = getline(&line, &cap, f)) != -1)
			if (i++ == index) {
				json_t *e = json_loads(line, 0, NULL);
				snprintf(sha, sizeof(sha), "%s", json_string_value(
				    json_object_get(e, "sha256")) ?: "");
				json_decref(e);
				elen = (size_t)len - (line[len - 1] == '\n');
				entry = line;
				break;
			}
		fclose(f);
	}
	if (note_proof_format(index, entry, elen,
	    (const unsigned char (*)[32])p, plen, cp, cplen, &proof) < 0) {
		free(line);
		json_decref(entries);
		return CMD_USAGE;
	}
	free(line);
	const char *status = group_status(path, index, entries);
	/* Entries past the checkpoint are not covered by its proof. */
	while (json_array_size(entries) > 0 && (uint64_t)json_integer_value(
	    json_array_get(entries, json_array_size(entries) - 1)) >= size)
		json_array_remove(entries, json_array_size(entries) - 1);
	r = json_pack("{s:s, s:I, s:o, s:s, s:s}", "report", sha, "index",
	    (json_int_t)index, "entries", entries, "status", status, "proof",
	    proof);
	free(proof);
	put_entry(r, NULL);
	json_decref(r);
	return CMD_OK;
}

/* The proof JSON the daemon serves: {"index"|"from": a, size key: n, hashes}. */
static int
proof_json(const char *akey, uint64_t a, const char *nkey, uint64_t size,
    unsigned char (*leaves)[MERKLE_HASH_SIZE])
{
	const unsigned char (*l)[MERKLE_HASH_SIZE] =
	    (const unsigned char (*)[MERKLE_HASH_SIZE])leaves;
	unsigned char p[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE];
	size_t plen;
	json_t *hashes, *r;
	int rc;

	if (strcmp(akey, "from") == 0)
		rc = merkle_consistency_proof_mem(l, size, a, size, p, &plen);
	else
		rc = merkle_inclusion_proof_mem(l, size, a, size, p, &plen);
	if (rc < 0) {
		fprintf(stderr, "shanhai fixture: no proof for %s %" PRIu64
		    " in size %" PRIu64 "\n", akey, a, size);
		return CMD_USAGE;
	}
	hashes = json_array();
	for (size_t i = 0; i < plen; i++) {
		char *b = note_b64_encode(p[i], MERKLE_HASH_SIZE);
		json_array_append_new(hashes, json_string(b));
		free(b);
	}
	r = json_pack("{s:I, s:I, s:o}", akey, (json_int_t)a, nkey,
	    (json_int_t)size, "hashes", hashes);
	put_entry(r, NULL);
	json_decref(r);
	return CMD_OK;
}

int
cmd_fixture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "time", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "origin", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, 's' },
		{ "index", required_argument, NULL, 'i' },
		{ "from", required_argument, NULL, 'f' },
		{ "submitter", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *time = NULL, *origin = NULL, *keys[MAX_KEYS];
	const char *submitter = NULL;
	uint64_t size = UINT64_MAX, index = UINT64_MAX, from = UINT64_MAX;
	unsigned char (*leaves)[MERKLE_HASH_SIZE], root[MERKLE_HASH_SIZE];
	size_t nkeys = 0;
	int ch, rc;

	if (argc < 2)
		return usage();
	const char *sub = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': dir = optarg; break;
		case 't': time = optarg; break;
		case 'u': submitter = optarg; break;
		case 'o': origin = optarg; break;
		case 'k':
			if (nkeys == MAX_KEYS)
				return usage();
			keys[nkeys++] = optarg;
			break;
		case 's': size = strtoull(optarg, NULL, 10); break;
		case 'i': index = strtoull(optarg, NULL, 10); break;
		case 'f': from = strtoull(optarg, NULL, 10); break;
		default: return usage();
		}
	}
	if (optind + 1 != argc)
		return usage();
	if (strcmp(sub, "build") == 0)
		return dir == NULL ? usage() : build(dir, time, submitter, argv[optind]);
	if ((leaves = read_leaves(argv[optind], &size)) == NULL)
		return CMD_USAGE;
	if (strcmp(sub, "consistency") == 0 || strcmp(sub, "inclusion") == 0) {
		if (strcmp(sub, "consistency") == 0)
			rc = from == UINT64_MAX ? usage() :
			    proof_json("from", from, "to", size, leaves);
		else
			rc = index == UINT64_MAX ? usage() :
			    proof_json("index", index, "size", size, leaves);
		free(leaves);
		return rc;
	}
	if ((strcmp(sub, "sign") != 0 && strcmp(sub, "receipt") != 0) ||
	    nkeys == 0 || origin == NULL ||
	    (strcmp(sub, "receipt") == 0 && index == UINT64_MAX)) {
		free(leaves);
		return usage();
	}
	size_t cplen;
	char *cp;
	if (merkle_root_mem((const unsigned char (*)[32])leaves, size,
	    root) < 0 || (cp = sign_checkpoint(keys, nkeys, origin, size, root,
	    &cplen)) == NULL) {
		free(leaves);
		return CMD_USAGE;
	}
	if (strcmp(sub, "sign") == 0) {
		fwrite(cp, 1, cplen, stdout);
		rc = CMD_OK;
	} else
		rc = receipt(argv[optind], index, size, leaves, cp, cplen);
	free(cp);
	free(leaves);
	return rc;
}
