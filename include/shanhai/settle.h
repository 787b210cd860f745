/*
 * settle: the settlement engine of SPEC §5. Pure: raw report bytes in,
 * ledger entries out; no I/O, no clock. One engine holds the agreements and
 * all state of their periods, so the daemon, `shanhai settle` and
 * `shanhai verify` run the very same code: the daemon and the auditor
 * rebuild an engine by feeding the ledger's `rules` and `report` entries
 * back through settle_install() and settle_submit(), in ledger order, and
 * compare the entries it gives with the stored ones (doc/DESIGN.md, Engine).
 */
#ifndef SHANHAI_SETTLE_H
#define SHANHAI_SETTLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shanhai/rules.h"

struct settle;
struct settle_result;

/* Largest report accepted (SPEC §3). */
#define SETTLE_REPORT_MAX	65536

/* What settle_submit() made of a report; refusals carry the HTTP status. */
enum settle_code {
	SETTLE_ACCEPTED		= 0,	/* entries were caused */
	SETTLE_DUPLICATE	= 1,	/* byte-identical canonical resubmission: no entries */
	SETTLE_BADJSON		= -400,	/* not JSON, or not an object */
	SETTLE_FORBIDDEN	= -403,	/* the caller does not speak for the report's side */
	SETTLE_NOTFOUND		= -404,	/* no such agreement or year (statements, approvals) */
	SETTLE_CONFLICT		= -409,	/* report_id reused, period already reported, stale supersedes */
	SETTLE_TOOLARGE		= -413,	/* over SETTLE_REPORT_MAX bytes */
	SETTLE_INVALID		= -422,	/* a field is wrong; the message names it */
	SETTLE_UNAVAILABLE	= -503,	/* paged state could not be read back */
};

enum settle_status {
	SETTLE_NONE,		/* no report yet */
	SETTLE_WAITING,
	SETTLE_SETTLED,
	SETTLE_DISPUTED,
};

struct settle	*settle_new(void);
/* Frees the engine and every agreement installed in it. */
void		 settle_free(struct settle *s);

/*
 * Paging (doc/DESIGN.md, Engine): the engine keeps the state of each
 * agreement's fiscal years in memory while they are open; a year whose
 * planned periods all settled, once a later year of the agreement has
 * reports, is handed to put() as a blob and dropped from memory, keeping
 * only its summary and the reference put() gave. It is read back with
 * get() when a report, a report_id lookup or a period query needs it, and
 * handed out again (put() when it changed) once done. The callbacks do the
 * I/O, so the engine stays pure.
 *
 * put() stores a copy of blob[0..len): *ref is SETTLE_PAGE_NONE for a
 * year never put, else the reference its last put() gave, which the blob
 * replaces; on success (0) *ref is where the blob now is. On -1 *ref is
 * unchanged and the year simply stays in memory. get() gives back the
 * blob put under ref as a new malloc()ed buffer (the engine frees it) in
 * *blob, *len: 0, or -1 when it cannot, which refuses the report with
 * SETTLE_UNAVAILABLE and changes nothing.
 *
 * ids_add() and ids_find(), both or neither, keep the index of report
 * ids out of memory too: ids_add() records that year y used the id whose
 * 64-bit hash is h (the engine hashes agreement, side and id), 0 or -1;
 * ids_find() calls fn(fnarg, y) for each year recorded under h, stopping
 * when fn returns other than 0, and returns what fn last returned (0
 * when none did), or -1 when it cannot read the index. Without them the
 * engine keeps a fingerprint of every id in memory (4 bytes an id).
 * SETTLE_PAGE_ALL hands out every year after every report, the latest and
 * the open ones too (for tests: every path then goes through the pager).
 */
#define SETTLE_PAGE_ALL		0x1
#define SETTLE_PAGE_NONE	UINT64_MAX
struct settle_pager {
	int	(*put)(void *arg, uint64_t *ref, const void *blob, size_t len);
	int	(*get)(void *arg, uint64_t ref, void **blob, size_t *len);
	int	(*ids_add)(void *arg, uint64_t h, int32_t y);
	int	(*ids_find)(void *arg, uint64_t h,
		    int (*fn)(void *fnarg, int32_t y), void *fnarg);
	void	 *arg;
	unsigned  flags;
};
/*
 * Sets the pager (copied; arg is borrowed and must outlive the engine or
 * the next call). Only before the first report is submitted: -1 after,
 * and for a pager without put or get, or with one index callback of the
 * two. Without one every year stays in memory.
 */
int		 settle_set_pager(struct settle *s, const struct settle_pager *pg)
		    __attribute__((warn_unused_result));
/* Years handed out and read back so far, and years now in memory. */
struct settle_pager_stats {
	size_t	 puts;
	size_t	 gets;
	size_t	 put_failures;
	size_t	 resident;
	size_t	 paged_out;
};
void		 settle_pager_stats(const struct settle *s,
		    struct settle_pager_stats *st);

/*
 * 0 when installing r (new, or replacing the agreement with its id) keeps
 * every settled period as it is: only title, comments and terms for periods
 * not yet settled may change. -1 with the reason (naming the term or key)
 * in err otherwise. Does not take r.
 */
int		 settle_check_replace(const struct settle *s, const struct rules *r,
		    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * Installs r, replacing the agreement with the same id and keeping the
 * state of its periods. Takes ownership of r on success (0); on refusal
 * (-1, as settle_check_replace()) the caller keeps r.
 */
int		 settle_install(struct settle *s, struct rules *r, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/*
 * Withdraws agreement id (its file left the rules folder): refused (-1)
 * when any of its periods settled. The state is kept so that the same
 * agreement installed again continues where it stopped; until then its
 * reports are refused as for an unknown agreement.
 */
int		 settle_check_remove(const struct settle *s, const char *id,
		    char *err, size_t errlen) __attribute__((warn_unused_result));
int		 settle_remove(struct settle *s, const char *id, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/* The agreement in force with that id, or NULL (borrowed). */
const struct rules *settle_get0_rules(const struct settle *s, const char *id);
/* Agreements in force, sorted by id: count and the i-th (borrowed). */
size_t		 settle_rules_count(const struct settle *s);
const struct rules *settle_get0_rules_at(const struct settle *s, size_t i);

/*
 * Submits one report: buf[0..len) as received. sides lists the side codes
 * the submitter speaks for (a report of role host needs the agreement's host
 * code, role home its home code: SETTLE_FORBIDDEN otherwise, checked after
 * every field is valid and before conflicts); sides NULL skips the check.
 * time (RFC 3339) is added to every entry and submitter (hex fingerprint)
 * to the report entry, each when not NULL.
 * Returns a settle_code. On SETTLE_ACCEPTED and SETTLE_DUPLICATE *res is a
 * new result (free with settle_result_free()); on a refusal *res is NULL,
 * err says which field and why, and the engine is unchanged.
 */
int		 settle_submit(struct settle *s, const char *buf, size_t len,
		    const char *const *sides, size_t nsides, const char *time,
		    const char *submitter, struct settle_result **res, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/*
 * 1 once memory ran out in the middle of a commit: the engine no longer
 * matches the entries it gave, refuses everything with SETTLE_UNAVAILABLE,
 * and must be freed and rebuilt from the ledger. Out of memory before a
 * commit refuses the one report with SETTLE_UNAVAILABLE and changes nothing.
 */
int		 settle_broken(const struct settle *s);

/* The report hash (hex); for a duplicate, the original's (the same). */
const char	*settle_result_hash(const struct settle_result *res);
/* Agreement id, period and role of the report (borrowed). */
const char	*settle_result_agreement(const struct settle_result *res);
const char	*settle_result_period(const struct settle_result *res);
const char	*settle_result_role(const struct settle_result *res);
/* Its report_id (borrowed). */
#define SETTLE_REPORT_ID_BUFSZ	65
const char	*settle_result_report_id(const struct settle_result *res);
/* The period's status after the report. */
enum settle_status settle_result_status(const struct settle_result *res);
/*
 * The status the receipt names: the period's ("settled", …) after a report,
 * the year's ("pending", "approved", …) after an approval.
 */
const char	*settle_result_status_text(const struct settle_result *res);
/*
 * An approval's entry index: the one given to settle_approve(), or for a
 * repeat (SETTLE_DUPLICATE) the index of the approval it repeats.
 */
uint64_t	 settle_result_first_index(const struct settle_result *res);
/*
 * The entries the report caused, in ledger order: report, dispute,
 * adjustments, settlements (none for a duplicate). Entry i as canonical
 * JSON (borrowed, NUL-terminated, length in *lenp when not NULL) and as
 * jansson (borrowed reference).
 */
size_t		 settle_result_count(const struct settle_result *res);
const char	*settle_result_entry(const struct settle_result *res, size_t i,
		    size_t *lenp);
json_t		*settle_result_get0_json(const struct settle_result *res, size_t i);
/*
 * The period entry i concerns (every entry of a result is of the report's
 * agreement), formatted into buf; NULL when i is out of range.
 */
const char	*settle_result_entry_period(const struct settle_result *res,
		    size_t i, char buf[RULES_PERIOD_BUFSZ]);
void		 settle_result_free(struct settle_result *res);

/* "waiting", "settled", "disputed", "none". */
const char	*settle_status_name(enum settle_status st);

/*
 * A period's state for GET /v1/agreements/{id}/periods/{period} (new
 * reference): {"agreement","period","status","term", "figures": the values
 * in force (settlement plus adjustments: base, home, host, floor_topup,
 * beneficiaries, statistics) or null, "reports": hashes of the reports whose
 * figures are in force, "host_report"/"home_report": hashes of the latest
 * reports of each side or null}. NULL with the reason in err for an unknown
 * agreement or a period that is ill-formed or outside [start, end], or
 * when the period's paged state cannot be read back. May read a paged year
 * back through the pager (which is why s is not const).
 */
json_t		*settle_period_json(struct settle *s, const char *agreement,
		    const char *period, char *err, size_t errlen);
/*
 * Reads the period's year back from the pager if it is paged out, so that
 * settle_period_json() will not fail for that reason: 0, or -1 with the
 * reason in err when the pager cannot give it back (0 also for unknown
 * agreements and periods, which settle_period_json() refuses itself).
 */
int		 settle_period_load(struct settle *s, const char *agreement,
		    const char *period, char *err, size_t errlen)
		    __attribute__((warn_unused_result));
/* The status of one period; SETTLE_NONE also for unknown ones. */
enum settle_status settle_period_status(const struct settle *s,
		    const char *agreement, const char *period);
/*
 * For metrics: how many periods of the agreement in force with this id are
 * in each status, indexed by enum settle_status (every period a report
 * spoke of counts once). -1 when no such agreement is in force.
 */
int		 settle_status_counts(const struct settle *s,
		    const char *agreement, size_t counts[SETTLE_DISPUTED + 1])
		    __attribute__((warn_unused_result));

/*
 * Year statements and their approval (SPEC §5a). A year's status:
 * incomplete (not every planned period settled: no statement yet),
 * pending, approved (each side's latest approval names the current
 * statement), changed (a side's latest approval names an earlier one).
 */
enum settle_year_status {
	SETTLE_YEAR_INCOMPLETE,
	SETTLE_YEAR_PENDING,
	SETTLE_YEAR_APPROVED,
	SETTLE_YEAR_CHANGED,
};
const char	*settle_year_status_name(enum settle_year_status st);

/*
 * The answer of GET /v1/agreements/{id}/years/{year}/statement (new
 * reference): {"statement": the §5a object or null, "sha256": its hash or
 * null, "status", "approvals": {"host": A, "home": A}} with A null or
 * {"index","statement","time"}. NULL with the reason in err and *code
 * SETTLE_NOTFOUND (no such agreement or year) or SETTLE_UNAVAILABLE. May
 * read a paged year back.
 */
json_t		*settle_year_json(struct settle *s, const char *agreement,
		    const char *year, int *code, char *err, size_t errlen);

/*
 * What a statement document shows beside the statement: per settled period
 * of the year, the reported amount of each tax in the figures in force, the
 * retention in force (as written in the rules) and the retained amount,
 * and the deductions: [{"period","deductions","taxes":{CODE:
 * {"amount","retain","retained"}}}] (new reference). NULL as
 * settle_year_json().
 */
json_t		*settle_year_detail(struct settle *s, const char *agreement,
		    const char *year, int *code, char *err, size_t errlen);

/*
 * Approves the statement of agreement's year: body[0..len) is
 * {"statement":"<hex>"} (and "role" for a client speaking for both sides),
 * by a client speaking for sides (NULL: any, then "role" is needed). The
 * approval entry gets entry index `index` (the caller's numbering), time
 * and submitter. SETTLE_ACCEPTED with the approval entry in *res;
 * SETTLE_DUPLICATE when this side's latest approval names the same hash
 * (nothing written; settle_result_first_index() says where it is);
 * SETTLE_NOTFOUND, SETTLE_BADJSON, SETTLE_INVALID, SETTLE_FORBIDDEN (not a
 * bureau of that side), SETTLE_CONFLICT (the year is incomplete, or the
 * hash is not the current statement's: err names the current hash),
 * SETTLE_UNAVAILABLE, each with err and nothing changed.
 */
int		 settle_approve(struct settle *s, const char *agreement,
		    const char *year, const char *body, size_t len,
		    const char *const *sides, size_t nsides, const char *time,
		    const char *submitter, uint64_t index,
		    struct settle_result **res, char *err, size_t errlen)
		    __attribute__((warn_unused_result));

/*
 * The replay of an `approval` entry (the daemon's at start, the auditor's):
 * entry[0..len) at ledger index `index` must be exactly what
 * settle_approve() writes for its fields, given the entries before it:
 * the hash of the statement of a complete year, and not a repeat. 0, or -1
 * with the reason in err (the engine is unchanged then). *status (when
 * not NULL) is the year's status after it, a static string.
 */
int		 settle_approval_replay(struct settle *s, const char *entry,
		    size_t len, uint64_t index, const char **status, char *err,
		    size_t errlen)
		    __attribute__((warn_unused_result));

#endif
