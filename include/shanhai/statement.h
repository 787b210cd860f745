/*
 * statement: one agreement's settlement for one fiscal year, for people.
 * Ledger entries go in one at a time, in ledger order (as served by
 * /v1/ledger/entries or printed by `shanhai settle`); out comes, per period,
 * the current figures (the settlement plus every later adjustment), the
 * period's status, and the year's totals, as a table, CSV or JSON.
 * Entries of other agreements and other years are skipped.
 */
#ifndef SHANHAI_STATEMENT_H
#define SHANHAI_STATEMENT_H

#include <stddef.h>
#include <stdio.h>

struct statement;

enum statement_format {
	STATEMENT_TABLE,
	STATEMENT_CSV,
	STATEMENT_JSON,
};

/*
 * A new, empty statement of agreement for fiscal year year; NULL when out
 * of memory.
 */
struct statement *statement_new(const char *agreement, int year);
void		 statement_free(struct statement *st);

/*
 * Takes one ledger entry, buf[0..len) (one JSON object, no newline).
 * Returns 0, or -1 with the reason in err when the entry is not a JSON
 * object, or one of this agreement's entries is ill-formed (a missing
 * field, an amount that is not a SPEC §2 string, an adjustment of a period
 * that never settled). The statement is unchanged on -1.
 */
int		 statement_add(struct statement *st, const char *buf, size_t len,
		    char *err, size_t errlen) __attribute__((warn_unused_result));

/* How many periods of the year the entries spoke of. */
size_t		 statement_period_count(const struct statement *st);

/*
 * Writes the statement to f in the given format. Returns 0, or -1 when
 * out of memory or an amount overflowed (with the reason in err); write
 * errors are left to the caller's ferror(f).
 */
int		 statement_print(const struct statement *st,
		    enum statement_format fmt, FILE *f, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

/* "table", "csv", "json" to a format; -1 for anything else. */
int		 statement_format_parse(const char *s, enum statement_format *fmt)
		    __attribute__((warn_unused_result));

#endif
