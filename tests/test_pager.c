/*
 * test_pager: the engine's paging of closed years (doc/DESIGN.md, Engine)
 * and the page file behind `shanhai settle` and the auditor's replay.
 * Every script runs through an engine that keeps everything in memory and
 * through paged ones (closed years only, and every year after every
 * report); codes, messages and entries must be the same byte for byte:
 * corrections, resubmissions, reused ids and stale supersedes that reach
 * paged-out years, a dispute in a closed year, and period queries. A pager
 * that fails is a refusal with SETTLE_UNAVAILABLE that changes nothing,
 * never a wrong number.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "shanhai/pagefile.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"

/* Monthly over three years, with every kind of value. */
static const char MO[] =
    "id = \"mo\"; home = \"330802\"; host = \"330110\";\n"
    "cadence = \"monthly\"; start = \"2024-01\"; end = \"2026-12\";\n"
    "taxes = ( { code = \"vat\"; retain = \"50%\"; } );\n"
    "statistics = ( { code = \"gdp\"; mode = \"split\"; home = \"1/3\"; } );\n"
    "beneficiaries = ( { id = \"v1\"; weight = 2; }, { id = \"v2\"; weight = 1; } );\n"
    "terms = ( { from = \"2024-01\"; home = \"60%\"; floor = \"1000.00\"; },\n"
    "          { from = \"2025-07\"; bands = ( { upto = \"500.00\"; home = \"0%\"; },\n"
    "                                        { home = \"1/2\"; } ); } );\n";

/* Quarterly with confirm: disputes. */
static const char CQ[] =
    "id = \"cq\"; home = \"331181\"; host = \"330109\";\n"
    "cadence = \"quarterly\"; start = \"2024-Q1\"; confirm = true;\n"
    "taxes = ( { code = \"vat\"; } );\n"
    "terms = ( { from = \"2024-Q1\"; home = \"1/2\"; } );\n";

/*
 * A pager over memory that can be told to fail or to damage a blob; with
 * ids set, it keeps the index of report ids too (a list, in memory).
 */
struct tpager {
	void		*blob[256];
	size_t		 len[256];
	size_t		 n;
	int		 fail_get;
	int		 fail_put;
	int		 damage;
	int		 ids;
	int		 fail_ids;
	int		 fail_ids_add;
	uint64_t	 idh[4096];
	int32_t		 idy[4096];
	size_t		 nids;
};

static int
tp_put(void *arg, uint64_t *ref, const void *blob, size_t len)
{
	struct tpager *t = arg;
	size_t i = (size_t)*ref;

	if (t->fail_put)
		return -1;
	if (*ref == SETTLE_PAGE_NONE) {
		assert_true(t->n < 256);
		i = t->n++;
	} else {
		assert_true(i < t->n);
		free(t->blob[i]);
	}
	t->blob[i] = malloc(len);
	memcpy(t->blob[i], blob, len);
	t->len[i] = len;
	*ref = i;
	return 0;
}

static int
tp_get(void *arg, uint64_t ref, void **blob, size_t *len)
{
	struct tpager *t = arg;

	if (t->fail_get || ref >= t->n)
		return -1;
	*len = t->len[ref] - (t->damage ? 1 : 0);
	*blob = malloc(t->len[ref]);
	memcpy(*blob, t->blob[ref], t->len[ref]);
	return 0;
}

static int
tp_ids_add(void *arg, uint64_t h, int32_t y)
{
	struct tpager *t = arg;

	if (t->fail_ids || t->fail_ids_add)
		return -1;
	assert_true(t->nids < 4096);
	t->idh[t->nids] = h;
	t->idy[t->nids++] = y;
	return 0;
}

static int
tp_ids_find(void *arg, uint64_t h, int (*fn)(void *, int32_t), void *fnarg)
{
	struct tpager *t = arg;
	int rc;

	if (t->fail_ids)
		return -1;
	for (size_t i = 0; i < t->nids; i++)
		if (t->idh[i] == h && (rc = fn(fnarg, t->idy[i])) != 0)
			return rc;
	return 0;
}

static void
tp_clear(struct tpager *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->blob[i]);
	memset(t, 0, sizeof(*t));
}

static void
tp_pager(struct tpager *t, unsigned flags, struct settle_pager *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->put = tp_put;
	pg->get = tp_get;
	if (t->ids) {
		pg->ids_add = tp_ids_add;
		pg->ids_find = tp_ids_find;
	}
	pg->arg = t;
	pg->flags = flags;
}

static struct settle *
engine(struct tpager *t, unsigned flags)
{
	const char *texts[] = { MO, CQ }, *names[] = { "mo.conf", "cq.conf" };
	struct settle *s = settle_new();
	char err[512];

	assert_non_null(s);
	for (size_t i = 0; i < 2; i++) {
		struct rules *r = rules_parse(texts[i], names[i], err,
		    sizeof(err));

		if (r == NULL)
			fail_msg("%s", err);
		assert_int_equal(settle_install(s, r, err, sizeof(err)), 0);
	}
	if (t != NULL) {
		struct settle_pager pg;

		tp_pager(t, flags, &pg);
		assert_int_equal(settle_set_pager(s, &pg), 0);
	}
	return s;
}

/* Three engines fed the same reports: memory, closed years, every year. */
struct trio {
	struct settle	*s[3];
	struct tpager	 t[2];
};

static void
trio_open(struct trio *o)
{
	memset(o, 0, sizeof(*o));
	o->s[0] = engine(NULL, 0);
	o->s[1] = engine(&o->t[0], 0);
	o->t[1].ids = 1;	/* the third keeps no fingerprints */
	o->s[2] = engine(&o->t[1], SETTLE_PAGE_ALL);
}

static void
trio_close(struct trio *o)
{
	for (int i = 0; i < 3; i++)
		settle_free(o->s[i]);
	tp_clear(&o->t[0]);
	tp_clear(&o->t[1]);
}

/* Submits text to all three; returns the code (the same from each). */
static int
feed(struct trio *o, const char *text, size_t *nentries)
{
	struct settle_result *res[3] = { NULL, NULL, NULL };
	char err[3][512];
	int rc[3];

	for (int i = 0; i < 3; i++) {
		err[i][0] = '\0';
		rc[i] = settle_submit(o->s[i], text, strlen(text), NULL, 0,
		    "2026-11-27T00:00:00Z", NULL, &res[i], err[i],
		    sizeof(err[i]));
	}
	for (int i = 1; i < 3; i++) {
		if (rc[i] != rc[0] || strcmp(err[i], err[0]) != 0)
			fail_msg("engine %d: %d \"%s\", memory: %d \"%s\"\n%s",
			    i, rc[i], err[i], rc[0], err[0], text);
		if (rc[0] < 0)
			continue;
		assert_int_equal(settle_result_count(res[i]),
		    settle_result_count(res[0]));
		assert_int_equal(settle_result_status(res[i]),
		    settle_result_status(res[0]));
		for (size_t k = 0; k < settle_result_count(res[0]); k++)
			assert_string_equal(settle_result_entry(res[i], k, NULL),
			    settle_result_entry(res[0], k, NULL));
	}
	if (nentries != NULL)
		*nentries = rc[0] < 0 ? 0 : settle_result_count(res[0]);
	for (int i = 0; i < 3; i++)
		settle_result_free(res[i]);
	return rc[0];
}

static char *
report(const char *ag, const char *period, const char *role, const char *id,
    const char *vat, const char *supersedes)
{
	static char buf[512];
	char sup[128] = "";

	if (supersedes != NULL)
		snprintf(sup, sizeof(sup), ",\"supersedes\":\"%s\"", supersedes);
	snprintf(buf, sizeof(buf), "{\"report_id\":\"%s\",\"agreement\":\"%s\","
	    "\"period\":\"%s\",\"role\":\"%s\",\"taxes\":{\"vat\":\"%s\"}%s%s}",
	    id, ag, period, role, vat, strcmp(ag, "mo") == 0 ?
	    ",\"statistics\":{\"gdp\":\"100.01\"}" : "", sup);
	return buf;
}

/* The same period query from all three engines. */
static void
same_query(struct trio *o, const char *ag, const char *period)
{
	char err[512], *want = NULL;

	for (int i = 0; i < 3; i++) {
		json_t *q = settle_period_json(o->s[i], ag, period, err,
		    sizeof(err));
		char *got;

		if (q == NULL)
			fail_msg("%s %s: %s", ag, period, err);
		got = json_dumps(q, JSON_SORT_KEYS);
		json_decref(q);
		if (want == NULL)
			want = got;
		else {
			assert_string_equal(got, want);
			free(got);
		}
		assert_int_equal(settle_period_status(o->s[i], ag, period),
		    settle_period_status(o->s[0], ag, period));
	}
	free(want);
}

static void
same_counts(struct trio *o, const char *ag)
{
	size_t c0[SETTLE_DISPUTED + 1], c[SETTLE_DISPUTED + 1];

	assert_int_equal(settle_status_counts(o->s[0], ag, c0), 0);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(settle_status_counts(o->s[i], ag, c), 0);
		assert_memory_equal(c, c0, sizeof(c));
	}
}

static void
closed_years(void **state)
{
	struct trio o;
	struct settle_pager_stats st;
	char id[32], pb[16];
	size_t n;

	(void)state;
	trio_open(&o);
	/* Two whole years and the start of a third. */
	for (int y = 2024; y <= 2026; y++)
		for (int m = 1; m <= (y == 2026 ? 2 : 12); m++) {
			snprintf(id, sizeof(id), "m-%d-%02d", y, m);
			snprintf(pb, sizeof(pb), "%d-%02d", y, m);
			assert_int_equal(feed(&o, report("mo", pb, "host", id,
			    "1000.00", NULL), NULL), SETTLE_ACCEPTED);
		}
	settle_pager_stats(o.s[1], &st);
	assert_int_equal(st.paged_out, 2);	/* 2024 and 2025 */
	assert_int_equal(st.resident, 1);
	settle_pager_stats(o.s[0], &st);
	assert_int_equal(st.paged_out, 0);

	/* A correction of a closed year: adjustments from paged state. */
	assert_int_equal(feed(&o, report("mo", "2024-03", "host", "m-2024-03-r1",
	    "5000.00", "m-2024-03"), &n), SETTLE_ACCEPTED);
	assert_int_equal(n, 2);		/* report, adjustment */
	/* A second one, naming the first correction; and a stale one. */
	assert_int_equal(feed(&o, report("mo", "2024-03", "host", "m-2024-03-r2",
	    "-700.10", "m-2024-03-r1"), NULL), SETTLE_ACCEPTED);
	assert_int_equal(feed(&o, report("mo", "2024-03", "host", "m-2024-03-r3",
	    "1.00", "m-2024-03-r1"), NULL), SETTLE_CONFLICT);
	assert_int_equal(feed(&o, report("mo", "2025-08", "host", "m-2025-08-x",
	    "1.00", NULL), NULL), SETTLE_CONFLICT);
	/* Identical resubmission of a paged-out report: a duplicate. */
	assert_int_equal(feed(&o, report("mo", "2024-07", "host", "m-2024-07",
	    "1000.00", NULL), NULL), SETTLE_DUPLICATE);
	assert_int_equal(feed(&o, report("mo", "2024-03", "host", "m-2024-03-r1",
	    "5000.00", "m-2024-03"), NULL), SETTLE_DUPLICATE);
	/* A paged-out id reused with other content, for another period. */
	assert_int_equal(feed(&o, report("mo", "2026-03", "host", "m-2024-05",
	    "1000.00", NULL), NULL), SETTLE_CONFLICT);
	assert_int_equal(feed(&o, report("mo", "2026-03", "host", "m-2025-12",
	    "1.00", NULL), NULL), SETTLE_CONFLICT);
	assert_int_equal(feed(&o, report("mo", "2026-03", "host", "m-2026-03",
	    "1.00", NULL), NULL), SETTLE_ACCEPTED);
	/* Queries read paged years back and give the same answers. */
	same_query(&o, "mo", "2024-03");
	same_query(&o, "mo", "2024-12");
	same_query(&o, "mo", "2025-07");
	same_query(&o, "mo", "2026-03");
	same_query(&o, "mo", "2026-09");
	same_counts(&o, "mo");
	/* Paged-out years are paged out again once done with. */
	settle_pager_stats(o.s[1], &st);
	assert_int_equal(st.paged_out, 2);
	assert_true(st.gets > 0 && st.puts > 2);
	/* Rules: a change touching a settled term is refused from summaries. */
	{
		char err[512];
		struct rules *r = rules_parse("id = \"mo\"; home = \"330802\"; "
		    "host = \"330110\"; cadence = \"monthly\"; start = \"2024-01\"; "
		    "end = \"2026-12\"; taxes = ( { code = \"vat\"; retain = "
		    "\"50%\"; } ); statistics = ( { code = \"gdp\"; mode = "
		    "\"split\"; home = \"1/3\"; } ); beneficiaries = ( { id = "
		    "\"v1\"; weight = 2; }, { id = \"v2\"; weight = 1; } ); "
		    "terms = ( { from = \"2024-01\"; home = \"61%\"; } );",
		    "mo.conf", err, sizeof(err));

		assert_non_null(r);
		assert_int_equal(settle_check_replace(o.s[1], r, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "term 2024-01 changed or removed, "
		    "but its period 2024-01 already settled"));
		rules_free(r);
		assert_int_equal(settle_check_remove(o.s[1], "mo", err,
		    sizeof(err)), -1);
	}
	trio_close(&o);
}

static void
dispute_in_closed_year(void **state)
{
	struct trio o;
	struct settle_pager_stats st;
	char id[32], pb[16];
	size_t n;

	(void)state;
	trio_open(&o);
	for (int y = 2024; y <= 2025; y++)
		for (int q = 1; q <= (y == 2025 ? 1 : 4); q++) {
			snprintf(pb, sizeof(pb), "%d-Q%d", y, q);
			snprintf(id, sizeof(id), "h-%d-%d", y, q);
			assert_int_equal(feed(&o, report("cq", pb, "host", id,
			    "400.00", NULL), NULL), SETTLE_ACCEPTED);
			snprintf(id, sizeof(id), "c-%d-%d", y, q);
			assert_int_equal(feed(&o, report("cq", pb, "home", id,
			    "400.00", NULL), NULL), SETTLE_ACCEPTED);
		}
	settle_pager_stats(o.s[1], &st);
	assert_int_equal(st.paged_out, 1);
	/* The host corrects 2024-Q2; the home side does not agree yet. */
	assert_int_equal(feed(&o, report("cq", "2024-Q2", "host", "h-2024-2-r1",
	    "480.00", "h-2024-2"), &n), SETTLE_ACCEPTED);
	assert_int_equal(n, 2);		/* report, dispute */
	assert_int_equal(settle_period_status(o.s[1], "cq", "2024-Q2"),
	    SETTLE_DISPUTED);
	same_query(&o, "cq", "2024-Q2");
	same_counts(&o, "cq");
	/* The year was paged out again while disputed, and comes back. */
	settle_pager_stats(o.s[1], &st);
	assert_int_equal(st.paged_out, 1);
	assert_int_equal(feed(&o, report("cq", "2024-Q2", "home", "c-2024-2-r1",
	    "480.00", "c-2024-2"), &n), SETTLE_ACCEPTED);
	assert_int_equal(n, 2);		/* report, adjustment of Q2 */
	assert_int_equal(settle_period_status(o.s[1], "cq", "2024-Q2"),
	    SETTLE_SETTLED);
	same_query(&o, "cq", "2024-Q2");
	same_query(&o, "cq", "2024-Q4");
	same_counts(&o, "cq");
	trio_close(&o);
}

static void
pager_failures(void **state)
{
	struct settle *mem = engine(NULL, 0), *s;
	struct tpager t;
	struct settle_pager_stats st;
	struct settle_result *r0, *r1;
	char err[512], id[32], pb[16];
	const char *corr;
	struct settle_pager pg;

	(void)state;
	memset(&t, 0, sizeof(t));
	s = engine(&t, 0);
	for (int m = 1; m <= 13; m++) {
		snprintf(id, sizeof(id), "m-%d", m);
		snprintf(pb, sizeof(pb), "%d-%02d", 2024 + (m - 1) / 12,
		    (m - 1) % 12 + 1);
		for (int i = 0; i < 2; i++) {
			const char *rep = report("mo", pb, "host", id, "10.00",
			    NULL);

			assert_int_equal(settle_submit(i ? s : mem, rep,
			    strlen(rep), NULL, 0, NULL, NULL, &r0, err,
			    sizeof(err)), SETTLE_ACCEPTED);
			settle_result_free(r0);
		}
	}
	settle_pager_stats(s, &st);
	assert_int_equal(st.paged_out, 1);
	/* Setting a pager once reports were accepted is refused. */
	tp_pager(&t, 0, &pg);
	assert_int_equal(settle_set_pager(s, &pg), -1);

	/* get fails: refused as unavailable, nothing changes. */
	corr = strdup(report("mo", "2024-05", "host", "m-5-r1", "99.00", "m-5"));
	t.fail_get = 1;
	assert_int_equal(settle_submit(s, corr, strlen(corr), NULL, 0, NULL,
	    NULL, &r1, err, sizeof(err)), SETTLE_UNAVAILABLE);
	assert_null(r1);
	assert_non_null(strstr(err, "mo/2024 could not be read back"));
	assert_null(settle_period_json(s, "mo", "2024-05", err, sizeof(err)));
	assert_non_null(strstr(err, "could not be read back"));
	/* A damaged blob: the same. */
	t.fail_get = 0;
	t.damage = 1;
	assert_int_equal(settle_submit(s, corr, strlen(corr), NULL, 0, NULL,
	    NULL, &r1, err, sizeof(err)), SETTLE_UNAVAILABLE);
	assert_non_null(strstr(err, "mo/2024 is damaged"));
	/* put fails: the year stays in memory, the numbers are the same. */
	t.damage = 0;
	t.fail_put = 1;
	assert_int_equal(settle_submit(mem, corr, strlen(corr), NULL, 0, NULL,
	    NULL, &r0, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(settle_submit(s, corr, strlen(corr), NULL, 0, NULL,
	    NULL, &r1, err, sizeof(err)), SETTLE_ACCEPTED);
	assert_int_equal(settle_result_count(r1), settle_result_count(r0));
	for (size_t k = 0; k < settle_result_count(r0); k++)
		assert_string_equal(settle_result_entry(r1, k, NULL),
		    settle_result_entry(r0, k, NULL));
	settle_result_free(r0);
	settle_result_free(r1);
	settle_pager_stats(s, &st);
	assert_true(st.put_failures > 0);
	assert_int_equal(st.paged_out, 0);
	/* Once put works again, the changed year goes out and comes back. */
	t.fail_put = 0;
	free((char *)corr);
	corr = strdup(report("mo", "2024-05", "host", "m-5-r2", "7.00", "m-5-r1"));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(settle_submit(i ? s : mem, corr, strlen(corr),
		    NULL, 0, NULL, NULL, i ? &r1 : &r0, err, sizeof(err)),
		    SETTLE_ACCEPTED);
	}
	for (size_t k = 0; k < settle_result_count(r0); k++)
		assert_string_equal(settle_result_entry(r1, k, NULL),
		    settle_result_entry(r0, k, NULL));
	settle_result_free(r0);
	settle_result_free(r1);
	settle_pager_stats(s, &st);
	assert_int_equal(st.paged_out, 1);
	{
		json_t *q0 = settle_period_json(mem, "mo", "2024-05", err,
		    sizeof(err)), *q1 = settle_period_json(s, "mo", "2024-05",
		    err, sizeof(err));

		assert_non_null(q1);
		assert_true(json_equal(q0, q1));
		json_decref(q0);
		json_decref(q1);
	}
	free((char *)corr);
	settle_free(s);
	settle_free(mem);
	tp_clear(&t);
}

/*
 * A pager whose index of report ids fails: the report is refused as
 * unavailable, naming the index, and nothing changes; once the index
 * works the same report is taken as a memory engine takes it. A pager
 * with one of the two index callbacks, or without put, is refused.
 */
static void
ids_failures(void **state)
{
	struct settle *mem = engine(NULL, 0), *s, *half;
	struct tpager t;
	struct settle_pager pg;
	struct settle_result *r0, *r1;
	char err[512], id[32], pb[16];
	const char *rep;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.ids = 1;
	s = engine(&t, 0);
	for (int m = 1; m <= 14; m++) {
		snprintf(id, sizeof(id), "m-%d", m);
		snprintf(pb, sizeof(pb), "%d-%02d", 2024 + (m - 1) / 12,
		    (m - 1) % 12 + 1);
		rep = report("mo", pb, "host", id, "10.00", NULL);
		if (m == 14) {
			t.fail_ids = 1;
			assert_int_equal(settle_submit(s, rep, strlen(rep), NULL,
			    0, NULL, NULL, &r1, err, sizeof(err)),
			    SETTLE_UNAVAILABLE);
			assert_non_null(strstr(err, "the index of report ids "
			    "of mo could not be read"));
			t.fail_ids = 0;
			t.fail_ids_add = 1;
			assert_int_equal(settle_submit(s, rep, strlen(rep), NULL,
			    0, NULL, NULL, &r1, err, sizeof(err)),
			    SETTLE_UNAVAILABLE);
			assert_non_null(strstr(err, "the index of report ids "
			    "of mo could not be written"));
			assert_int_equal(settle_period_status(s, "mo",
			    "2025-02"), SETTLE_NONE);
			t.fail_ids_add = 0;
		}
		assert_int_equal(settle_submit(mem, rep, strlen(rep), NULL, 0,
		    NULL, NULL, &r0, err, sizeof(err)), SETTLE_ACCEPTED);
		assert_int_equal(settle_submit(s, rep, strlen(rep), NULL, 0,
		    NULL, NULL, &r1, err, sizeof(err)), SETTLE_ACCEPTED);
		assert_int_equal(settle_result_count(r1),
		    settle_result_count(r0));
		for (size_t k = 0; k < settle_result_count(r0); k++)
			assert_string_equal(settle_result_entry(r1, k, NULL),
			    settle_result_entry(r0, k, NULL));
		settle_result_free(r0);
		settle_result_free(r1);
	}
	/* An id of a paged-out year, reused: found through the index. */
	rep = report("mo", "2025-03", "host", "m-2", "10.00", NULL);
	assert_int_equal(settle_submit(s, rep, strlen(rep), NULL, 0, NULL,
	    NULL, &r1, err, sizeof(err)), SETTLE_CONFLICT);
	assert_non_null(strstr(err, "\"m-2\" was already used"));
	half = settle_new();
	tp_pager(&t, 0, &pg);
	pg.ids_find = NULL;
	assert_int_equal(settle_set_pager(half, &pg), -1);
	pg.ids_find = tp_ids_find;
	pg.ids_add = NULL;
	assert_int_equal(settle_set_pager(half, &pg), -1);
	tp_pager(&t, 0, &pg);
	pg.put = NULL;
	assert_int_equal(settle_set_pager(half, &pg), -1);
	tp_pager(&t, 0, &pg);
	assert_int_equal(settle_set_pager(half, &pg), 0);
	settle_free(half);
	settle_free(s);
	settle_free(mem);
	tp_clear(&t);
}

/* The page file: blobs come back as put, replaced in place or moved. */
static void
page_file(void **state)
{
	char err[256], *big;
	struct pagefile *pf = pagefile_new(getenv("TMPDIR"), err, sizeof(err));
	struct settle_pager pg;
	uint64_t ref[300], r;
	void *b;
	size_t len;

	(void)state;
	if (pf == NULL)
		fail_msg("%s", err);
	pagefile_pager(pf, 0, &pg);
	assert_int_equal(pg.get(pg.arg, 0, &b, &len), -1);
	assert_int_equal(pg.get(pg.arg, SETTLE_PAGE_NONE, &b, &len), -1);
	big = malloc(5000);
	for (int i = 0; i < 5000; i++)
		big[i] = (char)(i * 7);
	for (int k = 0; k < 300; k++) {
		ref[k] = SETTLE_PAGE_NONE;
		assert_int_equal(pg.put(pg.arg, &ref[k], big + k, 100 + k), 0);
		assert_true(ref[k] != SETTLE_PAGE_NONE);
	}
	/* Smaller (in place, the same reference), then larger (moved). */
	r = ref[3];
	assert_int_equal(pg.put(pg.arg, &ref[3], big, 50), 0);
	assert_true(ref[3] == r);
	r = ref[4];
	assert_int_equal(pg.put(pg.arg, &ref[4], big + 1, 4000), 0);
	assert_true(ref[4] != r);
	assert_int_equal(pagefile_count(pf), 300);
	for (int k = 0; k < 300; k++) {
		size_t want = k == 3 ? 50 : k == 4 ? 4000 : 100 + (size_t)k;
		const char *wp = k == 3 ? big : k == 4 ? big + 1 : big + k;

		assert_int_equal(pg.get(pg.arg, ref[k], &b, &len), 0);
		assert_int_equal(len, want);
		assert_memory_equal(b, wp, want);
		free(b);
	}
	/* A reference past the end is refused, not read. */
	assert_int_equal(pg.get(pg.arg, pagefile_bytes(pf), &b, &len), -1);
	r = pagefile_bytes(pf) + 8;
	assert_int_equal(pg.put(pg.arg, &r, big, 10), -1);
	free(big);
	pagefile_free(pf);
	assert_null(pagefile_new("/nonexistent/dir", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir"));
}

struct idcall {
	int32_t		 years[8];
	int		 n;
	int		 stop;		/* return this from the first call */
};

static int
idcall_fn(void *arg, int32_t y)
{
	struct idcall *c = arg;

	if (c->n < 8)
		c->years[c->n] = y;
	c->n++;
	return c->stop;
}

static uint64_t
mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ x >> 30) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ x >> 27) * 0x94D049BB133111EBULL;
	return x ^ x >> 31;
}

/*
 * The page file's index of report ids: 100,000 ids (hundreds of page
 * splits, the directory doubled again and again) each found with its
 * year and only with it; ids that were never added found nowhere; ids
 * alike in all 50 bits the index keeps, and one id under several years,
 * all called back; fn's answer stops the walk.
 */
static void
page_file_ids(void **state)
{
	char err[256];
	struct pagefile *pf = pagefile_new(getenv("TMPDIR"), err, sizeof(err));
	struct settle_pager pg;
	struct idcall c;
	enum { N = 100000 };

	(void)state;
	if (pf == NULL)
		fail_msg("%s", err);
	pagefile_pager(pf, 0, &pg);
	memset(&c, 0, sizeof(c));
	assert_int_equal(pg.ids_find(pg.arg, mix(1), idcall_fn, &c), 0);
	assert_int_equal(c.n, 0);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(pg.ids_add(pg.arg, mix(i), (int32_t)(i %
		    10000)), 0);
	assert_int_equal(pagefile_ids(pf, NULL), N);
	for (uint64_t i = 0; i < N; i++) {
		memset(&c, 0, sizeof(c));
		assert_int_equal(pg.ids_find(pg.arg, mix(i), idcall_fn, &c), 0);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.years[0], (int32_t)(i % 10000));
	}
	for (uint64_t i = N; i < N + 1000; i++) {
		memset(&c, 0, sizeof(c));
		assert_int_equal(pg.ids_find(pg.arg, mix(i), idcall_fn, &c), 0);
		assert_int_equal(c.n, 0);
	}
	/* The year's bits are the hash's lowest: those ids are one. */
	assert_int_equal(pg.ids_add(pg.arg, mix(7) ^ 0x5, 2024), 0);
	assert_int_equal(pg.ids_add(pg.arg, mix(7), 2030), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(pg.ids_find(pg.arg, mix(7) ^ 0x3ff, idcall_fn, &c),
	    0);
	assert_int_equal(c.n, 3);
	memset(&c, 0, sizeof(c));
	c.stop = 1;
	assert_int_equal(pg.ids_find(pg.arg, mix(7), idcall_fn, &c), 1);
	assert_int_equal(c.n, 1);
	c.stop = -1;
	c.n = 0;
	assert_int_equal(pg.ids_find(pg.arg, mix(7), idcall_fn, &c), -1);
	/* A year the slot cannot hold. */
	assert_int_equal(pg.ids_add(pg.arg, mix(8), 16384), -1);
	assert_int_equal(pg.ids_add(pg.arg, mix(8), -1), -1);
	pagefile_free(pf);
}

/*
 * Report ids over many years: more than the fingerprints' recent buffer
 * holds, several times over, so that ids are found in the sorted part and
 * in the recent one, in years paged out and in memory.
 */
static void
many_ids(void **state)
{
	static const char LG[] =
	    "id = \"lg\"; home = \"330802\"; host = \"330110\";\n"
	    "cadence = \"monthly\"; start = \"1990-01\";\n"
	    "taxes = ( { code = \"vat\"; } );\n"
	    "terms = ( { from = \"1990-01\"; home = \"1/2\"; } );\n";
	enum { N = 1000 };
	static const char LGT[] = "2101-01-05T00:00:00Z";
	char err[512], per[16], id[32], *rep = malloc(N * 160);
	struct pagefile *pf = pagefile_new(getenv("TMPDIR"), err, sizeof(err));
	struct settle *s = settle_new();
	struct settle_pager pg;
	struct settle_pager_stats st;
	struct settle_result *res;
	struct rules *r;

	(void)state;
	if (pf == NULL)
		fail_msg("%s", err);
	assert_non_null(r = rules_parse(LG, "lg.conf", err, sizeof(err)));
	assert_int_equal(settle_install(s, r, err, sizeof(err)), 0);
	pagefile_pager(pf, 0, &pg);
	assert_int_equal(settle_set_pager(s, &pg), 0);
	for (int i = 0; i < N; i++) {
		char *t = rep + i * 160;

		snprintf(per, sizeof(per), "%04d-%02d", 1990 + i / 12,
		    i % 12 + 1);
		snprintf(id, sizeof(id), "lg-%d", i * 7919 % 100003);
		snprintf(t, 160, "{\"report_id\":\"%s\",\"agreement\":\"lg\","
		    "\"period\":\"%s\",\"role\":\"host\",\"taxes\":{\"vat\":"
		    "\"%d.00\"}}", id, per, i + 1);
		assert_int_equal(settle_submit(s, t, strlen(t), NULL, 0, LGT, NULL,
		    &res, err, sizeof(err)), SETTLE_ACCEPTED);
		settle_result_free(res);
	}
	settle_pager_stats(s, &st);
	assert_true(st.paged_out > 70);
	for (int i = 0; i < N; i += 37) {
		char *t = rep + i * 160, other[160];

		/* The same report again; its id for another period. */
		assert_int_equal(settle_submit(s, t, strlen(t), NULL, 0, LGT, NULL,
		    &res, err, sizeof(err)), SETTLE_DUPLICATE);
		settle_result_free(res);
		snprintf(id, sizeof(id), "lg-%d", i * 7919 % 100003);
		snprintf(other, sizeof(other), "{\"report_id\":\"%s\","
		    "\"agreement\":\"lg\",\"period\":\"2100-01\",\"role\":"
		    "\"host\",\"taxes\":{\"vat\":\"1.00\"}}", id);
		assert_int_equal(settle_submit(s, other, strlen(other), NULL, 0,
		    LGT, NULL, &res, err, sizeof(err)), SETTLE_CONFLICT);
		assert_non_null(strstr(err, id));
	}
	/* A new id is new, wherever the fingerprints are. */
	{
		const char *t = "{\"report_id\":\"lg-new\",\"agreement\":\"lg\","
		    "\"period\":\"2100-01\",\"role\":\"host\",\"taxes\":{\"vat\":"
		    "\"1.00\"}}";

		assert_int_equal(settle_submit(s, t, strlen(t), NULL, 0, LGT, NULL,
		    &res, err, sizeof(err)), SETTLE_ACCEPTED);
		settle_result_free(res);
	}
	settle_free(s);
	pagefile_free(pf);
	free(rep);
}

/*
 * A page file on a full disk (a file size limit: writes past 16 KiB fail
 * with EFBIG): ids the file cannot take stay in memory and are all found;
 * puts fail (the engine then keeps the year); once there is room again
 * the file takes ids again.
 */
static void
page_file_full(void **state)
{
	char err[256];
	struct pagefile *pf = pagefile_new(getenv("TMPDIR"), err, sizeof(err));
	struct settle_pager pg;
	struct rlimit old, lim;
	struct idcall c;
	uint64_t ref = SETTLE_PAGE_NONE;
	static char blob[20000];
	size_t mem, mem2;
	enum { N = 20000 };

	(void)state;
	if (pf == NULL)
		fail_msg("%s", err);
	pagefile_pager(pf, 0, &pg);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 16384;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(pg.ids_add(pg.arg, mix(i), (int32_t)(i % 9000)),
		    0);
	assert_int_equal(pg.put(pg.arg, &ref, blob, sizeof(blob)), -1);
	assert_true(ref == SETTLE_PAGE_NONE);
	assert_int_equal(pagefile_ids(pf, &mem), N);
	assert_true(mem > N / 2);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	for (uint64_t i = N; i < 2 * N; i++)
		assert_int_equal(pg.ids_add(pg.arg, mix(i), (int32_t)(i % 9000)),
		    0);
	assert_int_equal(pagefile_ids(pf, &mem2), 2 * N);
	assert_int_equal(mem2, mem);
	for (uint64_t i = 0; i < 2 * N + 100; i++) {
		memset(&c, 0, sizeof(c));
		assert_int_equal(pg.ids_find(pg.arg, mix(i), idcall_fn, &c), 0);
		assert_int_equal(c.n, i < 2 * N);
		if (i < 2 * N)
			assert_int_equal(c.years[0], (int32_t)(i % 9000));
	}
	assert_int_equal(pg.put(pg.arg, &ref, blob, sizeof(blob)), 0);
	signal(SIGXFSZ, SIG_DFL);
	pagefile_free(pf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(closed_years),
		cmocka_unit_test(dispute_in_closed_year),
		cmocka_unit_test(pager_failures),
		cmocka_unit_test(ids_failures),
		cmocka_unit_test(page_file),
		cmocka_unit_test(page_file_ids),
		cmocka_unit_test(page_file_full),
		cmocka_unit_test(many_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
