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
	common_setup
	[ -x "$TDSD" ] || skip "tdsd is not built ($TDSD)"
	command -v sched-query >/dev/null || skip "sched-query is not built"
	unset IQ_SQL IQ_SHAPE IQ_DEPT IQ_UNIT IQ_FILE_NAME SFTP_PASSWORD \
	    SFTP_PASSWORD_FILE SFTP_KNOWN_HOSTS SCHEDFEED_ALERT_TO
	torture_shim
	torture_sshd
	tdsd_demo_db "$W/demo.sqlite"
	tdsd_start "$W/demo.sqlite"
	export SCHEDFEED_DB_DATABASE=demo
	BROKEN=$W/broken
	: > "$BROKEN"
}

teardown() {
	tdsd_stop_all
	sshd_stop
}

# fresh P: point P's own state and destination
fresh_sftp() {
	export SCHEDFEED_STATE_DIR=$W/state-$1
	DEST=$REMOTE/p$1
	mkdir -p "$DEST"
	chown "$SFTP_USER" "$DEST"
	export IQ_DEST=$URL$DEST
}

fresh_dir() {
	export SCHEDFEED_STATE_DIR=$W/state-$1
	DEST=$W/share-$1
	mkdir -p "$DEST"
	export IQ_DEST=$DEST
}

# check POINT KIND: the invariants after the kill and the re-run; what is
# broken goes to $BROKEN
check() {
	local point=$1 kind=$2 why=
	local ledger=$SCHEDFEED_STATE_DIR/iq_daily/ledger archive=$SCHEDFEED_STATE_DIR/iq_daily/archive
	[ "$TORTURE_RC" -eq 0 ] || why="$why re-run exit $TORTURE_RC (stuck);"
	[ "$(ls -A "$DEST")" = "$NAME" ] || why="$why destination holds: $(ls -A "$DEST" | tr '\n' ' ');"
	cmp -s "$FIX/iq_daily/$NAME" "$DEST/$NAME" || why="$why half or wrong file;"
	if [ "$kind" = sftp ]; then
		n=$(sftp_renames "$DEST" "$NAME")
		[ "$n" -eq 1 ] || why="$why $n renames onto the final name (duplicate);"
	fi
	[ -z "$(ledger_open "$ledger")" ] || why="$why open intent in the ledger;"
	[ "$(find "$archive" -type f | wc -l)" -eq 1 ] || why="$why archive holds $(find "$archive" -type f | wc -l) files;"
	# the run after: exit 0, nothing sent
	torture_rerun "$JOB" "$DAY"
	[ "$TORTURE_RC" -eq 0 ] || why="$why next run exit $TORTURE_RC;"
	grep -q "already delivered" "$TORTURE_DIR/log" || why="$why next run did not find it delivered;"
	if [ "$kind" = sftp ]; then
		n=$(sftp_renames "$DEST" "$NAME")
		[ "$n" -eq 1 ] || why="$why the next run renamed again;"
	fi
	[ -z "$why" ] || echo "$point:$why" >> "$BROKEN"
}

# matrix KIND: every kill point of a clean run's calls
matrix() {
	local kind=$1 p=0 point counts
	"fresh_$kind" count
	counts=$(torture_count "$JOB" "$DAY")
	echo "$counts"
	{
		echo "$counts" | while read -r prog n; do
			case $prog in
			sftp-put) torture_points "$prog" "$n" before:group during:group after:group during:shell after:shell ;;
			sync) torture_points "$prog" "$n" after:group after:shell ;;
			archive-mv) torture_points "$prog" "$n" before:group after:group ;;
			esac
		done
	} > "$W/points"
	[ -s "$W/points" ]
	while read -r point; do
		p=$((p + 1))
		"fresh_$kind" "$p"
		torture_kill "$point" "$JOB" "$DAY"
		[ "$TORTURE_FIRED" = 1 ] || { echo "$point: never reached" >> "$BROKEN"; continue; }
		[ "$TORTURE_RC" -ne 0 ] || [ "${point##*:}" = shell ] ||
		    echo "$point: the killed run exited 0" >> "$BROKEN"
		torture_rerun "$JOB" "$DAY"
		check "$point" "$kind"
	done < "$W/points"
	echo "$p kill points"
	torture_report "$BROKEN"
}

@test "iq_daily to SFTP: killed at every delivery and ledger write, the feed is there exactly once" {
	matrix sftp
}

@test "iq_daily to a directory: killed at every ledger write and the archive, the feed is there once, the job never stuck" {
	matrix dir
}
