# bench/peers.sh: sourced by the benchmarks, which compare against other
# programs (the peers) and need them installed.
#
# bench_need NAME PACKAGE:COMMAND...: every COMMAND must be on PATH. What
# is missing is installed with apt-get when run as root (as `make deps`
# does); otherwise, or when that fails, the benchmark exits 69 naming
# each command, its Debian package and the apt-get line. A PACKAGE of
# "-" is not Debian's to install (Node.js and npm come with the
# machine): it is named, never installed.
bench_need() {
	_bench_name=$1
	shift
	_bench_missing=
	_bench_pkgs=
	_bench_other=
	for _bench_peer do
		_bench_cmd=${_bench_peer#*:}
		command -v "$_bench_cmd" >/dev/null 2>&1 && continue
		_bench_missing="$_bench_missing $_bench_peer"
		case ${_bench_peer%%:*} in
		-) _bench_other="$_bench_other $_bench_cmd" ;;
		*) _bench_pkgs="$_bench_pkgs ${_bench_peer%%:*}" ;;
		esac
	done
	[ -n "$_bench_missing" ] || return 0
	if [ -n "$_bench_pkgs" ] && [ -z "$_bench_other" ] && [ "$(id -u)" = 0 ]; then
		echo "$_bench_name: installing$_bench_pkgs" >&2
		# shellcheck disable=SC2086
		if DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    -o DPkg::Lock::Timeout=600 --no-install-recommends \
		    $_bench_pkgs >&2; then
			bench_need "$_bench_name" $_bench_missing
			return 0
		fi
	fi
	for _bench_peer in $_bench_missing; do
		case ${_bench_peer%%:*} in
		-) echo "$_bench_name: needs ${_bench_peer#*:}, which is not on PATH" >&2 ;;
		*) echo "$_bench_name: needs ${_bench_peer#*:} (Debian package ${_bench_peer%%:*})" >&2 ;;
		esac
	done
	[ -z "$_bench_pkgs" ] ||
	    echo "$_bench_name: run it as root to install them, or: apt-get install -y$_bench_pkgs" >&2
	exit 69
}

# BENCH_AWK_MEDIAN: an awk function, put before a benchmark's own program
# (awk "$BENCH_AWK_MEDIAN"'...'): median(LIST, N) of N numbers in the
# space-separated string LIST.
BENCH_AWK_MEDIAN='
function median(list, n,    i, j, t, a) {
	split(list, a, " ")
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
'
