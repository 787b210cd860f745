/*
 * rules_file: agreements read from files and folders (the rules module
 * parses them from text; this is the I/O around it, for the daemon and the
 * tool alike). See include/shanhai/rules.h.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shanhai/rules.h"

struct rules *
rules_load_file(const char *path, char *err, size_t errlen)
{
	struct rules *r = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* Rule files are small; read it whole. */
	{
		size_t cap = 4096;
		size_t n;

		if ((text = malloc(cap)) == NULL)
			goto oom;
		while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
			len += n;
			if (len + 1 == cap) {
				char *nt;

				if (cap >= (size_t)16 << 20) {
					snprintf(err, errlen, "%s: file too large",
					    path);
					goto out;
				}
				if ((nt = realloc(text, cap * 2)) == NULL)
					goto oom;
				text = nt;
				cap *= 2;
			}
		}
		if (ferror(f)) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		text[len] = '\0';
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s:1: NUL byte in rule file", path);
		goto out;
	}
	r = rules_parse(text, path, err, errlen);
	goto out;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
out:
	free(text);
	fclose(f);
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
rules_load_dir(const char *dir, struct rules ***out, size_t *nout,
    void (*report)(void *arg, const char *msg), void *arg)
{
	char **names = NULL, msg[1024];
	struct rules **list = NULL;
	size_t n = 0, cap = 0, nok = 0;
	struct dirent *de;
	int bad = 0;
	DIR *d;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(dir)) == NULL) {
		snprintf(msg, sizeof(msg), "%s: %s", dir, strerror(errno));
		if (report)
			report(arg, msg);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l <= 5 || strcmp(de->d_name + l - 5, ".conf") != 0 ||
		    de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) *
			    sizeof(*names));

			if (nn == NULL)
				goto oom;
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto oom;
		n++;
	}
	closedir(d);
	d = NULL;
	qsort(names, n, sizeof(*names), name_cmp);
	if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((list[nok] = rules_load_file(path, msg, sizeof(msg))) == NULL) {
			bad = 1;
			if (report)
				report(arg, msg);
		} else
			nok++;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (bad) {
		rules_free_list(list, nok);
		return -1;
	}
	*out = list;
	*nout = nok;
	return 0;
oom:
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (report)
		report(arg, "out of memory");
	return -1;
}
