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
 * A generation (struct server_gen, generation.h) is what was loaded from
 * files; the server swaps it on SIGHUP and hands it to the HTTPS front.
 * Dependencies go one way: server uses http and generation; http uses
 * generation and never the server.
 */
#ifndef SHANHAI_SERVER_H
#define SHANHAI_SERVER_H

#include <stddef.h>

#include "shanhai/generation.h"

struct event_base;
struct http;
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
