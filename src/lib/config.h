/*
 * config.h - the one settings table and the configuration built from it.
 *
 * Every setting has a name, a type, a default, a description and a
 * validator in config.c's table.  That table drives the config file parser,
 * `--set key=value`, `dmarcstat config` (effective values), `--help`
 * listings and docs/configuration.md (a unit test checks that the document
 * matches the table).
 *
 * File format (INI-like, UTF-8, one setting per line):
 *
 *     # comment            ; comment
 *     database = /var/lib/dmarcstat/dmarcstat.db
 *     [imap]               # section: the keys below are imap.KEY
 *     poll_interval = 5m
 *     [mailbox reports]    # one section per IMAP mailbox
 *     url = imaps://mail.example.com/
 *     user = dmarc@example.com
 *     password_file = /etc/dmarcstat/reports.pass
 *
 * Keys may also be written fully qualified (`imap.batch = 100`) before any
 * section.  Unknown keys, bad values and duplicate mailbox names are errors
 * (file:line: reason).  Mailbox settings that are not given inherit the
 * global `imap.*` value of the same name.  `--set mailbox.NAME.KEY=VALUE`
 * reaches mailbox settings from the command line.
 *
 * Values are kept as validated strings; the typed getters convert them.
 * Getters take a setting name that must exist in the table (asserted).
 */
#ifndef DMARCSTAT_CONFIG_H
#define DMARCSTAT_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parse/limits.h"

enum config_type {
	CONFIG_STR,
	CONFIG_PATH,
	CONFIG_BOOL,       /* yes/no, true/false, on/off, 1/0 */
	CONFIG_UINT,
	CONFIG_SIZE,       /* bytes; suffixes k, M, G (powers of 1024) */
	CONFIG_DURATION,   /* seconds; suffixes s, m, h, d */
	CONFIG_ENUM,       /* one of `choices` ("a|b|c") */
	CONFIG_LIST,       /* comma-separated values */
};

enum config_scope {
	CONFIG_GLOBAL,
	CONFIG_MAILBOX,    /* inside [mailbox NAME] */
};

struct config_setting {
	const char *name;         /* "imap.batch"; mailbox scope: "url" */
	enum config_type type;
	enum config_scope scope;
	const char *def;          /* default as written in a file; NULL = inherit (mailbox) or unset */
	const char *inherit;      /* mailbox scope: global setting used when unset */
	const char *desc;         /* one sentence for docs and --help */
	uint64_t min, max;        /* numeric types; max 0 = no upper bound */
	const char *choices;      /* CONFIG_ENUM */
	/* Extra check after the type check; 0 or -1 with a reason. */
	int (*validate)(const char *value, char *err, size_t errlen);
};

/* The table, terminated by an entry with name NULL. */
extern const struct config_setting config_settings[];

struct config_mailbox;
struct config;

/* A configuration holding only defaults.  Never NULL. */
struct config *config_new(void);
void config_free(struct config **cfg);

/*
 * Reads a config file into `cfg` (on top of what it holds).  Returns 0, or
 * -1 with "FILE:LINE: reason" in err.  A missing file is an error.
 */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);
/* Applies one "key=value" (as given to --set).  0 or -1 with a reason. */
int config_set(struct config *cfg, const char *assignment, char *err, size_t errlen);
/* Sets one value by name.  0 or -1 with a reason. */
int config_set_value(struct config *cfg, const char *name, const char *value,
    char *err, size_t errlen);
/*
 * Cross-setting checks once everything is loaded (mailbox needs url, user,
 * one password source...).  0 or -1 with a reason.
 */
int config_check(const struct config *cfg, char *err, size_t errlen);

/*
 * What a command does at start: a new config from `path` (NULL: the file
 * named by $DMARCSTAT_CONFIG, or none), then the `--set` assignments in
 * order, then config_check.  NULL with a reason on failure.
 */
struct config *config_load(const char *path, char *const *sets, size_t nsets,
    char *err, size_t errlen);

/* Path of the file loaded last, or NULL. */
const char *config_path(const struct config *cfg);

/* Global getters.  Strings are owned by cfg; "" when empty. */
const char *config_str(const struct config *cfg, const char *name);
uint64_t config_uint(const struct config *cfg, const char *name);
int config_bool(const struct config *cfg, const char *name);
/* Whether the value was set (file or --set) rather than defaulted. */
int config_is_set(const struct config *cfg, const char *name);
/*
 * Splits a CONFIG_LIST value: returns the count and a malloc'd array of
 * malloc'd trimmed strings in *out (free with config_list_free).
 */
size_t config_list(const struct config *cfg, const char *name, char ***out);
void config_list_free(char **list, size_t n);

/* Fills struct limits from the limits.* settings. */
void config_limits(const struct config *cfg, struct limits *lim);

/* Mailboxes in file order. */
size_t config_mailbox_count(const struct config *cfg);
const struct config_mailbox *config_mailbox_at(const struct config *cfg, size_t i);
const struct config_mailbox *config_mailbox_find(const struct config *cfg, const char *name);
const char *config_mailbox_name(const struct config_mailbox *mb);
/* Mailbox getters; inherited values come from the global setting. */
const char *config_mb_str(const struct config *cfg, const struct config_mailbox *mb,
    const char *name);
uint64_t config_mb_uint(const struct config *cfg, const struct config_mailbox *mb,
    const char *name);
int config_mb_bool(const struct config *cfg, const struct config_mailbox *mb,
    const char *name);

/* Parses typed values (also used by the validators and tests). 0 or -1. */
int config_parse_bool(const char *s, int *out);
int config_parse_uint(const char *s, uint64_t *out);
int config_parse_size(const char *s, uint64_t *out);
int config_parse_duration(const char *s, uint64_t *out);

/*
 * Writes the effective configuration in config-file syntax: every global
 * setting (or only the changed ones when `changed_only`), then one section
 * per mailbox.  Contains no secrets (passwords are never config values).
 */
void config_print_effective(const struct config *cfg, FILE *fp, int changed_only);
/* One line per setting with its type, default and description (--help). */
/*
 * The settings reference for --help.  tr(key, english) gives the reader's
 * language (NULL: English); keys: a setting's name ("imap.batch";
 * "mailbox.url" for a mailbox setting), "@type.path" etc. for the type
 * words, "@default", "@empty", "@none".
 */
void config_print_help(FILE *fp, const char *(*tr)(const char *key,
    const char *en));
/* The name tr() sees for setting i (NULL past the end), for tests. */
const char *config_setting_key(size_t i, char *buf, size_t len);
/* The settings table as Markdown (docs/configuration.md, between markers). */
void config_print_markdown(FILE *fp);

#define CONFIG_DOC_BEGIN "<!-- settings-table:begin (generated by `dmarcstat config --markdown`) -->"
#define CONFIG_DOC_END "<!-- settings-table:end -->"

#endif
