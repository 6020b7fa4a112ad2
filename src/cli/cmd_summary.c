/*
 * cmd_summary.c - `dmarcstat summary`: messages, DMARC pass %, SPF- and
 * DKIM-aligned % and dispositions per domain, source IP, reporter or day,
 * from the per-day rollup (store/query.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "store/query.h"

int cmd_summary(struct cli *cli, int argc, char **argv);

int
cmd_summary(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "domain", required_argument, NULL, 'D' },
		{ "reporter", required_argument, NULL, 'r' },
		{ "source", required_argument, NULL, 'i' },
		{ "result", required_argument, NULL, 'R' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct column cols[] = {
		{ "domain", "col.domain", COL_TEXT },
		{ "messages", "col.messages", COL_INT },
		{ "pass_pct", "col.pass_pct", COL_PCT },
		{ "spf_aligned_pct", "col.spf_pct", COL_PCT },
		{ "dkim_aligned_pct", "col.dkim_pct", COL_PCT },
		{ "dmarc_fail", "col.fail", COL_INT },
		{ "quarantine", "col.quarantine", COL_INT },
		{ "reject", "col.reject", COL_INT },
	};
	struct query q = { 0 };
	const char *by = "domain";
	struct store *st;
	json_t *rows;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': by = optarg; break;
		case 'j': cli->format = CLI_JSON; break;
		case 'C': cli->format = CLI_CSV; break;
		case 'h':
			printf("%s\n", cli_msg(cli, "summary.usage"));
			return EXIT_OK;
		case '?':
			fprintf(stderr, "%s\n", cli_msg(cli, "summary.usage"));
			return EXIT_USAGE;
		default:
			if ((rc = cli_query_opt(cli, c, optarg, &q)) != 0)
				return rc;
		}
	}
	if (strcmp(by, "domain") == 0) {
		cols[0] = (struct column){ "domain", "col.domain", COL_TEXT };
	} else if (strcmp(by, "source") == 0) {
		cols[0] = (struct column){ "source_ip", "col.source", COL_TEXT };
	} else if (strcmp(by, "reporter") == 0) {
		cols[0] = (struct column){ "reporter", "col.reporter", COL_TEXT };
	} else if (strcmp(by, "day") == 0) {
		cols[0] = (struct column){ "day", "col.day", COL_DAY };
	} else {
		cli_errorf("%s", cli_msg(cli, "err.bad_by"));
		return EXIT_USAGE;
	}
	st = cli_open_store(cli, 1, NULL);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	rows = query_summary(st, &q, by);
	if (rows == NULL) {
		cli_errorf("%s", store_errmsg(st));
		store_close(&st);
		return EXIT_TEMPFAIL;
	}
	cli_output_rows(cli, rows, cols, sizeof cols / sizeof cols[0]);
	rc = json_array_size(rows) ? EXIT_OK : EXIT_SOME_BAD;
	json_decref(rows);
	store_close(&st);
	return rc;
}
