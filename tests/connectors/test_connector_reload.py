"""An LDAP connector changed or deleted through the gRPC API, on a running dexpy against the real slapd: the new
config is in force at once, and the instance it replaces is closed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import ldap3
import pytest

from dexpy.api import pb, rpc
from dexpy.api.server import start_grpc, stop_grpc
from dexpy.config import GRPCConfig
from dexpy.connectors.base import Scopes
from dexpy.connectors.ldap import LDAPConnector
from dexpy.connectors.manager import ConnectorManager
from dexpy.model import ConnectorRecord
from dexpy.storage.memory import MemoryStorage
from tests.connectors.conftest import dex_example_config, merged
from tests.fixtures.dexpy_server import free_port, run_dexpy
from tests.fixtures.rp import RelyingParty
from tests.fixtures.slapd import Slapd

STAFF_ONLY = {"userSearch": {"filter": "(employeeType=staff)"}}  # john is staff, jane is not


@dataclass
class Live:
    issuer: str
    stub: Any
    connectors: ConnectorManager
    slapd: Slapd

    def logs_in(self, username: str, password: str) -> bool:
        """A login in a fresh browser (no session to sign on with) through the connector."""
        response = RelyingParty(self.issuer).authorize(username=username, password=password, connector_id="ldap",
                                                       scope="openid")
        return response.is_redirect and "code=" in response.headers["location"]

    def login_page(self) -> str:
        rp = RelyingParty(self.issuer)
        return rp.browse(rp.auth_url()).text

    def update(self, **changes: Any) -> None:
        config = json.dumps(merged(dex_example_config(self.slapd), changes)).encode()
        assert not self.stub.UpdateConnector(pb.UpdateConnectorReq(id="ldap", new_config=config)).not_found

    def instance(self) -> LDAPConnector:
        connector = self.connectors.get("ldap")
        assert isinstance(connector, LDAPConnector)
        return connector


def pooled(connector: LDAPConnector) -> list[ldap3.Connection]:
    """The idle connections of both pools (white box: what `close()` must shut)."""
    conns = [*connector._search_pool._idle, *connector._bind_pool._idle]
    assert conns and not any(c.closed for c in conns)
    return conns


@pytest.fixture
def live(slapd: Slapd, tmp_path: Path) -> Iterator[Live]:
    """dexpy with its gRPC API (plaintext, loopback) and an LDAP connector created through it."""
    with run_dexpy(tmp_path) as server:
        addr = f"127.0.0.1:{free_port()}"
        grpc_server, _ = start_grpc(GRPCConfig(addr=addr), server.runtime.provider)
        try:
            stub = rpc.DexStub(grpc.insecure_channel(addr))
            connector = pb.Connector(id="ldap", type="ldap", name="OpenLDAP",
                                     config=json.dumps(dex_example_config(slapd)).encode())
            assert not stub.CreateConnector(pb.CreateConnectorReq(connector=connector)).already_exists
            yield Live(server.issuer, stub, server.runtime.provider.connectors, slapd)
        finally:
            stop_grpc(grpc_server, grace=1)


def test_an_updated_connector_uses_the_new_config_and_the_old_instance_is_closed(live: Live) -> None:
    assert live.logs_in("janedoe@example.com", "foo")
    old = live.instance()
    old_conns = pooled(old)

    live.update(**STAFF_ONLY)
    assert not live.logs_in("janedoe@example.com", "foo")
    assert live.logs_in("johndoe@example.com", "bar")
    assert live.instance() is not old
    assert all(c.closed for c in old_conns)


def test_a_login_in_flight_on_the_replaced_instance_finishes(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replaced between its search and its bind, a login completes under the config it started with."""
    old = live.instance()
    assert old.login(Scopes(), "janedoe@example.com", "foo") is not None
    old_conns = pooled(old)
    searched, replaced = threading.Event(), threading.Event()
    bind = old._password_ok

    def paused_bind(dn: str, password: str) -> bool:
        searched.set()
        assert replaced.wait(5)
        return bind(dn, password)

    monkeypatch.setattr(old, "_password_ok", paused_bind)
    result: list[object] = []
    login = threading.Thread(target=lambda: result.append(old.login(Scopes(), "janedoe@example.com", "foo")))
    login.start()
    assert searched.wait(5)
    live.update(**STAFF_ONLY)
    assert live.instance() is not old  # the manager notices the change, and closes `old`
    assert all(c.closed for c in old_conns)
    replaced.set()
    login.join(5)
    assert result and result[0] is not None
    assert not old._search_pool._idle and not old._bind_pool._idle  # what it used after the close is closed too


def test_a_deleted_connector_is_gone_and_closed(live: Live) -> None:
    assert live.logs_in("janedoe@example.com", "foo")
    old_conns = pooled(live.instance())
    assert "OpenLDAP" in live.login_page()

    assert not live.stub.DeleteConnector(pb.DeleteConnectorReq(id="ldap")).not_found
    assert "OpenLDAP" not in live.login_page()
    assert all(c.closed for c in old_conns)
    assert not live.logs_in("janedoe@example.com", "foo")


def test_shutdown_closes_the_connectors_connections(slapd: Slapd, tmp_path: Path) -> None:
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": dex_example_config(slapd)}
    with run_dexpy(tmp_path, f"connectors: [{json.dumps(connector)}]\n") as server:
        ldap = server.runtime.provider.connectors.get("ldap")
        assert isinstance(ldap, LDAPConnector) and ldap.login(Scopes(), "janedoe@example.com", "foo") is not None
        conns = pooled(ldap)
    assert all(c.closed for c in conns)


class PausingStore(MemoryStorage):
    """Memory storage where the next read of a connector record, by the thread `pause_reader` names, returns
    what it read and then waits until `go` is set: a reader overtaken by an update and by another reader."""

    def __init__(self) -> None:
        super().__init__()
        self.reader: threading.Thread | None = None
        self.read, self.go = threading.Event(), threading.Event()

    def get(self, kind: Any, key: str) -> Any:
        found = super().get(kind, key)
        if kind is ConnectorRecord and threading.current_thread() is self.reader:
            self.reader = None
            self.read.set()
            assert self.go.wait(5)
        return found


def test_a_reader_overtaken_by_an_update_does_not_replace_the_newer_instance() -> None:
    store = PausingStore()
    record = ConnectorRecord(id="pw", type="mockPassword", name="Mock",
                             config=json.dumps({"username": "jane", "password": "old"}).encode())
    store.create(record)
    manager = ConnectorManager(store)
    got: list[object] = []
    slow = threading.Thread(target=lambda: got.append(manager.get("pw")))
    store.reader = slow
    slow.start()
    assert store.read.wait(5)  # the slow reader holds the old record
    store.update(ConnectorRecord, "pw", lambda r: replace(r, config=json.dumps({"username": "jane",
                                                                                "password": "new"}).encode()))
    newer = manager.get("pw")  # built from the new record meanwhile
    store.go.set()
    slow.join(5)
    assert got == [newer] and manager.get("pw") is newer
    assert newer.login(Scopes(), "jane", "new") is not None  # type: ignore[attr-defined]
