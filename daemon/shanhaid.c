/*
 * shanhaid: the settlement daemon's main. Thin: options, then wiring.
 *
 *	shanhaid -c FILE	serve in the foreground, logging to stderr
 *	shanhaid -t -c FILE	check the config, TLS files and every rule file
 *	shanhaid -k		print the config key table
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/api.h"
#include "shanhai/config.h"
#include "shanhai/console.h"
#include "shanhai/ingest.h"
#include "shanhai/monitor.h"
#include "shanhai/log.h"
#include "shanhai/mirror.h"
#include "shanhai/server.h"
#include "shanhai/sidereport.h"
#include "shanhai/version.h"
#include "shanhai/witnessing.h"

/* The daemon's modules, started in this order (one line each). */
static const struct server_module *const modules[] = {
	&api_module,
	&console_module,
	&mirror_guard_module,	/* before ingest: never sign on from a fork */
	&witnessing_guard_module,
	&ingest_module,
	&sidereport_module,	/* reads ingest's journal */
	&mirror_module,		/* after ingest: fed by its commits */
	&witnessing_module,
	&monitor_module,	/* after the modules whose figures it reads */
};

static int
usage(void)
{
	fprintf(stderr, "usage: shanhaid [-t] -c FILE\n"
	    "       shanhaid -k | -V\n");
	return 2;
}

/*
 * tcmalloc's hooks, when it is the allocator (not under a sanitizer):
 * weak, so that the same code links without it.
 */
int	MallocExtension_SetNumericProperty(const char *, size_t)
	    __attribute__((weak));
int	MallocExtension_GetNumericProperty(const char *, size_t *)
	    __attribute__((weak));

/*
 * Spans freed to tcmalloc's page heap go back to the system at once. The
 * engine's per-agreement arrays grow all through a replay, each step
 * leaving the previous block free; kept, these were some 14 MiB at 10
 * million entries, and the peak RSS with them (doc/DESIGN.md, What still
 * grows with history).
 */
static void
allocator_tune(void)
{
	size_t v = 0;

	if (MallocExtension_SetNumericProperty == NULL ||
	    MallocExtension_GetNumericProperty == NULL)
		return;
	(void)MallocExtension_SetNumericProperty(
	    "tcmalloc.aggressive_memory_decommit", 1);
	if (!MallocExtension_GetNumericProperty(
	    "tcmalloc.aggressive_memory_decommit", &v))
		v = 0;
	log_info("allocator: tcmalloc, freed spans returned at once: %s",
	    v ? "yes" : "no");
}

/* Logs each line of a multi-line message. */
static void
log_lines(const char *msg)
{
	for (const char *line = msg, *nl; line != NULL && *line != '\0';
	    line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		log_warnx("%.*s", nl ? (int)(nl - line) : (int)strlen(line),
		    line);
	}
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct server_gen *g;
	struct server *s;
	char err[8192];
	int ch, check = 0, rc;

	log_set_ident("shanhaid");
	while ((ch = getopt(argc, argv, "c:ktV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			config_print_keys(stdout);
			return 0;
		case 't':
			check = 1;
			break;
		case 'V':
			printf("shanhaid %s\n", SHANHAI_VERSION);
			return 0;
		default:
			return usage();
		}
	}
	if (path == NULL || optind != argc)
		return usage();
	/* A client that hangs up must not kill the daemon mid-write. */
	signal(SIGPIPE, SIG_IGN);

	g = server_gen_load(path, err, sizeof(err));
	if (check) {
		if (g == NULL || ingest_check_keys(server_gen_config(g), err,
		    sizeof(err)) < 0 || server_gen_check_start(g, err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			server_gen_unref(g);
			return 1;
		}
		server_gen_unref(g);
		printf("configuration OK\n");
		return 0;
	}
	if (g == NULL) {
		log_lines(err);
		fatalx("not started: the configuration has errors");
	}
	allocator_tune();
	if ((s = server_new(g, modules, sizeof(modules) / sizeof(modules[0]),
	    err, sizeof(err))) == NULL)
		fatalx("not started: %s", err);
	rc = server_run(s);
	server_free(s);
	return rc;
}
