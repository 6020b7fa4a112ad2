/*
 * cmd_reparse.c - `dmarcstat reparse`: parse every kept original again and
 * rebuild the reports made from it, in one transaction per original, so a
 * parser upgrade (a quirk now read correctly) reaches the stored data.
 * Ledger rows of the new parse have source "reparse".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "ingest/ingest.h"
#include "store/reparse.h"

int cmd_reparse(struct cli *cli, int argc, char **argv);

int
cmd_reparse(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ingest_opts io = { .source = "reparse", .keep_raw = 1,
	    .batch = 1, .errors = stderr, .external_txn = 1,
	    .status_word = cli_status_word, .reason_text = cli_reason };
	struct reparse_item *items = NULL;
	struct limits lim;
	struct store *st;
	struct ingest *ig;
	long n;
	int c, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': break;
		case 'h':
			printf("%s\n", cli_msg(cli, "reparse.usage"));
			return EXIT_OK;
		default:
			fprintf(stderr, "%s\n", cli_msg(cli, "reparse.usage"));
			return EXIT_USAGE;
		}
	}
	limits_default(&lim);
	st = cli_open_store(cli, 0, NULL);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	n = reparse_list(st, &items);
	if (n < 0) {
		cli_errorf("%s", store_errmsg(st));
		store_close(&st);
		return EXIT_TEMPFAIL;
	}
	ig = ingest_new(st, &lim, &io);
	for (long i = 0; i < n && rc != EXIT_TEMPFAIL; i++) {
		struct rd *rd;
		int r;

		/* delete and re-import inside one transaction: all or nothing */
		if (store_begin(st) != 0 ||
		    reparse_delete_reports(st, items[i].raw_id) < 0) {
			cli_errorf("%s", store_errmsg(st));
			store_rollback(st);
			rc = EXIT_TEMPFAIL;
			break;
		}
		rd = store_raw_open(st, items[i].raw_id);
		if (rd == NULL) {
			cli_errorf("%s: %s", items[i].input,
			    store_errmsg(st));
			store_rollback(st);
			rc = EXIT_SOME_BAD;
			continue;
		}
		r = ingest_rd(ig, items[i].input, rd);
		rd_close(&rd);
		if (r < 0) {
			store_rollback(st);
			rc = EXIT_TEMPFAIL;
			break;
		}
		if (store_commit(st) != 0) {
			store_rollback(st);
			rc = EXIT_TEMPFAIL;
			break;
		}
		if (r > 0)
			rc = EXIT_SOME_BAD;
	}
	if (!cli->quiet) {
		const struct ingest_stats *s = ingest_stats(ig);
		cli_msgf(cli, stderr, "reparse.done", (unsigned long long)n,
		    (unsigned long long)(s->imported + s->duplicates),
		    (unsigned long long)(s->rejected + s->not_report));
	}
	ingest_free(&ig);
	reparse_items_free(items, n);
	store_close(&st);
	return rc;
}
