"""Dex's wire encodings, so tokens and gRPC calls stay compatible with Dex.

Both are base64url (no padding) of a two-field protobuf message of strings (Dex `server/internal/types.proto`):
`IDTokenSubject{user_id=1, conn_id=2}` is the `sub` claim; `RefreshToken{refresh_id=1, token=2}` is the refresh
token handed to clients. Proto3 leaves out empty strings. Written by hand: two string fields do not justify a
generated protobuf module on the hot path.
"""

from __future__ import annotations

import base64
import binascii


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _encode_pair(first: str, second: str) -> str:
    msg = bytearray()
    for number, value in ((1, first), (2, second)):
        if value:
            data = value.encode()
            msg += bytes([(number << 3) | 2]) + _varint(len(data)) + data
    return base64.urlsafe_b64encode(bytes(msg)).decode().rstrip("=")


def _decode_pair(encoded: str) -> tuple[str, str]:
    """Raise ValueError when `encoded` is not such a message."""
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    fields = {1: "", 2: ""}
    i = 0
    while i < len(raw):
        tag = raw[i]
        i += 1
        number, wire_type = tag >> 3, tag & 7
        if wire_type != 2 or number not in fields:
            raise ValueError("unexpected protobuf field")
        length = shift = 0
        while True:
            if i >= len(raw):
                raise ValueError("truncated varint")
            byte = raw[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if i + length > len(raw):
            raise ValueError("truncated field")
        try:
            fields[number] = raw[i : i + length].decode()
        except UnicodeDecodeError as exc:
            raise ValueError("field is not UTF-8") from exc
        i += length
    return fields[1], fields[2]


def encode_subject(user_id: str, connector_id: str) -> str:
    return _encode_pair(user_id, connector_id)


def decode_subject(sub: str) -> tuple[str, str]:
    """(user_id, connector_id); ValueError for a value that is not a Dex subject."""
    return _decode_pair(sub)


def encode_refresh_token(refresh_id: str, token: str) -> str:
    return _encode_pair(refresh_id, token)


def decode_refresh_token(value: str) -> tuple[str, str]:
    """(refresh_id, token). Like Dex, a value that does not decode is taken as a bare legacy id."""
    try:
        return _decode_pair(value)
    except ValueError:
        return value, ""
