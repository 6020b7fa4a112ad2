/*
 * bench_classify.c - classification speed: builds a store with N records
 * (default 1,000,000, in 1,000-record reports, 20,000 distinct source IPs
 * with ip_info rows, a realistic mix of own / ESP / forwarder / spoofer
 * auth results), then times analyze_sources_json(): the SQL scan, the
 * classification of every record and the per-source aggregation.
 * Target: 1,000,000 records in under 5 s.  Prints one line and exits 1
 * when the target is missed.
 *
 * Records carry records.auth as the import writes it; BENCH_NO_AUTH=1
 * builds them without (the analysis then reads the record_dkim/_spf/_reasons
 * views over records.detail).
 *
 * usage: bench_classify [RECORDS] [DBFILE]   (DBFILE is reused when it exists)
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "store/store.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: on a loaded machine wall time says little. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
must(sqlite3 *h, int rc)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "bench_classify: %s\n", sqlite3_errmsg(h));
		exit(2);
	}
}

static void
fill(sqlite3 *h, long n)
{
	sqlite3_stmt *rep, *rec, *ii;
	static const char *const kinds[][5] = {
		/* dkim_eval spf_eval dkim "d:r" spf "d:r" ptr-suffix */
		{ "pass", "pass", "example.co.jp", "example.co.jp", "example.co.jp" },
		{ "fail", "fail", "sendgrid.net", "sendgrid.net", "sendgrid.net" },
		{ "pass", "fail", "example.co.jp", "example.co.jp", "university.example" },
		{ "fail", "fail", NULL, "example.co.jp", NULL },
		{ "pass", "pass", "example.co.jp", "amazonses.com", "amazonses.com" },
	};

	must(h, sqlite3_exec(h, "BEGIN", NULL, NULL, NULL));
	must(h, sqlite3_prepare_v2(h, "INSERT INTO reports(org_name, report_id, policy_domain, begin_ts, "
	    "end_ts, p, pct, content_hash, dedup_key, imported_at) VALUES (?1, ?2, 'example.co.jp', ?3, ?4, "
	    "'none', 100, x'00', ?2, 0)", -1, &rep, NULL));
	must(h, sqlite3_prepare_v2(h, "INSERT INTO records(report, source_ip, count, disposition, dkim_eval, "
	    "spf_eval, dmarc, header_from, auth, detail) VALUES (?1, ?2, ?3, 'none', ?4, ?5, ?6, 'example.co.jp', "
	    "?7, ?8)",
	    -1, &rec, NULL));
	must(h, sqlite3_prepare_v2(h, "INSERT OR IGNORE INTO ip_info(ip, ptr, ptr_status, fcrdns, base_domain, "
	    "resolved_at, expires_at) VALUES (?1, ?2, ?3, 1, ?4, 0, 9999999999)", -1, &ii, NULL));
	for (long i = 0; i < n; i++) {
		char ip[32], ptr[96], rid[32];
		int k = (int)(i * 7919 % 100), kind = k < 60 ? 0 : k < 80 ? 1 : k < 85 ? 2 : k < 95 ? 4 : 3;
		long ipn = (i * 104729) % 20000;

		if (i % 1000 == 0) {
			snprintf(rid, sizeof(rid), "r%ld", i / 1000);
			sqlite3_reset(rep);
			sqlite3_bind_text(rep, 1, i % 2000 ? "google.com" : "Yahoo", -1, SQLITE_STATIC);
			sqlite3_bind_text(rep, 2, rid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(rep, 3, 1700000000 + (i / 1000) * 3600);
			sqlite3_bind_int64(rep, 4, 1700000000 + (i / 1000) * 3600 + 86399);
			must(h, sqlite3_step(rep));
		}
		snprintf(ip, sizeof(ip), "10.%ld.%ld.%d", ipn / 256 % 256, ipn % 256, kind);
		sqlite3_reset(rec);
		sqlite3_bind_int64(rec, 1, sqlite3_last_insert_rowid(h) * 0 + 1 + i / 1000);
		sqlite3_bind_text(rec, 2, ip, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(rec, 3, 1 + (int)(i % 17));
		sqlite3_bind_text(rec, 4, kinds[kind][0], -1, SQLITE_STATIC);
		sqlite3_bind_text(rec, 5, kinds[kind][1], -1, SQLITE_STATIC);
		sqlite3_bind_text(rec, 6, strcmp(kinds[kind][0], "pass") == 0 || strcmp(kinds[kind][1], "pass") == 0 ?
		    "pass" : "fail", -1, SQLITE_STATIC);
		{
			/* records.auth as the import writes it (BENCH_NO_AUTH: leave it
			 * NULL, so the analysis reads the child tables instead) */
			char auth[256];

			snprintf(auth, sizeof(auth), "%s%s%s\x1e%s\t%s\x1e", kinds[kind][2] ? kinds[kind][2] : "",
			    kinds[kind][2] ? "\tpass" : "", "", kinds[kind][3],
			    strcmp(kinds[kind][1], "pass") == 0 || kind == 1 ? "pass" : "fail");
			char detail[256];

			if (getenv("BENCH_NO_AUTH"))
				sqlite3_bind_null(rec, 7);
			else
				sqlite3_bind_text(rec, 7, auth, -1, SQLITE_TRANSIENT);
			/* records.detail as the import writes it (store_sqlite.c
			 * migration 9): what record_dkim / record_spf show */
			snprintf(detail, sizeof(detail), "{%s%s%s\"spf\":[[\"%s\",null,\"%s\",null,null]]}",
			    kinds[kind][2] ? "\"dkim\":[[\"" : "", kinds[kind][2] ? kinds[kind][2] : "",
			    kinds[kind][2] ? "\",null,\"pass\",null,null]]," : "", kinds[kind][3],
			    strcmp(kinds[kind][1], "pass") == 0 || kind == 1 ? "pass" : "fail");
			sqlite3_bind_text(rec, 8, detail, -1, SQLITE_TRANSIENT);
		}
		must(h, sqlite3_step(rec));
		sqlite3_reset(ii);
		sqlite3_bind_text(ii, 1, ip, -1, SQLITE_TRANSIENT);
		if (kinds[kind][4]) {
			snprintf(ptr, sizeof(ptr), "h%ld.%s", ipn, kinds[kind][4]);
			sqlite3_bind_text(ii, 2, ptr, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ii, 3, "ok", -1, SQLITE_STATIC);
			sqlite3_bind_text(ii, 4, kinds[kind][4], -1, SQLITE_STATIC);
		} else {
			sqlite3_bind_null(ii, 2);
			sqlite3_bind_text(ii, 3, "nxdomain", -1, SQLITE_STATIC);
			sqlite3_bind_null(ii, 4);
		}
		must(h, sqlite3_step(ii));
	}
	sqlite3_finalize(rep);
	sqlite3_finalize(rec);
	sqlite3_finalize(ii);
	must(h, sqlite3_exec(h, "COMMIT", NULL, NULL, NULL));
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	char path[256], err[256];
	struct store *st;
	sqlite3 *h;
	struct query q = { .domain = "example.co.jp", .limit = 10 };
	json_t *out;
	double t0, t1, c0, c1, per;
	long have;
	sqlite3_stmt *s;

	if (n <= 0)
		n = 1000000;
	if (argc > 2)
		snprintf(path, sizeof(path), "%s", argv[2]);
	else
		snprintf(path, sizeof(path), "/tmp/bench_classify.%ld.db", n);
	st = store_open(path, 0, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "bench_classify: %s: %s\n", path, err);
		return 2;
	}
	h = (sqlite3 *)store_sqlite_handle(st);
	must(h, sqlite3_prepare_v2(h, "SELECT count(*) FROM records", -1, &s, NULL));
	sqlite3_step(s);
	have = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (have != n) {
		if (have != 0) {
			fprintf(stderr, "bench_classify: %s holds %ld records, want %ld\n", path, have, n);
			return 2;
		}
		t0 = now_s();
		fill(h, n);
		fprintf(stderr, "bench_classify: built %ld records in %.1f s\n", n, now_s() - t0);
	}
	t0 = now_s();
	c0 = cpu_s();
	out = analyze_sources_json(st, &q);
	c1 = cpu_s();
	t1 = now_s();
	if (out == NULL) {
		fprintf(stderr, "bench_classify: %s\n", analyze_errmsg());
		return 2;
	}
	/* judged on wall time, or CPU time when the machine is busy (BENCH_CPU=1) */
	per = (getenv("BENCH_CPU") ? c1 - c0 : t1 - t0) * 1000000.0 / (double)n;
	printf("classify: %ld records, %lld sources in %.2f s wall, %.2f s CPU (%.0f records/s) - "
	    "target < 5 s per 1,000,000: %s\n", n,
	    (long long)json_integer_value(json_object_get(out, "total")), t1 - t0, c1 - c0,
	    (double)n / (t1 - t0), per < 5.0 ? "OK" : "FAIL");
	json_decref(out);
	store_close(&st);
	if (argc <= 2)
		unlink(path);
	return per < 5.0 ? 0 : 1;
}
