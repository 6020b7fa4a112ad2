/*
 * common.h - helpers shared by subcommands (common.c, output.c).
 */
#ifndef DMARCSTAT_CLI_COMMON_H
#define DMARCSTAT_CLI_COMMON_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

/* "30d" / "12h" / "2w" back from now, an epoch number, or YYYY-MM-DD[THH:MM[:SS]] UTC. */
int cli_parse_time(const char *s, int64_t now, int64_t *out);
/* "YYYY-MM-DD HH:MM" in UTC. */
void cli_fmt_time(int64_t t, char *buf, size_t len);

/*
 * Rendering a JSON array of objects as a table (terminal), CSV, or JSON.
 * A column names the object key, the catalog key of its heading, and how
 * to format the value.
 */
enum col_fmt { COL_TEXT, COL_INT, COL_PCT, COL_TIME, COL_DAY };
struct column {
	const char *key;
	const char *heading;   /* msg.c key */
	enum col_fmt fmt;
};
void cli_output_rows(const struct cli *cli, json_t *rows,
    const struct column *cols, size_t ncols);
/*
 * The filter options the query commands share, by getopt letter:
 * D domain, r reporter, i source, R result, n limit, s since, u until.
 * Returns 0, or an exit code after printing why.
 */
struct query;
int cli_query_opt(struct cli *cli, int c, const char *arg, struct query *q);

/*
 * The user's language for what the program says of an input: a status
 * word of the ledger ("rejected": status.* in the catalogs) and an English
 * reason or warning (lib/reasontr.h).  For people only: --json and --csv
 * keep the English words.  cli_reason returns buf.
 */
const char *cli_status_word(const char *status);
const char *cli_reason(const char *reason, char *buf, size_t len);

/* "dmarcstat: MESSAGE" on stderr, the English MESSAGE in the user's
 * language when the reasons catalog knows it. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a JSON value (pretty on a terminal). */
void cli_output_json(const struct cli *cli, json_t *v);

#endif
