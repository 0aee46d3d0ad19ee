#!/bin/sh
# bz_inbound.sh [--force] [--wait[=S]] [DATE]: the city's approvals of
# business requests, back into the platform (specs/mtp.md; the seed's
# receiveBZinfo.sh). DATE (default today in MTP_TZ) only names the run in
# the log, the ledger and alerts.
#
#	settings	every setting is there (78 and an alert when not)
#	fetch		box-get every *.csv of MTP_BOX_FROM_CITY_FOLDER into
#			the inbox ($JOB_DIR/inbox); the Box originals stay
#	known		sched-query -f sql/bz_inbound_known.sql: the business
#			codes that name a request, with their business's hash
# then for each file of the inbox, in name order, steps named after the
# first 16 hex digits of its SHA-256 (ID):
#	check-ID	csv-shape -F shapes/bz_inbound.shape (BOM, CRLF, blanks,
#			all-empty rows, extra cells; the schema), then the
#			rules csv-shape cannot say: slots_approved when Y, the
#			code names a request, the hash is its business's, at
#			least one row. Every row is checked; nothing changes.
#	apply-ID	(a valid file) sched-query --each-row -f
#			sql/bz_inbound_apply.sql: every row in one transaction
#	file-ID		archive-mv into DATA_DIR/processed/success/ or
#			processed/error/ (each under YYYY/MM/DD/)
#	mail-ID		smtp-send to BZ_CITY_MAIL_TO, ledger-guarded: processed, or the list
#			of errors ("Row N: column C: reason", rows in numeric
#			order, never a cell's value)
#	delete-ID	the Box original deleted, only now (box-get
#			--delete-after of that one name; a copy that differs
#			from the one processed, changed on Box meanwhile, stays
#			in the inbox for the next run)
#
# Row numbers in the error list are the spreadsheet's: the header is row 1,
# the first data row is row 2, and a truly blank line is a row too (a
# spreadsheet shows it; csv-shape, counting data rows from 1, does not see
# it: sheet_rows maps csv-shape's numbers to the spreadsheet's).
#
# The same file delivered again (the city puts it back on Box after it was
# processed) is checked, applied (only requests still pending change),
# filed beside the first copy (archive-mv's name.1) and the city mailed
# again: the mail's ledger key is the path the file was filed under, so it
# is new for each delivery and the same when a run resumes.
#
# A failed step stops the job with its status (and an alert when
# SCHEDFEED_ALERT_TO is set); a re-run the same DATE resumes: a file whose
# check and apply are done is not applied again. Applying is idempotent
# anyway: only pending requests change.
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 70
# shellcheck source=pipelines/lib/job.sh
. "$here/lib/job.sh"

MTP_TZ=${MTP_TZ:-America/New_York}
job_start bz_inbound "$(TZ=$MTP_TZ date +%F)" "$@"

DATA_DIR=${DATA_DIR:-$JOB_DIR/data}
BZ_SQL_DIR=${BZ_SQL_DIR:-$here/sql}
BZ_SHAPES=${BZ_SHAPES:-$here/shapes}
MTP_BOX_FROM_CITY_FOLDER=${MTP_BOX_FROM_CITY_FOLDER:-}
BZ_CITY_MAIL_TO=${BZ_CITY_MAIL_TO:-}
inbox=$JOB_DIR/inbox
work=$JOB_DIR/work
known=$work/known.csv

settings() {
	job_require MTP_BOX_FROM_CITY_FOLDER BZ_CITY_MAIL_TO \
	    HEALTH_NETWORK_SMTP_URL HEALTH_NETWORK_MAIL_FROM || return 78
	job_secret_check HEALTH_NETWORK_USER_PWD || return 78
	job_readable "$BZ_SQL_DIR/bz_inbound_known.sql" \
	    "$BZ_SQL_DIR/bz_inbound_apply.sql" "$BZ_SHAPES/bz_inbound.shape" || return 66
}

fetch() {
	mkdir -p "$inbox" "$work"
	# a killed box-get's temporaries (the lock says none is in use),
	# even of a file no longer on Box
	rm -f -- "$inbox"/.[!.]*
	box-get --folder-path "$MTP_BOX_FROM_CITY_FOLDER" \
	    --pattern '*.[cC][sS][vV]' --to "$inbox" > "$work/fetched.csv"
}

known_codes() {
	sched-query -f "$BZ_SQL_DIR/bz_inbound_known.sql"
}

# check FILE DIR: writes DIR/outcome (success or error), DIR/errors (the
# list for the city) and DIR/rows.csv (the checked rows, for apply)
check() {
	mkdir -p "$2"
	rm -f "$2/filing"
	: > "$2/shape.err"
	status=0
	csv-shape -F "$BZ_SHAPES/bz_inbound.shape" < "$1" > "$2/rows.csv" \
	    2> "$2/shape.err" || status=$?
	case $status in
	0 | 65) ;;
	*)
		cat "$2/shape.err" >&2
		return "$status" ;;
	esac
	# csv-shape's messages, then the job's own rules, as
	# "ROW<tab>ORDER<tab>TEXT" lines (ROW 0: the file as a whole)
	{
		sed -n 's/^csv-shape: stdin: row \([0-9]*\), column \(.*\)$/\1\t0\tcolumn \2/p;
		    /^csv-shape: stdin: row [0-9]*, column /d;
		    s/^csv-shape: stdin: no column \([^ ]*\) (required by the schema)$/0\t0\tthe header has no column \1/p;
		    /^csv-shape: stdin: no column /d;
		    s/^csv-shape: stdin: line \([0-9]*\): malformed CSV.*$/0\t0\tnot CSV: line \1 cannot be read/p;
		    /^csv-shape: stdin: line /d;
		    s/^csv-shape: stdin: \(.*\)$/0\t0\t\1/p' "$2/shape.err"
		# the other rules judge rows; a file csv-shape could not read
		# as a whole (not CSV, a column missing) has none to judge
		grep -qv '^csv-shape: stdin: row [0-9]*, column ' "$2/shape.err" ||
		    rules "$1"
	} | sort -t "$(printf '\t')" -k1,1n -k2,2n -s > "$2/found"
	sheet_rows < "$1" > "$2/rows.map"
	awk -F '\t' -v map="$2/rows.map" '
	    BEGIN { while ((getline line < map) > 0) {
			split(line, f, "\t"); sheet[f[1]] = f[2] } }
	    $1 == 0 { print "File: " $3; next }
	    { print "Row " ($1 in sheet ? sheet[$1] : $1 + 1) ": " $3 }' \
	    "$2/found" > "$2/errors"
	if [ -s "$2/errors" ]; then
		echo error > "$2/outcome"
	else
		echo success > "$2/outcome"
	fi
}

# sheet_rows < FILE: "N<tab>ROW" for each data row N as csv-shape numbers
# it, ROW its row in a spreadsheet: every record counts there, a truly
# blank line too, which csv-shape skips; the header is the first record
# that is not blank. A quoted field may hold line ends. Prints numbers
# only.
sheet_rows() {
	LC_ALL=C awk '
	    { sub(/\r$/, "") }
	    NR == 1 { sub(/^\357\273\277/, "") }
	    quoted { if (gsub(/"/, "&") % 2) quoted = 0; next }
	    { sheet++ }
	    $0 == "" { next }
	    { if (++records > 1) printf "%d\t%d\n", records - 1, sheet
	      if (gsub(/"/, "&") % 2) quoted = 1 }'
}

# rules FILE: the checks csv-shape cannot make, on the rows numbered as
# csv-shape numbers them (data rows from 1, all-empty rows counted); only
# rows whose four columns pass the schema's checks (again, in awk: a row
# that failed them has its errors already) are judged. Values never leave
# awk: a message names the row and the column.
rules() {
	csv-shape --trim --truncate --row-number bz_row \
	    -c bz_row,approved_confirm,slots_approved,business_code,hash \
	    < "$1" 2>/dev/null |
	    awk -F , -v known="$known" '
	    BEGIN {
		while ((getline line < known) > 0) {
			if (++k == 1) continue
			split(line, f, ",")
			code[f[1]] = 1
			hash[f[1], f[2]] = 1
		}
	    }
	    NR == 1 { next }
	    # only plain rows of five fields; anything quoted failed the schema
	    !/^[0-9]+,[^"]*$/ || NF != 5 { next }
	    $2 == "" && $3 == "" && $4 == "" && $5 == "" { next }
	    {
		rows++
		if ($2 !~ /^(Y|N)?$/ || $3 !~ /^[0-9]*$/ ||
		    $4 !~ /^[A-Za-z0-9]+$/ || $5 !~ /^[A-Za-z0-9]+$/)
			next
		if ($2 == "Y" && $3 == "")
			printf "%d\t1\tcolumn slots_approved: required when approved_confirm is Y\n", $1
		if (!($4 in code))
			printf "%d\t2\tcolumn business_code: no business request has this code\n", $1
		else if (!(($4, $5) in hash))
			printf "%d\t3\tcolumn hash: not the hash of this business\n", $1
	    }
	    END { if (rows == 0) printf "0\t1\tno rows: the file holds no approvals\n" }'
}

apply() {
	sched-query --each-row -f "$BZ_SQL_DIR/bz_inbound_apply.sql" \
	    < "$1/rows.csv" > "$1/applied.csv"
	job_log "applied $(($(wc -l < "$1/rows.csv") - 1)) rows, $(awk -F , \
	    'NR > 1 { n += $2 } END { print n + 0 }' "$1/applied.csv") requests changed"
}

# file_away FILE DIR: into processed/OUTCOME/YYYY/MM/DD/; the new path in
# DIR/path. A run killed after filing and before the step was recorded
# (DIR/filing, made before the filing and cleared by the next run's check,
# says so) fetched the Box original again: that copy, the same bytes under
# the same name as one filed today, is not filed a second time. The same
# file delivered again later is a delivery of its own: filed beside the
# first.
file_away() {
	day=$DATA_DIR/processed/$(cat "$2/outcome")/$(date +%Y/%m/%d)
	for copy in "$day/${1##*/}" "$day/${1##*/}".*; do
		if [ -f "$2/filing" ] && [ -f "$copy" ] && cmp -s "$copy" "$1"; then
			rm -f -- "$1"
			printf '%s\n' "$copy" > "$2/path"
			return 0
		fi
	done
	: > "$2/filing"
	archive-mv --to "$DATA_DIR/processed/$(cat "$2/outcome")" "$1" \
	    > "$2/path"
}

# compose NAME DIR: DIR/subject and DIR/mail.txt, the city's message
compose() {
	if [ "$(cat "$2/outcome")" = success ]; then
		printf 'Business requisition file processed: %s\n' "$1" > "$2/subject"
		{
			printf 'The business requisition file %s was processed:\n' "$1"
			printf 'every approval and decline in it is now in the system.\n'
		} > "$2/mail.txt"
	else
		printf 'Business requisition file NOT processed: %s\n' "$1" > "$2/subject"
		{
			printf 'The business requisition file %s was not processed:\n' "$1"
			printf 'nothing in it was applied. Please correct these rows and\n'
			printf 'send the whole file again. Rows are numbered as in a\n'
			printf 'spreadsheet: the header is row 1.\n\n'
			cat "$2/errors"
			printf '\napproved_confirm is Y, N or empty; slots_approved a whole\n'
			printf 'number, required when approved_confirm is Y; business_code\n'
			printf 'and hash as they were sent, letters and digits.\n'
		} > "$2/mail.txt"
	fi
}

# mail_city DIR
mail_city() {
	job_mail "$BZ_CITY_MAIL_TO" "$(cat "$1/subject")" < "$1/mail.txt"
}

# delete_original NAME SHA256 DIR: the Box original, once filed
delete_original() {
	mkdir -p "$3/recheck"
	pattern=$(printf '%s' "$1" | sed 's/[][*?\\]/\\&/g')
	box-get --folder-path "$MTP_BOX_FROM_CITY_FOLDER" --pattern "$pattern" \
	    --to "$3/recheck" --delete-after > /dev/null
	[ -e "$3/recheck/$1" ] || return 0
	if [ "$(sha256sum < "$3/recheck/$1" | cut -d' ' -f1)" != "$2" ]; then
		mv -f "$3/recheck/$1" "$inbox/$1"
		job_log "a file changed on Box after it was read: kept for the next run"
	else
		rm -f "$3/recheck/$1"
	fi
}

job_run settings settings
job_mail_use "$HEALTH_NETWORK_SMTP_URL" "${HEALTH_NETWORK_SMTP_PORT:-}" \
    "$HEALTH_NETWORK_MAIL_FROM" "${HEALTH_NETWORK_USER_NAME:-}" \
    HEALTH_NETWORK_USER_PWD "${HEALTH_NETWORK_SMTP_CACERT:-}" \
    "${HEALTH_NETWORK_SMTP_RETRIES:-}"

job_mkdir "$inbox" "$work"
# a file box-get refuses (a name it will not write here: 65) stops only
# itself: the others are still processed; the job ends with 65, alerted
job_run --keep-going fetch fetch
files=0
for path in "$inbox"/*; do
	[ -f "$path" ] && files=$((files + 1))
done
if [ "$files" = 0 ]; then
	job_log "no files from the city"
	job_finish
	exit 0
fi
# written whole or not at all, through a temporary of mktemp's
job_run --out "$known" known known_codes

# one file at a time, in name order; the inbox's hidden files are
# box-get's temporaries
index=0
for path in "$inbox"/*; do
	[ -f "$path" ] || continue
	index=$((index + 1))
	name=${path##*/}
	if job_bad_name "$name"; then
		# named by its place in the inbox, never by its name
		rm -f -- "$path"
		job_refuse "file-$index" 65 "file $index of the inbox: its name holds a control character; refused, the Box original kept"
		continue
	fi
	sha=$(sha256sum < "$inbox/$name" | cut -d' ' -f1)
	id=$(printf '%.16s' "$sha")
	dir=$work/$id
	job_step "check-$id" check "$inbox/$name" "$dir"
	job_log "file $id: $(cat "$dir/outcome")"
	[ "$(cat "$dir/outcome")" = error ] ||
	    job_step "apply-$id" apply "$dir"
	job_step "file-$id" file_away "$inbox/$name" "$dir"
	compose "$name" "$dir" || _job_die 73 "cannot write in $dir"
	# the ledger key: where this delivery of the file was filed
	filed=$(cat "$dir/path") || _job_die 73 "cannot read $dir/path"
	job_deliver "mail-$id" "${filed#"$DATA_DIR/processed/"}" "$dir/mail.txt" \
	    "mailto:$BZ_CITY_MAIL_TO" mail_city "$dir" > /dev/null
	job_step "delete-$id" delete_original "$name" "$sha" "$dir"
	# fetched again by a run that resumed after filing: not needed now
	if [ -f "$inbox/$name" ] &&
	    [ "$(sha256sum < "$inbox/$name" | cut -d' ' -f1)" = "$sha" ]; then
		rm -f "$inbox/$name"
	fi
	rm -rf "$dir"
done
rm -f "$work/fetched.csv" "$known"
job_finish
