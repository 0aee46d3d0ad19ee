# make_test_ca DIR: a throw-away CA and a server certificate for 127.0.0.1
# and localhost, plus an unrelated CA (for "wrong CA" tests).
#   DIR/ca.pem DIR/ca.key            the test CA
#   DIR/server.pem DIR/server.key    signed by it (CN/SAN localhost, 127.0.0.1)
#   DIR/other-ca.pem                 a CA that signed nothing we serve
#   DIR/other-server.pem/.key        a server cert signed by the other CA
make_test_ca() {
	local dir=$1
	mkdir -p "$dir"
	_make_ca "$dir" ca
	_make_ca "$dir" other-ca
	_make_server_cert "$dir" ca server
	_make_server_cert "$dir" other-ca other-server
}

_make_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		-subj "/CN=schedfeed test $2" \
		-keyout "$1/$2.key" -out "$1/$2.pem" 2>/dev/null
}

_make_server_cert() {
	local dir=$1 ca=$2 name=$3
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" \
		-CAkey "$dir/$ca.key" -CAcreateserial -days 2 \
		-extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
}

# make_forged_cert DIR (after make_test_ca DIR): DIR/forged-server.pem and
# .key, a server certificate whose issuer carries the test CA's name and
# key identifier but whose signature is another key's: verification fails
# on the signature (OpenSSL's error 7), not on a missing issuer.
make_forged_cert() {
	local dir=$1 ski
	ski=$(openssl x509 -in "$dir/ca.pem" -noout -ext subjectKeyIdentifier |
		tail -n 1 | tr -d ' ')
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		-subj "$(openssl x509 -in "$dir/ca.pem" -noout -subject -nameopt compat | sed 's/^subject=//')" \
		-addext "subjectKeyIdentifier=$ski" \
		-keyout "$dir/forged-ca.key" -out "$dir/forged-ca.pem" 2>/dev/null
	_make_server_cert "$dir" forged-ca forged-server
}
