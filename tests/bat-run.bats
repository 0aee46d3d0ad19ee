#!/usr/bin/env bats
# bat-run against tdsd over the demo database with the BAT tables, the
# demo definitions (pipelines/sql/bat_demo.sql) and the test collections
# (fixtures/bat-run/tests.sql). Each test checks the exit status, what
# bat-run wrote, and the tables afterwards, read with sqlite3.

bats_require_minimum_version 1.5.0
load common
load tdsd

T0='2026-11-23 10:00:00'

setup() {
	common_setup
	unset SCHEDFEED_DB_DATABASE SCHEDFEED_DB_ENCRYPT SCHEDFEED_DB_CA_FILE \
		SCHEDFEED_DB_PASSWORD_FILE FREETDSCONF FREETDS TDSVER TDSDUMP
	DB="$W/bat.sqlite"
	cat "$TOP/tests/fixtures/demo-db.sql" \
		"$TOP/pipelines/sql/bat_schema.sqlite.sql" \
		"$TOP/pipelines/sql/bat_demo.sql" \
		"$TOP/tests/fixtures/bat-run/tests.sql" | sqlite3 "$DB"
}

teardown() {
	local pid
	for pid in $(cat "$W/bat.pids" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	tdsd_stop_all
}

# q SQL: the database read (or changed) beside tdsd; a reader of a WAL
# database can meet a passing lock, so it waits for it
q() {
	sqlite3 -cmd ".timeout 10000" "$DB" "$1"
}

# event MAIN_ACTION DB_ACTION PATIENT ORDER STUDY: queues an event
event() {
	q "INSERT INTO bat_event (main_action, db_action, patient_key,
	    order_key, study_key) VALUES ('$1', '$2', ${3:-NULL}, ${4:-NULL},
	    ${5:-NULL})"
}

@test "usage: unknown options, two modes, a bad template or --now exit 64; -P is refused" {
	run -64 bat-run --bogus
	[[ "$output" == *"usage: bat-run"* ]]
	run -64 bat-run --check --once
	run -64 bat-run --check --dry-run 1
	run -64 bat-run --template nothing
	[[ "$output" == *"want inclusion, parameter"* ]]
	run -64 bat-run --once --now 'tomorrow'
	[[ "$output" == *"--now: want YYYY-MM-DD HH:MM:SS"* ]]
	run -64 bat-run --once -P hunter2
	[[ "$output" == *"SCHEDFEED_DB_PASSWORD"* ]]
	[[ "$output" != *hunter2* ]]
	run -64 bat-run --once --batch 0
}

@test "--template prints a starting rule of each kind with its parameters" {
	for kind in inclusion parameter available-datetime pre action post; do
		run -0 bat-run --template "$kind"
		[[ "$output" == *"@event_id bigint"* ]]
		[[ "$output" == *"@patient_key"* ]]
		[[ "$output" == *SELECT* || "$output" == *INSERT* ]]
	done
	run -0 bat-run --template inclusion
	[[ "$output" == *"no row,
-- NULL, 0 or a negative number: not this workflow."* ]]
	# one dialect per engine: T-SQL by default, tdsd's SQLite on request
	run -0 bat-run --template available-datetime
	[[ "$output" == *"-- T-SQL, for SQL Server."* ]]
	[[ "$output" == *"SELECT DATEADD(minute, @delay_minutes, @now)"* ]]
	[[ "$output" != *"datetime(@now"* ]]
	run -0 bat-run --template pre
	[[ "$output" == *"ISNULL(st.status, N'') = N'cancelled'"* ]]
	run -0 bat-run --template available-datetime --dialect sqlite
	[[ "$output" == *"-- SQLite, for tdsd."* ]]
	[[ "$output" == *"SELECT datetime(@now, '+' || @delay_minutes || ' minutes')"* ]]
	[[ "$output" != *DATEADD* ]]
	run -0 bat-run --template pre --dialect sqlite
	[[ "$output" == *"COALESCE(st.status, '') = 'cancelled'"* ]]
	run -64 bat-run --template pre --dialect oracle
	[[ "$output" == *"--dialect: want tsql (SQL Server) or sqlite (tdsd)"* ]]
	run -64 bat-run --dialect sqlite --once
}

@test "no database: --once exits 75 and says where it could not connect" {
	export SCHEDFEED_DB_SERVER=127.0.0.1 SCHEDFEED_DB_USER=schedfeed \
		SCHEDFEED_DB_PASSWORD=schedfeed SCHEDFEED_DB_PORT=$(free_port)
	run -75 bat-run --once --login-timeout 2
	[[ "$output" == *"cannot connect to 127.0.0.1:$SCHEDFEED_DB_PORT"* ]]
}

@test "a signed report waits its delay, then is forwarded; a second collection runs at once" {
	tdsd_start "$DB"
	event ReportSigned Insert 501 7001 9001
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$(q "SELECT collection_code, status, step, due_at FROM bat_instance ORDER BY id")" = \
"BB_DELAY|waiting|1|2026-11-23 11:00:00
REFERRER_FAX|done|10|" ]
	[ "$(q "SELECT destination FROM ris_outbound")" = referrer_fax ]
	[ "$(q "SELECT name, value FROM bat_instance_param")" = "delay_minutes|60" ]
	[[ "$output" == *"$T0,1,1,BB_DELAY,1,engine,waiting,2026-11-23 11:00:00,,,"* ]]
	[ "$(q "SELECT done_at FROM bat_event")" = "$T0" ]

	# half an hour later: still waiting, nothing forwarded
	run -0 bat-run --once --now '2026-11-23 10:30:00'
	[ "$output" = "" ]
	[ "$(q "SELECT status FROM bat_instance WHERE collection_code = 'BB_DELAY'")" = waiting ]
	[ "$(q "SELECT COUNT(*) FROM ris_outbound WHERE destination = 'BlueButtonPRO'")" = 0 ]

	run -0 bat-run --once --now '2026-11-23 11:00:00'
	[ "$(q "SELECT study_key, queued_at FROM ris_outbound WHERE destination = 'BlueButtonPRO'")" = \
		"9001|2026-11-23 11:00:00" ]
	[ "$(q "SELECT status, steps_run FROM bat_instance WHERE collection_code = 'BB_DELAY'")" = "done|1" ]
	[ "$(q "SELECT rule_kind || ':' || outcome || ':' || COALESCE(result, '') FROM bat_log WHERE instance_id = 1 ORDER BY id")" = \
"inclusion:ok:1
engine:started:step 1
parameter:ok:delay_minutes
available:ok:2026-11-23 11:00:00
engine:waiting:2026-11-23 11:00:00
pre:ok:1
action:ok:1 row
engine:done:" ]
	# no parameter value in the log
	[ "$(q "SELECT COUNT(*) FROM bat_log WHERE result LIKE '%60%' OR message LIKE '%60%'")" = 0 ]
}

@test "two collections start from one event; an excluded action starts none" {
	tdsd_start "$DB"
	event ReportSigned Insert 502 7002 9002
	event ReportSigned Delete 502 7002 9002
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT event_id, collection_code FROM bat_instance ORDER BY collection_code")" = \
"1|BB_DELAY
1|REFERRER_FAX" ]
	[ "$(q "SELECT rule_kind, outcome FROM bat_log WHERE event_id = 2")" = "engine|unsubscribed" ]
	[ "$(q "SELECT COUNT(*) FROM bat_event WHERE done_at IS NULL")" = 0 ]
	[[ "$output" == *",2,,,,engine,unsubscribed,"* ]]
}

@test "lay letter: mailed when not opened within 7 days; a pre rule aborts when the patient cancels" {
	tdsd_start "$DB"
	event LayLetterPublished Insert 501 7001 9001
	event LayLetterPublished Insert 502 7002 9002
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT status, due_at FROM bat_instance ORDER BY id")" = \
"waiting|2026-11-30 10:00:00
waiting|2026-11-30 10:00:00" ]
	q "UPDATE ris_study SET status = 'cancelled' WHERE study_key = 9002"
	run -0 bat-run --once --now '2026-11-30 10:00:00'
	[ "$(q "SELECT id, status FROM bat_instance ORDER BY id")" = \
"1|done
2|aborted" ]
	[ "$(q "SELECT patient_key, study_key, document FROM ris_mail_queue")" = \
		"501|9001|lay_letter" ]
	[ "$(q "SELECT rule_kind, outcome, result FROM bat_log WHERE instance_id = 2 AND logged_at = '2026-11-30 10:00:00' ORDER BY id")" = \
"pre|ok|-1
engine|aborted|" ]
	# aborted: no action ran for it
	[ "$(q "SELECT COUNT(*) FROM bat_log WHERE instance_id = 2 AND rule_kind = 'action'")" = 0 ]
}

@test "a post rule loops back to its own step, then goes on" {
	tdsd_start "$DB"
	event TestLoop Insert
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT step, COUNT(*) FROM ledger GROUP BY step")" = "1|3
2|1" ]
	[ "$(q "SELECT status, step, steps_run FROM bat_instance")" = "done|2|4" ]
	[ "$(q "SELECT result FROM bat_log WHERE rule_kind = 'post'")" = "1
1
2" ]
	[[ "$output" == *",T_LOOP,1,engine,next,step 1,"* ]]
}

@test "a runaway loop is stopped by the step budget" {
	tdsd_start "$DB"
	event TestRunaway Insert
	run -0 --separate-stderr bat-run --once --now "$T0" --max-steps 5
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 5 ]
	[ "$(q "SELECT status, steps_run, last_error FROM bat_instance")" = \
		"failed|5|step budget of 5 steps spent" ]
	[[ "$stderr" == *"instance 1: failed at step 1"* ]]
	[[ "$output" == *",engine,failed,,,step budget of 5 steps spent,"* ]]
}

@test "an inactive collection disables its instances in progress" {
	tdsd_start "$DB"
	event ReportSigned Insert 501 7001 9001
	run -0 bat-run --once --now "$T0"
	q "UPDATE bat_collection SET active = 'N' WHERE code = 'BB_DELAY'"
	run -0 bat-run --once --now '2026-11-23 12:00:00'
	[ "$(q "SELECT status, last_error FROM bat_instance WHERE collection_code = 'BB_DELAY'")" = \
		"disabled|the collection is inactive" ]
	[ "$(q "SELECT COUNT(*) FROM ris_outbound WHERE destination = 'BlueButtonPRO'")" = 0 ]
	[ "$(q "SELECT outcome FROM bat_log WHERE instance_id = 1 ORDER BY id DESC LIMIT 1")" = disabled ]
	# a new event no longer starts it
	event ReportSigned Insert 502 7002 9002
	run -0 bat-run --once --now '2026-11-23 12:00:00'
	[ "$(q "SELECT COUNT(*) FROM bat_instance WHERE collection_code = 'BB_DELAY'")" = 1 ]
}

@test "a rule with an SQL error fails only its instance, without PHI on stderr" {
	tdsd_start "$DB"
	event TestBroken Insert 84713 7001 9001
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$(q "SELECT collection_code, status FROM bat_instance ORDER BY collection_code")" = \
"T_BROKEN|failed
T_FINE|done" ]
	[ "$(q "SELECT last_error FROM bat_instance WHERE collection_code = 'T_BROKEN'")" = \
		"no such table: no_such_table" ]
	[ "$(q "SELECT error_number, message FROM bat_log WHERE rule_kind = 'action' AND outcome = 'error'")" = \
		"208|no such table: no_such_table" ]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 1 ]
	[[ "$stderr" == *"instance 1 step 1 action rule: server error 208"* ]]
	[[ "$stderr" != *84713* ]]
	[[ "$output" != *84713* ]]
}

@test "--check compiles every active rule, runs none, and lists problems by collection, step and rule" {
	tdsd_start "$DB"
	# the fixture's T_BROKEN writes to a table that does not exist: under
	# SET PARSEONLY ON, as on SQL Server (deferred name resolution), that
	# is no --check problem; it fails its own instance when it runs
	run -0 --separate-stderr bat-run --check
	[ "$output" = "collection,step,rule,error_number,message" ]
	[[ "$stderr" != *"problem"* ]]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 0 ]
	[ "$(q "SELECT COUNT(*) FROM ris_outbound")" = 0 ]
	[ "$(q "SELECT COUNT(*) FROM bat_log")" = 0 ]

	q "UPDATE bat_step SET pre_rule = 'SELECT 1 FORM nowhere' WHERE collection_code = 'T_PAIR' AND step = 2"
	q "UPDATE bat_step SET post_rule = 'SELECT 1 FROM nowhere' WHERE collection_code = 'T_PAIR' AND step = 1"
	q "UPDATE bat_step SET action_sql = 'INSERT INTO ledger (event_id, step) VALUES (@event_id, @delay_minute)' WHERE collection_code = 'BB_DELAY'"
	q "UPDATE bat_collection SET inclusion_rule = 'SELEC 1' WHERE code = 'T_LOOP'"
	q "INSERT INTO bat_collection VALUES ('T_OFF', 'inactive: not checked', 'SELEC 2', 'N')"
	run -65 --separate-stderr bat-run --check
	[ "${lines[0]}" = "collection,step,rule,error_number,message" ]
	# found by bat-run itself, on every engine: no parameter rule names it
	[ "${lines[1]}" = "BB_DELAY,1,action,,@delay_minute is not a parameter: no parameter rule of the collection calculates it (AS delay_minute)" ]
	[ "${lines[2]}" = 'T_LOOP,,inclusion,102,"near ""SELEC"": syntax error"' ]
	[ "${lines[3]}" = 'T_PAIR,2,pre,102,"near ""nowhere"": syntax error"' ]
	# T_BROKEN's and T_PAIR step 1's missing tables are not syntax errors
	[ "${#lines[@]}" = 4 ]
	[[ "$stderr" == *"collection T_PAIR step 2 pre rule: server error 102"* ]]
	[[ "$stderr" == *"3 problems in 30 rules checked"* ]]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 0 ]
}

@test "--dry-run runs one event's workflows, prints each rule's answer, and keeps nothing" {
	tdsd_start "$DB"
	event ReportSigned Insert 501 7001 9001
	run -0 bat-run --dry-run 1 --now "$T0"
	[ "$output" = "collection,step,rule,outcome,result,message
BB_DELAY,,inclusion,ok,1,
BB_DELAY,1,engine,started,step 1,
BB_DELAY,1,parameter,ok,delay_minutes nvarchar,
BB_DELAY,1,available,ok,2026-11-23 11:00:00,not waited for
BB_DELAY,1,pre,ok,1,
BB_DELAY,1,action,ok,1 row,
BB_DELAY,1,engine,done,,
LAY_LETTER_MAIL,,inclusion,ok,-1,
REFERRER_FAX,,inclusion,ok,10,
REFERRER_FAX,10,engine,started,step 10,
REFERRER_FAX,10,action,ok,1 row,
REFERRER_FAX,10,engine,done,,
T_BROKEN,,inclusion,ok,-1,
T_FINE,,inclusion,ok,-1,
T_LOOP,,inclusion,ok,-1,
T_PAIR,,inclusion,ok,-1,
T_RUNAWAY,,inclusion,ok,-1,
T_SLOW,,inclusion,ok,-1," ]
	[ "$(q "SELECT COUNT(*) FROM ris_outbound")" = 0 ]
	[ "$(q "SELECT COUNT(*) FROM bat_instance")" = 0 ]
	[ "$(q "SELECT COUNT(*) FROM bat_log")" = 0 ]
	[ "$(q "SELECT claimed_by IS NULL AND done_at IS NULL FROM bat_event")" = 1 ]

	event TestBroken Insert
	run -65 --separate-stderr bat-run --dry-run 2 --now "$T0"
	[[ "$output" == *"T_BROKEN,1,action,error,,no such table: no_such_table"* ]]
	[[ "$output" == *"T_FINE,1,action,ok,1 row,"* ]]
	[[ "$stderr" == *"event 2: 1 workflow failed"* ]]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 0 ]

	run -66 bat-run --dry-run 99
	[[ "$output" == *"event 99: no such event"* ]]
}

@test "killed with SIGKILL mid-step, the step is redone once on the next pass after its lease, never twice" {
	tdsd_start "$DB"
	event TestSlow Insert
	bat-run --once --verbose --lease 60 --now "$T0" >"$W/out" 2>"$W/err" 3>&- &
	pid=$!
	echo "$pid" >>"$W/bat.pids"
	for _ in $(seq 200); do
		grep -q "instance 1 step 1: action" "$W/err" && break
		sleep 0.05
	done
	grep -q "instance 1 step 1: action" "$W/err"
	sleep 0.3
	kill -KILL "$pid"
	wait "$pid" || true
	# the claim stays until its lease runs out: nothing runs it before
	run -0 bat-run --once --now '2026-11-23 10:00:30'
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 0 ]
	[ "$(q "SELECT status, attempts FROM bat_instance")" = "running|1" ]
	run -0 --separate-stderr bat-run --once --now '2026-11-23 10:01:01'
	[[ "$stderr" == *"instance 1: its step is claimed again (attempt 2)"* ]]
	[ "$(q "SELECT event_id, step FROM ledger")" = "1|1" ]
	[ "$(q "SELECT status, steps_run, owner IS NULL FROM bat_instance")" = "done|1|1" ]
	[ "$(q "SELECT outcome, result FROM bat_log WHERE rule_kind = 'engine' AND outcome = 'retry'")" = "retry|attempt 2" ]
	run -0 bat-run --once --now '2026-11-23 10:05:00'
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 1 ]
	[ "$(q "SELECT COUNT(*) FROM bat_log WHERE rule_kind = 'action'")" = 1 ]
}

@test "two bat-run processes on one database with 200 events never run a step twice" {
	tdsd_start "$DB"
	q "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
	   INSERT INTO bat_event (main_action, db_action) SELECT 'TestPair', 'Insert' FROM n"
	for i in 1 2; do
		bat-run --interval 0.1 --now "$T0" >"$W/out$i" 2>"$W/err$i" 3>&- &
		echo $! >>"$W/bat.pids"
	done
	for _ in $(seq 600); do
		[ "$(q "SELECT COUNT(*) FROM bat_instance WHERE status = 'done'")" = 200 ] && break
		sleep 0.1
	done
	for pid in $(cat "$W/bat.pids"); do
		kill -TERM "$pid"
	done
	for pid in $(cat "$W/bat.pids"); do
		rc=0
		wait "$pid" || rc=$?
		[ "$rc" -eq 0 ]
	done
	rm "$W/bat.pids"
	[ "$(q "SELECT COUNT(*) FROM bat_instance WHERE status = 'done'")" = 200 ]
	[ "$(q "SELECT event_id, step, COUNT(*) FROM ledger GROUP BY event_id, step HAVING COUNT(*) > 1")" = "" ]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 400 ]
	[ "$(q "SELECT COUNT(DISTINCT event_id) FROM ledger WHERE step = 2")" = 200 ]
	[ "$(q "SELECT COUNT(*) FROM bat_log WHERE rule_kind = 'action'")" = 400 ]
	# both engines took part
	[ "$(q "SELECT COUNT(DISTINCT engine) FROM bat_log")" = 2 ]
	[ ! -s "$W/err1" ] && [ ! -s "$W/err2" ]
}

# ris: the RIS service team's collections (fixtures/bat-run/ris.sql)
ris() {
	sqlite3 -bail "$DB" < "$TOP/tests/fixtures/bat-run/ris.sql"
}

@test "a re-initialised step keeps its parameters' first values: a loop returning @patient_key finishes" {
	ris
	tdsd_start "$DB"
	event TestReinit Insert 501 7001 9001
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$stderr" = "" ]
	[ "$(q "SELECT status, steps_run, last_error IS NULL FROM bat_instance")" = "done|3|1" ]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 3 ]
	# written once, with the first pass's value: read-only for the instance's life
	[ "$(q "SELECT name, value, type FROM bat_instance_param ORDER BY name")" = \
"first_count|0|bigint
patient_key|501|bigint" ]
	[ "$(q "SELECT COUNT(*) FROM bat_log WHERE rule_kind = 'parameter' AND outcome = 'ok'")" = 3 ]
	[ "$(q "SELECT COUNT(*) FROM bat_log WHERE outcome IN ('error', 'failed')")" = 0 ]
	# nothing left for a later pass
	run -0 bat-run --once --now "$T0"
	[ "$output" = "" ]
}

@test "one failing instance never blocks another: a parameter the database refuses fails its instance once" {
	ris
	tdsd_start "$DB"
	event TestPoison Insert
	event TestPair Insert
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$(q "SELECT collection_code, status, step, last_error FROM bat_instance ORDER BY id")" = \
"R_POISON|failed|1|the engine could not record the step: this parameter is refused
T_PAIR|done|2|" ]
	[[ "$stderr" == *"instance 1: failed at step 1"* ]]
	# the refused step wrote nothing: no parameter, no ledger row
	[ "$(q "SELECT COUNT(*) FROM bat_instance_param")" = 0 ]
	[ "$(q "SELECT event_id, step FROM ledger ORDER BY id")" = "2|1
2|2" ]
	[ "$(q "SELECT outcome, message FROM bat_log WHERE instance_id = 1 ORDER BY id DESC LIMIT 1")" = \
		"failed|the engine could not record the step: this parameter is refused" ]
	# not retried: the next pass is quiet and the next event runs
	event TestPair Insert
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$stderr" = "" ]
	[ "$(q "SELECT status FROM bat_instance WHERE event_id = 3")" = done ]
	[ "$(q "SELECT COUNT(*) FROM bat_log WHERE instance_id = 1")" = 3 ]
}

@test "parameters are bound with their rule column's type: int, decimal, datetime, nvarchar" {
	ris
	tdsd_start "$DB"
	event TestTyped Insert
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT name, value, type FROM bat_instance_param ORDER BY name")" = \
"amount|12.50|decimal
at|2026-11-23 12:00:00|datetime
k|3|int
label|ward 3|nvarchar
m|9|int
n|10|int" ]
	# @at (datetime) is the available datetime
	[ "$(q "SELECT status, due_at FROM bat_instance")" = "waiting|2026-11-23 12:00:00" ]
	# the next pass binds them from the table with the same types: 9 < 10
	# as numbers ('9' < '10' is false as text), @k = 3 as int
	q "UPDATE bat_step SET pre_rule = 'SELECT CASE WHEN @m < @n AND @k = 3 AND @label = ''ward 3'' THEN 1 ELSE -1 END' WHERE collection_code = 'R_TYPED'"
	run -0 bat-run --once --now '2026-11-23 12:00:00'
	[ "$(q "SELECT status FROM bat_instance")" = done ]
	[ "$(q "SELECT event_id, step FROM ledger")" = "1|3" ]
}

@test "rule shapes: no row, NULL, 0 or negative is not included and fails nothing; only a positive pre rule runs the action" {
	ris
	tdsd_start "$DB"
	# every other collection answers this event with no row or -1
	event TestShape Insert
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$(q "SELECT collection_code, status FROM bat_instance")" = "R_SHAPE|done" ]
	[ "$(q "SELECT result FROM bat_log WHERE rule_kind = 'inclusion' AND collection_code = 'R_TYPED'")" = "no row" ]
	n=1
	for pre in "SELECT 0" "SELECT NULL" "SELECT 1 WHERE 1 = 0" "SELECT -1"; do
		q "UPDATE bat_step SET pre_rule = '$pre' WHERE collection_code = 'R_SHAPE'"
		event TestShape Insert
		n=$((n + 1))
		run -0 --separate-stderr bat-run --once --now "$T0"
		[ "$stderr" = "" ]
		[ "$(q "SELECT status FROM bat_instance WHERE event_id = $n")" = aborted ]
	done
	[ "$(q "SELECT result FROM bat_log WHERE rule_kind = 'pre' ORDER BY id")" = "1
0
NULL
no row
-1" ]
	# the action ran for the positive number only
	[ "$(q "SELECT event_id FROM ledger")" = 1 ]
	# the same shapes in an inclusion rule start nothing and fail nothing
	for inc in "SELECT 0" "SELECT NULL" "SELECT 1 WHERE 1 = 0" "SELECT -3"; do
		q "UPDATE bat_collection SET inclusion_rule = '$inc' WHERE code = 'R_SHAPE'"
		event TestShape Insert
		run -0 bat-run --once --now "$T0"
	done
	[ "$(q "SELECT COUNT(*) FROM bat_instance")" = 5 ]
	[ "$(q "SELECT COUNT(*) FROM bat_instance WHERE status = 'failed'")" = 0 ]
}

@test "--dry-run and a real pass agree on a re-initialised loop" {
	ris
	tdsd_start "$DB"
	event TestReinit Insert 501 7001 9001
	run -0 bat-run --dry-run 1 --now "$T0"
	dry=$(printf '%s\n' "$output" | awk -F, '$1 == "R_REINIT" && $3 != "parameter" { print $2 "," $3 "," $4 "," $5 }')
	[ "$(printf '%s\n' "$output" | grep -c '^R_REINIT,1,parameter,ok,patient_key bigint,')" = 3 ]
	[ "$(printf '%s\n' "$output" | grep -c ',calculated before: keeps its first value$')" = 4 ]
	run -0 bat-run --once --now "$T0"
	real=$(q "SELECT COALESCE(step, '') || ',' || rule_kind || ',' || outcome || ',' || COALESCE(result, '')
	    FROM bat_log WHERE instance_id = 1 AND rule_kind <> 'parameter' AND outcome <> 'waiting' ORDER BY id")
	[ "$dry" = "$real" ]
	[ "$(printf '%s\n' "$real" | tail -1)" = "1,engine,done," ]
}

@test "--dry-run prints parameter names and types, the values only with --show-values" {
	tdsd_start "$DB"
	event ReportSigned Insert 501 7001 9001
	run -0 bat-run --dry-run 1 --now "$T0"
	[[ "$output" == *"BB_DELAY,1,parameter,ok,delay_minutes nvarchar,"* ]]
	[[ "$output" != *60* ]]
	run -0 bat-run --dry-run 1 --show-values --now "$T0"
	[[ "$output" == *"BB_DELAY,1,parameter,ok,delay_minutes nvarchar=60,"* ]]
	run -64 bat-run --show-values --once
	[ "$(q "SELECT COUNT(*) FROM bat_instance")" = 0 ]
}

@test "--check never executes anything: the marker table stays empty and its IDENTITY does not move" {
	ris
	tdsd_start "$DB"
	[ "$(q "SELECT seq FROM sqlite_sequence WHERE name = 'marker'")" = 1 ]
	run -65 --separate-stderr bat-run --check
	[ "$output" = "collection,step,rule,error_number,message
R_MARK,2,action,,\"names PARSEONLY, which no rule may set: not sent to the server\"" ]
	[[ "$stderr" == *"1 problem in"* ]]
	[ "$(q "SELECT COUNT(*) FROM marker")" = 0 ]
	[ "$(q "SELECT seq FROM sqlite_sequence WHERE name = 'marker'")" = 1 ]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 0 ]
	[ "$(q "SELECT COUNT(*) FROM bat_log")" = 0 ]
	# a real pass would have run them: the marker is there to be seen
	q "UPDATE bat_collection SET inclusion_rule = 'SELECT 1' WHERE code = 'R_MARK'"
	q "UPDATE bat_step SET active = 'N' WHERE collection_code = 'R_MARK' AND step > 1"
	q "UPDATE bat_step SET pre_rule = 'SELECT 1' WHERE collection_code = 'R_MARK'"
	event Nothing Insert
	q "INSERT INTO bat_queue_subscription (main_action) VALUES ('Nothing')"
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT note FROM marker ORDER BY id")" = "action ran
action ran twice" ]
}

@test "--retry restarts a failed instance from its failed step, once; logged" {
	ris
	tdsd_start "$DB"
	event TestBroken Insert
	event TestPoison Insert
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT id, collection_code, status FROM bat_instance WHERE status = 'failed' ORDER BY id")" = \
"1|T_BROKEN|failed
3|R_POISON|failed" ]
	# mended: the table exists, the trigger is gone
	q "CREATE TABLE no_such_table (patient_key BIGINT); DROP TRIGGER poison"
	run -0 --separate-stderr bat-run --retry 1 --now '2026-11-23 10:05:00'
	[[ "$output" == *",1,1,T_BROKEN,1,engine,retried,step 1,,,"* ]]
	[ "$(q "SELECT status, step, last_error IS NULL FROM bat_instance WHERE id = 1")" = "init|1|1" ]
	run -0 bat-run --retry 3
	run -0 bat-run --once --now '2026-11-23 10:05:00'
	[ "$(q "SELECT id, status FROM bat_instance WHERE id IN (1, 3) ORDER BY id")" = "1|done
3|done" ]
	[ "$(q "SELECT COUNT(*) FROM no_such_table")" = 1 ]
	[ "$(q "SELECT rule_kind, outcome, result, engine <> '' FROM bat_log WHERE outcome = 'retried' ORDER BY id")" = \
"engine|retried|step 1|1
engine|retried|step 1|1" ]
	# only a failed instance, and one that exists
	run -65 bat-run --retry 1
	[[ "$output" == *"instance 1 is done, not failed: nothing to retry"* ]]
	run -66 bat-run --retry 99
	[[ "$output" == *"instance 99: no such instance"* ]]
	[ "$(q "SELECT COUNT(*) FROM no_such_table")" = 1 ]
}

@test "--resume restarts what an inactive collection disabled, at its due time; logged" {
	tdsd_start "$DB"
	event ReportSigned Insert 501 7001 9001
	run -0 bat-run --once --now "$T0"
	q "UPDATE bat_collection SET active = 'N' WHERE code = 'BB_DELAY'"
	run -0 bat-run --once --now '2026-11-23 10:10:00'
	[ "$(q "SELECT status FROM bat_instance WHERE id = 1")" = disabled ]
	run -65 bat-run --resume BB_DELAY
	[[ "$output" == *"collection BB_DELAY is still inactive: set its active to Y first"* ]]
	q "UPDATE bat_collection SET active = 'Y' WHERE code = 'BB_DELAY'"
	run -0 --separate-stderr bat-run --resume BB_DELAY --now '2026-11-23 10:20:00'
	[[ "$stderr" == *"collection BB_DELAY: 1 instance resumed"* ]]
	[ "$(q "SELECT status, due_at FROM bat_instance WHERE id = 1")" = "waiting|2026-11-23 11:00:00" ]
	[ "$(q "SELECT logged_at, outcome, result FROM bat_log WHERE outcome = 'resumed'")" = \
		"2026-11-23 10:20:00|resumed|step 1" ]
	run -0 bat-run --once --now '2026-11-23 11:00:00'
	[ "$(q "SELECT COUNT(*) FROM ris_outbound WHERE destination = 'BlueButtonPRO'")" = 1 ]
	run -66 bat-run --resume NO_SUCH
	[[ "$output" == *"collection NO_SUCH: no such collection"* ]]
}

@test "--list shows instances, their step, due time and last error, no parameter values; --status filters; logged" {
	tdsd_start "$DB"
	event ReportSigned Insert 84713 7001 9001
	event TestBroken Insert 84713
	run -0 bat-run --once --now "$T0"
	run -0 --separate-stderr bat-run --list
	[ "${lines[0]}" = "instance_id,event_id,collection,step,status,due_at,attempts,steps_run,updated_at,last_error" ]
	[ "${lines[1]}" = "1,1,BB_DELAY,1,waiting,2026-11-23 11:00:00,0,0,$T0," ]
	[ "${lines[3]}" = "3,2,T_BROKEN,1,failed,$T0,1,0,$T0,no such table: no_such_table" ]
	[ "${#lines[@]}" = 5 ]
	[[ "$output" != *84713* && "$output" != *60* ]]
	run -0 bat-run --list --status failed
	[ "$output" = "instance_id,event_id,collection,step,status,due_at,attempts,steps_run,updated_at,last_error
3,2,T_BROKEN,1,failed,$T0,1,0,$T0,no such table: no_such_table" ]
	[ "$(q "SELECT rule_kind, outcome, result FROM bat_log WHERE outcome = 'listed' ORDER BY id")" = \
"engine|listed|4 instances
engine|listed|1 failed instance" ]
	run -64 bat-run --list --status broken
	[[ "$output" == *"--status: want init, waiting"* ]]
	run -64 bat-run --status failed
}

@test "every --dialect sqlite template passes --check on tdsd" {
	tdsd_start "$DB"
	q "UPDATE bat_collection SET active = 'N'"
	for kind in inclusion parameter available-datetime pre action post; do
		bat-run --template "$kind" --dialect sqlite >"$W/$kind.sql"
	done
	q "INSERT INTO bat_collection VALUES ('TEMPLATES', 'the templates',
	    CAST(readfile('$W/inclusion.sql') AS TEXT), 'Y');
	   INSERT INTO bat_step (collection_code, step, active, parameter_rule,
	    available_rule, pre_rule, action_sql, post_rule) VALUES ('TEMPLATES', 1, 'Y',
	    CAST(readfile('$W/parameter.sql') AS TEXT), CAST(readfile('$W/available-datetime.sql') AS TEXT),
	    CAST(readfile('$W/pre.sql') AS TEXT), CAST(readfile('$W/action.sql') AS TEXT),
	    CAST(readfile('$W/post.sql') AS TEXT))"
	run -0 --separate-stderr bat-run --check
	[ "$output" = "collection,step,rule,error_number,message" ]
	[ "$(q "SELECT COUNT(*) FROM ris_outbound")" = 0 ]
	# and they run: a signed report is forwarded after the delay
	event ReportSigned Insert 501 7001 9001
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT name, type FROM bat_instance_param")" = "delay_minutes|int" ]
	[ "$(q "SELECT due_at FROM bat_instance")" = "2026-11-23 11:00:00" ]
	# the T-SQL ones are not SQLite: tdsd's parser says where (PARSEONLY
	# finds syntax only, so the pre rule's ISNULL (a SQLite keyword) is
	# found; DATEADD, a well-formed call, would fail when it runs)
	bat-run --template pre >"$W/tsql.sql"
	q "UPDATE bat_step SET pre_rule = CAST(readfile('$W/tsql.sql') AS TEXT)"
	run -65 bat-run --check
	[[ "$output" == *'TEMPLATES,1,pre,102,"near ""ISNULL"": syntax error"'* ]]
}

@test "an event whose instances the database refuses is logged failed once and never stops the pass" {
	tdsd_start "$DB"
	q "CREATE TRIGGER refuse BEFORE INSERT ON bat_instance WHEN NEW.collection_code = 'T_FINE'
	   BEGIN SELECT RAISE(ABORT, 'instances refused'); END"
	event TestBroken Insert
	event TestPair Insert
	run -0 --separate-stderr bat-run --once --now "$T0"
	[[ "$stderr" == *"event 1: failed: the engine could not record its instances"* ]]
	# nothing of event 1 half-written: neither collection started
	[ "$(q "SELECT event_id, collection_code, status FROM bat_instance")" = "2|T_PAIR|done" ]
	[ "$(q "SELECT id, done_at FROM bat_event ORDER BY id")" = "1|$T0
2|$T0" ]
	[ "$(q "SELECT rule_kind, outcome, message FROM bat_log WHERE event_id = 1")" = \
		"engine|failed|the engine could not record the event's instances: instances refused" ]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 2 ]
	# not claimed again, after the lease or ever
	run -0 --separate-stderr bat-run --once --now '2026-11-23 11:00:00'
	[ "$stderr" = "" ] && [ "$output" = "" ]
}
