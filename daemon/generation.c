/*
 * generation: the config, the TLS server context and the agreements,
 * loaded together and shared by reference (see generation.h).
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shanhai/config.h"
#include "shanhai/generation.h"
#include "shanhai/rules.h"
#include "shanhai/tiles.h"
#include "shanhai/tls.h"

struct server_gen {
	int		 refs;
	struct config	*config;
	SSL_CTX		*ssl_ctx;
	struct rules	**rules;
	size_t		 nrules;
	time_t		 loaded_at;
};

/* Appends each message on its own line, so -t can show them all. */
struct errs {
	char	*buf;
	size_t	 len;
	size_t	 used;
	int	 n;
};

static void
errs_add(void *arg, const char *msg)
{
	struct errs *e = arg;
	int m;

	if (e->used >= e->len)
		return;
	m = snprintf(e->buf + e->used, e->len - e->used, "%s%s",
	    e->n++ ? "\n" : "", msg);
	if (m > 0)
		e->used += (size_t)m;
}

/* The rules folder opens as a folder, or err names the key and why. */
static int
rules_dir_ok(const struct config *c, char *err, size_t errlen)
{
	const char *dir = config_get0_rules_dir(c);
	char w[512];
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		closedir(d);
		return 0;
	}
	snprintf(err, errlen, "%s %s: %s", config_where(c, "rules_dir", w,
	    sizeof(w)), dir, strerror(errno));
	return -1;
}

/*
 * With ledger.tiles_dir set, every ledger entry must fit an entry bundle
 * (SPEC §6.5): an agreement whose `rules` entry would be longer is refused
 * here, at start, by -t and on reload, rather than stopping the mirror.
 */
static int
rules_fit_tiles(const struct server_gen *g, char *err, size_t errlen)
{
	char msg[256], *e;
	size_t len;

	if (config_get0_ledger_tiles_dir(g->config) == NULL)
		return 0;
	for (size_t i = 0; i < g->nrules; i++) {
		/* The daemon stamps every entry with a time of this length. */
		if ((e = rules_entry_text(g->rules[i], "2026-01-01T00:00:00Z",
		    &len, msg, sizeof(msg))) == NULL) {
			snprintf(err, errlen, "%s", msg);
			return -1;
		}
		free(e);
		if (len > TILES_MAX_ENTRY) {
			snprintf(err, errlen, "%s/%s.conf: its ledger entry would "
			    "be %zu bytes, more than the %d a tlog-tiles entry "
			    "bundle holds (ledger.tiles_dir is set): shorten the "
			    "file (its comments too: the whole text is in the "
			    "entry)", config_get0_rules_dir(g->config),
			    rules_get0_id(g->rules[i]), len, TILES_MAX_ENTRY);
			return -1;
		}
	}
	return 0;
}

struct server_gen *
server_gen_load(const char *path, char *err, size_t errlen)
{
	struct errs errs = { err, errlen, 0, 0 };
	struct server_gen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->refs = 1;
	g->loaded_at = time(NULL);
	if ((g->config = config_load(path, err, errlen)) == NULL)
		goto fail;
	if ((g->ssl_ctx = tls_server_ctx_new(g->config, err, errlen)) == NULL)
		goto fail;
	if (rules_dir_ok(g->config, err, errlen) == -1)
		goto fail;
	if (rules_load_dir(config_get0_rules_dir(g->config), &g->rules,
	    &g->nrules, errs_add, &errs) == -1) {
		if (errs.n == 0)
			snprintf(err, errlen, "%s: cannot load the rules",
			    config_get0_rules_dir(g->config));
		goto fail;
	}
	if (rules_fit_tiles(g, err, errlen) == -1)
		goto fail;
	return g;
fail:
	server_gen_unref(g);
	return NULL;
}

/* Whether uid/gid may do what (R_OK, W_OK, X_OK bits) to a file of st. */
static int
allowed(const struct stat *st, uid_t uid, gid_t gid, int what)
{
	mode_t m = st->st_mode;
	int have;

	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		have = (m >> 6) & 7;
	else if (st->st_gid == gid)
		have = (m >> 3) & 7;
	else
		have = m & 7;
	return (have & what) == what;
}

/* The state folder: there and writable, or makeable, by uid/gid. */
static int
state_dir_ok(const struct config *c, uid_t uid, gid_t gid, const char *who,
    char *err, size_t errlen)
{
	const char *dir = config_get0_state_dir(c);
	char w[512], parent[4096], *slash;
	struct stat st;

	config_where(c, "state_dir", w, sizeof(w));
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s %s: not a folder", w, dir);
			return -1;
		}
		if (!allowed(&st, uid, gid, W_OK | X_OK)) {
			snprintf(err, errlen, "%s %s: %s cannot write in it "
			    "(owner uid %u, mode %04o)", w, dir, who,
			    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s %s: %s", w, dir, strerror(errno));
		return -1;
	}
	/* Start makes it (mode 0700) in its parent. */
	snprintf(parent, sizeof(parent), "%s", dir);
	if ((slash = strrchr(parent, '/')) != NULL)
		*(slash == parent ? slash + 1 : slash) = '\0';
	if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    !allowed(&st, uid, gid, W_OK | X_OK)) {
		snprintf(err, errlen, "%s %s: No such file or directory, and "
		    "%s cannot make it in %s", w, dir, who, parent);
		return -1;
	}
	return 0;
}

/* A ledger key, read after the switch to uid: it must be uid's. */
static int
key_owner_ok(const struct config *c, const char *key, const char *path,
    uid_t uid, const char *who, char *err, size_t errlen)
{
	char w[512];
	struct stat st;

	if (path == NULL || path[0] == '\0' || stat(path, &st) == -1)
		return 0;	/* loading it said what is wrong */
	if (uid == 0 || st.st_uid == uid)
		return 0;
	snprintf(err, errlen, "%s %s: owned by uid %u, but the daemon reads "
	    "it as %s; run: chown %s %s", config_where(c, key, w, sizeof(w)),
	    path, (unsigned)st.st_uid, who, who, path);
	return -1;
}

int
server_gen_check_start(const struct server_gen *g, char *err, size_t errlen)
{
	static const char *const keys[] = { "ledger.signing_key",
	    "ledger.next_key", "ledger.sm2_key" };
	const struct config *c = g->config;
	const char *user = config_get0_user(c);
	char who[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct passwd *pw;

	snprintf(who, sizeof(who), "uid %u", (unsigned)uid);
	if ((pw = getpwuid(uid)) != NULL)
		snprintf(who, sizeof(who), "%s", pw->pw_name);
	if (uid == 0 && user != NULL) {
		errno = 0;
		if ((pw = getpwnam(user)) == NULL) {
			snprintf(err, errlen, "user '%s': %s", user, errno ?
			    strerror(errno) : "no such user");
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		snprintf(who, sizeof(who), "%s", user);
	}
	if (state_dir_ok(c, uid, gid, who, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *path = i == 0 ? config_get0_ledger_signing_key(c) :
		    i == 1 ? config_get0_ledger_next_key(c) :
		    config_get0_ledger_sm2_key(c);
		if (key_owner_ok(c, keys[i], path, uid, who, err, errlen) == -1)
			return -1;
	}
	return 0;
}

struct server_gen *
server_gen_ref(struct server_gen *g)
{
	if (g != NULL)
		g->refs++;
	return g;
}

void
server_gen_unref(struct server_gen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	rules_free_list(g->rules, g->nrules);
	SSL_CTX_free(g->ssl_ctx);
	config_free(g->config);
	free(g);
}

const struct config *
server_gen_config(const struct server_gen *g)
{
	return g->config;
}

SSL_CTX *
server_gen_ssl_ctx(const struct server_gen *g)
{
	return g->ssl_ctx;
}

size_t
server_gen_rules_count(const struct server_gen *g)
{
	return g->nrules;
}

const struct rules *
server_gen_rules(const struct server_gen *g, size_t i)
{
	return i < g->nrules ? g->rules[i] : NULL;
}

const struct rules *
server_gen_rules_find(const struct server_gen *g, const char *id)
{
	for (size_t i = 0; i < g->nrules; i++)
		if (strcmp(rules_get0_id(g->rules[i]), id) == 0)
			return g->rules[i];
	return NULL;
}

time_t
server_gen_loaded_at(const struct server_gen *g)
{
	return g->loaded_at;
}

void
server_gen_keep_restart_only(struct server_gen *next,
    const struct server_gen *old, void (*report)(void *, const char *),
    void *arg)
{
	config_keep_restart_only(next->config, old->config, report, arg);
}
