/*
 * test_audit: the replay gives the same verdict, failing index and message
 * whatever the number of workers, on a good ledger of the four sample agreements
 * (interleaved, so every worker gets work) and on every kind of damage:
 * a changed amount, a missing, doubled or extra entry, a foreign entry
 * inside a report's entries, non-canonical bytes, a refused report, a bad
 * rules entry, a line ending in CR LF. What the replay notes for a
 * watched report (a receipt's status and entries) is what the engine gave
 * when the ledger was built. Built from the cases under tests/cases (run
 * from the top).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/audit.h"
#include "shanhai/canon.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

#define MAXE 4096

struct ledger {
	char		*e[MAXE];
	size_t		 n;
	/* At a report entry: its period's status after it, its entries. */
	const char	*status[MAXE];
	size_t		 count[MAXE];
};

static const char *cases[] = {
	"tests/cases/example-kecheng-yuhang-2026",
	"tests/cases/example-longquan-xiaoshan-2026",
	"tests/cases/example-qujiang-yinzhou-2023-2024",
	"tests/cases/example-kaihua-tongxiang-2016-2024",
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void
add(struct ledger *l, const char *s)
{
	assert_true(l->n < MAXE);
	l->e[l->n++] = strdup(s);
}

/* The daemon's ledger for the three cases, reports taken in turn. */
static void
build(struct ledger *l)
{
	struct settle *s = settle_new();
	FILE *f[NCASES];
	char err[1024], path[512], *line[NCASES] = { NULL };
	size_t cap[NCASES] = { 0 };
	int more = 1;

	memset(l, 0, sizeof(*l));
	/* The example cases share rules/: all four agreements at once. */
	{
		struct rules **list;
		size_t n;

		assert_int_equal(rules_load_dir("rules", &list, &n, NULL, NULL), 0);
		assert_int_equal(n, NCASES);
		for (size_t i = 0; i < n; i++) {
			json_t *e = rules_entry(list[i]);
			char *d = canon_dump(e, NULL, err, sizeof(err));
			add(l, d);
			free(d);
			json_decref(e);
			assert_int_equal(settle_install(s, list[i], err,
			    sizeof(err)), 0);
		}
		free(list);
	}
	for (size_t c = 0; c < NCASES; c++) {
		snprintf(path, sizeof(path), "%s/reports.jsonl", cases[c]);
		assert_non_null(f[c] = fopen(path, "r"));
	}
	while (more) {
		more = 0;
		for (size_t c = 0; c < NCASES; c++) {
			struct settle_result *res;
			ssize_t len = getline(&line[c], &cap[c], f[c]);
			if (len <= 0)
				continue;
			more = 1;
			if (line[c][len - 1] == '\n')
				line[c][--len] = '\0';
			assert_true(settle_submit(s, line[c], (size_t)len, NULL,
			    0, "2026-11-27T10:00:00Z", NULL, &res, err,
			    sizeof(err)) >= 0);
			l->status[l->n] = settle_status_name(
			    settle_result_status(res));
			l->count[l->n] = settle_result_count(res);
			for (size_t i = 0; i < settle_result_count(res); i++)
				add(l, settle_result_entry(res, i, NULL));
			settle_result_free(res);
		}
	}
	for (size_t c = 0; c < NCASES; c++) {
		fclose(f[c]);
		free(line[c]);
	}
	settle_free(s);
}

static void
clear(struct ledger *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i]);
	l->n = 0;
}

static size_t
find(const struct ledger *l, const char *what, int nth)
{
	for (size_t i = 0; i < l->n; i++)
		if (strstr(l->e[i], what) != NULL && nth-- == 0)
			return i;
	fail_msg("no %s", what);
	return 0;
}

static void
replace(struct ledger *l, size_t i, const char *s)
{
	free(l->e[i]);
	l->e[i] = strdup(s);
}

static void
remove_at(struct ledger *l, size_t i)
{
	free(l->e[i]);
	memmove(l->e + i, l->e + i + 1, (l->n - i - 1) * sizeof(char *));
	l->n--;
}

static void
insert_at(struct ledger *l, size_t i, const char *s)
{
	assert_true(l->n < MAXE);
	memmove(l->e + i + 1, l->e + i, (l->n - i) * sizeof(char *));
	l->e[i] = strdup(s);
	l->n++;
}

/* Runs the ledger with 1..4 workers; all must agree. Returns the index. */
static uint64_t
run(const struct ledger *l, int want_ok, const char *want)
{
	char first[1024] = "", err[1024];
	uint64_t first_at = 0, at = 0;

	for (unsigned w = 1; w <= 4; w++) {
		struct audit *a = audit_new(w);
		assert_non_null(a);
		for (size_t i = 0; i < l->n; i++)
			assert_int_equal(audit_entry(a, i, l->e[i],
			    strlen(l->e[i])), 0);
		int rc = audit_finish(a, l->n, &at, err, sizeof(err));
		audit_free(a);
		if (want_ok) {
			if (rc != 0)
				fail_msg("%u workers: %s", w, err);
			continue;
		}
		assert_int_equal(rc, -1);
		if (want != NULL && strstr(err, want) == NULL)
			fail_msg("%u workers: '%s' lacks '%s'", w, err, want);
		if (w == 1) {
			snprintf(first, sizeof(first), "%s", err);
			first_at = at;
		} else {
			assert_string_equal(err, first);
			assert_int_equal(at, first_at);
		}
	}
	return first_at;
}

static void
test_good(void **state)
{
	struct ledger l;
	struct audit *a = audit_new(3);
	uint64_t r, p, d, k, at;
	char err[256];

	build(&l);
	run(&l, 1, NULL);
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(audit_entry(a, i, l.e[i], strlen(l.e[i])), 0);
	assert_int_equal(audit_finish(a, l.n, &at, err, sizeof(err)), 0);
	audit_counts(a, &r, &p, &d, &k);
	assert_int_equal(r, NCASES);
	assert_int_equal(r + p + d + k, l.n);
	assert_int_equal(k, 0);
	audit_free(a);
	/* A key entry between two reports' entries is skipped. */
	insert_at(&l, find(&l, "\"type\":\"report\"", 7),
	    "{\"key\":\"x+00000000+AA==\",\"type\":\"key\"}");
	run(&l, 1, NULL);
	/* Empty ledgers and a ledger of rules alone hold too. */
	clear(&l);
	run(&l, 1, NULL);
	build(&l);
	for (size_t i = l.n; i > 3; i--)
		remove_at(&l, i - 1);
	run(&l, 1, NULL);
	clear(&l);
}

static void
test_damage(void **state)
{
	struct ledger l;
	size_t i;
	char *s;

	/* A changed amount in a settlement. */
	build(&l);
	i = find(&l, "\"type\":\"settlement\"", 9);
	s = strdup(l.e[i]);
	char *h = strstr(s, "\"home\":\"");
	assert_non_null(h);
	h[8] = h[8] == '9' ? '8' : (char)(h[8] + 1);
	replace(&l, i, s);
	free(s);
	assert_int_equal(run(&l, 0, "field \"home\""), i);
	clear(&l);

	/* A settlement missing, then doubled. */
	build(&l);
	i = find(&l, "\"type\":\"settlement\"", 11);
	remove_at(&l, i);
	assert_int_equal(run(&l, 0, "missing"), i);
	clear(&l);
	build(&l);
	i = find(&l, "\"type\":\"settlement\"", 11);
	insert_at(&l, i, l.e[i]);
	assert_int_equal(run(&l, 0, NULL), i + 1);
	clear(&l);

	/* A settlement before any report, and one after a rules entry. */
	build(&l);
	insert_at(&l, 0, l.e[find(&l, "\"type\":\"settlement\"", 0)]);
	assert_int_equal(run(&l, 0, "extra"), 0);
	clear(&l);
	build(&l);
	insert_at(&l, 1, l.e[find(&l, "\"type\":\"settlement\"", 0)]);
	assert_int_equal(run(&l, 0, "extra"), 1);
	clear(&l);

	/* A foreign entry inside a report's entries. */
	build(&l);
	i = find(&l, "\"type\":\"settlement\"", 5);
	insert_at(&l, i, "{\"key\":\"x\",\"type\":\"key\"}");
	assert_int_equal(run(&l, 0, "missing"), i);
	clear(&l);

	/* Bytes that are not canonical: in a derived entry, a key entry. */
	build(&l);
	i = find(&l, "\"type\":\"settlement\"", 3);
	s = malloc(strlen(l.e[i]) + 2);
	sprintf(s, "{ %s", l.e[i] + 1);
	replace(&l, i, s);
	free(s);
	assert_int_equal(run(&l, 0, "not canonical"), i);
	clear(&l);
	build(&l);
	insert_at(&l, 3, "{\"type\":\"key\",\"key\":\"x\"}");
	assert_int_equal(run(&l, 0, "not canonical"), 3);
	clear(&l);
	build(&l);
	insert_at(&l, 3, "not json");
	assert_int_equal(run(&l, 0, "not a JSON object"), 3);
	clear(&l);

	/*
	 * Two "type" members, the last a settlement's (so it is classified
	 * one, outside any report: the main thread's replay, which has no
	 * engine, takes it), the first a report's: refused, not submitted.
	 */
	build(&l);
	insert_at(&l, 1, "{\"report\":{\"agreement\":\"x\"},\"type\":"
	    "\"report\",\"type\":\"settlement\"}");
	assert_int_equal(run(&l, 0, "duplicate"), 1);
	clear(&l);

	/* The same report twice: a resubmission causes no entry. */
	build(&l);
	i = find(&l, "\"type\":\"report\"", 4);
	insert_at(&l, l.n, l.e[i]);
	assert_int_equal(run(&l, 0, "resubmission"), l.n - 1);
	clear(&l);

	/* Rules whose sha256 is not their text's. */
	build(&l);
	s = strdup(l.e[1]);
	char *sha = strstr(s, "\"sha256\":\"");
	assert_non_null(sha);
	sha[10] = sha[10] == 'a' ? 'b' : 'a';
	replace(&l, 1, s);
	free(s);
	assert_int_equal(run(&l, 0, "sha256"), 1);
	clear(&l);

	/*
	 * Two checks failing at one entry: the one a sequential replay makes
	 * first wins whichever thread makes it. A rules entry that is not
	 * canonical where a report's settlement is missing: the form first.
	 */
	build(&l);
	i = find(&l, "\"type\":\"settlement\"", 6);
	remove_at(&l, i);
	s = malloc(strlen(l.e[0]) + 2);
	sprintf(s, "{ %s", l.e[0] + 1);
	insert_at(&l, i, s);
	free(s);
	assert_int_equal(run(&l, 0, "not canonical"), i);
	clear(&l);
	/* A report whose agreement id is escaped: not canonical, not refused. */
	build(&l);
	i = find(&l, "\"type\":\"report\"", 5);
	s = strdup(l.e[i]);
	char *ag = strstr(s, "\"agreement\":\"");
	assert_non_null(ag);
	char *esc = malloc(strlen(s) + 8);
	size_t k = (size_t)(ag - s) + 13;
	sprintf(esc, "%.*s\\u00%02x%s", (int)k, s, (unsigned char)s[k],
	    s + k + 1);
	replace(&l, i, esc);
	free(esc);
	free(s);
	assert_int_equal(run(&l, 0, "not canonical"), i);
	clear(&l);

	/* A file with CR LF line endings: said so, at its first line. */
	build(&l);
	i = find(&l, "\"type\":\"settlement\"", 4);
	s = malloc(strlen(l.e[i]) + 2);
	sprintf(s, "%s\r", l.e[i]);
	replace(&l, i, s);
	free(s);
	assert_int_equal(run(&l, 0, "not canonical JSON: its line ends in CR "
	    "LF (the file has CR line endings"), i);
	replace(&l, 0, "{\"key\":\"x\",\"type\":\"key\"}\r");
	assert_int_equal(run(&l, 0, "ends in CR LF"), 0);
	clear(&l);

	/* Two failures: the earlier one is reported, by any worker count. */
	build(&l);
	size_t late = find(&l, "\"type\":\"settlement\"", 30);
	size_t early = find(&l, "\"type\":\"settlement\"", 2);
	remove_at(&l, late);
	remove_at(&l, early);
	assert_int_equal(run(&l, 0, "missing"), early);
	clear(&l);
}

/*
 * Every report of the ledger watched in turn, by 1..4 workers: the status
 * and entry count the replay notes are the engine's when it was built; a
 * watched entry that is not a report notes nothing.
 */
static void
test_watch(void **state)
{
	struct ledger l;
	const char *st;
	size_t count, reports = 0;
	uint64_t at;
	char err[256];
	int seen[3] = { 0, 0, 0 };

	(void)state;
	build(&l);
	for (size_t i = 0; i < l.n; i++) {
		unsigned w = 1 + (unsigned)(i % 4);
		struct audit *a = audit_new(w);

		assert_non_null(a);
		audit_watch(a, i);
		for (size_t k = 0; k < l.n; k++)
			assert_int_equal(audit_entry(a, k, l.e[k],
			    strlen(l.e[k])), 0);
		assert_int_equal(audit_finish(a, l.n, &at, err, sizeof(err)), 0);
		if (l.status[i] == NULL) {
			assert_int_equal(audit_watched(a, &st, &count), -1);
			audit_free(a);
			continue;
		}
		assert_int_equal(audit_watched(a, &st, &count), 0);
		assert_string_equal(st, l.status[i]);
		assert_int_equal(count, l.count[i]);
		seen[strcmp(st, "waiting") == 0 ? 0 :
		    strcmp(st, "settled") == 0 ? 1 : 2] = 1;
		reports++;
		audit_free(a);
	}
	/* The cases hold all three statuses (Longquan's Q2 dispute). */
	assert_true(reports > 10);
	assert_true(seen[0] && seen[1] && seen[2]);
	clear(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
