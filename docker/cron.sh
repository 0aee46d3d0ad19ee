#!/bin/sh
# cron.sh: runs the jobs of a crontab on schedule, in the foreground, as the
# current (non-root) user, logging to stdout. Debian's cron must run as root
# and mails its output; a container wants neither.
#
#   cron.sh [-f CRONTAB]                 run until SIGTERM
#   cron.sh [-f CRONTAB] --at 'YYYY-MM-DD HH:MM'
#                                        print the jobs due at that minute
# Times are in TZ. Day-of-month and day-of-week combine as in cron(8): when
# both are restricted, either may match.
set -eu

crontab=${SCHEDFEED_CRONTAB:-/etc/schedfeed/crontab}
at=""
while [ $# -gt 0 ]; do
	case $1 in
	-f) crontab=$2; shift 2 ;;
	--at) at=$2; shift 2 ;;
	*) echo "usage: cron.sh [-f CRONTAB] [--at 'YYYY-MM-DD HH:MM']" >&2; exit 64 ;;
	esac
done
[ -r "$crontab" ] || { echo "cron.sh: $crontab: cannot read" >&2; exit 66; }

# due MIN HOUR DOM MON DOW: prints the command of each line due then.
due() {
	awk -v min="$1" -v hour="$2" -v dom="$3" -v mon="$4" -v dow="$5" '
	function match_field(spec, value, lo, hi,    n, parts, i, range, step, a, b, r) {
		n = split(spec, parts, ",")
		for (i = 1; i <= n; i++) {
			step = 1
			range = parts[i]
			if (index(range, "/")) {
				split(range, r, "/"); range = r[1]; step = r[2] + 0
				if (step < 1) return -1
			}
			if (range == "*") { a = lo; b = hi }
			else if (index(range, "-")) { split(range, r, "-"); a = r[1] + 0; b = r[2] + 0 }
			else { a = range + 0; b = (step > 1) ? hi : a }
			if (range !~ /^(\*|[0-9]+(-[0-9]+)?)$/) return -1
			if (value >= a && value <= b && (value - a) % step == 0) return 1
		}
		return 0
	}
	/^[ \t]*(#|$)/ { next }
	{
		if (NF < 6) { printf "cron.sh: %s line %d: needs five fields and a job\n", FILENAME, NR > "/dev/stderr"; bad = 1; next }
		m = match_field($1, min, 0, 59); h = match_field($2, hour, 0, 23)
		d = match_field($3, dom, 1, 31); mo = match_field($4, mon, 1, 12)
		w = match_field($5, dow, 0, 7)
		if (w == 0 && dow == 0) w = match_field($5, 7, 0, 7)
		if (m < 0 || h < 0 || d < 0 || mo < 0 || w < 0) { printf "cron.sh: %s line %d: bad field\n", FILENAME, NR > "/dev/stderr"; bad = 1; next }
		if ($3 != "*" && $5 != "*") day = (d || w); else day = (d && w)
		if (m && h && mo && day) {
			cmd = $6
			for (i = 7; i <= NF; i++) cmd = cmd " " $i
			print cmd
		}
	}
	END { exit bad ? 65 : 0 }' "$crontab"
}

if [ -n "$at" ]; then
	# shellcheck disable=SC2046
	set -- $(date -d "$at" '+%M %H %d %m %w') || exit 64
	due "$1" "$2" "$3" "$4" "$5"
	exit
fi

# Refuse a crontab with errors before the first minute passes.
due 0 0 1 1 0 >/dev/null
echo "$(date '+%Y-%m-%dT%H:%M:%S%z') cron: schedule from $crontab, TZ=${TZ:-UTC}"
trap 'echo "$(date "+%Y-%m-%dT%H:%M:%S%z") cron: stopping"; exit 0' TERM INT
last=""
while :; do
	now=$(date '+%Y-%m-%d %H:%M')
	if [ "$now" != "$last" ]; then
		last=$now
		# shellcheck disable=SC2046
		set -- $(date -d "$now" '+%M %H %d %m %w')
		due "$1" "$2" "$3" "$4" "$5" | while read -r job args; do
			echo "$(date '+%Y-%m-%dT%H:%M:%S%z') cron: starting $job $args"
			# Each job runs in the background so a long one never
			# delays the next minute; the job's own lock stops overlap.
			# shellcheck disable=SC2086
			( "${SCHEDFEED_ENTRYPOINT:-/usr/local/bin/schedfeed-entrypoint}" $job $args 2>&1
			  echo "$(date '+%Y-%m-%dT%H:%M:%S%z') cron: $job finished with status $?" ) &
		done
	fi
	sleep 5 &
	wait $! || true
done
