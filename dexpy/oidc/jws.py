"""Compact JWS signing (RFC 7515 §7.1) of the tokens dexpy issues, with a key imported once per rotation.

joserfc's `jwt.encode` validates the header and claims, looks the algorithm up and re-serialises the header on
every call: ~15 µs of a 230 µs RS256 token. Here the header segments are built once per key and the payload is
signed with the key's own object; joserfc keeps generating, importing and verifying keys.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, RSAKey

TOKEN_TYPES = ("JWT", "logout+jwt")
"""The `typ` headers of what dexpy signs: ID and access tokens, and back-channel logout tokens."""


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class CompactSigner:
    def __init__(self, key: RSAKey | ECKey, algorithm: str, kid: str) -> None:
        self._sign = _raw_signer(key, algorithm)
        self._headers = {typ: b64url(json.dumps({"alg": algorithm, "kid": kid, "typ": typ},
                                                separators=(",", ":")).encode()) for typ in TOKEN_TYPES}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        signing_input = self._headers[typ] + b"." + b64url(json.dumps(claims, separators=(",", ":")).encode())
        return (signing_input + b"." + b64url(self._sign(signing_input))).decode("ascii")


def _raw_signer(key: RSAKey | ECKey, algorithm: str) -> Callable[[bytes], bytes]:
    private = key.private_key
    if algorithm == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if algorithm == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey) \
            and isinstance(private.curve, ec.SECP256R1):
        def es256(data: bytes) -> bytes:  # JWS wants r || s, 32 bytes each (RFC 7518 §3.4), not DER
            r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return es256
    raise ValueError(f"cannot sign {algorithm} with a {key.key_type} key")
