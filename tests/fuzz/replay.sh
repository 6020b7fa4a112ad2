#!/bin/bash
# replay.sh - replays the fuzz seeds and saved crashers through every
# libFuzzer harness, as an ordinary test (ctest runs it; 77 = skipped).
#
# For each tests/fuzz/fuzz_<name>.c that has tests/fuzz/seeds/<name> or
# tests/fuzz/regressions/<name>, the harness is compiled with
# -DFUZZ_REPLAY_MAIN (its own main() that reads files and directories)
# against the library already built in $DMARCSTAT_BUILD, with that build's
# compiler and flags (so an ASan build replays under ASan), and run over
# those directories.  Nothing of the project is built here.
set -u
src=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${DMARCSTAT_BUILD:-}
[ -n "$build" ] && [ -f "$build/libdmarccore.a" ] && [ -f "$build/CMakeCache.txt" ] || {
	echo "replay: no built library (set DMARCSTAT_BUILD)"; exit 77; }

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n1; }
cc=$(cache CMAKE_C_COMPILER); cc=${cc:-cc}
cflags="$(cache CMAKE_C_FLAGS)"
case "$(cache DMARCSTAT_SANITIZE)" in
ON|on|1|TRUE|true) cflags="$cflags -fsanitize=address,undefined -fno-omit-frame-pointer" ;;
esac
# the pkg-config modules of the project, as CMakeLists.txt lists them
deps=$(sed -n '/^pkg_check_modules(DEPS /,/)/p' "$src/CMakeLists.txt" |
	sed 's/pkg_check_modules(DEPS REQUIRED IMPORTED_TARGET//; s/)//' | tr -s ' \n' ' ')
[ -n "$deps" ] || { echo "replay: no dependency list in CMakeLists.txt"; exit 1; }
pc_cflags=$(pkg-config --cflags $deps) && pc_libs=$(pkg-config --libs $deps) || {
	echo "replay: pkg-config cannot resolve the dependencies"; exit 77; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0 ran=0
for h in "$src"/tests/fuzz/fuzz_*.c; do
	[ -e "$h" ] || continue
	name=$(basename "$h" .c); name=${name#fuzz_}
	dirs=()
	for d in "$src/tests/fuzz/seeds/$name" "$src/tests/fuzz/regressions/$name"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ ${#dirs[@]} -gt 0 ] || { echo "replay: $name: no seeds, skipped"; continue; }
	grep -q FUZZ_REPLAY_MAIN "$h" || {
		echo "replay: $name: no FUZZ_REPLAY_MAIN main() yet, skipped"; continue; }
	# shellcheck disable=SC2086
	if ! $cc -std=gnu11 -D_GNU_SOURCE -DFUZZ_REPLAY_MAIN $cflags -I"$src/src" -I"$build" \
	    $pc_cflags -o "$tmp/$name" "$h" "$build/libdmarccore.a" $pc_libs -lpthread -lm \
	    2>"$tmp/$name.log"; then
		echo "replay: $name: does not compile:"; cat "$tmp/$name.log"
		status=1; continue
	fi
	if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$tmp/$name" "${dirs[@]}"; then
		echo "replay: $name: ok"
	else
		echo "replay: $name: FAILED"; status=1
	fi
	ran=$((ran + 1))
done
# nothing ran: skipped, unless something failed to build
[ $ran -gt 0 ] || [ $status -ne 0 ] || exit 77
exit $status
