"""The Storage contract, run against every backend in `conftest.BACKENDS` for every record kind."""

from __future__ import annotations

import dataclasses
import threading
import typing
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from dexpy.model import EXPIRING_KINDS, KEYS_KEY, RECORD_KINDS, Client, ConnectorRecord, Keys
from dexpy.storage import AlreadyExists, Invalid, NotFound, Storage
from dexpy.storage.codec import require_kind
from tests.storage.samples import T0, sample, with_expiry

by_kind = pytest.mark.parametrize("kind", RECORD_KINDS, ids=lambda kind: kind.KIND)
by_expiring_kind = pytest.mark.parametrize("kind", EXPIRING_KINDS, ids=lambda kind: kind.KIND)


class Boom(Exception):
    pass


_TOUCH: dict[Any, Callable[[Any], Any]] = {
    list[str]: lambda value: [*value, "changed"],
    list[bytes]: lambda value: [*value, b"changed"],
    datetime: lambda value: value + timedelta(seconds=1),
    bytes: lambda value: value + b"!",
}


def touched(record: Any) -> Any:
    """A copy with every field of a type in `_TOUCH` changed: a change any kind can take."""
    hints = typing.get_type_hints(type(record))
    changes = {
        field.name: _TOUCH[hints[field.name]](getattr(record, field.name))
        for field in dataclasses.fields(record)
        if hints[field.name] in _TOUCH
    }
    assert changes, f"{type(record).__name__} has no field touched() can change"
    return dataclasses.replace(record, **changes)


def scribble(record: Any) -> None:
    """Mutate a record in place, the way careless caller code would."""
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, (list, dict)):
            value.clear()


@by_kind
def test_created_record_reads_back_equal(storage: Storage, kind: type) -> None:
    record = sample(kind)
    storage.create(record)
    assert storage.get(kind, record.key) == record
    assert storage.list(kind) == [record]


@by_kind
def test_create_of_an_existing_key_is_refused(storage: Storage, kind: type) -> None:
    storage.create(sample(kind))
    with pytest.raises(AlreadyExists):
        storage.create(touched(sample(kind)))
    assert storage.get(kind, sample(kind).key) == sample(kind)


@by_kind
@pytest.mark.parametrize(
    "verb",
    [
        lambda s, kind, key: s.get(kind, key),
        lambda s, kind, key: s.update(kind, key, lambda r: r),
        lambda s, kind, key: s.delete(kind, key),
    ],
    ids=["get", "update", "delete"],
)
def test_missing_record_is_not_found(storage: Storage, kind: type, verb: Callable[..., object]) -> None:
    with pytest.raises(NotFound):
        verb(storage, kind, sample(kind).key)


@by_kind
def test_list_holds_every_record_of_its_kind_only(storage: Storage, kind: type) -> None:
    records = [sample(kind, 1), sample(kind, 2)] if kind is not Keys else [sample(kind)]
    for record in records:
        storage.create(record)
    other = ConnectorRecord if kind is Client else Client
    storage.create(sample(other, 3))
    assert sorted(storage.list(kind), key=lambda r: r.key) == records


@by_kind
def test_get_many_answers_the_stored_keys_and_leaves_out_the_absent(storage: Storage, kind: type) -> None:
    records = [sample(kind, 1), sample(kind, 2)] if kind is not Keys else [sample(kind)]
    for record in records:
        storage.create(record)
    absent = [] if kind is Keys else [sample(kind, 3).key]
    keys = [r.key for r in records]
    found = storage.get_many(kind, [keys[-1], *absent, *keys])
    assert found == {r.key: r for r in records}
    assert storage.get_many(kind, []) == {} and storage.get_many(kind, absent) == {}
    scribble(found[keys[0]])
    assert storage.get(kind, keys[0]) == records[0]  # a private copy


def test_same_key_in_two_kinds_does_not_collide(storage: Storage) -> None:
    client, conn = Client(id="shared-id", name="a client"), ConnectorRecord(id="shared-id", type="ldap", name="c")
    storage.create(client)
    storage.create(conn)
    storage.delete(Client, "shared-id")
    assert storage.get(ConnectorRecord, "shared-id") == conn


def test_keys_with_odd_characters_are_kept_apart(storage: Storage) -> None:
    ids = ["a/b", "a b", "ä:ß.😀", "A/B", "a%2Fb"]
    for id_ in ids:
        storage.create(Client(id=id_, name=id_))
    assert [storage.get(Client, id_).name for id_ in ids] == ids


@by_kind
def test_update_stores_and_returns_the_updaters_result(storage: Storage, kind: type) -> None:
    record = sample(kind)
    storage.create(record)
    seen: list[object] = []

    def updater(current: Any) -> Any:
        seen.append(current)
        return touched(current)

    returned = storage.update(kind, record.key, updater)
    assert seen[-1] == record
    assert returned == touched(record) != record
    assert storage.get(kind, record.key) == touched(record)


@by_kind
def test_raising_updater_aborts_and_leaves_the_record(storage: Storage, kind: type) -> None:
    record = sample(kind)
    storage.create(record)

    def updater(current: Any) -> Any:
        scribble(current)
        raise Boom("no")

    with pytest.raises(Boom):
        storage.update(kind, record.key, updater)
    assert storage.get(kind, record.key) == record


def test_updater_may_not_change_the_key(storage: Storage) -> None:
    storage.create(Client(id="one"))
    with pytest.raises(Invalid):
        storage.update(Client, "one", lambda c: dataclasses.replace(c, id="two"))
    assert [c.id for c in storage.list(Client)] == ["one"]


@by_kind
def test_records_handed_in_and_out_are_private_copies(storage: Storage, kind: type) -> None:
    key = sample(kind).key
    created = sample(kind)
    storage.create(created)
    scribble(created)
    scribble(storage.get(kind, key))
    scribble(storage.list(kind)[0])
    scribble(storage.update(kind, key, lambda r: r))
    assert storage.get(kind, key) == sample(kind)


@by_kind
def test_delete_removes_only_that_record(storage: Storage, kind: type) -> None:
    storage.create(sample(kind, 1))
    storage.delete(kind, sample(kind, 1).key)
    with pytest.raises(NotFound):
        storage.get(kind, sample(kind, 1).key)
    if kind is not Keys:
        storage.create(sample(kind, 1))
        storage.create(sample(kind, 2))
        storage.delete(kind, sample(kind, 1).key)
        assert storage.list(kind) == [sample(kind, 2)]


def test_keys_are_a_singleton(storage: Storage) -> None:
    storage.create(Keys())
    with pytest.raises(AlreadyExists):
        storage.create(sample(Keys))
    storage.update(Keys, KEYS_KEY, lambda _: sample(Keys))
    assert storage.list(Keys) == [sample(Keys)]
    assert storage.get(Keys, KEYS_KEY).signing_key_pub == sample(Keys).signing_key_pub


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {kind: n for kind, n in counts.items() if n}


def test_garbage_collect_removes_only_expired_records(storage: Storage) -> None:
    now = T0 + timedelta(days=30)
    for kind in EXPIRING_KINDS:
        storage.create(with_expiry(sample(kind, 1), now - timedelta(microseconds=1)))
        storage.create(with_expiry(sample(kind, 2), now))
    durable = [sample(kind) for kind in RECORD_KINDS if kind not in EXPIRING_KINDS]
    for record in durable:
        storage.create(record)

    assert nonzero(storage.garbage_collect(now)) == {require_kind(kind): 1 for kind in EXPIRING_KINDS}

    for kind in EXPIRING_KINDS:
        assert storage.list(kind) == [with_expiry(sample(kind, 2), now)]
    for record in durable:
        assert storage.get(type(record), record.key) == record
    assert nonzero(storage.garbage_collect(now)) == {}


@by_expiring_kind
def test_garbage_collect_sees_an_expiry_moved_by_update(storage: Storage, kind: type) -> None:
    record = with_expiry(sample(kind), T0 + timedelta(hours=1))
    storage.create(record)
    assert nonzero(storage.garbage_collect(T0)) == {}
    storage.update(kind, record.key, lambda r: with_expiry(r, T0 - timedelta(hours=1)))
    assert nonzero(storage.garbage_collect(T0)) == {require_kind(kind): 1}


def test_concurrent_updates_lose_nothing(storage: Storage) -> None:
    """Each thread appends its mark through update; a lost compare-and-swap would drop a mark."""
    threads_count = 16
    storage.create(Client(id="counter"))
    start = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work(mark: str) -> None:
        try:
            start.wait()
            storage.update(Client, "counter", lambda c: dataclasses.replace(c, trusted_peers=[*c.trusted_peers, mark]))
        except BaseException as err:  # reported below; a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(storage.get(Client, "counter").trusted_peers) == sorted(f"t{i}" for i in range(threads_count))


def test_non_record_kind_is_refused(storage: Storage) -> None:
    with pytest.raises(TypeError):
        storage.list(dict)


def test_ping_answers_on_a_reachable_backend(storage: Storage) -> None:
    storage.ping()  # the down case is each backend's own test (test_sqlite, storage_kubernetes/test_faults)
