# A real MariaDB server (Debian's mariadb-server) on 127.0.0.1 for a bats
# suite. Load after common:   load common; load mariadb
#
# mariadb_start [DIR] (setup_file or setup): a fresh data directory under DIR
#   (default $BATS_FILE_TMPDIR/mariadb, else $BATS_TEST_TMPDIR/mariadb),
#   mariadb-install-db, then mariadbd on a free port of 127.0.0.1 and a unix
#   socket in DIR; waits until it answers, creates the database schedfeed
#   and the login schedfeed (all privileges on it, a password). As root the
#   server runs as the mysql account (--user=mysql), otherwise as the
#   current user. Skips the test with the reason when mariadbd is missing.
#   Exports:
#     MARIADB_DIR MARIADB_PORT MARIADB_SOCKET MARIADB_PID   the server
#     SCHEDFEED_DB_DRIVER=mysql SCHEDFEED_DB_SERVER=127.0.0.1
#     SCHEDFEED_DB_PORT SCHEDFEED_DB_DATABASE SCHEDFEED_DB_USER
#     SCHEDFEED_DB_PASSWORD                                 sched-query's login
# mariadb_sql [DATABASE] (stdin: SQL): runs SQL as the server's root over the
#   socket (no database when DATABASE is empty or absent); exit 1 on error.
# mariadb_load FILE [DATABASE]: mariadb_sql with FILE (default database
#   schedfeed).
# mariadb_user NAME PASSWORD [GRANT ...]: a further login from 127.0.0.1;
#   each GRANT is one privilege clause, e.g. 'SELECT ON schedfeed.ea_users'.
# mariadb_stop (teardown_file or teardown): SIGTERM to the server, waited
#   for (SIGKILL after 30 seconds).

MARIADB_TEST_PASSWORD='mtp 4 correct-horse'

_mariadb_bin() {
	local n
	for n in "$@"; do
		if command -v "$n" >/dev/null 2>&1; then
			command -v "$n"
			return 0
		fi
		if [ -x "/usr/sbin/$n" ]; then
			echo "/usr/sbin/$n"
			return 0
		fi
	done
	return 1
}

mariadb_start() {
	local dir=${1:-${BATS_FILE_TMPDIR:-$BATS_TEST_TMPDIR}/mariadb}
	local mariadbd install client i owner
	mariadbd=$(_mariadb_bin mariadbd mysqld) ||
		skip "mariadbd is not installed (Debian package mariadb-server)"
	install=$(_mariadb_bin mariadb-install-db mysql_install_db) ||
		skip "mariadb-install-db is not installed (Debian package mariadb-server)"
	client=$(_mariadb_bin mariadb mysql) ||
		skip "the mariadb client is not installed (Debian package mariadb-client)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# a unix socket path holds at most 107 bytes
	if [ ${#dir} -gt 90 ]; then
		dir=$(mktemp -d /tmp/mariadb.XXXXXX)
	fi
	MARIADB_DIR=$dir
	MARIADB_SOCKET=$dir/mysqld.sock
	MARIADB_PORT=$(free_port)
	MARIADB_CLIENT=$client
	owner=()
	# its own temporary directory: the server would use $TMPDIR, which
	# the mysql account may not reach
	mkdir -p "$dir/tmp"
	if [ "$(id -u)" -eq 0 ]; then
		owner=(--user=mysql)
		chown mysql: "$dir" "$dir/tmp"
		path_traversable "$dir"
	fi
	if ! "$install" --no-defaults "${owner[@]}" --datadir="$dir/data" \
		--tmpdir="$dir/tmp" \
		--auth-root-authentication-method=socket \
		--auth-root-socket-user="$(id -un)" \
		--skip-test-db --skip-name-resolve \
		--innodb-buffer-pool-size=16M --innodb-log-file-size=8M \
		>"$dir/install.log" 2>&1; then
		echo "mariadb-install-db failed:" >&2
		cat "$dir/install.log" >&2
		return 1
	fi
	# 3>&- : bats waits for fd 3; a server left holding it hangs the run
	"$mariadbd" --no-defaults "${owner[@]}" --datadir="$dir/data" \
		--tmpdir="$dir/tmp" \
		--bind-address=127.0.0.1 --port="$MARIADB_PORT" \
		--socket="$MARIADB_SOCKET" --pid-file="$dir/mysqld.pid" \
		--log-error="$dir/error.log" --skip-name-resolve \
		--skip-log-bin --innodb-buffer-pool-size=16M \
		--innodb-log-file-size=8M --innodb-flush-log-at-trx-commit=2 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
		--default-time-zone=+00:00 \
		</dev/null >/dev/null 2>&1 3>&- &
	MARIADB_PID=$!
	export MARIADB_DIR MARIADB_PORT MARIADB_SOCKET MARIADB_PID MARIADB_CLIENT
	echo "$MARIADB_PID" >"$dir/server.pid"
	for i in $(seq 300); do
		if [ -S "$MARIADB_SOCKET" ] &&
			"$client" --no-defaults -S "$MARIADB_SOCKET" -uroot \
				-e 'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
			echo "mariadbd exited at start:" >&2
			cat "$dir/error.log" >&2
			return 1
		fi
		sleep 0.1
	done
	if [ "$i" -eq 300 ]; then
		echo "mariadbd did not answer within 30 seconds:" >&2
		cat "$dir/error.log" >&2
		return 1
	fi
	mariadb_sql <<-EOF || return 1
		CREATE DATABASE schedfeed CHARACTER SET utf8mb4;
		CREATE USER 'schedfeed'@'127.0.0.1'
		    IDENTIFIED BY '$MARIADB_TEST_PASSWORD';
		GRANT ALL PRIVILEGES ON schedfeed.* TO 'schedfeed'@'127.0.0.1';
	EOF
	export SCHEDFEED_DB_DRIVER=mysql SCHEDFEED_DB_SERVER=127.0.0.1 \
		SCHEDFEED_DB_PORT=$MARIADB_PORT SCHEDFEED_DB_DATABASE=schedfeed \
		SCHEDFEED_DB_USER=schedfeed \
		SCHEDFEED_DB_PASSWORD=$MARIADB_TEST_PASSWORD
}

mariadb_sql() {
	local db=${1:-}
	"$MARIADB_CLIENT" --no-defaults -S "$MARIADB_SOCKET" -uroot \
		--batch --skip-column-names ${db:+"$db"}
}

mariadb_load() {
	mariadb_sql "${2:-schedfeed}" <"$1"
}

mariadb_user() {
	local name=$1 password=$2 g
	shift 2
	{
		printf "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';\n" \
			"$name" "$password"
		for g in "$@"; do
			printf "GRANT %s TO '%s'@'127.0.0.1';\n" "$g" "$name"
		done
	} | mariadb_sql
}

mariadb_stop() {
	local pid=${MARIADB_PID:-} i
	if [ -z "$pid" ] && [ -n "${MARIADB_DIR:-}" ]; then
		pid=$(cat "$MARIADB_DIR/server.pid" 2>/dev/null)
	fi
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		# an exited child of this shell stays a zombie until waited for
		[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset MARIADB_PID
}
