/*
 * rules_impl: the inside of an agreement, shared by rules.c (which builds
 * it) and settle.c (which computes with it). Nothing else includes this;
 * everyone else uses the accessors of include/shanhai/rules.h.
 */
#ifndef SHANHAI_RULES_IMPL_H
#define SHANHAI_RULES_IMPL_H

#include <stdint.h>

#include "shanhai/money.h"
#include "shanhai/rules.h"

#define RULES_CODE_BUFSZ	33	/* ^[a-z][a-z0-9_]{0,31}$ */
#define RULES_ID_BUFSZ		65	/* ^[a-z0-9][a-z0-9._-]{0,63}$ */
#define RULES_RATIO_BUFSZ	24	/* "999999999/999999999" */

enum rules_stat_mode {
	RULES_STAT_HOST,
	RULES_STAT_HOME,
	RULES_STAT_SPLIT,
	RULES_STAT_BOTH,
};

enum rules_term_kind {
	RULES_TERM_FIXED,
	RULES_TERM_HOME,
	RULES_TERM_BANDS,
};

/*
 * A tax and its retention; a statistic and its attribution. The agreement
 * holds the declared ones; each term holds its own copy of both lists, in
 * the same order, with its overrides applied (`set`: the term names it).
 */
struct rules_tax {
	char			code[RULES_CODE_BUFSZ];
	struct money_ratio	retain;
	char			retain_text[RULES_RATIO_BUFSZ];
	int			set;
};

struct rules_stat {
	char			code[RULES_CODE_BUFSZ];
	enum rules_stat_mode	mode;
	struct money_ratio	home;		/* split only */
	char			home_text[RULES_RATIO_BUFSZ];
	int			set;
};

struct rules_benef {
	char			id[RULES_ID_BUFSZ];
	int64_t			weight;
};

struct rules_band {
	int			has_upto;
	int64_t			upto;		/* fen */
	struct money_ratio	home;
	char			home_text[RULES_RATIO_BUFSZ];
	/* home as num / band_den of the term's common denominator */
	__int128		num;
};

struct rules_term {
	int32_t			from;
	int			line;
	enum rules_term_kind	kind;
	/* fixed: annual given, or principal * rate */
	int			has_annual;
	int64_t			annual;		/* always set for fixed */
	int64_t			principal;
	struct money_ratio	rate;
	char			rate_text[RULES_RATIO_BUFSZ];
	/* home */
	struct money_ratio	home;
	char			home_text[RULES_RATIO_BUFSZ];
	/* bands, with the lcm of their denominators */
	struct rules_band	*bands;
	size_t			nbands;
	__int128		band_den;
	int			has_floor;
	int64_t			floor;
	int			has_cap;
	int64_t			cap;
	/* retention and attribution in force: ntaxes and nstats entries */
	struct rules_tax	*taxes;
	struct rules_stat	*stats;
};

struct rules {
	char			*id;
	char			*title;
	char			*home_name;	/* NULL when none */
	char			*host_name;
	char			home[7];
	char			host[7];
	enum rules_cadence	cadence;
	int			confirm;
	int32_t			start;
	int32_t			end;		/* INT32_MAX without `end` */
	int			has_end;
	struct rules_tax	*taxes;
	size_t			ntaxes;
	struct rules_stat	*stats;
	size_t			nstats;
	struct rules_benef	*benefs;
	size_t			nbenefs;
	struct rules_term	*terms;
	size_t			nterms;
	char			*text;
	char			sha256[65];
};

#endif
