/* test_config: the key table's defaults, bounds, client matching, listen
 * parsing and the restart-only rule of reload. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/config.h"

#define FPR_A "5F:0C:" "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
#define FPR_A_NORM "5f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"

static char dir[64];

static char *
write_conf(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *base_conf =
    "tls = { certificate = \"tls/s.crt\"; key = \"/abs/s.key\"; "
    "client_ca = \"ca.crt\"; };\n"
    "ledger = { origin = \"example.org/log\"; };\n";

static struct config *
load(const char *extra, char *err, size_t errlen)
{
	char text[2048];

	snprintf(text, sizeof(text), "%s%s", base_conf, extra);
	return config_load(write_conf("t.conf", text), err, errlen);
}

static void
test_defaults_and_paths(void **state)
{
	char err[512] = "";
	struct config *c = load("", err, sizeof(err));
	char want[128];

	assert_non_null(c);
	assert_int_equal(config_listen_count(c), 1);
	assert_string_equal(config_get0_listen(c, 0), "127.0.0.1:8443");
	assert_string_equal(config_get0_state_dir(c), "/var/lib/shanhai");
	snprintf(want, sizeof(want), "%s/rules", dir);
	assert_string_equal(config_get0_rules_dir(c), want);
	snprintf(want, sizeof(want), "%s/tls/s.crt", dir);
	assert_string_equal(config_get0_tls_certificate(c), want);
	assert_string_equal(config_get0_tls_key(c), "/abs/s.key");
	assert_null(config_get0_user(c));
	assert_null(config_get0_ledger_sm2_key(c));
	assert_int_equal(config_max_body(c), 65536);
	assert_int_equal(config_client_rate(c), 0);
	assert_int_equal(config_log_level(c), LOG_LVL_INFO);
	assert_int_equal(config_client_count(c), 0);
	config_free(c);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *extra, *want;
	} cases[] = {
		{ "state_dri = \"x\";\n", ":3: unknown key 'state_dri' (did you mean 'state_dir'?)" },
		{ "zzz = 1;\n", ":3: unknown key 'zzz'" },
		{ "limits = { max_body = 99999999; };\n", ":3: 'limits.max_body' = 99999999 is out of range" },
		{ "limits = { max_body = 1.5; };\n", ":3: 'limits.max_body' must be an integer" },
		{ "listen = \"127.0.0.1:1\";\n", ":3: 'listen' must be a list of strings" },
		{ "listen = [ \"127.0.0.1:0\" ];\n", ":3: listen: '127.0.0.1:0' is not" },
		{ "listen = [ ];\n", ":3: 'listen' must hold 1 to 64 entries" },
		{ "clients = ( { name = \"a\"; role = \"king\"; common_name = \"x\"; } );\n",
		  "'clients.role' = 'king': not one of bureau" },
		{ "clients = ( { name = \"a\"; role = \"auditor\"; } );\n",
		  ":3: client 'a': needs 'fingerprint', 'common_name' or both" },
		{ "clients = ( { name = \"a\"; role = \"bureau\"; codes = [ \"33011\" ]; common_name = \"x\"; } );\n",
		  "clients.codes: '33011' is not a 6-digit side code" },
		{ "clients = ( { name = \"a\"; role = \"auditor\"; common_name = \"x\"; },\n"
		  "{ name = \"b\"; role = \"auditor\"; common_name = \"x\"; } );\n",
		  ":4: client 'b': names the same certificate as 'a' (line 3)" },
		{ "clients = ( { name = \"a\"; role = \"auditor\"; common_name = \"x\"; },\n"
		  "{ name = \"a\"; role = \"auditor\"; common_name = \"y\"; } );\n",
		  ":4: client 'a': name already used at line 3" },
		{ "clients = ( { name = \"a\"; role = \"auditor\"; common_name = \"x\"; bogus = 1; } );\n",
		  ":3: unknown key 'clients.bogus'" },
		/*
		 * Integers past 32 bits: libconfig 1.5 wraps them (4294968320
		 * became 1024, 4294967296 became 0); the message gives the
		 * value as written.
		 */
		{ "limits = { max_body = 4294968320; };\n",
		  ":3: 'limits.max_body' = 4294968320 is out of range 1024..16777216" },
		{ "limits = { client_rate = 4294967296; };\n",
		  ":3: 'limits.client_rate' = 4294967296 is out of range 0..1000000" },
		{ "limits = { client_rate = 99999999999; };\n",
		  ":3: 'limits.client_rate' = 99999999999 is out of range" },
		{ "limits = { idle_timeout = -4294967236; };\n",
		  ":3: 'limits.idle_timeout' = -4294967236 is out of range 1..86400" },
		{ "limits = { max_header = 0x100000400; };\n",
		  ":3: 'limits.max_header' = 0x100000400 is out of range" },
		{ "limits = { max_header = 4294968320L; };\n",
		  ":3: 'limits.max_header' = 4294968320 is out of range" },
		{ "limits = { max_body = 99999999999999999999; };\n",
		  ":3: 'limits.max_body' = 99999999999999999999 is out of range "
		  "1024..16777216 (it does not fit in 64 bits)" },
		{ "limits = {\n max_connections =\n  4294967297; };\n",
		  ":4: 'limits.max_connections' = 4294967297 is out of range" },
		/* A duplicate names its key, at the top and in a group. */
		{ "rules_dir = \"a\";\nrules_dir = \"b\";\n",
		  ":4: duplicate key 'rules_dir'" },
		{ "limits = { max_body = 2048; };\nuser = \"root\"; limits = { };\n",
		  ":4: duplicate key 'limits'" },
		{ "limits = { max_body = 2048;\n idle_timeout = 5; max_body = 4096; };\n",
		  ":4: duplicate key 'max_body'" },
		/* -t refuses a user that start could not switch to. */
		{ "user = \"no-such-user-here\";\n",
		  ":3: user: 'no-such-user-here': no such user" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		struct config *c = load(cases[i].extra, err, sizeof(err));
		if (c != NULL || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got '%s', want '%s'", i, err,
			    cases[i].want);
	}
}

/* Values within range, however written, and where each key was set. */
static void
test_ints_and_lines(void **state)
{
	static const struct {
		const char *extra;
		long long body, rate;
	} cases[] = {
		{ "", 65536, 0 },
		{ "limits = { max_body = 2048; client_rate = 1000000; };\n",
		  2048, 1000000 },
		{ "limits = { max_body = 0x800L;\n client_rate =\n 7; };\n",
		  2048, 7 },
		{ "limits : { max_body : +16777216; client_rate = 0; };\n",
		  16777216, 0 },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = load(cases[i].extra, err, sizeof(err));
		if (c == NULL)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(config_max_body(c), cases[i].body);
		assert_int_equal(config_client_rate(c), cases[i].rate);
		config_free(c);
	}

	struct config *c = load("limits = {\n max_body = 2048; };\n", err,
	    sizeof(err));
	char w[256], want[256];
	assert_non_null(c);
	assert_int_equal(config_key_line(c, "tls.key"), 1);
	assert_int_equal(config_key_line(c, "limits.max_body"), 4);
	assert_int_equal(config_key_line(c, "rules_dir"), 0);
	snprintf(want, sizeof(want), "%s/t.conf:1: tls.key", dir);
	assert_string_equal(config_where(c, "tls.key", w, sizeof(w)), want);
	snprintf(want, sizeof(want), "%s/t.conf: rules_dir (default)", dir);
	assert_string_equal(config_where(c, "rules_dir", w, sizeof(w)), want);
	config_free(c);
}

/* The file itself: a folder, a file that is not there. */
static void
test_file_errors(void **state)
{
	char err[512], want[256], path[128];

	assert_null(config_load(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: is a directory, not a "
	    "configuration file", dir);
	assert_non_null(strstr(err, want));
	snprintf(path, sizeof(path), "%s/nothere.conf", dir);
	assert_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: cannot open: No such file or "
	    "directory", path);
	assert_string_equal(err, want);
}

static void
test_listen_parse(void **state)
{
	char host[64];
	uint16_t port;

	assert_int_equal(config_listen_parse("127.0.0.1:8443", host,
	    sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8443);
	assert_int_equal(config_listen_parse("[::1]:443", host, sizeof(host),
	    &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(config_listen_parse(":80", host, sizeof(host),
	    &port), 0);
	assert_string_equal(host, "");
	assert_int_equal(config_listen_parse("::1:443", host, sizeof(host),
	    &port), -1);
	assert_int_equal(config_listen_parse("[::1]443", host, sizeof(host),
	    &port), -1);
	assert_int_equal(config_listen_parse("h:65536", host, sizeof(host),
	    &port), -1);
	assert_int_equal(config_listen_parse("h:+1", host, sizeof(host),
	    &port), -1);
	assert_int_equal(config_listen_parse("h", host, sizeof(host), &port),
	    -1);
}

static void
test_clients(void **state)
{
	char err[512] = "";
	struct config *c = load(
	    "clients = (\n"
	    " { name = \"both\"; role = \"operator\"; fingerprint = \"" FPR_A "\"; common_name = \"ops\"; },\n"
	    " { name = \"cn\"; role = \"auditor\"; common_name = \"audit\"; },\n"
	    " { name = \"yh\"; role = \"bureau\"; codes = [ \"330110\", \"330802\" ]; fingerprint = \"" FPR_A_NORM "\"; }\n"
	    ");\n", err, sizeof(err));
	const struct config_client *cl;

	assert_non_null(c);
	assert_int_equal(config_client_count(c), 3);
	cl = config_client_find(c, FPR_A_NORM, "ops");
	assert_string_equal(config_client_get0_name(cl), "both");
	assert_int_equal(config_client_role(cl), CONFIG_ROLE_OPERATOR);
	/* Same fingerprint, other CN: the entry that needs both fails. */
	cl = config_client_find(c, FPR_A_NORM, "other");
	assert_string_equal(config_client_get0_name(cl), "yh");
	assert_true(config_client_has_code(cl, "330802"));
	assert_false(config_client_has_code(cl, "330803"));
	assert_int_equal(config_client_code_count(cl), 2);
	cl = config_client_find(c, "00", "audit");
	assert_string_equal(config_client_get0_name(cl), "cn");
	assert_null(config_client_find(c, "00", "nobody"));
	assert_null(config_client_find(c, "00", NULL));
	assert_string_equal(config_role_name(CONFIG_ROLE_BUREAU), "bureau");
	config_free(c);
}

static int reports;
static void
count_report(void *arg, const char *msg)
{
	assert_non_null(strstr(msg, "takes effect only after a restart"));
	reports++;
}

/* witnesses, witness_quorum, witness_interval (SPEC 6.6, 8). */
static void
test_witnesses(void **state)
{
	static const struct {
		const char	*extra;
		const char	*want;		/* NULL: loads */
	} cases[] = {
		{ "witnesses = { name = \"w\"; };\n",
		  ":3: 'witnesses' must be a list" },
		{ "witnesses = ( { name = \"w\"; key = \"k\"; } );\n",
		  "missing key 'witnesses.url'" },
		{ "witnesses = ( { name = \"w\"; key = \"k\"; url = \"ftp://x/\"; } );\n",
		  ":3: witness 'w': url 'ftp://x/' is not http:// or https://" },
		{ "witnesses = ( { name = \"w\"; key = \"k\"; url = \"https://x/\"; } );\n",
		  ":3: witness 'w': an https:// url needs 'cacert'" },
		{ "witnesses = ( { name = \"w\"; key = \"k\"; url = \"http://x/\"; colour = 1; } );\n",
		  ":3: unknown key 'witnesses.colour'" },
		{ "witnesses = ( { name = \"w\"; key = \"k\"; url = \"http://x/\"; },\n"
		  "  { name = \"w\"; key = \"k\"; url = \"http://y/\"; } );\n",
		  ":4: witness 'w': name already used at line 3" },
		{ "witnesses = ( { name = \"w\"; key = \"k\"; url = \"http://x/\"; } );\n"
		  "witness_quorum = 2;\n",
		  "witness_quorum 2: only 1 witnesses are listed" },
		{ "witness_interval = 0;\n", "'witness_interval' = 0 is out of range" },
		{ "witnesses = ( { name = \"w1\"; key = \"k1\"; url = \"http://x:7380/\"; },\n"
		  "  { name = \"w2\"; key = \"k2\"; url = \"https://y/w\"; cacert = \"ca.pem\"; } );\n"
		  "witness_interval = 3;\n", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		struct config *c = load(cases[i].extra, err, sizeof(err));

		if (cases[i].want == NULL) {
			if (c == NULL)
				fail_msg("case %zu: %s", i, err);
			config_free(c);
			continue;
		}
		if (c != NULL || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got '%s', want '%s'", i, err,
			    cases[i].want);
	}
	/* The good one, read back; the quorum defaults to all. */
	{
		char err[512] = "", want[300];
		struct config *c = load(cases[sizeof(cases) /
		    sizeof(cases[0]) - 1].extra, err, sizeof(err));

		assert_non_null(c);
		assert_int_equal(config_witness_count(c), 2);
		assert_string_equal(config_witness_get0_name(c, 1), "w2");
		assert_string_equal(config_witness_get0_key(c, 0), "k1");
		assert_string_equal(config_witness_get0_url(c, 0),
		    "http://x:7380/");
		assert_null(config_witness_get0_cacert(c, 0));
		snprintf(want, sizeof(want), "%s/ca.pem", dir);
		assert_string_equal(config_witness_get0_cacert(c, 1), want);
		assert_int_equal(config_witness_quorum(c), 2);
		assert_int_equal(config_witness_interval(c), 3);
		config_free(c);
		c = load("", err, sizeof(err));
		assert_int_equal(config_witness_count(c), 0);
		assert_int_equal(config_witness_interval(c), 10);
		assert_null(config_get0_ledger_tiles_dir(c));
		config_free(c);
	}
	/* Read at start: a reload keeps the running list, and says so. */
	{
		char err[512] = "";
		struct config *old = load("witnesses = ( { name = \"a\"; key = "
		    "\"k\"; url = \"http://a/\"; } );\n", err, sizeof(err));
		struct config *next = load("witnesses = ( { name = \"b\"; key = "
		    "\"k\"; url = \"http://b/\"; }, { name = \"c\"; key = "
		    "\"k\"; url = \"http://c/\"; } );\n", err, sizeof(err));

		assert_non_null(old);
		assert_non_null(next);
		reports = 0;
		assert_int_equal(config_keep_restart_only(next, old,
		    count_report, NULL), 1);
		assert_int_equal(reports, 1);
		assert_int_equal(config_witness_count(next), 1);
		assert_string_equal(config_witness_get0_name(next, 0), "a");
		assert_string_equal(config_witness_get0_url(next, 0),
		    "http://a/");
		reports = 0;
		assert_int_equal(config_keep_restart_only(next, old,
		    count_report, NULL), 0);
		config_free(old);
		config_free(next);
	}
}


static void
test_restart_only(void **state)
{
	char err[512] = "";
	struct config *old = load("listen = [ \"127.0.0.1:1\" ];\n", err,
	    sizeof(err));
	struct config *next = load("listen = [ \"127.0.0.1:2\" ];\n"
	    "state_dir = \"/srv\";\nlog_level = \"debug\";\n"
	    "ledger.sm2_key = \"k\";\n", err, sizeof(err));

	/* A dotted name is no key at the top: ledger { } holds sm2_key. */
	assert_null(next);
	next = load("listen = [ \"127.0.0.1:2\" ];\nstate_dir = \"/srv\";\n"
	    "log_level = \"debug\";\n", err, sizeof(err));
	assert_non_null(old);
	assert_non_null(next);
	reports = 0;
	assert_int_equal(config_keep_restart_only(next, old, count_report,
	    NULL), 2);
	assert_int_equal(reports, 2);
	assert_string_equal(config_get0_listen(next, 0), "127.0.0.1:1");
	assert_string_equal(config_get0_state_dir(next), "/var/lib/shanhai");
	/* Reloadable keys take the new value. */
	assert_int_equal(config_log_level(next), LOG_LVL_DEBUG);
	/* The old config is untouched (a vetoed reload goes on with it). */
	assert_string_equal(config_get0_listen(old, 0), "127.0.0.1:1");
	config_free(old);
	config_free(next);
}

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/shanhai-config-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/t.conf", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_paths),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_ints_and_lines),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_clients),
		cmocka_unit_test(test_restart_only),
		cmocka_unit_test(test_witnesses),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
