# The Mass Testing Platform's jobs for the torture suite: for each JOB,
# JOB_torture (in a test) starts its peers, defines fresh P (point P's own
# state and destinations) and partners POINT (what is wrong at them), and
# sets TORTURE_JOB and TORTURE_ARGS. Shared by mtp.bats (the kill matrix)
# and random.torture (make torture). Load after torture.bash.

# the printer's sshd, logging renames, and the PRINT_SFTP_* settings
printer_up() {
	torture_sshd
	export PRINT_SFTP_HOST=127.0.0.1 PRINT_SFTP_PORT=$SSHD_PORT
	export PRINT_SFTP_USERNAME=$SFTP_USER PRINT_SFTP_IDENTITY=$SFTP_KEY
	export PRINT_SFTP_KNOWN_HOSTS=$KNOWN_HOSTS
}

# fresh_state P JOB: point P's own state and data
fresh_state() {
	export SCHEDFEED_STATE_DIR=$W/state-$1 DATA_DIR=$W/data-$1
	LEDGER_OF=$SCHEDFEED_STATE_DIR/$2/ledger
	MAIL_SINCE=$(mail_total "$MAILER")
}

# mail_once NAME: exactly one Message-ID among the messages since the
# point began (a resend with the same one is the same message)
mail_once() {
	local ids
	ids=$(mail_ids "$1" "$MAIL_SINCE")
	[ -n "$ids" ] || { echo " no mail;"; return; }
	[ "$(printf '%s\n' "$ids" | wc -l)" -eq 1 ] ||
	    echo " $(printf '%s\n' "$ids" | wc -l) Message-IDs (duplicate mail);"
}

# box_once PATH FILE: PATH on Box, one version, FILE's SHA-1
box_once() {
	local v
	v=$(box_versions "$1")
	[ "$v" -eq 1 ] || echo " $1: $v Box versions;"
	[ "$(box_sha1 "$1")" = "$(sha1_of "$2")" ] || echo " $1: not the file's SHA-1;"
}

# sftp_once DIR NAME FILE: DIR holds NAME whole, renamed onto once
sftp_once() {
	local n
	cmp -s "$3" "$1/$2" || echo " $1/$2: half, wrong or missing;"
	n=$(sftp_renames "$1" "$2")
	[ "$n" -eq 1 ] || echo " $1/$2: $n renames onto it;"
}


eod_data_torture() {
	MAILER=health
	export MTP_SITE="Example Drive-Through"
	printer_up
	export SMTPD_USER=feed SMTPD_PASSWORD='hn pass'
	smtpd_start health
	export HEALTH_NETWORK_SMTP_URL=127.0.0.1 HEALTH_NETWORK_SMTP_PORT=$SMTPD_PORT_health
	export HEALTH_NETWORK_USER_NAME=feed HEALTH_NETWORK_USER_PWD=$SMTPD_PASSWORD
	export HEALTH_NETWORK_MAIL_FROM=feed@site.example
	export HEALTH_NETWORK_MAIL_TO=covid@health.example
	export HEALTH_NETWORK_SMTP_CACERT=$CA/ca.pem HEALTH_NETWORK_SMTP_RETRIES=0
	box_start
	mtp_db_start
	fresh() {
		fresh_state "$1" eod_data
		export PRINT_SFTP_DIR=$REMOTE/p$1
		mkdir -p "$PRINT_SFTP_DIR"
		chown "$SFTP_USER" "$PRINT_SFTP_DIR"
		export MTP_BOX_DAILY_PARENT=P$1/Daily MTP_BOX_TRANSPORT_FOLDER=P$1/Transport
	}
	partners() {
		local d=$PRINT_SFTP_DIR/2026-11-24 f
		[ "$(ls -A "$d" 2>/dev/null | tr '\n' ' ')" = "patient_appointments.csv patients_form_print.csv " ] ||
		    echo " printer holds: $(ls -A "$d" 2>/dev/null | tr '\n' ' ');"
		for f in patient_appointments.csv patients_form_print.csv; do
			sftp_once "$d" "$f" "$EXPECTED/$f"
		done
		mail_once health
		for f in patient_appointments.csv patients_form_print.csv patient_appointments_master.csv; do
			box_once "$MTP_BOX_DAILY_PARENT/11-24-2026/$f" "$EXPECTED/$f"
		done
		box_once "$MTP_BOX_TRANSPORT_FOLDER/patients_form_print_2026-11-24.csv" "$EXPECTED/patients_form_print.csv"
	}
	TORTURE_JOB="$TOP/pipelines/eod_data.sh"
	TORTURE_ARGS=2026-11-24
}

printer_pdfs_torture() {
	MAILER=none
	printer_up
	box_start
	fresh() {
		fresh_state "$1" printer_pdfs
		export PRINT_SFTP_PICKBOX=$REMOTE/pick$1
		mkdir -p "$PRINT_SFTP_PICKBOX/2026-11-24"
		printf '%%PDF-1.4 one\n' > "$PRINT_SFTP_PICKBOX/2026-11-24/patient_1.pdf"
		printf '%%PDF-1.4 two\n' > "$PRINT_SFTP_PICKBOX/2026-11-24/patient_2.pdf"
		chown -R "$SFTP_USER" "$PRINT_SFTP_PICKBOX"
		export MTP_BOX_DAILY_PARENT=P$1/Daily
	}
	partners() {
		local f
		for f in patient_1.pdf patient_2.pdf; do
			box_once "$MTP_BOX_DAILY_PARENT/11-24-2026/$f" "$PRINT_SFTP_PICKBOX/2026-11-24/$f"
		done
		[ -z "$(find "$DATA_DIR" -name '.*' -type f)" ] || echo " temporaries left in the data directory;"
	}
	TORTURE_JOB="$TOP/pipelines/printer_pdfs.sh"
	TORTURE_ARGS=2026-11-24
}

bz_outbound_torture() {
	MAILER=city
	mtp_mail_setup city
	export BZ_CITY_MAIL_TO=liaisons@city.example
	box_start
	mtp_db_start
	name=business_requisition_2026-11-23_0900.csv
	fresh() {
		fresh_state "$1" bz_outbound
		export MTP_BOX_TO_CITY_FOLDER=P$1/ToCity
		box_ctl put "P$1/ToCity/README.txt" /dev/null > /dev/null
	}
	partners() {
		local n
		box_once "$MTP_BOX_TO_CITY_FOLDER/$name" "$TOP/tests/fixtures/mtp/$name"
		mail_once city
		n=$(find "$DATA_DIR/business" -type f | wc -l)
		[ "$n" -eq 1 ] || echo " $n files under business/;"
		[ -n "$(find "$DATA_DIR/business/sent" -type f -name "$name")" ] || echo " not filed in sent/;"
	}
	TORTURE_JOB="$TOP/pipelines/bz_outbound.sh"
	TORTURE_ARGS=2026-11-23T09
}

bz_inbound_torture() {
	MAILER=city
	mtp_mail_setup city
	export BZ_CITY_MAIL_TO=liaisons@city.example
	box_start
	mtp_db_start
	fresh() {
		fresh_state "$1" bz_inbound
		export MTP_BOX_FROM_CITY_FOLDER=P$1/FromCity
		box_ctl put "P$1/FromCity/approvals.csv" "$BZ/approvals.csv" > /dev/null
	}
	partners() {
		local n
		mail_once city
		n=$(find "$DATA_DIR/processed" -type f | wc -l)
		[ "$n" -eq 1 ] || echo " $n files filed under processed/;"
		[ "$(box_ctl files | awk -F '\t' -v p="$MTP_BOX_FROM_CITY_FOLDER/approvals.csv" '$1 == p && $6 != "trashed"' | wc -l)" -eq 0 ] ||
		    echo " the Box original is still there;"
		[ -z "$(ls -A "$SCHEDFEED_STATE_DIR/bz_inbound/inbox" 2>/dev/null)" ] ||
		    echo " the inbox holds: $(ls -A "$SCHEDFEED_STATE_DIR/bz_inbound/inbox" | tr '\n' ' ');"
	}
	TORTURE_JOB="$TOP/pipelines/bz_inbound.sh"
	TORTURE_ARGS=2026-11-24
}
