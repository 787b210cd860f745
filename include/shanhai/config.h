/*
 * config: shanhaid.conf (libconfig), SPEC §8. One key table (lib/config.c)
 * says for every key its type, default, bounds, whether a reload can change
 * it, and a one-line doc; parsing, defaults, bounds, the unknown-key error,
 * `shanhaid -t` and `shanhaid -k` (the key list for the docs) all read it.
 * Relative paths are resolved against the folder of the config file, so
 * every path a struct config hands out is absolute.
 *
 * A struct config is immutable once loaded; reload builds a new one.
 */
#ifndef SHANHAI_CONFIG_H
#define SHANHAI_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "shanhai/log.h"

struct config;
struct config_client;

/* Roles are bits so that a route can allow several with one mask. */
enum config_role {
	CONFIG_ROLE_BUREAU = 0x01,
	CONFIG_ROLE_AUDITOR = 0x02,
	CONFIG_ROLE_OPERATOR = 0x04,
};
#define CONFIG_ROLE_ANY	(CONFIG_ROLE_BUREAU | CONFIG_ROLE_AUDITOR | \
			    CONFIG_ROLE_OPERATOR)

/* Room for a SHA-256 fingerprint in lowercase hex and its NUL. */
#define CONFIG_FINGERPRINT_BUFSZ	65

/*
 * Reads and checks the file at path. Returns a new config, or NULL with
 * "file:line: message" in err (file as given in path).
 */
struct config	*config_load(const char *path, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
void		 config_free(struct config *c);

/*
 * For reload: every restart-only key whose value differs between next and
 * old gets old's value back in next, and report(arg, msg) hears one line per
 * such key ("'listen' changed: it takes effect only after a restart").
 * Returns how many keys were kept.
 */
int		 config_keep_restart_only(struct config *next,
		    const struct config *old, void (*report)(void *, const char *),
		    void *arg);

/*
 * The line of the config file that set key (dotted, "tls.key"), or 0 when
 * the key took its default. Not for the members of `clients` entries.
 */
int		 config_key_line(const struct config *c, const char *key);

/*
 * Where key comes from, for a message about its value: "FILE:LINE: key",
 * or "FILE: key (default)"; written into buf (len bytes), which is returned.
 */
const char	*config_where(const struct config *c, const char *key,
		    char *buf, size_t len);

/* Prints the key table, one key a line: name, type, default, reload, doc. */
void		 config_print_keys(FILE *f);

/*
 * Splits "host:port", "[v6addr]:port" or ":port" into host (without
 * brackets; "" for ":port") and port. Returns 0, or -1 when malformed.
 */
int		 config_listen_parse(const char *s, char *host, size_t hostlen,
		    uint16_t *port) __attribute__((warn_unused_result));

/* Borrowed strings, valid while c lives. Paths are absolute. */
/*
 * A path of a configuration file: v itself when absolute, else v under
 * dir (the file's folder). Malloc'd; NULL when memory runs out.
 */
char		*config_resolve_path(const char *dir, const char *v);
const char	*config_get0_path(const struct config *c);	/* as given */
size_t		 config_listen_count(const struct config *c);
const char	*config_get0_listen(const struct config *c, size_t i);
const char	*config_get0_state_dir(const struct config *c);
const char	*config_get0_rules_dir(const struct config *c);
const char	*config_get0_console_dir(const struct config *c);
const char	*config_get0_user(const struct config *c);	/* NULL: unset */
enum log_level	 config_log_level(const struct config *c);
const char	*config_get0_tls_certificate(const struct config *c);
const char	*config_get0_tls_key(const struct config *c);
const char	*config_get0_tls_client_ca(const struct config *c);
const char	*config_get0_tls_ciphersuites(const struct config *c); /* NULL: OpenSSL's */
const char	*config_get0_ledger_origin(const struct config *c);
const char	*config_get0_ledger_signing_key(const struct config *c);
const char	*config_get0_ledger_next_key(const struct config *c); /* NULL: unset */
const char	*config_get0_ledger_sm2_key(const struct config *c); /* NULL: unset */
const char	*config_get0_ledger_tiles_dir(const struct config *c); /* NULL: unset */

/* limits { }: sizes in bytes, times in seconds, 0 where noted = no limit. */
long long	 config_max_body(const struct config *c);
long long	 config_max_header(const struct config *c);
long long	 config_request_timeout(const struct config *c);
long long	 config_idle_timeout(const struct config *c);
long long	 config_max_connections(const struct config *c);
long long	 config_client_connections(const struct config *c);
long long	 config_client_rate(const struct config *c);	/* 0: no limit */
long long	 config_shutdown_timeout(const struct config *c);

/*
 * Witnesses (SPEC 6.6), in file order, i < config_witness_count(): name,
 * verifier key text, url prefix, and the CA file of an https url (NULL:
 * none). The quorum is witness_quorum, or every witness when it is 0.
 */
size_t		 config_witness_count(const struct config *c);
const char	*config_witness_get0_name(const struct config *c, size_t i);
const char	*config_witness_get0_key(const struct config *c, size_t i);
const char	*config_witness_get0_url(const struct config *c, size_t i);
const char	*config_witness_get0_cacert(const struct config *c, size_t i);
long long	 config_witness_quorum(const struct config *c);
long long	 config_witness_interval(const struct config *c);

/* Clients, in file order. */
size_t		 config_client_count(const struct config *c);
const struct config_client *config_get0_client(const struct config *c,
		    size_t i);
/*
 * The first client entry that names this certificate: by fingerprint
 * (lowercase hex of SHA-256 of the DER), by common name (NULL when the
 * certificate has none), or by both when the entry gives both. NULL when
 * none does.
 */
const struct config_client *config_client_find(const struct config *c,
		    const char *fingerprint, const char *common_name);
const char	*config_client_get0_name(const struct config_client *cl);
enum config_role config_client_role(const struct config_client *cl);
/* Side codes a bureau speaks for (none for other roles). */
size_t		 config_client_code_count(const struct config_client *cl);
const char	*config_client_get0_code(const struct config_client *cl,
		    size_t i);
int		 config_client_has_code(const struct config_client *cl,
		    const char *code);
/* "bureau", "auditor", "operator" */
const char	*config_role_name(enum config_role role);

#endif
