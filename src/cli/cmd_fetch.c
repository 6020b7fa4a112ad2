/*
 * cmd_fetch.c - `dmarcstat fetch`: one pass over the configured IMAP
 * mailboxes (ingest/imap.c), then exit.  For cron, for tests, and to try a
 * mailbox configuration before starting the daemon.
 *
 *   dmarcstat [--config FILE] fetch [--mailbox NAME]... [--set KEY=VALUE]...
 *
 * Exit: 0 every new message processed, 1 some went to the invalid folder,
 * 2 usage or configuration error, 75 a mailbox failed temporarily
 * (unreachable, login, TLS, database busy): run again later.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "ingest/daemon.h"
#include "ingest/imap.h"
#include "lib/config.h"
#include "lib/xalloc.h"

int cmd_fetch(struct cli *cli, int argc, char **argv);

#define FETCH_MAX_ARGS 256

static void
fetch_usage(FILE *fp)
{
	fprintf(fp, "%s\n", cli_msg(NULL, "fetch.usage"));
}

/* The config's `database` when --db / $DMARCSTAT_DB left the default. */
static const char *
fetch_db_path(const struct cli *cli, const struct config *cfg)
{
	const char *env = getenv("DMARCSTAT_DB");

	if (*config_str(cfg, "database") != '\0' && (env == NULL || *env == '\0') &&
	    strcmp(cli->db_path, "dmarcstat.db") == 0)
		return config_str(cfg, "database");
	return cli->db_path;
}

int
cmd_fetch(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mailbox", required_argument, NULL, 'm' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *sets[FETCH_MAX_ARGS], *only[FETCH_MAX_ARGS];
	size_t nsets = 0, nonly = 0, i, j;
	struct config *cfg;
	struct store *st = NULL;
	struct limits lim;
	char err[512];
	int ch, busy = 0, rc = EXIT_OK, polled = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "m:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (nonly < FETCH_MAX_ARGS)
				only[nonly++] = optarg;
			break;
		case 's':
			if (nsets < FETCH_MAX_ARGS)
				sets[nsets++] = optarg;
			break;
		case 'h':
			fetch_usage(stdout);
			return EXIT_OK;
		default:
			fetch_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fetch_usage(stderr);
		return EXIT_USAGE;
	}
	if ((cfg = config_load(cli->config_path, sets, nsets, err, sizeof err)) == NULL) {
		cli_errorf("fetch: %s", err);
		return EXIT_USAGE;
	}
	for (j = 0; j < nonly; j++)
		if (config_mailbox_find(cfg, only[j]) == NULL) {
			cli_errorf("fetch: no [mailbox %s] in the configuration",
			    only[j]);
			config_free(&cfg);
			return EXIT_USAGE;
		}
	if (config_mailbox_count(cfg) == 0) {
		cli_errorf("fetch: no [mailbox NAME] section in the configuration");
		config_free(&cfg);
		return EXIT_USAGE;
	}
	daemon_log_setup("stderr", cli->quiet ? "error" : "warn");
	cli->db_path = fetch_db_path(cli, cfg);
	if ((st = cli_open_store(cli, 0, &busy)) == NULL) {
		config_free(&cfg);
		return busy ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
	}
	if (imap_state_init(st, err, sizeof err) != 0) {
		cli_errorf("fetch: %s", err);
		store_close(&st);
		config_free(&cfg);
		return EXIT_TEMPFAIL;
	}
	config_limits(cfg, &lim);
	for (i = 0; i < config_mailbox_count(cfg); i++) {
		const struct config_mailbox *mb = config_mailbox_at(cfg, i);
		const char *name = config_mailbox_name(mb);
		struct imap_result res;
		int r, want = nonly == 0 ? config_mb_bool(cfg, mb, "enabled") : 0;

		for (j = 0; j < nonly; j++)
			if (strcmp(only[j], name) == 0)
				want = 1;
		if (!want)
			continue;
		polled++;
		r = imap_poll(cfg, mb, st, &lim, cli->quiet ? NULL : stderr, NULL, &res);
		if (r < 0) {
			cli_errorf("fetch: mailbox %s: %s", name, res.err);
			rc = EXIT_TEMPFAIL;
		} else if (r == 1 && rc == EXIT_OK)
			rc = EXIT_SOME_BAD;
		if (!cli->quiet)
			printf("mailbox %s: fetched %llu, processed %llu, invalid %llu, "
			    "left %llu; reports imported %llu, duplicates %llu\n", name,
			    (unsigned long long)res.fetched,
			    (unsigned long long)res.processed,
			    (unsigned long long)res.invalid,
			    (unsigned long long)res.left,
			    (unsigned long long)res.stats.imported,
			    (unsigned long long)res.stats.duplicates);
	}
	store_close(&st);
	config_free(&cfg);
	if (polled == 0 && rc == EXIT_OK) {
		cli_errorf("fetch: every mailbox is disabled");
		return EXIT_SOME_BAD;
	}
	return rc;
}
