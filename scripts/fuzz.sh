#!/usr/bin/env bash
# fuzz.sh [SECONDS] - builds the libFuzzer harnesses of tests/fuzz with clang
# (ASan+UBSan) in build-fuzz and runs each for SECONDS (default 60) over a
# working copy of its seeds.  A crashing input is saved in
# build-fuzz/artifacts/<name>/; once the bug is fixed, copy it to
# tests/fuzz/regressions/<name>/ so that `make test` replays it for good.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cc=$(command -v clang || command -v clang-14) ||
	{ echo "fuzz: clang is not installed (make fuzz runs the test set-up, which installs it)"; exit 1; }
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER="$cc" -DDMARCSTAT_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)"
status=0
for h in tests/fuzz/fuzz_*.c; do
	name=$(basename "$h" .c); name=${name#fuzz_}
	work=build-fuzz/corpus/$name art=build-fuzz/artifacts/$name
	mkdir -p "$work" "$art"
	for d in tests/fuzz/seeds/$name tests/fuzz/regressions/$name; do
		[ -d "$d" ] && cp -n "$d"/* "$work"/ 2>/dev/null || true
	done
	echo "== fuzz_$name for ${secs}s"
	if ! build-fuzz/fuzz_"$name" -max_total_time="$secs" -rss_limit_mb=2048 \
		-artifact_prefix="$art/" "$work" > "build-fuzz/fuzz_$name.log" 2>&1; then
		echo "fuzz_$name: FOUND A PROBLEM, input in $art/ (log: build-fuzz/fuzz_$name.log)"
		status=1
	else
		grep -E '^Done [0-9]+ runs' "build-fuzz/fuzz_$name.log" || true
	fi
done
exit $status
