#!/usr/bin/env bash
# golden/run.sh [--update] - `dmarcstat parse --json` on every fixture in
# tests/fixtures/{aggregate,containers,golden} diffed against
# tests/golden/expected/<dir>__<file>.json (output and exit code).
# --update rewrites the expected files; review the diff before committing.
set -uo pipefail
src=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${DMARCSTAT_BIN:-$src/build/dmarcstat}
update=0; [ "${1:-}" = --update ] && update=1
cd "$src"
# container fixtures may be generated at test time
[ -x tests/fixtures/containers/make.sh ] && tests/fixtures/containers/make.sh >/dev/null
fail=0; n=0
for f in tests/fixtures/aggregate/* tests/fixtures/containers/* tests/fixtures/golden/*; do
	[ -f "$f" ] || continue
	case "$f" in *.sh|*.md|*.py) continue;; esac
	d=$(basename "$(dirname "$f")"); b=$(basename "$f")
	exp="tests/golden/expected/${d}__${b}.json"
	out=$("$bin" parse --json "$f" 2>/dev/null); rc=$?
	got=$(printf '%s\n# exit %d\n' "$out" "$rc")
	n=$((n + 1))
	if [ $update = 1 ]; then
		printf '%s\n' "$got" > "$exp"
	elif [ ! -f "$exp" ]; then
		echo "golden: no expected output for $f (run tests/golden/run.sh --update)"; fail=$((fail + 1))
	elif ! diff -u "$exp" <(printf '%s\n' "$got") > /tmp/golden.$$; then
		echo "golden: $f differs:"; head -40 /tmp/golden.$$; fail=$((fail + 1))
	fi
done
rm -f /tmp/golden.$$
[ $update = 1 ] && { echo "golden: $n expected files written"; exit 0; }
echo "golden: $n fixtures, $fail differ"
echo "$((n - fail)) passed, $fail failed"
[ $fail = 0 ]
