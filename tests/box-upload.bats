#!/usr/bin/env bats
# box-upload against tests/box-emulator on 127.0.0.1 (HTTPS, test CA),
# started per test with an empty Box.

load common
load tls
load box

box_suite
bats_require_minimum_version 1.5.0

# receipt_for FILE FOLDER_ID FILE_ID: the row box-upload prints
receipt_for() {
	printf '%s,%s,%s,box://folder/%s/%s#%s\n' "$1" "$(stat -c %s "$1")" \
		"$(sha256_of "$1")" "$2" "${1##*/}" "$3"
}

# file_id PATH: the Box id of the file at PATH
file_id() {
	box_ctl files | awk -F'\t' -v p="$1" '$1 == p { print $2 }'
}

@test "uploads new files into a folder by id, one receipt row each" {
	daily=$(box_ctl put Daily/ /dev/null)
	printf 'id,name\n1,A\n' >"$W/master.csv"
	printf 'x\n' >"$W/print 1.csv"
	run box-upload --folder "$daily" "$W/master.csv" "$W/print 1.csv"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "file,bytes,sha256,target" ]
	[ "${lines[1]}" = "$(receipt_for "$W/master.csv" "$daily" \
		"$(file_id Daily/master.csv)" )" ]
	# A space in the name is percent-encoded in the target.
	[ "${lines[2]}" = "$W/print 1.csv,2,$(sha256_of "$W/print 1.csv"),box://folder/$daily/print%201.csv#$(file_id 'Daily/print 1.csv')" ]
	[ "${#lines[@]}" -eq 3 ]
	run box_ctl files
	[ "${lines[0]}" = "$(printf 'Daily/master.csv\t%s\t1\t%s\t%s' \
		"$(file_id Daily/master.csv)" "$(sha1_of "$W/master.csv")" \
		"$(stat -c %s "$W/master.csv")")" ]
	[ "${#lines[@]}" -eq 2 ]
	box_ctl content "$(file_id Daily/master.csv)" | cmp - "$W/master.csv"
	# Pre-flight on the API host, the content on the upload host.
	box_ctl log | grep -qx 'OPTIONS /2.0/files/content 200'
	box_ctl log | grep -qx 'POST /api/2.0/files/content 201'
}

@test "an existing name (any case) gets a new version of the same file" {
	old=$(box_put Daily/Master.csv 'old contents
')
	daily=$(box_ctl folders | awk -F'\t' '$1 == "Daily" { print $2 }')
	printf 'new contents\n' >"$W/master.csv"
	run box-upload --folder "$daily" "$W/master.csv"
	[ "$status" -eq 0 ]
	# The Box name is kept, and the receipt says it.
	[ "${lines[1]}" = "$W/master.csv,13,$(sha256_of "$W/master.csv"),box://folder/$daily/Master.csv#$old" ]
	run box_ctl files
	[ "$output" = "$(printf 'Daily/Master.csv\t%s\t2\t%s\t13' "$old" \
		"$(sha1_of "$W/master.csv")")" ]
	box_ctl log | grep -qx 'OPTIONS /2.0/files/content 409'
	box_ctl log | grep -qx "POST /api/2.0/files/$old/content 200"
}

@test "--folder-path finds folders whatever their case; --mkdir makes the rest" {
	box_put MTP/tocity/ '' >/dev/null
	printf 'r\n' >"$W/req.csv"
	run box-upload --folder-path mtp/ToCity/05-07-2020 --mkdir "$W/req.csv"
	[ "$status" -eq 0 ]
	run box_ctl folders
	[ "${#lines[@]}" -eq 3 ]
	[ "$(echo "${lines[2]}" | cut -f1)" = MTP/tocity/05-07-2020 ]
	day=$(echo "${lines[2]}" | cut -f2)
	run box_ctl files
	[ "$(echo "$output" | cut -f1,3)" = "$(printf 'MTP/tocity/05-07-2020/req.csv\t1')" ]
	# Walking again finds what --mkdir made: no second folder.
	run box-upload --folder-path MTP/ToCity/05-07-2020/ --mkdir "$W/req.csv"
	[ "$status" -eq 0 ]
	[ "$(box_ctl folders | wc -l)" -eq 3 ]
	[ "$(box_ctl files | cut -f3)" = 2 ]
	[ "$(echo "${lines[1]}" | cut -d, -f4)" = "box://folder/$day/req.csv#$(file_id MTP/tocity/05-07-2020/req.csv)" ]
}

@test "a folder made by someone else at the same moment (409) is used" {
	box_put Daily/ '' >/dev/null
	daily=$(box_ctl folders | cut -f2)
	# The listing misses it (a page served before the other's create).
	box_ctl fault '{"method":"GET","path":"^/2.0/folders/0/items$","action":"hide"}'
	printf 'x\n' >"$W/a.csv"
	run box-upload --folder-path Daily --mkdir "$W/a.csv"
	[ "$status" -eq 0 ]
	[ "$(box_ctl folders | wc -l)" -eq 1 ]
	box_ctl log | grep -qx 'POST /2.0/folders 409'
	[ "$(echo "${lines[1]}" | cut -d, -f4 | cut -d/ -f4)" = "$daily" ]
}

@test "--folder-path without --mkdir: a missing folder is 66, nothing sent" {
	box_put Daily/ '' >/dev/null
	printf 'x\n' >"$W/a.csv"
	run box-upload --folder-path Daily/Sub "$W/a.csv"
	[ "$status" -eq 66 ]
	[ "${lines[0]}" = "file,bytes,sha256,target" ]
	[ "${lines[1]}" = "box-upload: folder path Daily/Sub: no such folder on Box (--mkdir creates it)" ]
	[ -z "$(box_ctl files)" ]
	[ "$(box_ctl folders | wc -l)" -eq 1 ]
}

@test "--folder with an id Box does not know: 66 once, nothing sent" {
	printf 'x\n' >"$W/a.csv"
	printf 'y\n' >"$W/b.csv"
	run box-upload --folder 999 "$W/a.csv" "$W/b.csv"
	[ "$status" -eq 66 ]
	[ "${lines[1]}" = "box-upload: folder 999: Box answered HTTP 404 not_found: Not Found" ]
	[ "${#lines[@]}" -eq 2 ]
	[ -z "$(box_ctl files)" ]
}

@test "a file over 50 MB goes up in an upload session: parts of Box's size, each with its SHA-1" {
	daily=$(box_ctl put Daily/ /dev/null)
	truncate -s 51M "$W/big.pdf"
	printf 'head' | dd of="$W/big.pdf" conv=notrunc status=none
	printf 'tail' | dd of="$W/big.pdf" bs=1 seek=$((51 * 1048576 - 4)) conv=notrunc status=none
	# Box may answer the commit with 202 while it assembles the parts.
	box_ctl fault '{"method":"POST","path":"/commit$","status":202,"retry_after":0}'
	run box-upload --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 0 ]
	id=$(file_id Daily/big.pdf)
	[ "${lines[1]}" = "$(receipt_for "$W/big.pdf" "$daily" "$id")" ]
	[ "$(box_ctl files)" = "$(printf 'Daily/big.pdf\t%s\t1\t%s\t%s' "$id" \
		"$(sha1_of "$W/big.pdf")" $((51 * 1048576)))" ]
	# 8 MiB parts: 6 whole and one of 3 MiB, then the commit.
	[ "$(box_ctl log | grep -c '^PUT /api/2.0/files/upload_sessions/[0-9A-F]* 200$')" -eq 7 ]
	box_ctl log | grep -q '^POST /api/2.0/files/upload_sessions 201$'
	[ "$(box_ctl log | grep -c '/commit ')" -eq 2 ]
	box_ctl log | grep -q '/commit 202$'
	box_ctl log | grep -q '/commit 201$'
	! box_ctl log | grep -q 'files/content 201'
	[ "$(box_ctl sessions)" -eq 0 ]
}

@test "a new version over 50 MB uses the file's own upload session" {
	old=$(box_put Daily/big.pdf 'small old version')
	daily=$(box_ctl folders | cut -f2)
	truncate -s 49M "$W/big.pdf"
	printf 'v2' >>"$W/big.pdf"
	truncate -s 51M "$W/big.pdf"
	run box-upload --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_for "$W/big.pdf" "$daily" "$old")" ]
	[ "$(box_ctl files | cut -f2-4)" = "$(printf '%s\t2\t%s' "$old" \
		"$(sha1_of "$W/big.pdf")")" ]
	box_ctl log | grep -q "^POST /api/2.0/files/$old/upload_sessions 201$"
}

@test "a refused part aborts the session on Box" {
	daily=$(box_ctl put Daily/ /dev/null)
	truncate -s 51M "$W/big.pdf"
	box_ctl fault '{"method":"PUT","path":"upload_sessions","status":416}'
	run box-upload --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 69 ]
	[ "${lines[1]}" = "box-upload: $W/big.pdf: Box answered HTTP 416 error: Injected by the test" ]
	[ "$(box_ctl sessions)" -eq 0 ]
	box_ctl log | grep -q '^DELETE /api/2.0/files/upload_sessions/[0-9A-F]* 204$'
	[ -z "$(box_ctl files)" ]
}

@test "429 is retried after Retry-After; 5xx too" {
	daily=$(box_ctl put Daily/ /dev/null)
	printf 'x\n' >"$W/a.csv"
	box_ctl fault '{"method":"POST","path":"^/api/2.0/files/content$","status":429,"retry_after":1}'
	box_ctl fault '{"method":"OPTIONS","path":"files/content","status":503,"retry_after":0}'
	start=$SECONDS
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -ge 1 ]
	[[ "${lines[1]}" == "box-upload: $W/a.csv: HTTP 503 unavailable: Injected by the test; retry 1 of 5" ]]
	[[ "${lines[2]}" == "box-upload: $W/a.csv: HTTP 429 rate_limit_exceeded: Injected by the test; retry 1 of 5" ]]
	[ "${lines[3]}" = "$(receipt_for "$W/a.csv" "$daily" "$(file_id Daily/a.csv)")" ]
	box_ctl log | grep -qx 'POST /api/2.0/files/content 429'
	[ "$(box_ctl files | cut -f3)" = 1 ]
}

@test "retries run out: 75, and nothing is on Box" {
	daily=$(box_ctl put Daily/ /dev/null)
	printf 'x\n' >"$W/a.csv"
	box_ctl fault '{"path":"^/api/2.0/files/content$","status":500,"retry_after":0,"count":99}'
	run box-upload --retries 2 --folder "$daily" "$W/a.csv"
	[ "$status" -eq 75 ]
	[[ "$output" == *"box-upload: $W/a.csv: HTTP 500 internal_server_error: Injected by the test; giving up after 3 tries"* ]]
	[ "$(box_ctl log | grep -c 'files/content 500')" -eq 3 ]
	[ -z "$(box_ctl files)" ]
}

@test "a dropped connection is retried" {
	daily=$(box_ctl put Daily/ /dev/null)
	printf 'x\n' >"$W/a.csv"
	box_ctl fault '{"path":"^/api/2.0/files/content$","action":"drop"}'
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_for "$W/a.csv" "$daily" "$(file_id Daily/a.csv)")" ]
	box_ctl log | grep -qx 'POST /api/2.0/files/content dropped'
	box_ctl log | grep -qx 'POST /api/2.0/files/content 201'
	[ "$(box_ctl files | cut -f3)" = 1 ]
}

@test "the token is reused across files, and renewed once when Box says 401" {
	daily=$(box_ctl put Daily/ /dev/null)
	printf 'a\n' >"$W/a.csv"
	printf 'b\n' >"$W/b.csv"
	printf 'c\n' >"$W/c.csv"
	run box-upload --folder "$daily" "$W/a.csv" "$W/b.csv"
	[ "$status" -eq 0 ]
	[ "$(box_ctl tokens)" -eq 1 ]
	# The token expires before the third file's upload.
	box_ctl fault '{"path":"^/api/2.0/files/content$","action":"expire"}'
	run box-upload --folder "$daily" "$W/c.csv"
	[ "$status" -eq 0 ]
	[ "$(box_ctl tokens)" -eq 3 ]
	box_ctl log | grep -qx 'POST /api/2.0/files/content 401'
	[ "$(box_ctl files | wc -l)" -eq 3 ]
}

@test "Box's SHA-1 differs from the local file's: 74, no receipt, and nothing unverified left under the name" {
	daily=$(box_ctl put Daily/ /dev/null)
	printf 'x\n' >"$W/a.csv"
	box_ctl fault '{"path":"^/api/2.0/files/content$","action":"corrupt"}'
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 74 ]
	[ "${lines[1]}" = "box-upload: $W/a.csv: Box reports SHA-1 $(box_ctl files | cut -f4), the local file has $(sha1_of "$W/a.csv")" ]
	[ "${lines[2]}" = "box-upload: $W/a.csv: the unverified upload was moved to Box's trash" ]
	[ "${#lines[@]}" -eq 3 ]
	# a new file: in the trash, not in the folder
	[ "$(box_ctl files | cut -f1,6)" = "Daily/a.csv	trashed" ]
	box_ctl log | grep -qx 'DELETE /2.0/files/[0-9]* 204'
}

@test "a new version whose SHA-1 differs: 74, and the version before is current again" {
	id=$(box_put Daily/a.csv 'yesterday')
	daily=$(box_ctl folders | awk '$1 == "Daily" { print $2 }')
	printf 'today\n' >"$W/a.csv"
	box_ctl fault '{"path":"^/api/2.0/files/[0-9]+/content$","action":"corrupt"}'
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 74 ]
	[[ "${lines[1]}" == "box-upload: $W/a.csv: Box reports SHA-1 "*", the local file has $(sha1_of "$W/a.csv")" ]]
	[ "${lines[2]}" = "box-upload: $W/a.csv: the version before is current again on Box" ]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(box_ctl content "$id")" = yesterday ]
	[ "$(box_ctl files | cut -f1)" = Daily/a.csv ]
}

@test "a folder in the way of a file name: 73; the other files still go" {
	daily=$(box_ctl put Daily/ /dev/null)
	box_ctl put Daily/a.csv/ /dev/null >/dev/null
	printf 'x\n' >"$W/a.csv"
	printf 'y\n' >"$W/b.csv"
	run box-upload --folder "$daily" "$W/a.csv" "$W/b.csv" "$W/missing.csv"
	[ "$status" -eq 73 ]
	[ "${lines[1]}" = "box-upload: $W/a.csv: a folder of that name is in the way" ]
	[ "${lines[2]}" = "$(receipt_for "$W/b.csv" "$daily" "$(file_id Daily/b.csv)")" ]
	[ "${lines[3]}" = "box-upload: $W/missing.csv: No such file or directory" ]
	[ "$(box_ctl files | cut -f1)" = Daily/b.csv ]
}

@test "the wrong private key, kid or client secret: 77 and Box's reason" {
	daily=$(box_ctl put Daily/ /dev/null)
	printf 'x\n' >"$W/a.csv"
	box_config_with privateKey="$BOX_FIXED/other.p8"
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "${lines[1]}" == "box-upload: Box token: the app's credentials were refused (HTTP 400 invalid_grant: Signature verification error."* ]]
	box_config_with publicKeyID=kid0000
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 77 ]
	[ "${lines[1]}" = "box-upload: Box token: the app's credentials were refused (HTTP 400 invalid_grant: Please check the 'kid' header)" ]
	box_config_with clientSecret=wrong
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 77 ]
	[ "${lines[1]}" = "box-upload: Box token: the app's credentials were refused (HTTP 400 invalid_client: The client credentials are invalid)" ]
	box_config_with enterpriseID=7654321
	run box-upload --folder "$daily" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "${lines[1]}" == *"Please check the 'sub' claim."* ]]
	[ -z "$(box_ctl files)" ]
	[ "$(box_ctl tokens)" -eq 0 ]
}

@test "a bad configuration is 78: missing, not JSON, a field missing, wrong passphrase" {
	printf 'x\n' >"$W/a.csv"
	BOX_CONFIG_FILE=$W/nope.json run box-upload --folder 0 "$W/a.csv"
	[ "$status" -eq 78 ]
	[[ "$output" == "box-upload: $W/nope.json: cannot read the secret file named by BOX_CONFIG_FILE: No such file"* ]]
	unset BOX_CONFIG_FILE
	run box-upload --folder 0 "$W/a.csv"
	[ "$status" -eq 78 ]
	[[ "$output" == *"BOX_CONFIG"* ]]
	printf '{"boxAppSettings": ' >"$W/bad.json"
	BOX_CONFIG_FILE=$W/bad.json run box-upload --folder 0 "$W/a.csv"
	[ "$status" -eq 78 ]
	[ "$output" = "box-upload: BOX_CONFIG: not a Box app configuration (JSON line 1)" ]
	box_config_with drop=enterpriseID
	run box-upload --folder 0 "$W/a.csv"
	[ "$status" -eq 78 ]
	[ "$output" = "box-upload: BOX_CONFIG: enterpriseID is missing" ]
	box_config_with passphrase=wrong
	run box-upload --folder 0 "$W/a.csv"
	[ "$status" -eq 78 ]
	[ "${lines[1]}" = "box-upload: BOX_CONFIG: boxAppSettings.appAuth.privateKey: cannot read the private key (wrong passphrase, or not a PEM key)" ]
	[ "$(box_ctl tokens)" -eq 0 ]
	# The passphrase never reaches a message.
	[[ "$output" != *"$BOX_APP_PASSPHRASE"* ]]
}

@test "TLS: a server certificate the CA did not sign is refused (77)" {
	printf 'x\n' >"$W/a.csv"
	run box-upload --cacert "$BOX_FIXED/ca/other-ca.pem" --folder 0 "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "${lines[1]}" == "box-upload: Box token: SSL certificate problem"* ]]
	[ "$(box_ctl tokens)" -eq 0 ]
	BOX_API_URL=http://127.0.0.1:$BOX_PORT run box-upload --folder 0 "$W/a.csv"
	[ "$status" -eq 78 ]
	[ "$output" = "box-upload: http://127.0.0.1:$BOX_PORT: BOX_API_URL must be an https:// URL" ]
}

@test "TLS: a forged certificate (the CA's name, a wrong signature) is 77 at once, never retried" {
	make_forged_cert "$BOX_FIXED/ca"
	box_stop
	box_start --cert "$BOX_FIXED/ca/forged-server.pem" \
		--key "$BOX_FIXED/ca/forged-server.key"
	printf 'x\n' >"$W/a.csv"
	run box-upload --retries 3 --folder 0 "$W/a.csv"
	[ "$status" -eq 77 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = "box-upload: Box token: TLS certificate verification failed: certificate signature failure" ]
	[[ "$output" != *retry* ]]
}

@test "TLS: a server that hangs up in the handshake is retried (75), not taken for a refused certificate" {
	port=$(free_port)
	"$PY" -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5); print("up", flush=True)
while True:
    c, _ = s.accept(); c.recv(100); c.close()' "$port" >"$W/hangup" &
	hangup=$!
	while [ ! -s "$W/hangup" ]; do sleep 0.05; done
	printf 'x\n' >"$W/a.csv"
	BOX_API_URL=https://127.0.0.1:$port run box-upload --retries 1 --folder 0 "$W/a.csv"
	kill "$hangup"
	[ "$status" -eq 75 ]
	[[ "$output" == *"retry 1 of 1"* ]]
	[[ "$output" != *"certificate verification failed"* ]]
}

@test "usage errors and secrets on the command line: 64" {
	run box-upload "$W/a.csv"
	[ "$status" -eq 64 ]
	[[ "${lines[0]}" == "usage: box-upload (--folder id | --folder-path a/b/c [--mkdir])" ]]
	run box-upload --folder 1 --folder-path A "$W/a.csv"
	[ "$status" -eq 64 ]
	run box-upload --folder 1
	[ "$status" -eq 64 ]
	run box-upload --folder 1 --mkdir "$W/a.csv"
	[ "$status" -eq 64 ]
	[ "$output" = "box-upload: --mkdir goes with --folder-path" ]
	run box-upload --folder Daily "$W/a.csv"
	[ "$status" -eq 64 ]
	[ "$output" = "box-upload: Daily: a Box folder id is a number" ]
	run box-upload --passphrase hunter2 --folder 1 "$W/a.csv"
	[ "$status" -eq 64 ]
	[ "$output" = "box-upload: --passphrase: secrets are not accepted on the command line; set BOX_CONFIG or BOX_CONFIG_FILE" ]
	run box-upload --client-secret=s --folder 1 "$W/a.csv"
	[ "$status" -eq 64 ]
	[ -z "$(box_ctl log)" ]
}

@test "the emulator refuses assertions a real Box would: bad signature, kid, aud, sub type, exp, reused jti" {
	run "$PY" - <<'PYEOF'
import base64, json, os, ssl, subprocess, time, urllib.parse, urllib.request
f = os.environ["BOX_FIXED"]
ctx = ssl.create_default_context(cafile=os.environ["BOX_CA_FILE"])
def b64(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")
def token(claims, kid=os.environ["BOX_KEY_ID"], key=f + "/app.key", flip=False):
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                         input=(head + "." + body).encode(),
                         capture_output=True, check=True).stdout
    if flip:
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    form = urllib.parse.urlencode({
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": head + "." + body + "." + b64(sig),
        "client_id": os.environ["BOX_CLIENT_ID"],
        "client_secret": os.environ["BOX_CLIENT_SECRET"]}).encode()
    try:
        r = urllib.request.urlopen(os.environ["BOX_API_URL"] + "/oauth2/token",
                                   form, context=ctx)
        return "%d %s" % (r.status, json.load(r)["token_type"])
    except urllib.error.HTTPError as e:
        return "%d %s" % (e.code, json.load(e)["error_description"])
def claims(**kw):
    c = {"iss": os.environ["BOX_CLIENT_ID"], "sub": os.environ["BOX_ENTERPRISE_ID"],
         "box_sub_type": "enterprise", "aud": "https://api.box.com/oauth2/token",
         "jti": os.urandom(16).hex(), "exp": int(time.time()) + 30}
    c.update(kw)
    return c
print(token(claims()))
print(token(claims(), flip=True).split(".")[0])
print(token(claims(), kid="other"))
print(token(claims(aud="https://example.org/oauth2/token")))
print(token(claims(box_sub_type="user")))
print(token(claims(exp=int(time.time()) - 5)))
print(token(claims(exp=int(time.time()) + 120)))
c = claims()
print(token(c))
print(token(c))
PYEOF
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "200 bearer" ]
	[ "${lines[1]}" = "400 Signature verification error" ]
	[ "${lines[2]}" = "400 Please check the 'kid' header" ]
	[ "${lines[3]}" = "400 Please check the 'aud' claim." ]
	[ "${lines[4]}" = "400 Please check the 'box_sub_type' claim." ]
	[ "${lines[5]}" = "400 Please check the 'exp' claim." ]
	[ "${lines[6]}" = "400 Please check the 'exp' claim." ]
	[ "${lines[7]}" = "200 bearer" ]
	[ "${lines[8]}" = "400 Please check the 'jti' claim. A unique 'jti' value is required." ]
	[ "$(box_ctl tokens)" -eq 2 ]
}

# big_file PATH: 51 MiB (seven parts of the emulator's 8 MiB), not all zero
big_file() {
	truncate -s 51M "$1"
	printf 'head' | dd of="$1" conv=notrunc status=none
	printf 'tail' | dd of="$1" bs=1 seek=$((51 * 1048576 - 4)) conv=notrunc status=none
}

part_puts() {
	box_ctl log | grep -c '^PUT /api/2.0/files/upload_sessions/[0-9A-F]* 200$' || true
}

@test "--resume: a session cut off half-way (75) is kept; the next run sends only the parts Box lacks" {
	daily=$(box_ctl put Daily/ /dev/null)
	big_file "$W/big.pdf"
	box_ctl fault '{"method":"PUT","path":"upload_sessions","status":503,"retry_after":0,"after":2}'
	run --separate-stderr box-upload --retries 0 --resume "$W/resume" --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 75 ]
	[[ "$stderr" == *"box-upload: $W/big.pdf: the upload session is kept for the next run (--resume)" ]]
	[ "$(part_puts)" -eq 2 ]
	[ "$(box_ctl sessions)" -eq 1 ]
	[ -z "$(box_ctl files)" ]
	# kept 0600, and named by a hash: no file name on disk
	kept=$(ls "$W/resume")
	[[ "$kept" == box-session-*.json ]]
	[ "$(file_mode "$W/resume/$kept")" = 600 ]
	! grep -q big.pdf "$W/resume/$kept"
	run --separate-stderr box-upload --resume "$W/resume" --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 0 ]
	[ "$stderr" = "box-upload: $W/big.pdf: went on with Box's upload session of an earlier run: 2 of 7 parts were already there" ]
	id=$(file_id Daily/big.pdf)
	[ "${lines[1]}" = "$(receipt_for "$W/big.pdf" "$daily" "$id")" ]
	# two parts the first time, the other five the second, one session
	[ "$(part_puts)" -eq 7 ]
	[ "$(box_ctl log | grep -c '^POST /api/2.0/files/upload_sessions 201$')" -eq 1 ]
	box_ctl log | grep -q '^GET /api/2.0/files/upload_sessions/[0-9A-F]*/parts 200$'
	[ "$(box_ctl files | cut -f3-4)" = "$(printf '1\t%s' "$(sha1_of "$W/big.pdf")")" ]
	[ "$(box_ctl sessions)" -eq 0 ]
	[ -z "$(ls "$W/resume")" ]
}

@test "--resume after kill -9 mid-upload: the next run goes on from the parts Box has" {
	daily=$(box_ctl put Daily/ /dev/null)
	big_file "$W/big.pdf"
	box_ctl fault '{"method":"PUT","path":"upload_sessions","action":"stall","seconds":20,"after":3}'
	box-upload --resume "$W/resume" --folder "$daily" "$W/big.pdf" >"$W/out" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		[ "$(part_puts)" -ge 3 ] && break
		sleep 0.1
	done
	[ "$(part_puts)" -eq 3 ]
	sleep 0.5
	kill -9 "$pid"
	wait "$pid" || true
	[ -z "$(box_ctl files)" ]
	[ "$(box_ctl sessions)" -eq 1 ]
	run --separate-stderr box-upload --resume "$W/resume" --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 0 ]
	[ "$stderr" = "box-upload: $W/big.pdf: went on with Box's upload session of an earlier run: 3 of 7 parts were already there" ]
	[ "$(box_ctl files | cut -f3-4)" = "$(printf '1\t%s' "$(sha1_of "$W/big.pdf")")" ]
	[ "$(box_ctl log | grep -c '^POST /api/2.0/files/upload_sessions 201$')" -eq 1 ]
	[ -z "$(ls "$W/resume")" ]
}

@test "--resume: a session Box no longer has starts afresh; a refused part still aborts" {
	daily=$(box_ctl put Daily/ /dev/null)
	big_file "$W/big.pdf"
	box_ctl fault '{"method":"PUT","path":"upload_sessions","status":503,"retry_after":0,"after":1}'
	run box-upload --retries 0 --resume "$W/resume" --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 75 ]
	kept=$W/resume/$(ls "$W/resume")
	# the session expired on Box meanwhile
	sed -i 's/upload_sessions\/[0-9A-F]*/upload_sessions\/0DEAD0/g' "$kept"
	run --separate-stderr box-upload --resume "$W/resume" --folder "$daily" "$W/big.pdf"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(box_ctl log | grep -c '^POST /api/2.0/files/upload_sessions 201$')" -eq 2 ]
	[ "$(box_ctl files | cut -f4)" = "$(sha1_of "$W/big.pdf")" ]
	# a failure not worth a retry: aborted on Box, nothing kept
	big_file "$W/other.pdf"
	printf 'v' >>"$W/other.pdf"
	box_ctl fault '{"method":"PUT","path":"upload_sessions","status":416}'
	BOX_RESUME_DIR=$W/resume run box-upload --folder "$daily" "$W/other.pdf"
	[ "$status" -eq 69 ]
	[ -z "$(ls "$W/resume")" ]
	box_ctl log | grep -q '^DELETE /api/2.0/files/upload_sessions/[0-9A-F]* 204$'
}
