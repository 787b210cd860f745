/*
 * statement: the statement document model (see statement.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/rules.h"
#include "shanhai/settle.h"
#include "shanhai/statement.h"

/* What a document names of the agreement. */
static json_t *
agreement_json(const struct rules *r)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", rules_get0_id(r),
	    "title", rules_get0_title(r), "home", rules_get0_home(r), "host",
	    rules_get0_host(r), "cadence", rules_cadence_name(rules_cadence(r)));

	if (o != NULL && rules_get0_home_name(r) != NULL)
		json_object_set_new(o, "home_name",
		    json_string(rules_get0_home_name(r)));
	if (o != NULL && rules_get0_host_name(r) != NULL)
		json_object_set_new(o, "host_name",
		    json_string(rules_get0_host_name(r)));
	return o;
}

json_t *
statement_model(struct settle *s, const char *agreement, const char *year,
    const json_t *checkpoint, int *code, char *err, size_t errlen)
{
	const struct rules *r;
	json_t *m, *detail;

	if ((m = settle_year_json(s, agreement, year, code, err, errlen)) ==
	    NULL)
		return NULL;
	if ((detail = settle_year_detail(s, agreement, year, code, err,
	    errlen)) == NULL) {
		json_decref(m);
		return NULL;
	}
	r = settle_get0_rules(s, agreement);
	if (json_object_set_new(m, "detail", detail) == -1 ||
	    json_object_set_new(m, "agreement", agreement_json(r)) == -1 ||
	    json_object_set_new(m, "checkpoint", checkpoint != NULL ?
	    json_deep_copy(checkpoint) : json_null()) == -1) {
		json_decref(m);
		*code = SETTLE_UNAVAILABLE;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return m;
}

json_t *
statement_checkpoint(const char *note)
{
	const char *l2, *l3, *end;
	char *origin, *root;
	unsigned long long size;
	json_t *o;

	if ((l2 = strchr(note, '\n')) == NULL ||
	    (l3 = strchr(l2 + 1, '\n')) == NULL ||
	    (end = strchr(l3 + 1, '\n')) == NULL ||
	    sscanf(l2 + 1, "%llu", &size) != 1)
		return NULL;
	if ((origin = strndup(note, (size_t)(l2 - note))) == NULL)
		return NULL;
	if ((root = strndup(l3 + 1, (size_t)(end - l3 - 1))) == NULL) {
		free(origin);
		return NULL;
	}
	o = json_pack("{s:s,s:I,s:s}", "origin", origin, "size",
	    (json_int_t)size, "root", root);
	free(origin);
	free(root);
	return o;
}
