# The torture suite's helpers (tests/torture/*.bats, tests/torture/random.sh).
# Load after common, sftp, tls, box and ../fixtures/mtp/mtp:
#	load ../common; load ../sftp; load ../tls; load ../box
#	load ../fixtures/mtp/mtp; load torture
#
# torture_shim: PATH-shadowing wrappers (tests/torture/shim) around the
#   programs the jobs deliver with, and sync(1) for the ledger's writes.
# torture_sshd: the printer's / iQueue's sshd, its SFTP server logging
#   every rename, so that renames onto a final name can be counted.
# torture_count JOB ARG...: one clean run counting the calls of each
#   shadowed program; prints "PROG N" lines.
# torture_points PROG N WHEN:HOW...: the kill points PROG:I:WHEN:HOW for
#   I in 1..N.
# torture_kill POINT JOB ARG...: the job run in a process group of its own
#   with that kill point; TORTURE_RC is its status, TORTURE_FIRED whether
#   the point was reached.
# torture_rerun JOB ARG...: the job run again to its end (--wait: a
#   delivery the killed job left running holds the lock until it ends).
# Checks (each prints what is wrong and returns 1):
#   sftp_renames DIR NAME: how many renames onto DIR/NAME the server did
#   box_versions PATH: versions of the Box file PATH (0: none)
#   mail_ids NAME SINCE: the distinct Message-IDs of server NAME's
#     messages numbered above SINCE, one a line
#   ledger_open LEDGER: intents without an outcome (must be none)

TORTURE_PROGS="sftp-put sftp-get box-upload box-get smtp-send archive-mv sync"

torture_shim() {
	local p real
	TORTURE_SHIM=$BATS_TEST_TMPDIR/shim
	TORTURE_REAL=$BATS_TEST_TMPDIR/real
	mkdir -p "$TORTURE_SHIM" "$TORTURE_REAL"
	for p in $TORTURE_PROGS; do
		real=$(command -v "$p") || skip "$p is not built"
		ln -sf "$real" "$TORTURE_REAL/$p"
		ln -sf "$TOP/tests/torture/shim" "$TORTURE_SHIM/$p"
	done
	PATH=$TORTURE_SHIM:$PATH
	# where the shims count the calls of a run that is not a kill run
	TORTURE_DIR=$BATS_TEST_TMPDIR/calls
	mkdir -p "$TORTURE_DIR"
	export PATH TORTURE_REAL TORTURE_SHIM TORTURE_DIR
	command -v setsid >/dev/null || skip "needs setsid(1)"
}

torture_sshd() {
	sshd_start
	# OpenSSH's sftp-server at INFO logs each rename (old "..." new
	# "...") to its standard error, here a file of the server's
	SFTP_LOG=$SSHD_DIR/sftp.log
	: > "$SFTP_LOG"
	chmod 666 "$SFTP_LOG"
	printf '#!/bin/sh\nexec /usr/lib/openssh/sftp-server -e -l INFO 2>>%s\n' \
	    "$SFTP_LOG" > "$SSHD_DIR/sftp-logged"
	chmod 755 "$SSHD_DIR/sftp-logged"
	sed -i "s|^Subsystem sftp internal-sftp\$|Subsystem sftp $SSHD_DIR/sftp-logged|" \
	    "$SSHD_DIR/sshd_config"
	sshd_kill_all
	sshd_restart
	export SFTP_LOG
}

torture_count() {
	local p
	export TORTURE_DIR
	TORTURE_DIR=$(mktemp -d "$BATS_TEST_TMPDIR/count.XXXXXX")
	TORTURE_KILL= sh "$@" > "$TORTURE_DIR/log" 2>&1 ||
	    { cat "$TORTURE_DIR/log" >&2; return 1; }
	for p in $TORTURE_PROGS; do
		[ ! -e "$TORTURE_DIR/count.$p" ] ||
		    echo "$p $(cat "$TORTURE_DIR/count.$p")"
	done
}

torture_points() {
	local prog=$1 n=$2 i wh
	shift 2
	for i in $(seq "$n"); do
		for wh in "$@"; do
			echo "$prog:$i:$wh"
		done
	done
}

torture_kill() {
	local point=$1
	shift
	export TORTURE_DIR
	TORTURE_DIR=$(mktemp -d "$BATS_TEST_TMPDIR/kill.XXXXXX")
	TORTURE_RC=0
	# set -m: the job a process group of its own, its shell the leader,
	# as cron or a login shell would start it; 3>&- : a delivery
	# outliving the job must not hold bats' fd 3
	set -m
	TORTURE_KILL=$point sh "$@" > "$TORTURE_DIR/log" 2>&1 3>&- &
	set +m
	wait $! 2>/dev/null || TORTURE_RC=$?
	TORTURE_FIRED=0
	[ ! -e "$TORTURE_DIR/fired" ] || TORTURE_FIRED=1
}

torture_rerun() {
	local job=$1
	shift
	TORTURE_DIR=$(mktemp -d "$BATS_TEST_TMPDIR/rerun.XXXXXX")
	TORTURE_RC=0
	TORTURE_KILL= sh "$job" --wait=120 "$@" > "$TORTURE_DIR/log" 2>&1 3>&- ||
	    TORTURE_RC=$?
}

sftp_renames() {
	grep -F "rename old \"" "$SFTP_LOG" |
	    grep -cF "new \"$1/$2\"" || true
}

box_versions() {
	box_ctl files | awk -F '\t' -v p="$1" '$1 == p && $6 != "trashed" { v = $3 } END { print v + 0 }'
}

box_sha1() {
	box_ctl files | awk -F '\t' -v p="$1" '$1 == p { print $4 }'
}

mail_ids() {
	local f n
	for f in "$W/mail-$1"/*.eml; do
		[ -e "$f" ] || continue
		n=${f##*/}
		n=${n%.eml}
		[ "$n" -gt "$2" ] || continue
		sed -n 's/^[Mm]essage-[Ii][Dd]: *//p' "$f" | tr -d '\r' | head -1
	done | sort -u
}

# mail_total NAME: messages server NAME holds
mail_total() {
	find "$W/mail-$1" -name '*.eml' 2>/dev/null | wc -l
}

ledger_open() {
	[ -f "$1" ] || return 0
	awk -F '\t' '!/^#/ && (NF == 6 || NF == 7) {
		k = $2 SUBSEP $3 SUBSEP $5
		if ($6 == "intent") open[k] = 1; else delete open[k]
	    }
	    END { for (k in open) { split(k, f, SUBSEP); print f[2] " to " f[3] } }' "$1"
}

# torture_report FILE: the points that broke an invariant, for the log
torture_report() {
	if [ -s "$1" ]; then
		echo "broken invariants:" >&2
		cat "$1" >&2
		return 1
	fi
}

# torture_whens PROG I N: the WHEN:HOW kill points of PROG's I-th call of
# N. make check (the deterministic matrix kept within CI's time): each
# delivery program's first call, before, during and after (killing the
# group), and during with the shell killed alone (the program goes on,
# holding the lock); the ledger's first intent and outcome. make torture
# (TORTURE_FULL=1): every call of every program, and after each with the
# shell killed alone too.
torture_whens() {
	local full=${TORTURE_FULL:-0}
	[ "$full" = 1 ] || [ "$2" -eq 1 ] || { [ "$1" = sync ] && [ "$2" -eq 2 ]; } ||
	    return 0
	case $1 in
	sftp-put | box-upload | smtp-send)
		echo before:group during:group after:group during:shell
		[ "$full" = 0 ] || echo after:shell ;;
	sftp-get | box-get)
		echo before:group after:group during:shell ;;
	archive-mv)
		echo before:group after:group ;;
	sync)
		echo after:group
		[ "$full" = 0 ] || echo after:shell ;;
	esac
}

# torture_matrix JOB ARG...: a counting run, then every kill point of
# torture_whens, each on a fresh state and fresh destinations (the test's
# function fresh P), the job killed there, run again to its end (it must
# exit 0), and the test's function partners POINT asked what is wrong
# (it prints nothing when all is well); an intent left open in the
# ledger ($LEDGER_OF) is wrong too. With TORTURE_FULL the run after that
# must also exit 0 and leave the partners as they are. Fails listing every
# point that broke an invariant.
torture_matrix() {
	local p=0 point counts prog n i wh broken=$BATS_TEST_TMPDIR/broken why
	: > "$broken"
	fresh count
	counts=$(torture_count "$@") || return 1
	echo "$counts"
	echo "$counts" | while read -r prog n; do
		for i in $(seq "$n"); do
			for wh in $(torture_whens "$prog" "$i" "$n"); do
				echo "$prog:$i:$wh"
			done
		done
	done > "$BATS_TEST_TMPDIR/points"
	[ -s "$BATS_TEST_TMPDIR/points" ]
	while read -r point; do
		p=$((p + 1))
		fresh "$p"
		torture_kill "$point" "$@"
		if [ "$TORTURE_FIRED" != 1 ]; then
			echo "$point: never reached" >> "$broken"
			continue
		fi
		[ "$TORTURE_RC" -ne 0 ] || [ "${point##*:}" = shell ] ||
		    echo "$point: the killed run exited 0" >> "$broken"
		torture_rerun "$@"
		why=
		[ "$TORTURE_RC" -eq 0 ] ||
		    why="re-run exit $TORTURE_RC (stuck): $(tail -n 3 "$TORTURE_DIR/log" | tr '\n' ' ')"
		why="$why$(partners "$point")"
		[ -z "$(ledger_open "$LEDGER_OF")" ] ||
		    why="$why open intent: $(ledger_open "$LEDGER_OF");"
		if [ "${TORTURE_FULL:-0}" = 1 ]; then
			torture_rerun "$@"
			[ "$TORTURE_RC" -eq 0 ] || why="$why next run exit $TORTURE_RC;"
			why="$why$(partners "$point")"
		fi
		[ -z "$why" ] || echo "$point: $why" >> "$broken"
	done < "$BATS_TEST_TMPDIR/points"
	echo "$p kill points"
	torture_report "$broken"
}

# torture_random JOB ARG...: make torture's random kills. A clean run
# times the job; then TORTURE_N (default 50) times, on a fresh state and
# fresh destinations: the job started, killed with SIGKILL at a random
# moment of that time (its process group, or its shell alone, at random),
# run again to its end, and the partners asked (partners POINT). Appends
# one row to $TORTURE_TABLE: job, kills (the job still running when
# killed), re-runs, duplicates, halves, stuck re-runs; fails when any of
# the last three is not 0.
torture_random() {
	local n=${TORTURE_N:-50} i t0 t1 ms at how pid kills=0 reruns=0 dups=0 halves=0 stuck=0 why
	local job=${1##*/}
	job=${job%.sh}
	fresh count
	t0=$(date +%s%N)
	torture_count "$@" > /dev/null || return 1
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "a clean run: $ms ms"
	: > "$BATS_TEST_TMPDIR/random.log"
	for i in $(seq "$n"); do
		fresh "r$i"
		at=$(awk -v s="$RANDOM$i" -v ms="$ms" 'BEGIN { srand(s); printf "%.3f", rand() * ms / 1000 }')
		how=group
		[ $((RANDOM % 2)) -eq 0 ] || how=shell
		TORTURE_DIR=$(mktemp -d "$BATS_TEST_TMPDIR/random.XXXXXX")
		set -m
		TORTURE_KILL= sh "$@" > "$TORTURE_DIR/log" 2>&1 3>&- &
		pid=$!
		set +m
		sleep "$at"
		if kill -0 "$pid" 2>/dev/null; then
			kills=$((kills + 1))
			if [ "$how" = group ]; then
				kill -KILL -- "-$pid" 2>/dev/null || true
			else
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
		wait "$pid" 2>/dev/null || true
		torture_rerun "$@"
		reruns=$((reruns + 1))
		why=$(partners "kill $i at ${at}s ($how)")
		[ -z "$(ledger_open "$LEDGER_OF")" ] || why="$why open intent;"
		if [ "$TORTURE_RC" -ne 0 ]; then
			stuck=$((stuck + 1))
			why="$why re-run exit $TORTURE_RC;"
		fi
		case $why in
		*renames* | *versions* | *Message-IDs* | *"files under"* | *"files filed"*)
			dups=$((dups + 1)) ;;
		esac
		case $why in
		*half*) halves=$((halves + 1)) ;;
		esac
		[ -z "$why" ] || echo "kill $i at ${at}s ($how):$why" >> "$BATS_TEST_TMPDIR/random.log"
	done
	printf '%-14s %6d %8d %11d %7d %6d\n' "$job" "$kills" "$reruns" "$dups" \
	    "$halves" "$stuck" >> "${TORTURE_TABLE:-$BATS_RUN_TMPDIR/torture-table}"
	torture_report "$BATS_TEST_TMPDIR/random.log"
}
