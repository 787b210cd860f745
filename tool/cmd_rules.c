/*
 * shanhai rules check DIR: validates every agreement of a rules folder with
 * the daemon's own loader, printing file:line: message for each refusal.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shanhai/cmd.h"
#include "shanhai/rules.h"

static void
print_msg(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

int
cmd_rules(int argc, char **argv)
{
	struct rules **list;
	size_t n;
	DIR *d;

	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: shanhai rules check DIR\n");
		return CMD_USAGE;
	}
	if ((d = opendir(argv[2])) == NULL) {
		fprintf(stderr, "shanhai rules: %s: %s\n", argv[2],
		    strerror(errno));
		return CMD_USAGE;
	}
	closedir(d);
	if (rules_load_dir(argv[2], &list, &n, print_msg, NULL) == -1)
		return CMD_FAILED;
	for (size_t i = 0; i < n; i++)
		printf("%s: OK\n", rules_get0_id(list[i]));
	printf("%zu agreement%s OK\n", n, n == 1 ? "" : "s");
	rules_free_list(list, n);
	return CMD_OK;
}
