#!/usr/bin/env bats
# smtp-send against a real aiosmtpd server on 127.0.0.1 (tests/smtpd.py)
# with STARTTLS, implicit TLS, AUTH PLAIN and LOGIN and a throw-away CA.
# Each test checks the exit status, the message, and what the server
# received (parsed with Python's email package), or that it got nothing.

load common
load tls

bats_require_minimum_version 1.5.0

FIX="$TOP/tests/fixtures/smtp-send"
MASTER="$FIX/patient_appointments_master.csv"

setup_file() {
	export CA="$BATS_FILE_TMPDIR/ca"
	make_test_ca "$CA"
}

setup() {
	common_setup
	cd "$W"
	MAILDIR="$W/mail"
	mkdir -p "$MAILDIR"
	SMTPD_PID=
	export SMTPD_USER=feed SMTPD_PASSWORD='pa ss:wörd'
	unset SMTP_PASSWORD SMTP_PASSWORD_FILE
}

teardown() {
	stop_smtpd
}

# start_smtpd [smtpd.py options]: a server on a free port; waits for "ready"
start_smtpd() {
	SMTPD_PORT=$(free_port)
	"$PY" "$TOP/tests/smtpd.py" --port "$SMTPD_PORT" --maildir "$MAILDIR" \
	    "$@" >"$W/smtpd.out" 2>"$W/smtpd.err" &
	SMTPD_PID=$!
	local i
	for i in $(seq 100); do
		grep -q '^ready' "$W/smtpd.out" && return 0
		kill -0 "$SMTPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$W/smtpd.err" >&2
	return 1
}

# start_tls_smtpd [options]: the same with the test CA's certificate
start_tls_smtpd() {
	start_smtpd --cert "$CA/server.pem" --key "$CA/server.key" "$@"
}

stop_smtpd() {
	[ -n "$SMTPD_PID" ] || return 0
	kill "$SMTPD_PID" 2>/dev/null || true
	wait "$SMTPD_PID" 2>/dev/null || true
	SMTPD_PID=
}

# send ARGS...: smtp-send to the test server as the test user
send() {
	smtp-send --server "smtp://127.0.0.1:$SMTPD_PORT" \
	    --from feed@schedfeed.example --cacert "$CA/ca.pem" "$@"
}

# summary N: what message N says, one fact a line
summary() {
	"$PY" "$FIX/eml-summary.py" "$MAILDIR/$1.eml"
}

# said LINE: message 1, parsed, says exactly LINE
said() {
	summary 1 > "$W/summary"
	grep -qxF -- "$1" "$W/summary" || { cat "$W/summary" >&2; return 1; }
}

received_nothing() {
	[ -z "$(ls -A "$MAILDIR")" ]
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# message_id N: the Message-ID header of message N
message_id() {
	summary "$1" | sed -n 's/^message-id: //p'
}

@test "mails the master file over STARTTLS with AUTH PLAIN; receipt names it" {
	start_tls_smtpd
	cp "$MASTER" master.csv
	"$PY" -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 40)' \
	    > scan.pdf
	printf 'x\0y' > blob.bin
	export SMTP_PASSWORD='pa ss:wörd'
	run --separate-stderr send --user feed --to hd@health.example \
	    --to epi@health.example --cc ops@schedfeed.example \
	    --subject 'Patient Files for Covid19 - Test Site - 2020-05-07' \
	    --body-file "$FIX/body.txt" master.csv scan.pdf blob.bin
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	id=$(message_id 1)
	[[ "$id" =~ ^\<[0-9a-f]{32}@schedfeed\.example\>$ ]]
	target="mailto:hd@health.example,epi@health.example?cc=ops@schedfeed.example&message-id=%3C${id:1:-1}%3E"
	[ "$output" = "file,bytes,sha256,target
master.csv,$(stat -c %s master.csv),$(sha master.csv),\"$target\"
scan.pdf,10240,$(sha scan.pdf),\"$target\"
blob.bin,3,$(sha blob.bin),\"$target\"" ]
	[ "$(summary 1)" = "subject: Patient Files for Covid19 - Test Site - 2020-05-07
from: feed@schedfeed.example
to: hd@health.example, epi@health.example
cc: ops@schedfeed.example
message-id: $id
envelope-from: feed@schedfeed.example
envelope-to: hd@health.example,epi@health.example,ops@schedfeed.example
login: feed
tls: True
body: Patient Files for Covid19 - Test Site - 2020-05-07||The master patient file is attached.|
part: text/csv; name=master.csv; cte=base64; bytes=$(stat -c %s master.csv); sha256=$(sha master.csv)
part: application/pdf; name=scan.pdf; cte=base64; bytes=10240; sha256=$(sha scan.pdf)
part: application/octet-stream; name=blob.bin; cte=base64; bytes=3; sha256=$(sha blob.bin)" ]
	# A Date header, and CRLF line ends only (no bare LF on the wire).
	grep -q '^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] 20[0-9][0-9] ' \
	    "$MAILDIR/1.eml"
	! "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(0 if d.replace(b"\r\n",b"").count(b"\n") else 1)' \
	    "$MAILDIR/1.eml"
}

@test "AUTH LOGIN when the server offers only LOGIN; password from SMTP_PASSWORD_FILE" {
	start_tls_smtpd --auth-exclude PLAIN
	printf 'pa ss:wörd\n' > "$W/pw"
	export SMTP_PASSWORD_FILE="$W/pw"
	run --separate-stderr send --user feed --to hd@health.example \
	    --subject 'login' "$MASTER" <<<'see attached'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[1]%%,*}" = "$MASTER" ]
	said 'login: feed'
	said "part: text/csv; name=patient_appointments_master.csv; cte=base64; bytes=$(stat -c %s "$MASTER"); sha256=$(sha "$MASTER")"
	said 'body: see attached|'
}

@test "a non-ASCII subject and body are encoded (RFC 2047, quoted-printable) and arrive exact" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd
	subject='Résultats – Núñez: 検査 ✓ and a long tail of words so that it needs more than one encoded word'
	run --separate-stderr send --to hd@health.example --subject "$subject" \
	    <<<'Grüße aus der Teststation'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	said "subject: $subject"
	said 'body: Grüße aus der Teststation|'
	# Headers on the wire are 7-bit; the Subject's lines stay within 78.
	sed '/^\r$/q' "$MAILDIR/1.eml" > headers
	! LC_ALL=C grep -q '[^ -~[:space:]]' headers
	sed -n '/^Subject:/,/^[^ ]/{/^Subject:/p;/^ /p}' headers > subject
	[ "$(wc -l < subject)" -eq 3 ]
	[ "$(awk '{ sub(/\r$/, ""); if (length > 78) n++ } END { print n + 0 }' subject)" = 0 ]
	grep -q '^Subject: =?UTF-8?B?' headers
	grep -q '^Content-Transfer-Encoding: quoted-printable' "$MAILDIR/1.eml"
}

@test "many recipients: the To header is folded, and each one gets the message" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd
	args=() want=()
	for i in 1 2 3 4 5 6; do
		args+=(--to "epidemiology.team.$i@health-department.example")
		want+=("epidemiology.team.$i@health-department.example")
	done
	run --separate-stderr send "${args[@]}" --subject x <<<'x'
	[ "$status" -eq 0 ]
	list=$(IFS=,; echo "${want[*]}")
	said "envelope-to: $list"
	said "to: ${list//,/, }"
	sed '/^\r$/q' "$MAILDIR/1.eml" | sed -n '/^To:/,/^[^ ]/{/^To:/p;/^ /p}' > to
	[ "$(wc -l < to)" -eq 6 ]
	[ "$(awk '{ sub(/\r$/, ""); if (length > 78) n++ } END { print n + 0 }' to)" = 0 ]
}

@test "an ASCII subject that looks like an encoded word is encoded, not decoded" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd
	run --separate-stderr send --to hd@health.example \
	    --subject '=?UTF-8?B?SGk=?= literal' <<<'x'
	[ "$status" -eq 0 ]
	said 'subject: =?UTF-8?B?SGk=?= literal'
}

@test "an attachment with a non-ASCII name is named by RFC 2231" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd
	printf 'a,b\n' > 'résumé "1".csv'
	run --separate-stderr send --to hd@health.example --subject x \
	    'résumé "1".csv' <<<'x'
	[ "$status" -eq 0 ]
	said "part: text/csv; name=résumé \"1\".csv; cte=base64; bytes=4; sha256=$(sha 'résumé "1".csv')"
}

@test "no attachment: the receipt row is the body, from stdin as -" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd
	run --separate-stderr send --to a@health.example --subject 'no files' \
	    <<<'nothing attached'
	[ "$status" -eq 0 ]
	id=$(message_id 1)
	[ "$output" = "file,bytes,sha256,target
-,17,$(printf 'nothing attached\n' | sha256sum | cut -d' ' -f1),mailto:a@health.example?message-id=%3C${id:1:-1}%3E" ]
	said 'body: nothing attached|'
}

@test "smtps:// (implicit TLS) delivers" {
	start_tls_smtpd --tls implicit
	export SMTP_PASSWORD='pa ss:wörd'
	run --separate-stderr smtp-send --server "smtps://127.0.0.1:$SMTPD_PORT" \
	    --from feed@schedfeed.example --cacert "$CA/ca.pem" --user feed \
	    --to hd@health.example --subject implicit "$MASTER" </dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 2 ]
	said 'tls: True'
	said 'login: feed'
	said 'subject: implicit'
}

@test "--tls none sends in plain text only when asked" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_smtpd --tls none
	run --separate-stderr send --tls none --to hd@health.example \
	    --subject plain "$MASTER" <<<'x'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	said 'tls: False'
}

@test "wrong password: 77, nothing delivered" {
	start_tls_smtpd
	export SMTP_PASSWORD=wrong
	run --separate-stderr send --user feed --to hd@health.example \
	    --subject x "$MASTER" <<<'x'
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: authentication rejected" ]
	received_nothing
}

@test "no --user where the server requires AUTH: 77, nothing delivered" {
	start_tls_smtpd
	run --separate-stderr send --to hd@health.example --subject x <<<'x'
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: the server requires authentication (--user) (530)" ]
	received_nothing
}

@test "a server without STARTTLS is refused: 77, nothing sent, not even the password" {
	start_smtpd --tls none
	export SMTP_PASSWORD='pa ss:wörd'
	run --separate-stderr send --user feed --to hd@health.example \
	    --subject x "$MASTER" <<<'x'
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: the server does not offer STARTTLS; nothing was sent" ]
	received_nothing
}

@test "a certificate from another CA is refused: 77, nothing delivered" {
	start_smtpd --cert "$CA/other-server.pem" --key "$CA/other-server.key"
	export SMTP_PASSWORD='pa ss:wörd'
	run --separate-stderr send --user feed --to hd@health.example \
	    --subject x "$MASTER" <<<'x'
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[[ "$stderr" == "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: TLS certificate verification failed: "* ]]
	received_nothing
}

@test "a forged certificate (the CA's name, a wrong signature) is 77, never retried" {
	make_forged_cert "$CA"
	start_smtpd --cert "$CA/forged-server.pem" --key "$CA/forged-server.key"
	export SMTP_PASSWORD='pa ss:wörd'
	run --separate-stderr send --retries 3 --user feed --to hd@health.example \
	    --subject x "$MASTER" <<<'x'
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: TLS certificate verification failed: certificate signature failure" ]
	received_nothing
}

@test "implicit TLS with a certificate from another CA is refused too" {
	start_smtpd --tls implicit --cert "$CA/other-server.pem" \
	    --key "$CA/other-server.key"
	run --separate-stderr smtp-send --server "smtps://127.0.0.1:$SMTPD_PORT" \
	    --from feed@schedfeed.example --cacert "$CA/ca.pem" \
	    --to hd@health.example --subject x <<<'x'
	[ "$status" -eq 77 ]
	[[ "$stderr" == *"TLS certificate verification failed"* ]]
	received_nothing
}

@test "a rejected recipient: 65, named, and nobody gets the message" {
	start_tls_smtpd --reject gone@health.example
	export SMTP_PASSWORD='pa ss:wörd'
	run --separate-stderr send --user feed --to hd@health.example \
	    --to gone@health.example --subject x "$MASTER" <<<'x'
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: recipient gone@health.example rejected (550); nothing was sent" ]
	received_nothing
}

@test "a deferred recipient (450): 75, not retried, nobody gets the message" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd --defer busy@health.example
	run --separate-stderr send --to hd@health.example \
	    --cc busy@health.example --subject x "$MASTER" <<<'x'
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: recipient busy@health.example deferred (450); nothing was sent" ]
	received_nothing
}

@test "the message rejected at the end of DATA: 65, no receipt" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd --data-fail reject
	run --separate-stderr send --to hd@health.example --subject x \
	    "$MASTER" <<<'x'
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: message rejected (554)" ]
	received_nothing
}

@test "no reply after the message was sent: 75, no receipt, and no second copy" {
	unset SMTPD_USER SMTPD_PASSWORD
	start_tls_smtpd --data-fail hang
	run --separate-stderr send --to hd@health.example --subject x \
	    --timeout 1 --retries 3 "$MASTER" <<<'x'
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[[ "$stderr" == "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: the connection failed after the message was sent and before the server confirmed it ("*"); it may have been delivered" ]]
	# The server holds the one copy it got; smtp-send did not try again.
	[ "$(ls "$MAILDIR")" = "1.eml
1.json" ]
}

@test "connection refused: retried with backoff, then 75" {
	port=$(free_port)
	run --separate-stderr smtp-send --server "smtp://127.0.0.1:$port" \
	    --from feed@schedfeed.example --to hd@health.example --subject x \
	    --retries 1 "$MASTER" <<<'x'
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$port: cannot connect (refused or unreachable); attempt 1 of 2, next in 1s
smtp-send: smtp://127.0.0.1:$port: cannot connect (refused or unreachable); gave up after 2 attempts" ]
}

@test "a server that never answers: timed out, 75" {
	start_smtpd --silent
	run --separate-stderr send --to hd@health.example --subject x \
	    --timeout 1 --retries 0 "$MASTER" <<<'x'
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: smtp://127.0.0.1:$SMTPD_PORT: timed out" ]
}

@test "a password is never taken from the command line" {
	run --separate-stderr smtp-send --password hunter2 \
	    --server smtp://127.0.0.1:1 --from a@b.example --to c@d.example \
	    --subject x
	[ "$status" -eq 64 ]
	[ "$output" = "" ]
	[[ "$stderr" == "smtp-send: --password: secrets are not accepted on the command line; set SMTP_PASSWORD or SMTP_PASSWORD_FILE" ]]
	run --separate-stderr smtp-send --server smtp://feed:hunter2@127.0.0.1:1 \
	    --from a@b.example --to c@d.example --subject x
	[ "$status" -eq 64 ]
	[[ "$stderr" == "smtp-send: --server: secrets are not accepted"* ]]
	[[ "$stderr" != *hunter2* ]]
}

@test "--user without a password is a configuration error; --tls none with --user is refused" {
	run --separate-stderr smtp-send --server smtp://127.0.0.1:1 --user feed \
	    --from a@b.example --to c@d.example --subject x
	[ "$status" -eq 78 ]
	[ "$stderr" = "smtp-send: no secret: set SMTP_PASSWORD or SMTP_PASSWORD_FILE" ]
	SMTP_PASSWORD=x run --separate-stderr smtp-send --server smtp://127.0.0.1:1 \
	    --tls none --user feed --from a@b.example --to c@d.example --subject x
	[ "$status" -eq 64 ]
	[ "$stderr" = "smtp-send: --user with --tls none would send the password in the clear" ]
}

@test "header injection through an address or the subject is refused" {
	run --separate-stderr smtp-send --server smtp://127.0.0.1:1 \
	    --from a@b.example --to $'c@d.example\r\nBcc: x@evil.example' \
	    --subject x
	[ "$status" -eq 64 ]
	[ "$stderr" = "smtp-send: --to: not a plain address (local@domain)" ]
	run --separate-stderr smtp-send --server smtp://127.0.0.1:1 \
	    --from a@b.example --to c@d.example \
	    --subject $'x\r\nBcc: x@evil.example' </dev/null
	[ "$status" -eq 64 ]
	[ "$stderr" = "smtp-send: --subject: expected one line of UTF-8 text" ]
}

@test "usage errors exit 64" {
	run --separate-stderr smtp-send --from a@b.example --to c@d.example \
	    --subject x
	[ "$status" -eq 64 ]
	[[ "$stderr" == "usage: smtp-send --server"* ]]
	run --separate-stderr smtp-send --server http://127.0.0.1:1 \
	    --from a@b.example --to c@d.example --subject x
	[ "$status" -eq 64 ]
	[ "$stderr" = "smtp-send: --server: the scheme must be smtp or smtps" ]
	run --separate-stderr smtp-send --server smtps://127.0.0.1:1 --tls none \
	    --from a@b.example --to c@d.example --subject x
	[ "$status" -eq 64 ]
	[ "$stderr" = "smtp-send: --tls: smtps:// is TLS from the first byte" ]
	run --separate-stderr smtp-send --server smtp://127.0.0.1:1 --retries x \
	    --from a@b.example --to c@d.example --subject x
	[ "$status" -eq 64 ]
	[ "$stderr" = "smtp-send: --retries: want a whole number from 0 to 10" ]
}

@test "a missing attachment: 66 before anything is sent" {
	start_tls_smtpd
	export SMTP_PASSWORD='pa ss:wörd'
	run --separate-stderr send --user feed --to hd@health.example \
	    --subject x "$MASTER" missing.csv <<<'x'
	[ "$status" -eq 66 ]
	[ "$output" = "" ]
	[ "$stderr" = "smtp-send: missing.csv: No such file or directory" ]
	received_nothing
}

@test "a body that is not UTF-8: 65, nothing sent" {
	start_tls_smtpd
	export SMTP_PASSWORD='pa ss:wörd'
	printf 'caf\351\n' > body.txt
	run --separate-stderr send --user feed --to hd@health.example \
	    --subject x --body-file body.txt
	[ "$status" -eq 65 ]
	[ "$stderr" = "smtp-send: body.txt: the body is not valid UTF-8" ]
	received_nothing
}

@test "pipeline: the master file mailed to the health department, then archived" {
	command -v archive-mv >/dev/null || skip "archive-mv is not built"
	start_tls_smtpd
	export SMTP_PASSWORD='pa ss:wörd'
	cp "$MASTER" patient_appointments_master.csv
	sum=$(sha patient_appointments_master.csv)
	run --separate-stderr bash -c 'printf "Patient Files\n" |
	    smtp-send --server "smtp://127.0.0.1:$1" --from feed@schedfeed.example \
	    --cacert "$2" --user feed --to hd@health.example --subject "Patient Files" \
	    patient_appointments_master.csv |
	    archive-mv --to arch --date 2020-05-07' _ "$SMTPD_PORT" "$CA/ca.pem"
	[ "$status" -eq 0 ]
	[ "$output" = "arch/2020/05/07/patient_appointments_master.csv" ]
	[ ! -e patient_appointments_master.csv ]
	[ "$(sha arch/2020/05/07/patient_appointments_master.csv)" = "$sum" ]
	said "part: text/csv; name=patient_appointments_master.csv; cte=base64; bytes=$(stat -c %s "$MASTER"); sha256=$sum"
}

@test "--message-id: the message carries the caller's id, with or without brackets; a bad one is 64, nothing sent" {
	start_tls_smtpd
	export SMTP_PASSWORD='pa ss:wörd'
	printf 'body\n' > body.txt
	run send --to hd@health.example --user feed --subject s --body-file body.txt \
	    --message-id 'schedfeed.eod_data.2026-11-24.0123abcd@site.example'
	[ "$status" -eq 0 ]
	[ "$(message_id 1)" = "<schedfeed.eod_data.2026-11-24.0123abcd@site.example>" ]
	[[ "${lines[1]}" == *"message-id=%3Cschedfeed.eod_data.2026-11-24.0123abcd@site.example%3E" ]]
	# the same id again: the same message, recognisably
	run send --to hd@health.example --user feed --subject s --body-file body.txt \
	    --message-id '<schedfeed.eod_data.2026-11-24.0123abcd@site.example>'
	[ "$status" -eq 0 ]
	[ "$(message_id 2)" = "$(message_id 1)" ]
	for bad in 'no-at-sign' 'a b@c' '<x@y' 'x@y>' 'x..y@z' $'x@y\r\nBcc: evil@x' '@y' 'x@'; do
		run send --to hd@health.example --user feed --subject s \
		    --body-file body.txt --message-id "$bad"
		[ "$status" -eq 64 ]
		[ "$output" = "smtp-send: --message-id: expected left@right, each a dot-atom (RFC 5322)" ]
	done
	[ "$(ls "$MAILDIR" | grep -c eml)" -eq 2 ]
}
