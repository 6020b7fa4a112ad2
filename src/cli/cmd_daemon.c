/*
 * cmd_daemon.c - `dmarcstat daemon`: continuous intake without the web
 * server (ingest/daemon.c): IMAP pollers, spool/Maildir watchers,
 * retention and the enrichment worker, until SIGTERM.  SIGHUP rereads the
 * config file.  Runs in the foreground (systemd Type=simple); logs
 * key=value lines to stderr or syslog (log.target).
 *
 *   dmarcstat [--config FILE] daemon [--set KEY=VALUE]... [--once]
 *
 * --once runs one pass of everything and exits (0 ok, 1 some inputs
 * invalid, 75 a temporary failure remains).  Exit: 0 after SIGTERM,
 * 2 bad configuration, 75 database unavailable at start, 70 internal.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "analyze/enrich.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "ingest/daemon.h"
#include "lib/config.h"
#include "store/store.h"

int cmd_daemon(struct cli *cli, int argc, char **argv);

#define DAEMON_CMD_MAX_SETS 256

static void
daemon_cmd_usage(FILE *fp)
{
	fprintf(fp, "%s\n", cli_msg(NULL, "daemon.usage"));
}

/*
 * The daemon's enrichment worker: resolves up to 200 source IPs that have
 * no fresh ip_info row per call (bounded work, as daemon.h asks); the
 * daemon calls again at once while there was work, else after a minute.
 * A silent resolver makes enrich_run mark the rest unresolved quickly, so
 * an offline machine costs one short timeout per round.
 */
static int
daemon_cmd_enrich(struct store *st, const struct config *cfg,
    const volatile int *stop, void *arg)
{
	struct enrich_opts o;
	struct enrich_stats s = { 0 };
	char err[512];

	(void)cfg;
	(void)arg;
	if (*stop)
		return 0;
	enrich_opts_init(&o);
	o.limit = 200;
	if (enrich_run(store_sqlite_handle(st), &o, &s, err, sizeof err) != 0) {
		daemon_log(DAEMON_LOG_WARN, "enrich_failed", "error=%s",
		    daemon_logq(err));
		return -1;
	}
	if (s.candidates > 0)
		daemon_log(DAEMON_LOG_INFO, "enrich", "ips=%zu seconds=%.2f ptr=%zu "
		    "nxdomain=%zu unresolved=%zu geo=%zu", s.candidates, s.seconds,
		    s.ok, s.nxdomain, s.unresolved, s.geo);
	/* more pending only when the batch was full and DNS answered */
	return s.dns_gave_up ? 0 : (int)s.candidates;
}

int
cmd_daemon(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *sets[DAEMON_CMD_MAX_SETS + 1];
	size_t nsets = 0;
	struct config *cfg;
	struct daemon *d;
	const char *db;
	char err[512];
	int ch, once = 0, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (nsets == DAEMON_CMD_MAX_SETS) {
				cli_errorf("daemon: too many --set");
				return EXIT_USAGE;
			}
			sets[nsets++] = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 'h':
			daemon_cmd_usage(stdout);
			return EXIT_OK;
		default:
			daemon_cmd_usage(stderr);
			return EXIT_USAGE;
		}
	}
	sets[nsets] = NULL;
	if (optind < argc) {
		daemon_cmd_usage(stderr);
		return EXIT_USAGE;
	}
	if ((cfg = config_load(cli->config_path, sets, nsets, err, sizeof err)) == NULL) {
		cli_errorf("daemon: %s", err);
		return EXIT_USAGE;
	}
	/* the config's database unless --db or $DMARCSTAT_DB chose one */
	db = cli->db_path;
	if (!cli->db_given && *config_str(cfg, "database") != '\0')
		db = config_str(cfg, "database");
	daemon_set_enrich(daemon_cmd_enrich, NULL);
	if ((d = daemon_new(cfg, db, sets, err, sizeof err)) == NULL) {
		cli_errorf("daemon: %s", err);
		config_free(&cfg);
		return EXIT_TEMPFAIL;
	}
	rc = daemon_run(d, once);
	daemon_free(&d);
	config_free(&cfg);
	return rc;
}
