/*
 * cmdopt: how the verbs that talk HTTPS to shanhaid (submit, approve,
 * status, statement) read their command line: one getopt_long loop whose
 * messages name the option at fault ("shanhai submit: --key: needs a
 * value"), and the client options --url, --cert, --key and --cacert,
 * parsed and checked in one place:
 *
 *	static const struct option opts[] = {
 *		CMDOPT_TLS,
 *		{ "out", required_argument, NULL, 'o' },
 *		{ NULL, 0, NULL, 0 },
 *	};
 *	struct cmdopt_tls t = { 0 };
 *
 *	optind = 1;
 *	while ((ch = cmdopt_next("submit", argc, argv, opts, &t)) != -1)
 *		switch (ch) { case 'o': ...; default: usage }
 *	if (cmdopt_tls_check(&t, "submit") == -1) ...
 *	c = cmdopt_tls_client(&t, "submit");
 */
#ifndef SHANHAI_CMDOPT_H
#define SHANHAI_CMDOPT_H

#include <getopt.h>

struct client;

enum {
	CMDOPT_URL = 0x100,
	CMDOPT_CERT,
	CMDOPT_KEY,
	CMDOPT_CACERT,
};

/* The four client options, as rows of a struct option table. */
#define CMDOPT_TLS \
	{ "url", required_argument, NULL, CMDOPT_URL }, \
	{ "cert", required_argument, NULL, CMDOPT_CERT }, \
	{ "key", required_argument, NULL, CMDOPT_KEY }, \
	{ "cacert", required_argument, NULL, CMDOPT_CACERT }

struct cmdopt_tls {
	const char	*url;
	const char	*cert;
	const char	*key;
	const char	*cacert;
};

/*
 * getopt_long(argc, argv, "", opts) without getopt's own messages, the
 * client options taken into t: the next other option's value, -1 after
 * the last one (positional arguments from optind on), or '?' once
 * "shanhai VERB: --x: needs a value", "… --x: empty" or "… --x: not an
 * option of this verb" was printed.
 */
int		 cmdopt_next(const char *verb, int argc, char **argv,
		    const struct option *opts, struct cmdopt_tls *t);
/*
 * Whether all four are there and usable: the URL https://, each file
 * readable. 0, or -1 after "shanhai VERB: --cert: missing (…)" or
 * "shanhai VERB: --key FILE: Permission denied" (the first at fault).
 */
int		 cmdopt_tls_check(const struct cmdopt_tls *t, const char *verb);
/* The client of t, or NULL after "shanhai VERB: <why>". */
struct client	*cmdopt_tls_client(const struct cmdopt_tls *t,
		    const char *verb);

#endif
