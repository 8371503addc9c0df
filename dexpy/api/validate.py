"""Checks on what API callers send; each failure is an `InvalidArgument` whose message names the field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from dexpy.config import CONNECTOR_GRANT_TYPES
from dexpy.connectors.base import ConnectorConfigError, check_connector_config, connector_types
from dexpy.connectors.local import LOCAL_CONNECTOR_TYPE

MIN_BCRYPT_COST = 10
MAX_BCRYPT_COST = 16
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:@+/-]{0,252}")
_BCRYPT = re.compile(rb"\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}")


class InvalidArgument(ValueError):
    pass


def known_fields(message: Message, path: str = "") -> None:
    """Refuse fields api.proto does not define, at any depth. Ignoring them would let a client newer than
    dexpy, or a mistaken one, believe a setting took effect."""
    unknown = sorted({f.field_number for f in UnknownFieldSet(message)})
    if unknown:
        where = f"{path} ({message.DESCRIPTOR.full_name})" if path else message.DESCRIPTOR.full_name
        raise InvalidArgument(f"unknown field {', '.join(map(str, unknown))} in {where}: not in dexpy's api.proto")
    for field, value in message.ListFields():
        if field.message_type is not None:
            for item in [value] if isinstance(value, Message) else value:
                known_fields(item, f"{path}.{field.name}" if path else field.name)


def require(value: str, name: str) -> str:
    if not value:
        raise InvalidArgument(f"no {name} supplied")
    return value


def identifier(value: str, name: str) -> str:
    """IDs are 1..253 characters of letters, digits and `._~:@+/-`, starting with a letter or digit."""
    if not _ID.fullmatch(value):
        raise InvalidArgument(f"invalid {name} {value!r}: use letters, digits and ._~:@+/- (at most 253)")
    return value


def absolute_uri(value: str, name: str, *, web_only: bool = False) -> str:
    """An absolute URI without a fragment; http(s) ones need a host. `web_only` allows http(s) only."""
    parts = urlsplit(value)
    web = parts.scheme in ("http", "https")
    if not parts.scheme or (web and not parts.hostname) or parts.fragment or (web_only and not web):
        kind = "an absolute http(s) URL" if web_only else "an absolute URI without a fragment"
        raise InvalidArgument(f"invalid {name} {value!r}: must be {kind}")
    return value


def absolute_uris(values: Iterable[str], name: str) -> list[str]:
    return [absolute_uri(v, name) for v in values]


def optional_url(value: str, name: str) -> str:
    return absolute_uri(value, name, web_only=True) if value else ""


def unsupported(value: object, name: str) -> None:
    """Fields of Dex's API that dexpy does not implement: refuse rather than silently drop them."""
    if value:
        raise InvalidArgument(f"{name} is not supported by dexpy")


def bcrypt_hash(value: bytes, name: str = "hash") -> bytes:
    match = _BCRYPT.fullmatch(value)
    if not match:
        raise InvalidArgument(f"{name} is not a bcrypt hash")
    cost = int(match[1])
    if not MIN_BCRYPT_COST <= cost <= MAX_BCRYPT_COST:
        raise InvalidArgument(f"{name} has bcrypt cost {cost}; it must be {MIN_BCRYPT_COST}..{MAX_BCRYPT_COST}")
    return value


def grant_types(values: Iterable[str]) -> list[str]:
    values = list(values)
    for value in values:
        if value not in CONNECTOR_GRANT_TYPES:
            raise InvalidArgument(f"unknown grant type {value!r}")
    return values


def connector(type_name: str, config: bytes) -> bytes:
    """A connector of a known type whose JSON config the connector accepts."""
    known = [*connector_types(), LOCAL_CONNECTOR_TYPE]
    if type_name not in known:
        raise InvalidArgument(f"unknown connector type {type_name!r}; known: {', '.join(sorted(known))}")
    try:
        parsed: Any = json.loads(config or b"{}")
    except ValueError:
        raise InvalidArgument("config is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidArgument("config must be a JSON object")
    if type_name != LOCAL_CONNECTOR_TYPE:
        try:
            check_connector_config(type_name, parsed)
        except ConnectorConfigError as exc:
            raise InvalidArgument(f"config: {exc}") from None
    return config or b"{}"
