"""A tiny TLS client that caches OCSP answers by CertID: a product with a cache, for a test.

Usage: caching_client.py HOST PORT CACHE.json. It connects, and during the
handshake asks the responder in the leaf's AIA about the leaf — unless its
cache (a JSON file kept across runs, keyed by the CertID: RFC 6960 4.1.1)
already holds an answer for that CertID, which it then uses without asking,
as caching products do. Refuses (certificate_revoked) unless the status is
good. Prints "cache hit" or "cache miss" and the status.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cryptography import x509
from cryptography.x509 import ocsp

from lab.chain_check import ocsp_urls
from lab.fetch import fetch
from lab.ocsp_request import build_request
from lab.tls.alerts import Alert
from lab.tls.client import tls_connect


def main() -> int:
    host, port, cache_path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    cache: dict[str, str] = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    def decide(chain: list[x509.Certificate], staple: bytes | None) -> Alert | None:
        leaf, issuer = chain[0], chain[1]
        request = build_request(leaf, issuer, nonce=None)
        cert_id = request.cert_id
        key = f"{cert_id.issuer_name_hash.hex()}:{cert_id.issuer_key_hash.hex()}:{cert_id.serial:x}"
        if key in cache:
            status = cache[key]
            print(f"cache hit {key}: {status}")
        else:
            result = fetch(ocsp_urls(leaf)[0], request.der)
            assert result.body is not None, result.message
            status = ocsp.load_der_ocsp_response(result.body).certificate_status.name.lower()
            cache[key] = status
            cache_path.write_text(json.dumps(cache))
            print(f"cache miss {key}: {status}")
        return None if status == "good" else Alert.CERTIFICATE_REVOKED

    connection = tls_connect(host, port, decide=decide, request_staple=False)
    print(connection.record.describe())
    return 0 if connection.record.completed else 1


if __name__ == "__main__":
    raise SystemExit(main())
