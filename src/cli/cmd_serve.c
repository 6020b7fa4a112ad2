/*
 * cmd_serve.c - `dmarcstat serve`: everything in one process, configured by
 * one config file (--config, $DMARCSTAT_CONFIG, --set KEY=VALUE):
 *   - the web dashboard and its JSON API on libmicrohttpd (web/server.c),
 *   - the HTTP intake endpoints (web/intake.c): POST /api/v1/intake,
 *     POST /tlsrpt, GET /healthz, GET /metrics,
 *   - the intake daemon (ingest/daemon.c): IMAP pollers, spool/Maildir
 *     watchers, retention; it owns the signals: SIGHUP rereads the config
 *     file (intake settings and the mailbox list reach the web server via
 *     the reload hook), SIGTERM/SIGINT drain it, then the web server stops
 *     accepting and finishes the requests in flight,
 *   - background enrichment (below).
 * `dmarcstat daemon` is the same without the web server.
 *
 * Options: --listen ADDR:PORT (else the config's web.listen, by default
 * 127.0.0.1:8025), --assets-dir DIR (serve web/ from disk while
 * developing), --threads N.  The database: --db or $DMARCSTAT_DB, else the
 * config's `database`, else the default.  Prints the URL, serves until
 * SIGTERM/SIGINT, exits 0.  Exit 2 for a bad configuration or option, 75
 * when the port is in use or the database cannot be opened, 70 when the
 * daemon failed (e.g. a spool folder vanished).
 * $DMARCSTAT_NOW (epoch seconds) fixes "now" for reproducible tests.
 *
 * Background enrichment (unless --no-enrich): one thread with its own
 * database connection runs enrich_run() on at most SERVE_ENRICH_BATCH IPs
 * at a time: at start, within SERVE_ENRICH_POLL seconds of new reports
 * (an upload, an import by another process), every SERVE_ENRICH_PERIOD
 * seconds, and again at once while a full batch was done.  When the
 * resolver does not answer, the next tries back off up to an hour (new
 * reports still trigger one).  Requests never wait for it; the dashboard
 * shows "not resolved" meanwhile.  --resolver ADDR:PORT picks the DNS
 * server (default: /etc/resolv.conf).  Progress: GET /api/enrichment.
 * enrich.enabled = no in the config file turns it off like --no-enrich.
 */
#include <ares.h>
#include <getopt.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/enrich.h"
#include "cli/cli.h"
#include "ingest/daemon.h"
#include "lib/config.h"
#include "store/store.h"
#include "web/api.h"
#include "web/server.h"

#define SERVE_ENRICH_BATCH 200
#define SERVE_ENRICH_PERIOD 60
#define SERVE_ENRICH_POLL 5
#define SERVE_ENRICH_BACKOFF_MAX 3600
#define SERVE_ENRICH_JOIN_WAIT 4
#define SERVE_MAX_SETS 256

struct serve_enricher {
	const char *db_path;
	struct enrich_opts o;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

/* max(id) and count(*) of reports: changes when reports come or go. */
static void
serve_reports_mark(sqlite3 *db, long long mark[2])
{
	sqlite3_stmt *s = NULL;

	mark[0] = mark[1] = -1;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0), count(*) FROM reports", -1, &s,
	    NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		mark[0] = sqlite3_column_int64(s, 0);
		mark[1] = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
}

/* Sleeps until `until` (epoch seconds) or a stop request; returns stop. */
static int
serve_enrich_wait(struct serve_enricher *e, time_t until)
{
	struct timespec ts = { .tv_sec = until, .tv_nsec = 0 };
	int stop;

	pthread_mutex_lock(&e->mu);
	while (!e->stop && time(NULL) < until)
		if (pthread_cond_timedwait(&e->cv, &e->mu, &ts) != 0)
			break;
	stop = e->stop;
	pthread_mutex_unlock(&e->mu);
	return stop;
}

static void *
serve_enrich_main(void *arg)
{
	struct serve_enricher *e = arg;
	struct store *st = NULL;
	long long last[2] = { -2, -2 }, mark[2];
	time_t next = 0, backoff = SERVE_ENRICH_PERIOD, now;
	char err[512];

	for (;;) {
		struct enrich_stats s;
		time_t wake;

		if (st == NULL && (st = store_open(e->db_path, 0, err, sizeof(err))) == NULL) {
			api_enrich_status_set("error", 0, NULL, err);
			if (serve_enrich_wait(e, time(NULL) + 30))
				break;
			continue;
		}
		serve_reports_mark(store_sqlite_handle(st), mark);
		now = time(NULL);
		if (mark[0] != last[0] || mark[1] != last[1]) {
			last[0] = mark[0];
			last[1] = mark[1];
			next = now;             /* new reports: their IPs now */
		}
		if (now >= next) {
			api_enrich_status_set("running", 0, NULL, NULL);
			memset(&s, 0, sizeof(s));
			if (enrich_run(store_sqlite_handle(st), &e->o, &s, err, sizeof(err)) != 0) {
				api_enrich_status_set("error", (int64_t)time(NULL), NULL, err);
				daemon_log(DAEMON_LOG_WARN, "enrich_failed", "error=%s", daemon_logq(err));
				next = time(NULL) + SERVE_ENRICH_PERIOD;
			} else {
				api_enrich_status_set(s.dns_gave_up ? "offline" : "idle",
				    (int64_t)time(NULL), &s, NULL);
				if (s.candidates > 0)
					daemon_log(DAEMON_LOG_INFO, "enrich", "ips=%zu seconds=%.2f ptr=%zu "
					    "nxdomain=%zu unresolved=%zu geo=%zu resolver=%s", s.candidates,
					    s.seconds, s.ok, s.nxdomain, s.unresolved, s.geo,
					    s.dns_gave_up ? "silent" : "ok");
				if (s.dns_gave_up) {
					next = time(NULL) + backoff;
					backoff = backoff * 2 > SERVE_ENRICH_BACKOFF_MAX ?
					    SERVE_ENRICH_BACKOFF_MAX : backoff * 2;
				} else {
					backoff = SERVE_ENRICH_PERIOD;
					next = s.candidates >= SERVE_ENRICH_BATCH ? time(NULL) :
					    time(NULL) + SERVE_ENRICH_PERIOD;
				}
			}
		}
		now = time(NULL);
		wake = now + SERVE_ENRICH_POLL < next ? now + SERVE_ENRICH_POLL : next;
		if (wake <= now) {
			pthread_mutex_lock(&e->mu);
			wake = e->stop;
			pthread_mutex_unlock(&e->mu);
			if (wake)
				break;
			continue;
		}
		if (serve_enrich_wait(e, wake))
			break;
	}
	store_close(&st);
	api_enrich_status_set("off", 0, NULL, NULL);
	return NULL;
}

/* Checks --resolver's syntax the way enrich_run() will use it. */
static int
serve_resolver_ok(const char *spec, char *err, size_t errlen)
{
	ares_channel ch;
	struct ares_options ao;
	int rc, ok = 1;

	memset(&ao, 0, sizeof(ao));
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return 1;
	if (ares_init_options(&ch, &ao, 0) == ARES_SUCCESS) {
		if ((rc = ares_set_servers_ports_csv(ch, spec)) != ARES_SUCCESS) {
			snprintf(err, errlen, "--resolver %s: %s", spec, ares_strerror(rc));
			ok = 0;
		}
		ares_destroy(ch);
	}
	ares_library_cleanup();
	return ok;
}

int cmd_serve(struct cli *cli, int argc, char **argv);

static void
serve_usage(FILE *f)
{
	fprintf(f, "%s\n", cli_msg(NULL, "serve.usage"));
}

/* The daemon's SIGHUP hook: new intake settings and mailbox list. */
static void
serve_reload(const struct config *cfg, void *arg)
{
	server_reload(arg, cfg);
}

static int
serve_enrich_start(struct serve_enricher *en, const char *db, const char *resolver)
{
	memset(en, 0, sizeof(*en));
	en->db_path = db;
	enrich_opts_init(&en->o);
	en->o.resolver = resolver;
	en->o.limit = SERVE_ENRICH_BATCH;
	en->o.concurrency = 100;
	en->o.timeout_ms = 800;
	pthread_mutex_init(&en->mu, NULL);
	pthread_cond_init(&en->cv, NULL);
	if (pthread_create(&en->th, NULL, serve_enrich_main, en) == 0)
		return 1;
	daemon_log(DAEMON_LOG_ERROR, "enrich_failed", "error=%s",
	    daemon_logq("cannot start the enrichment thread"));
	return 0;
}

static void
serve_enrich_stop(struct serve_enricher *en)
{
	struct timespec ts;

	pthread_mutex_lock(&en->mu);
	en->stop = 1;
	pthread_cond_signal(&en->cv);
	pthread_mutex_unlock(&en->mu);
	/* A lookup round in flight ends within a few seconds; past that the
	 * process exits without it (its transaction is all-or-nothing). */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += SERVE_ENRICH_JOIN_WAIT;
	if (pthread_timedjoin_np(en->th, NULL, &ts) != 0)
		pthread_detach(en->th);
}

int
cmd_serve(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"assets-dir", required_argument, NULL, 'a'},
		{"threads", required_argument, NULL, 't'},
		{"no-enrich", no_argument, NULL, 'N'},
		{"resolver", required_argument, NULL, 'R'},
		{"set", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	struct server_opts o;
	struct server *srv = NULL;
	struct daemon *d = NULL;
	struct config *cfg = NULL;
	static struct serve_enricher en;   /* outlives a detached thread */
	char *sets[SERVE_MAX_SETS + 1];
	size_t nsets = 0;
	char err[512];
	const char *now, *resolver = NULL, *db;
	int ch, rc, no_enrich = 0, enriching = 0;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:a:t:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o.listen = optarg;
			break;
		case 'a':
			o.assets_dir = optarg;
			break;
		case 't': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || n < 1 || n > 256) {
				fprintf(stderr, "dmarcstat serve: --threads must be 1..256\n");
				return EXIT_USAGE;
			}
			o.threads = (unsigned)n;
			break;
		}
		case 'N':
			no_enrich = 1;
			break;
		case 'R':
			resolver = optarg;
			break;
		case 's':
			if (nsets == SERVE_MAX_SETS) {
				fprintf(stderr, "dmarcstat serve: too many --set\n");
				return EXIT_USAGE;
			}
			sets[nsets++] = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return EXIT_OK;
		default:
			serve_usage(stderr);
			return EXIT_USAGE;
		}
	}
	sets[nsets] = NULL;
	if (optind < argc) {
		serve_usage(stderr);
		return EXIT_USAGE;
	}
	if (resolver != NULL && !serve_resolver_ok(resolver, err, sizeof(err))) {
		fprintf(stderr, "dmarcstat serve: %s\n", err);
		return EXIT_USAGE;
	}
	if ((cfg = config_load(cli->config_path, sets, nsets, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dmarcstat serve: %s\n", err);
		return EXIT_USAGE;
	}
	db = cli->db_path;
	if (!cli->db_given && *config_str(cfg, "database") != '\0')
		db = config_str(cfg, "database");
	if (o.listen == NULL)
		o.listen = config_str(cfg, "web.listen");
	if ((now = getenv("DMARCSTAT_NOW")) != NULL && *now)
		o.now = strtoll(now, NULL, 10);
	o.db_path = db;
	o.log = !cli->quiet;
	o.cfg = cfg;
	/* The daemon first: it blocks the signals that every later thread
	 * (MHD's, the enricher) then inherits, and takes them in daemon_run. */
	if ((d = daemon_new(cfg, db, sets, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dmarcstat serve: %s\n", err);
		config_free(&cfg);
		return EXIT_TEMPFAIL;
	}
	if ((srv = server_new(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dmarcstat serve: %s\n", err);
		daemon_free(&d);
		config_free(&cfg);
		return EXIT_TEMPFAIL;
	}
	daemon_set_reload_hook(serve_reload, srv);
	if (!cli->quiet) {
		printf("dmarcstat: dashboard at %s\n", server_url(srv));
		fflush(stdout);
	}
	if (!no_enrich && config_bool(cfg, "enrich.enabled"))
		enriching = serve_enrich_start(&en, db, resolver);
	rc = daemon_run(d, 0);
	/* the daemon has drained: no new requests, finish those in flight */
	server_stop(srv);
	if (enriching)
		serve_enrich_stop(&en);
	daemon_set_reload_hook(NULL, NULL);
	server_free(&srv);
	daemon_free(&d);
	config_free(&cfg);
	return rc == 0 ? EXIT_OK : rc;
}
