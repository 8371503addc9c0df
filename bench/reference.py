"""Reference figures on this machine: RS256 and ES256 signatures per second on one core."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

PAYLOAD = b"eyJhbGciOiJSUzI1NiJ9." + b"x" * 400
"""About the size of a signing input of a dexpy ID token."""


def _rate(sign: object, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            sign(PAYLOAD)  # type: ignore[operator]
        count += 20
    return count / elapsed


def signatures_per_second(seconds: float) -> dict[str, float]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "RS256": _rate(lambda data: rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256()), seconds),
        "ES256": _rate(lambda data: ec_key.sign(data, ec.ECDSA(hashes.SHA256())), seconds),
    }
