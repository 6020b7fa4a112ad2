#!/usr/bin/env bash
# check-banned.sh - fail when src/ uses a call that is easy to misuse with
# untrusted input.  Use the bounded alternative (snprintf, memcpy with a
# checked length, strtol/strtoul with end checks, strtok_r, fgets/getline).
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|tmpnam|mktemp)[[:space:]]*\('
if grep -rEn "$banned" src bench tests/unit tests/fuzz --include='*.c' --include='*.h' \
	| grep -vE '^\S+:[0-9]+:\s*(/?\*|//)'; then
	echo "check-banned: banned calls above" >&2
	exit 1
fi
echo "check-banned: ok"
