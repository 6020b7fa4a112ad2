#!/usr/bin/env bash
# web_e2e.sh - browser end-to-end test (tests/e2e/dashboard.mjs): Debian's
# chromium driven by playwright-core (npm ci) against `dmarcstat serve` on a
# database of the web fixtures, on a random loopback port; with Dovecot
# installed, a second server with real mailboxes for the intake panel.
# Skips (77) when chromium, node or node_modules are missing.
#   SCREENSHOTS=docs/screenshots bash tests/integration/web_e2e.sh
# also refreshes the README's screenshots.
set -euo pipefail
BIN=${DMARCSTAT_BIN:?}
SRC=${DMARCSTAT_SRC:?}
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || { echo "chromium missing: skipped"; exit 77; }
command -v node >/dev/null || { echo "node missing: skipped"; exit 77; }
[ -d "$SRC/node_modules/playwright-core" ] || { echo "node_modules missing (npm ci): skipped"; exit 77; }
command -v curl >/dev/null || { echo "curl missing: skipped"; exit 77; }
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

"$BIN" --db "$T/e2e.db" -q import "$SRC/tests/fixtures/web/reports" >/dev/null 2>&1 || true
# What enrichment would have found (host names, networks, countries); the
# background enrichment stays off so the pages are the same on every run.
command -v sqlite3 >/dev/null || { echo "sqlite3 missing: skipped"; exit 77; }
sqlite3 "$T/e2e.db" < "$SRC/tests/fixtures/web/ip_info.sql"
. "$SRC/tests/lib/serve.sh"
serve_start "$T/main" env DMARCSTAT_NOW=1782885600 "$BIN" --db "$T/e2e.db" serve --no-enrich ||
	{ echo "server did not start"; cat "$T/main.err"; exit 1; }
PID=$SPID
MPORT=$PORT

# The intake panel of the ledger view, against the real thing: a second
# `dmarcstat serve` whose configuration names a Dovecot mailbox on loopback
# that works, one whose folder (with markup in its name) does not exist, and
# a Maildir spool; plus a mailbox polled once and since removed from the
# configuration.  Skipped (the e2e checks say so) without Dovecot.
IPID=
INTAKE_URL=
. "$SRC/tests/lib/dovecot.sh"
DV_DIR=$T
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$IPID" ] && kill "$IPID" 2>/dev/null; dovecot_stop; rm -rf "$T"; }
if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
	mkdir -p "$T/dv"
	chmod 755 "$T"            # the server runs as nobody when we are root
	DV_PASS=e2e-$RANDOM$RANDOM
	if dovecot_setup "$T/dv" e2e "$DV_PASS" && dovecot_own && dovecot_start; then
		for f in "$SRC"/tests/fixtures/intake/report-*.eml; do
			curl -sS --user "e2e:$DV_PASS" -T "$f" "imap://127.0.0.1:$PORT/INBOX" >/dev/null
		done
		mkdir -p "$T/spool/new" "$T/spool/cur" "$T/spool/tmp"
		cp "$SRC/tests/fixtures/containers/report.xml.gz" "$T/spool/new/1.report"
		export DS_E2E_PASSWORD=$DV_PASS
		cat > "$T/intake.conf" <<CONF
database = $T/intake.db
[spool]
dirs = $T/spool
[enrich]
enabled = no
[imap]
poll_interval = 5m
[mailbox reports]
url = imap://127.0.0.1:$PORT/
user = e2e
password_env = DS_E2E_PASSWORD
starttls = no
allow_plaintext = yes
[mailbox broken]
url = imap://127.0.0.1:$PORT/
user = e2e
password_env = DS_E2E_PASSWORD
folder = Reports/<img src=x onerror=window.__pwned=9>
starttls = no
allow_plaintext = yes
CONF
		serve_start "$T/intake" "$BIN" --config "$T/intake.conf" serve ||
			{ echo "intake server did not start"; cat "$T/intake.err"; exit 1; }
		IPID=$SPID
		# both mailboxes polled and the spool file imported
		for _ in $(seq 150); do
			m=$(curl -sf "http://127.0.0.1:$PORT/api/mailboxes" 2>/dev/null || true)
			if [ -n "$m" ] && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); b={x["name"]: x for x in d["mailboxes"]}
sys.exit(0 if b.get("reports",{}).get("last_success") and b.get("broken",{}).get("last_error") and d["spool"] and d["spool"][0]["pending"] == 0 else 1)' "$m"; then
				INTAKE_URL=http://127.0.0.1:$PORT/
				break
			fi
			sleep 0.1
		done
		[ -n "$INTAKE_URL" ] || { echo "intake server did not poll"; cat "$T/intake.err"; exit 1; }
		# a mailbox polled once, no longer in the configuration
		sqlite3 -cmd '.timeout 5000' "$T/intake.db" "INSERT INTO imap_state (mailbox, folder, last_uid, last_poll, last_success, fetched) VALUES ('old', 'INBOX', 7, 100, 100, 7)"
	else
		echo "dovecot did not start: intake panel checks skipped"; cat "$T/dv/dovecot.log" 2>/dev/null || true
	fi
fi
# Resolve the screenshot directory against the source tree.
shots=${SCREENSHOTS:-}
[ -n "$shots" ] && case $shots in /*) ;; *) shots=$SRC/$shots ;; esac
cd "$SRC"
INTAKE_URL=$INTAKE_URL BASE_URL=http://127.0.0.1:$MPORT/ FIXTURES=$SRC/tests/fixtures/web SCREENSHOTS=$shots CHROMIUM=$CHROMIUM \
	timeout 600 node tests/e2e/dashboard.mjs 2> >(grep -v -E 'dbus|D-Bus|unexpected operator' >&2)
