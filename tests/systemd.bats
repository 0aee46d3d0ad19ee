#!/usr/bin/env bats
# The systemd units of pipelines/systemd/ as `make install` installs them:
# one service and one timer per job, on docker/crontab's schedule,
# hardened, checked by systemd-analyze; and every job executable.

load common
bats_require_minimum_version 1.5.0

JOBS="bz_inbound bz_outbound eod_data iq_daily printer_pdfs"

setup_file() {
	export P="$BATS_FILE_TMPDIR/prefix"
	make -C "$TOP" -s install PREFIX="$P" BUILD="${BUILD:-build}" >/dev/null
	export UNITS="$P/lib/systemd/system"
}

setup() {
	common_setup
	command -v systemd-analyze >/dev/null || skip "systemd-analyze (Debian's systemd) is not installed"
}

# unit_value FILE KEY: the values of KEY= in FILE, one a line, with
# continuation lines joined
unit_value() {
	sed -e ':a' -e '/\\$/N; s/[[:space:]]*\\\n[[:space:]]*/ /; ta' "$1" |
	    sed -n "s/^$2=//p"
}

@test "systemd: every pipelines/*.sh is executable in git and after make install" {
	run bash -c "cd '$TOP' && git ls-files -s pipelines | grep -P '\tpipelines/[^/]*\.sh\$'"
	[ "${#lines[@]}" -eq 5 ]
	for line in "${lines[@]}"; do
		[[ "$line" == 100755\ * ]] || { echo "not executable in git: $line"; false; }
	done
	for j in $JOBS; do
		[ -x "$P/lib/schedfeed/pipelines/$j.sh" ]
	done
	# whatever the checkout's modes
	mkdir -p "$W/tree"
	cp -R "$TOP/pipelines" "$TOP/Makefile" "$W/tree/"
	for d in cmd lib man tests; do ln -s "$TOP/$d" "$W/tree/$d"; done
	chmod 644 "$W"/tree/pipelines/*.sh
	make -C "$W/tree" -s install PREFIX="$W/p2" BUILD="$TOP/${BUILD:-build}" >/dev/null
	for j in $JOBS; do
		[ "$(file_mode "$W/p2/lib/schedfeed/pipelines/$j.sh")" = 755 ]
	done
}

@test "systemd: one service and one timer per job, nothing else, the units not among the pipelines" {
	run bash -c "ls '$UNITS' | tr '\n' ' '"
	want=""
	for j in $JOBS; do
		want="${want}schedfeed-$j.service schedfeed-$j.timer "
	done
	[ "$output" = "$want" ]
	[ ! -e "$P/lib/schedfeed/pipelines/systemd" ]
	# the jobs of docker/crontab are these
	[ "$(awk '!/^#/ && NF { print $6 }' "$TOP/docker/crontab" | sort | tr '\n' ' ')" = "$JOBS " ]
}

@test "systemd: systemd-analyze verify passes on every unit" {
	run env MANPATH="$P/share/man" systemd-analyze verify "$UNITS"/*
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "systemd: each service runs its installed job as schedfeed with the settings, state and hardening asked for" {
	for j in $JOBS; do
		u="$UNITS/schedfeed-$j.service"
		[ "$(unit_value "$u" Type)" = oneshot ]
		[ "$(unit_value "$u" User)" = schedfeed ]
		[ "$(unit_value "$u" StateDirectory)" = schedfeed ]
		[ "$(unit_value "$u" StateDirectoryMode)" = 0700 ]
		[ "$(unit_value "$u" UMask)" = 0077 ]
		[ "$(unit_value "$u" EnvironmentFile)" = "/etc/schedfeed/$j.env" ]
		exec_start=$(unit_value "$u" ExecStart)
		[[ "$exec_start" == "/usr/bin/env SCHEDFEED_STATE_DIR=%S/schedfeed "*" $P/lib/schedfeed/pipelines/$j.sh" ]]
		[ "$(unit_value "$u" ProtectSystem)" = strict ]
		[ "$(unit_value "$u" ProtectHome)" = yes ]
		[ "$(unit_value "$u" PrivateTmp)" = yes ]
		[ "$(unit_value "$u" NoNewPrivileges)" = yes ]
		[ "$(unit_value "$u" RestrictAddressFamilies)" = "AF_INET AF_INET6 AF_UNIX" ]
		unit_value "$u" CapabilityBoundingSet | grep -qx ''
	done
}

@test "systemd: every credential is mapped onto a _FILE variable the job's env.example names" {
	for j in $JOBS; do
		u="$UNITS/schedfeed-$j.service"
		creds=$(unit_value "$u" LoadCredential)
		[ -n "$creds" ]
		exec_start=$(unit_value "$u" ExecStart)
		while IFS=: read -r id path; do
			[ "$path" = "/etc/schedfeed/credentials/$j/$id" ]
			# exactly one variable names it
			vars=$(printf '%s\n' $exec_start | sed -n "s|^\([A-Z_]*_FILE\)=%d/$id\$|\1|p")
			[ "$(echo "$vars" | wc -l)" -eq 1 ] && [ -n "$vars" ] ||
			    { echo "$j: credential $id is not mapped"; false; }
			grep -q "^#\{0,1\}$vars=" "$TOP/pipelines/$j.env.example" ||
			    { echo "$j: $vars is not a setting of the job"; false; }
		done <<< "$creds"
		# and no _FILE variable points at a credential not loaded
		for v in $(printf '%s\n' $exec_start | sed -n 's|^[A-Z_]*_FILE=%d/\(.*\)|\1|p'); do
			grep -q "^$v:" <<< "$creds" || { echo "$j: %d/$v is not loaded"; false; }
		done
	done
}

@test "systemd: a job that backs up to S3 gets its secret as an optional credential, empty when the site has no file" {
	n=0
	for j in $JOBS; do
		u="$UNITS/schedfeed-$j.service"
		if ! grep -q '^#\{0,1\}SCHEDFEED_BACKUP_URL=' "$TOP/pipelines/$j.env.example"; then
			[ -z "$(unit_value "$u" SetCredential)" ]
			continue
		fi
		n=$((n + 1))
		unit_value "$u" LoadCredential | grep -qx "s3-secret:/etc/schedfeed/credentials/$j/s3-secret"
		# the fallback systemd.exec(5) gives a LoadCredential= of the same id
		[ "$(unit_value "$u" SetCredential)" = 's3-secret:\n' ]
		printf '%s\n' $(unit_value "$u" ExecStart) | grep -qx 'AWS_SECRET_ACCESS_KEY_FILE=%d/s3-secret'
	done
	[ "$n" -eq 3 ]	# iq_daily, eod_data, bz_outbound
	# what the job meets when the site set a backup but no secret file:
	# the default's one newline, which a secret file may end with
	printf '\n' >"$W/s3-secret"
	echo x >"$W/x.csv"
	AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY_FILE="$W/s3-secret" AWS_REGION=us-east-1 \
	    S3_ENDPOINT_URL=http://127.0.0.1:9 run --separate-stderr s3-put "s3://b/p/" "$W/x.csv"
	[ "$status" -eq 78 ]
	[ "$stderr" = "s3-put: $W/s3-secret: secret file named by AWS_SECRET_ACCESS_KEY_FILE is empty" ]
}

@test "systemd: systemd-analyze security scores every service OK (exposure at most 2.0)" {
	for j in $JOBS; do
		run systemd-analyze security --offline=true "$UNITS/schedfeed-$j.service"
		[ "$status" -eq 0 ]
		score=$(echo "$output" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
		echo "# schedfeed-$j.service: exposure $score" >&3
		[ -n "$score" ]
		awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
	done
}

@test "systemd: each timer fires exactly when docker/crontab runs its job, Persistent" {
	# sample minutes of the week of Monday 2026-11-23: every day at the
	# daily jobs' times and a minute after, and on the Monday the hours
	# and minutes the schedule uses and those beside them
	{
		for d in 23 24 25 26 27 28 29; do
			for t in 04:30 04:31 07:00 18:00 18:01; do
				echo "2026-11-$d $t"
			done
		done
		for h in 00 04 07 13 18; do
			for m in 01 14 15 29 45 59; do
				echo "2026-11-23 $h:$m"
			done
		done
		echo "2026-11-23 13:00"
	} > "$W/minutes"
	while read -r minute; do
		TZ=UTC sh "$TOP/docker/cron.sh" -f "$TOP/docker/crontab" --at "$minute" |
		    sed "s|^|$minute |"
	done < "$W/minutes" > "$W/cron-due"
	for j in $JOBS; do
		t="$UNITS/schedfeed-$j.timer"
		[ "$(unit_value "$t" Persistent)" = true ]
		[ "$(unit_value "$t" WantedBy)" = timers.target ]
		# every time it fires in the week
		TZ=UTC systemd-analyze calendar --base-time='2026-11-22 23:59:59 UTC' \
		    --iterations=700 "$(unit_value "$t" OnCalendar)" |
		    sed -n 's/.*\(Next elapse\|Iter\. #[0-9]*\): ... \(2026-11-2[3-9] [0-9:]*\):00 UTC$/\2/p' \
		    > "$W/$j.fires"
		[ -s "$W/$j.fires" ]
		while read -r minute; do
			cron=no
			grep -qx "$minute $j" "$W/cron-due" && cron=yes
			timer=no
			grep -qx "$minute" "$W/$j.fires" && timer=yes
			[ "$cron" = "$timer" ] || { echo "$j at $minute: cron $cron, timer $timer"; false; }
		done < "$W/minutes"
	done
}

@test "systemd: README's cron and systemd examples cover all five jobs, on docker/crontab's schedule" {
	for j in $JOBS; do
		want=$(awk -v j="$j" '!/^#/ && $6 == j { print $1, $2, $3, $4, $5 }' "$TOP/docker/crontab")
		line=$(grep -E "^    [^ ].*schedfeed +set -a; \. /etc/schedfeed/$j\.env; /usr/local/lib/schedfeed/pipelines/$j\.sh$" "$TOP/README.md")
		[ -n "$line" ] || { echo "no cron line for $j"; false; }
		[ "$(echo "$line" | awk '{ print $1, $2, $3, $4, $5 }')" = "$want" ]
		sed -e ':a' -e '/\\$/N; s/[[:space:]]*\\\n[[:space:]]*/ /; ta' "$TOP/README.md" |
		    grep -E "^    systemctl enable --now .*schedfeed-$j\.timer" ||
		    { echo "no systemctl enable of schedfeed-$j.timer"; false; }
	done
}
