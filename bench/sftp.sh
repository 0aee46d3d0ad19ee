#!/bin/sh
# bench/sftp.sh: upload one file to a loopback sshd with sftp-put and with
# OpenSSH's sftp -b, RUNS times each (3 by default), taking turns, and
# print the median MB/s of each, the ratio of the medians, and PASS when
# sftp-put reaches at least 0.9x OpenSSH (FAIL and exit 1 otherwise).
# Single runs on a small shared machine swing by a quarter either way.
#   sh bench/sftp.sh [SIZE_MB]      (default 1024; run as root, like the tests)
# sftp-put is taken from PATH ($BUILD/bin first, build/bin by default);
# SFTP_PUT_OPTS adds options to its command line (e.g. "--streams 1").
# OpenSSH's sftp runs with its defaults (chacha20-poly1305 here), as users
# run it, plus -f: sftp-put fsyncs every file before it renames it (its
# contract: a delivered file is on the server's disk), and -f is how
# OpenSSH's client asks the server for the same fsync, so both sides do the
# same work. Without -f the file is still in the server's page cache when
# sftp exits; that run is printed too, for information ("no fsync").
# SAME_CIPHER=1 also times OpenSSH with -f and the cipher and MAC sftp-put
# negotiates (aes128-ctr, hmac-sha2-256), for information only.
# It also prints the CPU time both ends took per GB, from /proc/stat (this
# machine runs the server too), and how busy that kept the cores: a run
# near 100% is bound by work per byte, one well below it by round trips.
# Two lines say why sftp-put's share is larger: the CPU-seconds per GB it
# must spend that OpenSSH does not (libssh2 1.10 encrypting AES-CTR a block
# a call, the receipt's SHA-256), from openssl speed; and the ratio of each
# pair of runs, next to each other in time, to show how far the host's
# drift moves the figure. Both are information; PASS is still the ratio
# of the medians.
set -eu

size_mb=${1:-1024}
runs=${RUNS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/${BUILD:-build}/bin:$PATH
# shellcheck source=bench/peers.sh
. "$top/bench/peers.sh"
PATH=$PATH:/usr/sbin bench_need bench/sftp.sh openssh-server:sshd \
    openssh-client:sftp openssh-client:ssh-keygen python3:python3
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
# busy: the CPU time, in seconds, every core has spent so far running
# something (user, nice, system, irq, softirq; not idle, not waiting for
# the disk, not stolen by the host), from /proc/stat: client and server
# together, since both run here.
busy() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" {
		printf "%.2f", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat
}
user=$(id -un)
printf 'put %s %s\n' "$dir/payload" "$dir/remote/payload" >"$dir/batch"

# fresh: no remote copy, and nothing left to write back
fresh() {
	rm -f "$dir/remote/payload"
	sync
}
# timed CMD...: runs one upload from scratch and checks the copy; prints
# "seconds cpu-seconds"
timed() {
	fresh
	c0=$(busy)
	t0=$(now)
	"$@" >/dev/null
	t1=$(now)
	c1=$(busy)
	cmp "$dir/payload" "$dir/remote/payload" >&2
	awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
	    'BEGIN { printf "%.2f %.2f", t1 - t0, c1 - c0 }'
}
run_put() {
	# shellcheck disable=SC2086
	timed sftp-put ${SFTP_PUT_OPTS:-} --known-hosts "$dir/known_hosts" \
		-i "$dir/client" "sftp://$user@127.0.0.1:$port$dir/remote" \
		"$dir/payload"
}
run_sftp() {
	timed sftp -q -b "$dir/batch" -i "$dir/client" -P "$port" \
		-o UserKnownHostsFile="$dir/known_hosts" -o BatchMode=yes \
		"$@" "$user@127.0.0.1"
}
sorted() {	# the words of stdin, a number a line, smallest first
	tr ' ' '\n' | grep . | sort -n
}
median() {
	sorted | awk '{ v[NR] = $1 } END {
		print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# One untimed upload with each first: on this kind of machine the first
# gigabyte written after the payload was made runs slow for both.
run_put >/dev/null
run_sftp -f >/dev/null

put_s= sftp_s= nosync_s= same_s= put_c= sftp_c= nosync_c= same_c=
i=0
while [ "$i" -lt "$runs" ]; do
	r=$(run_put)
	put_s="$put_s ${r% *}" put_c="$put_c ${r#* }"
	r=$(run_sftp -f)
	sftp_s="$sftp_s ${r% *}" sftp_c="$sftp_c ${r#* }"
	r=$(run_sftp)
	nosync_s="$nosync_s ${r% *}" nosync_c="$nosync_c ${r#* }"
	if [ "${SAME_CIPHER:-0}" = 1 ]; then
		r=$(run_sftp -f -c aes128-ctr -o MACs=hmac-sha2-256)
		same_s="$same_s ${r% *}" same_c="$same_c ${r#* }"
	fi
	i=$((i + 1))
done

a=$(echo "$put_s" | median)
b=$(echo "$sftp_s" | median)
n=$(echo "$nosync_s" | median)
c=$(echo "${same_s:-0}" | median)
# CPU-seconds per run, both ends together: where the two cores went
ac=$(echo "$put_c" | median)
bc=$(echo "$sftp_c" | median)
nc=$(echo "$nosync_c" | median)
cc=$(echo "${same_c:-0}" | median)
# The ratio of each sftp-put run to the sftp -f run right after it: the
# host's speed drifts between pairs more than within one.
pairs=$(awk -v a="$put_s" -v b="$sftp_s" 'BEGIN {
	n = split(a, x, " "); split(b, y, " ")
	for (i = 1; i <= n; i++) printf " %.3f", y[i] / x[i] }')
pm=$(echo "$pairs" | median)
plo=$(echo "$pairs" | sorted | head -n 1)
phi=$(echo "$pairs" | sorted | tail -n 1)
# What sftp-put must do per byte that OpenSSH does not, from openssl speed
# on this machine: libssh2 1.10 (Debian 12's) hands AES-CTR one 16-byte
# block per call, where OpenSSH encrypts whole packets; and the receipt's
# SHA-256 of every byte. CPU-seconds per GB.
speed() {	# speed BYTES ALGORITHM: MB/s (MiB) of openssl speed -evp
	openssl speed -seconds 1 -bytes "$1" -evp "$2" 2>/dev/null |
	    awk -v a="$2" 'tolower($1) == tolower(a) {	# in 1000s of bytes/s
		sub(/k$/, "", $2); printf "%.0f", $2 * 1000 / 1048576; exit }'
}
aes_block=$(speed 16 aes-128-ctr)
aes_bulk=$(speed 16384 aes-128-ctr)
sha=$(speed 16384 sha256)
awk -v mb="$size_mb" -v runs="$runs" -v a="$a" -v b="$b" -v c="$c" \
    -v n="$n" -v as="$put_s" -v bs="$sftp_s" -v cs="$same_s" \
    -v ns="$nosync_s" -v ac="$ac" -v bc="$bc" -v nc="$nc" -v cc="$cc" \
    -v cores="$(nproc)" -v pm="$pm" -v plo="$plo" -v phi="$phi" \
    -v ab="${aes_block:-0}" -v ak="${aes_bulk:-0}" -v sh="${sha:-0}" 'BEGIN {
	printf "size           %d MB, median of %d runs each, taking turns\n", \
	    mb, runs
	printf "sftp-put       %.1f MB/s (%.2f s; runs:%s)\n", mb / a, a, as
	printf "OpenSSH sftp -f %.1f MB/s (%.2f s; runs:%s)\n", mb / b, b, bs
	printf "  no fsync     %.1f MB/s (%.2f s; runs:%s; sftp without -f, " \
	    "file left unsynced; information only: %.2fx)\n", mb / n, n, ns, n / a
	if (c > 0)
		printf "  same cipher  %.1f MB/s (%.2f s; runs:%s; -f, aes128-ctr, " \
		    "hmac-sha2-256; information only)\n", mb / c, c, cs
	gb = mb / 1024
	printf "CPU, client and server together (median CPU-seconds per GB; " \
	    "share of the %d cores busy):\n", cores
	printf "  sftp-put       %5.2f  %3.0f%%\n", ac / gb, 100 * ac / (a * cores)
	printf "  sftp -f        %5.2f  %3.0f%%\n", bc / gb, 100 * bc / (b * cores)
	printf "  sftp           %5.2f  %3.0f%%\n", nc / gb, 100 * nc / (n * cores)
	if (c > 0)
		printf "  same cipher    %5.2f  %3.0f%%\n", cc / gb, \
		    100 * cc / (c * cores)
	if (ab > 0 && ak > 0 && sh > 0)
		printf "  of which sftp-put must spend more than OpenSSH: " \
		    "%.2f on AES-CTR a block a call (%d MB/s, against %d " \
		    "whole), %.2f on the receipt SHA-256 (%d MB/s)\n", \
		    1024 / ab - 1024 / ak, ab, ak, 1024 / sh, sh
	ratio = (mb / a) / (mb / b)
	printf "per pair       %.2fx median (%.2fx to %.2fx over %d pairs; " \
	    "information only)\n", pm, plo, phi, runs
	# three places: a ratio of 0.896 is a FAIL and must not read 0.90x
	printf "ratio          %.3fx (sftp-put against sftp -f)\n", ratio
	if (ratio >= 0.9) {
		print "PASS           sftp-put at least 0.9x OpenSSH"
		exit 0
	}
	print "FAIL           sftp-put below 0.9x OpenSSH"
	exit 1
}'
