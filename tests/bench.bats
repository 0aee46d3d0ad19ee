#!/usr/bin/env bats
# bench/: each benchmark names the peers it compares against when they are
# missing and it may not install them (not root), and exits 69 before it
# builds or generates anything (bench/peers.sh).

load common

setup() {
	common_setup
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	# a PATH holding every command of this machine but the peers named,
	# where the unprivileged user can reach it
	B=$(mktemp -d /tmp/schedfeed-bench.XXXXXX)
	chmod 755 "$B"
	mkdir -p "$B/bin"
}

teardown() {
	[ -z "${B:-}" ] || rm -rf "$B"
}

# path_without CMD...: fills $B/bin with links to every command on the
# system's PATH except CMD... (the first directory on PATH wins)
path_without() {
	local d
	for d in /sbin /usr/sbin /bin /usr/bin /usr/local/bin; do
		[ -d "$d" ] && ln -sf "$d"/* "$B/bin/" 2>/dev/null
	done
	for d in "$@"; do
		rm -f "$B/bin/$d"
	done
}

# as_nobody SCRIPT: runs the benchmark as an unprivileged user on $B/bin
as_nobody() {
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
	    env -i PATH="$B/bin" HOME="$B" ROWS=1000 sh "$TOP/$1"
}

@test "bench: csv-shape.sh without Miller and csvkit names them and exits 69" {
	path_without mlr csvcut
	as_nobody bench/csv-shape.sh
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *"bench/csv-shape.sh: needs mlr (Debian package miller)"* ]]
	[[ "$output" == *"bench/csv-shape.sh: needs csvcut (Debian package csvkit)"* ]]
	[[ "$output" == *"run it as root to install them, or: apt-get install -y miller csvkit"* ]]
	[[ "$output" != *"cannot run"* ]]
	# nothing built or generated first
	[ ! -e "$TOP/bench/.work/data-1000.csv" ]
}

@test "bench: csv-shape.sh without Node.js names it, not as a Debian package" {
	path_without node npm
	as_nobody bench/csv-shape.sh
	[ "$status" -eq 69 ]
	[[ "$output" == *"bench/csv-shape.sh: needs node, which is not on PATH"* ]]
	[[ "$output" == *"bench/csv-shape.sh: needs npm, which is not on PATH"* ]]
}

@test "bench: sched-query.sh without FreeTDS's clients names them and exits 69" {
	path_without freebcp bsqldb
	as_nobody bench/sched-query.sh
	[ "$status" -eq 69 ]
	[[ "$output" == *"needs freebcp (Debian package freetds-bin)"* ]]
	[[ "$output" == *"needs bsqldb (Debian package freetds-bin)"* ]]
}

@test "bench: phi-redact.sh without GNU time names it and exits 69" {
	path_without time
	as_nobody bench/phi-redact.sh
	[ "$status" -eq 69 ]
	[[ "$output" == *"bench/phi-redact.sh: needs time (Debian package time)"* ]]
}

@test "bench: sftp.sh without OpenSSH's client names it and exits 69" {
	path_without sftp
	as_nobody bench/sftp.sh
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *"bench/sftp.sh: needs sftp (Debian package openssh-client)"* ]]
}

@test "bench: s3-put.sh without Ceph's gateway names it and exits 69" {
	path_without radosgw
	as_nobody bench/s3-put.sh
	[ "$status" -eq 69 ]
	[[ "$output" == *"bench/s3-put.sh: needs radosgw (Debian package radosgw)"* ]]
}
