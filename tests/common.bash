# Shared by every bats suite: a private HOME and scratch directory per test,
# the project's top directory, Debian's own python, and a free port.
# Load with:  load common   (or load ../common from tests/pipelines)

TOP=${SCHEDFEED_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export TOP
# Debian's interpreter: python3-aiosmtpd and python3-tds import only there.
PY=/usr/bin/python3
export PY
: "${TDSD:=$TOP/build/bin/tdsd}"
export TDSD
# Programs under test come first on PATH (make check sets this too).
case ":$PATH:" in
*":$TOP/build/bin:"*) ;;
*) [ -n "${SCHEDFEED_TOP:-}" ] || PATH="$TOP/build/bin:$PATH" ;;
esac

common_setup() {
	export HOME="$BATS_TEST_TMPDIR/home"
	mkdir -p "$HOME"
	export SCHEDFEED_STATE_DIR="$BATS_TEST_TMPDIR/state"
	W="$BATS_TEST_TMPDIR/w"
	mkdir -p "$W"
	export W
}

# free_port: prints a TCP port nobody listens on right now.
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# file_mode PATH: octal permission bits, e.g. 600
file_mode() {
	stat -c %a "$1"
}

# path_traversable DIR: every directory from the bats run's scratch area
# down to DIR becomes searchable, so a server's own account (sshd's test
# user, mysql) reaches the files under it.
path_traversable() {
	local d=$1
	while [ -n "$d" ] && [ "$d" != / ] && [ "$d" != "${BATS_RUN_TMPDIR%/*}" ]; do
		chmod a+x "$d"
		d=${d%/*}
	done
}
