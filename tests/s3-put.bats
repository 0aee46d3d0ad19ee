#!/usr/bin/env bats
# s3-put against a real S3 server that verifies SigV4: Ceph's RADOS Gateway
# (../shared/rgw/rgw.sh, Debian's radosgw), every object read back by the
# AWS SDK for JavaScript; faults a store cannot be asked for come from
# tests/s3-proxy.py between the two.

load common
load tls
load s3proxy
bats_require_minimum_version 1.5.0

RGW_SH="${SCHEDFEED_RGW:-$TOP/../shared/rgw/rgw.sh}"
SDK="$TOP/tests/node/s3-sdk.mjs"
AK=AKIAIOSFODNN7EXAMPLE
SK='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

setup_file() {
	[ -x "$RGW_SH" ] || [ -f "$RGW_SH" ] || return 0
	command -v radosgw >/dev/null || return 0
	[ -d "$TOP/tests/node/node_modules/@aws-sdk/client-s3" ] || return 0
	local d=$BATS_FILE_TMPDIR/rgw out
	make_test_ca "$BATS_FILE_TMPDIR/ca"
	mkdir -p "$d/tls"
	cp "$BATS_FILE_TMPDIR/ca/server.pem" "$d/tls/server.crt"
	cp "$BATS_FILE_TMPDIR/ca/server.key" "$d/tls/server.key"
	out=$(RGW_AK=$AK RGW_SK=$SK RGW_BUCKET=backup RGW_TLS=1 \
	    RGW_EXTRA_CONF="rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = testkey-1=$(openssl rand -base64 32)
rgw crypt require ssl = false" bash "$RGW_SH" start "$d" 2>"$d.log") || {
		cat "$d.log" >&3
		return 1
	}
	RGW_PORT=$(echo "$out" | awk '$1 == "port" { print $2 }')
	RGW_SSLPORT=$(echo "$out" | awk '$1 == "sslport" { print $2 }')
	: >"$BATS_FILE_TMPDIR/control"
	s3_proxy_start "$RGW_PORT" "$BATS_FILE_TMPDIR/control"
	export RGW_PORT RGW_SSLPORT
}

teardown_file() {
	s3_proxy_stop
	[ -d "$BATS_FILE_TMPDIR/rgw" ] && bash "$RGW_SH" stop "$BATS_FILE_TMPDIR/rgw"
	return 0
}

setup() {
	common_setup
	[ -f "$RGW_SH" ] || skip "no RGW script at $RGW_SH (../shared/rgw)"
	command -v radosgw >/dev/null || skip "radosgw is not installed (make deps)"
	[ -d "$TOP/tests/node/node_modules/@aws-sdk/client-s3" ] ||
	    skip "the AWS SDK is not installed in tests/node (make deps)"
	export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=us-east-1
	unset AWS_SECRET_ACCESS_KEY_FILE AWS_SESSION_TOKEN AWS_CA_BUNDLE S3_SSE_KMS_KEY_ID
	# plain HTTP through the fault relay, unless a test says otherwise
	export S3_ENDPOINT_URL=http://127.0.0.1:$PROXY_PORT
	: >"$BATS_FILE_TMPDIR/control"
	: >"$BATS_FILE_TMPDIR/capture"
	PREFIX="t$BATS_TEST_NUMBER"
}

# sdk VERB ARGS...: the AWS SDK, straight to the store (not the relay)
sdk() {
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK NODE_NO_WARNINGS=1 \
	    NODE_EXTRA_CA_CERTS="$BATS_FILE_TMPDIR/ca/ca.pem" \
	    S3_ENDPOINT_URL=http://127.0.0.1:$RGW_PORT node "$SDK" "$@"
}

# fault ACTION REGEX: what the relay does to matching requests
fault() {
	echo "$1 $2" >>"$BATS_FILE_TMPDIR/control"
}

# receipt FILE KEY: the row s3-put must print for FILE stored as KEY
receipt() {
	echo "$1,$(stat -c %s "$1"),$(sha256sum "$1" | cut -d' ' -f1),s3://backup/$2"
}

# never_leaks: stderr holds neither the secret nor a signature
never_leaks() {
	[[ "$stderr" != *"$SK"* ]]
	[[ "$stderr" != *Signature=* ]]
	[[ "$stderr" != *StringToSign* ]]
}

@test "TLS with the test CA: stored, the receipt, the AWS SDK reads back the same bytes" {
	printf 'mrn,dob\nM1,1950-01-02\n' >"$W/master.csv"
	head -c 300000 /dev/urandom >"$W/form.pdf"
	chmod 600 "$W/master.csv"
	S3_ENDPOINT_URL=https://localhost:$RGW_SSLPORT \
	    AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/ca/ca.pem" \
	    run --separate-stderr s3-put "s3://backup/$PREFIX/2026/11/24" \
	    "$W/master.csv" "$W/form.pdf"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "file,bytes,sha256,target
$(receipt "$W/master.csv" "$PREFIX/2026/11/24/master.csv")
$(receipt "$W/form.pdf" "$PREFIX/2026/11/24/form.pdf")" ]
	for f in master.csv form.pdf; do
		sdk get backup "$PREFIX/2026/11/24/$f" "$W/back"
		cmp "$W/back" "$W/$f"
	done
	[ "$(sdk list backup "$PREFIX/")" = "$PREFIX/2026/11/24/form.pdf
$PREFIX/2026/11/24/master.csv" ]
}

@test "encryption at rest is asked for on every PUT and every multipart start (AES256)" {
	printf 'a\n' >"$W/small.csv"
	head -c $((6 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
	run --separate-stderr s3-put --part-size 5M "s3://backup/$PREFIX/" \
	    "$W/small.csv" "$W/big.bin"
	[ "$status" -eq 0 ]
	cap=$BATS_FILE_TMPDIR/capture
	# the single PUT and the multipart start carry it; the parts may not
	# (S3 refuses SSE headers on UploadPart)
	[ "$(grep -c '^PUT /backup/'"$PREFIX"'/small.csv HTTP' "$cap")" -eq 1 ]
	[ "$(grep -c '^POST /backup/'"$PREFIX"'/big.bin?uploads= HTTP' "$cap")" -eq 1 ]
	[ "$(grep -ci '^x-amz-server-side-encryption: AES256' "$cap")" -eq 2 ]
	# Content-MD5 on the PUT and on each of the two parts
	[ "$(grep -ci '^content-md5:' "$cap")" -eq 3 ]
	sdk get backup "$PREFIX/big.bin" "$W/back"
	cmp "$W/back" "$W/big.bin"
}

@test "SSE-KMS: refused at once on a libcurl that signs its key id out of order (78), else stored encrypted" {
	printf 'a\n' >"$W/a.csv"
	S3_SSE_KMS_KEY_ID=testkey-1 run --separate-stderr s3-put "s3://backup/$PREFIX/" "$W/a.csv"
	curl_version=$(curl-config --vernum 2>/dev/null || echo 075800)
	if [ "$((16#$curl_version))" -lt "$((16#080a00))" ]; then
		[ "$status" -eq 78 ]
		[[ "$stderr" == "s3-put: S3_SSE_KMS_KEY_ID needs libcurl 8.10 or later: libcurl 7."*" signs the key id header out of order, and the store would refuse every request" ]]
		[ "$output" = "" ]
		[ "$(sdk list backup "$PREFIX/")" = "" ]
	else
		[ "$status" -eq 0 ]
		sdk get backup "$PREFIX/a.csv" "$W/back" >"$W/head"
		grep -q 'sse aws:kms' "$W/head"
		cmp "$W/back" "$W/a.csv"
	fi
}

@test "multipart of 120 MB: parts in parallel, read back equal, nothing left in progress, memory flat" {
	head -c $((120 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
	/usr/bin/time -f '%M' -o "$W/rss" s3-put --streams 3 "s3://backup/$PREFIX/" \
	    "$W/big.bin" >"$W/receipt" 2>"$W/err"
	[ "$(cat "$W/err")" = "" ]
	[ "$(cat "$W/receipt")" = "file,bytes,sha256,target
$(receipt "$W/big.bin" "$PREFIX/big.bin")" ]
	# two parts of 100 MiB and 20 MiB
	[ "$(grep -c 'partNumber=' "$BATS_FILE_TMPDIR/capture")" -eq 2 ]
	[ "$(sdk uploads backup)" = "uploads 0" ]
	sdk get backup "$PREFIX/big.bin" "$W/back"
	cmp "$W/back" "$W/big.bin"
	rm -f "$W/back" "$W/big.bin"
	# no part is held in memory
	[ "$(cat "$W/rss")" -lt 40000 ]
}

@test "the wrong secret and an unknown key are 77, said plainly, nothing stored, no secret in the message" {
	printf 'a\n' >"$W/a.csv"
	AWS_SECRET_ACCESS_KEY=not-the-secret run --separate-stderr s3-put "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 77 ]
	[ "$stderr" = "s3-put: $W/a.csv: the store answered 403 SignatureDoesNotMatch: the secret access key is wrong" ]
	[ "$output" = "file,bytes,sha256,target" ]
	[[ "$stderr" != *not-the-secret* ]]
	AWS_ACCESS_KEY_ID=AKIAUNKNOWN0000000 run --separate-stderr s3-put "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 77 ]
	[ "$stderr" = "s3-put: $W/a.csv: the store answered 403 InvalidAccessKeyId: the store does not know the access key id" ]
	never_leaks
	[ "$(sdk list backup "$PREFIX/")" = "" ]
	# the secret from a file, the Docker secrets convention
	printf '%s\n' "$SK" >"$W/sk"
	unset AWS_SECRET_ACCESS_KEY
	AWS_SECRET_ACCESS_KEY_FILE="$W/sk" run --separate-stderr s3-put "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 0 ]
	[ "$(sdk list backup "$PREFIX/")" = "$PREFIX/a.csv" ]
}

@test "a certificate from another CA, or a private CA not named, is 77 at once, never retried" {
	printf 'a\n' >"$W/a.csv"
	S3_ENDPOINT_URL=https://localhost:$RGW_SSLPORT \
	    AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/ca/other-ca.pem" \
	    run --separate-stderr s3-put --retries 5 "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "$stderr" == "s3-put: $W/a.csv: the store's TLS certificate failed verification ("* ]]
	S3_ENDPOINT_URL=https://localhost:$RGW_SSLPORT \
	    run --separate-stderr s3-put --retries 5 "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "$stderr" == "s3-put: $W/a.csv: the store's TLS certificate failed verification ("* ]]
	[ "$(sdk list backup "$PREFIX/")" = "" ]
}

@test "a forged certificate (the test CA's name, a wrong signature) is 77 at once, one handshake, nothing stored" {
	make_forged_cert "$BATS_FILE_TMPDIR/ca"
	port=$(free_port)
	# a TLS server with the forged certificate, counting the handshakes
	# tried on it: s3-put must stop at the first
	"$PY" -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    with open(sys.argv[4], "a") as log:
        log.write("connection\n")
    try:
        ctx.wrap_socket(conn, server_side=True).close()
    except (ssl.SSLError, OSError):
        conn.close()
' "$port" "$BATS_FILE_TMPDIR/ca/forged-server.pem" \
	    "$BATS_FILE_TMPDIR/ca/forged-server.key" "$W/handshakes" \
	    >"$W/forged.out" 2>&1 &
	forged=$!
	for _ in $(seq 50); do
		grep -q ready "$W/forged.out" && break
		sleep 0.1
	done
	printf 'a\n' >"$W/a.csv"
	S3_ENDPOINT_URL=https://localhost:$port \
	    AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/ca/ca.pem" \
	    run --separate-stderr s3-put --retries 5 "s3://backup/$PREFIX/" "$W/a.csv"
	kill "$forged"
	[ "$status" -eq 77 ]
	[ "$output" = "file,bytes,sha256,target" ]	# no row: nothing stored
	[ "$stderr" = "s3-put: $W/a.csv: the store's TLS certificate failed verification (certificate signature failure)" ]
	[ "$(wc -l <"$W/handshakes")" -eq 1 ]
	never_leaks
	[ "$(sdk list backup "$PREFIX/")" = "" ]
}

@test "--no-clobber on an existing key: the store's 412 is 73 and the object is unchanged" {
	printf 'first\n' >"$W/a.csv"
	run s3-put --no-clobber "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 0 ]
	printf 'second\n' >"$W/a.csv"
	run --separate-stderr s3-put --no-clobber "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 73 ]
	[ "$stderr" = "s3-put: $W/a.csv: the store answered 412 PreconditionFailed: the object exists and --no-clobber is set; it is unchanged" ]
	[ "$output" = "file,bytes,sha256,target" ]
	sdk get backup "$PREFIX/a.csv" "$W/back"
	[ "$(cat "$W/back")" = first ]
	grep -qi '^if-none-match: \*' "$BATS_FILE_TMPDIR/capture"
	# without it the object is replaced
	run s3-put "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 0 ]
	sdk get backup "$PREFIX/a.csv" "$W/back"
	[ "$(cat "$W/back")" = second ]
}

@test "bytes changed on the way (a PUT, a part): 65, nothing stored under the name" {
	head -c 100000 /dev/urandom >"$W/a.bin"
	fault corrupt '^PUT /backup/'
	run --separate-stderr s3-put "s3://backup/$PREFIX/" "$W/a.bin"
	[ "$status" -eq 65 ]
	[[ "$stderr" == "s3-put: $W/a.bin: the store answered 400 "*": the bytes the store got are not the bytes sent" ]]
	[ "$output" = "file,bytes,sha256,target" ]
	head -c $((6 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
	run --separate-stderr s3-put --part-size 5M "s3://backup/$PREFIX/" "$W/big.bin"
	[ "$status" -eq 65 ]
	[[ "$stderr" == "s3-put: $W/big.bin part "[12]": the store answered 400 "*": the bytes the store got are not the bytes sent" ]]
	[ "$(sdk list backup "$PREFIX/")" = "" ]
	[ "$(sdk uploads backup)" = "uploads 0" ]
}

@test "the store stops mid-part: 75 after the retries, the multipart upload aborted, nothing left" {
	head -c $((11 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
	fault drop 'partNumber=2&'
	run --separate-stderr s3-put --part-size 5M --streams 2 --retries 1 "s3://backup/$PREFIX/" "$W/big.bin"
	[ "$status" -eq 75 ]
	[[ "$stderr" == "s3-put: $W/big.bin part 2: connection lost or timed out after 2 tries ("* ]]
	[ "$output" = "file,bytes,sha256,target" ]
	grep -q '^DELETE /backup/'"$PREFIX"'/big.bin?uploadId=' "$BATS_FILE_TMPDIR/capture"
	[ "$(sdk uploads backup)" = "uploads 0" ]
	[ "$(sdk list backup "$PREFIX/")" = "" ]
}

@test "503 SlowDown is retried with backoff, then 75; a missing bucket is 69" {
	printf 'a\n' >"$W/a.csv"
	fault fail503 '^PUT '
	run --separate-stderr s3-put --retries 2 "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 75 ]
	[ "$stderr" = "s3-put: $W/a.csv: the store answered 503 SlowDown after 3 tries" ]
	[ "$(grep -c '^PUT ' "$BATS_FILE_TMPDIR/capture")" -eq 3 ]
	: >"$BATS_FILE_TMPDIR/control"
	run --separate-stderr s3-put "s3://no-such-bucket/$PREFIX/" "$W/a.csv" "$W/a.csv"
	[ "$status" -eq 69 ]
	[ "$stderr" = "s3-put: $W/a.csv: the store answered 404 NoSuchBucket: no such bucket
s3-put: 1 file not sent" ]
}

@test "usage and configuration: secrets never on the command line, bad URLs, missing settings and files" {
	printf 'a\n' >"$W/a.csv"
	run --separate-stderr s3-put --secret-access-key=abc "s3://backup/x/" "$W/a.csv"
	[ "$status" -eq 64 ]
	[[ "$stderr" == *AWS_SECRET_ACCESS_KEY* ]]
	[[ "$stderr" != *abc* ]]
	run --separate-stderr s3-put "https://backup/x/" "$W/a.csv"
	[ "$status" -eq 64 ]
	[ "$stderr" = "s3-put: https://backup/x/: not an s3://bucket/prefix/ URL" ]
	run --separate-stderr s3-put "s3://Bad_Bucket/x/" "$W/a.csv"
	[ "$status" -eq 64 ]
	run --separate-stderr s3-put --part-size 1M "s3://backup/x/" "$W/a.csv"
	[ "$status" -eq 64 ]
	[[ "$stderr" == "s3-put: --part-size: want a size from 5242880 to 5368709120 bytes"* ]]
	run --separate-stderr s3-put "s3://backup/x/"
	[ "$status" -eq 64 ]
	AWS_ACCESS_KEY_ID= run --separate-stderr s3-put "s3://backup/x/" "$W/a.csv"
	[ "$status" -eq 78 ]
	unset AWS_SECRET_ACCESS_KEY
	run --separate-stderr s3-put "s3://backup/x/" "$W/a.csv"
	[ "$status" -eq 78 ]
	export AWS_SECRET_ACCESS_KEY=$SK
	run --separate-stderr s3-put "s3://backup/$PREFIX/" "$W/missing.csv" "$W/a.csv"
	[ "$status" -eq 66 ]
	[ "$stderr" = "s3-put: $W/missing.csv: No such file or directory" ]
	# the others still go
	[ "$output" = "file,bytes,sha256,target
$(receipt "$W/a.csv" "$PREFIX/a.csv")" ]
}

@test "--skip-same: an object that is this file (size, the SHA-256 stored with it) is not sent again" {
	printf 'day one\n' >"$W/a.csv"
	head -c $((6 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
	run s3-put --part-size 5M "s3://backup/$PREFIX/" "$W/a.csv" "$W/big.bin"
	[ "$status" -eq 0 ]
	: >"$BATS_FILE_TMPDIR/capture"
	run --separate-stderr s3-put --skip-same --part-size 5M "s3://backup/$PREFIX/" "$W/a.csv" "$W/big.bin"
	[ "$status" -eq 0 ]
	[ "$stderr" = "s3-put: $W/a.csv: the store holds this file already (8 bytes, the same SHA-256): not sent
s3-put: $W/big.bin: the store holds this file already ($((6 * 1024 * 1024)) bytes, the same SHA-256): not sent" ]
	# the receipts all the same: the files are delivered
	[ "$output" = "file,bytes,sha256,target
$(receipt "$W/a.csv" "$PREFIX/a.csv")
$(receipt "$W/big.bin" "$PREFIX/big.bin")" ]
	! grep -q '^PUT \|^POST ' "$BATS_FILE_TMPDIR/capture"
	[ "$(grep -c '^HEAD ' "$BATS_FILE_TMPDIR/capture")" -eq 2 ]
	# other content under the name is replaced
	printf 'day one, corrected\n' >"$W/a.csv"
	run --separate-stderr s3-put --skip-same "s3://backup/$PREFIX/" "$W/a.csv"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	sdk get backup "$PREFIX/a.csv" "$W/back"
	cmp "$W/back" "$W/a.csv"
}
