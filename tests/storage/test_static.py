from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

from dexpy.model import AuthCode, Client, ConnectorRecord, Password
from dexpy.storage import Invalid, NotFound, Storage
from dexpy.storage.static import StaticStorage
from tests.storage.samples import T0, auth_code, client, connector, password, with_expiry

STATIC_CLIENT = dataclasses.replace(client(1), name="from config")
STATIC_PASSWORD = dataclasses.replace(password(1), email="Admin@Example.COM")
STATIC_CONNECTOR = dataclasses.replace(connector(1), name="from config")


@pytest.fixture
def overlay(storage: Storage) -> StaticStorage:
    storage.create(client(1))  # shadowed by the config's client-1
    storage.create(client(2))
    return StaticStorage(storage, clients=[STATIC_CLIENT], passwords=[STATIC_PASSWORD], connectors=[STATIC_CONNECTOR])


def test_config_records_win_over_stored_ones(overlay: StaticStorage) -> None:
    assert overlay.get(Client, "client-1") == STATIC_CLIENT
    assert overlay.get(Client, "client-2") == client(2)
    assert overlay.get_many(Client, ["client-1", "client-2", "client-3"]) == {"client-1": STATIC_CLIENT,
                                                                             "client-2": client(2)}
    assert overlay.get_many(Password, ["ADMIN@example.com"]) == {"ADMIN@example.com": STATIC_PASSWORD}
    assert overlay.list(Client) == [STATIC_CLIENT, client(2)]
    assert overlay.list(ConnectorRecord) == [STATIC_CONNECTOR]


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.create(dataclasses.replace(client(1), name="new")),
        lambda s: s.update(Client, "client-1", lambda c: c),
        lambda s: s.delete(Client, "client-1"),
        lambda s: s.create(dataclasses.replace(password(1), email="ADMIN@example.com")),
        lambda s: s.update(Password, "admin@example.com", lambda p: p),
        lambda s: s.delete(Password, "Admin@Example.com"),
        lambda s: s.create(connector(1)),
        lambda s: s.update(ConnectorRecord, "conn-1", lambda c: c),
        lambda s: s.delete(ConnectorRecord, "conn-1"),
    ],
    ids=[
        "create-client",
        "update-client",
        "delete-client",
        "create-password",
        "update-password",
        "delete-password",
        "create-connector",
        "update-connector",
        "delete-connector",
    ],
)
def test_config_records_are_read_only(overlay: StaticStorage, write: Callable[[StaticStorage], object]) -> None:
    with pytest.raises(Invalid, match="read-only"):
        write(overlay)
    assert overlay.inner.get(Client, "client-1") == client(1)
    assert overlay.inner.list(Password) == []
    assert overlay.inner.list(ConnectorRecord) == []


def test_passwords_are_found_by_email_in_any_case(overlay: StaticStorage) -> None:
    assert overlay.get(Password, "ADMIN@example.com") == STATIC_PASSWORD
    overlay.create(password(2))
    assert overlay.get(Password, "User2@EXAMPLE.com") == password(2)
    overlay.update(Password, "USER2@example.com", lambda p: dataclasses.replace(p, name="renamed"))
    assert overlay.inner.get(Password, "user2@example.com").name == "renamed"
    overlay.delete(Password, "User2@Example.Com")
    assert [p.email for p in overlay.list(Password)] == [STATIC_PASSWORD.email]


def test_other_records_pass_through(overlay: StaticStorage) -> None:
    overlay.create(client(3))
    overlay.update(Client, "client-3", lambda c: dataclasses.replace(c, name="changed"))
    assert overlay.inner.get(Client, "client-3").name == "changed"
    overlay.delete(Client, "client-2")
    with pytest.raises(NotFound):
        overlay.get(Client, "client-2")
    overlay.create(with_expiry(auth_code(1), T0 - timedelta(seconds=1)))
    assert overlay.garbage_collect(T0)[AuthCode.KIND] == 1


def test_static_records_come_out_as_private_copies(overlay: StaticStorage) -> None:
    overlay.get(Client, "client-1").redirect_uris.clear()
    overlay.list(Client)[0].redirect_uris.clear()
    assert overlay.get(Client, "client-1") == STATIC_CLIENT
