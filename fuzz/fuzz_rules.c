/*
 * fuzz_rules: the agreement loader (rules_parse) on any text. A refusal is
 * "name:line: message" about the file it was given; an agreement that
 * loads keeps its text byte for byte, hashes it as the `rules` entry says,
 * gives canonical JSON for the API and the ledger, loads again to the same
 * agreement, and its periods format and parse back.
 */
#include "fuzz.h"

#include "shanhai/canon.h"
#include "shanhai/rules.h"

/* The id the text declares (`id = "…";`), for the file name it must have. */
static void
guess_id(const char *text, char *id, size_t idlen)
{
	const char *p = text;

	snprintf(id, idlen, "fuzz");
	while ((p = strstr(p, "id")) != NULL) {
		const char *q = p + 2, *e;

		if (p > text && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z'))) {
			p = q;
			continue;
		}
		q += strspn(q, " \t\r\n");
		if (*q != '=' && *q != ':') {
			p = q;
			continue;
		}
		q++;
		q += strspn(q, " \t\r\n");
		if (*q == '"' && (e = strchr(q + 1, '"')) != NULL &&
		    (size_t)(e - q - 1) < idlen) {
			snprintf(id, idlen, "%.*s", (int)(e - q - 1), q + 1);
			return;
		}
		p = q;
	}
}

static char *
dump(json_t *j)
{
	char err[256], *c;

	FUZZ_CHECK(j != NULL, "no JSON");
	c = canon_dump(j, NULL, err, sizeof(err));
	FUZZ_CHECK(c != NULL, "not canonical: %s", err);
	json_decref(j);
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), id[80], name[128], err[1024];
	char hex[CANON_HASH_BUFSZ], pbuf[RULES_PERIOD_BUFSZ];
	struct rules *r, *r2;

	guess_id(text, id, sizeof(id));
	snprintf(name, sizeof(name), "rules/%s.conf", id);
	err[0] = '\0';
	if ((r = rules_parse(text, name, err, sizeof(err))) == NULL) {
		FUZZ_CHECK(strncmp(err, name, strlen(name)) == 0 &&
		    err[strlen(name)] == ':' && strlen(err) > strlen(name) + 2,
		    "refusal does not name the file: \"%s\"", err);
		free(text);
		return 0;
	}
	FUZZ_CHECK(strcmp(rules_get0_text(r), text) == 0, "text changed");
	canon_sha256_hex(text, strlen(text), hex);
	FUZZ_CHECK(strcmp(rules_get0_sha256(r), hex) == 0, "sha256");
	FUZZ_CHECK(strcmp(rules_get0_id(r), id) == 0, "id %s loaded from %s",
	    rules_get0_id(r), name);
	FUZZ_CHECK(strcmp(rules_get0_home(r), rules_get0_host(r)) != 0,
	    "home = host");
	FUZZ_CHECK(rules_term_count(r) > 0 &&
	    rules_term_from(r, 0) == rules_start(r) &&
	    rules_start(r) <= rules_end(r), "terms or span");
	for (size_t i = 1; i < rules_term_count(r); i++)
		FUZZ_CHECK(rules_term_from(r, i - 1) < rules_term_from(r, i),
		    "terms not increasing");
	for (size_t i = 0; i < rules_term_count(r); i++) {
		int32_t p = rules_term_from(r, i), back;

		rules_period_format(rules_cadence(r), p, pbuf);
		FUZZ_CHECK(rules_period_parse(rules_cadence(r), pbuf, &back) == 0 &&
		    back == p, "period %s does not parse back", pbuf);
	}

	char *api = dump(rules_to_json(r)), *entry = dump(rules_entry(r));
	/* Loading the same text again gives the same agreement. */
	r2 = rules_parse(text, name, err, sizeof(err));
	FUZZ_CHECK(r2 != NULL, "second load refused: %s", err);
	char *api2 = dump(rules_to_json(r2)), *entry2 = dump(rules_entry(r2));
	FUZZ_CHECK(strcmp(api, api2) == 0 && strcmp(entry, entry2) == 0,
	    "two loads differ");
	free(api);
	free(api2);
	free(entry);
	free(entry2);
	rules_free(r2);
	rules_free(r);
	free(text);
	return 0;
}
