#!/usr/bin/env bats
# pipelines/bz_inbound.sh against a real MariaDB server holding the Mass
# Testing Platform's tables (tests/fixtures/mtp/schema.mariadb.sql; the
# job's login may update only status, slots_approved and modified of
# ea_business_request), the Box emulator (the city's FromCity folder) and
# aiosmtpd (mail to the city).
#
# Requests (tests/fixtures/mtp/rows.sql), one business code each: 701
# BZ1001 pending, 702 BZ1002 pending, 705 BZ1003 pending, 706 BZ2002
# pending, 703 BZ2003 active (5 slots), 704 BZ2001 deleted; slots_approved
# is 0 until approved (NOT NULL DEFAULT 0, migration 028). The approvals
# file tests/fixtures/mtp/bz/approvals.csv says BZ1001 Y 20, BZ1002 N,
# BZ1003 empty, so a good file leaves:
#   701 active 20 · 702 deleted · 703 active 5 · 704 deleted ·
#   705 pending · 706 pending

load ../common
load ../tls
load ../box
load ../fixtures/mtp/mtp

bats_require_minimum_version 1.5.0

JOB="$TOP/pipelines/bz_inbound.sh"
BZ="$TOP/tests/fixtures/mtp/bz"
APPLIED='701|active|20
702|deleted|0
703|active|5
704|deleted|0
705|pending|0
706|pending|0'
UNTOUCHED='701|pending|0
702|pending|0
703|active|5
704|deleted|0
705|pending|0
706|pending|0'

setup_file() {
	export CA="$BATS_FILE_TMPDIR/ca"
	make_test_ca "$CA"
	box_setup_file
	mtp_db_setup_file bz_inbound
}

teardown_file() {
	mtp_db_teardown_file
}

setup() {
	common_setup
	command -v csv-shape >/dev/null || skip "csv-shape is not built"
	command -v box-get >/dev/null || skip "box-get is not built"
	unset SCHEDFEED_ALERT_TO SCHEDFEED_ALERT_SMTP_URL
	export DATA_DIR="$W/data"
	mtp_mail_setup city
	export BZ_CITY_MAIL_TO=liaisons@city.example
	export MTP_BOX_FROM_CITY_FOLDER=MTP/FromCity
	box_start
	mtp_db_start
}

teardown() {
	mtp_db_stop
	smtpd_stop_all
	box_stop
}

requests() {
	mtp_db_sql "SELECT id, status, slots_approved FROM ea_business_request ORDER BY id"
}

# city_file NAME FILE: the city leaves FILE on Box as FromCity/NAME
city_file() {
	box_ctl put "MTP/FromCity/$1" "$2" > /dev/null
}

# processed OUTCOME: the files filed under processed/OUTCOME
processed() {
	(cd "$DATA_DIR/processed/$1" 2>/dev/null && find . -type f | sort)
}

# box_left: what is still on Box, not trashed
box_left() {
	box_ctl files | awk -F '\t' '$6 != "trashed" { print $1 }'
}

# mail_back NAME: the city's mail server up again, as server NAME
mail_back() {
	smtpd_start "$1"
	eval "export HEALTH_NETWORK_SMTP_URL=smtp://127.0.0.1:\$SMTPD_PORT_$1"
}

# accepted NAME FILE: the job applies FILE, files it under success, mails
# the city and deletes the Box original
accepted() {
	city_file "$1" "$2"
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(requests)" = "$APPLIED" ]
	[ "$(processed success)" = "./$(date +%Y/%m/%d)/$1" ]
	cmp "$2" "$DATA_DIR/processed/success/$(date +%Y/%m/%d)/$1"
	[ -z "$(processed error)" ]
	[ -z "$(box_left)" ]
	[ "$(mail_count city)" -eq 1 ]
	mail_summary city 1 | grep -qxF "subject: Business requisition file processed: $1"
}

# rejected NAME FILE EXPECTED_ERRORS: nothing applied, filed under error,
# the list mailed, the Box original deleted
rejected() {
	city_file "$1" "$2"
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(requests)" = "$UNTOUCHED" ]
	[ "$(processed error)" = "./$(date +%Y/%m/%d)/$1" ]
	[ -z "$(processed success)" ]
	[ -z "$(box_left)" ]
	[ "$(mail_count city)" -eq 1 ]
	mail_summary city 1 | grep -qxF "subject: Business requisition file NOT processed: $1"
	mail_body city 1 | sed -n '/^Row /p; /^File: /p' > "$W/errors"
	diff "$3" "$W/errors"
	log_steps | grep -qx "bz_inbound 2026-11-24 file $(sha256sum < "$2" | cut -c1-16): error"
}

@test "a good file: applied in one transaction, filed, mailed, then deleted from Box" {
	accepted approvals_1400.csv "$BZ/approvals.csv"
	mail_body city 1 | grep -q 'approvals_1400.csv was processed'
	log_steps | grep -qx 'bz_inbound 2026-11-24 applied 3 rows, 2 requests changed'
	! grep -q 'Grocer\|Depot' "$SCHEDFEED_STATE_DIR/bz_inbound/log"
	[ -z "$(ls -A "$SCHEDFEED_STATE_DIR/bz_inbound/inbox")" ]
}

@test "CRLF line ends are accepted" {
	sed 's/$/\r/' "$BZ/approvals.csv" > "$W/crlf.csv"
	accepted crlf.csv "$W/crlf.csv"
}

@test "a byte order mark is accepted" {
	{ printf '\357\273\277'; cat "$BZ/approvals.csv"; } > "$W/bom.csv"
	accepted bom.csv "$W/bom.csv"
}

@test "trailing rows that are all empty are skipped" {
	{ cat "$BZ/approvals.csv"; printf ',,,,,,,,,,,,,,,\n,,,,,,,,,,,,,,,\n\n'; } > "$W/trailing.csv"
	accepted trailing.csv "$W/trailing.csv"
}

@test "cells beyond the header are dropped" {
	sed '2s/$/,,,a note,/; 3s/$/,x/' "$BZ/approvals.csv" > "$W/extra.csv"
	accepted extra.csv "$W/extra.csv"
}

@test "spaces around values, dates reformatted, CRLF, BOM: the spreadsheet's file" {
	{ printf '\357\273\277'; sed 's/$/\r/' "$BZ/spreadsheet.csv"; } > "$W/sheet.csv"
	accepted sheet.csv "$W/sheet.csv"
}

@test "a non-numeric slots_approved: nothing applied, the row named" {
	sed '2s/^Y,20,/Y,twenty,/' "$BZ/approvals.csv" > "$W/slots.csv"
	echo 'Row 2: column slots_approved: does not match the pattern' > "$W/expected"
	rejected slots.csv "$W/slots.csv" "$W/expected"
	! grep -q twenty "$W/mail-city/1.eml"
}

@test "an unknown business_code: nothing applied, the row named" {
	sed '3s/,BZ1002,/,BZ4242,/' "$BZ/approvals.csv" > "$W/code.csv"
	echo 'Row 3: column business_code: no business request has this code' > "$W/expected"
	rejected code.csv "$W/code.csv" "$W/expected"
	! grep -q BZ4242 "$W/mail-city/1.eml"
}

@test "a wrong hash: nothing applied, the row named" {
	sed '4s/,H4SHBZ1003$/,H4SHBZ1001/' "$BZ/approvals.csv" > "$W/hash.csv"
	echo 'Row 4: column hash: not the hash of this business' > "$W/expected"
	rejected hash.csv "$W/hash.csv" "$W/expected"
}

@test "a header-only file: an error, nothing applied" {
	head -1 "$BZ/approvals.csv" > "$W/header.csv"
	echo 'File: no rows: the file holds no approvals' > "$W/expected"
	rejected header.csv "$W/header.csv" "$W/expected"
}

@test "a file that is not CSV at all: an error, nothing applied" {
	printf 'PK\003\004\024\000\006\000"\001\002 not a spreadsheet\n\377\376' > "$W/book.csv"
	echo 'File: not CSV: line 1 cannot be read' > "$W/expected"
	rejected book.csv "$W/book.csv" "$W/expected"
}

@test "a header without the needed columns: an error naming them" {
	printf 'approved,slots,business_code,hash\nY,3,BZ1001,H4SHBZ1001\n' > "$W/cols.csv"
	printf '%s\n' 'File: the header has no column approved_confirm' \
	    'File: the header has no column slots_approved' > "$W/expected"
	rejected cols.csv "$W/cols.csv" "$W/expected"
}

@test "every row checked: the whole list, in numeric order, no cell values" {
	rejected errors.csv "$BZ/errors.csv" "$BZ/errors.expected"
	mail_body city 1 > "$W/body"
	! grep -qE 'twenty|BZ9999|WRONGHASH|maybe|BZ 1003|1x' "$W/body"
	grep -qx 'spreadsheet: the header is row 1.' "$W/body"
}

@test "a row the database refuses rolls the whole file back" {
	# the check passes; the update fails (a trigger stands in for a
	# constraint the server enforces)
	mtp_db_sql "DELIMITER //
CREATE TRIGGER no_bz1002 BEFORE UPDATE ON ea_business_request FOR EACH ROW
IF OLD.business_code = 'BZ1002' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF//"
	city_file approvals.csv "$BZ/approvals.csv"
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(requests)" = "$UNTOUCHED" ]
	log_steps | grep -q "bz_inbound 2026-11-24 apply-[0-9a-f]* failed (status $status)"
	# still on Box and in the inbox: nothing filed, nothing mailed
	[ "$(box_left)" = MTP/FromCity/approvals.csv ]
	[ -z "$(processed success)$(processed error)" ]
	[ "$(mail_count city)" -eq 0 ]
	# fixed: the re-run applies it once
	mtp_db_sql "DROP TRIGGER no_bz1002"
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	[ "$(requests)" = "$APPLIED" ]
	[ "$(mail_count city)" -eq 1 ]
	[ -z "$(box_left)" ]
}

@test "mail down after filing: the re-run mails and deletes, and applies nothing twice" {
	city_file approvals.csv "$BZ/approvals.csv"
	smtpd_stop_all
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 75 ]
	[ "$(requests)" = "$APPLIED" ]
	[ -n "$(processed success)" ]
	[ "$(box_left)" = MTP/FromCity/approvals.csv ]
	# someone decides a request by hand meanwhile: the re-run must not
	# apply the file again over it
	mtp_db_sql "UPDATE ea_business_request SET slots_approved = 99 WHERE id = 701"
	mail_back city
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 0 ]
	log_steps | grep -q 'apply-[0-9a-f]* skipped (done in an earlier run)'
	[ "$(mtp_db_sql 'SELECT slots_approved FROM ea_business_request WHERE id = 701')" = 99 ]
	[ "$(processed success | wc -l)" -eq 1 ]
	[ "$(mail_count city)" -eq 1 ]
	[ -z "$(box_left)" ]
}

@test "the same file delivered again the same day: processed, filed beside the first, the city mailed again" {
	accepted approvals.csv "$BZ/approvals.csv"
	# someone decides a request by hand after the first delivery: a
	# request no longer pending stays as it is
	mtp_db_sql "UPDATE ea_business_request SET slots_approved = 99 WHERE id = 701"
	city_file approvals.csv "$BZ/approvals.csv"
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 0 ]
	log_steps | grep -qx 'bz_inbound 2026-11-24 applied 3 rows, 0 requests changed'
	log_steps | grep -q '^bz_inbound 2026-11-24 mail-[0-9a-f]* ok (sent)$'
	! log_steps | grep -q 'already delivered'
	day=$(date +%Y/%m/%d)
	[ "$(processed success)" = "./$day/approvals.csv
./$day/approvals.csv.1" ]
	cmp "$BZ/approvals.csv" "$DATA_DIR/processed/success/$day/approvals.csv.1"
	[ "$(mail_count city)" -eq 2 ]
	mail_summary city 2 | grep -qxF "subject: Business requisition file processed: approvals.csv"
	[ "$(mtp_db_sql 'SELECT slots_approved FROM ea_business_request WHERE id = 701')" = 99 ]
	[ -z "$(box_left)" ]
	# a third time, a run resuming after the mail failed mails it once
	city_file approvals.csv "$BZ/approvals.csv"
	smtpd_stop_all
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 75 ]
	[ "$(processed success | wc -l)" -eq 3 ]
	mail_back again
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 0 ]
	log_steps | grep -q '^bz_inbound 2026-11-24 file-[0-9a-f]* skipped (done in an earlier run)$'
	[ "$(mail_count again)" -eq 1 ]
	[ "$(processed success | wc -l)" -eq 3 ]
	[ -z "$(box_left)" ]
	# nothing left for a later run to mail
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	[ "$(mail_count again)" -eq 1 ]
}

@test "a truly blank line is a spreadsheet row: the rows after it are named as the spreadsheet numbers them" {
	# header (row 1), BZ1001 (2), a blank line (3), BZ1002 with a bad
	# slots_approved (4), a quoted name over two lines (5), BZ4242 (6)
	{
		sed -n 1,2p "$BZ/approvals.csv"
		printf '\r\n'
		sed -n 3p "$BZ/approvals.csv" | sed 's/^N,,/Y,x1,/'
		printf ',,12,"Café\nÑandú",BZ1003,René,Barista,,,,,,,,,H4SHBZ1003\n'
		sed -n 2p "$BZ/approvals.csv" | sed 's/,BZ1001,/,BZ4242,/'
	} > "$W/blank.csv"
	printf '%s\n' 'Row 4: column slots_approved: does not match the pattern' \
	    'Row 6: column business_code: no business request has this code' > "$W/expected"
	rejected blank.csv "$W/blank.csv" "$W/expected"
}

@test "nothing from the city: exit 0, a log line" {
	box_ctl put MTP/FromCity/readme.txt /dev/null > /dev/null
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	log_steps | grep -qx 'bz_inbound 2026-11-24 no files from the city'
	[ "$(mail_count city)" -eq 0 ]
}

@test "two files: each judged on its own" {
	city_file a_good.csv "$BZ/approvals.csv"
	city_file b_bad.csv "$BZ/errors.csv"
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	[ "$(requests)" = "$APPLIED" ]
	[ "$(processed success)" = "./$(date +%Y/%m/%d)/a_good.csv" ]
	[ "$(processed error)" = "./$(date +%Y/%m/%d)/b_bad.csv" ]
	[ "$(mail_count city)" -eq 2 ]
	[ -z "$(box_left)" ]
}

@test "a file whose name holds a tab is refused by its index with 65 and an alert; the other files are processed" {
	smtpd_start alerts
	export SCHEDFEED_ALERT_TO=ops@site.example SCHEDFEED_ALERT_SMTP_URL=smtp://127.0.0.1:$SMTPD_PORT_alerts
	export SCHEDFEED_ALERT_SMTP_CACERT=$CA/ca.pem SCHEDFEED_ALERT_SMTP_USER=feed
	export SMTP_PASSWORD=$SMTPD_PASSWORD
	city_file "$(printf 'a\tbad.csv')" "$BZ/approvals.csv"
	city_file b_good.csv "$BZ/approvals.csv"
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 65 ]
	log_steps | grep -Eqx 'bz_inbound 2026-11-24 (fetch|file-[0-9]+) failed \(status 65\)'
	[[ "$output" != *"$(printf 'a\tbad')"* ]]
	[ "$(requests)" = "$APPLIED" ]
	[ "$(processed success)" = "./$(date +%Y/%m/%d)/b_good.csv" ]
	[ "$(mail_count city)" -eq 1 ]
	[ "$(mail_count alerts)" -ge 1 ]
	# the refused one stays on Box for someone to look at; no copy here
	[ "$(box_ctl files | grep -v trashed | grep -c 'bad\.csv')" -eq 1 ]
	[ "$(box_ctl files | grep -vc trashed)" -eq 1 ]
	[ -z "$(ls -A "$SCHEDFEED_STATE_DIR/bz_inbound/inbox")" ]
}

@test "a killed box-get's temporaries in the inbox are removed by the next fetch, whatever their age or name" {
	mkdir -p "$SCHEDFEED_STATE_DIR/bz_inbound/inbox"
	printf 'half' > "$SCHEDFEED_STATE_DIR/bz_inbound/inbox/.approvals.csv.Xy12Ab"
	printf 'half' > "$SCHEDFEED_STATE_DIR/bz_inbound/inbox/.gone.csv.Ab34Cd"
	touch -d '2 days ago' "$SCHEDFEED_STATE_DIR/bz_inbound/inbox/.gone.csv.Ab34Cd"
	city_file approvals.csv "$BZ/approvals.csv"
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$SCHEDFEED_STATE_DIR/bz_inbound/inbox")" ]
	[ "$(mail_count city)" -eq 1 ]
}
