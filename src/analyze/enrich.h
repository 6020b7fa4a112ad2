/*
 * enrich.h - enrichment of source IPs, run apart from import (the daemon
 * in the background, `dmarcstat enrich` by hand): PTR with c-ares
 * (bounded concurrency, short timeouts, retries), forward confirmation
 * (the PTR name's A/AAAA contains the IP), base domain via the Public
 * Suffix List, ASN / AS name / country from libloc or a MaxMind-format
 * .mmdb.  Results are cached in ip_info with a TTL; negative answers
 * (NXDOMAIN) are cached too, transient failures (timeout, SERVFAIL) for a
 * short time only and never replace an earlier good answer.
 *
 * ip_info.ptr_status: ok | nxdomain | timeout | servfail | error |
 * unresolved (offline: DNS not tried, retried next run) | pending (queued,
 * not looked up; also what a missing row means).
 */
#ifndef DMARCSTAT_ENRICH_H
#define DMARCSTAT_ENRICH_H
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

struct enrich_opts {
	const char *resolver;   /* "ADDR[:PORT][,...]" or NULL: /etc/resolv.conf */
	int offline;            /* never touch the network */
	int concurrency;        /* DNS queries in flight (200) */
	int timeout_ms;         /* first try (1000; c-ares doubles it per retry) */
	int tries;              /* 2 */
	int64_t ttl_ok;         /* 7 days */
	int64_t ttl_negative;   /* NXDOMAIN: 1 day */
	int64_t ttl_error;      /* timeout / SERVFAIL: 1 hour */
	const char *locdb;      /* libloc database, NULL = the packaged one */
	const char *mmdb;       /* MaxMind-format database, NULL = none */
	int refresh;            /* look up every IP again, cached or not */
	size_t limit;           /* at most this many IPs (0 = all) */
	/* Optional progress report, called at most every 1000 IPs. */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
};

struct enrich_stats {
	size_t candidates;      /* IPs needing a lookup */
	size_t ok, nxdomain, timeout, servfail, error, unresolved;
	size_t fcrdns_ok, fcrdns_bad;
	size_t geo;             /* IPs with an ASN or a country */
	int dns_gave_up;        /* the resolver never answered: rest marked unresolved */
	const char *geo_source; /* "libloc", "mmdb", "mmdb+libloc" or "none" */
	double seconds;
};

void enrich_opts_init(struct enrich_opts *o);

/*
 * Enriches every distinct source IP of `records` that has no fresh
 * ip_info row (or all of them with o->refresh).  Creates nothing but
 * ip_info rows.  Returns 0, or -1 with a reason in err (bad resolver
 * address, database error); DNS failures are results, not errors.
 */
int enrich_run(struct sqlite3 *db, const struct enrich_opts *o,
    struct enrich_stats *stats_out, char *err, size_t errlen);

/* Enriches exactly the given IPs (tests, "enrich IP..."). */
int enrich_ips(struct sqlite3 *db, const char *const *ips, size_t n,
    const struct enrich_opts *o, struct enrich_stats *stats_out, char *err, size_t errlen);

/* Queues an IP as 'pending' unless it already has a row (for import). */
int enrich_queue(struct sqlite3 *db, const char *ip);

/* Geo lookup only (libloc or mmdb), for tests and the CLI:
 * fills asn (0 when unknown), as_name and country (may be empty). */
struct enrich_geo;
struct enrich_geo *enrich_geo_open(const char *locdb, const char *mmdb, char *err, size_t errlen);
int enrich_geo_lookup(struct enrich_geo *g, const char *ip, uint32_t *asn,
    char *as_name, size_t as_len, char *country, size_t cc_len);
const char *enrich_geo_source(const struct enrich_geo *g);
void enrich_geo_close(struct enrich_geo **g);

#endif
