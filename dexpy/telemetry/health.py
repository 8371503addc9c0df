"""Readiness: a storage read (never a write) decides it; a `ping()` of every connector that has one is reported.

A connector's outage leaves the pod ready, with `status: degraded` and the failed check in the JSON. The
directory is shared by every replica: failing readiness would pull them all out of the Service at once, and
with them discovery and the keys the kube-apiserver fetches, other connectors' logins and refreshes, and the
login page that tells users the directory is unavailable."""

from __future__ import annotations

from dataclasses import dataclass, field

from dexpy.connectors.base import ConnectorError, Pingable, implements
from dexpy.oidc.provider import Provider
from dexpy.storage import StorageError


STORAGE = "storage"


@dataclass
class Report:
    checks: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return bool(self.checks.get(STORAGE, {}).get("ok"))

    def add(self, name: str, error: Exception | None) -> None:
        self.checks[name] = {"ok": True} if error is None else {"ok": False, "error": str(error) or type(error).__name__}

    def as_json(self) -> dict[str, object]:
        healthy = all(c["ok"] for c in self.checks.values())
        return {"status": "ok" if healthy else "degraded" if self.ready else "unavailable", "checks": self.checks}


def check(provider: Provider) -> Report:
    report = Report()
    try:
        provider.storage.ping()
        report.add(STORAGE, None)
    except StorageError as exc:
        report.add(STORAGE, exc)
        return report  # connectors are read from storage too
    try:
        records = provider.connectors.records()
    except StorageError as exc:
        report.add(STORAGE, exc)
        return report
    for record in records:
        try:
            connector = provider.connectors.get(record.id)
            if implements(connector, Pingable):
                connector.ping()
            report.add(f"connector:{record.id}", None)
        except (ConnectorError, StorageError) as exc:
            report.add(f"connector:{record.id}", exc)
    return report
