#!/usr/bin/env bats
# make demo-all (tests/fixtures/demo-all.sh): every job once against every
# partner on loopback; what each partner received and the ledgers, and
# nothing left running or on disk afterwards.

load ../common

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] ||
	    skip "mariadbd is not installed (Debian package mariadb-server)"
	[ -x /usr/sbin/sshd ] || skip "sshd is not installed"
}

# demo_processes: servers whose command line names a demo directory of
# this test
demo_processes() {
	pgrep -af "$W/schedfeed-demo-all" || true
}

@test "demo-all: every job runs once; each partner's files, mails and Box folders, and the ledgers are shown" {
	TMPDIR=$W BUILD=$(basename "$(dirname "$(dirname "$(command -v sched-query)")")") \
	    run --separate-stderr timeout 300 bash "$TOP/tests/fixtures/demo-all.sh"
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	for job in 'iq_daily 2026-11-23' 'eod_data 2026-11-24' 'printer_pdfs 2026-11-24' \
	    'bz_outbound 2026-11-23T09' 'bz_inbound 2026-11-24'; do
		grep -qx "  $job done" <<< "$output"
	done
	# the SFTP server: the iQueue feed, the printer's files, its PDFs
	grep -q '^  iqueue/unmcc_2026_11_23.csv  [0-9]* bytes$' <<< "$output"
	grep -q '^  dropbox/2026-11-24/patients_form_print.csv  [0-9]* bytes$' <<< "$output"
	grep -q '^  dropbox/2026-11-24/patient_appointments.csv  [0-9]* bytes$' <<< "$output"
	# mail: the master file to the health department, two to the city
	grep -qx '    subject: Patient Files for Covid19 - Demo Drive-Through - 2026-11-24' <<< "$output"
	grep -q '^    attached: patient_appointments_master.csv ([0-9]* bytes)$' <<< "$output"
	grep -qx '    subject: Business requisition file waiting: business_requisition_2026-11-23_0900.csv' <<< "$output"
	grep -qx '    subject: Business requisition file processed: business_requisition_2026-11-23_0900.csv' <<< "$output"
	[ "$(grep -c '^    tls: True$' <<< "$output")" -eq 3 ]
	# Box: the daily folder with the PDFs, ToCity, Transportation; the
	# city's file gone from FromCity once processed
	for f in MTP/Daily/11-24-2026/patient_1.pdf MTP/Daily/11-24-2026/patient_appointments_master.csv \
	    MTP/ToCity/business_requisition_2026-11-23_0900.csv \
	    MTP/Transportation/patients_form_print_2026-11-24.csv; do
		grep -qx "  $f  v1" <<< "$output"
	done
	! grep -q 'MTP/FromCity/' <<< "$output"
	# the city's decisions are in the platform's database
	grep -qx '  701|BZ1001|active|20' <<< "$output"
	grep -qx '  702|BZ1002|deleted|0' <<< "$output"
	# a ledger per job, every delivery sent once
	[ "$(grep -c '^== ledger of ' <<< "$output")" -eq 5 ]
	[ "$(grep -cE '^  2[0-9-]*T[0-9:+-]*  .*  sent$' <<< "$output")" -eq 13 ]
	# no patient in what the demo says about the jobs, nothing left behind
	! sed -n '/^== pipelines/,/^== the SFTP/p' <<< "$output" | grep -qE 'Roe|Doe|Núñez'
	[ -z "$(demo_processes)" ]
	[ -z "$(find "$W" -maxdepth 1 -name 'schedfeed-demo-all.*')" ]
}
