#!/usr/bin/env bash
# Certificates, keys, a CRL and a PSK file for the TLS integration tests
# (test/integration/tls_test.c), made with nothing but the openssl CLI
# (OpenSSL 3.0). All keys are EC P-256: generating them takes milliseconds.
#
# Usage: tls_fixture.sh OUTDIR
#
# OUTDIR afterwards holds (PEM unless said otherwise):
#   ca.crt ca.key               the test CA (basicConstraints CA:TRUE)
#   server.crt server.key       CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   server2.crt server2.key     the same name again, newly issued (another
#                               serial and key): what a certificate rotation
#                               replaces server.crt/key with
#   client.crt client.key       subject C=DE, O=Fleet, CN=dev1 (RFC 2253:
#                               CN=dev1,O=Fleet,C=DE), extendedKeyUsage clientAuth
#   expired.crt expired.key     a client certificate (CN=dev-expired) valid
#                               from 2020-01-01 to 2021-01-01 only
#   expired_server.crt/.key     a server certificate as server.crt (CN and SAN
#                               localhost, 127.0.0.1) valid in 2020 only
#   revoked.crt revoked.key     a client certificate (CN=dev-revoked) listed
#                               in crl.pem
#   crl.pem                     the CA's CRL, revoking revoked.crt
#   other_ca.crt other_ca.key   a second, unrelated CA
#   rogue.crt rogue.key         a client certificate (CN=dev1, the same name
#                               as client.crt) issued by other_ca
#   tricky.crt tricky.key       a client certificate whose subject needs RFC 2253
#                               escaping: a comma, '#', quotes, ';', '<>', a
#                               UTF-8 letter, a trailing space and a
#                               multi-valued RDN (OU=ops+OU=lab)
#   int_ca.crt int_ca.key       an intermediate CA under ca (pathlen 0)
#   chain_client.crt/.key       a client certificate (C=DE, O=Fleet, CN=dev2)
#                               from int_ca, followed by int_ca.crt: clients
#                               send the chain, the broker trusts ca.crt only
#   chain_server.crt/.key       CN=localhost (same SAN as server.crt) from
#                               int_ca, followed by int_ca.crt
#   psk.txt                     "identity:hexkey" lines (dev-psk, dev-psk2),
#                               the format of mosquitto's psk_file
#
# Idempotent: when OUTDIR already holds a complete set (the .complete stamp
# written last), nothing is done. Otherwise everything is made afresh in a
# scratch directory and moved into OUTDIR at the end, so a failed run never
# leaves a half-made set behind. Quiet on success; on failure it prints the
# failing openssl command and its output to stderr and exits non-zero.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
files=(ca.crt ca.key server.crt server.key server2.crt server2.key client.crt client.key
       expired.crt expired.key expired_server.crt expired_server.key revoked.crt revoked.key crl.pem other_ca.crt other_ca.key
       rogue.crt rogue.key tricky.crt tricky.key int_ca.crt int_ca.key chain_client.crt
       chain_client.key chain_server.crt chain_server.key psk.txt)

complete() {
	[ -f "$out/.complete" ] || return 1
	local f
	for f in "${files[@]}"; do
		[ -s "$out/$f" ] || return 1
	done
}
if complete; then
	exit 0
fi

command -v openssl >/dev/null || { echo "$0: openssl not found" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Run openssl quietly; on failure show what failed and why.
ossl() {
	local log
	if ! log=$(openssl "$@" 2>&1 </dev/null); then
		echo "$0: openssl $* failed:" >&2
		echo "$log" >&2
		exit 1
	fi
}

# A minimal `openssl ca` setup per CA: its own database, random serials,
# subjects kept in the order given (preserve), no unique-subject rule (the
# server and rogue names repeat), and one extension section per use. The
# `ca` command is what lets us choose -startdate/-enddate (for the expired
# certificate; OpenSSL 3.0's `x509 -req` has only -days) and keep the
# database -revoke and -gencrl need.
make_ca_conf() { # dir name
	local d=$1
	mkdir -p "$d/issued"
	: >"$d/index.txt"
	echo "unique_subject = no" >"$d/index.txt.attr"
	cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = this_ca

[ this_ca ]
dir              = $d
database         = \$dir/index.txt
new_certs_dir    = \$dir/issued
certificate      = $work/$2.crt
private_key      = $work/$2.key
rand_serial      = yes
default_md       = sha256
default_days     = 3650
default_crl_days = 3650
policy           = policy_any
preserve         = yes
email_in_dn      = no
copy_extensions  = none
unique_subject   = no

[ policy_any ]
countryName            = optional
organizationName       = optional
commonName             = supplied

[ ext_ca ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ ext_int_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[ ext_server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[ ext_client ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[ ext_crl ]
authorityKeyIdentifier = keyid
EOF
}

new_key() { # name
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.key"
}

# A self-signed CA: name subject
new_ca() {
	new_key "$1"
	make_ca_conf "$work/db_$1" "$1"
	ossl req -new -x509 -key "$work/$1.key" -subj "$2" -days 3650 -sha256 \
		-config "$work/db_$1/ca.cnf" -extensions ext_ca -out "$work/$1.crt"
}

# A certificate issued by a CA: ca name subject extensions [openssl ca options...]
issue() {
	local ca=$1 name=$2 subj=$3 ext=$4
	shift 4
	new_key "$name"
	ossl req -new -key "$work/$name.key" -subj "$subj" -out "$work/$name.csr"
	ossl ca -batch -notext -config "$work/db_$ca/ca.cnf" -extensions "$ext" \
		-in "$work/$name.csr" -out "$work/$name.crt" "$@"
	rm -f "$work/$name.csr"
}

new_ca ca "/O=Fleet Test/CN=fleetmq test CA"
issue ca server "/CN=localhost" ext_server
issue ca server2 "/CN=localhost" ext_server
issue ca client "/C=DE/O=Fleet/CN=dev1" ext_client
issue ca expired "/C=DE/O=Fleet/CN=dev-expired" ext_client \
	-startdate 20200101000000Z -enddate 20210101000000Z
issue ca expired_server "/CN=localhost" ext_server \
	-startdate 20200101000000Z -enddate 20210101000000Z
issue ca revoked "/C=DE/O=Fleet/CN=dev-revoked" ext_client
ossl ca -batch -config "$work/db_ca/ca.cnf" -revoke "$work/revoked.crt" -crl_reason keyCompromise
ossl ca -batch -config "$work/db_ca/ca.cnf" -gencrl -crlexts ext_crl -out "$work/crl.pem"

# `openssl ca` splits a multi-valued RDN into two RDNs; `x509 -req` keeps
# the request's subject as it is.
new_key tricky
ossl req -new -key "$work/tricky.key" -utf8 -multivalue-rdn \
	-subj '/C=DE/O=Fleet\, Inc./OU=ops+OU=lab/CN=#dev "1"; <x> grün ' -out "$work/tricky.csr"
ossl x509 -req -in "$work/tricky.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -set_serial 0x7e57 \
	-days 3650 -sha256 -extfile "$work/db_ca/ca.cnf" -extensions ext_client -out "$work/tricky.crt"
rm -f "$work/tricky.csr"

issue ca int_ca "/O=Fleet Test/CN=fleetmq intermediate CA" ext_int_ca
make_ca_conf "$work/db_int_ca" int_ca
issue int_ca chain_client "/C=DE/O=Fleet/CN=dev2" ext_client
issue int_ca chain_server "/CN=localhost" ext_server
cat "$work/int_ca.crt" >>"$work/chain_client.crt"
cat "$work/int_ca.crt" >>"$work/chain_server.crt"

new_ca other_ca "/O=Elsewhere/CN=other test CA"
issue other_ca rogue "/C=DE/O=Fleet/CN=dev1" ext_client

{
	echo "dev-psk:$(openssl rand -hex 16)"
	echo "dev-psk2:$(openssl rand -hex 16)"
} >"$work/psk.txt"

# What the tests rely on, checked here so a broken fixture fails loudly
# instead of as a confusing handshake failure later.
check() { # description command...
	local what=$1
	shift
	if ! "$@" >/dev/null 2>&1; then
		echo "$0: fixture check failed: $what" >&2
		exit 1
	fi
}
check "client.crt verifies against ca.crt" openssl verify -CAfile "$work/ca.crt" "$work/client.crt"
check "server.crt verifies for 127.0.0.1" \
	openssl verify -CAfile "$work/ca.crt" -verify_ip 127.0.0.1 -verify_hostname localhost "$work/server.crt"
check "chain_client.crt verifies against ca.crt with its intermediate" \
	openssl verify -CAfile "$work/ca.crt" -untrusted "$work/int_ca.crt" "$work/chain_client.crt"
check "chain_client.crt does not verify without its intermediate" \
	bash -c '! openssl verify -CAfile "$1" "$2"' _ "$work/ca.crt" "$work/chain_client.crt"
check "server2.crt verifies" openssl verify -CAfile "$work/ca.crt" "$work/server2.crt"
check "rogue.crt verifies against other_ca.crt" openssl verify -CAfile "$work/other_ca.crt" "$work/rogue.crt"
check "rogue.crt does not verify against ca.crt" \
	bash -c '! openssl verify -CAfile "$1" "$2"' _ "$work/ca.crt" "$work/rogue.crt"
check "expired.crt has expired" \
	bash -c '! openssl x509 -in "$1" -noout -checkend 0' _ "$work/expired.crt"
check "expired_server.crt has expired" \
	bash -c '! openssl x509 -in "$1" -noout -checkend 0' _ "$work/expired_server.crt"
check "revoked.crt is revoked by crl.pem" \
	bash -c '! openssl verify -crl_check -CAfile "$1" -CRLfile "$2" "$3"' _ "$work/ca.crt" "$work/crl.pem" "$work/revoked.crt"
check "client.crt passes the CRL check" \
	openssl verify -crl_check -CAfile "$work/ca.crt" -CRLfile "$work/crl.pem" "$work/client.crt"
if [ "$(openssl x509 -in "$work/server.crt" -noout -serial)" = \
     "$(openssl x509 -in "$work/server2.crt" -noout -serial)" ]; then
	echo "$0: server.crt and server2.crt have the same serial" >&2
	exit 1
fi

rm -f "$out/.complete"
for f in "${files[@]}"; do
	mv -f "$work/$f" "$out/$f"
done
chmod 600 "$out"/*.key
touch "$out/.complete"
