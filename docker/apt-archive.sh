# docker/apt-archive.sh: sourced by the scripts that debootstrap a
# bookworm root (docker/base-images.sh, docker/debian/deb-test.sh).
#
# apt_archive_uri: prints the Debian archive URI this machine's apt uses
# for bookworm, read from apt's own sources at run time (deb822 or
# one-line format); never hard-coded. False when there is none.
apt_archive_uri() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
			/^[ \t]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri = ""; suites = ""; next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { $1 = ""; suites = $0 " " }
			END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }
		' "$f"
	done | head -n 1 | grep . && return 0
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	    awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' |
	    head -n 1 | grep .
}
