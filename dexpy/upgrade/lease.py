"""Leader election on a coordination.k8s.io/v1 Lease, so only one controller replica acts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dexpy.clock import Clock
from dexpy.upgrade import paths
from dexpy.upgrade.kube import ApiError, Conflict, Kube, NotFound
from dexpy.upgrade.status import micro_time

LEASE_NAME = "dexpy-upgrade-controller"


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str,
        identity: str,
        clock: Clock,
        name: str = LEASE_NAME,
        duration: timedelta = timedelta(seconds=15),
        renew_deadline: timedelta = timedelta(seconds=10),
    ) -> None:
        self._kube = kube
        self._path = paths.leases(namespace)
        self._name = name
        self._namespace = namespace
        self.identity = identity
        self._clock = clock
        self._duration = duration
        self._renew_deadline = renew_deadline  # shorter than the Lease, as in client-go: a margin for clock skew
        self._renewed: datetime | None = None

    def try_acquire(self) -> bool:
        """Take or renew the Lease; False while another live holder has it or a rival wrote first."""
        now = self._clock()
        self._renewed = None
        try:
            lease = self._kube.get(f"{self._path}/{self._name}")
        except NotFound:
            return self._write(None, now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = spec.get("renewTime")
        duration = timedelta(seconds=spec.get("leaseDurationSeconds") or self._duration.total_seconds())
        if holder and holder != self.identity and renewed and datetime.fromisoformat(renewed) + duration > now:
            return False
        return self._write(lease, now)

    def time_left(self) -> float:
        """Seconds this replica is still the leader by the clock alone (no API call): until the renew deadline of
        its last renewal passes; 0 once it has, or when it is not the leader. `Kube.guarded` asks it before writes."""
        if self._renewed is None:
            return 0.0
        return max(0.0, (self._renewed + self._renew_deadline - self._clock()).total_seconds())

    def release(self) -> None:
        """Best effort on the way out: if it fails, the Lease simply expires."""
        try:
            lease = self._kube.get(f"{self._path}/{self._name}")
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = None
                self._kube.replace(f"{self._path}/{self._name}", lease)
        except ApiError:
            pass

    def _write(self, lease: dict[str, Any] | None, now: datetime) -> bool:
        spec = dict((lease or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = micro_time(now)
            spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + (1 if lease else 0)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=int(self._duration.total_seconds()),
            renewTime=micro_time(now),
        )
        try:
            if lease is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self._name, "namespace": self._namespace},
                    "spec": spec,
                }
                self._kube.create(self._path, body)
            else:
                self._kube.replace(f"{self._path}/{self._name}", {**lease, "spec": spec})
        except Conflict:
            return False
        self._renewed = now
        return True
