# pipelines/lib/job.sh: the one place every job gets its lock, ledger,
# step log, resume and failure alert.  POSIX sh; source it from a job:
#
#	. "$(dirname "$0")/lib/job.sh"
#	job_start iq_daily "$(date +%F)" "$@"
#	job_step query sched-query ... > "$JOB_STAGING/$file"
#	job_deliver upload "$file" "$JOB_STAGING/$file" "$url" \
#	    sftp-put "$url" "$JOB_STAGING/$file" > "$JOB_DIR/receipts"
#	job_step archive archive-mv --to "$JOB_ARCHIVE" < "$JOB_DIR/receipts"
#	job_finish
#
# State, one directory per job: $SCHEDFEED_STATE_DIR/NAME (the default
# state directory is /var/lib/schedfeed), made with umask 077:
#	lock			flock(1) target, held on fd 9 for the whole run
#	staging/ archive/	the job's files ($JOB_STAGING, $JOB_ARCHIVE)
#	ledger			what was delivered (below)
#	log			the step log, as also written to stderr
#	steps/DATE/STEP		steps done in an unfinished run for DATE
#
# API (names starting _job are private):
#
# job_start NAME DEFAULT_DATE [ARG...]
#	ARGs are the job's own arguments: --force, --wait, --wait=SECONDS
#	and at most one DATE, which replaces DEFAULT_DATE.  A DATE is
#	YYYY-MM-DD, a real day, or YYYY-MM-DDTHH for an hourly job.  Sets
#	umask 077, makes the state directory and sets JOB_NAME, JOB_DATE,
#	JOB_FORCE (0 or 1), JOB_DIR, JOB_STAGING, JOB_ARCHIVE, JOB_LEDGER.
#	Takes the lock with flock(1) on fd 9: when another run holds it,
#	exits 75 with "NAME: another run holds the lock", or with --wait
#	waits for it (--wait=SECONDS: at most that long, then exits 75).
#	Bad arguments exit 64 with a usage line; an unusable state
#	directory exits 73.
#
# job_step STEP CMD [ARG...]
#	Runs CMD unless STEP is already done in an unfinished earlier run
#	for this date (and not --force).  CMD is a program or a shell
#	function; it runs in a subshell with set -e (a function stops at
#	its first failing command; variables it sets do not outlive it:
#	steps hand each other files) and without fd 9.  Call job_step as
#	a plain command, not in an if or after && or ||, where the shell
#	would ignore set -e.  A bad STEP name exits 70 (a bug in the job).  Logs one line, "TIME JOB DATE STEP ok", "... STEP
#	skipped (done in an earlier run)" or "... STEP failed (status N)".
#	On failure sends the alert and exits with CMD's status.  STEP is
#	letters, digits, '.', '_' and '-'.
#
# job_deliver STEP KEY FILE TARGET CMD [ARG...]
#	job_step for a delivery that the ledger guards: when KEY (the file
#	name) was last delivered to TARGET for this date with FILE's
#	SHA-256, logs "STEP KEY already delivered to TARGET, nothing sent"
#	and does not run CMD (unless --force).  Otherwise runs CMD and,
#	when it succeeds, records the delivery in the ledger as sent,
#	correction (the last delivery had other content) or resent (same
#	content, --force) and logs "STEP ok (sent|correction|resent)".
#	FILE missing or unreadable: the step fails with status 66.
#
# job_log TEXT
#	Logs "TIME JOB DATE TEXT" (e.g. "no appointments, nothing to send").
#	TEXT must hold no PHI.
#
# job_finish
#	Logs "TIME JOB DATE done" and forgets the steps done for this date,
#	so the next run for the date runs every step again and the ledger
#	decides what is sent.
#
# ledger_kind KEY SHA256 TARGET
#	Prints new (KEY never delivered to TARGET for this date), same (its
#	last delivery had SHA256) or changed (the last had another).
# ledger_seen KEY SHA256 TARGET
#	True when ledger_kind says same and the run is not --force.
# ledger_is_correction KEY SHA256 TARGET
#	True when ledger_kind says changed.
# ledger_record KEY SHA256 TARGET
#	Appends one line to the ledger and fsyncs it; the kind is derived
#	as sent, correction or resent.
#
# The ledger, $JOB_DIR/ledger, is text: '#' lines are comments, every other
# line is six tab-separated fields
#	time (YYYY-MM-DDTHH:MM:SS+ZZZZ), date, key, sha256, target, kind
# A torn last line (a crash mid-write) is ignored.  KEY and TARGET must not
# hold a tab or a newline, SHA256 is 64 hex digits; otherwise the job exits
# 70 (a bug in the job).
#
# Alerts: when a step fails and SCHEDFEED_ALERT_TO is set (addresses
# separated by commas), one line "schedfeed job NAME DATE failed at step
# STEP with exit status N" is mailed with smtp-send(1) to
# SCHEDFEED_ALERT_SMTP_URL from SCHEDFEED_ALERT_FROM (default
# schedfeed@HOSTNAME), as SCHEDFEED_ALERT_SMTP_USER when set; smtp-send
# takes the password from SMTP_PASSWORD or SMTP_PASSWORD_FILE.  An alert
# that cannot be sent is logged and leaves the exit status the step's.
# Lock contention (75) sends no alert: the run holding the lock reports
# its own failures.

_job_now() {
	date +%Y-%m-%dT%H:%M:%S%z
}

# _job_say TEXT: a diagnostic, prefixed with the job's name
_job_say() {
	printf '%s: %s\n' "${JOB_NAME:-job}" "$1" >&2
}

# _job_die STATUS TEXT
_job_die() {
	_job_say "$2"
	exit "$1"
}

job_log() {
	set -- "$(_job_now) $JOB_NAME $JOB_DATE $1"
	printf '%s\n' "$1" >&2
	if [ -n "${JOB_DIR:-}" ]; then
		printf '%s\n' "$1" >> "$JOB_DIR/log" ||
		    _job_say "cannot write $JOB_DIR/log"
	fi
}

_job_usage() {
	printf 'usage: %s [--wait[=SECONDS]] [--force] [DATE]\n' \
	    "${JOB_NAME:-job}" >&2
	exit 64
}

_job_check_date() {
	case $1 in
	[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] | \
	[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9])
		[ "$(date -d "${1%T*}" +%F 2>/dev/null)" = "${1%T*}" ] &&
		    return 0 ;;
	esac
	_job_say "$1: not a date (YYYY-MM-DD or YYYY-MM-DDTHH)"
	_job_usage
}

job_start() {
	[ $# -ge 2 ] || _job_usage
	JOB_NAME=$1
	case $JOB_NAME in
	'' | *[!A-Za-z0-9_-]*)
		_job_die 70 "job_start: a job name is letters, digits, _ and -" ;;
	esac
	JOB_DATE=$2
	JOB_FORCE=0
	_job_wait=no
	_job_dates=0
	shift 2
	for _job_arg do
		case $_job_arg in
		--force) JOB_FORCE=1 ;;
		--wait) _job_wait=forever ;;
		--wait=*)
			_job_wait=${_job_arg#--wait=}
			case $_job_wait in
			'' | *[!0-9]*) _job_usage ;;
			esac ;;
		-*) _job_usage ;;
		*)
			_job_dates=$((_job_dates + 1))
			JOB_DATE=$_job_arg ;;
		esac
	done
	[ "$_job_dates" -le 1 ] || _job_usage
	_job_check_date "$JOB_DATE"

	umask 077
	JOB_DIR=${SCHEDFEED_STATE_DIR:-/var/lib/schedfeed}/$JOB_NAME
	JOB_STAGING=$JOB_DIR/staging
	JOB_ARCHIVE=$JOB_DIR/archive
	JOB_LEDGER=$JOB_DIR/ledger
	mkdir -p "$JOB_STAGING" "$JOB_ARCHIVE" "$JOB_DIR/steps" 2>/dev/null ||
	    _job_die 73 "cannot create the state directory $JOB_DIR"
	# a failed exec redirection would end the shell with no word of ours
	{ : >> "$JOB_DIR/lock"; } 2>/dev/null ||
	    _job_die 73 "cannot open the lock $JOB_DIR/lock"
	exec 9>>"$JOB_DIR/lock"
	if ! flock -n 9; then
		case $_job_wait in
		no)
			_job_die 75 "another run holds the lock" ;;
		forever)
			_job_say "another run holds the lock, waiting"
			flock 9 ||
			    _job_die 75 "cannot take the lock" ;;
		*)
			_job_say "another run holds the lock, waiting at most $_job_wait seconds"
			flock -w "$_job_wait" 9 ||
			    _job_die 75 "another run still holds the lock after $_job_wait seconds" ;;
		esac
	fi
	if [ "$JOB_FORCE" = 1 ]; then
		job_log "start (--force)"
	else
		job_log start
	fi
}

_job_check_step() {
	case $1 in
	'' | .* | *[!A-Za-z0-9_.-]*)
		_job_die 70 "$1: a step name is letters, digits, '.', '_' and '-', not first '.'" ;;
	esac
}

_job_step_is_done() {
	[ "$JOB_FORCE" = 0 ] && [ -e "$JOB_DIR/steps/$JOB_DATE/$1" ]
}

_job_mark_done() {
	mkdir -p "$JOB_DIR/steps/$JOB_DATE" &&
	    : > "$JOB_DIR/steps/$JOB_DATE/$1" ||
	    _job_say "cannot record step $1 as done"
}

# _job_exec N ARG...: runs ARG... less its first N in a subshell, with
# set -e (so a shell function stops at its first failing command) and fd 9
# closed; sets _job_status.  Called as a plain command, never in a
# condition, where the shell would ignore set -e.
_job_exec() {
	case $- in
	*e*) _job_errexit=1; set +e ;;
	*) _job_errexit=0 ;;
	esac
	(
		shift $(($1 + 1))
		set -e
		"$@"
	) 9>&-
	_job_status=$?
	[ "$_job_errexit" = 0 ] || set -e
}

# _job_alert STEP STATUS
_job_alert() {
	[ -n "${SCHEDFEED_ALERT_TO:-}" ] || return 0
	if [ -z "${SCHEDFEED_ALERT_SMTP_URL:-}" ]; then
		job_log "$1 alert not sent: SCHEDFEED_ALERT_SMTP_URL is not set"
		return 0
	fi
	set -- "$1" "$2" "schedfeed job $JOB_NAME $JOB_DATE failed at step $1 with exit status $2"
	if (
		_job_subject="schedfeed: $JOB_NAME $JOB_DATE failed"
		_job_from=${SCHEDFEED_ALERT_FROM:-schedfeed@$(uname -n)}
		_job_to=$SCHEDFEED_ALERT_TO
		set -- "$3" --server "$SCHEDFEED_ALERT_SMTP_URL" \
		    --from "$_job_from" --subject "$_job_subject"
		[ -z "${SCHEDFEED_ALERT_SMTP_USER:-}" ] ||
		    set -- "$@" --user "$SCHEDFEED_ALERT_SMTP_USER"
		while [ -n "$_job_to" ]; do
			set -- "$@" --to "${_job_to%%,*}"
			case $_job_to in
			*,*) _job_to=${_job_to#*,} ;;
			*) _job_to= ;;
			esac
		done
		_job_body=$1
		shift
		printf '%s\n' "$_job_body" | smtp-send "$@" > /dev/null 9>&-
	); then
		job_log "$1 alert sent"
	else
		job_log "$1 alert not sent (status $?)"
	fi
}

# _job_fail STEP STATUS: log, alert, exit
_job_fail() {
	job_log "$1 failed (status $2)"
	_job_alert "$1" "$2"
	exit "$2"
}

job_step() {
	[ $# -ge 2 ] || _job_die 70 "usage: job_step STEP CMD [ARG...]"
	_job_check_step "$1"
	if _job_step_is_done "$1"; then
		job_log "$1 skipped (done in an earlier run)"
		return 0
	fi
	_job_exec 1 "$@"
	[ "$_job_status" = 0 ] || _job_fail "$1" "$_job_status"
	_job_mark_done "$1"
	job_log "$1 ok"
}

# _job_check_entry KEY SHA256 TARGET
_job_check_entry() {
	_job_tab=$(printf '\t')
	_job_nl='
'
	case $1$3 in
	*"$_job_tab"* | *"$_job_nl"*)
		_job_die 70 "ledger: a key or target holds a tab or a newline" ;;
	esac
	[ -n "$1" ] && [ -n "$3" ] ||
	    _job_die 70 "ledger: empty key or target"
	case $2 in
	*[!0-9a-f]*) _job_die 70 "ledger: not a SHA-256: $2" ;;
	esac
	[ ${#2} -eq 64 ] || _job_die 70 "ledger: not a SHA-256: $2"
}

# _job_ledger_kind KEY SHA256 TARGET: sets _job_kind to new, same or changed
_job_ledger_kind() {
	_job_check_entry "$@"
	_job_last=
	if [ -f "$JOB_LEDGER" ]; then
		_job_last=$(D=$JOB_DATE K=$1 T=$3 awk -F '\t' '
		    /^#/ || NF != 6 || length($4) != 64 { next }
		    $2 == ENVIRON["D"] && $3 == ENVIRON["K"] &&
		    $5 == ENVIRON["T"] { last = $4 }
		    END { print last }' "$JOB_LEDGER") ||
		    _job_die 74 "cannot read the ledger $JOB_LEDGER"
	fi
	if [ -z "$_job_last" ]; then
		_job_kind=new
	elif [ "$_job_last" = "$2" ]; then
		_job_kind=same
	else
		_job_kind=changed
	fi
}

ledger_kind() {
	_job_ledger_kind "$@"
	echo "$_job_kind"
}

ledger_seen() {
	_job_ledger_kind "$@"
	[ "$JOB_FORCE" = 0 ] && [ "$_job_kind" = same ]
}

ledger_is_correction() {
	_job_ledger_kind "$@"
	[ "$_job_kind" = changed ]
}

ledger_record() {
	_job_ledger_kind "$@"
	case $_job_kind in
	new) JOB_LEDGER_KIND=sent ;;
	same) JOB_LEDGER_KIND=resent ;;
	changed) JOB_LEDGER_KIND=correction ;;
	esac
	# a line torn by a crash must not swallow this one
	_job_sep=
	if [ ! -f "$JOB_LEDGER" ]; then
		printf '# schedfeed ledger of %s: time, date, key, sha256, target, kind (tab-separated)\n' \
		    "$JOB_NAME" > "$JOB_LEDGER" ||
		    _job_die 74 "cannot write the ledger $JOB_LEDGER"
	elif [ -n "$(tail -c 1 "$JOB_LEDGER")" ]; then
		_job_sep='\n'
	fi
	# one write of one whole line, then fsync the file and its directory
	printf "$_job_sep%s\t%s\t%s\t%s\t%s\t%s\n" "$(_job_now)" "$JOB_DATE" \
	    "$1" "$2" "$3" "$JOB_LEDGER_KIND" >> "$JOB_LEDGER" &&
	    sync "$JOB_LEDGER" "$JOB_DIR" ||
	    _job_die 74 "cannot write the ledger $JOB_LEDGER"
}

# _job_deliver SHA256 STEP KEY FILE TARGET CMD...
_job_deliver() {
	if ledger_seen "$3" "$1" "$5"; then
		job_log "$2 $3 already delivered to $5, nothing sent"
		_job_mark_done "$2"
		return 0
	fi
	_job_exec 5 "$@"
	[ "$_job_status" = 0 ] || _job_fail "$2" "$_job_status"
	ledger_record "$3" "$1" "$5"
	_job_mark_done "$2"
	job_log "$2 ok ($JOB_LEDGER_KIND)"
}

job_deliver() {
	[ $# -ge 5 ] ||
	    _job_die 70 "usage: job_deliver STEP KEY FILE TARGET CMD [ARG...]"
	_job_check_step "$1"
	if _job_step_is_done "$1"; then
		job_log "$1 skipped (done in an earlier run)"
		return 0
	fi
	if ! _job_sha=$(sha256sum 2>/dev/null < "$3"); then
		_job_say "$3: cannot read"
		_job_fail "$1" 66
	fi
	_job_deliver "${_job_sha%% *}" "$@"
}

job_finish() {
	rm -rf "$JOB_DIR/steps/$JOB_DATE"
	job_log "done"
}
