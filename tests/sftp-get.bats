#!/usr/bin/env bats
# sftp-get against a real OpenSSH sshd on 127.0.0.1, started per test.

load common
load sftp

bats_require_minimum_version 1.5.0

sftp_suite sfget

setup() {
	common_setup
	sshd_start
	mkdir "$W/in"
}

# remote_file NAME CONTENT: a file in $REMOTE the login owns
remote_file() {
	printf '%s' "$2" >"$REMOTE/$1"
	chown "$SFTP_USER" "$REMOTE/$1"
}

# receipt_of NAME [URL-NAME]: the row for $REMOTE/NAME fetched into $W/in
receipt_of() {
	printf '%s,%s,%s,%s%s/%s\n' "$W/in/$1" "$(stat -c %s "$W/in/$1")" \
		"$(sha256sum <"$W/in/$1" | cut -d' ' -f1)" "$URL" "$REMOTE" "${2:-$1}"
}

@test "downloads the matching files, sorted, one receipt row each" {
	remote_file b.csv 'bb
'
	remote_file a.csv 'a
'
	remote_file notes.txt 'n'
	remote_file .hidden.csv 'h'
	mkdir "$REMOTE/dir.csv"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/*.csv" "$W/in"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "file,bytes,sha256,target" ]
	[ "${lines[1]}" = "$(receipt_of a.csv)" ]
	[ "${lines[2]}" = "$(receipt_of b.csv)" ]
	[ "${#lines[@]}" -eq 3 ]
	cmp "$REMOTE/a.csv" "$W/in/a.csv"
	cmp "$REMOTE/b.csv" "$W/in/b.csv"
	[ "$(file_mode "$W/in/a.csv")" = 600 ]
	[ "$(ls -A "$W/in" | tr '\n' ' ')" = "a.csv b.csv " ]
	[ -e "$REMOTE/a.csv" ]	# kept without --remove
}

@test "sftp-put's hidden temporaries are never downloaded" {
	remote_file feed.csv 'x'
	remote_file .feed.csv.Ab12Cd.part 'partial'
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/*" "$W/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(ls -A "$W/in")" = feed.csv ]
}

@test "--remove deletes each remote file after its local copy is complete" {
	remote_file a.csv 'a'
	remote_file b.csv 'b'
	run sftp-get --remove -i "$SFTP_KEY" "$URL$REMOTE/*.csv" "$W/in"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of a.csv)" ]
	[ "${lines[2]}" = "$(receipt_of b.csv)" ]
	[ "$(cat "$W/in/a.csv")" = a ]
	[ -z "$(ls -A "$REMOTE")" ]
}

@test "--remove without permission to delete: the copy is kept and reported, exit 77" {
	mkdir "$REMOTE/ro"
	printf 'a' >"$REMOTE/ro/a.csv"
	if [ "$(id -u)" -eq 0 ]; then chown root "$REMOTE/ro"; else chmod 555 "$REMOTE/ro"; fi
	run sftp-get --remove -i "$SFTP_KEY" "$URL$REMOTE/ro/a.csv" "$W/in"
	[ "$status" -eq 77 ]
	[[ "$output" == *"$REMOTE/ro/a.csv: downloaded but not removed: permission denied"* ]]
	[[ "$output" == *"$W/in/a.csv,1,"* ]]
	[ "$(cat "$W/in/a.csv")" = a ]
	[ -e "$REMOTE/ro/a.csv" ]
}

@test "no match: exit 0 with a note; --require makes it 66" {
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/*.csv" "$W/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *"sftp-get: $SFTP_USER@127.0.0.1:$SSHD_PORT: no file matches *.csv in $REMOTE"* ]]
	run sftp-get --require -i "$SFTP_KEY" "$URL$REMOTE/*.csv" "$W/in"
	[ "$status" -eq 66 ]
	[ -z "$(ls -A "$W/in")" ]
}

@test "a 0-byte file, and names with spaces and non-ASCII" {
	remote_file 'Núñez feed.csv' 'x
'
	remote_file 'empty one.csv' ''
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/*%20*.csv" "$W/in"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of 'Núñez feed.csv' N%C3%BA%C3%B1ez%20feed.csv)" ]
	[ "${lines[2]}" = "$W/in/empty one.csv,0,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,$URL$REMOTE/empty%20one.csv" ]
	cmp "$REMOTE/Núñez feed.csv" "$W/in/Núñez feed.csv"
	[ -f "$W/in/empty one.csv" ] && [ ! -s "$W/in/empty one.csv" ]
}

@test "password login; a wrong password is 77" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a local account with a password for sshd to check"
	remote_file a.csv 'a'
	SFTP_PASSWORD=$SFTP_TEST_PASSWORD run sftp-get "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of a.csv)" ]
	rm "$W/in/a.csv"
	SFTP_PASSWORD=wrong run sftp-get "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 77 ]
	[[ "$output" == *"login refused (tried password)"* ]]
	[ -z "$(ls -A "$W/in")" ]
}

@test "unknown and changed host keys: 77 with the fingerprint" {
	remote_file a.csv 'a'
	: >"$KNOWN_HOSTS"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 77 ]
	[[ "$output" == *"unknown host key $(sshd_fingerprint): not in $KNOWN_HOSTS"* ]]
	known_hosts_impostor ed25519
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 77 ]
	[[ "$output" == *"HOST KEY CHANGED: the server's key $(sshd_fingerprint)"* ]]
	[ -z "$(ls -A "$W/in")" ]
}

@test "an @revoked host key is refused (77, REVOKED HOST KEY DETECTED) even beside a matching line" {
	remote_file a.csv 'a'
	key=$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")
	printf '@revoked * %s\n' "$key" >>"$KNOWN_HOSTS"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 77 ]
	[ "$output" = "file,bytes,sha256,target
sftp-get: $SFTP_USER@127.0.0.1:$SSHD_PORT: REVOKED HOST KEY DETECTED: the server's key $(sshd_fingerprint) is marked @revoked in $KNOWN_HOSTS; refusing to connect" ]
	[[ "$output" != *retry* ]]
	[ -z "$(ls -A "$W/in")" ]
	# Another key revoked, and a CA line (not used): the host key counts.
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/old"
	printf '[127.0.0.1]:%s %s\n@revoked [127.0.0.1]:%s %s\n@cert-authority *.example %s\n' \
		"$SSHD_PORT" "$key" "$SSHD_PORT" \
		"$(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/old.pub")" \
		"$(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/old.pub")" >"$KNOWN_HOSTS"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 0 ]
	[ "$(cat "$W/in/a.csv")" = a ]
}

@test "a known_hosts line without a port is port 22's only; hashed lines still match" {
	remote_file a.csv 'a'
	key=$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")
	printf '127.0.0.1 %s\n' "$key" >"$KNOWN_HOSTS"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 77 ]
	[[ "$output" == *"$SFTP_USER@127.0.0.1:$SSHD_PORT: unknown host key $(sshd_fingerprint): not in $KNOWN_HOSTS; refusing to connect"* ]]
	[ -z "$(ls -A "$W/in")" ]
	# OpenSSH's hashed form of the [host]:port line
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$key" >"$KNOWN_HOSTS"
	ssh-keygen -q -H -f "$KNOWN_HOSTS" 2>/dev/null
	grep -q '^|1|' "$KNOWN_HOSTS"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 0 ]
	[ "$(cat "$W/in/a.csv")" = a ]
}

@test "no MAC in common with the server: 69 at once, nothing downloaded" {
	remote_file a.csv 'a'
	sshd_reconfigure "MACs umac-128@openssh.com"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 69 ]
	[[ "$output" == *"SSH handshake: no key exchange, host key type, cipher or MAC in common with the server; this end (libssh2 "*"; MACs hmac-sha2-256,"* ]]
	[[ "$output" != *retry* ]]
	[ -z "$(ls -A "$W/in")" ]
}

@test "permission denied on the remote directory: 77" {
	mkdir "$REMOTE/secret"
	chmod 700 "$REMOTE/secret"
	[ "$(id -u)" -eq 0 ] || skip "the login owns every directory it can make"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/secret/*" "$W/in"
	[ "$status" -eq 77 ]
	[[ "$output" == *"cannot list $REMOTE/secret: permission denied"* ]]
}

@test "sshd killed mid-download: 75 after retries, no local file, no temporary" {
	truncate -s 1G "$REMOTE/big.dat"
	sftp-get --retries 1 -i "$SFTP_KEY" "$URL$REMOTE/big.dat" "$W/in" >"$W/out" 2>"$W/err" &
	get=$!
	for i in $(seq 200); do
		[ -n "$(ls -A "$W/in")" ] && break
		sleep 0.05
	done
	sleep 0.2
	sshd_kill_all
	st=0
	wait "$get" || st=$?
	[ "$st" -eq 75 ]
	grep -q "retry 1 of 1" "$W/err"
	[ "$(cat "$W/out")" = "file,bytes,sha256,target" ]
	[ -z "$(ls -A "$W/in")" ]
}

@test "a hostile listing: names with '/', '..', '.', NUL or control characters are refused (65), the others fetched, nothing written outside" {
	remote_file good.pdf 'good'
	remote_file e1 'evil 1'
	remote_file e2 'evil 2'
	remote_file e3 'evil 3'
	remote_file e4 'evil 4'
	remote_file e5 'evil 5'
	remote_file e6 'evil 6'
	mkdir "$W/outside"
	hostile_server "e1	/../outside/PWNED.pdf" "e2	$W/outside/ABS.pdf" \
		"e3	line\nbreak.pdf" "e4	x.pdf\x00/../../outside/NUL.pdf" \
		"e5	.." "e6	."
	run --separate-stderr sftp-get -i "$SFTP_KEY" "$URL$REMOTE/*.pdf" "$W/in"
	[ "$status" -eq 65 ]
	[ "$output" = "file,bytes,sha256,target
$(receipt_of good.pdf)" ]
	where="$SFTP_USER@127.0.0.1:$SSHD_PORT: $REMOTE"
	[[ "$stderr" == *"$where: the server lists \"/../outside/PWNED.pdf\", a path, not a file name ('/'); refused, not downloaded"* ]]
	[[ "$stderr" == *"$where: the server lists \"$W/outside/ABS.pdf\", a path, not a file name ('/'); refused, not downloaded"* ]]
	[[ "$stderr" == *"$where: the server lists \"line\\x0abreak.pdf\", a control character inside the name; refused, not downloaded"* ]]
	[[ "$stderr" == *"$where: the server lists \"x.pdf\\x00/../../outside/NUL.pdf\", a NUL inside the name; refused, not downloaded"* ]]
	[ "$(ls -A "$W/in")" = good.pdf ]
	[ "$(cat "$W/in/good.pdf")" = good ]
	[ -z "$(ls -A "$W/outside")" ]
	# "." as the local directory: an absolute name is still not a path.
	cd "$W/in"
	run --separate-stderr sftp-get -i "$SFTP_KEY" "$URL$REMOTE/*.pdf" .
	[ "$status" -eq 65 ]
	[ -z "$(ls -A "$W/outside")" ]
	# '.' and '..' themselves, and a NUL alone, for a glob that matches them
	run --separate-stderr sftp-get -i "$SFTP_KEY" "$URL$REMOTE/.*" "$W/in"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"$where: the server lists \"..\", a directory's name, not a file's; refused, not downloaded"* ]]
	[[ "$stderr" == *"$where: the server lists \".\", a directory's name, not a file's; refused, not downloaded"* ]]
	[ "$output" = "file,bytes,sha256,target" ]
}

@test "the local file is created in the directory, never through a planted symlink" {
	remote_file a.csv 'from the server'
	printf 'precious\n' >"$W/precious"
	# A planted temporary name cannot be guessed; the final name is
	# replaced, never followed.
	ln -s "$W/precious" "$W/in/a.csv"
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 0 ]
	[ "$(cat "$W/precious")" = precious ]
	[ ! -L "$W/in/a.csv" ]
	[ "$(cat "$W/in/a.csv")" = 'from the server' ]
}

@test "usage: 64; a missing local directory is 73; --password is refused" {
	run sftp-get "$URL$REMOTE/a.csv"
	[ "$status" -eq 64 ]
	[[ "$output" == *"usage: sftp-get"* ]]
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/" "$W/in"
	[ "$status" -eq 64 ]
	[[ "$output" == *"the URL ends in '/'"* ]]
	run sftp-get -i "$SFTP_KEY" "$URL$REMOTE/a.csv" "$W/nowhere"
	[ "$status" -eq 73 ]
	[[ "$output" == *"$W/nowhere: not a directory"* ]]
	run sftp-get --password x "$URL$REMOTE/a.csv" "$W/in"
	[ "$status" -eq 64 ]
	[[ "$output" == *"--password: secrets are not accepted on the command line"* ]]
}
