/*
 * sidereport: a side's latest report of a period (see sidereport.h).
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "shanhai/api.h"
#include "shanhai/http.h"
#include "shanhai/ingest.h"
#include "shanhai/journal.h"
#include "shanhai/server.h"
#include "shanhai/sidereport.h"

/* Entry index of the ledger as JSON, or NULL with the reason in err. */
static json_t *
entry_at(struct journal *j, json_int_t index, int *rc, char *err,
    size_t errlen)
{
	struct evbuffer *b = evbuffer_new();
	json_error_t jerr;
	json_t *e = NULL;

	if (b == NULL) {
		*rc = 500;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*rc = journal_entries(j, (uint64_t)index, (uint64_t)index + 1, b, err,
	    errlen);
	if (*rc == 0 && (e = json_loadb((const char *)evbuffer_pullup(b, -1),
	    evbuffer_get_length(b), 0, &jerr)) == NULL) {
		*rc = 500;
		snprintf(err, errlen, "entry %lld: %s", (long long)index,
		    jerr.text);
	}
	evbuffer_free(b);
	return e;
}

static void
period_ready(struct journal *j, void *arg, int ok)
{
	struct http_req *r = arg;
	const char *role = http_req_param(r, "role");
	json_t *period = NULL, *entries, *e = NULL, *doc;
	const char *want;
	char key[16], err[512];
	size_t i;
	int rc;

	if (!ok) {
		ingest_unavailable(r);
		return;
	}
	if ((rc = journal_period(j, http_req_param(r, "id"),
	    http_req_param(r, "period"), &period, err, sizeof(err))) != 0) {
		http_problem(r, rc, NULL, "%s", err);
		return;
	}
	snprintf(key, sizeof(key), "%s_report", role);
	want = json_string_value(json_object_get(period, key));
	entries = json_object_get(period, "entries");
	if (want == NULL) {
		http_problem(r, 404, "role", "the %s side has sent no report "
		    "for %s", role, http_req_param(r, "period"));
		goto done;
	}
	/* The latest report is the last of the period's entries to name it. */
	for (i = json_array_size(entries); i-- > 0; ) {
		e = entry_at(j, json_integer_value(json_array_get(entries, i)),
		    &rc, err, sizeof(err));
		if (e == NULL) {
			http_problem(r, rc, NULL, "%s", err);
			goto done;
		}
		if (strcmp(json_string_value(json_object_get(e, "type")) ?
		    json_string_value(json_object_get(e, "type")) : "",
		    "report") == 0 && json_string_value(json_object_get(e,
		    "sha256")) != NULL && strcmp(json_string_value(
		    json_object_get(e, "sha256")), want) == 0)
			break;
		json_decref(e);
		e = NULL;
	}
	if (e == NULL) {
		http_problem(r, 500, NULL, "report %.16s… of %s is not among "
		    "the period's entries", want, http_req_param(r, "period"));
		goto done;
	}
	if ((doc = json_pack("{s:O, s:O, s:O, s:O}",
	    "index", json_array_get(entries, i),
	    "sha256", json_object_get(e, "sha256"),
	    "time", json_object_get(e, "time"),
	    "report", json_object_get(e, "report"))) == NULL) {
		http_problem(r, 500, NULL, "out of memory");
		goto done;
	}
	http_reply_json(r, 200, doc);
	json_decref(doc);
done:
	json_decref(e);
	json_decref(period);
}

static void
get_side_report(struct http_req *r, void *arg)
{
	struct server *s = arg;
	const char *id = http_req_param(r, "id");
	const char *role = http_req_param(r, "role");
	const struct rules *a = server_gen_rules_find(http_req_gen(r), id);
	struct journal *j = ingest_get0_journal(s);

	if (a != NULL && !api_client_sees(http_req_client(r), a)) {
		http_problem(r, 404, "agreement", "\"%.64s\" is not a loaded "
		    "agreement", id);
		return;
	}
	if (strcmp(role, "host") != 0 && strcmp(role, "home") != 0) {
		http_problem(r, 400, "role", "\"%.16s\" is neither host nor "
		    "home", role);
		return;
	}
	if (j == NULL) {
		http_req_add_header(r, "Retry-After", "1");
		http_problem(r, 503, NULL, "the ledger is not open");
		return;
	}
	journal_when_committed(j, id, http_req_param(r, "period"),
	    period_ready, r);
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/v1/agreements/{id}/periods/{period}/reports/{role}",
	  CONFIG_ROLE_ANY, get_side_report },
};

static int
sidereport_start(struct server *s, void **statep, char *err, size_t errlen)
{
	if (http_add_routes(server_get0_http(s), routes,
	    sizeof(routes) / sizeof(routes[0]), s) == -1) {
		snprintf(err, errlen, "routes already taken");
		return -1;
	}
	*statep = s;
	return 0;
}

const struct server_module sidereport_module = {
	.name = "sidereport",
	.start = sidereport_start,
};
