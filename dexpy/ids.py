"""Random identifiers in Dex's formats (storage/storage.go `NewID`, `NewDeviceCode`, `NewUserCode`)."""

from __future__ import annotations

import base64
import secrets

_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def _lower_base32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def new_id() -> str:
    """25 characters: a letter, then lower-case base32 of 15 random bytes (DNS-1123 safe)."""
    return secrets.choice("abcdefghijklmnopqrstuvwxyz") + _lower_base32(secrets.token_bytes(15))


def new_secret_id() -> str:
    """51 characters from 32 random bytes: device codes, refresh token secrets, HMAC keys."""
    return secrets.choice("abcdefghijklmnopqrstuvwxyz") + _lower_base32(secrets.token_bytes(32))


def new_user_code() -> str:
    """`XXXX-XXXX` from consonants only, so no words can be spelled (RFC 8628 §6.1)."""
    chars = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"
