/*
 * cmd_readiness.c - `dmarcstat readiness DOMAIN`: the published policy as
 * seen in reports, what p=quarantine / p=reject would hit over the period
 * (forwarded mail counted apart), a verdict, a checklist and the next
 * steps, in English or Japanese (--lang); --json gives the API object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/analyze.h"
#include "analyze/messages.h"
#include "cli/cli.h"
#include "cli/common.h"

int cmd_readiness(struct cli *cli, int argc, char **argv);

static const char *
readiness_label(const struct cli *cli, const char *key)
{
	const char *t = messages_get(key, cli->lang);

	return t ? t : key;
}

static const char *
readiness_text(const struct cli *cli, json_t *msgobj)
{
	json_t *m = json_object_get(msgobj, "messages");
	const char *lang = cli->lang && strncmp(cli->lang, "ja", 2) == 0 ? "ja" : "en";
	const char *s = json_string_value(json_object_get(m, lang));

	return s ? s : "";
}

static const char *
readiness_opt(json_t *o, const char *k, char *buf, size_t len)
{
	json_t *v = json_object_get(o, k);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return "-";
}

static void
readiness_print(const struct cli *cli, json_t *r)
{
	json_t *pol = json_object_get(r, "policy"), *per = json_object_get(r, "period");
	json_t *tot = json_object_get(r, "totals"), *v, *x;
	char a[32], b[32], pb[6][16];
	size_t i;

	cli_fmt_time(json_integer_value(json_object_get(per, "first")), a, sizeof(a));
	cli_fmt_time(json_integer_value(json_object_get(per, "last")), b, sizeof(b));
	printf("%s  (%s .. %s UTC, %lld messages, %lld%s)\n\n",
	    json_string_value(json_object_get(r, "domain")), a, b,
	    (long long)json_integer_value(json_object_get(tot, "messages")),
	    (long long)json_integer_value(json_object_get(pol, "reporters")),
	    strncmp(cli->lang ? cli->lang : "en", "ja", 2) == 0 ? " 社" : " reporters");
	printf("%s: p=%s sp=%s np=%s pct=%s adkim=%s aspf=%s t=%s\n",
	    readiness_label(cli, "label.policy"),
	    readiness_opt(pol, "p", pb[0], 16), readiness_opt(pol, "sp", pb[1], 16),
	    readiness_opt(pol, "np", pb[2], 16), readiness_opt(pol, "pct", pb[3], 16),
	    readiness_opt(pol, "adkim", pb[4], 16), readiness_opt(pol, "aspf", pb[5], 16),
	    json_is_string(json_object_get(pol, "testing")) ?
	    json_string_value(json_object_get(pol, "testing")) : "-");
	v = json_object_get(r, "verdict");
	printf("%s: %s\n\n", readiness_label(cli, "label.verdict"), readiness_text(cli, v));

	x = json_array_get(json_object_get(r, "simulation"), 1);
	printf("%s (p=reject): %s %lld  [%s %lld, %s %lld, %s %lld, %s %lld]\n",
	    readiness_label(cli, "label.simulation"), readiness_label(cli, "label.would_hit"),
	    (long long)json_integer_value(json_object_get(x, "affected")),
	    readiness_label(cli, "label.legit_hit"), (long long)json_integer_value(json_object_get(x, "legitimate")),
	    readiness_label(cli, "label.forwarded_hit"), (long long)json_integer_value(json_object_get(x, "forwarded")),
	    readiness_label(cli, "label.spoofing_hit"), (long long)json_integer_value(json_object_get(x, "spoofing")),
	    readiness_label(cli, "label.unknown_hit"), (long long)json_integer_value(json_object_get(x, "unknown")));
	json_array_foreach(json_object_get(x, "sources"), i, v) {
		if (i >= 10)
			break;
		printf("  %-39s %-40s %8lld  %s\n", json_string_value(json_object_get(v, "ip")),
		    json_is_string(json_object_get(v, "ptr")) ? json_string_value(json_object_get(v, "ptr")) : "-",
		    (long long)json_integer_value(json_object_get(v, "messages")),
		    readiness_text(cli, json_object_get(v, "reason")));
	}
	printf("\n%s:\n", readiness_label(cli, "label.checklist"));
	json_array_foreach(json_object_get(r, "checklist"), i, v)
		printf("  [%s] %s\n", json_is_true(json_object_get(v, "ok")) ? "x" : " ",
		    readiness_text(cli, v));
	printf("\n%s:\n", readiness_label(cli, "label.steps"));
	json_array_foreach(json_object_get(r, "steps"), i, v)
		printf("  %zu. %s\n", i + 1, readiness_text(cli, v));
}

int
cmd_readiness(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "days", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t now = (int64_t)time(NULL), since = 0, until = 0;
	const char *verdict;
	struct store *st;
	json_t *r;
	int c, busy, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'u': {
			int64_t t;
			if (cli_parse_time(optarg, now, &t) != 0) {
				cli_errorf("%s: %s", optarg, cli_msg(cli, "err.bad_time"));
				return EXIT_USAGE;
			}
			if (c == 's')
				since = t;
			else
				until = t;
			break;
		}
		case 'd': {
			char *end;
			long d = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || d <= 0 || d > 3660) {
				cli_errorf("--days: 1..3660");
				return EXIT_USAGE;
			}
			since = now - (int64_t)d * 86400;
			break;
		}
		case 'j': cli->format = CLI_JSON; break;
		case 'h':
			printf("%s\n", readiness_label(cli, "usage.readiness"));
			return EXIT_OK;
		default:
			fprintf(stderr, "%s\n", readiness_label(cli, "usage.readiness"));
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "%s\n", readiness_label(cli, "usage.readiness"));
		return EXIT_USAGE;
	}
	st = cli_open_store(cli, 0, &busy);
	if (st == NULL)
		return EXIT_TEMPFAIL;
	r = analyze_readiness_json(st, argv[optind], since, until);
	store_close(&st);
	if (r == NULL) {
		cli_errorf("readiness: %s", analyze_errmsg());
		return EXIT_TEMPFAIL;
	}
	if (cli->format == CLI_JSON)
		cli_output_json(cli, r);
	else
		readiness_print(cli, r);
	verdict = json_string_value(json_object_get(json_object_get(r, "verdict"), "verdict"));
	rc = verdict && strcmp(verdict, "no_data") == 0 ? EXIT_SOME_BAD : EXIT_OK;
	json_decref(r);
	return rc;
}
