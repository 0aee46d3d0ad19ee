#!/bin/sh
# schedfeed-entrypoint: what `docker run IMAGE ...` does.
#   JOB [ARGS]   a pipeline: iq_daily, eod_data, printer_pdfs, bz_outbound,
#                bz_inbound (e.g. `iq_daily 2026-11-23`)
#   demo         the demo end to end on the built-in synthetic database
#   cron         the jobs on the schedule in /etc/schedfeed/crontab, in TZ
#   help         this text
#   PROGRAM ...  any program, e.g. `sched-query -f q.sql`, `man sched-query`
set -eu
libexec=${SCHEDFEED_LIBEXEC:-/usr/local/lib/schedfeed}

usage() {
	sed -n '2,9s/^# \{0,1\}//p' "$0"
}

[ $# -gt 0 ] || set -- help
cmd=$1
case $cmd in
help|-h|--help)
	usage
	;;
demo)
	shift
	# The demo writes under the state volume, or /tmp when that is
	# read-only; tdsd is the embedded database server.
	out=${DEMO_OUT:-$SCHEDFEED_STATE_DIR/demo-out}
	if ! mkdir -p "$out" 2>/dev/null || [ ! -w "$out" ]; then
		out=/tmp/demo-out
	fi
	DEMO_OUT=$out DEMO_BIN=/usr/local/bin TDSD=$libexec/tdsd \
	DEMO_DB_SQL=$libexec/demo/demo-db.sql \
	DEMO_PIPELINES=$libexec/pipelines \
		exec sh "$libexec/demo/demo.sh" "$@"
	;;
cron)
	shift
	SCHEDFEED_ENTRYPOINT=$0 exec sh "$libexec/cron.sh" "$@"
	;;
*)
	if [ -f "$libexec/pipelines/$cmd.sh" ]; then
		shift
		exec sh "$libexec/pipelines/$cmd.sh" "$@"
	fi
	exec "$@"
	;;
esac
