/*
 * monitor: GET /metrics (see monitor.h). Counters and histograms are fed
 * as things happen, through the observers of http and journal; gauges are
 * read anew at every scrape, so they can never drift from the truth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "shanhai/http.h"
#include "shanhai/ingest.h"
#include "shanhai/journal.h"
#include "shanhai/metrics.h"
#include "shanhai/mirror.h"
#include "shanhai/monitor.h"
#include "shanhai/rules.h"
#include "shanhai/server.h"
#include "shanhai/settle.h"
#include "shanhai/version.h"
#include "shanhai/witnessing.h"

/* Seconds: from a fast keep-alive answer to a slow commit. */
static const double latency_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
/* Submissions or entries per committed group. */
static const double group_bounds[] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096,
};
#define NB(a)	(sizeof(a) / sizeof(a[0]))

/* When the version of an agreement now in force was first loaded. */
struct loaded {
	char	*id;
	char	 sha256[65];
	time_t	 at;
};

struct monitor {
	struct server		*s;
	struct metrics		*m;
	time_t			 started;
	struct loaded		*loaded;
	size_t			 nloaded;
	struct journal		*journal;	/* NULL without ingest */
	/* fed as things happen */
	struct metrics_family	*requests, *latency;
	struct metrics_family	*group_reports, *group_entries;
	struct metrics_family	*write_time, *fsync_time;
	/* read at each scrape */
	struct metrics_family	*info, *start_time, *uptime, *conns;
	struct metrics_family	*inflight, *gen_time, *agr_time;
	struct metrics_family	*ledger, *periods;
	/* the witnesses and the tile mirror (SPEC 6.5, 6.6) */
	struct metrics_family	*w_size, *w_errors, *w_ok, *wd_size, *wd_lag,
				*wd_lag_s, *tiles_size, *tiles_errors;
};

static void
on_answer(void *arg, const char *method, const char *route, int status,
    double seconds)
{
	struct monitor *mo = arg;
	char st[8];

	/* Unmatched paths share one label: a scanner must not grow the set. */
	if (route == NULL)
		route = "(none)";
	snprintf(st, sizeof(st), "%d", status);
	metrics_add(mo->requests, 1, "route", route, "method", method,
	    "status", st, NULL);
	metrics_observe(mo->latency, seconds, "route", route, "method", method,
	    "status", st, NULL);
}

static void
on_commit(void *arg, size_t reports, size_t entries, double write_seconds,
    double commit_seconds)
{
	struct monitor *mo = arg;

	metrics_observe(mo->group_reports, (double)reports, NULL);
	metrics_observe(mo->group_entries, (double)entries, NULL);
	metrics_observe(mo->write_time, write_seconds, NULL);
	metrics_observe(mo->fsync_time, commit_seconds, NULL);
}

/*
 * Notes the agreements of g whose text is new since last seen, as loaded
 * when g was. Called at start, on every reload and at each scrape.
 */
static void
note_loaded(struct monitor *mo, const struct server_gen *g)
{
	for (size_t i = 0; i < server_gen_rules_count(g); i++) {
		const struct rules *r = server_gen_rules(g, i);
		struct loaded *l = NULL, *all;

		for (size_t k = 0; k < mo->nloaded; k++)
			if (strcmp(mo->loaded[k].id, rules_get0_id(r)) == 0)
				l = &mo->loaded[k];
		if (l == NULL) {
			all = realloc(mo->loaded, (mo->nloaded + 1) *
			    sizeof(*all));
			if (all == NULL)
				return;
			mo->loaded = all;
			l = &all[mo->nloaded];
			memset(l, 0, sizeof(*l));
			if ((l->id = strdup(rules_get0_id(r))) == NULL)
				return;
			mo->nloaded++;
		}
		if (strcmp(l->sha256, rules_get0_sha256(r)) != 0) {
			snprintf(l->sha256, sizeof(l->sha256), "%s",
			    rules_get0_sha256(r));
			l->at = server_gen_loaded_at(g);
		}
	}
}

/* The size of the latest checkpoint (its second line); -1 when none. */
static long long
checkpoint_size(struct journal *j)
{
	char err[256], *note = NULL, *nl;
	long long size = -1;

	if (journal_checkpoint(j, &note, err, sizeof(err)) != 0)
		return -1;
	if ((nl = strchr(note, '\n')) != NULL)
		size = strtoll(nl + 1, NULL, 10);
	free(note);
	return size;
}

/* The witnesses' and the mirror's gauges, when there are any. */
static void
scrape_witnesses(struct monitor *mo)
{
	struct witnessing_stat st[64];
	uint64_t wsize, lag, published, errors;
	double lag_s;
	size_t n;

	n = witnessing_stats(mo->s, st, 64, &wsize, &lag, &lag_s);
	metrics_clear(mo->w_size);
	metrics_clear(mo->w_errors);
	metrics_clear(mo->w_ok);
	for (size_t i = 0; i < n && i < 64; i++) {
		metrics_set(mo->w_size, (double)st[i].cosigned, "witness",
		    st[i].name, NULL);
		metrics_set(mo->w_errors, (double)st[i].errors, "witness",
		    st[i].name, NULL);
		metrics_set(mo->w_ok, (double)st[i].last_ok, "witness",
		    st[i].name, NULL);
	}
	if (n > 0) {
		metrics_set(mo->wd_size, (double)wsize, NULL);
		metrics_set(mo->wd_lag, (double)lag, NULL);
		metrics_set(mo->wd_lag_s, lag_s, NULL);
	}
	mirror_stats(mo->s, &published, &errors);
	if (server_module_state(mo->s, "mirror") != NULL) {
		metrics_set(mo->tiles_size, (double)published, NULL);
		metrics_set(mo->tiles_errors, (double)errors, NULL);
	}
}

/* Reads every gauge anew. */
static void
scrape(struct monitor *mo)
{
	const struct server_gen *g = server_get0_gen(mo->s);
	struct http *h = server_get0_http(mo->s);
	time_t now = time(NULL);

	metrics_set(mo->info, 1, "version", SHANHAI_VERSION, NULL);
	metrics_set(mo->start_time, (double)mo->started, NULL);
	metrics_set(mo->uptime, difftime(now, mo->started), NULL);
	metrics_set(mo->conns, (double)http_connections(h), NULL);
	metrics_set(mo->inflight, (double)http_inflight(h), NULL);
	metrics_set(mo->gen_time, (double)server_gen_loaded_at(g), NULL);
	note_loaded(mo, g);
	metrics_clear(mo->agr_time);
	metrics_clear(mo->periods);
	for (size_t i = 0; i < server_gen_rules_count(g); i++) {
		const struct rules *r = server_gen_rules(g, i);
		const char *id = rules_get0_id(r);
		size_t counts[SETTLE_DISPUTED + 1];

		for (size_t k = 0; k < mo->nloaded; k++)
			if (strcmp(mo->loaded[k].id, id) == 0)
				metrics_set(mo->agr_time,
				    (double)mo->loaded[k].at, "agreement", id,
				    "sha256", mo->loaded[k].sha256, NULL);
		if (mo->journal == NULL ||
		    settle_status_counts(journal_get0_engine(mo->journal), id,
		    counts) != 0)
			continue;
		for (enum settle_status st = SETTLE_WAITING;
		    st <= SETTLE_DISPUTED; st++)
			metrics_set(mo->periods, (double)counts[st],
			    "agreement", id, "status", settle_status_name(st),
			    NULL);
	}
	if (mo->journal != NULL) {
		long long size = checkpoint_size(mo->journal);

		if (size >= 0)
			metrics_set(mo->ledger, (double)size, NULL);
	}
	scrape_witnesses(mo);
}

static void
get_metrics(struct http_req *r, void *arg)
{
	struct monitor *mo = arg;
	struct evbuffer *b;
	char *text;
	size_t len;

	scrape(mo);
	if ((text = metrics_render(mo->m, &len)) == NULL ||
	    (b = evbuffer_new()) == NULL) {
		free(text);
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	evbuffer_add(b, text, len);
	free(text);
	http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/metrics", CONFIG_ROLE_OPERATOR, get_metrics },
};

static void
monitor_free(struct server *s, void *state)
{
	struct monitor *mo = state;

	if (mo == NULL)
		return;
	/* The server freed the HTTPS front already; the journal comes next. */
	if (mo->journal != NULL)
		journal_set_observer(mo->journal, NULL, NULL);
	for (size_t i = 0; i < mo->nloaded; i++)
		free(mo->loaded[i].id);
	free(mo->loaded);
	metrics_free(mo->m);
	free(mo);
}

#define FAMILY(f, name, type, help) \
	((mo->f = metrics_family(mo->m, name, type, help, NULL, 0)) != NULL)
#define HISTOGRAM(f, name, help, b) \
	((mo->f = metrics_family(mo->m, name, METRICS_HISTOGRAM, help, b, \
	    NB(b))) != NULL)

static int
monitor_start(struct server *s, void **statep, char *err, size_t errlen)
{
	struct monitor *mo;

	if ((mo = calloc(1, sizeof(*mo))) == NULL ||
	    (mo->m = metrics_new()) == NULL)
		goto nomem;
	mo->s = s;
	mo->started = time(NULL);
	if (!FAMILY(info, "shanhai_build_info", METRICS_GAUGE,
	    "The running version (always 1).") ||
	    !FAMILY(start_time, "shanhai_start_time_seconds", METRICS_GAUGE,
	    "When the daemon started (Unix time).") ||
	    !FAMILY(uptime, "shanhai_uptime_seconds", METRICS_GAUGE,
	    "Seconds since the daemon started.") ||
	    !FAMILY(gen_time, "shanhai_config_loaded_timestamp_seconds",
	    METRICS_GAUGE, "When the configuration in force was loaded "
	    "(Unix time).") ||
	    !FAMILY(agr_time, "shanhai_agreement_loaded_timestamp_seconds",
	    METRICS_GAUGE, "When the version in force of each agreement was "
	    "loaded (Unix time), by agreement and file SHA-256.") ||
	    !FAMILY(ledger, "shanhai_ledger_entries", METRICS_GAUGE,
	    "Entries in the ledger: the size of the latest signed "
	    "checkpoint.") ||
	    !FAMILY(periods, "shanhai_periods", METRICS_GAUGE,
	    "Periods with reports, by agreement and status.") ||
	    !FAMILY(w_size, "shanhai_witness_cosigned_size", METRICS_GAUGE,
	    "Size of the latest checkpoint each witness cosigned.") ||
	    !FAMILY(w_errors, "shanhai_witness_errors_total", METRICS_COUNTER,
	    "Failed add-checkpoint requests and bad answers, by witness.") ||
	    !FAMILY(w_ok, "shanhai_witness_last_cosigned_timestamp_seconds",
	    METRICS_GAUGE, "When each witness last cosigned (Unix time; 0: "
	    "never since start).") ||
	    !FAMILY(wd_size, "shanhai_witnessed_checkpoint_size", METRICS_GAUGE,
	    "Size of the witnessed checkpoint (witness_quorum cosignatures; "
	    "0: none yet).") ||
	    !FAMILY(wd_lag, "shanhai_witnessed_lag_entries", METRICS_GAUGE,
	    "Entries the witnessed checkpoint is behind the latest signed.") ||
	    !FAMILY(wd_lag_s, "shanhai_witnessed_lag_seconds", METRICS_GAUGE,
	    "Seconds since the latest signed checkpoint not yet witnessed "
	    "was first sent (0: witnessed).") ||
	    !FAMILY(tiles_size, "shanhai_tiles_published_size", METRICS_GAUGE,
	    "Size published in ledger.tiles_dir.") ||
	    !FAMILY(tiles_errors, "shanhai_tiles_errors_total", METRICS_COUNTER,
	    "Failed publications of the tile mirror.") ||
	    !FAMILY(conns, "shanhai_connections", METRICS_GAUGE,
	    "Open client connections.") ||
	    !FAMILY(inflight, "shanhai_requests_in_flight", METRICS_GAUGE,
	    "Requests received and not yet answered.") ||
	    !FAMILY(requests, "shanhai_http_requests_total", METRICS_COUNTER,
	    "Requests answered, by route, method and status.") ||
	    !HISTOGRAM(latency, "shanhai_http_request_duration_seconds",
	    "Seconds from a whole request to its answer, "
	    "by route, method and status.", latency_bounds) ||
	    !HISTOGRAM(group_reports, "shanhai_commit_group_reports",
	    "Submissions answered per committed group.", group_bounds) ||
	    !HISTOGRAM(group_entries, "shanhai_commit_group_entries",
	    "Ledger entries written per committed group.", group_bounds) ||
	    !HISTOGRAM(write_time, "shanhai_commit_seconds",
	    "Seconds to write a group: entries, hashes, checkpoint and "
	    "commit.", latency_bounds) ||
	    !HISTOGRAM(fsync_time, "shanhai_commit_fsync_seconds",
	    "Seconds of the COMMIT of a group (the fsync "
	    "of the database's write-ahead log).", latency_bounds))
		goto nomem;
	note_loaded(mo, server_get0_gen(s));
	if (http_add_routes(server_get0_http(s), routes, NB(routes), mo) ==
	    -1) {
		snprintf(err, errlen, "GET /metrics is already taken");
		goto fail;
	}
	/* Nothing can fail from here on: the observers need mo to live. */
	if ((mo->journal = ingest_get0_journal(s)) != NULL)
		journal_set_observer(mo->journal, on_commit, mo);
	http_set_observer(server_get0_http(s), on_answer, mo);
	*statep = mo;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	/* A module whose start failed is not freed by the server. */
	monitor_free(s, mo);
	return -1;
}

static int
monitor_reload_commit(struct server *s, void *state,
    const struct server_gen *next, char *err, size_t errlen)
{
	note_loaded(state, next);
	return 0;
}

const struct server_module monitor_module = {
	.name = "monitor",
	.start = monitor_start,
	.reload_commit = monitor_reload_commit,
	.free = monitor_free,
};
