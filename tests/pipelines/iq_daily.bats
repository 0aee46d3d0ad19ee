#!/usr/bin/env bats
# pipelines/iq_daily.sh against tdsd over the synthetic demo database
# (tests/fixtures/demo-db.sql); iq_daily_babelfish.bats, a symbolic link to
# this file, runs the same tests on Babelfish (demo_db.bash). The expected
# feeds under tests/fixtures/iq_daily/ were worked out by hand from
# specs/iqueue.md; the generator's comment table says why each appointment
# is in or out. Both engines must give them byte for byte.

load ../common
load job
load ../tdsd
load ../babelfish
load ../engine
load demo_db

FIX="$TOP/tests/fixtures"
JOB="$TOP/pipelines/iq_daily.sh"

setup_file() {
	demo_db_setup_file
}

teardown_file() {
	demo_db_teardown_file
}

setup() {
	common_setup
	# one engine is enough where the engine makes no difference (and each
	# Babelfish connection spends seconds parsing the query cold)
	case $BATS_TEST_DESCRIPTION in
	*"previous business day"*) demo_db_tdsd_only "the shell works out these dates" ;;
	"demo.sh: "*) demo_db_tdsd_only "demo.sh runs its own tdsd" ;;
	*"--force resends"* | *"not in the archive"*)
		demo_db_tdsd_only "the ledger's logic, the same on any engine" ;;
	esac
	unset IQ_SQL IQ_SHAPE IQ_DEPT IQ_UNIT IQ_FILE_NAME
	export IQ_DEST="$W/dest"
	mkdir -p "$IQ_DEST"
	STAGING="$SCHEDFEED_STATE_DIR/iq_daily/staging"
	ARCHIVE="$SCHEDFEED_STATE_DIR/iq_daily/archive"
	LEDGER="$SCHEDFEED_STATE_DIR/iq_daily/ledger"
	# Only the tests that reach the database need a server.
	export SCHEDFEED_DB_SERVER=127.0.0.1 SCHEDFEED_DB_PORT=1
	export SCHEDFEED_DB_DATABASE=demo SCHEDFEED_DB_USER=schedfeed
	export SCHEDFEED_DB_PASSWORD=schedfeed
}

# with_db [TDSD OPTION...]: a demo database server for this test, on
# this file's engine (tdsd options: tdsd only).
with_db() {
	command -v sched-query >/dev/null || skip "sched-query is not built"
	command -v csv-shape >/dev/null || skip "csv-shape is not built"
	demo_db_start "$@"
}

teardown() {
	tdsd_stop_all
}

# No temporary anywhere: the staging directory and IQ_DEST hold no
# hidden file. (Not with `run`: the caller's $output stays the job's.)
assert_no_temporaries() {
	[ -z "$(find "$STAGING" -name '.*' -type f)" ]
	[ -z "$(find "$IQ_DEST" -name '.*' -type f)" ]
}

# After a run that delivered: nothing staged at all.
assert_nothing_staged() {
	[ -z "$(ls -A "$STAGING")" ]
}

# run_feed RUN_DATE: runs the job; the feed must be the hand-worked file,
# byte for byte, mode 0600, alone in IQ_DEST, the same bytes archived
# under the run date, in the ledger, with nothing left behind.
run_feed() {
	local name
	name=unmcc_$(echo "$1" | tr - _).csv
	with_db
	run sh "$JOB" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	diff -u "$FIX/iq_daily/$name" "$IQ_DEST/$name"
	cmp "$FIX/iq_daily/$name" "$IQ_DEST/$name"
	[ "$(file_mode "$IQ_DEST/$name")" = 600 ]
	[ "$(ls -A "$IQ_DEST")" = "$name" ]
	cmp "$FIX/iq_daily/$name" "$ARCHIVE/$(echo "$1" | tr - /)/$name"
	[ "$(file_mode "$ARCHIVE/$(echo "$1" | tr - /)/$name")" = 600 ]
	[ "$(ledger_rows)" = "$(printf '%s\t%s\t%s\t%s\tsent' "$1" "$name" \
	    "$(sha "$FIX/iq_daily/$name")" "$IQ_DEST")" ]
	assert_no_temporaries
	assert_nothing_staged
}

@test "iq_daily: Monday 2026-11-23 looks back to Friday; feed equals the hand-worked file" {
	run_feed 2026-11-23
	[ "$(log_of "$output")" = "iq_daily 2026-11-23 start
iq_daily 2026-11-23 feed: past day 2026-11-20, future 2026-11-23 to 2027-01-22, file unmcc_2026_11_23.csv
iq_daily 2026-11-23 query ok
iq_daily 2026-11-23 shape ok
iq_daily 2026-11-23 deliver ok (sent)
iq_daily 2026-11-23 archive ok
iq_daily 2026-11-23 done" ]
	# the same lines in the job's log
	[ "$(log_of "$(cat "$SCHEDFEED_STATE_DIR/iq_daily/log")")" = "$(log_of "$output")" ]
}

@test "iq_daily: Wednesday 2026-11-25 looks back to Tuesday; feed equals the hand-worked file" {
	run_feed 2026-11-25
	[[ "$output" == *" iq_daily 2026-11-25 feed: past day 2026-11-24, future 2026-11-25 to 2027-01-24, file unmcc_2026_11_25.csv"* ]]
}

@test "iq_daily: the log names steps and dates, never patient data" {
	with_db
	run sh "$JOB" 2026-11-23
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 7 ]
	for word in 1001 Alvarez Infusion Chair Completed M0001001; do
		[[ "$output" != *"$word"* ]]
		! grep -q "$word" "$SCHEDFEED_STATE_DIR/iq_daily/log" "$LEDGER"
	done
}

@test "iq_daily: previous business day for each day of the week" {
	with_db
	local day want
	for day in 2026-11-23:2026-11-20 2026-11-24:2026-11-23 \
	    2026-11-25:2026-11-24 2026-11-26:2026-11-25 2026-11-27:2026-11-26 \
	    2026-11-28:2026-11-27 2026-11-29:2026-11-27 2027-01-01:2026-12-31 \
	    2028-03-01:2028-02-29; do
		want=${day#*:}
		day=${day%:*}
		run sh "$JOB" "$day"
		echo "$day: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *" $day feed: past day $want, "* ]]
	done
}

@test "iq_daily: the horizon is RUN_DATE through RUN_DATE + 60 days" {
	with_db
	run sh "$JOB" 2026-11-23
	[ "$status" -eq 0 ]
	# 2027-01-22 is the last day in, 2027-01-23 the first out
	grep -q '^Future,.*,2027-01-22 23:30:00,' "$IQ_DEST/unmcc_2026_11_23.csv"
	! grep -q ',2027-01-23 ' "$IQ_DEST/unmcc_2026_11_23.csv"
	run sh "$JOB" 2026-12-31
	[[ "$output" == *"future 2026-12-31 to 2027-03-01,"* ]]
	run sh "$JOB" 2028-01-01
	[[ "$output" == *"future 2028-01-01 to 2028-03-01,"* ]]
}

@test "iq_daily: an invalid RUN_DATE exits 64 with a clear message" {
	local bad
	for bad in 2026-02-29 2026-13-01 2026-11-31 2026-11-5 26-11-23 \
	    2026/11/23 20261123 'next monday' 2026-11-23x '' -x; do
		run sh "$JOB" "$bad"
		echo "'$bad': $output"
		[ "$status" -eq 64 ]
		[[ "$output" == *"usage: iq_daily [--wait[=SECONDS]] [--force] [DATE]"* ]]
		if [ "$bad" != -x ]; then
			[[ "$output" == *"invalid RUN_DATE '$bad': expected YYYY-MM-DD, a real day"* ]]
		fi
	done
	# an hour is a date for hourly jobs, not for this one
	run sh "$JOB" 2026-11-23T04
	[ "$status" -eq 64 ]
	[[ "$output" == *"invalid RUN_DATE '2026-11-23T04'"* ]]
	run sh "$JOB" 2026-11-23 2026-11-24
	[ "$status" -eq 64 ]
	run sh "$JOB" --bogus 2026-11-23
	[ "$status" -eq 64 ]
	[ -z "$(ls -A "$IQ_DEST")" ]
	# usage errors touch no state
	[ ! -e "$SCHEDFEED_STATE_DIR" ]
}

@test "iq_daily: a dropped connection leaves no file and exits 75" {
	with_db --drop-after-rows 5
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 75 ]
	[ -z "$(ls -A "$IQ_DEST")" ]
	assert_no_temporaries
	[[ "$output" == *" iq_daily 2026-11-23 query failed (status 75)"* ]]
	[[ "$output" != *"shape ok"* ]]
	[[ "$output" != *"deliver"* ]]
	[ ! -e "$LEDGER" ]
	[ -z "$(find "$ARCHIVE" -type f)" ]
}

@test "iq_daily: a failed run leaves the last good file alone" {
	with_db
	run sh "$JOB" 2026-11-23
	[ "$status" -eq 0 ]
	with_db --drop-after-rows 3
	run sh "$JOB" 2026-11-23
	[ "$status" -eq 75 ]
	cmp "$FIX/iq_daily/unmcc_2026_11_23.csv" "$IQ_DEST/unmcc_2026_11_23.csv"
	assert_no_temporaries
	# the server back: the re-run finds the same rows, sends nothing
	with_db
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" deliver unmcc_2026_11_23.csv already delivered to $IQ_DEST, nothing sent"* ]]
	[ "$(ledger_rows | wc -l)" -eq 1 ]
	assert_nothing_staged
}

@test "iq_daily: wrong database password fails at the query step, no file" {
	with_db
	export SCHEDFEED_DB_PASSWORD=Not-The-Pa55word
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *" query failed (status 77)"* ]]
	[[ "$output" != *Not-The-Pa55word* ]]
	[ -z "$(ls -A "$IQ_DEST")" ]
	assert_no_temporaries
}

@test "iq_daily: a shape failure leaves no file and exits with csv-shape's status" {
	with_db
	printf -- '-c Rec_Type,No_Such_Column\n' > "$W/bad.shape"
	IQ_SHAPE="$W/bad.shape" run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 65 ]
	[[ "$output" == *" query ok"* ]]
	[[ "$output" == *" shape failed (status 65)"* ]]
	[ -z "$(ls -A "$IQ_DEST")" ]
	assert_no_temporaries
	# the query's rows stay staged, private, for the re-run to resume
	[ "$(ls -A "$STAGING/2026-11-23")" = query.csv ]
	[ "$(file_mode "$STAGING/2026-11-23/query.csv")" = 600 ]
	# the profile fixed, the re-run shapes what was staged and delivers,
	# even with the database gone
	tdsd_stop_all
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" query skipped (done in an earlier run)"* ]]
	[[ "$output" == *" shape ok"* ]]
	cmp "$FIX/iq_daily/unmcc_2026_11_23.csv" "$IQ_DEST/unmcc_2026_11_23.csv"
	assert_nothing_staged
}

@test "iq_daily: IQ_FILE_NAME, IQ_UNIT and IQ_DEPT are settings" {
	with_db
	IQ_FILE_NAME='ELQ_UNMCC%Y_%m.csv' IQ_UNIT='Infusion, North' \
	    run sh "$JOB" 2026-11-25
	[ "$status" -eq 0 ]
	[ "$(ls -A "$IQ_DEST")" = ELQ_UNMCC2026_11.csv ]
	# the unit holds a comma: quoted
	sed -n 2p "$IQ_DEST/ELQ_UNMCC2026_11.csv" |
	    grep -q '^Past,"Infusion, North",Infusion,1006,'
	IQ_DEPT=UNMRO IQ_FILE_NAME=ro.csv run sh "$JOB" 2026-11-23
	[ "$status" -eq 0 ]
	# UNMRO: Sch 114 on Friday (queued) and Sch 159 in the horizon
	[ "$(sed 1d "$IQ_DEST/ro.csv")" = "$(cat <<'ROWS'
Past,4th Floor Infusion,Infusion,1010,Infusion 1 Hr,2026-11-20 08:30:00,60,RO Infusion,C,Completed,,,2026-11-01 09:00:00,2026-11-20 09:30:00,RO Infusion,08:20,08:35,09:40
Future,4th Floor Infusion,Infusion,1010,Infusion 1 Hr,2026-12-02 10:00:00,60,RO Infusion,,Unresolved,,,2026-11-18 09:09:00,2026-11-18 09:09:00,,,,
ROWS
)" ]
}

@test "iq_daily: configuration errors" {
	IQ_DEST= run sh "$JOB" 2026-11-23
	[ "$status" -eq 78 ]
	[[ "$output" == *"IQ_DEST is not set"* ]]
	[[ "$output" == *" iq_daily 2026-11-23 config failed (status 78)"* ]]
	IQ_DEST='sftp://iq:Secr3t-Pw@127.0.0.1/in' run sh "$JOB" 2026-11-23
	[ "$status" -eq 78 ]
	[[ "$output" == *"IQ_DEST: a password in the URL is refused; set SFTP_PASSWORD_FILE"* ]]
	[[ "$output" != *Secr3t-Pw* ]]
	! grep -q Secr3t-Pw "$SCHEDFEED_STATE_DIR/iq_daily/log"
	IQ_DEST='ftp://iq@127.0.0.1/in' run sh "$JOB" 2026-11-23
	[ "$status" -eq 78 ]
	[[ "$output" == *"only sftp:// URLs and directories are supported"* ]]
	IQ_DEST="$W/missing" run sh "$JOB" 2026-11-23
	[ "$status" -eq 73 ]
	[[ "$output" == *"is not a writable directory"* ]]
	IQ_FILE_NAME='feeds/%F.csv' run sh "$JOB" 2026-11-23
	[ "$status" -eq 78 ]
	[[ "$output" == *"does not make a plain file name"* ]]
	IQ_FILE_NAME='.%F' run sh "$JOB" 2026-11-23
	[ "$status" -eq 78 ]
	IQ_SQL="$W/none.sql" run sh "$JOB" 2026-11-23
	[ "$status" -eq 66 ]
	[ -z "$(ls -A "$IQ_DEST")" ]
}

# --- the ledger, the lock, signals (directory delivery) -------------------

@test "iq_daily: the same date again sends nothing; --force resends; a new day is sent" {
	run_feed 2026-11-23
	local f=$IQ_DEST/unmcc_2026_11_23.csv inode
	inode=$(stat -c %i "$f")
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" iq_daily 2026-11-23 deliver unmcc_2026_11_23.csv already delivered to $IQ_DEST, nothing sent"* ]]
	[ "$(stat -c %i "$f")" = "$inode" ]
	[ "$(ledger_rows | wc -l)" -eq 1 ]
	# not archived twice: nothing was sent
	[ "$(find "$ARCHIVE" -type f | wc -l)" -eq 1 ]
	assert_nothing_staged
	run sh "$JOB" --force 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" iq_daily 2026-11-23 start (--force)"* ]]
	[[ "$output" == *" iq_daily 2026-11-23 deliver ok (resent)"* ]]
	[ "$(stat -c %i "$f")" != "$inode" ]
	cmp "$FIX/iq_daily/unmcc_2026_11_23.csv" "$f"
	[ "$(ledger_rows | cut -f1,2,5)" = "$(printf '2026-11-23\tunmcc_2026_11_23.csv\tsent\n2026-11-23\tunmcc_2026_11_23.csv\tresent')" ]
	# the resent copy archived beside the first, neither overwritten
	cmp "$FIX/iq_daily/unmcc_2026_11_23.csv" "$ARCHIVE/2026/11/23/unmcc_2026_11_23.csv.1"
	run sh "$JOB" 2026-11-25
	[ "$status" -eq 0 ]
	[[ "$output" == *" deliver ok (sent)"* ]]
	cmp "$FIX/iq_daily/unmcc_2026_11_25.csv" "$ARCHIVE/2026/11/25/unmcc_2026_11_25.csv"
}

@test "iq_daily: a delivery in the ledger but not in the archive is archived by the next run" {
	# the state a run killed between delivering and archiving leaves
	run_feed 2026-11-23
	rm "$ARCHIVE/2026/11/23/unmcc_2026_11_23.csv"
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" deliver unmcc_2026_11_23.csv already delivered to $IQ_DEST, nothing sent"* ]]
	cmp "$FIX/iq_daily/unmcc_2026_11_23.csv" "$ARCHIVE/2026/11/23/unmcc_2026_11_23.csv"
	assert_nothing_staged
	# and only once
	run sh "$JOB" 2026-11-23
	[ "$status" -eq 0 ]
	[ "$(find "$ARCHIVE" -type f | wc -l)" -eq 1 ]
}

@test "iq_daily: a second run while one holds the lock exits 75; --wait=SECONDS gives up with 75" {
	# one row every 200 ms: the first run takes seconds
	with_db --row-delay-ms 200
	sh "$JOB" 2026-11-23 > "$W/first.log" 2>&1 &
	local first=$!
	for _ in $(seq 100); do
		grep -q ' feed: ' "$W/first.log" && break
		sleep 0.05
	done
	run sh "$JOB" 2026-11-23
	[ "$status" -eq 75 ]
	[ "$output" = "iq_daily: another run holds the lock" ]
	run sh "$JOB" --wait=1 2026-11-25
	[ "$status" -eq 75 ]
	[[ "$output" == *"iq_daily: another run still holds the lock after 1 seconds"* ]]
	# --wait: runs once the first is done, and sends nothing again
	run sh "$JOB" --wait 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"iq_daily: another run holds the lock, waiting"* ]]
	[[ "$output" == *" deliver unmcc_2026_11_23.csv already delivered to $IQ_DEST, nothing sent"* ]]
	wait "$first"
	cat "$W/first.log"
	[ "$(ledger_rows | wc -l)" -eq 1 ]
}

@test "iq_daily: TERM during the query stops sched-query, exits 143, sends nothing" {
	with_db --row-delay-ms 300
	sh "$JOB" 2026-11-23 > "$W/job.log" 2>&1 &
	local job=$! st=0
	for _ in $(seq 100); do
		pgrep -f "^sched-query -f $TOP/pipelines/sql/iq_daily.sql" > /dev/null && break
		sleep 0.05
	done
	sleep 0.3
	kill -TERM "$job"
	wait "$job" || st=$?
	cat "$W/job.log"
	[ "$st" -eq 143 ]
	grep -q ' iq_daily 2026-11-23 query failed (status 143)$' "$W/job.log"
	run pgrep -f "^sched-query -f $TOP/pipelines/sql/iq_daily.sql"
	[ "$status" -eq 1 ]
	[ -z "$(ls -A "$IQ_DEST")" ]
	assert_no_temporaries
	[ ! -e "$LEDGER" ]
}

# --- make demo ---------------------------------------------------------

# build_name: the build directory of the programs under test (build,
# build-san, ...), as make's BUILD names it for demo.sh.
build_name() {
	basename "$(dirname "$(dirname "$(command -v sched-query)")")"
}

# No process left that has the test's scratch directory on its command
# line (the demo's database lives there).
assert_no_demo_process() {
	run pgrep -f "$W/"
	echo "left behind: $output"
	[ "$status" -eq 1 ]
}

@test "demo.sh: runs the job against tdsd, shows the file, stops tdsd" {
	with_db
	tdsd_stop_all
	TMPDIR="$W" DEMO_OUT="$W/demo-out" TDSD="$TDSD" \
	    BUILD="$(build_name)" DEMO_KEEP_DB="$W/kept.sqlite" \
	    run sh "$FIX/demo.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$FIX/iq_daily/unmcc_2026_11_23.csv" "$W/demo-out/unmcc_2026_11_23.csv"
	[[ "$output" == *"the iQueue feed for 2026-11-23 is $W/demo-out/unmcc_2026_11_23.csv (28 lines):"* ]]
	[[ "$output" == *"Past,4th Floor Infusion,Infusion,1008,Phlebotomy,"* ]]
	assert_no_demo_process
	[ -z "$(find "$W" -maxdepth 1 -name 'schedfeed-demo.*')" ]
	# the demo database holds the BAT tables and the demo rules too
	run sqlite3 "$W/kept.sqlite" "SELECT count(*) > 0 FROM bat_collection WHERE active = 'Y'"
	[ "$output" = 1 ]
}

@test "demo.sh: a failing step still stops tdsd" {
	with_db
	tdsd_stop_all
	TMPDIR="$W" DEMO_OUT="$W/demo-out" DEMO_DATE=2026-02-30 \
	    BUILD="$(build_name)" \
	    run sh "$FIX/demo.sh"
	echo "$output"
	[ "$status" -eq 64 ]
	[[ "$output" == *"demo: pipelines/iq_daily.sh failed with status 64"* ]]
	assert_no_demo_process
	[ -z "$(find "$W" -maxdepth 1 -name 'schedfeed-demo.*')" ]
}

@test "demo.sh: interrupted mid-query, it still stops tdsd" {
	with_db
	tdsd_stop_all
	# A tdsd that sends one row every 300 ms: the query takes seconds.
	printf '#!/bin/sh\nexec "%s" "$@" --row-delay-ms 300\n' "$TDSD" \
	    > "$W/slow-tdsd"
	chmod +x "$W/slow-tdsd"
	TMPDIR="$W" DEMO_OUT="$W/demo-out" TDSD="$W/slow-tdsd" \
	    BUILD="$(build_name)" \
	    sh "$FIX/demo.sh" > "$W/demo.log" 2>&1 &
	local demo_pid=$!
	for _ in $(seq 100); do
		grep -q ' feed: past day' "$W/demo.log" 2>/dev/null && break
		sleep 0.1
	done
	kill -TERM "$demo_pid"
	local status=0
	wait "$demo_pid" || status=$?
	cat "$W/demo.log"
	[ "$status" -eq 143 ]
	assert_no_demo_process
	[ ! -e "$W/demo-out/unmcc_2026_11_23.csv" ]
}
