# One suite, two database engines: tdsd (our TDS server over SQLite) and
# Babelfish (a real T-SQL engine). Load after common, tdsd and babelfish:
#	load common; load tdsd; load babelfish; load engine
#
# The engine follows the file's name: FOO.bats runs on tdsd, and
# FOO_babelfish.bats, a symbolic link to it, runs the same tests on
# Babelfish, so no test is written twice. A fixture is one SQLite script
# (with SQL Server's types and lengths); Babelfish gets its T-SQL form from
# tests/sql2tsql.py.
#
#	setup_file()    { engine_setup_file; }
#	teardown_file() { engine_teardown_file; }
#	engine_db NAME SCRIPT [TDSD OPTION...]
#		a database NAME loaded from SCRIPT, served for this test;
#		exports SCHEDFEED_DB_* (the database too) and, on tdsd,
#		ENGINE_DB (the SQLite file). On Babelfish the database is
#		loaded once per file and kept for the next test unless this
#		one calls engine_changed.
#	engine_sql SQL	runs SQL in that database (SQL both engines read)
#	engine_changed	this test changed the database (engine_sql or the
#			program under test wrote to it)
#	engine_only ENGINE REASON	skips this test on the other engine
#	engine_is ENGINE	true on that engine

case ${BATS_TEST_FILENAME##*/} in
*_babelfish.bats) ENGINE=babelfish ;;
*) ENGINE=tdsd ;;
esac

engine_is() {
	[ "$ENGINE" = "$1" ]
}

engine_only() {
	[ "$ENGINE" = "$1" ] || skip "$2: runs on $1 only"
}

engine_setup_file() {
	engine_is babelfish || return 0
	babelfish_start
}

engine_teardown_file() {
	engine_is babelfish || return 0
	babelfish_stop
}

# engine_load_babelfish NAME SCRIPT: NAME afresh from SCRIPT's T-SQL form.
engine_load_babelfish() {
	babelfish_db "$1" &&
		"$PY" "$TOP/tests/sql2tsql.py" "$2" | babelfish_sql -d "$1" >/dev/null &&
		printf '%s\n' "$2" >"$BATS_FILE_TMPDIR/engine.$1.loaded"
}

engine_db() {
	local name=$1 script=$2 loaded
	shift 2
	ENGINE_DB_NAME=$name
	if engine_is tdsd; then
		[ -x "$TDSD" ] || skip "tdsd is not built ($TDSD)"
		tdsd_stop_all
		ENGINE_DB=$(mktemp -d "$BATS_TEST_TMPDIR/tdsd.XXXXXX")/$name.sqlite
		sqlite3 -bail "$ENGINE_DB" <"$script"
		tdsd_start "$ENGINE_DB" "$@"
	else
		[ $# -eq 0 ] || skip "tdsd's fault injection ($*) has no Babelfish equivalent: runs on tdsd only"
		babelfish_require
		loaded=$(cat "$BATS_FILE_TMPDIR/engine.$name.loaded" 2>/dev/null || :)
		if [ "$loaded" != "$script" ]; then
			engine_load_babelfish "$name" "$script"
		fi
		babelfish_env "$name"
		ENGINE_DB=
	fi
	export SCHEDFEED_DB_DATABASE=$name ENGINE_DB ENGINE_DB_NAME
}

engine_sql() {
	if engine_is tdsd; then
		sqlite3 -bail "$ENGINE_DB" "$1"
	else
		babelfish_sql -d "$ENGINE_DB_NAME" <<<"$1"
	fi
}

engine_changed() {
	rm -f "$BATS_FILE_TMPDIR/engine.$ENGINE_DB_NAME.loaded"
}

# On Babelfish, a test's tdsd_stop_all ("the database is gone") also closes
# the database to the program under test: the port becomes one nobody
# listens on. The server itself stays up for the file's other tests.
if engine_is babelfish; then
	eval "tdsd_stop_started() $(declare -f tdsd_stop_all | tail -n +2)"
	tdsd_stop_all() {
		tdsd_stop_started
		export SCHEDFEED_DB_PORT=1
	}
fi
