#!/usr/bin/env bash
# bootstrap.sh [run|test] - install what dmarcstat needs on Debian 12,
# idempotently.  `run` installs the build and runtime packages; `test` adds
# the test servers (Dovecot, dnsmasq, PostgreSQL, SMTP sink), Chromium,
# clang for fuzzing, and the pinned npm packages.  Uses apt-get as root, or
# sudo when not root.  Prints nothing when everything is already there.
set -euo pipefail
mode=${1:-run}
cd "$(dirname "$0")/.."

BUILD_PKGS="build-essential pkg-config cmake python3 libexpat1-dev libarchive-dev zlib1g-dev libdeflate-dev
 libgmime-3.0-dev libcurl4-openssl-dev libc-ares-dev libpsl-dev publicsuffix libloc-dev
 libloc-database libmaxminddb-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3
 libsodium-dev iso-codes ca-certificates"
TEST_PKGS="libcmocka-dev dovecot-imapd dnsmasq-base python3-aiosmtpd chromium clang-14
 libclang-rt-14-dev bind9-dnsutils libmaxmind-db-writer-perl openssl postgresql-15 libpq-dev
 curl procps fonts-ipafont-gothic"

pkgs=$BUILD_PKGS
[ "$mode" = test ] && pkgs="$pkgs $TEST_PKGS"

missing=()
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js may come from elsewhere (a nodesource build bundles npm and
# conflicts with Debian's npm package): only install it when npm is missing.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	echo "bootstrap: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Pinned front-end packages (package-lock.json) -> web/vendor/.
if [ -f package.json ]; then
	if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		npm ci --no-audit --no-fund --loglevel=error >&2
	fi
	[ -x scripts/vendor.sh ] && scripts/vendor.sh
fi
exit 0
