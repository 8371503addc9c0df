"""Typed views of the `upgrade.dexpy.io/v1alpha1` custom resources, parsed once from API dicts.

Parsing fills every default in one place and turns bad input into `InvalidResource` with the field path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dexpy.upgrade.versions import InvalidVersion, Version

GROUP = "upgrade.dexpy.io"
API_VERSION = f"{GROUP}/v1alpha1"
SINGLETON = "cluster"
ANNOTATION_VERSION = f"{GROUP}/version"
LABEL_CANARY = f"{GROUP}/canary"
LABEL_NODE_VERSION = f"{GROUP}/version"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class InvalidResource(ValueError):
    pass


@dataclass(frozen=True)
class Release:
    name: str
    version: Version
    channels: tuple[str, ...]
    previous: tuple[Version, ...]
    blocked: bool
    blocked_reason: str
    images: Mapping[str, str]
    url: str

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> Release:
        name = obj.get("metadata", {}).get("name", "?")
        spec = obj.get("spec") or {}
        try:
            return cls(
                name=name,
                version=Version.parse(spec.get("version")),
                channels=tuple(_strings(spec.get("channels"), "channels")),
                previous=tuple(Version.parse(v) for v in _strings(spec.get("previous"), "previous")),
                blocked=bool(spec.get("blocked", False)),
                blocked_reason=str(spec.get("blockedReason", "")),
                images=dict(spec.get("images") or {}),
                url=str(spec.get("url", "")),
            )
        except (InvalidVersion, TypeError) as exc:
            raise InvalidResource(f"Release {name}: {exc}") from exc


@dataclass(frozen=True)
class Component:
    """Where a control-plane component runs and how to find it."""

    name: str
    kind: str
    namespace: str
    selector: Mapping[str, str]
    container: str
    per_node: bool = False

    @property
    def label_selector(self) -> str:
        return ",".join(f"{key}={value}" for key, value in sorted(self.selector.items()))


def _bootkube(name: str, kind: str, per_node: bool = False) -> Component:
    return Component(name, kind, "kube-system", {"k8s-app": name}, name, per_node)


DEFAULT_COMPONENTS = (
    _bootkube("kube-apiserver", "DaemonSet"),
    _bootkube("kube-scheduler", "Deployment"),
    _bootkube("kube-controller-manager", "Deployment"),
    _bootkube("kube-proxy", "DaemonSet"),
    _bootkube("kubelet", "DaemonSet", per_node=True),
)
"""The update order required by the version-skew policy: nothing may be newer than the apiserver."""


@dataclass(frozen=True)
class Window:
    days: tuple[str, ...]
    start: time
    end: time
    zone: ZoneInfo

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        clock = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            inside, day = self.start <= clock < self.end, local
        elif clock >= self.start:
            inside, day = True, local
        else:  # past midnight in a window that began the day before
            inside, day = clock < self.end, local - timedelta(days=1)
        return inside and DAYS[day.weekday()] in self.days


@dataclass(frozen=True)
class Strategy:
    step_timeout: timedelta = timedelta(minutes=10)
    max_unavailable: int | str = 1
    canary_count: int = 0
    canary_soak: timedelta = timedelta(0)
    drain_enabled: bool = True
    drain_timeout: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class Backup:
    policy: str = "Disabled"  # Required | BestEffort | Disabled
    image: str = "registry.k8s.io/etcd:3.5.15-0"
    namespace: str = "kube-system"
    node_selector: Mapping[str, str] | None = None
    host_path: str = "/var/lib/dexpy-etcd-backups"


@dataclass(frozen=True)
class ClusterVersionSpec:
    channel: str = "stable"
    desired_version: Version | None = None
    automatic_updates: bool = False
    paused: bool = False
    preflight_only: bool = False
    window: Window | None = None
    strategy: Strategy = Strategy()
    rollback_automatic: bool = False
    backup: Backup = Backup()
    components: tuple[Component, ...] = DEFAULT_COMPONENTS

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> ClusterVersionSpec:
        spec = obj.get("spec") or {}
        try:
            desired = spec.get("desiredVersion") or None
            return cls(
                channel=str(spec.get("channel", "stable")),
                desired_version=Version.parse(desired) if desired else None,
                automatic_updates=bool(spec.get("automaticUpdates", False)),
                paused=bool(spec.get("paused", False)),
                preflight_only=spec.get("mode", "Apply") == "Preflight",
                window=_window(spec["window"]) if spec.get("window") else None,
                strategy=_strategy(spec.get("strategy") or {}),
                rollback_automatic=bool((spec.get("rollback") or {}).get("automatic", False)),
                backup=_backup(spec.get("backup") or {}),
                components=_components(spec["components"]) if spec.get("components") else DEFAULT_COMPONENTS,
            )
        except (InvalidVersion, KeyError, TypeError, ValueError) as exc:
            raise InvalidResource(f"ClusterVersion spec: {exc}") from exc


def _strings(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{field} must be a list of strings")
    return value


def _seconds(value: object, default: timedelta) -> timedelta:
    return default if value is None else timedelta(seconds=int(value))  # type: ignore[call-overload]


def _window(raw: Mapping[str, Any]) -> Window:
    days = tuple(day.lower()[:3] for day in _strings(raw.get("days"), "window.days")) or DAYS
    try:
        zone = ZoneInfo(raw.get("timeZone", "UTC"))
    except ZoneInfoNotFoundError as exc:
        raise ValueError(f"window.timeZone: unknown zone {raw.get('timeZone')!r}") from exc
    return Window(days, time.fromisoformat(raw["startTime"]), time.fromisoformat(raw["endTime"]), zone)


def _strategy(raw: Mapping[str, Any]) -> Strategy:
    nodes = raw.get("nodes") or {}
    canary = nodes.get("canary") or {}
    drain = nodes.get("drain") or {}
    default = Strategy()
    return Strategy(
        step_timeout=_seconds(raw.get("stepTimeoutSeconds"), default.step_timeout),
        max_unavailable=_max_unavailable(nodes.get("maxUnavailable", default.max_unavailable)),
        canary_count=int(canary.get("count", 0)),
        canary_soak=_seconds(canary.get("soakSeconds"), default.canary_soak),
        drain_enabled=bool(drain.get("enabled", True)),
        drain_timeout=_seconds(drain.get("timeoutSeconds"), default.drain_timeout),
    )


def _max_unavailable(value: object) -> int | str:
    """An int >= 0 or a percentage "N%": the CRD's int-or-string lets anything else through."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+%", value):
        return value
    raise ValueError(f"strategy.nodes.maxUnavailable: {value!r} is not a count >= 0 or a percentage like '25%'")


def _backup(raw: Mapping[str, Any]) -> Backup:
    default = Backup()
    policy = raw.get("policy", default.policy)
    if policy not in ("Required", "BestEffort", "Disabled"):
        raise ValueError(f"backup.policy: {policy!r} is not Required, BestEffort or Disabled")
    return Backup(
        policy=policy,
        image=raw.get("image", default.image),
        namespace=raw.get("namespace", default.namespace),
        node_selector=raw.get("nodeSelector"),
        host_path=raw.get("hostPath", default.host_path),
    )


def _components(raw: list[Mapping[str, Any]]) -> tuple[Component, ...]:
    return tuple(
        Component(
            name=item["name"],
            kind=item.get("kind", "DaemonSet"),
            namespace=item.get("namespace", "kube-system"),
            selector=dict(item.get("selector") or {"k8s-app": item["name"]}),
            container=item.get("container", item["name"]),
            per_node=bool(item.get("perNode", False)),
        )
        for item in raw
    )
