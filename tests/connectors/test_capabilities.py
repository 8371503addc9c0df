"""What each built-in connector can do, as the login pages and grants ask it (`implements`, remembered per
class), agrees with a fresh `isinstance` check of the protocol."""

from __future__ import annotations

import pytest

from dexpy.connectors import base
from dexpy.connectors.base import (
    CallbackConnector,
    Closable,
    PasswordConnector,
    Pingable,
    RefreshConnector,
    TokenIdentityConnector,
    build_connector,
    implements,
)
from dexpy.connectors.local import LocalConnector
from dexpy.storage.memory import MemoryStorage
from tests.connectors.conftest import MakeLDAP

PROTOCOLS = (PasswordConnector, CallbackConnector, RefreshConnector, TokenIdentityConnector, Pingable, Closable)


def test_each_connector_does_what_its_class_does(make_ldap: MakeLDAP, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_IMPLEMENTS", {})
    connectors = [LocalConnector(MemoryStorage()), build_connector("mockCallback", {}),
                  build_connector("mockPassword", {"username": "u", "password": "p"}), make_ldap()]
    expected = {(type(c).__name__, p.__name__): isinstance(c, p) for c in connectors for p in PROTOCOLS}
    for _ in range(2):  # asked, then remembered
        assert {(type(c).__name__, p.__name__): implements(c, p) for c in connectors for p in PROTOCOLS} == expected
    assert expected[("LDAPConnector", "PasswordConnector")] and expected[("LDAPConnector", "RefreshConnector")]
    assert expected[("MockCallbackConnector", "CallbackConnector")]
    assert not expected[("MockCallbackConnector", "PasswordConnector")]
