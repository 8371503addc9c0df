"""The connectors in force: read from storage (where config and API writes put them), opened on first use and
reopened when their stored record changes, so connectors added through the API need no restart."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dexpy.connectors.base import Closable, build_connector, implements
from dexpy.connectors.local import LOCAL_CONNECTOR_TYPE, LocalConnector
from dexpy.loopwork import waits
from dexpy.model import ConnectorRecord
from dexpy.storage import NotFound, Storage

log = logging.getLogger(__name__)


class UnknownConnector(KeyError):
    pass


@dataclass(frozen=True)
class _Open:
    record: ConnectorRecord
    connector: object
    number: int


class ConnectorManager:
    """Keeps one open instance per connector, built from its stored record.

    An instance whose record changed or is gone is dropped and closed as soon as the manager sees it: at the
    next `get` of it, or at the next `records()` (login page, readiness checks). It is closed at once rather
    than when the calls running on it end, because callers hold it without a lease, so nothing tells when they
    are done. That is safe for LDAP: closing drops only idle pooled connections, so a login in flight keeps the
    one it holds and finishes under the old config (the closed pool then closes it instead of keeping it).
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._open: dict[str, _Open] = {}
        self._built = 0
        """How many instances were built so far: an instance numbered above what a reader saw before it read
        storage was built meanwhile, by a reader at least as recent, and is neither replaced nor retired."""
        self._lock = threading.Lock()

    def records(self) -> list[ConnectorRecord]:
        """Every configured connector, sorted by name as the login page lists them."""
        before = self._built
        records = self._storage.list(ConnectorRecord)
        current = {r.id: r for r in records}
        self._retire(lambda connector_id, record: current.get(connector_id) != record, before)
        return sorted(records, key=lambda r: r.name.lower())

    def record(self, connector_id: str) -> ConnectorRecord:
        before = self._built
        try:
            return self._storage.get(ConnectorRecord, connector_id)
        except NotFound:
            self._retire(lambda open_id, _: open_id == connector_id, before)
            raise UnknownConnector(connector_id) from None

    def get(self, connector_id: str) -> object:
        """The open connector for `connector_id`; UnknownConnector when there is none."""
        before = self._built
        record = self.record(connector_id)
        with self._lock:
            cached = self._open.get(connector_id)
            if cached is not None and (cached.record == record or cached.number > before):
                return cached.connector
            self._built += 1
            connector = self._build(record)
            self._open[connector_id] = _Open(record, connector, self._built)
        if cached is not None:
            _close(connector_id, cached.connector)
        return connector

    def _build(self, record: ConnectorRecord) -> object:
        if record.type == LOCAL_CONNECTOR_TYPE:
            return LocalConnector(self._storage)
        return build_connector(record.type, json.loads(record.config or b"{}"))

    def _retire(self, stale: Callable[[str, ConnectorRecord], bool], before: int) -> None:
        """Drop the open connectors `stale` picks among those built by `before`, then close them (outside the
        lock: closing may wait on the network)."""
        with self._lock:
            retired = [(i, self._open.pop(i).connector) for i, entry in list(self._open.items())
                       if entry.number <= before and stale(i, entry.record)]
        for connector_id, connector in retired:
            _close(connector_id, connector)

    def close_all(self) -> None:
        """At shutdown: close every open connector (an LDAP connector's pooled connections)."""
        self._retire(lambda _id, _record: True, self._built)

    def open_all(self) -> None:
        """Open every connector now, so that start-up fails on a bad connector config."""
        for record in self.records():
            self.get(record.id)


@waits  # an LDAP connector closes its pooled connections over the network
def _close(connector_id: str, connector: object) -> None:
    """A connector that fails to close must not fail the login that noticed its record changed."""
    if implements(connector, Closable):
        try:
            connector.close()
        except Exception:
            log.warning("closing the replaced connector %s failed", connector_id, exc_info=True)
