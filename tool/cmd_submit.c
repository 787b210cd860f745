/*
 * shanhai submit --url URL --cert C --key K --cacert CA [--out FILE]
 * REPORT.json: a bureau's submission (SPEC 7). Posts the report over mutual
 * TLS with the daemon's own client context, prints the receipt and saves it
 * next to the report as REPORT.receipt.json (or FILE). A refusal prints the
 * problem's detail and exits 1; transport and server errors exit 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/client.h"
#include "shanhai/cmd.h"
#include "shanhai/cmdopt.h"

/* A report is at most 64 KiB; read a little more so the server says 413. */
#define REPORT_READ_MAX	(1024 * 1024)

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai submit --url URL --cert FILE --key FILE"
	    " --cacert FILE [--out FILE] REPORT.json\n");
	return CMD_USAGE;
}

/*
 * The URL's path is a prefix: the report goes to PREFIX/v1/reports, or to
 * the URL itself when it already ends in /v1/reports.
 */
static int
reports_path(const char *prefix, char *path, size_t len)
{
	size_t n = strlen(prefix);

	if (n >= 11 && strcmp(prefix + n - 11, "/v1/reports") == 0)
		n -= 11;
	return snprintf(path, len, "%.*s/v1/reports", (int)n, prefix) <
	    (int)len ? 0 : -1;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(REPORT_READ_MAX + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, REPORT_READ_MAX, f);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* REPORT.json -> REPORT.receipt.json; REPORT -> REPORT.receipt.json */
static char *
receipt_path(const char *report)
{
	size_t n = strlen(report);
	char *p;

	if (n > 5 && strcmp(report + n - 5, ".json") == 0)
		n -= 5;
	if ((p = malloc(n + sizeof(".receipt.json"))) == NULL)
		return NULL;
	memcpy(p, report, n);
	strcpy(p + n, ".receipt.json");
	return p;
}

/* Writes data to path through a temporary file and a rename. */
static int
save(const char *path, const char *data, size_t len)
{
	char *tmp;
	FILE *f;
	int ok;

	if ((tmp = malloc(strlen(path) + 8)) == NULL)
		return -1;
	sprintf(tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL) {
		free(tmp);
		return -1;
	}
	ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 &&
	    fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int
cmd_submit(int argc, char **argv)
{
	static const struct option opts[] = {
		CMDOPT_TLS,
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopt_tls t = { 0 };
	const char *url, *out = NULL, *report;
	char err[1024], path[1100], detail[512], *body = NULL, *dest = NULL;
	struct client_resp resp = { 0 };
	struct client *c = NULL;
	size_t len;
	int ch, rc = CMD_USAGE;

	optind = 1;
	while ((ch = cmdopt_next("submit", argc, argv, opts, &t)) != -1) {
		if (ch != 'o')
			return usage();
		out = optarg;
	}
	if (cmdopt_tls_check(&t, "submit") == -1)
		return usage();
	if (optind != argc - 1) {
		fprintf(stderr, "shanhai submit: %s\n", optind == argc ?
		    "REPORT.json: missing" : "one REPORT.json at a time");
		return usage();
	}
	report = argv[optind];
	url = t.url;
	if ((c = cmdopt_tls_client(&t, "submit")) == NULL)
		return CMD_USAGE;
	if (reports_path(client_get0_path(c), path, sizeof(path)) != 0) {
		fprintf(stderr, "shanhai submit: --url %s: path too long\n",
		    url);
		goto done;
	}
	if ((body = read_file(report, &len)) == NULL) {
		fprintf(stderr, "shanhai submit: %s: %s\n", report,
		    strerror(errno));
		goto done;
	}
	if (client_request(c, "POST", path, "application/json", body, len,
	    &resp, err, sizeof(err)) != 0) {
		fprintf(stderr, "shanhai submit: %s: %s\n", url, err);
		goto done;
	}
	if (resp.status != 200 && resp.status != 201) {
		/* The problem's detail, or the answer itself. */
		fprintf(stderr, "shanhai submit: refused (%d): %s\n",
		    resp.status, client_resp_detail(&resp, detail,
		    sizeof(detail)) == 0 ? detail : resp.body);
		rc = cmd_http_exit(resp.status);
		goto done;
	}
	fwrite(resp.body, 1, resp.len, stdout);
	if (resp.len == 0 || resp.body[resp.len - 1] != '\n')
		putchar('\n');
	if ((dest = out ? strdup(out) : receipt_path(report)) == NULL ||
	    save(dest, resp.body, resp.len) < 0) {
		fprintf(stderr, "shanhai submit: saving the receipt to %s: %s\n",
		    dest ? dest : "?", strerror(errno));
		goto done;
	}
	fprintf(stderr, "shanhai submit: %s (%d); receipt saved in %s\n",
	    resp.status == 201 ? "accepted" : "already accepted", resp.status,
	    dest);
	if (resp.status == 200 && resp.current_status[0] != '\0')
		fprintf(stderr, "shanhai submit: the receipt is the first one, "
		    "with the period's status then; the period is now %s\n",
		    resp.current_status);
	rc = CMD_OK;
done:
	free(dest);
	client_resp_free(&resp);
	free(body);
	client_free(c);
	return rc;
}
