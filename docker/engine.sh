#!/bin/sh
# Makes a Docker engine available on this machine for CI and the docker
# tests: installs docker.io and debootstrap when missing (as root), starts
# dockerd without a bridge or iptables (there is no network here but the
# package archive), and creates the Debian base images locally.
# Exits 0 with an engine ready, 69 when none can start (the docker tests
# then skip, saying why).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "engine.sh: docker.io and debootstrap are missing; not root" >&2
		exit 69
	fi
	apt-get update -q >/dev/null || exit 69
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		docker.io debootstrap >/dev/null || exit 69
fi
if ! docker info >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || { echo "engine.sh: dockerd needs root" >&2; exit 69; }
	nohup dockerd --bridge=none --iptables=false >/tmp/schedfeed-dockerd.log 2>&1 &
	i=0
	until docker info >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 60 ]; then
			echo "engine.sh: dockerd did not start; see /tmp/schedfeed-dockerd.log" >&2
			tail -n 5 /tmp/schedfeed-dockerd.log >&2 || true
			exit 69
		fi
		sleep 1
	done
fi
sh "$here/base-images.sh"
