#!/usr/bin/env bash
# test.sh [asan] - everything `make test` runs, after scripts/bootstrap.sh
# test (with `asan`, step 3 only: `make test-asan`):
#   1. banned-call check over src/
#   2. build (warnings are errors in CI) and run every test under ctest:
#      unit (cmocka), golden files, corpus cross-check, fuzz regression replay,
#      integration against real Dovecot / dnsmasq on loopback, browser e2e
#   3. the same suite again on an ASan+UBSan build
# Each test script starts the servers it needs on loopback high ports and
# skips (exit 77) only when a tool is missing, which bootstrap prevents.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
WERROR=-DDMARCSTAT_WERROR=ON

echo "== banned calls"
scripts/check-banned.sh

if [ "${1:-}" != asan ]; then
	echo "== build"
	cmake -S . -B build $WERROR -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$JOBS"

	echo "== tests"
	(cd build && ctest --output-on-failure -j"$JOBS" --timeout 900)
fi

echo "== tests under ASan+UBSan"
cmake -S . -B build-asan $WERROR -DDMARCSTAT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$JOBS"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
# Browser tests exercise the same server code paths already covered by the
# API tests; they are slow under ASan, so the sanitizer run skips them.
(cd build-asan && DMARCSTAT_SANITIZED=1 ctest --output-on-failure -j"$JOBS" --timeout 1800 -E 'e2e')
