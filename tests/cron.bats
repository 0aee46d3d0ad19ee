#!/usr/bin/env bats
# docker/cron.sh: the container's scheduler, checked against docker/crontab.

load common

setup() {
	common_setup
	CRON="$TOP/docker/cron.sh"
}

due_at() {
	TZ=${TZ_FOR_TEST:-UTC} sh "$CRON" -f "$TOP/docker/crontab" --at "$1"
}

@test "cron: Monday 04:30 runs iq_daily and bz_inbound" {
	run due_at "2026-11-23 04:30"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'iq_daily\nbz_inbound')" ]
}

@test "cron: iq_daily runs Monday to Friday only" {
	for day in 23 24 25 26 27; do
		run due_at "2026-11-$day 04:30"
		[[ "$output" == *iq_daily* ]]
	done
	for day in 21 22; do
		run due_at "2026-11-$day 04:30"
		[[ "$output" != *iq_daily* ]]
	done
}

@test "cron: eod_data at 18:00 daily, printer_pdfs at 07:00, bz_outbound hourly" {
	run due_at "2026-11-22 18:00"
	[ "$output" = "$(printf 'eod_data\nbz_outbound\nbz_inbound')" ]
	run due_at "2026-11-22 07:00"
	[ "$output" = "$(printf 'bz_outbound\nbz_inbound\nprinter_pdfs')" ]
	run due_at "2026-11-22 13:00"
	[ "$output" = "$(printf 'bz_outbound\nbz_inbound')" ]
}

@test "cron: bz_inbound every 15 minutes and nothing in between" {
	for m in 00 15 30 45; do
		run due_at "2026-11-22 11:$m"
		[[ "$output" == *bz_inbound* ]]
	done
	run due_at "2026-11-22 11:16"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "cron: ranges, lists, steps and arguments" {
	cat >"$W/tab" <<'TAB'
# comment
5-10/5 1,3 * * *  job_a 2026-01-01
0 0 1 * 0          job_b
TAB
	run sh "$CRON" -f "$W/tab" --at "2026-11-23 03:10"
	[ "$output" = "job_a 2026-01-01" ]
	run sh "$CRON" -f "$W/tab" --at "2026-11-23 03:07"
	[ -z "$output" ]
	# day of month OR day of week when both are restricted (cron(8))
	run sh "$CRON" -f "$W/tab" --at "2026-11-22 00:00"
	[ "$output" = "job_b" ]
	run sh "$CRON" -f "$W/tab" --at "2026-12-01 00:00"
	[ "$output" = "job_b" ]
	run sh "$CRON" -f "$W/tab" --at "2026-12-02 00:00"
	[ -z "$output" ]
}

@test "cron: a bad crontab line is refused with 65 naming the line" {
	printf '0 0 * *\n' >"$W/tab"
	run sh "$CRON" -f "$W/tab" --at "2026-11-23 00:00"
	[ "$status" -eq 65 ]
	[[ "$output" == *"line 1: needs five fields and a job"* ]]
	printf '0 x * * * job\n' >"$W/tab"
	run sh "$CRON" -f "$W/tab" --at "2026-11-23 00:00"
	[ "$status" -eq 65 ]
	[[ "$output" == *"line 1: bad field"* ]]
}

@test "cron: a missing crontab is 66" {
	run sh "$CRON" -f "$W/none" --at "2026-11-23 00:00"
	[ "$status" -eq 66 ]
	[[ "$output" == *"cannot read"* ]]
}

@test "cron: runs a due job, logs start and finish to stdout, stops on TERM" {
	printf '* * * * * hello\n' >"$W/tab"
	cat >"$W/entry" <<'SH'
#!/bin/sh
echo "ran $1" >>"$W/ran"
SH
	chmod +x "$W/entry"
	W=$W SCHEDFEED_ENTRYPOINT="$W/entry" sh "$CRON" -f "$W/tab" >"$W/log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do [ -f "$W/ran" ] && break; sleep 0.2; done
	sleep 0.5
	kill -TERM "$pid"
	wait "$pid" || true
	[ "$(cat "$W/ran")" = "ran hello" ]
	grep -q 'cron: starting hello' "$W/log"
	grep -q 'cron: hello finished with status 0' "$W/log"
	grep -q 'cron: stopping' "$W/log"
}
