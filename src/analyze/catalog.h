/*
 * catalog.h - the known-senders catalog: host names, ASNs, DKIM d= domains
 * and SPF (MAIL FROM / include) domains mapped to services.  The catalog
 * shipped in data/senders.conf is embedded in the binary; a user file in
 * the same format extends or overrides it.  Format: docs/senders-catalog.md.
 */
#ifndef DMARCSTAT_CATALOG_H
#define DMARCSTAT_CATALOG_H
#include <stddef.h>
#include <stdint.h>

enum catalog_type {
	CATALOG_ESP,              /* bulk / transactional e-mail service */
	CATALOG_MAILBOX_PROVIDER, /* hosted business mailboxes (Workspace, M365) */
	CATALOG_WEBMAIL,          /* consumer free mail (Gmail, Outlook.com) */
	CATALOG_CRM,              /* CRM / marketing automation */
	CATALOG_HELPDESK,
	CATALOG_FORWARDER,        /* forwarding / relay services */
	CATALOG_MAILING_LIST,
	CATALOG_CARRIER,          /* mobile carriers' mail */
	CATALOG_ISP,              /* consumer ISP mail */
	CATALOG_HOSTING,          /* rental / shared web servers */
	CATALOG_GATEWAY,          /* security gateways relaying both ways */
	CATALOG_SAAS,             /* application notifications */
	CATALOG_OWN,              /* the user's own infrastructure */
	CATALOG_OTHER,
	CATALOG_TYPE_N
};

struct catalog_service {
	char *id;           /* "sendgrid" */
	char *name;         /* "SendGrid" */
	char *name_ja;      /* NULL when the same */
	enum catalog_type type;
	int forwards;       /* also forwards users' mail (mailbox providers) */
	char *spf_include;  /* the SPF include: the service documents, or NULL */
	char *dkim_setup;   /* where to set up DKIM, short, or NULL */
};

struct catalog;

struct catalog *catalog_new(void);
void catalog_free(struct catalog **c);
/* Parses one file's text.  `origin` names it in error messages.  Returns 0,
 * or -1 with "origin:line: reason" in err (earlier valid entries stay). */
int catalog_load_buf(struct catalog *c, const char *buf, size_t len,
    const char *origin, char *err, size_t errlen);
int catalog_load_file(struct catalog *c, const char *path, char *err, size_t errlen);

/* Lookups return NULL when nothing matches.  Host, DKIM and SPF names are
 * matched on label boundaries, longest suffix first (a key "sendgrid.net"
 * matches "o1.sendgrid.net"); a host_label/spf_label key matches the first
 * label ("lists" matches "lists.example.org"). */
const struct catalog_service *catalog_by_host(const struct catalog *c, const char *host);
const struct catalog_service *catalog_by_asn(const struct catalog *c, uint32_t asn);
const struct catalog_service *catalog_by_dkim(const struct catalog *c, const char *domain);
const struct catalog_service *catalog_by_spf(const struct catalog *c, const char *domain);
const struct catalog_service *catalog_by_id(const struct catalog *c, const char *id);
size_t catalog_count(const struct catalog *c);
const struct catalog_service *catalog_at(const struct catalog *c, size_t i);
const char *catalog_version(const struct catalog *c);

const char *catalog_type_name(enum catalog_type t);
/* -1 when unknown. */
int catalog_type_parse(const char *s);

/*
 * The process-wide catalog: the embedded data/senders.conf, then the user
 * file (catalog_set_user_file, else $DMARCSTAT_SENDERS when set).  Loaded
 * once, thread-safe, never freed.  A broken user file is reported through
 * catalog_default_error() and otherwise ignored.
 */
void catalog_set_user_file(const char *path);
const struct catalog *catalog_default(void);
const char *catalog_default_error(void);

#endif
