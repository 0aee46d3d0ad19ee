#!/usr/bin/env bats
# pipelines/lib/metrics.sh: $SCHEDFEED_METRICS_DIR/schedfeed_JOB.prom at
# the end of every run, ok or failed, checked by Debian's promtool.

load ../common
load ../tdsd

setup() {
	common_setup
	tdsd_demo_db "$W/demo.sqlite"
	tdsd_start "$W/demo.sqlite"
	export IQ_DEST="$W/dest" SCHEDFEED_METRICS_DIR="$W/metrics"
	mkdir -p "$IQ_DEST" "$SCHEDFEED_METRICS_DIR"
	unset SCHEDFEED_ALERT_TO
	PROM="$SCHEDFEED_METRICS_DIR/schedfeed_iq_daily.prom"
}

teardown() {
	tdsd_stop_all
	[ ! -f "$W/job.pid" ] || kill -TERM "$(cat "$W/job.pid")" 2>/dev/null || true
}

promtool_check() {
	command -v promtool >/dev/null || skip "promtool (Debian's prometheus) is not installed"
	run promtool check metrics < "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# value FILE METRIC [KIND]: the metric's value
value() {
	if [ -n "${3:-}" ]; then
		awk -v m="$2{feed=\"${4:-iq_daily}\",kind=\"$3\"}" '$1 == m { print $2 }' "$1"
	else
		awk -v m="$2{feed=\"${4:-iq_daily}\"}" '$1 == m { print $2 }' "$1"
	fi
}

@test "metrics: an ok run writes the file promtool accepts, with its deliveries" {
	before=$(date +%s)
	sh "$TOP/pipelines/iq_daily.sh" 2026-11-23
	after=$(date +%s)
	promtool_check "$PROM"
	[ "$(value "$PROM" schedfeed_last_run_exit_status)" = 0 ]
	[ "$(value "$PROM" schedfeed_last_run_deliveries sent)" = 1 ]
	[ "$(value "$PROM" schedfeed_last_run_deliveries correction)" = 0 ]
	[ "$(value "$PROM" schedfeed_last_run_deliveries resent)" = 0 ]
	[ "$(value "$PROM" schedfeed_last_run_deliveries already_delivered)" = 0 ]
	start=$(value "$PROM" schedfeed_last_run_start_timestamp_seconds)
	end=$(value "$PROM" schedfeed_last_run_end_timestamp_seconds)
	[ "$start" -ge "$before" ] && [ "$end" -le "$after" ] && [ "$start" -le "$end" ]
	[ "$(value "$PROM" schedfeed_last_run_duration_seconds)" = $((end - start)) ]
	[ "$(value "$PROM" schedfeed_last_success_timestamp_seconds)" = "$end" ]
	# readable by node_exporter's user, and nothing else left beside it
	[ "$(file_mode "$PROM")" = 644 ]
	[ "$(ls -A "$SCHEDFEED_METRICS_DIR")" = schedfeed_iq_daily.prom ]
	# the same date again: nothing sent, one already delivered
	sh "$TOP/pipelines/iq_daily.sh" 2026-11-23
	[ "$(value "$PROM" schedfeed_last_run_deliveries sent)" = 0 ]
	[ "$(value "$PROM" schedfeed_last_run_deliveries already_delivered)" = 1 ]
	sh "$TOP/pipelines/iq_daily.sh" --force 2026-11-23
	[ "$(value "$PROM" schedfeed_last_run_deliveries resent)" = 1 ]
}

@test "metrics: a failed run writes its status and keeps the last success" {
	sh "$TOP/pipelines/iq_daily.sh" 2026-11-23
	good=$(value "$PROM" schedfeed_last_success_timestamp_seconds)
	sleep 1
	SCHEDFEED_DB_PASSWORD=wrong run sh "$TOP/pipelines/iq_daily.sh" 2026-11-24
	[ "$status" -eq 77 ]
	promtool_check "$PROM"
	[ "$(value "$PROM" schedfeed_last_run_exit_status)" = 77 ]
	[ "$(value "$PROM" schedfeed_last_success_timestamp_seconds)" = "$good" ]
	[ "$(value "$PROM" schedfeed_last_run_end_timestamp_seconds)" -gt "$good" ]
	[ "$(value "$PROM" schedfeed_last_run_deliveries sent)" = 0 ]
}

@test "metrics: a job never ok says 0 for its last success" {
	SCHEDFEED_DB_PASSWORD=wrong run sh "$TOP/pipelines/iq_daily.sh" 2026-11-24
	[ "$status" -eq 77 ]
	[ "$(value "$PROM" schedfeed_last_success_timestamp_seconds)" = 0 ]
}

@test "metrics: TERM in a step is recorded as 143; a run refused the lock writes nothing" {
	cat > "$W/slow.sh" <<EOF
here=$TOP/pipelines
. "\$here/lib/job.sh"
job_start slow 2026-11-23 "\$@"
job_step wait sleep 60
job_finish
EOF
	sh "$W/slow.sh" 2>"$W/slow.err" 3>&- &
	echo $! > "$W/job.pid"
	for _ in $(seq 200); do
		pgrep -P "$(cat "$W/job.pid")" sleep >/dev/null && break
		sleep 0.05
	done
	# a second run exits 75 and leaves no file
	run sh "$W/slow.sh"
	[ "$status" -eq 75 ]
	[ ! -e "$SCHEDFEED_METRICS_DIR/schedfeed_slow.prom" ]
	kill -TERM "$(cat "$W/job.pid")"
	wait "$(cat "$W/job.pid")" || rc=$?
	[ "$rc" -eq 143 ]
	promtool_check "$SCHEDFEED_METRICS_DIR/schedfeed_slow.prom"
	[ "$(value "$SCHEDFEED_METRICS_DIR/schedfeed_slow.prom" schedfeed_last_run_exit_status "" slow)" = 143 ]
}

@test "metrics: an unwritable metrics directory is said and leaves the job's status" {
	SCHEDFEED_METRICS_DIR="$W/no-such-dir" run sh "$TOP/pipelines/iq_daily.sh" 2026-11-23
	[ "$status" -eq 0 ]
	[[ "$output" == *"iq_daily: cannot write the metrics $W/no-such-dir/schedfeed_iq_daily.prom"* ]]
	[ -f "$IQ_DEST/unmcc_2026_11_23.csv" ]
	SCHEDFEED_METRICS_DIR="$W/no-such-dir" SCHEDFEED_DB_PASSWORD=wrong run sh "$TOP/pipelines/iq_daily.sh" 2026-11-24
	[ "$status" -eq 77 ]
}

@test "metrics: without SCHEDFEED_METRICS_DIR nothing is written" {
	unset SCHEDFEED_METRICS_DIR
	sh "$TOP/pipelines/iq_daily.sh" 2026-11-23
	[ -z "$(ls -A "$W/metrics")" ]
	[ -z "$(find "$W" -name '*.prom')" ]
}
