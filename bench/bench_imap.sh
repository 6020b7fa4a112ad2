#!/usr/bin/env bash
# bench_imap.sh [BUILD_DIR] [N] - N (default 10,000) report messages fetched
# from a local Dovecot and imported by `dmarcstat fetch`, timed, with the
# peak RSS.  Target (issue 5): under 60 s, memory bounded (independent of N).
# The messages are written straight into the Maildir (APPEND of 10,000
# messages would time curl, not dmarcstat).  Needs dovecot, dmarcgen.
set -eu
B=${1:-build}
N=${2:-10000}
BIN=$(cd "$B" && pwd)/dmarcstat
GEN=$(cd "$B" && pwd)/dmarcgen
PATH=$PATH:/usr/sbin
command -v dovecot >/dev/null || { echo "bench_imap: dovecot not installed"; exit 77; }
[ -x "$GEN" ] || { echo "bench_imap: $GEN missing"; exit 77; }
T=$(mktemp -d /tmp/dmarcstat-bench-imap.XXXXXX)
if [ "$(id -u)" -eq 0 ]; then
	DUSER=nobody; DGROUP=$(id -gn nobody); AS=(runuser -u nobody --)
else
	DUSER=$(id -un); DGROUP=$(id -gn); AS=()
fi
PORT=$((20000 + RANDOM % 40000))
cat > "$T/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $T/run
state_dir = $T/state
log_path = $T/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = $DUSER
default_internal_user = $DUSER
default_internal_group = $DGROUP
mail_location = maildir:~/Maildir
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-reader {
    user = $DUSER
  }
  unix_listener stats-writer {
    user = $DUSER
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/passwd
}
userdb {
  driver = static
  args = uid=$DUSER gid=$DGROUP home=$T/home/%u
}
CONF
echo 'bench@example.com:{PLAIN}bench' > "$T/passwd"
MD=$T/home/bench@example.com/Maildir
mkdir -p "$T/run" "$T/state" "$MD/cur" "$MD/tmp"
echo "generating $N messages..."
"$GEN" --eml --out "$MD/new" --count "$N" --seed 5 -q
i=0
for f in "$MD/new"/*; do i=$((i + 1)); mv "$f" "$MD/new/$i.bench:2,${FLAGS:-}"; done
[ "$(id -u)" -eq 0 ] && chown -R "$DUSER:$DGROUP" "$T"
"${AS[@]}" dovecot -c "$T/dovecot.conf"
trap '"${AS[@]}" dovecot -c "$T/dovecot.conf" stop; rm -rf "$T"' EXIT
sleep 1
cat > "$T/d.conf" <<CONF
[mailbox bench]
url = imap://127.0.0.1:$PORT/
user = bench@example.com
password_env = BENCH_PW
starttls = no
allow_plaintext = yes
batch = 500
CONF
export BENCH_PW=bench
t0=$(date +%s.%N)
DMARCSTAT_IMAP_VERBOSE=${VERBOSE:-} ${WRAP:-} /usr/bin/time -f '%M' -o "$T/rss" "$BIN" --db "$T/b.db" --config "$T/d.conf" fetch
t1=$(date +%s.%N)
reports=$(sqlite3 "$T/b.db" 'SELECT count(*) FROM reports')
secs=$(echo "$t1 - $t0" | bc)
echo "bench_imap: messages=$N reports=$reports seconds=$secs max_rss_kb=$(cat "$T/rss")"
awk -v s="$secs" 'BEGIN { exit !(s < 60) }' || { echo "bench_imap: SLOWER than 60 s"; exit 1; }
