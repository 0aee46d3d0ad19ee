# The synthetic demo database (tests/fixtures/demo-db.sql) for a job suite,
# on either engine: tdsd over a SQLite copy, or Babelfish (a real T-SQL
# engine) with the T-SQL form of the same script (tests/sql2tsql.py).
# Load after common, tdsd and babelfish:
#	load ../common; load ../tdsd; load ../babelfish; load demo_db
#
# The engine follows the file's name: a suite FOO.bats runs on tdsd, and
# FOO_babelfish.bats, a symbolic link to it, runs the same tests on
# Babelfish. A test that needs what only tdsd has (its fault injection
# options) skips on Babelfish and says so.
#
#	setup_file()    { demo_db_setup_file; }
#	teardown_file() { demo_db_teardown_file; }
#	demo_db_start [TDSD OPTION...]   this test's database; exports
#	                                 SCHEDFEED_DB_* and, on tdsd, DB (the
#	                                 SQLite file)
#	demo_db_sql SQL                  runs SQL on it (both dialects' SQL)
#	demo_db_tdsd_only REASON         skips this test on Babelfish

case ${BATS_TEST_FILENAME##*/} in
*_babelfish.bats) DEMO_DB_ENGINE=babelfish ;;
*) DEMO_DB_ENGINE=tdsd ;;
esac

# demo_db_setup_file: on Babelfish, the file's server with the demo
# database "demo" loaded once (the jobs only read it; a test that changes
# it with demo_db_sql gets it reloaded for the next test).
demo_db_setup_file() {
	[ "$DEMO_DB_ENGINE" = babelfish ] || return 0
	babelfish_start
	[ -z "$BABELFISH_SKIP" ] || return 0
	demo_db_load_babelfish
}

demo_db_teardown_file() {
	[ "$DEMO_DB_ENGINE" = babelfish ] || return 0
	babelfish_stop
}

demo_db_load_babelfish() {
	babelfish_db demo
	"$PY" "$TOP/tests/sql2tsql.py" "$TOP/tests/fixtures/demo-db.sql" |
		babelfish_sql -d demo >/dev/null
	rm -f "$BATS_FILE_TMPDIR/demo_db.changed"
}

demo_db_start() {
	if [ "$DEMO_DB_ENGINE" = tdsd ]; then
		[ -x "$TDSD" ] || skip "tdsd is not built ($TDSD)"
		tdsd_stop_all
		DB=$(mktemp -d "$BATS_TEST_TMPDIR/tdsd.XXXXXX")/demo.sqlite
		tdsd_demo_db "$DB"
		tdsd_start "$DB" "$@"
	else
		[ $# -eq 0 ] || skip "tdsd's fault injection ($*) has no Babelfish equivalent: runs on tdsd only"
		babelfish_require
		[ ! -e "$BATS_FILE_TMPDIR/demo_db.changed" ] || demo_db_load_babelfish
		babelfish_env demo
		DB=
	fi
	export SCHEDFEED_DB_DATABASE=demo
}

demo_db_sql() {
	if [ "$DEMO_DB_ENGINE" = tdsd ]; then
		sqlite3 -bail "$DB" "$1"
	else
		touch "$BATS_FILE_TMPDIR/demo_db.changed"
		babelfish_sql -d demo <<<"$1"
	fi
}

demo_db_tdsd_only() {
	[ "$DEMO_DB_ENGINE" = tdsd ] || skip "$1: runs on tdsd only"
}

# On Babelfish, a test's tdsd_stop_all ("the database is gone") closes the
# database to the job: the port becomes one nobody listens on. The server
# itself stays up for the file's other tests.
if [ "$DEMO_DB_ENGINE" = babelfish ]; then
	tdsd_stop_all() {
		export SCHEDFEED_DB_PORT=1
	}
fi
