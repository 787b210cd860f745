/*
 * shanhai keygen: a new ledger signing key. The private key goes to FILE as
 * PKCS#8 PEM (mode 0600, never over an existing file); the verifier key
 * line goes to FILE.vkey and to stdout, for auditors and bureaus. With
 * --witness, a witness's cosigning key (Ed25519, tlog-cosignature v1: the
 * verifier key has type 0x04); --origin is then the witness's name.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/cmd.h"
#include "shanhai/note.h"

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai keygen --origin ORIGIN --out FILE "
	    "[--sm2 | --witness]\n");
	return CMD_USAGE;
}

int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "out", required_argument, NULL, 'f' },
		{ "sm2", no_argument, NULL, 's' },
		{ "witness", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *origin = NULL, *out = NULL;
	struct note_signer *signer;
	char err[512], *vpath = NULL, *vkey = NULL;
	int type = NOTE_ED25519, ntypes = 0, ch, fd, rc = CMD_USAGE;
	FILE *f;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': origin = optarg; break;
		case 'f': out = optarg; break;
		case 's': type = NOTE_SM2; ntypes++; break;
		case 'w': type = NOTE_COSIG_ED25519; ntypes++; break;
		default: return usage();
		}
	}
	if (optind != argc || origin == NULL || out == NULL || ntypes > 1)
		return usage();
	if (asprintf(&vpath, "%s.vkey", out) == -1)
		return CMD_USAGE;
	if (access(vpath, F_OK) == 0) {
		fprintf(stderr, "shanhai keygen: %s exists; not overwriting\n",
		    vpath);
		goto done;
	}
	if (note_key_generate(out, origin, type, &signer, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "shanhai keygen: %s\n", err);
		goto done;
	}
	vkey = note_signer_vkey(signer);
	note_signer_free(signer);
	fd = open(vpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (vkey == NULL || fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "shanhai keygen: %s: %s\n", vpath,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(out);
		goto done;
	}
	fprintf(f, "%s\n", vkey);
	if (fclose(f) != 0) {
		fprintf(stderr, "shanhai keygen: %s: %s\n", vpath,
		    strerror(errno));
		unlink(vpath);
		unlink(out);
		goto done;
	}
	printf("%s\n", vkey);
	rc = CMD_OK;
done:
	free(vkey);
	free(vpath);
	return rc;
}
