#!/bin/sh
# Creates the debian:bookworm and debian:bookworm-slim base images locally
# (no image registry needed): debootstrap a minbase bookworm from the same
# Debian archive this machine's apt uses, then docker import it.
# Usage: docker/base-images.sh [WORKDIR]
set -eu

# apt_archive_uri: the archive of this machine's own apt sources
. "$(dirname "$0")/apt-archive.sh"

if docker image inspect debian:bookworm-slim >/dev/null 2>&1 &&
    docker image inspect debian:bookworm >/dev/null 2>&1; then
	echo "base images present"
	exit 0
fi
uri=$(apt_archive_uri) || { echo "no bookworm archive in apt's sources" >&2; exit 78; }
work=${1:-$(mktemp -d)}
mkdir -p "$work"
root="$work/rootfs"
rm -rf "$root"
echo "debootstrap bookworm from $uri"
debootstrap --variant=minbase bookworm "$root" "$uri" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$work/debootstrap.log" >&2; exit 69; }
# Keep images small, as Docker's own -slim images do: no downloaded
# packages, apt lists, documentation or translations, now or later.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
	"$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
	"$root"/usr/share/man/* "$root"/usr/share/info/* \
	"$root"/usr/share/locale/*
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
tar -C "$root" -c . | docker import - debian:bookworm-slim
docker tag debian:bookworm-slim debian:bookworm
rm -rf "$root"
echo "imported debian:bookworm-slim and debian:bookworm"
