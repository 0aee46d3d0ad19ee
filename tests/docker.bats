#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# The Docker image: built from docker/Dockerfile on locally made Debian base
# images (docker/engine.sh), then run as a user would run it. Skipped, with
# the reason, where no Docker engine runs; CI starts one.

load common
load tdsd
load sftp

IMAGE=schedfeed:test

setup_file() {
	if [ -n "${SCHEDFEED_SKIP_DOCKER:-}" ]; then
		export DOCKER_SKIP="SCHEDFEED_SKIP_DOCKER: $SCHEDFEED_SKIP_DOCKER"
		return 0
	fi
	if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
		export DOCKER_SKIP="no Docker engine runs here (CI starts one with docker/engine.sh)"
		return 0
	fi
	if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
		export DOCKER_SKIP="no debian:bookworm-slim base image (docker/base-images.sh makes it)"
		return 0
	fi
	docker build --network host -q -f "$TOP/docker/Dockerfile" -t "$IMAGE" "$TOP" >"$BATS_FILE_TMPDIR/build.log" 2>&1 ||
		{ tail -n 30 "$BATS_FILE_TMPDIR/build.log" >&2; return 1; }
}

setup() {
	[ -z "${DOCKER_SKIP:-}" ] || skip "$DOCKER_SKIP"
	common_setup
}

@test "docker: the image is under 150 MB, runs as a non-root user, has no compiler" {
	size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
	echo "image size: $size bytes" >&3
	[ "$size" -lt $((150 * 1000 * 1000)) ]
	run docker run --rm "$IMAGE" id -u
	[ "$status" -eq 0 ]
	[ "$output" = 10001 ]
	run docker run --rm "$IMAGE" sh -c 'command -v cc || command -v gcc || command -v make || echo none'
	[ "$output" = none ]
}

@test "docker: every program is on PATH and man pages work" {
	for p in sched-query csv-shape phi-redact sftp-put sftp-get smtp-send archive-mv; do
		run docker run --rm "$IMAGE" "$p" --no-such-option
		[ "$status" -eq 64 ]
		[[ "$output" == *usage* ]]
	done
	run docker run --rm "$IMAGE" man csv-shape
	[ "$status" -eq 0 ]
	[[ "$output" == *"CSV-SHAPE(1)"* ]]
	run docker run --rm "$IMAGE" man 7 schedfeed
	[[ "$output" == *"EXIT STATUS"* ]]
}

@test "docker: help lists the jobs and modes" {
	run docker run --rm "$IMAGE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"iq_daily"* ]]
	[[ "$output" == *"cron"* ]]
	[[ "$output" == *"demo"* ]]
}

@test "docker: demo runs end to end inside a read-only container and writes the expected feed" {
	mkdir -p "$W/out"
	chmod 0777 "$W/out"
	run docker run --rm --network host --read-only --tmpfs /tmp \
		-v "$W/out:/out" -e DEMO_OUT=/out "$IMAGE" demo
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"/out/unmcc_2026_11_23.csv"* ]]
	cmp "$W/out/unmcc_2026_11_23.csv" "$TOP/tests/fixtures/iq_daily/unmcc_2026_11_23.csv"
	[ "$(file_mode "$W/out/unmcc_2026_11_23.csv")" = 600 ]
	# nothing but the feed in the output directory
	[ "$(ls -A "$W/out")" = unmcc_2026_11_23.csv ]
}

@test "docker: iq_daily in the container against tdsd and sshd on the host's loopback" {
	sshd_start
	sqlite3 -bail "$W/demo.sqlite" < "$TOP/tests/fixtures/demo-db.sql"
	tdsd_start "$W/demo.sqlite"
	# secrets as files, as Docker or Kubernetes mount them
	mkdir -p "$W/secrets" "$W/state"
	printf '%s\n' "$SCHEDFEED_DB_PASSWORD" >"$W/secrets/db-password"
	cp "$SFTP_KEY" "$W/secrets/sftp-key"
	cp "$KNOWN_HOSTS" "$W/secrets/known_hosts"
	chmod 0644 "$W/secrets"/*
	chmod 0777 "$W/state"
	run docker run --rm --network host --read-only --tmpfs /tmp \
		-v "$W/secrets:/run/secrets:ro" -v "$W/state:/var/lib/schedfeed" \
		-e SCHEDFEED_DB_SERVER=127.0.0.1 -e SCHEDFEED_DB_PORT="$SCHEDFEED_DB_PORT" \
		-e SCHEDFEED_DB_DATABASE=demo -e SCHEDFEED_DB_USER=schedfeed \
		-e SCHEDFEED_DB_PASSWORD_FILE=/run/secrets/db-password \
		-e IQ_DEST="$URL$REMOTE" -e SFTP_KEY=/run/secrets/sftp-key \
		-e SFTP_KNOWN_HOSTS=/run/secrets/known_hosts \
		"$IMAGE" iq_daily 2026-11-23
	echo "$output"
	tdsd_stop_all
	sshd_stop
	[ "$status" -eq 0 ]
	[[ "$output" == *"iq_daily 2026-11-23 deliver ok (sent)"* ]]
	cmp "$REMOTE/unmcc_2026_11_23.csv" "$TOP/tests/fixtures/iq_daily/unmcc_2026_11_23.csv"
	# state on the volume: the ledger line and the archived copy
	grep -q "unmcc_2026_11_23.csv" "$W/state/iq_daily/ledger"
	cmp "$W/state/iq_daily/archive/2026/11/23/unmcc_2026_11_23.csv" \
		"$TOP/tests/fixtures/iq_daily/unmcc_2026_11_23.csv"
	# the secrets never reach the log
	[[ "$output" != *"$SCHEDFEED_DB_PASSWORD"* ]]
}

@test "docker: cron mode reads the schedule in TZ and logs to stdout" {
	run timeout 8 docker run --rm -e TZ=America/Denver "$IMAGE" cron
	[[ "$output" == *"cron: schedule from /etc/schedfeed/crontab, TZ=America/Denver"* ]]
	run docker run --rm "$IMAGE" sh /usr/local/lib/schedfeed/cron.sh --at "2026-11-23 04:30"
	[ "$output" = "$(printf 'iq_daily\nbz_inbound')" ]
}

@test "docker: an unknown job or program is reported" {
	run -127 docker run --rm "$IMAGE" no-such-job
	[[ "$output" == *"no-such-job"* ]]
}
