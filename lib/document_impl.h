/*
 * document_impl: what the document writers share, inside the module only:
 * the statement model checked and parsed into fen (document.c), the message
 * table of both languages, and the formatting of amounts. Not installed.
 */
#ifndef SHANHAI_DOCUMENT_IMPL_H
#define SHANHAI_DOCUMENT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "shanhai/document.h"
#include "shanhai/money.h"

struct textbuf;

/* The money columns of a period and of the total, in this order. */
enum { DOC_BASE, DOC_HOME, DOC_HOST, DOC_TOPUP, DOC_NFIELDS };

struct doc_figures {
	int64_t		 f[DOC_NFIELDS];
	int64_t		*ben;		/* [doc.nben] */
	int64_t		(*stat)[2];	/* [doc.nstat]: home, host */
};

struct doc_tax {
	int		 present;	/* the period's detail names the tax */
	int64_t		 amount;
	int64_t		 retained;
	const char	*retain;	/* as the rules write it: "50%" */
};

struct doc_period {
	const char		*period;
	const char		*term;
	struct doc_figures	 fig;
	int			 has_detail;
	int64_t			 deductions;
	struct doc_tax		*tax;		/* [doc.ntax] */
	int			 has_adj;
	long long		 adj_count;
	int64_t			 adj[3];	/* base, home, host */
};

struct doc_approval {
	int		 present;
	long long	 index;
	const char	*statement;
	const char	*time;
	int		 current;	/* names the current statement */
};

/*
 * The model, checked. Strings are borrowed from the model's JSON, which
 * outlives the rendering; arrays are the doc's own (doc_free()).
 */
struct doc {
	enum document_lang	 lang;
	const json_t		*statement;
	const char		*sha256;
	const char		*status;
	const char		*id, *title, *year, *cadence;
	const char		*home, *host;		/* codes */
	const char		*home_name, *host_name;	/* the codes when absent */
	struct doc_approval	 approval[2];		/* DOC_SIDE_HOST, _HOME */
	const char		**ben;
	size_t			 nben;
	const char		**stat;
	size_t			 nstat;
	const char		**taxcode;
	size_t			 ntax;
	struct doc_period	*per;
	size_t			 nper;
	struct doc_figures	 total;
	int			 has_checkpoint;
	const char		*cp_origin, *cp_root;
	long long		 cp_size;
};

enum { DOC_SIDE_HOST, DOC_SIDE_HOME };

/* The texts of the documents, one per language (document.c). */
enum doc_msg {
	M_TITLE,		/* "%s %s年度收益分成结算单": title, year */
	M_SUBTITLE,
	M_AGREEMENT, M_YEAR, M_CADENCE, M_STATUS,
	M_HOME_SIDE, M_HOST_SIDE,
	M_SEC_PERIODS, M_SEC_TAXES, M_SEC_STATS, M_SEC_BEN, M_SEC_TOTALS,
	M_SEC_SETTLE, M_SEC_APPROVAL, M_SEC_CHECK,
	M_PERIOD, M_TERM, M_BASE, M_HOME, M_HOST, M_TOPUP, M_ADJ,
	M_TAX, M_AMOUNT, M_RETAIN, M_RETAINED, M_DEDUCTIONS,
	M_STAT, M_STAT_HOME, M_STAT_HOST, M_BEN, M_BEN_AMOUNT,
	M_ITEM, M_YUAN, M_WANYUAN, M_TOTAL,
	M_DAXIE,		/* "人民币（大写）" */
	M_REMIT,		/* "上解：%s … %s 元": payer, amount */
	M_GRANT,		/* "补助：… %s %s 元": receiver, amount */
	M_NOTHING_OWED,
	M_SIDE, M_APPROVED_AT, M_PENDING, M_STALE, M_ENTRY,
	M_HASH, M_CP_ORIGIN, M_CP_SIZE, M_CP_ROOT, M_NO_CHECKPOINT,
	M_SEAL, M_PAGE, M_NOTE,
	M_SEC_SUMMARY, M_CONTENT, M_CODE, M_TITLE_ROW,
	M_REMIT_SHORT, M_GRANT_SHORT, M_TREASURY, M_TIME, M_APPROVED_HASH,
	M_NMSG
};

const char	*doc_msg(const struct doc *d, enum doc_msg m);
/* The status word of the model in the document's language. */
const char	*doc_status(const struct doc *d);
/* The name of a tax or statistic code, or the code itself. */
const char	*doc_code_name(const struct doc *d, const char *code);

/* Terminal cells (and spreadsheet columns) that UTF-8 s takes: CJK two. */
size_t		 doc_text_width(const char *s);
/* Grouped yuan: "-1,234,567.89" into buf (MONEY_BUFSZ). */
char		*doc_amount_grouped(int64_t fen, char *buf);
/* 万元 exact to the fen: "123.456789". */
char		*doc_amount_wan(int64_t fen, char *buf);

/*
 * The statement as tables, one per section, in document order: what the
 * CSV, XLSX and text writers print as they are, and the PDF draws. Cells
 * are text, amounts (fen), amounts in 万元 (fen, shown /1,000,000) or
 * integers; a table's last row is a total row when total_row is set.
 */
enum doc_cell_kind { CELL_EMPTY, CELL_TEXT, CELL_AMOUNT, CELL_WAN, CELL_INT };

struct doc_cell {
	enum doc_cell_kind	 kind;
	const char		*text;	/* CELL_TEXT: borrowed or the book's */
	int64_t			 v;
};

struct doc_table {
	enum doc_msg		 title;
	size_t			 ncols;
	const char		*head[8];
	size_t			 nrows;
	struct doc_cell		*cells;	/* [nrows * ncols] */
	int			 total_row;
};

struct doc_book {
	struct doc_table	 t[10];
	size_t			 n;
	char			**strs;	/* texts made for the book */
	size_t			 nstrs;
	int			 failed;
};

/* Builds the tables of d into book; -1 when out of memory. */
int		 doc_book_build(const struct doc *d, struct doc_book *book);
void		 doc_book_free(struct doc_book *book);
/* The cell at row r, column c. */
#define DOC_CELL(t, r, c)	(&(t)->cells[(r) * (t)->ncols + (c)])
/* A cell as the text and PDF writers show it (buf: MONEY_BUFSZ bytes). */
const char	*doc_cell_text(const struct doc_cell *c, char *buf);
/* The remittance: who pays (host or home side) and how much (>= 0). */
void		 doc_transfer(const struct doc *d, int *payer, int64_t *amount);

/* The writers: each appends one document to out, 0 or -1 with err. */
int		 doc_write_pdf(const struct doc *d, struct textbuf *out,
		    char *err, size_t errlen);
int		 doc_write_xlsx(const struct doc *d, struct textbuf *out,
		    char *err, size_t errlen);
int		 doc_write_csv(const struct doc *d, struct textbuf *out,
		    char *err, size_t errlen);
int		 doc_write_table(const struct doc *d, struct textbuf *out,
		    char *err, size_t errlen);

#endif
