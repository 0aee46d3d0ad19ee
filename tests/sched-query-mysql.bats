#!/usr/bin/env bats
# sched-query against a real MariaDB server (Debian's mariadb-server) on
# 127.0.0.1: the same contract as over TDS - rows, typed parameters,
# --each-row in one transaction, exit statuses, no value in a message -
# and TLS checked against a CA (a second server, started with a
# certificate for localhost only).

bats_require_minimum_version 1.5.0
load common
load mariadb
load tls

setup_file() {
	local tls=$BATS_FILE_TMPDIR/tls wrap=$BATS_FILE_TMPDIR/wrap
	make_test_ca "$tls"
	# a server certificate for localhost alone: 127.0.0.1 is then the
	# wrong name for it
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$tls/local.key" -out "$tls/local.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/local.ext"
	openssl x509 -req -in "$tls/local.csr" -CA "$tls/ca.pem" \
		-CAkey "$tls/ca.key" -CAcreateserial -days 2 \
		-extfile "$tls/local.ext" -out "$tls/local.pem" 2>/dev/null
	chmod a+rx "$tls"
	chmod a+r "$tls"/*
	path_traversable "$tls"
	# mariadb_start runs the first mariadbd on PATH: this one serves TLS
	mkdir -p "$wrap"
	printf '#!/bin/sh\nexec %s "$@" --ssl-cert=%s --ssl-key=%s\n' \
		"$(_mariadb_bin mariadbd mysqld || echo /usr/sbin/mariadbd)" \
		"$tls/local.pem" "$tls/local.key" >"$wrap/mariadbd"
	chmod 755 "$wrap/mariadbd"
	if ! _mariadb_bin mariadbd mysqld >/dev/null; then
		export MYSQL_SKIP="mariadbd is not installed (Debian package mariadb-server)"
		return 0
	fi
	PATH="$wrap:$PATH" mariadb_start "$BATS_FILE_TMPDIR/mtls"
	export TLS_PORT=$MARIADB_PORT TLS_PID=$MARIADB_PID TLS_DIR=$MARIADB_DIR
	mariadb_start "$BATS_FILE_TMPDIR/m"
	mariadb_sql schedfeed <"$TOP/tests/fixtures/sched-query/appt-mysql.sql"
}

teardown_file() {
	mariadb_stop
	MARIADB_PID=${TLS_PID:-} mariadb_stop
}

setup() {
	common_setup
	[ -z "${MYSQL_SKIP:-}" ] || skip "$MYSQL_SKIP"
	unset SCHEDFEED_DB_ENCRYPT SCHEDFEED_DB_CA_FILE \
		SCHEDFEED_DB_PASSWORD_FILE
	TLS=$BATS_FILE_TMPDIR/tls
}

# start_silent: a TCP listener that accepts and never answers.
start_silent() {
	"$PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' >"$W/silent" 3>&- &
	SILENT_PID=$!
	SILENT_PORT=
	while [ -z "$SILENT_PORT" ]; do
		sleep 0.05
		SILENT_PORT=$(awk '/^[0-9]+$/ { print; exit }' "$W/silent")
	done
}

teardown() {
	if [ -n "${SILENT_PID:-}" ]; then
		kill "$SILENT_PID" 2>/dev/null || true
		wait "$SILENT_PID" 2>/dev/null || true
	fi
}

@test "mysql rows: every type in its pipe-dialect form, NULL empty" {
	run --separate-stderr sched-query -e 'SELECT * FROM appt ORDER BY id'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = 'id,patient,appt_date,starts,length_min,dose,copay,confirmed,weight,mrn,checked_in,slot,photo,note
1,"Núñez, ""Ana""",2024-03-05,2024-03-05 09:30:00,45,12.500,20.0000,1,61.2,9000000001,2024-03-05 09:12:03.1234,09:30:00,0x00FF10,"two
lines"
2,,,,,,,,,,,,,
3,,2024-02-29,2024-02-29 23:59:59,0,-0.005,-1.2500,0,0.1,-1,2024-02-29 00:00:00,00:00:00.5,0x,' ]
}

@test "mysql --null marks NULL and leaves the empty string empty" {
	run --separate-stderr sched-query --null '\N' -e 'SELECT id, note, photo FROM appt ORDER BY id'
	[ "$status" -eq 0 ]
	[ "$output" = 'id,note,photo
1,"two
lines",0x00FF10
2,\N,\N
3,,0x' ]
}

@test "mysql: SCHEDFEED_DB_DRIVER and --driver choose the back end" {
	run --separate-stderr sched-query --driver tds -e 'SELECT 1'
	[ "$status" -eq 75 ]
	[ "$stderr" = "sched-query: connection to 127.0.0.1:$SCHEDFEED_DB_PORT lost during login" ] ||
		[[ $stderr == "sched-query: login to 127.0.0.1:$SCHEDFEED_DB_PORT"* ]]
	SCHEDFEED_DB_DRIVER=tds run --separate-stderr sched-query --driver mysql -e 'SELECT 2 AS two'
	[ "$status" -eq 0 ]
	[ "$output" = $'two\n2' ]
	run --separate-stderr sched-query --driver odbc -e 'SELECT 1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: --driver: want tds or mysql" ]
	SCHEDFEED_DB_DRIVER=oracle run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: SCHEDFEED_DB_DRIVER: want tds or mysql" ]
}

@test "mysql -v: typed parameters by name, values never SQL" {
	run --separate-stderr sched-query -e 'SELECT id FROM appt
WHERE patient = @who OR id = @id OR starts = @at OR dose = @dose OR appt_date = @day
ORDER BY id' -v 'who=Núñez, "Ana"' -v id:int=3 -v 'at:datetime=2024-02-29 23:59:59' \
		-v dose:decimal=99.5 -v day:date=2099-01-01
	[ "$status" -eq 0 ]
	[ "$output" = $'id\n1\n3' ]
	run --separate-stderr sched-query -e 'SELECT @who AS who, @n + 1 AS n, @d AS d, @x * 3 AS x' \
		-v "who=x' OR '1'='1; DROP TABLE appt; --" -v n:bigint=9000000000 \
		-v 'd:datetime=2024-01-02T03:04:05.5' -v x:decimal=0.1
	[ "$status" -eq 0 ]
	[ "$output" = "who,n,d,x
x' OR '1'='1; DROP TABLE appt; --,9000000001,2024-01-02 03:04:05.5,0.3" ]
	run --separate-stderr sched-query -e 'SELECT count(*) AS n FROM appt'
	[ "$output" = $'n\n3' ]
	# an empty value binds NULL
	run --separate-stderr sched-query -e 'SELECT @v IS NULL AS null_v' -v v:int=
	[ "$output" = $'null_v\n1' ]
}

@test "mysql -v: @names in quotes and comments, @@variables and other case" {
	run --separate-stderr sched-query -e "SELECT '@who' AS lit, \`@who\` AS col, @WHO AS v,
@@autocommit AS ac -- @who here is a comment
# and @who here
/* and @who */ FROM (SELECT 1 AS \`@who\`) t" -v who=Ann
	[ "$status" -eq 0 ]
	[ "$output" = $'lit,col,v,ac\n@who,1,Ann,1' ]
}

@test "mysql -v: a parameter compares with a column of any collation" {
	# session variables alone are IMPLICIT and would be refused (1267)
	run --separate-stderr sched-query -e 'SELECT id FROM appt WHERE note = @n' \
		-v $'n=two\nlines'
	[ "$status" -eq 0 ]
	[ "$output" = $'id\n1' ]
}

@test "mysql: an SQL error is 65 with the server's number, nothing quoted" {
	run --separate-stderr sched-query -e 'SELECT id FROM appt WHERE nope = @id' -v id:int=1
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: server error 1054: Unknown column '***'" ]
	run --separate-stderr sched-query -e 'SELECT 1 AS one; SELECT * FROM nope'
	[ "$status" -eq 65 ]
	[ "$output" = $'one\n1' ]
	[ "$stderr" = "sched-query: server error 1146: Table '***' doesn't exist
sched-query: incomplete result: failed after 1 row" ]
	# MySQL's messages quote the failing value: 1062, 1366, 1292
	run --separate-stderr sched-query -e "INSERT INTO appt (id, patient) VALUES (@id, @who)" \
		-v id:int=1 -v "who=O'Brien, Pat"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: server error 1062: Duplicate entry '***'" ]
	run --separate-stderr sched-query -e "INSERT INTO appt (id, length_min) VALUES (9, @len)" \
		-v "len=SECRET O'Brien"
	[ "$status" -eq 65 ]
	[[ $stderr == "sched-query: server error 1366: Incorrect integer value: '***'"* ]]
	[[ $stderr != *SECRET* && $stderr != *Brien* ]]
	run --separate-stderr sched-query -e 'SELECT count(*) AS n FROM appt'
	[ "$output" = $'n\n3' ]
}

@test "mysql --each-row: one statement per row, typed, in one transaction" {
	mariadb_sql schedfeed <<<'CREATE TABLE visit1 (id INT PRIMARY KEY, who VARCHAR(40) NOT NULL, seen DATE) ENGINE=InnoDB'
	printf 'id,who,seen\n1,Ann,2024-05-01\n2,"O\x27Brien; DROP TABLE visit1",\n3,Núñez,2024-02-29\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int -v seen:date \
		-e 'INSERT INTO visit1 (id, who, seen) VALUES (@id, @who, @seen)' <"$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = $'row,rows_affected\n1,1\n2,1\n3,1' ]
	run mariadb_sql schedfeed <<<'SELECT id, who, seen FROM visit1 ORDER BY id'
	[ "$output" = $'1\tAnn\t2024-05-01\n2\tO\'Brien; DROP TABLE visit1\tNULL\n3\tNúñez\t2024-02-29' ]
}

@test "mysql --each-row: a failing row rolls every row back, 65, rows by number" {
	mariadb_sql schedfeed <<<'CREATE TABLE visit2 (id INT PRIMARY KEY, who VARCHAR(40) NOT NULL) ENGINE=InnoDB'
	printf 'id,who\n1,Ann\n2,Bob\n1,Dup Secret\n3,\n4,Dee\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int \
		-e 'INSERT INTO visit2 (id, who) VALUES (@id, @who)' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: row 3: server error 1062: Duplicate entry '***'
sched-query: 1 row failed: every row rolled back, nothing committed" ]
	run mariadb_sql schedfeed <<<'SELECT count(*) FROM visit2'
	[ "$output" = 0 ]
	# NOT NULL: an empty cell is NULL
	printf 'id,who\n7,\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int \
		-e 'INSERT INTO visit2 (id, who) VALUES (@id, @who)' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: row 1: server error 1048: Column 'who' cannot be null
sched-query: 1 row failed: every row rolled back, nothing committed" ]
}

@test "mysql: wrong password and refused logins are 77" {
	SCHEDFEED_DB_PASSWORD=wrong run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login failed for user schedfeed on 127.0.0.1:$SCHEDFEED_DB_PORT (server error 1045)" ]
	run --separate-stderr sched-query -D mysql -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login failed for user schedfeed on 127.0.0.1:$SCHEDFEED_DB_PORT (server error 1044)" ]
}

@test "mysql: the password comes from SCHEDFEED_DB_PASSWORD_FILE, never argv" {
	printf '%s\n' "$SCHEDFEED_DB_PASSWORD" >"$W/pw"
	chmod 600 "$W/pw"
	SCHEDFEED_DB_PASSWORD= SCHEDFEED_DB_PASSWORD_FILE="$W/pw" \
		run --separate-stderr sched-query -e 'SELECT 5 AS five'
	[ "$status" -eq 0 ]
	[ "$output" = $'five\n5' ]
	run --separate-stderr sched-query -P x -e 'SELECT 1'
	[ "$status" -eq 64 ]
}

@test "mysql: refused, unknown host, silent login and silent query" {
	port=$(free_port)
	run --separate-stderr sched-query -p "$port" -e 'SELECT 1'
	[ "$status" -eq 75 ]
	[ "$stderr" = "sched-query: cannot connect to 127.0.0.1:$port: Connection refused" ]
	run --separate-stderr sched-query -S nosuch.invalid -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: unknown server nosuch.invalid: not a host name that resolves" ]
	start_silent
	run --separate-stderr sched-query -p "$SILENT_PORT" --login-timeout 1 -e 'SELECT 1'
	[ "$status" -eq 75 ]
	[ "$stderr" = "sched-query: login to 127.0.0.1:$SILENT_PORT timed out after 1 s" ]
	run --separate-stderr sched-query --timeout 1 -e 'SELECT 1 AS one UNION ALL SELECT SLEEP(20)'
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: query timed out: nothing from the server for 1 s" ]
}

@test "mysql: a connection dropped mid-result is 75, never a short success" {
	sched-query -e "SELECT seq FROM seq_1_to_5 UNION ALL SELECT SLEEP(30) + 6" \
		>"$W/out" 2>"$W/err" 3>&- &
	pid=$!
	for i in $(seq 200); do
		id=$(mariadb_sql <<<"SELECT id FROM information_schema.processlist WHERE user = 'schedfeed' AND info LIKE '%SLEEP(30)%'")
		[ -z "$id" ] || break
		sleep 0.05
	done
	[ -n "$id" ]
	mariadb_sql <<<"KILL CONNECTION $id"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 75 ]
	[ "$(cat "$W/err")" = "sched-query: lost the connection to the server" ] ||
		[ "$(cat "$W/err")" = "sched-query: lost the connection to the server
sched-query: incomplete result: failed after 5 rows" ]
}

@test "mysql: a million rows stream in flat memory" {
	[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed (Debian package time)"
	/usr/bin/time -f '%M' -o "$W/rss" sched-query \
		-e "SELECT seq AS id, CONCAT('Patient ', seq, ', Núñez') AS name,
		    TIMESTAMP('2024-01-01') + INTERVAL seq MINUTE AS starts
		    FROM seq_1_to_1000000" >"$W/out"
	[ "$(wc -l <"$W/out")" -eq 1000001 ]
	[ "$(sed -n 1000001p "$W/out")" = '1000000,"Patient 1000000, Núñez",2025-11-25 10:40:00' ]
	rss=$(cat "$W/rss")
	echo "peak RSS ${rss} KB"
	[ "$rss" -lt 16384 ]
}

@test "mysql TLS: the server's certificate checked against the CA, 0" {
	run --separate-stderr sched-query -S localhost -p "$TLS_PORT" --encrypt require \
		--ca-file "$TLS/ca.pem" -e "SHOW SESSION STATUS LIKE 'Ssl_version'"
	[ "$status" -eq 0 ]
	[[ $output == $'Variable_name,Value\nSsl_version,TLSv1.'* ]]
	SCHEDFEED_DB_ENCRYPT=require SCHEDFEED_DB_CA_FILE="$TLS/ca.pem" \
		run --separate-stderr sched-query -S localhost -p "$TLS_PORT" -e 'SELECT 7 AS seven'
	[ "$status" -eq 0 ]
	[ "$output" = $'seven\n7' ]
}

@test "mysql TLS: a wrong CA, no CA named (system store) and a wrong host name are 77" {
	run --separate-stderr sched-query -S localhost -p "$TLS_PORT" --encrypt require \
		--ca-file "$TLS/other-ca.pem" -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[[ $stderr == "sched-query: login to localhost:$TLS_PORT failed: TLS: "* ]]
	# the system's store does not hold the test CA
	run --separate-stderr sched-query -S localhost -p "$TLS_PORT" --encrypt require -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[[ $stderr == "sched-query: login to localhost:$TLS_PORT failed: TLS: "* ]]
	# the certificate names localhost only
	run --separate-stderr sched-query -S 127.0.0.1 -p "$TLS_PORT" --encrypt require \
		--ca-file "$TLS/ca.pem" -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[[ $stderr == "sched-query: login to 127.0.0.1:$TLS_PORT failed: TLS: "* ]]
}

@test "mysql TLS: required against a server without TLS is 77; bad CA file 78" {
	run --separate-stderr sched-query --encrypt require --ca-file "$TLS/ca.pem" -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login to 127.0.0.1:$SCHEDFEED_DB_PORT failed: TLS: TLS/SSL error: SSL is required, but the server does not support it" ]
	run --separate-stderr sched-query --encrypt off -e 'SELECT 4 AS four'
	[ "$status" -eq 0 ]
	[ "$output" = $'four\n4' ]
	run --separate-stderr sched-query --encrypt require --ca-file "$W/none.pem" -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: $W/none.pem: cannot read the CA file: No such file or directory" ]
}
