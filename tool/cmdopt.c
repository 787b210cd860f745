/*
 * cmdopt: the command line of the verbs that talk HTTPS to shanhaid
 * (see cmdopt.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/client.h"
#include "shanhai/cmdopt.h"

/* Takes ch when it is one of CMDOPT_TLS: 1; -1 (said) when empty; else 0. */
static int
tls_take(struct cmdopt_tls *t, const char *verb, int ch,
    const char *arg)
{
	static const char *const names[] = { "--url", "--cert", "--key",
	    "--cacert" };
	const char **slot;

	switch (ch) {
	case CMDOPT_URL:	slot = &t->url; break;
	case CMDOPT_CERT:	slot = &t->cert; break;
	case CMDOPT_KEY:	slot = &t->key; break;
	case CMDOPT_CACERT:	slot = &t->cacert; break;
	default:		return 0;
	}
	if (arg == NULL || *arg == '\0') {
		fprintf(stderr, "shanhai %s: %s: empty\n", verb,
		    names[ch - CMDOPT_URL]);
		return -1;
	}
	*slot = arg;
	return 1;
}

int
cmdopt_next(const char *verb, int argc, char **argv,
    const struct option *opts, struct cmdopt_tls *t)
{
	int ch, saved = opterr;

	for (;;) {
		opterr = 0;
		/* The leading ':': a missing value is ':', not '?'. */
		ch = getopt_long(argc, argv, ":", opts, NULL);
		opterr = saved;
		if (ch == ':' || ch == '?') {
			const char *opt = optind > 0 && optind <= argc ?
			    argv[optind - 1] : "?";

			fprintf(stderr, "shanhai %s: %s: %s\n", verb, opt,
			    ch == ':' ? "needs a value" :
			    "not an option of this verb");
			return '?';
		}
		switch (ch == -1 ? 0 : tls_take(t, verb, ch, optarg)) {
		case 1:
			continue;
		case -1:
			return '?';
		}
		return ch;
	}
}

/* A file the tool must read: there and readable, or say which option. */
static int
readable(const char *verb, const char *name, const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "shanhai %s: %s %s: %s\n", verb, name, path,
		    strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int
cmdopt_tls_check(const struct cmdopt_tls *t, const char *verb)
{
	static const struct {
		const char	*name;
		const char	*what;
	} need[] = {
		{ "--url", "the daemon's https:// URL" },
		{ "--cert", "the client certificate, PEM" },
		{ "--key", "the client certificate's private key, PEM" },
		{ "--cacert", "the CA certificate of the daemon's server, PEM" },
	};
	const char *const val[] = { t->url, t->cert, t->key, t->cacert };
	char err[1100];

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (val[i] == NULL) {
			fprintf(stderr, "shanhai %s: %s: missing (%s)\n", verb,
			    need[i].name, need[i].what);
			return -1;
		}
	if (client_url_ok(t->url, err, sizeof(err)) == -1) {
		fprintf(stderr, "shanhai %s: --url %s\n", verb, err);
		return -1;
	}
	for (size_t i = 1; i < sizeof(need) / sizeof(need[0]); i++)
		if (readable(verb, need[i].name, val[i]) == -1)
			return -1;
	return 0;
}

struct client *
cmdopt_tls_client(const struct cmdopt_tls *t, const char *verb)
{
	struct client *c;
	char err[1024];

	if ((c = client_new(t->url, t->cert, t->key, t->cacert, err,
	    sizeof(err))) == NULL)
		fprintf(stderr, "shanhai %s: %s\n", verb, err);
	return c;
}
