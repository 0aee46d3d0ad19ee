#!/usr/bin/env bats
# pipelines/iq_daily.sh delivering by SFTP: tdsd over the demo database
# and a real OpenSSH sshd on 127.0.0.1, both started per test (sftp.bash);
# iq_daily_sftp_babelfish.bats, a symbolic link to this file, runs the
# same tests with the demo database on Babelfish (demo_db.bash).
# The job logs in with the test's client key (SFTP_KEY, exported by
# sshd_start) and checks the host key against $HOME/.ssh/known_hosts, as
# it would in production; the feeds must equal the hand-worked files
# under tests/fixtures/iq_daily/.

load ../common
load job
load ../sftp
load ../tdsd
load ../babelfish
load ../engine
load demo_db

FIX="$TOP/tests/fixtures"
JOB="$TOP/pipelines/iq_daily.sh"
NAME=unmcc_2026_11_23.csv

setup_file() {
	export SFTP_TEST_USER=iqsftp
	sftp_user_create "$SFTP_TEST_USER"
	demo_db_setup_file
}

teardown_file() {
	demo_db_teardown_file
	sftp_user_remove "$SFTP_TEST_USER"
}

setup() {
	common_setup
	# the delivery's own logic is the same on any engine (and each Babelfish
	# connection spends seconds parsing the query cold)
	case $BATS_TEST_DESCRIPTION in
	*"--force resends"* | *"SFTP_PASSWORD_FILE"* | *"kill -9"*)
		demo_db_tdsd_only "the delivery's logic, the same on any engine" ;;
	esac
	command -v sched-query >/dev/null || skip "sched-query is not built"
	command -v sftp-put >/dev/null || skip "sftp-put is not built"
	unset IQ_SQL IQ_SHAPE IQ_DEPT IQ_UNIT IQ_FILE_NAME SFTP_PASSWORD \
	    SFTP_PASSWORD_FILE SFTP_KNOWN_HOSTS
	STAGING=$SCHEDFEED_STATE_DIR/iq_daily/staging
	ARCHIVE=$SCHEDFEED_STATE_DIR/iq_daily/archive
	LEDGER=$SCHEDFEED_STATE_DIR/iq_daily/ledger
	sshd_start
	export IQ_DEST=$URL$REMOTE
	# the demo database; the tests may change it between runs (demo_db_sql)
	demo_db_start
}

teardown() {
	tdsd_stop_all
	sshd_stop
}

# remote_files: what the remote directory holds, hidden files too
remote_files() {
	ls -A "$REMOTE"
}

# assert_delivered FILE: the remote feed is FILE, whole, alone
assert_delivered() {
	cmp "$1" "$REMOTE/$NAME"
	[ "$(remote_files)" = "$NAME" ]
	[ "$(stat -c %U "$REMOTE/$NAME")" = "$SFTP_USER" ]
	[ "$(file_mode "$REMOTE/$NAME")" = 600 ]
}

@test "iq_daily sftp: delivered to sshd, the delivered copy archived, in the ledger" {
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(log_of "$output")" = "iq_daily 2026-11-23 start
iq_daily 2026-11-23 feed: past day 2026-11-20, future 2026-11-23 to 2027-01-22, file $NAME
iq_daily 2026-11-23 query ok
iq_daily 2026-11-23 shape ok
iq_daily 2026-11-23 deliver ok (sent)
iq_daily 2026-11-23 archive ok
iq_daily 2026-11-23 done" ]
	assert_delivered "$FIX/iq_daily/$NAME"
	# the local copy that was sent, and only it, now in the archive
	cmp "$FIX/iq_daily/$NAME" "$ARCHIVE/2026/11/23/$NAME"
	[ "$(find "$ARCHIVE" -type f)" = "$ARCHIVE/2026/11/23/$NAME" ]
	[ -z "$(ls -A "$STAGING")" ]
	# one ledger line: time, date, file, SHA-256 of what was sent, target
	[ "$(ledger_rows)" = "$(printf '2026-11-23\t%s\t%s\t%s\tsent' \
	    "$NAME" "$(sha "$FIX/iq_daily/$NAME")" "$IQ_DEST")" ]
	grep -v '^#' "$LEDGER" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}	'
	# sshd saw the job log in with the key, as $SFTP_USER
	grep -q "Accepted publickey for $SFTP_USER from 127.0.0.1" "$SSHD_DIR/sshd.log"
}

@test "iq_daily sftp: the same date again sends nothing; --force resends" {
	sh "$JOB" 2026-11-23 2>/dev/null
	local before
	before=$(stat -c '%i %Y.%y' "$REMOTE/$NAME")
	sleep 1		# a resend would show in the mtime
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" iq_daily 2026-11-23 deliver $NAME already delivered to $IQ_DEST, nothing sent"* ]]
	[[ "$output" != *"deliver ok"* ]]
	# the remote file untouched: same inode, same time
	[ "$(stat -c '%i %Y.%y' "$REMOTE/$NAME")" = "$before" ]
	assert_delivered "$FIX/iq_daily/$NAME"
	# no second login for an upload: sshd saw one session
	[ "$(grep -c "Accepted publickey for $SFTP_USER" "$SSHD_DIR/sshd.log")" -eq 1 ]
	[ "$(ledger_rows | wc -l)" -eq 1 ]
	[ "$(find "$ARCHIVE" -type f | wc -l)" -eq 1 ]
	[ -z "$(ls -A "$STAGING")" ]

	run sh "$JOB" --force 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" iq_daily 2026-11-23 start (--force)"* ]]
	[[ "$output" == *" iq_daily 2026-11-23 deliver ok (resent)"* ]]
	[ "$(stat -c %i "$REMOTE/$NAME")" != "${before%% *}" ]
	assert_delivered "$FIX/iq_daily/$NAME"
	[ "$(ledger_rows | cut -f1,2,3,5)" = "$(printf '2026-11-23\t%s\t%s\tsent\n2026-11-23\t%s\t%s\tresent' \
	    "$NAME" "$(sha "$FIX/iq_daily/$NAME")" "$NAME" "$(sha "$FIX/iq_daily/$NAME")")" ]
	# each delivered copy archived, neither overwritten
	cmp "$FIX/iq_daily/$NAME" "$ARCHIVE/2026/11/23/$NAME"
	cmp "$FIX/iq_daily/$NAME" "$ARCHIVE/2026/11/23/$NAME.1"
}

@test "iq_daily sftp: changed rows for the same date are sent and logged as a correction" {
	sh "$JOB" 2026-11-23 2>/dev/null
	# an appointment's duration changes in MOSAIQ: 60 minutes become 90
	demo_db_sql "UPDATE Schedule SET Duration_time = 540000
	    WHERE Pat_ID1 = 1002 AND App_DtTm = '2026-11-23 09:00:00'"
	sed '/^Future,[^,]*,Infusion,1002,IV Chemo Initial Hr,2026-11-23 09:00:00,60,/s/,60,/,90,/' \
	    "$FIX/iq_daily/$NAME" > "$W/corrected.csv"
	[ "$(diff "$FIX/iq_daily/$NAME" "$W/corrected.csv" | grep -c '^>')" -eq 1 ]
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" iq_daily 2026-11-23 deliver ok (correction)"* ]]
	assert_delivered "$W/corrected.csv"
	[ "$(ledger_rows | cut -f1,2,3,5)" = "$(printf '2026-11-23\t%s\t%s\tsent\n2026-11-23\t%s\t%s\tcorrection' \
	    "$NAME" "$(sha "$FIX/iq_daily/$NAME")" "$NAME" "$(sha "$W/corrected.csv")")" ]
	cmp "$FIX/iq_daily/$NAME" "$ARCHIVE/2026/11/23/$NAME"
	cmp "$W/corrected.csv" "$ARCHIVE/2026/11/23/$NAME.1"
	# the log says what happened, never which row
	! grep -q 'IV Chemo\|1002' "$SCHEDFEED_STATE_DIR/iq_daily/log" "$LEDGER"
}

@test "iq_daily sftp: unknown host key is 77, nothing sent or archived; the re-run sends what was staged" {
	mv "$KNOWN_HOSTS" "$W/known_hosts"
	: > "$KNOWN_HOSTS"
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *"unknown host key $(sshd_fingerprint)"* ]]
	[[ "$output" == *" iq_daily 2026-11-23 deliver failed (status 77)"* ]]
	[[ "$output" != *"archive"* ]]
	[ -z "$(remote_files)" ]
	# an intent, no outcome
	[ -z "$(ledger_rows)" ] && [ "$(ledger_intents | cut -f2)" = "$NAME" ]
	[ -z "$(find "$ARCHIVE" -type f)" ]
	# the feed stays staged, private, for the re-run
	cmp "$FIX/iq_daily/$NAME" "$STAGING/2026-11-23/$NAME"
	[ "$(file_mode "$STAGING/2026-11-23/$NAME")" = 600 ]
	# the key checked out of band, in a file of the site's choosing; the
	# re-run resumes at the delivery, with no database
	tdsd_stop_all
	SFTP_KNOWN_HOSTS=$W/known_hosts run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(log_of "$output")" = "iq_daily 2026-11-23 start
iq_daily 2026-11-23 feed: past day 2026-11-20, future 2026-11-23 to 2027-01-22, file $NAME
iq_daily 2026-11-23 query skipped (done in an earlier run)
iq_daily 2026-11-23 shape skipped (done in an earlier run)
iq_daily 2026-11-23 deliver $NAME: an earlier run left no outcome; the delivery asks $IQ_DEST first
iq_daily 2026-11-23 deliver ok (sent)
iq_daily 2026-11-23 archive ok
iq_daily 2026-11-23 done" ]
	assert_delivered "$FIX/iq_daily/$NAME"
	cmp "$FIX/iq_daily/$NAME" "$ARCHIVE/2026/11/23/$NAME"
	[ "$(ledger_rows | wc -l)" -eq 1 ]
	[ -z "$(ls -A "$STAGING")" ]
}

@test "iq_daily sftp: a password from SFTP_PASSWORD_FILE, never in the log or the state; a wrong one is 77" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a local account with a password for sshd to check"
	unset SFTP_KEY
	printf 'wrong horse\n' > "$W/pw"
	SFTP_PASSWORD_FILE=$W/pw run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *"login refused"* ]]
	[[ "$output" == *" deliver failed (status 77)"* ]]
	[ -z "$(remote_files)" ]
	printf '%s\n' "$SFTP_TEST_PASSWORD" > "$W/pw"
	SFTP_PASSWORD_FILE=$W/pw run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	assert_delivered "$FIX/iq_daily/$NAME"
	grep -q "Accepted password for $SFTP_USER from 127.0.0.1" "$SSHD_DIR/sshd.log"
	! grep -rq "horse" "$SCHEDFEED_STATE_DIR"
}

# slow_sftp: sshd's SFTP subsystem becomes a relay in front of OpenSSH's
# sftp-server that, while $SSHD_DIR/hold exists, holds the first WRITE
# request: the upload's hidden temporary has been opened on the server
# and sftp-put waits, mid-upload, for as long as the test needs. Once
# hold is removed a held relay exits without passing the write on (its
# client is gone by then), and new sessions pass everything through.
slow_sftp() {
	cp "$TOP/tests/sftp-hold.py" "$SSHD_DIR/hold-writes.py"
	chmod 644 "$SSHD_DIR/hold-writes.py"
	sshd_stop
	sed -i "s|^Subsystem sftp .*|Subsystem sftp $PY $SSHD_DIR/hold-writes.py $SSHD_DIR/hold drop|" \
	    "$SSHD_DIR/sshd_config"
	sshd_restart
}

@test "iq_daily sftp: kill -9 of the job mid-upload, then a re-run delivers exactly one whole file" {
	command -v setsid >/dev/null || skip "needs setsid(1)"
	slow_sftp
	: > "$SSHD_DIR/hold"
	# the job in a process group of its own, as cron or a shell would
	# start it, so that kill -9 takes it whole: the shell, sftp-put, all
	setsid sh "$JOB" 2026-11-23 > "$W/job.log" 2>&1 3>&- &
	local job=$! pgid part st=0
	for _ in $(seq 200); do
		part=$(find "$REMOTE" -name ".$NAME.*.part")
		[ -z "$part" ] || break
		sleep 0.05
	done
	cat "$W/job.log"
	[ -n "$part" ]
	pgid=$(ps -o pgid= -p "$job" | tr -d ' ')
	[ "$pgid" = "$job" ]
	# mid-upload: sftp-put runs, in the job's group
	pgrep -g "$pgid" -x sftp-put
	kill -9 -- "-$pgid"
	wait "$job" || st=$?
	[ "$st" -eq 137 ]
	! pgrep -g "$pgid"
	# nothing under the final name, only the hidden temporary
	[ "$(remote_files)" = "${part##*/}" ]
	# an intent, no outcome
	[ -z "$(ledger_rows)" ] && [ "$(ledger_intents | cut -f2)" = "$NAME" ]
	[ -z "$(find "$ARCHIVE" -type f)" ]
	cmp "$FIX/iq_daily/$NAME" "$STAGING/2026-11-23/$NAME"

	# The server lets go of the dead session. The re-run comes at once:
	# the temporary is the one the intent names, replaced whatever its
	# time stamp (sftp-put --temp), and gone once the file is in place.
	[ "$(ledger_intents | cut -f5)" = "${part##*/}" ]
	rm "$SSHD_DIR/hold"
	run sh "$JOB" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" query skipped (done in an earlier run)"* ]]
	[[ "$output" == *" shape skipped (done in an earlier run)"* ]]
	[[ "$output" == *" iq_daily 2026-11-23 deliver ok (sent)"* ]]
	# exactly one whole file, no temporary, one delivery in the ledger
	assert_delivered "$FIX/iq_daily/$NAME"
	[ "$(ledger_rows | cut -f1,2,3,5)" = "$(printf '2026-11-23\t%s\t%s\tsent' "$NAME" "$(sha "$FIX/iq_daily/$NAME")")" ]
	[ "$(find "$ARCHIVE" -type f)" = "$ARCHIVE/2026/11/23/$NAME" ]
	# nothing left of the killed run: no staging, no temporary
	[ -z "$(ls -A "$STAGING")" ]
	[ -z "$(find "$SCHEDFEED_STATE_DIR" -name '.*')" ]
}
