/*
 * daemon.h - continuous intake: the IMAP pollers, the spool/Maildir
 * watchers, retention and (when linked in) the enrichment worker, run
 * together until SIGTERM; SIGHUP rereads the config file.  Also the
 * key=value event log and the in-process counters behind /metrics, which
 * every intake path (imap, watch, web/intake) reports to.
 *
 * Threads: the caller's thread runs daemon_run() (signals, inotify,
 * spool imports, timers); one thread polls the mailboxes in turn; one runs
 * the enrichment hook.  Each thread opens its own store.
 *
 * Embedding (dmarcstat serve):
 *     d = daemon_new(cfg, db_path, err, sizeof err);   // before any thread
 *     ... start the web server (its threads inherit the blocked signals) ...
 *     rc = daemon_run(d);                               // until SIGTERM/SIGINT
 *     ... stop the web server ...
 *     daemon_free(&d);
 */
#ifndef DMARCSTAT_DAEMON_H
#define DMARCSTAT_DAEMON_H
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ingest/ingest.h"
#include "lib/config.h"
#include "store/store.h"

/* ---- event log: one line per event, key=value, sanitised ---- */

enum daemon_log_level { DAEMON_LOG_ERROR, DAEMON_LOG_WARN, DAEMON_LOG_INFO,
	DAEMON_LOG_DEBUG };

/* target: "stderr" or "syslog"; level: "error".."debug".  Thread-safe. */
void daemon_log_setup(const char *target, const char *level);
/*
 * Logs "ts=... level=... event=EVENT " followed by the formatted text, which
 * should be "key=value" pairs.  Control characters are replaced with '?',
 * the line is cut at 2000 bytes.  Pass untrusted or spaced values through
 * daemon_logq().
 */
void daemon_log(enum daemon_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Quotes a value for the log: returned as is when it holds no space, quote,
 * '=' or control character, else "..." with \" and \\ escaped; cut at 300
 * bytes.  Returns a thread-local buffer, one of 8 reused in turn (so up to
 * 8 per log call).
 */
const char *daemon_logq(const char *s);

/* ---- counters for /metrics ---- */

/* Adds one intake's results.  source: imap spool upload tlsrpt pipe;
 * mailbox: the mailbox name for imap, else NULL. */
void daemon_metrics_ingest(const char *source, const char *mailbox,
    const struct ingest_stats *delta);
/* Records a mailbox poll: ok or failed, messages fetched in it. */
void daemon_metrics_poll(const char *mailbox, int ok, uint64_t fetched);
/* Writes all counters in the Prometheus text format (version 0.0.4). */
void daemon_metrics_write(FILE *fp);
/* Whether SIGTERM was received (for /healthz: 503 while draining). */
int daemon_draining(void);

/* ---- enrichment hook ---- */

/*
 * The enrichment worker (src/analyze/) is called in its own thread with its
 * own store: it should do a bounded amount of work (e.g. resolve up to a few
 * hundred pending IPs) and return how many items it handled (0 = nothing
 * pending), or -1 on a temporary error.  It is called again at once while it
 * returns > 0, else after 60 s.  `stop` becomes non-zero on SIGTERM: return
 * soon.  Register before daemon_run(); NULL disables.
 */
typedef int (*daemon_enrich_fn)(struct store *st, const struct config *cfg,
    const volatile int *stop, void *arg);
void daemon_set_enrich(daemon_enrich_fn fn, void *arg);

/* Called after a successful SIGHUP reload with the new configuration
 * (e.g. by the web server to pick up intake settings). */
typedef void (*daemon_reload_fn)(const struct config *cfg, void *arg);
void daemon_set_reload_hook(daemon_reload_fn fn, void *arg);

/* ---- the daemon ---- */

struct daemon;

/*
 * Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (threads started
 * later inherit that), sets up logging from cfg and checks that the store
 * opens.  `cfg` is copied by reference: it must live until daemon_free(); a
 * reload replaces the daemon's own copy, loaded from config_path(cfg) with
 * the same `--set` overrides (pass them in `sets`, NULL-terminated, may be
 * NULL).  NULL with a reason on failure.
 */
struct daemon *daemon_new(const struct config *cfg, const char *db_path,
    char *const *sets, char *err, size_t errlen);
/*
 * Runs until SIGTERM or SIGINT, then drains: the current message/file is
 * finished and committed, pollers and workers are joined.  With `once`,
 * runs one pass of everything (all mailboxes, all spool folders,
 * retention) and returns.  Returns 0, or 1 when something failed in a
 * `once` pass, 75 when a temporary failure remains.
 */
int daemon_run(struct daemon *d, int once);
void daemon_free(struct daemon **d);

#endif
