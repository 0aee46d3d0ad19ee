#!/usr/bin/env bats
# pipelines/lib/job.sh: lock, ledger, step log, resume and alerts, through
# a throw-away job the test writes.  The job delivers by copying into a
# directory (a "mounted share" target) and archives with the real
# archive-mv; the only stand-in is smtp-send in the alert tests (see there).

load ../common
load job

setup() {
	common_setup
	STATE=$SCHEDFEED_STATE_DIR/demo
	LEDGER=$STATE/ledger
	SHARE=$W/share
	mkdir -p "$SHARE"
	# The source "database": a CSV with a patient name that must never
	# reach a log line, the ledger or a message.
	printf 'mrn,name\n4711,Núñez\n' > "$W/source.csv"
	cat > "$W/demo.sh" <<'EOF'
#!/bin/sh
# a throw-away job: extract, (hold), deliver, archive
set -eu
. "$TOP/pipelines/lib/job.sh"

extract() {
	cp "$W/source.csv" "$JOB_STAGING/feed.csv"
}
deliver() {
	[ "${FAIL_AT:-}" != deliver ] || return "${FAIL_STATUS:-69}"
	cp "$JOB_STAGING/feed.csv" "$SHARE/feed.csv"
	echo "$JOB_DATE $(sha256sum < "$JOB_STAGING/feed.csv" | cut -c1-8)" >> "$W/sends"
}
hold() {
	: > "$W/holding"
	while [ ! -e "$W/release" ]; do sleep 0.05; done
}

job_start demo 2024-03-05 "$@"
job_step extract extract
# steps hold the lock's fd too: one that outlives the job keeps it
job_step lockfd sh -c '[ -e /proc/self/fd/9 ]'
[ -z "${HOLD:-}" ] || job_step hold hold
job_deliver deliver feed.csv "$JOB_STAGING/feed.csv" "$SHARE" deliver
job_step archive sh -c 'archive-mv --to "$1" --date "$2" "$3" >> "$4"' sh \
    "$JOB_ARCHIVE" "${JOB_DATE%T*}" "$JOB_STAGING/feed.csv" "$W/archived"
job_finish
EOF
	export SHARE
}

teardown() {
	# a holder left by a failed lock test lets go
	touch "$W/release"
	[ -z "${STATE_MOUNT:-}" ] || umount "$STATE_MOUNT" 2>/dev/null || true
}

# wait_for FILE: until it exists, 10 s at most
wait_for() {
	local tries=200
	while [ ! -e "$1" ]; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
}

@test "a run: one log line per step, the state private, the file delivered, archived, in the ledger" {
	run sh "$W/demo.sh"
	[ "$status" -eq 0 ]
	[ "$(log_of "$output")" = "demo 2024-03-05 start
demo 2024-03-05 extract ok
demo 2024-03-05 lockfd ok
demo 2024-03-05 deliver ok (sent)
demo 2024-03-05 archive ok
demo 2024-03-05 done" ]
	[ "$(log_of "$(cat "$STATE/log")")" = "$(log_of "$output")" ]
	[[ "$output" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}\ demo ]]
	cmp "$W/source.csv" "$SHARE/feed.csv"
	cmp "$W/source.csv" "$STATE/archive/2024/03/05/feed.csv"
	[ "$(cat "$W/archived")" = "$STATE/archive/2024/03/05/feed.csv" ]
	[ ! -e "$STATE/staging/feed.csv" ]
	[ "$(head -n 1 "$STATE/ledger")" = "# schedfeed ledger of demo: time, date, key, sha256, target, kind, detail (tab-separated)" ]
	[ "$(ledger_rows)" = "$(printf '2024-03-05\tfeed.csv\t%s\t%s\tsent' "$(sha "$W/source.csv")" "$SHARE")" ]
	[ "$(file_mode "$STATE")" = 700 ]
	[ "$(file_mode "$STATE/ledger")" = 600 ]
	[ "$(file_mode "$STATE/archive/2024/03/05")" = 700 ]
	# steps of a finished run are forgotten: the next run runs them all
	[ ! -e "$STATE/steps/2024-03-05" ]
	# no PHI in the log, the ledger or the output
	! grep -q 'Núñez\|4711' "$STATE/log" "$STATE/ledger"
	[[ "$output" != *Núñez* ]]
}

@test "the same date with the same content sends nothing and says so" {
	sh "$W/demo.sh" 2>/dev/null
	run sh "$W/demo.sh"
	[ "$status" -eq 0 ]
	[ "$(log_of "$output" | grep deliver)" = "demo 2024-03-05 deliver feed.csv already delivered to $SHARE, nothing sent" ]
	[ "$(wc -l < "$W/sends")" -eq 1 ]
	[ "$(ledger_rows | wc -l)" -eq 1 ]
}

@test "--force resends the same content and logs it as resent" {
	sh "$W/demo.sh" 2>/dev/null
	run sh "$W/demo.sh" --force
	[ "$status" -eq 0 ]
	[ "$(log_of "$output" | sed -n '1p;/deliver/p')" = "demo 2024-03-05 start (--force)
demo 2024-03-05 deliver ok (resent)" ]
	[ "$(wc -l < "$W/sends")" -eq 2 ]
	[ "$(ledger_rows | cut -f1,2,5)" = "$(printf '2024-03-05\tfeed.csv\tsent\n2024-03-05\tfeed.csv\tresent')" ]
}

@test "different content for the same date is sent and logged as a correction" {
	sh "$W/demo.sh" 2>/dev/null
	first=$(sha "$W/source.csv")
	printf 'mrn,name\n4711,Núñez\n4712,Ávila\n' > "$W/source.csv"
	run sh "$W/demo.sh"
	[ "$status" -eq 0 ]
	[ "$(log_of "$output" | grep deliver)" = "demo 2024-03-05 deliver ok (correction)" ]
	cmp "$W/source.csv" "$SHARE/feed.csv"
	[ "$(ledger_rows | cut -f3,5)" = "$(printf '%s\tsent\n%s\tcorrection' "$first" "$(sha "$W/source.csv")")" ]
	# both versions archived, neither overwritten
	[ -e "$STATE/archive/2024/03/05/feed.csv" ]
	cmp "$W/source.csv" "$STATE/archive/2024/03/05/feed.csv.1"
	# going back to the first content is a correction too: the partner holds the second
	printf 'mrn,name\n4711,Núñez\n' > "$W/source.csv"
	run sh "$W/demo.sh"
	[ "$(log_of "$output" | grep deliver)" = "demo 2024-03-05 deliver ok (correction)" ]
	[ "$(wc -l < "$W/sends")" -eq 3 ]
}

@test "another date with the same content is a delivery of its own" {
	sh "$W/demo.sh" 2>/dev/null
	run sh "$W/demo.sh" 2024-03-06
	[ "$status" -eq 0 ]
	[ "$(log_of "$output" | grep deliver)" = "demo 2024-03-06 deliver ok (sent)" ]
	[ "$(ledger_rows | cut -f1,5)" = "$(printf '2024-03-05\tsent\n2024-03-06\tsent')" ]
	[ -e "$STATE/archive/2024/03/06/feed.csv" ]
}

@test "a failed step stops the job with its status; a re-run resumes there" {
	FAIL_AT=deliver run sh "$W/demo.sh"
	[ "$status" -eq 69 ]
	[ "$(log_of "$output")" = "demo 2024-03-05 start
demo 2024-03-05 extract ok
demo 2024-03-05 lockfd ok
demo 2024-03-05 deliver failed (status 69)" ]
	# the intent is in the ledger, no outcome
	[ ! -e "$W/sends" ] && [ -z "$(ledger_rows)" ]
	[ "$(ledger_intents | cut -f1,2,4)" = "$(printf '2024-03-05\tfeed.csv\t%s' "$SHARE")" ]
	[ -e "$STATE/staging/feed.csv" ] && [ ! -e "$STATE/archive/2024" ]
	staged=$(sha "$STATE/staging/feed.csv")
	# the source changes meanwhile: the resumed run sends what was staged
	printf 'mrn,name\n9999,Other\n' > "$W/source.csv"
	run sh "$W/demo.sh"
	[ "$status" -eq 0 ]
	[ "$(log_of "$output")" = "demo 2024-03-05 start
demo 2024-03-05 extract skipped (done in an earlier run)
demo 2024-03-05 lockfd skipped (done in an earlier run)
demo 2024-03-05 deliver feed.csv: an earlier run left no outcome; $SHARE does not hold it, sending again
demo 2024-03-05 deliver ok (sent)
demo 2024-03-05 archive ok
demo 2024-03-05 done" ]
	[ "$(sha "$SHARE/feed.csv")" = "$staged" ]
	[ "$(ledger_rows | cut -f3)" = "$staged" ]
	[ ! -e "$STATE/steps/2024-03-05" ]
}

@test "a step that is a shell function stops at its first failing command" {
	# no set -e in this job: job_step gives its steps one of their own
	cat > "$W/func.sh" <<'EOF'
. "$TOP/pipelines/lib/job.sh"
two_parts() {
	false
	: > "$W/second-part-ran"
}
job_start demo 2024-03-05
job_step two_parts two_parts
: > "$W/after-the-step"
EOF
	run sh "$W/func.sh"
	[ "$status" -eq 1 ]
	[ "$(log_of "$output" | tail -n 1)" = "demo 2024-03-05 two_parts failed (status 1)" ]
	[ ! -e "$W/second-part-ran" ] && [ ! -e "$W/after-the-step" ]
}

@test "a bad step name is a bug in the job: 70" {
	cat > "$W/badstep.sh" <<'EOF'
. "$TOP/pipelines/lib/job.sh"
job_start demo 2024-03-05
job_step "$1" true
EOF
	for name in '..' 'with space' 'a/b' ''; do
		run sh "$W/badstep.sh" "$name"
		[ "$status" -eq 70 ]
		[ "${lines[1]}" = "demo: $name: a step name is letters, digits, '.', '_' and '-', not first '.'" ]
	done
	[ -z "$(ls -A "$STATE/steps")" ]
}

@test "--force after a failure runs every step again" {
	FAIL_AT=deliver sh "$W/demo.sh" 2>/dev/null || [ $? -eq 69 ]
	run sh "$W/demo.sh" --force
	[ "$status" -eq 0 ]
	[ "$(log_of "$output" | grep extract)" = "demo 2024-03-05 extract ok" ]
}

@test "a second run while one holds the lock exits 75 with a message and runs nothing" {
	HOLD=1 sh "$W/demo.sh" 2>/dev/null &
	holder=$!
	wait_for "$W/holding"
	run sh "$W/demo.sh"
	[ "$status" -eq 75 ]
	[ "$output" = "demo: another run holds the lock" ]
	run sh "$W/demo.sh" --wait=1
	[ "$status" -eq 75 ]
	[ "$output" = "demo: another run holds the lock, waiting at most 1 seconds
demo: another run still holds the lock after 1 seconds" ]
	[ "$(grep -c ' start$' "$STATE/log")" -eq 1 ]
	touch "$W/release"
	wait "$holder"
	[ "$(wc -l < "$W/sends")" -eq 1 ]
}

@test "--wait waits for the run holding the lock, then runs" {
	HOLD=1 sh "$W/demo.sh" 2>/dev/null &
	holder=$!
	wait_for "$W/holding"
	sh "$W/demo.sh" --wait > "$W/waiter.out" 2>&1 &
	waiter=$!
	sleep 0.5
	# still waiting: it has logged nothing but that
	[ "$(cat "$W/waiter.out")" = "demo: another run holds the lock, waiting" ]
	kill -0 "$waiter"
	touch "$W/release"
	wait "$holder"
	wait "$waiter"
	# the holder finished the date: the waiter runs every step, and the
	# ledger keeps it from sending the same file twice
	[ "$(log_of "$(sed 1d "$W/waiter.out")")" = "demo 2024-03-05 start
demo 2024-03-05 extract ok
demo 2024-03-05 lockfd ok
demo 2024-03-05 deliver feed.csv already delivered to $SHARE, nothing sent
demo 2024-03-05 archive ok
demo 2024-03-05 done" ]
	[ "$(wc -l < "$W/sends")" -eq 1 ]
}

@test "usage errors exit 64 and touch no state" {
	run sh "$W/demo.sh" 2024-02-30
	[ "$status" -eq 64 ]
	[ "$output" = "demo: 2024-02-30: not a date (YYYY-MM-DD or YYYY-MM-DDTHH)
usage: demo [--wait[=SECONDS]] [--force] [DATE]" ]
	run sh "$W/demo.sh" 2024-03-05 2024-03-06
	[ "$status" -eq 64 ]
	[ "$output" = "usage: demo [--wait[=SECONDS]] [--force] [DATE]" ]
	run sh "$W/demo.sh" --bogus
	[ "$status" -eq 64 ]
	[ "$output" = "usage: demo [--wait[=SECONDS]] [--force] [DATE]" ]
	run sh "$W/demo.sh" --wait=soon
	[ "$status" -eq 64 ]
	[ ! -e "$SCHEDFEED_STATE_DIR" ]
}

@test "an hourly date YYYY-MM-DDTHH is a date of its own" {
	run sh "$W/demo.sh" 2024-03-05T13
	[ "$status" -eq 0 ]
	[ "$(log_of "$output" | grep deliver)" = "demo 2024-03-05T13 deliver ok (sent)" ]
	[ "$(ledger_rows | cut -f1)" = 2024-03-05T13 ]
}

@test "a state directory that cannot be made exits 73" {
	echo "not a directory" > "$W/file"
	SCHEDFEED_STATE_DIR=$W/file/state run sh "$W/demo.sh"
	[ "$status" -eq 73 ]
	[ "$output" = "demo: cannot create the state directory $W/file/state/demo" ]
}

@test "a delivery whose file is missing fails with 66" {
	cat > "$W/missing.sh" <<'EOF'
. "$TOP/pipelines/lib/job.sh"
job_start demo 2024-03-05
job_deliver deliver gone.csv "$JOB_STAGING/gone.csv" "$SHARE" true
EOF
	run sh "$W/missing.sh"
	[ "$status" -eq 66 ]
	[ "$(log_of "$output" | sed 1d)" = "demo: $STATE/staging/gone.csv: cannot read
demo 2024-03-05 deliver failed (status 66)" ]
	[ ! -e "$STATE/ledger" ]
}

@test "ledger API: kinds, --force, a torn last line, bad entries exit 70" {
	cat > "$W/ledger.sh" <<'EOF'
. "$TOP/pipelines/lib/job.sh"
job_start demo 2024-03-05 "$@" 2>/dev/null
a=$(printf '%064d' 1) b=$(printf '%064d' 2)
ledger_kind f.csv "$a" sftp://h/in
ledger_seen f.csv "$a" sftp://h/in || echo "not seen"
ledger_record f.csv "$a" sftp://h/in
ledger_kind f.csv "$a" sftp://h/in
ledger_seen f.csv "$a" sftp://h/in && echo seen
ledger_is_correction f.csv "$b" sftp://h/in && echo correction
ledger_kind f.csv "$a" sftp://other/in
# a crash tore a line: the next record still stands on its own
printf '2024-03-05T00:00:00+0000\t2024-03-05\tf.csv\t0' >> "$JOB_LEDGER"
ledger_record f.csv "$b" sftp://h/in
ledger_kind f.csv "$b" sftp://h/in
ledger_record "$(printf 'f\t.csv')" "$a" sftp://h/in
EOF
	run sh "$W/ledger.sh"
	[ "$status" -eq 70 ]
	[ "$output" = "new
not seen
same
seen
correction
new
same
demo: ledger: a key or target holds a tab or a newline" ]
	[ "$(tail -n 1 "$STATE/ledger" | cut -f2-)" = "$(printf '2024-03-05\tf.csv\t%064d\tsftp://h/in\tcorrection\t-' 2)" ]
	# --force: nothing is "seen"; the kinds still tell the truth
	run sh "$W/ledger.sh" --force
	[ "$status" -eq 70 ]
	[ "$output" = "changed
not seen
same
correction
new
same
demo: ledger: a key or target holds a tab or a newline" ]
	# the two torn lines stay lines of their own, with no kind
	[ "$(grep -v '^#' "$STATE/ledger" | cut -f6 | paste -sd' ')" = "sent  correction correction  correction" ]
	sed -i 's/^ledger_record "\$(printf.*$/ledger_record f.csv nothex sftp:\/\/h/' "$W/ledger.sh"
	run sh "$W/ledger.sh"
	[ "$status" -eq 70 ]
	[ "${lines[-1]}" = "demo: ledger: not a SHA-256: nothex" ]
}

# The alert goes through smtp-send.  This one place uses a stand-in: a
# script first on PATH that records its arguments and standard input,
# because the real smtp-send is tested against a real SMTP server in
# tests/smtp-send.bats; here only what the job library hands it matters.
stand_in_smtp_send() {
	mkdir -p "$W/bin"
	cat > "$W/bin/smtp-send" <<'EOF'
#!/bin/sh
for a do printf '%s\n' "$a"; done > "$W/alert.argv"
cat > "$W/alert.body"
echo "file,bytes,sha256,target"
exit "${STAND_IN_STATUS:-0}"
EOF
	chmod +x "$W/bin/smtp-send"
	PATH=$W/bin:$PATH
}

@test "a failed step mails a one-line alert when SCHEDFEED_ALERT_TO is set" {
	stand_in_smtp_send
	export SCHEDFEED_ALERT_TO=ops@example.org,oncall@example.org
	export SCHEDFEED_ALERT_SMTP_URL=smtp://127.0.0.1:2525
	export SCHEDFEED_ALERT_FROM=schedfeed@example.org
	export SCHEDFEED_ALERT_SMTP_USER=alerts
	FAIL_AT=deliver FAIL_STATUS=77 run sh "$W/demo.sh"
	[ "$status" -eq 77 ]
	[ "$(log_of "$output" | tail -n 2)" = "demo 2024-03-05 deliver failed (status 77)
demo 2024-03-05 deliver alert sent" ]
	[ "$(cat "$W/alert.argv")" = "--server
smtp://127.0.0.1:2525
--from
schedfeed@example.org
--subject
schedfeed: demo 2024-03-05 failed
--user
alerts
--to
ops@example.org
--to
oncall@example.org" ]
	[ "$(cat "$W/alert.body")" = "schedfeed job demo 2024-03-05 failed at step deliver with exit status 77" ]
	! grep -q 'Núñez\|4711' "$W/alert.body" "$W/alert.argv"
}

@test "no alert without SCHEDFEED_ALERT_TO, nor for a run that succeeds" {
	stand_in_smtp_send
	FAIL_AT=deliver run sh "$W/demo.sh"
	[ "$status" -eq 69 ]
	[ ! -e "$W/alert.argv" ]
	[[ "$output" != *alert* ]]
	export SCHEDFEED_ALERT_TO=ops@example.org SCHEDFEED_ALERT_SMTP_URL=smtp://127.0.0.1:2525
	run sh "$W/demo.sh"
	[ "$status" -eq 0 ]
	[ ! -e "$W/alert.argv" ]
}

@test "an alert that cannot be sent is logged; the status stays the step's" {
	stand_in_smtp_send
	export SCHEDFEED_ALERT_TO=ops@example.org
	FAIL_AT=deliver run sh "$W/demo.sh"
	[ "$status" -eq 69 ]
	[ "$(log_of "$output" | tail -n 1)" = "demo 2024-03-05 deliver alert not sent: SCHEDFEED_ALERT_SMTP_URL is not set" ]
	[ ! -e "$W/alert.argv" ]
	export SCHEDFEED_ALERT_SMTP_URL=smtp://127.0.0.1:2525
	STAND_IN_STATUS=75 FAIL_AT=deliver run sh "$W/demo.sh"
	[ "$status" -eq 69 ]
	[ "$(log_of "$output" | tail -n 1)" = "demo 2024-03-05 deliver alert not sent (status 75)" ]
	grep -qx -- "--from" "$W/alert.argv"
	[ "$(sed -n '/--from/{n;p}' "$W/alert.argv")" = "schedfeed@$(uname -n)" ]
}

@test "state, staging or archive directories that are symbolic links or someone else's are refused with 73" {
	mkdir -p "$W/elsewhere" "$STATE"
	ln -s "$W/elsewhere" "$STATE/staging"
	run sh "$W/demo.sh"
	[ "$status" -eq 73 ]
	[ "$output" = "demo: $STATE/staging: a symbolic link, or not owned by $(id -un): refused" ]
	[ -z "$(ls -A "$W/elsewhere")" ]
	rm "$STATE/staging"
	[ "$(id -u)" -eq 0 ] || skip "making a directory someone else's needs root"
	mkdir "$STATE/archive"
	chown nobody "$STATE/archive"
	run sh "$W/demo.sh"
	[ "$status" -eq 73 ]
	[ "$output" = "demo: $STATE/archive: a symbolic link, or not owned by root: refused" ]
	[ ! -e "$W/sends" ]
	# the state directory itself, a planted link
	rm -rf "$STATE"
	ln -s "$W/elsewhere" "$STATE"
	run sh "$W/demo.sh"
	[ "$status" -eq 73 ]
	[ "$output" = "demo: $STATE: a symbolic link, or not owned by root: refused" ]
}

# state_tmpfs SIZE: the state directory on a tmpfs of its own
state_tmpfs() {
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	mkdir -p "$SCHEDFEED_STATE_DIR"
	mount -t tmpfs -o "size=$1" tmpfs "$SCHEDFEED_STATE_DIR" 2>/dev/null ||
	    skip "mounting a tmpfs is not permitted here"
	STATE_MOUNT=$SCHEDFEED_STATE_DIR
}

@test "an existing state directory that is read-only: 73 with a message, nothing sent" {
	state_tmpfs 1m
	sh "$W/demo.sh" 2>/dev/null
	rm "$W/sends"
	mount -o remount,ro "$STATE_MOUNT"
	run sh "$W/demo.sh" 2024-03-06
	[ "$status" -eq 73 ]
	[ "$output" = "demo: cannot open the lock $STATE/lock (a read-only state directory?)" ]
	[ ! -e "$W/sends" ]
}

@test "a state disk that cannot take the intent: nothing is sent, 74; with room the run sends once" {
	state_tmpfs 16k
	cat > "$W/tight.sh" <<'JOB'
. "$TOP/pipelines/lib/job.sh"
job_start demo 2024-03-05
deliver() {
	echo sent >> "$W/sends"
	cp "$W/source.csv" "$SHARE/feed.csv"
}
job_deliver deliver feed.csv "$W/source.csv" "$SHARE" deliver
job_finish
JOB
	mkdir -p "$STATE/steps" "$STATE/staging" "$STATE/archive"
	: > "$STATE/lock"
	# the job's directories are there; then the disk is full
	dd if=/dev/zero of="$STATE_MOUNT/filler" bs=1k 2>/dev/null || true
	run sh "$W/tight.sh"
	echo "$output"
	[ "$status" -eq 74 ]
	[[ "$output" == *"demo: cannot write the ledger $STATE/ledger"* ]]
	[[ "$output" == *"deliver failed (status 74)"* ]]
	[ ! -e "$W/sends" ] && [ ! -e "$SHARE/feed.csv" ]
	rm "$STATE_MOUNT/filler"
	run sh "$W/tight.sh"
	[ "$status" -eq 0 ]
	[ "$(cat "$W/sends")" = sent ]
}

@test "a delivery the job did not see end (the shell killed): the next run asks the directory, records it, sends nothing" {
	cat > "$W/crash.sh" <<'JOB'
. "$TOP/pipelines/lib/job.sh"
job_start demo 2024-03-05 "$@"
deliver() {
	job_copy_to_dir "$W/source.csv" "$SHARE"
	echo sent >> "$W/sends"
	# $$ in a subshell is the job's shell
	[ -z "${CRASH:-}" ] || kill -9 $$
}
job_deliver deliver source.csv "$W/source.csv" "$SHARE" deliver
job_finish
JOB
	CRASH=1 run sh "$W/crash.sh"
	[ "$status" -eq 137 ]
	[ -z "$(ledger_rows)" ]
	[ "$(ledger_intents | cut -f2)" = source.csv ]
	run sh "$W/crash.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(log_of "$output" | grep deliver)" = "demo 2024-03-05 deliver source.csv: an earlier run left no outcome; $SHARE holds it (asked there), recorded
demo 2024-03-05 deliver source.csv already delivered to $SHARE, nothing sent" ]
	[ "$(cat "$W/sends")" = sent ]
	[ "$(ledger_rows | cut -f2,5)" = "$(printf 'source.csv\tsent')" ]
	[ "$(grep -v '^#' "$LEDGER" | awk -F '\t' '$6 == "sent" { print $7 }')" = checked ]
	[ "$(ls -A "$SHARE")" = source.csv ]
}

@test "the Message-ID of a delivery by mail comes from job, date, key and content: the same for a resend" {
	cat > "$W/mid.sh" <<'JOB'
. "$TOP/pipelines/lib/job.sh"
job_start demo 2024-03-05 "$@"
JOB_MAIL_FROM=feed@site.example
show() { echo "$JOB_DELIVER_MESSAGE_ID" >> "$W/ids"; }
job_deliver mail report.csv "$W/source.csv" mailto:hd@health.example show
job_finish
JOB
	sh "$W/mid.sh" 2>/dev/null
	sh "$W/mid.sh" --force 2>/dev/null
	[ "$(sort -u "$W/ids" | wc -l)" -eq 1 ]
	[[ "$(head -1 "$W/ids")" =~ ^\<schedfeed\.demo\.2024-03-05\.[0-9a-f]{32}@site\.example\>$ ]]
	[ "$(ledger_intents | cut -f5)" = "$(head -1 "$W/ids")
$(head -1 "$W/ids")" ]
	printf 'mrn,name\n1,Other\n' > "$W/source.csv"
	sh "$W/mid.sh" 2>/dev/null
	[ "$(sort -u "$W/ids" | wc -l)" -eq 2 ]
}

@test "job_bad_name: control characters, '/', '.' and '..' are bad names; others are not" {
	cat > "$W/names.sh" <<'JOB'
. "$TOP/pipelines/lib/job.sh"
for n in "$(printf 'a\tb')" "$(printf 'a\nb')" "$(printf 'a\033b')" a/b .. . ''; do
	job_bad_name "$n" || echo "not bad: $n"
done
for n in a.pdf 'a b.pdf' 'Núñez.pdf' ..a .a; do
	job_bad_name "$n" && echo "bad: $n"
done
true
JOB
	run sh "$W/names.sh"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "a step whose job's shell was killed keeps the lock until it ends: no second run overlaps it" {
	HOLD=1 sh "$W/demo.sh" > "$W/first.log" 2>&1 3>&- &
	job=$!
	wait_for "$W/holding"
	# the job's shell alone: its step (hold) goes on without it
	kill -9 "$job"
	wait "$job" || true
	run sh "$W/demo.sh"
	[ "$status" -eq 75 ]
	[ "$output" = "demo: another run holds the lock" ]
	touch "$W/release"
	run sh "$W/demo.sh" --wait=30
	[ "$status" -eq 0 ]
	[ "$(wc -l < "$W/sends")" -eq 1 ]
}
