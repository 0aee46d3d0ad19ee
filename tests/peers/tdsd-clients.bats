#!/usr/bin/env bats
# Real clients nobody here wrote against tdsd: tedious (npm, the most used
# Node.js TDS driver) and python-tds (Debian's python3-tds). Each check of
# tdsd-tedious.js and tdsd-pytds.py prints one line; one that fails fails
# its test here, its lines shown.

load ../common
load ../tdsd

setup() {
	common_setup
	sqlite3 -bail "$W/peers.sqlite" <"$TOP/tests/peers/schema.sql"
	tdsd_start "$W/peers.sqlite"
	export PORT=$SCHEDFEED_DB_PORT SCHEDFEED_TOP=$TOP
}

teardown() {
	tdsd_stop_all
}

# checks COUNT CMD...: runs the checks; every line "ok", at least COUNT of
# them, and the summary line last.
checks() {
	local want=$1
	shift
	run timeout 300 "$@"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	! grep -q '^not ok' <<<"$output"
	[ "$(grep -c '^ok ' <<<"$output")" -ge "$want" ]
	[[ "${lines[-1]}" == *": $(grep -c '^ok ' <<<"$output") passed, 0 failed" ]]
}

@test "tedious: connect, every type, parameters, decimals, errors, transactions, savepoints, cancel, timeouts" {
	[ -d "$TOP/tests/node/node_modules/tedious" ] ||
		skip "tedious is not installed: make deps (npm install --prefix tests/node)"
	command -v node >/dev/null || skip "node is not installed"
	checks 94 node "$TOP/tests/peers/tdsd-tedious.js"
}

@test "python-tds: every type, parameters, decimals, errors, transactions, savepoints, cancel" {
	"$PY" -c 'import pytds' 2>/dev/null || skip "python3-tds is not installed"
	checks 17 "$PY" "$TOP/tests/peers/tdsd-pytds.py"
}

@test "a failing check fails the run: its line says which and why" {
	command -v node >/dev/null || skip "node is not installed"
	[ -d "$TOP/tests/node/node_modules/tedious" ] || skip "tedious is not installed"
	# amounts.three as FLOAT: tdsd then rightly sends 1.0005, and the
	# DECIMAL checks must say so; every other check still passes
	sed 's/three DECIMAL(10,3)/three FLOAT/' "$TOP/tests/peers/schema.sql" >"$W/float.sql"
	sqlite3 -bail "$W/float.sqlite" <"$W/float.sql"
	tdsd_start "$W/float.sqlite"
	PORT=$SCHEDFEED_DB_PORT run timeout 300 node "$TOP/tests/peers/tdsd-tedious.js"
	[ "$status" -eq 1 ]
	grep -q '^not ok DECIMAL exact: 1.0005 -> 1.001.*1.0005' <<<"$output"
	# only the DECIMAL checks fail, and the summary counts them
	failures=$(grep -c '^not ok' <<<"$output")
	[ "$(grep -c '^not ok DECIMAL exact' <<<"$output")" -eq "$failures" ]
	[[ "${lines[-1]}" == "tedious: "*" passed, $failures failed" ]]
	# a server that refuses logins: python-tds fails, with the reason
	tdsd_start "$W/peers.sqlite" --refuse-logins
	PORT=$SCHEDFEED_DB_PORT run timeout 120 "$PY" "$TOP/tests/peers/tdsd-pytds.py"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Login failed"* ]]
}
