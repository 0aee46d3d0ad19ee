#!/usr/bin/env bats
# bat-run on Babelfish, a real T-SQL engine: the tables of
# pipelines/sql/bat_schema.sql, the RIS side (fixtures/bat-run/ris.tsql)
# with the trigger template pipelines/sql/bat_events_trigger.sql on its
# action table, and T-SQL rules. Each test gets a fresh database; the
# tables are read back with babelfish_sql (python3-tds, not bat-run).
# DDL is slow on Babelfish: a test's database is made in one batch run,
# and the definitions a test writes go in one run before bat-run.

bats_require_minimum_version 1.5.0
load common
load babelfish

T0='2026-11-23 10:00:00'

setup_file() {
	babelfish_start
	# a fresh database "bat": the tables, the RIS side, the trigger
	{
		printf '%s\nGO\n' "IF DB_ID('bat') IS NOT NULL DROP DATABASE bat" \
			"CREATE DATABASE bat" "USE bat"
		cat "$TOP/pipelines/sql/bat_schema.sql"
		printf '\nGO\n'
		cat "$TOP/tests/fixtures/bat-run/ris.tsql"
		printf '\nGO\n'
		cat "$TOP/pipelines/sql/bat_events_trigger.sql"
	} >"$BATS_FILE_TMPDIR/fresh.sql"
}

teardown_file() {
	babelfish_stop
}

setup() {
	common_setup
	babelfish_require
	unset SCHEDFEED_DB_ENCRYPT SCHEDFEED_DB_CA_FILE \
		SCHEDFEED_DB_PASSWORD_FILE FREETDSCONF FREETDS TDSVER TDSDUMP
	babelfish_sql "$BATS_FILE_TMPDIR/fresh.sql"
	babelfish_env bat
}

# def SQL: a definition, written with the next q or bat-run
def() {
	printf '%s\nGO\n' "$1" >>"$W/defs.sql"
}

# q SQL: the database read (or changed) beside bat-run, after the
# pending definitions
q() {
	{
		if [ -f "$W/defs.sql" ]; then cat "$W/defs.sql"; fi
		printf '%s\n' "$1"
	} | babelfish_sql -d bat
	local rc=$?
	rm -f "$W/defs.sql"
	return $rc
}

# bat-run, once the pending definitions are written
bat-run() {
	if [ -s "$W/defs.sql" ]; then
		q "" || return 1
	fi
	command bat-run "$@"
}

# act MAIN DB PATIENT ORDER STUDY REPORT: the RIS records an action
act() {
	def "INSERT INTO c_action (main_action, db_action, patient_key, order_key,
	    study_key, report_key) VALUES (N'$1', N'$2', ${3:-NULL}, ${4:-NULL},
	    ${5:-NULL}, ${6:-NULL})"
}

# subscribe MAIN: the BAT queue takes MAIN with any db_action
subscribe() {
	def "INSERT INTO bat_queue_subscription (queue_name, main_action,
	    db_action, exclusion_flag) VALUES (N'BAT', N'$1', N'<All>', 'N')"
}

# collection CODE INCLUSION: an active collection
collection() {
	def "INSERT INTO bat_collection (code, description, inclusion_rule, active)
	    VALUES (N'$1', N'a test collection', N'$2', 'Y')"
}

# step CODE N PARAMETER AVAILABLE PRE ACTION POST: a step ('' for NULL);
# the rules are T-SQL with their quotes doubled
step() {
	local v=() r
	for r in "$3" "$4" "$5" "$6" "$7"; do
		if [ -n "$r" ]; then v+=("N'$r'"); else v+=(NULL); fi
	done
	def "INSERT INTO bat_step (collection_code, step, description, active,
	    parameter_rule, available_rule, pre_rule, action_sql, post_rule)
	    VALUES (N'$1', $2, N'a test step', 'Y', ${v[0]}, ${v[1]}, ${v[2]},
	    ${v[3]}, ${v[4]})"
}

@test "the trigger template queues subscribed RIS actions with their id and report key; the next pass starts the workflow" {
	subscribe ReportSigned
	def "INSERT INTO bat_queue_subscription (queue_name, main_action, db_action,
	    exclusion_flag) VALUES (N'BAT', N'ReportSigned', N'Delete', 'Y')"
	collection FAX "SELECT 10 WHERE @main_action = N''ReportSigned'' AND @report_key IS NOT NULL"
	step FAX 10 '' '' '' "INSERT INTO ris_outbound (study_key, destination, queued_at) VALUES (@study_key, N''fax '' + CAST(@report_key AS nvarchar(20)) + N'' action '' + CAST(@action_id AS nvarchar(20)), @now)" ''
	# one statement inserting three actions: one subscribed, one excluded,
	# one nobody subscribed to
	def "INSERT INTO c_action (main_action, db_action, patient_key, order_key,
	    study_key, report_key) VALUES
	    (N'ReportSigned', N'Insert', 501, 7001, 9001, 4001),
	    (N'ReportSigned', N'Delete', 501, 7001, 9001, 4001),
	    (N'UI_StudyUpdated', N'Update', 501, 7001, 9001, NULL)"
	[ "$(q "SELECT id, queue_name, main_action, db_action, action_id, patient_key, order_key, study_key, report_key, done_at FROM bat_event")" = \
		"$(printf '1\tBAT\tReportSigned\tInsert\t1000\t501\t7001\t9001\t4001\tNULL')" ]
	# the RIS's action and its event commit together or not at all
	run -1 q "BEGIN TRANSACTION
	    INSERT INTO c_action (main_action, db_action, study_key) VALUES (N'ReportSigned', N'Insert', 9002)
	    ROLLBACK TRANSACTION
	    SELECT 1/0"
	[ "$(q "SELECT COUNT(*) FROM bat_event")" = 1 ]
	run -0 bat-run --once --now "$T0"
	[[ "$output" == *",1,1,FAX,10,engine,done,"* ]]
	[ "$(q "SELECT study_key, destination FROM ris_outbound")" = "$(printf '9001\tfax 4001 action 1000')" ]
	[ "$(q "SELECT CONVERT(varchar(19), done_at, 120) FROM bat_event")" = "$T0" ]
}

# example_blocks: the literal blocks of bat-run(1)'s EXAMPLES, each ended
# by a line "@@END"
example_blocks() {
	awk '/^\.Sh EXAMPLES/ { ex = 1; next } /^\.Sh / { ex = 0 }
	    ex && /^\.Bd -literal/ { lit = 1; next }
	    ex && lit && /^\.Ed/ { lit = 0; print "@@END"; next }
	    ex && lit { gsub(/\\e/, "\\"); gsub(/\\-/, "-"); print }' \
		"$TOP/man/man1/bat-run.1"
}

@test "the bat-run(1) example runs on Babelfish as the page shows it" {
	local block=() line n=0 cmd expect
	example_blocks >"$W/blocks"
	while IFS= read -r line; do
		if [ "$line" != "@@END" ]; then
			block+=("${line#    }")
			continue
		fi
		n=$((n + 1))
		if [[ "${block[0]}" != '$ '* ]]; then
			# SQL: the definitions, the RIS's action
			[[ "${block[0]}" == bat-run* ]] || printf '%s\n' "${block[@]}" | babelfish_sql -d bat
		else
			# commands with the output the page shows
			cmd= expect=
			for line in "${block[@]}" '$ '; do
				if [[ "$line" == '$ '* ]]; then
					if [ -n "$cmd" ]; then
						run bash -c "$cmd"
						[ "$status" -eq 0 ]
						[ "$output" = "${expect%$'\n'}" ]
					fi
					cmd=${line#\$ } expect=
				else
					expect+="$line"$'\n'
				fi
			done
		fi
		block=()
	done <"$W/blocks"
	# every block ran: the definitions, the action, the commands
	[ "$n" -ge 4 ]
	[ "$(q "SELECT status FROM bat_instance")" = done ]
	[ "$(q "SELECT study_key, destination, CONVERT(varchar(19), queued_at, 120) FROM ris_outbound")" = \
		"$(printf '9001\tBlueButtonPRO\t2026-11-23 11:00:00')" ]
}

@test "--check never executes anything on Babelfish: a marker stays absent and its IDENTITY does not move" {
	q "INSERT INTO marker (note) VALUES (N'seed'); DELETE FROM marker"
	[ "$(q "SELECT IDENT_CURRENT('marker')")" = 1 ]
	collection MARK "SELECT CAST(@main_action AS int)"
	# a conversion error (it ends a transaction on Babelfish), then actions
	step MARK 1 "SELECT CAST(N''x'' AS int) AS n" "" "SELECT CAST(@main_action AS int)" "INSERT INTO marker (note) VALUES (N''action ran''); INSERT INTO marker (note) VALUES (N''and again'')" "SELECT CAST(N''y'' AS int)"
	step MARK 2 "" "" "" "SET PARSEONLY OFF; INSERT INTO marker (note) VALUES (N''escaped'')" ""
	step MARK 3 "" "" "" "INSERT INTO marker (note) VALUES (N''after'')" ""
	step MARK 4 "" "" "" "UPDATE marker SET note = N''changed''; DELETE FROM ris_outbound; EXEC (N''INSERT INTO marker (note) VALUES (N''''exec'''')'')" ""
	step MARK 5 "" "" "" "INSERT INTO marker (note) VALUES (N''broken''" ""
	run -65 --separate-stderr bat-run --check
	[[ "$output" == "collection,step,rule,error_number,message
MARK,2,action,,\"names PARSEONLY, which no rule may set: not sent to the server\"
MARK,5,action,33557097,syntax error near '***' at line 1 and character position "* ]]
	[[ "$stderr" == *"2 problems in 9 rules checked"* ]]
	[ "$(q "SELECT COUNT(*) FROM marker")" = 0 ]
	[ "$(q "SELECT IDENT_CURRENT('marker')")" = 1 ]
	[ "$(q "SELECT COUNT(*) FROM bat_log")" = 0 ]
}

@test "every T-SQL template passes --check on Babelfish, and runs" {
	local kind
	for kind in inclusion parameter available-datetime pre action post; do
		bat-run --template "$kind" | sed "s/'/''/g" >"$W/$kind.sql"
	done
	subscribe ReportSigned
	collection TEMPLATES "$(cat "$W/inclusion.sql")"
	step TEMPLATES 1 "$(cat "$W/parameter.sql")" "$(cat "$W/available-datetime.sql")" \
		"$(cat "$W/pre.sql")" "$(cat "$W/action.sql")" "$(cat "$W/post.sql")"
	run -0 --separate-stderr bat-run --check
	[ "$output" = "collection,step,rule,error_number,message" ]
	[ "$(q "SELECT COUNT(*) FROM ris_outbound")" = 0 ]
	act ReportSigned Insert 501 7001 9001 4001
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT name, type FROM bat_instance_param")" = "$(printf 'delay_minutes\tint')" ]
	[ "$(q "SELECT status, CONVERT(varchar(19), due_at, 120) FROM bat_instance")" = "$(printf 'waiting\t2026-11-23 11:00:00')" ]
	# at 11:00 the letter is not 7 days old: no loop, done
	run -0 bat-run --once --now '2026-11-23 11:00:00'
	[ "$(q "SELECT status FROM bat_instance")" = done ]
	[ "$(q "SELECT study_key, destination FROM ris_outbound")" = "$(printf '9001\tBlueButtonPRO')" ]
	# the tdsd forms are not T-SQL: Babelfish says which
	bat-run --template available-datetime --dialect sqlite | sed "s/'/''/g" >"$W/sqlite.sql"
	q "UPDATE bat_step SET available_rule = N'$(cat "$W/sqlite.sql")'"
	run -65 bat-run --check
	[[ "$output" == *"TEMPLATES,1,available,"* ]]
}

@test "a re-initialised step keeps its first parameter values on Babelfish: a loop returning @patient_key finishes" {
	subscribe TestReinit
	collection REINIT "SELECT 1 WHERE @main_action = N''TestReinit''"
	step REINIT 1 "SELECT @patient_key AS patient_key, (SELECT COUNT(*) FROM ledger WHERE event_id = @event_id) AS first_count" "" "" \
		"INSERT INTO ledger (event_id, step) VALUES (@event_id, @step)" \
		"SELECT 1 WHERE (SELECT COUNT(*) FROM ledger WHERE event_id = @event_id) < 3"
	act TestReinit Insert 501 7001 9001
	run -0 --separate-stderr bat-run --dry-run 1 --now "$T0"
	[ "$(printf '%s\n' "$output" | grep -c ',calculated before: keeps its first value$')" = 4 ]
	[[ "$output" == *"REINIT,1,engine,done,,"* ]]
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$stderr" = "" ]
	[ "$(q "SELECT status, steps_run FROM bat_instance")" = "$(printf 'done\t3')" ]
	[ "$(q "SELECT name, value, type FROM bat_instance_param ORDER BY name")" = \
		"$(printf 'first_count\t0\tint\npatient_key\t501\tbigint')" ]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 3 ]
}

@test "typed parameters compare on Babelfish as SQL Server compares them: int, decimal, datetime, nvarchar" {
	subscribe TestTyped
	collection TYPED "SELECT 1 WHERE @main_action = N''TestTyped''"
	step TYPED 1 "SELECT v.k AS k, v.amount AS amount, v.at AS at, v.label AS label, 9 AS m, 10 AS n FROM t_values v" \
		"SELECT DATEADD(minute, @k, @at)" \
		"SELECT CASE WHEN @m < @n AND @amount < 100 AND @amount > 12.4 AND @k = 3 AND @label = N''ward 3'' AND @at < @now THEN 1 ELSE -1 END" \
		"INSERT INTO ledger (event_id, step) VALUES (@event_id, @k)" ""
	act TestTyped Insert
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT name, value, type FROM bat_instance_param ORDER BY name")" = "$(printf '%s\n' \
		$'amount\t12.50\tdecimal' $'at\t2026-11-23 12:00:00\tdatetime' $'k\t3\tint' \
		$'label\tward 3\tnvarchar' $'m\t9\tint' $'n\t10\tint')" ]
	[ "$(q "SELECT CONVERT(varchar(19), due_at, 120) FROM bat_instance")" = "2026-11-23 12:03:00" ]
	run -0 bat-run --once --now '2026-11-23 12:03:00'
	[ "$(q "SELECT status FROM bat_instance")" = done ]
	[ "$(q "SELECT step FROM ledger")" = 3 ]
}

@test "one failing instance never blocks another on Babelfish: a refused parameter fails its instance once" {
	def "ALTER TABLE bat_instance_param ADD CONSTRAINT no_poison CHECK (name <> N'poison')"
	subscribe TestPoison
	collection POISON "SELECT 1 WHERE @main_action = N''TestPoison''"
	step POISON 1 "SELECT 1 AS poison" "" "" "INSERT INTO ledger (event_id, step) VALUES (@event_id, @step)" ""
	collection FINE "SELECT 1 WHERE @main_action = N''TestPoison''"
	step FINE 1 "SELECT 2 AS fine" "" "" "INSERT INTO ledger (event_id, step) VALUES (@event_id, @step)" ""
	act TestPoison Insert
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$(q "SELECT collection_code, status FROM bat_instance ORDER BY collection_code")" = \
		"$(printf 'FINE\tdone\nPOISON\tfailed')" ]
	[[ "$(q "SELECT last_error FROM bat_instance WHERE collection_code = N'POISON'")" == "the engine could not record the step: "* ]]
	[ "$(q "SELECT COUNT(*) FROM ledger")" = 1 ]
	act TestPoison Insert
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$(q "SELECT COUNT(*) FROM bat_instance WHERE status = 'done'")" = 2 ]
	[ "$(q "SELECT COUNT(*) FROM bat_instance WHERE status = 'failed'")" = 2 ]
	# the operator mends it and retries the first
	q "ALTER TABLE bat_instance_param DROP CONSTRAINT no_poison"
	id=$(q "SELECT MIN(id) FROM bat_instance WHERE status = 'failed'")
	run -0 bat-run --retry "$id" --now "$T0"
	[[ "$output" == *",engine,retried,step 1,"* ]]
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT status FROM bat_instance WHERE id = $id")" = done ]
	run -0 bat-run --list --status failed
	[ "${#lines[@]}" = 2 ]
	[ "$(q "SELECT outcome FROM bat_log WHERE rule_kind = 'engine' AND outcome IN ('retried', 'listed') ORDER BY id")" = \
		"$(printf 'retried\nlisted')" ]
}

@test "rule shapes on Babelfish: SELECT 1 WHERE starts only what it matches; a pre rule of 0, NULL or no row aborts" {
	subscribe TestShape
	subscribe Other
	collection SHAPE "SELECT 1 WHERE @main_action = N''TestShape''"
	step SHAPE 1 "" "" "SELECT 0" "INSERT INTO ledger (event_id, step) VALUES (@event_id, @step)" ""
	act Other Insert
	act TestShape Insert
	run -0 --separate-stderr bat-run --once --now "$T0"
	[ "$stderr" = "" ]
	[ "$(q "SELECT event_id, status FROM bat_instance")" = "$(printf '2\taborted')" ]
	[ "$(q "SELECT result FROM bat_log WHERE rule_kind = 'inclusion' ORDER BY id")" = "$(printf 'no row\n1')" ]
	for pre in "SELECT NULL" "SELECT 1 WHERE 1 = 0"; do
		def "UPDATE bat_step SET pre_rule = N'$pre'"
		act TestShape Insert
		run -0 bat-run --once --now "$T0"
	done
	def "UPDATE bat_step SET pre_rule = N'SELECT 1'"
	act TestShape Insert
	run -0 bat-run --once --now "$T0"
	[ "$(q "SELECT status, COUNT(*) FROM bat_instance GROUP BY status ORDER BY status")" = \
		"$(printf 'aborted\t3\ndone\t1')" ]
	[ "$(q "SELECT event_id FROM ledger")" = 5 ]
}
