/*
 * ingest: the journal behind the HTTPS front (see ingest.h). Thin: request
 * parsing and answers here, the work in journal.c.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "shanhai/api.h"
#include "shanhai/config.h"
#include "shanhai/document.h"
#include "shanhai/http.h"
#include "shanhai/ingest.h"
#include "shanhai/journal.h"
#include "shanhai/log.h"
#include "shanhai/note.h"
#include "shanhai/offload.h"
#include "shanhai/rules.h"
#include "shanhai/server.h"
#include "shanhai/settle.h"
#include "shanhai/textbuf.h"
#include "shanhai/tiles.h"

/* How long a client should wait after a 503 before it tries again. */
#define RETRY_AFTER	"1"
#define MAX_SIDES	64

struct ingest {
	struct server		*srv;
	struct journal		*journal;
	/* A reload's ledger keys: loaded and checked by reload_check. */
	struct note_signer	*staged_key;
	struct note_signer	*staged_next;
};

/* The agreements of generation g as an array (malloc'd; NULL when none). */
static const struct rules **
gen_rules(const struct server_gen *g, size_t *n)
{
	const struct rules **list;

	*n = server_gen_rules_count(g);
	if (*n == 0 || (list = calloc(*n, sizeof(*list))) == NULL) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		list[i] = server_gen_rules(g, i);
	return list;
}

enum rules_mode {
	RULES_CHECK,	/* would they be accepted? */
	RULES_STRICT,	/* all or nothing (reload) */
	RULES_LENIENT,	/* what can be, the rest kept as in the ledger (start) */
};

/* Hands generation g's agreements to the journal. */
static int
gen_to_journal(struct ingest *in, const struct server_gen *g,
    enum rules_mode mode, char *err, size_t errlen)
{
	const struct rules **list;
	size_t n;
	int rc;

	list = gen_rules(g, &n);
	if (mode == RULES_CHECK)
		rc = journal_rules_check(in->journal, list, n, err, errlen);
	else
		rc = journal_rules_apply(in->journal, list, n,
		    mode == RULES_STRICT, err, errlen);
	free(list);
	return rc;
}

/* "application/json", optionally with parameters ("; charset=utf-8"). */
static int
is_json(const char *ctype)
{
	size_t n = strlen("application/json");

	if (ctype == NULL || strncasecmp(ctype, "application/json", n) != 0)
		return 0;
	ctype += n;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return *ctype == '\0' || *ctype == ';';
}

static void
problem_503(struct http_req *r, const char *why, size_t len)
{
	http_req_add_header(r, "Retry-After", RETRY_AFTER);
	http_problem(r, 503, NULL, "%.*s", (int)len, why);
}

void
ingest_unavailable(struct http_req *r)
{
	static const char why[] = "the ledger is unavailable: its store is "
	    "being restored, or the daemon stops";

	problem_503(r, why, sizeof(why) - 1);
}

/* A report in flight: where its answer goes. */
struct submission {
	struct ingest	*in;
	struct http_req	*r;
	char		*receipt;	/* a resubmission's, kept for a moment */
	size_t		 len;
	char		*agreement;
	char		*period;
};

static void
submission_free(struct submission *sub)
{
	if (sub == NULL)
		return;
	free(sub->receipt);
	free(sub->agreement);
	free(sub->period);
	free(sub);
}

static void
reply_receipt(struct http_req *r, int status, const char *text, size_t len)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL || evbuffer_add(b, text, len) < 0 ||
	    evbuffer_add(b, "\n", 1) < 0) {
		if (b != NULL)
			evbuffer_free(b);
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	http_reply(r, status, "application/json", b);
	evbuffer_free(b);
}

/*
 * An identical resubmission: the first receipt, byte for byte (its
 * "status" is the period's after the first submission), and beside it the
 * header Shanhai-Current-Status, the period's status now, once what
 * concerns the period is committed (as GET .../periods/{period} says).
 */
static void
resubmission_ready(struct journal *j, void *arg, int ok)
{
	struct submission *sub = arg;
	const char *status = NULL;
	json_t *doc = NULL;
	char err[256];

	if (ok && journal_period(j, sub->agreement, sub->period, &doc, err,
	    sizeof(err)) == 0)
		status = json_string_value(json_object_get(doc, "status"));
	if (status != NULL)
		http_req_add_header(sub->r, "Shanhai-Current-Status", status);
	else
		http_req_log(sub->r, LOG_LVL_WARNING, "resubmission: the "
		    "period's current status is not known: %s", ok ? err :
		    "the ledger is unavailable");
	reply_receipt(sub->r, 200, sub->receipt, sub->len);
	json_decref(doc);
	submission_free(sub);
}

/* The journal's answer, once the report is durable. */
static void
report_done(void *arg, int status, const char *text, size_t len)
{
	struct submission *sub = arg;
	struct http_req *r = sub->r;
	const char *body, *a, *p;
	json_t *rep = NULL;
	size_t blen;

	if (status == 503) {
		problem_503(r, text, len);
		goto done;
	}
	if (status >= 400) {
		http_problem(r, status, NULL, "%.*s", (int)len, text);
		goto done;
	}
	if (status != 200)
		goto plain;
	/* The body was taken as identical to a report in the ledger. */
	body = http_req_body(r, &blen);
	if ((rep = json_loadb(body, blen, 0, NULL)) == NULL ||
	    (a = json_string_value(json_object_get(rep, "agreement"))) ==
	    NULL ||
	    (p = json_string_value(json_object_get(rep, "period"))) == NULL ||
	    (sub->agreement = strdup(a)) == NULL ||
	    (sub->period = strdup(p)) == NULL ||
	    (sub->receipt = malloc(len + 1)) == NULL)
		goto plain;
	json_decref(rep);
	memcpy(sub->receipt, text, len);
	sub->len = len;
	journal_when_committed(sub->in->journal, sub->agreement, sub->period,
	    resubmission_ready, sub);
	return;
plain:
	json_decref(rep);
	reply_receipt(r, status, text, len);
done:
	submission_free(sub);
}

static void
post_report(struct http_req *r, void *arg)
{
	struct ingest *in = arg;
	const struct config_client *cl = http_req_client(r);
	const char *sides[MAX_SIDES], *body;
	struct submission *sub;
	size_t nsides = 0, len;
	char err[1024];
	int rc;

	if (!is_json(http_req_header(r, "Content-Type"))) {
		http_problem(r, 415, "Content-Type", "must be application/json");
		return;
	}
	if ((body = http_req_body(r, &len)) == NULL) {
		static const char why[] = "body: out of memory reading it;"
		    " send it again";

		problem_503(r, why, sizeof(why) - 1);
		return;
	}
	if (len > SETTLE_REPORT_MAX) {
		http_problem(r, 413, "body", "%zu bytes, more than a report's"
		    " %d", len, SETTLE_REPORT_MAX);
		return;
	}
	if (len > TILES_MAX_REPORT && config_get0_ledger_tiles_dir(
	    server_gen_config(http_req_gen(r))) != NULL) {
		http_problem(r, 413, "body", "%zu bytes: with ledger.tiles_dir "
		    "set, a report's ledger entry must fit a tlog-tiles entry "
		    "bundle (%d bytes), so a report has at most %d bytes", len,
		    TILES_MAX_ENTRY, TILES_MAX_REPORT);
		return;
	}
	if ((sub = calloc(1, sizeof(*sub))) == NULL) {
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	sub->in = in;
	sub->r = r;
	for (size_t i = 0; cl != NULL && i < config_client_code_count(cl) &&
	    nsides < MAX_SIDES; i++)
		sides[nsides++] = config_client_get0_code(cl, i);
	rc = journal_submit(in->journal, body, len, sides, nsides,
	    http_req_fingerprint(r), report_done, sub, err, sizeof(err));
	if (rc == 0)
		return;
	submission_free(sub);
	if (rc == 503)
		problem_503(r, err, strlen(err));
	else
		http_problem(r, rc, NULL, "%s", err);
}

/*
 * Reads query parameter name as a decimal uint64_t. 0, or -1 after
 * answering 400.
 */
static int
query_u64(struct http_req *r, const char *name, uint64_t *out)
{
	const char *v = http_req_query(r, name);
	char *end;

	if (v == NULL) {
		http_problem(r, 400, name, "required");
		return -1;
	}
	errno = 0;
	if (!isdigit((unsigned char)v[0]) || (v[0] == '0' && v[1] != '\0') ||
	    (*out = strtoull(v, &end, 10), errno != 0) || *end != '\0') {
		http_problem(r, 400, name, "not a decimal number");
		return -1;
	}
	return 0;
}

static void
get_checkpoint(struct http_req *r, void *arg)
{
	struct ingest *in = arg;
	struct evbuffer *b;
	char *note, err[512];
	int rc;

	if ((rc = journal_checkpoint(in->journal, &note, err,
	    sizeof(err))) != 0) {
		http_problem(r, rc, NULL, "%s", err);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		free(note);
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	evbuffer_add(b, note, strlen(note));
	free(note);
	http_req_add_header(r, "Cache-Control", "no-cache");
	http_reply(r, 200, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static void
get_entries(struct http_req *r, void *arg)
{
	struct ingest *in = arg;
	struct evbuffer *b;
	uint64_t start, end;
	char err[512];
	int rc;

	if (query_u64(r, "start", &start) < 0 || query_u64(r, "end", &end) < 0)
		return;
	if ((b = evbuffer_new()) == NULL) {
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	if ((rc = journal_entries(in->journal, start, end, b, err,
	    sizeof(err))) != 0)
		http_problem(r, rc, NULL, "%s", err);
	else
		http_reply(r, 200, "application/jsonl", b);
	evbuffer_free(b);
}

/* Answers a journal read that gives JSON. */
static void
reply_json(struct http_req *r, int rc, json_t *doc, const char *err)
{
	if (rc != 0) {
		http_problem(r, rc, NULL, "%s", err);
		return;
	}
	http_reply_json(r, 200, doc);
	json_decref(doc);
}

typedef int proof_fn(struct journal *, uint64_t, uint64_t, json_t **, char *,
    size_t);

/* A proof route: two decimal query parameters a and b, then fn. */
static void
get_proof(struct http_req *r, struct ingest *in, const char *a,
    const char *b, proof_fn *fn)
{
	uint64_t va, vb;
	json_t *doc = NULL;
	char err[512];
	int rc;

	if (query_u64(r, a, &va) < 0 || query_u64(r, b, &vb) < 0)
		return;
	rc = fn(in->journal, va, vb, &doc, err, sizeof(err));
	reply_json(r, rc, doc, err);
}

static void
get_inclusion(struct http_req *r, void *arg)
{
	get_proof(r, arg, "index", "size", journal_inclusion);
}

static void
get_consistency(struct http_req *r, void *arg)
{
	get_proof(r, arg, "from", "to", journal_consistency);
}

/* The period once all that concerns it is committed (see journal.h). */
static void
period_ready(struct journal *j, void *arg, int ok)
{
	struct http_req *r = arg;
	json_t *doc = NULL;
	char err[512];
	int rc;

	if (!ok) {
		ingest_unavailable(r);
		return;
	}
	rc = journal_period(j, http_req_param(r, "id"),
	    http_req_param(r, "period"), &doc, err, sizeof(err));
	reply_json(r, rc, doc, err);
}

/*
 * 0 when the client may see agreement {id}; otherwise answers 404, as if
 * it did not exist (a bureau of neither side, SPEC §7), and returns -1.
 */
static int
agreement_visible(struct http_req *r)
{
	const char *id = http_req_param(r, "id");
	const struct rules *a = server_gen_rules_find(http_req_gen(r), id);

	if (a != NULL && !api_client_sees(http_req_client(r), a)) {
		http_problem(r, 404, "agreement", "\"%.64s\" is not a loaded "
		    "agreement", id);
		return -1;
	}
	return 0;
}

static void
get_period(struct http_req *r, void *arg)
{
	struct ingest *in = arg;

	if (agreement_visible(r) < 0)
		return;
	journal_when_committed(in->journal, http_req_param(r, "id"),
	    http_req_param(r, "period"), period_ready, r);
}

/*
 * Which document a statement request asks for: ?format= (for links a
 * browser follows), else the Accept header; 0 with *fmt set, 1 for the
 * endpoint's own JSON answer, -1 after answering 400 or 406.
 */
static int
statement_format(struct http_req *r, enum document_format *fmt,
    enum document_lang *lang)
{
	static const struct {
		const char		*type;
		enum document_format	 fmt;
	} types[] = {
		{ "application/pdf", DOCUMENT_PDF },
		{ "application/vnd.openxmlformats-officedocument.spreadsheetml."
		  "sheet", DOCUMENT_XLSX },
		{ "text/csv", DOCUMENT_CSV },
		{ "text/plain", DOCUMENT_TABLE },
	};
	const char *q = http_req_query(r, "format"), *l = http_req_query(r,
	    "lang"), *accept = http_req_header(r, "Accept");

	*lang = DOCUMENT_ZH;
	if (l != NULL && document_lang_parse(l, lang) != 0) {
		http_problem(r, 400, "lang", "\"%.16s\" is not zh or en", l);
		return -1;
	}
	if (q != NULL) {
		if (document_format_parse(q, fmt) != 0) {
			http_problem(r, 400, "format", "\"%.16s\" is not pdf, "
			    "xlsx, csv, table or json", q);
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; accept != NULL && i < sizeof(types) /
	    sizeof(types[0]); i++)
		if (strstr(accept, types[i].type) != NULL) {
			*fmt = types[i].fmt;
			return 0;
		}
	if (accept == NULL || strstr(accept, "json") != NULL ||
	    strstr(accept, "*/*") != NULL)
		return 1;
	http_problem(r, 406, "Accept", "the statement is served as "
	    "application/json, application/pdf, %s, text/csv or text/plain",
	    types[1].type);
	return -1;
}

/* A document being rendered off the loop (offload.h). */
struct docjob {
	struct http_req		*r;
	json_t			*model;		/* the worker's alone */
	enum document_format	 fmt;
	enum document_lang	 lang;
	struct textbuf		 out;
	int			 rc;
	char			 err[512];
	char			 disp[160];
};

static void
docjob_render(void *arg)
{
	struct docjob *d = arg;

	d->rc = document_render(d->model, d->fmt, d->lang, &d->out, d->err,
	    sizeof(d->err));
}

/* Back on the loop: the document, or why not. */
static void
docjob_reply(void *arg)
{
	struct docjob *d = arg;
	struct evbuffer *b = NULL;

	if (d->rc != 0 || (b = evbuffer_new()) == NULL ||
	    evbuffer_add(b, d->out.p, d->out.len) != 0)
		http_problem(d->r, 500, NULL, "%s", d->rc != 0 ? d->err :
		    "out of memory");
	else {
		http_req_add_header(d->r, "Content-Disposition", d->disp);
		http_reply(d->r, 200, d->fmt == DOCUMENT_TABLE ?
		    "text/plain; charset=utf-8" : d->fmt == DOCUMENT_CSV ?
		    "text/csv; charset=utf-8" : document_media_type(d->fmt), b);
	}
	if (b != NULL)
		evbuffer_free(b);
	textbuf_release(&d->out);
	json_decref(d->model);
	free(d);
}

/*
 * The year's document (a 409 while incomplete): the model is built on the
 * loop, from the engine, and drawn on a thread of its own (a PDF takes tens
 * of milliseconds), or here when no thread can be had.
 */
static void
reply_document(struct http_req *r, struct journal *j, enum document_format fmt,
    enum document_lang lang)
{
	static const char *const ext[] = { [DOCUMENT_PDF] = "pdf",
	    [DOCUMENT_XLSX] = "xlsx", [DOCUMENT_CSV] = "csv",
	    [DOCUMENT_TABLE] = "txt", [DOCUMENT_JSON] = "json" };
	const char *id = http_req_param(r, "id"), *year = http_req_param(r,
	    "year");
	struct docjob *d;
	char err[512];
	int rc;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	if ((rc = journal_year_model(j, id, year, &d->model, err,
	    sizeof(err))) != 0) {
		free(d);
		http_problem(r, rc, NULL, "%s", err);
		return;
	}
	if (json_is_null(json_object_get(d->model, "statement"))) {
		json_decref(d->model);
		free(d);
		http_problem(r, 409, "year", "%s %s is incomplete: not every "
		    "period of the year has settled, so there is no statement "
		    "to render yet", id, year);
		return;
	}
	d->r = r;
	d->fmt = fmt;
	d->lang = lang;
	snprintf(d->disp, sizeof(d->disp), "%s; filename=\"%s-%s%s.%s\"",
	    fmt == DOCUMENT_TABLE || fmt == DOCUMENT_JSON ? "inline" :
	    "attachment", id, year, lang == DOCUMENT_EN ? "-en" : "",
	    ext[fmt]);
	if (offload_run(journal_get0_base(j), docjob_render, docjob_reply,
	    d) != 0) {
		docjob_render(d);
		docjob_reply(d);
	}
}

/* The year's statement once every entry queued before the read is on disk. */
static void
year_ready(struct journal *j, void *arg, int ok)
{
	struct http_req *r = arg;
	enum document_format fmt;
	enum document_lang lang;
	json_t *doc = NULL;
	char err[512];
	int rc;

	if (!ok) {
		ingest_unavailable(r);
		return;
	}
	if ((rc = statement_format(r, &fmt, &lang)) < 0)
		return;
	if (rc == 0) {
		reply_document(r, j, fmt, lang);
		return;
	}
	rc = journal_year(j, http_req_param(r, "id"), http_req_param(r, "year"),
	    &doc, err, sizeof(err));
	reply_json(r, rc, doc, err);
}

static void
get_statement(struct http_req *r, void *arg)
{
	struct ingest *in = arg;

	if (agreement_visible(r) < 0)
		return;
	journal_when_committed(in->journal, http_req_param(r, "id"), NULL,
	    year_ready, r);
}

/* The journal's answer to an approval, once it is durable (or a repeat). */
static void
approval_done(void *arg, int status, const char *text, size_t len)
{
	struct http_req *r = arg;

	if (status == 503)
		problem_503(r, text, len);
	else if (status >= 400)
		http_problem(r, status, NULL, "%.*s", (int)len, text);
	else
		reply_receipt(r, status, text, len);
}

static void
post_approval(struct http_req *r, void *arg)
{
	struct ingest *in = arg;
	const struct config_client *cl = http_req_client(r);
	const char *sides[MAX_SIDES], *body;
	size_t nsides = 0, len;
	char err[1024];
	int rc;

	if (agreement_visible(r) < 0)
		return;
	if (!is_json(http_req_header(r, "Content-Type"))) {
		http_problem(r, 415, "Content-Type", "must be application/json");
		return;
	}
	if ((body = http_req_body(r, &len)) == NULL) {
		http_problem(r, 400, "body", "cannot be read");
		return;
	}
	if (len > 4096) {
		http_problem(r, 413, "body", "%zu bytes, more than an "
		    "approval's 4096", len);
		return;
	}
	for (size_t i = 0; cl != NULL && i < config_client_code_count(cl) &&
	    nsides < MAX_SIDES; i++)
		sides[nsides++] = config_client_get0_code(cl, i);
	rc = journal_approve(in->journal, http_req_param(r, "id"),
	    http_req_param(r, "year"), body, len, sides, nsides,
	    http_req_fingerprint(r), approval_done, r, err, sizeof(err));
	if (rc == 0)
		return;
	if (rc == 503)
		problem_503(r, err, strlen(err));
	else
		http_problem(r, rc, rc == 409 || rc == 422 ? "statement" : NULL,
		    "%s", err);
}

static const struct http_route routes[] = {
	{ HTTP_POST, "/v1/reports", CONFIG_ROLE_BUREAU, post_report },
	{ HTTP_GET, "/v1/ledger/checkpoint", CONFIG_ROLE_ANY, get_checkpoint },
	{ HTTP_GET, "/v1/ledger/entries",
	  CONFIG_ROLE_AUDITOR | CONFIG_ROLE_OPERATOR, get_entries },
	{ HTTP_GET, "/v1/ledger/proof/inclusion", CONFIG_ROLE_ANY,
	  get_inclusion },
	{ HTTP_GET, "/v1/ledger/proof/consistency", CONFIG_ROLE_ANY,
	  get_consistency },
	{ HTTP_GET, "/v1/agreements/{id}/periods/{period}", CONFIG_ROLE_ANY,
	  get_period },
	{ HTTP_GET, "/v1/agreements/{id}/years/{year}/statement",
	  CONFIG_ROLE_ANY, get_statement },
	{ HTTP_POST, "/v1/agreements/{id}/years/{year}/approvals",
	  CONFIG_ROLE_BUREAU, post_approval },
};

static void
unstage(struct ingest *in)
{
	note_signer_free(in->staged_key);
	note_signer_free(in->staged_next);
	in->staged_key = NULL;
	in->staged_next = NULL;
}

static void
ingest_free(struct server *s, void *state)
{
	struct ingest *in = state;

	(void)s;
	if (in == NULL)
		return;
	journal_free(in->journal);
	unstage(in);
	free(in);
}

/*
 * Loads the key of config key `what` at path, to sign as origin; it must
 * be of the given type. An Ed25519 key made by shanhai keygen has its
 * verifier key line in PATH.vkey: when that file is there, it must be this
 * key's under this origin, so a key made for another ledger is refused.
 */
static int
load_key(const char *what, const char *path, const char *origin, int type,
    struct note_signer **out, char *err, size_t errlen)
{
	char msg[512], vpath[PATH_MAX], line[1024], *mine;
	size_t nlen;
	FILE *f;
	int rc = 0;

	if (note_key_load(path, origin, out, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", what, msg);
		return -1;
	}
	if (note_signer_type(*out) != type) {
		snprintf(err, errlen, "%s: %s: not an %s key", what, path,
		    type == NOTE_SM2 ? "SM2" : "Ed25519");
		goto fail;
	}
	if (type != NOTE_ED25519 || (size_t)snprintf(vpath, sizeof(vpath),
	    "%s.vkey", path) >= sizeof(vpath) ||
	    (f = fopen(vpath, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	nlen = strcspn(line, "+");
	if ((mine = note_signer_vkey(*out)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (nlen != strlen(origin) || strncmp(line, origin, nlen) != 0) {
		snprintf(err, errlen, "%s: %s was made for the origin '%.*s'"
		    " (%s), not ledger.origin '%s'", what, path, (int)nlen,
		    line, vpath, origin);
		rc = -1;
	} else if (strcmp(line, mine) != 0) {
		snprintf(err, errlen, "%s: %s does not hold the verifier key"
		    " of %s (%s)", what, vpath, path, mine);
		rc = -1;
	}
	free(mine);
	if (rc == 0)
		return 0;
fail:
	note_signer_free(*out);
	*out = NULL;
	return -1;
}

/* The Ed25519 keys of config c: the signing key and the next key. */
static int
load_keys(const struct config *c, struct note_signer **key,
    struct note_signer **next, char *err, size_t errlen)
{
	const char *origin = config_get0_ledger_origin(c);
	const char *np = config_get0_ledger_next_key(c);
	char w[512];

	*next = NULL;
	if (load_key(config_where(c, "ledger.signing_key", w, sizeof(w)),
	    config_get0_ledger_signing_key(c), origin, NOTE_ED25519, key, err,
	    errlen) < 0)
		return -1;
	if (np != NULL && np[0] != '\0' && load_key(config_where(c,
	    "ledger.next_key", w, sizeof(w)), np, origin, NOTE_ED25519, next,
	    err, errlen) < 0) {
		note_signer_free(*key);
		*key = NULL;
		return -1;
	}
	return 0;
}

/* The SM2 key of config c, if it names one (*sm2 NULL otherwise). */
static int
load_sm2(const struct config *c, struct note_signer **sm2, char *err,
    size_t errlen)
{
	const char *path = config_get0_ledger_sm2_key(c);
	char w[512];

	*sm2 = NULL;
	if (path == NULL || path[0] == '\0')
		return 0;
	return load_key(config_where(c, "ledger.sm2_key", w, sizeof(w)), path,
	    config_get0_ledger_origin(c), NOTE_SM2, sm2, err, errlen);
}

int
ingest_check_keys(const struct config *c, char *err, size_t errlen)
{
	struct note_signer *key, *next, *sm2 = NULL;
	int rc;

	if (load_keys(c, &key, &next, err, errlen) < 0)
		return -1;
	rc = journal_keys_valid(key, next, err, errlen);
	if (rc == 0)
		rc = load_sm2(c, &sm2, err, errlen);
	note_signer_free(key);
	note_signer_free(next);
	note_signer_free(sm2);
	return rc;
}

static int
ingest_start(struct server *s, void **statep, char *err, size_t errlen)
{
	const struct server_gen *g = server_get0_gen(s);
	const struct config *c = server_gen_config(g);
	struct note_signer *key, *next, *sm2;
	struct ingest *in;
	int rc;

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	in->srv = s;
	if (load_keys(c, &key, &next, err, errlen) < 0)
		goto fail;
	if (load_sm2(c, &sm2, err, errlen) < 0) {
		note_signer_free(key);
		note_signer_free(next);
		goto fail;
	}
	in->journal = journal_open(server_get0_base(s),
	    config_get0_state_dir(c), config_get0_ledger_origin(c), key, next,
	    sm2, err, errlen);
	if (in->journal == NULL)
		goto fail;
	/* The rules in force go to the ledger before the first report. */
	rc = gen_to_journal(in, g, RULES_LENIENT, err, errlen);
	if (rc < 0 || journal_flush(in->journal) < 0) {
		if (rc == 0)
			snprintf(err, errlen, "writing the rules entries failed");
		goto fail;
	}
	if (http_add_routes(server_get0_http(s), routes,
	    sizeof(routes) / sizeof(routes[0]), in) < 0) {
		snprintf(err, errlen, "ingest: routes already taken");
		goto fail;
	}
	*statep = in;
	return 0;
fail:
	ingest_free(s, in);
	return -1;
}

/*
 * A reload: the ledger keys of the new config (a new signing key, a next
 * key added, changed or removed) are loaded and checked here, and put in
 * force by the commit with the rules.
 */
static int
ingest_reload_check(struct server *s, void *state,
    const struct server_gen *next, char *err, size_t errlen)
{
	struct ingest *in = state;

	(void)s;
	unstage(in);
	if (load_keys(server_gen_config(next), &in->staged_key,
	    &in->staged_next, err, errlen) < 0)
		return -1;
	if (journal_keys_check(in->journal, in->staged_key, in->staged_next,
	    err, errlen) < 0) {
		unstage(in);
		return -1;
	}
	return gen_to_journal(state, next, RULES_CHECK, err, errlen);
}

static int
ingest_reload_commit(struct server *s, void *state,
    const struct server_gen *next, char *err, size_t errlen)
{
	struct ingest *in = state;
	struct note_signer *key = in->staged_key, *nk = in->staged_next;

	(void)s;
	in->staged_key = in->staged_next = NULL;
	if (key == NULL && load_keys(server_gen_config(next), &key, &nk, err,
	    errlen) < 0)
		return -1;
	if (gen_to_journal(state, next, RULES_STRICT, err, errlen) < 0) {
		note_signer_free(key);
		note_signer_free(nk);
		return -1;
	}
	return journal_keys_apply(in->journal, key, nk, err, errlen);
}

const struct server_module ingest_module = {
	.name = "ingest",
	.start = ingest_start,
	.reload_check = ingest_reload_check,
	.reload_commit = ingest_reload_commit,
	.free = ingest_free,
};

struct journal *
ingest_get0_journal(const struct server *s)
{
	struct ingest *in = server_module_state(s, ingest_module.name);

	return in == NULL ? NULL : in->journal;
}
