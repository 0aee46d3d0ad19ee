#!/usr/bin/env bats
# The torture suite's disks and peers, with iq_daily delivering by SFTP:
# the state directory full at every size that changes the outcome (a
# small tmpfs), the partner's disk full, and the SFTP server killed in
# the middle of an upload. Each time the run after (with room again, or
# the server back) delivers the feed exactly once: one rename onto the
# final name, whole, no temporary left, no intent left open.

load ../common
load ../pipelines/job
load ../sftp
load ../tdsd
load torture
load iq

FIX="$TOP/tests/fixtures"
JOB="$TOP/pipelines/iq_daily.sh"
NAME=unmcc_2026_11_23.csv
DAY=2026-11-23

setup_file() {
	export SFTP_TEST_USER=sftort16st
	sftp_user_create "$SFTP_TEST_USER"
}

teardown_file() {
	sftp_user_remove "$SFTP_TEST_USER"
}

setup() {
	iq_suite_setup
	MOUNTS=()
}

teardown() {
	local m
	tdsd_stop_all
	sshd_stop
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || true
	done
}

# tmpfs DIR SIZE: a small filesystem of its own at DIR
tmpfs() {
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=755" tmpfs "$1" 2>/dev/null ||
	    skip "mounting a tmpfs is not permitted here"
	MOUNTS+=("$1")
}

# dest P: a fresh remote directory
dest() {
	DEST=$REMOTE/p$1
	mkdir -p "$DEST"
	chown "$SFTP_USER" "$DEST"
	export IQ_DEST=$URL$DEST
}

# once: the feed at DEST exactly once, whole, alone; the ledger closed
once() {
	[ "$(ls -A "$DEST")" = "$NAME" ]
	cmp "$FIX/iq_daily/$NAME" "$DEST/$NAME"
	[ "$(sftp_renames "$DEST" "$NAME")" -eq 1 ]
	[ -z "$(ledger_open "$SCHEDFEED_STATE_DIR/iq_daily/ledger")" ]
}

@test "a full state disk at every size that changes the outcome: nothing sent twice, the run with room delivers once" {
	local kb status outcomes= last=
	for kb in $(seq 8 4 120); do
		export SCHEDFEED_STATE_DIR=$W/state-$kb
		tmpfs "$SCHEDFEED_STATE_DIR" "${kb}k"
		dest "$kb"
		status=0
		TORTURE_KILL= sh "$JOB" "$DAY" > "$W/full-$kb.log" 2>&1 || status=$?
		renames=$(sftp_renames "$DEST" "$NAME")
		# what the first run got to, told by the exit and the partner
		outcome="$status/$renames"
		case $status in
		0) [ "$renames" -eq 1 ] ;;
		73 | 74) [ "$renames" -le 1 ] ;;
		*) cat "$W/full-$kb.log"; false ;;
		esac
		if [ "$status" = 74 ] && [ ! -s "$SCHEDFEED_STATE_DIR/iq_daily/ledger" ]; then
			# no intent on disk: nothing may have been sent
			[ "$renames" -eq 0 ]
		fi
		# room again: the run after delivers exactly once
		mount -o remount,size=4m "$SCHEDFEED_STATE_DIR"
		run sh "$JOB" "$DAY"
		[ "$status" -eq 0 ] || { echo "$output"; false; }
		once
		[ "$outcome" = "$last" ] || outcomes="$outcomes ${kb}k:$outcome"
		last=$outcome
		[ "$outcome" != 0/1 ] || break
	done
	echo "sizes that changed the outcome (exit/renames):$outcomes"
	# the sweep went from nothing sent to a whole run
	[ "$last" = 0/1 ]
	[[ "$outcomes" == *":7"[34]"/0"* ]]
}

@test "a read-only state directory: 73 with a message, nothing sent; writable again, the run delivers once" {
	export SCHEDFEED_STATE_DIR=$W/state
	tmpfs "$SCHEDFEED_STATE_DIR" 4m
	dest 1
	mkdir -p "$SCHEDFEED_STATE_DIR/iq_daily"
	mount -o remount,ro "$SCHEDFEED_STATE_DIR"
	run sh "$JOB" "$DAY"
	[ "$status" -eq 73 ]
	[ "$output" = "iq_daily: cannot create the state directory $SCHEDFEED_STATE_DIR/iq_daily/staging: $SCHEDFEED_STATE_DIR/iq_daily is read-only (or not writable)" ]
	[ -z "$(ls -A "$DEST")" ]
	mount -o remount,rw "$SCHEDFEED_STATE_DIR"
	sh "$JOB" "$DAY" 2>/dev/null
	# the lock is there now: read-only again, found by the probe
	mount -o remount,ro "$SCHEDFEED_STATE_DIR"
	run sh "$JOB" "$DAY"
	[ "$status" -eq 73 ]
	[ "$output" = "iq_daily: cannot open the lock $SCHEDFEED_STATE_DIR/iq_daily/lock (a read-only state directory?)" ]
	[ "$(sftp_renames "$DEST" "$NAME")" -eq 1 ]
	mount -o remount,rw "$SCHEDFEED_STATE_DIR"
	once
}

@test "the partner's disk full: 74, nothing under the final name, no temporary; with room the run delivers once" {
	dest 1
	tmpfs "$DEST" 64k
	chown "$SFTP_USER" "$DEST"
	# the partner's disk holds something of its own, and is full
	dd if=/dev/zero of="$DEST/.filler" bs=4k 2>/dev/null || true
	export SCHEDFEED_STATE_DIR=$W/state
	run sh "$JOB" "$DAY"
	echo "$output"
	[ "$status" -eq 74 ]
	[[ "$output" == *"no space left on the server"* ]]
	[ "$(ls -A "$DEST")" = .filler ]
	rm "$DEST/.filler"
	run sh "$JOB" "$DAY"
	[ "$status" -eq 0 ]
	once
}

# holding_sftp: the SFTP subsystem relayed through a script that holds
# every WRITE while $SSHD_DIR/hold exists (so that an upload is surely in
# its middle), sftp-server logging as torture_sshd's does
holding_sftp() {
	cp "$TOP/tests/sftp-hold.py" "$SSHD_DIR/hold.py"
	printf '#!/bin/sh\nexec %s %s %s pass -e -l INFO 2>>%s\n' \
	    "$PY" \
	    "$SSHD_DIR/hold.py" "$SSHD_DIR/hold" "$SFTP_LOG" > "$SSHD_DIR/sftp-logged"
	chmod 755 "$SSHD_DIR/sftp-logged"
	chmod 644 "$SSHD_DIR/hold.py"
	sshd_kill_all
	sshd_restart
}

@test "the SFTP server killed in the middle of an upload: the job fails, nothing half; back, the run delivers once, the killed upload's temporary gone" {
	dest 1
	export SCHEDFEED_STATE_DIR=$W/state
	holding_sftp
	: > "$SSHD_DIR/hold"
	# kill_sshd: once the upload's temporary is there (its writes held),
	# sshd and every session it forked, by pid
	cat > "$W/kill_sshd" <<EOS
for i in \$(seq 200); do
	[ -z "\$(find "$DEST" -name '.$NAME.*.part')" ] || break
	sleep 0.05
done
kids() { for c in \$(ps -o pid= --ppid "\$1"); do echo "\$c"; kids "\$c"; done; }
kill -KILL $SSHD_PID \$(kids $SSHD_PID) 2>/dev/null
EOS
	export TORTURE_PEER_KILL=$W/kill_sshd TORTURE_DURING=0
	torture_kill sftp-put:1:during:peer "$JOB" "$DAY"
	cat "$TORTURE_DIR/log"
	# the connection lost and not regained: a temporary failure
	[ "$TORTURE_RC" -eq 75 ]
	grep -q 'deliver failed (status 75)' "$TORTURE_DIR/log"
	[ ! -e "$DEST/$NAME" ]
	# the killed upload's temporary, as the intent names it
	part=$(ledger_intents_of "$SCHEDFEED_STATE_DIR/iq_daily/ledger")
	[ "$(ls -A "$DEST")" = "$part" ]
	rm "$SSHD_DIR/hold"
	wait "$SSHD_PID" 2>/dev/null || true
	sshd_restart
	run sh "$JOB" "$DAY"
	echo "$output"
	[ "$status" -eq 0 ]
	once
}

# ledger_intents_of LEDGER: the detail (temporary) of its intents
ledger_intents_of() {
	awk -F '\t' '$6 == "intent" { print $7 }' "$1"
}
