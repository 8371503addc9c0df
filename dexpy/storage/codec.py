"""A reversible JSON codec for the dataclasses of `dexpy.model`, driven by their type hints.

Datetimes are written as RFC 3339 in UTC (`2026-01-01T12:00:00.123456Z`), bytes as standard base64, `object`
(the JWKs of `Keys`) as-is. Decoding gives back an equal record; encoding a naive datetime is refused, since
storage must not guess a time zone.

It also holds the two checks every backend makes on what it is handed: `require_kind` (a storage record
class) and `check_updated` (an updater may not change a record's kind or key).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from dexpy.model import RECORD_KINDS
from dexpy.storage import Invalid

R = TypeVar("R")

Convert = Callable[[Any], Any]


class Converter(typing.NamedTuple):
    encode: Convert
    decode: Convert


def _same(value: Any) -> Any:
    return value


def _encode_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; give it a time zone")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _decode_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def _encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _decode_bytes(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


_SCALARS: dict[Any, Converter] = {
    datetime: Converter(_encode_datetime, _decode_datetime),
    bytes: Converter(_encode_bytes, _decode_bytes),
    str: Converter(_same, _same),
    int: Converter(_same, _same),
    float: Converter(_same, _same),
    bool: Converter(_same, _same),
    object: Converter(_same, _same),
    Any: Converter(_same, _same),
}


def _optional(inner: Converter) -> Converter:
    return Converter(
        lambda value: None if value is None else inner.encode(value),
        lambda data: None if data is None else inner.decode(data),
    )


def _list_of(item: Converter) -> Converter:
    return Converter(
        lambda value: [item.encode(v) for v in value],
        lambda data: [item.decode(v) for v in data],
    )


def _dict_of(item: Converter) -> Converter:
    return Converter(
        lambda value: {str(k): item.encode(v) for k, v in value.items()},
        lambda data: {k: item.decode(v) for k, v in data.items()},
    )


def _dataclass(cls: type) -> Converter:
    fields = {f.name: converter(t) for f, t in _field_types(cls)}

    def encode(value: Any) -> dict[str, Any]:
        return {name: conv.encode(getattr(value, name)) for name, conv in fields.items()}

    def decode(data: dict[str, Any]) -> Any:
        return cls(**{name: conv.decode(data[name]) for name, conv in fields.items() if name in data})

    return Converter(encode, decode)


def _field_types(cls: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


@functools.cache
def converter(tp: Any) -> Converter:
    """The encoder and decoder for values of type `tp` (a dataclass, scalar, list, dict or optional of them)."""
    if tp in _SCALARS:
        return _SCALARS[tp]
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        present = [a for a in args if a is not type(None)]
        if len(present) == 1 and len(args) == 2:
            return _optional(converter(present[0]))
    if origin is list:
        return _list_of(converter(args[0]))
    if origin is dict and args[0] is str:
        return _dict_of(converter(args[1]))
    raise TypeError(f"codec cannot handle type {tp!r}")


def encode(record: object) -> dict[str, Any]:
    """The JSON-ready data of a dataclass instance."""
    tp: Any = type(record)
    data: dict[str, Any] = converter(tp).encode(record)
    return data


def decode(kind: type[R], data: dict[str, Any]) -> R:
    tp: Any = kind
    record: R = converter(tp).decode(data)
    return record


def dumps(record: object) -> str:
    return json.dumps(encode(record), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def loads(kind: type[R], text: str) -> R:
    return decode(kind, json.loads(text))


_RECORD_KINDS: tuple[Any, ...] = RECORD_KINDS
_KINDS_BY_NAME: dict[str, type] = {kind.KIND: kind for kind in _RECORD_KINDS}


def require_kind(kind: type) -> str:
    """The `KIND` name of a record class that storage holds; a `TypeError` for anything else."""
    name = getattr(kind, "KIND", None)
    if not isinstance(name, str) or _KINDS_BY_NAME.get(name) is not kind:
        raise TypeError(f"{kind!r} is not a storage record kind")
    return name


def check_updated(kind: Any, key: str, updated: Any) -> None:
    """Refuse an updater result of another kind or key: it would silently store a record under a wrong name."""
    if type(updated) is not kind:
        raise Invalid(f"updater for {require_kind(kind)} {key!r} returned {type(updated).__name__}")
    if updated.key != key:
        raise Invalid(f"updater for {require_kind(kind)} {key!r} changed its key to {updated.key!r}")
