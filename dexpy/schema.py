"""Decode YAML-loaded data into typed dataclasses, reporting every problem with its key path at once.

Supported field types: str, bool, int, float, timedelta (Go duration strings: "6h", "1h30m", "500ms"),
`X | None`, list[X], dict[str, X], nested dataclasses and `Any` (kept as loaded).

A field's YAML key is `field.metadata["key"]`, else its name in lowerCamelCase; fields with
`metadata={"internal": True}` are never read. Keys match case-insensitively when there is no exact match,
as Go's `encoding/json` (which Dex decodes its config with) does for every struct, not only `frontend`.
A YAML `null` counts as an absent key (Go leaves the field untouched), except for `X | None` fields.
Unknown keys are errors (Dex ignores them unless `DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS=true`; a typo that
silently turns a setting off is worse than a refusal to start).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        return f"{where}: {self.message}" if where else self.message


class ConfigError(Exception):
    """One or more config problems. `file`, `path` and `message` are the first's; `problems` lists them all.

    str() gives one `<file>: <path>: <message>` line per problem.
    """

    def __init__(self, file: str = "", path: str = "", message: str = "", *,
                 problems: Iterable[Problem] = ()) -> None:
        self.problems = list(problems) or [Problem(file, path, message)]
        first = self.problems[0]
        self.file, self.path, self.message = first.file, first.path, first.message
        super().__init__("\n".join(str(p) for p in self.problems))


def yaml_key(f: dataclasses.Field[Any]) -> str:
    """The YAML key of a dataclass field."""
    if "key" in f.metadata:
        return str(f.metadata["key"])
    head, *rest = f.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def join(path: str, key: str | int) -> str:
    """`staticClients` + 0 → `staticClients[0]`; `web` + `http` → `web.http`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": Decimal("1e-9"), "us": Decimal("1e-6"), "µs": Decimal("1e-6"), "μs": Decimal("1e-6"),
                 "ms": Decimal("1e-3"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600)}


def parse_duration(text: str) -> timedelta:
    """Parse a Go `time.ParseDuration` string ("1h30m", "500ms", "-2s", "0"); ValueError when it is not one."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
    if body == "0":
        return timedelta(0)
    parts = list(_DURATION_PART.finditer(body))
    if not body or "".join(m.group(0) for m in parts) != body:
        raise ValueError(f"invalid duration {text!r}")
    seconds = sum((Decimal(m.group(1)) * _UNIT_SECONDS[m.group(2)] for m in parts), Decimal(0))
    return sign * timedelta(microseconds=int(seconds * 1_000_000))


_MISSING = object()
"""Returned by the decoder for a value it reported a problem with."""


def _yaml_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def describe(tp: Any, plural: bool = False) -> str:
    """An English name for a field type, for 'expected …' messages."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe(a, plural) for a in args if a is not type(None))
    if origin is list:
        return f"{'lists' if plural else 'a list'} of {describe(args[0], True)}"
    if origin is dict:
        return f"{'mappings' if plural else 'a mapping'} of string to {describe(args[1], True)}"
    if dataclasses.is_dataclass(tp):
        return "mappings" if plural else "a mapping"
    singular, many = {
        str: ("a string", "strings"), bool: ("a boolean", "booleans"), int: ("an integer", "integers"),
        float: ("a number", "numbers"), timedelta: ('a duration such as "6h"', "durations"),
    }.get(tp, ("a value", "values"))
    return many if plural else singular


class _Decoder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> object:
        self.problems.append(Problem(self.source, path, message))
        return _MISSING

    def expected(self, tp: Any, raw: Any, path: str) -> object:
        hint = " (quote it)" if tp is str and isinstance(raw, int | float) else ""
        return self.problem(path, f"expected {describe(tp)}, got {_yaml_type(raw)}{hint}")

    def value(self, tp: Any, raw: Any, path: str) -> Any:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if tp is Any:
            return raw
        if origin in (types.UnionType, typing.Union):
            return self.union(tp, args, raw, path)
        if origin is list:
            return self.sequence(tp, args[0], raw, path)
        if origin is dict:
            return self.mapping(tp, args[1], raw, path)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.dataclass(tp, raw, path)
        if tp is timedelta:
            return self.duration(raw, path)
        if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if tp in (str, bool, int, float):
            # bool is an int in Python, but `true` is no integer in YAML.
            if isinstance(raw, tp) and not (tp is int and isinstance(raw, bool)):
                return raw
            return self.expected(tp, raw, path)
        raise TypeError(f"dexpy.schema cannot decode {tp!r} (at {path or 'top level'})")

    def union(self, tp: Any, args: tuple[Any, ...], raw: Any, path: str) -> Any:
        others = [a for a in args if a is not type(None)]
        if len(others) != 1 or len(args) != 2:
            raise TypeError(f"dexpy.schema supports only `X | None` unions, not {tp!r}")
        return None if raw is None else self.value(others[0], raw, path)

    def duration(self, raw: Any, path: str) -> Any:
        if not isinstance(raw, str):
            return self.expected(timedelta, raw, path)
        try:
            return parse_duration(raw)
        except ValueError:
            return self.problem(path, f'invalid duration {raw!r}; expected e.g. "6h", "1h30m", "500ms"')

    def sequence(self, tp: Any, item: Any, raw: Any, path: str) -> Any:
        if not isinstance(raw, list):
            return self.expected(tp, raw, path)
        before = len(self.problems)
        items = [self.value(item, v, join(path, i)) for i, v in enumerate(raw)]
        return _MISSING if len(self.problems) > before else items

    def mapping(self, tp: Any, item: Any, raw: Any, path: str) -> Any:
        if not isinstance(raw, Mapping):
            return self.expected(tp, raw, path)
        before = len(self.problems)
        out = {}
        for k, v in raw.items():
            if not isinstance(k, str):
                self.problem(join(path, str(k)), f"expected a string key, got {_yaml_type(k)}")
            else:
                out[k] = self.value(item, v, join(path, k))
        return _MISSING if len(self.problems) > before else out

    def dataclass(self, cls: type[Any], raw: Any, path: str) -> Any:
        if not isinstance(raw, Mapping):
            return self.expected(cls, raw, path)
        before = len(self.problems)
        hints = typing.get_type_hints(cls)
        fields = {yaml_key(f): f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
        folded = {k.lower(): k for k in fields}
        given: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        for raw_key, raw_value in raw.items():
            name = str(raw_key)
            where = join(path, name)
            canonical = name if name in fields else folded.get(name.lower())
            if canonical is None:
                self.problem(where, _unknown_key_message(name, fields))
            elif canonical in given:
                self.problem(where, f"{canonical!r} is already given as {given[canonical]!r}")
            else:
                given[canonical] = name
                f = fields[canonical]
                if raw_value is not None or _is_optional(hints[f.name]):
                    kwargs[f.name] = self.value(hints[f.name], raw_value, where)
        for k, f in fields.items():
            if f.name not in kwargs and _is_required(f):
                self.problem(join(path, k), "required, got null" if k in given else "missing required key")
        return _MISSING if len(self.problems) > before else cls(**kwargs)


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (types.UnionType, typing.Union) and type(None) in typing.get_args(tp)


def _is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _unknown_key_message(name: str, known: Iterable[str]) -> str:
    by_folded = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), by_folded, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {by_folded[close[0]]!r}?"
    return f"unknown key (known here: {', '.join(sorted(by_folded.values(), key=str.lower))})"


def decode(cls: type[T], raw: Any, *, path: str = "", source: str = "") -> T:
    """Build `cls` from `raw` (as loaded from YAML); raise one ConfigError listing every problem.

    `path` prefixes every reported key path (e.g. `connectors[0].config`); `source` is the file name.
    """
    decoder = _Decoder(source)
    value = decoder.value(cls, raw, path)
    if decoder.problems:
        raise ConfigError(problems=decoder.problems)
    return typing.cast(T, value)
