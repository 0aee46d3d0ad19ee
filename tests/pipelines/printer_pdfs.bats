#!/usr/bin/env bats
# pipelines/printer_pdfs.sh against a real sshd (the printer's pickbox) and
# the Box emulator (the city's daily folder).

load ../common
load ../sftp
load ../tls
load ../box
load ../fixtures/mtp/mtp

bats_require_minimum_version 1.5.0

JOB="$TOP/pipelines/printer_pdfs.sh"

setup_file() {
	export SFTP_TEST_USER=mtpprint
	sftp_user_create "$SFTP_TEST_USER"
	box_setup_file
}

teardown_file() {
	sftp_user_remove "$SFTP_TEST_USER"
}

setup() {
	common_setup
	command -v sftp-get >/dev/null || skip "sftp-get is not built"
	command -v box-upload >/dev/null || skip "box-upload is not built"
	unset SCHEDFEED_ALERT_TO
	export DATA_DIR="$W/data"
	mtp_printer_setup
	export PRINT_SFTP_PICKBOX=$REMOTE/pickbox
	export MTP_BOX_DAILY_PARENT=MTP/Daily
	box_start
	mkdir -p "$REMOTE/pickbox/2026-11-24"
	printf '%%PDF-1.4 one\n' > "$REMOTE/pickbox/2026-11-24/patient_1.pdf"
	printf '%%PDF-1.4 two\n' > "$REMOTE/pickbox/2026-11-24/patient_2.pdf"
	printf 'not for Box\n' > "$REMOTE/pickbox/2026-11-24/manifest.txt"
	chown -R "$SFTP_USER" "$REMOTE/pickbox"
}

teardown() {
	smtpd_stop_all
	box_stop
	sshd_stop
}

@test "the day's patient PDFs into the Box daily folder; a re-run sends only what is new" {
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(box_ctl files | cut -f1)" = "MTP/Daily/11-24-2026/patient_1.pdf
MTP/Daily/11-24-2026/patient_2.pdf" ]
	box_ctl content "$(box_ctl files | sed -n 1p | cut -f2)" | cmp - "$REMOTE/pickbox/2026-11-24/patient_1.pdf"
	log_steps | grep -qx 'printer_pdfs 2026-11-24 2 PDFs in the daily folder'
	# the printer's copies stay
	[ -e "$REMOTE/pickbox/2026-11-24/patient_1.pdf" ]
	printf '%%PDF-1.4 three\n' > "$REMOTE/pickbox/2026-11-24/patient_3.pdf"
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 0 ]
	[ "$(log_steps | grep -c 'already delivered to box:MTP/Daily/11-24-2026, nothing sent')" -eq 2 ]
	[ "$(box_ctl files | wc -l)" -eq 3 ]
	[ "$(box_ctl files | cut -f3 | sort -u)" = 1 ]
}

@test "no PDFs yet: nothing sent, exit 0 with a log line" {
	mkdir -p "$REMOTE/pickbox/2026-11-25"
	chown "$SFTP_USER" "$REMOTE/pickbox/2026-11-25"
	run sh "$JOB" 2026-11-25
	echo "$output"
	[ "$status" -eq 0 ]
	log_steps | grep -qx 'printer_pdfs 2026-11-25 no PDFs from the printer, nothing to send'
	[ -z "$(box_ctl files)" ]
}

@test "the printer unreachable: the fetch fails with 75 and says so" {
	export PRINT_SFTP_PORT=$(free_port)
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 75 ]
	log_steps | grep -qx 'printer_pdfs 2026-11-24 fetch failed (status 75)'
}

@test "a PDF whose name holds a tab or a newline is refused by its index with 65 and an alert; the others still go" {
	export CA=$W/ca
	make_test_ca "$CA"
	export SMTPD_USER=feed SMTPD_PASSWORD='mail pass'
	smtpd_start alerts
	export SCHEDFEED_ALERT_TO=ops@site.example SCHEDFEED_ALERT_SMTP_URL=smtp://127.0.0.1:$SMTPD_PORT_alerts
	export SCHEDFEED_ALERT_SMTP_CACERT=$CA/ca.pem SCHEDFEED_ALERT_SMTP_USER=feed
	export SMTP_PASSWORD=$SMTPD_PASSWORD
	printf '%%PDF-1.4 bad\n' > "$REMOTE/pickbox/2026-11-24/$(printf 'patient_\t9.pdf')"
	chown -R "$SFTP_USER" "$REMOTE/pickbox"
	run sh "$JOB" 2026-11-24
	echo "$output"
	[ "$status" -eq 65 ]
	# refused where the name is seen: by sftp-get (fetch) or by the job
	# (file-N, N its place among the day's PDFs); never by its name
	log_steps | grep -Eqx 'printer_pdfs 2026-11-24 (fetch|file-[0-9]+) failed \(status 65\)'
	[[ "$output" != *"$(printf 'patient_\t9')"* ]]
	! grep -q "$(printf 'patient_\t9')" "$SCHEDFEED_STATE_DIR/printer_pdfs/log"
	[ "$(box_ctl files | cut -f1)" = "MTP/Daily/11-24-2026/patient_1.pdf
MTP/Daily/11-24-2026/patient_2.pdf" ]
	[ "$(mail_count alerts)" -ge 1 ]
	log_steps | grep -q 'alert sent'
	log_steps | grep -qx 'printer_pdfs 2026-11-24 done (status 65: a step failed, the others went on)'
	# the next run: the good PDFs are not sent again; the bad one again refused
	run sh "$JOB" 2026-11-24
	[ "$status" -eq 65 ]
	[ "$(box_ctl files | cut -f3 | sort -u)" = 1 ]
}
