/*
 * shanhai status: the operator's view of a running shanhaid. It reads
 * GET /metrics (operator certificate) and GET /v1/ledger/checkpoint over
 * the HTTPS API, and prints them for a person, or as one JSON object.
 * Over the API rather than a local socket: it works from wherever the
 * operator is, through the same TLS and roles as everything else, and
 * /metrics is what a Prometheus server scrapes, so both read one truth.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "shanhai/client.h"
#include "shanhai/cmd.h"
#include "shanhai/cmdopt.h"

#define USAGE	"usage: shanhai status --url URL --cert C --key K " \
		"--cacert CA [--format text|json]\n"

/* One sample of the exposition: name{labels} value. */
struct sample {
	char	*name;
	char	*labels;	/* between the braces, "" for none */
	double	 value;
};

struct samples {
	struct sample	*v;
	size_t		 n;
};

static void
samples_free(struct samples *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		free(ss->v[i].name);
		free(ss->v[i].labels);
	}
	free(ss->v);
}

/* Parses the text format's sample lines; -1 on a line it cannot read. */
static int
samples_parse(struct samples *ss, char *text)
{
	char *line, *next, *p, *end;
	int inq;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		struct sample s = { NULL, NULL, 0 }, *all;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		p = line + strcspn(line, "{ ");
		if (*p == '{') {
			/* The closing brace outside any quoted value. */
			for (end = p + 1, inq = 0; *end != '\0'; end++) {
				if (inq && *end == '\\' && end[1] != '\0')
					end++;
				else if (*end == '"')
					inq = !inq;
				else if (!inq && *end == '}')
					break;
			}
			if (*end != '}')
				return -1;
			s.labels = strndup(p + 1, (size_t)(end - p - 1));
			p = end + 1;
		} else
			s.labels = strdup("");
		s.name = strndup(line, (size_t)(strcspn(line, "{ ")));
		errno = 0;
		s.value = strtod(p, &end);
		if (s.name == NULL || s.labels == NULL || end == p ||
		    errno != 0 ||
		    (all = realloc(ss->v, (ss->n + 1) * sizeof(*all))) == NULL) {
			free(s.name);
			free(s.labels);
			return -1;
		}
		ss->v = all;
		ss->v[ss->n++] = s;
	}
	return 0;
}

/* The value of label key in a label set, unescaped, into buf; -1 if none. */
static int
label(const char *labels, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key), n = 0;
	const char *p = labels;

	while (*p != '\0') {
		int hit = strncmp(p, key, kl) == 0 && p[kl] == '=' &&
		    p[kl + 1] == '"';

		p = strchr(p, '"');
		if (p == NULL)
			return -1;
		for (p++; *p != '\0' && *p != '"'; p++) {
			char c = *p;

			if (c == '\\' && p[1] != '\0')
				c = *++p == 'n' ? '\n' : *p;
			if (hit && n + 1 < len)
				buf[n++] = c;
		}
		if (hit) {
			buf[n] = '\0';
			return 0;
		}
		if (*p == '"')
			p++;
		if (*p == ',')
			p++;
	}
	return -1;
}

/* The first sample of name (whatever its labels); def when there is none. */
static double
value(const struct samples *ss, const char *name, double def)
{
	for (size_t i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].name, name) == 0)
			return ss->v[i].value;
	return def;
}

/* Sum of the samples of name whose label key equals val (key NULL: all). */
static double
sum(const struct samples *ss, const char *name, const char *key,
    const char *val)
{
	char buf[256];
	double t = 0;

	for (size_t i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].name, name) == 0 && (key == NULL ||
		    (label(ss->v[i].labels, key, buf, sizeof(buf)) == 0 &&
		    strcmp(buf, val) == 0)))
			t += ss->v[i].value;
	return t;
}

static const char *
utc(double t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

static const char *
duration(double s, char *buf, size_t len)
{
	long t = (long)s;

	if (t >= 86400)
		snprintf(buf, len, "%ldd %02ldh %02ldm", t / 86400,
		    t % 86400 / 3600, t % 3600 / 60);
	else if (t >= 3600)
		snprintf(buf, len, "%ldh %02ldm %02lds", t / 3600,
		    t % 3600 / 60, t % 60);
	else
		snprintf(buf, len, "%ldm %02lds", t / 60, t % 60);
	return buf;
}

/* The checkpoint's three body lines: origin, size, root. */
struct checkpoint {
	char	origin[256];
	char	size[32];
	char	root[64];
};

static void
checkpoint_parse(const char *note, struct checkpoint *cp)
{
	memset(cp, 0, sizeof(*cp));
	sscanf(note, "%255[^\n]\n%31[^\n]\n%63[^\n]", cp->origin, cp->size,
	    cp->root);
}

/* Distinct values of label key among the samples of name, in order. */
static size_t
distinct(const struct samples *ss, const char *name, const char *key,
    char (*out)[256], size_t max)
{
	size_t n = 0;
	char buf[256];

	for (size_t i = 0; i < ss->n; i++) {
		size_t k;

		if (strcmp(ss->v[i].name, name) != 0 ||
		    label(ss->v[i].labels, key, buf, sizeof(buf)) != 0)
			continue;
		for (k = 0; k < n && strcmp(out[k], buf) != 0; k++)
			;
		if (k == n && n < max)
			snprintf(out[n++], sizeof(out[0]), "%s", buf);
	}
	return n;
}

#define MAX_ROWS	256

/* The noun for a count n: one, or many. */
static const char *
noun(double n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The value of name{label="v"}, or def. */
static double
labelled(const struct samples *ss, const char *name, const char *key,
    const char *v, double def)
{
	char buf[256];

	for (size_t i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].name, name) == 0 &&
		    label(ss->v[i].labels, key, buf, sizeof(buf)) == 0 &&
		    strcmp(buf, v) == 0)
			return ss->v[i].value;
	return def;
}

/* Witnesses and the tile mirror (SPEC 6.5, 6.6), when the daemon has them. */
static void
print_witnesses(const struct samples *ss, char (*rows)[256])
{
	char t1[64];
	size_t n = distinct(ss, "shanhai_witness_cosigned_size", "witness",
	    rows, MAX_ROWS);

	if (n > 0) {
		printf("\nwitnesses: %zu; witnessed checkpoint: size %.0f, "
		    "%.0f entries and %.0f s behind the latest\n", n,
		    value(ss, "shanhai_witnessed_checkpoint_size", 0),
		    value(ss, "shanhai_witnessed_lag_entries", 0),
		    value(ss, "shanhai_witnessed_lag_seconds", 0));
		printf("  %-32s %12s %8s  %s\n", "witness", "cosigned",
		    "errors", "last cosigned");
		for (size_t i = 0; i < n; i++) {
			double at = labelled(ss, "shanhai_witness_last_cosigned"
			    "_timestamp_seconds", "witness", rows[i], 0);
			printf("  %-32s %12.0f %8.0f  %s\n", rows[i],
			    labelled(ss, "shanhai_witness_cosigned_size",
			    "witness", rows[i], 0), labelled(ss,
			    "shanhai_witness_errors_total", "witness", rows[i],
			    0), at > 0 ? utc(at, t1, sizeof(t1)) : "never");
		}
	}
	if (value(ss, "shanhai_tiles_published_size", -1) >= 0)
		printf("\ntile mirror: size %.0f published, %.0f failed "
		    "publications\n", value(ss, "shanhai_tiles_published_size",
		    0), value(ss, "shanhai_tiles_errors_total", 0));
}

static void
print_text(const struct samples *ss, const struct checkpoint *cp,
    const char *url)
{
	static const char *const sts[] = { "waiting", "settled", "disputed" };
	char (*rows)[256] = calloc(MAX_ROWS, sizeof(*rows));
	char version[64] = "?", t1[64], t2[64], sha[256];
	size_t n;

	if (rows == NULL)
		return;
	for (size_t i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].name, "shanhai_build_info") == 0)
			label(ss->v[i].labels, "version", version,
			    sizeof(version));
	printf("shanhaid %s at %s\n", version, url);
	printf("  up %s, since %s\n", duration(value(ss,
	    "shanhai_uptime_seconds", 0), t1, sizeof(t1)),
	    utc(value(ss, "shanhai_start_time_seconds", 0), t2, sizeof(t2)));
	printf("  configuration loaded %s\n", utc(value(ss,
	    "shanhai_config_loaded_timestamp_seconds", 0), t1, sizeof(t1)));
	printf("  ledger: %.0f %s; latest checkpoint: %s, size %s, "
	    "root %s\n", value(ss, "shanhai_ledger_entries", 0),
	    noun(value(ss, "shanhai_ledger_entries", 0), "entry", "entries"),
	    cp->origin, cp->size, cp->root);
	printf("  connections: %.0f open; requests in flight: %.0f\n",
	    value(ss, "shanhai_connections", 0),
	    value(ss, "shanhai_requests_in_flight", 0));

	n = distinct(ss, "shanhai_agreement_loaded_timestamp_seconds",
	    "agreement", rows, MAX_ROWS);
	printf("\nagreements in force: %zu\n", n);
	printf("  %-24s %-24s %-12s %8s %8s %8s\n", "agreement", "loaded",
	    "sha256", sts[0], sts[1], sts[2]);
	for (size_t i = 0; i < n; i++) {
		double at = sum(ss, "shanhai_agreement_loaded_timestamp_seconds",
		    "agreement", rows[i]);

		sha[0] = '\0';
		for (size_t k = 0; k < ss->n; k++)
			if (strcmp(ss->v[k].name,
			    "shanhai_agreement_loaded_timestamp_seconds") == 0 &&
			    label(ss->v[k].labels, "agreement", t2,
			    sizeof(t2)) == 0 && strcmp(t2, rows[i]) == 0)
				label(ss->v[k].labels, "sha256", sha,
				    sizeof(sha));
		printf("  %-24s %-24s %-12.12s", rows[i], utc(at, t1,
		    sizeof(t1)), sha);
		for (int k = 0; k < 3; k++) {
			double c = 0;

			for (size_t m = 0; m < ss->n; m++)
				if (strcmp(ss->v[m].name, "shanhai_periods") ==
				    0 && label(ss->v[m].labels, "agreement",
				    t2, sizeof(t2)) == 0 &&
				    strcmp(t2, rows[i]) == 0 &&
				    label(ss->v[m].labels, "status", sha,
				    sizeof(sha)) == 0 && strcmp(sha, sts[k]) == 0)
					c += ss->v[m].value;
			printf(" %8.0f", c);
		}
		printf("\n");
	}

	n = distinct(ss, "shanhai_http_requests_total", "route", rows,
	    MAX_ROWS);
	printf("\nrequests answered: %.0f\n", sum(ss,
	    "shanhai_http_requests_total", NULL, NULL));
	printf("  %-40s %8s %8s %8s %8s %10s\n", "route", "2xx", "4xx",
	    "5xx", "total", "mean ms");
	for (size_t i = 0; i < n; i++) {
		double c[3] = { 0, 0, 0 }, tot, secs;

		for (size_t k = 0; k < ss->n; k++) {
			if (strcmp(ss->v[k].name,
			    "shanhai_http_requests_total") != 0 ||
			    label(ss->v[k].labels, "route", t2,
			    sizeof(t2)) != 0 || strcmp(t2, rows[i]) != 0 ||
			    label(ss->v[k].labels, "status", t1,
			    sizeof(t1)) != 0)
				continue;
			if (t1[0] >= '2' && t1[0] <= '5' && t1[0] != '3')
				c[t1[0] == '2' ? 0 : t1[0] == '4' ? 1 : 2] +=
				    ss->v[k].value;
		}
		tot = sum(ss, "shanhai_http_requests_total", "route", rows[i]);
		secs = sum(ss, "shanhai_http_request_duration_seconds_sum",
		    "route", rows[i]);
		printf("  %-40s %8.0f %8.0f %8.0f %8.0f %10.2f\n", rows[i],
		    c[0], c[1], c[2], tot, tot > 0 ? secs / tot * 1e3 : 0);
	}

	{
		double groups = value(ss, "shanhai_commit_group_reports_count",
		    0);
		double reports = value(ss, "shanhai_commit_group_reports_sum",
		    0);
		double fsync = value(ss, "shanhai_commit_fsync_seconds_sum", 0);
		double write = value(ss, "shanhai_commit_seconds_sum", 0);

		double entries = value(ss, "shanhai_commit_group_entries_sum",
		    0);

		printf("\ncommits: %.0f %s, %.0f %s, %.0f %s", groups,
		    noun(groups, "group", "groups"), reports,
		    noun(reports, "submission", "submissions"), entries,
		    noun(entries, "entry", "entries"));
		if (groups > 0)
			printf("; %.1f submissions a group; mean write %.2f "
			    "ms, of which fsync %.2f ms", reports / groups,
			    write / groups * 1e3, fsync / groups * 1e3);
		printf("\n");
	}
	print_witnesses(ss, rows);
	free(rows);
}

/* The same figures as one JSON object. */
static int
print_json(const struct samples *ss, const struct checkpoint *cp)
{
	json_t *doc = json_object(), *list = json_array();
	char (*rows)[256] = calloc(MAX_ROWS, sizeof(*rows));
	char version[64] = "", sha[256], buf[256];
	size_t n;
	int rc = -1;

	if (doc == NULL || list == NULL || rows == NULL)
		goto done;
	for (size_t i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].name, "shanhai_build_info") == 0)
			label(ss->v[i].labels, "version", version,
			    sizeof(version));
	n = distinct(ss, "shanhai_agreement_loaded_timestamp_seconds",
	    "agreement", rows, MAX_ROWS);
	for (size_t i = 0; i < n; i++) {
		json_t *periods = json_object(), *a;

		sha[0] = '\0';
		for (size_t k = 0; k < ss->n; k++) {
			if (label(ss->v[k].labels, "agreement", buf,
			    sizeof(buf)) != 0 || strcmp(buf, rows[i]) != 0)
				continue;
			if (strcmp(ss->v[k].name, "shanhai_periods") == 0 &&
			    label(ss->v[k].labels, "status", buf,
			    sizeof(buf)) == 0)
				json_object_set_new(periods, buf,
				    json_integer((json_int_t)ss->v[k].value));
			else if (strcmp(ss->v[k].name,
			    "shanhai_agreement_loaded_timestamp_seconds") == 0)
				label(ss->v[k].labels, "sha256", sha,
				    sizeof(sha));
		}
		a = json_pack("{s:s, s:I, s:s, s:o}", "id", rows[i],
		    "loaded", (json_int_t)sum(ss,
		    "shanhai_agreement_loaded_timestamp_seconds", "agreement",
		    rows[i]), "sha256", sha, "periods", periods);
		if (a == NULL || json_array_append_new(list, a) != 0)
			goto done;
	}
	json_object_set_new(doc, "version", json_string(version));
	json_object_set_new(doc, "started", json_integer((json_int_t)value(ss,
	    "shanhai_start_time_seconds", 0)));
	json_object_set_new(doc, "uptime_seconds", json_integer(
	    (json_int_t)value(ss, "shanhai_uptime_seconds", 0)));
	json_object_set_new(doc, "ledger_entries", json_integer(
	    (json_int_t)value(ss, "shanhai_ledger_entries", 0)));
	/* Sizes are numbers; null when no checkpoint came. */
	json_object_set_new(doc, "checkpoint", json_pack("{s:s, s:o, s:s}",
	    "origin", cp->origin, "size", cp->size[0] >= '0' &&
	    cp->size[0] <= '9' ? json_integer((json_int_t)strtoll(cp->size,
	    NULL, 10)) : json_null(), "root", cp->root));
	json_object_set_new(doc, "connections", json_integer(
	    (json_int_t)value(ss, "shanhai_connections", 0)));
	json_object_set_new(doc, "requests", json_integer((json_int_t)sum(ss,
	    "shanhai_http_requests_total", NULL, NULL)));
	json_object_set_new(doc, "commit_groups", json_integer(
	    (json_int_t)value(ss, "shanhai_commit_group_reports_count", 0)));
	json_object_set(doc, "agreements", list);
	n = distinct(ss, "shanhai_witness_cosigned_size", "witness", rows,
	    MAX_ROWS);
	if (n > 0) {
		json_t *ws = json_array();

		for (size_t i = 0; ws != NULL && i < n; i++)
			json_array_append_new(ws, json_pack("{s:s, s:I, s:I, "
			    "s:I}", "name", rows[i], "cosigned", (json_int_t)
			    labelled(ss, "shanhai_witness_cosigned_size",
			    "witness", rows[i], 0), "errors", (json_int_t)
			    labelled(ss, "shanhai_witness_errors_total",
			    "witness", rows[i], 0), "last_cosigned",
			    (json_int_t)labelled(ss, "shanhai_witness_last_"
			    "cosigned_timestamp_seconds", "witness", rows[i],
			    0)));
		json_object_set_new(doc, "witnesses", ws);
		json_object_set_new(doc, "witnessed", json_pack("{s:I, s:I, "
		    "s:f}", "size", (json_int_t)value(ss,
		    "shanhai_witnessed_checkpoint_size", 0), "lag_entries",
		    (json_int_t)value(ss, "shanhai_witnessed_lag_entries", 0),
		    "lag_seconds", value(ss, "shanhai_witnessed_lag_seconds",
		    0)));
	}
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ==
	    0) {
		putchar('\n');
		rc = 0;
	}
done:
	free(rows);
	json_decref(list);
	json_decref(doc);
	return rc;
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		CMDOPT_TLS,
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopt_tls t = { 0 };
	struct client_resp mresp = { 0 }, cresp = { 0 };
	struct samples ss = { NULL, 0 };
	struct checkpoint cp;
	struct client *c = NULL;
	char err[512];
	int ch, json = 0, rc = CMD_USAGE;

	optind = 1;
	while ((ch = cmdopt_next("status", argc, argv, opts, &t)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "text") != 0) {
				fputs(USAGE, stderr);
				return CMD_USAGE;
			}
			break;
		default:
			fputs(USAGE, stderr);
			return CMD_USAGE;
		}
	}
	if (cmdopt_tls_check(&t, "status") == -1 || optind != argc) {
		fputs(USAGE, stderr);
		return CMD_USAGE;
	}
	if ((c = cmdopt_tls_client(&t, "status")) == NULL)
		return CMD_USAGE;
	if (client_get(c, "/metrics", &mresp, err, sizeof(err)) != 0) {
		rc = cmd_http_exit(mresp.status);
		goto fail;
	}
	/* The checkpoint is optional: a new ledger may not have one yet. */
	if (client_get(c, "/v1/ledger/checkpoint", &cresp, err,
	    sizeof(err)) == 0)
		checkpoint_parse(cresp.body, &cp);
	else {
		memset(&cp, 0, sizeof(cp));
		snprintf(cp.origin, sizeof(cp.origin), "none (%.200s)", err);
	}
	if (samples_parse(&ss, mresp.body) != 0) {
		snprintf(err, sizeof(err), "GET /metrics: not the Prometheus "
		    "text format");
		goto fail;
	}
	if (json ? print_json(&ss, &cp) : (print_text(&ss, &cp, t.url), 0)) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (fflush(stdout) == 0 && !ferror(stdout))
		rc = CMD_OK;
	else if (errno != EPIPE)
		fprintf(stderr, "shanhai status: stdout: %s\n",
		    strerror(errno));
	else
		rc = CMD_OK;	/* the reader had what it wanted (| head) */
	goto done;
fail:
	fprintf(stderr, "shanhai status: %s\n", err);
done:
	samples_free(&ss);
	client_resp_free(&mresp);
	client_resp_free(&cresp);
	client_free(c);
	return rc;
}
