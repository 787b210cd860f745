/*
 * witnessing: the add-checkpoint client of shanhaid and its witnessed
 * checkpoint.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "shanhai/client.h"
#include "shanhai/config.h"
#include "shanhai/cosig.h"
#include "shanhai/http.h"
#include "shanhai/journal.h"
#include "shanhai/log.h"
#include "shanhai/merkle.h"
#include "shanhai/mirror.h"
#include "shanhai/note.h"
#include "shanhai/store.h"
#include "shanhai/tiles.h"
#include "shanhai/witnessing.h"

/* Seconds a witness may stay silent before its request fails. */
#define WITNESS_TIMEOUT	10

struct wit {
	char			*name;
	struct note_verifier	*key;
	struct client		*cl;
	/* under the module's mu */
	uint64_t		 size;		/* last cosigned, as it says */
	char			*line;		/* its cosignature ... */
	uint64_t		 line_size;	/* ... of the checkpoint of this size */
	uint64_t		 errors;
	time_t			 last_ok;
	char			 why[512];	/* the last failure, logged once */
};

struct witnessing {
	struct wit		*w;
	size_t			 nw, quorum;
	long			 interval;
	char			*tiles_dir;	/* NULL: none */
	struct mirror		*mirror;	/* writes the full tiles */
	struct store		*st;
	pthread_t		 thread;
	int			 running;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	/* under mu */
	int			 stop;
	char			*witnessed;	/* note and cosignatures */
	uint64_t		 wsize;
	time_t			 wsigned;	/* when we first saw its size */
	uint64_t		 latest;
	time_t			 latest_at;
	uint64_t		 published;	/* in tiles_dir */
};

/* The add-checkpoint body from old to the note of size. */
static char *
body_for(struct store *st, uint64_t old, uint64_t size, const char *note,
    size_t *len, char *err, size_t errlen)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_SIZE];
	size_t n = 0, cap;
	char *b, *p;

	if (old > 0 && old < size && merkle_consistency_proof(old, size,
	    store_get_hash, st, proof, &n) != 0) {
		snprintf(err, errlen, "consistency proof %" PRIu64 " to %"
		    PRIu64 ": %s", old, size, store_errmsg(st));
		return NULL;
	}
	cap = 32 + n * 46 + 1 + strlen(note) + 1;
	if ((b = malloc(cap)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p = b + sprintf(b, "old %" PRIu64 "\n", old);
	for (size_t i = 0; i < n; i++) {
		char *h = note_b64_encode(proof[i], MERKLE_HASH_SIZE);
		if (h == NULL) {
			free(b);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		p += sprintf(p, "%s\n", h);
		free(h);
	}
	*p++ = '\n';
	strcpy(p, note);
	*len = (size_t)(p - b) + strlen(note);
	return b;
}

/* The one line of lines that is by key, verified on note; to free. */
static char *
check_cosig(const struct wit *w, const char *note, const char *lines,
    size_t len, char *err, size_t errlen)
{
	struct note_verifier *vs[1] = { w->key };
	char *full, *line = NULL;
	int valid[1];
	size_t count;

	if (len == 0 || lines[len - 1] != '\n' ||
	    asprintf(&full, "%s%.*s", note, (int)len, lines) == -1) {
		snprintf(err, errlen, "the answer is not signature lines");
		return NULL;
	}
	if (cosig_verify(full, strlen(full), vs, 1, (uint64_t)time(NULL),
	    valid, NULL, &count, err, errlen) < 0) {
		free(full);
		return NULL;
	}
	if (count == 0)
		snprintf(err, errlen, "no cosignature by its key %s+%08" PRIx32,
		    note_verifier_name(w->key), note_verifier_id(w->key));
	else {
		/* Keep its line alone: others' are not ours to vouch for. */
		char prefix[300];
		const char *p = lines;

		snprintf(prefix, sizeof(prefix), "\xe2\x80\x94 %s ",
		    note_verifier_name(w->key));
		while (p < lines + len) {
			const char *nl = memchr(p, '\n', (size_t)(lines + len -
			    p));
			size_t ll = (size_t)(nl - p) + 1;
			if (strncmp(p, prefix, strlen(prefix)) == 0 &&
			    line == NULL) {
				char *one;
				if (asprintf(&one, "%s%.*s", note, (int)ll, p) !=
				    -1) {
					int v1[1];
					size_t c1;
					if (cosig_verify(one, strlen(one), vs, 1,
					    (uint64_t)time(NULL), v1, NULL, &c1,
					    NULL, 0) == 0 && c1 == 1)
						line = strndup(p, ll);
					free(one);
				}
			}
			p += ll;
		}
		if (line == NULL)
			snprintf(err, errlen, "out of memory");
	}
	free(full);
	return line;
}

/* Parses a text/x.tlog.size body. */
static int
parse_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len < 2 || s[len - 1] != '\n' || (s[0] == '0' && len > 2))
		return -1;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

enum sent { SENT_OK, SENT_FAILED, SENT_AHEAD };

/*
 * Sends the note of size to w, from the size w last cosigned; on 409,
 * once more from the size it returns. SENT_AHEAD when the witness has
 * cosigned more than the ledger holds: never answered with a smaller tree.
 */
static enum sent
send_one(struct witnessing *g, struct wit *w, const char *note, uint64_t size,
    char *err, size_t errlen)
{
	struct client_resp resp;
	uint64_t old, theirs;
	char path[1100], *body, *line;
	size_t len;

	pthread_mutex_lock(&g->mu);
	old = w->size;
	pthread_mutex_unlock(&g->mu);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (old > size) {
			snprintf(err, errlen, "it cosigned size %" PRIu64
			    ", above the ledger's %" PRIu64, old, size);
			return SENT_AHEAD;
		}
		if ((body = body_for(g->st, old, size, note, &len, err,
		    errlen)) == NULL)
			return SENT_FAILED;
		snprintf(path, sizeof(path), "%s/add-checkpoint",
		    client_get0_path(w->cl));
		memset(&resp, 0, sizeof(resp));
		if (client_request(w->cl, "POST", path, "text/plain", body, len,
		    &resp, err, errlen) < 0) {
			free(body);
			return SENT_FAILED;
		}
		free(body);
		if (resp.status == 200) {
			line = check_cosig(w, note, resp.body, resp.len, err,
			    errlen);
			client_resp_free(&resp);
			if (line == NULL)
				return SENT_FAILED;
			pthread_mutex_lock(&g->mu);
			w->size = size;
			free(w->line);
			w->line = line;
			w->line_size = size;
			w->last_ok = time(NULL);
			pthread_mutex_unlock(&g->mu);
			return SENT_OK;
		}
		if (resp.status == 409 && strncmp(resp.ctype,
		    "text/x.tlog.size", 16) == 0 &&
		    parse_size(resp.body, resp.len, &theirs) == 0) {
			client_resp_free(&resp);
			if (theirs == old) {
				snprintf(err, errlen, "409 for size %" PRIu64
				    " from %" PRIu64 ", its own size: another "
				    "tree of that size?", size, old);
				return SENT_FAILED;
			}
			log_info("witnessing: %s last cosigned size %" PRIu64
			    ", not %" PRIu64 ": trying from there", w->name,
			    theirs, old);
			old = theirs;
			pthread_mutex_lock(&g->mu);
			w->size = theirs;
			pthread_mutex_unlock(&g->mu);
			continue;
		}
		snprintf(err, errlen, "%d: %.*s", resp.status,
		    (int)(resp.len > 200 ? 200 : resp.len), resp.body ?
		    resp.body : "");
		if (resp.len > 0 && err[strlen(err) - 1] == '\n')
			err[strlen(err) - 1] = '\0';
		client_resp_free(&resp);
		return SENT_FAILED;
	}
	snprintf(err, errlen, "409 twice");
	return SENT_FAILED;
}

/* One round: every witness gets the latest checkpoint. */
static void
round_once(struct witnessing *g)
{
	char *note = NULL, err[512];
	uint64_t size;
	size_t have = 0;

	if (store_latest_checkpoint(g->st, &size, &note) != 0) {
		log_warnx("witnessing: no checkpoint to send: %s",
		    store_errmsg(g->st));
		return;
	}
	pthread_mutex_lock(&g->mu);
	if (size != g->latest) {
		g->latest = size;
		g->latest_at = time(NULL);
	}
	pthread_mutex_unlock(&g->mu);
	for (size_t i = 0; i < g->nw; i++) {
		struct wit *w = &g->w[i];
		enum sent r;
		int already;

		pthread_mutex_lock(&g->mu);
		already = w->line != NULL && w->line_size == size;
		pthread_mutex_unlock(&g->mu);
		if (already) {
			have++;
			continue;
		}
		r = send_one(g, w, note, size, err, sizeof(err));
		pthread_mutex_lock(&g->mu);
		if (r == SENT_OK) {
			if (w->why[0] != '\0')
				log_notice("witnessing: %s cosigns again (size "
				    "%" PRIu64 ")", w->name, size);
			w->why[0] = '\0';
			have++;
		} else {
			w->errors++;
			if (strcmp(w->why, err) != 0) {
				if (r == SENT_AHEAD)
					log_warnx("witnessing: %s: %s: this "
					    "ledger never signs a smaller tree "
					    "for it; is this state a fork?",
					    w->name, err);
				else
					log_warnx("witnessing: %s: %s", w->name,
					    err);
				snprintf(w->why, sizeof(w->why), "%s", err);
			}
		}
		pthread_mutex_unlock(&g->mu);
	}
	if (have >= g->quorum) {
		/* The note with the cosignatures of this size, in order. */
		size_t len = strlen(note) + 1;
		char *wn, *p;

		pthread_mutex_lock(&g->mu);
		for (size_t i = 0; i < g->nw; i++)
			if (g->w[i].line != NULL && g->w[i].line_size == size)
				len += strlen(g->w[i].line);
		if ((wn = malloc(len)) != NULL) {
			p = wn + sprintf(wn, "%s", note);
			for (size_t i = 0; i < g->nw; i++)
				if (g->w[i].line != NULL && g->w[i].line_size == size)
					p += sprintf(p, "%s", g->w[i].line);
			if (g->wsize != size || g->witnessed == NULL)
				log_info("witnessing: checkpoint %" PRIu64
				    " witnessed by %zu of %zu", size, have,
				    g->nw);
			free(g->witnessed);
			g->witnessed = wn;
			g->wsize = size;
			g->wsigned = g->latest_at;
		}
		pthread_mutex_unlock(&g->mu);
		if (wn != NULL && g->tiles_dir != NULL && size >= g->published) {
			/*
			 * Its partial tiles first, then it as `checkpoint`. The
			 * full tiles the mirror's thread has written are not
			 * read and compared again here: only those it has not
			 * reached yet, if any.
			 */
			uint64_t from = g->published, m = g->mirror != NULL ?
			    mirror_published(g->mirror) : 0;

			if (m > from)
				from = m < size ? m : size;
			if (tiles_publish(g->st, g->tiles_dir, from,
			    size, NULL, err, sizeof(err)) < 0 ||
			    tiles_put_checkpoint(g->tiles_dir, wn, err,
			    sizeof(err)) < 0)
				log_warnx("witnessing: publishing the witnessed "
				    "checkpoint in %s: %s", g->tiles_dir, err);
			else
				g->published = size;
		}
	}
	free(note);
}

static void *
witnessing_main(void *arg)
{
	struct witnessing *g = arg;
	struct timespec until;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		pthread_mutex_unlock(&g->mu);
		round_once(g);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += g->interval;
		pthread_mutex_lock(&g->mu);
		while (!g->stop && pthread_cond_timedwait(&g->cv, &g->mu,
		    &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static void
get_witnessed(struct http_req *r, void *arg)
{
	struct witnessing *g = arg;
	struct evbuffer *b;

	pthread_mutex_lock(&g->mu);
	if (g->witnessed == NULL) {
		pthread_mutex_unlock(&g->mu);
		http_problem(r, 404, NULL, "no checkpoint has %zu "
		    "cosignatures yet (witness_quorum)", g->quorum);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		pthread_mutex_unlock(&g->mu);
		http_problem(r, 500, NULL, "out of memory");
		return;
	}
	evbuffer_add(b, g->witnessed, strlen(g->witnessed));
	pthread_mutex_unlock(&g->mu);
	http_req_add_header(r, "Cache-Control", "no-cache");
	http_reply(r, 200, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/v1/ledger/checkpoint/witnessed", CONFIG_ROLE_ANY,
	  get_witnessed },
};

static void
witnessing_free(struct server *s, void *state)
{
	struct witnessing *g = state;

	if (g == NULL)
		return;
	if (g->running) {
		pthread_mutex_lock(&g->mu);
		g->stop = 1;
		pthread_cond_signal(&g->cv);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thread, NULL);
	}
	for (size_t i = 0; i < g->nw; i++) {
		free(g->w[i].name);
		note_verifier_free(g->w[i].key);
		client_free(g->w[i].cl);
		free(g->w[i].line);
	}
	free(g->w);
	free(g->witnessed);
	free(g->tiles_dir);
	store_close(g->st);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

/* The witnesses of the config, their keys checked and clients made. */
static int
load_witnesses(struct witnessing *g, const struct config *c, char *err,
    size_t errlen)
{
	char why[512];

	g->nw = config_witness_count(c);
	if ((g->w = calloc(g->nw, sizeof(*g->w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < g->nw; i++) {
		struct wit *w = &g->w[i];
		const char *name = config_witness_get0_name(c, i);

		if ((w->name = strdup(name)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (note_verifier_parse(config_witness_get0_key(c, i), &w->key,
		    why, sizeof(why)) < 0) {
			snprintf(err, errlen, "witness '%s': key: %s", name, why);
			return -1;
		}
		if (note_verifier_type(w->key) != NOTE_COSIG_ED25519 ||
		    strcmp(note_verifier_name(w->key), name) != 0) {
			snprintf(err, errlen, "witness '%s': key: not a witness "
			    "key (type 0x04, made by shanhai keygen --witness) "
			    "named '%s'", name, name);
			return -1;
		}
		if ((w->cl = client_new_http(config_witness_get0_url(c, i),
		    config_witness_get0_cacert(c, i), why, sizeof(why))) ==
		    NULL) {
			snprintf(err, errlen, "witness '%s': url: %s", name, why);
			return -1;
		}
		client_set_timeout(w->cl, WITNESS_TIMEOUT);
	}
	return 0;
}

static int
witnessing_start(struct server *s, void **statep, char *err, size_t errlen)
{
	const struct config *c = server_gen_config(server_get0_gen(s));
	struct witnessing *g;
	char why[512], *path;

	*statep = NULL;
	if (config_witness_count(c) == 0)
		return 0;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->quorum = (size_t)config_witness_quorum(c);
	g->interval = (long)config_witness_interval(c);
	if (config_get0_ledger_tiles_dir(c) != NULL) {
		if ((g->tiles_dir = strdup(config_get0_ledger_tiles_dir(c))) ==
		    NULL || tiles_published(g->tiles_dir, &g->published, NULL,
		    why, sizeof(why)) < 0) {
			snprintf(err, errlen, "ledger.tiles_dir: %s", g->tiles_dir ?
			    why : "out of memory");
			goto fail;
		}
	}
	if (load_witnesses(g, c, err, errlen) < 0)
		goto fail;
	if ((path = store_path(config_get0_state_dir(c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	g->st = store_open(path, why, sizeof(why));
	free(path);
	if (g->st == NULL) {
		snprintf(err, errlen, "witnessing: %s", why);
		goto fail;
	}
	g->mirror = mirror_get(s);	/* started before, freed after */
	if (http_add_routes(server_get0_http(s), routes, 1, g) < 0) {
		snprintf(err, errlen, "GET /v1/ledger/checkpoint/witnessed is "
		    "already taken");
		goto fail;
	}
	if (pthread_create(&g->thread, NULL, witnessing_main, g) != 0) {
		snprintf(err, errlen, "witnessing: cannot start a thread: %s",
		    strerror(errno));
		goto fail;
	}
	/* By name in top -H and /proc: what witnessing costs is its own. */
	(void)pthread_setname_np(g->thread, "witnessing");
	g->running = 1;
	log_info("witnessing: %zu witness(es), quorum %zu, every %ld s",
	    g->nw, g->quorum, g->interval);
	*statep = g;
	return 0;
fail:
	witnessing_free(s, g);
	return -1;
}

const struct server_module witnessing_module = {
	.name = "witnessing",
	.start = witnessing_start,
	.free = witnessing_free,
};

size_t
witnessing_stats(const struct server *s, struct witnessing_stat *st,
    size_t n, uint64_t *wsize, uint64_t *lag_entries, double *lag_seconds)
{
	struct witnessing *g = server_module_state(s, witnessing_module.name);

	*wsize = *lag_entries = 0;
	*lag_seconds = 0;
	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->nw && i < n; i++) {
		st[i].name = g->w[i].name;
		st[i].cosigned = g->w[i].size;
		st[i].errors = g->w[i].errors;
		st[i].last_ok = g->w[i].last_ok;
	}
	if (g->witnessed != NULL) {
		*wsize = g->wsize;
		*lag_entries = g->latest - g->wsize;
		if (g->latest > g->wsize)
			*lag_seconds = difftime(time(NULL), g->wsigned);
	} else {
		*lag_entries = g->latest;
		if (g->latest_at != 0)
			*lag_seconds = difftime(time(NULL), g->latest_at);
	}
	pthread_mutex_unlock(&g->mu);
	return g->nw;
}

/*
 * Never a fork: every reachable witness says the size it last cosigned
 * (a 409 to "old 0", or a 200 when it never saw this ledger, which
 * cosigns our latest checkpoint, no harm); one above ours refuses the
 * start.
 */
static int
guard_start(struct server *s, void **statep, char *err, size_t errlen)
{
	const struct config *c = server_gen_config(server_get0_gen(s));
	struct witnessing g;
	char why[512], *path = NULL, *note = NULL;
	uint64_t size = 0, dsize = 0;
	int rc = -1;

	*statep = NULL;
	if (config_witness_count(c) == 0)
		return 0;
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	if (load_witnesses(&g, c, err, errlen) < 0)
		goto done;
	if ((path = store_path(config_get0_state_dir(c))) == NULL ||
	    (g.st = store_open(path, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "never a fork: %s", path ? why :
		    "out of memory");
		goto done;
	}
	if (store_size(g.st, &dsize) < 0) {
		snprintf(err, errlen, "never a fork: %s", store_errmsg(g.st));
		goto done;
	}
	if (store_latest_checkpoint(g.st, &size, &note) != 0) {
		rc = 0;		/* a new ledger: nothing to compare */
		goto done;
	}
	for (size_t i = 0; i < g.nw; i++) {
		struct wit *w = &g.w[i];

		switch (send_one(&g, w, note, size, why, sizeof(why))) {
		case SENT_AHEAD:
			snprintf(err, errlen, "never a fork: witness %s has "
			    "cosigned size %" PRIu64 " of this ledger but the "
			    "database in %s holds only %" PRIu64 " entries: "
			    "this state is older than what was witnessed "
			    "(restored from an old backup?), and signing on "
			    "from it would fork the ledger. Recover the state "
			    "from a mirror or a newer backup", w->name, w->size,
			    config_get0_state_dir(c), dsize);
			goto done;
		case SENT_FAILED:
			log_warnx("never a fork: witness %s did not say its "
			    "size (%s); starting without its word", w->name,
			    why);
			break;
		case SENT_OK:
			break;
		}
	}
	rc = 0;
done:
	free(note);
	free(path);
	for (size_t i = 0; i < g.nw; i++) {
		free(g.w[i].name);
		note_verifier_free(g.w[i].key);
		client_free(g.w[i].cl);
		free(g.w[i].line);
	}
	free(g.w);
	store_close(g.st);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
	return rc;
}

const struct server_module witnessing_guard_module = {
	.name = "witnessing_guard",
	.start = guard_start,
};
