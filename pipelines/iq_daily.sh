#!/bin/sh
# iq_daily.sh [RUN_DATE]: the iQueue daily infusion feed (specs/iqueue.md).
#
# Queries MOSAIQ for the infusion appointments of the previous business
# day (with what the queue browser saw) and of RUN_DATE through RUN_DATE +
# 60 days, shapes them into iQueue's CSV, and delivers the file to IQ_DEST.
# RUN_DATE is YYYY-MM-DD, default today (in TZ). Settings: see
# iq_daily.env.example next to this script.
#
#	sched-query  -f sql/iq_daily.sql  -> staging/query.XXXXXX
#	csv-shape    -F shapes/iqueue.shape -> staging/feed.XXXXXX
#	deliver      IQ_DEST/.NAME.XXXXXX, fsync, rename to IQ_DEST/NAME
#
# Each stage writes a file and is checked before the next runs (POSIX sh
# has no pipefail), so a dropped connection or a bad row leaves nothing
# under the final name. Temporaries are removed on every exit. One log
# line per step on stderr: time, job, run date, step, outcome; never a
# row of data.
#
# The previous business day: Tuesday to Friday look back one day, Monday
# to Friday; a run on Saturday or Sunday also looks back to Friday.
# Holidays are not known: the day after a holiday looks back to the
# holiday (and finds no appointments).
set -u

JOB=iq_daily
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 70

say() {
	printf '%s: %s\n' "$JOB" "$*" >&2
}

log() {
	printf '%s %s %s %s\n' "$(date +%Y-%m-%dT%H:%M:%S%z)" "$JOB" \
	    "${RUN_DATE:--}" "$*" >&2
}

usage() {
	printf 'usage: %s [RUN_DATE]\n' "$JOB" >&2
	exit 64
}

# fail STEP STATUS: log the step's failure and stop with its status
fail() {
	log "$1 failed (status $2)"
	exit "$2"
}

case $# in
0) RUN_DATE=$(date +%F) ;;
1) RUN_DATE=$1 ;;
*) usage ;;
esac
case $RUN_DATE in
-*) usage ;;
esac

# A date the shell and GNU date agree on, computed at noon UTC so that no
# time zone or DST change can move it across midnight.
case $RUN_DATE in
[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9])
	run_epoch=$(TZ=UTC0 date -d "$RUN_DATE 12:00" +%s 2>/dev/null) ||
	    run_epoch= ;;
*)	run_epoch= ;;
esac
if [ -z "$run_epoch" ] ||
    [ "$(TZ=UTC0 date -d "@$run_epoch" +%F)" != "$RUN_DATE" ]; then
	say "invalid RUN_DATE '$RUN_DATE': expected YYYY-MM-DD, a real day"
	usage
fi

# day N: RUN_DATE + N days, as YYYY-MM-DD
day() {
	TZ=UTC0 date -d "@$((run_epoch + $1 * 86400))" +%F
}

case $(TZ=UTC0 date -d "@$run_epoch" +%u) in
1) back=3 ;;	# Monday: Friday
7) back=2 ;;	# Sunday: Friday
*) back=1 ;;	# Tuesday to Saturday: the day before
esac
past_day=$(day "-$back")
past_end=$(day "$((1 - back))")
horizon_end=$(day 61)		# RUN_DATE + 60 is the last day included

# Settings
IQ_DEPT=${IQ_DEPT:-UNMMO}
IQ_UNIT=${IQ_UNIT:-4th Floor Infusion}
IQ_FILE_NAME=${IQ_FILE_NAME:-unmcc_%Y_%m_%d.csv}
IQ_SQL=${IQ_SQL:-$here/sql/iq_daily.sql}
IQ_SHAPE=${IQ_SHAPE:-$here/shapes/iqueue.shape}
IQ_DEST=${IQ_DEST:-}
state_dir=${SCHEDFEED_STATE_DIR:-/var/lib/schedfeed}/$JOB
staging=$state_dir/staging

if [ -z "$IQ_DEST" ]; then
	say "IQ_DEST is not set (the directory the feed is delivered to)"
	exit 78
fi
case $IQ_DEST in
*://*)
	say "IQ_DEST: only a directory is supported so far, not $IQ_DEST"
	exit 78 ;;
esac
if [ ! -d "$IQ_DEST" ] || [ ! -w "$IQ_DEST" ]; then
	say "IQ_DEST: $IQ_DEST is not a writable directory"
	exit 73
fi
name=$(TZ=UTC0 date -d "@$run_epoch" +"$IQ_FILE_NAME") || exit 78
case $name in
'' | . | .. | .* | */*)
	say "IQ_FILE_NAME: '$IQ_FILE_NAME' does not make a plain file name"
	exit 78 ;;
esac
for f in "$IQ_SQL" "$IQ_SHAPE"; do
	if [ ! -r "$f" ]; then
		say "$f: cannot read"
		exit 66
	fi
done

umask 077
mkdir -p "$staging" 2>/dev/null || {
	say "cannot create the staging directory $staging"
	exit 73
}

raw=''
shaped=''
partial=''
child=''
cleanup() {
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	rm -f -- ${raw:+"$raw"} ${shaped:+"$shaped"} ${partial:+"$partial"}
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if ! raw=$(mktemp "$staging/query.XXXXXX") ||
    ! shaped=$(mktemp "$staging/feed.XXXXXX"); then
	say "cannot create temporary files in $staging"
	exit 73
fi

# stage CMD [ARG...]: runs CMD and returns its status. In the background
# and waited for, so that a signal is acted on at once: the trap stops CMD
# and removes the temporaries, rather than waiting for a long query.
stage() {
	"$@" &
	child=$!
	wait "$child"
	set -- $?
	child=
	return "$1"
}

log "start (past day $past_day, future $RUN_DATE to $(day 60), file $name)"

stage sched-query -f "$IQ_SQL" \
    -v "past_day:date=$past_day" \
    -v "past_end:date=$past_end" \
    -v "today:date=$RUN_DATE" \
    -v "horizon_end:date=$horizon_end" \
    -v "dept:nvarchar=$IQ_DEPT" > "$raw" || fail query $?
log "query ok"

stage csv-shape -F "$IQ_SHAPE" --set "Unit=$IQ_UNIT" "$raw" > "$shaped" ||
    fail shape $?
log "shape ok"

# Deliver: a temporary beside the final name, flushed to disk, renamed.
partial=$(mktemp "$IQ_DEST/.$name.XXXXXX") || fail deliver 73
if ! cat "$shaped" > "$partial" || ! sync "$partial"; then
	fail deliver 74
fi
mv -f "$partial" "$IQ_DEST/$name" || fail deliver 74
partial=
sync "$IQ_DEST" 2>/dev/null || :	# the rename itself, where possible
log "deliver ok ($IQ_DEST/$name)"
log "done"
