"""Values sealed under the replicas' shared state keys (AES-256-GCM): secret and tamper-proof, and any replica
can open them. `aad` names what a value is, so a value sealed as one thing never opens as another."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class Unsealable(Exception):
    """Not a value sealed here under these keys and purpose, or altered."""


def seal(plaintext: bytes, key: bytes, aad: bytes) -> str:
    nonce = os.urandom(_NONCE)
    sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, aad)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def unseal(value: str, keys: tuple[bytes, ...], aad: bytes) -> bytes:
    """The plaintext under whichever of `keys` (newest first) sealed it."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Unsealable("malformed") from exc
    if len(raw) <= _NONCE:
        raise Unsealable("malformed")
    for key in keys:
        try:
            return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)
        except InvalidTag:
            continue
    raise Unsealable("not issued here or altered")
