/*
 * shanhai restore --from DIR_OR_URL --vkey FILE --state DIR: rebuilds
 * shanhaid's state folder from a tile mirror (SPEC 6.5, 6.7). The mirror
 * is not trusted: its checkpoint must be signed by a --vkey key (and
 * cosigned by --quorum of the --witness keys when given), every entry of
 * every bundle must hash to its place in the level-0 tile, every entry must
 * be canonical JSON, every higher tile must hold the hashes of the tiles
 * below, and the whole tree must give the checkpoint's root. The first
 * thing that does not hold is named and nothing is kept.
 *
 * What is written: the entries and their subtree hashes, the checkpoint
 * with the log's own signatures (cosignatures stay with the mirror), the
 * ledger's origin, and the report index the daemon answers resubmissions
 * from (each report row citing the restored checkpoint, since the mirror
 * keeps no older ones). shanhaid then rebuilds its engine from the
 * entries at start, as always, and goes on from the restored size.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/client.h"
#include "shanhai/cmd.h"
#include "shanhai/cosig.h"
#include "shanhai/journal.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/store.h"
#include "shanhai/tiles.h"

#define MAX_KEYS	16
#define MAX_FETCH	((size_t)TILES_WIDTH * (2 + TILES_MAX_ENTRY))
/* Entries a transaction: bounded memory for the write-ahead log. */
#define BATCH		65536

/*
 * The tree's right edge: the latest complete subtree of each level, all
 * merkle_append() reads when a leaf is added (its left siblings), so the
 * rebuild never reads the database back.
 */
struct edge {
	uint64_t	 index[MERKLE_MAX_DEPTH + 1];
	unsigned char	 hash[MERKLE_MAX_DEPTH + 1][MERKLE_HASH_SIZE];
};

static int
edge_get(void *ctx, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_SIZE])
{
	struct edge *e = ctx;

	if (level > MERKLE_MAX_DEPTH || e->index[level] != index)
		return -1;
	memcpy(out, e->hash[level], MERKLE_HASH_SIZE);
	return 0;
}

struct restore {
	const char		*from;
	struct client		*cl;		/* https mirrors */
	struct note_verifier	*vs[MAX_KEYS], *ws[MAX_KEYS];
	size_t			 nvs, nws;
	struct store		*st;
	struct edge		 edge;
	/* the report row being counted */
	struct store_report	 rep;
	int			 in_report;
	char			 why[1024];
};

static int __attribute__((format(printf, 2, 3)))
bad(struct restore *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai restore --from DIR|https://URL "
	    "--vkey FILE [--vkey FILE ...] --state DIR\n"
	    "       [--cacert FILE] [--witness FILE ... [--quorum N]]\n");
	return CMD_USAGE;
}

/* The mirror's file rel (malloc'd, *len bytes); -1 (r->why) if absent. */
static unsigned char *
fetch(struct restore *r, const char *rel, size_t *len)
{
	unsigned char *buf;

	if (r->cl != NULL) {
		struct client_resp resp;
		char path[1200], err[512];

		snprintf(path, sizeof(path), "%s/%s", client_get0_path(r->cl),
		    rel);
		if (client_get(r->cl, path, &resp, err, sizeof(err)) < 0) {
			bad(r, "%s", err);
			return NULL;
		}
		*len = resp.len;
		return (unsigned char *)resp.body;
	}
	char *p;
	struct stat sb;
	int fd;

	if (asprintf(&p, "%s/%s", r->from, rel) == -1) {
		bad(r, "out of memory");
		return NULL;
	}
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1 ||
	    (size_t)sb.st_size > MAX_FETCH) {
		bad(r, "%s: %s", p, fd == -1 ? strerror(errno) : "too large");
		if (fd != -1)
			close(fd);
		free(p);
		return NULL;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL || read(fd, buf, (size_t)sb.st_size) != sb.st_size) {
		bad(r, "%s: %s", p, buf == NULL ? "out of memory" :
		    "short read");
		free(buf);
		close(fd);
		free(p);
		return NULL;
	}
	buf[sb.st_size] = '\0';
	*len = (size_t)sb.st_size;
	close(fd);
	free(p);
	return buf;
}

static int
load_keys(struct restore *r, const char *path, int witness)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	struct note_verifier **to = witness ? r->ws : r->vs;
	size_t *n = witness ? &r->nws : &r->nvs;

	if (f == NULL)
		return bad(r, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (*n == MAX_KEYS || note_verifier_parse(line, &to[*n], r->why,
		    sizeof(r->why)) < 0) {
			fclose(f);
			if (*n == MAX_KEYS)
				bad(r, "%s: more than %d keys", path, MAX_KEYS);
			return -1;
		}
		if ((note_verifier_type(to[*n]) == NOTE_COSIG_ED25519) !=
		    witness) {
			bad(r, "%s: %s is %s", path, note_verifier_name(to[*n]),
			    witness ? "not a witness's key" : "a witness's key");
			note_verifier_free(to[*n]);
			fclose(f);
			return -1;
		}
		(*n)++;
	}
	fclose(f);
	return 0;
}

/* Keeps the log's own signature lines of the mirror's checkpoint. */
struct keep {
	struct restore	*r;
	char		*out;
	size_t		 len;
};

static int
keep_line(void *arg, const char *text, size_t textlen,
    const struct note_sig *ns, char *err, size_t errlen)
{
	struct keep *k = arg;

	for (size_t i = 0; i < k->r->nvs; i++)
		if (note_sig_by(ns, k->r->vs[i])) {
			memcpy(k->out + k->len, ns->line, ns->linelen);
			k->len += ns->linelen;
			break;
		}
	return 0;
}

/* The report index row of a report entry, finished by the entries after. */
static int
row_flush(struct restore *r)
{
	if (!r->in_report)
		return 0;
	r->in_report = 0;
	if (store_put_report(r->st, &r->rep) < 0)
		return bad(r, "report index at entry %" PRIu64 ": %s",
		    r->rep.index, store_errmsg(r->st));
	return 0;
}

static int
row_entry(struct restore *r, uint64_t index, const char *e, size_t len,
    uint64_t cpsize)
{
	json_t *j = json_loadb(e, len, 0, NULL), *rep;
	const char *type;
	int rc = 0;

	if (j == NULL || (type = json_string_value(json_object_get(j,
	    "type"))) == NULL) {
		json_decref(j);
		return bad(r, "entry %" PRIu64 ": no \"type\"", index);
	}
	if (r->in_report && (strcmp(type, "settlement") == 0 ||
	    strcmp(type, "adjustment") == 0 || strcmp(type, "dispute") == 0)) {
		/* A consequence of the report before it. */
		r->rep.count++;
		if (strcmp(type, "dispute") == 0)
			snprintf(r->rep.status, sizeof(r->rep.status),
			    "disputed");
		else if (strcmp(r->rep.status, "disputed") != 0)
			snprintf(r->rep.status, sizeof(r->rep.status),
			    "settled");
	} else if ((rc = row_flush(r)) == 0 && strcmp(type, "report") == 0) {
		const char *sha = json_string_value(json_object_get(j,
		    "sha256"));
		rep = json_object_get(j, "report");
		memset(&r->rep, 0, sizeof(r->rep));
		snprintf(r->rep.agreement, sizeof(r->rep.agreement), "%s",
		    json_string_value(json_object_get(rep, "agreement")) ?: "");
		snprintf(r->rep.role, sizeof(r->rep.role), "%s",
		    json_string_value(json_object_get(rep, "role")) ?: "");
		snprintf(r->rep.report_id, sizeof(r->rep.report_id), "%s",
		    json_string_value(json_object_get(rep, "report_id")) ?: "");
		snprintf(r->rep.sha256, sizeof(r->rep.sha256), "%s",
		    sha ? sha : "");
		snprintf(r->rep.status, sizeof(r->rep.status), "waiting");
		r->rep.index = index;
		r->rep.count = 1;
		r->rep.checkpoint = cpsize;
		r->in_report = 1;
	}
	json_decref(j);
	return rc;
}

/* Level 0: bundles and tiles, entries appended to the new store. */
static int
restore_entries(struct restore *r, uint64_t size)
{
	struct merkle_subtree sub[MERKLE_MAX_DEPTH + 1];
	char rel[TILES_PATH_BUFSZ], err[512];
	uint64_t idx = 0;

	if (store_begin(r->st) < 0)
		return bad(r, "%s", store_errmsg(r->st));
	for (uint64_t n = 0; idx < size; n++) {
		unsigned w = size - idx >= TILES_WIDTH ? TILES_WIDTH :
		    (unsigned)(size - idx);
		unsigned char *tile, *bundle;
		size_t tlen, blen, off = 0;
		char trel[TILES_PATH_BUFSZ];

		if (tiles_path(trel, 0, n, w) < 0 ||
		    tiles_path(rel, TILES_ENTRIES, n, w) < 0)
			return bad(r, "tile index %" PRIu64 " out of range", n);
		if ((tile = fetch(r, trel, &tlen)) == NULL)
			return -1;
		if (tlen != (size_t)w * MERKLE_HASH_SIZE) {
			free(tile);
			return bad(r, "%s: %zu bytes, not %u hashes", trel, tlen,
			    w);
		}
		if ((bundle = fetch(r, rel, &blen)) == NULL) {
			free(tile);
			return -1;
		}
		for (unsigned i = 0; i < w; i++, idx++) {
			unsigned char leaf[MERKLE_HASH_SIZE];
			size_t el;
			int k;

			if (off + 2 > blen || off + 2 + (el = (size_t)bundle[off]
			    << 8 | bundle[off + 1]) > blen) {
				free(tile);
				free(bundle);
				return bad(r, "%s: ends inside entry %" PRIu64, rel,
				    idx);
			}
			const char *e = (const char *)bundle + off + 2;
			merkle_hash_leaf(e, el, leaf);
			if (memcmp(leaf, tile + (size_t)i * MERKLE_HASH_SIZE,
			    MERKLE_HASH_SIZE) != 0) {
				free(tile);
				free(bundle);
				return bad(r, "%s: entry %" PRIu64 " does not hash "
				    "to its leaf in %s", rel, idx, trel);
			}
			if (canon_check(e, el, err, sizeof(err)) < 0) {
				free(tile);
				free(bundle);
				return bad(r, "%s: entry %" PRIu64 " is not "
				    "canonical: %s", rel, idx, err);
			}
			if (store_append(r->st, idx, e, el, leaf) < 0 ||
			    (k = merkle_append(idx, leaf, edge_get, &r->edge,
			    sub)) < 0) {
				free(tile);
				free(bundle);
				return bad(r, "entry %" PRIu64 ": %s", idx,
				    store_errmsg(r->st));
			}
			for (int m = 0; m < k; m++) {
				r->edge.index[sub[m].level] = sub[m].index;
				memcpy(r->edge.hash[sub[m].level], sub[m].hash,
				    MERKLE_HASH_SIZE);
			}
			for (int m = 0; m < k; m++)
				if (sub[m].level >= STORE_HASH_MIN_LEVEL &&
				    store_put_hash(r->st, sub[m].level,
				    sub[m].index, sub[m].hash) < 0) {
					free(tile);
					free(bundle);
					return bad(r, "entry %" PRIu64 ": %s", idx,
					    store_errmsg(r->st));
				}
			off += 2 + el;
		}
		free(tile);
		free(bundle);
		if (off != blen)
			return bad(r, "%s: %zu bytes after its %u entries", rel,
			    blen - off, w);
		if (idx % BATCH == 0 && idx < size && (store_commit(r->st) < 0 ||
		    store_begin(r->st) < 0))
			return bad(r, "%s", store_errmsg(r->st));
	}
	return 0;
}

/* The report index, from the stored entries (it cites the checkpoint). */
struct rows {
	struct restore	*r;
	uint64_t	 size;
};

static int
row_walk(void *ctx, uint64_t index, const char *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	struct rows *w = ctx;

	return row_entry(w->r, index, body, len, w->size) < 0 ? 1 : 0;
}

static int
restore_rows(struct restore *r, uint64_t size)
{
	struct rows w = { r, size };
	int rc = store_foreach(r->st, 0, size, row_walk, &w);

	if (rc != 0)
		return r->why[0] != '\0' ? -1 : bad(r, "%s", store_errmsg(r->st));
	return row_flush(r);
}

/* Levels 1 and up: each hash the root of a full tile below it. */
static int
check_upper(struct restore *r, uint64_t size)
{
	char rel[TILES_PATH_BUFSZ];

	for (int l = 1; l < 8; l++) {
		uint64_t have = size >> (8 * l);

		for (uint64_t n = 0; n * TILES_WIDTH < have; n++) {
			unsigned w = have - n * TILES_WIDTH >= TILES_WIDTH ?
			    TILES_WIDTH : (unsigned)(have - n * TILES_WIDTH);
			unsigned char *t, h[MERKLE_HASH_SIZE];
			size_t len;

			if (tiles_path(rel, l, n, w) < 0 ||
			    (t = fetch(r, rel, &len)) == NULL)
				return -1;
			if (len != (size_t)w * MERKLE_HASH_SIZE) {
				free(t);
				return bad(r, "%s: %zu bytes, not %u hashes", rel,
				    len, w);
			}
			for (unsigned i = 0; i < w; i++) {
				if (store_get_hash(r->st, 8 * (unsigned)l,
				    n * TILES_WIDTH + i, h) != 0 || memcmp(h,
				    t + (size_t)i * MERKLE_HASH_SIZE,
				    MERKLE_HASH_SIZE) != 0) {
					free(t);
					return bad(r, "%s: hash %u is not the "
					    "root of the tile below it", rel, i);
				}
			}
			free(t);
		}
	}
	return 0;
}

static int
restore(struct restore *r, const char *state, size_t quorum)
{
	unsigned char root[MERKLE_HASH_SIZE], mine[MERKLE_HASH_SIZE];
	char *origin = NULL, *db = NULL, *cp = NULL, *own = NULL;
	struct keep k = { r, NULL, 0 };
	size_t len, textlen, count;
	int valid[MAX_KEYS], rc = -1;
	uint64_t size;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((cp = (char *)fetch(r, "checkpoint", &len)) == NULL)
		return -1;
	if (note_checkpoint_open(cp, len, r->vs, r->nvs, &origin, &size, root,
	    r->why, sizeof(r->why)) < 0)
		goto done;
	if (r->nws > 0) {
		if (cosig_verify(cp, len, r->ws, r->nws, (uint64_t)time(NULL),
		    valid, NULL, &count, r->why, sizeof(r->why)) < 0)
			goto done;
		if (count < quorum) {
			bad(r, "checkpoint: cosigned by %zu of the given "
			    "witnesses, the quorum is %zu", count, quorum);
			goto done;
		}
	}
	/* The log's note alone: what the daemon itself would serve. */
	if ((k.out = malloc(len + 1)) == NULL ||
	    note_sigs(cp, len, &textlen, NULL, NULL, r->why,
	    sizeof(r->why)) < 0) {
		bad(r, "checkpoint: %s", k.out ? r->why : "out of memory");
		goto done;
	}
	memcpy(k.out, cp, textlen + 1);
	k.len = textlen + 1;
	if (note_sigs(cp, len, &textlen, keep_line, &k, r->why,
	    sizeof(r->why)) < 0)
		goto done;
	k.out[k.len] = '\0';
	own = k.out;
	k.out = NULL;
	if (mkdir(state, 0700) == -1 && errno != EEXIST) {
		bad(r, "%s: %s", state, strerror(errno));
		goto done;
	}
	if ((db = store_path(state)) == NULL) {
		bad(r, "out of memory");
		goto done;
	}
	if (access(db, F_OK) == 0) {
		bad(r, "%s exists: restore builds a new state only", db);
		free(db);
		db = NULL;
		goto done;
	}
	if ((r->st = store_open(db, r->why, sizeof(r->why))) == NULL)
		goto done;
	if (restore_entries(r, size) < 0)
		goto done;
	if (merkle_root(size, store_get_hash, r->st, mine) != 0 ||
	    memcmp(mine, root, sizeof(root)) != 0) {
		if (check_upper(r, size) == 0)
			bad(r, "the mirror's entries do not give the "
			    "checkpoint's root (size %" PRIu64 ")", size);
		goto done;
	}
	if (check_upper(r, size) < 0)
		goto done;
	if (store_put_checkpoint(r->st, size, root, own) < 0 ||
	    store_put_meta(r->st, "origin", origin) < 0) {
		bad(r, "%s", store_errmsg(r->st));
		goto done;
	}
	r->why[0] = '\0';
	if (restore_rows(r, size) < 0)
		goto done;
	if (store_commit(r->st) < 0) {
		bad(r, "%s", store_errmsg(r->st));
		goto done;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		double s = (double)(t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("restored %s: %" PRIu64 " entries of %s, every bundle and "
		    "tile checked against the signed checkpoint%s, in %.2f s "
		    "(%.0f entries/s)\n", db, size, origin, r->nws > 0 ?
		    " and its cosignatures" : "", s, s > 0 ? (double)size / s :
		    0);
	}
	rc = 0;
done:
	if (rc < 0 && r->st != NULL) {
		store_rollback(r->st);
		store_close(r->st);
		r->st = NULL;
		if (db != NULL) {
			char *side;
			unlink(db);
			if (asprintf(&side, "%s-wal", db) != -1) {
				unlink(side);
				free(side);
			}
			if (asprintf(&side, "%s-shm", db) != -1) {
				unlink(side);
				free(side);
			}
		}
	}
	free(k.out);
	free(own);
	free(db);
	free(origin);
	free(cp);
	return rc;
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "vkey", required_argument, NULL, 'k' },
		{ "state", required_argument, NULL, 's' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "witness", required_argument, NULL, 'w' },
		{ "quorum", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *cacert = NULL, *q = NULL;
	struct restore r;
	size_t quorum = 0;
	int ch, rc = CMD_USAGE;
	char err[512];

	memset(&r, 0, sizeof(r));
	memset(r.edge.index, 0xff, sizeof(r.edge.index));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': r.from = optarg; break;
		case 'k':
			if (load_keys(&r, optarg, 0) < 0) {
				fprintf(stderr, "shanhai restore: %s\n", r.why);
				goto out;
			}
			break;
		case 's': state = optarg; break;
		case 'C': cacert = optarg; break;
		case 'w':
			if (load_keys(&r, optarg, 1) < 0) {
				fprintf(stderr, "shanhai restore: %s\n", r.why);
				goto out;
			}
			break;
		case 'q': q = optarg; break;
		default: goto out;
		}
	}
	if (optind != argc || r.from == NULL || state == NULL || r.nvs == 0 ||
	    (q != NULL && r.nws == 0)) {
		usage();
		goto out;
	}
	quorum = r.nws;
	if (q != NULL && ((quorum = strtoul(q, NULL, 10)) < 1 ||
	    quorum > r.nws)) {
		fprintf(stderr, "shanhai restore: --quorum %s: 1 to %zu\n", q,
		    r.nws);
		goto out;
	}
	if (strncmp(r.from, "https://", 8) == 0) {
		if ((r.cl = client_new(r.from, NULL, NULL, cacert, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "shanhai restore: %s\n", err);
			goto out;
		}
	}
	if (restore(&r, state, quorum) < 0) {
		fprintf(stderr, "shanhai restore: refused: %s\n", r.why);
		rc = CMD_FAILED;
	} else
		rc = CMD_OK;
out:
	client_free(r.cl);
	store_close(r.st);
	for (size_t i = 0; i < r.nvs; i++)
		note_verifier_free(r.vs[i]);
	for (size_t i = 0; i < r.nws; i++)
		note_verifier_free(r.ws[i]);
	return rc;
}
