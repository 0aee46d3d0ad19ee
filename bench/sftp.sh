#!/bin/sh
# bench/sftp.sh: upload one file to a loopback sshd with sftp-put and with
# OpenSSH's sftp -b, and print the MB/s of each, their ratio, and PASS when
# sftp-put reaches at least 0.9x OpenSSH (FAIL and exit 1 otherwise).
#   sh bench/sftp.sh [SIZE_MB]      (default 1024; run as root, like the tests)
# sftp-put is taken from PATH ($BUILD/bin first, build/bin by default);
# SFTP_PUT_OPTS adds options to its command line (e.g. "--streams 1").
set -eu

size_mb=${1:-1024}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/${BUILD:-build}/bin:$PATH
command -v sftp-put >/dev/null || { echo "bench/sftp.sh: no sftp-put on PATH; run make" >&2; exit 69; }
dir=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

mkdir -p /run/sshd "$dir/remote" "$dir/home/.ssh"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$dir/host"
ssh-keygen -q -t ed25519 -N '' -f "$dir/client"
cp "$dir/client.pub" "$dir/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/host.pub")" >"$dir/known_hosts"
cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $dir/host
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
EOF
/usr/sbin/sshd -D -e -f "$dir/sshd_config" -p "$port" 2>"$dir/sshd.log" &
pid=$!
sleep 0.5

# Random data, so neither side gains from sparse reads.
head -c "$((size_mb * 1024 * 1024))" /dev/urandom >"$dir/payload"
cat "$dir/payload" >/dev/null	# warm the page cache for both runs
sync	# neither run pays for writing back the payload or the other's copy

now() { date +%s.%N; }
user=$(id -un)

t0=$(now)
# shellcheck disable=SC2086
sftp-put ${SFTP_PUT_OPTS:-} --known-hosts "$dir/known_hosts" -i "$dir/client" \
	"sftp://$user@127.0.0.1:$port$dir/remote" "$dir/payload" >/dev/null
t1=$(now)
cmp "$dir/payload" "$dir/remote/payload"
rm -f "$dir/remote/payload"
sync
printf 'put %s %s\n' "$dir/payload" "$dir/remote/payload" >"$dir/batch"
t2=$(now)
sftp -q -b "$dir/batch" -i "$dir/client" -P "$port" \
	-o UserKnownHostsFile="$dir/known_hosts" -o BatchMode=yes \
	"$user@127.0.0.1" >/dev/null
t3=$(now)
cmp "$dir/payload" "$dir/remote/payload"

awk -v mb="$size_mb" -v a="$(echo "$t1 - $t0" | bc)" -v b="$(echo "$t3 - $t2" | bc)" 'BEGIN {
	printf "size           %d MB\n", mb
	printf "sftp-put       %.1f MB/s (%.2f s)\n", mb / a, a
	printf "OpenSSH sftp   %.1f MB/s (%.2f s)\n", mb / b, b
	ratio = (mb / a) / (mb / b)
	printf "ratio          %.2fx\n", ratio
	if (ratio >= 0.9) {
		print "PASS           sftp-put at least 0.9x OpenSSH"
		exit 0
	}
	print "FAIL           sftp-put below 0.9x OpenSSH"
	exit 1
}'
