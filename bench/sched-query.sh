#!/bin/sh
# bench/sched-query.sh: a benchmark, not a test. Fills a SQLite database
# (once, under bench/.work/) with ROWS rows of 10 mixed-type columns, serves
# it with tdsd, and fetches the same query with sched-query (to CSV),
# FreeTDS's freebcp (queryout -c) and bsqldb, all to /dev/null. Prints, for
# each, rows/s over the wall time, the client's CPU seconds (user+system)
# and its peak resident size, from /usr/bin/time.
#
#   sh bench/sched-query.sh              (ROWS=1000000)
#   ROWS=100000 sh bench/sched-query.sh  (quick look)
#
# Target: sched-query spends no more client CPU per row than freebcp and
# stays under 16 MB resident. The wall time is tdsd's as much as the
# client's: all three share one tdsd on one machine.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
ROWS=${ROWS:-1000000}
BUILD=${BUILD:-build-bench}
WORK=$TOP/bench/.work
DB=$WORK/sched-query-$ROWS.sqlite
# shellcheck source=bench/peers.sh
. bench/peers.sh
bench_need bench/sched-query.sh freetds-bin:freebcp freetds-bin:bsqldb \
    sqlite3:sqlite3 time:time build-essential:make
QUERY='SELECT id, patient, appt_date, starts, length_min, dose, copay, confirmed, weight, mrn FROM appt'

mkdir -p "$WORK"
make -s BUILD="$BUILD" "$BUILD/bin/sched-query" "$BUILD/bin/tdsd"
SQ=$TOP/$BUILD/bin/sched-query
TDSD=$TOP/$BUILD/bin/tdsd

if [ ! -f "$DB" ]; then
	echo "generating $ROWS rows into $DB ..." >&2
	sqlite3 "$DB.tmp" <<EOF
CREATE TABLE appt (
	id INT PRIMARY KEY, patient NVARCHAR(40), appt_date DATE,
	starts DATETIME, length_min SMALLINT, dose DECIMAL(10,3),
	copay MONEY, confirmed BIT, weight FLOAT, mrn BIGINT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO appt SELECT i,
	'Patient ' || (i % 9973) || ', Núñez',
	date('2024-01-01', '+' || (i % 365) || ' days'),
	datetime('2024-01-01 07:00:00', '+' || (i % 365) || ' days',
	    '+' || (i % 600) || ' minutes'),
	15 * (1 + i % 8),
	(i % 100000) / 1000.0,
	(i % 5000) / 100.0,
	i % 2,
	40 + (i % 800) / 10.0,
	9000000000 + i
FROM n;
EOF
	mv "$DB.tmp" "$DB"
fi

"$TDSD" -f "$DB" -p 0 >"$WORK/tdsd.port" 2>"$WORK/tdsd.err" &
TDSD_PID=$!
trap 'kill $TDSD_PID 2>/dev/null; wait $TDSD_PID 2>/dev/null' EXIT INT TERM
PORT=
while [ -z "$PORT" ]; do
	sleep 0.05
	PORT=$(awk '$1 == "port" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$WORK/tdsd.port")
done

export SCHEDFEED_DB_SERVER=127.0.0.1 SCHEDFEED_DB_PORT="$PORT"
export SCHEDFEED_DB_USER=schedfeed SCHEDFEED_DB_PASSWORD=schedfeed

# measure NAME COMMAND...: one line of figures from /usr/bin/time
measure() {
	name=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" ||
	    { echo "$name failed:" >&2; cat "$WORK/err" >&2; exit 1; }
	awk -v name="$name" -v rows="$ROWS" '{
		cpu = $2 + $3
		printf "%-12s %10.0f rows/s  %6.2f s wall  %6.2f s CPU  %7.0f ns CPU/row  %6.1f MB peak RSS\n",
		    name, rows / ($1 > 0 ? $1 : 0.01), $1, cpu, cpu * 1e9 / rows, $4 / 1024
	}' "$WORK/time"
}

echo "$ROWS rows x 10 columns from tdsd on 127.0.0.1:$PORT"
measure sched-query "$SQ" -e "$QUERY"
test "$(wc -l <"$WORK/out")" -eq $((ROWS + 1)) ||
    { echo "sched-query: wrong row count" >&2; exit 1; }
measure freebcp freebcp "$QUERY" queryout /dev/stdout -c \
    -S "127.0.0.1:$PORT" -U schedfeed -P schedfeed
echo "$QUERY" >"$WORK/query.sql"
# bsqldb stops at a DATE column ("type 40 not supported") under TDS 7.4;
# as a TDS 7.2 client it gets DATE as text, as SQL Server would send it.
measure 'bsqldb 7.2' env TDSVER=7.2 bsqldb -S "127.0.0.1:$PORT" -U schedfeed -P schedfeed \
    -i "$WORK/query.sql"
# the same with a tenth of the rows: flat memory means the same peak
ROWS=$((ROWS / 10))
measure 'sq (1/10)' "$SQ" -e "$QUERY WHERE id <= $ROWS"
