-- dmarcstat SQLite schema, migration 1.  The contract between the write path
-- (store_sqlite.c), the query layer (query_report.c), the web API and the
-- analysis modules.  All times are UTC epoch seconds.  Domains are lower case.
-- Later migrations live in store_sqlite.c's migration table, never here:
--   2: indexes ledger_report, reports_raw;
--   3: daily_day and daily_ip dropped (daily is searched through its
--      primary key; rows are written in its order).
--   4: records.auth (DKIM, SPF results and reason types of the record
--      in one string), records_ip on (source_ip, report), daily_dash
--      dropped.
--   5: indexes reports_end, ledger_source.
--   6: indexes reports_org_end, reports_org_dom.
--   7: daily_org (daily per reporter and day).
--   8: reports_end dropped.
--   9: record_dkim, record_spf, record_reasons become views over the
--      new records.detail (JSON).
--  10: reports_org_end also holds report_id.
--  11: reports.msg_fail (messages failing DMARC), also in
--      reports_org_end with msg_total.

CREATE TABLE raw_inputs (            -- originals kept for `dmarcstat reparse`
  id          INTEGER PRIMARY KEY,
  sha256      BLOB NOT NULL UNIQUE,  -- of the original bytes as received
  size        INTEGER NOT NULL,      -- original size
  encoding    TEXT NOT NULL,         -- 'identity' | 'deflate' (zlib) of `data`
  data        BLOB NOT NULL,
  created_at  INTEGER NOT NULL
);

CREATE TABLE ledger (                -- one row per input: file, message, archive member
  id          INTEGER PRIMARY KEY,
  ts          INTEGER NOT NULL,
  source      TEXT NOT NULL,         -- file | stdin | mbox | maildir | imap | spool | upload | pipe | reparse
  input       TEXT NOT NULL,         -- path / mailbox+uid / upload name
  member      TEXT,                  -- "part 2 > report.xml" inside the input, NULL for the input itself
  size        INTEGER,
  sha256      BLOB,                  -- of the document bytes
  status      TEXT NOT NULL,         -- imported | duplicate | rejected | not-a-report | unsupported | error
  reason      TEXT,                  -- one line, for humans
  kind        TEXT,                  -- aggregate | failure | smtp_tls | NULL
  report      INTEGER,               -- reports.id when imported/duplicate
  raw_id      INTEGER                -- raw_inputs.id
);
CREATE INDEX ledger_ts ON ledger(ts);
CREATE INDEX ledger_status ON ledger(status, ts);

CREATE TABLE reports (
  id               INTEGER PRIMARY KEY,
  kind             TEXT NOT NULL DEFAULT 'aggregate',
  org_name         TEXT NOT NULL,     -- normalised (trimmed; email domain when empty)
  org_name_raw     TEXT,
  email            TEXT,
  extra_contact    TEXT,
  report_id        TEXT NOT NULL,     -- <> stripped
  report_id_raw    TEXT,
  policy_domain    TEXT NOT NULL,
  begin_ts         INTEGER NOT NULL,
  end_ts           INTEGER NOT NULL,
  version          TEXT,
  xml_namespace    TEXT,
  generator        TEXT,
  errors           TEXT,              -- JSON array of <error> texts
  warnings         TEXT,              -- JSON array of parser warnings
  extensions       TEXT,
  p TEXT, sp TEXT, np TEXT, pct INTEGER, adkim TEXT, aspf TEXT, fo TEXT,
  testing TEXT, discovery_method TEXT,
  n_records        INTEGER NOT NULL DEFAULT 0,
  msg_total        INTEGER NOT NULL DEFAULT 0,
  content_hash     BLOB NOT NULL,     -- sha256 of the parsed document bytes
  dedup_key        TEXT NOT NULL UNIQUE, -- lower(org)|lower(report_id)|domain|begin|end
  raw_id           INTEGER REFERENCES raw_inputs(id),
  imported_at      INTEGER NOT NULL
);
CREATE INDEX reports_domain_time ON reports(policy_domain, begin_ts);
CREATE INDEX reports_time ON reports(begin_ts);
CREATE INDEX reports_hash ON reports(content_hash);
CREATE INDEX reports_org ON reports(org_name, begin_ts);

CREATE TABLE records (
  id             INTEGER PRIMARY KEY,
  report         INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
  source_ip      TEXT NOT NULL,
  count          INTEGER NOT NULL,
  disposition    TEXT NOT NULL,       -- none quarantine reject pass unknown
  dkim_eval      TEXT NOT NULL,       -- pass fail unknown (policy_evaluated)
  spf_eval       TEXT NOT NULL,
  dmarc          TEXT NOT NULL,       -- pass | fail | unknown  (dkim_eval=pass OR spf_eval=pass)
  header_from    TEXT NOT NULL,
  envelope_from  TEXT,
  envelope_to    TEXT,
  disposition_raw TEXT, dkim_raw TEXT, spf_raw TEXT, source_ip_raw TEXT,
  extensions     TEXT
);
CREATE INDEX records_report ON records(report);
CREATE INDEX records_ip ON records(source_ip);

CREATE TABLE record_reasons (record INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  type TEXT NOT NULL, type_raw TEXT, comment TEXT);
CREATE INDEX record_reasons_record ON record_reasons(record);
CREATE TABLE record_dkim (record INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  domain TEXT, selector TEXT, result TEXT NOT NULL, result_raw TEXT, human_result TEXT);
CREATE INDEX record_dkim_record ON record_dkim(record);
CREATE TABLE record_spf (record INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  domain TEXT, scope TEXT, result TEXT NOT NULL, result_raw TEXT, human_result TEXT);
CREATE INDEX record_spf_record ON record_spf(record);

-- Per-UTC-day rollup.  A report spanning several days has each record's
-- count spread over the UTC days it overlaps, in proportion to the overlap
-- (largest-remainder rounding so the day counts add up to `count`).
-- Charts and summaries read this table, never `records`.
CREATE TABLE daily (
  day           INTEGER NOT NULL,     -- epoch seconds of 00:00 UTC
  policy_domain TEXT NOT NULL,
  header_from   TEXT NOT NULL,
  source_ip     TEXT NOT NULL,
  org_name      TEXT NOT NULL,        -- reporter
  disposition   TEXT NOT NULL,
  dkim_eval     TEXT NOT NULL,
  spf_eval      TEXT NOT NULL,
  messages      INTEGER NOT NULL,
  PRIMARY KEY (policy_domain, day, source_ip, org_name, header_from, disposition, dkim_eval, spf_eval)
) WITHOUT ROWID;
CREATE INDEX daily_day ON daily(day);
CREATE INDEX daily_ip ON daily(source_ip, day);

-- Sender intelligence (enrichment; filled in the background, never at render time).
CREATE TABLE ip_info (
  ip            TEXT PRIMARY KEY,
  ptr           TEXT,                 -- first PTR name, no trailing dot
  ptr_status    TEXT,                 -- ok | nxdomain | timeout | servfail | pending
  fcrdns        INTEGER,              -- 1 forward-confirmed, 0 not, NULL unknown
  base_domain   TEXT,                 -- organisational domain of ptr (libpsl)
  asn           INTEGER,
  as_name       TEXT,
  country       TEXT,                 -- ISO 3166-1 alpha-2
  service       TEXT,                 -- known-sender catalog id
  resolved_at   INTEGER,
  expires_at    INTEGER
) WITHOUT ROWID;
