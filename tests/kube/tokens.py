"""Unsigned ID-token look-alikes for tests that only exercise the offline cache (which reads `exp` alone)."""

from __future__ import annotations

import base64
import json
from datetime import datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def fake_id_token(expiry: datetime, subject: str = "jane") -> str:
    header = _b64(json.dumps({"alg": "RS256", "kid": "k"}).encode())
    payload = _b64(json.dumps({"sub": subject, "exp": int(expiry.timestamp())}).encode())
    return f"{header}.{payload}.{_b64(b'not-a-signature')}"
