/*
 * test_document: the statement document model is checked whole before
 * anything is rendered (each refusal names its field), and the CSV and the
 * text table of a small model, byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shanhai/canon.h"
#include "shanhai/document.h"
#include "shanhai/textbuf.h"

/*
 * A yearly agreement's year: one period, one tax at 50%, a deduction, two
 * beneficiaries, one statistic; the host side approved, the home side not.
 * "sha256" is filled in by model() unless the case sets it.
 */
static const char base_model[] =
    "{\"statement\":{\"agreement\":\"a-b\",\"year\":\"2026\","
    "\"home\":\"330802\",\"host\":\"330110\",\"periods\":[{\"period\":"
    "\"2026\",\"term\":\"2020\",\"base\":\"1000.01\",\"home\":\"600.01\","
    "\"host\":\"400.00\",\"floor_topup\":\"0.00\",\"beneficiaries\":"
    "{\"v-a\":\"300.01\",\"v-b\":\"300.00\"},\"statistics\":{\"gdp\":"
    "{\"home\":\"5.00\",\"host\":\"-5.00\"}}}],\"total\":{\"base\":"
    "\"1000.01\",\"home\":\"600.01\",\"host\":\"400.00\",\"floor_topup\":"
    "\"0.00\",\"beneficiaries\":{\"v-a\":\"300.01\",\"v-b\":\"300.00\"},"
    "\"statistics\":{\"gdp\":{\"home\":\"5.00\",\"host\":\"-5.00\"}}}},"
    "\"status\":\"pending\",\"approvals\":{\"host\":{\"index\":7,"
    "\"statement\":\"SHA\",\"time\":\"2027-01-10T08:00:00Z\"},\"home\":null},"
    "\"agreement\":{\"id\":\"a-b\",\"title\":\"-A, \\\"B\\\"\",\"home\":"
    "\"330802\",\"host\":\"330110\",\"host_name\":\"=杭州\",\"cadence\":"
    "\"yearly\"},\"detail\":[{\"period\":\"2026\",\"deductions\":\"10.01\","
    "\"taxes\":{\"vat\":{\"amount\":\"2020.03\",\"retain\":\"50%\","
    "\"retained\":\"1010.02\"}}}],\"checkpoint\":null}";

/* The model with edit applied (a JSON object merged at path), hash set. */
static json_t *
model(const char *path, const char *value, int rehash)
{
	json_t *m = json_loads(base_model, 0, NULL), *at = m, *v;
	char *bytes, hash[CANON_HASH_BUFSZ], *p, *key;
	size_t len;

	assert_non_null(m);
	bytes = canon_dump(json_object_get(m, "statement"), &len, NULL, 0);
	assert_non_null(bytes);
	canon_sha256_hex(bytes, len, hash);
	free(bytes);
	json_object_set_new(m, "sha256", json_string(hash));
	json_object_set_new(json_object_get(json_object_get(m, "approvals"),
	    "host"), "statement", json_string(hash));
	if (path == NULL)
		return m;
	/* path: keys and array indexes separated by '/'. */
	p = strdup(path);
	assert_non_null(p);
	v = json_loads(value, JSON_DECODE_ANY, NULL);
	assert_non_null(v);
	for (key = strtok(p, "/");; ) {
		char *next = strtok(NULL, "/");

		if (next == NULL) {
			if (json_is_array(at))
				json_array_set_new(at, (size_t)atoi(key), v);
			else
				json_object_set_new(at, key, v);
			break;
		}
		at = json_is_array(at) ? json_array_get(at, (size_t)atoi(key)) :
		    json_object_get(at, key);
		assert_non_null(at);
		key = next;
	}
	free(p);
	if (rehash) {
		bytes = canon_dump(json_object_get(m, "statement"), &len, NULL,
		    0);
		if (bytes != NULL) {
			canon_sha256_hex(bytes, len, hash);
			free(bytes);
			json_object_set_new(m, "sha256", json_string(hash));
		}
	}
	return m;
}

static void
refused(void **state)
{
	static const struct {
		const char	*path, *value;
		int		 rehash;
		const char	*err;
	} t[] = {
		{ "statement", "null", 0, "statement: null (status pending)" },
		{ "sha256", "\"00\"", 0, "sha256: not the hash" },
		{ "status", "1", 0, "model.status: not a string" },
		{ "agreement/id", "\"x\"", 0,
		    "agreement.id: 'x', but the statement is of 'a-b'" },
		{ "agreement/home", "\"330803\"", 0,
		    "agreement.home, agreement.host: not the statement's" },
		{ "statement/periods/0/base", "\"1000.011\"", 1,
		    "statement.periods[0].base: not an amount" },
		{ "statement/periods/0/home", "600.01", 0,
		    "statement.periods[0].home: not an amount" },
		{ "statement/periods/0/host", "\"400.01\"", 1,
		    "statement.periods[0]: home + host is not base" },
		{ "statement/periods/0/period", "\"2025\"", 1,
		    "statement.periods[0].period: '2025' is not in 2026" },
		{ "statement/periods/0/beneficiaries", "{}", 1,
		    "statement.periods[0].beneficiaries: not the beneficiaries" },
		{ "statement/total/beneficiaries/v-a", "\"300.02\"", 1,
		    "statement.total: not the sum of the periods" },
		{ "statement/total/statistics/gdp/host", "\"-5.01\"", 1,
		    "statement.total: not the sum of the periods" },
		{ "statement/periods", "[]", 1,
		    "statement.periods: not an array of 1 to 12 periods" },
		{ "detail/0/taxes/vat/retain", "\"50\"", 0,
		    "detail[0].taxes.vat.retain: '50' is not a ratio" },
		{ "detail/0/taxes/vat/retained", "\"1010.01\"", 0,
		    "detail[0].taxes.vat.retained: not round(amount × 50%)" },
		{ "detail/0/deductions", "\"10.00\"", 0,
		    "detail[0]: the retained taxes less deductions are not" },
		{ "detail/0/period", "\"2027\"", 0,
		    "detail[0].period: '2027' is not a period" },
		{ "approvals/home", "[]", 0,
		    "approvals.home: neither null nor an object" },
		{ "checkpoint", "{\"origin\":\"o\",\"size\":-1,\"root\":\"r\"}",
		    0, "checkpoint.size: not a tree size" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *m = model(t[i].path, t[i].value, t[i].rehash);
		struct textbuf out = TEXTBUF_INIT;

		err[0] = '\0';
		if (document_render(m, DOCUMENT_CSV, DOCUMENT_ZH, &out, err,
		    sizeof(err)) != -1 || strstr(err, t[i].err) == NULL)
			fail_msg("%s = %s: got '%s', want '%s'", t[i].path,
			    t[i].value, err, t[i].err);
		textbuf_release(&out);
		json_decref(m);
	}
}

static void
csv_bytes(void **state)
{
	json_t *m = model(NULL, NULL, 0);
	struct textbuf out = TEXTBUF_INIT;
	char err[256], want[4096];
	const char *hash = json_string_value(json_object_get(m, "sha256"));

	(void)state;
	snprintf(want, sizeof(want),
	    "\xef\xbb\xbf\"'-A, \"\"B\"\" 2026年度收益分成结算单\"\r\n"
	    "\r\n概况\r\n项目,内容,行政区划代码\r\n"
	    "协议编号,a-b,\r\n协议名称,\"'-A, \"\"B\"\"\",\r\n"
	    "结算年度,2026,\r\n结算周期,yearly,\r\n"
	    "飞出地,330802,330802\r\n飞入地,\"'=杭州\",330110\r\n"
	    "确认状态,待双方确认,\r\n"
	    "\r\n一、分期结算\r\n"
	    "期间,适用条款,分成基数,飞出地分成,飞入地留存,保底补足,"
	    "更正调整（飞出地）\r\n"
	    "2026,2020,1000.01,600.01,400.00,0.00,\r\n"
	    "合计,,1000.01,600.01,400.00,0.00,\r\n"
	    "\r\n二、税收明细\r\n期间,税种,申报税额,留成比例,留成额\r\n"
	    "2026,增值税（vat）,2020.03,50%%,1010.02\r\n"
	    "2026,扣减项,10.01,,-10.01\r\n"
	    "\r\n三、统计归属\r\n统计指标,计入飞出地,计入飞入地\r\n"
	    "地区生产总值（gdp）,5.00,-5.00\r\n"
	    "\r\n四、受益主体\r\n受益主体,分得金额（元）\r\n"
	    "v-a,300.01\r\nv-b,300.00\r\n合计,600.01\r\n"
	    "\r\n五、年度合计\r\n项目,金额（元）,金额（万元）\r\n"
	    "分成基数,1000.01,0.100001\r\n飞出地分成,600.01,0.060001\r\n"
	    "飞入地留存,400.00,0.040000\r\n保底补足,0.00,0.000000\r\n"
	    "飞出地分成合计（大写）：人民币,陆佰元零壹分,\r\n"
	    "\r\n六、上解与补助\r\n项目,财政,行政区划代码,金额（元）\r\n"
	    "上解,\"'=杭州\",330110,600.01\r\n补助,330802,330802,600.01\r\n"
	    "\r\n七、双方确认\r\n"
	    "确认方,财政,行政区划代码,确认状态,确认时间,账本条目,"
	    "所确认的结算单哈希\r\n"
	    "飞入地,\"'=杭州\",330110,已确认,2027-01-10T08:00:00Z,7,%s\r\n"
	    "飞出地,330802,330802,待确认,,,\r\n"
	    "\r\n八、核验信息\r\n项目,内容\r\n结算单哈希（SHA-256）,%s\r\n"
	    "检查点来源,（离线生成，未附检查点）\r\n账本条目数,\r\n根哈希,\r\n",
	    hash, hash);
	assert_int_equal(document_render(m, DOCUMENT_CSV, DOCUMENT_ZH, &out,
	    err, sizeof(err)), 0);
	assert_string_equal(out.p, want);
	textbuf_release(&out);
	json_decref(m);
}

static void
json_and_table(void **state)
{
	json_t *m = model(NULL, NULL, 0), *j;
	struct textbuf out = TEXTBUF_INIT;
	char err[256];

	(void)state;
	assert_int_equal(document_render(m, DOCUMENT_JSON, DOCUMENT_ZH, &out,
	    err, sizeof(err)), 0);
	j = json_loads(out.p, 0, NULL);
	assert_non_null(j);
	assert_true(json_equal(json_object_get(j, "statement"),
	    json_object_get(m, "statement")));
	assert_string_equal(json_string_value(json_object_get(j, "sha256")),
	    json_string_value(json_object_get(m, "sha256")));
	assert_int_equal(canon_check(out.p, out.len - 1, err, sizeof(err)), 0);
	json_decref(j);
	textbuf_release(&out);

	assert_int_equal(document_render(m, DOCUMENT_TABLE, DOCUMENT_EN, &out,
	    err, sizeof(err)), 0);
	/* Grouped amounts right-aligned under their header; English labels. */
	assert_non_null(strstr(out.p, "\nTotal              1,000.01      "
	    "600.01      400.00          0.00\n"));
	assert_non_null(strstr(out.p, "\n2026    Deductions     10.01       "
	    "        -10.01\n"));
	assert_non_null(strstr(out.p, "陆佰元零壹分"));
	textbuf_release(&out);
	json_decref(m);
}

static void
parse(void **state)
{
	enum document_format f;
	enum document_lang l;

	(void)state;
	assert_int_equal(document_format_parse("pdf", &f), 0);
	assert_int_equal(f, DOCUMENT_PDF);
	assert_int_equal(document_format_parse("xlsx", &f), 0);
	assert_int_equal(f, DOCUMENT_XLSX);
	assert_int_equal(document_format_parse("PDF", &f), -1);
	assert_int_equal(document_lang_parse("en", &l), 0);
	assert_int_equal(l, DOCUMENT_EN);
	assert_int_equal(document_lang_parse("zh-CN", &l), -1);
	assert_string_equal(document_media_type(DOCUMENT_XLSX),
	    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
	assert_string_equal(document_media_type(DOCUMENT_CSV),
	    "text/csv; charset=utf-8");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refused),
		cmocka_unit_test(csv_bytes),
		cmocka_unit_test(json_and_table),
		cmocka_unit_test(parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
