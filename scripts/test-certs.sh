#!/usr/bin/env bash
# Makes the certificates the TLS tests and benchmark use, with the openssl command line, into a
# directory (created if missing). Every key is ECDSA P-256 unless KEY_TYPE=rsa (RSA 2048).
#
#   ca.pem / ca.key             a test root CA
#   server.pem / server.key     localhost, 127.0.0.1 and ::1, issued by the CA (serverAuth)
#   alt.pem / alt.key           alt.test, issued by the CA (for SNI: a second name, another cert)
#   expired.pem / expired.key   localhost and 127.0.0.1, valid only in 2020
#   wronghost.pem / wronghost.key   wrong.example only
#   client.pem / client.key     a client certificate (clientAuth), CN=asyncoro test client
#   other-ca.pem                another root CA, which issued
#   stranger.pem / stranger.key a client certificate the test CA does not know
#   self.pem / self.key         a self-signed certificate for localhost
#   peer.pem / peer.key         a peer node's certificate (serverAuth and clientAuth: a peer both
#                               accepts and dials), localhost, 127.0.0.1 and ::1, issued by the CA
#   intruder.pem / intruder.key the same kind of peer certificate, issued by the other CA
#
# Usage: scripts/test-certs.sh <dir>
set -euo pipefail
dir=${1:?usage: test-certs.sh <dir>}
mkdir -p "$dir"
cd "$dir"

newkey() {
  if [ "${KEY_TYPE:-ec}" = rsa ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
  fi
}

# A root CA: key $1.key, certificate $1.pem, subject CN $2.
root() {
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.pem"
}

# `openssl ca` can set any validity period (the expired certificate), so every leaf goes
# through it with this minimal configuration; $ca selects the issuer.
cat >ca.cnf <<'EOF'
[ca]
default_ca = test
[test]
dir = .
database = $dir/index-$ENV::ca.txt
new_certs_dir = $dir/issued
serial = $dir/serial-$ENV::ca
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
EOF
mkdir -p issued

# A leaf: key $1.key, certificate $1.pem, CN $2, issued by $3 with extensions $4 (config lines
# separated by |), valid from $5 to $6 (YYYYMMDDHHMMSSZ, or "" for now and 825 days).
leaf() {
  local name=$1 cn=$2 issuer=$3 ext=$4 start=${5:-} end=${6:-}
  newkey "$name.key"
  local args=()
  IFS='|' read -r -a lines <<<"$ext"
  for l in "${lines[@]}"; do args+=(-addext "$l"); done
  openssl req -new -key "$name.key" -subj "/CN=$cn" "${args[@]}" -out "$name.csr"
  [ -f "index-$issuer.txt" ] || : >"index-$issuer.txt"
  [ -f "serial-$issuer" ] || openssl rand -hex 8 >"serial-$issuer"
  local when=(-days 825)
  if [ -n "$start" ]; then when=(-startdate "$start" -enddate "$end"); fi
  ca=$issuer openssl ca -batch -config ca.cnf -cert "$issuer.pem" -keyfile "$issuer.key" \
    "${when[@]}" -notext -in "$name.csr" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr"
}

root ca "asyncoro test CA"
root other-ca "asyncoro other CA"
server_ext="basicConstraints=critical,CA:FALSE|extendedKeyUsage=serverAuth"
leaf server localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1|$server_ext"
leaf alt alt.test ca "subjectAltName=DNS:alt.test|$server_ext"
leaf expired localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1|$server_ext" 20200101000000Z 20201231000000Z
leaf wronghost wrong.example ca "subjectAltName=DNS:wrong.example|$server_ext"
leaf client "asyncoro test client" ca "basicConstraints=critical,CA:FALSE|extendedKeyUsage=clientAuth"
leaf stranger "asyncoro stranger" other-ca "basicConstraints=critical,CA:FALSE|extendedKeyUsage=clientAuth"
peer_ext="basicConstraints=critical,CA:FALSE|extendedKeyUsage=serverAuth,clientAuth"
leaf peer "asyncoro peer" ca "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1|$peer_ext"
leaf intruder "asyncoro intruder" other-ca "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1|$peer_ext"
newkey self.key
openssl req -x509 -new -key self.key -sha256 -days 825 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -out self.pem
rm -rf issued ca.cnf index-* serial-*
