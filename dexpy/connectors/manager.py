"""The connectors in force: read from storage (where config and API writes put them), opened on first use and
reopened when their stored record changes, so connectors added through the API need no restart."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from dexpy.connectors.base import Closable, build_connector
from dexpy.connectors.local import LOCAL_CONNECTOR_TYPE, LocalConnector
from dexpy.model import ConnectorRecord
from dexpy.storage import NotFound, Storage

log = logging.getLogger(__name__)


class UnknownConnector(KeyError):
    pass


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
        self._open: dict[str, tuple[ConnectorRecord, object]] = {}
        self._lock = threading.Lock()

    def records(self) -> list[ConnectorRecord]:
        """Every configured connector, sorted by name as the login page lists them."""
        records = self._storage.list(ConnectorRecord)
        current = {r.id: r for r in records}
        self._retire(lambda connector_id, record: current.get(connector_id) != record)
        return sorted(records, key=lambda r: r.name.lower())

    def record(self, connector_id: str) -> ConnectorRecord:
        try:
            return self._storage.get(ConnectorRecord, connector_id)
        except NotFound:
            self._retire(lambda open_id, _: open_id == connector_id)
            raise UnknownConnector(connector_id) from None

    def get(self, connector_id: str) -> object:
        """The open connector for `connector_id`; UnknownConnector when there is none."""
        record = self.record(connector_id)
        with self._lock:
            cached = self._open.get(connector_id)
            if cached is not None and cached[0] == record:
                return cached[1]
            connector = self._build(record)
            self._open[connector_id] = (record, connector)
        if cached is not None:
            _close(connector_id, cached[1])
        return connector

    def _build(self, record: ConnectorRecord) -> object:
        if record.type == LOCAL_CONNECTOR_TYPE:
            return LocalConnector(self._storage)
        return build_connector(record.type, json.loads(record.config or b"{}"))

    def _retire(self, stale: Callable[[str, ConnectorRecord], bool]) -> None:
        """Drop the open connectors `stale` picks, then close them (outside the lock: closing may wait on the
        network)."""
        with self._lock:
            retired = [(i, self._open.pop(i)[1]) for i, (record, _) in list(self._open.items()) if stale(i, record)]
        for connector_id, connector in retired:
            _close(connector_id, connector)

    def close_all(self) -> None:
        """At shutdown: close every open connector (an LDAP connector's pooled connections)."""
        self._retire(lambda _id, _record: True)

    def open_all(self) -> None:
        """Open every connector now, so that start-up fails on a bad connector config."""
        for record in self.records():
            self.get(record.id)


def _close(connector_id: str, connector: object) -> None:
    """A connector that fails to close must not fail the login that noticed its record changed."""
    if isinstance(connector, Closable):
        try:
            connector.close()
        except Exception:
            log.warning("closing the replaced connector %s failed", connector_id, exc_info=True)
