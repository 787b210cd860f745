/*
 * replay: see include/shanhai/replay.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/replay.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

struct replay {
	struct settle		*engine;
	replay_other_fn		*other;
	void			*arg;
	struct settle_result	*res;		/* the latest report's */
	size_t			 next;		/* its next entry to meet */
	uint64_t		 report_at;
	int			 new_report;	/* res is the entry just met */
};

struct replay *
replay_new(struct settle *engine, replay_other_fn *other, void *arg)
{
	struct replay *rp = calloc(1, sizeof(*rp));

	if (rp == NULL)
		return NULL;
	rp->engine = engine;
	rp->other = other;
	rp->arg = arg;
	return rp;
}

void
replay_free(struct replay *rp)
{
	if (rp == NULL)
		return;
	settle_result_free(rp->res);
	free(rp);
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int __attribute__((format(printf, 4, 5)))
refuse(char *err, size_t errlen, uint64_t index, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "entry %llu: %s", (unsigned long long)index, msg);
	return -1;
}

static int
replay_rules(struct replay *rp, uint64_t index, const char *body, size_t len,
    const json_t *e, char *err, size_t errlen)
{
	const char *agreement = str(e, "agreement"), *text = str(e, "text"),
	    *stamp = str(e, "time");
	char name[128], msg[512], *again;
	struct rules *r;
	size_t alen;
	int same;

	if (agreement == NULL || text == NULL)
		return refuse(err, errlen, index, "rules entry without "
		    "agreement or text");
	snprintf(name, sizeof(name), "ledger-%llu/%.64s.conf",
	    (unsigned long long)index, agreement);
	if ((r = rules_parse(text, name, msg, sizeof(msg))) == NULL)
		return refuse(err, errlen, index, "%s", msg);
	/* Without "time": as `shanhai settle` would write it, offline. */
	if ((again = rules_entry_text(r, stamp, &alen, msg,
	    sizeof(msg))) == NULL) {
		rules_free(r);
		return refuse(err, errlen, index, "%s", msg);
	}
	same = alen == len && memcmp(again, body, len) == 0;
	free(again);
	if (!same) {
		rules_free(r);
		return refuse(err, errlen, index, "rules entry is not as the "
		    "daemon writes it");
	}
	if (settle_install(rp->engine, r, msg, sizeof(msg)) < 0) {
		rules_free(r);
		return refuse(err, errlen, index, "%s", msg);
	}
	return 0;
}

static int
replay_report(struct replay *rp, uint64_t index, const char *body, size_t len,
    const json_t *e, char *err, size_t errlen)
{
	const json_t *report = json_object_get(e, "report");
	const char *stamp = str(e, "time"), *first;
	char msg[512], *bytes;
	size_t blen, elen;
	int code;

	if (!json_is_object(report))
		return refuse(err, errlen, index, "report entry without a "
		    "report");
	if ((bytes = canon_dump(report, &blen, msg, sizeof(msg))) == NULL)
		return refuse(err, errlen, index, "%s", msg);
	code = settle_submit(rp->engine, bytes, blen, NULL, 0, stamp,
	    str(e, "submitter"), &rp->res, msg, sizeof(msg));
	free(bytes);
	if (code != SETTLE_ACCEPTED) {
		if (code >= 0)
			snprintf(msg, sizeof(msg), "it repeats report %s",
			    settle_result_hash(rp->res));
		settle_result_free(rp->res);
		rp->res = NULL;
		return refuse(err, errlen, index, "the engine refuses this "
		    "report: %s", msg);
	}
	first = settle_result_entry(rp->res, 0, &elen);
	if (elen != len || memcmp(first, body, len) != 0)
		return refuse(err, errlen, index, "the report entry differs "
		    "from its replay");
	rp->next = 1;
	rp->report_at = index;
	rp->new_report = 1;
	return 0;
}

int
replay_entry(struct replay *rp, uint64_t index, const char *body, size_t len,
    char *err, size_t errlen)
{
	char msg[512];
	const char *type;
	json_t *e;
	int rc;

	rp->new_report = 0;
	if (rp->res != NULL && rp->next < settle_result_count(rp->res)) {
		size_t elen;
		const char *want = settle_result_entry(rp->res, rp->next++,
		    &elen);

		if (elen != len || memcmp(want, body, len) != 0)
			return refuse(err, errlen, index, "differs from the "
			    "replay of the report at %llu",
			    (unsigned long long)rp->report_at);
		return 0;
	}
	settle_result_free(rp->res);
	rp->res = NULL;
	if ((e = canon_parse(body, len, msg, sizeof(msg))) == NULL)
		return refuse(err, errlen, index, "%s", msg);
	type = str(e, "type");
	if (type != NULL && strcmp(type, "rules") == 0)
		rc = replay_rules(rp, index, body, len, e, err, errlen);
	else if (type != NULL && strcmp(type, "report") == 0)
		rc = replay_report(rp, index, body, len, e, err, errlen);
	else if (type != NULL && strcmp(type, "approval") == 0) {
		if ((rc = settle_approval_replay(rp->engine, body, len, index,
		    NULL, msg, sizeof(msg))) < 0)
			refuse(err, errlen, index, "%s", msg);
	} else if (rp->other != NULL && type != NULL &&
	    strcmp(type, "settlement") != 0 && strcmp(type, "adjustment") != 0 &&
	    strcmp(type, "dispute") != 0)
		rc = rp->other(rp->arg, index, body, len, e, err, errlen);
	else
		rc = refuse(err, errlen, index, "a %s entry that no report "
		    "before it caused", type ? type : "untyped");
	json_decref(e);
	return rc;
}

const struct settle_result *
replay_get0_report(const struct replay *rp, uint64_t *index)
{
	if (!rp->new_report)
		return NULL;
	*index = rp->report_at;
	return rp->res;
}

int
replay_finish(struct replay *rp, char *err, size_t errlen)
{
	if (rp->res != NULL && rp->next < settle_result_count(rp->res)) {
		snprintf(err, errlen, "the ledger ends inside the entries of "
		    "the report at %llu", (unsigned long long)rp->report_at);
		return -1;
	}
	return 0;
}
