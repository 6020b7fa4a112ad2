#!/usr/bin/env bash
# web_e2e.sh - browser end-to-end test (tests/e2e/dashboard.mjs): Debian's
# chromium driven by playwright-core (npm ci) against `dmarcstat serve` on a
# database of the web fixtures, on a random loopback port.  Skips (77) when
# chromium, node or node_modules are missing.
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
for _ in 1 2 3 4 5; do
	PORT=$((20000 + RANDOM % 20000))
	DMARCSTAT_NOW=1782885600 "$BIN" --db "$T/e2e.db" serve --no-enrich --listen 127.0.0.1:$PORT >"$T/out" 2>"$T/err" &
	PID=$!
	for _ in $(seq 50); do
		curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break 2
		kill -0 $PID 2>/dev/null || break
		sleep 0.1
	done
	kill $PID 2>/dev/null; wait $PID 2>/dev/null || true; PID=
done
[ -n "$PID" ] || { echo "server did not start"; cat "$T/err"; exit 1; }
# Resolve the screenshot directory against the source tree.
shots=${SCREENSHOTS:-}
[ -n "$shots" ] && case $shots in /*) ;; *) shots=$SRC/$shots ;; esac
cd "$SRC"
BASE_URL=http://127.0.0.1:$PORT/ FIXTURES=$SRC/tests/fixtures/web SCREENSHOTS=$shots CHROMIUM=$CHROMIUM \
	timeout 600 node tests/e2e/dashboard.mjs 2> >(grep -v -E 'dbus|D-Bus|unexpected operator' >&2)
