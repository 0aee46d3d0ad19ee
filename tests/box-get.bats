#!/usr/bin/env bats
# box-get against tests/box-emulator on 127.0.0.1 (HTTPS, test CA),
# started per test with an empty Box.

load common
load tls
load box

bats_require_minimum_version 1.5.0

box_suite

setup() {
	common_setup
	box_start
	mkdir "$W/in"
}

# receipt_of NAME FOLDER_ID FILE_ID: the row for $W/in/NAME
receipt_of() {
	printf '%s,%s,%s,box://folder/%s/%s#%s\n' "$W/in/$1" \
		"$(stat -c %s "$W/in/$1")" "$(sha256_of "$W/in/$1")" "$2" "$1" "$3"
}

# folder_id PATH
folder_id() {
	box_ctl folders | awk -F'\t' -v p="$1" '$1 == p { print $2 }'
}

@test "downloads the folder's files, sorted, one receipt row each; Box keeps them" {
	b=$(box_put FromCity/b.csv 'bb
')
	a=$(box_put FromCity/a.csv 'approved_confirm,hash
Y,abc
')
	box_put FromCity/old/ '' >/dev/null
	from=$(folder_id FromCity)
	run box-get --folder "$from" --to "$W/in"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "file,bytes,sha256,target" ]
	[ "${lines[1]}" = "$(receipt_of a.csv "$from" "$a")" ]
	[ "${lines[2]}" = "$(receipt_of b.csv "$from" "$b")" ]
	[ "${#lines[@]}" -eq 3 ]
	box_ctl content "$a" | cmp - "$W/in/a.csv"
	box_ctl content "$b" | cmp - "$W/in/b.csv"
	[ "$(file_mode "$W/in/a.csv")" = 600 ]
	[ "$(ls -A "$W/in" | tr '\n' ' ')" = "a.csv b.csv " ]
	# Kept on Box without --delete-after; the download followed a 302.
	[ "$(box_ctl files | grep -vc trashed)" -eq 2 ]
	box_ctl log | grep -qx "GET /2.0/files/$a/content 302"
	[ "$(box_ctl log | grep -c '^GET /dl/.* 200$')" -eq 2 ]
}

@test "--folder-path and --pattern: only the matching files, names compared without case" {
	box_put MTP/FromCity/approvals_1.csv '1' >/dev/null
	box_put MTP/FromCity/notes.txt 'n' >/dev/null
	box_put MTP/FromCity/.hidden.csv 'h' >/dev/null
	id=$(box_put MTP/FromCity/approvals_2.csv '2')
	run box-get --folder-path mtp/fromcity --pattern '*.csv' --to "$W/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[2]}" = "$(receipt_of approvals_2.csv "$(folder_id MTP/FromCity)" "$id")" ]
	[ "$(ls -A "$W/in" | tr '\n' ' ')" = "approvals_1.csv approvals_2.csv " ]
}

@test "--delete-after deletes each Box original after its copy is verified and on disk" {
	a=$(box_put FromCity/a.csv 'a')
	b=$(box_put FromCity/b.csv 'b')
	run box-get --folder-path FromCity --to "$W/in" --delete-after
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of a.csv "$(folder_id FromCity)" "$a")" ]
	[ "${lines[2]}" = "$(receipt_of b.csv "$(folder_id FromCity)" "$b")" ]
	[ "$(box_ctl files | cut -f1,6)" = "$(printf 'FromCity/a.csv\ttrashed\nFromCity/b.csv\ttrashed')" ]
	# Each delete comes after that file's download, and names its version.
	run box_ctl log
	[ "$(printf '%s\n' "${lines[@]}" | grep -n "DELETE /2.0/files/$a 204" | cut -d: -f1)" -gt \
		"$(printf '%s\n' "${lines[@]}" | grep -n "GET /2.0/files/$a/content" | cut -d: -f1)" ]
	[ "$(cat "$W/in/a.csv")" = a ]
}

@test "a file changed on Box after it was listed is downloaded but not deleted (75)" {
	a=$(box_put FromCity/a.csv 'a')
	box_ctl fault '{"method":"DELETE","path":"^/2.0/files/","action":"newversion"}'
	run box-get --folder-path FromCity --to "$W/in" --delete-after
	[ "$status" -eq 75 ]
	[ "${lines[1]}" = "box-get: a.csv (file $a): changed on Box since it was listed; the Box file is kept" ]
	[ "${lines[2]}" = "$(receipt_of a.csv "$(folder_id FromCity)" "$a")" ]
	box_ctl log | grep -qx "DELETE /2.0/files/$a 412"
	[ "$(box_ctl files | cut -f1,3,6)" = "$(printf 'FromCity/a.csv\t2')" ]
}

@test "the listing is read page by page" {
	box_stop
	box_start --page-limit 2
	for n in 5 4 3 2 1; do box_put Drop/f$n.csv "$n" >/dev/null; done
	box_put Drop/sub/ '' >/dev/null
	run box-get --folder-path Drop --to "$W/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[ "$(ls "$W/in" | tr '\n' ' ')" = "f1.csv f2.csv f3.csv f4.csv f5.csv " ]
	# Drop holds a folder and 5 files: 3 pages of 2, by marker.
	[ "$(box_ctl log | grep -c "^GET /2.0/folders/$(folder_id Drop)/items 200")" -eq 3 ]
}

@test "Box's SHA-1 does not match what arrived: 74, no local file, the original kept" {
	a=$(box_put FromCity/a.csv 'a')
	b=$(box_put FromCity/b.csv 'b')
	box_ctl tamper "$a"
	run box-get --folder-path FromCity --to "$W/in" --delete-after
	[ "$status" -eq 74 ]
	[ "${lines[1]}" = "box-get: a.csv (file $a): Box reports SHA-1 $(box_ctl files | awk -F'\t' -v id="$a" '$2 == id { print $4 }'), the download has $(printf a | sha1sum | cut -d' ' -f1)" ]
	# The other file goes on.
	[ "${lines[2]}" = "$(receipt_of b.csv "$(folder_id FromCity)" "$b")" ]
	[ "$(ls -A "$W/in")" = b.csv ]
	[ "$(box_ctl files | cut -f1,6)" = "$(printf 'FromCity/a.csv\nFromCity/b.csv\ttrashed')" ]
}

@test "bytes corrupted on the way: 74, no local file, nothing deleted" {
	a=$(box_put FromCity/a.csv 'approved')
	box_ctl fault '{"path":"^/dl/","action":"corrupt"}'
	run box-get --folder-path FromCity --to "$W/in" --delete-after
	[ "$status" -eq 74 ]
	[[ "${lines[1]}" == "box-get: a.csv (file $a): Box reports SHA-1 $(printf approved | sha1sum | cut -d' ' -f1), the download has "* ]]
	[ -z "$(ls -A "$W/in")" ]
	! box_ctl log | grep -q DELETE
}

@test "an existing local file is replaced whole" {
	a=$(box_put FromCity/a.csv 'new')
	printf 'old' >"$W/in/a.csv"
	run box-get --folder-path FromCity --to "$W/in"
	[ "$status" -eq 0 ]
	[ "$(cat "$W/in/a.csv")" = new ]
	[ "$(ls -A "$W/in")" = a.csv ]
}

@test "202 (not ready yet) and 429 are waited for; 401 renews the token once" {
	a=$(box_put FromCity/a.csv 'a')
	box_ctl fault '{"method":"GET","path":"/items$","status":429,"retry_after":1}'
	box_ctl fault '{"method":"GET","path":"/content$","status":202,"retry_after":0}'
	box_ctl fault '{"method":"GET","path":"/content$","action":"expire"}'
	run box-get --folder-path FromCity --to "$W/in"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "box-get: folder 0: HTTP 429 rate_limit_exceeded: Injected by the test; retry 1 of 5" ]
	[ "${lines[2]}" = "$(receipt_of a.csv "$(folder_id FromCity)" "$a")" ]
	box_ctl log | grep -qx "GET /2.0/files/$a/content 202"
	box_ctl log | grep -qx "GET /2.0/files/$a/content 401"
	[ "$(box_ctl tokens)" -eq 2 ]
}

@test "Box unreachable: retried, then 75, nothing written" {
	box_put FromCity/a.csv 'a' >/dev/null
	box_ctl fault '{"path":"/items$","status":503,"retry_after":0,"count":9}'
	run box-get --retries 1 --folder-path FromCity --to "$W/in"
	[ "$status" -eq 75 ]
	[ "${lines[2]}" = "box-get: folder 0: HTTP 503 unavailable: Injected by the test; giving up after 2 tries" ]
	port=$(free_port)
	BOX_API_URL=https://127.0.0.1:$port run box-get --retries 1 --folder 1 --to "$W/in"
	[ "$status" -eq 75 ]
	[[ "${lines[1]}" == "box-get: Box token: Failed to connect to 127.0.0.1 port $port"*"; retry 1 of 1" ]]
	[[ "${lines[2]}" == *"; giving up after 2 tries" ]]
	[ -z "$(ls -A "$W/in")" ]
}

@test "a missing folder is 66; no match is 0, or 66 with --require" {
	box_put FromCity/a.csv 'a' >/dev/null
	run box-get --folder-path FromCity/Sub --to "$W/in"
	[ "$status" -eq 66 ]
	[ "${lines[1]}" = "box-get: folder path FromCity/Sub: no such folder on Box (--mkdir creates it)" ]
	run box-get --folder 999 --to "$W/in"
	[ "$status" -eq 66 ]
	[ "${lines[1]}" = "box-get: folder 999: Box answered HTTP 404 not_found: Not Found" ]
	run box-get --folder-path FromCity --pattern '*.pdf' --to "$W/in"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "box-get: folder $(folder_id FromCity): no file matches *.pdf" ]
	run box-get --require --folder-path FromCity --pattern '*.pdf' --to "$W/in"
	[ "$status" -eq 66 ]
	[ -z "$(ls -A "$W/in")" ]
}

@test "--to must be a directory (73); usage errors and secrets on the command line (64)" {
	run box-get --folder 1 --to "$W/nope"
	[ "$status" -eq 73 ]
	[ "$output" = "box-get: $W/nope: not a directory" ]
	run box-get --folder 1
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "usage: box-get (--folder id | --folder-path a/b/c) [--pattern glob] --to dir" ]
	run box-get --folder 1 --folder-path A --to "$W/in"
	[ "$status" -eq 64 ]
	run box-get --folder 1 --to "$W/in" extra
	[ "$status" -eq 64 ]
	run box-get --token abc --folder 1 --to "$W/in"
	[ "$status" -eq 64 ]
	[ "$output" = "box-get: --token: secrets are not accepted on the command line; set BOX_CONFIG or BOX_CONFIG_FILE" ]
	[ -z "$(box_ctl log)" ]
}

@test "a hostile listing: names with '/', '..' or control characters are refused (65), the others fetched, nothing written outside" {
	box_put FromCity/good.csv 'good' >/dev/null
	e1=$(box_put FromCity/e1.csv 'evil 1')
	e2=$(box_put FromCity/e2.csv 'evil 2')
	e3=$(box_put FromCity/e3.csv 'evil 3')
	mkdir "$W/outside"
	box_ctl rename "$e1" "/../outside/PWNED.csv"
	box_ctl rename "$e2" "$W/outside/ABS.csv"
	box_ctl rename "$e3" $'line\nbreak.csv'
	run --separate-stderr box-get --folder-path FromCity --to "$W/in" --delete-after
	[ "$status" -eq 65 ]
	[ "$output" = "file,bytes,sha256,target
$(receipt_of good.csv "$(box_ctl folders | awk '$1 == "FromCity" { print $2 }')" "$(box_ctl files | awk -F'\t' '$1 == "FromCity/good.csv" { print $2 }')")" ]
	[[ "$stderr" == *"box-get: folder item $e1: Box lists \"/../outside/PWNED.csv\", a path, not a file name ('/'); refused, not downloaded"* ]]
	[[ "$stderr" == *"box-get: folder item $e2: Box lists \"$W/outside/ABS.csv\", a path, not a file name ('/'); refused, not downloaded"* ]]
	[[ "$stderr" == *"box-get: folder item $e3: Box lists \"line\\x0abreak.csv\", a control character inside the name; refused, not downloaded"* ]]
	[ "$(ls -A "$W/in")" = good.csv ]
	[ -z "$(ls -A "$W/outside")" ]
	# The refused files stay on Box: nothing was deleted but good.csv.
	[ "$(box_ctl files | grep -c trashed)" -eq 1 ]
}

@test "a forged certificate (the CA's name, a wrong signature) is 77 at once, never retried" {
	box_put FromCity/a.csv 'a' >/dev/null
	make_forged_cert "$BOX_FIXED/ca"
	box_stop
	box_start --cert "$BOX_FIXED/ca/forged-server.pem" \
		--key "$BOX_FIXED/ca/forged-server.key"
	run box-get --retries 3 --folder-path FromCity --to "$W/in"
	[ "$status" -eq 77 ]
	[[ "$output" == *"box-get: Box token: TLS certificate verification failed: certificate signature failure"* ]]
	[[ "$output" != *retry* ]]
	[ -z "$(ls -A "$W/in")" ]
}

@test "the wrong key is 77; the wrong CA is 77; nothing downloaded or deleted" {
	box_put FromCity/a.csv 'a' >/dev/null
	box_config_with privateKey="$BOX_FIXED/other.p8"
	run box-get --folder-path FromCity --to "$W/in" --delete-after
	[ "$status" -eq 77 ]
	[[ "${lines[1]}" == "box-get: Box token: the app's credentials were refused (HTTP 400 invalid_grant: Signature verification error."* ]]
	box_config_with
	BOX_CA_FILE=$BOX_FIXED/ca/other-ca.pem run box-get --folder-path FromCity --to "$W/in"
	[ "$status" -eq 77 ]
	[[ "${lines[1]}" == "box-get: Box token: SSL certificate problem"* ]]
	[ -z "$(ls -A "$W/in")" ]
	[ "$(box_ctl files | cut -f6)" = "" ]
}

@test "--list: the matching files' names, ids, sizes and SHA-1s, nothing downloaded; no folder is 66" {
	a=$(box_put MTP/Daily/a.csv 'aa
')
	box_put MTP/Daily/b.txt 'b' > /dev/null
	printf 'aa\n' > "$W/a"
	run box-get --folder-path MTP/Daily --pattern '*.csv' --list
	[ "$status" -eq 0 ]
	[ "$output" = "name,id,bytes,sha1
a.csv,$a,3,$(sha1_of "$W/a")" ]
	[ -z "$(ls -A "$W/in")" ]
	# a list and a download are two things
	run box-get --folder-path MTP/Daily --list --to "$W/in"
	[ "$status" -eq 64 ]
	run box-get --folder-path MTP/Nowhere --list
	[ "$status" -eq 66 ]
}

@test "a killed run's temporaries of a name are removed when the name is fetched again, whatever their age" {
	box_put FromCity/a.csv 'a' > /dev/null
	printf 'half' > "$W/in/.a.csv.Xy12Ab"
	printf 'other' > "$W/in/.b.csv.Xy12Ab"
	touch -d '1 minute' "$W/in/.a.csv.Xy12Ab"
	run box-get --folder-path FromCity --to "$W/in"
	[ "$status" -eq 0 ]
	[ "$(ls -A "$W/in" | tr '\n' ' ')" = ".b.csv.Xy12Ab a.csv " ]
}
