/*
 * shanhai statement: one agreement's fiscal year as a settlement statement
 * (结算单): a table for the terminal, CSV, XLSX, PDF, or the SPEC §5a
 * statement as canonical JSON with its hash. Offline from a file of ledger
 * entries (replayed through the engine, as `shanhai verify` does), or from
 * the daemon, which renders it at its statement endpoint.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "shanhai/client.h"
#include "shanhai/cmd.h"
#include "shanhai/cmdopt.h"
#include "shanhai/document.h"
#include "shanhai/replay.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"
#include "shanhai/statement.h"
#include "shanhai/textbuf.h"

#define USAGE	"usage: shanhai statement --agreement A --year Y\n" \
		"       (--entries FILE [--rules DIR] | --url URL --cert C " \
		"--key K --cacert CA)\n" \
		"       [--format table|csv|json|xlsx|pdf] [--lang zh|en] " \
		"[--out FILE]\n"

/* Writes the document to path ("-" or NULL: stdout). A CMD_ code. */
static int
write_out(const char *path, const void *p, size_t len)
{
	FILE *f = stdout;
	int rc = CMD_OK;

	if (path != NULL && strcmp(path, "-") != 0 &&
	    (f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "shanhai statement: %s: %s\n", path,
		    strerror(errno));
		return CMD_USAGE;
	}
	if (fwrite(p, 1, len, f) != len || fflush(f) != 0 || ferror(f)) {
		/* `| head` closing the pipe is not an error to report. */
		if (errno != EPIPE)
			fprintf(stderr, "shanhai statement: %s: %s\n",
			    f == stdout ? "stdout" : path, strerror(errno));
		rc = errno == EPIPE ? CMD_OK : CMD_USAGE;
	}
	if (f != stdout && fclose(f) != 0 && rc == CMD_OK) {
		fprintf(stderr, "shanhai statement: %s: %s\n", path,
		    strerror(errno));
		rc = CMD_USAGE;
	}
	return rc;
}

/* Installs every agreement of dir into s (for files `shanhai settle` made). */
static int
load_rules(struct settle *s, const char *dir)
{
	struct rules **list;
	size_t n;
	char err[512];
	int rc = CMD_OK;

	if (rules_load_dir(dir, &list, &n, NULL, NULL) != 0) {
		fprintf(stderr, "shanhai statement: --rules %s: the agreements "
		    "do not load (shanhai rules check %s says why)\n", dir, dir);
		return CMD_USAGE;
	}
	for (size_t i = 0; i < n; i++)
		if (rc == CMD_OK && settle_install(s, list[i], err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "shanhai statement: %s\n", err);
			rc = CMD_FAILED;
			rules_free(list[i]);
		} else if (rc != CMD_OK)
			rules_free(list[i]);
	free(list);
	return rc;
}

/* Replays the entries of f into s; messages name the file and line. */
static int
replay_file(struct settle *s, FILE *f, const char *name)
{
	struct replay *rp = replay_new(s, NULL, NULL);
	char *line = NULL, err[1024];
	size_t cap = 0;
	ssize_t len;
	uint64_t index = 0;
	long lineno = 0;
	int rc = CMD_OK;

	if (rp == NULL) {
		fprintf(stderr, "shanhai statement: out of memory\n");
		return CMD_USAGE;
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len == 0)
			continue;
		if (replay_entry(rp, index++, line, (size_t)len, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "%s:%ld: %s\n", name, lineno, err);
			rc = CMD_FAILED;
			break;
		}
	}
	if (rc == CMD_OK && ferror(f)) {
		fprintf(stderr, "shanhai statement: %s: %s\n", name,
		    strerror(errno));
		rc = CMD_USAGE;
	} else if (rc == CMD_OK && replay_finish(rp, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", name, err);
		rc = CMD_FAILED;
	}
	free(line);
	replay_free(rp);
	return rc;
}

/*
 * The year from entries: replayed into a new engine (with the agreements of
 * rules, when given), then rendered as fmt.
 */
static int
from_entries(const char *entries, const char *rules, const char *agreement,
    const char *year, enum document_format fmt, enum document_lang lang,
    const char *outpath)
{
	struct settle *s = settle_new();
	struct textbuf out = TEXTBUF_INIT;
	json_t *m = NULL;
	char err[1024];
	FILE *f;
	int rc, code;

	if (s == NULL) {
		fprintf(stderr, "shanhai statement: out of memory\n");
		return CMD_USAGE;
	}
	if (rules != NULL && (rc = load_rules(s, rules)) != CMD_OK)
		goto done;
	if (strcmp(entries, "-") == 0)
		rc = replay_file(s, stdin, "-");
	else if ((f = fopen(entries, "r")) == NULL) {
		fprintf(stderr, "shanhai statement: %s: %s\n", entries,
		    strerror(errno));
		rc = CMD_USAGE;
	} else {
		rc = replay_file(s, f, entries);
		fclose(f);
	}
	if (rc != CMD_OK)
		goto done;
	if ((m = statement_model(s, agreement, year, NULL, &code, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "shanhai statement: %s\n", err);
		rc = code == SETTLE_NOTFOUND ? CMD_FAILED : CMD_USAGE;
		goto done;
	}
	if (json_is_null(json_object_get(m, "statement"))) {
		fprintf(stderr, "shanhai statement: %s %s is incomplete: not "
		    "every period of the year has settled, so there is no "
		    "statement yet (GET …/periods/{period} shows each)\n",
		    agreement, year);
		rc = CMD_FAILED;
		goto done;
	}
	if (document_render(m, fmt, lang, &out, err, sizeof(err)) != 0) {
		fprintf(stderr, "shanhai statement: %s\n", err);
		rc = CMD_FAILED;
		goto done;
	}
	rc = write_out(outpath, out.p, out.len);
done:
	textbuf_release(&out);
	json_decref(m);
	settle_free(s);
	return rc;
}

/* The year as the daemon renders it at its statement endpoint. */
static int
from_url(const struct cmdopt_tls *t, const char *agreement,
    const char *year, enum document_format fmt, enum document_lang lang,
    const char *outpath)
{
	static const char *const names[] = { [DOCUMENT_PDF] = "pdf",
	    [DOCUMENT_XLSX] = "xlsx", [DOCUMENT_CSV] = "csv",
	    [DOCUMENT_TABLE] = "table", [DOCUMENT_JSON] = "json" };
	struct client_resp resp = { 0 };
	struct client *c;
	char err[1024], path[512], detail[512];
	const char *url = t->url;
	int rc = CMD_USAGE;

	if ((c = cmdopt_tls_client(t, "statement")) == NULL)
		return CMD_USAGE;
	snprintf(path, sizeof(path), "%s/v1/agreements/%s/years/%s/statement?"
	    "format=%s&lang=%s", client_get0_path(c), agreement, year,
	    names[fmt], lang == DOCUMENT_EN ? "en" : "zh");
	if (client_request(c, "GET", path, NULL, NULL, 0, &resp, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "shanhai statement: %s: %s\n", url, err);
		goto done;
	}
	if (resp.status != 200) {
		fprintf(stderr, "shanhai statement: GET %s: %d: %s\n", path,
		    resp.status, client_resp_detail(&resp, detail,
		    sizeof(detail)) == 0 ? detail : resp.body);
		rc = cmd_http_exit(resp.status);
		goto done;
	}
	rc = write_out(outpath, resp.body, resp.len);
done:
	client_resp_free(&resp);
	client_free(c);
	return rc;
}

/*
 * --model FILE: renders a statement document model (the statement
 * endpoint's answer plus what a document needs, include/shanhai/document.h)
 * as a document. Documented in shanhai(1), not in the usage: it is for a
 * statement fetched as JSON, and for the tests of the documents.
 */
static int
from_model(const char *model, enum document_format fmt,
    enum document_lang lang, const char *outpath)
{
	struct textbuf out = TEXTBUF_INIT;
	json_error_t jerr;
	json_t *m;
	char err[512];
	int rc;

	if ((m = strcmp(model, "-") == 0 ? json_loadf(stdin,
	    JSON_REJECT_DUPLICATES, &jerr) : json_load_file(model,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		fprintf(stderr, "shanhai statement: %s:%d: %s\n", model,
		    jerr.line, jerr.text);
		return CMD_USAGE;
	}
	if (document_render(m, fmt, lang, &out, err, sizeof(err)) != 0) {
		fprintf(stderr, "shanhai statement: %s: %s\n", model, err);
		rc = CMD_FAILED;
	} else
		rc = write_out(outpath, out.p, out.len);
	textbuf_release(&out);
	json_decref(m);
	return rc;
}

int
cmd_statement(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agreement", required_argument, NULL, 'a' },
		{ "year", required_argument, NULL, 'y' },
		{ "entries", required_argument, NULL, 'e' },
		{ "rules", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "lang", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		CMDOPT_TLS,
		{ "model", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agreement = NULL, *entries = NULL, *year = NULL;
	const char *model = NULL, *rules = NULL;
	struct cmdopt_tls t = { 0 };
	const char *outpath = NULL;
	enum document_format fmt = DOCUMENT_TABLE;
	enum document_lang lang = DOCUMENT_ZH;
	int ch;

	optind = 1;
	while ((ch = cmdopt_next("statement", argc, argv, opts, &t)) != -1) {
		switch (ch) {
		case 'a':
			agreement = optarg;
			break;
		case 'y':
			if (strlen(optarg) != 4 ||
			    strspn(optarg, "0123456789") != 4) {
				fprintf(stderr, "shanhai statement: --year "
				    "'%s': not a year\n", optarg);
				return CMD_USAGE;
			}
			year = optarg;
			break;
		case 'e':
			entries = optarg;
			break;
		case 'r':
			rules = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'm':
			model = optarg;
			break;
		case 'f':
			if (document_format_parse(optarg, &fmt) != 0) {
				fprintf(stderr, "shanhai statement: --format "
				    "'%s': table, csv, json, xlsx or pdf\n",
				    optarg);
				return CMD_USAGE;
			}
			break;
		case 'l':
			if (document_lang_parse(optarg, &lang) != 0) {
				fprintf(stderr, "shanhai statement: --lang "
				    "'%s': zh or en\n", optarg);
				return CMD_USAGE;
			}
			break;
		default:
			fputs(USAGE, stderr);
			return CMD_USAGE;
		}
	}
	if (model != NULL && optind == argc && agreement == NULL &&
	    year == NULL && entries == NULL && t.url == NULL)
		return from_model(model, fmt, lang, outpath);
	if (t.url == NULL && entries == NULL)
		fprintf(stderr, "shanhai statement: --url: missing (or "
		    "--entries FILE)\n");
	if ((t.url != NULL && cmdopt_tls_check(&t, "statement") == -1) ||
	    model != NULL || agreement == NULL || year == NULL ||
	    optind != argc || strlen(agreement) > 64 ||
	    strchr(agreement, '/') != NULL ||
	    (entries == NULL) == (t.url == NULL) ||
	    (t.url != NULL && rules != NULL)) {
		fputs(USAGE, stderr);
		return CMD_USAGE;
	}
	/* Binary documents are not for a terminal. */
	if ((fmt == DOCUMENT_PDF || fmt == DOCUMENT_XLSX) && outpath == NULL &&
	    isatty(STDOUT_FILENO)) {
		fprintf(stderr, "shanhai statement: --format %s: give --out "
		    "FILE (or redirect stdout)\n", fmt == DOCUMENT_PDF ?
		    "pdf" : "xlsx");
		return CMD_USAGE;
	}
	if (t.url != NULL)
		return from_url(&t, agreement, year, fmt, lang, outpath);
	return from_entries(entries, rules, agreement, year, fmt, lang,
	    outpath);
}
