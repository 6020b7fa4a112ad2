/*
 * cmd_serve.c - `dmarcstat serve`: the web dashboard on libmicrohttpd
 * (web/server.c).  Options: --listen ADDR:PORT (default 127.0.0.1:8025),
 * --assets-dir DIR (serve web/ from disk while developing), --threads N.
 * Prints the URL, serves until SIGTERM/SIGINT, exits 0.  A port in use or
 * an unreadable database is a start-up error (exit 75 / 70).
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
#include "store/store.h"
#include "web/api.h"
#include "web/server.h"

#define SERVE_ENRICH_BATCH 200
#define SERVE_ENRICH_PERIOD 60
#define SERVE_ENRICH_POLL 5
#define SERVE_ENRICH_BACKOFF_MAX 3600
#define SERVE_ENRICH_JOIN_WAIT 4

struct serve_enricher {
	const char *db_path;
	struct enrich_opts o;
	FILE *log;
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
				if (e->log)
					fprintf(e->log, "dmarcstat serve: enrich: %s\n", err);
				next = time(NULL) + SERVE_ENRICH_PERIOD;
			} else {
				api_enrich_status_set(s.dns_gave_up ? "offline" : "idle",
				    (int64_t)time(NULL), &s, NULL);
				if (e->log && s.candidates > 0)
					fprintf(e->log, "dmarcstat serve: enrich: %zu IPs in %.2f s: %zu PTR, "
					    "%zu NXDOMAIN, %zu not resolved, geo %zu%s\n", s.candidates,
					    s.seconds, s.ok, s.nxdomain, s.unresolved, s.geo,
					    s.dns_gave_up ? " (resolver not answering)" : "");
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
			if (e->log)
				fflush(e->log);
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
	fputs("usage: dmarcstat [--db FILE] serve [--listen ADDR:PORT] [--assets-dir DIR]"
	    " [--threads N]\n"
	    "                 [--no-enrich] [--resolver ADDR:PORT]\n"
	    "  --listen ADDR:PORT  where to listen (default " SERVER_DEFAULT_LISTEN ");\n"
	    "                      use [::1]:PORT for IPv6, port 0 for any free port\n"
	    "  --assets-dir DIR    serve the dashboard files from DIR (development)\n"
	    "  --threads N         worker threads (default 2 x CPUs, 4..16)\n"
	    "  --no-enrich         no background enrichment of source IPs\n"
	    "  --resolver ADDR:PORT  DNS server for enrichment (default: resolv.conf)\n", f);
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
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	struct server_opts o;
	struct server *srv;
	static struct serve_enricher en;   /* outlives a detached thread */
	char err[512];
	const char *now, *resolver = NULL;
	int ch, rc, no_enrich = 0, enriching = 0;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:a:t:h", longopts, NULL)) != -1) {
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
		case 'h':
			serve_usage(stdout);
			return EXIT_OK;
		default:
			serve_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		serve_usage(stderr);
		return EXIT_USAGE;
	}
	if (resolver != NULL && !serve_resolver_ok(resolver, err, sizeof(err))) {
		fprintf(stderr, "dmarcstat serve: %s\n", err);
		return EXIT_USAGE;
	}
	if ((now = getenv("DMARCSTAT_NOW")) != NULL && *now)
		o.now = strtoll(now, NULL, 10);
	o.db_path = cli->db_path;
	o.log = cli->quiet ? NULL : stderr;
	srv = server_new(&o, err, sizeof(err));
	if (srv == NULL) {
		fprintf(stderr, "dmarcstat serve: %s\n", err);
		return EXIT_TEMPFAIL;
	}
	if (!cli->quiet) {
		printf("dmarcstat: dashboard at %s\n", server_url(srv));
		fflush(stdout);
	}
	/* Started after server_new(): the thread inherits the blocked signals. */
	if (!no_enrich) {
		memset(&en, 0, sizeof(en));
		en.db_path = cli->db_path;
		en.log = cli->quiet ? NULL : stderr;
		enrich_opts_init(&en.o);
		en.o.resolver = resolver;
		en.o.limit = SERVE_ENRICH_BATCH;
		en.o.concurrency = 100;
		en.o.timeout_ms = 800;
		pthread_mutex_init(&en.mu, NULL);
		pthread_cond_init(&en.cv, NULL);
		enriching = pthread_create(&en.th, NULL, serve_enrich_main, &en) == 0;
		if (!enriching)
			fprintf(stderr, "dmarcstat serve: cannot start the enrichment thread\n");
	}
	rc = server_run(srv);
	if (enriching) {
		struct timespec ts;

		pthread_mutex_lock(&en.mu);
		en.stop = 1;
		pthread_cond_signal(&en.cv);
		pthread_mutex_unlock(&en.mu);
		/* A lookup round in flight ends within a few seconds; past that the
		 * process exits without it (its transaction is all-or-nothing). */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += SERVE_ENRICH_JOIN_WAIT;
		if (pthread_timedjoin_np(en.th, NULL, &ts) != 0)
			pthread_detach(en.th);
	}
	server_free(&srv);
	return rc == 0 ? EXIT_OK : EXIT_SOFTWARE;
}
