#!/usr/bin/env bats
# Every program: a mistyped, unknown or ambiguous option is named in the
# usage error, never echoed with its value (which may be a secret or PHI).

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
