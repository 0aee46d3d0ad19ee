#!/usr/bin/env bats
# The torture suite for iq_daily: the job killed (SIGKILL to its process
# group, and to its shell alone) right before, during and right after each
# delivery and each ledger write, then run again to its end; each time
# the partner holds the feed exactly once (renames onto the final name
# counted in the SFTP server's log), whole, no temporary left, the ledger
# with no intent left open, and the run after exits 0 and sends nothing.

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
	export SFTP_TEST_USER=sftort16iq
	sftp_user_create "$SFTP_TEST_USER"
}

teardown_file() {
	sftp_user_remove "$SFTP_TEST_USER"
}

setup() {
	iq_suite_setup
}

teardown() {
	tdsd_stop_all
	sshd_stop
}

# fresh P: point P's own state and destination (KIND: sftp or dir)
fresh() {
	export SCHEDFEED_STATE_DIR=$W/state-$1
	LEDGER_OF=$SCHEDFEED_STATE_DIR/iq_daily/ledger
	if [ "$KIND" = sftp ]; then
		DEST=$REMOTE/p$1
		mkdir -p "$DEST"
		chown "$SFTP_USER" "$DEST"
		export IQ_DEST=$URL$DEST
	else
		DEST=$W/share-$1
		mkdir -p "$DEST"
		export IQ_DEST=$DEST
	fi
}

# partners POINT: what is wrong at the destination and in the archive
partners() {
	local archive=$SCHEDFEED_STATE_DIR/iq_daily/archive n
	[ "$(ls -A "$DEST")" = "$NAME" ] ||
	    echo " destination holds: $(ls -A "$DEST" | tr '\n' ' ');"
	cmp -s "$FIX/iq_daily/$NAME" "$DEST/$NAME" || echo " half or wrong file;"
	if [ "$KIND" = sftp ]; then
		n=$(sftp_renames "$DEST" "$NAME")
		[ "$n" -eq 1 ] || echo " $n renames onto the final name;"
	fi
	n=$(find "$archive" -type f | wc -l)
	[ "$n" -eq 1 ] || echo " the archive holds $n files;"
}

@test "iq_daily to SFTP: killed at every delivery and ledger write, the feed is there exactly once" {
	KIND=sftp
	torture_matrix "$JOB" "$DAY"
}

@test "iq_daily to a directory: killed at every ledger write and the archive, the feed is there once, the job never stuck" {
	KIND=dir
	# every sync: the copy's own (after its rename: there, no outcome yet)
	export TORTURE_SYNC_ALL=1 TORTURE_FULL=1
	torture_matrix "$JOB" "$DAY"
}
