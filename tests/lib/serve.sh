# tests/lib/serve.sh - a `dmarcstat serve` on a random loopback port for
# the test scripts (source it).
#
#   serve_start OUT CMD...   runs CMD... --listen 127.0.0.1:PORT (CMD is the
#                            serve command line, e.g. env X=1 "$BIN" --db DB
#                            serve --no-enrich) with stdout/stderr in
#                            OUT.out/OUT.err until /api/health answers;
#                            sets PORT and SPID.  Five ports are tried (one
#                            may be taken); 1 when none worked.

serve_start() {
	local out=$1 _
	shift
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20000))
		"$@" --listen 127.0.0.1:$PORT >"$out.out" 2>"$out.err" &
		SPID=$!
		for _ in $(seq 50); do
			curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && return 0
			kill -0 $SPID 2>/dev/null || break
			sleep 0.1
		done
		kill $SPID 2>/dev/null; wait $SPID 2>/dev/null || true; SPID=
	done
	return 1
}
