/*
 * cmd_show.c - `dmarcstat show REPORT`: one stored report, its policy,
 * warnings and records.  REPORT is the number `dmarcstat reports` shows,
 * or a Report-ID as a report mail's subject quotes it (ASCII case does not
 * matter); an ID that several reports share lists them instead.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "store/query.h"

int cmd_show(struct cli *cli, int argc, char **argv);

static const char *
str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	static char num[32];

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		return num;
	}
	return "-";
}

static void
print_list(const struct cli *cli, json_t *r, const char *key, const char *title)
{
	json_t *a = json_object_get(r, key), *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0)
		return;
	printf("%s\n", cli_msg(cli, title));
	json_array_foreach(a, i, v) {
		char buf[1024];

		/* the report's own <error> texts are the reporter's words */
		if (json_is_string(v))
			printf("  - %s\n", strcmp(key, "warnings") == 0 ?
			    cli_reason(json_string_value(v), buf, sizeof buf) :
			    json_string_value(v));
	}
}

/*
 * The report whose Report-ID is `rid` (ASCII case folded): 0 with *id set,
 * EXIT_SOME_BAD when none has it, EXIT_USAGE after listing them when
 * several do (the same ID from two reporters, or for two domains).
 */
static int
show_by_report_id(struct cli *cli, struct store *st, const char *rid,
    long long *id)
{
	static const struct column cols[] = {
		{ "id", "col.id", COL_INT },
		{ "org_name", "col.reporter", COL_TEXT },
		{ "policy_domain", "col.domain", COL_TEXT },
		{ "begin", "col.begin", COL_TIME },
		{ "report_id", "col.report_id", COL_TEXT },
	};
	struct query q = { 0 };
	json_t *rows, *same, *row;
	size_t i;
	int rc = 0;

	q.report_id = rid;
	if ((rows = query_reports(st, &q)) == NULL) {
		cli_errorf("%s: %s", rid, store_errmsg(st));
		return EXIT_TEMPFAIL;
	}
	same = json_array();
	json_array_foreach(rows, i, row) {
		const char *v = json_string_value(json_object_get(row, "report_id"));
		if (v != NULL && strcasecmp(v, rid) == 0)
			json_array_append(same, row);
	}
	if (json_array_size(same) == 0) {
		cli_errorf("%s: %s", rid, cli_msg(cli, "err.no_report"));
		rc = EXIT_SOME_BAD;
	} else if (json_array_size(same) > 1) {
		cli_errorf("%s: %s", rid, cli_msg(cli, "err.report_id_shared"));
		cli_output_rows(cli, same, cols, sizeof cols / sizeof cols[0]);
		rc = EXIT_USAGE;
	} else {
		*id = (long long)json_integer_value(json_object_get(
		    json_array_get(same, 0), "id"));
	}
	json_decref(same);
	json_decref(rows);
	return rc;
}

int
cmd_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct column cols[] = {
		{ "source_ip", "col.source", COL_TEXT },
		{ "count", "col.count", COL_INT },
		{ "disposition", "col.disposition", COL_TEXT },
		{ "dkim", "col.dkim", COL_TEXT },
		{ "spf", "col.spf", COL_TEXT },
		{ "header_from", "col.header_from", COL_TEXT },
	};
	struct store *st;
	json_t *r, *pol;
	char *end, b[32], e[32];
	long long id;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': cli->format = CLI_JSON; break;
		case 'h':
			printf("%s\n", cli_msg(cli, "show.usage"));
			return EXIT_OK;
		default:
			fprintf(stderr, "%s\n", cli_msg(cli, "show.usage"));
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "%s\n", cli_msg(cli, "show.usage"));
		return EXIT_USAGE;
	}
	if (argv[optind][0] == '\0') {
		fprintf(stderr, "%s\n", cli_msg(cli, "show.usage"));
		return EXIT_USAGE;
	}
	st = cli_open_store(cli, 1, NULL);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	id = strtoll(argv[optind], &end, 10);
	r = *end == '\0' && id > 0 ? query_report(st, id) : NULL;
	if (r == NULL || json_is_null(r)) {
		json_decref(r);
		if ((c = show_by_report_id(cli, st, argv[optind], &id)) != 0) {
			store_close(&st);
			return c;
		}
		r = query_report(st, id);
	}
	if (r == NULL || json_is_null(r)) {
		cli_errorf("%s: %s", argv[optind], cli_msg(cli, "err.no_report"));
		json_decref(r);
		store_close(&st);
		return EXIT_SOME_BAD;
	}
	if (cli->format == CLI_JSON) {
		cli_output_json(cli, r);
	} else {
		pol = json_object_get(r, "policy_published");
		cli_fmt_time(json_integer_value(json_object_get(r, "begin")), b, sizeof b);
		cli_fmt_time(json_integer_value(json_object_get(r, "end")), e, sizeof e);
		cli_msgf(cli, stdout, "show.report", str(r, "report_id"),
		    str(r, "org_name"), str(r, "email"), str(r, "policy_domain"),
		    b, e, str(pol, "p"), str(pol, "sp"), str(pol, "np"),
		    str(pol, "pct"), str(pol, "adkim"), str(pol, "aspf"),
		    (unsigned long long)json_integer_value(json_object_get(r, "n_records")),
		    (unsigned long long)json_integer_value(json_object_get(r, "msg_total")));
		print_list(cli, r, "errors", "show.errors");
		print_list(cli, r, "warnings", "show.warnings");
		putchar('\n');
		cli_output_rows(cli, json_object_get(r, "records"), cols,
		    sizeof cols / sizeof cols[0]);
	}
	json_decref(r);
	store_close(&st);
	return EXIT_OK;
}
