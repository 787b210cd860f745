/*
 * shanhaid: the settlement daemon's main. Thin: options, then wiring.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/log.h"
#include "shanhai/version.h"

int
main(int argc, char **argv)
{
	int ch;

	log_set_ident("shanhaid");
	while ((ch = getopt(argc, argv, "c:tV")) != -1) {
		switch (ch) {
		case 'V':
			printf("shanhaid %s\n", SHANHAI_VERSION);
			return 0;
		default:
			fprintf(stderr, "usage: shanhaid [-t] -c FILE\n");
			return 2;
		}
	}
	fprintf(stderr, "usage: shanhaid [-t] -c FILE\n");
	return 2;
}
