/*
 * generation: everything shanhaid loads from files, as one
 * reference-counted value: the config, the server's SSL_CTX and the
 * agreements of rules_dir. server.c loads one at start and a new one on
 * SIGHUP and swaps it in; the HTTPS front (http.h) and the modules read
 * the one a request was dispatched under. A request holds its generation
 * until it is answered, so work that answers later still sees the rules
 * and clients it started with.
 *
 * It depends on config, tls and rules only: http reads a generation
 * without knowing the server (server -> http -> generation, one way).
 * The type keeps the name it had inside server.c, struct server_gen.
 */
#ifndef SHANHAI_GENERATION_H
#define SHANHAI_GENERATION_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

struct config;
struct rules;
struct server_gen;

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
/*
 * For a reload: the settings that take a restart (listen, state_dir,
 * ledger.origin, …) are set back in next to old's, and report(arg, msg)
 * hears one line for each that differed.
 */
void		 server_gen_keep_restart_only(struct server_gen *next,
		    const struct server_gen *old,
		    void (*report)(void *, const char *), void *arg);
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

#endif
