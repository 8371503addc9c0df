"""Readiness: a storage read (never a write) and a `ping()` of every connector that has one."""

from __future__ import annotations

from dataclasses import dataclass, field

from dexpy.connectors.base import ConnectorError, Pingable
from dexpy.oidc.provider import Provider
from dexpy.storage import StorageError


@dataclass
class Report:
    checks: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(c["ok"] for c in self.checks.values())

    def add(self, name: str, error: Exception | None) -> None:
        self.checks[name] = {"ok": True} if error is None else {"ok": False, "error": str(error) or type(error).__name__}

    def as_json(self) -> dict[str, object]:
        return {"status": "ok" if self.ready else "unavailable", "checks": self.checks}


def check(provider: Provider) -> Report:
    report = Report()
    try:
        provider.storage.ping()
        report.add("storage", None)
    except StorageError as exc:
        report.add("storage", exc)
        return report  # connectors are read from storage too
    try:
        records = provider.connectors.records()
    except StorageError as exc:
        report.add("storage", exc)
        return report
    for record in records:
        try:
            connector = provider.connectors.get(record.id)
            if isinstance(connector, Pingable):
                connector.ping()
            report.add(f"connector:{record.id}", None)
        except (ConnectorError, StorageError) as exc:
            report.add(f"connector:{record.id}", exc)
    return report
