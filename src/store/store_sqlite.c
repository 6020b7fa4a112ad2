/*
 * store_sqlite.c - the SQLite backend of store.h.
 *
 * One handle = one connection, used by one thread.  WAL journal,
 * synchronous=NORMAL, foreign keys on, a busy timeout (default 5 s) after
 * which a locked database is STORE_BUSY.  The schema is versioned with
 * PRAGMA user_version and a table of migration steps (below); migration 1 is
 * schema.sql, embedded here as a string (a unit test checks that the two
 * copies are identical).  A database newer than the binary is refused.
 *
 * Write path, per report: one `reports` row, per record one `records` row
 * (its DKIM/SPF results and reasons in records.detail, migration 9), and
 * per record and UTC day its report covers a delta for `daily`.  The
 * records of the open report are copied into handle-owned buffers (struct
 * sq_rows) and written at store_report_end with multi-row INSERTs (32, 16,
 * ... rows per statement; a big report every SQ_ROWS_MAX records); record ids are max(id) + 1 onwards, read once per
 * transaction (so nothing else may insert records through this handle
 * while a batch is open).  The daily deltas are summed per row key in a hash map
 * (struct sq_dmap) and written when the transaction commits, sorted in
 * primary-key order, 32 upserts per statement (early when the map passes
 * SQ_DMAP_MAX keys); a delta that nets to 0 (an aborted report) is never
 * written.  The same deltas, summed per (reporter, day), go to daily_org
 * (migration 7) just before.  So inside an open batch `daily` lags until store_commit;
 * store_report_delete writes the pending deltas first.  Statements are
 * prepared once per handle (SQLITE_PREPARE_PERSISTENT) and strings bound
 * SQLITE_STATIC; the buffers are reused, so the steady state makes no
 * allocation of ours per row.  bench/bench_store.c measures all this.
 *
 * Atomicity without per-report savepoints: a savepoint makes SQLite copy
 * every page a report touches into a sub-journal (measured: +25% CPU per
 * report), so instead a report is undone by a compensating delete (the
 * same code as store_report_delete: records cascade, `daily` is decremented
 * by the same spread).  Inside a batch that is exact because the batch holds
 * the write lock; outside one the report runs in its own transaction and is
 * undone by ROLLBACK.  A write that fails half way through a report (disk
 * full, I/O error) cannot be undone that way: the handle is then "poisoned"
 * and store_commit rolls the whole batch back and fails, so no partial
 * report is ever committed.  A crash loses the open batch only.
 *
 * Raw originals: `deflate` (zlib stream) unless the bytes already are
 * gzip/zip/xz/bzip2/zstd or deflate does not help (`identity`).  The fd
 * variant streams: compress to a temp file, then sqlite3_blob_write into a
 * zeroblob, 64 KiB at a time, so memory is bounded whatever the size.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>
#include <zlib.h>

#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "store/sq_ckpt.h"
#include "store/store_impl.h"

#define SQ_CHUNK 65536
#define SQ_DEFAULT_BUSY_MS 5000
#define SQ_ZBUF_KEEP (8u << 20)  /* keep a compression buffer up to 8 MiB */
#define SQ_MMAP_SIZE "1073741824" /* 1 GiB of the file mapped */
#define SQ_PAGE_SIZE "8192"       /* of new database files */
#define SQ_CKPT_PAGES 4096         /* WAL frames that start a checkpoint */
#define SQ_CKPT_MAX 8192           /* ... and that make the writer wait for one */
#define SQ_STR_(x) #x
#define SQ_STR(x) SQ_STR_(x)

/* ---- schema and migrations ------------------------------------------- */

/* Migration 1: verbatim copy of schema.sql (test_store checks it). */
static const char sq_schema_v1[] =
"-- dmarcstat SQLite schema, migration 1.  The contract between the write path\n"
"-- (store_sqlite.c), the query layer (query_report.c), the web API and the\n"
"-- analysis modules.  All times are UTC epoch seconds.  Domains are lower case.\n"
"-- Later migrations live in store_sqlite.c's migration table, never here:\n"
"--   2: indexes ledger_report, reports_raw;\n"
"--   3: daily_day and daily_ip dropped (daily is searched through its\n"
"--      primary key; rows are written in its order).\n"
"--   4: records.auth (DKIM, SPF results and reason types of the record\n"
"--      in one string), records_ip on (source_ip, report), daily_dash\n"
"--      dropped.\n"
"--   5: indexes reports_end, ledger_source.\n"
"--   6: indexes reports_org_end, reports_org_dom.\n"
"--   7: daily_org (daily per reporter and day).\n"
"--   8: reports_end dropped.\n"
"--   9: record_dkim, record_spf, record_reasons become views over the\n"
"--      new records.detail (JSON).\n"
"--  10: reports_org_end also holds report_id.\n"
"--  11: reports.msg_fail (messages failing DMARC), also in\n"
"--      reports_org_end with msg_total.\n"
"\n"
"CREATE TABLE raw_inputs (            -- originals kept for `dmarcstat reparse`\n"
"  id          INTEGER PRIMARY KEY,\n"
"  sha256      BLOB NOT NULL UNIQUE,  -- of the original bytes as received\n"
"  size        INTEGER NOT NULL,      -- original size\n"
"  encoding    TEXT NOT NULL,         -- 'identity' | 'deflate' (zlib) of `data`\n"
"  data        BLOB NOT NULL,\n"
"  created_at  INTEGER NOT NULL\n"
");\n"
"\n"
"CREATE TABLE ledger (                -- one row per input: file, message, archive member\n"
"  id          INTEGER PRIMARY KEY,\n"
"  ts          INTEGER NOT NULL,\n"
"  source      TEXT NOT NULL,         -- file | stdin | mbox | maildir | imap | spool | upload | pipe | reparse\n"
"  input       TEXT NOT NULL,         -- path / mailbox+uid / upload name\n"
"  member      TEXT,                  -- \"part 2 > report.xml\" inside the input, NULL for the input itself\n"
"  size        INTEGER,\n"
"  sha256      BLOB,                  -- of the document bytes\n"
"  status      TEXT NOT NULL,         -- imported | duplicate | rejected | not-a-report | unsupported | error\n"
"  reason      TEXT,                  -- one line, for humans\n"
"  kind        TEXT,                  -- aggregate | failure | smtp_tls | NULL\n"
"  report      INTEGER,               -- reports.id when imported/duplicate\n"
"  raw_id      INTEGER                -- raw_inputs.id\n"
");\n"
"CREATE INDEX ledger_ts ON ledger(ts);\n"
"CREATE INDEX ledger_status ON ledger(status, ts);\n"
"\n"
"CREATE TABLE reports (\n"
"  id               INTEGER PRIMARY KEY,\n"
"  kind             TEXT NOT NULL DEFAULT 'aggregate',\n"
"  org_name         TEXT NOT NULL,     -- normalised (trimmed; email domain when empty)\n"
"  org_name_raw     TEXT,\n"
"  email            TEXT,\n"
"  extra_contact    TEXT,\n"
"  report_id        TEXT NOT NULL,     -- <> stripped\n"
"  report_id_raw    TEXT,\n"
"  policy_domain    TEXT NOT NULL,\n"
"  begin_ts         INTEGER NOT NULL,\n"
"  end_ts           INTEGER NOT NULL,\n"
"  version          TEXT,\n"
"  xml_namespace    TEXT,\n"
"  generator        TEXT,\n"
"  errors           TEXT,              -- JSON array of <error> texts\n"
"  warnings         TEXT,              -- JSON array of parser warnings\n"
"  extensions       TEXT,\n"
"  p TEXT, sp TEXT, np TEXT, pct INTEGER, adkim TEXT, aspf TEXT, fo TEXT,\n"
"  testing TEXT, discovery_method TEXT,\n"
"  n_records        INTEGER NOT NULL DEFAULT 0,\n"
"  msg_total        INTEGER NOT NULL DEFAULT 0,\n"
"  content_hash     BLOB NOT NULL,     -- sha256 of the parsed document bytes\n"
"  dedup_key        TEXT NOT NULL UNIQUE, -- lower(org)|lower(report_id)|domain|begin|end\n"
"  raw_id           INTEGER REFERENCES raw_inputs(id),\n"
"  imported_at      INTEGER NOT NULL\n"
");\n"
"CREATE INDEX reports_domain_time ON reports(policy_domain, begin_ts);\n"
"CREATE INDEX reports_time ON reports(begin_ts);\n"
"CREATE INDEX reports_hash ON reports(content_hash);\n"
"CREATE INDEX reports_org ON reports(org_name, begin_ts);\n"
"\n"
"CREATE TABLE records (\n"
"  id             INTEGER PRIMARY KEY,\n"
"  report         INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,\n"
"  source_ip      TEXT NOT NULL,\n"
"  count          INTEGER NOT NULL,\n"
"  disposition    TEXT NOT NULL,       -- none quarantine reject pass unknown\n"
"  dkim_eval      TEXT NOT NULL,       -- pass fail unknown (policy_evaluated)\n"
"  spf_eval       TEXT NOT NULL,\n"
"  dmarc          TEXT NOT NULL,       -- pass | fail | unknown  (dkim_eval=pass OR spf_eval=pass)\n"
"  header_from    TEXT NOT NULL,\n"
"  envelope_from  TEXT,\n"
"  envelope_to    TEXT,\n"
"  disposition_raw TEXT, dkim_raw TEXT, spf_raw TEXT, source_ip_raw TEXT,\n"
"  extensions     TEXT\n"
");\n"
"CREATE INDEX records_report ON records(report);\n"
"CREATE INDEX records_ip ON records(source_ip);\n"
"\n"
"CREATE TABLE record_reasons (record INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,\n"
"  type TEXT NOT NULL, type_raw TEXT, comment TEXT);\n"
"CREATE INDEX record_reasons_record ON record_reasons(record);\n"
"CREATE TABLE record_dkim (record INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,\n"
"  domain TEXT, selector TEXT, result TEXT NOT NULL, result_raw TEXT, human_result TEXT);\n"
"CREATE INDEX record_dkim_record ON record_dkim(record);\n"
"CREATE TABLE record_spf (record INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,\n"
"  domain TEXT, scope TEXT, result TEXT NOT NULL, result_raw TEXT, human_result TEXT);\n"
"CREATE INDEX record_spf_record ON record_spf(record);\n"
"\n"
"-- Per-UTC-day rollup.  A report spanning several days has each record's\n"
"-- count spread over the UTC days it overlaps, in proportion to the overlap\n"
"-- (largest-remainder rounding so the day counts add up to `count`).\n"
"-- Charts and summaries read this table, never `records`.\n"
"CREATE TABLE daily (\n"
"  day           INTEGER NOT NULL,     -- epoch seconds of 00:00 UTC\n"
"  policy_domain TEXT NOT NULL,\n"
"  header_from   TEXT NOT NULL,\n"
"  source_ip     TEXT NOT NULL,\n"
"  org_name      TEXT NOT NULL,        -- reporter\n"
"  disposition   TEXT NOT NULL,\n"
"  dkim_eval     TEXT NOT NULL,\n"
"  spf_eval      TEXT NOT NULL,\n"
"  messages      INTEGER NOT NULL,\n"
"  PRIMARY KEY (policy_domain, day, source_ip, org_name, header_from, disposition, dkim_eval, spf_eval)\n"
") WITHOUT ROWID;\n"
"CREATE INDEX daily_day ON daily(day);\n"
"CREATE INDEX daily_ip ON daily(source_ip, day);\n"
"\n"
"-- Sender intelligence (enrichment; filled in the background, never at render time).\n"
"CREATE TABLE ip_info (\n"
"  ip            TEXT PRIMARY KEY,\n"
"  ptr           TEXT,                 -- first PTR name, no trailing dot\n"
"  ptr_status    TEXT,                 -- ok | nxdomain | timeout | servfail | pending\n"
"  fcrdns        INTEGER,              -- 1 forward-confirmed, 0 not, NULL unknown\n"
"  base_domain   TEXT,                 -- organisational domain of ptr (libpsl)\n"
"  asn           INTEGER,\n"
"  as_name       TEXT,\n"
"  country       TEXT,                 -- ISO 3166-1 alpha-2\n"
"  service       TEXT,                 -- known-sender catalog id\n"
"  resolved_at   INTEGER,\n"
"  expires_at    INTEGER\n"
") WITHOUT ROWID;\n";

/*
 * Later migrations: append, never edit a released step.  Each runs in the
 * same transaction as the user_version bump.
 */
static const char sq_schema_v2[] =
"-- ledger rows of one report (query_report lists them); reports of one\n"
"-- raw input (reparse finds them)\n"
"CREATE INDEX ledger_report ON ledger(report);\n"
"CREATE INDEX reports_raw ON reports(raw_id);\n";

/*
 * Migration 3: daily keeps its primary key only.  daily_day and daily_ip
 * were copies of the whole table in another order (an index of a WITHOUT
 * ROWID table holds the full key), filled in random order: more than half
 * of a report's write cost (bench/bench_store.c).  Queries without a domain
 * reach the key through the list of domains (see query_report.c).
 * (Measured and not kept: record_dkim/_spf/_reasons as WITHOUT ROWID
 * tables keyed (record, n): no gain once rows are inserted in bulk.)
 */
static const char sq_schema_v3[] =
"DROP INDEX IF EXISTS daily_day;\n"
"DROP INDEX IF EXISTS daily_ip;\n";

/*
 * Migration 4: what the dashboard and the sender analysis read.
 *  - records.auth: the record's DKIM results, SPF results and override
 *    reason types in one string, written with the record (SQ_AUTH_SQL is
 *    the same value computed from the child tables; existing rows are
 *    filled here).  The analysis then reads `records` alone instead of
 *    three lookups per record.  NULL = not computed (rows inserted by
 *    other means): readers fall back to the child tables.
 *  - records_ip becomes (source_ip, report): a source's records newest
 *    report first, without reading the records table.
 *  - daily_dash (created at serve time by older versions: a second copy of
 *    daily filled in random order, ~50 us per imported report) is dropped;
 *    the dashboard walks daily's primary key per domain instead.
 */
#define SQ_AUTH_SQL(rec) \
	"coalesce((SELECT group_concat(coalesce(domain,'')||char(9)||result," \
	"char(10)) FROM record_dkim WHERE record=" rec "),'')||char(30)||" \
	"coalesce((SELECT group_concat(coalesce(domain,'')||char(9)||result," \
	"char(10)) FROM record_spf WHERE record=" rec "),'')||char(30)||" \
	"coalesce((SELECT group_concat(type,char(10)) FROM record_reasons " \
	"WHERE record=" rec "),'')"
static const char sq_schema_v4[] =
"DROP INDEX IF EXISTS daily_dash;\n"
"DROP INDEX IF EXISTS records_ip;\n"
"CREATE INDEX records_ip ON records(source_ip, report);\n"
"ALTER TABLE records ADD COLUMN auth TEXT;\n"
"UPDATE records SET auth=" SQ_AUTH_SQL("records.id") ";\n";

/*
 * Migration 5: reports overlapping a period (end_ts > since AND begin_ts <
 * until) are counted from reports_end alone, not by reading every report
 * that began before `until`; the ledger is counted per source (origin)
 * from ledger_source.  One index entry per report / per input.
 */
static const char sq_schema_v5[] =
"CREATE INDEX reports_end ON reports(end_ts, begin_ts);\n"
"CREATE INDEX ledger_source ON ledger(source);\n";

/*
 * Migration 6: the reporters view per reporter without reading `reports`:
 * reports in a period and the last end from reports_org_end, the domains
 * and the (max) contact address from reports_org_dom, both by skipping
 * through the keys.  One report = two more index entries.
 */
static const char sq_schema_v6[] =
"CREATE INDEX reports_org_end ON reports(org_name, end_ts, begin_ts);\n"
"CREATE INDEX reports_org_dom ON reports(org_name, policy_domain, email);\n";

/*
 * Migration 7: daily_org, the per-reporter per-day rollup of `daily` (a
 * few rows per reporter and day): the reporters view over a year reads
 * thousands of rows instead of `daily`'s hundreds of thousands.  Written
 * from the same deltas as `daily` when they are flushed, so it is exactly
 * `daily` grouped (aborts, deletes, reparses included); rows that reach
 * 0 messages are deleted.
 */
static const char sq_schema_v7[] =
"CREATE TABLE daily_org (\n"
"  org_name      TEXT NOT NULL,\n"
"  day           INTEGER NOT NULL,\n"
"  messages      INTEGER NOT NULL,\n"
"  pass          INTEGER NOT NULL,     -- dkim_eval or spf_eval pass\n"
"  spf           INTEGER NOT NULL,     -- spf_eval pass\n"
"  dkim          INTEGER NOT NULL,     -- dkim_eval pass\n"
"  PRIMARY KEY (org_name, day)\n"
") WITHOUT ROWID;\n"
"INSERT INTO daily_org SELECT org_name, day, sum(messages),"
" sum(CASE WHEN dkim_eval='pass' OR spf_eval='pass' THEN messages ELSE 0 END),"
" sum(CASE WHEN spf_eval='pass' THEN messages ELSE 0 END),"
" sum(CASE WHEN dkim_eval='pass' THEN messages ELSE 0 END)"
" FROM daily GROUP BY org_name, day;\n";

/*
 * Migration 8: reports_end dropped again: reports_org_end (migration 6)
 * answers the same count reporter by reporter, and each index entry costs
 * the import (~1.5 us per report).
 */
static const char sq_schema_v8[] =
"DROP INDEX IF EXISTS reports_end;\n";

/*
 * Migration 9: a record's DKIM / SPF results and override reasons move
 * from three child tables (a row and an index entry each: 13 of the ~40
 * B-tree insertions of a bench report, ~20% of the writer's work) into
 * records.detail, one JSON object per record (see sq_detail).
 * record_dkim, record_spf and record_reasons become views over it with
 * the same columns plus `n`, the position in the record (readers order by
 * (record, n) where they ordered by rowid).  Deleting a record deletes its
 * results with it.
 */
static const char sq_schema_v9[] =
"ALTER TABLE records ADD COLUMN detail TEXT;\n"
"UPDATE records SET detail=json_object("
" 'dkim', json((SELECT json_group_array(json_array(domain,selector,result,"
"  result_raw,human_result)) FROM (SELECT * FROM record_dkim"
"  WHERE record=records.id ORDER BY rowid))),"
" 'spf', json((SELECT json_group_array(json_array(domain,scope,result,"
"  result_raw,human_result)) FROM (SELECT * FROM record_spf"
"  WHERE record=records.id ORDER BY rowid))),"
" 'reasons', json((SELECT json_group_array(json_array(type,type_raw,"
"  comment)) FROM (SELECT * FROM record_reasons"
"  WHERE record=records.id ORDER BY rowid))));\n"
"UPDATE records SET detail=NULL"
" WHERE detail='{\"dkim\":[],\"spf\":[],\"reasons\":[]}';\n"
"DROP TABLE record_reasons;\n"
"DROP TABLE record_dkim;\n"
"DROP TABLE record_spf;\n"
"CREATE VIEW record_dkim(record, n, domain, selector, result, result_raw,"
" human_result) AS SELECT r.id, j.key, j.value->>0, j.value->>1,"
" j.value->>2, j.value->>3, j.value->>4"
" FROM records r, json_each(r.detail, '$.dkim') j;\n"
"CREATE VIEW record_spf(record, n, domain, scope, result, result_raw,"
" human_result) AS SELECT r.id, j.key, j.value->>0, j.value->>1,"
" j.value->>2, j.value->>3, j.value->>4"
" FROM records r, json_each(r.detail, '$.spf') j;\n"
"CREATE VIEW record_reasons(record, n, type, type_raw, comment) AS"
" SELECT r.id, j.key, j.value->>0, j.value->>1, j.value->>2"
" FROM records r, json_each(r.detail, '$.reasons') j;\n";

/*
 * Migration 10: reports_org_end gains report_id, so that a Report-ID
 * search (the reports list's report_id filter) reads the period's index
 * entries reporter by reporter and fetches only the matching rows, instead
 * of every report row of the period (a year of a 1M-record database: 25 ms
 * instead of 160 ms).  Same number of index entries as before.
 */
static const char sq_schema_v10[] =
"DROP INDEX IF EXISTS reports_org_end;\n"
"CREATE INDEX reports_org_end ON reports(org_name, end_ts, begin_ts,"
" report_id);\n";

/*
 * Migration 11: reports.msg_fail, the messages of the report's records
 * whose dmarc is not 'pass' (what the reports list shows as failing and
 * filters on with result=), written with msg_total at store_report_end.
 * The list used to sum them from `records` per report: a year's reports
 * filtered by result took ~0.3 s at 1M records.  reports_org_end carries
 * both counts, so that such a filter, and its count, read index entries
 * only (a report written early, being big, updates its entry once at the
 * end).
 */
static const char sq_schema_v11[] =
"ALTER TABLE reports ADD COLUMN msg_fail INTEGER NOT NULL DEFAULT 0;\n"
"UPDATE reports SET msg_fail=(SELECT coalesce(sum(count),0) FROM records"
" WHERE report=reports.id AND dmarc<>'pass');\n"
"DROP INDEX IF EXISTS reports_org_end;\n"
"CREATE INDEX reports_org_end ON reports(org_name, end_ts, begin_ts,"
" report_id, msg_fail, msg_total);\n";

static const char *const sq_migrations[] = {
	sq_schema_v1,
	sq_schema_v2,
	sq_schema_v3,
	sq_schema_v4,
	sq_schema_v5,
	sq_schema_v6,
	sq_schema_v7,
	sq_schema_v8,
	sq_schema_v9,
	sq_schema_v10,
	sq_schema_v11,
};
#define SQ_VERSION ((int)(sizeof sq_migrations / sizeof sq_migrations[0]))

const char *
store_sqlite_schema(void)
{
	return sq_schema_v1;
}

int
store_sqlite_schema_version(void)
{
	return SQ_VERSION;
}

/* ---- prepared statements --------------------------------------------- */

enum sq_stmt_id {
	SQ_BEGIN, SQ_COMMIT, SQ_ROLLBACK,
	SQ_SAVEPOINT, SQ_RELEASE, SQ_ROLLBACK_TO,
	SQ_RAW_FIND, SQ_RAW_INSERT, SQ_RAW_GET, SQ_RAW_ENCODING,
	SQ_LEDGER_INSERT,
	SQ_REPORT_INSERT, SQ_REPORT_INSERT_MIN, SQ_REPORT_MAXID,
	SQ_REPORT_FIND_KEY, SQ_REPORT_FIND_HASH,
	SQ_REPORT_FINISH, SQ_REPORT_EMAIL, SQ_REPORT_REKEY, SQ_REPORT_HDR,
	SQ_REPORT_DELETE,
	SQ_RECORD_MAXID,
	SQ_RECORDS_OF,
	SQ_DAILY_ADD, SQ_DAILY_SUB, SQ_DAILY_PRUNE,
	SQ_ORG_ADD, SQ_ORG_PRUNE,
	SQ__COUNT
};

static const char *const sq_sql[SQ__COUNT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_SAVEPOINT] = "SAVEPOINT store_delete",
	[SQ_RELEASE] = "RELEASE store_delete",
	[SQ_ROLLBACK_TO] = "ROLLBACK TO store_delete",
	[SQ_RAW_FIND] = "SELECT id FROM raw_inputs WHERE sha256=?1",
	[SQ_RAW_INSERT] = "INSERT INTO raw_inputs(sha256,size,encoding,data,"
	    "created_at) VALUES(?1,?2,?3,?4,?5)",
	[SQ_RAW_GET] = "SELECT size,encoding,data FROM raw_inputs WHERE id=?1",
	[SQ_RAW_ENCODING] = "SELECT size,encoding FROM raw_inputs WHERE id=?1",
	[SQ_LEDGER_INSERT] = "INSERT INTO ledger(ts,source,input,member,size,"
	    "sha256,status,reason,kind,report,raw_id) "
	    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
	/* the whole row at store_report_end (the common case) */
	[SQ_REPORT_INSERT] = "INSERT INTO reports(id,org_name,org_name_raw,"
	    "email,extra_contact,report_id,report_id_raw,policy_domain,"
	    "begin_ts,end_ts,version,xml_namespace,generator,errors,warnings,"
	    "extensions,p,sp,np,pct,adkim,aspf,fo,testing,discovery_method,"
	    "n_records,msg_total,content_hash,dedup_key,raw_id,imported_at,"
	    "msg_fail) "
	    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
	    "?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32)",
	/* the key columns only, before the records of a big or undone
	 * report are written; SQ_REPORT_FINISH fills in the rest */
	[SQ_REPORT_INSERT_MIN] = "INSERT INTO reports(id,org_name,email,"
	    "report_id,policy_domain,begin_ts,end_ts,content_hash,dedup_key,"
	    "raw_id,imported_at) VALUES(?1,?2,?3,?4,?5,?6,?7,zeroblob(32),?8,"
	    "?9,?10)",
	[SQ_REPORT_MAXID] = "SELECT max(id) FROM reports",
	[SQ_REPORT_FIND_KEY] = "SELECT id FROM reports WHERE dedup_key=?1 "
	    "AND id<>?2",
	[SQ_REPORT_FIND_HASH] = "SELECT id FROM reports WHERE content_hash=?1 "
	    "AND id<>?2 LIMIT 1",
	/* email (?2) only when it changed (SQ_REPORT_EMAIL): it is in the
	 * key of reports_org_dom, and setting it costs an index rewrite */
	[SQ_REPORT_FINISH] = "UPDATE reports SET org_name_raw=?1,"
	    "extra_contact=?3,report_id_raw=?4,version=?5,xml_namespace=?6,"
	    "generator=?7,errors=?8,warnings=?9,extensions=?10,p=?11,sp=?12,"
	    "np=?13,pct=?14,adkim=?15,aspf=?16,fo=?17,testing=?18,"
	    "discovery_method=?19,n_records=?20,msg_total=?21,"
	    "content_hash=?22,msg_fail=?24 WHERE id=?23",
	[SQ_REPORT_EMAIL] = "UPDATE reports SET email=?1 WHERE id=?2",
	[SQ_REPORT_REKEY] = "UPDATE reports SET org_name=?1,report_id=?2,"
	    "policy_domain=?3,begin_ts=?4,end_ts=?5,dedup_key=?6 WHERE id=?7",
	[SQ_REPORT_HDR] = "SELECT org_name,policy_domain,begin_ts,end_ts "
	    "FROM reports WHERE id=?1",
	[SQ_REPORT_DELETE] = "DELETE FROM reports WHERE id=?1",
	[SQ_RECORD_MAXID] = "SELECT max(id) FROM records",
	[SQ_RECORDS_OF] = "SELECT source_ip,count,disposition,dkim_eval,"
	    "spf_eval,header_from FROM records WHERE report=?1",
	[SQ_DAILY_ADD] = "INSERT INTO daily(day,policy_domain,header_from,"
	    "source_ip,org_name,disposition,dkim_eval,spf_eval,messages) "
	    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT DO UPDATE SET "
	    "messages=messages+excluded.messages",
	[SQ_DAILY_SUB] = "UPDATE daily SET messages=messages-?9 WHERE "
	    "policy_domain=?2 AND day=?1 AND source_ip=?4 AND org_name=?5 AND "
	    "header_from=?3 AND disposition=?6 AND dkim_eval=?7 AND "
	    "spf_eval=?8 RETURNING messages",
	[SQ_DAILY_PRUNE] = "DELETE FROM daily WHERE policy_domain=?2 AND "
	    "day=?1 AND source_ip=?4 AND org_name=?5 AND header_from=?3 AND "
	    "disposition=?6 AND dkim_eval=?7 AND spf_eval=?8 AND messages<=0",
	[SQ_ORG_ADD] = "INSERT INTO daily_org(org_name,day,messages,pass,spf,"
	    "dkim) VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT DO UPDATE SET "
	    "messages=messages+excluded.messages,pass=pass+excluded.pass,"
	    "spf=spf+excluded.spf,dkim=dkim+excluded.dkim",
	[SQ_ORG_PRUNE] = "DELETE FROM daily_org WHERE org_name=?1 AND day=?2 "
	    "AND messages<=0",
};

/* a growable string owned by the handle, reused from report to report */
struct sq_str {
	char *p;
	size_t cap;
};

/* a growable byte buffer owned by the handle */
struct sq_buf {
	char *p;
	size_t len, cap;
};

/* the report between store_report_begin and _end/_abort */
struct sq_cur {
	int64_t id;                 /* 0 = none open */
	int64_t begin, end;
	struct sq_str org, domain, key, rid;
	struct sq_str email;        /* as inserted; email_null: it was NULL */
	int email_null;
	int inserted;               /* its `reports` row exists (see sq_cur_row) */
	int64_t raw_id;
	uint64_t n_records, msg_total;
	uint64_t msg_fail;          /* messages of records whose dmarc is not pass */
	int capped;                 /* spread over > STORE_SPREAD_MAX_DAYS refused */
	int own_txn;                /* no batch: this report is its transaction */
};

/* pending `daily` deltas of the open transaction, keyed by the row key */
struct sq_dent {
	uint64_t hash;
	uint32_t off, len;          /* key bytes in the arena */
	int64_t delta;
};
struct sq_dmap {
	struct sq_dent *ent;
	size_t n, cap;
	uint32_t *slot;             /* open addressing: entry index + 1, 0 free */
	size_t nslot;               /* a power of two, > 2 * n */
	char *arena;
	size_t alen, acap;
};
#define SQ_DAILY_ROWS 32        /* rows per multi-row daily upsert */
#define SQ_ORG_ROWS 16          /* rows per multi-row daily_org upsert */
#define SQ_DMAP_MAX 16384       /* keys before an early flush (~2 MiB) */
#define SQ_DMAP_KEEP (4u << 20) /* keep a key arena up to 4 MiB */

/*
 * Rows of one table waiting to be inserted (struct sq_rows): the records of
 * the open report and their reasons, DKIM and SPF results are copied here
 * and written at store_report_end (or every SQ_ROWS_MAX records of a big
 * report) with multi-row INSERTs of 32, 16, ... 1 rows: far fewer
 * statements than one per row.  Record ids are given by us (max(id) + 1,
 * read once per transaction, which holds the write lock).
 */
struct sq_val {
	int64_t i;                  /* integer, or text offset in the arena */
	uint32_t len;               /* text length */
	uint8_t type;               /* SQ_V_NULL SQ_V_INT SQ_V_TEXT */
};
enum { SQ_V_NULL, SQ_V_INT, SQ_V_TEXT };
#define SQ_ROWS_SIZES 6         /* statements of 1, 2, 4 ... 32 rows */
struct sq_rows {
	const char *head;           /* "INSERT INTO t(c1,...) VALUES" */
	int ncol;
	struct sq_val *v;           /* n * ncol values */
	size_t n, cap;
	sqlite3_stmt *stmt[SQ_ROWS_SIZES];
};
enum { SQ_T_RECORDS, SQ_T__COUNT };
#define SQ_ROWS_MAX 256         /* records buffered before an early write */
#define SQ_ROWS_ARENA_MAX (1u << 20)   /* or this much text */
#define SQ_ROWS_ARENA_KEEP (1u << 20)  /* kept between reports */

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	int readonly;
	sqlite3_stmt *stmt[SQ__COUNT];
	struct sq_cur cur;
	int poisoned;               /* a batch write failed half way: roll back */
	struct sq_str key2;         /* scratch key for re-checks */
	uint8_t *zbuf;              /* compression scratch */
	size_t zcap;
	struct sq_dmap dmap;
	sqlite3_stmt *daily_multi;  /* SQ_DAILY_ROWS upserts in one statement */
	sqlite3_stmt *org_multi;    /* SQ_ORG_ROWS daily_org upserts */
	struct sq_rows rows[SQ_T__COUNT];
	char *rarena;               /* text of the buffered rows */
	size_t ralen, racap;
	int64_t next_record;        /* next records.id; 0 = read max(id) */
	int64_t next_report;        /* next reports.id; 0 = read max(id) */
	struct sq_buf jbuf;         /* records.detail of one record */
	struct sq_ckpt *ckpt;       /* checkpoints off the writer's thread */
};

static const struct store_ops sq_ops;
static int sq_dmap_flush(struct store_sqlite *s);
struct sq_daily_key;
static void sq_dmap_key(const struct sq_dmap *m, const struct sq_dent *e,
    struct sq_daily_key *k, int64_t *day_out);
static void sq_dmap_clear(struct store_sqlite *s);
static void sq_dmap_free(struct sq_dmap *m);
static void sq_rows_clear(struct store_sqlite *s);
static int sq_rows_flush(struct store_sqlite *s);

static void
sq_buf_put(struct sq_buf *b, const char *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = b->len + n < 1024 ? 1024 : (b->len + n) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
sq_str_set(struct sq_str *s, const char *v)
{
	size_t n = strlen(v) + 1;

	if (n > s->cap) {
		s->cap = n < 64 ? 64 : n * 2;
		s->p = xrealloc(s->p, s->cap);
	}
	memcpy(s->p, v, n);
}

/* dedup key into s; grows the buffer once when needed */
static void
sq_str_key(struct sq_str *s, const char *org, const char *rid,
    const char *dom, int64_t begin, int64_t end)
{
	size_t need;

	if (s->cap < 256) {
		s->cap = 256;
		s->p = xrealloc(s->p, s->cap);
	}
	need = store_dedup_key(s->p, s->cap, org, rid, dom, begin, end);
	if (need >= s->cap) {
		s->cap = need + 1;
		s->p = xrealloc(s->p, s->cap);
		store_dedup_key(s->p, s->cap, org, rid, dom, begin, end);
	}
}

static struct store_sqlite *
sq(struct store *st)
{
	assert(st->ops == &sq_ops);
	return (struct store_sqlite *)st;
}

/* SQLite result code -> 0 / -1 / STORE_BUSY, with a reason in err */
static int
sq_fail(struct store_sqlite *s, int rc, const char *what)
{
	int prim = rc & 0xff;

	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) {
		store_seterr(&s->base, "%s: database is locked by another "
		    "process", what);
		return STORE_BUSY;
	}
	store_seterr(&s->base, "%s: %s", what, sqlite3_errmsg(s->db));
	return -1;
}

static sqlite3_stmt *
sq_get(struct store_sqlite *s, enum sq_stmt_id id)
{
	int rc;

	if (s->stmt[id] != NULL)
		return s->stmt[id];
	rc = sqlite3_prepare_v3(s->db, sq_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		sq_fail(s, rc, "prepare");
		s->stmt[id] = NULL;
		return NULL;
	}
	return s->stmt[id];
}

/* runs a bound statement that returns no row; always resets it */
/*
 * "HEAD (?,...),(?,...) TAIL": nrow rows of ncol parameters, prepared
 * once per handle (SQLITE_PREPARE_PERSISTENT) into *slot; the multi-row
 * INSERTs of the write path (records, daily, daily_org).
 */
static sqlite3_stmt *
sq_prepare_rows(struct store_sqlite *s, sqlite3_stmt **slot, const char *head,
    size_t ncol, size_t nrow, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail), at, i, j;
	char *sql;
	int rc;

	if (*slot != NULL)
		return *slot;
	sql = xmalloc(hl + nrow * (2 * ncol + 2) + tl + 2);
	memcpy(sql, head, hl);
	at = hl;
	for (i = 0; i < nrow; i++) {
		sql[at++] = i ? ',' : ' ';
		sql[at++] = '(';
		for (j = 0; j < ncol; j++) {
			if (j)
				sql[at++] = ',';
			sql[at++] = '?';
		}
		sql[at++] = ')';
	}
	memcpy(sql + at, tail, tl + 1);
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot,
	    NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		sq_fail(s, rc, "prepare");
		*slot = NULL;
	}
	return *slot;
}

static int
sq_done(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return sq_fail(s, rc, what);
}

static int
sq_run(struct store_sqlite *s, enum sq_stmt_id id, const char *what)
{
	sqlite3_stmt *stmt = sq_get(s, id);

	return stmt ? sq_done(s, stmt, what) : -1;
}

/*
 * Runs a bound one-column query: *id_out = the integer of the first row, or
 * 0 when there is none.  Resets the statement.
 */
static int
sq_one_id(struct store_sqlite *s, sqlite3_stmt *stmt, int64_t *id_out,
    const char *what)
{
	int rc = sqlite3_step(stmt);

	*id_out = 0;
	if (rc == SQLITE_ROW)
		*id_out = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	return sq_fail(s, rc, what);
}

static void
sq_text(sqlite3_stmt *stmt, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

static void
sq_id(sqlite3_stmt *stmt, int i, int64_t id)
{
	if (id > 0)
		sqlite3_bind_int64(stmt, i, id);
	else
		sqlite3_bind_null(stmt, i);
}

static const char *
sq_or(const char *v, const char *dflt)
{
	return v != NULL ? v : dflt;
}

/* ---- open, close, migrate -------------------------------------------- */

static int
sq_exec(struct store_sqlite *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, what);
}

static int
sq_user_version(struct store_sqlite *s, int *v_out)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "reading schema version");
	rc = sqlite3_step(stmt);
	*v_out = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return sq_fail(s, rc, "reading schema version");
	return 0;
}

static int
sq_count_objects(struct store_sqlite *s, int *n_out)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "reading schema");
	rc = sqlite3_step(stmt);
	*n_out = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, "reading schema");
}

static int
sq_newer_check(struct store_sqlite *s, const char *path, int v)
{
	if (v > SQ_VERSION)
		return store_seterr(&s->base, "%s: database schema version %d is "
		    "newer than this dmarcstat knows (%d); upgrade dmarcstat",
		    path, v, SQ_VERSION);
	return 0;
}

static int
sq_migrate(struct store_sqlite *s, const char *path)
{
	char sql[64];
	int v, n, i, rc;

	if ((rc = sq_user_version(s, &v)) != 0)
		return rc;
	if (sq_newer_check(s, path, v) != 0)
		return -1;
	if (v == SQ_VERSION)
		return 0;
	if (s->readonly) {
		if (v == 0)
			return store_seterr(&s->base, "%s: not a dmarcstat "
			    "database (or empty: import reports first)", path);
		return store_seterr(&s->base, "%s: database schema version %d "
		    "is older than this dmarcstat (%d); open it for writing "
		    "once (e.g. dmarcstat import) to migrate", path, v,
		    SQ_VERSION);
	}
	/* IMMEDIATE: two processes creating the same file serialise here */
	if ((rc = sq_exec(s, "BEGIN IMMEDIATE", "migrating schema")) != 0)
		return rc;
	if ((rc = sq_user_version(s, &v)) != 0)
		goto fail;
	rc = -1;
	if (sq_newer_check(s, path, v) != 0)
		goto fail;
	if (v == 0) {
		if (sq_count_objects(s, &n) != 0)
			goto fail;
		if (n > 0) {
			store_seterr(&s->base, "%s: not a dmarcstat database "
			    "(it has tables but no schema version)", path);
			goto fail;
		}
	}
	for (i = v; i < SQ_VERSION; i++) {
		if ((rc = sq_exec(s, sq_migrations[i], "migration")) != 0) {
			store_seterr(&s->base, "%s: migration %d failed: %s",
			    path, i + 1, sqlite3_errmsg(s->db));
			goto fail;
		}
		snprintf(sql, sizeof sql, "PRAGMA user_version=%d", i + 1);
		if ((rc = sq_exec(s, sql, "migration")) != 0)
			goto fail;
	}
	if ((rc = sq_exec(s, "COMMIT", "migrating schema")) != 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void
sq_free(struct store_sqlite *s)
{
	size_t i;

	for (i = 0; i < SQ__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_finalize(s->daily_multi);
	sqlite3_finalize(s->org_multi);
	for (i = 0; i < SQ_T__COUNT; i++) {
		size_t j;
		for (j = 0; j < SQ_ROWS_SIZES; j++)
			sqlite3_finalize(s->rows[i].stmt[j]);
		free(s->rows[i].v);
	}
	free(s->rarena);
	sq_ckpt_free(&s->ckpt);
	sqlite3_close_v2(s->db);
	free(s->cur.org.p);
	free(s->cur.email.p);
	free(s->cur.domain.p);
	free(s->cur.key.p);
	free(s->cur.rid.p);
	free(s->jbuf.p);
	free(s->key2.p);
	free(s->zbuf);
	sq_dmap_free(&s->dmap);
	free(s);
}

static void
sq_close(struct store *st)
{
	struct store_sqlite *s = sq(st);

	if (s->cur.id != 0 || !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sq_free(s);
}

/*
 * Opens (creating unless readonly) and migrates.  On failure: NULL, a
 * reason in err, and errno EBUSY when the cause was another process's lock.
 */
/*
 * Process-wide settings, before SQLite initialises: no memory statistics
 * (each sqlite3_malloc then takes no global mutex; we never read them).
 * Refused (SQLITE_MISUSE) when something used SQLite first: harmless.
 */
static void
sq_global_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *
store_sqlite_open(const char *path, int readonly, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct store_sqlite *s;
	struct stat sb;
	int flags, rc;

	pthread_once(&once, sq_global_init);

	if (readonly && strcmp(path, ":memory:") != 0 && stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: no database here (import reports "
		    "first)", path);
		errno = ENOENT;
		return NULL;
	}
	s = xcalloc(1, sizeof *s);
	s->base.ops = &sq_ops;
	s->rows[SQ_T_RECORDS].head = "INSERT INTO records(id,report,source_ip,"
	    "count,disposition,dkim_eval,spf_eval,dmarc,header_from,"
	    "envelope_from,envelope_to,disposition_raw,dkim_raw,spf_raw,"
	    "source_ip_raw,extensions,auth,detail) VALUES";
	s->rows[SQ_T_RECORDS].ncol = 18;
	s->readonly = readonly;
	flags = (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open database: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, SQ_DEFAULT_BUSY_MS);
	rc = 0;
	if (!readonly) {
		/* 8 KiB pages for a new file (no effect on an existing one):
		 * half the WAL frames and checkpoint copies of 4 KiB, and
		 * half the system calls, for a few more bytes moved per
		 * insert; import -10% CPU (bench/README.md) */
		rc = sq_exec(s, "PRAGMA page_size=" SQ_PAGE_SIZE, "setting pragmas");
		if (rc == 0)
			rc = sq_exec(s, "PRAGMA journal_mode=WAL", "setting WAL mode");
	}
	/* statement journals in memory: they hold one statement's pages */
	if (rc == 0 && !readonly)
		rc = sq_exec(s, "PRAGMA temp_store=MEMORY", "setting pragmas");
	/* checkpoint every SQ_CKPT_PAGES pages (32 MiB of WAL with 8 KiB
	 * pages): a page rewritten by several batches is copied into the
	 * database once (bench_store: -8 us per report).  SQLite's own
	 * automatic checkpoint while migrating; afterwards sq_ckpt's thread. */
	if (rc == 0 && !readonly)
		rc = sq_exec(s, "PRAGMA wal_autocheckpoint=" SQ_STR(SQ_CKPT_PAGES),
		    "setting pragmas");
	/* page cache: 16 MiB for readers; 12 MiB for a writer, which shares
	 * the import's memory bound (< 64 MiB for a 200 MB report) with the
	 * ingest queue (bench/README.md) */
	if (rc == 0)
		rc = sq_exec(s, "PRAGMA synchronous=NORMAL;"
		    "PRAGMA foreign_keys=ON;", "setting pragmas");
	if (rc == 0)
		rc = sq_exec(s, readonly ? "PRAGMA cache_size=-16384" :
		    "PRAGMA cache_size=-12288", "setting pragmas");
	/* readers (the dashboard's, the analysis') map the file: a random
	 * lookup costs no read() (address space only; the page cache is the
	 * kernel's).  Not writers: there it costs the import ~4 us/report. */
	if (rc == 0 && readonly)
		rc = sq_exec(s, "PRAGMA mmap_size=" SQ_MMAP_SIZE, "setting pragmas");
	if (rc == 0)
		rc = sq_migrate(s, path);
	if (rc == 0 && !readonly)
		s->ckpt = sq_ckpt_new(s->db, SQ_CKPT_PAGES, SQ_CKPT_MAX);
	if (rc != 0) {
		/* path already named by the migration messages */
		if (strncmp(s->base.err, path, strlen(path)) == 0)
			snprintf(err, errlen, "%s", s->base.err);
		else
			snprintf(err, errlen, "%s: %s", path, s->base.err);
		errno = rc == STORE_BUSY ? EBUSY : EINVAL;
		goto fail;
	}
	return &s->base;
fail:
	sq_free(s);
	return NULL;
}

static int
sq_set_busy_timeout(struct store *st, int ms)
{
	struct store_sqlite *s = sq(st);

	sqlite3_busy_timeout(s->db, ms > 0 ? ms : 0);
	return 0;
}

static struct sqlite3 *
sq_handle(struct store *st)
{
	return sq(st)->db;
}

/* ---- transactions ---------------------------------------------------- */

static int
sq_begin(struct store *st)
{
	struct store_sqlite *s = sq(st);

	s->next_record = 0;     /* another process may have written */
	s->next_report = 0;
	return sq_run(s, SQ_BEGIN, "begin");
}

static int
sq_commit(struct store *st)
{
	struct store_sqlite *s = sq(st);

	if (s->cur.id != 0)
		return store_seterr(st, "commit: report %lld still open",
		    (long long)s->cur.id);
	if (!s->poisoned && sq_dmap_flush(s) != 0)
		s->poisoned = 1;
	if (s->poisoned) {
		char why[sizeof st->err];
		memcpy(why, st->err, sizeof why);
		s->poisoned = 0;
		sq_dmap_clear(s);
		if (!sqlite3_get_autocommit(s->db))
			sq_run(s, SQ_ROLLBACK, "rollback");
		return store_seterr(st, "batch rolled back after a failed "
		    "write: %s", why);
	}
	return sq_run(s, SQ_COMMIT, "commit");
}

static int
sq_rollback(struct store *st)
{
	struct store_sqlite *s = sq(st);

	s->cur.id = 0;
	s->poisoned = 0;
	sq_dmap_clear(s);
	sq_rows_clear(s);
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return sq_run(s, SQ_ROLLBACK, "rollback");
}

/* ---- raw originals --------------------------------------------------- */

static int
sq_already_compressed(const uint8_t *p, size_t n)
{
	static const struct {
		const char *magic;
		size_t len;
	} m[] = {
		{ "\x1f\x8b", 2 },               /* gzip */
		{ "PK\x03\x04", 4 },             /* zip */
		{ "PK\x05\x06", 4 },             /* empty zip */
		{ "\xfd" "7zXZ", 5 },            /* xz */
		{ "BZh", 3 },                    /* bzip2 */
		{ "\x28\xb5\x2f\xfd", 4 },       /* zstd */
	};
	size_t i;

	for (i = 0; i < sizeof m / sizeof m[0]; i++)
		if (n >= m[i].len && memcmp(p, m[i].magic, m[i].len) == 0)
			return 1;
	return 0;
}

static int
sq_raw_find(struct store_sqlite *s, const uint8_t sha256[32], int64_t *id_out)
{
	sqlite3_stmt *stmt = sq_get(s, SQ_RAW_FIND);

	if (stmt == NULL)
		return -1;
	sqlite3_bind_blob(stmt, 1, sha256, 32, SQLITE_STATIC);
	return sq_one_id(s, stmt, id_out, "raw lookup");
}

static int
sq_raw_put(struct store *st, const uint8_t sha256[32], const void *data,
    size_t len, int64_t *raw_id_out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt;
	const void *blob = data;
	size_t bloblen = len;
	const char *enc = "identity";
	int rc;

	*raw_id_out = 0;
	if ((rc = sq_raw_find(s, sha256, raw_id_out)) != 0 || *raw_id_out)
		return rc;
	if (len > 0 && !sq_already_compressed(data, len)) {
		uLongf zlen = compressBound((uLong)len);
		if (zlen > s->zcap) {
			free(s->zbuf);
			s->zbuf = xmalloc(zlen);
			s->zcap = zlen;
		}
		if (compress2(s->zbuf, &zlen, data, (uLong)len, 6) == Z_OK &&
		    zlen < len) {
			blob = s->zbuf;
			bloblen = zlen;
			enc = "deflate";
		}
	}
	if ((stmt = sq_get(s, SQ_RAW_INSERT)) == NULL)
		return -1;
	sqlite3_bind_blob(stmt, 1, sha256, 32, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (int64_t)len);
	sqlite3_bind_text(stmt, 3, enc, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(stmt, 4, blob, bloblen, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, (int64_t)time(NULL));
	rc = sq_done(s, stmt, "storing raw input");
	if (s->zcap > SQ_ZBUF_KEEP) {
		free(s->zbuf);
		s->zbuf = NULL;
		s->zcap = 0;
	}
	if (rc == 0)
		*raw_id_out = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* reads up to n bytes (fewer only at end of file); -1 on error */
static ssize_t
sq_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* inserts a zeroblob row of bloblen bytes and opens it for writing */
static int
sq_raw_insert_open(struct store_sqlite *s, const uint8_t sha256[32],
    uint64_t len, const char *enc, uint64_t bloblen, sqlite3_blob **blob_out,
    int64_t *id_out)
{
	sqlite3_stmt *stmt = sq_get(s, SQ_RAW_INSERT);
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_blob(stmt, 1, sha256, 32, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (int64_t)len);
	sqlite3_bind_text(stmt, 3, enc, -1, SQLITE_STATIC);
	sqlite3_bind_zeroblob64(stmt, 4, bloblen);
	sqlite3_bind_int64(stmt, 5, (int64_t)time(NULL));
	if ((rc = sq_done(s, stmt, "storing raw input")) != 0)
		return rc;
	*id_out = sqlite3_last_insert_rowid(s->db);
	rc = sqlite3_blob_open(s->db, "main", "raw_inputs", "data", *id_out, 1,
	    blob_out);
	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, "storing raw input");
}

/* deflates len bytes (the first `have` already in buf) from fd into tmp */
static int
sq_deflate_fd(struct store_sqlite *s, int fd, uint64_t len, uint8_t *buf,
    size_t have, uint8_t *out, FILE *tmp)
{
	z_stream z;
	uint64_t left = len - have;
	int flush, zrc, rc = -1;

	memset(&z, 0, sizeof z);
	if (deflateInit(&z, 6) != Z_OK)
		return store_seterr(&s->base, "raw input: deflateInit failed");
	for (;;) {
		z.next_in = buf;
		z.avail_in = (uInt)have;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			z.next_out = out;
			z.avail_out = SQ_CHUNK;
			zrc = deflate(&z, flush);
			if (zrc == Z_STREAM_ERROR) {
				store_seterr(&s->base, "raw input: deflate failed");
				goto done;
			}
			if (fwrite(out, 1, SQ_CHUNK - z.avail_out, tmp) !=
			    SQ_CHUNK - z.avail_out) {
				store_seterr(&s->base, "raw input: temp file: %s",
				    strerror(errno));
				goto done;
			}
		} while (z.avail_out == 0);
		if (flush == Z_FINISH)
			break;
		{
			size_t want = left < SQ_CHUNK ? (size_t)left : SQ_CHUNK;
			ssize_t r = sq_read_full(fd, buf, want);
			if (r < 0 || (size_t)r != want) {
				store_seterr(&s->base, "raw input: %s", r < 0 ?
				    strerror(errno) : "shorter than announced");
				goto done;
			}
			have = want;
			left -= want;
		}
	}
	rc = 0;
done:
	deflateEnd(&z);
	return rc;
}

static int
sq_raw_put_fd(struct store *st, const uint8_t sha256[32], int fd,
    uint64_t len, int64_t *raw_id_out)
{
	struct store_sqlite *s = sq(st);
	uint8_t *buf = NULL, *out = NULL;
	sqlite3_blob *blob = NULL;
	FILE *tmp = NULL;
	uint64_t off, left, bloblen;
	size_t have;
	ssize_t r;
	int64_t id = 0;
	int rc, sp = 0;

	*raw_id_out = 0;
	if ((rc = sq_raw_find(s, sha256, raw_id_out)) != 0 || *raw_id_out)
		return rc;
	buf = xmalloc(SQ_CHUNK);
	out = xmalloc(SQ_CHUNK);
	have = len < SQ_CHUNK ? (size_t)len : SQ_CHUNK;
	r = sq_read_full(fd, buf, have);
	rc = -1;
	if (r < 0 || (size_t)r != have) {
		store_seterr(st, "raw input: %s", r < 0 ? strerror(errno) :
		    "shorter than announced");
		goto done;
	}
	/* a failure half way must not leave a zeroed row behind */
	if ((rc = sq_exec(s, "SAVEPOINT store_raw", "raw input")) != 0)
		goto done;
	sp = 1;
	rc = -1;
	if (sq_already_compressed(buf, have)) {
		if ((rc = sq_raw_insert_open(s, sha256, len, "identity", len,
		    &blob, &id)) != 0)
			goto done;
		for (off = 0, left = len;;) {
			rc = sqlite3_blob_write(blob, buf, (int)have, (int)off);
			if (rc != SQLITE_OK) {
				rc = sq_fail(s, rc, "storing raw input");
				goto done;
			}
			off += have;
			left -= have;
			if (left == 0)
				break;
			have = left < SQ_CHUNK ? (size_t)left : SQ_CHUNK;
			r = sq_read_full(fd, buf, have);
			if (r < 0 || (size_t)r != have) {
				rc = store_seterr(st, "raw input: %s", r < 0 ?
				    strerror(errno) : "shorter than announced");
				goto done;
			}
		}
	} else {
		if ((tmp = tmpfile()) == NULL) {
			store_seterr(st, "raw input: temp file: %s",
			    strerror(errno));
			goto done;
		}
		if (sq_deflate_fd(s, fd, len, buf, have, out, tmp) != 0)
			goto done;
		if (fflush(tmp) != 0 || (bloblen = (uint64_t)ftello(tmp),
		    fseeko(tmp, 0, SEEK_SET)) != 0) {
			store_seterr(st, "raw input: temp file: %s",
			    strerror(errno));
			goto done;
		}
		if ((rc = sq_raw_insert_open(s, sha256, len, "deflate", bloblen,
		    &blob, &id)) != 0)
			goto done;
		for (off = 0; off < bloblen; off += have) {
			have = fread(buf, 1, SQ_CHUNK, tmp);
			if (have == 0) {
				rc = store_seterr(st, "raw input: temp file "
				    "short read");
				goto done;
			}
			rc = sqlite3_blob_write(blob, buf, (int)have, (int)off);
			if (rc != SQLITE_OK) {
				rc = sq_fail(s, rc, "storing raw input");
				goto done;
			}
		}
	}
	rc = 0;
done:
	if (blob != NULL)
		sqlite3_blob_close(blob);
	if (sp) {
		if (rc != 0)
			sqlite3_exec(s->db, "ROLLBACK TO store_raw", NULL, NULL,
			    NULL);
		if (sqlite3_exec(s->db, "RELEASE store_raw", NULL, NULL,
		    NULL) != SQLITE_OK && rc == 0)
			rc = sq_fail(s, sqlite3_errcode(s->db), "raw input");
	}
	if (tmp != NULL)
		fclose(tmp);
	free(buf);
	free(out);
	if (rc == 0)
		*raw_id_out = id;
	return rc;
}

static int
sq_raw_get(struct store *st, int64_t raw_id, void **data_out, size_t *len_out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_get(s, SQ_RAW_GET);
	const char *enc;
	const void *blob;
	uint64_t size;
	int bloblen, rc;
	uint8_t *p = NULL;

	*data_out = NULL;
	*len_out = 0;
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, raw_id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			return store_seterr(st, "raw input %lld: not stored",
			    (long long)raw_id);
		return sq_fail(s, rc, "reading raw input");
	}
	size = (uint64_t)sqlite3_column_int64(stmt, 0);
	enc = (const char *)sqlite3_column_text(stmt, 1);
	blob = sqlite3_column_blob(stmt, 2);
	bloblen = sqlite3_column_bytes(stmt, 2);
	rc = -1;
	if (size > SIZE_MAX - 1) {
		store_seterr(st, "raw input %lld: too large for memory",
		    (long long)raw_id);
		goto done;
	}
	p = xmalloc((size_t)size + 1);
	if (enc != NULL && strcmp(enc, "deflate") == 0) {
		uLongf dlen = (uLongf)size;
		if (uncompress(p, &dlen, blob, (uLong)bloblen) != Z_OK ||
		    dlen != size) {
			store_seterr(st, "raw input %lld: corrupt deflate data",
			    (long long)raw_id);
			goto done;
		}
	} else if (enc != NULL && strcmp(enc, "identity") == 0 &&
	    (uint64_t)bloblen == size) {
		if (size > 0)
			memcpy(p, blob, (size_t)size);
	} else {
		store_seterr(st, "raw input %lld: unknown encoding or size "
		    "mismatch", (long long)raw_id);
		goto done;
	}
	*data_out = p;
	*len_out = (size_t)size;
	p = NULL;
	rc = 0;
done:
	sqlite3_reset(stmt);
	free(p);
	return rc;
}

/* streaming reader over one raw_inputs blob */
struct sq_rawrd {
	struct rd rd;
	sqlite3_blob *blob;
	int deflate, zdone;
	z_stream z;
	uint64_t off, bloblen;
	uint8_t in[SQ_CHUNK];
};

static ssize_t
sq_rawrd_read(struct rd *rd, void *buf, size_t n)
{
	struct sq_rawrd *r = (struct sq_rawrd *)rd;
	size_t want;
	int rc;

	if (n > SQ_CHUNK)
		n = SQ_CHUNK;
	if (!r->deflate) {
		want = r->bloblen - r->off < n ? (size_t)(r->bloblen - r->off) : n;
		if (want == 0)
			return 0;
		rc = sqlite3_blob_read(r->blob, buf, (int)want, (int)r->off);
		if (rc != SQLITE_OK) {
			snprintf(rd->err, sizeof rd->err, "raw input: %s",
			    sqlite3_errstr(rc));
			return -1;
		}
		r->off += want;
		return (ssize_t)want;
	}
	for (;;) {
		if (r->zdone)
			return 0;
		if (r->z.avail_in == 0 && r->off < r->bloblen) {
			want = r->bloblen - r->off < SQ_CHUNK ?
			    (size_t)(r->bloblen - r->off) : SQ_CHUNK;
			rc = sqlite3_blob_read(r->blob, r->in, (int)want,
			    (int)r->off);
			if (rc != SQLITE_OK) {
				snprintf(rd->err, sizeof rd->err,
				    "raw input: %s", sqlite3_errstr(rc));
				return -1;
			}
			r->off += want;
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)want;
		}
		r->z.next_out = buf;
		r->z.avail_out = (uInt)n;
		rc = inflate(&r->z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			r->zdone = 1;
		else if (rc != Z_OK && !(rc == Z_BUF_ERROR && r->z.avail_in == 0 &&
		    r->off < r->bloblen)) {
			snprintf(rd->err, sizeof rd->err,
			    "raw input: corrupt deflate data");
			return -1;
		}
		if (r->z.avail_out < n)
			return (ssize_t)(n - r->z.avail_out);
		if (r->zdone)
			return 0;
		if (r->z.avail_in == 0 && r->off >= r->bloblen) {
			snprintf(rd->err, sizeof rd->err,
			    "raw input: truncated deflate data");
			return -1;
		}
	}
}

static void
sq_rawrd_close(struct rd *rd)
{
	struct sq_rawrd *r = (struct sq_rawrd *)rd;

	if (r->deflate)
		inflateEnd(&r->z);
	sqlite3_blob_close(r->blob);
	free(r);
}

static struct rd *
sq_raw_open(struct store *st, int64_t raw_id)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_get(s, SQ_RAW_ENCODING);
	struct sq_rawrd *r;
	int rc, deflate;

	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, raw_id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			store_seterr(st, "raw input %lld: not stored",
			    (long long)raw_id);
		else
			sq_fail(s, rc, "reading raw input");
		return NULL;
	}
	deflate = strcmp((const char *)sqlite3_column_text(stmt, 1),
	    "deflate") == 0;
	sqlite3_reset(stmt);
	r = xcalloc(1, sizeof *r);
	r->rd.read = sq_rawrd_read;
	r->rd.close = sq_rawrd_close;
	r->deflate = deflate;
	rc = sqlite3_blob_open(s->db, "main", "raw_inputs", "data", raw_id, 0,
	    &r->blob);
	if (rc != SQLITE_OK) {
		sq_fail(s, rc, "reading raw input");
		free(r);
		return NULL;
	}
	r->bloblen = (uint64_t)sqlite3_blob_bytes(r->blob);
	if (deflate && inflateInit(&r->z) != Z_OK) {
		store_seterr(st, "raw input: inflateInit failed");
		sqlite3_blob_close(r->blob);
		free(r);
		return NULL;
	}
	return &r->rd;
}

/* ---- ledger ---------------------------------------------------------- */

static int
sq_ledger_add(struct store *st, const struct ledger_entry *e, int64_t *id_out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_get(s, SQ_LEDGER_INSERT);
	int rc;

	if (id_out)
		*id_out = 0;
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (int64_t)time(NULL));
	sq_text(stmt, 2, sq_or(e->source, "file"));
	sq_text(stmt, 3, sq_or(e->input, ""));
	sq_text(stmt, 4, e->member);
	sqlite3_bind_int64(stmt, 5, (int64_t)e->size);
	if (e->sha256 != NULL)
		sqlite3_bind_blob(stmt, 6, e->sha256, 32, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 6);
	sq_text(stmt, 7, sq_or(e->status, "error"));
	sq_text(stmt, 8, e->reason);
	sq_text(stmt, 9, e->kind);
	sq_id(stmt, 10, e->report);
	sq_id(stmt, 11, e->raw_id);
	rc = sq_done(s, stmt, "writing ledger");
	if (rc == 0 && id_out)
		*id_out = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* ---- reports --------------------------------------------------------- */

/* DMARC verdict of a record: pass when either policy-evaluated result passed */
static const char *
sq_dmarc(const char *dkim, const char *spf)
{
	if (strcmp(dkim, "pass") == 0 || strcmp(spf, "pass") == 0)
		return "pass";
	if (strcmp(dkim, REPORT_UNKNOWN) == 0 && strcmp(spf, REPORT_UNKNOWN) == 0)
		return REPORT_UNKNOWN;
	return "fail";
}

/* one daily row key; the strings are bound SQLITE_STATIC */
struct sq_daily_key {
	const char *domain, *org, *source_ip, *header_from;
	const char *disposition, *dkim, *spf;
};

/* binds one daily row to parameters at+1 .. at+9 */
static void
sq_bind_daily_at(sqlite3_stmt *stmt, int at, const struct sq_daily_key *k,
    int64_t day, int64_t messages)
{
	sqlite3_bind_int64(stmt, at + 1, day);
	sq_text(stmt, at + 2, k->domain);
	sq_text(stmt, at + 3, k->header_from);
	sq_text(stmt, at + 4, k->source_ip);
	sq_text(stmt, at + 5, k->org);
	sq_text(stmt, at + 6, k->disposition);
	sq_text(stmt, at + 7, k->dkim);
	sq_text(stmt, at + 8, k->spf);
	sqlite3_bind_int64(stmt, at + 9, messages);
}

static void
sq_bind_daily(sqlite3_stmt *stmt, const struct sq_daily_key *k, int64_t day,
    int64_t messages)
{
	sq_bind_daily_at(stmt, 0, k, day, messages);
}

/* SQ_DAILY_ADD for SQ_DAILY_ROWS rows at once, prepared on first use */
static sqlite3_stmt *
sq_daily_multi(struct store_sqlite *s)
{
	return sq_prepare_rows(s, &s->daily_multi, "INSERT INTO daily(day,"
	    "policy_domain,header_from,source_ip,org_name,disposition,"
	    "dkim_eval,spf_eval,messages) VALUES", 9, SQ_DAILY_ROWS,
	    " ON CONFLICT DO UPDATE SET messages=messages+excluded.messages");
}

/* writes one delta to `daily`: upsert when > 0, decrement + prune when < 0 */
static int
sq_daily_put(struct store_sqlite *s, const struct sq_daily_key *k, int64_t day,
    int64_t delta)
{
	sqlite3_stmt *stmt, *prune;
	int rc;

	if (delta == 0)
		return 0;
	if ((stmt = sq_get(s, delta > 0 ? SQ_DAILY_ADD : SQ_DAILY_SUB)) == NULL)
		return -1;
	sq_bind_daily(stmt, k, day, delta > 0 ? delta : -delta);
	if (delta > 0)
		return sq_done(s, stmt, "updating daily");
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_int64(stmt, 0) <= 0) {
		sqlite3_reset(stmt);
		if ((prune = sq_get(s, SQ_DAILY_PRUNE)) == NULL)
			return -1;
		sq_bind_daily(prune, k, day, 0);
		return sq_done(s, prune, "updating daily");
	}
	/* finish the RETURNING statement before the next bind */
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "updating daily");
}

/*
 * The pending deltas (struct sq_dmap).  A key is the byte string
 *   domain NUL day(8 bytes, big-endian, sign bit flipped) source_ip NUL
 *   org NUL header_from NUL disposition NUL dkim NUL spf NUL
 * whose memcmp order is the order of daily's primary key (BINARY text
 * collation is memcmp; NUL sorts a shorter field first), so sorting the
 * keys sorts the upserts.
 */
static uint64_t
sq_dmap_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
sq_dmap_clear(struct store_sqlite *s)
{
	struct sq_dmap *m = &s->dmap;

	if (m->n > 0)
		memset(m->slot, 0, m->nslot * sizeof *m->slot);
	m->n = 0;
	m->alen = 0;
	/* a map grown by one huge batch does not stay big */
	if (m->acap > SQ_DMAP_KEEP) {
		free(m->arena);
		m->arena = NULL;
		m->acap = 0;
	}
}

static void
sq_dmap_free(struct sq_dmap *m)
{
	free(m->ent);
	free(m->slot);
	free(m->arena);
	memset(m, 0, sizeof *m);
}

static void
sq_dmap_rehash(struct sq_dmap *m, size_t nslot)
{
	size_t i, j;

	free(m->slot);
	m->slot = xcalloc(nslot, sizeof *m->slot);
	m->nslot = nslot;
	for (i = 0; i < m->n; i++) {
		j = (size_t)m->ent[i].hash & (nslot - 1);
		while (m->slot[j] != 0)
			j = (j + 1) & (nslot - 1);
		m->slot[j] = (uint32_t)i + 1;
	}
}

static size_t
sq_dmap_put_str(char *dst, const char *v)
{
	size_t n = strlen(v) + 1;

	memcpy(dst, v, n);
	return n;
}

/* adds delta to the pending delta of (k, day) */
static void
sq_dmap_add(struct store_sqlite *s, const struct sq_daily_key *k, int64_t day,
    int64_t delta)
{
	struct sq_dmap *m = &s->dmap;
	const char *f[7] = { k->source_ip, k->org, k->header_from,
	    k->disposition, k->dkim, k->spf, NULL };
	size_t need = strlen(k->domain) + 1 + 8, len, i, j;
	uint64_t uday = (uint64_t)day ^ 0x8000000000000000ULL, h;
	char *p;

	for (i = 0; f[i] != NULL; i++)
		need += strlen(f[i]) + 1;
	if (m->alen + need > m->acap) {
		m->acap = m->alen + need < 65536 ? 65536 : (m->alen + need) * 2;
		m->arena = xrealloc(m->arena, m->acap);
	}
	p = m->arena + m->alen;
	len = sq_dmap_put_str(p, k->domain);
	for (i = 0; i < 8; i++)
		p[len++] = (char)(uday >> (56 - 8 * i));
	for (i = 0; f[i] != NULL; i++)
		len += sq_dmap_put_str(p + len, f[i]);
	h = sq_dmap_hash(p, len);
	if (m->nslot == 0)
		sq_dmap_rehash(m, 1024);
	for (j = (size_t)h & (m->nslot - 1); m->slot[j] != 0;
	    j = (j + 1) & (m->nslot - 1)) {
		struct sq_dent *e = &m->ent[m->slot[j] - 1];
		if (e->hash == h && e->len == len &&
		    memcmp(m->arena + e->off, p, len) == 0) {
			e->delta += delta;
			return;
		}
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->ent = xrealloc(m->ent, m->cap * sizeof *m->ent);
	}
	m->ent[m->n].hash = h;
	m->ent[m->n].off = (uint32_t)m->alen;
	m->ent[m->n].len = (uint32_t)len;
	m->ent[m->n].delta = delta;
	m->slot[j] = (uint32_t)m->n + 1;
	m->n++;
	m->alen += len;
	if (m->n * 2 > m->nslot)
		sq_dmap_rehash(m, m->nslot * 2);
}

static int
sq_dmap_cmp(const void *a, const void *b, void *arena)
{
	const struct sq_dent *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp((const char *)arena + x->off, (const char *)arena + y->off,
	    n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* one daily_org delta: the sums of the map's entries of (org, day) */
struct sq_org_delta {
	const char *org;            /* in the map's arena */
	int64_t day, messages, pass, spf, dkim;
};

static int
sq_org_cmp(const void *a, const void *b)
{
	const struct sq_org_delta *x = a, *y = b;
	int c = strcmp(x->org, y->org);

	if (c != 0)
		return c;
	return x->day < y->day ? -1 : x->day > y->day;
}

/* binds one daily_org row (NULL: a row that matches nothing) at at+1.. */
static void
sq_org_bind(sqlite3_stmt *stmt, int at, const struct sq_org_delta *d)
{
	static const struct sq_org_delta none = { NULL, 0, 0, 0, 0, 0 };

	if (d == NULL)
		d = &none;
	sq_text(stmt, at + 1, d->org);
	sqlite3_bind_int64(stmt, at + 2, d->day);
	sqlite3_bind_int64(stmt, at + 3, d->messages);
	sqlite3_bind_int64(stmt, at + 4, d->pass);
	sqlite3_bind_int64(stmt, at + 5, d->spf);
	sqlite3_bind_int64(stmt, at + 6, d->dkim);
}

/*
 * SQ_ORG_ROWS additions in one statement, prepared on first use.  Unused
 * rows are bound NULL: the SELECT drops them (org_name IS NOT NULL).
 */
static sqlite3_stmt *
sq_org_multi(struct store_sqlite *s)
{
	return sq_prepare_rows(s, &s->org_multi, "INSERT INTO daily_org("
	    "org_name,day,messages,pass,spf,dkim) SELECT * FROM (VALUES", 6,
	    SQ_ORG_ROWS, ") WHERE column1 IS NOT NULL ON CONFLICT DO UPDATE "
	    "SET messages=messages+excluded.messages,pass=pass+excluded.pass,"
	    "spf=spf+excluded.spf,dkim=dkim+excluded.dkim");
}

/*
 * Writes the map's deltas, summed per (org, day), to daily_org (before
 * sq_dmap_flush writes and zeroes them).  A handful of rows per batch.
 */
static int
sq_org_flush(struct store_sqlite *s)
{
	struct sq_dmap *m = &s->dmap;
	struct sq_org_delta *d;
	struct sq_daily_key k;
	sqlite3_stmt *stmt, *prune;
	size_t i, j, n = 0;
	int64_t day;
	int rc = 0;

	d = xcalloc(m->n, sizeof *d);
	for (i = 0; i < m->n; i++) {
		int64_t v = m->ent[i].delta;

		if (v == 0)
			continue;
		sq_dmap_key(m, &m->ent[i], &k, &day);
		d[n].org = k.org;
		d[n].day = day;
		d[n].messages = v;
		d[n].pass = strcmp(k.dkim, "pass") == 0 ||
		    strcmp(k.spf, "pass") == 0 ? v : 0;
		d[n].spf = strcmp(k.spf, "pass") == 0 ? v : 0;
		d[n].dkim = strcmp(k.dkim, "pass") == 0 ? v : 0;
		n++;
	}
	if (n > 1)
		qsort(d, n, sizeof *d, sq_org_cmp);
	if ((prune = sq_get(s, SQ_ORG_PRUNE)) == NULL) {
		free(d);
		return -1;
	}
	/* sum runs of equal (org, day) into their first element */
	for (i = 0, j = 0; i < n; j++) {
		d[j] = d[i];
		for (i++; i < n && d[i].day == d[j].day &&
		    strcmp(d[i].org, d[j].org) == 0; i++) {
			d[j].messages += d[i].messages;
			d[j].pass += d[i].pass;
			d[j].spf += d[i].spf;
			d[j].dkim += d[i].dkim;
		}
	}
	n = j;
	/* additions (an import: all of them) SQ_ORG_ROWS to a statement */
	for (i = 0; i < n && rc == 0; ) {
		size_t nr = 0;

		if ((stmt = sq_org_multi(s)) == NULL) {
			rc = -1;
			break;
		}
		for (; i < n && nr < SQ_ORG_ROWS; i++) {
			if (d[i].messages < 0 || d[i].pass < 0 || d[i].spf < 0 ||
			    d[i].dkim < 0 || d[i].messages == 0)
				continue;
			sq_org_bind(stmt, 6 * (int)nr, &d[i]);
			nr++;
		}
		for (; nr > 0 && nr < SQ_ORG_ROWS; nr++)
			sq_org_bind(stmt, 6 * (int)nr, NULL);   /* padding */
		if (nr > 0)
			rc = sq_done(s, stmt, "updating daily_org");
	}
	/* removals (delete, abort, rekey): add, then drop rows left at 0 */
	for (i = 0; i < n && rc == 0; i++) {
		if (!(d[i].messages < 0 || d[i].pass < 0 || d[i].spf < 0 ||
		    d[i].dkim < 0 || d[i].messages == 0))
			continue;
		if (d[i].messages == 0 && d[i].pass == 0 && d[i].spf == 0 &&
		    d[i].dkim == 0)
			continue;
		if ((stmt = sq_get(s, SQ_ORG_ADD)) == NULL) {
			rc = -1;
			break;
		}
		sq_org_bind(stmt, 0, &d[i]);
		rc = sq_done(s, stmt, "updating daily_org");
		if (rc == 0) {
			sq_text(prune, 1, d[i].org);
			sqlite3_bind_int64(prune, 2, d[i].day);
			rc = sq_done(s, prune, "updating daily_org");
		}
	}
	free(d);
	return rc;
}

/*
 * Writes the pending deltas to `daily` in primary-key order, one statement
 * each, and empties the map.  On failure the map is emptied too: the caller
 * rolls the transaction back (or poisons the batch).
 */
static int
sq_dmap_flush(struct store_sqlite *s)
{
	struct sq_dmap *m = &s->dmap;
	struct sq_daily_key k;
	sqlite3_stmt *stmt;
	int64_t day;
	size_t i, n;
	int rc = 0;

	if (m->n == 0)
		return 0;
	if ((rc = sq_org_flush(s)) != 0) {
		sq_dmap_clear(s);
		return rc;
	}
	qsort_r(m->ent, m->n, sizeof *m->ent, sq_dmap_cmp, m->arena);
	for (i = 0; i < m->n && rc == 0; i++) {
		if (m->ent[i].delta <= 0)
			continue;
		/* runs of SQ_DAILY_ROWS additions: one statement each */
		for (n = 0; i + n < m->n && n < SQ_DAILY_ROWS; n++)
			if (m->ent[i + n].delta <= 0)
				break;
		if (n < SQ_DAILY_ROWS)
			continue;
		if ((stmt = sq_daily_multi(s)) == NULL) {
			rc = -1;
			break;
		}
		for (n = 0; n < SQ_DAILY_ROWS; n++) {
			sq_dmap_key(m, &m->ent[i + n], &k, &day);
			sq_bind_daily_at(stmt, 9 * (int)n, &k, day,
			    m->ent[i + n].delta);
			m->ent[i + n].delta = 0;
		}
		rc = sq_done(s, stmt, "updating daily");
		i += SQ_DAILY_ROWS - 1;
	}
	for (i = 0; i < m->n && rc == 0; i++) {
		if (m->ent[i].delta == 0)
			continue;   /* written above, or taken back */
		sq_dmap_key(m, &m->ent[i], &k, &day);
		rc = sq_daily_put(s, &k, day, m->ent[i].delta);
	}
	sq_dmap_clear(s);
	return rc;
}

/* the row key of a map entry; the strings point into the arena */
static void
sq_dmap_key(const struct sq_dmap *m, const struct sq_dent *e,
    struct sq_daily_key *k, int64_t *day_out)
{
	const char *p = m->arena + e->off;
	uint64_t uday = 0;
	size_t j;

	k->domain = p;
	p += strlen(p) + 1;
	for (j = 0; j < 8; j++)
		uday = uday << 8 | (uint8_t)p[j];
	p += 8;
	k->source_ip = p;
	p += strlen(p) + 1;
	k->org = p;
	p += strlen(p) + 1;
	k->header_from = p;
	p += strlen(p) + 1;
	k->disposition = p;
	p += strlen(p) + 1;
	k->dkim = p;
	p += strlen(p) + 1;
	k->spf = p;
	*day_out = (int64_t)(uday ^ 0x8000000000000000ULL);
}

/*
 * Adds (sign > 0) or removes (sign < 0) one record's spread to `daily`,
 * through the map of pending deltas: written at the end of the transaction
 * (or earlier when the map grows past SQ_DMAP_MAX keys).  A removal prunes
 * rows that reach 0, so a delete + re-import leaves the table exactly as
 * before.
 */
static int
sq_daily_apply(struct store_sqlite *s, const struct sq_daily_key *k,
    int64_t begin, int64_t end, uint64_t count, int sign, int *capped_out)
{
	int64_t days[STORE_SPREAD_MAX_DAYS];
	uint64_t parts[STORE_SPREAD_MAX_DAYS];
	size_t n, i;

	n = store_spread(begin, end, count, days, parts, capped_out);
	for (i = 0; i < n; i++)
		sq_dmap_add(s, k, days[i], sign > 0 ? (int64_t)parts[i] :
		    -(int64_t)parts[i]);
	if (s->dmap.n >= SQ_DMAP_MAX)
		return sq_dmap_flush(s);
	return 0;
}

/* applies the stored records of `report` to daily under the given header */
static int
sq_daily_apply_report(struct store_sqlite *s, int64_t report, const char *org,
    const char *domain, int64_t begin, int64_t end, int sign, int *capped_out)
{
	sqlite3_stmt *stmt = sq_get(s, SQ_RECORDS_OF);
	struct sq_daily_key k;
	int rc, capped;

	*capped_out = 0;
	if (stmt == NULL)
		return -1;
	k.domain = domain;
	k.org = org;
	sqlite3_bind_int64(stmt, 1, report);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		k.source_ip = (const char *)sqlite3_column_text(stmt, 0);
		k.disposition = (const char *)sqlite3_column_text(stmt, 2);
		k.dkim = (const char *)sqlite3_column_text(stmt, 3);
		k.spf = (const char *)sqlite3_column_text(stmt, 4);
		k.header_from = (const char *)sqlite3_column_text(stmt, 5);
		rc = sq_daily_apply(s, &k, begin, end,
		    (uint64_t)sqlite3_column_int64(stmt, 1), sign, &capped);
		if (rc != 0) {
			sqlite3_reset(stmt);
			return rc;
		}
		*capped_out |= capped;
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "reading records");
}

/* ---- buffered rows (struct sq_rows) --------------------------------- */

static void
sq_rows_clear(struct store_sqlite *s)
{
	size_t i;

	for (i = 0; i < SQ_T__COUNT; i++)
		s->rows[i].n = 0;
	s->ralen = 0;
	if (s->racap > SQ_ROWS_ARENA_KEEP) {
		free(s->rarena);
		s->rarena = NULL;
		s->racap = 0;
	}
}

/* room for one more row of table t; returns its values */
static struct sq_val *
sq_rows_add(struct store_sqlite *s, int t)
{
	struct sq_rows *r = &s->rows[t];

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = xrealloc(r->v, r->cap * (size_t)r->ncol * sizeof *r->v);
	}
	return &r->v[r->n++ * (size_t)r->ncol];
}

static void
sq_val_int(struct sq_val *v, int64_t i)
{
	v->type = SQ_V_INT;
	v->i = i;
}

/* copies t (NULL stays NULL) into the arena */
static void
sq_val_text(struct store_sqlite *s, struct sq_val *v, const char *t)
{
	size_t n;

	if (t == NULL) {
		v->type = SQ_V_NULL;
		return;
	}
	n = strlen(t);
	if (s->ralen + n + 1 > s->racap) {
		s->racap = s->ralen + n + 1 < 65536 ? 65536 :
		    (s->ralen + n + 1) * 2;
		s->rarena = xrealloc(s->rarena, s->racap);
	}
	memcpy(s->rarena + s->ralen, t, n + 1);
	v->type = SQ_V_TEXT;
	v->i = (int64_t)s->ralen;
	v->len = (uint32_t)n;
	s->ralen += n + 1;
}

/* copies t and then sep to p; returns the byte after them */
static char *
sq_auth_put(char *p, const char *t, char sep)
{
	size_t n = strlen(t);

	memcpy(p, t, n);
	p += n;
	*p++ = sep;
	return p;
}

/*
 * records.auth of rec (migration 4): "dom\tresult" per DKIM result joined
 * by "\n", 0x1e, the same for SPF, 0x1e, the reason types joined by "\n";
 * byte for byte what SQ_AUTH_SQL computes from the child rows.
 */
static void
sq_val_auth(struct store_sqlite *s, struct sq_val *v,
    const struct report_record *rec)
{
	size_t need = 3, i;
	char *p, *start;

	for (i = 0; i < rec->n_dkim; i++)
		need += strlen(sq_or(rec->dkim_results[i].domain, "")) +
		    strlen(sq_or(rec->dkim_results[i].result, REPORT_UNKNOWN)) + 2;
	for (i = 0; i < rec->n_spf; i++)
		need += strlen(sq_or(rec->spf_results[i].domain, "")) +
		    strlen(sq_or(rec->spf_results[i].result, REPORT_UNKNOWN)) + 2;
	for (i = 0; i < rec->n_reasons; i++)
		need += strlen(sq_or(rec->reasons[i].type, "other")) + 1;
	if (s->ralen + need + 1 > s->racap) {
		s->racap = s->ralen + need + 1 < 65536 ? 65536 :
		    (s->ralen + need + 1) * 2;
		s->rarena = xrealloc(s->rarena, s->racap);
	}
	start = p = s->rarena + s->ralen;
	for (i = 0; i < rec->n_dkim; i++) {
		p = sq_auth_put(p, sq_or(rec->dkim_results[i].domain, ""), '\t');
		p = sq_auth_put(p, sq_or(rec->dkim_results[i].result,
		    REPORT_UNKNOWN), '\n');
	}
	if (rec->n_dkim > 0)
		p--;            /* no separator after the last one */
	*p++ = '\x1e';
	for (i = 0; i < rec->n_spf; i++) {
		p = sq_auth_put(p, sq_or(rec->spf_results[i].domain, ""), '\t');
		p = sq_auth_put(p, sq_or(rec->spf_results[i].result,
		    REPORT_UNKNOWN), '\n');
	}
	if (rec->n_spf > 0)
		p--;
	*p++ = '\x1e';
	for (i = 0; i < rec->n_reasons; i++)
		p = sq_auth_put(p, sq_or(rec->reasons[i].type, "other"), '\n');
	if (rec->n_reasons > 0)
		p--;
	*p = '\0';
	v->type = SQ_V_TEXT;
	v->i = (int64_t)s->ralen;
	v->len = (uint32_t)(p - start);
	s->ralen += (size_t)(p - start) + 1;
}

/*
 * Appends v (NULL: null) to b as a JSON string.  The parser hands over
 * valid UTF-8; a byte that is not (a record from elsewhere) becomes
 * U+FFFD, so SQLite's JSON functions never meet malformed text.
 */
static void
sq_json_str(struct sq_buf *b, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)v;
	size_t left;

	if (v == NULL) {
		sq_buf_put(b, "null", 4);
		return;
	}
	left = strlen(v);
	sq_buf_put(b, "\"", 1);
	for (; *p; p++, left--) {
		const unsigned char *run = p;

		while (*p >= 0x20 && *p != '"' && *p != '\\') {
			size_t k = *p < 0x80 ? 1 : utf8_len(p, left);

			if (k == 0)
				break;
			p += k;
			left -= k;
		}
		sq_buf_put(b, (const char *)run, (size_t)(p - run));
		if (*p == '\0')
			break;
		if (*p >= 0x80) {
			sq_buf_put(b, "\xef\xbf\xbd", 3);     /* U+FFFD */
		} else if (*p == '"' || *p == '\\') {
			char e[2] = { '\\', (char)*p };
			sq_buf_put(b, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
			sq_buf_put(b, e, 6);
		}
	}
	sq_buf_put(b, "\"", 1);
}

/* ["a","b",...] of n strings */
static void
sq_json_row(struct sq_buf *b, const char *const *v, size_t n)
{
	size_t i;

	sq_buf_put(b, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sq_buf_put(b, ",", 1);
		sq_json_str(b, v[i]);
	}
	sq_buf_put(b, "]", 1);
}

/*
 * records.detail (migration 9): the record's DKIM and SPF results and
 * override reasons as one JSON object of positional arrays, in their order
 * in the report, keys left out when empty, NULL when all are:
 *   {"dkim":[[domain,selector,result,result_raw,human_result],...],
 *    "spf":[[domain,scope,result,result_raw,human_result],...],
 *    "reasons":[[type,type_raw,comment],...]}
 * The views record_dkim, record_spf and record_reasons read it back as
 * rows.  Returns a string owned by the handle, valid until the next call.
 */
static const char *
sq_detail(struct store_sqlite *s, const struct report_record *rec)
{
	struct sq_buf *b = &s->jbuf;
	const char *v[5];
	size_t i;

	if (rec->n_dkim == 0 && rec->n_spf == 0 && rec->n_reasons == 0)
		return NULL;
	b->len = 0;
	sq_buf_put(b, "{", 1);
	if (rec->n_dkim > 0) {
		sq_buf_put(b, "\"dkim\":[", 8);
		for (i = 0; i < rec->n_dkim; i++) {
			const struct report_dkim *d = &rec->dkim_results[i];
			v[0] = d->domain;
			v[1] = d->selector;
			v[2] = sq_or(d->result, REPORT_UNKNOWN);
			v[3] = d->result_raw;
			v[4] = d->human_result;
			if (i > 0)
				sq_buf_put(b, ",", 1);
			sq_json_row(b, v, 5);
		}
		sq_buf_put(b, "]", 1);
	}
	if (rec->n_spf > 0) {
		if (b->len > 1)
			sq_buf_put(b, ",", 1);
		sq_buf_put(b, "\"spf\":[", 7);
		for (i = 0; i < rec->n_spf; i++) {
			const struct report_spf *p = &rec->spf_results[i];
			v[0] = p->domain;
			v[1] = p->scope;
			v[2] = sq_or(p->result, REPORT_UNKNOWN);
			v[3] = p->result_raw;
			v[4] = p->human_result;
			if (i > 0)
				sq_buf_put(b, ",", 1);
			sq_json_row(b, v, 5);
		}
		sq_buf_put(b, "]", 1);
	}
	if (rec->n_reasons > 0) {
		if (b->len > 1)
			sq_buf_put(b, ",", 1);
		sq_buf_put(b, "\"reasons\":[", 11);
		for (i = 0; i < rec->n_reasons; i++) {
			const struct report_reason *r = &rec->reasons[i];
			v[0] = sq_or(r->type, "other");
			v[1] = r->type_raw;
			v[2] = r->comment;
			if (i > 0)
				sq_buf_put(b, ",", 1);
			sq_json_row(b, v, 3);
		}
		sq_buf_put(b, "]", 1);
	}
	sq_buf_put(b, "}", 2);  /* with its NUL */
	return b->p;
}

/* the INSERT of table t for 2^k rows, prepared on first use */
static sqlite3_stmt *
sq_rows_stmt(struct store_sqlite *s, int t, int k)
{
	struct sq_rows *r = &s->rows[t];

	return sq_prepare_rows(s, &r->stmt[k], r->head, (size_t)r->ncol,
	    (size_t)1 << k, "");
}

/* inserts the buffered rows of table t, 32, 16, ... 1 per statement */
static int
sq_rows_write(struct store_sqlite *s, int t)
{
	struct sq_rows *r = &s->rows[t];
	const struct sq_val *v = r->v;
	size_t left = r->n, nrow, i;
	sqlite3_stmt *stmt;
	int k, rc;

	while (left > 0) {
		for (k = SQ_ROWS_SIZES - 1; ((size_t)1 << k) > left; k--)
			;
		nrow = (size_t)1 << k;
		if ((stmt = sq_rows_stmt(s, t, k)) == NULL)
			return -1;
		for (i = 0; i < nrow * (size_t)r->ncol; i++, v++) {
			if (v->type == SQ_V_INT)
				sqlite3_bind_int64(stmt, (int)i + 1, v->i);
			else if (v->type == SQ_V_TEXT)
				sqlite3_bind_text(stmt, (int)i + 1,
				    s->rarena + v->i, (int)v->len,
				    SQLITE_STATIC);
			else
				sqlite3_bind_null(stmt, (int)i + 1);
		}
		if ((rc = sq_done(s, stmt, "storing records")) != 0)
			return rc;
		left -= nrow;
	}
	return 0;
}

/*
 * Writes the buffered rows and empties the buffers.  A failure leaves part of them written: the
 * caller poisons the batch.
 */
static int
sq_rows_flush(struct store_sqlite *s)
{
	int t, rc = 0;

	for (t = 0; t < SQ_T__COUNT && rc == 0; t++)
		rc = sq_rows_write(s, t);
	sq_rows_clear(s);
	return rc;
}

/*
 * The open report's `reports` row is written at store_report_end, in one
 * INSERT with its final values (an INSERT and an UPDATE of the row and of
 * its index entries cost ~20% more per report).  Its records refer to it,
 * so when they must be written earlier (a big report, every SQ_ROWS_MAX
 * records) or read back (an undo, a changed key), this writes the key
 * columns first and then the buffered rows; store_report_end then fills in
 * the rest with SQ_REPORT_FINISH.
 */
static int
sq_cur_row(struct store_sqlite *s)
{
	sqlite3_stmt *stmt;
	int rc;

	if (!s->cur.inserted) {
		if ((stmt = sq_get(s, SQ_REPORT_INSERT_MIN)) == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, s->cur.id);
		sq_text(stmt, 2, s->cur.org.p);
		sq_text(stmt, 3, s->cur.email_null ? NULL : s->cur.email.p);
		sq_text(stmt, 4, s->cur.rid.p);
		sq_text(stmt, 5, s->cur.domain.p);
		sqlite3_bind_int64(stmt, 6, s->cur.begin);
		sqlite3_bind_int64(stmt, 7, s->cur.end);
		sq_text(stmt, 8, s->cur.key.p);
		sq_id(stmt, 9, s->cur.raw_id);
		sqlite3_bind_int64(stmt, 10, (int64_t)time(NULL));
		if ((rc = sq_done(s, stmt, "storing report")) != 0)
			return rc;
		s->cur.inserted = 1;
	}
	return sq_rows_flush(s);
}

/* a write failed half way through a report of a batch: see the top */
static int
sq_poison(struct store_sqlite *s, int rc)
{
	if (!s->cur.own_txn)
		s->poisoned = 1;
	return rc;
}

/*
 * Undoes the open report: ROLLBACK when it is its own transaction, else
 * the compensating delete (its records and its share of `daily`, spread
 * exactly as they were added).  Poisons the batch when that fails.
 */
static int
sq_cur_discard(struct store_sqlite *s)
{
	sqlite3_stmt *stmt;
	int64_t id = s->cur.id;
	int rc, capped;

	if (s->cur.own_txn) {
		s->cur.id = 0;
		s->cur.own_txn = 0;
		sq_dmap_clear(s);
		sq_rows_clear(s);
		return sq_run(s, SQ_ROLLBACK, "report rollback");
	}
	/* the row and the buffered records first: the undo reads them back */
	rc = sq_cur_row(s);
	s->cur.id = 0;
	if (rc != 0) {
		s->poisoned = 1;
		return rc;
	}
	rc = sq_daily_apply_report(s, id, s->cur.org.p, s->cur.domain.p,
	    s->cur.begin, s->cur.end, -1, &capped);
	if (rc == 0 && (stmt = sq_get(s, SQ_REPORT_DELETE)) == NULL)
		rc = -1;
	if (rc == 0) {
		sqlite3_bind_int64(stmt, 1, id);
		rc = sq_done(s, stmt, "undoing report");
	}
	if (rc != 0)
		s->poisoned = 1;
	return rc;
}

/* the open report is complete: commit it when it is its own transaction */
static int
sq_cur_done(struct store_sqlite *s)
{
	int own = s->cur.own_txn, rc;

	s->cur.id = 0;
	s->cur.own_txn = 0;
	if (!own)
		return 0;
	if ((rc = sq_dmap_flush(s)) != 0) {
		sq_run(s, SQ_ROLLBACK, "rollback");
		return rc;
	}
	return sq_run(s, SQ_COMMIT, "commit");
}

static int
sq_report_begin(struct store *st, const struct report *hdr, int64_t raw_id,
    int64_t *report_out, int64_t *dup_out)
{
	struct store_sqlite *s = sq(st);
	const char *org = sq_or(hdr->org_name, "");
	const char *rid = sq_or(hdr->report_id, "");
	const char *dom = sq_or(hdr->policy.domain, "");
	sqlite3_stmt *stmt;
	int64_t id;
	int rc;

	*report_out = 0;
	*dup_out = 0;
	if (s->cur.id != 0)
		return store_seterr(st, "report_begin: report %lld still open",
		    (long long)s->cur.id);
	if (s->poisoned)
		return -1;      /* the reason is still in err */
	sq_str_key(&s->cur.key, org, rid, dom, hdr->begin, hdr->end);
	s->cur.own_txn = sqlite3_get_autocommit(s->db);
	if (s->cur.own_txn) {
		s->next_record = 0;
		s->next_report = 0;
	}
	if (s->cur.own_txn && (rc = sq_run(s, SQ_BEGIN, "begin")) != 0) {
		s->cur.own_txn = 0;
		return rc;
	}
	if ((stmt = sq_get(s, SQ_REPORT_FIND_KEY)) == NULL) {
		rc = -1;
		goto fail;
	}
	sq_text(stmt, 1, s->cur.key.p);
	sqlite3_bind_int64(stmt, 2, 0);
	if ((rc = sq_one_id(s, stmt, &id, "dedup lookup")) != 0)
		goto fail;
	if (id != 0) {
		*dup_out = id;
		return sq_cur_done(s);
	}
	if (s->next_report == 0) {
		/* first report of the transaction: ids go on from max(id) */
		if ((stmt = sq_get(s, SQ_REPORT_MAXID)) == NULL) {
			rc = -1;
			goto fail;
		}
		if ((rc = sq_one_id(s, stmt, &id, "reading reports")) != 0)
			goto fail;
		s->next_report = id + 1;
	}
	s->cur.id = s->next_report++;
	s->cur.inserted = 0;
	s->cur.raw_id = raw_id;
	s->cur.begin = hdr->begin;
	s->cur.end = hdr->end;
	s->cur.n_records = 0;
	s->cur.msg_total = 0;
	s->cur.msg_fail = 0;
	s->cur.capped = 0;
	sq_str_set(&s->cur.org, org);
	sq_str_set(&s->cur.domain, dom);
	sq_str_set(&s->cur.rid, rid);
	s->cur.email_null = hdr->email == NULL;
	sq_str_set(&s->cur.email, hdr->email != NULL ? hdr->email : "");
	*report_out = s->cur.id;
	return 0;
fail:
	/* nothing of this report was written */
	if (s->cur.own_txn) {
		s->cur.own_txn = 0;
		sq_run(s, SQ_ROLLBACK, "rollback");
	}
	return rc;
}

static int
sq_report_record(struct store *st, int64_t report, const struct report *hdr,
    const struct report_record *rec)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt;
	struct sq_daily_key k;
	struct sq_val *v;
	const char *dmarc;
	int64_t rid;
	int rc, capped;

	if (report == 0 || report != s->cur.id)
		return store_seterr(st, "report_record: report %lld is not open",
		    (long long)report);
	if (rec->count > STORE_MAX_COUNT)
		return store_seterr(st, "record count %llu too large (max %llu)",
		    (unsigned long long)rec->count, STORE_MAX_COUNT);
	k.domain = s->cur.domain.p;
	k.org = s->cur.org.p;
	k.source_ip = sq_or(rec->source_ip, sq_or(rec->source_ip_raw, ""));
	k.header_from = sq_or(rec->header_from, "");
	k.disposition = sq_or(rec->disposition, REPORT_UNKNOWN);
	k.dkim = sq_or(rec->dkim, REPORT_UNKNOWN);
	k.spf = sq_or(rec->spf, REPORT_UNKNOWN);

	if (s->next_record == 0) {
		/* first record of the transaction: ids go on from max(id) */
		if ((stmt = sq_get(s, SQ_RECORD_MAXID)) == NULL)
			return -1;
		if ((rc = sq_one_id(s, stmt, &rid, "reading records")) != 0)
			return rc;
		s->next_record = rid + 1;
	}
	rid = s->next_record++;
	v = sq_rows_add(s, SQ_T_RECORDS);
	sq_val_int(&v[0], rid);
	sq_val_int(&v[1], report);
	sq_val_text(s, &v[2], k.source_ip);
	sq_val_int(&v[3], (int64_t)rec->count);
	sq_val_text(s, &v[4], k.disposition);
	sq_val_text(s, &v[5], k.dkim);
	sq_val_text(s, &v[6], k.spf);
	dmarc = sq_dmarc(k.dkim, k.spf);
	sq_val_text(s, &v[7], dmarc);
	sq_val_text(s, &v[8], k.header_from);
	sq_val_text(s, &v[9], rec->envelope_from);
	sq_val_text(s, &v[10], rec->envelope_to);
	sq_val_text(s, &v[11], rec->disposition_raw);
	sq_val_text(s, &v[12], rec->dkim_raw);
	sq_val_text(s, &v[13], rec->spf_raw);
	sq_val_text(s, &v[14], rec->source_ip_raw);
	sq_val_text(s, &v[15], rec->extensions);
	sq_val_auth(s, &v[16], rec);
	sq_val_text(s, &v[17], sq_detail(s, rec));
	/* a big report is written SQ_ROWS_MAX records at a time */
	if ((s->rows[SQ_T_RECORDS].n >= SQ_ROWS_MAX ||
	    s->ralen >= SQ_ROWS_ARENA_MAX) && (rc = sq_cur_row(s)) != 0)
		return sq_poison(s, rc);
	rc = sq_daily_apply(s, &k, s->cur.begin, s->cur.end, rec->count, 1,
	    &capped);
	if (rc != 0)
		return sq_poison(s, rc);
	s->cur.capped |= capped;
	s->cur.n_records++;
	s->cur.msg_total += rec->count;
	if (strcmp(dmarc, "pass") != 0)
		s->cur.msg_fail += rec->count;
	return 0;
}

/* JSON array of strings (plus an optional extra line), NULL when empty */
static char *
sq_json_lines(const char **v, size_t n, const char *extra)
{
	json_t *a;
	char *out;
	size_t i;

	if (n == 0 && extra == NULL)
		return NULL;
	a = json_array();
	for (i = 0; i < n; i++)
		if (v[i] != NULL)
			json_array_append_new(a, json_string(v[i]));
	if (extra != NULL)
		json_array_append_new(a, json_string(extra));
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

/* `final` moved a dedup-key field: re-check the key and re-spread daily */
static int
sq_report_rekey(struct store_sqlite *s, const struct report *final,
    int64_t *dup_out)
{
	const char *org = sq_or(final->org_name, "");
	const char *rid = sq_or(final->report_id, "");
	const char *dom = sq_or(final->policy.domain, "");
	sqlite3_stmt *stmt = sq_get(s, SQ_REPORT_FIND_KEY);
	int64_t id;
	int rc, capped;

	if (stmt == NULL)
		return -1;
	sq_text(stmt, 1, s->key2.p);
	sqlite3_bind_int64(stmt, 2, s->cur.id);
	if ((rc = sq_one_id(s, stmt, &id, "dedup lookup")) != 0)
		return rc;
	if (id != 0) {
		*dup_out = id;
		return 0;
	}
	rc = sq_daily_apply_report(s, s->cur.id, s->cur.org.p, s->cur.domain.p,
	    s->cur.begin, s->cur.end, -1, &capped);
	if (rc != 0)
		return sq_poison(s, rc);
	if ((stmt = sq_get(s, SQ_REPORT_REKEY)) == NULL)
		return sq_poison(s, -1);
	sq_text(stmt, 1, org);
	sq_text(stmt, 2, rid);
	sq_text(stmt, 3, dom);
	sqlite3_bind_int64(stmt, 4, final->begin);
	sqlite3_bind_int64(stmt, 5, final->end);
	sq_text(stmt, 6, s->key2.p);
	sqlite3_bind_int64(stmt, 7, s->cur.id);
	if ((rc = sq_done(s, stmt, "storing report")) != 0)
		return sq_poison(s, rc);
	rc = sq_daily_apply_report(s, s->cur.id, org, dom, final->begin,
	    final->end, 1, &capped);
	if (rc != 0)
		return sq_poison(s, rc);
	/* from now on the report is undone under its new header */
	s->cur.capped = capped;
	s->cur.begin = final->begin;
	s->cur.end = final->end;
	sq_str_set(&s->cur.org, org);
	sq_str_set(&s->cur.domain, dom);
	sq_str_set(&s->cur.key, s->key2.p);
	return 0;
}

/* the whole `reports` row of the open report, then its records */
static int
sq_report_insert(struct store_sqlite *s, const struct report *final,
    const uint8_t content_hash[32], const char *errors, const char *warnings)
{
	const struct report_policy *pol = &final->policy;
	sqlite3_stmt *stmt = sq_get(s, SQ_REPORT_INSERT);
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, s->cur.id);
	sq_text(stmt, 2, s->cur.org.p);
	sq_text(stmt, 3, final->org_name_raw);
	sq_text(stmt, 4, final->email);
	sq_text(stmt, 5, final->extra_contact_info);
	sq_text(stmt, 6, s->cur.rid.p);
	sq_text(stmt, 7, final->report_id_raw);
	sq_text(stmt, 8, s->cur.domain.p);
	sqlite3_bind_int64(stmt, 9, s->cur.begin);
	sqlite3_bind_int64(stmt, 10, s->cur.end);
	sq_text(stmt, 11, final->version);
	sq_text(stmt, 12, final->xml_namespace);
	sq_text(stmt, 13, final->generator);
	sq_text(stmt, 14, errors);
	sq_text(stmt, 15, warnings);
	sq_text(stmt, 16, final->extensions);
	sq_text(stmt, 17, pol->p);
	sq_text(stmt, 18, pol->sp);
	sq_text(stmt, 19, pol->np);
	if (pol->pct >= 0)
		sqlite3_bind_int(stmt, 20, pol->pct);
	else
		sqlite3_bind_null(stmt, 20);
	sq_text(stmt, 21, pol->adkim);
	sq_text(stmt, 22, pol->aspf);
	sq_text(stmt, 23, pol->fo);
	sq_text(stmt, 24, pol->testing);
	sq_text(stmt, 25, pol->discovery_method);
	sqlite3_bind_int64(stmt, 26, (int64_t)s->cur.n_records);
	sqlite3_bind_int64(stmt, 27, (int64_t)s->cur.msg_total);
	sqlite3_bind_blob(stmt, 28, content_hash, 32, SQLITE_STATIC);
	sq_text(stmt, 29, s->cur.key.p);
	sq_id(stmt, 30, s->cur.raw_id);
	sqlite3_bind_int64(stmt, 31, (int64_t)time(NULL));
	sqlite3_bind_int64(stmt, 32, (int64_t)s->cur.msg_fail);
	if ((rc = sq_done(s, stmt, "storing report")) != 0)
		return rc;
	s->cur.inserted = 1;
	return sq_rows_flush(s);
}

/* the rest of a row written early by sq_cur_row */
static int
sq_report_finish(struct store_sqlite *s, const struct report *final,
    const uint8_t content_hash[32], const char *errors, const char *warnings)
{
	const struct report_policy *pol = &final->policy;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = sq_rows_flush(s)) != 0)
		return rc;
	if ((stmt = sq_get(s, SQ_REPORT_FINISH)) == NULL)
		return -1;
	sq_text(stmt, 1, final->org_name_raw);
	sq_text(stmt, 3, final->extra_contact_info);
	sq_text(stmt, 4, final->report_id_raw);
	sq_text(stmt, 5, final->version);
	sq_text(stmt, 6, final->xml_namespace);
	sq_text(stmt, 7, final->generator);
	sq_text(stmt, 8, errors);
	sq_text(stmt, 9, warnings);
	sq_text(stmt, 10, final->extensions);
	sq_text(stmt, 11, pol->p);
	sq_text(stmt, 12, pol->sp);
	sq_text(stmt, 13, pol->np);
	if (pol->pct >= 0)
		sqlite3_bind_int(stmt, 14, pol->pct);
	else
		sqlite3_bind_null(stmt, 14);
	sq_text(stmt, 15, pol->adkim);
	sq_text(stmt, 16, pol->aspf);
	sq_text(stmt, 17, pol->fo);
	sq_text(stmt, 18, pol->testing);
	sq_text(stmt, 19, pol->discovery_method);
	sqlite3_bind_int64(stmt, 20, (int64_t)s->cur.n_records);
	sqlite3_bind_int64(stmt, 21, (int64_t)s->cur.msg_total);
	sqlite3_bind_blob(stmt, 22, content_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 23, s->cur.id);
	sqlite3_bind_int64(stmt, 24, (int64_t)s->cur.msg_fail);
	if ((rc = sq_done(s, stmt, "storing report")) != 0)
		return rc;
	if (final->email == NULL ? !s->cur.email_null : s->cur.email_null ||
	    strcmp(final->email, s->cur.email.p) != 0) {
		if ((stmt = sq_get(s, SQ_REPORT_EMAIL)) == NULL)
			return -1;
		sq_text(stmt, 1, final->email);
		sqlite3_bind_int64(stmt, 2, s->cur.id);
		if ((rc = sq_done(s, stmt, "storing report")) != 0)
			return rc;
	}
	return 0;
}

static int
sq_report_end(struct store *st, int64_t report, const struct report *final,
    const uint8_t content_hash[32], int64_t *dup_out)
{
	static const uint8_t zero[32];
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt;
	char *errors = NULL, *warnings = NULL, note[128];
	int64_t id;
	int rc;

	*dup_out = 0;
	if (report == 0 || report != s->cur.id)
		return store_seterr(st, "report_end: report %lld is not open",
		    (long long)report);
	if (content_hash == NULL)
		content_hash = zero;
	sq_str_key(&s->key2, sq_or(final->org_name, ""),
	    sq_or(final->report_id, ""), sq_or(final->policy.domain, ""),
	    final->begin, final->end);
	if (strcmp(s->key2.p, s->cur.key.p) != 0) {
		/* rare: the re-spread reads the records back */
		if ((rc = sq_cur_row(s)) != 0)
			return sq_poison(s, rc);
		if ((rc = sq_report_rekey(s, final, dup_out)) != 0)
			return rc;
		if (*dup_out != 0)
			return sq_cur_discard(s);
		sq_str_set(&s->cur.rid, sq_or(final->report_id, ""));
	}
	if (content_hash != zero) {
		if ((stmt = sq_get(s, SQ_REPORT_FIND_HASH)) == NULL)
			return -1;
		sqlite3_bind_blob(stmt, 1, content_hash, 32, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, report);
		if ((rc = sq_one_id(s, stmt, &id, "dedup lookup")) != 0)
			return rc;
		if (id != 0) {
			*dup_out = id;
			return sq_cur_discard(s);
		}
	}
	note[0] = '\0';
	if (s->cur.capped)
		snprintf(note, sizeof note, "report spans more than %d days: "
		    "all messages counted on its first day",
		    STORE_SPREAD_MAX_DAYS);
	errors = sq_json_lines(final->errors, final->n_errors, NULL);
	warnings = sq_json_lines(final->warnings, final->n_warnings,
	    note[0] ? note : NULL);
	if (s->cur.inserted)
		rc = sq_report_finish(s, final, content_hash, errors, warnings);
	else
		rc = sq_report_insert(s, final, content_hash, errors, warnings);
	if (rc != 0)
		sq_poison(s, rc);
	else
		rc = sq_cur_done(s);
	free(errors);
	free(warnings);
	return rc;
}

static int
sq_report_abort(struct store *st, int64_t report)
{
	struct store_sqlite *s = sq(st);

	if (s->cur.id == 0)
		return 0;
	return sq_cur_discard(s);
}

static int
sq_report_delete(struct store *st, int64_t report)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_get(s, SQ_REPORT_HDR);
	char *org = NULL, *dom = NULL;
	int64_t begin, end;
	int rc, capped;

	if (stmt == NULL)
		return -1;
	if (s->cur.id != 0)
		return store_seterr(st, "report_delete: report %lld still open",
		    (long long)s->cur.id);
	sqlite3_bind_int64(stmt, 1, report);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			return store_seterr(st, "report %lld: no such report",
			    (long long)report);
		return sq_fail(s, rc, "reading report");
	}
	org = xstrdup((const char *)sqlite3_column_text(stmt, 0));
	dom = xstrdup((const char *)sqlite3_column_text(stmt, 1));
	begin = sqlite3_column_int64(stmt, 2);
	end = sqlite3_column_int64(stmt, 3);
	sqlite3_reset(stmt);

	/* the batch's pending daily deltas first (a failure poisons it) */
	if ((rc = sq_dmap_flush(s)) != 0) {
		s->poisoned = !sqlite3_get_autocommit(s->db);
		goto done;
	}
	/* atomic on its own, also inside a batch: rare, so a savepoint; the
	 * map holds this delete's deltas only and is written before RELEASE */
	if ((rc = sq_run(s, SQ_SAVEPOINT, "delete savepoint")) != 0)
		goto done;
	rc = sq_daily_apply_report(s, report, org, dom, begin, end, -1,
	    &capped);
	if (rc == 0 && (stmt = sq_get(s, SQ_REPORT_DELETE)) == NULL)
		rc = -1;
	if (rc == 0) {
		sqlite3_bind_int64(stmt, 1, report);
		rc = sq_done(s, stmt, "deleting report");
	}
	if (rc == 0)
		rc = sq_dmap_flush(s);
	if (rc != 0) {
		sq_dmap_clear(s);
		sq_run(s, SQ_ROLLBACK_TO, "delete rollback");
		sq_run(s, SQ_RELEASE, "delete rollback");
		goto done;
	}
	rc = sq_run(s, SQ_RELEASE, "delete savepoint");
done:
	free(org);
	free(dom);
	return rc;
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.set_busy_timeout = sq_set_busy_timeout,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.raw_put = sq_raw_put,
	.raw_put_fd = sq_raw_put_fd,
	.raw_get = sq_raw_get,
	.raw_open = sq_raw_open,
	.ledger_add = sq_ledger_add,
	.report_begin = sq_report_begin,
	.report_record = sq_report_record,
	.report_end = sq_report_end,
	.report_abort = sq_report_abort,
	.report_delete = sq_report_delete,
	.sqlite_handle = sq_handle,
};
