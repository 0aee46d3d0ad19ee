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
#
# Then the MySQL path (unless MYSQL=0): a throw-away MariaDB server
# (Debian's mariadb-server, its data directory under a temporary
# directory, a free port, stopped at the end) holding the same rows, read
# by sched-query --driver mysql and by the mariadb client's --batch
# output; it prints the ratio of their client CPU (target: at most 1.00)
# and sched-query's peak RSS (target: under 16 MB).
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

[ "${MYSQL:-1}" = 0 ] && exit 0
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
if [ ! -x "$MARIADBD" ] || ! command -v mariadb >/dev/null; then
	echo "no MariaDB server or client: MySQL path skipped (Debian packages mariadb-server, mariadb-client)"
	exit 0
fi
ROWS=$((ROWS * 10))
MYDIR=$(mktemp -d /tmp/sched-query-bench.XXXXXX)
chmod 755 "$MYDIR"
OWNER=
if [ "$(id -u)" = 0 ]; then
	OWNER=--user=mysql
	chown mysql "$MYDIR"
fi
MYPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MYSOCK=$MYDIR/mysqld.sock
mariadb-install-db --no-defaults $OWNER --datadir="$MYDIR/data" \
    --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
    --skip-test-db >"$MYDIR/install.log" 2>&1 ||
    { cat "$MYDIR/install.log" >&2; exit 1; }
"$MARIADBD" --no-defaults $OWNER --datadir="$MYDIR/data" --bind-address=127.0.0.1 \
    --port="$MYPORT" --socket="$MYSOCK" --log-error="$MYDIR/error.log" \
    --skip-log-bin --innodb-buffer-pool-size=256M --skip-name-resolve \
    --character-set-server=utf8mb4 </dev/null >/dev/null 2>&1 &
MY_PID=$!
trap 'kill $TDSD_PID $MY_PID 2>/dev/null; wait $TDSD_PID $MY_PID 2>/dev/null; rm -rf "$MYDIR"' EXIT INT TERM
i=0
until mariadb --no-defaults -S "$MYSOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 300 ] || { echo "mariadbd did not start" >&2; cat "$MYDIR/error.log" >&2; exit 1; }
	sleep 0.1
done
echo "loading $ROWS rows into MariaDB ..." >&2
mariadb --no-defaults -S "$MYSOCK" -uroot <<EOF
CREATE DATABASE bench CHARACTER SET utf8mb4;
CREATE USER 'schedfeed'@'127.0.0.1' IDENTIFIED BY 'schedfeed';
GRANT SELECT ON bench.* TO 'schedfeed'@'127.0.0.1';
USE bench;
CREATE TABLE appt (
	id INT PRIMARY KEY, patient VARCHAR(40), appt_date DATE,
	starts DATETIME, length_min SMALLINT, dose DECIMAL(10,3),
	copay DECIMAL(19,4), confirmed BIT(1), weight DOUBLE, mrn BIGINT);
INSERT INTO appt SELECT seq,
	CONCAT('Patient ', seq % 9973, ', Núñez'),
	DATE('2024-01-01') + INTERVAL (seq % 365) DAY,
	TIMESTAMP('2024-01-01 07:00:00') + INTERVAL (seq % 365) DAY + INTERVAL (seq % 600) MINUTE,
	15 * (1 + seq % 8), (seq % 100000) / 1000, (seq % 5000) / 100,
	seq % 2, 40 + (seq % 800) / 10, 9000000000 + seq
FROM seq_1_to_$ROWS;
EOF
export SCHEDFEED_DB_PORT=$MYPORT SCHEDFEED_DB_DATABASE=bench SCHEDFEED_DB_DRIVER=mysql
# the mariadb client reads its password from MYSQL_PWD (not argv)
export MYSQL_PWD=schedfeed
echo "$ROWS rows x 10 columns from MariaDB on 127.0.0.1:$MYPORT"
measure 'sq mysql' "$SQ" -e "$QUERY"
test "$(wc -l <"$WORK/out")" -eq $((ROWS + 1)) ||
    { echo "sched-query: wrong row count" >&2; exit 1; }
SQ_TIME=$(cat "$WORK/time")
measure 'mariadb' mariadb --no-defaults --batch -h 127.0.0.1 -P "$MYPORT" \
    -u schedfeed bench -e "$QUERY"
echo "$SQ_TIME" | awk -v other="$(cat "$WORK/time")" '{
	split(other, o, " ")
	sq = $2 + $3; cl = o[2] + o[3]
	printf "sched-query / mariadb --batch client CPU: %.2f (target <= 1.00: %s); sched-query peak RSS %.1f MB (target < 16: %s)\n",
	    sq / (cl > 0 ? cl : 0.01), sq <= cl ? "PASS" : "FAIL", $4 / 1024, $4 < 16384 ? "PASS" : "FAIL"
}'
