/*
 * cmd_serve.c - `dmarcstat serve`: the web dashboard on libmicrohttpd
 * (web/server.c).  Options: --listen ADDR:PORT (default 127.0.0.1:8025),
 * --assets-dir DIR (serve web/ from disk while developing), --threads N.
 * Prints the URL, serves until SIGTERM/SIGINT, exits 0.  A port in use or
 * an unreadable database is a start-up error (exit 75 / 70).
 * $DMARCSTAT_NOW (epoch seconds) fixes "now" for reproducible tests.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "web/server.h"

int cmd_serve(struct cli *cli, int argc, char **argv);

static void
serve_usage(FILE *f)
{
	fputs("usage: dmarcstat [--db FILE] serve [--listen ADDR:PORT] [--assets-dir DIR]"
	    " [--threads N]\n"
	    "  --listen ADDR:PORT  where to listen (default " SERVER_DEFAULT_LISTEN ");\n"
	    "                      use [::1]:PORT for IPv6, port 0 for any free port\n"
	    "  --assets-dir DIR    serve the dashboard files from DIR (development)\n"
	    "  --threads N         worker threads (default 2 x CPUs, 4..16)\n", f);
}

int
cmd_serve(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"assets-dir", required_argument, NULL, 'a'},
		{"threads", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	struct server_opts o;
	struct server *srv;
	char err[512];
	const char *now;
	int ch, rc;

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
	rc = server_run(srv);
	server_free(&srv);
	return rc == 0 ? EXIT_OK : EXIT_SOFTWARE;
}
