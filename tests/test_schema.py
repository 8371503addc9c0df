"""The generic YAML → dataclass decoder: types, key names, and how problems are reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import yaml

from dexpy.schema import ConfigError, decode, parse_duration


@dataclass
class Inner:
    base_dn: str = field(default="", metadata={"key": "baseDN"})
    size: int = 0


@dataclass
class Outer:
    name: str
    enabled: bool = False
    ratio: float = 1.0
    timeout: timedelta = timedelta(seconds=10)
    rotation: timedelta | None = None
    redirect_uris: list[str] = field(default_factory=list, metadata={"key": "redirectURIs"})
    labels: dict[str, str] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)
    inners: list[Inner] = field(default_factory=list)
    extra: Any = None
    source: str = field(default="", metadata={"internal": True})


def problems(raw: str, cls: type = Outer) -> list[str]:
    with pytest.raises(ConfigError) as info:
        decode(cls, yaml.safe_load(raw), source="my.yaml")
    return str(info.value).splitlines()


def test_decodes_every_supported_type_with_camel_case_and_explicit_keys() -> None:
    raw = yaml.safe_load("""
        name: n
        enabled: true
        ratio: 2
        timeout: 1h30m
        rotation: 500ms
        redirectURIs: [http://a/cb]
        labels: {a: b}
        inner: {baseDN: "dc=example", size: 3}
        inners: [{size: 1}, {size: 2}]
        extra: {anything: [1, 2]}
    """)
    got = decode(Outer, raw)
    assert got == Outer(
        name="n", enabled=True, ratio=2.0, timeout=timedelta(hours=1, minutes=30),
        rotation=timedelta(milliseconds=500), redirect_uris=["http://a/cb"], labels={"a": "b"},
        inner=Inner(base_dn="dc=example", size=3), inners=[Inner(size=1), Inner(size=2)],
        extra={"anything": [1, 2]},
    )
    assert isinstance(got.ratio, float)


def test_defaults_apply_and_null_counts_as_absent() -> None:
    got = decode(Outer, {"name": "n", "timeout": None, "rotation": None})
    assert got.timeout == timedelta(seconds=10)
    assert got.rotation is None
    assert got.redirect_uris == []


def test_keys_match_case_insensitively_like_go_json() -> None:
    got = decode(Outer, {"NAME": "n", "redirectUris": ["x"], "Inner": {"basedn": "o=x"}})
    assert (got.name, got.redirect_uris, got.inner.base_dn) == ("n", ["x"], "o=x")


def test_the_same_key_twice_in_different_case_is_an_error() -> None:
    assert problems("{name: a, Name: b}") == ["my.yaml: Name: 'name' is already given as 'name'"]


def test_unknown_key_suggests_the_closest_known_one_or_lists_them() -> None:
    assert problems("{name: n, redirect_uris: []}") == [
        "my.yaml: redirect_uris: unknown key; did you mean 'redirectURIs'?"
    ]
    assert problems("{name: n, zzz: 1}") == [
        "my.yaml: zzz: unknown key (known here: enabled, extra, inner, inners, labels, name, ratio, redirectURIs, "
        "rotation, timeout)"
    ]


def test_internal_fields_are_not_read_from_yaml() -> None:
    (line,) = problems("{name: n, source: /etc/x}")
    assert line.startswith("my.yaml: source: unknown key (known here: ") and "source" not in line.partition("(")[2]


def test_wrong_types_say_what_was_expected_with_the_full_path() -> None:
    lines = problems("""
        name: n
        enabled: "yes"
        redirectURIs: http://a/cb
        inners: [{size: 1}, {size: "2"}]
        labels: {a: [1]}
        ratio: true
    """)
    assert lines == [
        "my.yaml: enabled: expected a boolean, got str",
        "my.yaml: redirectURIs: expected a list of strings, got str",
        "my.yaml: inners[1].size: expected an integer, got str",
        "my.yaml: labels.a: expected a string, got list",
        "my.yaml: ratio: expected a number, got bool",
    ]


def test_a_number_where_a_string_is_expected_suggests_quoting() -> None:
    assert problems("{name: 1.2}") == ["my.yaml: name: expected a string, got float (quote it)"]


def test_missing_required_fields_are_reported_with_all_other_problems() -> None:
    lines = problems("{enabled: 1, inner: {bogus: 1}}")
    assert lines == [
        "my.yaml: enabled: expected a boolean, got int",
        "my.yaml: inner.bogus: unknown key (known here: baseDN, size)",
        "my.yaml: name: missing required key",
    ]


def test_error_carries_file_path_and_message_of_each_problem() -> None:
    with pytest.raises(ConfigError) as info:
        decode(Inner, {"size": "x"}, path="connectors[2].config", source="dex.yaml")
    err = info.value
    assert (err.file, err.path) == ("dex.yaml", "connectors[2].config.size")
    assert err.message == "expected an integer, got str"
    assert [p.path for p in err.problems] == ["connectors[2].config.size"]


def test_a_bare_integer_is_not_a_duration() -> None:
    assert problems("{name: n, timeout: 10}") == ['my.yaml: timeout: expected a duration such as "6h", got int']


@pytest.mark.parametrize("text, expected", [
    ("6h", timedelta(hours=6)), ("1h30m", timedelta(minutes=90)), ("500ms", timedelta(milliseconds=500)),
    ("10s", timedelta(seconds=10)), ("1.5h", timedelta(minutes=90)), ("0", timedelta(0)),
    ("-2s", timedelta(seconds=-2)), ("1m0.5s", timedelta(seconds=60.5)), ("250us", timedelta(microseconds=250)),
])
def test_go_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "6", "h", "6 h", "6d", "1h 30m", "-", ".h", "1..5h"])
def test_invalid_go_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_list_where_a_mapping_is_expected() -> None:
    assert problems("[1, 2]") == ["my.yaml: expected a mapping, got list"]
