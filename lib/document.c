/*
 * document: checks the statement document model (include/shanhai/document.h)
 * and parses it into fen once, holds the texts of both languages, and hands
 * the checked model to the writer of the format asked for. The JSON form
 * (the §5a statement, canonical, and its hash) is written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/document.h"
#include "shanhai/money.h"
#include "shanhai/textbuf.h"

#include "document_impl.h"

static const char *const msgs[2][M_NMSG] = {
	[DOCUMENT_ZH] = {
		[M_TITLE] = "%s %s年度收益分成结算单",
		[M_SUBTITLE] = "山海协作飞地收益分成 · 年终结算",
		[M_AGREEMENT] = "协议编号",
		[M_YEAR] = "结算年度",
		[M_CADENCE] = "结算周期",
		[M_STATUS] = "确认状态",
		[M_HOME_SIDE] = "飞出地",
		[M_HOST_SIDE] = "飞入地",
		[M_SEC_PERIODS] = "一、分期结算",
		[M_SEC_TAXES] = "二、税收明细",
		[M_SEC_STATS] = "三、统计归属",
		[M_SEC_BEN] = "四、受益主体",
		[M_SEC_TOTALS] = "五、年度合计",
		[M_SEC_SETTLE] = "六、上解与补助",
		[M_SEC_APPROVAL] = "七、双方确认",
		[M_SEC_CHECK] = "八、核验信息",
		[M_PERIOD] = "期间",
		[M_TERM] = "适用条款",
		[M_BASE] = "分成基数",
		[M_HOME] = "飞出地分成",
		[M_HOST] = "飞入地留存",
		[M_TOPUP] = "保底补足",
		[M_ADJ] = "更正调整（飞出地）",
		[M_TAX] = "税种",
		[M_AMOUNT] = "申报税额",
		[M_RETAIN] = "留成比例",
		[M_RETAINED] = "留成额",
		[M_DEDUCTIONS] = "扣减项",
		[M_STAT] = "统计指标",
		[M_STAT_HOME] = "计入飞出地",
		[M_STAT_HOST] = "计入飞入地",
		[M_BEN] = "受益主体",
		[M_BEN_AMOUNT] = "分得金额（元）",
		[M_ITEM] = "项目",
		[M_YUAN] = "金额（元）",
		[M_WANYUAN] = "金额（万元）",
		[M_TOTAL] = "合计",
		[M_DAXIE] = "飞出地分成合计（大写）：人民币",
		[M_REMIT] = "上解：%s 通过省级年终结算上解 %s 元",
		[M_GRANT] = "补助：省级年终结算补助 %s %s 元",
		[M_NOTHING_OWED] = "本年度双方之间无需划转。",
		[M_SIDE] = "确认方",
		[M_APPROVED_AT] = "已确认",
		[M_PENDING] = "待确认",
		[M_STALE] = "待确认（曾确认此前版本）",
		[M_ENTRY] = "账本条目",
		[M_HASH] = "结算单哈希（SHA-256）",
		[M_CP_ORIGIN] = "检查点来源",
		[M_CP_SIZE] = "账本条目数",
		[M_CP_ROOT] = "根哈希",
		[M_NO_CHECKPOINT] = "（离线生成，未附检查点）",
		[M_SEAL] = "（盖章）",
		[M_PAGE] = "第 %d 页",
		[M_NOTE] = "本结算单金额均取自签名账本，精确到分；"
		    "可凭结算单哈希与检查点向账本核验打印件。",
		[M_SEC_SUMMARY] = "概况",
		[M_CONTENT] = "内容",
		[M_CODE] = "行政区划代码",
		[M_TITLE_ROW] = "协议名称",
		[M_REMIT_SHORT] = "上解",
		[M_GRANT_SHORT] = "补助",
		[M_TREASURY] = "财政",
		[M_TIME] = "确认时间",
		[M_APPROVED_HASH] = "所确认的结算单哈希",
	},
	[DOCUMENT_EN] = {
		[M_TITLE] = "%s: revenue-sharing settlement statement, "
		    "fiscal year %s",
		[M_SUBTITLE] = "Mountain-Sea Cooperation enclave, year-end "
		    "settlement",
		[M_AGREEMENT] = "Agreement",
		[M_YEAR] = "Fiscal year",
		[M_CADENCE] = "Cadence",
		[M_STATUS] = "Status",
		[M_HOME_SIDE] = "Home side",
		[M_HOST_SIDE] = "Host side",
		[M_SEC_PERIODS] = "1. Settlement by period",
		[M_SEC_TAXES] = "2. Taxes by period",
		[M_SEC_STATS] = "3. Statistics attribution",
		[M_SEC_BEN] = "4. Beneficiaries",
		[M_SEC_TOTALS] = "5. Totals for the year",
		[M_SEC_SETTLE] = "6. Remittance and subsidy",
		[M_SEC_APPROVAL] = "7. Approvals",
		[M_SEC_CHECK] = "8. For verification",
		[M_PERIOD] = "Period",
		[M_TERM] = "Term from",
		[M_BASE] = "Base",
		[M_HOME] = "Home share",
		[M_HOST] = "Host share",
		[M_TOPUP] = "Floor top-up",
		[M_ADJ] = "Corrections (home)",
		[M_TAX] = "Tax",
		[M_AMOUNT] = "Reported",
		[M_RETAIN] = "Retention",
		[M_RETAINED] = "Retained",
		[M_DEDUCTIONS] = "Deductions",
		[M_STAT] = "Statistic",
		[M_STAT_HOME] = "Home",
		[M_STAT_HOST] = "Host",
		[M_BEN] = "Beneficiary",
		[M_BEN_AMOUNT] = "Amount (yuan)",
		[M_ITEM] = "Item",
		[M_YUAN] = "Yuan",
		[M_WANYUAN] = "10,000 yuan",
		[M_TOTAL] = "Total",
		[M_DAXIE] = "Home share in Chinese capital numerals: RMB",
		[M_REMIT] = "Remittance (上解): %s remits %s yuan to the "
		    "province at the year-end settlement",
		[M_GRANT] = "Subsidy (补助): the province grants %s %s yuan",
		[M_NOTHING_OWED] = "Nothing is owed across this year.",
		[M_SIDE] = "Side",
		[M_APPROVED_AT] = "Approved",
		[M_PENDING] = "Pending",
		[M_STALE] = "Pending (an earlier version was approved)",
		[M_ENTRY] = "Ledger entry",
		[M_HASH] = "Statement hash (SHA-256)",
		[M_CP_ORIGIN] = "Checkpoint origin",
		[M_CP_SIZE] = "Tree size",
		[M_CP_ROOT] = "Root hash",
		[M_NO_CHECKPOINT] = "(rendered offline, no checkpoint)",
		[M_SEAL] = "(seal)",
		[M_PAGE] = "Page %d",
		[M_NOTE] = "Every amount is the signed ledger's, to the fen; "
		    "check a printed copy against the ledger with the "
		    "statement hash and the checkpoint.",
		[M_SEC_SUMMARY] = "Summary",
		[M_CONTENT] = "Content",
		[M_CODE] = "Division code",
		[M_TITLE_ROW] = "Title",
		[M_REMIT_SHORT] = "Remittance (上解)",
		[M_GRANT_SHORT] = "Subsidy (补助)",
		[M_TREASURY] = "Treasury",
		[M_TIME] = "Time",
		[M_APPROVED_HASH] = "Statement approved",
	},
};

/* Names of the codes the example agreements use; others show as codes. */
static const struct {
	const char	*code;
	const char	*name[2];
} code_names[] = {
	{ "vat", { "增值税", "VAT" } },
	{ "cit", { "企业所得税", "corporate income tax" } },
	{ "pit", { "个人所得税", "individual income tax" } },
	{ "industrial_output", { "工业总产值", "industrial output" } },
	{ "gdp", { "地区生产总值", "GDP" } },
	{ "tourism_revenue", { "旅游收入", "tourism revenue" } },
	{ "visitors", { "游客人次", "visitors" } },
};

static const struct {
	const char	*status;
	const char	*name[2];
} status_names[] = {
	{ "incomplete", { "年度未结清", "incomplete" } },
	{ "pending", { "待双方确认", "pending approval" } },
	{ "approved", { "双方已确认", "approved by both sides" } },
	{ "changed", { "确认后有更正，待重新确认", "changed since approval" } },
};

const char *
doc_msg(const struct doc *d, enum doc_msg m)
{
	return msgs[d->lang][m];
}

const char *
doc_status(const struct doc *d)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]);
	    i++)
		if (strcmp(d->status, status_names[i].status) == 0)
			return status_names[i].name[d->lang];
	return d->status;
}

const char *
doc_code_name(const struct doc *d, const char *code)
{
	for (size_t i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++)
		if (strcmp(code, code_names[i].code) == 0)
			return code_names[i].name[d->lang];
	return code;
}

char *
doc_amount_grouped(int64_t fen, char *buf)
{
	char plain[MONEY_BUFSZ], *p = plain, *o = buf;
	size_t digits;

	money_format(fen, plain);
	if (*p == '-')
		*o++ = *p++;
	digits = strcspn(p, ".");
	for (size_t i = 0; i < digits; i++) {
		if (i > 0 && (digits - i) % 3 == 0)
			*o++ = ',';
		*o++ = p[i];
	}
	strcpy(o, p + digits);
	return buf;
}

char *
doc_amount_wan(int64_t fen, char *buf)
{
	uint64_t v = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;

	/* One 万元 is 1,000,000 fen: six decimals keep every fen. */
	snprintf(buf, MONEY_BUFSZ, "%s%llu.%06llu", fen < 0 ? "-" : "",
	    (unsigned long long)(v / 1000000), (unsigned long long)(v % 1000000));
	return buf;
}

/* Terminal cells taken by UTF-8 s: East Asian wide characters take two. */
size_t
doc_text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;

	while (*p != '\0') {
		unsigned cp;
		int n;

		if (*p < 0x80) {
			cp = *p;
			n = 1;
		} else if ((*p & 0xe0) == 0xc0 && p[1]) {
			cp = (unsigned)(*p & 0x1f) << 6 | (p[1] & 0x3f);
			n = 2;
		} else if ((*p & 0xf0) == 0xe0 && p[1] && p[2]) {
			cp = (unsigned)(*p & 0x0f) << 12 |
			    (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			n = 3;
		} else {
			cp = 0x20000;	/* 4 bytes: CJK extension planes */
			n = 1;
			while (p[n] != '\0' && (p[n] & 0xc0) == 0x80)
				n++;
		}
		w += (cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 &&
		    cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
		    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 &&
		    cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
		    (cp >= 0xffe0 && cp <= 0xffe6) || cp >= 0x20000)) ? 2 : 1;
		p += n;
	}
	return w;
}

int
document_format_parse(const char *s, enum document_format *fmt)
{
	static const struct { const char *name; enum document_format f; } t[] = {
		{ "pdf", DOCUMENT_PDF }, { "xlsx", DOCUMENT_XLSX },
		{ "csv", DOCUMENT_CSV }, { "table", DOCUMENT_TABLE },
		{ "json", DOCUMENT_JSON },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0) {
			*fmt = t[i].f;
			return 0;
		}
	return -1;
}

int
document_lang_parse(const char *s, enum document_lang *lang)
{
	if (strcmp(s, "zh") == 0)
		*lang = DOCUMENT_ZH;
	else if (strcmp(s, "en") == 0)
		*lang = DOCUMENT_EN;
	else
		return -1;
	return 0;
}

const char *
document_media_type(enum document_format fmt)
{
	switch (fmt) {
	case DOCUMENT_PDF:
		return "application/pdf";
	case DOCUMENT_XLSX:
		return "application/vnd.openxmlformats-officedocument."
		    "spreadsheetml.sheet";
	case DOCUMENT_CSV:
		return "text/csv; charset=utf-8";
	case DOCUMENT_JSON:
		return "application/json";
	case DOCUMENT_TABLE:
		break;
	}
	return "text/plain; charset=utf-8";
}

/* --- checking the model --- */

static void
doc_free(struct doc *d)
{
	for (size_t i = 0; i < d->nper; i++) {
		free(d->per[i].fig.ben);
		free(d->per[i].fig.stat);
		free(d->per[i].tax);
	}
	free(d->per);
	free(d->total.ben);
	free(d->total.stat);
	free(d->ben);
	free(d->stat);
	free(d->taxcode);
}

#define BAD(...)	do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int
get_string(const json_t *o, const char *key, const char *where,
    const char **out, int optional, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		if (optional) {
			*out = NULL;
			return 0;
		}
		BAD("%s.%s: missing", where, key);
	}
	if (!json_is_string(v))
		BAD("%s.%s: not a string", where, key);
	*out = json_string_value(v);
	return 0;
}

static int
get_amount(const json_t *o, const char *key, const char *where, int64_t *fen,
    char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		BAD("%s.%s: missing", where, key);
	if (!json_is_string(v) || money_parse(json_string_value(v), fen) != 0)
		BAD("%s.%s: not an amount (a string like \"1234.50\", "
		    "SPEC §2)", where, key);
	return 0;
}

/* The figures of a period or of the total; ids and codes fixed by the total. */
static int
get_figures(const struct doc *d, const json_t *o, const char *where,
    struct doc_figures *fig, char *err, size_t errlen)
{
	static const char *const names[DOC_NFIELDS] = {
		"base", "home", "host", "floor_topup",
	};
	const json_t *ben, *stat;
	char w[96];

	if (!json_is_object(o))
		BAD("%s: not an object", where);
	for (int i = 0; i < DOC_NFIELDS; i++)
		if (get_amount(o, names[i], where, &fig->f[i], err, errlen))
			return -1;
	ben = json_object_get(o, "beneficiaries");
	stat = json_object_get(o, "statistics");
	if (!json_is_object(ben) || json_object_size(ben) != d->nben)
		BAD("%s.beneficiaries: not the beneficiaries of the total",
		    where);
	if (!json_is_object(stat) || json_object_size(stat) != d->nstat)
		BAD("%s.statistics: not the statistics of the total", where);
	fig->ben = calloc(d->nben + 1, sizeof(*fig->ben));
	fig->stat = calloc(d->nstat + 1, sizeof(*fig->stat));
	if (fig->ben == NULL || fig->stat == NULL)
		BAD("out of memory");
	for (size_t i = 0; i < d->nben; i++) {
		snprintf(w, sizeof(w), "%s.beneficiaries", where);
		if (get_amount(ben, d->ben[i], w, &fig->ben[i], err, errlen))
			return -1;
	}
	for (size_t i = 0; i < d->nstat; i++) {
		const json_t *s = json_object_get(stat, d->stat[i]);

		snprintf(w, sizeof(w), "%s.statistics.%s", where, d->stat[i]);
		if (!json_is_object(s))
			BAD("%s: missing", w);
		if (get_amount(s, "home", w, &fig->stat[i][0], err, errlen) ||
		    get_amount(s, "host", w, &fig->stat[i][1], err, errlen))
			return -1;
	}
	return 0;
}

static int
keys_of(const json_t *o, const char ***out, size_t *n, char *err,
    size_t errlen)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	*n = json_object_size(o);
	if ((*out = calloc(*n + 1, sizeof(**out))) == NULL)
		BAD("out of memory");
	json_object_foreach((json_t *)o, k, v)
		(*out)[i++] = k;
	return 0;
}

static int
check_approval(struct doc *d, int side, const json_t *approvals, char *err,
    size_t errlen)
{
	const char *name = side == DOC_SIDE_HOST ? "host" : "home";
	const json_t *a = json_object_get(approvals, name), *ix;
	struct doc_approval *ap = &d->approval[side];
	char w[32];

	snprintf(w, sizeof(w), "approvals.%s", name);
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_object(a))
		BAD("%s: neither null nor an object", w);
	ix = json_object_get(a, "index");
	if (!json_is_integer(ix) || json_integer_value(ix) < 0)
		BAD("%s.index: not an entry index", w);
	if (get_string(a, "statement", w, &ap->statement, 0, err, errlen) ||
	    get_string(a, "time", w, &ap->time, 0, err, errlen))
		return -1;
	ap->present = 1;
	ap->index = (long long)json_integer_value(ix);
	ap->current = strcmp(ap->statement, d->sha256) == 0;
	return 0;
}

/* One detail object: the period's reported taxes and deductions. */
static int
check_detail(struct doc *d, const json_t *det, size_t i, char *err,
    size_t errlen)
{
	struct doc_period *p;
	const json_t *taxes, *adj, *t;
	const char *period, *code;
	char w[96], w2[128];
	int64_t sum = 0;
	size_t k;

	snprintf(w, sizeof(w), "detail[%zu]", i);
	if (!json_is_object(det))
		BAD("%s: not an object", w);
	if (get_string(det, "period", w, &period, 0, err, errlen))
		return -1;
	for (k = 0; k < d->nper; k++)
		if (strcmp(d->per[k].period, period) == 0)
			break;
	if (k == d->nper)
		BAD("%s.period: '%s' is not a period of the statement", w,
		    period);
	p = &d->per[k];
	if (p->has_detail)
		BAD("%s.period: '%s' given twice", w, period);
	p->has_detail = 1;
	if (json_object_get(det, "deductions") == NULL)
		p->deductions = 0;
	else if (get_amount(det, "deductions", w, &p->deductions, err, errlen))
		return -1;
	taxes = json_object_get(det, "taxes");
	if (!json_is_object(taxes))
		BAD("%s.taxes: not an object", w);
	if ((p->tax = calloc(d->ntax + 1, sizeof(*p->tax))) == NULL)
		BAD("out of memory");
	json_object_foreach((json_t *)taxes, code, t) {
		struct money_ratio r;
		struct doc_tax *x;
		int64_t want;

		for (k = 0; k < d->ntax; k++)
			if (strcmp(d->taxcode[k], code) == 0)
				break;
		x = &p->tax[k];	/* k < ntax: the codes are the union */
		snprintf(w2, sizeof(w2), "%s.taxes.%s", w, code);
		if (!json_is_object(t))
			BAD("%s: not an object", w2);
		if (get_amount(t, "amount", w2, &x->amount, err, errlen) ||
		    get_amount(t, "retained", w2, &x->retained, err, errlen) ||
		    get_string(t, "retain", w2, &x->retain, 0, err, errlen))
			return -1;
		if (money_ratio_parse(x->retain, &r) != 0)
			BAD("%s.retain: '%s' is not a ratio (SPEC §2)", w2,
			    x->retain);
		if (money_mul_ratio(x->amount, &r, &want) != 0 ||
		    want != x->retained)
			BAD("%s.retained: not round(amount × %s)", w2,
			    x->retain);
		if (money_add(sum, x->retained, &sum) != 0)
			BAD("%s: amounts overflow", w2);
		x->present = 1;
	}
	if (money_sub(sum, p->deductions, &sum) != 0 || sum != p->fig.f[DOC_BASE])
		BAD("%s: the retained taxes less deductions are not the "
		    "period's base", w);
	if ((adj = json_object_get(det, "adjustments")) != NULL &&
	    !json_is_null(adj)) {
		const json_t *n = json_object_get(adj, "count");

		snprintf(w2, sizeof(w2), "%s.adjustments", w);
		if (!json_is_integer(n) || json_integer_value(n) < 0)
			BAD("%s.count: not a count", w2);
		p->adj_count = (long long)json_integer_value(n);
		if (get_amount(adj, "base", w2, &p->adj[0], err, errlen) ||
		    get_amount(adj, "home", w2, &p->adj[1], err, errlen) ||
		    get_amount(adj, "host", w2, &p->adj[2], err, errlen))
			return -1;
		p->has_adj = 1;
	}
	return 0;
}

/* The union of the tax codes in detail, in order of first appearance. */
static int
collect_taxcodes(struct doc *d, const json_t *detail, char *err, size_t errlen)
{
	size_t cap = 0, i;
	const json_t *det;

	json_array_foreach(detail, i, det) {
		const json_t *taxes = json_object_get(det, "taxes"), *t;
		const char *code;

		if (!json_is_object(taxes))
			continue;	/* check_detail() names it */
		json_object_foreach((json_t *)taxes, code, t) {
			size_t k;

			for (k = 0; k < d->ntax; k++)
				if (strcmp(d->taxcode[k], code) == 0)
					break;
			if (k < d->ntax)
				continue;
			if (d->ntax == cap) {
				const char **n;

				cap = cap ? cap * 2 : 8;
				if ((n = realloc(d->taxcode, cap *
				    sizeof(*n))) == NULL)
					BAD("out of memory");
				d->taxcode = n;
			}
			d->taxcode[d->ntax++] = code;
		}
	}
	return 0;
}

static int
check_model(struct doc *d, const json_t *m, char *err, size_t errlen)
{
	const json_t *st, *ag, *periods, *total, *detail, *cp, *per;
	const char *agreement, *home, *host;
	char hash[CANON_HASH_BUFSZ], w[64];
	size_t i, len;
	char *bytes;

	if (!json_is_object(m))
		BAD("model: not a JSON object");
	if (get_string(m, "status", "model", &d->status, 0, err, errlen))
		return -1;
	st = json_object_get(m, "statement");
	if (st == NULL || json_is_null(st))
		BAD("statement: null (status %s): the year has no statement "
		    "until every period has settled", d->status);
	if (!json_is_object(st))
		BAD("statement: not an object");
	d->statement = st;

	ag = json_object_get(m, "agreement");
	if (!json_is_object(ag))
		BAD("agreement: not an object");
	if (get_string(ag, "id", "agreement", &d->id, 0, err, errlen) ||
	    get_string(ag, "title", "agreement", &d->title, 1, err, errlen) ||
	    get_string(ag, "cadence", "agreement", &d->cadence, 1, err,
	    errlen) ||
	    get_string(ag, "home", "agreement", &d->home, 0, err, errlen) ||
	    get_string(ag, "host", "agreement", &d->host, 0, err, errlen) ||
	    get_string(ag, "home_name", "agreement", &d->home_name, 1, err,
	    errlen) ||
	    get_string(ag, "host_name", "agreement", &d->host_name, 1, err,
	    errlen))
		return -1;
	if (get_string(st, "agreement", "statement", &agreement, 0, err,
	    errlen) ||
	    get_string(st, "year", "statement", &d->year, 0, err, errlen) ||
	    get_string(st, "home", "statement", &home, 0, err, errlen) ||
	    get_string(st, "host", "statement", &host, 0, err, errlen))
		return -1;
	if (strcmp(agreement, d->id) != 0)
		BAD("agreement.id: '%s', but the statement is of '%s'", d->id,
		    agreement);
	if (strcmp(home, d->home) != 0 || strcmp(host, d->host) != 0)
		BAD("agreement.home, agreement.host: not the statement's sides "
		    "(%s, %s)", home, host);
	if (d->title == NULL || *d->title == '\0')
		d->title = d->id;
	if (d->cadence == NULL)
		d->cadence = "";
	if (d->home_name == NULL || *d->home_name == '\0')
		d->home_name = d->home;
	if (d->host_name == NULL || *d->host_name == '\0')
		d->host_name = d->host;

	/* The ids and codes of the total name those of every period. */
	total = json_object_get(st, "total");
	if (!json_is_object(total))
		BAD("statement.total: not an object");
	if (!json_is_object(json_object_get(total, "beneficiaries")) ||
	    !json_is_object(json_object_get(total, "statistics")))
		BAD("statement.total: beneficiaries or statistics missing");
	if (keys_of(json_object_get(total, "beneficiaries"), &d->ben, &d->nben,
	    err, errlen) ||
	    keys_of(json_object_get(total, "statistics"), &d->stat, &d->nstat,
	    err, errlen))
		return -1;
	if (get_figures(d, total, "statement.total", &d->total, err, errlen))
		return -1;

	periods = json_object_get(st, "periods");
	/* A year has at most 12 periods (monthly): sums cannot overflow. */
	if (!json_is_array(periods) || json_array_size(periods) == 0 ||
	    json_array_size(periods) > 12)
		BAD("statement.periods: not an array of 1 to 12 periods");
	d->nper = json_array_size(periods);
	if ((d->per = calloc(d->nper, sizeof(*d->per))) == NULL)
		BAD("out of memory");
	json_array_foreach(periods, i, per) {
		struct doc_period *p = &d->per[i];

		snprintf(w, sizeof(w), "statement.periods[%zu]", i);
		if (get_figures(d, per, w, &p->fig, err, errlen) ||
		    get_string(per, "period", w, &p->period, 0, err, errlen) ||
		    get_string(per, "term", w, &p->term, 0, err, errlen))
			return -1;
		if (strncmp(p->period, d->year, strlen(d->year)) != 0)
			BAD("%s.period: '%s' is not in %s", w, p->period,
			    d->year);
		if (p->fig.f[DOC_HOME] + p->fig.f[DOC_HOST] !=
		    p->fig.f[DOC_BASE])
			BAD("%s: home + host is not base", w);
	}
	/* The total must be the sum of the periods, field by field. */
	for (int f = 0; f < DOC_NFIELDS; f++) {
		int64_t s = 0;

		for (i = 0; i < d->nper; i++)
			if (money_add(s, d->per[i].fig.f[f], &s) != 0)
				BAD("statement.periods: amounts overflow");
		if (s != d->total.f[f])
			BAD("statement.total: not the sum of the periods");
	}
	for (size_t b = 0; b < d->nben + d->nstat * 2; b++) {
		int64_t s = 0, want;

		for (i = 0; i < d->nper; i++)
			if (money_add(s, b < d->nben ? d->per[i].fig.ben[b] :
			    d->per[i].fig.stat[(b - d->nben) / 2]
			    [(b - d->nben) % 2], &s) != 0)
				BAD("statement.periods: amounts overflow");
		want = b < d->nben ? d->total.ben[b] :
		    d->total.stat[(b - d->nben) / 2][(b - d->nben) % 2];
		if (s != want)
			BAD("statement.total: not the sum of the periods");
	}

	/* Every figure checked: now the hash of what they are part of. */
	if (get_string(m, "sha256", "model", &d->sha256, 0, err, errlen))
		return -1;
	if ((bytes = canon_dump(st, &len, err, errlen)) == NULL)
		return -1;
	canon_sha256_hex(bytes, len, hash);
	free(bytes);
	if (strcmp(hash, d->sha256) != 0)
		BAD("sha256: not the hash of the statement's canonical form "
		    "(that is %s)", hash);

	detail = json_object_get(m, "detail");
	if (detail != NULL && !json_is_null(detail)) {
		const json_t *det;

		if (!json_is_array(detail))
			BAD("detail: not an array");
		if (collect_taxcodes(d, detail, err, errlen))
			return -1;
		json_array_foreach(detail, i, det)
			if (check_detail(d, det, i, err, errlen))
				return -1;
	}

	if (!json_is_object(json_object_get(m, "approvals")))
		BAD("approvals: not an object");
	if (check_approval(d, DOC_SIDE_HOST, json_object_get(m, "approvals"),
	    err, errlen) ||
	    check_approval(d, DOC_SIDE_HOME, json_object_get(m, "approvals"),
	    err, errlen))
		return -1;

	cp = json_object_get(m, "checkpoint");
	if (cp != NULL && !json_is_null(cp)) {
		const json_t *size = json_object_get(cp, "size");

		if (!json_is_object(cp))
			BAD("checkpoint: neither null nor an object");
		if (get_string(cp, "origin", "checkpoint", &d->cp_origin, 0,
		    err, errlen) ||
		    get_string(cp, "root", "checkpoint", &d->cp_root, 0, err,
		    errlen))
			return -1;
		if (!json_is_integer(size) || json_integer_value(size) < 0)
			BAD("checkpoint.size: not a tree size");
		d->cp_size = (long long)json_integer_value(size);
		d->has_checkpoint = 1;
	}
	return 0;
}

/* The §5a statement exactly as hashed, inside an object with its hash. */
static int
write_json(const struct doc *d, struct textbuf *out, char *err, size_t errlen)
{
	json_t *o;
	char *bytes;
	size_t len;

	if ((o = json_pack("{s:O,s:s}", "statement", d->statement, "sha256",
	    d->sha256)) == NULL)
		BAD("out of memory");
	bytes = canon_dump(o, &len, err, errlen);
	json_decref(o);
	if (bytes == NULL)
		return -1;
	textbuf_add(out, bytes, len);
	textbuf_add(out, "\n", 1);
	free(bytes);
	return 0;
}

int
document_render(const json_t *model, enum document_format fmt,
    enum document_lang lang, struct textbuf *out, char *err, size_t errlen)
{
	struct doc d;
	int rc = -1;

	memset(&d, 0, sizeof(d));
	d.lang = lang;
	if (check_model(&d, model, err, errlen) != 0)
		goto done;
	switch (fmt) {
	case DOCUMENT_PDF:
		rc = doc_write_pdf(&d, out, err, errlen);
		break;
	case DOCUMENT_XLSX:
		rc = doc_write_xlsx(&d, out, err, errlen);
		break;
	case DOCUMENT_CSV:
		rc = doc_write_csv(&d, out, err, errlen);
		break;
	case DOCUMENT_TABLE:
		rc = doc_write_table(&d, out, err, errlen);
		break;
	case DOCUMENT_JSON:
		rc = write_json(&d, out, err, errlen);
		break;
	}
	if (rc == 0 && out->failed) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
done:
	doc_free(&d);
	return rc;
}
