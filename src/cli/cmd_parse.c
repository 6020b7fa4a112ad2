/*
 * cmd_parse.c - `dmarcstat parse [--json] PATH...`: what the parser sees,
 * with no database.  Inputs are walked and unpacked exactly as `import`
 * does (ingest/walk, parse/unpack); each XML document is streamed through
 * parse/aggregate into parse/report_json, so memory stays flat for a report
 * of any size.  Without --json, one line per report.
 *
 * An input that holds no report prints one error line and makes the exit
 * code 1; so does a rejected report and a report kind not analysed yet
 * (failure, SMTP TLS), which is named as such.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "ingest/leaf.h"
#include "ingest/walk.h"
#include "lib/xalloc.h"
#include "parse/aggregate.h"
#include "parse/report_json.h"
#include "parse/unpack.h"

int cmd_parse(struct cli *cli, int argc, char **argv);

#define PARSE_CHUNK (64u << 10)

struct parse_ctx {
	struct cli *cli;
	struct limits lim;
	struct report_json *json;   /* NULL: text lines */
	unsigned char *chunk;
	const char *name, *member;
	unsigned reports, bad;      /* in the current input */
	struct leaf_others others;
	int any_bad;
};

static void
say(struct parse_ctx *p, const char *label, const char *status, const char *why)
{
	char buf[1024], *clean;

	status = cli_status_word(status);
	clean = xstrdup(cli_reason(why, buf, sizeof buf));

	for (char *c = clean; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = '?';
	if (label && *label)
		cli_errorf("%s [%s]: %s: %s", p->name, label,
		    status, clean);
	else
		cli_errorf("%s: %s: %s", p->name, status, clean);
	free(clean);
}

static char *
leaf_label(const struct parse_ctx *p, const char *label)
{
	if (p->member && label && *label)
		return xasprintf("%s > %s", p->member, label);
	return xstrdup(p->member ? p->member : label ? label : "");
}

/* Text mode: one line per report. */
static void
print_line(const char *input, const struct report *r)
{
	printf("%s: %s report %s for %s, %lld-%lld: %llu records, %llu messages%s\n",
	    input, r->org_name ? r->org_name : "?",
	    r->report_id ? r->report_id : "?",
	    r->policy.domain ? r->policy.domain : "?",
	    (long long)r->begin, (long long)r->end,
	    (unsigned long long)r->n_records, (unsigned long long)r->msg_total,
	    r->n_warnings ? " (with warnings)" : "");
}

static void
parse_xml(struct parse_ctx *p, struct unpack_leaf *leaf)
{
	static const struct aggregate_cb none = { NULL, NULL };
	char *label = leaf_label(p, leaf->label);
	char *input = *label ? xasprintf("%s [%s]", p->name, label) : xstrdup(p->name);
	const struct report *rep = NULL;
	struct aggregate *a;
	char err[512] = "";
	int rc = 0;

	if (p->json)
		report_json_input(p->json, input);
	a = aggregate_new(&p->lim, p->json ? &report_json_cb : &none, p->json);
	for (;;) {
		ssize_t n = rd_read(leaf->rd, p->chunk, PARSE_CHUNK);
		if (n < 0) {
			snprintf(err, sizeof err, "%s", leaf->rd->err);
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		rc = aggregate_feed(a, p->chunk, (size_t)n, err, sizeof err);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		rc = aggregate_finish(a, &rep, err, sizeof err);
	if (rc != 0 && aggregate_not_dmarc(a)) {
		/* an HTML or other XML part of a mail: not a report at all */
		leaf_others_add_xml(&p->others, err);
	} else if (rc != 0) {
		p->reports++;
		p->bad++;
		say(p, label, "rejected", err);
	} else if (p->reports++, !p->json)
		print_line(input, rep);
	if (p->json)
		report_json_report_end(p->json, rc == 0 ? rep : NULL, NULL);
	aggregate_free(&a);
	free(input);
	free(label);
}

static int
on_leaf(void *ctx, struct unpack_leaf *leaf)
{
	struct parse_ctx *p = ctx;
	enum leaf_class c = leaf_classify(leaf);
	char *label;

	switch (c) {
	case LEAF_AGGREGATE:
		parse_xml(p, leaf);
		break;
	case LEAF_FAILURE:
	case LEAF_TLSRPT:
	case LEAF_MSG:
		label = leaf_label(p, leaf->label);
		p->reports++;
		p->bad++;
		say(p, label, "unsupported", leaf_reason(c));
		free(label);
		break;
	case LEAF_OTHER:
		leaf_others_add_leaf(&p->others, leaf);
		break;
	}
	return 0;
}

static int
on_input(void *ctx, const char *source, const char *name, const char *member,
    struct rd *rd)
{
	struct parse_ctx *p = ctx;
	char err[512];

	p->name = name;
	p->member = member;
	p->reports = p->bad = 0;
	p->others.text[0] = '\0';
	if (unpack_run(rd, &p->lim, on_leaf, p, err, sizeof err) != 0) {
		say(p, member, "rejected", err);
		p->any_bad = 1;
		return 0;
	}
	if (p->reports == 0) {
		char why[300];
		leaf_not_report_reason(&p->others, rd->total, why, sizeof why);
		say(p, member, "not a report", why);
	}
	if (p->bad || p->reports == 0)
		p->any_bad = 1;
	return 0;
}

static void
on_error(void *ctx, const char *name, const char *reason)
{
	struct parse_ctx *p = ctx;

	char buf[1024];

	cli_errorf("%s: %s: %s", name, cli_status_word("error"),
	    cli_reason(reason, buf, sizeof buf));
	p->any_bad = 1;
}

int
cmd_parse(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct parse_ctx p = { .cli = cli };
	struct walk_cb cb = { on_input, on_error, &p };
	int c, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': cli->format = CLI_JSON; break;
		case 'h':
			printf("%s\n", cli_msg(cli, "parse.usage"));
			return EXIT_OK;
		default:
			fprintf(stderr, "%s\n", cli_msg(cli, "parse.usage"));
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s\n", cli_msg(cli, "parse.usage"));
		return EXIT_USAGE;
	}
	unpack_global_init();
	limits_default(&p.lim);
	p.chunk = xmalloc(PARSE_CHUNK);
	if (cli->format == CLI_JSON)
		p.json = report_json_new(stdout);
	for (int i = optind; i < argc; i++)
		walk_path(argv[i], &p.lim, &cb);
	if (p.json && report_json_free(&p.json) < 0) {
		cli_errorf("cannot write the output");
		rc = EXIT_SOFTWARE;
	}
	free(p.chunk);
	if (rc == EXIT_OK && p.any_bad)
		rc = EXIT_SOME_BAD;
	return rc;
}
