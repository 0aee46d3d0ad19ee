#!/usr/bin/env bats
# sched-query against tdsd: rows, types, parameters, --each-row, and every
# failure the issue names (login, timeouts, unreachable, drops, SQL errors).

bats_require_minimum_version 1.5.0
load common
load tdsd

FIX="$TOP/tests/fixtures/sched-query"

setup() {
	common_setup
	export SCHEDFEED_DB_SERVER=127.0.0.1
	export SCHEDFEED_DB_USER=schedfeed
	export SCHEDFEED_DB_PASSWORD=schedfeed
	unset SCHEDFEED_DB_PORT SCHEDFEED_DB_DATABASE SCHEDFEED_DB_ENCRYPT \
		SCHEDFEED_DB_CA_FILE SCHEDFEED_DB_PASSWORD_FILE FREETDSCONF \
		FREETDS TDSVER TDSDUMP
	DB="$W/appt.sqlite"
	sqlite3 "$DB" <"$FIX/appt.sql"
}

teardown() {
	local pid
	tdsd_stop_all
	for pid in $(cat "$W/pids" 2>/dev/null); do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# start_silent: a TCP listener that accepts and never answers.
start_silent() {
	"$PY" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' >"$W/silent" 3>&- &
	echo $! >>"$W/pids"
	SCHEDFEED_DB_PORT=
	while [ -z "$SCHEDFEED_DB_PORT" ]; do
		sleep 0.05
		SCHEDFEED_DB_PORT=$(awk '/^[0-9]+$/ { print; exit }' "$W/silent")
	done
	export SCHEDFEED_DB_PORT
}

@test "rows: every type in its pipe-dialect form, NULL empty" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e 'SELECT * FROM appt ORDER BY id'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = 'id,patient,appt_date,starts,length_min,dose,copay,confirmed,weight,mrn,checked_in,slot
1,"Núñez, ""Ana""",2024-03-05,2024-03-05 09:30:00,45,12.500,20.0000,1,61.2,9000000001,2024-03-05 09:12:03.1234567,09:30:00
2,,,,,,,,,,,
3,,2024-02-29,2024-02-29 23:59:59.997,0,-0.005,-1.2500,0,0.1,-1,2024-02-29 00:00:00,00:00:00.5' ]
}

@test "--null marks NULL and leaves the empty string empty" {
	tdsd_start "$DB"
	run --separate-stderr sched-query --null '\N' \
		-e 'SELECT id, patient FROM appt ORDER BY id'
	[ "$status" -eq 0 ]
	[ "$output" = 'id,patient
1,"Núñez, ""Ana"""
2,\N
3,' ]
}

@test "-f reads the statement from a file; a missing file is 66" {
	tdsd_start "$DB"
	printf 'SELECT id\nFROM appt\nWHERE id = @id\n' >"$W/q.sql"
	run --separate-stderr sched-query -f "$W/q.sql" -v id:int=3
	[ "$status" -eq 0 ]
	[ "$output" = $'id\n3' ]
	run --separate-stderr sched-query -f "$W/none.sql"
	[ "$status" -eq 66 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: $W/none.sql: cannot open: No such file or directory" ]
}

@test "-v binds typed parameters by name" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e 'SELECT id FROM appt
WHERE appt_date = @day AND starts = @at AND mrn = @mrn AND dose = @dose
AND length_min = @len AND patient = @who' \
		-v day:date=2024-03-05 -v 'at:datetime=2024-03-05T09:30' \
		-v mrn:BIGINT=9000000001 -v dose:decimal=12.500 -v len:int=45 \
		-v 'who=Núñez, "Ana"'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = $'id\n1' ]
}

@test "a statement longer than 4000 characters is sent whole" {
	tdsd_start "$DB"
	# The statement travels as sp_executesql's @stmt; a cut one would end
	# inside the comment and return nothing.
	pad=$(printf '%05000d' 0)
	run --separate-stderr sched-query -e "/* $pad */ SELECT id FROM appt WHERE length_min = @len" -v len:int=45
	[ "$status" -eq 0 ]
	[ "$output" = $'id\n1' ]
}

@test "-v: a value is a string, never SQL" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e 'SELECT @v AS v, @n AS n' \
		-v "v=O'Brien; DROP TABLE appt" -v n:decimal=-0.50
	[ "$status" -eq 0 ]
	[ "$output" = $'v,n\nO\'Brien; DROP TABLE appt,-0.50' ]
	run sqlite3 "$DB" 'SELECT count(*) FROM appt'
	[ "$output" = 3 ]
}

@test "-v with an empty value binds NULL" {
	tdsd_start "$DB"
	run --separate-stderr sched-query --null NULL \
		-e 'SELECT @d IS NULL AS is_null, @d AS d' -v d:date=
	[ "$status" -eq 0 ]
	[ "$output" = $'is_null,d\n1,NULL' ]
}

@test "-v: bad values are 65 without the value; bad specs are 64" {
	run --separate-stderr sched-query -e 'SELECT 1' -v n:int=12x
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: -v n: not a valid int" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v n:int=2147483648
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: -v n: not a valid int" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v d:date=2023-02-29
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: -v d: not a valid date" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v 't:datetime=1700-01-01 00:00'
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: -v t: not a valid datetime" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v x:decimal=1.2.3
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: -v x: not a valid decimal" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v n:money=1
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: -v n: unknown type money (int, bigint, decimal, date, datetime, nvarchar)" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v 'a b=1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: -v: a b is not a parameter name (letters, digits, _)" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v a=1 -v a=2
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: -v a: given twice" ]
	run --separate-stderr sched-query -e 'SELECT 1' -v a:int
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: -v a: needs =VALUE (a bare NAME:TYPE is for --each-row)" ]
	[ "$output" = "" ]
}

@test "a result without columns prints nothing" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e "UPDATE appt SET confirmed = 1 WHERE id = 3"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run sqlite3 "$DB" 'SELECT confirmed FROM appt WHERE id = 3'
	[ "$output" = 1 ]
}

@test "result sets with the same columns share one header" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e 'SELECT id FROM appt WHERE id = 1
UPDATE appt SET copay = 0 WHERE id = 2
SELECT id FROM appt WHERE id = 3'
	[ "$status" -eq 0 ]
	[ "$output" = $'id\n1\n3' ]
}

@test "result sets with other columns are 65, unless --all" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e 'SELECT id FROM appt WHERE id = 1
SELECT patient FROM appt WHERE id = 2'
	[ "$status" -eq 65 ]
	[ "$output" = $'id\n1' ]
	[ "$stderr" = "sched-query: result set 2 has other columns than the first; --all prints every result set
sched-query: incomplete result: failed after 1 row" ]
	run --separate-stderr sched-query --all -e 'SELECT id FROM appt WHERE id = 1
SELECT patient FROM appt WHERE id = 1'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = 'id
1

patient
"Núñez, ""Ana"""' ]
}

@test "an SQL error is 65 with the server's number and line" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e 'SELECT 1 AS one
SELECT * FROM nope'
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: server error 208, line 2: no such table: nope
sched-query: incomplete result: failed after 1 row" ]
}

@test "server messages never carry a bound value" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e "SELECT json_extract('{}', @who)" \
		-v 'who=Zed Q. Public'
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: server error 50000, line 1: JSON path error near '***'" ]
}

# raise_messages DB: table boomN whose inserts fail with the Nth message
# below, word for word as SQL Server puts it (tdsd passes a trigger's
# RAISE text through as the server's message). The values in them stand
# for patient data and must never reach stderr.
raise_messages() {
	local n=0 msg sql=
	while IFS= read -r msg; do
		n=$((n + 1))
		sql+="CREATE TABLE boom$n (id INT);
CREATE TRIGGER boom${n}_t BEFORE INSERT ON boom$n BEGIN SELECT RAISE(ABORT, '${msg//\'/\'\'}'); END;
"
	done <<'EOF'
String or binary data would be truncated in table 'hospital.dbo.patient', column 'name'. Truncated value: 'SECRET O'Brien, Pat'.
Violation of PRIMARY KEY constraint 'PK_patient'. Cannot insert duplicate key in object 'dbo.patient'. The duplicate key value is (O'Brien, Pat).
Cannot insert duplicate key row in object 'dbo.patient' with unique index 'ix_mrn'. The duplicate key value is (MRN123, SECRET).
Conversion failed when converting the varchar value 'SECRET O'Brien' to data type int.
Error converting data type varchar to numeric.
Cannot insert the value NULL into column 'mrn', table 'hospital.dbo.patient'; column does not allow nulls. INSERT fails.
The INSERT statement conflicted with the FOREIGN KEY constraint "FK_appt_patient". The conflict occurred in database "hospital", table "dbo.patient", column 'id'.
Conversion failed when converting date and/or time from character string.
The duplicate key value is (a) SECRET, (b).
EOF
	sqlite3 "$1" "$sql"
}

@test "server messages never show a quoted or parenthesised literal" {
	raise_messages "$DB"
	tdsd_start "$DB"
	local expect=(
		"String or binary data would be truncated in table '***'."
		"Violation of PRIMARY KEY constraint '***'. The duplicate key value is (***)."
		"Cannot insert duplicate key row in object '***'. The duplicate key value is (***)."
		"Conversion failed when converting the varchar value '***' to data type int."
		"Error converting data type varchar to numeric."
		"Cannot insert the value NULL into column '***'; column does not allow nulls. INSERT fails."
		"The INSERT statement conflicted with the FOREIGN KEY constraint \"***\", column '***'."
		"Conversion failed when converting date and/or time from character string."
		"The duplicate key value is (***)."
	)
	for n in $(seq ${#expect[@]}); do
		run --separate-stderr sched-query -e "INSERT INTO boom$n VALUES (1)"
		[ "$status" -eq 65 ]
		[ "$output" = "" ]
		[ "$stderr" = "sched-query: server error 547, line 1: ${expect[n - 1]}" ]
		[[ $stderr != *SECRET* && $stderr != *Brien* && $stderr != *MRN123* ]]
	done
	# the same through --each-row, where the row is named
	printf 'id\n1\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int \
		-e 'INSERT INTO boom2 VALUES (@id)' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: row 1: server error 547, line 1: ${expect[1]}
sched-query: 1 row failed: every row rolled back, nothing committed" ]
}

@test "INFO messages reach stderr only with --verbose" {
	tdsd_start "$DB"
	run --separate-stderr sched-query -e "PRINT 'checked'"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
	run --separate-stderr sched-query --verbose -e "PRINT 'checked'"
	[ "$status" -eq 0 ]
	[ "$stderr" = "sched-query: server: checked" ]
	[ "$output" = "" ]
}

@test "-S -p -D -U override the environment" {
	tdsd_start "$DB"
	port=$SCHEDFEED_DB_PORT
	SCHEDFEED_DB_SERVER=nosuch.invalid SCHEDFEED_DB_PORT=1 \
		SCHEDFEED_DB_USER=nobody SCHEDFEED_DB_DATABASE=elsewhere \
		run --separate-stderr sched-query -S 127.0.0.1 -p "$port" \
		-U schedfeed -D MOSAIQ -e 'SELECT count(*) AS n FROM appt'
	[ "$status" -eq 0 ]
	[ "$output" = $'n\n3' ]
	run --separate-stderr sched-query -U nobody -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login failed for user nobody on 127.0.0.1:$port (server error 18456)" ]
}

@test "wrong password and refused logins are 77" {
	tdsd_start "$DB"
	SCHEDFEED_DB_PASSWORD=wrong run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: login failed for user schedfeed on 127.0.0.1:$SCHEDFEED_DB_PORT (server error 18456)" ]
	tdsd_start "$DB" --refuse-logins
	run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login failed for user schedfeed on 127.0.0.1:$SCHEDFEED_DB_PORT (server error 18456)" ]
}

@test "the password comes from SCHEDFEED_DB_PASSWORD_FILE, never argv" {
	tdsd_start "$DB"
	printf 'schedfeed\n' >"$W/pw"
	unset SCHEDFEED_DB_PASSWORD
	SCHEDFEED_DB_PASSWORD_FILE="$W/pw" run --separate-stderr sched-query -e 'SELECT 2 AS two'
	[ "$status" -eq 0 ]
	[ "$output" = $'two\n2' ]
	run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: no secret: set SCHEDFEED_DB_PASSWORD or SCHEDFEED_DB_PASSWORD_FILE" ]
	run --separate-stderr sched-query -P schedfeed -e 'SELECT 1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: -P: secrets are not accepted on the command line; set SCHEDFEED_DB_PASSWORD or SCHEDFEED_DB_PASSWORD_FILE" ]
	run --separate-stderr sched-query --password=schedfeed -e 'SELECT 1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: --password: secrets are not accepted on the command line; set SCHEDFEED_DB_PASSWORD or SCHEDFEED_DB_PASSWORD_FILE" ]
}

@test "a refused connection is 75" {
	port=$(free_port)
	run --separate-stderr sched-query -p "$port" -e 'SELECT 1'
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: cannot connect to 127.0.0.1:$port: Connection refused" ]
}

@test "a login that gets no answer times out with 75" {
	start_silent
	SECONDS=0
	run --separate-stderr sched-query --login-timeout 1 -e 'SELECT 1'
	[ "$status" -eq 75 ]
	[ "$stderr" = "sched-query: login to 127.0.0.1:$SCHEDFEED_DB_PORT timed out after 1 s" ]
	[ "$SECONDS" -le 3 ]
}

@test "a query that gets no answer times out with 75" {
	tdsd_start "$DB" --row-delay-ms 5000
	SECONDS=0
	run --separate-stderr sched-query --timeout 1 -e 'SELECT id FROM appt'
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: query timed out: nothing from the server for 1 s" ]
	[ "$SECONDS" -le 4 ]
}

@test "a connection dropped mid-result is 75, never a short success" {
	sqlite3 "$DB" 'CREATE TABLE many(n INT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
INSERT INTO many SELECT x FROM c;'
	tdsd_start "$DB" --drop-after-rows 1000
	run --separate-stderr sched-query -e 'SELECT n FROM many'
	[ "$status" -eq 75 ]
	[ "$stderr" = "sched-query: lost the connection to the server
sched-query: incomplete result: failed after 1000 rows" ]
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 1001 ]
}

@test "unknown server names and bad FreeTDS settings are 78" {
	run --separate-stderr sched-query -S nosuch.invalid -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: unknown server nosuch.invalid: not a freetds.conf name nor a host name that resolves" ]
	printf '[global]\n\tencryption = sometimes\n' >"$W/freetds.conf"
	FREETDSCONF="$W/freetds.conf" run --separate-stderr sched-query -p 1 -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: bad FreeTDS configuration for 127.0.0.1 (see freetds.conf)" ]
	SCHEDFEED_DB_PORT=99999 run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: SCHEDFEED_DB_PORT: not a port number" ]
	unset SCHEDFEED_DB_SERVER
	run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: no server: give -S or set SCHEDFEED_DB_SERVER" ]
}

@test "a freetds.conf server name is a SERVER" {
	tdsd_start "$DB"
	printf '[feeddb]\n\thost = 127.0.0.1\n\tport = %s\n' "$SCHEDFEED_DB_PORT" >"$W/freetds.conf"
	unset SCHEDFEED_DB_PORT
	FREETDSCONF="$W/freetds.conf" run --separate-stderr sched-query -S feeddb -e 'SELECT 3 AS three'
	[ "$status" -eq 0 ]
	[ "$output" = $'three\n3' ]
}

@test "TLS: require against a server without TLS is 77; bad settings 64/78" {
	tdsd_start "$DB"
	run --separate-stderr sched-query --encrypt require -e 'SELECT 1'
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login to 127.0.0.1:$SCHEDFEED_DB_PORT failed: TLS was required and could not be negotiated (no TLS on the server, or its certificate not trusted or not for that name)" ]
	SCHEDFEED_DB_ENCRYPT=require run --separate-stderr sched-query --encrypt off -e 'SELECT 4 AS four'
	[ "$status" -eq 0 ]
	[ "$output" = $'four\n4' ]
	run --separate-stderr sched-query --encrypt maybe -e 'SELECT 1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: --encrypt: want off, request or require" ]
	SCHEDFEED_DB_ENCRYPT=maybe run --separate-stderr sched-query -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: SCHEDFEED_DB_ENCRYPT: want off, request or require" ]
	run --separate-stderr sched-query --ca-file "$W/none.pem" -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: $W/none.pem: cannot read the CA file: No such file or directory" ]
	FREETDSCONF=/dev/null run --separate-stderr sched-query --encrypt request -e 'SELECT 1'
	[ "$status" -eq 78 ]
	[ "$stderr" = "sched-query: FREETDSCONF is set: put encryption and ca file in that file instead of the TLS options" ]
}

@test "--each-row: one statement per row, typed, in one transaction" {
	tdsd_start "$DB"
	printf 'id,who,seen\n1,Ann,2024-05-01\n2,"O\x27Brien; DROP TABLE visit",\n3,Núñez,2024-02-29\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int -v seen:date \
		-v note=batch -e 'INSERT INTO visit(id, who, seen, note) VALUES (@id, @who, @seen, @note)' <"$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = $'row,rows_affected\n1,1\n2,1\n3,1' ]
	run sqlite3 "$DB" "SELECT id, who, coalesce(seen, 'NULL'), note FROM visit ORDER BY id"
	[ "$output" = "1|Ann|2024-05-01|batch
2|O'Brien; DROP TABLE visit|NULL|batch
3|Núñez|2024-02-29|batch
100|existing|2024-01-01|" ]
}

@test "--each-row: a failing row rolls every row back, 65, rows by number" {
	tdsd_start "$DB"
	printf 'id,who,seen\n1,Ann,2024-05-01\n100,Dup Licate,\n3,,2024-13-01\n4,Bo,2024-06-01\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int -v seen:date \
		-e 'INSERT INTO visit(id, who, seen) VALUES (@id, @who, @seen)' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: row 2: server error 2627, line 1: UNIQUE constraint failed: visit.id
sched-query: stdin: row 3, column seen: not a valid date
sched-query: 2 rows failed: every row rolled back, nothing committed" ]
	run sqlite3 "$DB" 'SELECT id FROM visit ORDER BY id'
	[ "$output" = 100 ]
}

@test "--each-row: an empty cell is NULL, and NOT NULL fails the row" {
	tdsd_start "$DB"
	printf 'id,who\n7,\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int \
		-e 'INSERT INTO visit(id, who) VALUES (@id, @who)' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: row 1: server error 547, line 1: NOT NULL constraint failed: visit.who
sched-query: 1 row failed: every row rolled back, nothing committed" ]
}

@test "--each-row: bad headers and short rows are 65" {
	tdsd_start "$DB"
	printf 'id,who name\n1,x\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -e 'SELECT @id' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: stdin: header, column 2: not a parameter name (letters, digits, _)" ]
	printf 'id,id\n1,2\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -e 'SELECT @id' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: stdin: header, column 2: id appears twice" ]
	printf 'id,who\n1\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -e 'SELECT @id' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: stdin: row 1: 1 fields where the header has 2
sched-query: 1 row failed: every row rolled back, nothing committed" ]
	printf 'id\n1\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id=5 -e 'SELECT @id' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: stdin: header, column 1: id is also given a value with -v" ]
	run --separate-stderr sched-query --each-row -e 'SELECT 1' </dev/null
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: stdin: no header row" ]
}

@test "--each-row: duplicate columns found in one pass; over 2100 parameters is 65 at once" {
	tdsd_start "$DB"
	# 2100 names, the last repeating the 7th
	{ seq -f 'c%g' 2099 | paste -sd, | tr -d '\n'; echo ,c7; echo 1; } >"$W/in.csv"
	run --separate-stderr sched-query --each-row -e 'SELECT @c1' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: stdin: header, column 2100: c7 appears twice" ]
	# 2100 parameters in all: 2099 columns and one -v
	{ seq -f 'c%g' 2099 | paste -sd,; seq 2099 | paste -sd,; } >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v extra=x -e 'SELECT 1 AS one' <"$W/in.csv"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[ "$output" = $'row,rows_affected\n1,1' ]
	run --separate-stderr sched-query --each-row -v extra=x -v more=y -e 'SELECT 1 AS one' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: stdin: header: 2099 columns and 2 -v values make 2101 parameters; at most 2100" ]
	# a million columns: refused at once, never compared pairwise
	"$PY" -c 'print(",".join("c%d" % i for i in range(1000000)))' >"$W/wide.csv"
	run --separate-stderr sched-query --each-row -e 'SELECT 1' <"$W/wide.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: stdin: header: 1000000 columns and 0 -v values make 1000000 parameters; at most 2100" ]
	run --separate-stderr sched-query $(seq -f '-v p%g=1' 2101) -e 'SELECT 1'
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: 2101 -v parameters; at most 2100" ]
}

@test "--each-row: a dropped connection is 75 and commits nothing" {
	sqlite3 "$DB" 'CREATE TABLE many(n INT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
INSERT INTO many SELECT x FROM c;'
	tdsd_start "$DB" --drop-after-rows 100
	printf 'id,who\n1,a\n2,b\n' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int \
		-e 'INSERT INTO visit(id, who) VALUES (@id, @who)
SELECT n FROM many WHERE n > @id' <"$W/in.csv"
	[ "$status" -eq 75 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: row 1: lost the connection to the server
sched-query: 1 row failed: every row rolled back, nothing committed" ]
	run sqlite3 "$DB" 'SELECT id FROM visit ORDER BY id'
	[ "$output" = 100 ]
}

@test "usage: one of -f and -e, no operands; stdin is for rows with --each-row" {
	run --separate-stderr sched-query
	[ "$status" -eq 64 ]
	[ "${stderr%%$'\n'*}" = "usage: sched-query [--driver tds|mysql] [-S server] [-p port] [-D database] [-U user]" ]
	run --separate-stderr sched-query -e 'SELECT 1' -f x.sql
	[ "$status" -eq 64 ]
	run --separate-stderr sched-query -e 'SELECT 1' extra
	[ "$status" -eq 64 ]
	run --separate-stderr sched-query --each-row -f -
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: -f -: stdin carries the rows with --each-row" ]
	run --separate-stderr sched-query -e '   '
	[ "$status" -eq 65 ]
	[ "$stderr" = "sched-query: -e: no SQL" ]
	run --separate-stderr sched-query --login-timeout 0 -e 'SELECT 1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: --login-timeout: want a whole number from 1 to 3600" ]
}

@test "a full stdout is 74" {
	tdsd_start "$DB"
	run --separate-stderr sh -c 'sched-query -e "SELECT id FROM appt" >/dev/full'
	[ "$status" -eq 74 ]
	[ "$stderr" = "sched-query: write error on standard output: No space left on device" ]
}

@test "--each-row: a record over --max-record (16 MiB by default) is 65 naming the row, nothing run; the option raises it" {
	tdsd_start "$DB"
	"$PY" -c 'import sys; sys.stdout.write("id,who\n1,Ann\n2," + "x" * (17 << 20) + "\n")' >"$W/in.csv"
	run --separate-stderr sched-query --each-row -v id:int \
		-e 'INSERT INTO visit(id, who) VALUES (@id, @who)' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[[ "$stderr" == "sched-query: stdin: row 2: a record longer than 16777216 bytes, the limit (--max-record raises it)"* ]]
	run sqlite3 "$DB" 'SELECT id FROM visit ORDER BY id'
	[ "$output" = 100 ]
	run --separate-stderr sched-query --each-row --max-record 1K -v id:int \
		-e 'INSERT INTO visit(id, who) VALUES (@id, @who)' <"$W/in.csv"
	[ "$status" -eq 65 ]
	[[ "$stderr" == "sched-query: stdin: row 2: a record longer than 1024 bytes, the limit (--max-record raises it)"* ]]
	run --separate-stderr sched-query --max-record 1 -e 'SELECT 1'
	[ "$status" -eq 64 ]
	[ "$stderr" = "sched-query: --max-record: want a size from 1024 to 4294967296 bytes (K, M or G may follow)" ]
}
