/*
 * replay: a ledger written by one engine (rules, reports with time and
 * submitter, an approval) replays into another exactly; each kind of damage
 * is refused naming the entry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shanhai/replay.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

#define MAXE	64
#define T	"2027-01-05T00:00:00Z"

static const char RULES[] =
    "id = \"rp\"; home = \"330802\"; host = \"330110\"; cadence = \"yearly\";"
    " start = \"2024\"; home_name = \"衢州市柯城区财政局\";"
    " taxes = ( { code = \"vat\"; retain = \"25%\"; } );"
    " terms = ( { from = \"2024\"; home = \"1/3\"; },"
    " { from = \"2025\"; home = \"1/2\"; retain = { vat = \"50%\"; }; } );";

struct ledger {
	char	*e[MAXE];
	size_t	 n;
};

static void
add(struct ledger *l, const char *s, size_t len)
{
	assert_true(l->n < MAXE);
	assert_non_null(l->e[l->n] = malloc(len + 1));
	memcpy(l->e[l->n], s, len);
	l->e[l->n++][len] = '\0';
}

static void
sub(struct settle *s, struct ledger *l, const char *rep)
{
	struct settle_result *res;
	char err[512];

	assert_int_equal(settle_submit(s, rep, strlen(rep), NULL, 0, T,
	    "ab12", &res, err, sizeof(err)), SETTLE_ACCEPTED);
	for (size_t i = 0; i < settle_result_count(res); i++) {
		size_t len;
		const char *e = settle_result_entry(res, i, &len);

		add(l, e, len);
	}
	settle_result_free(res);
}

/* A ledger as the daemon writes it, for the agreement above. */
static void
build(struct ledger *l)
{
	struct settle *s = settle_new();
	struct settle_result *res;
	struct rules *r;
	char err[512], *e, body[160], hash[65];
	json_t *y;
	size_t len;
	int code;

	memset(l, 0, sizeof(*l));
	assert_non_null(r = rules_parse(RULES, "rp.conf", err, sizeof(err)));
	assert_non_null(e = rules_entry_text(r, T, &len, err, sizeof(err)));
	add(l, e, len);
	free(e);
	assert_int_equal(settle_install(s, r, err, sizeof(err)), 0);
	sub(s, l, "{\"report_id\":\"a\",\"agreement\":\"rp\",\"period\":\"2024\","
	    "\"role\":\"host\",\"taxes\":{\"vat\":\"300.00\"}}");
	sub(s, l, "{\"report_id\":\"b\",\"agreement\":\"rp\",\"period\":\"2025\","
	    "\"role\":\"host\",\"taxes\":{\"vat\":\"300.00\"}}");
	assert_non_null(y = settle_year_json(s, "rp", "2025", &code, err,
	    sizeof(err)));
	snprintf(hash, sizeof(hash), "%s",
	    json_string_value(json_object_get(y, "sha256")));
	json_decref(y);
	/* Without sides the role must be named. */
	snprintf(body, sizeof(body), "{\"statement\":\"%s\"}", hash);
	assert_int_equal(settle_approve(s, "rp", "2025", body, strlen(body),
	    NULL, 0, T, "ab12", l->n, &res, err, sizeof(err)), SETTLE_INVALID);
	snprintf(body, sizeof(body), "{\"statement\":\"%s\",\"role\":"
	    "\"home\"}", hash);
	assert_int_equal(settle_approve(s, "rp", "2025", body, strlen(body),
	    NULL, 0, T, "ab12", l->n, &res, err, sizeof(err)), SETTLE_ACCEPTED);
	add(l, settle_result_entry(res, 0, &len), len);
	settle_result_free(res);
	/* A correction of 2024 after the approval of 2025: independent years. */
	sub(s, l, "{\"report_id\":\"a2\",\"agreement\":\"rp\",\"period\":\"2024\","
	    "\"role\":\"host\",\"supersedes\":\"a\",\"taxes\":{\"vat\":\"301.00\"}}");
	settle_free(s);
}

static void
clear(struct ledger *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i]);
}

static int
key_ok(void *arg, uint64_t index, const char *body, size_t len,
    const json_t *e, char *err, size_t errlen)
{
	(void)index; (void)body; (void)len; (void)err; (void)errlen;
	++*(int *)arg;
	return strcmp(json_string_value(json_object_get(e, "type")), "key") ==
	    0 ? 0 : -1;
}

/* Replays l in the given mode; 0, or -1 with the message in err. */
static int
run_mode(const struct ledger *l, enum replay_mode mode,
    replay_other_fn *other, void *arg, char *err, size_t errlen)
{
	struct settle *s = settle_new();
	struct replay *rp = replay_new_mode(s, mode, other, arg);
	int rc = 0;

	for (size_t i = 0; i < l->n && rc == 0; i++)
		rc = replay_entry(rp, i, l->e[i], strlen(l->e[i]), err, errlen);
	if (rc == 0)
		rc = replay_finish(rp, err, errlen);
	replay_free(rp);
	settle_free(s);
	return rc;
}

static int
run(const struct ledger *l, replay_other_fn *other, void *arg, char *err,
    size_t errlen)
{
	return run_mode(l, REPLAY_DAEMON, other, arg, err, errlen);
}

/* Entry at of l with from replaced by to (the first place). */
static void
edit(struct ledger *l, size_t at, const char *from, const char *to)
{
	char *p = strstr(l->e[at], from), *n;

	assert_non_null(p);
	assert_non_null(n = malloc(strlen(l->e[at]) + strlen(to) + 1));
	sprintf(n, "%.*s%s%s", (int)(p - l->e[at]), l->e[at], to,
	    p + strlen(from));
	free(l->e[at]);
	l->e[at] = n;
}

static void
insert(struct ledger *l, size_t at, const char *s)
{
	assert_true(l->n < MAXE);
	memmove(l->e + at + 1, l->e + at, (l->n - at) * sizeof(char *));
	assert_non_null(l->e[at] = strdup(s));
	l->n++;
}

static void
good(void **state)
{
	struct ledger l;
	char err[512];
	int keys = 0;

	(void)state;
	build(&l);
	assert_int_equal(l.n, 8);
	assert_int_equal(run(&l, NULL, NULL, err, sizeof(err)), 0);
	/* A key entry goes to the hook. */
	free(l.e[l.n]);
	l.e[l.n++] = strdup("{\"key\":\"x+00000000+AA==\",\"type\":\"key\"}");
	assert_int_equal(run(&l, key_ok, &keys, err, sizeof(err)), 0);
	assert_int_equal(keys, 1);
	assert_int_equal(run(&l, NULL, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "entry 8: a key entry that no report before "
	    "it caused");
	clear(&l);
}

static void
damage(void **state)
{
	static const struct {
		size_t		 at;
		const char	*from, *to, *msg;
	} t[] = {
		{ 0, "\"sha256\":\"", "\"sha256\":\"0",
		  "entry 0: rules: field \"sha256\" is \"0" },
		{ 0, "1/3", "1/4", "entry 0: rules: field \"sha256\"" },
		{ 2, "\"home\":\"25.00\"", "\"home\":\"25.01\"",
		  "entry 2: settlement: field \"home\" is \"25.01\" in the "
		  "ledger, the replay gives \"25.00\"" },
		{ 3, "\"vat\":\"300.00\"", "\"vat\":\"300.01\"",
		  "entry 3: report: field \"sha256\"" },
		/* The daemon's replay compares time too. */
		{ 2, T, "2027-01-05T00:00:01Z", "entry 2: settlement: field "
		  "\"time\" is \"2027-01-05T00:00:01Z\" in the ledger, the "
		  "replay gives \"" T "\"" },
		/* Not canonical: said so, at the entry. */
		{ 2, "{", "{ ", "entry 2: not canonical JSON (from byte 1)" },
		{ 1, "{", "{ ", "entry 1: not canonical JSON (from byte 1)" },
		{ 5, "\"type\":\"approval\"", "\"type\":\"approvals\"",
		  "entry 5: a approvals entry that no report before it caused" },
		{ 5, "\"statement\":\"", "\"statement\":\"0",
		  "entry 5: approval entry without agreement, year, role or "
		  "statement" },
		{ 5, "\"year\":\"2025\"", "\"year\":\"2024\"", "not the current "
		  "statement of rp 2024" },
		{ 6, "\"supersedes\":\"a\"", "\"supersedes\":\"b\"",
		  "entry 6: the engine refuses this report: supersedes" },
	};
	char err[512];

	(void)state;
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		struct ledger l;

		build(&l);
		edit(&l, t[k].at, t[k].from, t[k].to);
		if (run(&l, NULL, NULL, err, sizeof(err)) != -1)
			fail_msg("case %zu: the damage was replayed", k);
		if (strstr(err, t[k].msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", k, err,
			    t[k].msg);
		clear(&l);
	}
	/* Cut short inside a report's entries. */
	{
		struct ledger l;

		build(&l);
		free(l.e[--l.n]);
		assert_int_equal(run(&l, NULL, NULL, err, sizeof(err)), -1);
		assert_string_equal(err, "the ledger ends inside the entries "
		    "of the report at 6");
		clear(&l);
	}
}

/*
 * The auditor's mode: time, and submitter on reports, are not compared
 * (nor given to the engine); other types are counted as skipped; what each
 * report and approval gave is noted; the counts add up.
 */
static void
audit_mode(void **state)
{
	struct ledger l;
	struct settle *s;
	struct replay *rp;
	struct replay_counts c;
	const char *status, *why;
	uint64_t rank;
	size_t count;
	char err[512];

	(void)state;
	build(&l);
	edit(&l, 2, T, "2027-01-05T00:00:01Z");
	edit(&l, 1, "\"submitter\":\"ab12\"", "\"submitter\":\"x\"");
	insert(&l, 5, "{\"key\":\"x\",\"type\":\"key\"}");
	assert_int_equal(run(&l, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(s = settle_new());
	assert_non_null(rp = replay_new_mode(s, REPLAY_AUDIT, NULL, NULL));
	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(replay_entry(rp, i, l.e[i], strlen(l.e[i]),
		    err, sizeof(err)), 0);
		if (i == 1) {
			assert_int_equal(replay_noted(rp, 1, &status, &count),
			    0);
			assert_string_equal(status, "settled");
			assert_int_equal(count, 2);
		} else if (i == 6) {	/* the approval, after the key */
			assert_int_equal(replay_noted(rp, 6, &status, &count),
			    0);
			assert_int_equal(count, 1);
		} else if (strstr(l.e[i], "\"type\":\"report\"") != NULL)
			assert_int_equal(replay_noted(rp, i, &status, &count),
			    0);
		else	/* rules, derived, key: nothing noted */
			assert_int_equal(replay_noted(rp, i, &status, &count),
			    -1);
		/* Only the entry just replayed. */
		assert_int_equal(replay_noted(rp, i + 1, &status, &count), -1);
	}
	assert_int_equal(replay_finish(rp, err, sizeof(err)), 0);
	assert_int_equal(replay_failure(rp, &rank, &why), -1);
	replay_counts(rp, &c);
	assert_int_equal(c.rules, 1);
	assert_int_equal(c.reports, 3);
	assert_int_equal(c.approvals, 1);
	assert_int_equal(c.skipped, 1);
	assert_int_equal(c.rules + c.reports + c.approvals + c.skipped +
	    c.derived, l.n);
	replay_free(rp);
	settle_free(s);
	/* A time that is not a plain string is still not compared. */
	edit(&l, 2, "\"time\":\"2027-01-05T00:00:01Z\"", "\"time\":7");
	assert_int_equal(run_mode(&l, REPLAY_AUDIT, NULL, NULL, err,
	    sizeof(err)), 0);
	/* But the other members are, byte for byte. */
	edit(&l, 2, "\"home\":\"25.00\"", "\"home\":\"25.01\"");
	assert_int_equal(run_mode(&l, REPLAY_AUDIT, NULL, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "entry 2: settlement: field \"home\""));
	clear(&l);
}

/*
 * A group's end (replay_end()) with entries missing, and the ranks that
 * order failures as a sequential replay would meet them.
 */
static void
end_and_ranks(void **state)
{
	struct ledger l;
	struct settle *s;
	struct replay *rp;
	const char *why;
	uint64_t rank;
	char err[512];

	(void)state;
	build(&l);
	assert_non_null(s = settle_new());
	assert_non_null(rp = replay_new_mode(s, REPLAY_AUDIT, NULL, NULL));
	for (size_t i = 0; i < 3; i++)	/* rules, report, its settlement */
		assert_int_equal(replay_entry(rp, i, l.e[i], strlen(l.e[i]),
		    err, sizeof(err)), 0);
	assert_int_equal(replay_end(rp, 3, err, sizeof(err)), 0);
	assert_int_equal(replay_entry(rp, 3, l.e[3], strlen(l.e[3]), err,
	    sizeof(err)), 0);
	assert_int_equal(replay_end(rp, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "entry 4: missing: the report at entry 3 "
	    "gives a settlement for rp 2025 here");
	assert_int_equal(replay_failure(rp, &rank, &why), 0);
	assert_int_equal(rank, REPLAY_RANK(4, 1));
	/* Entry 4's form comes before: it wins. */
	assert_int_equal(replay_form(rp, 4, "{ }", 3, err, sizeof(err)), -1);
	assert_int_equal(replay_failure(rp, &rank, &why), 0);
	assert_int_equal(rank, REPLAY_RANK(4, 0));
	assert_string_equal(why, "entry 4: not canonical JSON (from byte 1)");
	/* A later failure does not replace it. */
	assert_int_equal(replay_form(rp, 5, "x", 1, err, sizeof(err)), -1);
	assert_int_equal(replay_failure(rp, &rank, &why), 0);
	assert_int_equal(rank, REPLAY_RANK(4, 0));
	replay_free(rp);
	settle_free(s);
	/* A key entry inside a report's entries: missing, in both modes. */
	insert(&l, 2, "{\"key\":\"x\",\"type\":\"key\"}");
	assert_int_equal(run(&l, key_ok, &(int){ 0 }, err, sizeof(err)), -1);
	assert_string_equal(err, "entry 2: missing: the report at entry 1 "
	    "gives a settlement for rp 2024 here");
	assert_int_equal(run_mode(&l, REPLAY_AUDIT, NULL, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "entry 2: missing: the report at entry 1 "
	    "gives a settlement for rp 2024 here");
	clear(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(damage),
		cmocka_unit_test(audit_mode),
		cmocka_unit_test(end_and_ranks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
