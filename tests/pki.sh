#!/bin/sh
# pki.sh DIR: a test PKI for shanhaid, made with the openssl CLI.
#   ca.crt/ca.key            the CA of the server and of every good client
#   server.crt/server.key    for 127.0.0.1, ::1 and localhost
#   <name>.crt/<name>.key    clients: one bureau per side code of rules/*.conf,
#                            an auditor, an operator, `stranger` (good CA, in
#                            no config), `expired` (good CA, expired 2020),
#                            `other` (a client of another CA, other-ca.crt)
# Prints "name fingerprint" for each client (also in DIR/fingerprints), the
# fingerprint being the SHA-256 of the DER certificate, in lowercase hex.
set -eu
dir=${1:?usage: pki.sh DIR}
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca NAME CN
ca() {
	key "$1.key"
	openssl req -new -x509 -key "$1.key" -out "$1.crt" -days 3650 \
	    -subj "/O=shanhai test/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf NAME CA EXT SUBJECT-CN
leaf() {
	key "$1.key"
	openssl req -new -key "$1.key" -subj "/O=shanhai test/CN=$4" -out "$1.csr" 2>/dev/null
	printf '%s\n' "$3" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial \
	    -days 825 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

ca ca "shanhai test CA"
ca other-ca "another CA"
leaf server ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" localhost

# Bureaus of the sample agreements' sides, named after their places.
for b in kecheng:330802 yuhang:330110 longquan:331181 xiaoshan:330109 \
    qujiang:330803 yinzhou:330212 kaihua:330824 tongxiang:330483; do
	leaf "${b%%:*}" ca "$client_ext" "${b%%:*}-finance"
	echo "${b#*:}" > "${b%%:*}.code"
done
leaf auditor ca "$client_ext" audit.zj.example
leaf operator ca "$client_ext" ops.shanhai.example
leaf stranger ca "$client_ext" stranger.example
leaf other other-ca "$client_ext" other.example

# expired: the good CA, valid only in January 2020 (openssl ca sets dates).
key expired.key
openssl req -new -key expired.key -subj "/O=shanhai test/CN=expired.example" \
    -out expired.csr 2>/dev/null
mkdir -p ca.db
: > ca.db/index.txt
cat > ca.db/ca.cnf <<CNF
[ ca ]
default_ca = test
[ test ]
database = ca.db/index.txt
new_certs_dir = ca.db
serial = ca.db/serial
default_md = sha256
policy = any
x509_extensions = ext
[ any ]
commonName = supplied
[ ext ]
$client_ext
CNF
echo 1000 > ca.db/serial
openssl ca -batch -config ca.db/ca.cnf -cert ca.crt -keyfile ca.key \
    -startdate 20200101000000Z -enddate 20200131000000Z -notext \
    -in expired.csr -out expired.crt 2>/dev/null
rm -rf expired.csr ca.db

: > fingerprints
for c in kecheng yuhang longquan xiaoshan qujiang yinzhou kaihua tongxiang auditor operator \
    stranger expired other; do
	fp=$(openssl x509 -in "$c.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
	echo "$c $fp" >> fingerprints
done
cat fingerprints
