#!/bin/sh
# bz_outbound.sh [--force] [--wait[=S]] [HOUR | START END]: the business
# requests of an hour, out to the city (specs/mtp.md; the seed's
# sendBZInfo.sh). Run hourly.
#
# HOUR is YYYY-MM-DDTHH, the window HH:00:00 to HH:59:59 inclusive; by
# default the previous whole hour in MTP_TZ. START END (YYYY-MM-DDTHH:MM:SS
# each, both included) give another window, named after START's hour.
#
#	settings	every setting is there (78 and an alert when not)
#	query		sched-query -f sql/bz_outbound.sql: pending requests
#			created in the window
#	file		csv-shape -F shapes/bz_outbound.shape into
#			DATA_DIR/business/business_requisition_DAY_HH00.csv
#	box		box-upload into MTP_BOX_TO_CITY_FOLDER (ledger-guarded)
#	mail		smtp-send to BZ_CITY_MAIL_TO: a file is waiting
#			(ledger-guarded)
#	backup-NAME	with SCHEDFEED_BACKUP_URL set, s3-put of the file into
#			its PREFIX/bz_outbound/YYYY/MM/DD/ (the hour's day)
#	sent		archive-mv into DATA_DIR/business/sent/ (YYYY/MM/DD/)
#
# No requests: no file, nothing sent, exit 0 with a log line. A failed
# step stops the job with its status (an alert when SCHEDFEED_ALERT_TO is
# set); the next run for the same HOUR resumes at it.
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 70
# shellcheck source=pipelines/lib/job.sh
. "$here/lib/job.sh"

MTP_TZ=${MTP_TZ:-America/New_York}

# START END: two date-times; the rest goes to job_start
start=
end=
hour=
set -- "$@" --bz-end--
while [ "$1" != --bz-end-- ]; do
	case $1 in
	[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T\ ][0-9][0-9]:[0-9][0-9]:[0-9][0-9])
		if [ -z "$start" ]; then
			start=$1
		elif [ -z "$end" ]; then
			end=$1
		else
			printf 'bz_outbound: one window: START END\n' >&2
			exit 64
		fi ;;
	*) set -- "$@" "$1" ;;
	esac
	shift
done
shift
if [ -n "$start" ]; then
	if [ -z "$end" ]; then
		printf 'bz_outbound: START needs an END\n' >&2
		exit 64
	fi
	for t in "$start" "$end"; do
		if ! date -d "$(echo "$t" | tr T ' ')" +%s > /dev/null 2>&1; then
			printf 'bz_outbound: %s: not a date-time\n' "$t" >&2
			exit 64
		fi
	done
	hour=$(echo "$start" | cut -c1-13 | tr ' ' T)
	set -- "$@" "$hour"
fi

job_start bz_outbound "$(TZ=$MTP_TZ date -d '1 hour ago' +%Y-%m-%dT%H)" "$@"
case $JOB_DATE in
*T*) ;;
*) _job_die 64 "$JOB_DATE: bz_outbound takes an hour, YYYY-MM-DDTHH" ;;
esac
if [ -z "$start" ]; then
	start="${JOB_DATE%T*} ${JOB_DATE#*T}:00:00"
	end="${JOB_DATE%T*} ${JOB_DATE#*T}:59:59"
fi
start=$(echo "$start" | tr T ' ')
end=$(echo "$end" | tr T ' ')

DATA_DIR=${DATA_DIR:-$JOB_DIR/data}
BZ_SQL_DIR=${BZ_SQL_DIR:-$here/sql}
BZ_SHAPES=${BZ_SHAPES:-$here/shapes}
MTP_BOX_TO_CITY_FOLDER=${MTP_BOX_TO_CITY_FOLDER:-}
BZ_CITY_MAIL_TO=${BZ_CITY_MAIL_TO:-}
name=business_requisition_${JOB_DATE%T*}_${JOB_DATE#*T}00.csv
stage=$JOB_STAGING/$JOB_DATE
file=$DATA_DIR/business/$name

settings() {
	job_require MTP_BOX_TO_CITY_FOLDER BZ_CITY_MAIL_TO \
	    HEALTH_NETWORK_SMTP_URL HEALTH_NETWORK_MAIL_FROM || return 78
	job_secret_check HEALTH_NETWORK_USER_PWD || return 78
	job_backup_check || return 78
	job_readable "$BZ_SQL_DIR/bz_outbound.sql" \
	    "$BZ_SHAPES/bz_outbound.shape" || return 66
}

shape() {
	mkdir -p "$DATA_DIR/business"
	csv-shape -F "$BZ_SHAPES/bz_outbound.shape" -w "$file" \
	    "$stage/query.csv"
}

to_city() {
	box-upload --folder-path "$MTP_BOX_TO_CITY_FOLDER" "$file"
}

mail_city() {
	job_mail "$BZ_CITY_MAIL_TO" "Business requisition file waiting: $name" \
	    < "$stage/mail.txt"
}

# file_sent: the file into sent/YYYY/MM/DD/, once: a run of an hour
# already sent makes the same file again, and finds it filed
file_sent() {
	day=$DATA_DIR/business/sent/$(date +%Y/%m/%d)
	for copy in "$day/$name" "$day/$name".*; do
		if [ -f "$copy" ] && cmp -s "$copy" "$file"; then
			rm -f -- "$file"
			return 0
		fi
	done
	archive-mv --to "$DATA_DIR/business/sent" "$file"
}

job_log "window $start to $end"
job_run settings settings
mkdir -p "$stage" || _job_die 73 "cannot create $stage"
job_step --out "$stage/query.csv" query \
    sched-query -f "$BZ_SQL_DIR/bz_outbound.sql" \
    -v "start:datetime=$start" -v "end:datetime=$end"
if [ -z "$(sed -n '2{p;q;}' "$stage/query.csv")" ]; then
	job_log "no business requests, nothing to send"
	rm -rf "$stage"
	job_finish
	exit 0
fi
job_step file shape

job_mail_use "$HEALTH_NETWORK_SMTP_URL" "${HEALTH_NETWORK_SMTP_PORT:-}" \
    "$HEALTH_NETWORK_MAIL_FROM" "${HEALTH_NETWORK_USER_NAME:-}" \
    HEALTH_NETWORK_USER_PWD "${HEALTH_NETWORK_SMTP_CACERT:-}" \
    "${HEALTH_NETWORK_SMTP_RETRIES:-}"
{
	printf 'A business requisition file is waiting for you in Box:\n'
	printf '%s/%s\n\n' "$MTP_BOX_TO_CITY_FOLDER" "$name"
	printf 'Fill approved_confirm (Y or N) and slots_approved, and put it\n'
	printf 'in %s.\n' "${MTP_BOX_FROM_CITY_FOLDER:-the FromCity folder}"
} > "$stage/mail.txt" || _job_die 73 "cannot write $stage/mail.txt"

job_deliver --out "$stage/box.csv" box "$name" "$file" \
    "box:$MTP_BOX_TO_CITY_FOLDER" to_city
job_deliver mail "$name" "$stage/mail.txt" "mailto:$BZ_CITY_MAIL_TO" \
    mail_city > /dev/null
# the off-site copy (SCHEDFEED_BACKUP_URL), before the file is filed
job_backup "$file"
job_step sent file_sent
rm -rf "$stage"
job_finish
