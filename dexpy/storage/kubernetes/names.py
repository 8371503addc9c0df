"""Kubernetes object names for record keys, exactly as Dex derives them (`storage/kubernetes/client.go`)."""

from __future__ import annotations

import base64
import re

_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_NAME_LENGTH = 253


def _lower_base32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _fnv1_64(data: bytes) -> int:
    h = _FNV64_OFFSET
    for byte in data:
        h = (h * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
        h ^= byte
    return h


def id_to_name(value: str) -> str:
    """Dex's `idToName`: base32 of the id's bytes followed by the FNV-1 hash of nothing (the offset basis),
    because Dex calls `hash.Sum(b)`, which appends. A reversible encoding, so distinct ids never collide."""
    return _lower_base32(value.encode() + _FNV64_OFFSET.to_bytes(8, "big"))


def offline_token_name(user_id: str, conn_id: str) -> str:
    """Dex's `offlineTokenName`: base32 of the FNV-1 64-bit hash of user ID + connector ID (13 characters).
    It can collide, so readers compare the stored IDs."""
    return _lower_base32(_fnv1_64(user_id.encode() + conn_id.encode()).to_bytes(8, "big"))


def is_valid_name(name: str) -> bool:
    """A DNS subdomain, as the API server requires of custom resource names."""
    return 0 < len(name) <= MAX_NAME_LENGTH and _NAME_RE.match(name) is not None
