"""The connectors in force: read from storage (where config and API writes put them), opened on first use and
reopened when their stored record changes, so connectors added through the API need no restart."""

from __future__ import annotations

import json
import threading

from dexpy.connectors.base import build_connector
from dexpy.connectors.local import LOCAL_CONNECTOR_TYPE, LocalConnector
from dexpy.model import ConnectorRecord
from dexpy.storage import NotFound, Storage


class UnknownConnector(KeyError):
    pass


class ConnectorManager:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._open: dict[str, tuple[ConnectorRecord, object]] = {}
        self._lock = threading.Lock()

    def records(self) -> list[ConnectorRecord]:
        """Every configured connector, sorted by name as the login page lists them."""
        return sorted(self._storage.list(ConnectorRecord), key=lambda r: r.name.lower())

    def record(self, connector_id: str) -> ConnectorRecord:
        try:
            return self._storage.get(ConnectorRecord, connector_id)
        except NotFound:
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
            return connector

    def _build(self, record: ConnectorRecord) -> object:
        if record.type == LOCAL_CONNECTOR_TYPE:
            return LocalConnector(self._storage)
        return build_connector(record.type, json.loads(record.config or b"{}"))

    def open_all(self) -> None:
        """Open every connector now, so that start-up fails on a bad connector config."""
        for record in self.records():
            self.get(record.id)
