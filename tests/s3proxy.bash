# tests/s3-proxy.py, the fault relay in front of RGW, for a bats file.
# Load after common:   load common; load s3proxy   (or ../s3proxy)
#
# s3_proxy_start RGW_PORT CONTROL (setup_file): the relay on a free port
#   of 127.0.0.1, in front of RGW_PORT, reading its faults from the file
#   CONTROL (/dev/null: none) and capturing requests in
#   $BATS_FILE_TMPDIR/capture; waits until it listens and exports
#   PROXY_PORT.
# s3_proxy_stop (teardown_file): stops it, if it was started.

s3_proxy_start() {
	PROXY_PORT=$(free_port)
	"$PY" "$TOP/tests/s3-proxy.py" "$PROXY_PORT" "$1" "$2" \
	    "$BATS_FILE_TMPDIR/capture" >"$BATS_FILE_TMPDIR/proxy.out" 2>&1 &
	echo $! >"$BATS_FILE_TMPDIR/proxy.pid"
	for _ in $(seq 50); do
		grep -q '^port' "$BATS_FILE_TMPDIR/proxy.out" && break
		sleep 0.1
	done
	export PROXY_PORT
}

s3_proxy_stop() {
	[ -f "$BATS_FILE_TMPDIR/proxy.pid" ] &&
	    kill "$(cat "$BATS_FILE_TMPDIR/proxy.pid")" 2>/dev/null
	return 0
}
