/*
 * statement: the statement document model of one agreement's fiscal year
 * (include/shanhai/document.h), built from the engine: the year's SPEC §5a
 * statement, hash, status and approvals (settle_year_json()), the
 * agreement's names, each period's taxes as reported and retained
 * (settle_year_detail()), and the checkpoint it was computed at. The
 * daemon renders it at the statement endpoint, `shanhai statement
 * --entries` after replaying a ledger file into an engine: the same
 * numbers, from the same code.
 */
#ifndef SHANHAI_STATEMENT_H
#define SHANHAI_STATEMENT_H

#include <stddef.h>

#include <jansson.h>

struct settle;

/*
 * The model (new reference), with "checkpoint" a copy of checkpoint
 * ({"origin","size","root"}; NULL: none). NULL with the reason in err and
 * *code a settle_code: SETTLE_NOTFOUND (no such agreement or year) or
 * SETTLE_UNAVAILABLE.
 */
json_t	*statement_model(struct settle *s, const char *agreement,
	    const char *year, const json_t *checkpoint, int *code, char *err,
	    size_t errlen);

/*
 * The checkpoint object of a signed checkpoint note (its first three
 * lines: origin, size, base64 root): new reference, or NULL when the text
 * is not one.
 */
json_t	*statement_checkpoint(const char *note);

#endif
