#!/usr/bin/env bats
# sched-query against Babelfish (a real T-SQL engine) serving TLS with a
# certificate for localhost alone, from a private test CA: the certificate
# and the host name are always checked, whether TLS is asked for with
# --encrypt or in freetds.conf; and datetimeoffset as SQL Server shows it.

bats_require_minimum_version 1.5.0
load common
load tls
load babelfish

setup_file() {
	local tls=$BATS_FILE_TMPDIR/tls
	make_test_ca "$tls"
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$tls/local.key" -out "$tls/local.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/local.ext"
	openssl x509 -req -in "$tls/local.csr" -CA "$tls/ca.pem" \
		-CAkey "$tls/ca.key" -CAcreateserial -days 2 \
		-extfile "$tls/local.ext" -out "$tls/local.pem" 2>/dev/null
	babelfish_start --tls "$tls/local.pem" "$tls/local.key"
}

teardown_file() {
	babelfish_stop
}

setup() {
	common_setup
	babelfish_require
	babelfish_env
	unset SCHEDFEED_DB_ENCRYPT SCHEDFEED_DB_CA_FILE SCHEDFEED_DB_DATABASE \
		SCHEDFEED_DB_PASSWORD_FILE FREETDSCONF FREETDS TDSVER TDSDUMP
	TLS=$BATS_FILE_TMPDIR/tls
	ENCRYPTED="SELECT encrypt_option AS tls FROM sys.dm_exec_connections WHERE session_id = @@SPID"
	REFUSED="failed: TLS was required and could not be negotiated (no TLS on the server, or its certificate not trusted or not for that name)"
}

@test "babelfish TLS: the right CA and the certificate's name, 0 and encrypted" {
	run --separate-stderr sched-query -S localhost --encrypt require \
		--ca-file "$TLS/ca.pem" -e "$ENCRYPTED"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = $'tls\nTRUE' ]
	SCHEDFEED_DB_ENCRYPT=require SCHEDFEED_DB_CA_FILE="$TLS/ca.pem" \
		run --separate-stderr sched-query -S localhost -e "$ENCRYPTED"
	[ "$status" -eq 0 ]
	[ "$output" = $'tls\nTRUE' ]
}

@test "babelfish TLS: a wrong CA is 77, not worth a retry" {
	run --separate-stderr sched-query -S localhost --encrypt require \
		--ca-file "$TLS/other-ca.pem" -e "$ENCRYPTED"
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: login to localhost:$BABELFISH_PORT $REFUSED" ]
}

@test "babelfish TLS: no CA named checks the system store, where a private CA is not: 77" {
	run --separate-stderr sched-query -S localhost --encrypt require -e "$ENCRYPTED"
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: login to localhost:$BABELFISH_PORT $REFUSED" ]
}

@test "babelfish TLS: a certificate for another host name is 77" {
	run --separate-stderr sched-query -S 127.0.0.1 --encrypt require \
		--ca-file "$TLS/ca.pem" -e "$ENCRYPTED"
	[ "$status" -eq 77 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: login to 127.0.0.1:$BABELFISH_PORT $REFUSED" ]
}

@test "babelfish TLS: required in freetds.conf, a wrong CA there is 77 too" {
	printf '[global]\n\tencryption = require\n\tca file = %s\n' "$TLS/other-ca.pem" >"$W/freetds.conf"
	FREETDSCONF="$W/freetds.conf" run --separate-stderr sched-query -S localhost -e "$ENCRYPTED"
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login to localhost:$BABELFISH_PORT $REFUSED" ]
	# the server's own section counts as well as [global]
	printf '[feeddb]\n\thost = localhost\n\tport = %s\n\tencryption = require\n\tca file = %s\n' \
		"$BABELFISH_PORT" "$TLS/other-ca.pem" >"$W/freetds.conf"
	unset SCHEDFEED_DB_PORT
	FREETDSCONF="$W/freetds.conf" run --separate-stderr sched-query -S feeddb -e "$ENCRYPTED"
	[ "$status" -eq 77 ]
	[ "$stderr" = "sched-query: login to feeddb $REFUSED" ]
	printf '[feeddb]\n\thost = localhost\n\tport = %s\n\tencryption = require\n\tca file = %s\n' \
		"$BABELFISH_PORT" "$TLS/ca.pem" >"$W/freetds.conf"
	FREETDSCONF="$W/freetds.conf" run --separate-stderr sched-query -S feeddb -e "$ENCRYPTED"
	[ "$status" -eq 0 ]
	[ "$output" = $'tls\nTRUE' ]
}

@test "babelfish TLS: freetds.conf asking for TLS without a ca file is refused, 78" {
	printf '[global]\n\tencryption = require\n' >"$W/freetds.conf"
	FREETDSCONF="$W/freetds.conf" run --separate-stderr sched-query -S localhost -e "$ENCRYPTED"
	[ "$status" -eq 78 ]
	[ "$output" = "" ]
	[ "$stderr" = "sched-query: freetds.conf asks for encryption = require without a ca file: the certificate would go unchecked; add ca file = system (or a CA file)" ]
	printf '[global]\n\tencryption = request\n' >"$W/freetds.conf"
	FREETDSCONF="$W/freetds.conf" run --separate-stderr sched-query -S localhost -e "$ENCRYPTED"
	[ "$status" -eq 78 ]
}

@test "babelfish: datetimeoffset is the local time and its offset, as SQL Server shows it" {
	run --separate-stderr sched-query -S localhost --encrypt require --ca-file "$TLS/ca.pem" -e "
SELECT CAST('2024-01-01 10:00:00.5 +01:00' AS datetimeoffset) AS a,
       CAST('2024-01-01 00:30:00 +05:30' AS datetimeoffset) AS b,
       CAST('2023-12-31 23:30:00 -08:00' AS datetimeoffset) AS c,
       CAST('2024-02-29 12:00:00 +00:00' AS datetimeoffset) AS d,
       CAST(NULL AS datetimeoffset) AS e"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = 'a,b,c,d,e
2024-01-01 10:00:00.5 +01:00,2024-01-01 00:30:00 +05:30,2023-12-31 23:30:00 -08:00,2024-02-29 12:00:00 +00:00,' ]
}
