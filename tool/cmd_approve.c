/*
 * shanhai approve --url URL --cert C --key K --cacert CA --agreement ID
 * --year YEAR [--yes]: a bureau's approval of a year's statement (SPEC §5a,
 * shanhai-api(7)). Fetches the statement, shows its totals, status and
 * hash, asks (unless --yes), then posts the approval naming that hash and
 * prints the receipt. Exit 0 approved (or already), 1 refused (409 shows the
 * current hash: the statement changed since it was shown), 2 usage or I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "shanhai/client.h"
#include "shanhai/cmd.h"
#include "shanhai/cmdopt.h"

static int
usage(void)
{
	fprintf(stderr, "usage: shanhai approve --url URL --cert FILE --key FILE"
	    " --cacert FILE --agreement ID --year YEAR [--yes]\n");
	return CMD_USAGE;
}

static const char *
str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "-";
}

/* The year's totals and each side's approval, for the person who decides. */
static void
show(const json_t *doc)
{
	const json_t *st = json_object_get(doc, "statement");
	const json_t *tot = json_object_get(st, "total");
	const json_t *ap = json_object_get(doc, "approvals");

	printf("%s %s (%s home %s, host %s): %zu periods\n",
	    str(st, "agreement"), str(st, "year"), "结算单 statement",
	    str(st, "home"), str(st, "host"),
	    json_array_size(json_object_get(st, "periods")));
	printf("  base  %18s\n  home  %18s  (floor top-up %s)\n"
	    "  host  %18s\n", str(tot, "base"), str(tot, "home"),
	    str(tot, "floor_topup"), str(tot, "host"));
	for (int i = 0; i < 2; i++) {
		const char *side = i == 0 ? "host" : "home";
		const json_t *a = json_object_get(ap, side);

		if (json_is_object(a))
			printf("  %s approved %s at %s (entry %lld)\n", side,
			    str(a, "statement"), str(a, "time"),
			    (long long)json_integer_value(json_object_get(a,
			    "index")));
		else
			printf("  %s: 待确认 not approved yet\n", side);
	}
	printf("status %s\nsha256 %s\n", str(doc, "status"), str(doc,
	    "sha256"));
}

/* 1 when the person answers yes on the terminal (or stdin). */
static int
confirmed(void)
{
	char line[64];

	printf("Approve this statement? 确认此结算单? [y/N] ");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 0;
	return line[0] == 'y' || line[0] == 'Y';
}

int
cmd_approve(int argc, char **argv)
{
	static const struct option opts[] = {
		CMDOPT_TLS,
		{ "agreement", required_argument, NULL, 'a' },
		{ "year", required_argument, NULL, 'y' },
		{ "yes", no_argument, NULL, 'Y' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopt_tls t = { 0 };
	const char *url, *agreement = NULL, *year = NULL, *hash;
	char err[1024], path[1200], body[160], detail[512];
	struct client_resp resp = { 0 };
	struct client *c = NULL;
	json_t *doc = NULL;
	int ch, yes = 0, rc = CMD_USAGE;

	optind = 1;
	while ((ch = cmdopt_next("approve", argc, argv, opts, &t)) != -1) {
		switch (ch) {
		case 'a':
			agreement = optarg;
			break;
		case 'y':
			year = optarg;
			break;
		case 'Y':
			yes = 1;
			break;
		default:
			return usage();
		}
	}
	if (cmdopt_tls_check(&t, "approve") == -1)
		return usage();
	if (agreement == NULL || year == NULL || optind != argc ||
	    strlen(agreement) > 64 || strlen(year) != 4 ||
	    strspn(year, "0123456789") != 4 || strchr(agreement, '/') != NULL)
		return usage();
	url = t.url;
	if ((c = cmdopt_tls_client(&t, "approve")) == NULL)
		return CMD_USAGE;
	snprintf(path, sizeof(path), "%s/v1/agreements/%s/years/%s/statement",
	    client_get0_path(c), agreement, year);
	if (client_request(c, "GET", path, NULL, NULL, 0, &resp, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "shanhai approve: %s: %s\n", url, err);
		goto done;
	}
	if (resp.status != 200) {
		fprintf(stderr, "shanhai approve: GET %s: %d: %s\n", path,
		    resp.status, client_resp_detail(&resp, detail,
		    sizeof(detail)) == 0 ? detail : resp.body);
		rc = resp.status >= 400 && resp.status < 500 ? CMD_FAILED :
		    CMD_USAGE;
		goto done;
	}
	if ((doc = json_loadb(resp.body, resp.len, 0, NULL)) == NULL) {
		fprintf(stderr, "shanhai approve: GET %s: not JSON\n", path);
		goto done;
	}
	if (!json_is_object(json_object_get(doc, "statement")) ||
	    (hash = json_string_value(json_object_get(doc, "sha256"))) ==
	    NULL) {
		fprintf(stderr, "shanhai approve: %s %s is %s: not every period "
		    "of the year has settled, so there is no statement yet\n",
		    agreement, year, str(doc, "status"));
		rc = CMD_FAILED;
		goto done;
	}
	show(doc);
	fflush(stdout);
	if (!yes && !confirmed()) {
		fprintf(stderr, "shanhai approve: not approved\n");
		rc = CMD_FAILED;
		goto done;
	}
	snprintf(body, sizeof(body), "{\"statement\":\"%.64s\"}", hash);
	snprintf(path, sizeof(path), "%s/v1/agreements/%s/years/%s/approvals",
	    client_get0_path(c), agreement, year);
	client_resp_free(&resp);
	if (client_request(c, "POST", path, "application/json", body,
	    strlen(body), &resp, err, sizeof(err)) != 0) {
		fprintf(stderr, "shanhai approve: %s: %s\n", url, err);
		goto done;
	}
	if (resp.status != 200 && resp.status != 201) {
		fprintf(stderr, "shanhai approve: refused (%d): %s\n",
		    resp.status, client_resp_detail(&resp, detail,
		    sizeof(detail)) == 0 ? detail : resp.body);
		rc = resp.status >= 400 && resp.status < 500 ? CMD_FAILED :
		    CMD_USAGE;
		goto done;
	}
	fwrite(resp.body, 1, resp.len, stdout);
	if (resp.len == 0 || resp.body[resp.len - 1] != '\n')
		putchar('\n');
	fflush(stdout);
	fprintf(stderr, "shanhai approve: %s (%d)\n", resp.status == 201 ?
	    "approved" : "already approved", resp.status);
	rc = CMD_OK;
done:
	json_decref(doc);
	client_resp_free(&resp);
	client_free(c);
	return rc;
}
