# pipelines/lib/metrics.sh: each job's last run as Prometheus metrics, for
# node_exporter's textfile collector.  POSIX sh; job.sh sources it (from
# $here/lib, the job's own directory, as every job under pipelines/ sets
# it) and calls _job_metrics_begin from job_start once the lock is held.
#
# When SCHEDFEED_METRICS_DIR is set, every run that took the lock ends,
# ok or failed (a step's status, 128 + a signal's number), by writing
# $SCHEDFEED_METRICS_DIR/schedfeed_NAME.prom atomically: a temporary
# .schedfeed_NAME.prom.XXXXXX beside it (which the collector, reading
# only *.prom, passes over), fsynced, renamed.  A run that exits 75
# because another holds the lock writes nothing: the run holding it will.
# kill -9 writes nothing either; the file then keeps the run before.
#
# The metrics, all gauges, labelled feed="NAME" (not job=, which
# Prometheus keeps for the scrape target's own label):
#	schedfeed_last_run_start_timestamp_seconds
#	schedfeed_last_run_end_timestamp_seconds
#	schedfeed_last_run_duration_seconds
#	schedfeed_last_run_exit_status		0 ok, else the job's status
#	schedfeed_last_success_timestamp_seconds	end of the last run
#						that ended ok, 0 if none
#	schedfeed_last_run_deliveries{kind=...}	sent, correction, resent,
#						already_delivered
# Counts and times only: nothing of a file's content reaches the file.
# A file that cannot be written is said on stderr and leaves the job's
# exit status as it was.

# _job_metrics_begin: the start of a run, and the exit trap that ends it
_job_metrics_begin() {
	[ -n "${SCHEDFEED_METRICS_DIR:-}" ] || return 0
	_job_metrics_start=$(date +%s)
	# the deliveries of this run are the log's lines after this offset
	_job_metrics_log_at=$(wc -c 2>/dev/null < "$JOB_DIR/log") ||
	    _job_metrics_log_at=0
	trap '_job_metrics_end $?' EXIT
}

# _job_metrics_count PATTERN: log lines of this run whose text (after
# "TIME JOB DATE ") matches the awk regular expression PATTERN
_job_metrics_count() {
	tail -c "+$((_job_metrics_log_at + 1))" "$JOB_DIR/log" 2>/dev/null |
	    P=$1 awk '{ sub(/^[^ ]+ [^ ]+ [^ ]+ /, "") }
		$0 ~ ENVIRON["P"] { n++ } END { print n + 0 }'
}

# _job_metrics_last_success: seconds since the epoch of the last "done"
# in the log, 0 when there is none
_job_metrics_last_success() {
	_job_metrics_t=$(awk '$4 == "done" && NF == 4 { t = $1 } END { print t }' \
	    "$JOB_DIR/log" 2>/dev/null)
	if [ -n "$_job_metrics_t" ] &&
	    _job_metrics_t=$(date -d "$_job_metrics_t" +%s 2>/dev/null); then
		echo "$_job_metrics_t"
	else
		echo 0
	fi
}

# _job_metrics_end STATUS: the exit trap; writes the file, exits STATUS
_job_metrics_end() {
	trap - EXIT
	_job_metrics_status=$1
	_job_metrics_now=$(date +%s)
	if [ "$_job_metrics_status" = 0 ]; then
		_job_metrics_success=$_job_metrics_now
	else
		_job_metrics_success=$(_job_metrics_last_success)
	fi
	_job_metrics_file=$SCHEDFEED_METRICS_DIR/schedfeed_$JOB_NAME.prom
	_job_metrics_tmp=
	if _job_metrics_tmp=$(mktemp "$SCHEDFEED_METRICS_DIR/.schedfeed_$JOB_NAME.prom.XXXXXX" 2>/dev/null) &&
	    _job_metrics_write "$_job_metrics_status" > "$_job_metrics_tmp" &&
	    chmod 644 "$_job_metrics_tmp" && sync "$_job_metrics_tmp" &&
	    mv -f "$_job_metrics_tmp" "$_job_metrics_file"; then
		sync "$SCHEDFEED_METRICS_DIR" 2>/dev/null || :
	else
		[ -z "$_job_metrics_tmp" ] || rm -f -- "$_job_metrics_tmp"
		_job_say "cannot write the metrics $_job_metrics_file"
	fi
	exit "$_job_metrics_status"
}

# _job_metrics_gauge NAME HELP VALUE: one metric with its HELP and TYPE
_job_metrics_gauge() {
	printf '# HELP %s %s\n# TYPE %s gauge\n%s{feed="%s"} %s\n' \
	    "$1" "$2" "$1" "$1" "$JOB_NAME" "$3"
}

# _job_metrics_write STATUS: the file's text on stdout
_job_metrics_write() {
	_job_metrics_gauge schedfeed_last_run_start_timestamp_seconds \
	    "When the last run took the lock." "$_job_metrics_start" &&
	_job_metrics_gauge schedfeed_last_run_end_timestamp_seconds \
	    "When the last run ended, ok or failed." "$_job_metrics_now" &&
	_job_metrics_gauge schedfeed_last_run_duration_seconds \
	    "How long the last run took." \
	    "$((_job_metrics_now - _job_metrics_start))" &&
	_job_metrics_gauge schedfeed_last_run_exit_status \
	    "The last run's exit status: 0 ok, else the failed step's (sysexits)." \
	    "$1" &&
	_job_metrics_gauge schedfeed_last_success_timestamp_seconds \
	    "When the last run that ended ok ended; 0 when none has." \
	    "$_job_metrics_success" &&
	printf '# HELP %s %s\n# TYPE %s gauge\n' \
	    schedfeed_last_run_deliveries \
	    "Deliveries of the last run by kind; already_delivered were in the ledger and not sent." \
	    schedfeed_last_run_deliveries &&
	for _job_metrics_kind in sent correction resent already_delivered; do
		case $_job_metrics_kind in
		already_delivered)
			_job_metrics_n=$(_job_metrics_count ' already delivered to .*, nothing sent$') ;;
		*)
			_job_metrics_n=$(_job_metrics_count "^[^ ]+ ok \\($_job_metrics_kind\\)\$") ;;
		esac
		printf 'schedfeed_last_run_deliveries{feed="%s",kind="%s"} %s\n' \
		    "$JOB_NAME" "$_job_metrics_kind" "$_job_metrics_n" || return
	done
}
