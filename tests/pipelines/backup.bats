#!/usr/bin/env bats
# SCHEDFEED_BACKUP_URL: the jobs' off-site copy of each file they delivered
# (pipelines/lib/job.sh job_backup), into a real S3 store that verifies
# SigV4 (Ceph RGW from ../shared/rgw/rgw.sh, one for the file), through
# tests/s3-proxy.py, which writes down every request so that a test can
# count the PUTs; every object read back with the AWS SDK for JavaScript
# (tests/node/s3-sdk.mjs). iq_daily (tdsd, a directory destination) shows
# the ledger's guarantees; eod_data and bz_outbound (MariaDB, sshd, SMTP,
# the Box emulator, as their own suites) show their files backed up.

load ../common
load job
load ../tdsd
load ../babelfish
load ../engine
load demo_db
load ../sftp
load ../tls
load ../box
load ../fixtures/mtp/mtp
load ../s3proxy

bats_require_minimum_version 1.5.0

RGW_SH="${SCHEDFEED_RGW:-$TOP/../shared/rgw/rgw.sh}"
SDK="$TOP/tests/node/s3-sdk.mjs"
AK=AKIAIOSFODNN7EXAMPLE
SK='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
FIX="$TOP/tests/fixtures"
IQ="$TOP/pipelines/iq_daily.sh"
EOD="$TOP/pipelines/eod_data.sh"
BZ="$TOP/pipelines/bz_outbound.sh"

# _no_store: why the store cannot run here, or nothing
_no_store() {
	[ -f "$RGW_SH" ] || { echo "no RGW script at $RGW_SH (../shared/rgw)"; return; }
	command -v radosgw >/dev/null || { echo "radosgw is not installed (make deps)"; return; }
	[ -d "$TOP/tests/node/node_modules/@aws-sdk/client-s3" ] ||
	    { echo "the AWS SDK is not installed in tests/node (make deps)"; return; }
	command -v s3-put >/dev/null || { echo "s3-put is not built"; return; }
	grep -q -- skip-same "$(command -v s3-put)" ||
	    echo "this s3-put has no --skip-same"
}

setup_file() {
	[ -z "$(_no_store)" ] || return 0
	local d=$BATS_FILE_TMPDIR/rgw out
	mkdir -p "$d"
	out=$(RGW_AK=$AK RGW_SK=$SK RGW_BUCKET=backup bash "$RGW_SH" start "$d" \
	    2>"$d.log") || { cat "$d.log" >&3; return 1; }
	RGW_PORT=$(echo "$out" | awk '$1 == "port" { print $2 }')
	s3_proxy_start "$RGW_PORT" /dev/null
	export RGW_PORT
	demo_db_setup_file
	# the Mass Testing Platform's peers, as tests/pipelines/eod_data.bats
	export SFTP_TEST_USER=mtpprint
	sftp_user_create "$SFTP_TEST_USER"
	export CA="$BATS_FILE_TMPDIR/ca"
	make_test_ca "$CA"
	box_setup_file
	mtp_db_setup_file eod_data bz_outbound
}

teardown_file() {
	s3_proxy_stop
	[ -d "$BATS_FILE_TMPDIR/rgw" ] && bash "$RGW_SH" stop "$BATS_FILE_TMPDIR/rgw"
	[ -z "${MARIADB_SOCKET:-}" ] || mtp_db_teardown_file
	[ -z "${SFTP_TEST_USER:-}" ] || sftp_user_remove "$SFTP_TEST_USER"
	demo_db_teardown_file
	return 0
}

setup() {
	common_setup
	local why
	why=$(_no_store)
	[ -z "$why" ] || skip "$why"
	[ -n "${RGW_PORT:-}" ] || skip "the store did not start (setup_file)"
	command -v csv-shape >/dev/null || skip "csv-shape is not built"
	export AWS_ACCESS_KEY_ID=$AK AWS_REGION=us-east-1
	printf '%s\n' "$SK" >"$W/s3-secret"
	export AWS_SECRET_ACCESS_KEY_FILE="$W/s3-secret"
	unset AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CA_BUNDLE S3_SSE_KMS_KEY_ID
	unset SCHEDFEED_ALERT_TO SCHEDFEED_ALERT_SMTP_URL
	export S3_ENDPOINT_URL=http://127.0.0.1:$PROXY_PORT
	# a store that is down fails at once, not after minutes of backoff
	export SCHEDFEED_BACKUP_RETRIES=0
	# a prefix of each test's own in the file's one bucket
	P=t$BATS_TEST_NUMBER
	export SCHEDFEED_BACKUP_URL=s3://backup/$P
	: >"$BATS_FILE_TMPDIR/capture"
}

teardown() {
	tdsd_stop_all
	smtpd_stop_all
	box_stop
	sshd_stop
}

# sdk VERB ARGS...: the AWS SDK, straight to the store (not the relay)
sdk() {
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK NODE_NO_WARNINGS=1 \
	    S3_ENDPOINT_URL=http://127.0.0.1:$RGW_PORT node "$SDK" "$@"
}

# puts, heads: object uploads and HEADs the store was sent since setup
puts() {
	grep -c '^PUT /backup/' "$BATS_FILE_TMPDIR/capture" || true
}
heads() {
	grep -c '^HEAD /backup/' "$BATS_FILE_TMPDIR/capture" || true
}

# iq_setup: iq_daily's settings, a directory destination, a tdsd
iq_setup() {
	command -v sched-query >/dev/null || skip "sched-query is not built"
	unset IQ_SQL IQ_SHAPE IQ_DEPT IQ_UNIT IQ_FILE_NAME
	export IQ_DEST="$W/dest"
	mkdir -p "$IQ_DEST"
	LEDGER="$SCHEDFEED_STATE_DIR/iq_daily/ledger"
	unset SCHEDFEED_DB_DRIVER SCHEDFEED_DB_PASSWORD_FILE
	export SCHEDFEED_DB_DATABASE=demo SCHEDFEED_DB_USER=schedfeed
	export SCHEDFEED_DB_PASSWORD=schedfeed
	demo_db_start
	NAME=unmcc_2026_11_23.csv
	FEED=$FIX/iq_daily/$NAME
	KEY=$P/iq_daily/2026/11/23/$NAME
	TARGET=s3://backup/$P/iq_daily/2026/11/23/
}

# backed_up KEY FILE: the store holds KEY with FILE's bytes (the SDK reads)
backed_up() {
	sdk get backup "$1" "$W/back"
	cmp "$W/back" "$2"
}

@test "iq_daily: the feed backed up under PREFIX/iq_daily/YYYY/MM/DD/, a ledger delivery, logged as one" {
	iq_setup
	export SCHEDFEED_METRICS_DIR="$W/metrics"
	mkdir -p "$SCHEDFEED_METRICS_DIR"
	run --separate-stderr sh "$IQ" 2026-11-23
	echo "$stderr"
	[ "$status" -eq 0 ]
	cmp "$FEED" "$IQ_DEST/$NAME"
	joblog=$stderr
	# counted as a delivery by feed-status and the metrics
	run feed-status --job iq_daily
	echo "$output"
	[ "$(echo "$output" | sed -n 1p | cut -d, -f8)" = sent ]
	[ "$(echo "$output" | sed -n 2p | cut -d, -f8)" = 2 ]
	grep -qx 'schedfeed_last_run_deliveries{feed="iq_daily",kind="sent"} 2' \
	    "$SCHEDFEED_METRICS_DIR/schedfeed_iq_daily.prom"
	[ "$(sdk list backup "$P/")" = "$KEY" ]
	backed_up "$KEY" "$FEED"
	[ "$(puts)" -eq 1 ]
	# two deliveries in the ledger, the backup's target the day's prefix
	[ "$(ledger_rows)" = "$(printf '2026-11-23\t%s\t%s\t%s\tsent\n2026-11-23\t%s\t%s\t%s\tsent' \
	    "$NAME" "$(sha "$FEED")" "$IQ_DEST" "$NAME" "$(sha "$FEED")" "$TARGET")" ]
	[ "$(log_of "$joblog" | grep -v ' feed: ')" = "iq_daily 2026-11-23 start
iq_daily 2026-11-23 query ok
iq_daily 2026-11-23 shape ok
iq_daily 2026-11-23 deliver ok (sent)
iq_daily 2026-11-23 backup-$NAME ok (sent)
iq_daily 2026-11-23 archive ok
iq_daily 2026-11-23 done" ]
	# no key, no signature in the log
	[[ "$joblog" != *"$SK"* ]]
	! grep -q "$SK" "$SCHEDFEED_STATE_DIR/iq_daily/log"
}

@test "iq_daily: a re-run uploads nothing (the ledger says so), --force uploads again (resent)" {
	iq_setup
	run sh "$IQ" 2026-11-23
	[ "$status" -eq 0 ]
	[ "$(puts)" -eq 1 ]
	run sh "$IQ" 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" backup-$NAME $NAME already delivered to $TARGET, nothing sent"* ]]
	[ "$(puts)" -eq 1 ]
	# the first run's HEAD (--skip-same) only: the ledger answered
	[ "$(heads)" -eq 1 ]
	run sh "$IQ" --force 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" backup-$NAME ok (resent)"* ]]
	[ "$(puts)" -eq 2 ]
	backed_up "$KEY" "$FEED"
	[ "$(ledger_rows | awk -F '\t' -v t="$TARGET" '$4 == t { print $5 }' | tr '\n' ' ')" = "sent resent " ]
}

@test "iq_daily: killed between the upload and the ledger's outcome, the re-run asks the store (HEAD) and uploads nothing" {
	iq_setup
	# s3-put, then the job's whole process group killed: the object is
	# stored, the ledger holds the intent and no outcome
	mkdir -p "$W/wrap"
	cat >"$W/wrap/s3-put" <<-EOF
	#!/bin/sh
	"$(command -v s3-put)" "\$@"
	kill -KILL 0
	EOF
	chmod +x "$W/wrap/s3-put"
	PATH="$W/wrap:$PATH" run setsid -w sh "$IQ" 2026-11-23
	echo "$output"
	[ "$status" -eq 137 ]
	[ "$(puts)" -eq 1 ]
	backed_up "$KEY" "$FEED"
	[ "$(ledger_intents | awk -F '\t' -v t="$TARGET" '$4 == t' | wc -l)" -eq 1 ]
	[ -z "$(ledger_rows | awk -F '\t' -v t="$TARGET" '$4 == t')" ]
	[ "$(heads)" -eq 1 ]
	run --separate-stderr sh "$IQ" 2026-11-23
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *" backup-$NAME $NAME: an earlier run left no outcome; the delivery asks $TARGET first"* ]]
	[[ "$stderr" == *"the store holds this file already"* ]]
	[[ "$stderr" == *" backup-$NAME ok (sent)"* ]]
	[ "$(puts)" -eq 1 ]
	[ "$(heads)" -eq 2 ]
	# each delivery once in the ledger, the feed archived, nothing staged
	[ "$(ledger_rows | cut -f4,5)" = "$(printf '%s\tsent\n%s\tsent' "$IQ_DEST" "$TARGET")" ]
	cmp "$FEED" "$SCHEDFEED_STATE_DIR/iq_daily/archive/2026/11/23/$NAME"
	[ -z "$(ls -A "$SCHEDFEED_STATE_DIR/iq_daily/staging")" ]
}

@test "iq_daily: the store down is 75, the backup step failed and the delivery recorded; the re-run sends nothing twice" {
	iq_setup
	S3_ENDPOINT_URL=http://127.0.0.1:$(free_port) run --separate-stderr sh "$IQ" 2026-11-23
	echo "$stderr"
	[ "$status" -eq 75 ]
	[[ "$stderr" == *" deliver ok (sent)"* ]]
	[[ "$stderr" == *" backup-$NAME failed (status 75)"* ]]
	grep -q " backup-$NAME failed (status 75)$" "$SCHEDFEED_STATE_DIR/iq_daily/log"
	cmp "$FEED" "$IQ_DEST/$NAME"
	[ "$(ledger_rows | cut -f4,5)" = "$(printf '%s\tsent' "$IQ_DEST")" ]
	[ "$(sdk list backup "$P/")" = "" ]
	# the store back: the delivery is not made again, the backup is
	run --separate-stderr sh "$IQ" 2026-11-23
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *" deliver skipped (done in an earlier run)"* ]]
	[[ "$stderr" == *" backup-$NAME ok (sent)"* ]]
	[ "$(puts)" -eq 1 ]
	backed_up "$KEY" "$FEED"
	[ "$(ledger_rows | cut -f4,5)" = "$(printf '%s\tsent\n%s\tsent' "$IQ_DEST" "$TARGET")" ]
	[ "$(ls -A "$IQ_DEST")" = "$NAME" ]
}

@test "iq_daily: SCHEDFEED_BACKUP_URL that is not s3://BUCKET is 78 before anything is sent" {
	iq_setup
	SCHEDFEED_BACKUP_URL=https://backup.example/x run --separate-stderr sh "$IQ" 2026-11-23
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"iq_daily: SCHEDFEED_BACKUP_URL: 'https://backup.example/x' is not s3://BUCKET[/PREFIX]"* ]]
	[[ "$stderr" == *" config failed (status 78)"* ]]
	[ -z "$(ls -A "$IQ_DEST")" ]
	[ "$(puts)" -eq 0 ]
	# unset: no backup step at all
	unset SCHEDFEED_BACKUP_URL
	run --separate-stderr sh "$IQ" 2026-11-23
	[ "$status" -eq 0 ]
	[[ "$stderr" != *backup-* ]]
	[ "$(puts)" -eq 0 ]
}

@test "eod_data: its four delivered files backed up under PREFIX/eod_data/2026/11/24/" {
	local expected=$FIX/mtp/2026-11-24 f
	export MTP_SITE="Example Drive-Through" DATA_DIR="$W/data"
	mtp_printer_setup
	export PRINT_SFTP_DIR=$REMOTE/dropbox
	mtp_mail_setup health
	export HEALTH_NETWORK_MAIL_TO=covid@health.example
	export MTP_BOX_DAILY_PARENT=MTP/Daily MTP_BOX_TRANSPORT_FOLDER=MTP/Transportation
	box_start
	mtp_db_start
	run --separate-stderr sh "$EOD" 2026-11-24
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(sdk list backup "$P/")" = "$P/eod_data/2026/11/24/patient_appointments.csv
$P/eod_data/2026/11/24/patient_appointments_master.csv
$P/eod_data/2026/11/24/patients_form_print.csv
$P/eod_data/2026/11/24/patients_form_print_2026-11-24.csv" ]
	for f in patient_appointments.csv patient_appointments_master.csv patients_form_print.csv; do
		backed_up "$P/eod_data/2026/11/24/$f" "$expected/$f"
		[[ "$stderr" == *" eod_data 2026-11-24 backup-$f ok (sent)"* ]]
	done
	backed_up "$P/eod_data/2026/11/24/patients_form_print_2026-11-24.csv" \
	    "$expected/patients_form_print.csv"
	[ "$(puts)" -eq 4 ]
	# the seven deliveries and the four backups, each once
	LEDGER=$SCHEDFEED_STATE_DIR/eod_data/ledger
	[ "$(ledger_rows | awk -F '\t' '$5 == "sent"' | wc -l)" -eq 11 ]
	[ "$(ledger_rows | grep -c "	s3://backup/$P/eod_data/2026/11/24/	sent$")" -eq 4 ]
	run sh "$EOD" 2026-11-24
	[ "$status" -eq 0 ]
	[ "$(puts)" -eq 4 ]
}

@test "bz_outbound: the hour's file backed up under PREFIX/bz_outbound/2026/11/23/ (the hour's day)" {
	local name=business_requisition_2026-11-23_0900.csv
	export DATA_DIR="$W/data"
	mtp_mail_setup city
	export BZ_CITY_MAIL_TO=liaisons@city.example
	export MTP_BOX_TO_CITY_FOLDER=MTP/ToCity MTP_BOX_FROM_CITY_FOLDER=MTP/FromCity
	box_start
	box_ctl put MTP/ToCity/README.txt /dev/null > /dev/null
	mtp_db_start
	run --separate-stderr sh "$BZ" 2026-11-23T09
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(sdk list backup "$P/")" = "$P/bz_outbound/2026/11/23/$name" ]
	backed_up "$P/bz_outbound/2026/11/23/$name" "$FIX/mtp/$name"
	[[ "$stderr" == *" bz_outbound 2026-11-23T09 backup-$name ok (sent)"* ]]
	# filed in sent/ after the backup, as before
	[ ! -e "$DATA_DIR/business/$name" ]
	[ "$(puts)" -eq 1 ]
}
