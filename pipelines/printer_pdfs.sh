#!/bin/sh
# printer_pdfs.sh [--force] [--wait[=S]] [DAY]: the printer's PDFs of a day
# into the city's Box daily folder (specs/mtp.md; the seed's
# uploadPrinterData.sh). DAY is YYYY-MM-DD, by default today in MTP_TZ.
#
#	settings	every setting is there (78 and an alert when not)
#	fetch		sftp-get PRINT_SFTP_PICKBOX/DAY/patient*.pdf from the
#			printer into DATA_DIR/DAY/pdfs/ (every run: the
#			printer may have added some)
#	box-ID		one step a PDF (ID: the first 12 hex digits of the
#			SHA-256 of its name), box-upload --mkdir into
#			MTP_BOX_DAILY_PARENT/<DAY as MTP_BOX_DAILY_FOLDER>;
#			ledger-guarded, so a re-run uploads only new or
#			changed PDFs
#
# No PDFs: nothing sent, exit 0 with a log line. The PDFs stay on the
# printer's SFTP server (it keeps its pickbox).
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 70
# shellcheck source=pipelines/lib/job.sh
. "$here/lib/job.sh"

MTP_TZ=${MTP_TZ:-America/New_York}
job_start printer_pdfs "$(TZ=$MTP_TZ date +%F)" "$@"
DAY=$JOB_DATE
case $DAY in
*T*) _job_die 64 "$DAY: printer_pdfs takes a day, YYYY-MM-DD" ;;
esac

DATA_DIR=${DATA_DIR:-$JOB_DIR/data}
PRINT_SFTP_HOST=${PRINT_SFTP_HOST:-}
PRINT_SFTP_PORT=${PRINT_SFTP_PORT:-22}
PRINT_SFTP_USERNAME=${PRINT_SFTP_USERNAME:-}
PRINT_SFTP_PICKBOX=${PRINT_SFTP_PICKBOX:-/~/pickbox}
MTP_BOX_DAILY_PARENT=${MTP_BOX_DAILY_PARENT:-}
MTP_BOX_DAILY_FOLDER=${MTP_BOX_DAILY_FOLDER:-%m-%d-%Y}
pdf_dir=$DATA_DIR/$DAY/pdfs
pickbox_url=sftp://$PRINT_SFTP_USERNAME@$PRINT_SFTP_HOST:$PRINT_SFTP_PORT${PRINT_SFTP_PICKBOX%/}/$DAY
daily_folder=${MTP_BOX_DAILY_PARENT%/}/$(LC_ALL=C date -d "$DAY" +"$MTP_BOX_DAILY_FOLDER")

settings() {
	job_require PRINT_SFTP_HOST PRINT_SFTP_USERNAME \
	    MTP_BOX_DAILY_PARENT || return 78
	job_secret_check PRINT_SFTP_PASSWORD || return 78
}

fetch() {
	mkdir -p "$pdf_dir"
	# a killed sftp-get's temporaries (the lock says none is in use)
	rm -f -- "$pdf_dir"/.[!.]*
	set -- "$pickbox_url/patient*.pdf" "$pdf_dir"
	[ -z "${PRINT_SFTP_KNOWN_HOSTS:-}" ] ||
	    set -- --known-hosts "$PRINT_SFTP_KNOWN_HOSTS" "$@"
	[ -z "${PRINT_SFTP_IDENTITY:-}" ] ||
	    set -- -i "$PRINT_SFTP_IDENTITY" "$@"
	job_secret_env SFTP_PASSWORD PRINT_SFTP_PASSWORD
	sftp-get "$@" > /dev/null
}

job_run settings settings
job_mkdir "$JOB_DIR/data"
# a PDF sftp-get refuses (a name it will not write here: 65) stops only
# itself: the others still go, and the job ends with 65 and an alert
job_run --keep-going fetch fetch
found=0
index=0
for pdf in "$pdf_dir"/patient*.pdf; do
	[ -f "$pdf" ] || continue
	index=$((index + 1))
	name=${pdf##*/}
	# a name with a newline, a tab or another control character: refused
	# by its place in the listing, never by its name (it goes nowhere)
	if job_bad_name "$name"; then
		job_refuse "file-$index" 65 "PDF $index of the day: its name holds a control character; refused, not sent"
		continue
	fi
	found=$((found + 1))
	id=$(printf '%s' "$name" | sha256sum | cut -c1-12)
	job_deliver "box-$id" "$name" "$pdf" "box:$daily_folder" \
	    box-upload --folder-path "$daily_folder" --mkdir "$pdf" > /dev/null
done
if [ "$found" = 0 ]; then
	job_log "no PDFs from the printer, nothing to send"
else
	job_log "$found PDFs in the daily folder"
fi
job_finish
