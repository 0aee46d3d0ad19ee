#!/bin/sh
# run.sh BUILD SECONDS TARGET...: each libFuzzer target for SECONDS on its
# corpus (BUILD/corpus/TARGET: the seeds below, the kept regression inputs
# of tests/fuzz/regress/TARGET, and whatever earlier runs found), then one
# line per target: executions and findings. Findings are kept under
# BUILD/findings/TARGET; the status is 1 when there are any.
set -u
build=$1 seconds=$2
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
fix=$top/tests/fixtures

# seed TARGET OPTION-BYTE FILE...: FILE as a seed, after the byte the
# target reads its options from (none when OPTION-BYTE is -)
seed() {
	t=$1 opt=$2
	shift 2
	for f in "$@"; do
		[ -f "$f" ] || continue
		out=$build/corpus/$t/seed-$(basename "$f")-$opt
		if [ "$opt" = - ]; then
			cp "$f" "$out"
		else
			{ printf "\\$(printf %03o "$opt")"; cat "$f"; } >"$out"
		fi
	done
}

csvs="$fix/csv-shape/patient_appointments.sample.csv
$fix/csv-shape/patients_form_print.sample.csv $fix/phi-redact/patients_form_print.sample.csv
$fix/iq_daily/unmcc_2026_11_23.csv $fix/mtp/business_requisition_2026-11-23_0900.csv"
pipes="$fix/csv-shape/patient_appointments.pipe.csv $fix/csv-shape/patients_form_print.pipe.csv"
rc=0
for t in "$@"; do
	mkdir -p "$build/corpus/$t" "$build/findings/$t"
	case $t in
	csv_read|csv_chunks)
		# comma with a header; the same two workers and a 1K limit;
		# the pipe dialect's '|'
		seed "$t" 4 $csvs
		seed "$t" 52 $csvs
		seed "$t" 7 $pipes ;;
	schema)
		seed "$t" 1 "$fix"/csv-shape/*.schema "$top"/pipelines/shapes/*.schema
		seed "$t" 0 "$fix"/csv-shape/*.shape "$top"/pipelines/shapes/*.shape ;;
	policy)
		seed "$t" - "$fix"/phi-redact/*.policy ;;
	*)
		seed "$t" - "$top"/tests/fuzz/seeds/"$t"/* ;;
	esac
	[ -d "$top/tests/fuzz/regress/$t" ] &&
		cp "$top/tests/fuzz/regress/$t"/* "$build/corpus/$t/" 2>/dev/null
	log=$build/findings/$t.log
	# the programs' diagnostics are expected by the thousand: closed
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	"$build/bin/$t" -max_total_time="$seconds" -timeout=20 \
		-rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
		-artifact_prefix="$build/findings/$t/" "$build/corpus/$t" \
		>"$log" 2>&1
	status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	found=$(find "$build/findings/$t" -type f | wc -l)
	printf 'fuzz: %-12s %10s executions in %ss, %d findings%s\n' "$t" \
		"${runs:-?}" "$seconds" "$found" \
		"$( [ "$found" -gt 0 ] && echo " (under $build/findings/$t)")"
	if [ "$found" -gt 0 ] || [ "$status" -ne 0 ]; then
		[ "$found" -gt 0 ] || tail -n 20 "$log" >&2
		rc=1
	fi
done
exit $rc
