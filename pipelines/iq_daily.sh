#!/bin/sh
# iq_daily.sh [--force] [--wait[=SECONDS]] [RUN_DATE]: the iQueue daily
# infusion feed (specs/iqueue.md).
#
# Queries MOSAIQ for the infusion appointments of the previous business
# day (with what the queue browser saw) and of RUN_DATE through RUN_DATE +
# 60 days, shapes them into iQueue's CSV, delivers the file to IQ_DEST
# (sftp://USER@HOST[:PORT]/DIR or a directory) and archives the local copy
# that was delivered. RUN_DATE is YYYY-MM-DD, default today (in TZ).
# Settings: see iq_daily.env.example next to this script.
#
#	query    sched-query -f sql/iq_daily.sql    -> staging/DATE/query.csv
#	shape    csv-shape -F shapes/iqueue.shape  -> staging/DATE/NAME
#	deliver  sftp-put (or a copy into the directory) -> staging/DATE/receipts
#	backup-NAME  s3-put to SCHEDFEED_BACKUP_URL/iq_daily/YYYY/MM/DD/ (when set)
#	archive  archive-mv --to archive --date DATE  < staging/DATE/receipts
#
# The state lives in $SCHEDFEED_STATE_DIR/iq_daily (pipelines/lib/job.sh):
# a lock, so that two runs never overlap (a second run exits 75, or with
# --wait waits for the first; --wait=SECONDS at most that long); a ledger
# of what was delivered, so that running a date again with the same
# content sends nothing and says so (--force resends; different content
# for the date is sent and logged as a correction); and the steps done, so
# that a run after a failure resumes at the failed step with the files
# the earlier one staged. --force also runs every step again.
#
# Every file is written atomically (a temporary beside it, fsynced,
# renamed), here and at the destination: a dropped connection, a bad row
# or kill -9 leaves nothing under the final name. One log line per step on
# stderr and in the state directory's log: time, job, run date, step,
# outcome; never a row of data. The job exits with the failing step's
# status (sysexits, schedfeed(7)).
#
# The previous business day: Tuesday to Friday look back one day, Monday
# to Friday; a run on Saturday or Sunday also looks back to Friday.
# Holidays are not known: the day after a holiday looks back to the
# holiday (and finds no appointments).
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 70
# shellcheck source=pipelines/lib/job.sh
. "$here/lib/job.sh"

say() {
	printf 'iq_daily: %s\n' "$*" >&2
}

# RUN_DATE must be a day: job_start would take an hour (YYYY-MM-DDTHH)
# too. Checked here, before the lock, with the job's own message.
for arg do
	case $arg in
	-*) continue ;;		# job_start's options
	[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9])
		[ "$(TZ=UTC0 date -d "$arg 12:00" +%F 2>/dev/null)" != "$arg" ] ||
		    continue ;;
	esac
	say "invalid RUN_DATE '$arg': expected YYYY-MM-DD, a real day"
	printf 'usage: iq_daily [--wait[=SECONDS]] [--force] [DATE]\n' >&2
	exit 64
done

job_start iq_daily "$(date +%F)" "$@"
RUN_DATE=$JOB_DATE

# Date arithmetic at noon UTC, so that no time zone or DST change can
# move a day across midnight.
run_epoch=$(TZ=UTC0 date -d "$RUN_DATE 12:00" +%s) || job_fail config 70

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

# config_error STATUS TEXT: a setting the job cannot run with
config_error() {
	say "$2"
	job_fail config "$1"
}

case $IQ_DEST in
'')
	config_error 78 "IQ_DEST is not set (sftp://USER@HOST[:PORT]/DIR or a directory)" ;;
sftp://*:*@*)
	# it would reach the ledger and the log
	config_error 78 "IQ_DEST: a password in the URL is refused; set SFTP_PASSWORD_FILE" ;;
sftp://*)
	;;
*://*)
	config_error 78 "IQ_DEST: only sftp:// URLs and directories are supported" ;;
*)
	if [ ! -d "$IQ_DEST" ] || [ ! -w "$IQ_DEST" ]; then
		config_error 73 "IQ_DEST: $IQ_DEST is not a writable directory"
	fi ;;
esac
name=$(TZ=UTC0 date -d "@$run_epoch" +"$IQ_FILE_NAME") || job_fail config 78
case $name in
'' | . | .. | .* | */* | *,* | *'"'*)
	config_error 78 "IQ_FILE_NAME: '$IQ_FILE_NAME' does not make a plain file name" ;;
esac
job_backup_check || job_fail config 78
for f in "$IQ_SQL" "$IQ_SHAPE"; do
	[ -r "$f" ] || config_error 66 "$f: cannot read"
done

# One staging directory per run date: a resumed run finds its own files.
stage=$JOB_STAGING/$RUN_DATE
raw=$stage/query.csv
feed=$stage/$name
receipts=$stage/receipts
job_mkdir "$stage"

job_log "feed: past day $past_day, future $RUN_DATE to $(day 60), file $name"

job_step --out "$raw" query sched-query -f "$IQ_SQL" \
    -v "past_day:date=$past_day" \
    -v "past_end:date=$past_end" \
    -v "today:date=$RUN_DATE" \
    -v "horizon_end:date=$horizon_end" \
    -v "dept:nvarchar=$IQ_DEPT"

job_step --out "$feed" shape csv-shape -F "$IQ_SHAPE" --set "Unit=$IQ_UNIT" "$raw"

case $IQ_DEST in
sftp://*)
	# The password, if any, only from SFTP_PASSWORD or SFTP_PASSWORD_FILE
	# in the environment; sftp-put reads them itself.
	set -- --known-hosts "${SFTP_KNOWN_HOSTS:-$HOME/.ssh/known_hosts}"
	[ -z "${SFTP_KEY:-}" ] || set -- "$@" -i "$SFTP_KEY"
	# job_sftp_put: the temporary the ledger's intent names, and after
	# an interrupted run nothing sent when the final name holds the feed
	job_deliver --out "$receipts" deliver "$name" "$feed" "$IQ_DEST" \
	    job_sftp_put "$@" "$IQ_DEST" "$feed" ;;
*)
	job_deliver --out "$receipts" deliver "$name" "$feed" "$IQ_DEST" \
	    job_copy_to_dir "$feed" "$IQ_DEST" ;;
esac

# The off-site copy (SCHEDFEED_BACKUP_URL), a delivery of its own
job_backup "$feed"

# Exactly the files the receipts name, under the run date. Nothing sent
# (the receipts are empty): the feed is the one delivered before, whose
# copy is archived already, unless a run was killed between delivering
# and archiving; then this one is that copy.
archive() {
	archive-mv --to "$JOB_ARCHIVE" --date "$RUN_DATE" < "$receipts" > /dev/null
	[ -e "$feed" ] || return 0
	for copy in "$JOB_ARCHIVE/$(echo "$RUN_DATE" | tr - /)/$name"*; do
		! cmp -s "$copy" "$feed" || return 0
	done
	archive-mv --to "$JOB_ARCHIVE" --date "$RUN_DATE" "$feed" > /dev/null
}
job_step archive archive
# What is left: the query's rows, the receipts, and a feed not sent
# because it had been (it is in the archive already).
rm -rf -- "$stage"
job_finish
