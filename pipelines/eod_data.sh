#!/bin/sh
# eod_data.sh [--force] [--wait[=S]] [DAY]: the Mass Testing Platform's
# end-of-day files (specs/mtp.md; the seed's sendEODData.sh).
#
# DAY is YYYY-MM-DD, by default tomorrow in MTP_TZ (America/New_York). The
# appointments of DAY that are not marked unavailable become three files in
# DATA_DIR/DAY/, then each is delivered, every delivery a step of its own
# that the ledger guards (pipelines/lib/job.sh):
#
#	settings	every setting is there (78 and an alert when not)
#	query		sched-query -f sql/eod_appointments.sql -> staging,
#			from the platform's own MySQL/MariaDB database
#	files		csv-shape three times, each written whole or not at all:
#			  patient_appointments.csv	shapes/printer_appointments.shape
#			  patients_form_print.csv	shapes/printer_requisition.shape
#			  patient_appointments_master.csv  shapes/master.shape
#	printer-appointments, printer-requisition
#			sftp-put --mkdir into PRINT_SFTP_DIR/DAY on the printer
#	mail-master	smtp-send, STARTTLS + AUTH, the master file attached
#	box-patient_appointments, box-patients_form_print,
#	box-patient_appointments_master
#			box-upload --mkdir into MTP_BOX_DAILY_PARENT/<DAY as
#			MTP_BOX_DAILY_FOLDER, default MM-DD-YYYY>
#	box-transport	box-upload of the requisition file, as
#			patients_form_print_DAY.csv, into MTP_BOX_TRANSPORT_FOLDER
#	backup-NAME	with SCHEDFEED_BACKUP_URL set, s3-put of each of the
#			four files into its PREFIX/eod_data/YYYY/MM/DD/ (DAY)
#
# A failed step stops the job with its status (and mails an alert when
# SCHEDFEED_ALERT_TO is set); the next run for DAY skips the steps already
# done and resumes at the failed one. A run after a finished one sends
# again only what changed (the ledger: "already delivered, nothing sent",
# or a correction). No appointments: no files, nothing sent, exit 0.
#
# The files are in the pipe dialect (RFC 4180: LF, quotes only where
# needed), not in the seed's PHP fputcsv quoting (which also quoted any
# field holding a space). Every CSV reader reads the same values from
# both, the seed's own quoting was not regular (the samples quote
# "Detroit" once and not once), and neither csv-shape's --quote all nor
# minimal would reproduce it byte for byte.
#
# Settings: eod_data.env.example beside this script. Log lines name the
# job, the day, the step and its outcome, never a patient.
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 70
# shellcheck source=pipelines/lib/job.sh
. "$here/lib/job.sh"

MTP_TZ=${MTP_TZ:-America/New_York}
job_start eod_data "$(job_date_add "$(TZ=$MTP_TZ date +%F)" 1)" "$@"
DAY=$JOB_DATE
case $DAY in
*T*) _job_die 64 "$DAY: eod_data takes a day, YYYY-MM-DD" ;;
esac

DATA_DIR=${DATA_DIR:-$JOB_DIR/data}
EOD_SQL=${EOD_SQL:-$here/sql/eod_appointments.sql}
EOD_SHAPES=${EOD_SHAPES:-$here/shapes}
MTP_SITE=${MTP_SITE:-}
PRINT_SFTP_HOST=${PRINT_SFTP_HOST:-}
PRINT_SFTP_PORT=${PRINT_SFTP_PORT:-22}
PRINT_SFTP_USERNAME=${PRINT_SFTP_USERNAME:-}
PRINT_SFTP_DIR=${PRINT_SFTP_DIR:-/~/dropbox}
MTP_BOX_DAILY_PARENT=${MTP_BOX_DAILY_PARENT:-}
MTP_BOX_DAILY_FOLDER=${MTP_BOX_DAILY_FOLDER:-%m-%d-%Y}
MTP_BOX_TRANSPORT_FOLDER=${MTP_BOX_TRANSPORT_FOLDER:-}

day_dir=$DATA_DIR/$DAY
stage=$JOB_STAGING/$DAY
receipts=$JOB_DIR/receipts/$DAY
appointments=patient_appointments.csv
requisition=patients_form_print.csv
master=patient_appointments_master.csv
transport_name=patients_form_print_$DAY.csv
print_url=sftp://$PRINT_SFTP_USERNAME@$PRINT_SFTP_HOST:$PRINT_SFTP_PORT${PRINT_SFTP_DIR%/}/$DAY
daily_folder=${MTP_BOX_DAILY_PARENT%/}/$(LC_ALL=C date -d "$DAY" +"$MTP_BOX_DAILY_FOLDER")
subject="Patient Files for Covid19 - $MTP_SITE - $DAY"

# settings: everything a delivery needs is set, before anything is sent
settings() {
	job_require MTP_SITE PRINT_SFTP_HOST PRINT_SFTP_USERNAME \
	    HEALTH_NETWORK_SMTP_URL HEALTH_NETWORK_USER_NAME \
	    HEALTH_NETWORK_MAIL_FROM HEALTH_NETWORK_MAIL_TO \
	    MTP_BOX_DAILY_PARENT MTP_BOX_TRANSPORT_FOLDER || return 78
	job_secret_check PRINT_SFTP_PASSWORD || return 78
	job_secret_check HEALTH_NETWORK_USER_PWD || return 78
	job_backup_check || return 78
	case $MTP_BOX_DAILY_FOLDER in
	'' | */*)
		_job_say "MTP_BOX_DAILY_FOLDER: '$MTP_BOX_DAILY_FOLDER' does not make a folder name"
		return 78 ;;
	esac
	job_readable "$EOD_SQL" "$EOD_SHAPES/printer_appointments.shape" \
	    "$EOD_SHAPES/printer_requisition.shape" \
	    "$EOD_SHAPES/master.shape" || return 66
}

query() {
	sched-query -f "$EOD_SQL" \
	    -v "day:date=$DAY" \
	    -v "next_day:date=$(job_date_add "$DAY" 1)"
}

# app_start's format for DAY: "Thursday 7th, May 2020 %I:%M %p"
app_start_format() {
	set -- "$(date -d "$DAY" +%-d)"
	case $1 in
	11 | 12 | 13) set -- "${1}th" ;;
	*1) set -- "${1}st" ;;
	*2) set -- "${1}nd" ;;
	*3) set -- "${1}rd" ;;
	*) set -- "${1}th" ;;
	esac
	LC_ALL=C date -d "$DAY" +"%A $1, %B %Y"' %%I:%%M %%p'
}

files() {
	mkdir -p "$day_dir"
	csv-shape -F "$EOD_SHAPES/printer_appointments.shape" \
	    -w "$day_dir/$appointments" "$stage/query.csv"
	csv-shape -F "$EOD_SHAPES/printer_requisition.shape" \
	    --date "app_start=$(app_start_format)" \
	    -w "$day_dir/$requisition" "$stage/query.csv"
	csv-shape -F "$EOD_SHAPES/master.shape" \
	    -w "$day_dir/$master" "$stage/query.csv"
	# a temporary nobody can plant a link for (mkstemp, in its directory)
	tmp=$(mktemp "$stage/.$transport_name.XXXXXX")
	cp "$day_dir/$requisition" "$tmp"
	mv -f "$tmp" "$stage/$transport_name"
}

# to_printer FILE: one printer file into PRINT_SFTP_DIR/DAY
to_printer() {
	set -- --mkdir "$print_url" "$1"
	[ -z "${PRINT_SFTP_KNOWN_HOSTS:-}" ] ||
	    set -- --known-hosts "$PRINT_SFTP_KNOWN_HOSTS" "$@"
	[ -z "${PRINT_SFTP_IDENTITY:-}" ] ||
	    set -- -i "$PRINT_SFTP_IDENTITY" "$@"
	job_secret_env SFTP_PASSWORD PRINT_SFTP_PASSWORD
	job_sftp_put "$@"
}

mail_master() {
	printf '%s\n' "$subject" |
	    job_mail "$HEALTH_NETWORK_MAIL_TO" "$subject" "$day_dir/$master"
}

# to_box FOLDER_PATH FILE
to_box() {
	box-upload --folder-path "$1" --mkdir "$2"
}

job_run settings settings
job_mkdir "$stage"
job_step --out "$stage/query.csv" query query
if [ -z "$(sed -n '2{p;q;}' "$stage/query.csv")" ]; then
	job_log "no appointments, nothing to send"
	rm -rf "$stage"
	job_finish
	exit 0
fi
job_step files files

job_mail_use "$HEALTH_NETWORK_SMTP_URL" "${HEALTH_NETWORK_SMTP_PORT:-}" \
    "$HEALTH_NETWORK_MAIL_FROM" "${HEALTH_NETWORK_USER_NAME:-}" \
    HEALTH_NETWORK_USER_PWD "${HEALTH_NETWORK_SMTP_CACERT:-}" \
    "${HEALTH_NETWORK_SMTP_RETRIES:-}"

job_mkdir "$JOB_DIR/receipts" "$receipts"

# deliver STEP KEY FILE TARGET CMD...: job_deliver, the receipt kept
deliver() {
	job_deliver --out "$receipts/$1.csv" "$@"
}

deliver printer-appointments "$appointments" "$day_dir/$appointments" \
    "$print_url" to_printer "$day_dir/$appointments"
deliver printer-requisition "$requisition" "$day_dir/$requisition" \
    "$print_url" to_printer "$day_dir/$requisition"
deliver mail-master "$master" "$day_dir/$master" \
    "mailto:$HEALTH_NETWORK_MAIL_TO" mail_master
for file in "$appointments" "$requisition" "$master"; do
	deliver "box-${file%.csv}" "$file" "$day_dir/$file" \
	    "box:$daily_folder" to_box "$daily_folder" "$day_dir/$file"
done
deliver box-transport "$transport_name" "$stage/$transport_name" \
    "box:$MTP_BOX_TRANSPORT_FOLDER" \
    to_box "$MTP_BOX_TRANSPORT_FOLDER" "$stage/$transport_name"
# the off-site copy of each file delivered (SCHEDFEED_BACKUP_URL)
job_backup "$day_dir/$appointments" "$day_dir/$requisition" \
    "$day_dir/$master" "$stage/$transport_name"
rm -rf "$stage"
job_finish
