/*
 * core_check: a program of the core alone (see the Makefile's core-check):
 * it is linked with libshanhai-core.a and the core's own libraries only, so
 * a core module that reached for the daemon's (libevent, SQLite) would not
 * link. It also settles SPEC §5's worked example 1 and checks the answer,
 * so the core that links is one that works.
 */
#include <stdio.h>
#include <string.h>

#include "shanhai/canon.h"
#include "shanhai/merkle.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

int
main(void)
{
	static const char rules[] = "id = \"ex-one\"; home = \"330802\"; "
	    "host = \"330110\"; cadence = \"monthly\"; start = \"2026-01\"; "
	    "taxes = ( { code = \"vat\"; } ); "
	    "terms = ( { from = \"2026-01\"; home = \"60%\"; } );";
	static const char report[] = "{\"report_id\":\"r\",\"agreement\":"
	    "\"ex-one\",\"period\":\"2026-01\",\"role\":\"host\",\"taxes\":"
	    "{\"vat\":\"10000.01\"}}";
	struct settle *s = settle_new();
	struct settle_result *res = NULL;
	struct rules *r;
	const char *e;
	char err[512];
	int ok;

	if (s == NULL || (r = rules_parse(rules, "ex-one.conf", err,
	    sizeof(err))) == NULL || settle_install(s, r, err, sizeof(err)) != 0 ||
	    settle_submit(s, report, strlen(report), NULL, 0, NULL, NULL, &res,
	    err, sizeof(err)) != SETTLE_ACCEPTED) {
		fprintf(stderr, "core_check: %s\n", err);
		return 1;
	}
	e = settle_result_entry(res, 1, NULL);
	ok = e != NULL && strstr(e, "\"base\":\"10000.01\"") != NULL &&
	    strstr(e, "\"home\":\"6000.01\"") != NULL &&
	    strstr(e, "\"host\":\"4000.00\"") != NULL;
	settle_result_free(res);
	settle_free(s);
	if (!ok) {
		fprintf(stderr, "core_check: SPEC §5 example 1 gives %s\n", e);
		return 1;
	}
	return 0;
}
