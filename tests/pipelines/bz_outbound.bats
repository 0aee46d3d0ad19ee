#!/usr/bin/env bats
# pipelines/bz_outbound.sh against a real MariaDB server holding the Mass
# Testing Platform's tables (tests/fixtures/mtp/schema.mariadb.sql), the
# Box emulator (the city's ToCity folder) and aiosmtpd (mail to the city).
#
# Requests created on 2026-11-23 (tests/fixtures/mtp/rows.sql), each with
# its own business code:
#   706 BZ2002 08:59:59 pending · 701 BZ1001 09:00:00 pending ·
#   703 BZ2003 09:30 active · 704 BZ2001 09:45 deleted ·
#   702 BZ1002 09:59:59 pending · 705 BZ1003 10:00:00 pending
# so the hour 09 holds 701 and 702 (both edges included), and
# tests/fixtures/mtp/business_requisition_2026-11-23_0900.csv is its file.

load ../common
load ../tls
load ../box
load ../fixtures/mtp/mtp

bats_require_minimum_version 1.5.0

JOB="$TOP/pipelines/bz_outbound.sh"
EXPECTED="$TOP/tests/fixtures/mtp/business_requisition_2026-11-23_0900.csv"

setup_file() {
	export CA="$BATS_FILE_TMPDIR/ca"
	make_test_ca "$CA"
	box_setup_file
	mtp_db_setup_file bz_outbound
}

teardown_file() {
	mtp_db_teardown_file
}

setup() {
	common_setup
	command -v csv-shape >/dev/null || skip "csv-shape is not built"
	command -v box-upload >/dev/null || skip "box-upload is not built"
	unset SCHEDFEED_ALERT_TO SCHEDFEED_ALERT_SMTP_URL
	export DATA_DIR="$W/data"
	mtp_mail_setup city
	export BZ_CITY_MAIL_TO=liaisons@city.example
	export MTP_BOX_TO_CITY_FOLDER=MTP/ToCity MTP_BOX_FROM_CITY_FOLDER=MTP/FromCity
	city_box
	mtp_db_start
}

# city_box: a fresh Box where the city's ToCity folder exists
city_box() {
	box_start
	box_ctl put MTP/ToCity/README.txt /dev/null > /dev/null
}

# box_files: the requisition files on Box
box_files() {
	box_ctl files | grep -v README.txt
}

teardown() {
	mtp_db_stop
	smtpd_stop_all
	box_stop
}

sent_dir() {
	echo "$DATA_DIR/business/sent/$(date +%Y/%m/%d)"
}

@test "an hour: the pending requests, to Box ToCity, the city mailed, the file moved to sent" {
	run sh "$JOB" 2026-11-23T09
	echo "$output"
	[ "$status" -eq 0 ]
	name=business_requisition_2026-11-23_0900.csv
	cmp "$EXPECTED" "$(sent_dir)/$name"
	[ ! -e "$DATA_DIR/business/$name" ]
	[ "$(box_files | cut -f1)" = "MTP/ToCity/$name" ]
	box_ctl content "$(box_files | cut -f2)" > "$W/on-box.csv"
	cmp "$EXPECTED" "$W/on-box.csv"
	[ "$(mail_count city)" -eq 1 ]
	mail_summary city 1 | grep -qxF "subject: Business requisition file waiting: $name"
	mail_body city 1 | grep -qxF "MTP/ToCity/$name"
	log_steps | grep -qx 'bz_outbound 2026-11-23T09 window 2026-11-23 09:00:00 to 2026-11-23 09:59:59'
	log_steps | grep -qx 'bz_outbound 2026-11-23T09 box ok (sent)'
	log_steps | grep -qx 'bz_outbound 2026-11-23T09 mail ok (sent)'
	log_steps | grep -qx 'bz_outbound 2026-11-23T09 sent ok'
}

@test "no requests in the hour: no file, nothing sent, exit 0 with a log line" {
	run sh "$JOB" 2026-11-23T11
	[ "$status" -eq 0 ]
	log_steps | grep -qx 'bz_outbound 2026-11-23T11 no business requests, nothing to send'
	[ -z "$(find "$DATA_DIR" -type f 2>/dev/null)" ]
	[ -z "$(box_files)" ]
	[ "$(mail_count city)" -eq 0 ]
}

@test "START END: another window, named after START's hour" {
	run sh "$JOB" 2026-11-23T08:30:00 2026-11-23T10:00:00
	echo "$output"
	[ "$status" -eq 0 ]
	csv-shape -c business_code,created "$(sent_dir)/business_requisition_2026-11-23_0800.csv" > "$W/got"
	printf '%s\n' business_code,created 'BZ2002,2026-11-23 08:59:59' \
	    'BZ1001,2026-11-23 09:00:00' 'BZ1002,2026-11-23 09:59:59' \
	    'BZ1003,2026-11-23 10:00:00' | diff - "$W/got"
}

@test "by default the previous whole hour" {
	run sh "$JOB"
	[ "$status" -eq 0 ]
	hour=$(TZ=America/New_York date -d '1 hour ago' +%Y-%m-%dT%H)
	log_steps | grep -qx "bz_outbound $hour window ${hour%T*} ${hour#*T}:00:00 to ${hour%T*} ${hour#*T}:59:59"
}

@test "Box refusing uploads: the step fails, nothing mailed; the re-run uploads and mails once" {
	box_ctl fault '{"method": "POST", "path": "/api/2.0/files/content", "status": 503, "count": 100}'
	run sh "$JOB" 2026-11-23T09
	echo "$output"
	[ "$status" -ne 0 ]
	log_steps | grep -q "bz_outbound 2026-11-23T09 box failed (status $status)"
	[ "$(mail_count city)" -eq 0 ]
	[ -e "$DATA_DIR/business/business_requisition_2026-11-23_0900.csv" ]
	box_stop
	city_box
	run sh "$JOB" 2026-11-23T09
	echo "$output"
	[ "$status" -eq 0 ]
	log_steps | grep -qx 'bz_outbound 2026-11-23T09 file skipped (done in an earlier run)'
	[ "$(mail_count city)" -eq 1 ]
	[ "$(box_files | wc -l)" -eq 1 ]
}

@test "bad windows: 64" {
	run sh "$JOB" 2026-11-23T09:00:00
	[ "$status" -eq 64 ]
	run sh "$JOB" 2026-11-23
	[ "$status" -eq 64 ]
	run sh "$JOB" 2026-11-23T25:00:00 2026-11-23T26:00:00
	[ "$status" -eq 64 ]
}
