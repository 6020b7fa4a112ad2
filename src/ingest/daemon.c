/*
 * daemon.c - the intake daemon: signals, the spool watcher and timers in
 * the caller's thread, the mailbox poller and the enrichment worker in
 * their own threads; plus the key=value event log and the /metrics
 * counters used by every intake path.
 *
 * Public: daemon_log*, daemon_metrics_*, daemon_draining,
 * daemon_set_enrich, daemon_set_reload_hook, daemon_new, daemon_run,
 * daemon_free.
 *
 * Signals are blocked in every thread and read from a signalfd in the main
 * loop, so no handler runs at an arbitrary point.  SIGTERM/SIGINT set the
 * stop flag that pollers and importers check between messages: a drain
 * finishes the current batch (committed, then moved) and returns.  SIGHUP
 * loads the config file again; on success the poller thread is stopped,
 * the watcher rebuilt and the poller restarted with the new settings; on
 * failure the old configuration stays and the error is logged.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ingest/daemon.h"
#include "ingest/imap.h"
#include "ingest/retention.h"
#include "ingest/watch.h"
#include "lib/xalloc.h"

#define DAEMON_LINE_MAX 2000
#define DAEMON_Q_MAX 300
#define DAEMON_METRIC_ROWS 512

/* ---- log ---- */

static pthread_mutex_t daemon_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int daemon_log_syslog;
static enum daemon_log_level daemon_log_max = DAEMON_LOG_INFO;
static const char *daemon_level_names[] = { "error", "warn", "info", "debug" };

void
daemon_log_setup(const char *target, const char *level)
{
	int i;

	pthread_mutex_lock(&daemon_log_lock);
	if (target != NULL && strcmp(target, "syslog") == 0) {
		if (!daemon_log_syslog)
			openlog("dmarcstat", LOG_PID, LOG_DAEMON);
		daemon_log_syslog = 1;
	} else if (target != NULL) {
		if (daemon_log_syslog)
			closelog();
		daemon_log_syslog = 0;
	}
	for (i = 0; level != NULL && i < 4; i++)
		if (strcmp(level, daemon_level_names[i]) == 0)
			daemon_log_max = (enum daemon_log_level)i;
	pthread_mutex_unlock(&daemon_log_lock);
}

const char *
daemon_logq(const char *s)
{
	static _Thread_local char ring[8][DAEMON_Q_MAX + 8];
	static _Thread_local unsigned next;
	char *out = ring[next++ % 8];
	size_t o = 0, i;
	int quote = 0;

	if (s == NULL)
		s = "";
	if (*s == '\0')
		quote = 1;
	for (i = 0; s[i]; i++)
		if (s[i] == ' ' || s[i] == '"' || s[i] == '=' || s[i] == '\\' ||
		    (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			quote = 1;
	if (quote)
		out[o++] = '"';
	for (i = 0; s[i] && o < DAEMON_Q_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (quote && (c == '"' || c == '\\')) {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			out[o++] = '?';
		else
			out[o++] = (char)c;
	}
	if (s[i] != '\0' && o < DAEMON_Q_MAX + 3) {
		out[o++] = '.';
		out[o++] = '.';
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}

void
daemon_log(enum daemon_log_level level, const char *event, const char *fmt, ...)
{
	char line[DAEMON_LINE_MAX + 1];
	char ts[32];
	struct tm tm;
	time_t now;
	size_t n;
	va_list ap;
	int prio;

	if (level > daemon_log_max)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = (size_t)snprintf(line, sizeof line, "ts=%s level=%s event=%s ", ts,
	    daemon_level_names[level], event);
	if (n < sizeof line) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof line - n, fmt, ap);
		va_end(ap);
	}
	/* one event, one line: nothing may break it */
	for (n = 0; line[n]; n++)
		if ((unsigned char)line[n] < 0x20 || line[n] == 0x7f)
			line[n] = '?';
	pthread_mutex_lock(&daemon_log_lock);
	if (daemon_log_syslog) {
		prio = level == DAEMON_LOG_ERROR ? LOG_ERR :
		    level == DAEMON_LOG_WARN ? LOG_WARNING :
		    level == DAEMON_LOG_INFO ? LOG_INFO : LOG_DEBUG;
		/* syslog has its own time stamp */
		syslog(prio, "%s", line + 24);
	} else {
		fprintf(stderr, "%s\n", line);
		fflush(stderr);
	}
	pthread_mutex_unlock(&daemon_log_lock);
}

/* ---- metrics ---- */

struct daemon_metric_row {
	char source[16];
	char mailbox[72];
	struct ingest_stats s;
	uint64_t fetched;
	uint64_t polls_ok, polls_failed;
	int64_t last_success, last_poll;
	int up;
};

static pthread_mutex_t daemon_metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct daemon_metric_row daemon_rows[DAEMON_METRIC_ROWS];
static size_t daemon_n_rows;
static volatile int daemon_stop_flag;
static time_t daemon_started;

static struct daemon_metric_row *
daemon_metrics_row(const char *source, const char *mailbox)
{
	size_t i;
	struct daemon_metric_row *r;

	if (mailbox == NULL)
		mailbox = "";
	for (i = 0; i < daemon_n_rows; i++)
		if (strcmp(daemon_rows[i].source, source) == 0 &&
		    strcmp(daemon_rows[i].mailbox, mailbox) == 0)
			return &daemon_rows[i];
	if (daemon_n_rows == DAEMON_METRIC_ROWS)
		return NULL;
	r = &daemon_rows[daemon_n_rows++];
	memset(r, 0, sizeof *r);
	snprintf(r->source, sizeof r->source, "%s", source);
	snprintf(r->mailbox, sizeof r->mailbox, "%s", mailbox);
	return r;
}

void
daemon_metrics_ingest(const char *source, const char *mailbox,
    const struct ingest_stats *d)
{
	struct daemon_metric_row *r;

	pthread_mutex_lock(&daemon_metrics_lock);
	if ((r = daemon_metrics_row(source, mailbox)) != NULL) {
		r->s.inputs += d->inputs;
		r->s.imported += d->imported;
		r->s.duplicates += d->duplicates;
		r->s.rejected += d->rejected;
		r->s.not_report += d->not_report;
		r->s.unsupported += d->unsupported;
		r->s.errors += d->errors;
		r->s.records += d->records;
		r->s.messages += d->messages;
		r->s.bytes += d->bytes;
	}
	pthread_mutex_unlock(&daemon_metrics_lock);
}

void
daemon_metrics_poll(const char *mailbox, int ok, uint64_t fetched)
{
	struct daemon_metric_row *r;

	pthread_mutex_lock(&daemon_metrics_lock);
	if ((r = daemon_metrics_row("imap", mailbox)) != NULL) {
		r->fetched += fetched;
		r->last_poll = (int64_t)time(NULL);
		r->up = ok;
		if (ok) {
			r->polls_ok++;
			r->last_success = r->last_poll;
		} else
			r->polls_failed++;
	}
	pthread_mutex_unlock(&daemon_metrics_lock);
}

int
daemon_draining(void)
{
	return daemon_stop_flag != 0;
}

/* Prometheus label value: \ " and newline escaped. */
static void
daemon_metrics_label(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', fp);
		if (*s == '\n') {
			fputs("\\n", fp);
			continue;
		}
		fputc(*s, fp);
	}
}

static void
daemon_metrics_family(FILE *fp, const char *name, const char *type,
    const char *help, size_t off, int imap_only)
{
	size_t i;

	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < daemon_n_rows; i++) {
		const struct daemon_metric_row *r = &daemon_rows[i];
		const char *base = (const char *)r;
		if (imap_only && strcmp(r->source, "imap") != 0)
			continue;
		fprintf(fp, "%s{source=\"", name);
		daemon_metrics_label(fp, r->source);
		fputs("\",mailbox=\"", fp);
		daemon_metrics_label(fp, r->mailbox);
		if (strcmp(type, "gauge") == 0 && off != offsetof(struct daemon_metric_row, up))
			fprintf(fp, "\"} %lld\n", (long long)*(const int64_t *)(base + off));
		else if (off == offsetof(struct daemon_metric_row, up))
			fprintf(fp, "\"} %d\n", r->up);
		else
			fprintf(fp, "\"} %llu\n",
			    (unsigned long long)*(const uint64_t *)(base + off));
	}
}

void
daemon_metrics_write(FILE *fp)
{
#define ROW(f) offsetof(struct daemon_metric_row, f)
	pthread_mutex_lock(&daemon_metrics_lock);
	fprintf(fp, "# HELP dmarcstat_up Whether the intake process is running (0 while draining).\n"
	    "# TYPE dmarcstat_up gauge\ndmarcstat_up %d\n", daemon_stop_flag ? 0 : 1);
	fprintf(fp, "# HELP dmarcstat_start_time_seconds Start of the process.\n"
	    "# TYPE dmarcstat_start_time_seconds gauge\n"
	    "dmarcstat_start_time_seconds %lld\n", (long long)daemon_started);
	daemon_metrics_family(fp, "dmarcstat_messages_fetched_total", "counter",
	    "Messages downloaded from IMAP mailboxes.", ROW(fetched), 1);
	daemon_metrics_family(fp, "dmarcstat_inputs_total", "counter",
	    "Inputs (messages, files, uploads) looked at.", ROW(s.inputs), 0);
	daemon_metrics_family(fp, "dmarcstat_reports_imported_total", "counter",
	    "Reports newly stored.", ROW(s.imported), 0);
	daemon_metrics_family(fp, "dmarcstat_reports_duplicate_total", "counter",
	    "Reports that were already stored.", ROW(s.duplicates), 0);
	daemon_metrics_family(fp, "dmarcstat_reports_rejected_total", "counter",
	    "Documents that looked like reports but were unusable.", ROW(s.rejected), 0);
	daemon_metrics_family(fp, "dmarcstat_inputs_not_report_total", "counter",
	    "Inputs that held no report.", ROW(s.not_report), 0);
	daemon_metrics_family(fp, "dmarcstat_inputs_unsupported_total", "counter",
	    "Inputs recognised but stored raw only (TLS-RPT, failure reports).",
	    ROW(s.unsupported), 0);
	daemon_metrics_family(fp, "dmarcstat_intake_errors_total", "counter",
	    "Temporary intake failures (retried).", ROW(s.errors), 0);
	daemon_metrics_family(fp, "dmarcstat_polls_failed_total", "counter",
	    "Mailbox polls that failed.", ROW(polls_failed), 1);
	daemon_metrics_family(fp, "dmarcstat_mailbox_last_success_timestamp_seconds",
	    "gauge", "End of the last successful poll of the mailbox.",
	    ROW(last_success), 1);
	daemon_metrics_family(fp, "dmarcstat_mailbox_up", "gauge",
	    "1 when the last poll of the mailbox succeeded.", ROW(up), 1);
	pthread_mutex_unlock(&daemon_metrics_lock);
#undef ROW
}

/* ---- hooks ---- */

static daemon_enrich_fn daemon_enrich;
static void *daemon_enrich_arg;
static daemon_reload_fn daemon_reload;
static void *daemon_reload_arg;

void
daemon_set_enrich(daemon_enrich_fn fn, void *arg)
{
	daemon_enrich = fn;
	daemon_enrich_arg = arg;
}

void
daemon_set_reload_hook(daemon_reload_fn fn, void *arg)
{
	daemon_reload = fn;
	daemon_reload_arg = arg;
}

/* ---- the daemon ---- */

struct daemon {
	const struct config *cfg;     /* current */
	struct config *owned;         /* after a reload */
	char **sets;                  /* --set overrides, reapplied on reload */
	char *db_path;
	int sigfd;
	struct watch *watch;

	/* poller thread */
	pthread_t poller;
	int poller_running;
	volatile int poller_stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;

	/* enrichment thread */
	pthread_t enricher;
	int enricher_running;
	volatile int enrich_stop;

	int temp_failed;             /* once mode */
	int some_bad;
};

static struct store *
daemon_store(const struct daemon *d, const char *who)
{
	char err[512];
	struct store *st = store_open(d->db_path, 0, err, sizeof err);

	if (st == NULL)
		daemon_log(DAEMON_LOG_ERROR, "store_open_failed", "who=%s db=%s error=%s",
		    who, daemon_logq(d->db_path), daemon_logq(err));
	return st;
}

/* Sleeps until `secs` passed or the stop flag is set. */
static void
daemon_sleep(struct daemon *d, volatile int *stop, time_t secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&d->lock);
	while (!*stop && !daemon_stop_flag) {
		if (pthread_cond_timedwait(&d->wake, &d->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&d->lock);
}

/* Polls one mailbox once; logs and counts.  Returns the imap_poll result. */
static int
daemon_poll_one(struct daemon *d, struct store *st, const struct config *cfg,
    const struct config_mailbox *mb, const volatile int *stop)
{
	struct imap_result res;
	struct limits lim;
	const char *name = config_mailbox_name(mb);
	time_t t0 = time(NULL);
	int r;

	config_limits(cfg, &lim);
	r = imap_poll(cfg, mb, st, &lim, NULL, stop, &res);
	daemon_metrics_ingest("imap", name, &res.stats);
	daemon_metrics_poll(name, r >= 0, res.fetched);
	if (r < 0) {
		daemon_log(DAEMON_LOG_ERROR, "imap_poll_failed",
		    "mailbox=%s fetched=%llu left=%llu error=%s", daemon_logq(name),
		    (unsigned long long)res.fetched, (unsigned long long)res.left,
		    daemon_logq(res.err));
		d->temp_failed = 1;
	} else {
		if (r == 1)
			d->some_bad = 1;
		daemon_log(res.fetched ? DAEMON_LOG_INFO : DAEMON_LOG_DEBUG,
		    "imap_poll", "mailbox=%s fetched=%llu processed=%llu invalid=%llu "
		    "imported=%llu duplicates=%llu seconds=%lld", daemon_logq(name),
		    (unsigned long long)res.fetched,
		    (unsigned long long)res.processed,
		    (unsigned long long)res.invalid,
		    (unsigned long long)res.stats.imported,
		    (unsigned long long)res.stats.duplicates,
		    (long long)(time(NULL) - t0));
	}
	return r;
}

static void *
daemon_poller_main(void *arg)
{
	struct daemon *d = arg;
	const struct config *cfg = d->cfg;
	size_t n = config_mailbox_count(cfg), i;
	time_t *due = xcalloc(n ? n : 1, sizeof *due);
	struct store *st = NULL;
	char err[256];

	while (!d->poller_stop && !daemon_stop_flag) {
		time_t now = time(NULL), next = now + 3600;

		if (st == NULL) {
			if ((st = daemon_store(d, "poller")) == NULL ||
			    imap_state_init(st, err, sizeof err) != 0) {
				store_close(&st);
				daemon_sleep(d, &d->poller_stop, 30);
				continue;
			}
		}
		for (i = 0; i < n && !d->poller_stop && !daemon_stop_flag; i++) {
			const struct config_mailbox *mb = config_mailbox_at(cfg, i);
			time_t ival = (time_t)config_mb_uint(cfg, mb, "poll_interval");
			if (!config_mb_bool(cfg, mb, "enabled"))
				continue;
			if (due[i] <= now) {
				int r = daemon_poll_one(d, st, cfg, mb, &d->poller_stop);
				/* after a failure, retry sooner (but not hammering) */
				due[i] = time(NULL) + (r < 0 && ival > 60 ? 60 : ival);
			}
			if (due[i] < next)
				next = due[i];
		}
		now = time(NULL);
		if (next > now)
			daemon_sleep(d, &d->poller_stop, next - now);
	}
	store_close(&st);
	free(due);
	return NULL;
}

static void *
daemon_enricher_main(void *arg)
{
	struct daemon *d = arg;
	struct store *st = NULL;

	while (!d->enrich_stop && !daemon_stop_flag) {
		int r;
		if (st == NULL && (st = daemon_store(d, "enrich")) == NULL) {
			daemon_sleep(d, &d->enrich_stop, 30);
			continue;
		}
		r = daemon_enrich(st, d->cfg, &d->enrich_stop, daemon_enrich_arg);
		if (r < 0)
			daemon_log(DAEMON_LOG_WARN, "enrich_failed", "result=%d", r);
		if (r <= 0)
			daemon_sleep(d, &d->enrich_stop, 60);
	}
	store_close(&st);
	return NULL;
}

static void
daemon_threads_start(struct daemon *d)
{
	d->poller_stop = 0;
	if (config_mailbox_count(d->cfg) > 0 &&
	    pthread_create(&d->poller, NULL, daemon_poller_main, d) == 0)
		d->poller_running = 1;
	d->enrich_stop = 0;
	if (daemon_enrich != NULL && config_bool(d->cfg, "enrich.enabled") &&
	    pthread_create(&d->enricher, NULL, daemon_enricher_main, d) == 0)
		d->enricher_running = 1;
}

static void
daemon_threads_stop(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	d->poller_stop = 1;
	d->enrich_stop = 1;
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
	if (d->poller_running)
		pthread_join(d->poller, NULL);
	if (d->enricher_running)
		pthread_join(d->enricher, NULL);
	d->poller_running = d->enricher_running = 0;
}

struct daemon *
daemon_new(const struct config *cfg, const char *db_path, char *const *sets,
    char *err, size_t errlen)
{
	struct daemon *d;
	sigset_t set;
	struct store *st;
	size_t n = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		snprintf(err, errlen, "cannot block signals");
		return NULL;
	}
	d = xcalloc(1, sizeof *d);
	d->cfg = cfg;
	d->db_path = xstrdup(db_path);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	for (; sets != NULL && sets[n] != NULL; n++)
		;
	d->sets = xcalloc(n + 1, sizeof *d->sets);
	for (size_t i = 0; i < n; i++)
		d->sets[i] = xstrdup(sets[i]);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sigfd < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		daemon_free(&d);
		return NULL;
	}
	daemon_log_setup(config_str(cfg, "log.target"), config_str(cfg, "log.level"));
	if ((st = store_open(db_path, 0, err, errlen)) == NULL) {
		daemon_free(&d);
		return NULL;
	}
	if (imap_state_init(st, err, errlen) != 0) {
		store_close(&st);
		daemon_free(&d);
		return NULL;
	}
	store_close(&st);
	daemon_started = time(NULL);
	return d;
}

void
daemon_free(struct daemon **dp)
{
	struct daemon *d;

	if (dp == NULL || *dp == NULL)
		return;
	d = *dp;
	daemon_threads_stop(d);
	watch_free(&d->watch);
	if (d->sigfd >= 0)
		close(d->sigfd);
	for (size_t i = 0; d->sets && d->sets[i]; i++)
		free(d->sets[i]);
	free(d->sets);
	config_free(&d->owned);
	free(d->db_path);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	free(d);
	*dp = NULL;
}

/* Rereads the config file; on success replaces the configuration. */
static void
daemon_do_reload(struct daemon *d)
{
	struct config *cfg = config_new();
	const char *path = config_path(d->cfg);
	struct watch *w;
	char err[512];
	size_t i;

	if (path != NULL && config_load_file(cfg, path, err, sizeof err) != 0)
		goto fail;
	for (i = 0; d->sets[i] != NULL; i++)
		if (config_set(cfg, d->sets[i], err, sizeof err) != 0)
			goto fail;
	if (config_check(cfg, err, sizeof err) != 0)
		goto fail;
	if ((w = watch_new(cfg, 1, err, sizeof err)) == NULL)
		goto fail;
	daemon_threads_stop(d);
	watch_free(&d->watch);
	d->watch = w;
	config_free(&d->owned);
	d->owned = cfg;
	d->cfg = cfg;
	daemon_log_setup(config_str(cfg, "log.target"), config_str(cfg, "log.level"));
	daemon_threads_start(d);
	if (daemon_reload != NULL)
		daemon_reload(cfg, daemon_reload_arg);
	daemon_log(DAEMON_LOG_INFO, "reload", "config=%s mailboxes=%zu",
	    daemon_logq(path ? path : ""), config_mailbox_count(cfg));
	return;
fail:
	daemon_log(DAEMON_LOG_ERROR, "reload_failed", "error=%s", daemon_logq(err));
	config_free(&cfg);
}

static void
daemon_spool(struct daemon *d, struct store **stp, int all)
{
	struct ingest_stats stats;
	struct limits lim;
	int r;

	if (d->watch == NULL)
		return;
	if (*stp == NULL && (*stp = daemon_store(d, "spool")) == NULL) {
		d->temp_failed = 1;
		return;
	}
	memset(&stats, 0, sizeof stats);
	config_limits(d->cfg, &lim);
	r = watch_process(d->watch, *stp, &lim, all, NULL, &daemon_stop_flag, &stats);
	if (stats.inputs > 0 || r < 0)
		daemon_log(r < 0 ? DAEMON_LOG_WARN : DAEMON_LOG_INFO, "spool",
		    "inputs=%llu imported=%llu duplicates=%llu rejected=%llu "
		    "not_report=%llu result=%d",
		    (unsigned long long)stats.inputs,
		    (unsigned long long)stats.imported,
		    (unsigned long long)stats.duplicates,
		    (unsigned long long)stats.rejected,
		    (unsigned long long)stats.not_report, r);
	daemon_metrics_ingest("spool", NULL, &stats);
	if (r < 0)
		d->temp_failed = 1;
	else if (r == 1)
		d->some_bad = 1;
}

static void
daemon_retention(struct daemon *d, struct store **stp)
{
	struct retention_result res;
	char err[256];
	unsigned months = (unsigned)config_uint(d->cfg, "retention.records_months");
	unsigned days = (unsigned)config_uint(d->cfg, "retention.raw_days");
	int r;

	if (months == 0 && days == 0)
		return;
	if (*stp == NULL && (*stp = daemon_store(d, "retention")) == NULL)
		return;
	r = retention_run(*stp, months, config_bool(d->cfg, "retention.keep_rollups"),
	    days, time(NULL), &res, err, sizeof err);
	if (r != 0)
		daemon_log(DAEMON_LOG_WARN, "retention_failed", "error=%s",
		    daemon_logq(r == STORE_BUSY ? "database busy" : err));
	else
		daemon_log(DAEMON_LOG_INFO, "retention",
		    "reports=%llu daily=%llu raw=%llu ledger=%llu",
		    (unsigned long long)res.reports, (unsigned long long)res.daily,
		    (unsigned long long)res.raw, (unsigned long long)res.ledger);
}

static int
daemon_run_once(struct daemon *d)
{
	struct store *st = NULL;
	size_t i;

	for (i = 0; i < config_mailbox_count(d->cfg) && !daemon_stop_flag; i++) {
		const struct config_mailbox *mb = config_mailbox_at(d->cfg, i);
		if (!config_mb_bool(d->cfg, mb, "enabled"))
			continue;
		if (st == NULL && (st = daemon_store(d, "poller")) == NULL)
			return 75;
		daemon_poll_one(d, st, d->cfg, mb, &daemon_stop_flag);
	}
	daemon_spool(d, &st, 1);
	daemon_retention(d, &st);
	store_close(&st);
	return d->temp_failed ? 75 : d->some_bad ? 1 : 0;
}

int
daemon_run(struct daemon *d, int once)
{
	char err[512];
	struct store *st = NULL;
	time_t next_rescan = 0, next_retention;
	int rc = 0;

	d->watch = watch_new(d->cfg, !once, err, sizeof err);
	if (d->watch == NULL) {
		daemon_log(DAEMON_LOG_ERROR, "watch_failed", "error=%s", daemon_logq(err));
		return 70;
	}
	if (once)
		return daemon_run_once(d);
	daemon_log(DAEMON_LOG_INFO, "start", "mailboxes=%zu db=%s pid=%ld",
	    config_mailbox_count(d->cfg), daemon_logq(d->db_path), (long)getpid());
	daemon_threads_start(d);
	next_retention = time(NULL) + 60;
	while (!daemon_stop_flag) {
		struct pollfd pfd[2];
		time_t now = time(NULL), wait;
		int n = 0;

		if (now >= next_rescan) {
			daemon_spool(d, &st, 1);
			next_rescan = time(NULL) +
			    (time_t)config_uint(d->cfg, "spool.rescan_interval");
		}
		if (now >= next_retention) {
			daemon_retention(d, &st);
			next_retention = time(NULL) +
			    (time_t)config_uint(d->cfg, "retention.interval");
		}
		wait = (next_rescan < next_retention ? next_rescan : next_retention) - time(NULL);
		if (wait < 0)
			wait = 0;
		pfd[n].fd = d->sigfd;
		pfd[n++].events = POLLIN;
		if (watch_fd(d->watch) >= 0) {
			pfd[n].fd = watch_fd(d->watch);
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, (int)(wait > 3600 ? 3600000 : wait * 1000)) < 0 &&
		    errno != EINTR) {
			daemon_log(DAEMON_LOG_ERROR, "poll_failed", "error=%s",
			    daemon_logq(strerror(errno)));
			rc = 70;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(d->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGHUP)
					daemon_do_reload(d);
				else {
					daemon_log(DAEMON_LOG_INFO, "stopping",
					    "signal=%s", si.ssi_signo == SIGTERM ?
					    "TERM" : "INT");
					daemon_stop_flag = 1;
				}
			}
		}
		if (!daemon_stop_flag && n > 1 && (pfd[1].revents & POLLIN) &&
		    watch_read_events(d->watch) > 0)
			daemon_spool(d, &st, 0);
	}
	/* drain: wake the threads, let them finish their batch */
	daemon_threads_stop(d);
	store_close(&st);
	daemon_log(DAEMON_LOG_INFO, "stopped", "result=%d", rc);
	return rc;
}
