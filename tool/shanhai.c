/*
 * shanhai: the tool for people. Thin: it finds the verb and hands over argv.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "shanhai/cmd.h"
#include "shanhai/version.h"

struct verb {
	const char	*name;
	int		(*run)(int, char **);
	const char	*usage;
};

static int	cmd_version(int, char **);

static const struct verb verbs[] = {
	{ "version", cmd_version, "version" },
	{ "settle", cmd_settle, "settle --rules DIR REPORTS.jsonl" },
	{ "rules", cmd_rules, "rules check DIR" },
	{ "keygen", cmd_keygen, "keygen --origin ORIGIN --out FILE [--sm2 | --witness]" },
	{ "statement", cmd_statement, "statement --agreement A --year Y "
	    "(--entries FILE | --url URL --cert C --key K --cacert CA)\n"
	    "              [--format table|csv|json]" },
	{ "status", cmd_status, "status --url URL --cert C --key K --cacert CA "
	    "[--format text|json]" },
	{ "export", cmd_export, "export --format beancount|hledger --entries FILE "
	    "[--agreement ID] [--rules DIR]" },
	{ "verify", cmd_verify, "verify --vkey FILE [--vkey FILE ...] --checkpoint FILE\n"
	    "              [--entries FILE] [--receipt FILE] [--from OLDCHECKPOINT --proof FILE]\n"
	    "              [--witness FILE ... [--quorum N]]" },
	{ "witness", cmd_witness, "witness [-t] -c FILE" },
	{ "backup", cmd_backup, "backup -c CONF --to FILE" },
	{ "restore", cmd_restore, "restore --from DIR|https://URL --vkey FILE "
	    "--state DIR\n"
	    "              [--cacert FILE] [--witness FILE ... [--quorum N]]" },
	/* Test fixtures (doc/DESIGN.md, Ledger): not listed. */
	{ "fixture", cmd_fixture, NULL },
	{ "submit", cmd_submit, "submit --url URL --cert FILE --key FILE"
	    " --cacert FILE [--out FILE] REPORT.json" },
	{ "approve", cmd_approve, "approve --url URL --cert FILE --key FILE"
	    " --cacert FILE --agreement ID --year YEAR [--yes]" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: shanhai VERB [ARGS]\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].usage != NULL)
			fprintf(f, "       shanhai %s\n", verbs[i].usage);
}

static int
cmd_version(int argc, char **argv)
{
	printf("shanhai %s\n", SHANHAI_VERSION);
	return CMD_OK;
}

int
main(int argc, char **argv)
{
	/* A server closing while a verb sends is an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return CMD_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CMD_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "shanhai: unknown verb '%s'\n", argv[1]);
	usage(stderr);
	return CMD_USAGE;
}
