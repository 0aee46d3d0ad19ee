#!/usr/bin/env bats
# pipelines/eod_data.sh against a real MariaDB server holding the Mass
# Testing Platform's tables (tests/fixtures/mtp/schema.mariadb.sql, read
# as a login with only the grants schedfeed(7) lists), a real sshd (the
# printer), aiosmtpd with STARTTLS and AUTH (the health department, and a
# second one for alerts) and the Box emulator.
#
# The expected files under tests/fixtures/mtp/2026-11-24/ were worked out
# by hand from specs/mtp.md and the synthetic rows of 2026-11-24
# (tests/fixtures/mtp/rows.sql):
#
#   car  appt  time   patient            why
#   1    501   05:00  Roe, Jane          booked with business code BZ1001:
#                                        Critical Infrastructure Employee;
#                                        56 on the day
#   2    502   09:00  Doe, Richard       first_responder 1: Yes; born 11-25,
#                                        so 67, not 68; address with "" and ,
#   3    503   09:00  Núñez-Øster, Zoë   same time as Doe: after it by last
#                                        name; 11: pediatric_swab Yes
#   4    504   13:00  Test-Free, Omar    BZ1002
#   -    505   12:00  (unavailable)      left out
#   app_start: 2026-11-24 is a Tuesday: "Tuesday 24th, November 2026 05:00 AM"
#   dob is a DATETIME: the master file keeps 1970-03-14 00:00:00, the
#   printer files write 1970-03-14; language_pref(_other) and
#   doctor_provider(_other) are blank (the platform dropped them); 503's
#   business code is '' (General Public), 502's NULL.

load ../common
load ../sftp
load ../tls
load ../box
load ../fixtures/mtp/mtp

bats_require_minimum_version 1.5.0

JOB="$TOP/pipelines/eod_data.sh"
EXPECTED="$TOP/tests/fixtures/mtp/2026-11-24"
# the Mass Testing Platform samples (copied from shared/reference)
REF="$TOP/tests/fixtures/csv-shape"

setup_file() {
	export SFTP_TEST_USER=mtpprint
	sftp_user_create "$SFTP_TEST_USER"
	export CA="$BATS_FILE_TMPDIR/ca"
	make_test_ca "$CA"
	box_setup_file
	mtp_db_setup_file eod_data
}

teardown_file() {
	mtp_db_teardown_file
	sftp_user_remove "$SFTP_TEST_USER"
}

setup() {
	common_setup
	command -v csv-shape >/dev/null || skip "csv-shape is not built"
	unset SCHEDFEED_ALERT_TO SCHEDFEED_ALERT_SMTP_URL DATA_DIR HEALTH_NETWORK_SMTP_URL HEALTH_NETWORK_SMTP_PORT
	export MTP_SITE="Example Drive-Through"
	export DATA_DIR="$W/data"
	mtp_printer_setup
	export PRINT_SFTP_DIR=$REMOTE/dropbox
	export SMTPD_USER=feed SMTPD_PASSWORD='hn pass:wörd'
	export HEALTH_NETWORK_USER_NAME=feed
	export HEALTH_NETWORK_USER_PWD=$SMTPD_PASSWORD
	export HEALTH_NETWORK_MAIL_FROM=feed@site.example
	export HEALTH_NETWORK_MAIL_TO=covid@health.example,epi@health.example
	export HEALTH_NETWORK_SMTP_CACERT=$CA/ca.pem
	export HEALTH_NETWORK_SMTP_RETRIES=0
	export MTP_BOX_DAILY_PARENT=MTP/Daily MTP_BOX_TRANSPORT_FOLDER=MTP/Transportation
	box_start
	mtp_db_start
}

teardown() {
	mtp_db_stop
	smtpd_stop_all
	box_stop
	sshd_stop
}

# health_up: the health department's mail server; points the job at it
health_up() {
	smtpd_start health
	export HEALTH_NETWORK_SMTP_URL=127.0.0.1 HEALTH_NETWORK_SMTP_PORT=$SMTPD_PORT_health
}

# box_files: path, versions and SHA-1 of every file on Box
box_files() {
	box_ctl files | cut -f1,3,4
}

sha1() {
	sha1sum < "$1" | cut -d' ' -f1
}

@test "demo day: the three files exactly, to the printer, the health department and Box" {
	health_up
	run --separate-stderr sh "$JOB" 2026-11-24
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	for f in patient_appointments.csv patients_form_print.csv patient_appointments_master.csv; do
		cmp "$EXPECTED/$f" "$DATA_DIR/2026-11-24/$f"
		[ "$(file_mode "$DATA_DIR/2026-11-24/$f")" = 600 ]
	done
	# the printer: both printer files in dropbox/DAY, made by the job
	[ "$(ls "$REMOTE/dropbox/2026-11-24")" = "patient_appointments.csv
patients_form_print.csv" ]
	cmp "$EXPECTED/patient_appointments.csv" "$REMOTE/dropbox/2026-11-24/patient_appointments.csv"
	cmp "$EXPECTED/patients_form_print.csv" "$REMOTE/dropbox/2026-11-24/patients_form_print.csv"
	# the health department: one message, STARTTLS, logged in, master attached
	[ "$(mail_count health)" -eq 1 ]
	mail_summary health 1 > "$W/summary"
	cat "$W/summary"
	grep -qxF 'subject: Patient Files for Covid19 - Example Drive-Through - 2026-11-24' "$W/summary"
	grep -qxF 'body: Patient Files for Covid19 - Example Drive-Through - 2026-11-24|' "$W/summary"
	grep -qxF 'envelope-to: covid@health.example,epi@health.example' "$W/summary"
	grep -qxF 'login: feed' "$W/summary"
	grep -qxF 'tls: True' "$W/summary"
	mail_attachment health 1 patient_appointments_master.csv > "$W/master.csv"
	cmp "$EXPECTED/patient_appointments_master.csv" "$W/master.csv"
	# Box: the daily folder (MM-DD-YYYY) and the transportation copy
	cat > "$W/box.expected" <<-EOF
	MTP/Daily/11-24-2026/patient_appointments.csv	1	$(sha1 "$EXPECTED/patient_appointments.csv")
	MTP/Daily/11-24-2026/patient_appointments_master.csv	1	$(sha1 "$EXPECTED/patient_appointments_master.csv")
	MTP/Daily/11-24-2026/patients_form_print.csv	1	$(sha1 "$EXPECTED/patients_form_print.csv")
	MTP/Transportation/patients_form_print_2026-11-24.csv	1	$(sha1 "$EXPECTED/patients_form_print.csv")
	EOF
	box_files > "$W/box.actual"
	diff "$W/box.expected" "$W/box.actual"
	# one log line a step, no patient anywhere in it
	output=$stderr
	log_steps > "$W/log"
	cat > "$W/log.expected" <<-EOF
	eod_data 2026-11-24 start
	eod_data 2026-11-24 settings ok
	eod_data 2026-11-24 query ok
	eod_data 2026-11-24 files ok
	eod_data 2026-11-24 printer-appointments ok (sent)
	eod_data 2026-11-24 printer-requisition ok (sent)
	eod_data 2026-11-24 mail-master ok (sent)
	eod_data 2026-11-24 box-patient_appointments ok (sent)
	eod_data 2026-11-24 box-patients_form_print ok (sent)
	eod_data 2026-11-24 box-patient_appointments_master ok (sent)
	eod_data 2026-11-24 box-transport ok (sent)
	eod_data 2026-11-24 done
	EOF
	diff "$W/log.expected" "$W/log"
	! grep -qE 'Roe|Doe|Núñez|A1B2' "$SCHEDFEED_STATE_DIR/eod_data/log" "$SCHEDFEED_STATE_DIR/eod_data/ledger"
	# nothing left in staging
	[ -z "$(ls -A "$SCHEDFEED_STATE_DIR/eod_data/staging")" ]
}

@test "the printer files have the samples' columns, in their order" {
	# the samples' headers as a CSV reader sees them (the seed quoted
	# "Patient Type"; the pipe dialect does not need to)
	[ "$(head -1 "$EXPECTED/patient_appointments.csv")" = \
	    "$(csv-shape "$REF/patient_appointments.sample.csv" | head -1)" ]
	[ "$(head -1 "$EXPECTED/patients_form_print.csv")" = \
	    "$(csv-shape "$REF/patients_form_print.sample.csv" | head -1)" ]
	[ "$(head -1 "$EXPECTED/patients_form_print.csv" | tr , '\n' | wc -l)" -eq 54 ]
	[ "$(head -1 "$EXPECTED/patient_appointments_master.csv" | tr , '\n' | wc -l)" -eq 58 ]
	# the value formats of the samples, field by field
	csv-shape -c start_datetime,name,dob,"Patient Type" "$REF/patient_appointments.sample.csv" |
	    sed 1d | grep -Eq '^[A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}[AP]M,"[^,]+, [^,]+",[0-9]{4}-[0-9]{2}-[0-9]{2},(Critical Infrastructure Employee|General Public)$'
	csv-shape -c start_datetime,name,dob,"Patient Type" "$EXPECTED/patient_appointments.csv" |
	    sed 1d | grep -Evq '^[A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}[AP]M,"[^,]+, [^,]+",[0-9]{4}-[0-9]{2}-[0-9]{2},(Critical Infrastructure Employee|General Public)$' && return 1
	true
}

# formats SAMPLE FILE [COLUMN=CLASS...]: FILE's values have the sample's
# formats, column by column (tests/fixtures/mtp/formats.py); apt is free
# text (the sample's is a number, "2B" is an apartment too)
formats() {
	"$PY" "$MTP_FIX/formats.py" "$@" apt=int,text
}

@test "each file's values have the samples' formats, column by column; dob's date part on the printer's" {
	health_up
	for day in 2026-11-24 2026-12-01; do
		run sh "$JOB" "$day"
		[ "$status" -eq 0 ]
		d=$DATA_DIR/$day
		formats "$REF/patient_appointments.sample.csv" "$d/patient_appointments.csv" > "$W/a"
		formats "$REF/patients_form_print.sample.csv" "$d/patients_form_print.csv" > "$W/p"
		# the master keeps the stored values: dob and first_responder as
		# stored, where the printer's sample has them reformatted
		formats "$REF/patients_form_print.sample.csv" "$d/patient_appointments_master.csv" \
		    dob=datetime first_responder=int > "$W/m"
		# every column the samples fill was compared (44 of the 54: the
		# sample leaves ten empty), and nothing differed
		[ "$(grep -c . "$W/a")" -eq 5 ]
		[ "$(grep -c . "$W/p")" -eq 44 ]
		[ "$(grep -c . "$W/m")" -eq 40 ]
		grep -qx 'dob: date' "$W/p"
		grep -qx 'dob: datetime' "$W/m"
	done
	# 2026-12-01: a dob stored with a time of day; the printer shows its
	# date, the master the stored value, the age counts from the date
	[ "$(csv-shape -c dob,age "$DATA_DIR/2026-12-01/patients_form_print.csv")" = 'dob,age
2010-12-01,16' ]
	[ "$(csv-shape -c dob "$DATA_DIR/2026-12-01/patient_appointments.csv" | sed 1d)" = 2010-12-01 ]
	[ "$(csv-shape -c dob,pediatric_swab "$DATA_DIR/2026-12-01/patient_appointments_master.csv")" = 'dob,pediatric_swab
2010-12-01 12:00:00,No' ]
	# and the comparison fails when a format is not the sample's: the
	# master's raw dob is not the printer's
	run -1 "$PY" "$MTP_FIX/formats.py" "$REF/patients_form_print.sample.csv" \
	    "$DATA_DIR/2026-11-24/patient_appointments_master.csv"
	[[ "$output" == *"dob row 1: datetime, the sample has date"* ]]
}

@test "a second run sends nothing: every file already delivered" {
	health_up
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	log_steps | grep -c 'already delivered to .*, nothing sent' | grep -qx 7
	[ "$(mail_count health)" -eq 1 ]
	box_files | cut -f2 | sort -u | grep -qx 1
}

@test "a new appointment after delivery: the next run sends corrections" {
	health_up
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	mtp_db_sql "INSERT INTO ea_appointments (id, hash, book_datetime, start_datetime, end_datetime, is_unavailable, id_users_provider, id_users_customer) VALUES (599, 'LATE0001', '2026-11-24 01:00:00', '2026-11-24 15:00:00', '2026-11-24 15:15:00', 0, 1, 15)"
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	[ "$(log_steps | grep -c 'ok (correction)')" -eq 7 ]
	[ "$(mail_count health)" -eq 2 ]
	grep -q '^5,Nov 24 03:00PM,"Wei, Li",1985-08-08,General Public$' "$REMOTE/dropbox/2026-11-24/patient_appointments.csv"
	[ "$(box_ctl files | cut -f3 | sort -u)" = 2 ]
}

@test "no appointments: no files, nothing sent, exit 0 with a log line" {
	health_up
	run sh "$JOB" 2026-12-24
	[ "$status" -eq 0 ]
	log_steps | grep -qx 'eod_data 2026-12-24 no appointments, nothing to send'
	[ ! -e "$DATA_DIR/2026-12-24" ]
	[ -z "$(ls -A "$REMOTE")" ]
	[ "$(mail_count health)" -eq 0 ]
	[ -z "$(box_ctl files)" ]
}

@test "mail server down: exit 75 and an alert; the re-run skips the printer and mails" {
	smtpd_start alerts
	export SCHEDFEED_ALERT_TO=ops@site.example
	export SCHEDFEED_ALERT_SMTP_URL=smtp://127.0.0.1:$SMTPD_PORT_alerts
	export SCHEDFEED_ALERT_SMTP_USER=feed SMTP_PASSWORD=$SMTPD_PASSWORD
	export SCHEDFEED_ALERT_SMTP_CACERT=$CA/ca.pem
	export HEALTH_NETWORK_SMTP_URL=127.0.0.1 HEALTH_NETWORK_SMTP_PORT=$(free_port)
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 75 ]
	log_steps | grep -qx 'eod_data 2026-11-24 mail-master failed (status 75)'
	log_steps | grep -qx 'eod_data 2026-11-24 mail-master alert sent'
	[ "$(mail_count alerts)" -eq 1 ]
	mail_summary alerts 1 | grep -qxF 'body: schedfeed job eod_data 2026-11-24 failed at step mail-master with exit status 75|'
	! grep -qE 'Roe|Doe|Núñez' "$W/mail-alerts/1.eml"
	[ -e "$REMOTE/dropbox/2026-11-24/patients_form_print.csv" ]
	[ -z "$(box_ctl files)" ]
	# the server is back: the printer is not sent to again
	rm -f "$REMOTE/dropbox/2026-11-24/"*
	health_up
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 0 ]
	log_steps | grep -qx 'eod_data 2026-11-24 printer-appointments skipped (done in an earlier run)'
	log_steps | grep -qx 'eod_data 2026-11-24 printer-requisition skipped (done in an earlier run)'
	log_steps | grep -qx 'eod_data 2026-11-24 query skipped (done in an earlier run)'
	log_steps | grep -qx 'eod_data 2026-11-24 mail-master ok (sent)'
	[ -z "$(ls -A "$REMOTE/dropbox/2026-11-24")" ]
	[ "$(mail_count health)" -eq 1 ]
	[ "$(box_ctl files | wc -l)" -eq 4 ]
	[ "$(mail_count alerts)" -eq 1 ]
}

@test "a missing setting: status 78 at the first step, named, nothing queried" {
	unset PRINT_SFTP_HOST MTP_BOX_TRANSPORT_FOLDER
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 78 ]
	[[ "$output" == *"not set: PRINT_SFTP_HOST HEALTH_NETWORK_SMTP_URL MTP_BOX_TRANSPORT_FOLDER (see eod_data.env.example)"* ]]
	log_steps | grep -qx 'eod_data 2026-11-24 settings failed (status 78)'
	[ ! -e "$DATA_DIR" ]
}

@test "both a password and its _FILE: 78" {
	export PRINT_SFTP_PASSWORD_FILE=$W/pw PRINT_SFTP_PASSWORD=x
	health_up
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 78 ]
	[[ "$output" == *"both PRINT_SFTP_PASSWORD and PRINT_SFTP_PASSWORD_FILE are set"* ]]
}

@test "app_start: ordinal days, an age reached on the day, the abbreviation capitalised" {
	health_up
	for day in 2026-12-01:1st 2026-12-02:2nd 2026-12-03:3rd 2026-12-11:11th 2026-12-22:22nd; do
		run sh "$JOB" "${day%:*}"
		[ "$status" -eq 0 ]
		csv-shape -c app_start "$DATA_DIR/${day%:*}/patients_form_print.csv" > "$W/app_start"
		grep -q " ${day#*:}, December 2026 " "$W/app_start"
	done
	[ "$(csv-shape -c app_start,age,pediatric_swab,last_name_abbrv "$DATA_DIR/2026-12-01/patients_form_print.csv")" = \
	    'app_start,age,pediatric_swab,last_name_abbrv
"Tuesday 1st, December 2026 12:30 PM",16,No,Mc' ]
	[ "$(sed -n 2p "$DATA_DIR/2026-12-22/patient_appointments.csv")" = \
	    '1,Dec 22 08:00AM,"Wei, Li",1985-08-08,General Public' ]
}

@test "a bad DAY: usage, 64" {
	run sh "$JOB" 2026-02-30
	[ "$status" -eq 64 ]
	run sh "$JOB" 2026-11-24T10
	[ "$status" -eq 64 ]
}

@test "the platform's database refuses: a wrong password is 77, a missing grant 65, nothing sent either way" {
	health_up
	SCHEDFEED_DB_PASSWORD=wrong run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 77 ]
	log_steps | grep -qx 'eod_data 2026-11-24 query failed (status 77)'
	mariadb_sql <<< "REVOKE SELECT ON schedfeed.ea_users FROM '$MTP_DB_USER'@'127.0.0.1'"
	run sh "$JOB" 2026-11-24
	echo "$output"
	mariadb_sql <<< "GRANT SELECT ON schedfeed.ea_users TO '$MTP_DB_USER'@'127.0.0.1'"
	[ "$status" -eq 65 ]
	log_steps | grep -qx 'eod_data 2026-11-24 query failed (status 65)'
	! grep -qE 'Roe|Doe|Núñez' <<< "$output"
	[ ! -e "$DATA_DIR/2026-11-24" ]
	[ -z "$(ls -A "$REMOTE")" ]
	[ "$(mail_count health)" -eq 0 ]
	[ -z "$(box_ctl files)" ]
	# granted again, the next run delivers everything
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	[ "$(mail_count health)" -eq 1 ]
}
