/*
 * config.c - the settings table, the config file parser, --set, and the
 * printers for `dmarcstat config`, --help and docs/configuration.md.
 *
 * A struct config holds one string per global setting (NULL = default) and
 * a list of mailboxes, each with one string per mailbox setting (NULL =
 * inherit).  Every value is validated when it is stored, so getters only
 * convert.  Limits: a config file line is at most CONFIG_LINE_MAX bytes, a
 * file at most CONFIG_FILE_MAX bytes, at most CONFIG_MAILBOX_MAX mailboxes.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/xalloc.h"

#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_MAILBOX_MAX 256
#define CONFIG_NAME_MAX 64

static int config_valid_url(const char *v, char *err, size_t errlen);
static int config_valid_mbname(const char *v, char *err, size_t errlen);
static int config_valid_folder(const char *v, char *err, size_t errlen);
static int config_valid_listen(const char *v, char *err, size_t errlen);
static int config_valid_token_hash(const char *v, char *err, size_t errlen);

#define MB CONFIG_MAILBOX
#define GL CONFIG_GLOBAL

const struct config_setting config_settings[] = {
	/* general */
	{ "database", CONFIG_PATH, GL, "", NULL,
	  "SQLite database file; empty: --db, $DMARCSTAT_DB or the built-in default.",
	  0, 0, NULL, NULL },
	{ "log.target", CONFIG_ENUM, GL, "stderr", NULL,
	  "Where the daemon logs (one key=value line per event).",
	  0, 0, "stderr|syslog", NULL },
	{ "log.level", CONFIG_ENUM, GL, "info", NULL,
	  "Lowest level logged.", 0, 0, "error|warn|info|debug", NULL },
	{ "enrich.enabled", CONFIG_BOOL, GL, "yes", NULL,
	  "Run the sender enrichment worker (PTR, ASN, country) in the daemon.",
	  0, 0, NULL, NULL },

	/* IMAP defaults, inherited by every [mailbox NAME] */
	{ "imap.poll_interval", CONFIG_DURATION, GL, "5m", NULL,
	  "Time between two polls of a mailbox.", 10, 7 * 86400, NULL, NULL },
	{ "imap.batch", CONFIG_UINT, GL, "200", NULL,
	  "Messages fetched and committed per batch (bounds memory and transaction size).",
	  1, 10000, NULL, NULL },
	{ "imap.timeout", CONFIG_DURATION, GL, "60s", NULL,
	  "Connect timeout, and the time a transfer may stall before it is abandoned.",
	  1, 3600, NULL, NULL },
	{ "imap.processed_folder", CONFIG_STR, GL, "Processed", NULL,
	  "Folder that messages are moved to once their reports are committed (created when missing).",
	  0, 0, NULL, config_valid_folder },
	{ "imap.invalid_folder", CONFIG_STR, GL, "Invalid", NULL,
	  "Folder for messages holding no usable report (the reason is in the ledger).",
	  0, 0, NULL, config_valid_folder },
	{ "imap.ca_file", CONFIG_PATH, GL, "", NULL,
	  "PEM file of CA certificates to trust; empty: the system store.",
	  0, 0, NULL, NULL },

	/* spool / Maildir watch */
	{ "spool.dirs", CONFIG_LIST, GL, "", NULL,
	  "Comma-separated folders watched with inotify; a Maildir is watched in its new/.",
	  0, 0, NULL, NULL },
	{ "spool.on_success", CONFIG_ENUM, GL, "move", NULL,
	  "What happens to an imported file: moved to spool.done_dir, or deleted.",
	  0, 0, "move|delete", NULL },
	{ "spool.done_dir", CONFIG_PATH, GL, "done", NULL,
	  "Where imported files go; relative to the watched folder (a Maildir's root).",
	  0, 0, NULL, NULL },
	{ "spool.failed_dir", CONFIG_PATH, GL, "failed", NULL,
	  "Where files without a usable report go; relative like spool.done_dir.",
	  0, 0, NULL, NULL },
	{ "spool.rescan_interval", CONFIG_DURATION, GL, "60s", NULL,
	  "Full rescan of the watched folders (retries temporary failures, missed events).",
	  1, 86400, NULL, NULL },

	/* retention */
	{ "retention.records_months", CONFIG_UINT, GL, "0", NULL,
	  "Delete reports and records that ended more than N months ago; 0 keeps everything.",
	  0, 1200, NULL, NULL },
	{ "retention.keep_rollups", CONFIG_BOOL, GL, "yes", NULL,
	  "Keep the per-day rollups of deleted reports (charts stay complete).",
	  0, 0, NULL, NULL },
	{ "retention.raw_days", CONFIG_UINT, GL, "0", NULL,
	  "Delete raw originals older than N days (reparse is then impossible); 0 keeps them.",
	  0, 100000, NULL, NULL },
	{ "retention.interval", CONFIG_DURATION, GL, "1d", NULL,
	  "How often the daemon applies the retention settings.", 60, 30 * 86400, NULL, NULL },

	/* web and HTTP intake */
	{ "web.listen", CONFIG_STR, GL, "127.0.0.1:8025", NULL,
	  "Address and port of the web server (dmarcstat serve).",
	  0, 0, NULL, config_valid_listen },
	{ "intake.token_hash", CONFIG_STR, GL, "", NULL,
	  "Hash of the upload API token: a crypto_pwhash string ($argon2id$...) from "
	  "`dmarcstat config --hash-token`, or sha256:HEX; empty disables POST /api/v1/intake.",
	  0, 0, NULL, config_valid_token_hash },
	{ "intake.max_upload_bytes", CONFIG_SIZE, GL, "64M", NULL,
	  "Largest accepted upload body (spooled to a temporary file, not memory).",
	  1024, 0, NULL, NULL },
	{ "intake.tlsrpt", CONFIG_BOOL, GL, "yes", NULL,
	  "Accept RFC 8460 SMTP TLS reports POSTed to /tlsrpt.", 0, 0, NULL, NULL },
	{ "intake.tlsrpt_max_bytes", CONFIG_SIZE, GL, "8M", NULL,
	  "Largest accepted TLS report body (the endpoint is unauthenticated).",
	  1024, 1024ULL * 1024 * 1024, NULL, NULL },

	/* parser limits (parse/limits.h) */
	{ "limits.max_input_bytes", CONFIG_SIZE, GL, "1G", NULL,
	  "One file, message or upload as received; larger ones are rejected.",
	  1, 0, NULL, NULL },
	{ "limits.max_expanded_bytes", CONFIG_SIZE, GL, "1G", NULL,
	  "One document after all decompression (zip/gzip/bzip2 bomb defence).",
	  1, 0, NULL, NULL },
	{ "limits.max_archive_members", CONFIG_UINT, GL, "256", NULL,
	  "Zip or tar members looked at per archive.", 1, UINT_MAX, NULL, NULL },
	{ "limits.max_nesting", CONFIG_UINT, GL, "8", NULL,
	  "Container layers (gzip, zip, tar, bzip2/lz4, MIME, attached message).", 1, 64, NULL, NULL },
	{ "limits.max_mime_parts", CONFIG_UINT, GL, "256", NULL,
	  "Leaf MIME parts looked at per message.", 1, UINT_MAX, NULL, NULL },
	{ "limits.max_records", CONFIG_UINT, GL, "10000000", NULL,
	  "<record> elements per report.", 1, 0, NULL, NULL },
	{ "limits.max_results", CONFIG_UINT, GL, "100", NULL,
	  "DKIM, SPF and reason entries per record.", 1, UINT_MAX, NULL, NULL },
	{ "limits.max_text", CONFIG_SIZE, GL, "64k", NULL,
	  "Bytes of one XML text value.", 16, UINT_MAX, NULL, NULL },
	{ "limits.max_xml_depth", CONFIG_UINT, GL, "32", NULL,
	  "XML element nesting.", 4, 1024, NULL, NULL },
	{ "limits.max_header_bytes", CONFIG_SIZE, GL, "64k", NULL,
	  "One mail header line after unfolding.", 256, UINT_MAX, NULL, NULL },

	/* [mailbox NAME] */
	{ "url", CONFIG_STR, MB, NULL, NULL,
	  "Server URL: imaps://host[:port]/ (TLS) or imap://host[:port]/ (STARTTLS, see starttls). Required.",
	  0, 0, NULL, config_valid_url },
	{ "user", CONFIG_STR, MB, NULL, NULL, "Login name. Required.", 0, 0, NULL, NULL },
	{ "password_file", CONFIG_PATH, MB, NULL, NULL,
	  "File whose first line is the password (keep it mode 0600). One of password_file, password_env.",
	  0, 0, NULL, NULL },
	{ "password_env", CONFIG_STR, MB, NULL, NULL,
	  "Environment variable holding the password (e.g. from systemd LoadCredential).",
	  0, 0, NULL, NULL },
	{ "folder", CONFIG_STR, MB, "INBOX", NULL,
	  "Folder the reports arrive in.", 0, 0, NULL, config_valid_folder },
	{ "starttls", CONFIG_BOOL, MB, "yes", NULL,
	  "With imap://, require STARTTLS (the connection fails without it).",
	  0, 0, NULL, NULL },
	{ "allow_plaintext", CONFIG_BOOL, MB, "no", NULL,
	  "Permit imap:// with starttls = no: the password crosses the network in clear (loopback tests only).",
	  0, 0, NULL, NULL },
	{ "enabled", CONFIG_BOOL, MB, "yes", NULL,
	  "Poll this mailbox.", 0, 0, NULL, NULL },
	{ "after", CONFIG_ENUM, MB, "move", NULL,
	  "What happens to a handled message: moved to processed_folder / invalid_folder, or flagged "
	  "in place ($DmarcstatDone / $DmarcstatInvalid and \\Seen); move falls back to flag when the server lacks MOVE.",
	  0, 0, "move|flag", NULL },
	{ "processed_folder", CONFIG_STR, MB, NULL, "imap.processed_folder",
	  "Per-mailbox imap.processed_folder.", 0, 0, NULL, config_valid_folder },
	{ "invalid_folder", CONFIG_STR, MB, NULL, "imap.invalid_folder",
	  "Per-mailbox imap.invalid_folder.", 0, 0, NULL, config_valid_folder },
	{ "ca_file", CONFIG_PATH, MB, NULL, "imap.ca_file",
	  "Per-mailbox imap.ca_file.", 0, 0, NULL, NULL },
	{ "batch", CONFIG_UINT, MB, NULL, "imap.batch",
	  "Per-mailbox imap.batch.", 1, 10000, NULL, NULL },
	{ "poll_interval", CONFIG_DURATION, MB, NULL, "imap.poll_interval",
	  "Per-mailbox imap.poll_interval.", 10, 7 * 86400, NULL, NULL },
	{ "timeout", CONFIG_DURATION, MB, NULL, "imap.timeout",
	  "Per-mailbox imap.timeout.", 1, 3600, NULL, NULL },
	{ NULL, 0, 0, NULL, NULL, NULL, 0, 0, NULL, NULL },
};

#undef MB
#undef GL

#define CONFIG_NSETTINGS (sizeof config_settings / sizeof config_settings[0] - 1)

struct config_mailbox {
	char *name;
	char *val[CONFIG_NSETTINGS];
};

struct config {
	char *val[CONFIG_NSETTINGS];
	struct config_mailbox *mb;
	size_t n_mb;
	char *path;
};

static void
config_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
config_index(const char *name, enum config_scope scope)
{
	size_t i;

	for (i = 0; config_settings[i].name != NULL; i++)
		if (config_settings[i].scope == scope &&
		    strcmp(config_settings[i].name, name) == 0)
			return (int)i;
	return -1;
}

static size_t
config_must(const char *name, enum config_scope scope)
{
	int i = config_index(name, scope);

	assert(i >= 0 && "config: unknown setting name");
	return (size_t)i;
}

/* ---- typed parsing ---- */

int
config_parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Digits, then an optional suffix from `units` with multipliers `mult`. */
static int
config_parse_scaled(const char *s, const char *units, const uint64_t *mult,
    uint64_t *out)
{
	uint64_t v = 0, m = 1;
	const char *p = s, *u;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		if (units == NULL || p[1] != '\0' ||
		    (u = strchr(units, *p)) == NULL)
			return -1;
		m = mult[u - units];
	}
	if (m != 1 && v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

int
config_parse_uint(const char *s, uint64_t *out)
{
	return config_parse_scaled(s, NULL, NULL, out);
}

int
config_parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1024, 1024, 1024 * 1024,
	    1024 * 1024 * 1024, 1 };
	return config_parse_scaled(s, "kKMGB", mult, out);
}

int
config_parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400 };
	return config_parse_scaled(s, "smhd", mult, out);
}

/* ---- validators ---- */

static int
config_valid_url(const char *v, char *err, size_t errlen)
{
	const char *host;

	if (strncmp(v, "imaps://", 8) == 0)
		host = v + 8;
	else if (strncmp(v, "imap://", 7) == 0)
		host = v + 7;
	else {
		config_seterr(err, errlen, "must start with imaps:// or imap://");
		return -1;
	}
	if (*host == '\0' || *host == '/') {
		config_seterr(err, errlen, "no host name");
		return -1;
	}
	if (strchr(host, '@') != NULL) {
		config_seterr(err, errlen,
		    "no user or password in the URL: use user and password_file");
		return -1;
	}
	for (; *v; v++)
		if ((unsigned char)*v <= ' ' || *v == 0x7f) {
			config_seterr(err, errlen, "spaces or control characters");
			return -1;
		}
	return 0;
}

static int
config_valid_mbname(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n > CONFIG_NAME_MAX) {
		config_seterr(err, errlen, "mailbox name must be 1-%d characters",
		    CONFIG_NAME_MAX);
		return -1;
	}
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '-' && *v != '_') {
			config_seterr(err, errlen,
			    "mailbox name may hold letters, digits, - and _ only");
			return -1;
		}
	return 0;
}

static int
config_valid_folder(const char *v, char *err, size_t errlen)
{
	if (*v == '\0') {
		config_seterr(err, errlen, "empty folder name");
		return -1;
	}
	for (; *v; v++)
		if ((unsigned char)*v < ' ' || *v == 0x7f || *v == '"' ||
		    *v == '\\' || *v == '*' || *v == '%') {
			config_seterr(err, errlen,
			    "folder names may not contain control characters, \" \\ * %%");
			return -1;
		}
	return 0;
}

static int
config_valid_listen(const char *v, char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;

	if (colon == NULL || colon == v ||
	    config_parse_uint(colon + 1, &port) != 0 || port == 0 || port > 65535) {
		config_seterr(err, errlen, "expected ADDRESS:PORT");
		return -1;
	}
	return 0;
}

static int
config_valid_token_hash(const char *v, char *err, size_t errlen)
{
	size_t i;

	if (*v == '\0' || strncmp(v, "$argon2", 7) == 0)
		return 0;
	if (strncmp(v, "sha256:", 7) == 0 && strlen(v + 7) == 64) {
		for (i = 7; v[i]; i++)
			if (!isxdigit((unsigned char)v[i]))
				break;
		if (v[i] == '\0')
			return 0;
	}
	config_seterr(err, errlen,
	    "expected $argon2id$... (dmarcstat config --hash-token) or sha256:64-hex-digits");
	return -1;
}

/* Type check + range + extra validator. */
static int
config_validate(const struct config_setting *s, const char *v, char *err,
    size_t errlen)
{
	uint64_t n = 0;
	int b, r = 0;

	switch (s->type) {
	case CONFIG_STR:
	case CONFIG_PATH:
	case CONFIG_LIST:
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f) {
				config_seterr(err, errlen, "control character in value");
				return -1;
			}
		break;
	case CONFIG_BOOL:
		if (config_parse_bool(v, &b) != 0) {
			config_seterr(err, errlen, "expected yes or no");
			return -1;
		}
		break;
	case CONFIG_UINT:
		r = config_parse_uint(v, &n);
		break;
	case CONFIG_SIZE:
		r = config_parse_size(v, &n);
		break;
	case CONFIG_DURATION:
		r = config_parse_duration(v, &n);
		break;
	case CONFIG_ENUM: {
		const char *c = s->choices;
		size_t len = strlen(v);
		int found = 0;
		while (c && *c) {
			const char *bar = strchr(c, '|');
			size_t cl = bar ? (size_t)(bar - c) : strlen(c);
			if (cl == len && strncmp(c, v, len) == 0)
				found = 1;
			c = bar ? bar + 1 : NULL;
		}
		if (!found) {
			config_seterr(err, errlen, "expected one of %s", s->choices);
			return -1;
		}
		break;
	}
	}
	if (r != 0) {
		config_seterr(err, errlen, "expected a %s",
		    s->type == CONFIG_SIZE ? "size (e.g. 512k, 64M, 1G)" :
		    s->type == CONFIG_DURATION ? "duration (e.g. 30s, 5m, 2h, 1d)" :
		    "whole number");
		return -1;
	}
	if (s->type == CONFIG_UINT || s->type == CONFIG_SIZE ||
	    s->type == CONFIG_DURATION) {
		if (n < s->min || (s->max && n > s->max)) {
			if (s->max)
				config_seterr(err, errlen,
				    "out of range %llu..%llu",
				    (unsigned long long)s->min,
				    (unsigned long long)s->max);
			else
				config_seterr(err, errlen, "must be at least %llu",
				    (unsigned long long)s->min);
			return -1;
		}
	}
	if (s->validate != NULL)
		return s->validate(v, err, errlen);
	return 0;
}

/* ---- object ---- */

struct config *
config_new(void)
{
	return xcalloc(1, sizeof(struct config));
}

void
config_free(struct config **cfgp)
{
	struct config *cfg;
	size_t i, j;

	if (cfgp == NULL || *cfgp == NULL)
		return;
	cfg = *cfgp;
	for (i = 0; i < CONFIG_NSETTINGS; i++)
		free(cfg->val[i]);
	for (j = 0; j < cfg->n_mb; j++) {
		free(cfg->mb[j].name);
		for (i = 0; i < CONFIG_NSETTINGS; i++)
			free(cfg->mb[j].val[i]);
	}
	free(cfg->mb);
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}

const char *
config_path(const struct config *cfg)
{
	return cfg->path;
}

static struct config_mailbox *
config_mb_get(struct config *cfg, const char *name, int create, char *err,
    size_t errlen)
{
	size_t i;

	for (i = 0; i < cfg->n_mb; i++)
		if (strcmp(cfg->mb[i].name, name) == 0)
			return &cfg->mb[i];
	if (!create)
		return NULL;
	if (config_valid_mbname(name, err, errlen) != 0)
		return NULL;
	if (cfg->n_mb >= CONFIG_MAILBOX_MAX) {
		config_seterr(err, errlen, "more than %d mailboxes", CONFIG_MAILBOX_MAX);
		return NULL;
	}
	cfg->mb = xrealloc(cfg->mb, (cfg->n_mb + 1) * sizeof *cfg->mb);
	memset(&cfg->mb[cfg->n_mb], 0, sizeof cfg->mb[0]);
	cfg->mb[cfg->n_mb].name = xstrdup(name);
	return &cfg->mb[cfg->n_mb++];
}

static int
config_store(char **slot, const struct config_setting *s, const char *value,
    char *err, size_t errlen)
{
	char why[256];

	if (config_validate(s, value, why, sizeof why) != 0) {
		config_seterr(err, errlen, "%s: %s", s->name, why);
		return -1;
	}
	free(*slot);
	*slot = xstrdup(value);
	return 0;
}

int
config_set_value(struct config *cfg, const char *name, const char *value,
    char *err, size_t errlen)
{
	int i;

	if (strncmp(name, "mailbox.", 8) == 0) {
		const char *mbname = name + 8, *dot = strrchr(mbname, '.');
		char buf[CONFIG_NAME_MAX + 1];
		struct config_mailbox *mb;

		if (dot == NULL || (size_t)(dot - mbname) > CONFIG_NAME_MAX) {
			config_seterr(err, errlen,
			    "%s: expected mailbox.NAME.SETTING", name);
			return -1;
		}
		memcpy(buf, mbname, (size_t)(dot - mbname));
		buf[dot - mbname] = '\0';
		if ((i = config_index(dot + 1, CONFIG_MAILBOX)) < 0) {
			config_seterr(err, errlen, "unknown mailbox setting '%s'",
			    dot + 1);
			return -1;
		}
		if ((mb = config_mb_get(cfg, buf, 1, err, errlen)) == NULL)
			return -1;
		return config_store(&mb->val[i], &config_settings[i], value, err,
		    errlen);
	}
	if ((i = config_index(name, CONFIG_GLOBAL)) < 0) {
		config_seterr(err, errlen, "unknown setting '%s'", name);
		return -1;
	}
	return config_store(&cfg->val[i], &config_settings[i], value, err, errlen);
}

static char *
config_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Removes one pair of surrounding double quotes. */
static char *
config_unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

int
config_set(struct config *cfg, const char *assignment, char *err, size_t errlen)
{
	char *copy = xstrdup(assignment), *eq, *k, *v;
	int r;

	if ((eq = strchr(copy, '=')) == NULL) {
		config_seterr(err, errlen, "'%s': expected key=value", assignment);
		free(copy);
		return -1;
	}
	*eq = '\0';
	k = config_trim(copy);
	v = config_unquote(config_trim(eq + 1));
	r = config_set_value(cfg, k, v, err, errlen);
	free(copy);
	return r;
}

int
config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char line[CONFIG_LINE_MAX + 2], section[CONFIG_NAME_MAX + 16] = "";
	char why[320];
	struct config_mailbox *mb = NULL;
	unsigned lineno = 0;
	size_t total = 0;
	int ret = -1;

	if ((fp = fopen(path, "r")) == NULL) {
		config_seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		char *s, *eq, *k, *v;
		size_t len = strlen(line);

		lineno++;
		total += len;
		if (total > CONFIG_FILE_MAX) {
			config_seterr(err, errlen, "%s: larger than %d bytes", path,
			    CONFIG_FILE_MAX);
			goto out;
		}
		if (len > CONFIG_LINE_MAX && line[len - 1] != '\n') {
			config_seterr(err, errlen, "%s:%u: line longer than %d bytes",
			    path, lineno, CONFIG_LINE_MAX);
			goto out;
		}
		s = config_trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']'), *name;

			if (end == NULL || *config_trim(end + 1) != '\0') {
				config_seterr(err, errlen, "%s:%u: bad section header",
				    path, lineno);
				goto out;
			}
			*end = '\0';
			name = config_trim(s + 1);
			mb = NULL;
			section[0] = '\0';
			if (strncmp(name, "mailbox", 7) == 0 &&
			    (name[7] == ' ' || name[7] == '\t')) {
				char *mbname = config_unquote(config_trim(name + 8));
				if (config_mb_get(cfg, mbname, 0, NULL, 0) != NULL) {
					config_seterr(err, errlen,
					    "%s:%u: mailbox '%s' defined twice", path,
					    lineno, mbname);
					goto out;
				}
				mb = config_mb_get(cfg, mbname, 1, why, sizeof why);
				if (mb == NULL) {
					config_seterr(err, errlen, "%s:%u: %s", path,
					    lineno, why);
					goto out;
				}
			} else if (*name != '\0' && strlen(name) <= CONFIG_NAME_MAX &&
			    strchr(name, ' ') == NULL) {
				snprintf(section, sizeof section, "%s.", name);
			} else {
				config_seterr(err, errlen, "%s:%u: bad section name",
				    path, lineno);
				goto out;
			}
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL) {
			config_seterr(err, errlen, "%s:%u: expected key = value",
			    path, lineno);
			goto out;
		}
		*eq = '\0';
		k = config_trim(s);
		v = config_unquote(config_trim(eq + 1));
		if (mb != NULL) {
			int i = config_index(k, CONFIG_MAILBOX);
			if (i < 0) {
				config_seterr(err, errlen,
				    "%s:%u: unknown mailbox setting '%s'", path,
				    lineno, k);
				goto out;
			}
			if (config_store(&mb->val[i], &config_settings[i], v, why,
			    sizeof why) != 0) {
				config_seterr(err, errlen, "%s:%u: %s", path, lineno,
				    why);
				goto out;
			}
		} else {
			char *full = xasprintf("%s%s", section, k);
			int r = config_set_value(cfg, full, v, why, sizeof why);
			free(full);
			if (r != 0) {
				config_seterr(err, errlen, "%s:%u: %s", path, lineno,
				    why);
				goto out;
			}
		}
	}
	if (ferror(fp)) {
		config_seterr(err, errlen, "%s: read error", path);
		goto out;
	}
	free(cfg->path);
	cfg->path = xstrdup(path);
	ret = 0;
out:
	fclose(fp);
	return ret;
}

struct config *
config_load(const char *path, char *const *sets, size_t nsets, char *err,
    size_t errlen)
{
	struct config *cfg = config_new();
	size_t i;

	if (path == NULL || *path == '\0')
		path = getenv("DMARCSTAT_CONFIG");
	if (path != NULL && *path != '\0' &&
	    config_load_file(cfg, path, err, errlen) != 0)
		goto fail;
	for (i = 0; i < nsets; i++)
		if (config_set(cfg, sets[i], err, errlen) != 0)
			goto fail;
	if (config_check(cfg, err, errlen) != 0)
		goto fail;
	return cfg;
fail:
	config_free(&cfg);
	return NULL;
}

int
config_check(const struct config *cfg, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < cfg->n_mb; i++) {
		const struct config_mailbox *mb = &cfg->mb[i];
		const char *url = config_mb_str(cfg, mb, "url");
		int has_file = *config_mb_str(cfg, mb, "password_file") != '\0';
		int has_env = *config_mb_str(cfg, mb, "password_env") != '\0';

		if (*url == '\0' || *config_mb_str(cfg, mb, "user") == '\0') {
			config_seterr(err, errlen, "mailbox %s: url and user are required",
			    mb->name);
			return -1;
		}
		if (has_file == has_env) {
			config_seterr(err, errlen,
			    "mailbox %s: give exactly one of password_file and password_env",
			    mb->name);
			return -1;
		}
		if (strncmp(url, "imap://", 7) == 0 &&
		    !config_mb_bool(cfg, mb, "starttls") &&
		    !config_mb_bool(cfg, mb, "allow_plaintext")) {
			config_seterr(err, errlen,
			    "mailbox %s: imap:// without starttls sends the password in clear; "
			    "use imaps://, starttls = yes, or allow_plaintext = yes",
			    mb->name);
			return -1;
		}
		if (strcmp(config_mb_str(cfg, mb, "folder"),
		    config_mb_str(cfg, mb, "processed_folder")) == 0 ||
		    strcmp(config_mb_str(cfg, mb, "folder"),
		    config_mb_str(cfg, mb, "invalid_folder")) == 0) {
			config_seterr(err, errlen,
			    "mailbox %s: folder must differ from processed_folder and invalid_folder",
			    mb->name);
			return -1;
		}
	}
	return 0;
}

/* ---- getters ---- */

static uint64_t
config_to_uint(const struct config_setting *s, const char *v)
{
	uint64_t n = 0;

	if (s->type == CONFIG_SIZE)
		config_parse_size(v, &n);
	else if (s->type == CONFIG_DURATION)
		config_parse_duration(v, &n);
	else if (s->type == CONFIG_BOOL) {
		int b = 0;
		config_parse_bool(v, &b);
		n = (uint64_t)b;
	} else
		config_parse_uint(v, &n);
	return n;
}

const char *
config_str(const struct config *cfg, const char *name)
{
	size_t i = config_must(name, CONFIG_GLOBAL);

	if (cfg->val[i] != NULL)
		return cfg->val[i];
	return config_settings[i].def ? config_settings[i].def : "";
}

uint64_t
config_uint(const struct config *cfg, const char *name)
{
	size_t i = config_must(name, CONFIG_GLOBAL);

	return config_to_uint(&config_settings[i], config_str(cfg, name));
}

int
config_bool(const struct config *cfg, const char *name)
{
	return config_uint(cfg, name) != 0;
}

int
config_is_set(const struct config *cfg, const char *name)
{
	return cfg->val[config_must(name, CONFIG_GLOBAL)] != NULL;
}

size_t
config_list(const struct config *cfg, const char *name, char ***out)
{
	char *copy = xstrdup(config_str(cfg, name)), *p = copy, **list = NULL;
	size_t n = 0;

	while (p != NULL) {
		char *comma = strchr(p, ','), *item;
		if (comma != NULL)
			*comma = '\0';
		item = config_trim(p);
		if (*item != '\0') {
			list = xrealloc(list, (n + 1) * sizeof *list);
			list[n++] = xstrdup(item);
		}
		p = comma ? comma + 1 : NULL;
	}
	free(copy);
	*out = list;
	return n;
}

void
config_list_free(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void
config_limits(const struct config *cfg, struct limits *lim)
{
	limits_default(lim);
	lim->max_input_bytes = config_uint(cfg, "limits.max_input_bytes");
	lim->max_expanded_bytes = config_uint(cfg, "limits.max_expanded_bytes");
	lim->max_archive_members = (unsigned)config_uint(cfg, "limits.max_archive_members");
	lim->max_nesting = (unsigned)config_uint(cfg, "limits.max_nesting");
	lim->max_mime_parts = (unsigned)config_uint(cfg, "limits.max_mime_parts");
	lim->max_records = config_uint(cfg, "limits.max_records");
	lim->max_results = (unsigned)config_uint(cfg, "limits.max_results");
	lim->max_text = (unsigned)config_uint(cfg, "limits.max_text");
	lim->max_xml_depth = (unsigned)config_uint(cfg, "limits.max_xml_depth");
	lim->max_header_bytes = (unsigned)config_uint(cfg, "limits.max_header_bytes");
}

size_t
config_mailbox_count(const struct config *cfg)
{
	return cfg->n_mb;
}

const struct config_mailbox *
config_mailbox_at(const struct config *cfg, size_t i)
{
	return i < cfg->n_mb ? &cfg->mb[i] : NULL;
}

const struct config_mailbox *
config_mailbox_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_mb; i++)
		if (strcmp(cfg->mb[i].name, name) == 0)
			return &cfg->mb[i];
	return NULL;
}

const char *
config_mailbox_name(const struct config_mailbox *mb)
{
	return mb->name;
}

const char *
config_mb_str(const struct config *cfg, const struct config_mailbox *mb,
    const char *name)
{
	size_t i = config_must(name, CONFIG_MAILBOX);
	const struct config_setting *s = &config_settings[i];

	if (mb->val[i] != NULL)
		return mb->val[i];
	if (s->inherit != NULL)
		return config_str(cfg, s->inherit);
	return s->def ? s->def : "";
}

uint64_t
config_mb_uint(const struct config *cfg, const struct config_mailbox *mb,
    const char *name)
{
	size_t i = config_must(name, CONFIG_MAILBOX);

	return config_to_uint(&config_settings[i], config_mb_str(cfg, mb, name));
}

int
config_mb_bool(const struct config *cfg, const struct config_mailbox *mb,
    const char *name)
{
	return config_mb_uint(cfg, mb, name) != 0;
}

/* ---- printers ---- */

static const char *
config_type_name(const struct config_setting *s)
{
	switch (s->type) {
	case CONFIG_STR: return "string";
	case CONFIG_PATH: return "path";
	case CONFIG_BOOL: return "bool";
	case CONFIG_UINT: return "number";
	case CONFIG_SIZE: return "size";
	case CONFIG_DURATION: return "duration";
	case CONFIG_ENUM: return s->choices;
	case CONFIG_LIST: return "list";
	}
	return "?";
}

/* Values go out verbatim; quoted when they would not read back the same. */
static void
config_print_value(FILE *fp, const char *v)
{
	size_t n = strlen(v);

	if (n > 0 && (v[0] == ' ' || v[n - 1] == ' ' || v[0] == '"'))
		fprintf(fp, "\"%s\"\n", v);
	else
		fprintf(fp, "%s\n", v);
}

void
config_print_effective(const struct config *cfg, FILE *fp, int changed_only)
{
	size_t i, j;

	fprintf(fp, "# dmarcstat effective configuration; file: %s\n",
	    cfg->path ? cfg->path : "(none)");
	for (i = 0; config_settings[i].name != NULL; i++) {
		const struct config_setting *s = &config_settings[i];
		if (s->scope != CONFIG_GLOBAL)
			continue;
		if (changed_only && cfg->val[i] == NULL)
			continue;
		fprintf(fp, "%s = ", s->name);
		config_print_value(fp, config_str(cfg, s->name));
	}
	for (j = 0; j < cfg->n_mb; j++) {
		const struct config_mailbox *mb = &cfg->mb[j];
		fprintf(fp, "\n[mailbox %s]\n", mb->name);
		for (i = 0; config_settings[i].name != NULL; i++) {
			const struct config_setting *s = &config_settings[i];
			const char *v;
			if (s->scope != CONFIG_MAILBOX)
				continue;
			if (changed_only && mb->val[i] == NULL)
				continue;
			v = config_mb_str(cfg, mb, s->name);
			if (*v == '\0' && mb->val[i] == NULL)
				continue;
			fprintf(fp, "%s = ", s->name);
			config_print_value(fp, v);
		}
	}
}

const char *
config_setting_key(size_t i, char *buf, size_t len)
{
	size_t n;

	for (n = 0; n < i && config_settings[n].name != NULL; n++)
		;
	if (config_settings[n].name == NULL)
		return NULL;
	snprintf(buf, len, "%s%s", config_settings[n].scope == CONFIG_MAILBOX ?
	    "mailbox." : "", config_settings[n].name);
	return buf;
}

static const char *
config_tr_en(const char *key, const char *en)
{
	(void)key;
	return en;
}

void
config_print_help(FILE *fp, const char *(*tr)(const char *key,
    const char *en))
{
	char key[128], tkey[64];
	size_t i;

	if (tr == NULL)
		tr = config_tr_en;
	for (i = 0; config_settings[i].name != NULL; i++) {
		const struct config_setting *s = &config_settings[i];
		const char *type = config_type_name(s), *def;

		config_setting_key(i, key, sizeof key);
		if (s->type != CONFIG_ENUM) {
			snprintf(tkey, sizeof tkey, "@type.%s", type);
			type = tr(tkey, type);
		}
		def = s->def ? (*s->def ? s->def : tr("@empty", "empty")) :
		    s->inherit ? s->inherit : tr("@none", "none");
		fprintf(fp, "  %s%-28s %s (%s, %s: %s)\n",
		    s->scope == CONFIG_MAILBOX ? "mailbox.NAME." : "",
		    s->name, tr(key, s->desc), type, tr("@default", "default"),
		    def);
	}
}

/* Markdown table cell: | would end the cell. */
static void
config_md_cell(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", fp);
		else
			fputc(*s, fp);
	}
}

void
config_print_markdown(FILE *fp)
{
	size_t i;
	int scope;

	for (scope = CONFIG_GLOBAL; scope <= CONFIG_MAILBOX; scope++) {
		fprintf(fp, "%s| Setting | Type | Default | Description |\n"
		    "|---|---|---|---|\n",
		    scope == CONFIG_GLOBAL ? "" :
		    "\nIn a `[mailbox NAME]` section (or `--set mailbox.NAME.SETTING=VALUE`):\n\n");
		for (i = 0; config_settings[i].name != NULL; i++) {
			const struct config_setting *s = &config_settings[i];
			if ((int)s->scope != scope)
				continue;
			fprintf(fp, "| `%s` | ", s->name);
			config_md_cell(fp, config_type_name(s));
			fputs(" | ", fp);
			if (s->def != NULL && *s->def != '\0') {
				fputc('`', fp);
				config_md_cell(fp, s->def);
				fputc('`', fp);
			} else if (s->inherit != NULL)
				fprintf(fp, "`%s`", s->inherit);
			else
				fputs("(empty)", fp);
			fputs(" | ", fp);
			config_md_cell(fp, s->desc);
			fputs(" |\n", fp);
		}
	}
}
