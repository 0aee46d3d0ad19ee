#!/usr/bin/env bats
# The fuzz targets' kept inputs (tests/fuzz/regress/TARGET: each crash a
# fuzzing run found, after its fix) and seeds, run once through the
# libFuzzer targets under ASan and UBSan. make fuzz does the fuzzing.

load common

setup_file() {
	if ! command -v clang >/dev/null ||
	    ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
		export FUZZ_SKIP="clang and libclang-rt-14-dev are needed (.ci/deps)"
		return 0
	fi
	make -C "$TOP" -s -j2 fuzz-build >&3 2>&1
}

setup() {
	common_setup
	[ -z "${FUZZ_SKIP:-}" ] || skip "$FUZZ_SKIP"
}

# replay TARGET DIR: every file of DIR through the target, which must
# neither crash nor report
replay() {
	local files
	files=$(find "$2" -type f | sort)
	[ -n "$files" ]
	# shellcheck disable=SC2086
	ASAN_OPTIONS=detect_leaks=0 run "$TOP/build-fuzz/bin/$1" $files
	[ "$status" -eq 0 ]
	[[ "$output" != *ERROR* && "$output" != *"runtime error"* ]]
	[ "$(grep -c '^Executed ' <<<"$output")" -eq "$(wc -l <<<"$files")" ]
}

@test "fuzz regression: tdsd's reader takes an empty first packet (UBSan: offset on a NULL buffer)" {
	replay tdsd_packet "$TOP/tests/fuzz/regress/tdsd_packet"
}

@test "fuzz regression: every kept input and seed of every target runs clean" {
	for d in "$TOP"/tests/fuzz/regress/* "$TOP"/tests/fuzz/seeds/*; do
		[ -d "$d" ] || continue
		replay "$(basename "$d")" "$d"
	done
}
