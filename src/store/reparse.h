/*
 * reparse.h - what `dmarcstat reparse` needs from the store: the kept
 * originals that produced something, and removing the reports built from
 * one of them.  (SQLite today; the PostgreSQL backend will need the same two
 * functions.)
 */
#ifndef DMARCSTAT_REPARSE_H
#define DMARCSTAT_REPARSE_H
#include <stdint.h>

#include "store/store.h"

struct reparse_item {
	int64_t raw_id;
	char *source;   /* ledger source of the first import */
	char *input;    /* input name of the first import */
};

/*
 * Every raw input whose ledger rows say anything but "duplicate" (those
 * reports were built from another original).  Returns the number of items
 * in a malloc'd array (*items_out, free with reparse_items_free) or -1.
 */
long reparse_list(struct store *st, struct reparse_item **items_out);
void reparse_items_free(struct reparse_item *items, long n);
/* Deletes every report whose raw_id is `raw_id`; returns how many or -1. */
long reparse_delete_reports(struct store *st, int64_t raw_id);

#endif
