#!/usr/bin/env bash
# scripts/demo.sh BUILD_DIR [serve] - build the demo database (make demo,
# make run).
#
# Generates 90 days of synthetic reports ending yesterday (UTC) with
# BUILD_DIR/dmarcgen in mixed containers (.zip, .xml.gz, .eml and one mbox),
# imports them into a fresh demo/dmarcstat-demo.db, runs `dmarcstat enrich`
# when this build has it, and prints a summary per domain.  With `serve`,
# it then replaces itself with the dashboard on http://127.0.0.1:8025/.
# DEMO_SEED picks another (still deterministic) data set.
set -euo pipefail

BUILD=${1:-build}
MODE=${2:-}
SRC=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
DS=$BUILD/dmarcstat
GEN=$BUILD/dmarcgen
DB=$SRC/demo/dmarcstat-demo.db
LISTEN=127.0.0.1:8025

case $MODE in
'' | serve) ;;
*) echo "usage: scripts/demo.sh BUILD_DIR [serve]" >&2; exit 2 ;;
esac
for tool in "$DS" "$GEN"; do
	if [ ! -x "$tool" ]; then
		echo "demo: $tool not built; run: make build BUILD=$(basename "$BUILD")" >&2
		exit 1
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dmarcstat-demo.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

"$GEN" -q --out "$TMP/reports" --days 90 --mixed --mbox "$TMP/reports/mailbox.mbox" \
	--seed "${DEMO_SEED:-2026}" --truth "$TMP/truth.json"

mkdir -p "$(dirname "$DB")"
rm -f "$DB" "$DB-wal" "$DB-shm"
rc=0
"$DS" --db "$DB" import --no-progress "$TMP/reports" 2>"$TMP/import.err" || rc=$?
# one line per bad input: show the first few and the count
head -n 5 "$TMP/import.err" >&2
n=$(wc -l <"$TMP/import.err")
[ "$n" -le 6 ] || echo "demo: ... $((n - 6)) more lines like these" >&2
[ "$n" -le 5 ] || tail -n 1 "$TMP/import.err" >&2
case $rc in
0) ;;
1) echo "demo: some inputs were rejected (see above); continuing" >&2 ;;
*) echo "demo: import failed (exit $rc)" >&2; exit "$rc" ;;
esac

if "$DS" enrich --help >/dev/null 2>&1; then
	"$DS" --db "$DB" enrich
fi

echo
"$DS" --db "$DB" summary
echo
echo "demo database: $DB"

if [ "$MODE" = serve ]; then
	rm -rf "$TMP"
	trap - EXIT
	echo "dashboard: http://$LISTEN/  (Ctrl-C to stop)"
	exec "$DS" --db "$DB" serve --listen "$LISTEN"
fi
