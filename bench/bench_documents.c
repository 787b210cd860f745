/*
 * bench_documents: how long one year's statement takes to render, per
 * format, in the process that renders it (the daemon's statement endpoint,
 * or `shanhai statement`): the first render (fonts found and loaded) and
 * then the median and worst of the following ones. Target: a monthly
 * agreement's year as PDF or XLSX in under 200 ms.
 *
 * usage: bench_documents MODEL.json [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "shanhai/document.h"
#include "shanhai/textbuf.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char		*name;
		enum document_format	 fmt;
	} formats[] = {
		{ "pdf", DOCUMENT_PDF }, { "xlsx", DOCUMENT_XLSX },
		{ "csv", DOCUMENT_CSV }, { "table", DOCUMENT_TABLE },
		{ "json", DOCUMENT_JSON },
	};
	json_error_t jerr;
	json_t *model;
	double *t;
	char err[512];
	int runs;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_documents MODEL.json [RUNS]\n");
		return 2;
	}
	runs = argc == 3 ? atoi(argv[2]) : 20;
	if (runs < 1 || (t = calloc((size_t)runs, sizeof(*t))) == NULL)
		return 2;
	if ((model = json_load_file(argv[1], 0, &jerr)) == NULL) {
		fprintf(stderr, "%s:%d: %s\n", argv[1], jerr.line, jerr.text);
		return 2;
	}
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		double first = 0;
		size_t bytes = 0;

		for (int i = -1; i < runs; i++) {
			struct textbuf out = TEXTBUF_INIT;
			double t0 = now_ms(), dt;

			if (document_render(model, formats[f].fmt, DOCUMENT_ZH,
			    &out, err, sizeof(err)) != 0) {
				fprintf(stderr, "%s: %s\n", formats[f].name,
				    err);
				return 1;
			}
			dt = now_ms() - t0;
			bytes = out.len;
			textbuf_release(&out);
			if (i < 0)
				first = dt;
			else
				t[i] = dt;
		}
		qsort(t, (size_t)runs, sizeof(*t), cmp_double);
		printf("%-5s %7zu bytes: first %7.1f ms, median %7.1f ms, "
		    "worst %7.1f ms (%d runs)%s\n", formats[f].name, bytes,
		    first, t[runs / 2], t[runs - 1], runs,
		    (formats[f].fmt == DOCUMENT_PDF ||
		    formats[f].fmt == DOCUMENT_XLSX) ? "  [target < 200 ms]" :
		    "");
	}
	json_decref(model);
	free(t);
	return 0;
}
