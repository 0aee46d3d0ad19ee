#!/usr/bin/env bats
# feed-status: the state real job runs leave (iq_daily on the demo
# database through tdsd, and a small job on pipelines/lib/job.sh for a
# run that is still going or was killed), read back as one row per job.

load common
load tdsd

HEADER=job,date,start,end,outcome,failed_step,status,sent,correction,resent,already_delivered,steps_done,last_success
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}'

setup_file() {
	export W="$BATS_FILE_TMPDIR"
	tdsd_demo_db "$W/demo.sqlite"
	tdsd_start "$W/demo.sqlite"
	# the port and login for every test of the file
	printf 'export SCHEDFEED_DB_SERVER=%s SCHEDFEED_DB_PORT=%s\n' \
	    "$SCHEDFEED_DB_SERVER" "$SCHEDFEED_DB_PORT" > "$W/db.env"
}

teardown_file() {
	export W="$BATS_FILE_TMPDIR"
	tdsd_stop_all
}

setup() {
	common_setup
	. "$BATS_FILE_TMPDIR/db.env"
	export SCHEDFEED_DB_USER=schedfeed SCHEDFEED_DB_PASSWORD=schedfeed
	export IQ_DEST="$W/dest"
	mkdir -p "$IQ_DEST"
	unset SCHEDFEED_METRICS_DIR SCHEDFEED_ALERT_TO
}

teardown() {
	if [ -f "$W/job.pid" ]; then
		kill -TERM "$(cat "$W/job.pid")" 2>/dev/null || true
	fi
}

iq() {
	sh "$TOP/pipelines/iq_daily.sh" "$@" 2>>"$W/job.err"
}

# status_of JOB: its row with the times replaced by T
status_of() {
	feed-status --job "$1" | sed -n 2p | sed -E "s/$TS/T/g"
}

# A job of two steps on job.sh whose second waits for $W/go.
slow_job() {
	cat > "$W/slow.sh" <<EOF
here=$TOP/pipelines
. "\$here/lib/job.sh"
job_start slow 2026-11-23 "\$@"
job_step first true
job_step wait sh -c 'while [ ! -e "$W/go" ]; do sleep 0.1; done'
job_finish
EOF
	sh "$W/slow.sh" 2>>"$W/job.err" 3>&- &
	echo $! > "$W/job.pid"
	for _ in $(seq 200); do
		grep -q ' first ok$' "$SCHEDFEED_STATE_DIR/slow/log" 2>/dev/null && return 0
		sleep 0.05
	done
	false
}

@test "feed-status: a job never run, named with --job, is a row saying never" {
	mkdir -p "$SCHEDFEED_STATE_DIR"
	run feed-status --job iq_daily
	[ "$status" -eq 0 ]
	[ "$output" = "$HEADER
iq_daily,,,,never,,,0,0,0,0,0," ]
}

@test "feed-status: one row per job directory, sorted; other directories left out" {
	iq 2026-11-23
	mkdir -p "$SCHEDFEED_STATE_DIR/demo-out" "$SCHEDFEED_STATE_DIR/eod_data"
	: > "$SCHEDFEED_STATE_DIR/eod_data/lock"
	run feed-status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$HEADER" ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == eod_data,,,,never,* ]]
	[[ "${lines[2]}" == iq_daily,2026-11-23,* ]]
}

@test "feed-status: an ok run, then the same date again: sent, then already delivered" {
	iq 2026-11-23
	[ "$(status_of iq_daily)" = "iq_daily,2026-11-23,T,T,ok,,,1,0,0,0,0,T" ]
	iq 2026-11-23
	[ "$(status_of iq_daily)" = "iq_daily,2026-11-23,T,T,ok,,,0,0,0,1,0,T" ]
	iq --force 2026-11-23
	[ "$(status_of iq_daily)" = "iq_daily,2026-11-23,T,T,ok,,,0,0,1,0,0,T" ]
	# the last success is the end of the last run
	row=$(feed-status --job iq_daily | sed -n 2p)
	[ "$(echo "$row" | cut -d, -f4)" = "$(echo "$row" | cut -d, -f13)" ]
	[ "$(echo "$row" | cut -d, -f13)" = "$(awk '$4 == "done" { t = $1 } END { print t }' "$SCHEDFEED_STATE_DIR/iq_daily/log")" ]
}

@test "feed-status: a failed run names its step and status and keeps the last success" {
	iq 2026-11-23
	good=$(awk '$4 == "done" { t = $1 } END { print t }' "$SCHEDFEED_STATE_DIR/iq_daily/log")
	SCHEDFEED_DB_PASSWORD=wrong run iq 2026-11-24
	[ "$status" -eq 77 ]
	[ "$(status_of iq_daily)" = "iq_daily,2026-11-24,T,T,failed,query,77,0,0,0,0,0,T" ]
	[ "$(feed-status --job iq_daily | sed -n 2p | cut -d, -f13)" = "$good" ]
	# a failed shape, the query before it left to resume
	printf -- '-c Rec_Type,No_Such_Column\n' > "$W/bad.shape"
	IQ_SHAPE="$W/bad.shape" run iq 2026-11-25
	[ "$status" -eq 65 ]
	[ "$(status_of iq_daily)" = "iq_daily,2026-11-25,T,T,failed,shape,65,0,0,0,0,1,T" ]
}

@test "feed-status: a run holding the lock is running, and ok once it ends" {
	slow_job
	run feed-status --job slow
	[ "$status" -eq 0 ]
	[ "$(echo "${lines[1]}" | sed -E "s/$TS/T/g")" = "slow,2026-11-23,T,,running,,,0,0,0,0,1," ]
	# a second run still exits 75: the lock is the first run's
	run sh "$W/slow.sh"
	[ "$status" -eq 75 ]
	[ "$(status_of slow | cut -d, -f5)" = running ]
	touch "$W/go"
	wait "$(cat "$W/job.pid")" 2>/dev/null || true
	for _ in $(seq 200); do
		grep -q ' done$' "$SCHEDFEED_STATE_DIR/slow/log" && break
		sleep 0.05
	done
	[ "$(status_of slow)" = "slow,2026-11-23,T,T,ok,,,0,0,0,0,0,T" ]
}

@test "feed-status: a run killed with -9 is failed, step unknown, its done steps counted" {
	slow_job
	kill -KILL "$(cat "$W/job.pid")"
	wait "$(cat "$W/job.pid")" 2>/dev/null || true
	# the step left behind (it does not hold the lock) stops too
	touch "$W/go"
	for _ in $(seq 200); do
		[ "$(status_of slow | cut -d, -f5)" = failed ] && break
		sleep 0.05
	done
	[ "$(status_of slow)" = "slow,2026-11-23,T,T,failed,,,0,0,0,0,1," ]
}

@test "feed-status --deliveries: one row per delivery; --date picks a day and its hours" {
	iq 2026-11-23
	iq 2026-11-24
	run feed-status --deliveries
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "job,time,date,file,sha256,target,kind" ]
	[ "${#lines[@]}" -eq 3 ]
	sha=$(sha256sum < "$SCHEDFEED_STATE_DIR/iq_daily/archive/2026/11/24/unmcc_2026_11_24.csv" | cut -d' ' -f1)
	[ "$(echo "${lines[2]}" | sed -E "s/$TS/T/")" = "iq_daily,T,2026-11-24,unmcc_2026_11_24.csv,$sha,$IQ_DEST,sent" ]
	run feed-status --deliveries --date 2026-11-23 --job iq_daily
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *,2026-11-23,unmcc_2026_11_23.csv,*,sent ]]
	run feed-status --deliveries --date 2026-11-22
	[ "$output" = "job,time,date,file,sha256,target,kind" ]
}

@test "feed-status --deliveries: extra fields, other kinds of line and a torn line are tolerated" {
	d="$SCHEDFEED_STATE_DIR/bz_outbound"
	mkdir -p "$d"
	s=$(printf a%.0s $(seq 64))
	t=$(printf b%.0s $(seq 64))
	{
		printf '# a ledger\n'
		printf '2026-11-23T10:00:00+0000\t2026-11-23T09\tbz.csv\t%s\tbox:MTP/ToCity\tintent\n' "$s"
		printf '2026-11-23T10:00:01+0000\t2026-11-23T09\tbz.csv\t%s\tbox:MTP/ToCity\tsent\tfile-id=17\n' "$s"
		printf 'not a ledger line\n'
		printf '2026-11-23T11:00:00+0000\t2026-11-23T10\tbz.csv\t%s\tbox:MTP/ToCity\tcorrection\n' "$t"
		printf '2026-11-23T12:00:00+0000\t2026-11-23T11\tbz.csv\t%s\tbox:MTP/To' "$t"
	} > "$d/ledger"
	run feed-status --deliveries --date 2026-11-23
	[ "$status" -eq 0 ]
	[ "$output" = "job,time,date,file,sha256,target,kind
bz_outbound,2026-11-23T10:00:01+0000,2026-11-23T09,bz.csv,$s,box:MTP/ToCity,sent
bz_outbound,2026-11-23T11:00:00+0000,2026-11-23T10,bz.csv,$t,box:MTP/ToCity,correction" ]
}

@test "feed-status --late: a job with no success today exits 1 and says which" {
	iq 2026-11-23
	run feed-status --late iq_daily=00:00
	[ "$status" -eq 0 ]
	SCHEDFEED_DB_PASSWORD=wrong iq 2026-11-24 || true
	# the morning's success still counts
	run feed-status --late iq_daily=00:00
	[ "$status" -eq 0 ]
	# a success of yesterday does not
	sed -i -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T/2026-01-01T/' "$SCHEDFEED_STATE_DIR/iq_daily/log"
	run feed-status --late iq_daily=00:00,eod_data=00:00
	[ "$status" -eq 1 ]
	[[ "$output" == *"feed-status: iq_daily: no success today by 00:00 (last run 2026-11-24 failed at step query with status 77)"* ]]
	[[ "$output" == *"feed-status: eod_data: no success today by 00:00 (never run)"* ]]
	[[ "$output" == *"eod_data,,,,never,"* ]]
	# a deadline still to come is not late
	if [ "$(date +%H%M)" -lt 2359 ]; then
		run feed-status --late iq_daily=23:59
		[ "$status" -eq 0 ]
	fi
}

@test "feed-status: bad arguments exit 64 with a message" {
	mkdir -p "$SCHEDFEED_STATE_DIR"
	run feed-status --late iq_daily
	[ "$status" -eq 64 ]
	[[ "$output" == *"--late: iq_daily: want NAME=HH:MM"* ]]
	run feed-status --late iq_daily=4:30
	[ "$status" -eq 64 ]
	[[ "$output" == *"--late: 4:30: want a time HH:MM"* ]]
	run feed-status --late iq_daily=24:00
	[ "$status" -eq 64 ]
	run feed-status --job ../etc
	[ "$status" -eq 64 ]
	[[ "$output" == *"--job: ../etc: not a job name"* ]]
	run feed-status --job iq_daily --late eod_data=05:00
	[ "$status" -eq 64 ]
	[[ "$output" == *"--late eod_data: not the job of --job iq_daily"* ]]
	run feed-status --date 2026-11-23
	[ "$status" -eq 64 ]
	[[ "$output" == *"--date goes with --deliveries"* ]]
	run feed-status --deliveries --date 2026-11
	[ "$status" -eq 64 ]
	run feed-status extra
	[ "$status" -eq 64 ]
	[[ "$output" == *usage:* ]]
}

@test "feed-status: a state directory that cannot be read exits 66" {
	SCHEDFEED_STATE_DIR="$W/none" run feed-status
	[ "$status" -eq 66 ]
	[[ "$output" == "feed-status: $W/none: cannot read: No such file or directory" ]]
}

@test "feed-status: a closed stdout is an I/O error" {
	iq 2026-11-23
	run bash -c 'feed-status --deliveries > /dev/full'
	[ "$status" -eq 74 ]
}

@test "feed-status: no patient data in any output, the job's own log included" {
	iq 2026-11-23
	SCHEDFEED_DB_PASSWORD=wrong iq 2026-11-24 || true
	out=$(feed-status; feed-status --deliveries; feed-status --late iq_daily=00:00 2>&1 || true)
	feed="$IQ_DEST/unmcc_2026_11_23.csv"
	[ "$(wc -l < "$feed")" -gt 2 ]
	# every cell of the feed but dates, times, numbers and the constants
	tail -n +2 "$feed" | tr ',' '\n' | sed 's/^"//; s/"$//' |
	    grep -Ev '^[0-9: /.-]*$|^4th Floor Infusion$|^(AM|PM)$' | sort -u > "$W/cells"
	[ "$(wc -l < "$W/cells")" -gt 5 ]
	while IFS= read -r cell; do
		[ ${#cell} -ge 3 ] || continue
		if [[ "$out" == *"$cell"* ]]; then
			echo "PHI in feed-status output: $cell"
			false
		fi
	done < "$W/cells"
}
