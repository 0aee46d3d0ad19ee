#!/usr/bin/env bats
# The build contract: make install, the man pages, the layout.

load common

setup() {
	common_setup
}

programs() {
	for d in "$TOP"/cmd/*/; do
		p=$(basename "$d")
		[ -f "$d/$p.c" ] && echo "$p"
	done
}

@test "build: make install puts every program and page under DESTDIR/PREFIX" {
	run make -C "$TOP" -s install PREFIX=/opt/sf DESTDIR="$W/root" BUILD="${BUILD:-build}"
	[ "$status" -eq 0 ]
	for p in $(programs); do
		[ -x "$W/root/opt/sf/bin/$p" ]
		[ -f "$W/root/opt/sf/share/man/man1/$p.1" ]
	done
	[ -f "$W/root/opt/sf/share/man/man7/schedfeed.7" ]
	[ -f "$W/root/opt/sf/lib/schedfeed/pipelines/lib/job.sh" ]
	[ -f "$W/root/opt/sf/lib/schedfeed/pipelines/iq_daily.sh" ]
	# tdsd is a test peer, never installed
	[ ! -e "$W/root/opt/sf/bin/tdsd" ]
}

@test "build: every man page is mandoc -Tlint clean" {
	run mandoc -Tlint -Wwarning "$TOP"/man/man1/*.1 "$TOP"/man/man7/*.7
	echo "$output"
	[ -z "$output" ]
}

@test "build: every program has a page with EXIT STATUS and a pipeline in EXAMPLES, and a test suite" {
	for p in $(programs); do
		page="$TOP/man/man1/$p.1"
		[ -f "$page" ] || { echo "no page for $p"; false; }
		grep -q '^\.Sh EXIT STATUS' "$page" || { echo "$p: no EXIT STATUS"; false; }
		sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$page" | grep -q '|' ||
			{ echo "$p: no pipeline in EXAMPLES"; false; }
		ls "$TOP"/tests/"$p"*.bats >/dev/null 2>&1 || { echo "$p: no tests"; false; }
		grep -q "Xr $p 1" "$TOP/man/man7/schedfeed.7" || { echo "$p not in schedfeed.7"; false; }
	done
}

@test "build: the top level holds exactly the agreed layout" {
	run bash -c "cd '$TOP' && git ls-files | cut -d/ -f1 | sort -u | tr '\n' ' '"
	[ "$output" = ".ci .dockerignore .gitignore Makefile README.md bench cmd docker lib man pipelines tests " ]
}

@test "build: a password on a program's command line is refused" {
	for p in sched-query sftp-put sftp-get smtp-send; do
		run "$p" --password hunter2
		[ "$status" -eq 64 ]
		[[ "$output" != *hunter2* ]]
	done
}

@test "every program: an unknown option's value never reaches the message (64, the name only)" {
	[ -n "$(programs)" ]
	for p in $(programs); do
		run "$p" --passwd=SECRET-4711 x
		[ "$status" -eq 64 ]
		[[ "$output" != *SECRET-4711* ]]
		[ "${lines[0]}" = "$p: --passwd: unknown option" ]
		[[ "${lines[1]}" == "usage: $p"* ]]
		run "$p" --no-such-option-at-all=SECRET-4711
		[ "$status" -eq 64 ]
		[ "${lines[0]}" = "$p: --no-such-option-at-all: unknown option" ]
		# a short option is named by its letter, the rest of the word not
		run "$p" -Q4711SECRET
		[ "$status" -eq 64 ]
		[[ "$output" != *SECRET* ]]
		[ "${lines[0]}" = "$p: -Q: unknown option" ]
	done
}
