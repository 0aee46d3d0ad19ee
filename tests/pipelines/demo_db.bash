# The synthetic demo database (tests/fixtures/demo-db.sql) for a job suite,
# on the engine its file name says (tests/engine.bash): FOO.bats on tdsd,
# FOO_babelfish.bats (a symbolic link to it) on Babelfish. Load after
# common, tdsd, babelfish and engine:
#	load ../common; load ../tdsd; load ../babelfish; load ../engine
#	load demo_db
#
#	setup_file()    { demo_db_setup_file; }
#	teardown_file() { demo_db_teardown_file; }
#	demo_db_start [TDSD OPTION...]   this test's database "demo"; exports
#	                                 SCHEDFEED_DB_* and, on tdsd, DB (the
#	                                 SQLite file)
#	demo_db_sql SQL                  changes it (SQL both engines read)
#	demo_db_tdsd_only REASON         skips this test on Babelfish

demo_db_setup_file() {
	engine_setup_file
}

demo_db_teardown_file() {
	engine_teardown_file
}

demo_db_start() {
	engine_db demo "$TOP/tests/fixtures/demo-db.sql" "$@"
	DB=$ENGINE_DB
}

demo_db_sql() {
	engine_changed
	engine_sql "$1"
}

demo_db_tdsd_only() {
	engine_only tdsd "$1"
}
