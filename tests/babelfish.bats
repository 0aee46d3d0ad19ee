#!/usr/bin/env bats
# tests/babelfish.bash itself: one Babelfish for the file, T-SQL through
# babelfish_sql, sched-query pointed at it, and a second server with TLS.

bats_require_minimum_version 1.5.0
load common
load babelfish
load tls

setup_file() {
	babelfish_start
}

teardown_file() {
	babelfish_stop
}

setup() {
	common_setup
	babelfish_require
	unset SCHEDFEED_DB_ENCRYPT SCHEDFEED_DB_CA_FILE SCHEDFEED_DB_PASSWORD_FILE \
		FREETDSCONF FREETDS TDSVER TDSDUMP
}

teardown() {
	if [ -n "${TLS_DIR:-}" ]; then
		BABELFISH_DIR=$TLS_DIR babelfish_stop
	fi
}

@test "babelfish_sql: batches split on GO, rows tab-separated, NULL and binary" {
	babelfish_db selftest
	run --separate-stderr babelfish_sql -d selftest <<-'SQL'
	CREATE TABLE t (a int, b nvarchar(5), c varbinary(4))
	GO
	INSERT t VALUES (1, N'né', 0x0102), (NULL, NULL, NULL)
	SELECT * FROM t ORDER BY a
	SQL
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(printf 'NULL\tNULL\tNULL\n1\tné\t0x0102')" ]
}

@test "babelfish_sql: the first error stops the run with its number, status 1" {
	babelfish_db selftest
	run --separate-stderr babelfish_sql -d selftest <<-'SQL'
	CREATE TABLE t (a nvarchar(3))
	GO
	INSERT t VALUES (N'four')
	GO
	INSERT t VALUES (N'ok')
	SQL
	[ "$status" -eq 1 ]
	[[ "$stderr" == "Msg 8152, Level 16: "* ]]
	run babelfish_sql -d selftest <<<'SELECT COUNT(*) FROM t'
	[ "$output" = 0 ]
}

@test "babelfish_env: sched-query reads this server's database" {
	babelfish_db selftest
	babelfish_sql -d selftest <<<"CREATE TABLE t (a int); INSERT t VALUES (7)"
	babelfish_env selftest
	run --separate-stderr sched-query -e 'SELECT a, @@VERSION AS v FROM t'
	[ "$status" -eq 0 ]
	[[ "$output" == "a,v
7,"*"Babelfish"* ]]
}

@test "babelfish_start --tls: a second server that offers TLS with our certificate" {
	local plain_port=$BABELFISH_PORT
	make_test_ca "$W/ca"
	babelfish_start --tls "$W/ca/server.pem" "$W/ca/server.key"
	TLS_DIR=$BABELFISH_DIR
	[ "$BABELFISH_PORT" != "$plain_port" ]
	babelfish_env master
	SCHEDFEED_DB_ENCRYPT=require SCHEDFEED_DB_CA_FILE=$W/ca/ca.pem \
		run --separate-stderr sched-query -e 'SELECT 1 AS one'
	[ "$status" -eq 0 ]
	[ "$output" = "one
1" ]
	# a certificate checked: another CA's file is refused (the status is
	# the database TLS tests' business)
	SCHEDFEED_DB_ENCRYPT=require SCHEDFEED_DB_CA_FILE=$W/ca/other-ca.pem \
		run --separate-stderr sched-query -e 'SELECT 1 AS one'
	[ "$status" -ne 0 ]
	[ "$output" = "" ]
}
