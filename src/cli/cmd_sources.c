/*
 * cmd_sources.c - `dmarcstat sources`: the classified sending sources, and
 * the user's own knowledge about them.
 *
 *   sources [show] [--domain D] [--class C] [--since W] [--until W] ...
 *   sources approve|reject|tag [PATTERN] [--host GLOB | --service ID |
 *           --dkim DOMAIN] [--tag NAME] [--note TEXT] [--for-domain D]
 *   sources list            the rules, oldest first
 *   sources remove ID
 *
 * A PATTERN argument is an IP address or CIDR range.  Data and rules come
 * from src/analyze/ (analyze.h); classification follows the rules at once
 * because it is computed at query time.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/messages.h"
#include "cli/cli.h"
#include "cli/common.h"

int cmd_sources(struct cli *cli, int argc, char **argv);
/* cmd_summary.c: --domain --reporter --source --result --limit --since --until */

/* A label from the analysis message catalog in the CLI's language.  The
 * table printer looks headings up with cli_msg(), which returns unknown
 * keys unchanged, so a translated label can be passed as the heading. */
static const char *
sources_label(const struct cli *cli, const char *key)
{
	const char *t = messages_get(key, cli->lang);

	return t ? t : key;
}

static int
sources_usage(const struct cli *cli, int rc)
{
	fprintf(rc ? stderr : stdout, "%s\n", sources_label(cli, "usage.sources"));
	return rc;
}

/* Flattens the view for the table: host, AS, reason text in cli->lang. */
static json_t *
sources_rows(const struct cli *cli, json_t *list)
{
	json_t *rows = json_array(), *v;
	size_t i;
	const char *lang = cli->lang && strncmp(cli->lang, "ja", 2) == 0 ? "ja" : "en";

	json_array_foreach(list, i, v) {
		json_t *r = json_deep_copy(v);
		const char *ptr = json_string_value(json_object_get(v, "ptr"));
		const char *st = json_string_value(json_object_get(v, "ptr_status"));
		json_t *fc = json_object_get(v, "fcrdns");
		json_t *asn = json_object_get(v, "asn");
		char buf[320];
		char key[64];

		if (ptr != NULL)
			snprintf(buf, sizeof(buf), "%s%s", ptr, json_is_false(fc) ? " (!fcrdns)" : "");
		else if (st == NULL || strcmp(st, "pending") == 0)
			snprintf(buf, sizeof(buf), "(%s)", sources_label(cli, "label.pending"));
		else if (strcmp(st, "nxdomain") == 0)
			snprintf(buf, sizeof(buf), "%s", sources_label(cli, "label.no_ptr"));
		else
			snprintf(buf, sizeof(buf), "(%s)", sources_label(cli, "label.not_resolved"));
		json_object_set_new(r, "host", json_string(buf));
		if (json_is_integer(asn)) {
			snprintf(buf, sizeof(buf), "AS%lld", (long long)json_integer_value(asn));
			json_object_set_new(r, "as", json_string(buf));
		}
		snprintf(key, sizeof(key), "class.%s", json_string_value(json_object_get(v, "class")));
		json_object_set_new(r, "class_text", json_string(sources_label(cli, key)));
		json_object_set_new(r, "reason_text", json_object_get(json_object_get(
		    json_object_get(v, "reason"), "messages"), lang) ?
		    json_copy(json_object_get(json_object_get(json_object_get(v, "reason"), "messages"), lang)) :
		    json_null());
		json_array_append_new(rows, r);
	}
	return rows;
}

static int
sources_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'D' },
		{ "reporter", required_argument, NULL, 'r' },
		{ "source", required_argument, NULL, 'i' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "limit", required_argument, NULL, 'n' },
		{ "class", required_argument, NULL, 'c' },
		{ "sort", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct column cols[] = {
		{ "ip", sources_label(cli, "label.ip"), COL_TEXT },
		{ "host", sources_label(cli, "label.host"), COL_TEXT },
		{ "group_name", sources_label(cli, "label.group"), COL_TEXT },
		{ "as", sources_label(cli, "label.asn"), COL_TEXT },
		{ "country", sources_label(cli, "label.country"), COL_TEXT },
		{ "class_text", sources_label(cli, "label.class"), COL_TEXT },
		{ "messages", sources_label(cli, "label.messages"), COL_INT },
		{ "pass_rate", sources_label(cli, "label.pass"), COL_PCT },
		{ "reason_text", sources_label(cli, "label.reason"), COL_TEXT },
	};
	struct query q = { 0 };
	const char *cls = NULL;
	struct store *st;
	json_t *out, *rows;
	int c, rc, busy;

	optind = 0;   /* glibc: full re-initialisation (argument permutation) */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cls = optarg; break;
		case 'S': q.sort = optarg; break;
		case 'j': cli->format = CLI_JSON; break;
		case 'C': cli->format = CLI_CSV; break;
		case 'h': return sources_usage(cli, EXIT_OK);
		case '?': return sources_usage(cli, EXIT_USAGE);
		default:
			if ((rc = cli_query_opt(cli, c, optarg, &q)) != 0)
				return rc;
		}
	}
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	out = analyze_sources_filter_json(st, &q, cls);
	if (out == NULL) {
		cli_errorf("sources: %s", analyze_errmsg());
		store_close(&st);
		return strstr(analyze_errmsg(), "class") ? EXIT_USAGE : EXIT_TEMPFAIL;
	}
	if (cli->format == CLI_JSON)
		cli_output_json(cli, out);
	else {
		rows = sources_rows(cli, json_object_get(out, "sources"));
		cli_output_rows(cli, rows, cols, sizeof(cols) / sizeof(cols[0]));
		json_decref(rows);
	}
	rc = json_array_size(json_object_get(out, "sources")) ? EXIT_OK : EXIT_SOME_BAD;
	json_decref(out);
	store_close(&st);
	return rc;
}

static int
sources_rule(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "service", required_argument, NULL, 'S' },
		{ "dkim", required_argument, NULL, 'K' },
		{ "ip", required_argument, NULL, 'I' },
		{ "tag", required_argument, NULL, 't' },
		{ "note", required_argument, NULL, 'N' },
		{ "for-domain", required_argument, NULL, 'D' },
		{ "domain", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *action = argv[0], *kind = NULL, *pattern = NULL;
	const char *tag = NULL, *note = NULL, *domain = NULL;
	struct store *st;
	char err[256];
	int64_t id;
	int c, busy, nkinds = 0;

	optind = 0;   /* glibc: full re-initialisation (argument permutation) */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': kind = "host"; pattern = optarg; nkinds++; break;
		case 'S': kind = "service"; pattern = optarg; nkinds++; break;
		case 'K': kind = "dkim"; pattern = optarg; nkinds++; break;
		case 'I': kind = "ip"; pattern = optarg; nkinds++; break;
		case 't': tag = optarg; break;
		case 'N': note = optarg; break;
		case 'D': domain = optarg; break;
		case 'j': cli->format = CLI_JSON; break;
		case 'h': return sources_usage(cli, EXIT_OK);
		default: return sources_usage(cli, EXIT_USAGE);
		}
	}
	if (optind < argc) {
		kind = "ip";
		pattern = argv[optind++];
		nkinds++;
	}
	if (nkinds != 1 || optind < argc) {
		cli_errorf("sources %s: give exactly one of IP/CIDR, --host, --service, --dkim",
		    action);
		return EXIT_USAGE;
	}
	if (strcmp(action, "tag") == 0 && tag == NULL) {
		cli_errorf("sources tag: --tag NAME is required");
		return EXIT_USAGE;
	}
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	if (analyze_rule_add(st, action, kind, pattern, tag, note, domain, &id, err, sizeof(err)) != 0) {
		cli_errorf("sources %s: %s", action, err);
		store_close(&st);
		return strstr(err, "sender_rules") ? EXIT_TEMPFAIL : EXIT_USAGE;
	}
	if (cli->format == CLI_JSON) {
		json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "action", action,
		    "kind", kind, "pattern", pattern);
		cli_output_json(cli, o);
		json_decref(o);
	} else if (!cli->quiet)
		printf("rule %lld: %s %s %s\n", (long long)id, action, kind, pattern);
	store_close(&st);
	return EXIT_OK;
}

static int
sources_list(struct cli *cli, int argc, char **argv)
{
	struct column cols[] = {
		{ "id", "id", COL_INT },
		{ "action", "action", COL_TEXT },
		{ "kind", "kind", COL_TEXT },
		{ "pattern", "pattern", COL_TEXT },
		{ "tag", "tag", COL_TEXT },
		{ "domain", "domain", COL_TEXT },
		{ "note", "note", COL_TEXT },
		{ "created_at", "created", COL_TIME },
	};
	struct store *st;
	json_t *out;
	int busy;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			cli->format = CLI_JSON;
		else if (strcmp(argv[i], "--csv") == 0)
			cli->format = CLI_CSV;
		else
			return sources_usage(cli, strcmp(argv[i], "--help") == 0 ? EXIT_OK : EXIT_USAGE);
	}
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	out = analyze_rules_json(st);
	if (out == NULL) {
		cli_errorf("sources list: %s", analyze_errmsg());
		store_close(&st);
		return EXIT_TEMPFAIL;
	}
	if (cli->format == CLI_JSON)
		cli_output_json(cli, out);
	else
		cli_output_rows(cli, json_object_get(out, "rules"), cols, sizeof(cols) / sizeof(cols[0]));
	json_decref(out);
	store_close(&st);
	return EXIT_OK;
}

static int
sources_remove(struct cli *cli, int argc, char **argv)
{
	struct store *st;
	char err[256], *end;
	long long id;
	int busy, rc;

	if (argc != 2 || strcmp(argv[1], "--help") == 0)
		return sources_usage(cli, argc == 2 ? EXIT_OK : EXIT_USAGE);
	id = strtoll(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || id <= 0) {
		cli_errorf("sources remove: not a rule number: %s", argv[1]);
		return EXIT_USAGE;
	}
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	rc = analyze_rule_remove(st, id, err, sizeof(err));
	store_close(&st);
	if (rc < 0) {
		cli_errorf("sources remove: %s", err);
		return EXIT_TEMPFAIL;
	}
	if (rc == 1) {
		cli_errorf("sources remove: no rule %lld", id);
		return EXIT_SOME_BAD;
	}
	if (!cli->quiet && cli->format != CLI_JSON)
		printf("rule %lld removed\n", id);
	return EXIT_OK;
}

int
cmd_sources(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "show";

	if (argc > 1 && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0))
		return sources_usage(cli, EXIT_OK);
	if (argc > 1 && sub[0] == '-')
		return sources_show(cli, argc, argv);          /* options of "show" */
	if (strcmp(sub, "show") == 0)
		return sources_show(cli, argc - 1, argv + 1);
	if (strcmp(sub, "approve") == 0 || strcmp(sub, "reject") == 0 || strcmp(sub, "tag") == 0)
		return sources_rule(cli, argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "rules") == 0)
		return sources_list(cli, argc - 1, argv + 1);
	if (strcmp(sub, "remove") == 0 || strcmp(sub, "rm") == 0)
		return sources_remove(cli, argc - 1, argv + 1);
	cli_errorf("sources: unknown subcommand %s", sub);
	return sources_usage(cli, EXIT_USAGE);
}
