#!/usr/bin/env bats
# tdsd: the TDS server over SQLite that every database test talks to.
# Real clients prove it speaks TDS: FreeTDS's tsql and freebcp, python3-tds.

load common

setup() {
	common_setup
	sqlite3 "$W/db.sqlite" <"$TOP/tests/fixtures/tdsd/schema.sql"
	TDSD_PID=
	unset TDSD_PASSWORD TDSD_PASSWORD_FILE
}

teardown() {
	if [ -n "$TDSD_PID" ]; then
		kill -TERM "$TDSD_PID" 2>/dev/null || true
		wait "$TDSD_PID" 2>/dev/null || true
	fi
}

# db SQL: sqlite3 on the test's database, waiting out the moment a
# closing connection of tdsd's checkpoints the WAL
db() {
	sqlite3 -cmd ".timeout 30000" "$W/db.sqlite" "$@"
}

# start_tdsd [OPTION...]: tdsd over $W/db.sqlite on a free port; sets
# PORT and points FreeTDS at a private freetds.conf naming it "tdsd".
start_tdsd() {
	# made here: the server opens it in the background, maybe after sed
	: >"$W/tdsd.out"
	"$TDSD" -f "$W/db.sqlite" -p 0 "$@" >"$W/tdsd.out" 2>"$W/tdsd.err" &
	TDSD_PID=$!
	PORT=
	for _ in $(seq 600); do
		PORT=$(sed -n 's/^port \([0-9][0-9]*\)$/\1/p' "$W/tdsd.out" 2>/dev/null)
		[ -n "$PORT" ] && break
		sleep 0.05
	done
	[ -n "$PORT" ] || { cat "$W/tdsd.err" >&2; return 1; }
	cat >"$W/freetds.conf" <<-EOF
	[tdsd]
		host = 127.0.0.1
		port = $PORT
		tds version = 7.4
		client charset = UTF-8
	EOF
	export FREETDSCONF="$W/freetds.conf" PORT
}

# tsql_as USER PASSWORD < SQL: stdout in $W/out, stderr in $W/err
tsql_as() {
	TDSVER=7.4 tsql -o q -S tdsd -U "$1" -P "$2" >"$W/out" 2>"$W/err"
}

# pytds_run < PYTHON: the script gets conn() and PORT
pytds_run() {
	{
		cat <<-'EOF'
		import os, sys, pytds, datetime, decimal
		PORT = int(os.environ["PORT"])
		def conn(**kw):
		    args = dict(port=PORT, user="schedfeed", password="schedfeed",
		                database="tdsd", autocommit=True, login_timeout=5)
		    args.update(kw)
		    return pytds.connect("127.0.0.1", **args)
		EOF
		cat
	} >"$W/client.py"
	"$PY" "$W/client.py"
}

@test "prints its port first, serves, and ends cleanly on SIGTERM" {
	start_tdsd
	[ "$(head -n 1 "$W/tdsd.out")" = "port $PORT" ]
	[ "$PORT" -gt 0 ]
	pid=$TDSD_PID
	TDSD_PID=
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	run kill -0 "$pid"
	[ "$status" -ne 0 ]
}

@test "usage names the default login and exits 64; missing file exits 66" {
	run "$TDSD"
	[ "$status" -eq 64 ]
	[[ "$output" == *"user schedfeed"* ]]
	[[ "$output" == *"password schedfeed unless TDSD_PASSWORD"* ]]
	run "$TDSD" -f "$W/db.sqlite" -P secret
	[ "$status" -eq 64 ]
	run "$TDSD" -f "$W/missing.sqlite" -p 0
	[ "$status" -eq 66 ]
	[[ "$output" == *"missing.sqlite"* ]]
}

@test "tsql gets every type, NULLs and non-ASCII text" {
	start_tdsd
	tsql_as schedfeed schedfeed <<-'EOF'
	SELECT id, patient, code, amount, fee, ratio, active, visits, big FROM appt ORDER BY id
	SELECT id, day, starts, notes FROM appt WHERE id <> 2 ORDER BY id
	go
	EOF
	cat >"$W/expected" <<-'EOF'
	id	patient	code	amount	fee	ratio	active	visits	big
	1	Núñez, José	A1	12.50	3.2500	0.5	1	3	9000000000
	2	Nguyễn Văn An	B2	-7.05	-1.5000	-2.25	0	-4	-1
	3	王芳		0.00	0.0000	0	0	0	0
	4	NULL	NULL	NULL	NULL	NULL	NULL	NULL	NULL
	id	day	starts	notes
	1	Jan  5 2024 12:00AM	Jan  5 2024 08:30AM	first visit
	3	Jan  1 1 12:00AM	Jan  1 1753 12:00AM	
	4	NULL	NULL	NULL
	EOF
	diff -u "$W/expected" "$W/out"
	[ ! -s "$W/err" ]
}

@test "freebcp queryout copies every type exactly" {
	start_tdsd
	freebcp "SELECT id, patient, amount, fee, ratio, active, day, starts, stamp, at FROM appt ORDER BY id" \
		queryout "$W/bcp.txt" -c -S tdsd -U schedfeed -P schedfeed >"$W/bcp.log"
	grep -q '^4 rows copied' "$W/bcp.log"
	printf '%s\n' \
		$'1\tNúñez, José\t12.50\t3.2500\t0.5\t1\t2024-01-05 00:00:00.000\t2024-01-05 08:30:00.000\t2024-01-05 08:30:00.123\t1900-01-01 08:30:00.000' \
		$'2\tNguyễn Văn An\t-7.05\t-1.5000\t-2.25\t0\t1999-12-31 00:00:00.000\t1999-12-31 23:59:59.997\t2000-01-01 00:00:00.000\t1900-01-01 23:59:59.500' \
		$'3\t王芳\t0.00\t0.0000\t0\t0\t1-01-01 00:00:00.000\t1753-01-01 00:00:00.000\t9999-12-31 23:59:59.999\t1900-01-01 00:00:00.000' \
		$'4\t\t\t\t\t\t\t\t\t' >"$W/expected"
	diff -u "$W/expected" "$W/bcp.txt"
}

@test "python3-tds gets every type as its Python value" {
	start_tdsd
	pytds_run >"$W/out" <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    cur.execute("SELECT * FROM appt ORDER BY id")
	    print([d[0] for d in cur.description])
	    for row in cur.fetchall():
	        print(repr(row))
	EOF
	cat >"$W/expected" <<-'EOF'
	['id', 'patient', 'code', 'amount', 'fee', 'ratio', 'active', 'visits', 'big', 'day', 'starts', 'stamp', 'at', 'notes']
	(1, 'Núñez, José', 'A1', Decimal('12.5'), Decimal('3.25'), 0.5, True, 3, 9000000000, datetime.date(2024, 1, 5), datetime.datetime(2024, 1, 5, 8, 30), datetime.datetime(2024, 1, 5, 8, 30, 0, 123456), datetime.time(8, 30), 'first visit')
	(2, 'Nguyễn Văn An', 'B2', Decimal('-7.05'), Decimal('-1.5'), -2.25, False, -4, -1, datetime.date(1999, 12, 31), datetime.datetime(1999, 12, 31, 23, 59, 59, 997000), datetime.datetime(2000, 1, 1, 0, 0), datetime.time(23, 59, 59, 500000), 'line one\nline two')
	(3, '王芳', '', Decimal('0'), Decimal('0'), 0.0, False, 0, 0, datetime.date(1, 1, 1), datetime.datetime(1753, 1, 1, 0, 0), datetime.datetime(9999, 12, 31, 23, 59, 59, 999999), datetime.time(0, 0), '')
	(4, None, None, None, None, None, None, None, None, None, None, None, None, None)
	EOF
	diff -u "$W/expected" "$W/out"
}

@test "expression columns take their first value's type" {
	start_tdsd
	pytds_run >"$W/out" <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    cur.execute("SELECT COUNT(*) AS n, SUM(ratio) AS s, MAX(patient) AS p, NULL AS z, x'00ff' AS b FROM appt")
	    print(repr(cur.fetchall()))
	    cur.execute("SELECT id / 2 AS half FROM appt WHERE id = 99")
	    print(repr(cur.fetchall()))
	EOF
	cat >"$W/expected" <<-'EOF'
	[(4, -1.75, '王芳', None, b'\x00\xff')]
	[]
	EOF
	diff -u "$W/expected" "$W/out"
}

@test "a wrong password is refused with error 18456" {
	start_tdsd
	run tsql_as schedfeed wrong </dev/null
	[ "$status" -ne 0 ]
	grep -q "Msg 18456 (severity 14, state 1) from tdsd" "$W/err"
	grep -q "Login failed for user 'schedfeed'" "$W/err"
	run pytds_run <<-'EOF'
	try:
	    conn(password="wrong")
	except pytds.OperationalError as e:
	    print(e.number, e.severity, e.text)
	EOF
	[ "$output" = "18456 14 Login failed for user 'schedfeed'." ]
}

@test "TDSD_PASSWORD and -U set the login" {
	TDSD_PASSWORD=s3cret start_tdsd -U feeder
	echo "SELECT 7 AS n" | tsql_as feeder s3cret
	[ "$(cat "$W/out")" = $'n\n7' ]
	run tsql_as schedfeed schedfeed </dev/null
	[ "$status" -ne 0 ]
	grep -q "Msg 18456" "$W/err"
}

@test "--refuse-logins refuses even the right password" {
	start_tdsd --refuse-logins
	run tsql_as schedfeed schedfeed </dev/null
	[ "$status" -ne 0 ]
	grep -q "Msg 18456 (severity 14, state 1)" "$W/err"
	run pytds_run <<-'EOF'
	try:
	    conn()
	except pytds.OperationalError as e:
	    print(e.number)
	EOF
	[ "$output" = 18456 ]
}

@test "--drop-after-rows drops the connection mid-result" {
	start_tdsd --drop-after-rows 2
	run pytds_run <<-'EOF'
	rows = 0
	try:
	    with conn() as c, c.cursor() as cur:
	        cur.execute("SELECT id, patient FROM appt ORDER BY id")
	        while cur.fetchone() is not None:
	            rows += 1
	        print("clean end after", rows)
	except pytds.ClosedConnectionError:
	    print("dropped after", rows)
	EOF
	[ "$output" = "dropped after 2" ]
	# freebcp 1.3.17 exits 0 all the same, but it saw the drop
	run freebcp "SELECT id FROM appt ORDER BY id" queryout "$W/bcp.txt" -c -S tdsd -U schedfeed -P schedfeed
	[[ "$output" == *"Unexpected EOF from the server"* ]]
	[ "$(cat "$W/bcp.txt")" = $'1\n2' ]
}

@test "sp_executesql binds typed parameters by name" {
	start_tdsd
	pytds_run >"$W/out" <<-'EOF'
	from pytds import Column, tds_types
	with conn() as c, c.cursor() as cur:
	    params = {
	        "i": 42, "big": 9000000000, "f": 2.5, "b": True,
	        "dec": decimal.Decimal("-12.05"), "d": datetime.date(2024, 1, 5),
	        "dt": datetime.datetime(2024, 1, 5, 8, 30),
	        "dtf": datetime.datetime(2024, 1, 5, 8, 30, 0, 500000),
	        "t": datetime.time(8, 30), "s": "Nguyễn 王",
	        # python-tds writes a plain None into the SQL as NULL: type it
	        "ni": Column(type=tds_types.IntType(), value=None),
	        "ns": Column(type=tds_types.NVarCharType(10), value=None),
	    }
	    cur.execute("SELECT " + ", ".join("typeof(%%(%s)s) || ':' || coalesce(%%(%s)s, 'NULL') AS %s" % (k, k, k) for k in params), params)
	    for name, value in zip([d[0] for d in cur.description], cur.fetchone()):
	        print(name, value)
	    cur.execute("SELECT id FROM appt WHERE day = %(d)s AND patient = %(p)s",
	                {"d": datetime.date(1999, 12, 31), "p": "Nguyễn Văn An"})
	    print(cur.fetchall())
	    cur.execute("UPDATE appt SET notes = %(n)s WHERE id >= %(low)s", {"n": "Ñ", "low": 3})
	    print("updated", cur.rowcount)
	    # T-SQL names are case-insensitive
	    cur.execute("SELECT notes FROM appt WHERE id >= @LOW ORDER BY id", {"low": 3})
	    print(cur.fetchall())
	EOF
	cat >"$W/expected" <<-'EOF'
	i integer:42
	big integer:9000000000
	f real:2.5
	b integer:1
	dec text:-12.05
	d text:2024-01-05
	dt text:2024-01-05 08:30:00
	dtf text:2024-01-05 08:30:00.500
	t text:08:30:00
	s text:Nguyễn 王
	ni null:NULL
	ns null:NULL
	[(2,)]
	updated 2
	[('Ñ',), ('Ñ',)]
	EOF
	diff -u "$W/expected" "$W/out"
}

@test "a missing parameter is error 8178" {
	start_tdsd
	run pytds_run <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    try:
	        cur.execute("SELECT %(a)s, @b", {"a": 1})
	    except pytds.Error as e:
	        print(e.number, e.text)
	EOF
	[ "$output" = "8178 The parameterized query expects the parameter '@b', which was not supplied." ]
}

@test "an SQL error is an ERROR token with number, state and line; the batch stops" {
	start_tdsd
	tsql_as schedfeed schedfeed <<-'EOF'
	SELECT 1 AS a
	SELECT 2 AS b

	SELECT nosuch FROM appt
	SELECT 3 AS c
	go
	SELECT * FROM nosuch
	go
	SELEC 1
	go
	EOF
	[ "$(cat "$W/out")" = $'a\n1\nb\n2' ]
	printf '%s\n' \
		'Msg 207 (severity 16, state 1) from tdsd Line 4:' \
		$'\t"no such column: nosuch"' \
		'Msg 208 (severity 16, state 1) from tdsd Line 1:' \
		$'\t"no such table: nosuch"' \
		'Msg 102 (severity 16, state 1) from tdsd Line 1:' \
		$'\t"near "SELEC": syntax error"' >"$W/expected"
	diff -u "$W/expected" "$W/err"
	run pytds_run <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    try:
	        cur.execute("SELECT 1\n\n  SELECT x FROM nosuch")
	        print(cur.fetchall())
	        cur.nextset()
	    except pytds.Error as e:
	        print(e.number, e.severity, e.state, e.line, e.text)
	EOF
	[ "$output" = $'[(1,)]\n208 16 1 3 no such table: nosuch' ]
}

@test "constraint failures are 2627 and 547; a value that does not fit is 245" {
	start_tdsd
	db "INSERT INTO appt(id, visits) VALUES (5, 'many')"
	run pytds_run <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    for sql in ("INSERT INTO appt(id) VALUES (1)",
	                "INSERT INTO visit(appt_id) VALUES (77)",
	                "SELECT id, visits FROM appt ORDER BY id"):
	        try:
	            cur.execute(sql)
	            cur.fetchall()
	        except pytds.Error as e:
	            print(e.number, e.text)
	EOF
	cat >"$W/expected" <<-'EOF'
	2627 UNIQUE constraint failed: appt.id
	547 FOREIGN KEY constraint failed
	245 Conversion failed when converting a value to data type smallint.
	EOF
	diff -u "$W/expected" - <<<"$output"
	# the value itself never reaches the message
	[[ "$output" != *many* ]]
}

@test "several result sets and row counts in one batch" {
	start_tdsd
	run pytds_run <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    cur.execute("""SET NOCOUNT ON; SET TEXTSIZE 2147483647
	SET TRANSACTION ISOLATION LEVEL READ COMMITTED
	USE tdsd
	SELECT id FROM appt WHERE id < 3 ORDER BY id;
	UPDATE appt SET visits = visits + 1 WHERE id < 3
	SELECT patient FROM appt WHERE id = 3
	SELECT COUNT(*) AS n FROM visit""")
	    # python-tds keeps the last description over the UPDATE's count
	    while True:
	        print(cur.fetchall(), cur.rowcount)
	        if not cur.nextset():
	            break
	    cur.execute("DELETE FROM appt WHERE id > 2")
	    print("deleted", cur.rowcount)
	EOF
	cat >"$W/expected" <<-'EOF'
	[(1,), (2,)] 2
	[] 2
	[('王芳',)] 1
	[(0,)] 1
	deleted 2
	EOF
	diff -u "$W/expected" - <<<"$output"
}

@test "PRINT sends an INFO message" {
	start_tdsd
	run pytds_run <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    cur.execute("PRINT 'hello ' || 'Núñez'\nSELECT 1")
	    print(cur.fetchall(), [m[1].text for m in cur.messages], cur.messages[0][1].number)
	EOF
	[ "$output" = "[(1,)] ['hello Núñez'] 0" ]
}

@test "BEGIN TRAN / ROLLBACK undoes an insert, COMMIT keeps one" {
	start_tdsd
	tsql_as schedfeed schedfeed <<-'EOF'
	BEGIN TRAN
	INSERT INTO visit(appt_id, note) VALUES (1, 'rolled back')
	SELECT COUNT(*) AS inside FROM visit
	ROLLBACK
	SELECT COUNT(*) AS after_rollback FROM visit
	go
	BEGIN TRANSACTION
	BEGIN TRAN
	INSERT INTO visit(appt_id, note) VALUES (2, 'kept')
	COMMIT
	COMMIT TRANSACTION
	SELECT note FROM visit
	go
	COMMIT
	go
	EOF
	[ "$(cat "$W/out")" = $'inside\n1\nafter_rollback\n0\nnote\nkept' ]
	grep -q "Msg 3902" "$W/err"
	[ "$(db "SELECT note FROM visit")" = kept ]
}

@test "python3-tds transactions (autocommit off) commit and roll back" {
	start_tdsd
	run pytds_run <<-'EOF'
	with conn(autocommit=False) as c, c.cursor() as cur:
	    cur.execute("INSERT INTO visit(appt_id, note) VALUES (1, 'a')")
	    c.rollback()
	    cur.execute("INSERT INTO visit(appt_id, note) VALUES (1, 'b')")
	    c.commit()
	    cur.execute("INSERT INTO visit(appt_id, note) VALUES (1, 'c')")
	# closed without commit: rolled back
	with conn() as c, c.cursor() as cur:
	    cur.execute("SELECT note FROM visit")
	    print(cur.fetchall())
	EOF
	[ "$output" = "[('b',)]" ]
}

@test "an error inside a transaction leaves it open" {
	start_tdsd
	tsql_as schedfeed schedfeed <<-'EOF'
	BEGIN TRAN
	INSERT INTO visit(appt_id, note) VALUES (1, 'x')
	INSERT INTO visit(appt_id, note) VALUES (99, 'bad')
	go
	SELECT COUNT(*) AS n FROM visit
	ROLLBACK
	SELECT COUNT(*) AS n FROM visit
	go
	EOF
	[ "$(cat "$W/out")" = $'n\n1\nn\n0' ]
	grep -q "Msg 547 (severity 16, state 1) from tdsd Line 3" "$W/err"
}

@test "two clients at once: concurrent writers both land, a reader streams meanwhile" {
	start_tdsd
	cat >"$W/writer.py" <<-'EOF'
	import os, sys, pytds
	with pytds.connect("127.0.0.1", port=int(os.environ["PORT"]), user="schedfeed",
	                   password="schedfeed", autocommit=False) as c, c.cursor() as cur:
	    for k in range(40):
	        cur.execute("INSERT INTO visit(appt_id, note) VALUES (1, @n)", {"n": sys.argv[1]})
	        c.commit()
	print("done", sys.argv[1])
	EOF
	"$PY" "$W/writer.py" A >"$W/a.out" 2>&1 &
	a=$!
	"$PY" "$W/writer.py" B >"$W/b.out" 2>&1 &
	b=$!
	wait "$a"
	wait "$b"
	[ "$(cat "$W/a.out")" = "done A" ]
	[ "$(cat "$W/b.out")" = "done B" ]
	[ "$(db "SELECT note, COUNT(*) FROM visit GROUP BY note")" = $'A|40\nB|40' ]
	# one connection holds a result open while another writes and reads
	run pytds_run <<-'EOF'
	with conn() as c1, c1.cursor() as r, conn() as c2, c2.cursor() as w:
	    r.execute("SELECT id FROM visit ORDER BY id")
	    first = r.fetchone()
	    w.execute("INSERT INTO visit(appt_id, note) VALUES (2, 'C')")
	    w.execute("SELECT COUNT(*) FROM visit")
	    print(first, len(r.fetchall()), w.fetchone())
	EOF
	[ "$output" = "(1,) 79 (81,)" ]
}

@test "a query timeout cancels with ATTENTION and the connection goes on" {
	start_tdsd --row-delay-ms 200
	run pytds_run <<-'EOF'
	import time
	with conn(timeout=0.5) as c, c.cursor() as cur:
	    start = time.monotonic()
	    try:
	        cur.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT i FROM n")
	        cur.fetchall()
	        print("not cancelled")
	    except pytds.TimeoutError:
	        print("timed out")
	    cur.execute("SELECT 42")
	    print(cur.fetchone(), time.monotonic() - start < 5)
	EOF
	[ "$output" = $'timed out\n(42,) True' ]
}

@test "SET FMTONLY ON returns columns without rows" {
	start_tdsd
	echo "SET FMTONLY ON SELECT id, patient FROM appt SET FMTONLY OFF SELECT COUNT(*) AS n FROM appt" |
		tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'id\tpatient\nn\n4' ]
}

@test "a long statement without rows is cancelled too" {
	start_tdsd
	run pytds_run <<-'EOF'
	import time
	with conn(timeout=0.5) as c, c.cursor() as cur:
	    start = time.monotonic()
	    try:
	        cur.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500000000) SELECT COUNT(*) FROM n")
	        print("not cancelled", cur.fetchall())
	    except pytds.TimeoutError:
	        print("timed out")
	    cur.execute("SELECT 42")
	    print(cur.fetchone(), time.monotonic() - start < 5)
	EOF
	[ "$output" = $'timed out\n(42,) True' ]
}

@test "NVARCHAR(MAX) text crosses packets; text longer than its column is 8152" {
	db "UPDATE appt SET notes = printf('%.*c', 70000, 'x') || '王' WHERE id = 1;
		UPDATE appt SET code = 'ABCDEFGHIJK' WHERE id = 2"
	start_tdsd
	run pytds_run <<-'EOF'
	with conn() as c, c.cursor() as cur:
	    cur.execute("SELECT notes, id FROM appt WHERE id = 1")
	    notes, id = cur.fetchone()
	    print(len(notes), notes[-2:], id)
	    try:
	        cur.execute("SELECT id, code FROM appt ORDER BY id")
	        print(cur.fetchall())
	    except pytds.Error as e:
	        print(e.number, e.text)
	EOF
	[ "$output" = $'70001 x王 1\n8152 String or binary data would be truncated: a value is longer than its column\'s 10 bytes.' ]
}

@test "SET PARSEONLY ON parses and runs nothing; only syntax errors are reported, as SQL Server" {
	start_tdsd
	echo "SET PARSEONLY ON INSERT INTO appt (id) VALUES (99) DELETE FROM appt SET PARSEONLY OFF SELECT COUNT(*) AS n FROM appt" |
		tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'n\n4' ]
	[ "$(db "SELECT COUNT(*) FROM appt")" = 4 ]
	# SQL Server parses without compiling: names are not looked up
	printf 'SET PARSEONLY ON\nSELECT nope FROM appt\nSELECT id FROM nowhere\nBEGIN TRAN\nSET PARSEONLY OFF\ngo\nSELECT 5 AS five\ngo\n' |
		tsql_as schedfeed schedfeed
	[ ! -s "$W/err" ]
	[ "$(cat "$W/out")" = $'five\n5' ]
	# a syntax error is reported, nothing runs, and the state is as it was
	printf 'SET PARSEONLY ON\nDELETE FROM appt\nSELEC 1\ngo\nSELECT COUNT(*) AS n FROM appt\ngo\n' |
		tsql_as schedfeed schedfeed
	grep -q 'Msg 102' "$W/err"
	[ "$(cat "$W/out")" = $'n\n4' ]
	# ON stays on across batches until OFF
	printf 'SET PARSEONLY ON\ngo\nDELETE FROM appt\ngo\nSET PARSEONLY OFF\ngo\nSELECT COUNT(*) AS n FROM appt\ngo\n' |
		tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'n\n4' ]
}

@test "VARCHAR goes out as VarChar in Windows-1252, as SQL Server keeps it: a character the code page lacks is '?'" {
	db "UPDATE appt SET code = 'José €' WHERE id = 1; UPDATE appt SET code = '王' WHERE id = 2"
	start_tdsd
	echo "SELECT id, code FROM appt WHERE id < 3 ORDER BY id" | tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'id\tcode\n1\tJosé €\n2\t?' ]
	freebcp "SELECT code FROM appt WHERE id < 3 ORDER BY id" queryout "$W/bcp.txt" -c -S tdsd -U schedfeed -P schedfeed >"$W/bcp.log"
	[ "$(cat "$W/bcp.txt")" = $'José €\n?' ]
	run pytds_run <<-'EOF2'
	with conn() as c, c.cursor() as cur:
	    cur.execute("SELECT code, CAST('x' AS VARCHAR(3)) AS v, N'王' AS n, 'lit' AS l FROM appt WHERE id = 1")
	    print(cur.fetchall(), [d[1] for d in cur.description])
	EOF2
	# 167 is VARCHAR, 231 NVARCHAR (python-tds's type codes)
	[ "$output" = "[('José €', 'x', '王', 'lit')] [167, 167, 231, 167]" ]
}

@test "N'...' literals, in tsql and through sp_executesql" {
	start_tdsd
	printf "INSERT INTO visit(appt_id, note) VALUES (1, N'Ñandú 王')\nSELECT note FROM visit WHERE note = N'Ñandú 王' AND 'n' = N'n'\ngo\n" |
		tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'note\nÑandú 王' ]
	[ ! -s "$W/err" ]
	run pytds_run <<-'EOF2'
	with conn() as c, c.cursor() as cur:
	    print(cur.execute("SELECT N'it''s' AS a, %s AS b", ("n'",)).fetchall())
	EOF2
	[ "$output" = "[(\"it's\", \"n'\")]" ]
}

@test "a syntax error anywhere fails the whole batch before any statement runs" {
	start_tdsd
	printf "INSERT INTO visit(appt_id, note) VALUES (1, 'first')\nSELECT 1 AS a\nSELEC 2\ngo\n" | tsql_as schedfeed schedfeed
	[ ! -s "$W/out" ]
	grep -q 'Msg 102 (severity 16, state 1) from tdsd Line 3' "$W/err"
	[ "$(db "SELECT COUNT(*) FROM visit")" = 0 ]
	# a table made earlier in the batch is no error at parse time
	printf "CREATE TABLE later (x INT)\nINSERT INTO later VALUES (5)\nSELECT x FROM later\ngo\n" | tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'x\n5' ]
}

@test "a constraint violation ends its statement (2627 severity 14, 547 severity 16, INFO 3621) and the batch goes on" {
	start_tdsd
	printf "INSERT INTO appt(id) VALUES (1)\nINSERT INTO visit(appt_id, note) VALUES (77, 'orphan')\nINSERT INTO visit(appt_id, note) VALUES (1, 'after')\nSELECT note FROM visit\ngo\n" |
		tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'note\nafter' ]
	grep -q 'Msg 2627 (severity 14, state 1) from tdsd Line 1' "$W/err"
	grep -q 'Msg 547 (severity 16, state 1) from tdsd Line 2' "$W/err"
	[ "$(grep -c 'The statement has been terminated.' "$W/err" "$W/out" | awk -F: '{ s += $2 } END { print s }')" -eq 2 ]
	[ "$(db "SELECT COUNT(*) FROM appt")" = 4 ]
	# any other error still ends the batch
	printf "SELECT nosuch FROM appt\nINSERT INTO visit(appt_id, note) VALUES (1, 'never')\ngo\n" | tsql_as schedfeed schedfeed
	grep -q 'Msg 207' "$W/err"
	[ "$(db "SELECT COUNT(*) FROM visit WHERE note = 'never'")" = 0 ]
}

@test "SAVE TRANSACTION and ROLLBACK TRANSACTION name; the transaction's own name undoes all" {
	start_tdsd
	tsql_as schedfeed schedfeed <<-'EOF2'
	BEGIN TRAN outer_t
	INSERT INTO visit(appt_id, note) VALUES (1, 'kept')
	SAVE TRANSACTION sp1
	INSERT INTO visit(appt_id, note) VALUES (1, 'undone')
	ROLLBACK TRANSACTION sp1
	COMMIT
	go
	BEGIN TRAN outer_t
	INSERT INTO visit(appt_id, note) VALUES (1, 'all undone')
	SAVE TRAN sp2
	ROLLBACK TRAN outer_t
	SELECT note FROM visit
	go
	SAVE TRAN nowhere
	go
	BEGIN TRAN
	ROLLBACK TRAN nosuch
	go
	ROLLBACK
	go
	EOF2
	[ "$(cat "$W/out")" = $'note\nkept' ]
	grep -q 'Msg 628' "$W/err"
	grep -q 'Msg 6401 .*' "$W/err"
	grep -q 'Cannot roll back nosuch. No transaction or savepoint of that name was found.' "$W/err"
	[ "$(db "SELECT note FROM visit")" = kept ]
}

@test "decimals are exact: stored values round half away from zero to their scale; SUM and AVG add exactly" {
	db "CREATE TABLE amounts (id INT, three DECIMAL(10,3), two DECIMAL(10,2));
		INSERT INTO amounts VALUES (1, 1.0005, 2.675), (2, -2.5675, -0.125), (3, 0.1, 0.1), (4, 0.2, 0.2)"
	start_tdsd
	echo "SELECT three, two FROM amounts ORDER BY id SELECT SUM(two) AS s, AVG(two) AS a FROM amounts WHERE id > 2" |
		tsql_as schedfeed schedfeed
	[ "$(cat "$W/out")" = $'three\ttwo\n1.001\t2.68\n-2.568\t-0.13\n0.100\t0.10\n0.200\t0.20\ns\ta\n0.30\t0.150000' ]
}

@test "bulk load: freebcp in copies every type exactly; a constraint violation loads nothing" {
	# appt's columns but notes (its newline would end a row of the text file)
	db "$(sed -n '/^CREATE TABLE appt (/,/^);/p' "$TOP/tests/fixtures/tdsd/schema.sql" |
		sed '/notes/d; s/at TIME,/at TIME/; s/CREATE TABLE appt/CREATE TABLE appt2/')"
	start_tdsd
	cols="id, patient, code, amount, fee, ratio, active, visits, big, day, starts, stamp, at"
	freebcp "SELECT $cols FROM appt WHERE id <> 3 ORDER BY id" queryout "$W/out1.txt" -c -S tdsd -U schedfeed -P schedfeed >"$W/bcp.log"
	freebcp appt2 in "$W/out1.txt" -c -S tdsd -U schedfeed -P schedfeed >"$W/bcp.log"
	# (row 3's year 1 is written "1-01-01" by freebcp, which it cannot read back)
	grep -q '^3 rows copied' "$W/bcp.log"
	[ "$(db "SELECT COUNT(*) FROM appt2")" = 3 ]
	freebcp "SELECT $cols FROM appt2 ORDER BY id" queryout "$W/out2.txt" -c -S tdsd -U schedfeed -P schedfeed >"$W/bcp.log"
	diff -u "$W/out1.txt" "$W/out2.txt"
	# a row that breaks a foreign key: the whole load is rolled back
	printf '10\t1\tok\n11\t99\tbad\n' >"$W/visits.txt"
	run freebcp visit in "$W/visits.txt" -c -S tdsd -U schedfeed -P schedfeed
	[[ "$output" == *"Msg 547"* ]]
	[ "$(db "SELECT COUNT(*) FROM visit")" = 0 ]
}

@test "DECIMAL and MONEY values are stored rounded to their scale; past the precision is 8115 and the batch goes on" {
	db "CREATE TABLE amounts (id INTEGER PRIMARY KEY, three DECIMAL(10,3), cash MONEY, small NUMERIC(4,1))"
	start_tdsd
	tsql_as schedfeed schedfeed <<-'EOF2'
	INSERT INTO amounts(three, cash, small) VALUES (1.0005, 1.23456, 12.35), (-2.5675, 3, 1)
	UPDATE amounts SET three = three - 0.0004 WHERE id = 2
	SELECT id FROM amounts WHERE three = 1.001
	INSERT INTO amounts(small) VALUES (1000.5)
	CREATE TABLE later (d DECIMAL(5,2))
	INSERT INTO later VALUES (2.675), (-0.125)
	go
	EOF2
	[ "$(cat "$W/out")" = $'id\n1' ]
	grep -q 'Msg 8115 (severity 16, state 1) from tdsd Line 4' "$W/err"
	grep -q 'The statement has been terminated.' "$W/err"
	# what SQLite holds, read by its own shell: the rounded values
	[ "$(db "SELECT id, three, cash, small FROM amounts ORDER BY id")" = $'1|1.001|1.2346|12.4\n2|-2.568|3|1' ]
	[ "$(db "SELECT d FROM later")" = $'2.68\n-0.13' ]
}
