/*
 * shanhai backup -c CONF --to FILE: a consistent copy of shanhaid's live
 * database (SPEC 6.7), taken with SQLite's online backup API while the
 * daemon runs, then checked: SQLite's integrity check, and the copy's own
 * Merkle tree gives the root of its latest signed checkpoint over entries
 * it holds. Put the file back as state_dir/shanhai.db to recover; a copy
 * older than what the mirror or the witnesses saw will refuse to start
 * (never a fork), as it should.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/cmd.h"
#include "shanhai/config.h"
#include "shanhai/journal.h"
#include "shanhai/merkle.h"
#include "shanhai/note.h"
#include "shanhai/store.h"

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai backup -c CONF --to FILE\n");
	return CMD_USAGE;
}

/* The copy at path: its size, latest checkpoint and the root it names. */
static int
check_copy(const char *path, const char *origin)
{
	unsigned char root[MERKLE_HASH_SIZE], mine[MERKLE_HASH_SIZE];
	char err[512], *note = NULL, *o = NULL, *b64;
	uint64_t entries, size, csize;
	struct store *s;
	size_t textlen;
	int rc = CMD_FAILED;

	if ((s = store_open(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "shanhai backup: %s: %s\n", path, err);
		return CMD_FAILED;
	}
	if (store_size(s, &entries) < 0 ||
	    store_latest_checkpoint(s, &size, &note) != 0) {
		fprintf(stderr, "shanhai backup: %s: no signed checkpoint: %s\n",
		    path, store_errmsg(s));
		goto done;
	}
	if (note_sigs(note, strlen(note), &textlen, NULL, NULL, err,
	    sizeof(err)) < 0 ||
	    note_checkpoint_parse(note, textlen, &o, &csize, root, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "shanhai backup: %s: its latest checkpoint: "
		    "%s\n", path, err);
		goto done;
	}
	if (strcmp(o, origin) != 0 || csize != size || size > entries) {
		fprintf(stderr, "shanhai backup: %s: checkpoint of '%s' size %"
		    PRIu64 " over %" PRIu64 " entries, for ledger '%s'\n", path,
		    o, csize, entries, origin);
		goto done;
	}
	if (merkle_root(size, store_get_hash, s, mine) != 0 ||
	    memcmp(mine, root, sizeof(root)) != 0) {
		fprintf(stderr, "shanhai backup: %s: its tree of size %" PRIu64
		    " does not give its checkpoint's root\n", path, size);
		goto done;
	}
	b64 = note_b64_encode(root, sizeof(root));
	printf("backup %s: %" PRIu64 " entries, checkpoint of size %" PRIu64
	    " (root %s): integrity and tree verified\n", path, entries, size,
	    b64 ? b64 : "?");
	free(b64);
	rc = CMD_OK;
done:
	free(o);
	free(note);
	store_close(s);
	return rc;
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *to = NULL;
	struct config *c;
	struct store *s;
	char err[1024], *db = NULL;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 't': to = optarg; break;
		default: return usage();
		}
	}
	if (optind != argc || conf == NULL || to == NULL)
		return usage();
	if ((c = config_load(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "shanhai backup: %s\n", err);
		return CMD_USAGE;
	}
	if ((db = store_path(config_get0_state_dir(c))) == NULL) {
		config_free(c);
		return CMD_USAGE;
	}
	if ((s = store_open(db, err, sizeof(err))) == NULL) {
		fprintf(stderr, "shanhai backup: %s\n", err);
		free(db);
		config_free(c);
		return CMD_USAGE;
	}
	rc = store_backup(s, to, err, sizeof(err));
	store_close(s);
	free(db);
	if (rc < 0) {
		fprintf(stderr, "shanhai backup: %s\n", err);
		config_free(c);
		return CMD_USAGE;
	}
	rc = check_copy(to, config_get0_ledger_origin(c));
	config_free(c);
	return rc;
}
