/*
 * journal_rules: agreements checked against the engine (a reload's veto),
 * installed, and their `rules` entries queued ahead of what follows.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/log.h"
#include "shanhai/settle.h"

#include "journal_impl.h"

/* A private copy of r, since the engine takes what it installs. */
static struct rules *
rules_copy(const struct rules *r, char *err, size_t errlen)
{
	char name[STORE_ID_BUFSZ + 16];

	snprintf(name, sizeof(name), "%s.conf", rules_get0_id(r));
	return rules_parse(rules_get0_text(r), name, err, errlen);
}

/* ---- rules ---- */

/* Does list hold agreement id? */
static int
list_has(const struct rules *const *list, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rules_get0_id(list[i]), id) == 0)
			return 1;
	return 0;
}

/*
 * msg without its leading "id: ": the engine's refusals name the agreement
 * already, and a caller that names it too would say it twice.
 */
static const char *
unprefixed(const char *msg, const char *id)
{
	size_t n = strlen(id);

	return strncmp(msg, id, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ' ?
	    msg + n + 2 : msg;
}

static int
rules_changed(const struct settle *e, const struct rules *r)
{
	const struct rules *old = settle_get0_rules(e, rules_get0_id(r));

	return old == NULL || strcmp(rules_get0_sha256(old),
	    rules_get0_sha256(r)) != 0;
}

int
journal_rules_check(struct journal *j, const struct rules *const *list,
    size_t n, char *err, size_t errlen)
{
	char msg[512];

	if (j->broken) {
		snprintf(err, errlen, "the ledger store is failing: %s",
		    j->broken_why);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!rules_changed(j->engine, list[i]))
			continue;
		if (settle_check_replace(j->engine, list[i], msg,
		    sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: %s", rules_get0_id(list[i]),
			    unprefixed(msg, rules_get0_id(list[i])));
			return -1;
		}
	}
	for (size_t i = 0; i < settle_rules_count(j->engine); i++) {
		const char *id = rules_get0_id(settle_get0_rules_at(j->engine, i));

		if (!list_has(list, n, id) &&
		    settle_check_remove(j->engine, id, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: %s", id, unprefixed(msg, id));
			return -1;
		}
	}
	return 0;
}

/* Installs a copy of r and queues its rules entry. */
static int
rules_put(struct journal *j, const struct rules *r, const char *stamp,
    char *err, size_t errlen)
{
	struct rules *mine;
	struct group *g;
	struct item *it;
	char *bytes;
	size_t len;

	if ((mine = rules_copy(r, err, errlen)) == NULL)
		return -1;
	if ((bytes = rules_entry_text(mine, stamp, &len, err, errlen)) == NULL) {
		rules_free(mine);
		return -1;
	}
	if (settle_install(j->engine, mine, err, errlen) < 0) {
		rules_free(mine);
		free(bytes);
		return -1;
	}
	/* The engine changed: from here a failure must rebuild it. */
	if ((g = journal_cur(j)) == NULL ||
	    (it = jn_group_add_item(g)) == NULL ||
	    jn_group_add_entry(j, g, bytes, len) < 0) {
		free(bytes);
		snprintf(err, errlen, "out of memory");
		return -2;
	}
	free(bytes);
	it->kind = ITEM_RULES;
	j->rules_upto = j->next;
	snprintf(it->rep.agreement, sizeof(it->rep.agreement), "%s",
	    rules_get0_id(r));
	snprintf(it->rep.sha256, sizeof(it->rep.sha256), "%s",
	    rules_get0_sha256(r));
	it->rep.index = j->next - 1;
	return 0;
}

int
journal_rules_apply(struct journal *j, const struct rules *const *list,
    size_t n, int strict, char *err, size_t errlen)
{
	char stamp[TIME_BUFSZ], msg[512];
	int rc;

	if (strict && journal_rules_check(j, list, n, err, errlen) < 0)
		return -1;
	if (j->broken) {
		snprintf(err, errlen, "the ledger store is failing: %s",
		    j->broken_why);
		return -1;
	}
	jn_now_rfc3339(stamp);
	for (size_t i = 0; i < n; i++) {
		if (!rules_changed(j->engine, list[i]))
			continue;
		if (settle_check_replace(j->engine, list[i], msg,
		    sizeof(msg)) < 0) {
			log_warnx("rules %s: change refused, keeping the version"
			    " in the ledger: %s", rules_get0_id(list[i]),
			    unprefixed(msg, rules_get0_id(list[i])));
			continue;
		}
		if ((rc = rules_put(j, list[i], stamp, msg, sizeof(msg))) < 0) {
			snprintf(err, errlen, "%s: %s", rules_get0_id(list[i]),
			    msg);
			if (rc == -2)
				journal_fail_all(j, err);
			return -1;
		}
		log_info("rules %s: in force, sha256 %s", rules_get0_id(list[i]),
		    rules_get0_sha256(list[i]));
	}
	for (size_t i = 0; i < settle_rules_count(j->engine); ) {
		const char *id = rules_get0_id(settle_get0_rules_at(j->engine, i));

		if (list_has(list, n, id) ||
		    settle_check_remove(j->engine, id, msg, sizeof(msg)) < 0) {
			if (!list_has(list, n, id))
				log_warnx("rules %s: the file is gone, but its"
				    " periods settled; keeping it: %s", id,
				    unprefixed(msg, id));
			i++;
			continue;
		}
		log_info("rules %s: withdrawn", id);
		if (settle_remove(j->engine, id, msg, sizeof(msg)) < 0)
			i++;
	}
	journal_kick(j);
	return 0;
}
