# The Box API emulator (tests/box-emulator) for the box-upload and box-get
# suites. Load after common and tls:   load common; load tls; load box
#
# box_suite: for a program's suite, at the top of the file: defines the
#   hooks setup_file (box_setup_file), setup (common_setup, box_start)
#   and teardown (box_stop). A suite that needs more redefines one.
# box_setup_file (setup_file): a test CA, and a Box app: an RSA key pair,
#   its private key as encrypted PKCS#8, a box_config.json like the one
#   Box's developer console writes. Under $BATS_FILE_TMPDIR/box.
# box_start [EMULATOR OPTION ...] (setup): the emulator on a free port
#   with a fresh, empty Box. Exports BOX_CONFIG_FILE, BOX_API_URL,
#   BOX_UPLOAD_URL, BOX_CA_FILE (so the programs and box_ctl reach it).
# box_stop (teardown): stops it.
# box_ctl CMD ...: asks the emulator (see tests/box-emulator): files,
#   folders, log, tokens, sessions, state, fault JSON, expire-tokens,
#   put PATH FILE, tamper ID, content ID.
# box_config_with KEY=VALUE ... : writes $W/box_config.json, the app's
#   configuration with those fields changed (clientSecret, publicKeyID,
#   privateKey as a file name, passphrase, enterpriseID).

BOX_APP_PASSPHRASE='staple 4 horse correct'
BOX_CLIENT_ID=sfclient0123456789abcdefghijklmn
BOX_CLIENT_SECRET=sfsecret0123456789abcdefghijklm
BOX_KEY_ID=kid4711
BOX_ENTERPRISE_ID=1234567

box_setup_file() {
	BOX_FIXED=$BATS_FILE_TMPDIR/box
	mkdir -p "$BOX_FIXED"
	make_test_ca "$BOX_FIXED/ca"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$BOX_FIXED/app.key" 2>/dev/null
	openssl pkcs8 -topk8 -v2 aes-256-cbc -passout "pass:$BOX_APP_PASSPHRASE" \
		-in "$BOX_FIXED/app.key" -out "$BOX_FIXED/app.p8"
	openssl pkey -in "$BOX_FIXED/app.key" -pubout -out "$BOX_FIXED/app.pub"
	# An unrelated key, for "the wrong key" tests.
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		2>/dev/null | openssl pkcs8 -topk8 -v2 aes-256-cbc \
		-passout "pass:$BOX_APP_PASSPHRASE" -out "$BOX_FIXED/other.p8"
	export BOX_FIXED
}

# box_config_with [KEY=VALUE ...] >FILE
box_config_json() {
	"$PY" - "$@" <<'PYEOF'
import json, os, sys
f = os.environ["BOX_FIXED"]
c = {"boxAppSettings": {
        "clientID": os.environ["BOX_CLIENT_ID"],
        "clientSecret": os.environ["BOX_CLIENT_SECRET"],
        "appAuth": {"publicKeyID": os.environ["BOX_KEY_ID"],
                    "privateKey": open(f + "/app.p8").read(),
                    "passphrase": os.environ["BOX_APP_PASSPHRASE"]}},
     "enterpriseID": os.environ["BOX_ENTERPRISE_ID"]}
for arg in sys.argv[1:]:
    k, v = arg.split("=", 1)
    if k == "clientSecret":
        c["boxAppSettings"]["clientSecret"] = v
    elif k == "privateKey":
        c["boxAppSettings"]["appAuth"]["privateKey"] = open(v).read()
    elif k == "drop":
        d = c
        *path, last = v.split(".")
        for p in path:
            d = d[p]
        del d[last]
    elif k == "enterpriseID":
        c["enterpriseID"] = v
    else:
        c["boxAppSettings"]["appAuth"][k] = v
json.dump(c, sys.stdout, indent=2)
PYEOF
}

box_suite() {
	setup_file() {
		box_setup_file
	}
	setup() {
		common_setup
		box_start
	}
	teardown() {
		box_stop
	}
}

box_config_with() {
	box_config_json "$@" >"$W/box_config.json"
	chmod 600 "$W/box_config.json"
	export BOX_CONFIG_FILE=$W/box_config.json
}

box_start() {
	export BOX_CLIENT_ID BOX_CLIENT_SECRET BOX_KEY_ID BOX_ENTERPRISE_ID \
		BOX_APP_PASSPHRASE
	BOX_DIR=$BATS_TEST_TMPDIR/box
	mkdir -p "$BOX_DIR"
	rm -f "$BOX_DIR/port"
	"$PY" "$TOP/tests/box-emulator" serve \
		--cert "$BOX_FIXED/ca/server.pem" --key "$BOX_FIXED/ca/server.key" \
		--public-key "$BOX_FIXED/app.pub" --key-id "$BOX_KEY_ID" \
		--client-id "$BOX_CLIENT_ID" --client-secret "$BOX_CLIENT_SECRET" \
		--enterprise-id "$BOX_ENTERPRISE_ID" \
		--ready-file "$BOX_DIR/port" "$@" \
		>"$BOX_DIR/emulator.log" 2>&1 3>&- &
	BOX_PID=$!
	local i
	for i in $(seq 100); do
		[ -s "$BOX_DIR/port" ] && break
		kill -0 "$BOX_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$BOX_DIR/port" ] || {
		cat "$BOX_DIR/emulator.log" >&2
		return 1
	}
	BOX_PORT=$(cat "$BOX_DIR/port")
	export BOX_PID BOX_PORT BOX_DIR
	export BOX_API_URL=https://127.0.0.1:$BOX_PORT
	export BOX_UPLOAD_URL=https://127.0.0.1:$BOX_PORT
	export BOX_CA_FILE=$BOX_FIXED/ca/ca.pem
	box_config_with
}

box_stop() {
	[ -n "${BOX_PID:-}" ] || return 0
	kill "$BOX_PID" 2>/dev/null || true
	wait "$BOX_PID" 2>/dev/null || true
	BOX_PID=
}

box_ctl() {
	"$PY" "$TOP/tests/box-emulator" ctl "$@"
}

# box_put PATH CONTENT: a file on Box (folders made as needed); prints its id
box_put() {
	printf '%s' "$2" >"$BATS_TEST_TMPDIR/box-put"
	box_ctl put "$1" "$BATS_TEST_TMPDIR/box-put"
}

# sha1_of FILE, sha256_of FILE
sha1_of() {
	sha1sum <"$1" | cut -d' ' -f1
}

sha256_of() {
	sha256sum <"$1" | cut -d' ' -f1
}
