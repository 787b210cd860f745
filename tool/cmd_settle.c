/*
 * shanhai settle --rules DIR REPORTS.jsonl: the ledger entries that those
 * reports, submitted in that order, would produce (SPEC §8), through the
 * daemon's own engine. Entries go to stdout as canonical JSON lines without
 * time or submitter; refusals to stderr as FILE:LINE: reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/cmd.h"
#include "shanhai/pagefile.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

static void
print_msg(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* Loads every agreement of dir into a new engine; NULL after saying why. */
static struct settle *
load_engine(const char *dir)
{
	struct rules **list;
	struct settle *s;
	size_t n;
	char err[1024];

	if (rules_load_dir(dir, &list, &n, print_msg, NULL) == -1)
		return NULL;
	if ((s = settle_new()) == NULL) {
		fprintf(stderr, "shanhai settle: out of memory\n");
		rules_free_list(list, n);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (settle_install(s, list[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			for (size_t k = i; k < n; k++)
				rules_free(list[k]);
			free(list);
			settle_free(s);
			return NULL;
		}
	}
	free(list);	/* the engine owns the agreements now */
	return s;
}

/* The entries of a result on stdout, a line each, as the ledger holds them. */
void
cmd_print_entries(const struct settle_result *res)
{
	for (size_t i = 0; i < settle_result_count(res); i++) {
		size_t elen;
		const char *e = settle_result_entry(res, i, &elen);

		fwrite(e, 1, elen, stdout);
		putchar('\n');
	}
}

int
cmd_settle(int argc, char **argv)
{
	const char *dir = NULL, *path = NULL, *mode = "file";
	struct settle *s;
	struct pagefile *pf = NULL;
	char *line = NULL, err[1024];
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int refused = 0, rc = CMD_OK;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--rules=", 8) == 0)
			dir = argv[i] + 8;
		else if (strcmp(argv[i], "--pager") == 0 && i + 1 < argc)
			mode = argv[++i];
		else if (path == NULL && (argv[i][0] != '-' ||
		    strcmp(argv[i], "-") == 0))
			path = argv[i];
		else
			path = dir = NULL, i = argc;
	}
	if (dir == NULL || path == NULL || (strcmp(mode, "file") != 0 &&
	    strcmp(mode, "memory") != 0 && strcmp(mode, "all") != 0)) {
		fprintf(stderr, "usage: shanhai settle --rules DIR "
		    "[--pager file|memory|all] REPORTS.jsonl\n");
		return CMD_USAGE;
	}
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "shanhai settle: %s: %s\n", path, strerror(errno));
		return CMD_USAGE;
	}
	if ((s = load_engine(dir)) == NULL) {
		if (f != stdin)
			fclose(f);
		return CMD_FAILED;
	}
	if (strcmp(mode, "memory") != 0) {
		struct settle_pager pg;

		/* Closed years go to a temporary file; without one, stay here. */
		if ((pf = pagefile_new(NULL, err, sizeof(err))) == NULL)
			fprintf(stderr, "shanhai settle: %s; keeping every year "
			    "in memory\n", err);
		else {
			pagefile_pager(pf, strcmp(mode, "all") == 0 ?
			    SETTLE_PAGE_ALL : 0, &pg);
			if (settle_set_pager(s, &pg) == -1)
				abort();	/* no report was submitted yet */
		}
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		struct settle_result *res;
		int code;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (strspn(line, " \t") == (size_t)len)
			continue;	/* blank lines separate nothing */
		code = settle_submit(s, line, (size_t)len, NULL, 0, NULL, NULL,
		    &res, err, sizeof(err));
		if (code == SETTLE_UNAVAILABLE) {
			/* Not the report's fault, and what follows depends on it. */
			fprintf(stderr, "shanhai settle: %s:%zu: %s\n", path,
			    lineno, err);
			rc = CMD_USAGE;
			break;
		}
		if (code < 0) {
			fprintf(stderr, "%s:%zu: %s\n", path, lineno, err);
			refused = 1;
			continue;
		}
		cmd_print_entries(res);
		settle_result_free(res);
	}
	if (ferror(f)) {
		fprintf(stderr, "shanhai settle: %s: %s\n", path, strerror(errno));
		rc = CMD_USAGE;
	}
	/* EPIPE: the reader had what it wanted (| head); stop quietly. */
	if ((fflush(stdout) == EOF || ferror(stdout)) && errno != EPIPE) {
		fprintf(stderr, "shanhai settle: stdout: %s\n", strerror(errno));
		rc = CMD_USAGE;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	settle_free(s);
	pagefile_free(pf);
	if (rc == CMD_OK && refused)
		rc = CMD_FAILED;
	return rc;
}
