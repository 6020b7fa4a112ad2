/*
 * cmd_senders.c - `dmarcstat senders`: sending sources grouped by the
 * organisational domain of their host name or by known service ("our own
 * servers", "our ESPs", "everyone else"), with messages, pass rate and
 * classes; `--catalog` lists the known-senders catalog instead.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/messages.h"
#include "cli/cli.h"
#include "cli/common.h"

int cmd_senders(struct cli *cli, int argc, char **argv);

static const char *
senders_label(const struct cli *cli, const char *key)
{
	const char *t = messages_get(key, cli->lang);

	return t ? t : key;
}

static int
senders_catalog(struct cli *cli)
{
	struct column cols[] = {
		{ "id", "id", COL_TEXT },
		{ "name", "name", COL_TEXT },
		{ "type", "type", COL_TEXT },
		{ "forwards", "forwards", COL_TEXT },
		{ "include", "SPF include", COL_TEXT },
	};
	json_t *c = analyze_catalog_json();

	if (cli->format == CLI_JSON)
		cli_output_json(cli, c);
	else {
		if (!cli->quiet && cli->format == CLI_TABLE)
			printf("catalog %s\n", json_string_value(json_object_get(c, "version")));
		cli_output_rows(cli, json_object_get(c, "services"), cols, sizeof(cols) / sizeof(cols[0]));
	}
	if (json_is_string(json_object_get(c, "error")))
		cli_errorf("senders catalog: %s",
		    json_string_value(json_object_get(c, "error")));
	json_decref(c);
	return EXIT_OK;
}

int
cmd_senders(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'D' },
		{ "reporter", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "limit", required_argument, NULL, 'n' },
		{ "catalog", no_argument, NULL, 'K' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct column cols[] = {
		{ "name", senders_label(cli, "label.group"), COL_TEXT },
		{ "kind_text", "", COL_TEXT },
		{ "service_type", senders_label(cli, "label.service"), COL_TEXT },
		{ "sources", senders_label(cli, "label.sources"), COL_INT },
		{ "messages", senders_label(cli, "label.messages"), COL_INT },
		{ "pass_rate", senders_label(cli, "label.pass"), COL_PCT },
		{ "class_text", senders_label(cli, "label.class"), COL_TEXT },
	};
	struct query q = { 0 };
	struct store *st;
	json_t *out, *groups, *g;
	size_t i;
	int c, rc, busy, catalog = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'K': catalog = 1; break;
		case 'j': cli->format = CLI_JSON; break;
		case 'C': cli->format = CLI_CSV; break;
		case 'h':
			printf("%s\n", senders_label(cli, "usage.senders"));
			return EXIT_OK;
		case '?':
			fprintf(stderr, "%s\n", senders_label(cli, "usage.senders"));
			return EXIT_USAGE;
		default:
			if ((rc = cli_query_opt(cli, c, optarg, &q)) != 0)
				return rc;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s\n", senders_label(cli, "usage.senders"));
		return EXIT_USAGE;
	}
	if (catalog)
		return senders_catalog(cli);
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	out = analyze_senders_json(st, &q);
	store_close(&st);
	if (out == NULL) {
		cli_errorf("senders: %s", analyze_errmsg());
		return EXIT_TEMPFAIL;
	}
	groups = json_object_get(out, "groups");
	if (cli->format == CLI_JSON)
		cli_output_json(cli, out);
	else {
		json_array_foreach(groups, i, g) {
			char key[64];
			const char *kind = json_string_value(json_object_get(g, "kind"));
			snprintf(key, sizeof(key), "class.%s", json_string_value(json_object_get(g, "class")));
			json_object_set_new(g, "class_text", json_string(senders_label(cli, key)));
			json_object_set_new(g, "kind_text", json_string(kind && strcmp(kind, "own") == 0 ?
			    senders_label(cli, "label.own") : ""));
		}
		cli_output_rows(cli, groups, cols, sizeof(cols) / sizeof(cols[0]));
	}
	rc = json_array_size(groups) ? EXIT_OK : EXIT_SOME_BAD;
	json_decref(out);
	return rc;
}
