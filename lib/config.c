/*
 * config: shanhaid.conf through one key table (see config.h).
 *
 * Every key of the file is one row of keys[] below; nothing else knows a key
 * name. A row gives where the value lives (an offset into struct config, or
 * into struct config_client for the members of `clients` entries), its type,
 * its default (NULL when required), bounds, whether it is restart-only, and
 * the line of documentation that `shanhaid -k` prints.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pwd.h>

#include <libconfig.h>

#include "shanhai/config.h"

/* Room for the rows of keys[] (checked at compile time below). */
#define CONFIG_MAXKEYS	48
/* Where `make install` puts the console; the Makefile passes its DATADIR. */
#ifndef SHANHAI_CONSOLE_DIR
#define SHANHAI_CONSOLE_DIR	"/usr/local/share/shanhai/console"
#endif

struct strlist {
	char		**v;
	size_t		  n;
};

struct config_client {
	char		*name;
	long long	 role;
	struct strlist	 codes;
	char		*fingerprint;
	char		*common_name;
	int		 line;
};

/* A witness the daemon sends its checkpoints to (SPEC 6.6). */
struct config_witness {
	char		*name;
	char		*key;
	char		*url;
	char		*cacert;
	int		 line;
};

struct config {
	char		*path;
	char		*dir;		/* absolute folder of path */
	struct strlist	 listen;
	char		*state_dir;
	char		*rules_dir;
	char		*console_dir;
	char		*user;
	long long	 log_level;
	char		*tls_certificate;
	char		*tls_key;
	char		*tls_client_ca;
	char		*tls_ciphersuites;
	char		*ledger_origin;
	char		*ledger_signing_key;
	char		*ledger_next_key;
	char		*ledger_sm2_key;
	char		*ledger_tiles_dir;
	long long	 max_body;
	long long	 max_header;
	long long	 request_timeout;
	long long	 idle_timeout;
	long long	 max_connections;
	long long	 client_connections;
	long long	 client_rate;
	long long	 shutdown_timeout;
	struct config_client *clients;
	size_t		 nclients;
	int		 lines[CONFIG_MAXKEYS]; /* keys[i]'s line, 0: default */
	struct config_witness *witnesses;
	size_t		 nwitnesses;
	long long	 witness_quorum;
	long long	 witness_interval;
};

enum ck_type {
	CK_GROUP,	/* a { } group of further keys; no storage */
	CK_CLIENTS,	/* the ( ) list of client groups */
	CK_WITNESSES,	/* the ( ) list of witness groups */
	CK_STRING,
	CK_PATH,	/* a string resolved against the config's folder */
	CK_INT,
	CK_LEVEL,	/* log level name */
	CK_ROLE,	/* client role name */
	CK_STRLIST,	/* [ "…", … ] */
};

#define CK_RESTART	0x01	/* a reload keeps the running value */
#define CK_MEMBER	0x02	/* member of a clients or witnesses entry */

struct config_key {
	const char	*name;	/* dotted: "tls.key", "clients.name" */
	enum ck_type	 type;
	const char	*def;	/* NULL: required; "": optional, unset */
	long long	 min, max;
	int		 flags;
	size_t		 off;
	/* Extra check of one string value; fills why on failure. */
	int		(*check)(const char *, char *, size_t);
	const char	*doc;
};

static int	check_listen(const char *, char *, size_t);
static int	check_code(const char *, char *, size_t);
static int	check_fingerprint(const char *, char *, size_t);
static int	check_origin(const char *, char *, size_t);
static int	check_name(const char *, char *, size_t);
static int	check_user(const char *, char *, size_t);

#define C(f)	offsetof(struct config, f)
#define M(f)	offsetof(struct config_client, f)
#define W(f)	offsetof(struct config_witness, f)
#define KB	1024LL

static const struct config_key keys[] = {
	{ "listen", CK_STRLIST, "127.0.0.1:8443", 1, 64, CK_RESTART,
	  C(listen), check_listen,
	  "addresses to serve HTTPS on: \"host:port\", \"[::1]:port\"" },
	{ "state_dir", CK_PATH, "/var/lib/shanhai", 0, 0, CK_RESTART,
	  C(state_dir), NULL, "folder of the SQLite database" },
	{ "rules_dir", CK_PATH, "rules", 0, 0, 0, C(rules_dir), NULL,
	  "folder of the agreements, one <id>.conf each" },
	{ "console_dir", CK_PATH, SHANHAI_CONSOLE_DIR, 0, 0, 0, C(console_dir),
	  NULL, "folder of the built web console, served under /console/" },
	{ "user", CK_STRING, "", 0, 0, CK_RESTART, C(user), check_user,
	  "when started as root: the user to switch to once the sockets are "
	  "bound" },
	{ "log_level", CK_LEVEL, "info", 0, 0, 0, C(log_level), NULL,
	  "least important level logged: err, warning, notice, info, debug" },

	{ "tls", CK_GROUP, NULL, 0, 0, 0, 0, NULL,
	  "the server's certificate and the clients' CA" },
	{ "tls.certificate", CK_PATH, NULL, 0, 0, 0, C(tls_certificate), NULL,
	  "PEM chain of the server certificate, leaf first" },
	{ "tls.key", CK_PATH, NULL, 0, 0, 0, C(tls_key), NULL,
	  "PEM private key of the server certificate" },
	{ "tls.client_ca", CK_PATH, NULL, 0, 0, 0, C(tls_client_ca), NULL,
	  "PEM CA certificate(s) that issue every client certificate" },
	{ "tls.ciphersuites", CK_STRING, "", 0, 0, 0, C(tls_ciphersuites),
	  NULL, "TLS 1.3 cipher suites, OpenSSL syntax; unset: OpenSSL's "
	  "defaults" },

	{ "ledger", CK_GROUP, NULL, 0, 0, 0, 0, NULL,
	  "the signed ledger's name and keys" },
	{ "ledger.origin", CK_STRING, NULL, 0, 0, CK_RESTART, C(ledger_origin),
	  check_origin, "checkpoint origin line and signer name" },
	{ "ledger.signing_key", CK_PATH, "ledger.key", 0, 0, 0,
	  C(ledger_signing_key), NULL,
	  "Ed25519 PKCS#8 PEM key (`shanhai keygen`) that signs every "
	  "checkpoint" },
	{ "ledger.next_key", CK_PATH, "", 0, 0, 0, C(ledger_next_key), NULL,
	  "the next Ed25519 key of a key rotation, announced in the ledger" },
	{ "ledger.sm2_key", CK_PATH, "", 0, 0, CK_RESTART, C(ledger_sm2_key),
	  NULL, "optional SM2 PEM key for a second checkpoint signature" },
	{ "ledger.tiles_dir", CK_PATH, "", 0, 0, CK_RESTART,
	  C(ledger_tiles_dir), NULL,
	  "optional folder to publish the ledger in as C2SP tlog-tiles" },

	{ "limits", CK_GROUP, "", 0, 0, 0, 0, NULL,
	  "sizes, times and counts that bound what a client can take" },
	{ "limits.max_body", CK_INT, "65536", 1 * KB, 16 * KB * KB, 0,
	  C(max_body), NULL, "largest request body in bytes (larger: 413)" },
	{ "limits.max_header", CK_INT, "8192", 1 * KB, 64 * KB, 0,
	  C(max_header), NULL, "largest request line and headers in bytes" },
	{ "limits.request_timeout", CK_INT, "30", 1, 3600, 0,
	  C(request_timeout), NULL,
	  "seconds for the TLS handshake and the first request of a "
	  "connection to arrive" },
	{ "limits.idle_timeout", CK_INT, "60", 1, 86400, 0, C(idle_timeout),
	  NULL, "seconds a connection may stay silent before it is closed" },
	{ "limits.max_connections", CK_INT, "1024", 1, 65536, 0,
	  C(max_connections), NULL,
	  "open connections at most; beyond, new ones wait in the backlog" },
	{ "limits.client_connections", CK_INT, "64", 1, 65536, 0,
	  C(client_connections), NULL,
	  "open connections at most per client certificate (more: 429)" },
	{ "limits.client_rate", CK_INT, "0", 0, 1000000, 0, C(client_rate),
	  NULL, "requests per second per client, bursts of as many; 0: no "
	  "limit (more: 429)" },
	{ "limits.shutdown_timeout", CK_INT, "5", 1, 60, 0,
	  C(shutdown_timeout), NULL,
	  "seconds SIGTERM waits for requests in flight before exiting" },

	{ "clients", CK_CLIENTS, "", 0, 0, 0, 0, NULL,
	  "who may connect, and as what: a list of entries" },
	{ "clients.name", CK_STRING, NULL, 0, 0, CK_MEMBER, M(name), check_name,
	  "the client's name in logs" },
	{ "clients.role", CK_ROLE, NULL, 0, 0, CK_MEMBER, M(role), NULL,
	  "bureau, auditor or operator" },
	{ "clients.codes", CK_STRLIST, "", 0, 16, CK_MEMBER, M(codes),
	  check_code, "bureaus only: the 6-digit side codes it speaks for" },
	{ "clients.fingerprint", CK_STRING, "", 0, 0, CK_MEMBER,
	  M(fingerprint), check_fingerprint,
	  "SHA-256 of the certificate (DER), hex, colons allowed" },
	{ "clients.common_name", CK_STRING, "", 0, 0, CK_MEMBER,
	  M(common_name), NULL, "the certificate's subject CN" },

	{ "witnesses", CK_WITNESSES, "", 0, 0, CK_RESTART, 0, NULL,
	  "third parties that cosign checkpoints" },
	{ "witnesses.name", CK_STRING, NULL, 0, 0, CK_MEMBER, W(name),
	  check_name, "the witness's key name" },
	{ "witnesses.key", CK_STRING, NULL, 0, 0, CK_MEMBER, W(key), NULL,
	  "its verifier key (signed-note text, type 0x04)" },
	{ "witnesses.url", CK_STRING, NULL, 0, 0, CK_MEMBER, W(url), NULL,
	  "prefix of its add-checkpoint endpoint, http:// or https://" },
	{ "witnesses.cacert", CK_PATH, "", 0, 0, CK_MEMBER, W(cacert), NULL,
	  "https only: PEM CA certificate of the witness's server" },
	{ "witness_quorum", CK_INT, "0", 0, 64, CK_RESTART, C(witness_quorum),
	  NULL, "cosignatures a witnessed checkpoint needs; 0: all" },
	{ "witness_interval", CK_INT, "10", 1, 86400, CK_RESTART,
	  C(witness_interval), NULL, "seconds between witnessing rounds" },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CONFIG_MAXKEYS, "raise CONFIG_MAXKEYS");

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "err", [LOG_LVL_WARNING] = "warning",
	[LOG_LVL_NOTICE] = "notice", [LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static const struct {
	const char	*name;
	enum config_role role;
} roles[] = {
	{ "bureau", CONFIG_ROLE_BUREAU },
	{ "auditor", CONFIG_ROLE_AUDITOR },
	{ "operator", CONFIG_ROLE_OPERATOR },
};

/* The parse in progress: where messages point and what was seen. */
struct parse {
	const char	*file;
	char		*err;
	size_t		 errlen;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct parse *p, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->file, line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->file, msg);
	return -1;
}

static void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
strlist_push(struct strlist *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	l->v = v;
	if ((v[l->n] = strdup(s)) == NULL)
		return -1;
	l->n++;
	return 0;
}

static bool
strlist_eq(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

int
config_listen_parse(const char *s, char *host, size_t hostlen,
    uint16_t *port)
{
	const char *colon, *h = s, *hend;
	char *end;
	long v;

	if (s[0] == '[') {
		h = s + 1;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			return -1;
		colon = hend + 1;
		if (hend == h)
			return -1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hend = colon;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;	/* bare IPv6 needs brackets */
	}
	if ((size_t)(hend - h) >= hostlen)
		return -1;
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || v < 1 ||
	    v > 65535 || !isdigit((unsigned char)colon[1]))
		return -1;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	*port = (uint16_t)v;
	return 0;
}

static int
check_listen(const char *s, char *why, size_t whylen)
{
	char host[256];
	uint16_t port;

	if (config_listen_parse(s, host, sizeof(host), &port) == -1) {
		snprintf(why, whylen, "'%s' is not \"host:port\" or "
		    "\"[v6address]:port\" with a port in 1..65535", s);
		return -1;
	}
	return 0;
}

static int
check_code(const char *s, char *why, size_t whylen)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isdigit((unsigned char)s[i]))
			break;
	if (i != 6 || s[i] != '\0') {
		snprintf(why, whylen, "'%s' is not a 6-digit side code", s);
		return -1;
	}
	return 0;
}

/* Accepts hex with optional colons, any case; normalised when stored. */
static int
check_fingerprint(const char *s, char *why, size_t whylen)
{
	size_t hex = 0;

	for (const char *q = s; *q != '\0'; q++) {
		if (isxdigit((unsigned char)*q))
			hex++;
		else if (*q != ':') {
			hex = 0;
			break;
		}
	}
	if (hex != 64) {
		snprintf(why, whylen, "'%s' is not a SHA-256 fingerprint "
		    "(64 hex digits, colons allowed)", s);
		return -1;
	}
	return 0;
}

/* Signed-note key names: no spaces, no '+', not empty (C2SP signed-note). */
static int
check_origin(const char *s, char *why, size_t whylen)
{
	if (*s == '\0') {
		snprintf(why, whylen, "must not be empty");
		return -1;
	}
	for (const char *q = s; *q != '\0'; q++)
		if ((unsigned char)*q <= ' ' || *q == '+' || *q == 0x7f) {
			snprintf(why, whylen, "'%s' may hold neither spaces, "
			    "control characters nor '+'", s);
			return -1;
		}
	return 0;
}

static int
check_name(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) ==
		    NULL)
			n = 0;
	if (n == 0 || n > 64) {
		snprintf(why, whylen, "'%s' is not a name (1 to 64 letters, "
		    "digits, '.', '_', '-')", s);
		return -1;
	}
	return 0;
}

/* The user must exist now: -t refuses what start would. */
static int
check_user(const char *s, char *why, size_t whylen)
{
	errno = 0;
	if (getpwnam(s) != NULL)
		return 0;
	snprintf(why, whylen, "'%s': %s", s, errno != 0 && errno != ENOENT &&
	    errno != ESRCH ? strerror(errno) : "no such user");
	return -1;
}

/*
 * The text of the file at path, NUL-terminated, or NULL (errno set). A
 * config is small; anything above 4 MB is not one.
 */
static char *
slurp(const char *path)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb;
			if (cap > 4 * KB * KB || (nb = realloc(buf,
			    cap + 8192)) == NULL) {
				free(buf);
				fclose(f);
				errno = EFBIG;
				return NULL;
			}
			buf = nb;
			cap += 8192;
		}
		size_t m = fread(buf + n, 1, cap - n - 1, f);
		n += m;
		if (m == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The start of line (1-based) in text, or NULL. */
static const char *
line_start(const char *text, int line)
{
	const char *q = text;

	for (int i = 1; i < line && q != NULL; i++)
		if ((q = strchr(q, '\n')) != NULL)
			q++;
	return q;
}

static bool
name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-' ||
	    ch == '*';
}

/*
 * Where "name =" or "name :" starts at q, the first character after the
 * '=' or ':'; otherwise NULL.
 */
static const char *
after_assign(const char *text, const char *q, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(q, name, n) != 0 || (q > text && name_char(q[-1])) ||
	    name_char(q[n]))
		return NULL;
	q += n;
	q += strspn(q, " \t\r");
	return *q == '=' || *q == ':' ? q + 1 : NULL;
}

/*
 * libconfig 1.5 reads an integer without an L suffix into 32 bits, so
 * 4294968320 arrives as 1024. The value the user wrote is read again from
 * the file: the digits after "name =" from the setting's line on, kept in
 * text (as written) and in *v (ERANGE beyond 64 bits). Returns 0, or -1
 * when they cannot be found.
 */
static int
int_as_written(const config_setting_t *s, long long *v, int *erange,
    char *text, size_t textlen)
{
	const char *file = config_setting_source_file(s);
	const char *name = config_setting_name(s), *q, *end, *digits;
	char *buf, *e;
	int rc = -1;

	if (file == NULL || name == NULL || (buf = slurp(file)) == NULL)
		return -1;
	q = line_start(buf, (int)config_setting_source_line(s));
	end = q ? q + strcspn(q, "\n") : NULL;
	for (; q != NULL && q < end; q++) {
		const char *a = after_assign(buf, q, name);
		if (a == NULL)
			continue;
		a += strspn(a, " \t\r\n");
		digits = a + (*a == '-' || *a == '+');
		bool hex = digits[0] == '0' && (digits[1] == 'x' ||
		    digits[1] == 'X');
		size_t len = hex ? 2 + strspn(digits + 2, "0123456789abcdefABCDEF")
		    : strspn(digits, "0123456789");
		if (len == 0 || (hex && len == 2))
			break;
		len += (size_t)(digits - a);
		snprintf(text, textlen, "%.*s", (int)len, a);
		errno = 0;
		if (hex) {
			unsigned long long u = strtoull(digits, &e, 16);
			*v = u > LLONG_MAX ? LLONG_MAX : (long long)u;
			if (u > LLONG_MAX)
				errno = ERANGE;
			if (*a == '-')
				*v = -*v;
		} else
			*v = strtoll(a, &e, 10);
		*erange = errno == ERANGE;
		/* Guard: libconfig's value is ours cut to its width. */
		if (config_setting_type(s) == CONFIG_TYPE_INT64 ? *erange ||
		    *v == config_setting_get_int64(s) :
		    (int)(unsigned)(unsigned long long)*v ==
		    config_setting_get_int(s) || *erange)
			rc = 0;
		break;
	}
	free(buf);
	return rc;
}

/*
 * For libconfig's "duplicate setting name" (which does not say which): the
 * first key on that line that the file already set before it, else the
 * first key on the line.
 */
static int
duplicate_name(const char *file, int line, char *name, size_t namelen)
{
	const char *ls, *le, *q, *first = NULL;
	char cand[128], *buf;
	size_t n, firstlen = 0;
	int found = -1;

	if (file == NULL || (buf = slurp(file)) == NULL)
		return -1;
	if ((ls = line_start(buf, line)) == NULL)
		goto out;
	le = ls + strcspn(ls, "\n");
	for (q = ls; q < le && found == -1; q++) {
		if (!name_char(*q) || (q > ls && name_char(q[-1])))
			continue;
		for (n = 0; name_char(q[n]); n++)
			;
		if (n >= sizeof(cand))
			continue;
		memcpy(cand, q, n);
		cand[n] = '\0';
		if (after_assign(buf, q, cand) == NULL)
			continue;
		if (first == NULL) {
			first = q;
			firstlen = n;
		}
		for (const char *r = buf; r < q; r++)
			if (after_assign(buf, r, cand) != NULL) {
				snprintf(name, namelen, "%s", cand);
				found = 0;
				break;
			}
	}
	if (found == -1 && first != NULL) {
		snprintf(name, namelen, "%.*s", (int)firstlen, first);
		found = 0;
	}
out:
	free(buf);
	return found;
}

static const struct config_key *
key_find(const char *prefix, const char *name)
{
	size_t plen = strlen(prefix);

	for (size_t i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, prefix, plen) == 0 &&
		    strcmp(keys[i].name + plen, name) == 0)
			return &keys[i];
	return NULL;
}

/* Levenshtein distance, capped; for "did you mean" hints. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], prev, tmp;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

static int
unknown_key(struct parse *p, const config_setting_t *s, const char *prefix)
{
	const char *name = config_setting_name(s), *best = NULL;
	size_t plen = strlen(prefix), bestd = 3;

	for (size_t i = 0; i < NKEYS; i++) {
		const char *k = keys[i].name;
		if (strncmp(k, prefix, plen) != 0 || strchr(k + plen, '.'))
			continue;
		size_t d = distance(name, k + plen);
		if (d < bestd) {
			bestd = d;
			best = k + plen;
		}
	}
	if (best != NULL)
		return fail(p, config_setting_source_line(s),
		    "unknown key '%s%s' (did you mean '%s%s'?)", prefix, name,
		    prefix, best);
	return fail(p, config_setting_source_line(s), "unknown key '%s%s'",
	    prefix, name);
}

char *
config_resolve_path(const char *dir, const char *v)
{
	char *out;

	if (v[0] == '/')
		return strdup(v);
	if (asprintf(&out, "%s/%s", dir, v) == -1)
		return NULL;
	return out;
}

/* Normalises a fingerprint to lowercase hex without colons, in place. */
static void
fingerprint_normalise(char *s)
{
	char *w = s;

	for (const char *r = s; *r != '\0'; r++)
		if (*r != ':')
			*w++ = (char)tolower((unsigned char)*r);
	*w = '\0';
}

static int
string_value(struct parse *p, const struct config_key *k,
    const config_setting_t *s, const char **out)
{
	char why[256];

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(p, config_setting_source_line(s),
		    "'%s' must be a string", k->name);
	*out = config_setting_get_string(s);
	if (k->check != NULL && k->check(*out, why, sizeof(why)) == -1)
		return fail(p, config_setting_source_line(s), "%s: %s",
		    k->name, why);
	return 0;
}

/*
 * Stores the value of setting s (or of the default text def when s is
 * NULL) for key k into the object at base.
 */
static int
store_value(struct parse *p, const struct config *c, const struct config_key *k,
    const config_setting_t *s, const char *def, void *base)
{
	void *dst = (char *)base + k->off;
	int line = s ? config_setting_source_line(s) : 0;
	const char *str = def;
	char text[64];
	long long v;
	int erange = 0;

	switch (k->type) {
	case CK_STRING:
	case CK_PATH:
		if (s != NULL && string_value(p, k, s, &str) == -1)
			return -1;
		if (*str == '\0' && s == NULL)
			return 0;	/* optional and unset: stays NULL */
		if (*str == '\0' && k->type == CK_PATH)
			return fail(p, line, "'%s' must not be empty", k->name);
		free(*(char **)dst);
		*(char **)dst = k->type == CK_PATH ?
		    config_resolve_path(c->dir, str) : strdup(str);
		if (*(char **)dst == NULL)
			return fail(p, line, "out of memory");
		if (k->check == check_fingerprint)
			fingerprint_normalise(*(char **)dst);
		return 0;
	case CK_INT:
		if (s == NULL)
			v = strtoll(def, NULL, 10);
		else if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64)
			return fail(p, line, "'%s' must be an integer",
			    k->name);
		else if (int_as_written(s, &v, &erange, text,
		    sizeof(text)) == -1)
			return fail(p, line, "'%s': cannot find the integer "
			    "as written after '%s =' on this line", k->name,
			    config_setting_name(s));
		if (s == NULL)
			snprintf(text, sizeof(text), "%lld", v);
		if (erange || v < k->min || v > k->max)
			return fail(p, line, "'%s' = %s is out of range "
			    "%lld..%lld%s", k->name, text, k->min, k->max,
			    erange ? " (it does not fit in 64 bits)" : "");
		*(long long *)dst = v;
		return 0;
	case CK_LEVEL:
		if (s != NULL && string_value(p, k, s, &str) == -1)
			return -1;
		for (size_t i = 0; i < sizeof(level_names) /
		    sizeof(level_names[0]); i++)
			if (level_names[i] != NULL &&
			    strcmp(level_names[i], str) == 0) {
				*(long long *)dst = (long long)i;
				return 0;
			}
		return fail(p, line, "'%s' = '%s': not one of err, warning, "
		    "notice, info, debug", k->name, str);
	case CK_ROLE:
		if (string_value(p, k, s, &str) == -1)
			return -1;
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
			if (strcmp(roles[i].name, str) == 0) {
				*(long long *)dst = roles[i].role;
				return 0;
			}
		return fail(p, line, "'%s' = '%s': not one of bureau, "
		    "auditor, operator", k->name, str);
	case CK_STRLIST: {
		struct strlist *l = dst;
		strlist_free(l);
		if (s == NULL) {
			if (*def != '\0' && strlist_push(l, def) == -1)
				return fail(p, line, "out of memory");
			return 0;
		}
		if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(s) != CONFIG_TYPE_LIST)
			return fail(p, line, "'%s' must be a list of strings "
			    "[ \"…\", … ]", k->name);
		int n = config_setting_length(s);
		if (n < k->min || n > k->max)
			return fail(p, line, "'%s' must hold %lld to %lld "
			    "entries", k->name, k->min, k->max);
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s,
			    (unsigned)i);
			if (string_value(p, k, e, &str) == -1)
				return -1;
			for (size_t j = 0; j < l->n; j++)
				if (strcmp(l->v[j], str) == 0)
					return fail(p, line, "'%s': '%s' "
					    "twice", k->name, str);
			if (strlist_push(l, str) == -1)
				return fail(p, line, "out of memory");
		}
		return 0;
	}
	case CK_GROUP:
	case CK_CLIENTS:
	case CK_WITNESSES:
		break;
	}
	return fail(p, line, "'%s': internal error: no storage", k->name);
}

/*
 * Reads the members of group g (NULL: absent, so defaults only; its line,
 * or 0, is gline) whose keys are "<prefix><name>" into base, then the
 * defaults of those not given; a missing required key fails.
 */
static int
read_group(struct parse *p, struct config *c, const config_setting_t *g,
    int gline, const char *prefix, void *base)
{
	size_t plen = strlen(prefix);
	int n = g ? config_setting_length(g) : 0;

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g,
		    (unsigned)i);
		const char *name = config_setting_name(s);
		if (name == NULL || key_find(prefix, name) == NULL)
			return unknown_key(p, s, prefix);
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &keys[i];
		const char *member = k->name + plen;
		if (strncmp(k->name, prefix, plen) != 0 || strchr(member, '.'))
			continue;
		const config_setting_t *s = g ?
		    config_setting_get_member(g, member) : NULL;
		if (s == NULL && k->def == NULL)
			return fail(p, gline, "missing key '%s'", k->name);
		if (k->type == CK_CLIENTS || k->type == CK_WITNESSES)
			continue;	/* read by read_clients(), read_witnesses() */
		if (k->type == CK_GROUP) {
			char sub[64];
			if (s != NULL && config_setting_type(s) !=
			    CONFIG_TYPE_GROUP)
				return fail(p, config_setting_source_line(s),
				    "'%s' must be a group { … }", k->name);
			snprintf(sub, sizeof(sub), "%s.", k->name);
			if (read_group(p, c, s, s ?
			    (int)config_setting_source_line(s) : gline, sub,
			    base) == -1)
				return -1;
			continue;
		}
		if (store_value(p, c, k, s, k->def, base) == -1)
			return -1;
		if (s != NULL && !(k->flags & CK_MEMBER))
			c->lines[k - keys] = (int)config_setting_source_line(s);
	}
	return 0;
}

static void
client_clear(struct config_client *cl)
{
	free(cl->name);
	strlist_free(&cl->codes);
	free(cl->fingerprint);
	free(cl->common_name);
}

static int
read_clients(struct parse *p, struct config *c, const config_setting_t *l)
{
	int n;

	if (l == NULL)
		return 0;
	if (config_setting_type(l) != CONFIG_TYPE_LIST)
		return fail(p, config_setting_source_line(l),
		    "'clients' must be a list ( { … }, … )");
	n = config_setting_length(l);
	if ((c->clients = calloc((size_t)n + 1, sizeof(*c->clients))) == NULL)
		return fail(p, 0, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(l,
		    (unsigned)i);
		struct config_client *cl = &c->clients[i];
		int line = (int)config_setting_source_line(e);

		c->nclients++;
		cl->line = line;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(p, line, "clients: entry %d must be a "
			    "group { name = …; role = …; … }", i + 1);
		if (read_group(p, c, e, line, "clients.", cl) == -1)
			return -1;
		if (cl->fingerprint == NULL && cl->common_name == NULL)
			return fail(p, line, "client '%s': needs "
			    "'fingerprint', 'common_name' or both", cl->name);
		if (cl->role == CONFIG_ROLE_BUREAU && cl->codes.n == 0)
			return fail(p, line, "client '%s': a bureau needs "
			    "'codes', the side codes it speaks for", cl->name);
		if (cl->role != CONFIG_ROLE_BUREAU && cl->codes.n != 0)
			return fail(p, line, "client '%s': only a bureau has "
			    "'codes'", cl->name);
		for (int j = 0; j < i; j++) {
			const struct config_client *o = &c->clients[j];
			if (strcmp(o->name, cl->name) == 0)
				return fail(p, line, "client '%s': name "
				    "already used at line %d", cl->name,
				    o->line);
			if (((o->fingerprint && cl->fingerprint &&
			    strcmp(o->fingerprint, cl->fingerprint) == 0) ||
			    (!o->fingerprint && !cl->fingerprint)) &&
			    ((o->common_name && cl->common_name &&
			    strcmp(o->common_name, cl->common_name) == 0) ||
			    (!o->common_name && !cl->common_name)))
				return fail(p, line, "client '%s': names the "
				    "same certificate as '%s' (line %d)",
				    cl->name, o->name, o->line);
		}
	}
	return 0;
}

static void
witness_clear(struct config_witness *w)
{
	free(w->name);
	free(w->key);
	free(w->url);
	free(w->cacert);
}

static int
read_witnesses(struct parse *p, struct config *c, const config_setting_t *l)
{
	int n;

	if (l == NULL)
		return 0;
	if (config_setting_type(l) != CONFIG_TYPE_LIST)
		return fail(p, config_setting_source_line(l),
		    "'witnesses' must be a list ( { … }, … )");
	n = config_setting_length(l);
	if ((c->witnesses = calloc((size_t)n + 1, sizeof(*c->witnesses))) ==
	    NULL)
		return fail(p, 0, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(l,
		    (unsigned)i);
		struct config_witness *w = &c->witnesses[i];
		int line = (int)config_setting_source_line(e);

		c->nwitnesses++;
		w->line = line;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(p, line, "witnesses: entry %d must be a "
			    "group { name = …; key = …; url = …; }", i + 1);
		if (read_group(p, c, e, line, "witnesses.", w) == -1)
			return -1;
		if (strncmp(w->url, "http://", 7) != 0 &&
		    strncmp(w->url, "https://", 8) != 0)
			return fail(p, line, "witness '%s': url '%s' is not "
			    "http:// or https://", w->name, w->url);
		if (strncmp(w->url, "https://", 8) == 0 && w->cacert == NULL)
			return fail(p, line, "witness '%s': an https:// url "
			    "needs 'cacert', the CA of its server", w->name);
		for (int j = 0; j < i; j++)
			if (strcmp(c->witnesses[j].name, w->name) == 0)
				return fail(p, line, "witness '%s': name "
				    "already used at line %d", w->name,
				    c->witnesses[j].line);
	}
	if (c->witness_quorum > (long long)c->nwitnesses)
		return fail(p, 0, "witness_quorum %lld: only %zu witnesses "
		    "are listed", c->witness_quorum, c->nwitnesses);
	return 0;
}

/* The absolute folder of the file at path. */
static char *
folder_of(const char *path)
{
	char *copy = strdup(path), *slash, *abs;

	if (copy == NULL)
		return NULL;
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	abs = realpath(slash ? copy : ".", NULL);
	free(copy);
	return abs;
}

/* The config is a file we can read: say so plainly when it is not. */
static int
readable_file(struct parse *p)
{
	struct stat st;
	FILE *f;

	if ((f = fopen(p->file, "r")) == NULL)
		return fail(p, 0, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) == -1) {
		fclose(f);
		return fail(p, 0, "cannot open: %s", strerror(errno));
	}
	fclose(f);
	if (S_ISDIR(st.st_mode))
		return fail(p, 0, "is a directory, not a configuration file "
		    "(-c names the file, e.g. /etc/shanhai/shanhaid.conf)");
	if (!S_ISREG(st.st_mode))
		return fail(p, 0, "not a regular file");
	return 0;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct parse p = { path, err, errlen };
	struct config *c;
	config_t cf;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	config_init(&cf);
	if ((c->path = strdup(path)) == NULL ||
	    (c->dir = folder_of(path)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (readable_file(&p) == -1)
		goto fail;
	errno = 0;
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		char name[128];
		const char *efile = config_error_file(&cf);
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read: %s", efile ?
			    efile : path, errno ? strerror(errno) :
			    "an included file is missing or unreadable");
		else {
			if (efile != NULL)
				p.file = efile;
			if (strcmp(config_error_text(&cf),
			    "duplicate setting name") == 0 &&
			    duplicate_name(efile, config_error_line(&cf), name,
			    sizeof(name)) == 0)
				fail(&p, config_error_line(&cf), "duplicate key "
				    "'%s': a key may appear once in its group",
				    name);
			else
				fail(&p, config_error_line(&cf), "%s",
				    config_error_text(&cf));
		}
		goto fail;
	}
	if (read_group(&p, c, config_root_setting(&cf), 0, "", c) == -1 ||
	    read_clients(&p, c, config_lookup(&cf, "clients")) == -1 ||
	    read_witnesses(&p, c, config_lookup(&cf, "witnesses")) == -1)
		goto fail;
	config_destroy(&cf);
	return c;
fail:
	config_destroy(&cf);
	config_free(c);
	return NULL;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &keys[i];
		if (k->flags & CK_MEMBER)
			continue;
		if (k->type == CK_STRING || k->type == CK_PATH)
			free(*(char **)((char *)c + k->off));
		else if (k->type == CK_STRLIST)
			strlist_free((struct strlist *)((char *)c + k->off));
	}
	for (size_t i = 0; i < c->nclients; i++)
		client_clear(&c->clients[i]);
	free(c->clients);
	for (size_t i = 0; i < c->nwitnesses; i++)
		witness_clear(&c->witnesses[i]);
	free(c->witnesses);
	free(c->path);
	free(c->dir);
	free(c);
}

static int
str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/*
 * The witnesses are read at start: a reload keeps the running list. 1 when
 * next already had the same one.
 */
static bool
witnesses_keep(struct config *next, const struct config *old)
{
	struct config_witness *copy;
	bool same = next->nwitnesses == old->nwitnesses;

	for (size_t i = 0; same && i < old->nwitnesses; i++) {
		const struct config_witness *x = &next->witnesses[i];
		const struct config_witness *y = &old->witnesses[i];
		same = str_same(x->name, y->name) && str_same(x->key, y->key) &&
		    str_same(x->url, y->url) && str_same(x->cacert, y->cacert);
	}
	if (same)
		return true;
	if ((copy = calloc(old->nwitnesses + 1, sizeof(*copy))) == NULL)
		return false;	/* next's list stays; the change is reported */
	for (size_t i = 0; i < old->nwitnesses; i++) {
		const struct config_witness *y = &old->witnesses[i];
		copy[i].name = y->name ? strdup(y->name) : NULL;
		copy[i].key = y->key ? strdup(y->key) : NULL;
		copy[i].url = y->url ? strdup(y->url) : NULL;
		copy[i].cacert = y->cacert ? strdup(y->cacert) : NULL;
		copy[i].line = y->line;
	}
	for (size_t i = 0; i < next->nwitnesses; i++)
		witness_clear(&next->witnesses[i]);
	free(next->witnesses);
	next->witnesses = copy;
	next->nwitnesses = old->nwitnesses;
	return false;
}

int
config_keep_restart_only(struct config *next, const struct config *old,
    void (*report)(void *, const char *), void *arg)
{
	char msg[256];
	int kept = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &keys[i];
		void *a = (char *)next + k->off;
		const void *b = (const char *)old + k->off;
		bool same = true;

		if (!(k->flags & CK_RESTART))
			continue;
		switch (k->type) {
		case CK_WITNESSES:
			same = witnesses_keep(next, old);
			break;
		case CK_STRING:
		case CK_PATH: {
			char **sa = a, *const *sb = b;
			same = (*sa == NULL && *sb == NULL) ||
			    (*sa && *sb && strcmp(*sa, *sb) == 0);
			if (!same) {
				free(*sa);
				*sa = *sb ? strdup(*sb) : NULL;
			}
			break;
		}
		case CK_STRLIST: {
			const struct strlist *lb = b;
			same = strlist_eq(a, lb);
			if (!same) {
				strlist_free(a);
				for (size_t j = 0; j < lb->n; j++)
					(void)strlist_push(a, lb->v[j]);
			}
			break;
		}
		default:
			same = *(long long *)a == *(const long long *)b;
			*(long long *)a = *(const long long *)b;
			break;
		}
		if (same)
			continue;
		kept++;
		snprintf(msg, sizeof(msg), "'%s' changed: it takes effect only "
		    "after a restart; the running value stays", k->name);
		report(arg, msg);
	}
	return kept;
}

static const char *
type_name(enum ck_type t)
{
	switch (t) {
	case CK_GROUP:		return "group";
	case CK_CLIENTS:	return "list";
	case CK_WITNESSES:	return "list";
	case CK_STRING:		return "string";
	case CK_PATH:		return "path";
	case CK_INT:		return "integer";
	case CK_LEVEL:		return "level";
	case CK_ROLE:		return "role";
	case CK_STRLIST:	return "strings";
	}
	return "?";
}

void
config_print_keys(FILE *f)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &keys[i];
		const char *def = k->def == NULL ? "(required)" :
		    *k->def == '\0' ? "(unset)" : k->def;
		char range[64] = "";

		if (k->type == CK_INT)
			snprintf(range, sizeof(range), " %lld..%lld", k->min,
			    k->max);
		fprintf(f, "%s\t%s%s\t%s\t%s\t%s\n", k->name,
		    type_name(k->type), range, def,
		    k->flags & CK_RESTART ? "restart" : "reload", k->doc);
	}
}

int
config_key_line(const struct config *c, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, key) == 0)
			return c->lines[i];
	return 0;
}

const char *
config_where(const struct config *c, const char *key, char *buf, size_t len)
{
	int line = config_key_line(c, key);

	if (line > 0)
		snprintf(buf, len, "%s:%d: %s", c->path, line, key);
	else
		snprintf(buf, len, "%s: %s (default)", c->path, key);
	return buf;
}

#define GET0(field)						\
const char *							\
config_get0_##field(const struct config *c)			\
{								\
	return c->field;					\
}
GET0(path)
GET0(state_dir)
GET0(rules_dir)
GET0(console_dir)
GET0(user)
GET0(tls_certificate)
GET0(tls_key)
GET0(tls_client_ca)
GET0(tls_ciphersuites)
GET0(ledger_origin)
GET0(ledger_signing_key)
GET0(ledger_next_key)
GET0(ledger_sm2_key)
GET0(ledger_tiles_dir)

#define GETINT(field)						\
long long							\
config_##field(const struct config *c)				\
{								\
	return c->field;					\
}
GETINT(max_body)
GETINT(max_header)
GETINT(request_timeout)
GETINT(idle_timeout)
GETINT(max_connections)
GETINT(client_connections)
GETINT(client_rate)
GETINT(shutdown_timeout)

enum log_level
config_log_level(const struct config *c)
{
	return (enum log_level)c->log_level;
}

size_t
config_listen_count(const struct config *c)
{
	return c->listen.n;
}

const char *
config_get0_listen(const struct config *c, size_t i)
{
	return i < c->listen.n ? c->listen.v[i] : NULL;
}

size_t
config_client_count(const struct config *c)
{
	return c->nclients;
}

const struct config_client *
config_get0_client(const struct config *c, size_t i)
{
	return i < c->nclients ? &c->clients[i] : NULL;
}

const struct config_client *
config_client_find(const struct config *c, const char *fingerprint,
    const char *common_name)
{
	for (size_t i = 0; i < c->nclients; i++) {
		const struct config_client *cl = &c->clients[i];
		if (cl->fingerprint != NULL && (fingerprint == NULL ||
		    strcmp(cl->fingerprint, fingerprint) != 0))
			continue;
		if (cl->common_name != NULL && (common_name == NULL ||
		    strcmp(cl->common_name, common_name) != 0))
			continue;
		return cl;
	}
	return NULL;
}

const char *
config_client_get0_name(const struct config_client *cl)
{
	return cl->name;
}

enum config_role
config_client_role(const struct config_client *cl)
{
	return (enum config_role)cl->role;
}

size_t
config_client_code_count(const struct config_client *cl)
{
	return cl->codes.n;
}

const char *
config_client_get0_code(const struct config_client *cl, size_t i)
{
	return i < cl->codes.n ? cl->codes.v[i] : NULL;
}

int
config_client_has_code(const struct config_client *cl, const char *code)
{
	for (size_t i = 0; i < cl->codes.n; i++)
		if (strcmp(cl->codes.v[i], code) == 0)
			return 1;
	return 0;
}

const char *
config_role_name(enum config_role role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].role == role)
			return roles[i].name;
	return "none";
}

size_t
config_witness_count(const struct config *c)
{
	return c->nwitnesses;
}

const char *
config_witness_get0_name(const struct config *c, size_t i)
{
	return c->witnesses[i].name;
}

const char *
config_witness_get0_key(const struct config *c, size_t i)
{
	return c->witnesses[i].key;
}

const char *
config_witness_get0_url(const struct config *c, size_t i)
{
	return c->witnesses[i].url;
}

const char *
config_witness_get0_cacert(const struct config *c, size_t i)
{
	return c->witnesses[i].cacert;
}

long long
config_witness_quorum(const struct config *c)
{
	return c->witness_quorum != 0 ? c->witness_quorum :
	    (long long)c->nwitnesses;
}

long long
config_witness_interval(const struct config *c)
{
	return c->witness_interval;
}
