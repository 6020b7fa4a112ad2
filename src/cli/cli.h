/*
 * cli.h - what every subcommand gets from main(): the global options and the
 * output helpers.  One subcommand per file: cmd_NAME.c exports
 *     int cmd_NAME(struct cli *cli, int argc, char **argv);
 * where argv[0] is the subcommand name and the rest are its own options
 * (parse them with getopt_long; print usage on --help and return 0).
 * A command is registered in the table in main.c.
 *
 * Exit codes (docs/dmarcstat.1): 0 all inputs imported or duplicate /
 * success, 1 some inputs rejected or not reports / nothing found,
 * 2 usage error, 75 temporary failure (database locked, server unreachable),
 * 70 internal error.
 */
#ifndef DMARCSTAT_CLI_H
#define DMARCSTAT_CLI_H
#include <stdio.h>

#include "store/store.h"

#define EXIT_OK 0
#define EXIT_SOME_BAD 1
#define EXIT_USAGE 2
#define EXIT_SOFTWARE 70
#define EXIT_TEMPFAIL 75

enum cli_format { CLI_TABLE, CLI_JSON, CLI_CSV };

struct cli {
	const char *db_path;   /* --db, $DMARCSTAT_DB, or the default */
	int db_given;          /* --db or $DMARCSTAT_DB was given: a config
	                        * file's `database` setting does not apply */
	const char *config_path; /* --config or NULL */
	enum cli_format format;/* --json / --csv; table otherwise */
	int quiet;             /* -q */
	int tty;               /* stdout is a terminal */
	const char *lang;      /* "en" | "ja" (from --lang, $LANG) */
};

/* Opens the database named by cli->db_path; prints a one-line error and
 * returns NULL on failure (exit with EXIT_TEMPFAIL if *busy). */
struct store *cli_open_store(struct cli *cli, int readonly, int *busy);

/* Translated message for `key` in cli->lang (cli/msg.c). */
const char *cli_msg(const struct cli *cli, const char *key);
/* The language cli_msg(NULL, key) uses (set by main from --lang / $LANG). */
void cli_msg_set_lang(const char *lang);
/* ... and reads it back ("en" or "ja"). */
const char *cli_msg_lang(void);
/* A setting's description (or a type word) in the user's language:
 * the `tr` of config_print_help. */
const char *cli_setting_text(const char *key, const char *en);
/* fprintf with the translated format of `key`. */
void cli_msgf(const struct cli *cli, FILE *fp, const char *key, ...);

#endif
