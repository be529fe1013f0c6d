#!/usr/bin/env bash
# Makes the certificates the MLLP-over-TLS tests use (tests/fixtures/tls/), valid for 100 years:
# a test CA, a server certificate for localhost / 127.0.0.1 / ::1, a client certificate, and a
# second CA with a client certificate of its own (one the server must refuse).
# Test keys only: they are public, never use them for anything else.
set -euo pipefail
out=${1:-"$(dirname "$0")/../tests/fixtures/tls"}
mkdir -p "$out"
cd "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 36500 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.pem"
}
leaf() { # name subject ca extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
  printf '%s\n' "$4" > "$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
    -days 36500 -sha256 -extfile "$tmp/$1.ext" -out "$1.pem" 2>/dev/null
}
ca ca "hl7 test CA"
ca other-ca "another test CA"
leaf server localhost ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
leaf client "hl7 test client" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
leaf other-client "stranger" other-ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f ./*.srl ca.key other-ca.key
