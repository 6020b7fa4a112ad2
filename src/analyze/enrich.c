/*
 * enrich.c - source IP enrichment (enrich.h).  Public: enrich_opts_init,
 * enrich_run, enrich_ips, enrich_queue, enrich_geo_open/lookup/source/close.
 *
 * DNS: one c-ares channel driven by poll(); at most o->concurrency queries
 * in flight.  Each IP is a small state machine: PTR (ares_query T_PTR,
 * because ares_gethostbyaddr reports timeouts as "not found"), then, when
 * a name came back, A or AAAA of that name for forward confirmation.  If
 * the first 32 answers are all timeouts the resolver is taken as
 * unreachable: IPs not yet started are stored as "unresolved" at once, so
 * an offline machine never waits more than one timeout round.
 *
 * Geo: libloc (Debian's libloc-database) by default; a MaxMind-format
 * .mmdb when given (its ASN/country win, libloc fills what it lacks).
 *
 * Writes: one transaction per run, prepared UPSERTs.  Transient failures
 * keep an earlier good PTR (stale-while-error) and only move expires_at.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <ctype.h>
#include <errno.h>
#include <libloc/as.h>
#include <libloc/database.h>
#include <libloc/libloc.h>
#include <libloc/network.h>
#include <maxminddb.h>
#include <netdb.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analyze/catalog.h"
#include "analyze/enrich.h"
#include "analyze/ipnet.h"
#include "analyze/orgdom.h"
#include "lib/xalloc.h"

#define ENRICH_GIVE_UP_AFTER 32
#define ENRICH_PTR_MAX 254

static const char *const enrich_locdb_paths[] = {
	"/usr/share/libloc-location/location.db",
	"/var/lib/location/database.db",
	"/usr/share/libloc/location.db",
	"/var/lib/libloc/location.db",
};

void
enrich_opts_init(struct enrich_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->concurrency = 200;
	o->timeout_ms = 1000;
	o->tries = 2;
	o->ttl_ok = 7 * 86400;
	o->ttl_negative = 86400;
	o->ttl_error = 3600;
}

/* ------------------------------------------------------------------ geo */

struct enrich_geo {
	struct loc_ctx *ctx;
	struct loc_database *db;
	MMDB_s mmdb;
	int have_mmdb;
};

struct enrich_geo *
enrich_geo_open(const char *locdb, const char *mmdb, char *err, size_t errlen)
{
	struct enrich_geo *g = xcalloc(1, sizeof(*g));
	FILE *f = NULL;

	if (mmdb != NULL) {
		int rc = MMDB_open(mmdb, MMDB_MODE_MMAP, &g->mmdb);
		if (rc != MMDB_SUCCESS) {
			snprintf(err, errlen, "%s: %s", mmdb, MMDB_strerror(rc));
			free(g);
			return NULL;
		}
		g->have_mmdb = 1;
	}
	if (locdb != NULL) {
		if ((f = fopen(locdb, "r")) == NULL) {
			snprintf(err, errlen, "%s: %s", locdb, strerror(errno));
			enrich_geo_close(&g);
			return NULL;
		}
	} else {
		for (size_t i = 0; f == NULL && i < sizeof(enrich_locdb_paths) / sizeof(*enrich_locdb_paths); i++)
			f = fopen(enrich_locdb_paths[i], "r");
	}
	if (f != NULL) {
		if (loc_new(&g->ctx) == 0) {
			loc_set_log_priority(g->ctx, 0);
			if (loc_database_new(g->ctx, &g->db, f) != 0)
				g->db = NULL;
		}
		fclose(f);
		if (g->db == NULL && locdb != NULL) {
			snprintf(err, errlen, "%s: not a libloc database", locdb);
			enrich_geo_close(&g);
			return NULL;
		}
	}
	return g;
}

const char *
enrich_geo_source(const struct enrich_geo *g)
{
	if (g == NULL)
		return "none";
	if (g->have_mmdb)
		return g->db ? "mmdb+libloc" : "mmdb";
	return g->db ? "libloc" : "none";
}

void
enrich_geo_close(struct enrich_geo **gp)
{
	struct enrich_geo *g;

	if (gp == NULL || *gp == NULL)
		return;
	g = *gp;
	if (g->db)
		loc_database_unref(g->db);
	if (g->ctx)
		loc_unref(g->ctx);
	if (g->have_mmdb)
		MMDB_close(&g->mmdb);
	free(g);
	*gp = NULL;
}

static void
enrich_mmdb_str(MMDB_lookup_result_s *r, char *out, size_t len, const char *const *path)
{
	MMDB_entry_data_s d;

	if (MMDB_aget_value(&r->entry, &d, path) == MMDB_SUCCESS && d.has_data &&
	    d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size > 0) {
		size_t n = d.data_size < len - 1 ? d.data_size : len - 1;
		memcpy(out, d.utf8_string, n);
		out[n] = '\0';
	}
}

static void
enrich_geo_mmdb(struct enrich_geo *g, const char *ip, uint32_t *asn,
    char *as_name, size_t as_len, char *country, size_t cc_len)
{
	int gai, mmerr;
	MMDB_lookup_result_s r = MMDB_lookup_string(&g->mmdb, ip, &gai, &mmerr);
	MMDB_entry_data_s d;
	static const char *const p_asn[] = { "autonomous_system_number", NULL };
	static const char *const p_org[] = { "autonomous_system_organization", NULL };
	static const char *const p_as_name[] = { "as_name", NULL };
	static const char *const p_cc[] = { "country_code", NULL };
	static const char *const p_cc2[] = { "country", "iso_code", NULL };

	if (gai != 0 || mmerr != MMDB_SUCCESS || !r.found_entry)
		return;
	if (MMDB_aget_value(&r.entry, &d, p_asn) == MMDB_SUCCESS && d.has_data) {
		if (d.type == MMDB_DATA_TYPE_UINT32)
			*asn = d.uint32;
		else if (d.type == MMDB_DATA_TYPE_UINT16)
			*asn = d.uint16;
		else if (d.type == MMDB_DATA_TYPE_UINT64)
			*asn = (uint32_t)d.uint64;
	}
	enrich_mmdb_str(&r, as_name, as_len, p_org);
	if (*as_name == '\0')
		enrich_mmdb_str(&r, as_name, as_len, p_as_name);
	enrich_mmdb_str(&r, country, cc_len, p_cc);
	if (*country == '\0')
		enrich_mmdb_str(&r, country, cc_len, p_cc2);
}

int
enrich_geo_lookup(struct enrich_geo *g, const char *ip, uint32_t *asn,
    char *as_name, size_t as_len, char *country, size_t cc_len)
{
	struct loc_network *net = NULL;

	*asn = 0;
	as_name[0] = '\0';
	country[0] = '\0';
	if (g == NULL)
		return 0;
	if (g->have_mmdb)
		enrich_geo_mmdb(g, ip, asn, as_name, as_len, country, cc_len);
	if (g->db != NULL && (*asn == 0 || country[0] == '\0') &&
	    loc_database_lookup_from_string(g->db, ip, &net) == 0 && net != NULL) {
		const char *cc = loc_network_get_country_code(net);
		if (country[0] == '\0' && cc != NULL && cc[0] != '\0' && cc[0] != '-')
			snprintf(country, cc_len, "%s", cc);
		if (*asn == 0)
			*asn = loc_network_get_asn(net);
		loc_network_unref(net);
	}
	if (g->db != NULL && *asn != 0 && as_name[0] == '\0') {
		struct loc_as *as = NULL;
		if (loc_database_get_as(g->db, &as, *asn) == 0 && as != NULL) {
			const char *name = loc_as_get_name(as);
			if (name != NULL)
				snprintf(as_name, as_len, "%s", name);
			loc_as_unref(as);
		}
	}
	return *asn != 0 || country[0] != '\0';
}

/* ------------------------------------------------------------------ DNS */

enum enrich_state { ENRICH_TODO, ENRICH_PTR, ENRICH_FWD, ENRICH_DONE };

struct enrich_job {
	char *ip;
	uint8_t addr[16];
	int v4;
	enum enrich_state state;
	const char *status;     /* ok nxdomain timeout servfail error unresolved */
	char *ptr;
	int fcrdns;             /* 1, 0, -1 unknown */
	struct enrich_run_ctx *run;
};

struct enrich_run_ctx {
	ares_channel ch;
	size_t in_flight;
	size_t answered, timeouts;
	int gave_up;
};

static const char *
enrich_status_of(int st)
{
	switch (st) {
	case ARES_SUCCESS: return "ok";
	case ARES_ENOTFOUND:
	case ARES_ENODATA: return "nxdomain";
	case ARES_ETIMEOUT: return "timeout";
	/* c-ares 1.18 ends a query whose only server answered SERVFAIL with
	 * ECONNREFUSED ("could not contact DNS servers"), as for ICMP port
	 * unreachable: both are a server failure to us, retried after ttl_error. */
	case ARES_ESERVFAIL:
	case ARES_EREFUSED:
	case ARES_ECONNREFUSED: return "servfail";
	default: return "error";
	}
}

static void
enrich_note(struct enrich_run_ctx *r, int st)
{
	if (st == ARES_ETIMEOUT)
		r->timeouts++;
	else if (st != ARES_EDESTRUCTION && st != ARES_ECANCELLED)
		r->answered++;
	if (r->answered == 0 && r->timeouts >= ENRICH_GIVE_UP_AFTER)
		r->gave_up = 1;
}

static void
enrich_fwd_cb(void *arg, int st, int timeouts, unsigned char *buf, int len)
{
	struct enrich_job *j = arg;
	int found = 0;

	(void)timeouts;
	j->run->in_flight--;
	enrich_note(j->run, st);
	j->state = ENRICH_DONE;
	if (st == ARES_SUCCESS) {
		if (j->v4) {
			struct ares_addrttl at[32];
			int n = 32;
			if (ares_parse_a_reply(buf, len, NULL, at, &n) == ARES_SUCCESS)
				for (int i = 0; i < n; i++)
					if (memcmp(&at[i].ipaddr, j->addr + 12, 4) == 0)
						found = 1;
		} else {
			struct ares_addr6ttl at[32];
			int n = 32;
			if (ares_parse_aaaa_reply(buf, len, NULL, at, &n) == ARES_SUCCESS)
				for (int i = 0; i < n; i++)
					if (memcmp(&at[i].ip6addr, j->addr, 16) == 0)
						found = 1;
		}
		j->fcrdns = found;
	} else if (st == ARES_ENOTFOUND || st == ARES_ENODATA)
		j->fcrdns = 0;
	else
		j->fcrdns = -1;   /* could not tell */
}

static void
enrich_ptr_cb(void *arg, int st, int timeouts, unsigned char *buf, int len)
{
	struct enrich_job *j = arg;
	struct hostent *h = NULL;

	(void)timeouts;
	j->run->in_flight--;
	enrich_note(j->run, st);
	if (st == ARES_SUCCESS) {
		st = ares_parse_ptr_reply(buf, len, j->v4 ? (const void *)(j->addr + 12) : (const void *)j->addr,
		    j->v4 ? 4 : 16, j->v4 ? AF_INET : AF_INET6, &h);
		if (st == ARES_SUCCESS && (h == NULL || h->h_name == NULL || h->h_name[0] == '\0'))
			st = ARES_ENODATA;
	}
	j->status = enrich_status_of(st);
	if (st != ARES_SUCCESS) {
		if (h)
			ares_free_hostent(h);
		j->state = ENRICH_DONE;
		return;
	}
	{
		size_t n = strnlen(h->h_name, ENRICH_PTR_MAX + 1);
		if (n > ENRICH_PTR_MAX)
			n = ENRICH_PTR_MAX;
		j->ptr = xstrndup(h->h_name, n);
		for (char *p = j->ptr; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		n = strlen(j->ptr);
		if (n > 0 && j->ptr[n - 1] == '.')
			j->ptr[n - 1] = '\0';
	}
	ares_free_hostent(h);
	if (j->ptr[0] == '\0' || ipnet_is_ip(j->ptr)) {
		j->fcrdns = 0;
		j->state = ENRICH_DONE;
		return;
	}
	j->state = ENRICH_FWD;
	j->run->in_flight++;
	ares_query(j->run->ch, j->ptr, ns_c_in, j->v4 ? ns_t_a : ns_t_aaaa, enrich_fwd_cb, j);
}

static void
enrich_revname(const struct enrich_job *j, char *out, size_t len)
{
	if (j->v4) {
		snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", j->addr[15], j->addr[14],
		    j->addr[13], j->addr[12]);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	for (int i = 15; i >= 0 && k + 4 < len; i--) {
		out[k++] = hex[j->addr[i] & 0xf];
		out[k++] = '.';
		out[k++] = hex[j->addr[i] >> 4];
		out[k++] = '.';
	}
	snprintf(out + k, len - k, "ip6.arpa");
}

static void
enrich_wait(struct enrich_run_ctx *r)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	struct timeval tv, *tvp;
	int bits = ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);
	nfds_t n = 0;
	int timeout_ms, rc;

	/* c-ares' ARES_GETSOCK_WRITABLE shifts a signed 1 by up to 31 places
	 * (undefined behaviour); test the bits as unsigned instead */
	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		int readable = ((unsigned)bits >> i) & 1u;
		int writable = ((unsigned)bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u;
		if (!readable && !writable)
			continue;
		pfd[n].fd = socks[i];
		pfd[n].events = (short)((readable ? POLLIN : 0) |
		    (writable ? POLLOUT : 0));
		pfd[n].revents = 0;
		n++;
	}
	tvp = ares_timeout(r->ch, NULL, &tv);
	timeout_ms = tvp ? (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000) : 100;
	rc = poll(pfd, n, timeout_ms);
	if (rc <= 0) {
		ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		return;
	}
	for (nfds_t i = 0; i < n; i++) {
		ares_socket_t rd = pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD;
		ares_socket_t wr = pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD;
		if (rd != ARES_SOCKET_BAD || wr != ARES_SOCKET_BAD)
			ares_process_fd(r->ch, rd, wr);
	}
}

static int
enrich_dns(struct enrich_job *jobs, size_t n, const struct enrich_opts *o,
    struct enrich_stats *stats, char *err, size_t errlen)
{
	struct enrich_run_ctx r;
	struct ares_options ao;
	int rc, optmask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
	size_t next = 0, conc = o->concurrency > 0 ? (size_t)o->concurrency : 200;
	size_t last_report = 0;
	char rev[80];

	memset(&r, 0, sizeof(r));
	memset(&ao, 0, sizeof(ao));
	ao.timeout = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	ao.tries = o->tries > 0 ? o->tries : 2;
	ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return -1;
	}
	if ((rc = ares_init_options(&r.ch, &ao, optmask)) != ARES_SUCCESS) {
		/* No usable resolver configuration: behave as offline. */
		for (size_t i = 0; i < n; i++)
			jobs[i].status = "unresolved";
		stats->dns_gave_up = 1;
		ares_library_cleanup();
		return 0;
	}
	if (o->resolver != NULL &&
	    (rc = ares_set_servers_ports_csv(r.ch, o->resolver)) != ARES_SUCCESS) {
		snprintf(err, errlen, "--resolver %s: %s", o->resolver, ares_strerror(rc));
		ares_destroy(r.ch);
		ares_library_cleanup();
		return -1;
	}
	for (;;) {
		while (!r.gave_up && next < n && r.in_flight < conc) {
			struct enrich_job *j = &jobs[next++];
			j->run = &r;
			j->state = ENRICH_PTR;
			enrich_revname(j, rev, sizeof(rev));
			r.in_flight++;
			ares_query(r.ch, rev, ns_c_in, ns_t_ptr, enrich_ptr_cb, j);
		}
		if (r.in_flight == 0 && (r.gave_up || next >= n))
			break;
		enrich_wait(&r);
		if (o->progress != NULL && next - last_report >= 1000) {
			last_report = next;
			o->progress(o->progress_arg, next - r.in_flight, n);
		}
	}
	if (r.gave_up) {
		stats->dns_gave_up = 1;
		for (size_t i = next; i < n; i++)
			jobs[i].status = "unresolved";
	}
	ares_destroy(r.ch);
	ares_library_cleanup();
	return 0;
}

/* ------------------------------------------------------------------ store */

static const char enrich_sql_full[] =
	"INSERT INTO ip_info(ip, ptr, ptr_status, fcrdns, base_domain, asn, as_name, country, "
	"service, resolved_at, expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) "
	"ON CONFLICT(ip) DO UPDATE SET ptr=excluded.ptr, ptr_status=excluded.ptr_status, "
	"fcrdns=excluded.fcrdns, base_domain=excluded.base_domain, asn=excluded.asn, "
	"as_name=excluded.as_name, country=excluded.country, service=excluded.service, "
	"resolved_at=excluded.resolved_at, expires_at=excluded.expires_at";

/* Transient failure / offline: keep a known PTR, refresh geo, retry soon. */
static const char enrich_sql_soft[] =
	"INSERT INTO ip_info(ip, ptr, ptr_status, fcrdns, base_domain, asn, as_name, country, "
	"service, resolved_at, expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) "
	"ON CONFLICT(ip) DO UPDATE SET "
	"ptr_status = CASE WHEN ip_info.ptr_status IN ('ok','nxdomain') THEN ip_info.ptr_status "
	"  ELSE excluded.ptr_status END, "
	"asn=excluded.asn, as_name=excluded.as_name, country=excluded.country, "
	"service = CASE WHEN ip_info.ptr_status = 'ok' THEN ip_info.service ELSE excluded.service END, "
	"expires_at=excluded.expires_at";

static void
enrich_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL && *v != '\0')
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static int
enrich_store(sqlite3 *db, struct enrich_job *jobs, size_t n, struct enrich_geo *geo,
    const struct enrich_opts *o, struct enrich_stats *stats, char *err, size_t errlen)
{
	sqlite3_stmt *full = NULL, *soft = NULL;
	const struct catalog *cat = catalog_default();
	int64_t now = (int64_t)time(NULL);
	int rc = -1;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, enrich_sql_full, -1, &full, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, enrich_sql_soft, -1, &soft, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "ip_info: %s", sqlite3_errmsg(db));
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		struct enrich_job *j = &jobs[i];
		const char *st = j->status ? j->status : "unresolved";
		int good = strcmp(st, "ok") == 0 || strcmp(st, "nxdomain") == 0;
		sqlite3_stmt *s = good ? full : soft;
		uint32_t asn = 0;
		char as_name[256], cc[8];
		const char *base = j->ptr ? orgdom_get(j->ptr) : NULL;
		const struct catalog_service *svc = NULL;
		int64_t ttl;

		enrich_geo_lookup(geo, j->ip, &asn, as_name, sizeof(as_name), cc, sizeof(cc));
		if (asn != 0 || cc[0] != '\0')
			stats->geo++;
		if (j->ptr != NULL && j->fcrdns != 0)
			svc = catalog_by_host(cat, j->ptr);
		if (svc == NULL && asn != 0)
			svc = catalog_by_asn(cat, asn);
		if (strcmp(st, "ok") == 0) {
			stats->ok++;
			ttl = o->ttl_ok;
			if (j->fcrdns == 1)
				stats->fcrdns_ok++;
			else if (j->fcrdns == 0)
				stats->fcrdns_bad++;
		} else if (strcmp(st, "nxdomain") == 0) {
			stats->nxdomain++;
			ttl = o->ttl_negative;
		} else if (strcmp(st, "unresolved") == 0) {
			stats->unresolved++;
			ttl = 0;
		} else {
			if (strcmp(st, "timeout") == 0)
				stats->timeout++;
			else if (strcmp(st, "servfail") == 0)
				stats->servfail++;
			else
				stats->error++;
			ttl = o->ttl_error;
		}
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		sqlite3_bind_text(s, 1, j->ip, -1, SQLITE_STATIC);
		enrich_bind_text(s, 2, j->ptr);
		sqlite3_bind_text(s, 3, st, -1, SQLITE_STATIC);
		if (j->ptr != NULL && j->fcrdns >= 0)
			sqlite3_bind_int(s, 4, j->fcrdns);
		enrich_bind_text(s, 5, base);
		if (asn != 0)
			sqlite3_bind_int64(s, 6, asn);
		enrich_bind_text(s, 7, as_name);
		enrich_bind_text(s, 8, cc);
		enrich_bind_text(s, 9, svc ? svc->id : NULL);
		sqlite3_bind_int64(s, 10, now);
		sqlite3_bind_int64(s, 11, now + ttl);
		if (sqlite3_step(s) != SQLITE_DONE) {
			snprintf(err, errlen, "ip_info: %s", sqlite3_errmsg(db));
			goto done;
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "ip_info: %s", sqlite3_errmsg(db));
		goto done;
	}
	rc = 0;
done:
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(full);
	sqlite3_finalize(soft);
	return rc;
}

static double
enrich_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
enrich_ips(sqlite3 *db, const char *const *ips, size_t n, const struct enrich_opts *o,
    struct enrich_stats *stats_out, char *err, size_t errlen)
{
	struct enrich_stats stats;
	struct enrich_job *jobs = NULL;
	struct enrich_geo *geo;
	double t0 = enrich_now();
	size_t m = 0;
	int rc = -1;

	memset(&stats, 0, sizeof(stats));
	geo = enrich_geo_open(o->locdb, o->mmdb, err, errlen);
	if (geo == NULL)
		return -1;
	stats.geo_source = enrich_geo_source(geo);
	jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	for (size_t i = 0; i < n; i++) {
		struct ipnet net;
		if (ips[i] == NULL || strchr(ips[i], '/') != NULL || ipnet_parse(ips[i], &net) != 0)
			continue;   /* not an address: nothing to look up */
		jobs[m].ip = xstrdup(ips[i]);
		memcpy(jobs[m].addr, net.addr, 16);
		jobs[m].v4 = net.v4;
		jobs[m].fcrdns = -1;
		m++;
	}
	stats.candidates = m;
	if (o->offline) {
		for (size_t i = 0; i < m; i++)
			jobs[i].status = "unresolved";
	} else if (m > 0 && enrich_dns(jobs, m, o, &stats, err, errlen) != 0)
		goto done;
	if (enrich_store(db, jobs, m, geo, o, &stats, err, errlen) != 0)
		goto done;
	rc = 0;
done:
	stats.seconds = enrich_now() - t0;
	if (stats_out)
		*stats_out = stats;
	for (size_t i = 0; i < m; i++) {
		free(jobs[i].ip);
		free(jobs[i].ptr);
	}
	free(jobs);
	enrich_geo_close(&geo);
	return rc;
}

int
enrich_run(sqlite3 *db, const struct enrich_opts *o, struct enrich_stats *stats_out,
    char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	char **ips = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (sqlite3_prepare_v2(db,
	    "SELECT s.ip FROM (SELECT DISTINCT source_ip AS ip FROM records) s "
	    "LEFT JOIN ip_info i ON i.ip = s.ip "
	    "WHERE ?1 OR i.ip IS NULL OR i.ptr_status IS NULL OR i.ptr_status = 'pending' "
	    "OR coalesce(i.expires_at, 0) <= ?2 ORDER BY s.ip", -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "records: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int(s, 1, o->refresh ? 1 : 0);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *ip = sqlite3_column_text(s, 0);
		if (ip == NULL)
			continue;
		if (o->limit > 0 && n >= o->limit)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			ips = xrealloc(ips, cap * sizeof(*ips));
		}
		ips[n++] = xstrdup((const char *)ip);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "records: %s", sqlite3_errmsg(db));
		rc = -1;
	} else
		rc = enrich_ips(db, (const char *const *)ips, n, o, stats_out, err, errlen);
	for (size_t i = 0; i < n; i++)
		free(ips[i]);
	free(ips);
	return rc;
}

int
enrich_queue(sqlite3 *db, const char *ip)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO ip_info(ip, ptr_status) VALUES (?, 'pending')",
	    -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(s);
	return rc;
}
