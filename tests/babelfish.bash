# Babelfish for PostgreSQL (a real T-SQL engine speaking TDS) as the suite's
# second database peer, beside tdsd. Load after common:
#	load common
#	load babelfish
#
#	setup_file()    { babelfish_start; }            # or --tls CERT KEY
#	teardown_file() { babelfish_stop; }
#	setup()         { common_setup; babelfish_require; babelfish_env DB; }
#
# The engine comes from $SCHEDFEED_BABELFISH (the directory holding
# babelfish.sh and its tarball, or babelfish.sh itself), else
# $TOP/../shared/babelfish. Where neither is usable, babelfish_start
# succeeds without a server and sets BABELFISH_SKIP to the reason;
# babelfish_require then skips the test with it. Where it is usable and
# does not start, babelfish_start fails (CI must really run these tests).
#
# Each bats file gets its own server: a copy of a cluster made once per
# checkout (the tarball unpacked and initialised under
# ${SCHEDFEED_BABELFISH_DIR:-$TOP/build/babelfish}, about 5 s the first
# time), started on a free port (about 1 s). Files running in parallel never
# share one, and nothing a test creates survives the file.
#
# After babelfish_start (exported, so the tests see them):
#	BABELFISH_HOST BABELFISH_PORT	127.0.0.1 and the TDS port
#	BABELFISH_USER BABELFISH_PASSWORD	the T-SQL login (may CREATE DATABASE)
#	BABELFISH_DIR			this server's directory (server.log)
#	BABELFISH_SKIP			why there is no server, or empty
#
# Tests that ran on Babelfish are counted by make check: babelfish_require
# appends the test's name to $SCHEDFEED_BABELFISH_LOG when that is set.

BABELFISH_LOGIN_USER=schedfeed
BABELFISH_LOGIN_PASSWORD=Schedfeed_pw1

# babelfish_script: sets BABELFISH_SCRIPT to the babelfish.sh to use, or
# fails with the reason in BABELFISH_SKIP.
babelfish_script() {
	local src=${SCHEDFEED_BABELFISH:-$TOP/../shared/babelfish} lib
	[ -d "$src" ] && src=$src/babelfish.sh
	if [ ! -x "$src" ]; then
		BABELFISH_SKIP="no Babelfish: $src is missing (set SCHEDFEED_BABELFISH to the directory holding babelfish.sh)"
		return 1
	fi
	if ! compgen -G "$(dirname "$src")/babelfish-*.tar.gz" >/dev/null; then
		BABELFISH_SKIP="no Babelfish: no babelfish-*.tar.gz beside $src"
		return 1
	fi
	for lib in libossp-uuid.so.16 libicuuc.so.72 libxml2.so.2; do
		if ! /sbin/ldconfig -p | grep -q "$lib"; then
			BABELFISH_SKIP="no Babelfish: $lib is missing (.ci/deps installs libossp-uuid16 libicu72 libxml2)"
			return 1
		fi
	done
	if ! command -v python3 >/dev/null; then
		BABELFISH_SKIP="no Babelfish: python3 is missing (babelfish.sh picks ports with it)"
		return 1
	fi
	BABELFISH_SCRIPT=$src
}

# babelfish_root: where clusters live. As root the server runs as the user
# "babelfish", which must be able to reach it: a checkout under a private
# directory (/root) moves it to /var/tmp.
babelfish_root() {
	local root=${SCHEDFEED_BABELFISH_DIR:-$TOP/build/babelfish} d
	if [ "$(id -u)" = 0 ] && [ -z "${SCHEDFEED_BABELFISH_DIR:-}" ]; then
		d=$TOP
		while [ "$d" != / ]; do
			case $(stat -c %A "$d") in
			*x | *t) ;;
			*)
				root=/var/tmp/schedfeed-babelfish/$(printf %s "$TOP" | cksum | cut -d' ' -f1)
				break
				;;
			esac
			d=$(dirname "$d")
		done
	fi
	mkdir -p "$root"
	chmod 755 "$root"
	printf '%s\n' "$root"
}

# babelfish_owner: the account the server runs as (see babelfish.sh).
babelfish_owner() {
	if [ "$(id -u)" = 0 ]; then echo babelfish; else id -un; fi
}

# babelfish_template SCRIPT ROOT: makes ROOT/template-KEY once (unpacked,
# initialised, stopped) and prints its path. KEY follows the tarball and the
# script, so a new engine gets a new cluster.
babelfish_template() {
	local script=$1 root=$2 key tpl tball
	tball=$(compgen -G "$(dirname "$script")/babelfish-*.tar.gz" | head -1)
	key=$(stat -L -c '%s.%Y' "$tball" "$script" | cksum | cut -d' ' -f1)
	tpl=$root/template-$key
	(
		flock 9
		[ -f "$tpl/ready" ] && exit 0
		rm -rf "$tpl"
		BBF_USER=$BABELFISH_LOGIN_USER BBF_PASSWORD=$BABELFISH_LOGIN_PASSWORD \
			BBF_TLS_CERT='' BBF_TLS_KEY='' \
			"$script" start "$tpl" >"$root/template.out" 2>&1 3>&- &&
			"$script" stop "$tpl" >>"$root/template.out" 2>&1 &&
			touch "$tpl/ready"
	) 9>"$root/lock" || {
		echo "babelfish: making the cluster in $tpl failed:" >&2
		cat "$root/template.out" "$tpl/server.log" "$tpl/init.log" >&2 2>/dev/null
		return 1
	}
	printf '%s\n' "$tpl"
}

# babelfish_prune ROOT: servers left by a run that died (its bats process is
# gone) are stopped and removed.
babelfish_prune() {
	local root=$1 script=$2 dir pid
	for dir in "$root"/i.*; do
		[ -f "$dir/owner" ] || continue
		pid=$(cat "$dir/owner")
		kill -0 "$pid" 2>/dev/null && continue
		[ -f "$dir/data/postmaster.pid" ] && "$script" stop "$dir" >/dev/null 2>&1 || true
		rm -rf "$dir"
	done
}

# babelfish_start [--tls CERT KEY]: this file's server (see above). With
# --tls the server also offers TLS with the PEM certificate and key; TDS
# clients may ask for it or not.
babelfish_start() {
	local script root tpl dir out cert='' key='' owner
	BABELFISH_SKIP=
	export BABELFISH_SKIP
	if [ "${1:-}" = --tls ]; then
		cert=$2 key=$3
	fi
	babelfish_script || return 0
	script=$BABELFISH_SCRIPT
	root=$(babelfish_root) || return 1
	tpl=$(babelfish_template "$script" "$root") || return 1
	babelfish_prune "$root" "$script"
	dir=$(mktemp -d "$root/i.XXXXXX")
	chmod 755 "$dir"
	echo $$ >"$dir/owner"
	ln -s "$tpl/inst" "$dir/inst"
	cp -a "$tpl/data" "$dir/data"
	owner=$(babelfish_owner)
	if [ -n "$cert" ]; then
		cp "$cert" "$dir/data/server.crt"
		cp "$key" "$dir/data/server.key"
		chown "$owner" "$dir/data/server.crt" "$dir/data/server.key"
		chmod 600 "$dir/data/server.key"
		echo "ssl = on" >>"$dir/data/postgresql.conf"
	fi
	BABELFISH_DIR=$dir
	export BABELFISH_DIR
	# 3>&- : bats waits for fd 3; a server left holding it hangs the run
	if ! out=$("$script" start "$dir" 2>&1 3>&-); then
		echo "babelfish: the server did not start: $out" >&2
		cat "$dir/server.log" >&2 2>/dev/null
		return 1
	fi
	BABELFISH_PORT=$(printf '%s\n' "$out" | awk '$1 == "port" { print $2 }')
	BABELFISH_HOST=127.0.0.1
	BABELFISH_USER=$BABELFISH_LOGIN_USER
	BABELFISH_PASSWORD=$BABELFISH_LOGIN_PASSWORD
	export BABELFISH_PORT BABELFISH_HOST BABELFISH_USER BABELFISH_PASSWORD
}

# babelfish_stop: stops this file's server and removes its directory.
babelfish_stop() {
	[ -n "${BABELFISH_DIR:-}" ] || return 0
	babelfish_script || return 0
	"$BABELFISH_SCRIPT" stop "$BABELFISH_DIR" >/dev/null 2>&1 || true
	rm -rf "$BABELFISH_DIR"
	BABELFISH_DIR=
}

# babelfish_restart: stops and starts this file's server on the same port,
# its databases kept (for tests of a server that goes away).
babelfish_restart() {
	babelfish_script || return 1
	"$BABELFISH_SCRIPT" stop "$BABELFISH_DIR" >/dev/null 2>&1 || true
	"$BABELFISH_SCRIPT" start "$BABELFISH_DIR" "$BABELFISH_PORT" >/dev/null 3>&-
}

# babelfish_require: in a test (or setup), skips it with the reason when
# there is no Babelfish; otherwise counts it as a test run on Babelfish.
babelfish_require() {
	if [ -n "${BABELFISH_SKIP:-}" ] || [ -z "${BABELFISH_PORT:-}" ]; then
		skip "${BABELFISH_SKIP:-no Babelfish: babelfish_start was not called in setup_file}"
	fi
	if [ -n "${SCHEDFEED_BABELFISH_LOG:-}" ]; then
		printf '%s: %s\n' "${BATS_TEST_FILENAME##*/}" \
			"$BATS_TEST_DESCRIPTION" >>"$SCHEDFEED_BABELFISH_LOG"
	fi
}

# babelfish_env [DATABASE]: points sched-query (and the jobs) at this
# file's server: SCHEDFEED_DB_SERVER/PORT/USER/PASSWORD, and
# SCHEDFEED_DB_DATABASE when DATABASE is given.
babelfish_env() {
	export SCHEDFEED_DB_SERVER=$BABELFISH_HOST
	export SCHEDFEED_DB_PORT=$BABELFISH_PORT
	export SCHEDFEED_DB_USER=$BABELFISH_USER
	export SCHEDFEED_DB_PASSWORD=$BABELFISH_PASSWORD
	if [ -n "${1:-}" ]; then
		export SCHEDFEED_DB_DATABASE=$1
	fi
}

# babelfish_sql [-d DATABASE] [FILE]: runs T-SQL from FILE (or stdin) on
# this file's server, in batches separated by lines holding only GO, in
# autocommit mode. Prints each result set's rows, columns separated by a
# tab, NULL as NULL. Stops at the first error: "Msg N, Level L: text" on
# stderr, status 1. Uses python3-tds, not our own client, so a fixture
# never depends on the program under test.
babelfish_sql() {
	local db=master
	if [ "${1:-}" = -d ]; then
		db=$2
		shift 2
	fi
	BBF_SQL_PASSWORD=$BABELFISH_PASSWORD "$PY" "$TOP/tests/babelfish_sql.py" \
		"$BABELFISH_HOST" "$BABELFISH_PORT" "$BABELFISH_USER" "$db" "$@"
}

# babelfish_db NAME: a fresh, empty database NAME on this file's server
# (dropped first when a test before left it).
babelfish_db() {
	babelfish_sql <<-SQL
	IF DB_ID('$1') IS NOT NULL DROP DATABASE [$1]
	GO
	CREATE DATABASE [$1]
	SQL
}
