/*
 * fuzz.h: what every libFuzzer target in fuzz/ shares. A target defines
 * LLVMFuzzerTestOneInput(); properties that must hold are checked with
 * FUZZ_CHECK, which aborts (a crash libFuzzer saves) with the reason.
 * The same sources build with fuzz/replay.c into plain programs that
 * `make check` runs over the checked-in corpora and past crashes.
 */
#ifndef SHANHAI_FUZZ_H
#define SHANHAI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property failed: %s: ",		\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/*
 * A malloc'd copy of data with a NUL after it (the input itself is not
 * terminated); aborts when out of memory, which the fuzzer then reports.
 */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
