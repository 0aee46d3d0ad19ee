# A real OpenSSH sshd on 127.0.0.1 for the sftp-put and sftp-get suites.
# Load after common:   load common; load sftp
#
# sftp_user_create NAME (setup_file, as root): a local account with a
#   password for password logins; sftp_user_remove NAME in teardown_file.
#   Not root: the tests log in as the current user and password tests skip.
# sshd_start [CONFIG LINE ...] (setup): a fresh host key, client key and
#   sshd_config on a free port, then sshd. Sets:
#     SSHD_DIR SSHD_PORT SSHD_PID   the server
#     SFTP_USER SFTP_KEY            who logs in, with which private key
#     KNOWN_HOSTS                   a known_hosts file holding the host key
#     REMOTE                        an empty directory SFTP_USER owns
#     URL                           sftp://SFTP_USER@127.0.0.1:PORT
# sshd_stop (teardown): stops the server and every session it forked.
# sshd_reconfigure LINE... (in a test): restarts it with LINEs added.
# sftp_suite NAME: for a program's suite, at the top of the file: NAME
#   becomes SFTP_TEST_USER, and the hooks are defined: setup_file
#   (sftp_user_create), teardown_file (sftp_user_remove), setup
#   (common_setup, sshd_start), teardown (sshd_stop). A suite that needs
#   more redefines one.

SFTP_TEST_PASSWORD='correct horse 7 battery'

sftp_user_create() {
	[ "$(id -u)" -eq 0 ] || return 0
	id "$1" >/dev/null 2>&1 || useradd -m -s /bin/sh "$1"
	printf '%s:%s\n' "$1" "$SFTP_TEST_PASSWORD" | chpasswd
}

sftp_user_remove() {
	[ "$(id -u)" -eq 0 ] || return 0
	pkill -u "$1" 2>/dev/null || true
	userdel -r "$1" 2>/dev/null || true
}

sftp_suite() {
	export SFTP_TEST_USER=$1
	setup_file() {
		sftp_user_create "$SFTP_TEST_USER"
	}
	teardown_file() {
		sftp_user_remove "$SFTP_TEST_USER"
	}
	setup() {
		common_setup
		sshd_start
	}
	teardown() {
		sshd_stop
	}
}

sshd_start() {
	local line
	SSHD_DIR=$BATS_TEST_TMPDIR/sshd
	mkdir -p "$SSHD_DIR" /run/sshd
	SSHD_PORT=$(free_port)
	if [ "$(id -u)" -eq 0 ] && [ -n "${SFTP_TEST_USER:-}" ]; then
		SFTP_USER=$SFTP_TEST_USER
	else
		SFTP_USER=$(id -un)
	fi
	ssh-keygen -q -t ed25519 -N '' -C host -f "$SSHD_DIR/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C client -f "$SSHD_DIR/client"
	cp "$SSHD_DIR/client.pub" "$SSHD_DIR/authorized_keys"
	SFTP_KEY=$SSHD_DIR/client
	KNOWN_HOSTS=$HOME/.ssh/known_hosts
	mkdir -p "$HOME/.ssh"
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
		"$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")" >"$KNOWN_HOSTS"
	REMOTE=$BATS_TEST_TMPDIR/remote
	mkdir -p "$REMOTE"
	chown "$SFTP_USER" "$REMOTE"
	chmod 755 "$REMOTE"
	chmod 644 "$SSHD_DIR/authorized_keys"
	path_traversable "$BATS_TEST_TMPDIR"
	{
		echo "ListenAddress 127.0.0.1"
		echo "HostKey $SSHD_DIR/host_ed25519"
		echo "PidFile $SSHD_DIR/sshd.pid"
		echo "AuthorizedKeysFile $SSHD_DIR/authorized_keys"
		echo "StrictModes no"
		echo "UsePAM no"
		echo "PasswordAuthentication yes"
		echo "KbdInteractiveAuthentication no"
		echo "PermitRootLogin prohibit-password"
		echo "LogLevel VERBOSE"
		echo "Subsystem sftp internal-sftp"
		for line in "$@"; do echo "$line"; done
	} >"$SSHD_DIR/sshd_config"
	_sshd_run
	URL=sftp://$SFTP_USER@127.0.0.1:$SSHD_PORT
	export SSHD_DIR SSHD_PORT SFTP_USER SFTP_KEY KNOWN_HOSTS REMOTE URL
}

# (Re)starts sshd with the config sshd_start wrote; waits until it listens.
_sshd_run() {
	local i
	/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" -p "$SSHD_PORT" \
		2>>"$SSHD_DIR/sshd.log" &
	SSHD_PID=$!
	export SSHD_PID
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null; then
			return 0
		fi
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$SSHD_DIR/sshd.log" >&2
	return 1
}

sshd_restart() {
	_sshd_run
}

# sshd_reconfigure LINE...: sshd stopped, the lines added to its config,
# and started again on the same port with the same keys.
sshd_reconfigure() {
	sshd_kill_all
	printf '%s\n' "$@" >>"$SSHD_DIR/sshd_config"
	_sshd_run
}

# Prints the pids of $1's descendants, deepest last.
_descendants() {
	local child
	for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$child"
		_descendants "$child"
	done
}

# Kills sshd and every session it forked, at once (a crashed server).
sshd_kill_all() {
	local pids
	[ -n "${SSHD_PID:-}" ] || return 0
	pids="$SSHD_PID $(_descendants "$SSHD_PID")"
	kill -9 $pids 2>/dev/null || true
	wait "$SSHD_PID" 2>/dev/null || true
	SSHD_PID=
}

sshd_stop() {
	sshd_kill_all
}

# known_hosts_impostor TYPE: known_hosts holds, for the server, a key of
# TYPE (ed25519, ecdsa, ...) made up here instead of the server's own.
known_hosts_impostor() {
	ssh-keygen -q -t "$1" -N '' -f "$BATS_TEST_TMPDIR/impostor_$1"
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
		"$(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/impostor_$1.pub")" \
		>"$KNOWN_HOSTS"
}

# The server's host key fingerprint as ssh-keygen prints it (SHA256:...).
sshd_fingerprint() {
	ssh-keygen -lf "$SSHD_DIR/host_ed25519.pub" | cut -d' ' -f2
}

# hostile_server [--status FROM=TO] [REAL<TAB>HOSTILE ...] (in a test):
# sshd's sftp subsystem becomes tests/hostile-sftp.py, which lists each
# REAL file in $REMOTE under the HOSTILE name (Python escapes) and serves
# it under it, and turns SFTP status FROM into TO in its replies.
hostile_server() {
	local status=
	if [ "${1:-}" = --status ]; then
		status=$2
		shift 2
	fi
	cp "$TOP/tests/hostile-sftp.py" "$SSHD_DIR/"
	printf '%s\n' "$@" | grep . >"$SSHD_DIR/names" || :
	chmod 755 "$SSHD_DIR/hostile-sftp.py"
	chmod 644 "$SSHD_DIR/names"
	sshd_kill_all
	sed -i "s|^Subsystem sftp .*|Subsystem sftp $PY $SSHD_DIR/hostile-sftp.py $SSHD_DIR/names $status|" \
		"$SSHD_DIR/sshd_config"
	sshd_restart
}
