/*
 * fuzz_audit: the replay of arbitrary ledgers (the input's lines) gives the
 * same verdict, failing index and message with one worker as with three,
 * and never crashes or leaks: whatever the damage, the first failure does
 * not depend on how the agreements were spread over threads.
 */
#include "fuzz.h"

#include "shanhai/audit.h"

static int
run(unsigned workers, const char *s, size_t len, uint64_t *at, char *err,
    size_t errlen)
{
	struct audit *a = audit_new(workers);
	uint64_t n = 0;
	size_t start = 0;
	int rc;

	if (a == NULL)
		abort();
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		if (audit_entry(a, n++, s + start, i - start) < 0)
			abort();
		start = i + 1;
	}
	rc = audit_finish(a, n, at, err, errlen);
	audit_free(a);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char e1[1024] = "", e3[1024] = "";
	uint64_t a1 = 0, a3 = 0;
	int r1, r3;

	r1 = run(1, (const char *)data, size, &a1, e1, sizeof(e1));
	r3 = run(3, (const char *)data, size, &a3, e3, sizeof(e3));
	FUZZ_CHECK(r1 == r3, "1 worker: %d, 3 workers: %d (%s | %s)", r1, r3,
	    e1, e3);
	if (r1 != 0) {
		FUZZ_CHECK(a1 == a3, "at %llu vs %llu", (unsigned long long)a1,
		    (unsigned long long)a3);
		FUZZ_CHECK(strcmp(e1, e3) == 0, "'%s' vs '%s'", e1, e3);
	}
	return 0;
}
