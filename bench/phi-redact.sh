#!/bin/sh
# bench/phi-redact.sh: phi-redact's throughput and memory on 2,000,000 rows.
#
# Generates (once, under bench/.work/) an 11-column scheduling extract with
# realistic patient columns, then redacts it with 3 hash, 2 shift, 1 zip3
# and 2 drop rules (and 3 keep), printing MB/s of input over the wall time
# and over the CPU time (steadier on a busy machine), and the peak RSS from
# /usr/bin/time -v. A run over a tenth of the rows shows that memory
# stays flat: both peaks should be the same.
#
#   sh bench/phi-redact.sh            (uses build/bin/phi-redact)
#   BIN=build-phi/bin/phi-redact ROWS=500000 sh bench/phi-redact.sh
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/phi-redact}
ROWS=${ROWS:-2000000}
WORK=bench/.work
DATA=$WORK/phi-redact-$ROWS.csv
SMALL=$WORK/phi-redact-$((ROWS / 10)).csv
# shellcheck source=bench/peers.sh
. bench/peers.sh
bench_need bench/phi-redact.sh time:time python3:python3
[ -x "$BIN" ] || { echo "bench: $BIN not built (make)" >&2; exit 69; }
mkdir -p "$WORK"

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
[ -s "$SMALL" ] || generate "$((ROWS / 10))" "$SMALL"

# A throw-away key: the benchmark's tokens are never kept.
PHI_REDACT_KEY=$(openssl rand -hex 32)
export PHI_REDACT_KEY

run() {
	# file: prints "rows bytes seconds MB/s peak-KiB"
	/usr/bin/time -v -o "$WORK/phi-redact-time.txt" "$BIN" \
	    --hash appt_id,mrn,account_number --shift dob,appt_dttm \
	    --subject mrn --zip3 zip_code --drop last_name,first_name \
	    --keep location,activity,duration_min "$1" >/dev/null
	bytes=$(stat -c %s "$1")
	awk -v bytes="$bytes" -v file="$1" '
	/Elapsed \(wall clock\)/ {
		n = split($NF, t, ":")
		secs = n == 3 ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2]
	}
	/User time \(seconds\)/ { cpu += $NF }
	/System time \(seconds\)/ { cpu += $NF }
	/Maximum resident set size/ { rss = $NF }
	END {
		printf "%s: %d bytes in %.2f s = %.1f MB/s " \
		    "(CPU %.2f s = %.1f MB/s), peak RSS %d KiB\n",
		    file, bytes, secs, bytes / 1e6 / secs, cpu,
		    bytes / 1e6 / cpu, rss
	}' "$WORK/phi-redact-time.txt"
}

run "$SMALL"
run "$DATA"
