/*
 * shanhai export --format beancount|hledger --entries FILE [--agreement ID]
 * [--rules DIR]: the ledger's settlements and adjustments as a plain-text
 * accounting journal, so an auditor can run them through the tools they
 * already use (bean-check, bean-query, hledger).
 *
 * Each settlement and each adjustment is one balanced transaction: the
 * period's base (or its change) leaves the agreement's base account and
 * goes to the host side's account and to the home side's, the home side's
 * split into its beneficiaries' sub-accounts when the agreement has any:
 *
 *   base = host + home,  home = Σ beneficiaries    (SPEC §5)
 *
 * so an account's balance over a year is the statement's total. Metadata:
 * the entry's index in the ledger, the agreement, the period, the term, the
 * report hashes (a settlement) or the causing report (an adjustment).
 * The sides' codes and names come from the ledger's `rules` entries (the
 * daemon writes one before any settlement), or from --rules DIR for a file
 * without them (what `shanhai settle` prints); without either, the accounts
 * say Home and Host. The date is the entry's `time` when it has one, else
 * the last day of the period.
 *
 * beancount wants ASCII account names (capitalised, [A-Za-z0-9-]): the
 * Chinese names go into the payee and narration; hledger takes the Chinese
 * names in the accounts themselves.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libconfig.h>

#include "shanhai/cmd.h"
#include "shanhai/money.h"
#include "shanhai/textbuf.h"

#define USAGE	"usage: shanhai export --format beancount|hledger " \
		"--entries FILE [--agreement ID] [--rules DIR]\n"

enum export_format { EXPORT_BEANCOUNT, EXPORT_HLEDGER };

/* What the journal says of an agreement: its sides, by code and name. */
struct side_names {
	char	*id;
	char	*title;
	char	*home, *host;		/* codes, NULL while unknown */
	char	*home_name, *host_name;	/* NULL when the rules have none */
};

struct export {
	enum export_format	 fmt;
	const char		*only;		/* --agreement */
	struct side_names	*ag;
	size_t			 nag;
	struct textbuf		 tx;		/* the transactions */
	char			**accounts;	/* opened, in first-use order */
	size_t			 naccounts;
	char			 first[11];	/* earliest date */
	long			 count;
};

static void
names_clear(struct side_names *n)
{
	free(n->id);
	free(n->title);
	free(n->home);
	free(n->host);
	free(n->home_name);
	free(n->host_name);
	memset(n, 0, sizeof(*n));
}

static struct side_names *
names_get(struct export *x, const char *id)
{
	struct side_names *n;

	for (size_t i = 0; i < x->nag; i++)
		if (strcmp(x->ag[i].id, id) == 0)
			return &x->ag[i];
	if ((n = realloc(x->ag, (x->nag + 1) * sizeof(*n))) == NULL)
		return NULL;
	x->ag = n;
	n = &x->ag[x->nag];
	memset(n, 0, sizeof(*n));
	if ((n->id = strdup(id)) == NULL)
		return NULL;
	x->nag++;
	return n;
}

static char *
lookup(config_t *cfg, const char *key)
{
	const char *v;

	if (config_lookup_string(cfg, key, &v) != CONFIG_TRUE)
		return NULL;
	return strdup(v);
}

/*
 * Takes the sides of an agreement from a rules file's text. Only reads:
 * the daemon validated the text before it wrote it (and `shanhai verify`
 * checks that). Text with @include is not read: libconfig would open files.
 */
static int
names_from_text(struct export *x, const char *text, const char *where)
{
	struct side_names *n;
	config_t cfg;
	char *id;

	if (strstr(text, "@include") != NULL) {
		fprintf(stderr, "shanhai export: %s: @include: not read\n",
		    where);
		return -1;
	}
	config_init(&cfg);
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		fprintf(stderr, "shanhai export: %s:%d: %s\n", where,
		    config_error_line(&cfg), config_error_text(&cfg));
		config_destroy(&cfg);
		return -1;
	}
	if ((id = lookup(&cfg, "id")) == NULL) {
		fprintf(stderr, "shanhai export: %s: no id\n", where);
		config_destroy(&cfg);
		return -1;
	}
	if ((n = names_get(x, id)) == NULL) {
		free(id);
		config_destroy(&cfg);
		return -1;
	}
	free(id);
	free(n->title);
	free(n->home);
	free(n->host);
	free(n->home_name);
	free(n->host_name);
	n->title = lookup(&cfg, "title");
	n->home = lookup(&cfg, "home");
	n->host = lookup(&cfg, "host");
	n->home_name = lookup(&cfg, "home_name");
	n->host_name = lookup(&cfg, "host_name");
	config_destroy(&cfg);
	return 0;
}

static int
names_from_dir(struct export *x, const char *dir)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "shanhai export: %s: %s\n", dir,
		    strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char path[4096];
		struct textbuf t = TEXTBUF_INIT;
		char buf[8192];
		size_t n;
		FILE *f;

		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((f = fopen(path, "r")) == NULL) {
			fprintf(stderr, "shanhai export: %s: %s\n", path,
			    strerror(errno));
			rc = -1;
			break;
		}
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			textbuf_add(&t, buf, n);
		fclose(f);
		rc = names_from_text(x, t.p != NULL ? t.p : "", path);
		textbuf_release(&t);
	}
	closedir(d);
	return rc;
}

/* The last day of a period: "2026-02" 2026-02-28, "2026-Q3", "2026". */
static int
period_end(const char *p, char out[11])
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, m, q, day;
	char c;

	if (sscanf(p, "%4d-Q%1d%c", &y, &q, &c) == 2 && q >= 1 && q <= 4)
		m = q * 3;
	else if (sscanf(p, "%4d-%2d%c", &y, &m, &c) == 2 && m >= 1 && m <= 12)
		;
	else if (sscanf(p, "%4d%c", &y, &c) == 1 && strlen(p) == 4)
		m = 12;
	else
		return -1;
	day = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		day = 29;
	snprintf(out, 11, "%04d-%02d-%02d", y, m, day);
	return 0;
}

/* A beancount account component: capitalised, [A-Za-z0-9-] only. */
static void
bean_component(struct textbuf *b, const char *s)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i == 0 && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')))
			c = '-';
		textbuf_add(b, &c, 1);
	}
}

/* A string literal for beancount: quotes and backslashes escaped. */
static void
bean_string(struct textbuf *b, const char *s)
{
	textbuf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			textbuf_add(b, "\\", 1);
		if (*s == '\n' || *s == '\r')
			textbuf_add(b, " ", 1);
		else
			textbuf_add(b, s, 1);
	}
	textbuf_add(b, "\"", 1);
}

/*
 * hledger account names end at two spaces or a tab, and ':' separates
 * their parts: a name from the rules keeps single spaces only.
 */
static void
hl_part(struct textbuf *b, const char *s)
{
	int space = 0;

	for (; *s != '\0'; s++) {
		int ws = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
		    *s == ';' || *s == ':';

		if (ws) {
			space = 1;
			continue;
		}
		if (space && b->len > 0 && b->p[b->len - 1] != ':')
			textbuf_add(b, " ", 1);
		space = 0;
		textbuf_add(b, s, 1);
	}
}

enum acct { ACCT_BASE, ACCT_HOST, ACCT_HOME, ACCT_BEN };

/* The account of one side (or a beneficiary) of agreement n, in a new string. */
static char *
account(const struct export *x, const struct side_names *n, enum acct a,
    const char *ben)
{
	struct textbuf b = TEXTBUF_INIT;
	int home = a == ACCT_HOME || a == ACCT_BEN;
	const char *code = home ? n->home : n->host;
	const char *name = home ? n->home_name : n->host_name;

	if (x->fmt == EXPORT_BEANCOUNT) {
		textbuf_puts(&b, a == ACCT_BASE ? "Income:Shanhai:" :
		    "Assets:Shanhai:");
		bean_component(&b, n->id);
		if (a == ACCT_BASE)
			textbuf_puts(&b, ":Base");
		else {
			textbuf_puts(&b, home ? ":Home" : ":Host");
			if (code != NULL)
				textbuf_printf(&b, "-%s", code);
		}
		if (a == ACCT_BEN) {
			textbuf_add(&b, ":", 1);
			bean_component(&b, ben);
		}
	} else {
		textbuf_puts(&b, a == ACCT_BASE ? "收入:分成基数:" : "资产:");
		hl_part(&b, n->id);
		if (a != ACCT_BASE) {
			textbuf_puts(&b, home ? ":飞出地" : ":飞入地");
			if (code != NULL) {
				textbuf_add(&b, " ", 1);
				hl_part(&b, code);
			}
			if (name != NULL) {
				textbuf_add(&b, " ", 1);
				hl_part(&b, name);
			}
		}
		if (a == ACCT_BEN) {
			textbuf_puts(&b, ":受益 ");
			hl_part(&b, ben);
		}
	}
	if (b.failed) {
		textbuf_release(&b);
		return NULL;
	}
	return b.p;
}

/* Remembers acct for the open/account directives; takes it. */
static int
use_account(struct export *x, char *acct)
{
	char **n;

	for (size_t i = 0; i < x->naccounts; i++)
		if (strcmp(x->accounts[i], acct) == 0) {
			free(acct);
			return 0;
		}
	if ((n = realloc(x->accounts, (x->naccounts + 1) * sizeof(*n))) ==
	    NULL) {
		free(acct);
		return -1;
	}
	x->accounts = n;
	x->accounts[x->naccounts++] = acct;
	return 0;
}

static int
posting(struct export *x, const struct side_names *n, enum acct a,
    const char *ben, int64_t fen)
{
	char *acct = account(x, n, a, ben), amt[MONEY_BUFSZ];

	if (acct == NULL)
		return -1;
	/* Two spaces end an hledger account; beancount takes them too. */
	textbuf_printf(&x->tx, "    %s  %s CNY\n", acct, money_format(fen,
	    amt));
	return use_account(x, acct);
}

static const char *
str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
amount(const json_t *o, const char *key, int64_t *fen)
{
	const char *s = str(o, key);

	return s != NULL ? money_parse(s, fen) : -1;
}

/* One settlement or adjustment entry as a transaction; -1 with err. */
static int
transaction(struct export *x, const json_t *e, long index, int adjust,
    char *err, size_t errlen)
{
	const char *ag = str(e, "agreement"), *period = str(e, "period");
	const char *time = str(e, "time"), *term = str(e, "term");
	const json_t *bens = json_object_get(e, "beneficiaries"), *v;
	struct side_names *n;
	struct textbuf meta = TEXTBUF_INIT;
	int64_t base, home, host, topup, sum = 0, f;
	char date[11];
	const char *k;

	if (ag == NULL || period == NULL || amount(e, "base", &base) ||
	    amount(e, "home", &home) || amount(e, "host", &host) ||
	    amount(e, "floor_topup", &topup) || !json_is_object(bens)) {
		snprintf(err, errlen, "not a %s entry: agreement, period, "
		    "base, home, host, floor_topup or beneficiaries missing "
		    "or not §2 amounts", adjust ? "adjustment" : "settlement");
		return -1;
	}
	if (x->only != NULL && strcmp(ag, x->only) != 0)
		return 0;
	if (time != NULL && strlen(time) >= 10)
		snprintf(date, sizeof(date), "%.10s", time);
	else if (period_end(period, date) != 0) {
		snprintf(err, errlen, "period '%s': not a period", period);
		return -1;
	}
	if (x->first[0] == '\0' || strcmp(date, x->first) < 0)
		memcpy(x->first, date, sizeof(date));
	if ((n = names_get(x, ag)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (base != home + host) {
		snprintf(err, errlen, "base is not home + host");
		return -1;
	}

	/* Header: date, flag, payee (who pays) and narration. */
	textbuf_printf(&x->tx, "\n%s * ", date);
	{
		struct textbuf payee = TEXTBUF_INIT, narr = TEXTBUF_INIT;

		textbuf_printf(&payee, "%s → %s", n->host_name ? n->host_name :
		    n->host ? n->host : "host", n->home_name ? n->home_name :
		    n->home ? n->home : "home");
		textbuf_printf(&narr, "%s %s %s", ag, period, adjust ?
		    "更正调整 adjustment" : "分成结算 settlement");
		if (x->fmt == EXPORT_BEANCOUNT) {
			bean_string(&x->tx, payee.p ? payee.p : "");
			textbuf_add(&x->tx, " ", 1);
			bean_string(&x->tx, narr.p ? narr.p : "");
			textbuf_add(&x->tx, "\n", 1);
		} else
			/* hledger: "payee | note"; no ';' (a comment). */
			textbuf_printf(&x->tx, "%s | %s\n", payee.p ? payee.p :
			    "", narr.p ? narr.p : "");
		textbuf_release(&payee);
		textbuf_release(&narr);
	}

	/* Metadata: beancount key: "value" lines; hledger tags. */
	textbuf_printf(&meta, "index=%ld\nagreement=%s\nperiod=%s\n", index,
	    ag, period);
	if (term != NULL)
		textbuf_printf(&meta, "term=%s\n", term);
	if (adjust && str(e, "cause") != NULL)
		textbuf_printf(&meta, "cause=%s\n", str(e, "cause"));
	if (!adjust) {
		const json_t *reps = json_object_get(e, "reports");
		size_t i;

		textbuf_puts(&meta, "reports=");
		json_array_foreach(reps, i, v)
			if (json_is_string(v))
				textbuf_printf(&meta, "%s%s", i ? "," : "",
				    json_string_value(v));
		textbuf_puts(&meta, "\n");
	}
	{
		char amt[MONEY_BUFSZ];

		textbuf_printf(&meta, "floor-topup=%s\n", money_format(topup,
		    amt));
	}
	for (char *line = meta.p, *eq, *nl; line != NULL && *line != '\0';
	    line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		eq = strchr(line, '=');
		*eq = '\0';
		if (x->fmt == EXPORT_BEANCOUNT) {
			textbuf_printf(&x->tx, "  %s: ", line);
			if (strcmp(line, "index") == 0)
				textbuf_puts(&x->tx, eq + 1);
			else
				bean_string(&x->tx, eq + 1);
			textbuf_add(&x->tx, "\n", 1);
		} else
			textbuf_printf(&x->tx, "    ; %s: %s\n", line, eq + 1);
	}
	textbuf_release(&meta);

	/* Postings: base out; host in; home in, or its beneficiaries. */
	if (posting(x, n, ACCT_BASE, NULL, -base) != 0 ||
	    posting(x, n, ACCT_HOST, NULL, host) != 0)
		goto oom;
	if (json_object_size(bens) == 0) {
		if (posting(x, n, ACCT_HOME, NULL, home) != 0)
			goto oom;
	} else {
		json_object_foreach((json_t *)bens, k, v) {
			if (!json_is_string(v) ||
			    money_parse(json_string_value(v), &f) != 0) {
				snprintf(err, errlen, "beneficiaries.%s: not "
				    "an amount", k);
				return -1;
			}
			if (money_add(sum, f, &sum) != 0) {
				snprintf(err, errlen, "beneficiaries: amounts "
				    "overflow");
				return -1;
			}
			if (posting(x, n, ACCT_BEN, k, f) != 0)
				goto oom;
		}
		if (sum != home) {
			snprintf(err, errlen, "beneficiaries: their sum is not "
			    "home");
			return -1;
		}
	}
	x->count++;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
feed(struct export *x, FILE *f, const char *name)
{
	char *line = NULL, err[256];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0, index = 0;
	int rc = CMD_OK;

	while ((len = getline(&line, &cap, f)) != -1) {
		json_error_t jerr;
		const char *type, *text;
		json_t *e;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		if ((e = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES,
		    &jerr)) == NULL || !json_is_object(e) ||
		    (type = str(e, "type")) == NULL) {
			fprintf(stderr, "%s:%ld: not a ledger entry\n", name,
			    lineno);
			json_decref(e);
			rc = CMD_FAILED;
			break;
		}
		if (strcmp(type, "rules") == 0 &&
		    (text = str(e, "text")) != NULL) {
			char where[300];

			snprintf(where, sizeof(where), "%s:%ld: rules", name,
			    lineno);
			(void)names_from_text(x, text, where);
		} else if (strcmp(type, "settlement") == 0 ||
		    strcmp(type, "adjustment") == 0) {
			if (transaction(x, e, index, type[0] == 'a', err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "%s:%ld: %s\n", name, lineno,
				    err);
				json_decref(e);
				rc = CMD_FAILED;
				break;
			}
		}
		json_decref(e);
		index++;
	}
	if (rc == CMD_OK && ferror(f)) {
		fprintf(stderr, "shanhai export: %s: %s\n", name,
		    strerror(errno));
		rc = CMD_USAGE;
	}
	free(line);
	return rc;
}

/* The journal's head: options, currency, every account opened. */
static void
head(const struct export *x, FILE *out)
{
	if (x->fmt == EXPORT_BEANCOUNT) {
		fprintf(out, "; shanhai export: settlements and adjustments "
		    "of the signed ledger\noption \"title\" \"shanhai\"\n"
		    "option \"operating_currency\" \"CNY\"\n\n");
		for (size_t i = 0; i < x->naccounts; i++)
			fprintf(out, "%s open %s CNY\n", x->first[0] ?
			    x->first : "1970-01-01", x->accounts[i]);
	} else {
		fprintf(out, "; shanhai export: settlements and adjustments "
		    "of the signed ledger\ncommodity 1,000.00 CNY\n\n");
		for (size_t i = 0; i < x->naccounts; i++)
			fprintf(out, "account %s\n", x->accounts[i]);
	}
}

int
cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "entries", required_argument, NULL, 'e' },
		{ "agreement", required_argument, NULL, 'a' },
		{ "rules", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct export x;
	const char *entries = NULL, *rules = NULL, *fmt = NULL;
	FILE *f;
	int ch, rc = CMD_USAGE;

	memset(&x, 0, sizeof(x));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			fmt = optarg;
			break;
		case 'e':
			entries = optarg;
			break;
		case 'a':
			x.only = optarg;
			break;
		case 'r':
			rules = optarg;
			break;
		default:
			fputs(USAGE, stderr);
			return CMD_USAGE;
		}
	}
	if (fmt == NULL || entries == NULL || optind != argc) {
		fputs(USAGE, stderr);
		return CMD_USAGE;
	}
	if (strcmp(fmt, "beancount") == 0)
		x.fmt = EXPORT_BEANCOUNT;
	else if (strcmp(fmt, "hledger") == 0)
		x.fmt = EXPORT_HLEDGER;
	else {
		fprintf(stderr, "shanhai export: --format '%s': beancount or "
		    "hledger\n", fmt);
		return CMD_USAGE;
	}
	if (rules != NULL && names_from_dir(&x, rules) != 0)
		goto done;
	if (strcmp(entries, "-") == 0)
		rc = feed(&x, stdin, "-");
	else if ((f = fopen(entries, "r")) == NULL) {
		fprintf(stderr, "shanhai export: %s: %s\n", entries,
		    strerror(errno));
		rc = CMD_USAGE;
	} else {
		rc = feed(&x, f, entries);
		fclose(f);
	}
	if (rc != CMD_OK)
		goto done;
	if (x.tx.failed) {
		fprintf(stderr, "shanhai export: out of memory\n");
		rc = CMD_USAGE;
		goto done;
	}
	if (x.count == 0 && x.only != NULL) {
		fprintf(stderr, "shanhai export: no settlement of agreement "
		    "'%s' in %s\n", x.only, entries);
		rc = CMD_FAILED;
		goto done;
	}
	head(&x, stdout);
	if (x.tx.p != NULL)
		fwrite(x.tx.p, 1, x.tx.len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "shanhai export: stdout: %s\n",
		    strerror(errno));
		rc = CMD_USAGE;
	}
done:
	for (size_t i = 0; i < x.nag; i++)
		names_clear(&x.ag[i]);
	free(x.ag);
	for (size_t i = 0; i < x.naccounts; i++)
		free(x.accounts[i]);
	free(x.accounts);
	textbuf_release(&x.tx);
	return rc;
}
