from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from dexpy.model import EPOCH, RECORD_KINDS, AuthCode, Claims, Keys
from dexpy.storage import Invalid
from dexpy.storage.codec import check_updated, converter, decode, dumps, encode, loads, require_kind
from tests.storage.samples import SAMPLES, sample

by_kind = pytest.mark.parametrize("kind", RECORD_KINDS, ids=lambda kind: kind.KIND)


def test_every_record_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(RECORD_KINDS)


@by_kind
def test_samples_set_every_defaulted_field(kind: type) -> None:
    """Otherwise a backend that drops a field would still pass the round-trip tests."""
    record = sample(kind)
    for field in dataclasses.fields(record):
        if field.default is not dataclasses.MISSING:
            assert getattr(record, field.name) != field.default, field.name
        if field.default_factory is not dataclasses.MISSING:
            assert getattr(record, field.name) != field.default_factory(), field.name


@by_kind
def test_round_trip_gives_an_equal_record(kind: type) -> None:
    record = sample(kind)
    text = dumps(record)
    assert loads(kind, text) == record
    assert dumps(loads(kind, text)) == text


def test_datetimes_are_rfc3339_utc_with_microseconds() -> None:
    code = sample(AuthCode)
    data = encode(code)
    assert data["expiry"] == "2026-03-04T05:36:07.891011Z"
    assert data["auth_time"] == "2026-03-04T05:06:07.891011Z"  # written from +02:00
    decoded = decode(AuthCode, data)
    assert decoded.auth_time.utcoffset() is not None
    assert decoded.auth_time.tzinfo == timezone.utc


def test_go_zero_time_round_trips() -> None:
    assert encode(Keys())["next_rotation"] == "0001-01-01T00:00:00Z"
    assert decode(Keys, encode(Keys())).next_rotation == EPOCH


def test_bytes_are_base64_and_jwks_stay_as_they_are() -> None:
    keys = sample(Keys)
    data = json.loads(dumps(keys))
    assert data["signing_key_pub"] == keys.signing_key_pub
    assert data["state_keys"][1] == "/" * 42 + "8="
    assert data["verification_keys"][0]["public_key"] == keys.verification_keys[0].public_key
    assert encode(Keys())["signing_key"] is None


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        encode(dataclasses.replace(sample(AuthCode), expiry=datetime(2026, 1, 1)))


def test_missing_fields_take_their_defaults() -> None:
    """A record written before a field existed still reads."""
    data = encode(sample(Keys))
    del data["state_keys"]
    assert decode(Keys, data).state_keys == []


def test_unsupported_types_are_named() -> None:
    with pytest.raises(TypeError, match="set"):
        converter(set[int])


def test_only_storage_kinds_are_record_kinds() -> None:
    assert require_kind(AuthCode) == "authcode"
    with pytest.raises(TypeError):
        require_kind(Claims)


def test_an_update_may_not_rename_or_retype_a_record() -> None:
    code = sample(AuthCode)
    check_updated(AuthCode, code.id, code)
    with pytest.raises(Invalid, match="changed its key"):
        check_updated(AuthCode, "other", code)
    with pytest.raises(Invalid, match="returned Keys"):
        check_updated(AuthCode, code.id, Keys())
