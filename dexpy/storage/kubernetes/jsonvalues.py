"""Go `encoding/json` value encodings that Dex's objects use: RFC 3339 times and base64 bytes."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from dexpy.model import EPOCH


class MalformedObject(ValueError):
    """An object in the cluster that cannot be read as the record it should hold (e.g. hand-edited)."""


def format_time(value: datetime) -> str:
    """Go's `time.Time` JSON: RFC 3339 with up to nine fractional digits, trailing zeros dropped."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if value == EPOCH:
        return "0001-01-01T00:00:00Z"
    offset = value.utcoffset()
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    if not offset:
        return text + "Z"
    return text + value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:]


def parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise MalformedObject(f"expected an RFC 3339 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedObject(f"expected an RFC 3339 time, got {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode()


def decode_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise MalformedObject(f"expected base64 bytes, got {value!r}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise MalformedObject(f"expected base64 bytes, got {value!r}") from exc
