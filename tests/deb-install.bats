#!/usr/bin/env bats
# The Debian package installed as a site would: into a fresh Debian 12
# root (debootstrap minbase, from the archive this machine's apt uses)
# with `apt-get install ./schedfeed_*.deb`, then feed-status and the
# iQueue job run there, as the schedfeed user, on the demo database (tdsd
# on this machine's loopback, which the chroot shares).
#
# It downloads a base system and the package's dependencies, a few
# minutes: `make deb-test` runs it (and .ci/run calls that); otherwise it
# skips unless SCHEDFEED_DEB_TEST=1. The debootstrapped base is kept as
# BUILD/deb-test/bookworm-minbase.tar for the next run; every run
# unpacks a fresh root from it.

load common
load tdsd

setup_file() {
	[ "${SCHEDFEED_DEB_TEST:-}" = 1 ] || return 0
	export W="$BATS_FILE_TMPDIR"
	R="$W/root"
	export R
	cache="$TOP/${BUILD:-build}/deb-test"
	mkdir -p "$cache" "$R"
	if [ ! -s "$cache/bookworm-minbase.tar" ]; then
		uri=$(. "$TOP/docker/apt-archive.sh" && apt_archive_uri)
		debootstrap --variant=minbase bookworm "$cache/rootfs" "$uri" \
		    > "$cache/debootstrap.log" 2>&1 ||
		    { tail -n 20 "$cache/debootstrap.log" >&3; return 1; }
		tar -C "$cache/rootfs" -cf "$cache/bookworm-minbase.tar.tmp" .
		mv "$cache/bookworm-minbase.tar.tmp" "$cache/bookworm-minbase.tar"
		rm -rf "$cache/rootfs"
	fi
	tar -C "$R" -xf "$cache/bookworm-minbase.tar"
	# apt as this machine has it: its sources and its settings
	rm -f "$R/etc/apt/sources.list"
	for d in sources.list.d apt.conf.d trusted.gpg.d; do
		[ -d "/etc/apt/$d" ] && cp -a "/etc/apt/$d/." "$R/etc/apt/$d/"
	done
	[ ! -f /etc/apt/sources.list ] || cp /etc/apt/sources.list "$R/etc/apt/"
	cp -L /etc/resolv.conf "$R/etc/resolv.conf"
	mount -t proc proc "$R/proc"
	deb=$(sh "$TOP/docker/debian/build-deb.sh" "${BUILD:-build}")
	cp "$deb" "$R/tmp/"
	echo "${deb##*/}" > "$W/deb-name"
}

teardown_file() {
	[ "${SCHEDFEED_DEB_TEST:-}" = 1 ] || return 0
	export W="$BATS_FILE_TMPDIR"
	tdsd_stop_all
	umount "$W/root/proc" 2>/dev/null || true
}

setup() {
	[ "${SCHEDFEED_DEB_TEST:-}" = 1 ] ||
	    skip "downloads Debian 12 (minutes): make deb-test, or SCHEDFEED_DEB_TEST=1"
	export W="$BATS_FILE_TMPDIR"
	R="$W/root"
}

# in_root CMD...: CMD in the root as root, with a plain environment
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 TZ=UTC "$@"
}

# as_schedfeed CMD...: CMD in the root as the package's user
as_schedfeed() {
	chroot --userspec=schedfeed:schedfeed "$R" /usr/bin/env -i \
	    PATH=/usr/bin:/bin HOME=/var/lib/schedfeed LC_ALL=C.UTF-8 TZ=UTC "$@"
}

@test "deb-install: apt-get install ./schedfeed_*.deb in a fresh Debian 12 root pulls its Depends" {
	run in_root apt-get update -q
	[ "$status" -eq 0 ] || { echo "$output" | tail -n 20; false; }
	run in_root sh -c "cd /tmp && apt-get install -y -q --no-install-recommends ./$(cat "$W/deb-name")"
	echo "$output" | tail -n 20
	[ "$status" -eq 0 ]
	run in_root dpkg-query -W -f '${Status}' schedfeed libsybdb5 libssh2-1 libcurl4 libcsv3 adduser
	[ "$output" = "install ok installedinstall ok installedinstall ok installedinstall ok installedinstall ok installedinstall ok installed" ]
	# every program finds its libraries
	for p in "$R"/usr/bin/{archive-mv,bat-run,box-get,box-upload,csv-shape,feed-status,phi-redact,sched-query,sftp-get,sftp-put,smtp-send}; do
		run in_root ldd "/usr/bin/${p##*/}"
		[[ "$output" != *"not found"* ]] || { echo "$output"; false; }
	done
}

@test "deb-install: the maintainer scripts made the schedfeed user and a private /var/lib/schedfeed" {
	run in_root getent passwd schedfeed
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | cut -d: -f6,7)" = "/var/lib/schedfeed:/usr/sbin/nologin" ]
	[ "$(echo "$output" | cut -d: -f3)" -lt 1000 ]
	[ "$(in_root stat -c '%U:%G %a' /var/lib/schedfeed)" = "schedfeed:schedfeed 700" ]
	[ "$(in_root stat -c '%U %a' /etc/schedfeed/credentials)" = "root 700" ]
	for j in bz_inbound bz_outbound eod_data iq_daily printer_pdfs; do
		[ -x "$R/usr/lib/schedfeed/pipelines/$j.sh" ]
		[ -f "$R/lib/systemd/system/schedfeed-$j.service" ]
		[ -f "$R/lib/systemd/system/schedfeed-$j.timer" ]
		[ -f "$R/usr/share/doc/schedfeed/examples/$j.env.example" ]
		grep -q "^ExecStart=.*\\\\$" "$R/lib/systemd/system/schedfeed-$j.service"
		grep -q "/usr/lib/schedfeed/pipelines/$j.sh$" "$R/lib/systemd/system/schedfeed-$j.service"
	done
	[ -f "$R/usr/share/man/man1/feed-status.1.gz" ]
}

@test "deb-install: the iQueue job and feed-status run there as schedfeed on the demo database" {
	tdsd_demo_db "$W/demo.sqlite"
	tdsd_start "$W/demo.sqlite"
	in_root sh -c 'umask 077; printf "schedfeed\n" > /var/lib/schedfeed/db-password; mkdir -p /var/lib/schedfeed/out /var/lib/schedfeed/metrics; chown -R schedfeed:schedfeed /var/lib/schedfeed'
	run as_schedfeed feed-status
	[ "$status" -eq 0 ]
	[ "$output" = "job,date,start,end,outcome,failed_step,status,sent,correction,resent,already_delivered,steps_done,last_success" ]
	run as_schedfeed SCHEDFEED_DB_SERVER=127.0.0.1 SCHEDFEED_DB_PORT="$SCHEDFEED_DB_PORT" \
	    SCHEDFEED_DB_USER=schedfeed SCHEDFEED_DB_PASSWORD_FILE=/var/lib/schedfeed/db-password \
	    SCHEDFEED_METRICS_DIR=/var/lib/schedfeed/metrics \
	    IQ_DEST=/var/lib/schedfeed/out /usr/lib/schedfeed/pipelines/iq_daily.sh 2026-11-23
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$TOP/tests/fixtures/iq_daily/unmcc_2026_11_23.csv" "$R/var/lib/schedfeed/out/unmcc_2026_11_23.csv"
	[ "$(in_root stat -c '%U %a' /var/lib/schedfeed/iq_daily)" = "schedfeed 700" ]
	run as_schedfeed feed-status
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" =~ ^iq_daily,2026-11-23,[^,]+,[^,]+,ok,,,1,0,0,0,0,[^,]+$ ]]
	run as_schedfeed feed-status --late iq_daily=00:00
	[ "$status" -eq 0 ]
	grep -qx 'schedfeed_last_run_exit_status{feed="iq_daily"} 0' "$R/var/lib/schedfeed/metrics/schedfeed_iq_daily.prom"
	if command -v promtool >/dev/null; then
		promtool check metrics < "$R/var/lib/schedfeed/metrics/schedfeed_iq_daily.prom"
	fi
}

@test "deb-install: reinstalling keeps the user and the state; removing keeps the state" {
	uid=$(in_root id -u schedfeed)
	run in_root sh -c "cd /tmp && apt-get install -y -q --reinstall ./$(cat "$W/deb-name")"
	[ "$status" -eq 0 ]
	[ "$(in_root id -u schedfeed)" = "$uid" ]
	[ "$(in_root stat -c '%U:%G %a' /var/lib/schedfeed)" = "schedfeed:schedfeed 700" ]
	run in_root apt-get remove -y -q schedfeed
	[ "$status" -eq 0 ]
	[ ! -e "$R/usr/bin/feed-status" ]
	[ ! -e "$R/lib/systemd/system/schedfeed-iq_daily.timer" ]
	[ -d "$R/var/lib/schedfeed/iq_daily" ]
}
