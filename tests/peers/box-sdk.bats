#!/usr/bin/env bats
# The Box emulator against Box's own TypeScript SDK (box-typescript-sdk-gen,
# from npm, pinned in tests/node/package.json): a client nobody here wrote
# must log in and work against it as against Box. tests/peers/box-sdk.mjs
# prints one line per check.

load ../common
load ../tls
load ../box
bats_require_minimum_version 1.5.0

setup_file() {
	box_setup_file
}

setup() {
	common_setup
	[ -d "$TOP/tests/node/node_modules/box-typescript-sdk-gen" ] ||
	    skip "Box's SDK is not installed in tests/node (make deps)"
	box_start --part-size 8388608
}

teardown() {
	box_stop
}

@test "Box's own SDK: every check passes against the emulator" {
	BOX_CTL_PY=$PY BOX_CTL=$TOP/tests/box-emulator \
	    NODE_EXTRA_CA_CERTS=$BOX_CA_FILE NODE_NO_WARNINGS=1 \
	    run --separate-stderr node "$TOP/tests/peers/box-sdk.mjs"
	printf '# %s\n' "${lines[@]}" >&3
	[ "$status" -eq 0 ]
	# every check ran and passed: none skipped by a crash half-way
	[ "$(printf '%s\n' "$output" | grep -c '^ok ')" -eq 16 ]
	[ "$(printf '%s\n' "$output" | tail -n 1)" = "1..16" ]
	! printf '%s\n' "$output" | grep -q '^not ok'
}
