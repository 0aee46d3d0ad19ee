#!/usr/bin/env bats
# sftp-put against a real OpenSSH sshd on 127.0.0.1, started per test.

load common
load sftp

sftp_suite sfput

teardown() {
	if [ -n "${FULL_MOUNT:-}" ]; then
		umount "$FULL_MOUNT" 2>/dev/null || true
	fi
	sshd_stop
}

# receipt_of LOCAL NAME: the receipt row sftp-put prints for LOCAL sent
# as NAME into $REMOTE (NAME percent-encoded by the caller when needed).
receipt_of() {
	printf '%s,%s,%s,%s%s/%s\n' "$1" "$(stat -c %s "$1")" \
		"$(sha256sum <"$1" | cut -d' ' -f1)" "$URL" "$REMOTE" "$2"
}

# no_temporaries DIR: nothing named like an sftp-put temporary is left.
no_temporaries() {
	run find "$1" -name '.*.part'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# sftp_server_log: sshd restarted with OpenSSH's sftp-server logging each
# open and close to $SSHD_DIR/sftp.log (internal-sftp logs only to syslog);
# sftp_log prints that log (its lines end in CR LF).
sftp_log() {
	tr -d '\r' <"$SSHD_DIR/sftp.log"
}

sftp_server_log() {
	: >"$SSHD_DIR/sftp.log"
	chmod 666 "$SSHD_DIR/sftp.log"
	sed -i "s|^Subsystem sftp internal-sftp\$|Subsystem sftp /usr/lib/openssh/sftp-server -e -l INFO 2>>$SSHD_DIR/sftp.log|" \
		"$SSHD_DIR/sshd_config"
	sshd_kill_all
	sshd_restart
}

# killed_mid_upload LOGINS OPTION...: sftp-put OPTION... of a 1 GB file,
# sshd killed once LOGINS connections are in and the temporary exists:
# 75 after a retry, no final file, the temporary left hidden and
# recognisable; the next successful upload of the name removes it.
killed_mid_upload() {
	local logins=$1 put st i
	shift
	truncate -s 1G "$W/big.dat"
	sftp-put "$@" --retries 1 -i "$SFTP_KEY" "$URL$REMOTE" "$W/big.dat" >"$W/out" 2>"$W/err" &
	put=$!
	for i in $(seq 200); do
		ls -A "$REMOTE" | grep -q '^\.big\.dat\.......\.part$' &&
			[ "$(grep -c "Accepted publickey" "$SSHD_DIR/sshd.log")" -ge "$logins" ] &&
			break
		sleep 0.05
	done
	sleep 0.2
	sshd_kill_all
	st=0
	wait "$put" || st=$?
	[ "$st" -eq 75 ]
	grep -q "connection lost or timed out" "$W/err"
	grep -q "retry 1 of 1" "$W/err"
	grep -q "cannot connect: Connection refused" "$W/err"
	[ "$(cat "$W/out")" = "file,bytes,sha256,target" ]
	[ ! -e "$REMOTE/big.dat" ]
	# The dead server could not remove the temporary.
	run ls -A "$REMOTE"
	[[ "$output" =~ ^\.big\.dat\.[A-Za-z0-9]{6}\.part$ ]]
	sshd_restart
	head -c 9000000 /dev/urandom >"$W/big.dat"
	run sftp-put "$@" -i "$SFTP_KEY" "$URL$REMOTE" "$W/big.dat"
	[ "$status" -eq 0 ]
	cmp "$W/big.dat" "$REMOTE/big.dat"
	no_temporaries "$REMOTE"
}

# small_disk SIZE: $REMOTE/small is a tmpfs of SIZE the login owns.
small_disk() {
	mkdir "$REMOTE/small"
	mount -t tmpfs -o size="$1" tmpfs "$REMOTE/small" 2>/dev/null ||
		skip "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)"
	FULL_MOUNT=$REMOTE/small
	chown "$SFTP_USER" "$REMOTE/small"
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a local account with a password for sshd to check"
}

@test "upload: one receipt row, the remote copy identical, no temporary" {
	printf 'id,name\n1,Ann\n' >"$W/feed.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "file,bytes,sha256,target" ]
	[ "${lines[1]}" = "$(receipt_of "$W/feed.csv" feed.csv)" ]
	[ "${#lines[@]}" -eq 2 ]
	cmp "$W/feed.csv" "$REMOTE/feed.csv"
	[ "$(stat -c %U "$REMOTE/feed.csv")" = "$SFTP_USER" ]
	[ "$(file_mode "$REMOTE/feed.csv")" = 600 ]
	no_temporaries "$REMOTE"
}

@test "several files: one row each, in order" {
	echo a >"$W/a.csv"
	echo bb >"$W/b.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE/" "$W/a.csv" "$W/b.csv"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of "$W/a.csv" a.csv)" ]
	[ "${lines[2]}" = "$(receipt_of "$W/b.csv" b.csv)" ]
	cmp "$W/a.csv" "$REMOTE/a.csv"
	cmp "$W/b.csv" "$REMOTE/b.csv"
}

@test "replace: an existing file is replaced by a rename (new inode)" {
	echo old >"$REMOTE/feed.csv"
	chown "$SFTP_USER" "$REMOTE/feed.csv"
	old_inode=$(stat -c %i "$REMOTE/feed.csv")
	echo new >"$W/feed.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of "$W/feed.csv" feed.csv)" ]
	[ "$(cat "$REMOTE/feed.csv")" = new ]
	[ "$(stat -c %i "$REMOTE/feed.csv")" != "$old_inode" ]
	no_temporaries "$REMOTE"
}

@test "--no-clobber: an existing file is kept, exit 73" {
	echo old >"$REMOTE/feed.csv"
	echo new >"$W/feed.csv"
	run sftp-put --no-clobber -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv"
	[ "$status" -eq 73 ]
	[[ "$output" == *"sftp-put: $SFTP_USER@127.0.0.1:$SSHD_PORT: $REMOTE/feed.csv exists; not replaced (--no-clobber)"* ]]
	[ "$(cat "$REMOTE/feed.csv")" = old ]
	no_temporaries "$REMOTE"
	# and a new name goes through
	run sftp-put --no-clobber --name other.csv -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv"
	[ "$status" -eq 0 ]
	[ "$(cat "$REMOTE/other.csv")" = new ]
}

@test "--mkdir creates the directory; without it a missing directory is 73" {
	echo x >"$W/f.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE/in/2024" "$W/f.csv"
	[ "$status" -eq 73 ]
	[[ "$output" == *"no directory $REMOTE/in/2024 (--mkdir creates it)"* ]]
	[ ! -e "$REMOTE/in" ]
	run sftp-put --mkdir -i "$SFTP_KEY" "$URL$REMOTE/in/2024" "$W/f.csv"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of "$W/f.csv" in/2024/f.csv)" ]
	cmp "$W/f.csv" "$REMOTE/in/2024/f.csv"
	[ -d "$REMOTE/in/2024" ]
}

@test "/~/ in the URL is the login's home directory" {
	need_root
	echo x >"$W/home.csv"
	run sftp-put -i "$SFTP_KEY" "$URL/~/" "$W/home.csv"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *",$URL/~/home.csv" ]]
	cmp "$W/home.csv" "$(getent passwd "$SFTP_USER" | cut -d: -f6)/home.csv"
	rm -f "$(getent passwd "$SFTP_USER" | cut -d: -f6)/home.csv"
}

@test "password login from SFTP_PASSWORD and from SFTP_PASSWORD_FILE" {
	need_root
	echo x >"$W/p.csv"
	SFTP_PASSWORD=$SFTP_TEST_PASSWORD run sftp-put "$URL$REMOTE" "$W/p.csv"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of "$W/p.csv" p.csv)" ]
	rm "$REMOTE/p.csv"
	printf '%s\n' "$SFTP_TEST_PASSWORD" >"$W/pw"
	SFTP_PASSWORD_FILE=$W/pw run sftp-put "$URL$REMOTE" "$W/p.csv"
	[ "$status" -eq 0 ]
	cmp "$W/p.csv" "$REMOTE/p.csv"
}

@test "wrong password: exit 77, nothing written" {
	need_root
	echo x >"$W/p.csv"
	SFTP_PASSWORD=wrong run sftp-put "$URL$REMOTE" "$W/p.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"sftp-put: $SFTP_USER@127.0.0.1:$SSHD_PORT: login refused (tried password)"* ]]
	[[ "$output" != *wrong* ]]
	[ -z "$(ls -A "$REMOTE")" ]
}

@test "a key the server does not know: exit 77" {
	ssh-keygen -q -t ed25519 -N '' -f "$W/other"
	echo x >"$W/k.csv"
	run sftp-put -i "$W/other" "$URL$REMOTE" "$W/k.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"login refused (tried publickey)"* ]]
	[ -z "$(ls -A "$REMOTE")" ]
}

@test "an encrypted key with SFTP_KEY_PASSPHRASE; a wrong passphrase is 77" {
	ssh-keygen -q -t ed25519 -N 'secret words' -f "$W/enc"
	cat "$W/enc.pub" >>"$SSHD_DIR/authorized_keys"
	echo x >"$W/k.csv"
	SFTP_KEY_PASSPHRASE='secret words' run sftp-put -i "$W/enc" "$URL$REMOTE" "$W/k.csv"
	[ "$status" -eq 0 ]
	cmp "$W/k.csv" "$REMOTE/k.csv"
	SFTP_KEY_PASSPHRASE=nope run sftp-put -i "$W/enc" "$URL$REMOTE" "$W/k.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"$W/enc: cannot use the key"* ]]
}

@test "ssh-agent login when no key or password is given" {
	eval "$(ssh-agent -s)" >/dev/null
	ssh-add -q "$SFTP_KEY" 2>/dev/null
	echo x >"$W/a.csv"
	run sftp-put "$URL$REMOTE" "$W/a.csv"
	ssh-agent -k >/dev/null
	[ "$status" -eq 0 ]
	cmp "$W/a.csv" "$REMOTE/a.csv"
}

@test "no credentials at all: exit 78" {
	echo x >"$W/a.csv"
	run env -u SSH_AUTH_SOCK sftp-put "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 78 ]
	[[ "$output" == *"no credentials: give -i KEY, set SFTP_PASSWORD or SFTP_PASSWORD_FILE, or run ssh-agent"* ]]
}

@test "unknown host key: exit 77 with the fingerprint, nothing written" {
	: >"$KNOWN_HOSTS"
	echo x >"$W/a.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"unknown host key $(sshd_fingerprint): not in $KNOWN_HOSTS; refusing to connect"* ]]
	[ "${lines[0]}" = "file,bytes,sha256,target" ]
	[ -z "$(ls -A "$REMOTE")" ]
	# no known_hosts file at all is the same
	rm "$KNOWN_HOSTS"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"unknown host key $(sshd_fingerprint)"* ]]
}

@test "changed host key, or a key of a type the server no longer has: exit 77 with the fingerprint, nothing written" {
	known_hosts_impostor ed25519
	echo x >"$W/a.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"HOST KEY CHANGED: the server's key $(sshd_fingerprint) does not match $KNOWN_HOSTS"* ]]
	[ -z "$(ls -A "$REMOTE")" ]
	# known_hosts holds only an ECDSA key; the server has only Ed25519:
	# refused as unknown, naming the type held, and (a refusal, not a
	# network failure) not retried
	known_hosts_impostor ecdsa
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"unknown host key $(sshd_fingerprint): the server offers none of the key types $KNOWN_HOSTS holds for it (ecdsa-sha2-nistp256); refusing to connect"* ]]
	[[ "$output" != *retry* ]]
	[ -z "$(ls -A "$REMOTE")" ]
}

@test "several host keys: the server is asked first for the type known_hosts holds" {
	# libssh2 asks for ECDSA before Ed25519 unless told; known_hosts
	# holds only the server's Ed25519 key.
	ssh-keygen -q -t ecdsa -N '' -f "$SSHD_DIR/host_ecdsa"
	sshd_reconfigure "HostKey $SSHD_DIR/host_ecdsa"
	echo x >"$W/a.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 0 ]
	cmp "$W/a.csv" "$REMOTE/a.csv"
}

@test "no MAC in common with the server: 69 at once, naming what this end offers" {
	# UMAC is in OpenSSH and in no libssh2
	sshd_reconfigure "MACs umac-128@openssh.com,umac-64-etm@openssh.com"
	echo x >"$W/a.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 69 ]
	[[ "$output" == *"SSH handshake: no key exchange, host key type, cipher or MAC in common with the server; this end (libssh2 "*") offers ciphers aes128-ctr,"*"; MACs hmac-sha2-256,"*"; host key types "*"ssh-ed25519"*"; key exchanges "*"curve25519-sha256"* ]]
	# a setting of the server, not a dropped connection: not retried
	[[ "$output" != *retry* ]]
	[[ "$output" != *"connection lost"* ]]
	[ -z "$(ls -A "$REMOTE")" ]
}

@test "hashed known_hosts entries and --known-hosts FILE" {
	mv "$KNOWN_HOSTS" "$W/kh"
	ssh-keygen -q -H -f "$W/kh" 2>/dev/null
	grep -q '^|1|' "$W/kh"
	echo x >"$W/a.csv"
	run sftp-put --known-hosts "$W/kh" -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 0 ]
	cmp "$W/a.csv" "$REMOTE/a.csv"
}

@test "sshd killed mid-upload: 75 after retries, no final file; the next run removes the temporary" {
	killed_mid_upload 1 --streams 1
}

@test "--streams 2: a file from --stream-min on goes over two logins, byte for byte" {
	sftp_server_log
	# big enough that the second login is done before the first
	# connection has sent it all
	head -c 50331648 /dev/urandom >"$W/big.dat"
	run sftp-put --streams 2 --stream-min 1M -i "$SFTP_KEY" "$URL$REMOTE" "$W/big.dat"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of "$W/big.dat" big.dat)" ]
	[ "${#lines[@]}" -eq 2 ]
	cmp "$W/big.dat" "$REMOTE/big.dat"
	[ "$(file_mode "$REMOTE/big.dat")" = 600 ]
	no_temporaries "$REMOTE"
	# Each connection checked the host key and logged in, the first
	# created the temporary, the second opened it, and both wrote to it.
	[ "$(grep -c "Accepted publickey for $SFTP_USER" "$SSHD_DIR/sshd.log")" -eq 2 ]
	sftp_log | grep -q '^open ".*/\.big\.dat\.[A-Za-z0-9]\{6\}\.part" flags WRITE,CREATE,EXCL mode 0100600$'
	sftp_log | grep -q '^open ".*/\.big\.dat\.[A-Za-z0-9]\{6\}\.part" flags WRITE mode '
	run awk '/^close .*\.part" bytes read 0 written [1-9]/ { n++; sum += $NF } END { print n, sum }' <(sftp_log)
	[ "$output" = "2 50331648" ]
	# below --stream-min one connection carries the file
	: >"$SSHD_DIR/sftp.log"
	head -c 1048575 /dev/urandom >"$W/small.dat"
	run sftp-put --streams 2 --stream-min 1M -i "$SFTP_KEY" "$URL$REMOTE" "$W/small.dat"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of "$W/small.dat" small.dat)" ]
	cmp "$W/small.dat" "$REMOTE/small.dat"
	[ "$(sftp_log | grep -c '^open ')" -eq 1 ]
}

@test "--streams 2, a file from 256 MiB: a third login fsyncs the temporary during the upload" {
	sftp_server_log
	# fsync is logged at VERBOSE
	sed -i 's/ -l INFO / -l VERBOSE /' "$SSHD_DIR/sshd_config"
	sshd_kill_all
	sshd_restart
	head -c 335544320 /dev/urandom >"$W/large.dat"
	run sftp-put --streams 2 -i "$SFTP_KEY" "$URL$REMOTE" "$W/large.dat"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(receipt_of "$W/large.dat" large.dat)" ]
	[ "${#lines[@]}" -eq 2 ]
	cmp "$W/large.dat" "$REMOTE/large.dat"
	no_temporaries "$REMOTE"
	[ "$(grep -c "Accepted publickey for $SFTP_USER" "$SSHD_DIR/sshd.log")" -eq 3 ]
	# the temporary is opened three times, and fsynced before the two
	# data connections are done with it, then once more at the end
	[ "$(sftp_log | grep -c '^open ".*/\.large\.dat\.[A-Za-z0-9]\{6\}\.part"')" -eq 3 ]
	run awk '/^fsync ".*\.part"$/ { f++ } /^close .*\.part" bytes read 0 written [1-9]/ && !c { c = f } END { print (c > 0), (f > c) }' <(sftp_log)
	[ "$output" = "1 1" ]
}

@test "--streams 2, sshd killed mid-upload: 75 after retries, no final file" {
	killed_mid_upload 2 --streams 2 --stream-min 1M
}

@test "a server that never answers: 75 after the timeout" {
	port=$(free_port)
	"$PY" -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5); print("up", flush=True)
c=[]
while True: c.append(s.accept())' "$port" >"$W/mute" &
	mute=$!
	while [ ! -s "$W/mute" ]; do sleep 0.05; done
	echo x >"$W/a.csv"
	run sftp-put --timeout 1 --retries 0 -i "$SFTP_KEY" "sftp://u@127.0.0.1:$port/in" "$W/a.csv"
	kill "$mute"
	[ "$status" -eq 75 ]
	[[ "$output" == *"SSH handshake: connection lost or timed out"* ]]
}

@test "remote disk full: exit 74, no final file, no temporary" {
	small_disk 1m
	head -c 3000000 /dev/urandom >"$W/large.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE/small" "$W/large.csv"
	[ "$status" -eq 74 ]
	[ "$output" = "file,bytes,sha256,target
sftp-put: $SFTP_USER@127.0.0.1:$SSHD_PORT: write: no space left on the server (0 bytes free)" ]
	[ ! -e "$REMOTE/small/large.csv" ]
	[ -z "$(ls -A "$REMOTE/small")" ]
}

@test "a server that says SSH_FX_NO_SPACE_ON_FILESYSTEM: 74, 'no space left on the server', nothing left" {
	small_disk 1m
	hostile_server --status 4=14
	head -c 3000000 /dev/urandom >"$W/large.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE/small" "$W/large.csv"
	[ "$status" -eq 74 ]
	[ "$output" = "file,bytes,sha256,target
sftp-put: $SFTP_USER@127.0.0.1:$SSHD_PORT: write: no space left on the server (no space on the filesystem)" ]
	[[ "$output" != *retry* ]]
	[ -z "$(ls -A "$REMOTE/small")" ]
}

@test "--streams 2, remote disk full: exit 74, no final file, no temporary" {
	# big enough that both connections are writing when it fills up
	small_disk 32m
	head -c 41943040 /dev/urandom >"$W/large.dat"
	run sftp-put --streams 2 --stream-min 1M -i "$SFTP_KEY" "$URL$REMOTE/small" "$W/large.dat"
	echo "$output"
	[ "$status" -eq 74 ]
	[[ "$output" == *": no space left on the server ("*" bytes free)"* ]]
	[[ "$output" != *"retry"* ]]
	# the second connection normally joins; on a loaded machine the disk
	# may fill before it has logged in, and the first carries on alone
	logins=$(grep -c "Accepted publickey for $SFTP_USER" "$SSHD_DIR/sshd.log")
	[ "$logins" -ge 1 ] && [ "$logins" -le 2 ]
	[ ! -e "$REMOTE/small/large.dat" ]
	[ -z "$(ls -A "$REMOTE/small")" ]
}

@test "permission denied on the directory: exit 77, nothing written" {
	mkdir "$REMOTE/locked"
	if [ "$(id -u)" -eq 0 ]; then
		chown root "$REMOTE/locked"	# the login is $SFTP_USER
	else
		chmod 555 "$REMOTE/locked"
	fi
	echo x >"$W/a.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE/locked" "$W/a.csv"
	[ "$status" -eq 77 ]
	[[ "$output" == *"cannot create a file in $REMOTE/locked: permission denied"* ]]
	[ -z "$(ls -A "$REMOTE/locked")" ]
}

@test "a 0-byte file" {
	: >"$W/empty.csv"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/empty.csv"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$W/empty.csv,0,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,$URL$REMOTE/empty.csv" ]
	[ -f "$REMOTE/empty.csv" ] && [ ! -s "$REMOTE/empty.csv" ]
}

@test "names with spaces and non-ASCII: sent as is, percent-encoded in the receipt URL" {
	mkdir "$W/dir é"
	printf 'x\n' >"$W/dir é/Núñez feed 1.csv"
	mkdir "$REMOTE/in box"
	chown "$SFTP_USER" "$REMOTE/in box"
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE/in%20box" "$W/dir é/Núñez feed 1.csv"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "\"$W/dir é/Núñez feed 1.csv\",2,$(sha256sum <"$W/dir é/Núñez feed 1.csv" | cut -d' ' -f1),$URL$REMOTE/in%20box/N%C3%BA%C3%B1ez%20feed%201.csv" ] ||
	[ "${lines[1]}" = "$W/dir é/Núñez feed 1.csv,2,$(sha256sum <"$W/dir é/Núñez feed 1.csv" | cut -d' ' -f1),$URL$REMOTE/in%20box/N%C3%BA%C3%B1ez%20feed%201.csv" ]
	cmp "$W/dir é/Núñez feed 1.csv" "$REMOTE/in box/Núñez feed 1.csv"
	no_temporaries "$REMOTE"
}

@test "standard input needs --name; a pipe is uploaded whole" {
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" </dev/null
	[ "$status" -eq 64 ]
	[[ "$output" == *"standard input needs --name"* ]]
	seq 1 1000 | sftp-put --name seq.csv -i "$SFTP_KEY" "$URL$REMOTE" >"$W/out"
	seq 1 1000 | cmp - "$REMOTE/seq.csv"
	[ "$(sed -n 2p "$W/out")" = "-,3893,$(seq 1 1000 | sha256sum | cut -d' ' -f1),$URL$REMOTE/seq.csv" ]
}

@test "usage errors: 64; a password on the command line is refused" {
	run sftp-put
	[ "$status" -eq 64 ]
	[[ "$output" == *"usage: sftp-put"* ]]
	run sftp-put --password hunter2 "$URL$REMOTE" /etc/hostname
	[ "$status" -eq 64 ]
	[[ "$output" == *"--password: secrets are not accepted on the command line; set SFTP_PASSWORD or SFTP_PASSWORD_FILE"* ]]
	run sftp-put "sftp://u:pw@127.0.0.1/in" /etc/hostname
	[ "$status" -eq 64 ]
	[[ "$output" == *"a password in the URL is refused"* ]]
	run sftp-put "ftp://u@127.0.0.1/in" /etc/hostname
	[ "$status" -eq 64 ]
	run sftp-put --retries x "$URL$REMOTE" /etc/hostname
	[ "$status" -eq 64 ]
	run sftp-put --streams 0 "$URL$REMOTE" /etc/hostname
	[ "$status" -eq 64 ]
	[[ "$output" == *"--streams: want a whole number from 1 to 16"* ]]
	run sftp-put --stream-min 64X "$URL$REMOTE" /etc/hostname
	[ "$status" -eq 64 ]
	[[ "$output" == *"--stream-min: want a size in bytes, or with a K, M or G suffix"* ]]
	run sftp-put --stream-min -1 "$URL$REMOTE" /etc/hostname
	[ "$status" -eq 64 ]
	run sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/missing.csv"
	[ "$status" -eq 66 ]
	[[ "$output" == *"$W/missing.csv: No such file or directory"* ]]
	[ -z "$(ls -A "$REMOTE")" ]
}

@test "a 2 GB file with flat memory (sparse; peak RSS under 64 MB)" {
	[ -z "${SCHEDFEED_SANITIZE:-}" ] || skip "resident size means nothing under AddressSanitizer"
	truncate -s 2G "$W/huge.dat"
	/usr/bin/time -v -o "$W/time" sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/huge.dat" >"$W/out"
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time")
	echo "peak RSS ${rss} kB" >&3
	[ "$rss" -lt 65536 ]
	[ "$(stat -c %s "$REMOTE/huge.dat")" -eq 2147483648 ]
	[ "$(sed -n 2p "$W/out" | cut -d, -f2)" = 2147483648 ]
	[ "$(sed -n 2p "$W/out" | cut -d, -f3)" = "$(head -c 2147483648 /dev/zero | sha256sum | cut -d' ' -f1)" ]
}

@test "--temp: the upload goes through the temporary named, an interrupted one's leftover replaced whatever its age, none left" {
	printf 'id\n1\n' > "$W/feed.csv"
	# a killed run's temporary, from this very second
	printf 'half of another upl' > "$REMOTE/.feed.csv.AbC123.part"
	chown "$SFTP_USER" "$REMOTE/.feed.csv.AbC123.part"
	sftp_server_log
	run sftp-put --temp .feed.csv.AbC123.part -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv"
	[ "$status" -eq 0 ]
	cmp "$W/feed.csv" "$REMOTE/feed.csv"
	[ "$(ls -A "$REMOTE")" = feed.csv ]
	[ "$(echo "${lines[1]}" | cut -d, -f2)" = 5 ]
	# what the server was asked: that name, replaced, then renamed
	grep -q "open \"$REMOTE/.feed.csv.AbC123.part\" flags WRITE,CREATE,TRUNCATE" "$SSHD_DIR/sftp.log"
	grep -q "rename old \"$REMOTE/.feed.csv.AbC123.part\" new \"$REMOTE/feed.csv\"" "$SSHD_DIR/sftp.log"
}

@test "--temp: a name that is not a hidden file name, or more than one file, is 64" {
	printf 'a\n' > "$W/a.csv"
	run sftp-put --temp a.part -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 64 ]
	[ "$output" = "sftp-put: a.part: --temp takes a hidden file name (.NAME) without '/'" ]
	run sftp-put --temp ../.x -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv"
	[ "$status" -eq 64 ]
	run sftp-put --temp .x -i "$SFTP_KEY" "$URL$REMOTE" "$W/a.csv" "$W/a.csv"
	[ "$status" -eq 64 ]
	[ "$output" = "sftp-put: --temp needs exactly one file" ]
	[ -z "$(ls -A "$REMOTE")" ]
}

@test "--skip-same: the final name holding this file (SHA-256 read back) sends nothing; other content, or none, is sent" {
	bats_require_minimum_version 1.5.0
	printf 'id\n1\n' > "$W/feed.csv"
	sftp-put -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv" > /dev/null
	ino=$(stat -c %i "$REMOTE/feed.csv")
	run --separate-stderr sftp-put --skip-same --temp .feed.csv.Zz9Zz9.part -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv"
	[ "$status" -eq 0 ]
	[ "$stderr" = "sftp-put: $SFTP_USER@127.0.0.1:$SSHD_PORT: $REMOTE/feed.csv holds this file already (5 bytes, SHA-256 read back): not sent" ]
	# the receipt as for a sending: the job archives what is there
	[ "$output" = "file,bytes,sha256,target
$W/feed.csv,5,$(sha256sum < "$W/feed.csv" | cut -d' ' -f1),$URL$REMOTE/feed.csv" ]
	[ "$(stat -c %i "$REMOTE/feed.csv")" = "$ino" ]
	# same size, other bytes: read back, found different, sent
	printf 'id\n2\n' > "$W/feed.csv"
	run --separate-stderr sftp-put --skip-same -i "$SFTP_KEY" "$URL$REMOTE" "$W/feed.csv"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	cmp "$W/feed.csv" "$REMOTE/feed.csv"
	[ "$(stat -c %i "$REMOTE/feed.csv")" != "$ino" ]
	[ "$(ls -A "$REMOTE")" = feed.csv ]
}
