#!/bin/sh
# bench/phi-redact.sh: a benchmark, not a test. phi-redact against
# csv-shape's pass-through of the same file, in the same run.
#
# Generates (once, under bench/.work/) an 11-column scheduling extract of
# ROWS rows with realistic patient columns, then, RUNS times in turn:
#   - csv-shape FILE (every column through, the parse and write alone),
#   - phi-redact with 3 hash, 2 shift, 1 zip3 and 2 drop rules (3 keep),
#   - the same phi-redact on one thread (SCHEDFEED_THREADS=1),
# and prints each median wall and CPU time, the ratio of phi-redact's median
# to csv-shape's (target: at most 1.7x) and whether the multi-core output
# is byte for byte the one-thread output (both made after, untimed: every
# timed run writes to /dev/null). Then it feeds phi-redact about
# 2 GB through a pipe (BIG_COPIES copies of the file) and reports its peak
# resident size (target: under 8 MB).
#
#   sh bench/phi-redact.sh               (ROWS=2000000 RUNS=5 BIG_COPIES=9)
#   ROWS=200000 BIG_COPIES=1 sh bench/phi-redact.sh   (a quick look)
#
# Peers: csv-shape (built here), python3 for the data, GNU time for the
# figures; as root it installs the missing Debian packages, otherwise it
# names them and exits 69.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
ROWS=${ROWS:-2000000}
RUNS=${RUNS:-5}
BIG_COPIES=${BIG_COPIES:-9}
BUILD=${BUILD:-build-bench}
WORK=$TOP/bench/.work
DATA=$WORK/phi-redact-$ROWS.csv
# shellcheck source=bench/peers.sh
. bench/peers.sh
bench_need bench/phi-redact.sh time:time python3:python3 bc:bc
mkdir -p "$WORK"
make -s BUILD="$BUILD" "$BUILD/bin/phi-redact" "$BUILD/bin/csv-shape"
REDACT=$TOP/$BUILD/bin/phi-redact
SHAPE=$TOP/$BUILD/bin/csv-shape

generate() {
	# rows, file: synthetic people, seeded so every run sees the same file
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import random, sys
rows, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261123)
first = ["Jane", "John", "Maria", "José", "Wei", "Aisha", "Olga", "Núñez",
         "Kwame", "Priya", "Liam", "Fatima", "Chen", "Sofia", "Omar"]
last = ["Doe", "Smith", "García", "O'Brien", "Nguyen", "Kowalski", "Patel",
        "Johnson", "Müller", "Okafor", "Rossi", "Haddad", "Kim", "Silva"]
where = ["Infusion, 4th Floor", "Chair 12", "Bed 3", "Infusion Suite A",
         "Chair 7", "Radiology \"B\" Wing"]
what = ["IV Chemo Initial Hr", "Hydration", "Blood Trans", "Phlebotomy",
        "Chemo Teach", "Platelet Trans", "SQ/IM NH Chemo"]
zips = ["48234", "48180", "48201", "03601", "10201", "87501-1234",
        "89301", "60614", "94110", "02139"]
with open(path, "w", encoding="utf-8", newline="") as out:
    out.write("appt_id,mrn,account_number,last_name,first_name,dob,"
              "appt_dttm,zip_code,location,activity,duration_min\n")
    lines = []
    for i in range(rows):
        patient = rng.randrange(200000)
        loc = where[rng.randrange(len(where))]
        loc = '"' + loc.replace('"', '""') + '"' if ("," in loc or '"' in loc) else loc
        lines.append("%d,MRN%07d,AC%09d,%s,%s,%04d-%02d-%02d,"
                     "2026-%02d-%02d %02d:%02d:00,%s,%s,%s,%d\n" % (
            1000000 + i, patient, patient * 7 + 3,
            last[patient % len(last)], first[patient % len(first)],
            1930 + patient % 90, 1 + patient % 12, 1 + patient % 28,
            1 + rng.randrange(12), 1 + rng.randrange(28),
            7 + rng.randrange(11), rng.choice((0, 15, 30, 45)),
            zips[patient % len(zips)], loc,
            what[rng.randrange(len(what))], 15 * (1 + rng.randrange(16))))
        if len(lines) == 10000:
            out.writelines(lines)
            lines = []
    out.writelines(lines)
EOF
}

[ -s "$DATA" ] || generate "$ROWS" "$DATA"

# A throw-away key: the benchmark's tokens are never kept.
PHI_REDACT_KEY=$(openssl rand -hex 32)
export PHI_REDACT_KEY

# the rules (no spaces in them: split by the shell where used)
RULES="--hash appt_id,mrn,account_number --shift dob,appt_dttm --subject mrn
--zip3 zip_code --drop last_name,first_name --keep location,activity,duration_min"

# timed NAME OUT CMD...: runs CMD with stdout to OUT; appends
# "NAME wall cpu rss" to $WORK/phi-runs.txt
timed() {
	name=$1 out=$2
	shift 2
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/phi-time.txt" "$@" >"$out"
	read -r wall user sys rss <"$WORK/phi-time.txt"
	echo "$name $wall $(echo "$user + $sys" | bc) $rss" >>"$WORK/phi-runs.txt"
}

: >"$WORK/phi-runs.txt"
# once untimed, so that every timed run finds the file in the page cache
"$SHAPE" "$DATA" >/dev/null
# Every timed run writes to /dev/null, as csv-shape's does: the same sink
# for all, so no run pays for the page cache of its output. The outputs
# compared are made after, untimed.
i=0
while [ "$i" -lt "$RUNS" ]; do
	timed csv-shape /dev/null "$SHAPE" "$DATA"
	# shellcheck disable=SC2086
	timed phi-redact /dev/null "$REDACT" $RULES "$DATA"
	# shellcheck disable=SC2086
	timed phi-redact-1-thread /dev/null \
	    env SCHEDFEED_THREADS=1 "$REDACT" $RULES "$DATA"
	i=$((i + 1))
done
# shellcheck disable=SC2086
"$REDACT" $RULES "$DATA" >"$WORK/phi-multi.csv"
# shellcheck disable=SC2086
SCHEDFEED_THREADS=1 "$REDACT" $RULES "$DATA" >"$WORK/phi-one.csv"
if cmp -s "$WORK/phi-multi.csv" "$WORK/phi-one.csv"; then
	same="yes"
else
	same="NO (a FAIL)"
fi
rm -f "$WORK/phi-multi.csv" "$WORK/phi-one.csv"

bytes=$(stat -c %s "$DATA")
echo "phi-redact vs csv-shape's pass-through, $ROWS rows, $bytes bytes," \
    "median of $RUNS runs each, taking turns ($(nproc) cores):"
awk -v bytes="$bytes" "$BENCH_AWK_MEDIAN"'
{ wall[$1] = wall[$1] " " $2; cpu[$1] = cpu[$1] " " $3; n[$1]++
  if ($4 > rss[$1]) rss[$1] = $4
  # each turn: phi-redact right after csv-shape, their ratio in that turn
  if ($1 == "csv-shape") last_shape = $2
  if ($1 == "phi-redact" && last_shape > 0) {
	turns = turns " " $2 / last_shape; turn_count++
  } }
END {
	split("csv-shape phi-redact phi-redact-1-thread", order, " ")
	for (k = 1; k <= 3; k++) {
		name = order[k]
		w[name] = median(wall[name], n[name])
		c[name] = median(cpu[name], n[name])
		printf "  %-20s %6.2f s wall %6.1f MB/s  %6.2f s CPU  peak RSS %d KiB\n",
		    name, w[name], bytes / 1e6 / w[name], c[name], rss[name]
	}
	ratio = w["phi-redact"] / w["csv-shape"]
	printf "  phi-redact / csv-shape: %.3fx the time (target at most 1.7x: %s), %.3fx the CPU\n",
	    ratio, ratio <= 1.7 ? "PASS" : "FAIL", c["phi-redact"] / c["csv-shape"]
	printf "  the same ratio turn by turn (this machine'"'"'s speed drifts): median %.3fx of%s\n",
	    median(turns, turn_count), turns
	printf "  phi-redact one thread / on every core: %.3fx the time\n",
	    w["phi-redact-1-thread"] / w["phi-redact"]
}' "$WORK/phi-runs.txt"
echo "  multi-core output identical to the one-thread output: $same"

# About 2 GB through a pipe: the header once, then the rows BIG_COPIES times.
big() {
	head -n 1 "$DATA"
	i=0
	while [ "$i" -lt "$BIG_COPIES" ]; do
		tail -n +2 "$DATA"
		i=$((i + 1))
	done
}
# shellcheck disable=SC2086
big | /usr/bin/time -f "%e %M" -o "$WORK/phi-time.txt" "$REDACT" $RULES |
    wc -c >"$WORK/phi-big-out.txt"
read -r wall rss <"$WORK/phi-time.txt"
awk -v copies="$BIG_COPIES" -v bytes="$bytes" -v wall="$wall" -v rss="$rss" \
    -v out="$(cat "$WORK/phi-big-out.txt")" 'BEGIN {
	in_bytes = copies * bytes
	printf "  %.2f GB through a pipe in %.2f s (%d bytes out): peak RSS %d KiB" \
	    " (target under 8 MB: %s)\n", in_bytes / 1e9, wall, out, rss,
	    rss < 8192 ? "PASS" : "FAIL"
}'
