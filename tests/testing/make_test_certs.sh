#!/usr/bin/env bash
# Makes the certificates of the TLS tests, with the openssl command, into DIR:
#
#   ca.crt ca.key                  the test CA
#   server.crt server.key          batond's, signed by ca; SAN 127.0.0.1, ::1, localhost;
#                                  also a client certificate (clientAuth): a cluster
#                                  node presents it to the nodes it forwards calls to
#   client.crt client.key          a client's (mTLS), signed by ca
#   other-ca.crt other-ca.key      a second CA, which batond does not trust
#   other-server.crt other-server.key  signed by other-ca, same SANs (a rotation)
#   other-client.crt other-client.key  signed by other-ca (a client batond refuses)
#
#   bash tests/testing/make_test_certs.sh DIR
#
# EC P-256 keys (made in milliseconds), valid for 2 days; every file is
# readable by all (a container's user reads them in deploy/test.sh).
set -euo pipefail
dir=${1:?usage: make_test_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

ca() {  # ca NAME
  key "$1"
  openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 2 -subj "/CN=baton test $1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
}

leaf() {  # leaf NAME CA USAGE
  key "$1"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=baton test $1" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "extendedKeyUsage=$3"
    if [[ $3 == serverAuth* ]]; then echo "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"; fi
  } >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" \
    -days 2 -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca
ca other-ca
leaf server ca serverAuth,clientAuth
leaf client ca clientAuth
leaf other-server other-ca serverAuth
leaf other-client other-ca clientAuth
rm -f ./*.srl
chmod a+r ./*.crt ./*.key
