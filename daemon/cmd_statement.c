/*
 * shanhai statement: one agreement's year, per period and in total, from a
 * file of ledger entries or from the daemon's ledger over HTTPS.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/client.h"
#include "shanhai/cmd.h"
#include "shanhai/statement.h"

#define USAGE	"usage: shanhai statement --agreement A --year Y\n" \
		"       (--entries FILE | --url URL --cert C --key K " \
		"--cacert CA)\n       [--format table|csv|json]\n"

/* Entries asked for per GET /v1/ledger/entries. */
#define FETCH_CHUNK	10000

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

/* Feeds each line of buf[0..len) to st; messages name where it came from. */
static int
feed_lines(struct statement *st, const char *buf, size_t len,
    unsigned long long first, size_t *nlines)
{
	const char *p = buf, *end = buf + len, *nl;
	char err[256];

	*nlines = 0;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl == p)
			continue;
		if (statement_add(st, p, (size_t)(nl - p), err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "shanhai statement: ledger entry %llu: "
			    "%s\n", first + *nlines, err);
			return CMD_FAILED;
		}
		(*nlines)++;
	}
	return CMD_OK;
}

/*
 * The daemon's whole ledger, up to its latest checkpoint, fed to st: read
 * as an auditor or operator. Not a verification: `shanhai verify` is.
 */
static int
feed_url(struct statement *st, const char *url, const char *cert,
    const char *key, const char *cacert)
{
	struct client *c;
	struct client_resp resp;
	unsigned long long size, start = 0;
	char err[512], path[128], *nl, *end;
	int rc = CMD_USAGE;

	if ((c = client_new(url, cert, key, cacert, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "shanhai statement: %s\n", err);
		return CMD_USAGE;
	}
	if (client_get(c, "/v1/ledger/checkpoint", &resp, err,
	    sizeof(err)) != 0) {
		rc = cmd_http_exit(resp.status);
		goto fail;
	}
	/* The checkpoint's second line is the tree size. */
	nl = strchr(resp.body, '\n');
	size = nl ? strtoull(nl + 1, &end, 10) : 0;
	if (nl == NULL || end == nl + 1 || *end != '\n') {
		snprintf(err, sizeof(err), "%s: not a checkpoint", url);
		client_resp_free(&resp);
		goto fail;
	}
	client_resp_free(&resp);
	while (start < size) {
		unsigned long long stop = size - start > FETCH_CHUNK ?
		    start + FETCH_CHUNK : size;
		size_t n;

		snprintf(path, sizeof(path), "/v1/ledger/entries?start=%llu&"
		    "end=%llu", start, stop);
		if (client_get(c, path, &resp, err, sizeof(err)) != 0) {
			rc = cmd_http_exit(resp.status);
			goto fail;
		}
		rc = feed_lines(st, resp.body, resp.len, start, &n);
		client_resp_free(&resp);
		if (rc != CMD_OK)
			goto done;
		if (n == 0) {
			snprintf(err, sizeof(err), "GET %s: no entries", path);
			goto fail;
		}
		start += n;
	}
	rc = CMD_OK;
	goto done;
fail:
	fprintf(stderr, "shanhai statement: %s\n", err);
	if (rc == CMD_OK)
		rc = CMD_USAGE;
done:
	client_free(c);
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
		{ "url", required_argument, NULL, 'u' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "cacert", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agreement = NULL, *entries = NULL, *url = NULL;
	const char *cert = NULL, *key = NULL, *cacert = NULL;
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
		case 'u':
			url = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'C':
			cacert = optarg;
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
	if (agreement == NULL || year < 0 || optind != argc ||
	    (entries == NULL) == (url == NULL) ||
	    (url != NULL && (cert == NULL || key == NULL || cacert == NULL))) {
		fputs(USAGE, stderr);
		return CMD_USAGE;
	}
	if ((st = statement_new(agreement, (int)year)) == NULL) {
		fprintf(stderr, "shanhai statement: out of memory\n");
		return CMD_USAGE;
	}
	if (url != NULL)
		rc = feed_url(st, url, cert, key, cacert);
	else if (strcmp(entries, "-") == 0)
		rc = feed_file(st, stdin, "-");
	else if ((f = fopen(entries, "r")) == NULL) {
		fprintf(stderr, "shanhai statement: %s: %s\n", entries,
		    strerror(errno));
		rc = CMD_USAGE;
	} else {
		rc = feed_file(st, f, entries);
		fclose(f);
	}
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
	} else if ((fflush(stdout) != 0 || ferror(stdout)) &&
	    errno != EPIPE) {
		fprintf(stderr, "shanhai statement: stdout: %s\n",
		    strerror(errno));
		rc = CMD_USAGE;
	}
	/* EPIPE: the reader had what it wanted (| head); stop quietly. */
done:
	statement_free(st);
	return rc;
}
