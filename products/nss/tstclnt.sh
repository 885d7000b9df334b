#!/bin/sh
# NSS tstclnt, OCSP by stapling only (products/nss-tstclnt.toml).
#
# tstclnt reads trust from an NSS database, not a PEM file: each certificate of
# TRUST.pem is imported into a fresh, empty database in a temporary directory
# (certutil -A, trust "C,,": a CA trusted to issue server certificates), which
# is removed on exit. Then tstclnt connects with -T (send status_request) and
# -F with -O (synchronous validation, which -F needs; require fresh revocation data from the staple for the server
# certificate; dynamic OCSP fetching stays off), -Q (exit after the handshake).
# Its exit status is tstclnt's: 0 good, 1 the chain failed before revocation
# was checked, 2 missing, old or invalid revocation data, 3 revoked.
#
# Usage: sh products/nss/tstclnt.sh HOST PORT TRUST.pem
# Needs tstclnt and certutil on PATH (Debian: libnss3-tools).
set -eu
if [ $# -ne 3 ]; then
    echo "usage: sh products/nss/tstclnt.sh HOST PORT TRUST.pem" >&2
    exit 2
fi
host=$1 port=$2 trust=$3
db=$(mktemp -d "${TMPDIR:-/tmp}/ocsp-lab-nss.XXXXXX")
trap 'rm -rf "$db"' EXIT
certutil -N -d "sql:$db" --empty-password
# One file per certificate: certutil -A imports the first certificate of a file only.
awk -v dir="$db" '
    /-----BEGIN CERTIFICATE-----/ { n++; file = sprintf("%s/trust-%d.pem", dir, n) }
    file != "" { print > file }
    /-----END CERTIFICATE-----/ { close(file); file = "" }
' "$trust"
found=0
for pem in "$db"/trust-*.pem; do
    [ -f "$pem" ] || continue
    found=$((found + 1))
    certutil -A -d "sql:$db" -n "lab-trust-$found" -t "C,," -i "$pem"
done
if [ "$found" -eq 0 ]; then
    echo "$trust: no certificate in it" >&2
    exit 2
fi
status=0
tstclnt -h "$host" -p "$port" -d "sql:$db" -T -F -O -Q -4 -a localhost </dev/null || status=$?
exit "$status"
