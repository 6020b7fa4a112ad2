/*
 * cmd_ledger.c - `dmarcstat ledger`: every input and what became of it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "store/query.h"

int cmd_ledger(struct cli *cli, int argc, char **argv);

int
cmd_ledger(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct column cols[] = {
		{ "ts", "col.time", COL_TIME },
		{ "status", "col.status", COL_TEXT },
		{ "input", "col.input", COL_TEXT },
		{ "member", "col.member", COL_TEXT },
		{ "reason", "col.reason", COL_TEXT },
	};
	struct query q = { 0 };
	const char *status = NULL;
	struct store *st;
	json_t *rows;
	int c, rc, limit_given = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': status = optarg; break;
		case 'j': cli->format = CLI_JSON; break;
		case 'C': cli->format = CLI_CSV; break;
		case 'h':
			printf("%s\n", cli_msg(cli, "ledger.usage"));
			return EXIT_OK;
		case '?':
			fprintf(stderr, "%s\n", cli_msg(cli, "ledger.usage"));
			return EXIT_USAGE;
		default:
			if (c == 'n')
				limit_given = 1;
			if ((rc = cli_query_opt(cli, c, optarg, &q)) != 0)
				return rc;
		}
	}
	if (!limit_given)
		q.limit = cli->format == CLI_TABLE ? 50 : 0;
	st = cli_open_store(cli, 1, NULL);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	rows = query_ledger(st, &q, status);
	if (rows == NULL) {
		cli_errorf("%s", store_errmsg(st));
		store_close(&st);
		return EXIT_TEMPFAIL;
	}
	if (cli->format == CLI_TABLE) {
		/* status words and reasons in the reader's language; JSON/CSV
		 * keep the codes and the English reasons */
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row) {
			const char *code = json_string_value(json_object_get(row, "status"));
			const char *why = json_string_value(json_object_get(row, "reason"));
			char buf[1024];

			if (code != NULL)
				json_object_set_new(row, "status",
				    json_string(cli_status_word(code)));
			if (why != NULL)
				json_object_set_new(row, "reason",
				    json_string(cli_reason(why, buf, sizeof buf)));
		}
	}
	cli_output_rows(cli, rows, cols, sizeof cols / sizeof cols[0]);
	json_decref(rows);
	store_close(&st);
	return EXIT_OK;
}
