# iq_peers: the job's own settings cleared, the torture sshd, and tdsd
# with the demo database as the job's MOSAIQ.
iq_peers() {
	unset IQ_SQL IQ_SHAPE IQ_DEPT IQ_UNIT IQ_FILE_NAME SFTP_PASSWORD \
	    SFTP_PASSWORD_FILE SFTP_KNOWN_HOSTS SCHEDFEED_ALERT_TO
	torture_sshd
	tdsd_demo_db "$W/demo.sqlite"
	tdsd_start "$W/demo.sqlite"
	export SCHEDFEED_DB_DATABASE=demo
}

# iq_suite_setup: setup() of the iq_daily suites (iq_daily.bats,
# state.bats): skips without tdsd or sched-query, then the shim and
# iq_peers.
iq_suite_setup() {
	common_setup
	[ -x "$TDSD" ] || skip "tdsd is not built ($TDSD)"
	command -v sched-query >/dev/null || skip "sched-query is not built"
	torture_shim
	iq_peers
}

# iq_daily for the torture suite's random kills (random.torture), as
# mtp.bash has the MTP jobs: iq_daily_torture starts tdsd and the sshd,
# defines fresh and partners, sets TORTURE_JOB and TORTURE_ARGS.
iq_daily_torture() {
	iq_peers
	IQ_NAME=unmcc_2026_11_23.csv
	fresh() {
		export SCHEDFEED_STATE_DIR=$W/state-$1
		LEDGER_OF=$SCHEDFEED_STATE_DIR/iq_daily/ledger
		DEST=$REMOTE/p$1
		mkdir -p "$DEST"
		chown "$SFTP_USER" "$DEST"
		export IQ_DEST=$URL$DEST
	}
	partners() {
		local n
		[ "$(ls -A "$DEST")" = "$IQ_NAME" ] ||
		    echo " destination holds: $(ls -A "$DEST" | tr '\n' ' ');"
		cmp -s "$TOP/tests/fixtures/iq_daily/$IQ_NAME" "$DEST/$IQ_NAME" ||
		    echo " half or wrong file;"
		n=$(sftp_renames "$DEST" "$IQ_NAME")
		[ "$n" -eq 1 ] || echo " $n renames onto the final name;"
	}
	TORTURE_JOB=$TOP/pipelines/iq_daily.sh
	TORTURE_ARGS=2026-11-23
}
