/*
 * common.c - helpers shared by subcommands: opening the store with a
 * one-line error, parsing dates and durations given on the command line.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "lib/reasontr.h"
#include "store/query.h"

struct store *
cli_open_store(struct cli *cli, int readonly, int *busy)
{
	char err[512];
	struct store *st = store_open(cli->db_path, readonly, err, sizeof err);
	size_t plen = strlen(cli->db_path);

	if (busy)
		*busy = 0;
	if (st == NULL && readonly && strstr(err, "older than this dmarcstat")) {
		/* a query on a database of an earlier version: migrate it once */
		struct store *rw = store_open(cli->db_path, 0, err, sizeof err);
		if (rw != NULL) {
			store_close(&rw);
			st = store_open(cli->db_path, readonly, err, sizeof err);
		}
	}
	if (st == NULL) {
		/* the store's reason may already name the file */
		if (strncmp(err, cli->db_path, plen) == 0 && err[plen] == ':')
			cli_errorf("%s", err);
		else
			cli_errorf("%s: %s", cli->db_path, err);
		if (busy && (errno == EBUSY || strstr(err, "locked")))
			*busy = 1;
	}
	return st;
}

int
cli_parse_time(const char *s, int64_t now, int64_t *out)
{
	char *end;
	long long v;
	struct tm tm;

	if (s == NULL || *s == '\0')
		return -1;
	/* "30d", "12h", "2w": a duration back from now */
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == 0 && end != s && end[0] && end[1] == '\0' && v >= 0) {
		long long mul = 0;
		switch (tolower((unsigned char)end[0])) {
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		case 'm': mul = 30 * 86400; break;
		case 'y': mul = 365 * 86400; break;
		}
		if (mul && v < 100000) {
			*out = now - v * mul;
			return 0;
		}
	}
	/* an epoch number */
	if (errno == 0 && end != s && *end == '\0') {
		*out = v;
		return 0;
	}
	/* YYYY-MM-DD[THH:MM[:SS]] in UTC */
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL)
		return -1;
	if (*end == 'T' || *end == ' ') {
		char *e2 = strptime(end + 1, "%H:%M:%S", &tm);
		if (e2 == NULL)
			e2 = strptime(end + 1, "%H:%M", &tm);
		if (e2 == NULL)
			return -1;
		end = e2;
	}
	if (*end == 'Z')
		end++;
	if (*end != '\0')
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

void
cli_fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "%lld", (long long)t);
	else
		strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

int
cli_query_opt(struct cli *cli, int c, const char *arg, struct query *q)
{
	int64_t now = (int64_t)time(NULL), t;

	switch (c) {
	case 'D': q->domain = arg; return 0;
	case 'r': q->reporter = arg; return 0;
	case 'i': q->source_ip = arg; return 0;
	case 'R': q->result = arg; return 0;
	case 'I': q->report_id = arg; return 0;
	case 'n': q->limit = (int)strtol(arg, NULL, 10); return 0;
	case 's':
	case 'u':
		if (cli_parse_time(arg, now, &t) != 0) {
			cli_errorf("%s: %s", arg,
			    cli_msg(cli, "err.bad_time"));
			return EXIT_USAGE;
		}
		if (c == 's')
			q->since = t;
		else
			q->until = t;
		return 0;
	}
	return EXIT_USAGE;
}

const char *
cli_status_word(const char *status)
{
	char key[64];
	const char *t;

	snprintf(key, sizeof key, "status.%s", status);
	t = cli_msg(NULL, key);
	return t == key || strcmp(t, key) == 0 ? status : t;
}

const char *
cli_reason(const char *reason, char *buf, size_t len)
{
	return reason_tr(cli_msg_lang(), reason, buf, len, NULL);
}

void
cli_errorf(const char *fmt, ...)
{
	char msg[1024], buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "dmarcstat: %s\n", cli_reason(msg, buf, sizeof buf));
}
