# tests/lib/dovecot.sh - a throwaway Dovecot IMAP server on loopback, for the
# test and benchmark scripts (source it).  Recipe: shared reference,
# dependencies §5: the whole instance runs as an unprivileged user (nobody
# when we are root: imap-login refuses root) from a temporary configuration.
#
#   dovecot_setup DIR USER PASS [tls]   write DIR/dovecot.conf + passwd; sets
#                                       PORT (IMAP/STARTTLS), SPORT (IMAPS with
#                                       tls, else 0), DUSER, DGROUP, AS (the
#                                       runuser prefix); returns 1 when the
#                                       certificate for tls cannot be made
#   dovecot_own                         chown DIR to the server's user (call
#                                       after putting mail into DIR/home)
#   dovecot_start / dovecot_stop        start (waits for the port) / stop
#   free_port                           a free TCP port on 127.0.0.1

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

dovecot_setup() {
	DV_DIR=$1
	local user=$2 pass=$3 tls=${4:-} ssl="ssl = no" imaps="port = 0"
	PATH=$PATH:/usr/sbin
	if [ "$(id -u)" -eq 0 ]; then
		DUSER=nobody; DGROUP=$(id -gn nobody 2>/dev/null || echo nogroup)
		AS=(runuser -u nobody --)
	else
		DUSER=$(id -un); DGROUP=$(id -gn); AS=()
	fi
	PORT=$(free_port)
	SPORT=0
	if [ -n "$tls" ]; then
		SPORT=$(free_port)
		while [ "$SPORT" = "$PORT" ]; do SPORT=$(free_port); done
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DV_DIR/key.pem" \
			-out "$DV_DIR/cert.pem" -days 3 -subj /CN=localhost \
			-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 ||
			return 1
		ssl="ssl = yes
ssl_cert = <$DV_DIR/cert.pem
ssl_key = <$DV_DIR/key.pem"
		imaps="address = 127.0.0.1
    port = $SPORT"
	fi
	cat > "$DV_DIR/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $DV_DIR/run
state_dir = $DV_DIR/state
log_path = $DV_DIR/dovecot.log
$ssl
disable_plaintext_auth = no
auth_mechanisms = plain login
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
    $imaps
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
  args = scheme=PLAIN username_format=%u $DV_DIR/passwd
}
userdb {
  driver = static
  args = uid=$DUSER gid=$DGROUP home=$DV_DIR/home/%u
}
CONF
	echo "$user:{PLAIN}$pass" > "$DV_DIR/passwd"
	mkdir -p "$DV_DIR/run" "$DV_DIR/state" "$DV_DIR/home"
	dovecot_own
}

dovecot_own() {
	[ "$(id -u)" -eq 0 ] && chown -R "$DUSER:$DGROUP" "$DV_DIR"
	return 0
}

# Up to three tries: a port free when dovecot_setup chose it may be taken
# by a test running in parallel before the server binds it; then new ports
# go into the configuration.
dovecot_start() {
	local try old new
	for try in 1 2 3; do
		if "${AS[@]}" dovecot -c "$DV_DIR/dovecot.conf"; then
			for _ in $(seq 50); do
				(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
				sleep 0.1
			done
		fi
		echo "dovecot_start: try $try failed: $(tail -n 2 "$DV_DIR/dovecot.log" 2>/dev/null)" >&2
		dovecot_stop
		for old in PORT SPORT; do
			[ "${!old}" != 0 ] || continue
			new=$(free_port)
			sed -i "s/^\( *port = \)${!old}\$/\1$new/" "$DV_DIR/dovecot.conf"
			printf -v "$old" '%s' "$new"
		done
	done
	return 1
}

dovecot_stop() {
	local pid
	pid=$(cat "$DV_DIR/run/master.pid" 2>/dev/null) || return 0
	"${AS[@]}" dovecot -c "$DV_DIR/dovecot.conf" stop 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
}
