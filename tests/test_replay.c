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

/* Replays l; 0, or -1 with the message in err. */
static int
run(const struct ledger *l, replay_other_fn *other, void *arg, char *err,
    size_t errlen)
{
	struct settle *s = settle_new();
	struct replay *rp = replay_new(s, other, arg);
	int rc = 0;

	for (size_t i = 0; i < l->n && rc == 0; i++)
		rc = replay_entry(rp, i, l->e[i], strlen(l->e[i]), err, errlen);
	if (rc == 0)
		rc = replay_finish(rp, err, errlen);
	replay_free(rp);
	settle_free(s);
	return rc;
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
		  "entry 0: rules entry is not as the daemon writes it" },
		{ 0, "1/3", "1/4", "entry 0: rules entry is not as the daemon "
		  "writes it" },
		{ 2, "\"home\":\"25.00\"", "\"home\":\"25.01\"",
		  "entry 2: differs from the replay of the report at 1" },
		{ 3, "\"vat\":\"300.00\"", "\"vat\":\"300.01\"",
		  "entry 3: the report entry differs from its replay" },
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
		char *p, *n;

		build(&l);
		p = strstr(l.e[t[k].at], t[k].from);
		assert_non_null(p);
		assert_non_null(n = malloc(strlen(l.e[t[k].at]) + 64));
		sprintf(n, "%.*s%s%s", (int)(p - l.e[t[k].at]), l.e[t[k].at],
		    t[k].to, p + strlen(t[k].from));
		free(l.e[t[k].at]);
		l.e[t[k].at] = n;
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
