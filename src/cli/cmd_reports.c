/*
 * cmd_reports.c - `dmarcstat reports`: the stored reports, newest first.
 * With --json and no --limit, every stored report.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "store/query.h"

int cmd_reports(struct cli *cli, int argc, char **argv);

int
cmd_reports(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'D' },
		{ "reporter", required_argument, NULL, 'r' },
		{ "report-id", required_argument, NULL, 'I' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct column cols[] = {
		{ "id", "col.id", COL_INT },
		{ "org_name", "col.reporter", COL_TEXT },
		{ "policy_domain", "col.domain", COL_TEXT },
		{ "begin", "col.begin", COL_TIME },
		{ "end", "col.end", COL_TIME },
		{ "n_records", "col.records", COL_INT },
		{ "msg_total", "col.messages", COL_INT },
		{ "report_id", "col.report_id", COL_TEXT },
	};
	struct query q = { 0 };
	struct store *st;
	json_t *rows;
	int c, rc, limit_given = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': cli->format = CLI_JSON; break;
		case 'C': cli->format = CLI_CSV; break;
		case 'h':
			printf("%s\n", cli_msg(cli, "reports.usage"));
			return EXIT_OK;
		case '?':
			fprintf(stderr, "%s\n", cli_msg(cli, "reports.usage"));
			return EXIT_USAGE;
		default:
			if (c == 'n')
				limit_given = 1;
			if ((rc = cli_query_opt(cli, c, optarg, &q)) != 0)
				return rc;
		}
	}
	/* a terminal table shows the newest 50 unless asked otherwise */
	if (!limit_given)
		q.limit = cli->format == CLI_TABLE ? 50 : 0;
	st = cli_open_store(cli, 1, NULL);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	rows = query_reports(st, &q);
	if (rows == NULL) {
		cli_errorf("%s", store_errmsg(st));
		store_close(&st);
		return EXIT_TEMPFAIL;
	}
	cli_output_rows(cli, rows, cols, sizeof cols / sizeof cols[0]);
	json_decref(rows);
	store_close(&st);
	return EXIT_OK;
}
