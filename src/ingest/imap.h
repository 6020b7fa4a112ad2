/*
 * imap.h - fetching reports from IMAP mailboxes with libcurl.
 *
 * One pass over one mailbox (imap_poll):
 *   STATUS folder (UIDVALIDITY)      -> a changed UIDVALIDITY resets last_uid
 *   CAPABILITY                       -> MOVE, else the flag fallback
 *   CREATE processed / invalid       -> errors ignored (they exist)
 *   loop: UID SEARCH UID last+1:*    -> the `batch` smallest new UIDs
 *         UID FETCH set (RFC822.SIZE)-> too large: ledger row, invalid
 *         UID FETCH n BODY[] each    -> into a bounded buffer that spills
 *                                       to an unlinked temp file; ingested
 *         ingest_flush               -> reports committed
 *         UID MOVE set processed / invalid  (or UID STORE +FLAGS)
 *         imap_state.last_uid = max  -> only after the moves
 * A temporary failure (server, network, STORE_BUSY) ends the pass before
 * any move of the current batch, so every message is either moved after
 * its reports are committed or stays and is fetched again (the reports are
 * then duplicates: never lost, never doubled).
 *
 * Passwords come from password_file or password_env, never the command line.
 * Certificates are always verified (ca_file adds a CA bundle).
 */
#ifndef DMARCSTAT_IMAP_H
#define DMARCSTAT_IMAP_H
#include <stdint.h>
#include <stdio.h>

#include "ingest/ingest.h"
#include "lib/config.h"
#include "store/store.h"

struct imap_result {
	uint64_t fetched;      /* messages downloaded (or skipped as too large) */
	uint64_t processed;    /* moved/flagged to processed */
	uint64_t invalid;      /* moved/flagged to invalid */
	uint64_t left;         /* new messages left for a later pass (temporary error, stop) */
	struct ingest_stats stats; /* summed over the pass */
	char err[512];         /* last error, "" when none */
};

/* Creates the imap_state table if missing:
 *   imap_state(mailbox PRIMARY KEY, folder, uidvalidity, last_uid,
 *              last_poll, last_success, last_error, fetched)
 * 0, STORE_BUSY or -1 with a reason. */
int imap_state_init(struct store *st, char *err, size_t errlen);

/*
 * One pass over mailbox `mb`.  `errors` gets one line per bad input (NULL =
 * silent).  Stops between messages when *stop becomes non-zero (may be
 * NULL).  Returns 0 when all new messages were processed, 1 when some went
 * to the invalid folder, -1 on a temporary failure (connection, login, TLS,
 * server error; reason in res->err and imap_state.last_error) or
 * STORE_BUSY.
 */
int imap_poll(const struct config *cfg, const struct config_mailbox *mb,
    struct store *st, const struct limits *lim, FILE *errors,
    const volatile int *stop, struct imap_result *res);

#endif
