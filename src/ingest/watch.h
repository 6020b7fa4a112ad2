/*
 * watch.h - spool folders and Maildirs watched with inotify.
 *
 * Each folder in spool.dirs is watched (a Maildir: its new/).  A file is
 * imported, its reports committed, and only then renamed into the done
 * folder (or deleted, spool.on_success = delete) or the failed folder.  A
 * crash between commit and rename leaves the file where it was: the next
 * scan imports it again and the ledger says "duplicate" - nothing lost,
 * nothing doubled.  A file hit by a temporary failure (database busy)
 * stays and is retried by the next scan.  Writers should create files
 * under a name starting with '.' (ignored) or in another folder of the
 * same file system and rename them in (as Maildir delivery does); files
 * written in place are picked up when closed.
 */
#ifndef DMARCSTAT_WATCH_H
#define DMARCSTAT_WATCH_H
#include <stdio.h>

#include "ingest/ingest.h"
#include "lib/config.h"
#include "store/store.h"

struct watch;

/*
 * Resolves spool.dirs, creates the done/failed folders, and sets up inotify
 * (when `use_inotify`).  NULL with a reason on failure.
 */
struct watch *watch_new(const struct config *cfg, int use_inotify, char *err,
    size_t errlen);
/* The inotify descriptor for poll(), -1 without inotify. */
int watch_fd(const struct watch *w);
/* Drains pending inotify events (non-blocking); marks folders to scan.
 * Returns the number of folders marked. */
int watch_read_events(struct watch *w);
/*
 * Imports the files of the marked folders (all folders when `all`).
 * `errors` gets one line per bad input.  Returns 0, 1 when some files went
 * to failed/, -1 / STORE_BUSY when some were left for a retry.  Adds to
 * *stats when not NULL.
 */
int watch_process(struct watch *w, struct store *st, const struct limits *lim,
    int all, FILE *errors, const volatile int *stop, struct ingest_stats *stats);
void watch_free(struct watch **w);

#endif
