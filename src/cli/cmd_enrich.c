/*
 * cmd_enrich.c - `dmarcstat enrich`: looks up every source IP that has no
 * fresh ip_info row (PTR, forward confirmation, base domain, ASN, AS name,
 * country, known service).  Separate from import so that import speed
 * never depends on DNS.  --offline (or an unreachable resolver) stores
 * "unresolved" and geo data at once instead of waiting.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "analyze/enrich.h"
#include "analyze/messages.h"
#include "cli/cli.h"
#include "cli/common.h"

int cmd_enrich(struct cli *cli, int argc, char **argv);

static void
enrich_cli_progress(void *arg, size_t done, size_t total)
{
	(void)arg;
	fprintf(stderr, "\renrich: %zu / %zu", done, total);
	fflush(stderr);
}

static int
enrich_cli_num(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		cli_errorf("enrich: %s: expected %ld..%ld", opt, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int
cmd_enrich(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resolver", required_argument, NULL, 'R' },
		{ "offline", no_argument, NULL, 'o' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "tries", required_argument, NULL, 'T' },
		{ "refresh", no_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'n' },
		{ "mmdb", required_argument, NULL, 'm' },
		{ "locdb", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *usage = messages_get("usage.enrich", cli->lang);
	struct enrich_opts o;
	struct enrich_stats s;
	struct store *st;
	struct sqlite3 *db;
	char err[512];
	long v;
	int c, busy, rc;

	enrich_opts_init(&o);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'R': o.resolver = optarg; break;
		case 'o': o.offline = 1; break;
		case 'f': o.refresh = 1; break;
		case 'm': o.mmdb = optarg; break;
		case 'l': o.locdb = optarg; break;
		case 'j': cli->format = CLI_JSON; break;
		case 'c':
			if (enrich_cli_num("--concurrency", optarg, 1, 5000, &v) != 0)
				return EXIT_USAGE;
			o.concurrency = (int)v;
			break;
		case 't':
			if (enrich_cli_num("--timeout", optarg, 50, 60000, &v) != 0)
				return EXIT_USAGE;
			o.timeout_ms = (int)v;
			break;
		case 'T':
			if (enrich_cli_num("--tries", optarg, 1, 10, &v) != 0)
				return EXIT_USAGE;
			o.tries = (int)v;
			break;
		case 'n':
			if (enrich_cli_num("--limit", optarg, 1, 100000000, &v) != 0)
				return EXIT_USAGE;
			o.limit = (size_t)v;
			break;
		case 'h':
			printf("%s\n", usage);
			return EXIT_OK;
		default:
			fprintf(stderr, "%s\n", usage);
			return EXIT_USAGE;
		}
	}
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	db = store_sqlite_handle(st);
	if (db == NULL) {
		cli_errorf("enrich: needs the SQLite store");
		store_close(&st);
		return EXIT_SOFTWARE;
	}
	if (cli->tty && !cli->quiet && cli->format != CLI_JSON && isatty(2))
		o.progress = enrich_cli_progress;
	if (optind < argc)
		rc = enrich_ips(db, (const char *const *)(argv + optind), (size_t)(argc - optind),
		    &o, &s, err, sizeof(err));
	else
		rc = enrich_run(db, &o, &s, err, sizeof(err));
	if (o.progress)
		fputc('\n', stderr);
	store_close(&st);
	if (rc != 0) {
		cli_errorf("enrich: %s", err);
		return strstr(err, "--resolver") ? EXIT_USAGE : EXIT_TEMPFAIL;
	}
	if (cli->format == CLI_JSON) {
		json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:f}",
		    "ips", (json_int_t)s.candidates, "ok", (json_int_t)s.ok,
		    "nxdomain", (json_int_t)s.nxdomain, "timeout", (json_int_t)s.timeout,
		    "servfail", (json_int_t)s.servfail, "error", (json_int_t)s.error,
		    "unresolved", (json_int_t)s.unresolved, "fcrdns_ok", (json_int_t)s.fcrdns_ok,
		    "fcrdns_bad", (json_int_t)s.fcrdns_bad, "geo", (json_int_t)s.geo,
		    "dns_gave_up", s.dns_gave_up, "geo_source", s.geo_source ? s.geo_source : "none",
		    "seconds", s.seconds);
		cli_output_json(cli, j);
		json_decref(j);
	} else if (!cli->quiet) {
		printf("enrich: %zu IPs in %.2f s: %zu PTR (%zu forward-confirmed, %zu not), "
		    "%zu NXDOMAIN, %zu timeout, %zu SERVFAIL, %zu error, %zu not resolved; "
		    "geo %zu (%s)\n", s.candidates, s.seconds, s.ok, s.fcrdns_ok, s.fcrdns_bad,
		    s.nxdomain, s.timeout, s.servfail, s.error, s.unresolved, s.geo,
		    s.geo_source ? s.geo_source : "none");
		if (s.dns_gave_up)
			printf("enrich: the resolver did not answer: working offline; "
			    "remaining IPs are marked not resolved and retried next run\n");
	}
	return EXIT_OK;
}
