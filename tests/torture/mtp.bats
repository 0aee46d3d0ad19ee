#!/usr/bin/env bats
# The torture suite for the Mass Testing Platform's jobs (eod_data,
# printer_pdfs, bz_outbound, bz_inbound): each killed at its kill points
# (torture.bash's torture_whens), run again to its end, and then every
# partner holds every file exactly once: SFTP renames onto the final name
# counted in the server's log, Box versions counted, mails counted by
# Message-ID; nothing half, no temporary left, no intent left open.

load ../common
load ../sftp
load ../tls
load ../box
load ../fixtures/mtp/mtp
load torture
load mtp

EXPECTED="$TOP/tests/fixtures/mtp/2026-11-24"
BZ="$TOP/tests/fixtures/mtp/bz"

setup_file() {
	export SFTP_TEST_USER=sftort16mtp
	sftp_user_create "$SFTP_TEST_USER"
	export CA="$BATS_FILE_TMPDIR/ca"
	make_test_ca "$CA"
	box_setup_file
	mtp_db_setup_file eod_data bz_outbound bz_inbound
}

teardown_file() {
	mtp_db_teardown_file
	sftp_user_remove "$SFTP_TEST_USER"
}

setup() {
	common_setup
	command -v csv-shape >/dev/null || skip "csv-shape is not built"
	unset SCHEDFEED_ALERT_TO SCHEDFEED_ALERT_SMTP_URL HEALTH_NETWORK_SMTP_PORT
	torture_shim
}

teardown() {
	mtp_db_stop
	smtpd_stop_all
	box_stop
	sshd_stop
}

@test "eod_data: killed at its kill points, the printer, the health department and Box each hold each file once" {
	eod_data_torture
	torture_matrix "$TORTURE_JOB" $TORTURE_ARGS
}

@test "printer_pdfs: killed at its kill points, each PDF once in the Box daily folder" {
	printer_pdfs_torture
	torture_matrix "$TORTURE_JOB" $TORTURE_ARGS
}

@test "bz_outbound: killed at its kill points, the file once on Box, the city mailed once, filed once" {
	bz_outbound_torture
	torture_matrix "$TORTURE_JOB" $TORTURE_ARGS
}

@test "bz_inbound: killed at its kill points, the approvals applied and filed once, the city mailed once, the original deleted" {
	bz_inbound_torture
	torture_matrix "$TORTURE_JOB" $TORTURE_ARGS
}

@test "eod_data killed right after the health department's server took the mail: resent with the same Message-ID, logged, alerted" {
	eod_data_torture
	smtpd_start alerts
	export SCHEDFEED_ALERT_TO=ops@site.example SCHEDFEED_ALERT_SMTP_URL=smtp://127.0.0.1:$SMTPD_PORT_alerts
	export SCHEDFEED_ALERT_SMTP_CACERT=$CA/ca.pem SCHEDFEED_ALERT_SMTP_USER=feed
	export SMTP_PASSWORD=$SMTPD_PASSWORD
	fresh 1
	torture_kill smtp-send:1:after:group "$TORTURE_JOB" $TORTURE_ARGS
	[ "$TORTURE_RC" -eq 137 ]
	[ "$(mail_total health)" -eq 1 ]
	torture_rerun "$TORTURE_JOB" $TORTURE_ARGS
	cat "$TORTURE_DIR/log"
	[ "$TORTURE_RC" -eq 0 ]
	grep -q ' mail-master patient_appointments_master.csv to mailto:covid@health.example: outcome unknown, resent with the same Message-ID$' "$TORTURE_DIR/log"
	grep -q ' mail-master alert sent$' "$TORTURE_DIR/log"
	[ "$(mail_total health)" -eq 2 ]
	[ "$(mail_ids health 0 | wc -l)" -eq 1 ]
	[ "$(mail_total alerts)" -eq 1 ]
	grep -q '^Subject: schedfeed: eod_data 2026-11-24 mail resent' "$W/mail-alerts/1.eml"
	grep -q "the same Message-ID $(mail_ids health 0)" "$W/mail-alerts/1.eml"
	# the patient's data in neither the log nor the alert
	! grep -qE 'Roe|Doe|Núñez' "$TORTURE_DIR/log" "$W/mail-alerts/1.eml"
	[ -z "$(ledger_open "$LEDGER_OF")" ]
}
