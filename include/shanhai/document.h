/*
 * document: the year's settlement statement (结算单) as the documents the
 * finance bureaus file: PDF, XLSX, CSV, a text table for terminals, and the
 * SPEC §5a statement as canonical JSON with its hash. Chinese first, English
 * on request.
 *
 * Every format renders the same input, the statement document model, a
 * JSON object (what GET /v1/agreements/{id}/years/{year}/statement answers,
 * plus what the documents need besides):
 *
 *   {"statement": <the §5a object>, "sha256": <hex of its canonical bytes>,
 *    "status": "incomplete"|"pending"|"approved"|"changed",
 *    "approvals": {"host": null|{"index":N,"statement":H,"time":T},
 *                  "home": …},
 *    "agreement": {"id","title","home","host","home_name","host_name",
 *                  "cadence"},            (the names may be absent)
 *    "detail": [{"period":P,"deductions":AMOUNT,
 *                "taxes":{CODE:{"amount":A,"retain":RATIO,"retained":A}},
 *                "adjustments":{"count":N,"base":Δ,"home":Δ,"host":Δ}}, …],
 *    "checkpoint": {"origin":O,"size":N,"root":B64} or null}
 *
 * `detail` holds, per period, the effective figures of the period (those of
 * its latest report(s)) with the retention in force as the rules write it;
 * `adjustments` (optional) sums the period's adjustment entries. The model
 * is checked before anything is drawn: every amount a §2 string, sha256 the
 * hash of the statement, the total the sum of the periods, each period's
 * home + host = base, each tax's retained = round(amount × retain), and the
 * retained taxes less deductions = base. A document therefore never shows
 * figures that disagree with each other or with the hash printed on it.
 */
#ifndef SHANHAI_DOCUMENT_H
#define SHANHAI_DOCUMENT_H

#include <stddef.h>

#include <jansson.h>

struct textbuf;

enum document_format {
	DOCUMENT_PDF,
	DOCUMENT_XLSX,
	DOCUMENT_CSV,
	DOCUMENT_TABLE,
	DOCUMENT_JSON,
};

enum document_lang {
	DOCUMENT_ZH,		/* the default: the bureaus file Chinese */
	DOCUMENT_EN,
};

/*
 * Renders model in fmt and lang, appending the document's bytes to out
 * (the caller owns and releases out). Returns 0, or -1 with the reason in
 * err, naming the model's field, when the model is not a complete, self-
 * consistent statement (`statement` null: the year is incomplete), or when
 * a library failed (out of memory, a temporary file for the XLSX writer).
 * On -1, out may hold part of a document: discard it.
 */
int		 document_render(const json_t *model, enum document_format fmt,
		    enum document_lang lang, struct textbuf *out, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* "pdf", "xlsx", "csv", "table", "json" to a format; -1 for anything else. */
int		 document_format_parse(const char *s, enum document_format *fmt)
		    __attribute__((warn_unused_result));
/* "zh", "en" to a language; -1 for anything else. */
int		 document_lang_parse(const char *s, enum document_lang *lang)
		    __attribute__((warn_unused_result));
/* The media type of a format, for Content-Type (and Accept). */
const char	*document_media_type(enum document_format fmt);

#endif
