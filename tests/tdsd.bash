# Starting and stopping tdsd for a bats suite. Load after common:
#	load common
#	load tdsd
# and call tdsd_stop_all from teardown.

# tdsd_demo_db PATH: a fresh copy of the synthetic demo database at PATH
# (tests/fixtures/demo-db.sql), for the jobs' suites.
tdsd_demo_db() {
	sqlite3 -bail "$1" < "$TOP/tests/fixtures/demo-db.sql"
}

# tdsd_start DB [OPTION...]: a tdsd over DB on a free port; exports
# SCHEDFEED_DB_SERVER and SCHEDFEED_DB_PORT and the default login.
tdsd_start() {
	local db=$1 out i
	shift
	out=$(mktemp "$W/tdsd.XXXXXX")
	# 3>&- : bats waits for fd 3; a server left holding it hangs the run
	"$TDSD" -f "$db" -p 0 "$@" >"$out" 2>"$out.err" 3>&- &
	echo $! >>"$W/tdsd.pids"
	for i in $(seq 600); do
		SCHEDFEED_DB_PORT=$(awk '$1 == "port" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$out")
		if [ -n "$SCHEDFEED_DB_PORT" ]; then
			export SCHEDFEED_DB_PORT SCHEDFEED_DB_SERVER=127.0.0.1 \
				SCHEDFEED_DB_USER=schedfeed \
				SCHEDFEED_DB_PASSWORD=schedfeed
			return 0
		fi
		sleep 0.05
	done
	echo "tdsd did not start" >&2
	cat "$out.err" >&2
	return 1
}

# tdsd_stop_all: SIGTERM to every tdsd this test started, and wait.
tdsd_stop_all() {
	local pid
	for pid in $(cat "$W/tdsd.pids" 2>/dev/null); do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -f "$W/tdsd.pids"
}
