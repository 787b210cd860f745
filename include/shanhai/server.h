/*
 * server: the daemon's life (SPEC §8). It owns the event loop, the loaded
 * state, the HTTPS front (http.h), the signals and sd_notify, and runs the
 * daemon's modules through their hooks:
 *
 *   start       once, before the daemon serves: create the module's own
 *               state (*statep) and add its routes (server_get0_http());
 *   reload      SIGHUP builds a new generation (config, SSL_CTX, rules);
 *               when all of it loaded, every module's reload_check sees it
 *               and may veto (no side effects there); then every
 *               reload_commit runs (side effects that must precede the swap,
 *               e.g. writing changed rules to the ledger; failing still
 *               vetoes, later commits are skipped, earlier ones are not
 *               undone: list a module whose commit cannot be undone last);
 *               then the swap;
 *   stop        SIGTERM: stop taking new work (in-flight work may finish;
 *               the server waits for open requests up to
 *               limits.shutdown_timeout);
 *   free        at exit, after the loop ended, in reverse order of start.
 *
 * A generation (struct server_gen) is reference-counted: a request holds
 * the generation it was dispatched under until it is answered, so work that
 * answers later still sees the rules and clients it started with.
 */
#ifndef SHANHAI_SERVER_H
#define SHANHAI_SERVER_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

struct config;
struct event_base;
struct http;
struct rules;
struct server;
struct server_gen;

struct server_module {
	const char	*name;
	int		(*start)(struct server *s, void **statep, char *err,
			    size_t errlen);
	int		(*reload_check)(struct server *s, void *state,
			    const struct server_gen *next, char *err,
			    size_t errlen);
	int		(*reload_commit)(struct server *s, void *state,
			    const struct server_gen *next, char *err,
			    size_t errlen);
	void		(*stop)(struct server *s, void *state);
	void		(*free)(struct server *s, void *state);
};

/*
 * Loads a generation from the config file at path: the config, the TLS
 * server context and every agreement of rules_dir, with the daemon's own
 * loading code. NULL with "file:line: message" in err. This is what
 * `shanhaid -t` runs.
 */
struct server_gen *server_gen_load(const char *path, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/*
 * For `shanhaid -t`: what a start would find beyond the files the
 * generation loaded, as the user the daemon runs as (the config's `user`
 * when this runs as root, else the caller): state_dir a folder it can
 * write (or can make, in a folder it can write), and the ledger's keys,
 * which the daemon reads after switching user, its own. 0, or -1 with
 * "file:line: key path: reason" in err.
 */
int		 server_gen_check_start(const struct server_gen *g, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
struct server_gen *server_gen_ref(struct server_gen *g);
void		 server_gen_unref(struct server_gen *g);
const struct config *server_gen_config(const struct server_gen *g);
SSL_CTX		*server_gen_ssl_ctx(const struct server_gen *g);
/* The agreements, in file name order; borrowed. */
size_t		 server_gen_rules_count(const struct server_gen *g);
const struct rules *server_gen_rules(const struct server_gen *g, size_t i);
/* The agreement with this id, or NULL. */
const struct rules *server_gen_rules_find(const struct server_gen *g,
		    const char *id);
/* When it was loaded (for "keeping the configuration loaded at …"). */
time_t		 server_gen_loaded_at(const struct server_gen *g);

/*
 * Creates the daemon from a loaded generation (taken over) and the modules
 * (their table must outlive the server): binds the listeners, drops to
 * `user` when root, starts every module. NULL with the reason in err.
 */
struct server	*server_new(struct server_gen *g,
		    const struct server_module *const *modules, size_t n,
		    char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/* Serves until SIGTERM/SIGINT and the drain; returns the exit status. */
int		 server_run(struct server *s);
void		 server_free(struct server *s);

/*
 * SIGHUP's work, callable directly (tests): returns 0 when the new
 * generation is in force, -1 when the old one was kept (the reason logged
 * and in err).
 */
int		 server_reload(struct server *s, char *err, size_t errlen);

struct event_base *server_get0_base(const struct server *s);
struct http	*server_get0_http(const struct server *s);
/* The generation in force now; borrowed until the next reload. */
struct server_gen *server_get0_gen(const struct server *s);
/* The state a module made in its start hook, by name; NULL when none. */
void		*server_module_state(const struct server *s, const char *name);
/* 1 once SIGTERM began the drain. */
int		 server_stopping(const struct server *s);

#endif
