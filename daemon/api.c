/*
 * api: /healthz and /v1/agreements (see api.h).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "shanhai/api.h"
#include "shanhai/config.h"
#include "shanhai/http.h"
#include "shanhai/rules.h"
#include "shanhai/server.h"

/* 200 while serving; 503 once SIGTERM began the drain. */
static void
healthz(struct http_req *r, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		http_reply(r, 500, NULL, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", server_stopping(s) ? "stopping" :
	    "serving");
	http_reply(r, server_stopping(s) ? 503 : 200, "text/plain", b);
	evbuffer_free(b);
}

int
api_client_sees(const struct config_client *cl, const struct rules *a)
{
	if (cl == NULL || config_client_role(cl) != CONFIG_ROLE_BUREAU)
		return 1;
	return config_client_has_code(cl, rules_get0_home(a)) ||
	    config_client_has_code(cl, rules_get0_host(a));
}

/*
 * {"agreements":[…]}: every loaded agreement with its terms, by id; a
 * bureau sees only those it is a side of (SPEC §7).
 */
static void
agreements(struct http_req *r, void *arg)
{
	const struct server_gen *g = http_req_gen(r);
	const struct config_client *cl = http_req_client(r);
	json_t *list = json_array(), *doc;

	for (size_t i = 0; list != NULL && i < server_gen_rules_count(g);
	    i++)
		if (api_client_sees(cl, server_gen_rules(g, i)) &&
		    json_array_append_new(list,
		    rules_to_json(server_gen_rules(g, i))) == -1) {
			json_decref(list);
			list = NULL;
		}
	if (list == NULL || (doc = json_pack("{s:o}", "agreements", list)) ==
	    NULL) {
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	http_reply_json(r, 200, doc);
	json_decref(doc);
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/healthz", HTTP_PUBLIC, healthz },
	{ HTTP_GET, "/v1/agreements", CONFIG_ROLE_ANY, agreements },
};

static int
api_start(struct server *s, void **statep, char *err, size_t errlen)
{
	if (http_add_routes(server_get0_http(s), routes,
	    sizeof(routes) / sizeof(routes[0]), s) == -1) {
		snprintf(err, errlen, "routes already taken");
		return -1;
	}
	*statep = s;
	return 0;
}

const struct server_module api_module = {
	.name = "api",
	.start = api_start,
};
