/*
 * shanhai statement: one agreement's year, per period and in total, from a
 * file of ledger entries or from the daemon's ledger over HTTPS.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/cmd.h"
#include "shanhai/statement.h"

#define USAGE	"usage: shanhai statement --agreement A --year Y " \
		"--entries FILE [--format table|csv|json]\n"

/* Feeds every line of f to st; messages name the file and line. */
static int
feed_file(struct statement *st, FILE *f, const char *name)
{
	char *line = NULL, err[256];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int rc = CMD_OK;

	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		if (statement_add(st, line, (size_t)len, err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "%s:%ld: %s\n", name, lineno, err);
			rc = CMD_FAILED;
			break;
		}
	}
	if (rc == CMD_OK && ferror(f)) {
		fprintf(stderr, "shanhai statement: %s: %s\n", name,
		    strerror(errno));
		rc = CMD_USAGE;
	}
	free(line);
	return rc;
}

int
cmd_statement(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agreement", required_argument, NULL, 'a' },
		{ "year", required_argument, NULL, 'y' },
		{ "entries", required_argument, NULL, 'e' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agreement = NULL, *entries = NULL;
	enum statement_format fmt = STATEMENT_TABLE;
	struct statement *st = NULL;
	char err[256], *end;
	long year = -1;
	FILE *f;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			agreement = optarg;
			break;
		case 'y':
			errno = 0;
			year = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || year < 1000 ||
			    year > 9999) {
				fprintf(stderr, "shanhai statement: --year "
				    "'%s': not a year\n", optarg);
				return CMD_USAGE;
			}
			break;
		case 'e':
			entries = optarg;
			break;
		case 'f':
			if (statement_format_parse(optarg, &fmt) != 0) {
				fprintf(stderr, "shanhai statement: --format "
				    "'%s': table, csv or json\n", optarg);
				return CMD_USAGE;
			}
			break;
		default:
			fputs(USAGE, stderr);
			return CMD_USAGE;
		}
	}
	if (agreement == NULL || year < 0 || entries == NULL ||
	    optind != argc) {
		fputs(USAGE, stderr);
		return CMD_USAGE;
	}
	if ((st = statement_new(agreement, (int)year)) == NULL) {
		fprintf(stderr, "shanhai statement: out of memory\n");
		return CMD_USAGE;
	}
	if (strcmp(entries, "-") == 0)
		f = stdin;
	else if ((f = fopen(entries, "r")) == NULL) {
		fprintf(stderr, "shanhai statement: %s: %s\n", entries,
		    strerror(errno));
		statement_free(st);
		return CMD_USAGE;
	}
	rc = feed_file(st, f, entries);
	if (f != stdin)
		fclose(f);
	if (rc != CMD_OK)
		goto done;
	if (statement_period_count(st) == 0) {
		fprintf(stderr, "shanhai statement: no entries for agreement "
		    "'%s' in %ld\n", agreement, year);
		rc = CMD_FAILED;
		goto done;
	}
	if (statement_print(st, fmt, stdout, err, sizeof(err)) != 0) {
		fprintf(stderr, "shanhai statement: %s\n", err);
		rc = CMD_FAILED;
	} else if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "shanhai statement: stdout: %s\n",
		    strerror(errno));
		rc = CMD_USAGE;
	}
done:
	statement_free(st);
	return rc;
}
