#!/usr/bin/env bats
# make deb: the Debian package's contents, its Depends from
# dpkg-shlibdeps, its maintainer scripts, and lintian with no error.
# (Installing it into a fresh Debian 12 root: tests/deb-install.bats.)

load common

setup_file() {
	export W="$BATS_FILE_TMPDIR"
	make -C "$TOP" -s --no-print-directory deb BUILD="${BUILD:-build}" > "$W/deb.out"
	export DEB=$(tail -n 1 "$W/deb.out")
}

setup() {
	common_setup
	command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed"
}

@test "deb: make deb builds schedfeed_VERSION_ARCH.deb, the version from docker/debian/changelog" {
	version=$(dpkg-parsechangelog -l "$TOP/docker/debian/changelog" -S Version)
	[ "$DEB" = "$TOP/${BUILD:-build}/schedfeed_${version}_$(dpkg --print-architecture).deb" ]
	[ -f "$DEB" ]
	[ "$(dpkg-deb -f "$DEB" Package)" = schedfeed ]
	[ "$(dpkg-deb -f "$DEB" Version)" = "$version" ]
}

@test "deb: Depends names the library packages the programs link, and adduser" {
	depends=$(dpkg-deb -f "$DEB" Depends)
	echo "$depends"
	for p in libc6 libcsv3 libsybdb5 libssh2-1 libcurl4 libssl3 libjansson4 adduser; do
		[[ ", $depends," == *", $p "* || ", $depends," == *", $p,"* ]] || { echo "no $p"; false; }
	done
	# computed, not written down: the package that holds each library
	lib=$(ldd "$TOP/${BUILD:-build}/bin/sched-query" | awk '/libsybdb/ { print $3 }')
	[[ "$(dpkg -S "$(readlink -f "$lib")")" == libsybdb5:* ]]
}

@test "deb: programs, pages, jobs, units and examples where Debian has them, owned by root" {
	dpkg-deb -c "$DEB" > "$W/list"
	for p in archive-mv bat-run box-get box-upload csv-shape feed-status phi-redact sched-query sftp-get sftp-put smtp-send; do
		grep -q " ./usr/bin/$p$" "$W/list"
		grep -q " ./usr/share/man/man1/$p.1.gz$" "$W/list"
	done
	grep -q ' ./usr/share/man/man7/schedfeed.7.gz$' "$W/list"
	for j in bz_inbound bz_outbound eod_data iq_daily printer_pdfs; do
		grep -q "^-rwxr-xr-x root/root .* ./usr/lib/schedfeed/pipelines/$j.sh$" "$W/list"
		grep -q " ./lib/systemd/system/schedfeed-$j.service$" "$W/list"
		grep -q " ./lib/systemd/system/schedfeed-$j.timer$" "$W/list"
		grep -q " ./usr/share/doc/schedfeed/examples/$j.env.example$" "$W/list"
	done
	grep -q ' ./usr/lib/schedfeed/pipelines/lib/metrics.sh$' "$W/list"
	! grep -v ' root/root ' "$W/list"
	# no test peer, no state, no settings shipped
	! grep -q 'tdsd\|/var/lib\|\./etc/' "$W/list"
}

@test "deb: the maintainer scripts make the user and the private state directory" {
	dpkg-deb -e "$DEB" "$W/control"
	[ -x "$W/control/postinst" ]
	grep -q 'adduser --quiet --system --group' "$W/control/postinst"
	grep -q 'install -d -o schedfeed -g schedfeed -m 0700 /var/lib/schedfeed' "$W/control/postinst"
	sh -n "$W/control/postinst"
	sh -n "$W/control/postrm"
}

@test "deb: lintian reports no error" {
	command -v lintian >/dev/null || skip "lintian is not installed"
	run lintian --fail-on error "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"E: "* ]]
}
