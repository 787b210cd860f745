/*
 * settle_impl: the inside of the settlement engine, shared by its files
 * (and nothing else; everyone else uses include/shanhai/settle.h):
 *
 *   settle.c         state, segments and their arithmetic, submission
 *   settle_rules.c   installing, replacing and withdrawing agreements
 *   settle_report.c  the report: JSON reader, validation
 *   settle_entry.c   the entries, written in canonical form; results
 *   settle_page.c    closed years out to the pager and back
 *   settle_query.c   period queries, year statements and approvals
 *
 * Functions shared between these files carry the prefix eng_.
 */
#ifndef SHANHAI_SETTLE_IMPL_H
#define SHANHAI_SETTLE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/errbuf.h"
#include "shanhai/rules.h"
#include "shanhai/settle.h"
#include "shanhai/textbuf.h"
#include "rules_impl.h"

struct jkv;
struct period;

#define ROLE_HOST	0
#define ROLE_HOME	1
#define HEXBUF		CANON_HASH_BUFSZ
#define SEG_MAX		12	/* periods in a segment: at most a year of months */

/* A report id of one side, with the hash of the report that used it. */
struct idrec {
	char		*id;
	unsigned char	 hash[32];
};

/* The ids used by the reports of one side in one fiscal year. */
struct idlist {
	struct idrec	*v;
	size_t		 n;
	size_t		 cap;
};

/*
 * Which years used a report id, per side of an agreement: one 32-bit
 * fingerprint per report id (18 bits of the id's hash, never 0, above the
 * 14-bit year). Most are in v, sorted; the latest FP_RECENT in recent, in
 * the order added, merged into v when it is full: 4 bytes an id, and
 * a lookup is a binary search and a short scan. A fingerprint only says
 * where to look: the id itself is in the year's idlist, read back through
 * the pager when the year is paged out. Several ids may share a
 * fingerprint; none is ever missing one. Kept only when the pager has no
 * index of its own (ids_add, ids_find), which then takes its place.
 */
#define FP_RECENT	256

struct fpset {
	uint32_t	*v;		/* sorted */
	size_t		 n;
	size_t		 cap;
	uint32_t	*recent;	/* FP_RECENT, allocated on the first */
	size_t		 nrecent;
};

struct period {
	int32_t		 p;
	int		 has[2];		/* a latest report of the side */
	const char	*id[2];			/* its report_id (in the year's ids) */
	unsigned char	 hash[2][32];		/* its hash */
	int		 has_eff;		/* effective figures exist */
	int		 neff;			/* reports behind them: 1 or 2 */
	unsigned char	 eff_hash[2][32];
	int64_t		 eff_base;
	int		 settled;
	int64_t		*fig[2];		/* latest figures per side */
	int64_t		*eff;			/* effective figures */
	int64_t		*cur;			/* values in force once settled */
};

/* What a fiscal year holds while it is in memory. */
struct yres {
	struct period	*pes[SEG_MAX];		/* by period within the year */
	struct idlist	 ids[2];		/* report ids used, per side */
	int		 dirty;			/* the pager's blob missing or old */
};

/* A side's latest approval of the year's statement (SPEC §5a). */
struct approval {
	int		 has;
	unsigned char	 hash[32];	/* the statement it names */
	uint64_t	 index;		/* its entry */
	char		 time[24];	/* RFC 3339, or "" */
};

/*
 * One fiscal year of an agreement (all its segments). The summary stays in
 * memory when the rest is paged out: each period's status (2 bits, enum
 * settle_status, NONE for no report: eng_year_present()) and which
 * settled (a disputed period may or may not have).
 */
struct year {
	uint64_t	 ref;		/* the pager's, SETTLE_PAGE_NONE before */
	struct yres	*res;		/* NULL: paged out */
	int16_t		 y;		/* 0..9999 (rules_period_parse) */
	uint16_t	 settled;	/* by period index in the year */
	uint32_t	 status;	/* 2 bits a period, enum settle_status:
					   SETTLE_NONE for no report */
};

/* The approvals of one year, kept in memory (few, and small). */
struct yappr {
	int32_t		 y;
	struct approval	 v[2];		/* by role */
};

struct agr {
	char		*id;
	struct rules	*r;
	int		 active;
	size_t		 nreports;
	size_t		 nfig;		/* taxes, deductions, statistics */
	size_t		 nvals;		/* base home host topup, benefs, stats h/h */
	struct year	*years;		/* sorted by y */
	size_t		 nyears;
	size_t		 capyears;
	size_t		 nresident;	/* years with res */
	int32_t		*resident;	/* their y, unordered: what closing
					   walks, not every year */
	size_t		 capresident;
	struct fpset	 fps[2];	/* report ids used, per side, when the
					   pager keeps no index of them */
	struct yappr	*apprs;		/* sorted by y */
	size_t		 napprs;
	size_t		 capapprs;
	size_t		*border;	/* beneficiaries sorted by id */
	size_t		*sorder;	/* statistics sorted by code */
	int64_t		*weights;	/* beneficiaries' weights, as listed */
};

struct settle {
	struct agr	**agrs;		/* sorted by id */
	size_t		  nagrs;
	struct agr	**active;	/* those in force, sorted by id */
	size_t		  nactive;
	size_t		  maxfig;	/* largest nfig, for the report buffer */
	size_t		  maxvals;	/* largest nvals, for the plan buffer */
	void		 *rep_buf;	/* scratch: struct report */
	void		 *plan_buf;	/* scratch: struct plan */
	int64_t		 *delta_buf;	/* scratch: adjustments, SEG_MAX × maxvals */
	int		  scratch_ok;	/* buffers sized for maxfig, maxvals */
	struct jarena	 *ar;		/* scratch: the report as a tree */
	int		  submitted;	/* a report was accepted */
	struct settle_pager pager;
	struct settle_pager_stats pstats;
	struct textbuf	  blob;		/* scratch: a year being paged out */
	int		  broken;	/* memory ran out inside a commit */
};

struct settle_result {
	char		 hash[HEXBUF];
	const char	*status_text;	/* approvals: the year's status */
	uint64_t	 first_index;	/* a repeated approval: its entry */
	char		*agreement;
	char		 period[RULES_PERIOD_BUFSZ];
	char		 report_id[SETTLE_REPORT_ID_BUFSZ];
	const char	*role;
	enum settle_status st;
	enum rules_cadence cadence;
	size_t		 n;
	char		*entries[3 + 2 * SEG_MAX];
	size_t		 lens[3 + 2 * SEG_MAX];
	int32_t		 eperiod[3 + 2 * SEG_MAX];	/* the period each concerns */
	json_t		*json[3 + 2 * SEG_MAX];
};

struct seg {
	const struct rules_term *t;
	int32_t		 first;		/* planned periods first..last */
	int32_t		 last;
	int		 n;
	int		 months;	/* M */
};

struct report {
	struct agr	*a;
	const char	*report_id;
	const char	*supersedes;
	int32_t		 p;
	int		 role;
	int64_t		 fig[];		/* a->nfig */
};

/*
 * A report as a small tree: top-level members, and for taxes and
 * statistics one level of members. Two readers fill it: a fast one for the
 * common shape (an object of printable-ASCII strings without escapes, and
 * objects of such strings), and jansson for everything else, which has the
 * final word on what is JSON. Both give the same tree for what the fast
 * one accepts; the fast one steps aside, never refuses.
 */
enum jv_type {
	JV_STR,
	JV_OBJ,
	JV_NUM,
	JV_OTHER,	/* array, true, false, null */
};

struct jv {
	enum jv_type	 type;
	const char	*s;		/* JV_STR: NUL-terminated */
	size_t		 len;
	int		 nul;		/* JV_STR holding a NUL */
	struct jkv	*kv;		/* JV_OBJ members */
	size_t		 n;
};

struct jkv {
	const char	*k;		/* NUL-terminated */
	size_t		 klen;
	struct jv	 v;
};

/* Member storage for one report; grows, kept by the engine. */
struct jarena {
	struct jkv	*kv;
	size_t		 n;
	size_t		 cap;
	char		*text;		/* the fast reader's copy of the report */
	size_t		 textcap;
};

/* The plan for one report, computed before anything is committed. */
struct plan {
	int		 dispute;
	int		 settle_from;		/* first newly settled index */
	int		 settle_to;		/* one past the last settled */
	int		 nsettled_old;
	struct seg	 sg;
	int64_t		 base;			/* new effective base */
	const int64_t	*new_eff;
	struct period	*pes[SEG_MAX];
	int64_t		 vals[];		/* SEG_MAX × nvals */
};

/* Report-id fingerprints: 18 bits of the id's hash above the 14-bit year. */
#define FP_YEARBITS	14	/* years 0000..9999 */
#define FP_YEARMASK	((1u << FP_YEARBITS) - 1)

/* Value layout of a settled period's `cur`. */
#define V_BASE	0
#define V_HOME	1
#define V_HOST	2
#define V_TOPUP	3
#define V_BEN	4

extern const char eng_broken_msg[];

void	eng_sb_kv(struct textbuf *b, const char *key, const char *val);
void	eng_sb_kamount(struct textbuf *b, const char *key, int64_t fen);
const char *eng_idlist_add(struct idlist *l, const char *id,
	    const unsigned char *hash);
size_t	eng_v_stat_home(const struct agr *a, size_t i);
int	eng_per_year(const struct agr *a);
struct year *eng_year_find(const struct agr *a, int32_t y);
uint16_t eng_year_present(const struct year *yr);
struct yappr *eng_year_apprs(const struct agr *a, int32_t y);
struct yappr *eng_year_apprs_add(struct agr *a, int32_t y);
struct period *eng_year_period(const struct agr *a, const struct year *yr,
	    int32_t p);
void	eng_hex_to_bin(const char *hex, unsigned char *out);
char *eng_bin_to_hex(const unsigned char *bin, char *out);
void	eng_yres_free(struct yres *res);
void	eng_agr_free(struct agr *a);
int	eng_resident_reserve(struct agr *a);
struct agr *eng_find_agr(const struct settle *s, const char *id);
int	eng_rebuild_active(struct settle *s);
size_t	eng_term_index(const struct rules *r, int32_t p);
void	eng_seg_of(const struct rules *r, int32_t p, struct seg *sg);
int	eng_compute_base(const struct rules *r, int32_t p, const int64_t *fig,
	    int64_t *base);
int	eng_check_replace(const struct agr *a, const struct rules *nr,
	    char *err, size_t errlen);
void	eng_jarena_free(struct jarena *ar);
int	eng_fast_read(struct jarena *ar, const char *buf, size_t len,
	    struct jv *top);
int	eng_json_read(struct jarena *ar, const json_t *o, struct jv *top);
void	eng_fast_canon(struct textbuf *b, struct jv *o);
int	eng_validate(struct settle *s, const struct jv *o, struct report *rep,
	    char *err, size_t errlen);
int	eng_check_meta(const char *time, const char *submitter, char *err,
	    size_t errlen);
void	eng_sb_values(struct textbuf *b, const struct agr *a, const int64_t *v,
	    int part);
void	eng_entry_settlement(struct textbuf *b, const struct agr *a,
	    const char *period, const char *term, const int64_t *v,
	    const struct period *pe, const char *time);
void	eng_entry_adjustment(struct textbuf *b, const struct agr *a,
	    const char *period, const int64_t *delta, const char *cause,
	    const char *time);
void	eng_entry_dispute(struct textbuf *b, const struct agr *a,
	    const char *period, const char *host, const char *home,
	    const char *time);
void	eng_entry_report(struct textbuf *b, const char *canon, size_t clen,
	    const char *hash, const char *submitter, const char *time);
int	eng_result_add(struct settle_result *res, struct textbuf *b, int32_t p);
struct settle_result *eng_result_new(const struct agr *a, int32_t p, int role,
	    const char *hash, const char *report_id);
enum settle_status	eng_period_status(const struct agr *a,
	    const struct period *pe);
struct period *eng_period_new(const struct agr *a, int32_t p);
void	eng_year_summarize(const struct agr *a, struct year *yr);
int	eng_year_load(struct settle *s, struct agr *a, struct year *yr,
	    char *err, size_t errlen);
int	eng_year_complete(const struct agr *a, const struct year *yr);
void	eng_close_years(struct settle *s, struct agr *a);

#endif
