/*
 * cmd: the verbs of the `shanhai` tool. Each verb lives in tool/cmd_<verb>.c
 * and is listed in the table of tool/shanhai.c. A verb gets argv from its
 * own name on (argv[0] is the verb) and returns the process exit status:
 * 0 ok, 1 a check failed or input was refused, 2 usage or I/O error.
 */
#ifndef SHANHAI_CMD_H
#define SHANHAI_CMD_H

#define CMD_OK		0
#define CMD_FAILED	1
#define CMD_USAGE	2

/*
 * The exit status of a verb whose request got HTTP status st instead of the
 * answer it wanted: a 4xx is the server refusing the input (403, 404,
 * 409, 422: 1); a 5xx, or no answer at all (st 0), an I/O error (2).
 */
static inline int
cmd_http_exit(int st)
{
	return st >= 400 && st < 500 ? CMD_FAILED : CMD_USAGE;
}

struct settle_result;

/* The entries of a result on stdout, one line each (settle, fixture). */
void	cmd_print_entries(const struct settle_result *res);

/* shanhai settle --rules DIR REPORTS.jsonl */
int	cmd_settle(int argc, char **argv);
/* shanhai rules check DIR */
int	cmd_rules(int argc, char **argv);
/* shanhai keygen --origin ORIGIN --out FILE [--sm2] */
int	cmd_keygen(int argc, char **argv);
/* shanhai statement --agreement A --year Y (--entries FILE | --url ...) */
int	cmd_statement(int argc, char **argv);
/* shanhai status --url URL --cert C --key K --cacert CA [--format text|json] */
int	cmd_status(int argc, char **argv);
/* shanhai verify --vkey FILE --checkpoint FILE [--entries FILE] ... */
int	cmd_verify(int argc, char **argv);
/* shanhai fixture build|sign|receipt|consistency: test ledgers */
int	cmd_fixture(int argc, char **argv);
/* shanhai export --format beancount|hledger --entries FILE [--agreement ID] */
int	cmd_export(int argc, char **argv);
/* shanhai submit --url URL --cert C --key K --cacert CA [--out F] REPORT */
int	cmd_submit(int argc, char **argv);
/* shanhai approve --url URL --cert C --key K --cacert CA --agreement A --year Y */
int	cmd_approve(int argc, char **argv);
/* shanhai backup -c CONF --to FILE: a verified copy of the live database */
int	cmd_backup(int argc, char **argv);
/* shanhai restore --from DIR|URL --vkey F --state DIR: from a tile mirror */
int	cmd_restore(int argc, char **argv);
/* shanhai witness [-t] -c FILE: a tlog-witness server (cmd_witness.c) */
int	cmd_witness(int argc, char **argv);

#endif
