/*
 * fuzz_settle: the report parser and validator, and the engine behind
 * them, on an engine holding every agreement of tests/cases (SPEC §3, §5).
 * The input is a sequence of reports, one a line, submitted in order.
 * Properties: a refusal carries an HTTP code and a reason; every entry is
 * canonical JSON, the first the report entry with the report's hash; in
 * every settlement and adjustment home + host = base; an identical
 * resubmission is a duplicate with the same hash and no entries; and a
 * second engine fed only the report entries' canonical reports (as the
 * daemon's restart and the auditor's replay do) gives byte-identical
 * entries, which shows that refusals changed nothing. That second engine
 * pages every year out after every report (SETTLE_PAGE_ALL), so it also
 * shows that paging changes no number.
 */
#include <glob.h>
#include <unistd.h>

#include "fuzz.h"

#include "shanhai/canon.h"
#include "shanhai/money.h"
#include "shanhai/pagefile.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

#define MAX_REPORTS	24

static char	**texts, **names;
static size_t	  ntexts;
static struct settle_pager pager;	/* over one page file for all runs */

/* Reads every agreement of tests/cases once (from $TOP, or the cwd). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *top = getenv("TOP");
	glob_t g;

	if (top != NULL && chdir(top) == -1)
		abort();
	if (glob("tests/cases/*/rules/*.conf", 0, NULL, &g) != 0) {
		fprintf(stderr, "fuzz_settle: no tests/cases/*/rules/*.conf "
		    "here; run from the top of the tree or set TOP\n");
		exit(2);
	}
	texts = calloc(g.gl_pathc, sizeof(*texts));
	names = calloc(g.gl_pathc, sizeof(*names));
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char err[1024];
		struct rules *r = rules_load_file(g.gl_pathv[i], err, sizeof(err));

		if (r == NULL) {
			fprintf(stderr, "fuzz_settle: %s\n", err);
			exit(2);
		}
		texts[ntexts] = strdup(rules_get0_text(r));
		names[ntexts++] = strdup(g.gl_pathv[i]);
		rules_free(r);
	}
	globfree(&g);
	{
		char err[256];
		struct pagefile *pf = pagefile_new(NULL, err, sizeof(err));

		if (pf == NULL) {
			fprintf(stderr, "fuzz_settle: %s\n", err);
			exit(2);
		}
		pagefile_pager(pf, SETTLE_PAGE_ALL, &pager);
	}
	return 0;
}

static struct settle *
engine(void)
{
	struct settle *s = settle_new();
	char err[1024];

	FUZZ_CHECK(s != NULL, "settle_new");
	for (size_t i = 0; i < ntexts; i++) {
		struct rules *r = rules_parse(texts[i], names[i], err, sizeof(err));

		FUZZ_CHECK(r != NULL && settle_install(s, r, err, sizeof(err))
		    == 0, "install %s: %s", names[i], err);
	}
	return s;
}

static int64_t
amount(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	int64_t fen;

	FUZZ_CHECK(v != NULL && money_parse(v, &fen) == 0, "%s: not an amount",
	    key);
	return fen;
}

static void
check_entry(const char *e, size_t len)
{
	char err[256];
	json_t *j;
	const char *type;

	FUZZ_CHECK(canon_check(e, len, err, sizeof(err)) == 0,
	    "entry not canonical (%s): %.*s", err, (int)len, e);
	j = canon_parse(e, len, err, sizeof(err));
	type = json_string_value(json_object_get(j, "type"));
	FUZZ_CHECK(type != NULL, "entry without type");
	if (strcmp(type, "settlement") == 0 || strcmp(type, "adjustment") == 0)
		FUZZ_CHECK(amount(j, "home") + amount(j, "host") ==
		    amount(j, "base"), "home + host != base: %.*s", (int)len, e);
	json_decref(j);
}

/* Appends entries to the growing ledger text *out. */
static void
append(char **out, size_t *outlen, const struct settle_result *res)
{
	for (size_t i = 0; i < settle_result_count(res); i++) {
		size_t len;
		const char *e = settle_result_entry(res, i, &len);

		*out = realloc(*out, *outlen + len + 2);
		if (*out == NULL)
			abort();
		memcpy(*out + *outlen, e, len);
		*outlen += len;
		(*out)[(*outlen)++] = '\n';
		(*out)[*outlen] = '\0';
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const host[] = { "330110", "330802", "330122" };
	struct settle *a = engine(), *b = engine();

	FUZZ_CHECK(settle_set_pager(b, &pager) == 0, "settle_set_pager");
	char *text = fuzz_strndup(data, size), *line, *next, err[1024];
	char *la = NULL, *lb = NULL;
	size_t lalen = 0, lblen = 0, n = 0;

	for (line = text; line != NULL && n < MAX_REPORTS; line = next, n++) {
		struct settle_result *res = NULL, *dup = NULL;
		size_t len;
		int code;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		len = strlen(line);
		/* Sides: none checked, or one side code, by the line number. */
		err[0] = '\0';
		code = settle_submit(a, line, len, n % 4 == 3 ? &host[n % 3] :
		    NULL, n % 4 == 3, "2026-11-27T00:00:00Z", "ff", &res, err,
		    sizeof(err));
		if (code < 0) {
			FUZZ_CHECK(res == NULL && err[0] != '\0' &&
			    (code == SETTLE_BADJSON || code == SETTLE_FORBIDDEN ||
			    code == SETTLE_CONFLICT || code == SETTLE_TOOLARGE ||
			    code == SETTLE_INVALID), "refusal %d \"%s\"", code,
			    err);
			continue;
		}
		FUZZ_CHECK(res != NULL, "no result");
		if (code == SETTLE_DUPLICATE) {
			FUZZ_CHECK(settle_result_count(res) == 0,
			    "a duplicate caused entries");
			settle_result_free(res);
			continue;
		}
		FUZZ_CHECK(code == SETTLE_ACCEPTED && settle_result_count(res) > 0,
		    "code %d", code);
		for (size_t i = 0; i < settle_result_count(res); i++) {
			size_t elen;
			const char *e = settle_result_entry(res, i, &elen);

			check_entry(e, elen);
		}
		json_t *rep = settle_result_get0_json(res, 0);
		FUZZ_CHECK(strcmp(json_string_value(json_object_get(rep,
		    "type")), "report") == 0 && strcmp(json_string_value(
		    json_object_get(rep, "sha256")), settle_result_hash(res))
		    == 0, "first entry is not this report's");
		json_t *period = settle_period_json(a,
		    settle_result_agreement(res), settle_result_period(res),
		    err, sizeof(err));
		FUZZ_CHECK(period != NULL, "period of an accepted report: %s",
		    err);
		free(canon_dump(period, NULL, err, sizeof(err)));
		json_decref(period);
		append(&la, &lalen, res);

		/* Replayed from the ledger: the canonical report alone. */
		size_t clen;
		char *canon = canon_dump(json_object_get(rep, "report"), &clen,
		    err, sizeof(err));
		struct settle_result *rb = NULL;
		FUZZ_CHECK(canon != NULL, "report not canonical: %s", err);
		code = settle_submit(b, canon, clen, NULL, 0,
		    "2026-11-27T00:00:00Z", "ff", &rb, err, sizeof(err));
		FUZZ_CHECK(code == SETTLE_ACCEPTED, "replay refused %d: %s",
		    code, err);
		append(&lb, &lblen, rb);
		settle_result_free(rb);
		FUZZ_CHECK(lalen == lblen && memcmp(la, lb, lalen) == 0,
		    "replay differs:\n%s\nvs\n%s", la, lb);

		/* The same bytes again: the first receipt, nothing new. */
		code = settle_submit(a, line, len, NULL, 0,
		    "2026-11-27T00:00:01Z", "ff", &dup, err, sizeof(err));
		FUZZ_CHECK(code == SETTLE_DUPLICATE && dup != NULL &&
		    settle_result_count(dup) == 0 &&
		    strcmp(settle_result_hash(dup), settle_result_hash(res)) == 0,
		    "resubmission gave %d (%s)", code, err);
		settle_result_free(dup);
		code = settle_submit(b, canon, clen, NULL, 0, NULL, NULL, &dup,
		    err, sizeof(err));
		FUZZ_CHECK(code == SETTLE_DUPLICATE, "canonical resubmission "
		    "gave %d (%s)", code, err);
		settle_result_free(dup);
		free(canon);
		settle_result_free(res);
	}
	free(la);
	free(lb);
	free(text);
	settle_free(a);
	settle_free(b);
	return 0;
}
