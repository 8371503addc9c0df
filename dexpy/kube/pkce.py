"""PKCE for the login client (RFC 7636): only S256 is sent."""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_verifier() -> str:
    """43 characters of unreserved URL-safe base64 from 32 random bytes (§4.1)."""
    return secrets.token_urlsafe(32)


def s256_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) without padding (§4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
