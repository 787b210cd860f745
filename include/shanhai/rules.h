/*
 * rules: agreements (SPEC §4), parsed from libconfig text and validated,
 * with every refusal as "file:line: message". An agreement is immutable once
 * loaded and is freed with rules_free(). Parsing works on text; only the
 * rules_load_* functions read files. Also the period arithmetic of §1
 * ("YYYY-MM" / "YYYY-Qn" as consecutive integers).
 */
#ifndef SHANHAI_RULES_H
#define SHANHAI_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct rules;

enum rules_cadence {
	RULES_MONTHLY,
	RULES_QUARTERLY,
	RULES_YEARLY,		/* 年终结算: one period per fiscal year */
};

/* Room for a period ("2026-10", "2026-Q4") or side code and its NUL. */
#define RULES_PERIOD_BUFSZ	16

/*
 * Parses one agreement from text. name is the file name used in messages
 * ("rules/kecheng-yuhang.conf"); its last path component must be
 * "<id>.conf". Returns a new agreement, or NULL with "name:line: message"
 * in err. The text is copied (see rules_get0_text()).
 */
struct rules	*rules_parse(const char *text, const char *name, char *err,
		    size_t errlen);
/* Reads and parses the file at path (messages name it as given). */
struct rules	*rules_load_file(const char *path, char *err, size_t errlen);
/*
 * Loads every "*.conf" of dir, in name order. Each refused file's message
 * goes to report(arg, msg) (skipped when report is NULL); an unreadable
 * directory is reported as "dir: reason". Returns 0 and a malloc'd array of
 * agreements in *out (free with rules_free_list()) when all files loaded;
 * -1 with *out NULL when any was refused.
 */
int		 rules_load_dir(const char *dir, struct rules ***out, size_t *nout,
		    void (*report)(void *arg, const char *msg), void *arg)
		    __attribute__((warn_unused_result));
void		 rules_free(struct rules *r);
void		 rules_free_list(struct rules **list, size_t n);

/* Borrowed strings, valid while r lives. */
const char	*rules_get0_id(const struct rules *r);
const char	*rules_get0_title(const struct rules *r);	/* "" when none */
const char	*rules_get0_home(const struct rules *r);	/* 6-digit code */
const char	*rules_get0_host(const struct rules *r);
/* Free text naming each side's bureau (`home_name`, `host_name`); NULL when none. */
const char	*rules_get0_home_name(const struct rules *r);
const char	*rules_get0_host_name(const struct rules *r);
/* The file's exact text, and the hex SHA-256 of it (the `rules` entry's). */
const char	*rules_get0_text(const struct rules *r);
const char	*rules_get0_sha256(const struct rules *r);
enum rules_cadence rules_cadence(const struct rules *r);
int		 rules_confirm(const struct rules *r);
/* First and last period as integers; last is INT32_MAX without `end`. */
int32_t		 rules_start(const struct rules *r);
int32_t		 rules_end(const struct rules *r);
size_t		 rules_term_count(const struct rules *r);
/* The i-th term's first period, as an integer. */
int32_t		 rules_term_from(const struct rules *r, size_t i);

/*
 * The agreement as JSON for GET /v1/agreements (new reference): id, title,
 * home, host, cadence, start, end (when set), confirm, taxes, statistics,
 * beneficiaries and terms, amounts and ratios as in the file.
 */
json_t		*rules_to_json(const struct rules *r);
/*
 * The ledger's `rules` entry of SPEC §5 (new reference, without "time"):
 * {"type":"rules","agreement":A,"sha256":H_file,"text":…}.
 */
json_t		*rules_entry(const struct rules *r);
/*
 * The same entry with "time" = stamp (none when NULL), as canonical bytes
 * (malloc'd, length in *len): what the daemon writes. NULL with the reason in err.
 */
char		*rules_entry_text(const struct rules *r, const char *stamp,
		    size_t *len, char *err, size_t errlen);

/* "monthly", "quarterly", "yearly"; and the period's pattern ("YYYY-MM", …). */
const char	*rules_cadence_name(enum rules_cadence c);
const char	*rules_cadence_pattern(enum rules_cadence c);
/* Periods in one fiscal year: 12, 4 or 1. */
int		 rules_periods_per_year(enum rules_cadence c);

/*
 * Periods: "YYYY-MM" is year*12 + month-1, "YYYY-Qn" is year*4 + n-1,
 * "YYYY" (yearly) is the year.
 * rules_period_parse() returns -1 when s does not match the cadence.
 */
int		 rules_period_parse(enum rules_cadence c, const char *s,
		    int32_t *out) __attribute__((warn_unused_result));
/* Writes period p into buf (RULES_PERIOD_BUFSZ bytes); returns buf. */
char		*rules_period_format(enum rules_cadence c, int32_t p, char *buf);
/* Fiscal (calendar) year of p, and the months one period covers. */
int32_t		 rules_period_year(enum rules_cadence c, int32_t p);
int		 rules_period_months(enum rules_cadence c);

#endif
