# pipelines/lib/job.sh: the one place every job gets its lock, ledger,
# step log, resume and failure alert.  POSIX sh; source it from a job:
#
#	. "$(dirname "$0")/lib/job.sh"
#	job_start iq_daily "$(date +%F)" "$@"
#	job_step --out "$JOB_STAGING/$file" query sched-query ...
#	job_deliver --out "$JOB_DIR/receipts" upload "$file" \
#	    "$JOB_STAGING/$file" "$url" sftp-put "$url" "$JOB_STAGING/$file"
#	job_step archive archive-mv --to "$JOB_ARCHIVE" < "$JOB_DIR/receipts"
#	job_finish
#
# (--out, not "> FILE" after the call: a redirection would empty FILE even
# when the step is skipped as done in an earlier run.)
#
# State, one directory per job: $SCHEDFEED_STATE_DIR/NAME (the default
# state directory is /var/lib/schedfeed), made with umask 077:
#	lock			flock(1) target, held on fd 9 for the whole run
#	staging/ archive/	the job's files ($JOB_STAGING, $JOB_ARCHIVE)
#	ledger			what is being and was delivered (below)
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
#	directory exits 73 with a message: one that cannot be made, that
#	is read-only, or (as the staging, archive and steps directories
#	in it) a symbolic link or not owned by the job's user.  Installs traps for HUP, INT and TERM: the
#	step running is stopped (TERM), logged as failed with status
#	128 + the signal's number, the alert sent, and the job exits with
#	that status.
#
# job_step [--out FILE] STEP CMD [ARG...]
#	Runs CMD unless STEP is already done in an unfinished earlier run
#	for this date (and not --force).  CMD is a program or a shell
#	function; it runs in a subshell with set -e (a function stops at
#	its first failing command; variables it sets do not outlive it:
#	steps hand each other files) and without fd 8, in the background,
#	waited for, so that a signal to the job is acted on at once (a
#	program is stopped with the job; a function's own commands are
#	not).  Every step's processes hold the lock (fd 9): a step that
#	outlives its job (the job's shell killed alone) keeps the next
#	run out (75, or waiting with --wait) until it has ended, so two
#	deliveries of one job never overlap.  Call job_step as
#	a plain command, not in an if or after && or ||, where the shell
#	would ignore set -e.  A bad STEP name exits 70 (a bug in the job).
#	Logs one line, "TIME JOB DATE STEP ok", "... STEP
#	skipped (done in an earlier run)" or "... STEP failed (status N)".
#	On failure sends the alert and exits with CMD's status.  STEP is
#	letters, digits, '.', '_' and '-'.
#	With --out FILE, CMD's standard output becomes FILE atomically: it
#	is written to a temporary .NAME.XXXXXX beside FILE, fsynced and
#	renamed to FILE when CMD succeeds, removed when it fails (FILE
#	then keeps what it held).  Temporaries of FILE left by a killed
#	run are removed first.  A skipped step leaves FILE as it is.
#
#	With --keep-going, a status 65 (some of the step's input refused,
#	say a remote file name, the rest done) is logged as the step's
#	failure and alerted, and the job goes on; job_finish then exits 65.
#
# job_run [--out FILE] [--keep-going] STEP CMD [ARG...]
#	job_step for a step that runs every time, even when done in an
#	earlier run for this date: one that reads what is there now (the
#	settings, a listing, a download).
#
# job_deliver [--out RECEIPTS] STEP KEY FILE TARGET CMD [ARG...]
#	job_step for a delivery that the ledger guards: when KEY (the file
#	name) was last delivered to TARGET for this date with FILE's
#	SHA-256, logs "STEP KEY already delivered to TARGET, nothing sent"
#	and does not run CMD (unless --force); RECEIPTS is then made
#	empty (nothing to archive).  Otherwise records the intent in the
#	ledger, durably, runs CMD and, when it succeeds, records the
#	delivery as sent, correction (the last delivery had other content)
#	or resent (same content, --force) and logs "STEP ok (sent|
#	correction|resent)".  A ledger that cannot take the intent fails
#	the step with 74 before anything is sent.  FILE missing or
#	unreadable: the step fails with status 66.
#	TARGET's kind is its form: sftp://... (SFTP), box:FOLDER (Box),
#	mailto:... (mail), s3://BUCKET/PREFIX/ (S3), anything else a
#	directory.  CMD (a function:
#	they are shell variables) finds in JOB_DELIVER_TEMP the
#	temporary the intent names (SFTP, directory), in
#	JOB_DELIVER_MESSAGE_ID the Message-ID (mail, from job, date, KEY
#	and SHA-256: the same message sent again has the same one) and in
#	JOB_DELIVER_SKIP 1 unless --force; job_sftp_put, job_copy_to_dir
#	and job_mail use them.
#	An intent an earlier run left without an outcome (killed, a full
#	disk, a failure) is reconciled first, by kind (the _job_reconcile_
#	functions): a directory is read back (TARGET/KEY with the
#	intent's SHA-256: recorded, "checked", nothing sent); SFTP is
#	asked by the delivery itself (sftp-put --skip-same: the final
#	name with our size and SHA-256 read back, nothing sent; --temp:
#	the interrupted upload's temporary replaced, then gone); Box by
#	its folder listing (box-get --list: KEY with the intent's SHA-1);
#	S3 is asked by the delivery itself (s3-put --skip-same: an object
#	of our size whose x-amz-meta-sha256 is our SHA-256, asked with a
#	HEAD, is not sent again);
#	mail cannot be asked: it is sent again with the same Message-ID,
#	logged as "outcome unknown, resent with the same Message-ID" and
#	alerted.  A mail whose sending failed with a status (smtp-send
#	said why) is recorded as failed and is not of unknown outcome.
#
# job_sftp_put ARG...
#	sftp-put ARG... as a job_deliver command: with --temp
#	JOB_DELIVER_TEMP and, unless --force, --skip-same.
#
# job_s3_put ARG...
#	s3-put ARG... as a job_deliver command: --skip-same unless --force,
#	--retries SCHEDFEED_BACKUP_RETRIES when that is set.
#
# job_backup_check
#	False, with a message, when SCHEDFEED_BACKUP_URL is set but is not
#	s3://BUCKET[/PREFIX]; for a job's check of its settings, before
#	anything is sent.
#
# job_backup FILE...
#	With SCHEDFEED_BACKUP_URL=s3://BUCKET[/PREFIX] set (else nothing),
#	backs each FILE up to PREFIX/JOB/YYYY/MM/DD/NAME (the day of
#	JOB_DATE; an hourly date's day) with s3-put(1): one job_deliver
#	step a file, named backup-NAME (NAME's characters other than
#	letters, digits, '.', '_' and '-' as '_'), KEY NAME, TARGET
#	s3://BUCKET/PREFIX/JOB/YYYY/MM/DD/.  The ledger guards it as any
#	delivery: a re-run uploads nothing, --force uploads again.  The
#	store's credentials are s3-put's own (AWS_ACCESS_KEY_ID,
#	AWS_SECRET_ACCESS_KEY_FILE, AWS_REGION, S3_ENDPOINT_URL,
#	AWS_CA_BUNDLE ...).  A failure fails the step (75 for a store that
#	is down) after the job's other deliveries, which stay recorded.
#
# job_copy_to_dir FILE DIR
#	A delivery command for a directory target (a mounted share):
#	copies FILE into DIR under its own name, atomically (a temporary
#	.NAME.XXXXXX in DIR, fsynced, renamed; DIR fsynced; temporaries of
#	NAME a killed run left are removed first), and prints a
#	receipt as the transfer programs do, "file,bytes,sha256,target"
#	and one row.  Exits 66 when FILE cannot be read, 73 when DIR
#	takes no file, 74 on a write error.
#
# job_fail STEP STATUS
#	For a check the job makes outside a step (its settings, say):
#	logs "STEP failed (status N)", sends the alert, exits STATUS.
#
# job_refuse STEP STATUS TEXT
#	The same without exiting: TEXT (no PHI: name a file by its place,
#	never by its name) on stderr, "STEP failed (status N)", the
#	alert; job_finish then exits with the worst such STATUS.
#
# job_bad_name NAME
#	True when NAME cannot be a file name here: empty, '.', '..', a
#	'/', a newline, a tab or another control character.
#
# job_mkdir DIR...
#	mkdir -p each DIR and refuse (73, with a message) one that is a
#	symbolic link or not the job user's own; for the job's own
#	directories under JOB_DIR.
#
# job_log TEXT
#	Logs "TIME JOB DATE TEXT" (e.g. "no appointments, nothing to send").
#	TEXT must hold no PHI.
#
# job_finish
#	Logs "TIME JOB DATE done" and forgets the steps done for this date,
#	so the next run for the date runs every step again and the ledger
#	decides what is sent.  After job_refuse (or a --keep-going step
#	that failed) logs "done (status N: ...)" and exits N.
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
# line is seven tab-separated fields (six in a ledger written before
# intents were, still read)
#	time (YYYY-MM-DDTHH:MM:SS+ZZZZ), date, key, sha256, target, kind,
#	detail
# kind is intent (written and fsynced before anything is sent; detail:
# the temporary's name for SFTP and a directory, the SHA-1 for Box, the
# Message-ID for mail), then one outcome: sent, correction or resent
# (detail "-", "checked" when an earlier run's delivery was found at the
# destination, "resent-same-message-id" for a mail of unknown outcome),
# or failed (a mail that was not sent; detail status-N).  An intent with
# no outcome after it is an earlier run's delivery of unknown outcome.
# A torn last line (a crash mid-write) and a line whose fields do not
# parse are ignored.  KEY and TARGET must not hold a tab or a newline,
# SHA256 is 64 hex digits; otherwise the job exits 70 (a bug in the job).
#
# Alerts: when a step fails and SCHEDFEED_ALERT_TO is set (addresses
# separated by commas), one line "schedfeed job NAME DATE failed at step
# STEP with exit status N" is mailed with smtp-send(1) to
# SCHEDFEED_ALERT_SMTP_URL from SCHEDFEED_ALERT_FROM (default
# schedfeed@HOSTNAME), as SCHEDFEED_ALERT_SMTP_USER when set, verifying
# the server with SCHEDFEED_ALERT_SMTP_CACERT when set (else the system's
# CAs); smtp-send takes the password from SMTP_PASSWORD or
# SMTP_PASSWORD_FILE.  An alert
# that cannot be sent is logged and leaves the exit status the step's.
# Lock contention (75) sends no alert: the run holding the lock reports
# its own failures.
#
# Helpers for the jobs' own settings:
#
# job_date_add DATE N
#	Prints DATE (YYYY-MM-DD) plus N days (N may be negative), worked
#	out at noon UTC so that no zone or DST change moves it.
# job_require NAME...
#	False, with a message naming them and JOB.env.example, when any of
#	the variables NAME is unset or empty.
# job_readable FILE...
#	False, with a message, when a FILE cannot be read (a job's query
#	or shape profile: the step then returns 66).
# job_secret_check NAME
#	False, with a message, when both NAME and NAME_FILE are set.
# job_secret_env TARGET SOURCE
#	Exports TARGET (or TARGET_FILE) from SOURCE (or SOURCE_FILE) and
#	unsets the other, so a program that reads TARGET[_FILE] gets the
#	job's secret: job_secret_env SFTP_PASSWORD PRINT_SFTP_PASSWORD.
#	For a step's subshell: it changes the environment.
# job_smtp_url HOST_OR_URL [PORT]
#	Prints an smtp-send URL: a host becomes smtp://HOST:PORT (PORT
#	default 587); an smtp:// or smtps:// URL without a port gets PORT
#	when one is given.
# job_mail_use HOST_OR_URL PORT FROM USER PASSWORD_VAR CACERT RETRIES
#	Sets what job_mail uses: the server (as job_smtp_url makes it),
#	the sender, the login (USER empty: none), the variable holding its
#	password, a CA file and a retry count (each may be empty).
# job_mail TO SUBJECT [FILE...]
#	Mails the body on stdin, FILEs attached, with smtp-send(1) to TO
#	(addresses separated by commas), through JOB_MAIL_URL from
#	JOB_MAIL_FROM; logs in as JOB_MAIL_USER when set, with the password
#	in the variable named by JOB_MAIL_PASSWORD_VAR (or its _FILE);
#	--cacert JOB_MAIL_CACERT and --retries JOB_MAIL_RETRIES when set.
#	The receipt goes to stdout.  Run it in a step (a subshell).

# the metrics of each run (metrics.sh), beside this file in the job's $here/lib
[ ! -r "${here:-/nonexistent}/lib/metrics.sh" ] || . "$here/lib/metrics.sh"
_job_tab=$(printf '\t')

_job_now() {
	date +%Y-%m-%dT%H:%M:%S%z
}

job_mkdir() {
	for _job_d do
		if ! mkdir -p -- "$_job_d" 2>/dev/null; then
			_job_p=$(dirname -- "$_job_d")
			[ ! -d "$_job_p" ] || [ -w "$_job_p" ] ||
			    _job_die 73 "cannot create the state directory $_job_d: $_job_p is read-only (or not writable)"
			_job_die 73 "cannot create the state directory $_job_d"
		fi
		# a planted link or someone else's directory would take the
		# job's files (patient data) where they do not belong
		if [ -L "$_job_d" ] || [ ! -O "$_job_d" ]; then
			_job_die 73 "$_job_d: a symbolic link, or not owned by $(id -un): refused"
		fi
	done
}

job_bad_name() {
	case $1 in
	'' | . | .. | */* | *[[:cntrl:]]*) return 0 ;;
	esac
	return 1
}

job_refuse() {
	_job_check_step "$1"
	_job_say "$3"
	job_log "$1 failed (status $2)"
	_job_alert "$1" "$2"
	[ "$2" -le "$_job_deferred" ] || _job_deferred=$2
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
	job_mkdir "$JOB_DIR" "$JOB_STAGING" "$JOB_ARCHIVE" "$JOB_DIR/steps"
	# a failed exec redirection would end the shell with no word of ours
	# (and so would one on ':', a special built-in: dash exits 2)
	{ true >> "$JOB_DIR/lock"; } 2>/dev/null ||
	    _job_die 73 "cannot open the lock $JOB_DIR/lock (a read-only state directory?)"
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
	# the lock opens read-only-safe: a state directory that takes no
	# new file is found out here, before a step has run
	if ! _job_probe=$(mktemp "$JOB_DIR/.probe.XXXXXX" 2>/dev/null); then
		_job_die 73 "the state directory $JOB_DIR takes no new file (read-only?)"
	fi
	rm -f -- "$_job_probe"
	_job_child=
	_job_tmp=
	_job_step=
	_job_deferred=0
	trap '_job_signal 1 HUP' HUP
	trap '_job_signal 2 INT' INT
	trap '_job_signal 15 TERM' TERM
	! command -v _job_metrics_begin > /dev/null || _job_metrics_begin
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
# set -e (so a shell function stops at its first failing command), fd 8
# closed, fd 9 (the lock) kept, and, with _job_out set, standard output to a temporary
# beside _job_out that becomes _job_out when the command succeeds; sets
# _job_status.  The subshell runs in the background and is waited for, so
# that a trapped signal interrupts the wait (_job_signal); a command that
# is a program replaces the subshell, so that the signal reaches it.  An
# asynchronous command's standard input would be /dev/null: fd 8 carries
# the caller's.  Called as a plain command, never in a condition, where
# the shell would ignore set -e.
_job_exec() {
	case $- in
	*e*) _job_errexit=1; set +e ;;
	*) _job_errexit=0 ;;
	esac
	_job_tmp=
	if [ -n "$_job_out" ]; then
		_job_out_dir=$(dirname -- "$_job_out")
		_job_out_base=${_job_out##*/}
		# a killed run's temporaries; the lock says none is in use
		rm -f -- "$_job_out_dir/.$_job_out_base."??????
		if ! _job_tmp=$(mktemp "$_job_out_dir/.$_job_out_base.XXXXXX" 2>/dev/null); then
			_job_say "cannot create a temporary beside $_job_out"
			_job_tmp=
			_job_status=73
			[ "$_job_errexit" = 0 ] || set -e
			return 0
		fi
	fi
	{ command exec 8<&0; } 2>/dev/null || exec 8</dev/null
	(
		shift $(($1 + 1))
		set -e
		[ -z "$_job_tmp" ] || exec > "$_job_tmp"
		case $(command -v "$1") in
		*/*) exec "$@" ;;
		esac
		"$@"
	) 0<&8 8<&- &
	_job_child=$!
	exec 8<&-
	wait "$_job_child"
	_job_status=$?
	_job_child=
	if [ -n "$_job_tmp" ]; then
		if [ "$_job_status" = 0 ]; then
			if sync "$_job_tmp" && mv -f "$_job_tmp" "$_job_out"; then
				sync "$_job_out_dir" 2>/dev/null || :
			else
				_job_say "cannot write $_job_out"
				_job_status=74
			fi
		fi
		rm -f -- "$_job_tmp"
		_job_tmp=
	fi
	[ "$_job_errexit" = 0 ] || set -e
}

# _job_signal NUMBER NAME: the trap for HUP, INT and TERM.  Stops the step
# running, removes its temporary, and fails the step (or, between steps,
# the job) with 128 + NUMBER.
_job_signal() {
	trap '' HUP INT TERM
	if [ -n "${_job_child:-}" ]; then
		kill -TERM "$_job_child" 2>/dev/null
		wait "$_job_child" 2>/dev/null
		_job_child=
	fi
	[ -z "${_job_tmp:-}" ] || rm -f -- "$_job_tmp"
	_job_say "stopped by SIG$2"
	[ -z "${_job_step:-}" ] || _job_fail "$_job_step" $((128 + $1))
	job_log "stopped (status $((128 + $1)))"
	exit $((128 + $1))
}

# _job_alert STEP STATUS
_job_alert() {
	_job_alert_text "$1" "schedfeed job $JOB_NAME $JOB_DATE failed at step $1 with exit status $2"
}

# _job_alert_text STEP TEXT: TEXT (one line, no PHI) mailed as the alert
_job_alert_text() {
	[ -n "${SCHEDFEED_ALERT_TO:-}" ] || return 0
	if [ -z "${SCHEDFEED_ALERT_SMTP_URL:-}" ]; then
		job_log "$1 alert not sent: SCHEDFEED_ALERT_SMTP_URL is not set"
		return 0
	fi
	set -- "$1" "" "$2"
	if (
		_job_subject="schedfeed: $JOB_NAME $JOB_DATE failed"
		case $3 in
		*"outcome was unknown"*)
			_job_subject="schedfeed: $JOB_NAME $JOB_DATE mail resent" ;;
		esac
		_job_from=${SCHEDFEED_ALERT_FROM:-schedfeed@$(uname -n)}
		_job_to=$SCHEDFEED_ALERT_TO
		set -- "$3" --server "$SCHEDFEED_ALERT_SMTP_URL" \
		    --from "$_job_from" --subject "$_job_subject"
		[ -z "${SCHEDFEED_ALERT_SMTP_USER:-}" ] ||
		    set -- "$@" --user "$SCHEDFEED_ALERT_SMTP_USER"
		[ -z "${SCHEDFEED_ALERT_SMTP_CACERT:-}" ] ||
		    set -- "$@" --cacert "$SCHEDFEED_ALERT_SMTP_CACERT"
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

# _job_out_option ARG...: sets _job_out from a leading --out FILE and
# _job_shift to the number of arguments it took
_job_out_option() {
	_job_out=
	_job_shift=0
	_job_keep_going=0
	while :; do
		case ${1:-} in
		--out)
			[ -n "${2:-}" ] || _job_die 70 "--out needs a file"
			_job_out=$2
			_job_shift=$((_job_shift + 2))
			shift 2 ;;
		--keep-going)
			_job_keep_going=1
			_job_shift=$((_job_shift + 1))
			shift ;;
		*) break ;;
		esac
	done
}

job_fail() {
	_job_check_step "$1"
	_job_fail "$1" "$2"
}

job_step() {
	_job_out_option "$@"
	shift "$_job_shift"
	[ $# -ge 2 ] || _job_die 70 "usage: job_step [--out FILE] STEP CMD [ARG...]"
	_job_check_step "$1"
	if _job_step_is_done "$1"; then
		job_log "$1 skipped (done in an earlier run)"
		return 0
	fi
	_job_step=$1
	_job_exec 1 "$@"
	if [ "$_job_status" = 65 ] && [ "$_job_keep_going" = 1 ]; then
		_job_step=
		job_refuse "$1" 65 "$1: some of its input refused (status 65), the job goes on with the rest"
		return 0
	fi
	[ "$_job_status" = 0 ] || _job_fail "$1" "$_job_status"
	_job_step=
	_job_mark_done "$1"
	job_log "$1 ok"
}

job_run() {
	_job_out_option "$@"
	eval "_job_run_step=\${$((_job_shift + 1)):-}"
	_job_check_step "$_job_run_step"
	rm -f "$JOB_DIR/steps/$JOB_DATE/$_job_run_step"
	job_step "$@"
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

# _job_ledger_state KEY TARGET: for this date, sets _job_last (the SHA-256
# of KEY's last delivery to TARGET, or empty) and, when the last line for
# them is an intent with no outcome after it, _job_pend_sha and
# _job_pend_detail (else both empty).  Lines that are not whole (a crash
# mid-write, a full disk) are ignored: the last one when it has no
# newline, and any whose fields do not parse.
_job_ledger_state() {
	_job_last=
	_job_pend_sha=
	_job_pend_detail=
	[ -f "$JOB_LEDGER" ] || return 0
	_job_lines=$(wc -l < "$JOB_LEDGER") ||
	    _job_die 74 "cannot read the ledger $JOB_LEDGER"
	_job_state=$(N=$_job_lines D=$JOB_DATE K=$1 T=$2 awk -F '\t' '
	    NR > ENVIRON["N"] || /^#/ || (NF != 6 && NF != 7) ||
	    length($4) != 64 || $4 ~ /[^0-9a-f]/ { next }
	    $6 !~ /^(intent|failed|sent|correction|resent)$/ { next }
	    $2 == ENVIRON["D"] && $3 == ENVIRON["K"] && $5 == ENVIRON["T"] {
		if ($6 == "intent") {
			psha = $4
			pdetail = NF == 7 ? $7 : "-"
		} else if ($6 == "failed") {
			psha = pdetail = ""
		} else {
			last = $4
			psha = pdetail = ""
		}
	    }
	    END {
		# "-" for none: a tab is white space to read, runs of it one
		printf "%s\t%s\t%s\n", last == "" ? "-" : last,
		    psha == "" ? "-" : psha, pdetail == "" ? "-" : pdetail
	    }' "$JOB_LEDGER") ||
	    _job_die 74 "cannot read the ledger $JOB_LEDGER"
	_job_last=${_job_state%%"$_job_tab"*}
	_job_state=${_job_state#*"$_job_tab"}
	_job_pend_sha=${_job_state%%"$_job_tab"*}
	_job_pend_detail=${_job_state#*"$_job_tab"}
	[ "$_job_last" != - ] || _job_last=
	if [ "$_job_pend_sha" = - ]; then
		_job_pend_sha=
		_job_pend_detail=
	fi
}

# _job_ledger_kind KEY SHA256 TARGET: sets _job_kind to new, same or changed
_job_ledger_kind() {
	_job_check_entry "$@"
	_job_ledger_state "$1" "$3"
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

# _job_ledger_line KEY SHA256 TARGET KIND DETAIL: appends one line and
# fsyncs the ledger and its directory; false (after a message) when the
# line is not on disk.
_job_ledger_line() {
	# a line torn by a crash must not swallow this one
	_job_sep=
	if [ ! -f "$JOB_LEDGER" ]; then
		printf '# schedfeed ledger of %s: time, date, key, sha256, target, kind, detail (tab-separated)\n' \
		    "$JOB_NAME" 2>/dev/null > "$JOB_LEDGER" || {
			_job_say "cannot write the ledger $JOB_LEDGER"
			return 74
		}
	elif [ -n "$(tail -c 1 "$JOB_LEDGER")" ]; then
		_job_sep='\n'
	fi
	# one write of one whole line, then fsync the file and its directory
	{ printf "$_job_sep%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$(_job_now)" \
	    "$JOB_DATE" "$1" "$2" "$3" "$4" "$5" >> "$JOB_LEDGER"; } \
	    2>/dev/null && sync "$JOB_LEDGER" "$JOB_DIR" 2>/dev/null || {
		_job_say "cannot write the ledger $JOB_LEDGER"
		return 74
	}
}

# _job_outcome KEY SHA256 TARGET [DETAIL]: the delivery's outcome line;
# sets JOB_LEDGER_KIND to sent, correction or resent.  False when it is
# not on disk.
_job_outcome() {
	_job_ledger_kind "$1" "$2" "$3"
	case $_job_kind in
	new) JOB_LEDGER_KIND=sent ;;
	same) JOB_LEDGER_KIND=resent ;;
	changed) JOB_LEDGER_KIND=correction ;;
	esac
	_job_ledger_line "$1" "$2" "$3" "$JOB_LEDGER_KIND" "${4:--}"
}

ledger_record() {
	_job_outcome "$1" "$2" "$3" || exit 74
}

# _job_target_kind TARGET: sftp, box, mail or dir (anything else: a path)
_job_target_kind() {
	case $1 in
	sftp://*) echo sftp ;;
	box:*) echo box ;;
	mailto:*) echo mail ;;
	s3://*) echo s3 ;;
	*) echo dir ;;
	esac
}

# Reconciliation, one function a kind of destination:
# _job_reconcile_KIND TARGET KEY SHA256 DETAIL asks TARGET whether the
# delivery an interrupted run recorded as an intent (KEY with SHA256;
# DETAIL as that intent has it) is there.  Returns 0 when it is (the
# outcome is then recorded: nothing is sent), 1 when it is not (sent
# again), 2 when only the delivery can ask (it does, before sending), 3
# when the destination cannot be asked at all, or an exit status (the
# step fails, nothing is sent).  A new kind adds a function here and a
# line in _job_target_kind.

# A directory: TARGET/KEY with SHA256 (read back); the interrupted copy's
# temporary (DETAIL) is removed.
_job_reconcile_dir() {
	case $4 in
	.*) rm -f -- "${1%/}/$4" ;;
	esac
	[ -f "${1%/}/$2" ] || return 1
	_job_r=$(sha256sum < "${1%/}/$2") || return 74
	[ "${_job_r%% *}" = "$3" ] || return 1
}

# SFTP: the login is the job's own, so the delivery asks: job_sftp_put
# runs sftp-put --skip-same (the final name with our size and SHA-256,
# read back: nothing sent) --temp DETAIL (the interrupted upload's
# temporary replaced, then removed).
_job_reconcile_sftp() {
	return 2
}

# Box: the folder's listing (box-get --list) holds KEY with the SHA-1 the
# intent recorded (DETAIL).
_job_reconcile_box() {
	_job_pattern=$(printf '%s' "$2" | sed 's/[][*?\\]/\\&/g')
	_job_r=0
	_job_list=$(box-get --folder-path "${1#box:}" --pattern "$_job_pattern" \
	    --list 2>/dev/null) || _job_r=$?
	case $_job_r in
	0) ;;
	66) return 1 ;;		# no such folder: nothing there
	*)
		_job_say "cannot ask Box whether an interrupted run's upload is there (status $_job_r)"
		return "$_job_r" ;;
	esac
	case $_job_list in
	*",$4" | *",$4
"*) return 0 ;;
	esac
	return 1
}

# S3: the store's keys are the job's own, so the delivery asks:
# job_s3_put runs s3-put --skip-same (a HEAD: an object of our size whose
# x-amz-meta-sha256 is our SHA-256 is not sent again).
_job_reconcile_s3() {
	return 2
}

# Mail cannot be asked: it is sent again with the same Message-ID.
_job_reconcile_mail() {
	return 3
}

# _job_message_id KEY SHA256: the Message-ID of a delivery by mail, from
# (job, date, key, content): the same message sent again has the same one
_job_message_id() {
	_job_h=$(printf '%s\n%s\n%s\n%s\n' "$JOB_NAME" "$JOB_DATE" "$1" "$2" |
	    sha256sum)
	_job_dom=${JOB_MAIL_FROM:-}
	_job_dom=${_job_dom##*@}
	case $_job_dom in
	'' | *[!A-Za-z0-9.-]*) _job_dom=schedfeed.invalid ;;
	esac
	printf '<schedfeed.%s.%s.%.32s@%s>\n' "$JOB_NAME" "$JOB_DATE" \
	    "$_job_h" "$_job_dom"
}

# _job_random: six letters and digits
_job_random() {
	_job_r=$(mktemp -u XXXXXX) || _job_die 70 "mktemp -u failed"
	printf '%s\n' "${_job_r##*/}"
}

# _job_deliver SHA256 STEP KEY FILE TARGET CMD...
_job_deliver() {
	_job_check_entry "$3" "$1" "$5"
	_job_tkind=$(_job_target_kind "$5")
	_job_unknown=0
	JOB_DELIVER_TEMP=
	_job_ledger_state "$3" "$5"
	if [ -n "$_job_pend_sha" ]; then
		_job_rc=0
		"_job_reconcile_$_job_tkind" "$5" "$3" "$_job_pend_sha" \
		    "$_job_pend_detail" || _job_rc=$?
		case $_job_rc in
		0)
			job_log "$2 $3: an earlier run left no outcome; $5 holds it (asked there), recorded"
			_job_outcome "$3" "$_job_pend_sha" "$5" checked ||
			    _job_fail "$2" 74 ;;
		1)
			job_log "$2 $3: an earlier run left no outcome; $5 does not hold it, sending again" ;;
		2)
			# the same temporary, whatever the content now: the
			# interrupted upload's is replaced, never left behind
			job_log "$2 $3: an earlier run left no outcome; the delivery asks $5 first"
			JOB_DELIVER_TEMP=$_job_pend_detail ;;
		3)
			if [ "$_job_pend_sha" = "$1" ]; then
				_job_unknown=1
			else
				job_log "$2 $3: an earlier run's delivery of other content to $5 left no outcome; this content is sent"
			fi ;;
		*)
			_job_fail "$2" "$_job_rc" ;;
		esac
	fi
	if ledger_seen "$3" "$1" "$5"; then
		if [ -n "$_job_out" ] && ! { true > "$_job_out"; } 2>/dev/null; then
			_job_say "cannot write $_job_out"
			_job_fail "$2" 73
		fi
		job_log "$2 $3 already delivered to $5, nothing sent"
		_job_mark_done "$2"
		return 0
	fi
	# what the intent names, for the delivery and for a later run
	JOB_DELIVER_MESSAGE_ID=
	JOB_DELIVER_SKIP=$((1 - JOB_FORCE))
	case $_job_tkind in
	sftp)
		case $JOB_DELIVER_TEMP in
		.*) ;;
		*) JOB_DELIVER_TEMP=.$3.$(_job_random).part ;;
		esac
		_job_detail=$JOB_DELIVER_TEMP ;;
	dir)
		JOB_DELIVER_TEMP=.$3.$(_job_random)
		_job_detail=$JOB_DELIVER_TEMP ;;
	box)
		_job_detail=$(sha1sum < "$4") || _job_fail "$2" 66
		_job_detail=${_job_detail%% *} ;;
	mail)
		JOB_DELIVER_MESSAGE_ID=$(_job_message_id "$3" "$1")
		_job_detail=$JOB_DELIVER_MESSAGE_ID ;;
	s3)
		# an object appears whole or not at all: no temporary
		JOB_DELIVER_TEMP=
		_job_detail=- ;;
	esac
	# durably before anything is sent: a state disk that cannot take it
	# means nothing is sent
	_job_ledger_line "$3" "$1" "$5" intent "$_job_detail" ||
	    _job_fail "$2" 74
	_job_step=$2
	_job_exec 5 "$@"
	if [ "$_job_status" != 0 ]; then
		# A mail whose sending failed with a status: smtp-send said
		# what happened (and when the message may be in despite it);
		# its next sending is not one of unknown outcome.  The other
		# kinds keep the intent open: their destination is asked.
		[ "$_job_tkind" != mail ] ||
		    _job_ledger_line "$3" "$1" "$5" failed "status-$_job_status" ||
		    :
		_job_fail "$2" "$_job_status"
	fi
	if [ "$_job_unknown" = 1 ]; then
		_job_outcome "$3" "$1" "$5" resent-same-message-id ||
		    _job_fail "$2" 74
		job_log "$2 $3 to $5: outcome unknown, resent with the same Message-ID"
		_job_alert_text "$2" "schedfeed job $JOB_NAME $JOB_DATE step $2: a mail's outcome was unknown after an interrupted run; it was resent with the same Message-ID $JOB_DELIVER_MESSAGE_ID (the recipient may hold it twice, as the same message)"
	else
		_job_outcome "$3" "$1" "$5" || _job_fail "$2" 74
	fi
	_job_step=
	_job_mark_done "$2"
	job_log "$2 ok ($JOB_LEDGER_KIND)"
}

job_deliver() {
	_job_out_option "$@"
	shift "$_job_shift"
	[ $# -ge 5 ] ||
	    _job_die 70 "usage: job_deliver [--out RECEIPTS] STEP KEY FILE TARGET CMD [ARG...]"
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

# job_sftp_put ARG...: sftp-put ARG... for a job_deliver command: the
# temporary the intent names (--temp), and --skip-same unless --force
job_sftp_put() {
	[ -z "${JOB_DELIVER_TEMP:-}" ] ||
	    set -- --temp "$JOB_DELIVER_TEMP" "$@"
	[ "${JOB_DELIVER_SKIP:-0}" = 0 ] || set -- --skip-same "$@"
	sftp-put "$@"
}

# job_s3_put ARG...: s3-put ARG... for a job_deliver command: --skip-same
# unless --force, and the job's retry count
job_s3_put() {
	[ -z "${SCHEDFEED_BACKUP_RETRIES:-}" ] ||
	    set -- --retries "$SCHEDFEED_BACKUP_RETRIES" "$@"
	[ "${JOB_DELIVER_SKIP:-0}" = 0 ] || set -- --skip-same "$@"
	s3-put "$@"
}

job_backup_check() {
	case ${SCHEDFEED_BACKUP_URL:-} in
	'') ;;
	s3://*[[:space:][:cntrl:]]*)
		_job_say "SCHEDFEED_BACKUP_URL: white space or a control character in the URL"
		return 1 ;;
	s3://[!/]*) ;;
	*)
		_job_say "SCHEDFEED_BACKUP_URL: '$SCHEDFEED_BACKUP_URL' is not s3://BUCKET[/PREFIX]"
		return 1 ;;
	esac
	case ${SCHEDFEED_BACKUP_RETRIES:-0} in
	'' | *[!0-9]*)
		_job_say "SCHEDFEED_BACKUP_RETRIES: '$SCHEDFEED_BACKUP_RETRIES' is not a number"
		return 1 ;;
	esac
}

job_backup() {
	[ -n "${SCHEDFEED_BACKUP_URL:-}" ] || return 0
	job_backup_check || _job_fail backup 78
	_job_bt=${SCHEDFEED_BACKUP_URL%/}/$JOB_NAME/$(printf '%s' "${JOB_DATE%T*}" | tr - /)/
	for _job_bf do
		_job_bk=${_job_bf##*/}
		_job_bs=backup-$(printf '%s' "$_job_bk" | tr -c 'A-Za-z0-9._-' _)
		job_deliver "$_job_bs" "$_job_bk" "$_job_bf" "$_job_bt" \
		    job_s3_put "$_job_bt" "$_job_bf" > /dev/null
	done
}

# _job_csv FIELD: FIELD as one CSV field, quoted when it must be
_job_csv() {
	case $1 in
	*[,\"]* | *'
'*)
		printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')" ;;
	*)
		printf '%s' "$1" ;;
	esac
}

job_copy_to_dir() {
	[ $# -eq 2 ] || _job_die 70 "usage: job_copy_to_dir FILE DIR"
	set -- "$1" "${2%/}" "${1##*/}"
	if [ ! -f "$1" ] || [ ! -r "$1" ]; then
		_job_say "$1: cannot read"
		return 66
	fi
	# a killed run's temporaries; the lock says none is in use
	rm -f -- "${2:-/}/.$3."??????
	if [ -n "${JOB_DELIVER_TEMP:-}" ]; then
		# the name the ledger's intent holds, made afresh
		_job_copy=${2:-/}/$JOB_DELIVER_TEMP
		if ! (set -C; true > "$_job_copy") 2>/dev/null; then
			_job_say "${2:-/}: cannot create a file there"
			return 73
		fi
	elif ! _job_copy=$(mktemp "${2:-/}/.$3.XXXXXX" 2>/dev/null); then
		_job_say "${2:-/}: cannot create a file there"
		return 73
	fi
	if ! cat -- "$1" > "$_job_copy" || ! sync "$_job_copy" ||
	    ! _job_copy_sha=$(sha256sum < "$_job_copy") ||
	    ! _job_copy_bytes=$(wc -c < "$_job_copy") ||
	    ! mv -f "$_job_copy" "$2/$3"; then
		rm -f -- "$_job_copy"
		_job_say "$2/$3: cannot write"
		return 74
	fi
	sync "${2:-/}" 2>/dev/null || :	# the rename, where possible
	printf 'file,bytes,sha256,target\n%s,%s,%s,%s\n' "$(_job_csv "$1")" \
	    "$_job_copy_bytes" "${_job_copy_sha%% *}" "$(_job_csv "$2/$3")"
}

job_finish() {
	rm -rf "$JOB_DIR/steps/$JOB_DATE"
	if [ "$_job_deferred" != 0 ]; then
		job_log "done (status $_job_deferred: a step failed, the others went on)"
		exit "$_job_deferred"
	fi
	job_log "done"
}

job_date_add() {
	_job_epoch=$(TZ=UTC0 date -d "$1 12:00" +%s 2>/dev/null) ||
	    _job_die 70 "job_date_add: $1 is not a date"
	TZ=UTC0 date -d "@$((_job_epoch + $2 * 86400))" +%F
}

job_require() {
	_job_missing=
	for _job_name do
		eval "_job_v=\${$_job_name:-}"
		[ -n "$_job_v" ] || _job_missing="$_job_missing $_job_name"
	done
	[ -z "$_job_missing" ] && return 0
	_job_say "not set:$_job_missing (see $JOB_NAME.env.example)"
	return 1
}

job_readable() {
	for _job_file do
		if [ ! -r "$_job_file" ]; then
			_job_say "$_job_file: cannot read"
			return 1
		fi
	done
}

job_secret_check() {
	eval "_job_v=\${$1:-} _job_f=\${$1_FILE:-}"
	if [ -n "$_job_v" ] && [ -n "$_job_f" ]; then
		_job_say "both $1 and $1_FILE are set"
		return 1
	fi
	return 0
}

job_secret_env() {
	eval "_job_v=\${$2:-} _job_f=\${$2_FILE:-}"
	unset "$1" "$1_FILE"
	if [ -n "$_job_f" ]; then
		eval "$1_FILE=\$_job_f; export $1_FILE"
	elif [ -n "$_job_v" ]; then
		eval "$1=\$_job_v; export $1"
	fi
}

job_smtp_url() {
	case $1 in
	smtp://* | smtps://*)
		_job_rest=${1#*://}
		case ${_job_rest%%/*} in
		*:*) printf '%s\n' "$1" ;;
		*)
			if [ -n "${2:-}" ]; then
				printf '%s://%s:%s%s\n' "${1%%://*}" \
				    "${_job_rest%%/*}" "$2" \
				    "$(printf '%s' "$_job_rest" | sed -n 's,^[^/]*,,p')"
			else
				printf '%s\n' "$1"
			fi ;;
		esac ;;
	*) printf 'smtp://%s:%s\n' "$1" "${2:-587}" ;;
	esac
}

job_mail_use() {
	JOB_MAIL_URL=$(job_smtp_url "$1" "$2")
	JOB_MAIL_FROM=$3
	JOB_MAIL_USER=$4
	JOB_MAIL_PASSWORD_VAR=$5
	JOB_MAIL_CACERT=$6
	JOB_MAIL_RETRIES=$7
}

job_mail() {
	_job_to=$1
	_job_subject=$2
	shift 2
	# options after the files, then the files rotated to the end
	_job_files=$#
	set -- "$@" --server "$JOB_MAIL_URL" --from "$JOB_MAIL_FROM" \
	    --subject "$_job_subject"
	while [ -n "$_job_to" ]; do
		set -- "$@" --to "${_job_to%%,*}"
		case $_job_to in
		*,*) _job_to=${_job_to#*,} ;;
		*) _job_to= ;;
		esac
	done
	[ -z "${JOB_MAIL_USER:-}" ] || set -- "$@" --user "$JOB_MAIL_USER"
	[ -z "${JOB_MAIL_CACERT:-}" ] || set -- "$@" --cacert "$JOB_MAIL_CACERT"
	[ -z "${JOB_MAIL_RETRIES:-}" ] || set -- "$@" --retries "$JOB_MAIL_RETRIES"
	[ -z "${JOB_DELIVER_MESSAGE_ID:-}" ] ||
	    set -- "$@" --message-id "$JOB_DELIVER_MESSAGE_ID"
	while [ "$_job_files" -gt 0 ]; do
		set -- "$@" "$1"
		shift
		_job_files=$((_job_files - 1))
	done
	[ -z "${JOB_MAIL_PASSWORD_VAR:-}" ] ||
	    job_secret_env SMTP_PASSWORD "$JOB_MAIL_PASSWORD_VAR"
	smtp-send "$@"
}
