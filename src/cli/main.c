/*
 * main.c - dmarcstat's entry point: global options, then one subcommand.
 *
 *   dmarcstat [--db PATH] [--config FILE] [--json|--csv] [-q] [--lang en|ja]
 *             COMMAND [ARGS...]
 *
 * The database is --db, else $DMARCSTAT_DB, else ./dmarcstat.db.  Each
 * subcommand lives in cmd_NAME.c.  Commands are referenced weakly so that a
 * build without one of them (while it is being written) still links and
 * says so instead of failing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"

typedef int cmd_fn(struct cli *, int, char **);

#define CMD(name) cmd_fn cmd_##name __attribute__((weak));
CMD(import) CMD(parse) CMD(summary) CMD(reports) CMD(show) CMD(ledger)
CMD(reparse) CMD(serve) CMD(enrich) CMD(senders) CMD(readiness) CMD(sources)
CMD(fetch) CMD(daemon) CMD(config)
#undef CMD

struct command {
	const char *name;
	cmd_fn *fn;
	const char *help_key;   /* one-line description in msg.c */
};

static const struct command commands[] = {
	{ "import",    cmd_import,    "cmd.import" },
	{ "parse",     cmd_parse,     "cmd.parse" },
	{ "summary",   cmd_summary,   "cmd.summary" },
	{ "reports",   cmd_reports,   "cmd.reports" },
	{ "show",      cmd_show,      "cmd.show" },
	{ "ledger",    cmd_ledger,    "cmd.ledger" },
	{ "reparse",   cmd_reparse,   "cmd.reparse" },
	{ "serve",     cmd_serve,     "cmd.serve" },
	{ "enrich",    cmd_enrich,    "cmd.enrich" },
	{ "senders",   cmd_senders,   "cmd.senders" },
	{ "readiness", cmd_readiness, "cmd.readiness" },
	{ "sources",   cmd_sources,   "cmd.sources" },
	{ "fetch",     cmd_fetch,     "cmd.fetch" },
	{ "daemon",    cmd_daemon,    "cmd.daemon" },
	{ "config",    cmd_config,    "cmd.config" },
};

static void
usage(const struct cli *cli, FILE *fp)
{
	fprintf(fp, "%s\n\n", cli_msg(cli, "usage.main"));
	fprintf(fp, "%s\n", cli_msg(cli, "usage.commands"));
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].fn)
			fprintf(fp, "  %-10s %s\n", commands[i].name,
			    cli_msg(cli, commands[i].help_key));
	fprintf(fp, "\n%s\n", cli_msg(cli, "usage.global"));
}

static const char *
detect_lang(void)
{
	const char *vars[] = { "DMARCSTAT_LANG", "LC_ALL", "LC_MESSAGES", "LANG" };

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return strncmp(v, "ja", 2) == 0 ? "ja" : "en";
	}
	return "en";
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "lang", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { 0 };
	const char *env;
	int c;

	cli.lang = detect_lang();
	cli.tty = isatty(1);
	env = getenv("DMARCSTAT_DB");
	cli.db_path = env && *env ? env : "dmarcstat.db";
	cli.db_given = env && *env;
	/* "+": stop at the first non-option, the subcommand */
	while ((c = getopt_long(argc, argv, "+d:c:jCqL:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli.db_path = optarg; cli.db_given = 1; break;
		case 'c': cli.config_path = optarg; break;
		case 'j': cli.format = CLI_JSON; break;
		case 'C': cli.format = CLI_CSV; break;
		case 'q': cli.quiet = 1; break;
		case 'L':
			cli.lang = strncmp(optarg, "ja", 2) == 0 ? "ja" : "en";
			break;
		case 'h': usage(&cli, stdout); return EXIT_OK;
		case 'V': printf("dmarcstat %s\n", DMARCSTAT_VERSION); return EXIT_OK;
		default: usage(&cli, stderr); return EXIT_USAGE;
		}
	}
	cli_msg_set_lang(cli.lang);
	if (optind >= argc) {
		usage(&cli, stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (commands[i].fn == NULL) {
			cli_errorf("%s: %s", argv[optind],
			    cli_msg(&cli, "err.not_built"));
			return EXIT_USAGE;
		}
		{
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0;    /* glibc: full re-initialisation for the subcommand */
			return commands[i].fn(&cli, sub_argc, sub_argv);
		}
	}
	cli_errorf("%s: %s", argv[optind],
	    cli_msg(&cli, "err.unknown_command"));
	usage(&cli, stderr);
	return EXIT_USAGE;
}
