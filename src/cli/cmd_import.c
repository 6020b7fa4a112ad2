/*
 * cmd_import.c - `dmarcstat import PATH...`: files, directory trees,
 * Maildir, mbox, or "-" for one message on standard input (an MTA pipe).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "ingest/ingest.h"
#include "lib/config.h"
#include "lib/xalloc.h"

int cmd_import(struct cli *cli, int argc, char **argv);

static void
import_usage(const struct cli *cli, FILE *fp)
{
	fprintf(fp, "%s\n", cli_msg(cli, "import.usage"));
}

int
cmd_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "no-raw", no_argument, NULL, 'R' },
		{ "batch", required_argument, NULL, 'b' },
		{ "no-progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "set", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ingest_opts io = { .source = NULL, .keep_raw = 1, .batch = INGEST_BATCH,
	    .errors = stderr, .status_word = cli_status_word,
	    .reason_text = cli_reason };
	struct limits lim;
	struct config *cfg;
	char **sets = NULL, cerr[512];
	size_t nsets = 0;
	struct store *st;
	struct ingest *ig;
	const struct ingest_stats *s;
	int c, busy, rc, worst, progress = isatty(2);

	while ((c = getopt_long(argc, argv, "s:b:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': io.source = optarg; break;
		case 'R': io.keep_raw = 0; break;
		case 'b': io.batch = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': progress = 0; break;
		case 'q': cli->quiet = 1; break;
		case 'S':
			sets = xrealloc(sets, (nsets + 1) * sizeof *sets);
			sets[nsets++] = optarg;
			break;
		case 'h': import_usage(cli, stdout); return EXIT_OK;
		default: import_usage(cli, stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		import_usage(cli, stderr);
		return EXIT_USAGE;
	}
	if (cli->quiet)
		progress = 0;
	io.progress = progress;
	/* limits come from the configuration file and --set, like the daemon's */
	cfg = config_load(cli->config_path, sets, nsets, cerr, sizeof cerr);
	free(sets);
	if (cfg == NULL) {
		cli_errorf("%s", cerr);
		return EXIT_USAGE;
	}
	config_limits(cfg, &lim);
	if (!cli->db_given && *config_str(cfg, "database") != '\0')
		cli->db_path = config_str(cfg, "database");
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL) {
		config_free(&cfg);
		return EXIT_TEMPFAIL;
	}
	/* parsing and writing in two threads when there are two cores */
	io.threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
	if (getenv("DMARCSTAT_THREADS"))
		io.threads = (unsigned)strtoul(getenv("DMARCSTAT_THREADS"), NULL, 10);
	ig = ingest_new(st, &lim, &io);
	worst = ingest_paths(ig, argv + optind, (size_t)(argc - optind));
	s = ingest_stats(ig);
	if (!cli->quiet || cli->format == CLI_JSON) {
		if (cli->format == CLI_JSON)
			printf("{\"inputs\":%llu,\"imported\":%llu,\"duplicates\":%llu,"
			    "\"rejected\":%llu,\"not_report\":%llu,\"unsupported\":%llu,"
			    "\"errors\":%llu,\"records\":%llu,\"messages\":%llu}\n",
			    (unsigned long long)s->inputs,
			    (unsigned long long)s->imported,
			    (unsigned long long)s->duplicates,
			    (unsigned long long)s->rejected,
			    (unsigned long long)s->not_report,
			    (unsigned long long)s->unsupported,
			    (unsigned long long)s->errors,
			    (unsigned long long)s->records,
			    (unsigned long long)s->messages);
		else
			cli_msgf(cli, stderr, "import.done",
			    (unsigned long long)s->inputs,
			    (unsigned long long)s->imported,
			    (unsigned long long)s->duplicates,
			    (unsigned long long)(s->rejected + s->not_report),
			    (unsigned long long)s->unsupported,
			    (unsigned long long)s->messages);
	}
	rc = ingest_free(&ig);
	if (rc < 0 && worst >= 0)
		worst = rc;
	store_close(&st);
	config_free(&cfg);
	if (worst < 0)
		return EXIT_TEMPFAIL;
	return worst > 0 ? EXIT_SOME_BAD : EXIT_OK;
}
