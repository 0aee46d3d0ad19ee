#!/usr/bin/env bats
# docker/k8s/: one CronJob per job on docker/crontab's schedule, Forbid,
# secrets as files, state on the PersistentVolumeClaim; every object
# validated against the Kubernetes API's OpenAPI schema with npm
# kubernetes-models (tests/node/package.json, installed by .ci/deps).

load common

JOBS="bz_inbound bz_outbound eod_data iq_daily printer_pdfs"

setup() {
	common_setup
	[ -d "$TOP/tests/node/node_modules/kubernetes-models" ] ||
	    skip "npm kubernetes-models is not installed (make deps)"
	VALIDATE="$TOP/tests/node/k8s-validate.mjs"
}

@test "k8s: every object of docker/k8s validates against the Kubernetes API schema" {
	run node "$VALIDATE" "$TOP"/docker/k8s/*.yaml
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | cut -f2 | sort | uniq -c | awk '{ print $1, $2 }' | tr '\n' ' ')" = "5 CronJob 1 PersistentVolumeClaim " ]
}

@test "k8s: the validation fails on what the API server would refuse" {
	sed 's/backoffLimit: 0/backoffLimit: none/' "$TOP/docker/k8s/iq_daily.yaml" > "$W/bad1.yaml"
	run node "$VALIDATE" "$W/bad1.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"CronJob schedfeed-iq-daily"*"backoffLimit must be integer"* ]]
	sed 's/concurrencyPolicy: Forbid/concurrencyPolicy: Never/' "$TOP/docker/k8s/iq_daily.yaml" > "$W/bad2.yaml"
	run node "$VALIDATE" "$W/bad2.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"concurrencyPolicy must be equal to one of the allowed values"* ]]
	sed '/- name: iq-daily/d; s/^              image:/            - image:/' "$TOP/docker/k8s/iq_daily.yaml" > "$W/bad3.yaml"
	run node "$VALIDATE" "$W/bad3.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"containers/0 must have required property name"* ]]
	# a password as a value instead of a file
	sed 's/name: SFTP_PASSWORD_FILE/name: SFTP_PASSWORD/' "$TOP/docker/k8s/iq_daily.yaml" > "$W/bad4.yaml"
	run node "$VALIDATE" "$W/bad4.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"SFTP_PASSWORD: a secret as a value"* ]]
}

@test "k8s: one CronJob per job, docker/crontab's schedule, Forbid, state on the claim, secrets as files" {
	node "$VALIDATE" "$TOP"/docker/k8s/*.yaml > "$W/objects"
	for j in $JOBS; do
		row=$(awk -F '\t' -v f="$TOP/docker/k8s/$j.yaml" '$1 == f && $2 == "CronJob"' "$W/objects")
		[ "$(echo "$row" | wc -l)" -eq 1 ] && [ -n "$row" ]
		want=$(awk -v j="$j" '!/^#/ && $6 == j { print $1, $2, $3, $4, $5 }' "$TOP/docker/crontab")
		[ "$(echo "$row" | cut -f4)" = "$want" ] || { echo "$j: $(echo "$row" | cut -f4) is not $want"; false; }
		[ "$(echo "$row" | cut -f6)" = Forbid ]
		[ "$(echo "$row" | cut -f7)" = "[\"$j\"]" ]
		[ "$(echo "$row" | cut -f8)" = schedfeed-state ]
		secrets=$(echo "$row" | cut -f9)
		[[ "$secrets" == /run/secrets/schedfeed:schedfeed-* ]]
		# each password and key file the job reads comes from the mount
		for v in $(sed -n 's/^#\{0,1\}\([A-Z_]*\(PASSWORD\|PWD\|CONFIG\|SECRET_ACCESS_KEY\)_FILE\)=.*/\1/p' "$TOP/pipelines/$j.env.example" | sort -u); do
			[[ " $secrets " == *" $v=/run/secrets/schedfeed/"* ]] || { echo "$j: $v not from the secret"; false; }
		done
	done
	# the claim the jobs mount is the one state.yaml makes
	[ "$(awk -F '\t' '$2 == "PersistentVolumeClaim" { print $3 }' "$W/objects")" = schedfeed-state ]
}
