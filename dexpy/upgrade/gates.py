"""Pure predicates over Kubernetes API objects (plain dicts): is a step done, may an update start.

Rollout rules follow `kubectl rollout status` and the OpenShift CVO's per-kind checks: the controller has
seen the newest spec, every replica runs the new template, and they are available.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dexpy.upgrade.resources import ANNOTATION_VERSION, CONTROL_PLANE_LABELS, Component
from dexpy.upgrade.versions import Version, observed, parse_or_none

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Gate:
    ok: bool
    message: str = ""


PASS = Gate(True)


def template_image(workload: Obj, container: str) -> str | None:
    containers = workload.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    return next((c.get("image") for c in containers if c.get("name") == container), None)


def template_version(workload: Obj) -> Version | None:
    return pod_version(workload.get("spec", {}).get("template", {}))


def pod_version(pod: Obj) -> Version | None:
    """The version annotation a pod (or a workload's pod template) carries."""
    return parse_or_none((pod.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_VERSION))


def running_version(workload: Obj, container: str) -> Version | None:
    """The version annotation, else the container's image tag: a cluster installed without dexpy has no annotation."""
    tag = (template_image(workload, container) or "").rpartition(":")[2]
    return template_version(workload) or observed(tag)


def _generation_seen(workload: Obj) -> Gate:
    seen = workload.get("status", {}).get("observedGeneration") or 0
    generation = workload.get("metadata", {}).get("generation") or 0
    return PASS if seen >= generation else Gate(False, f"controller has not seen generation {generation} yet")


def deployment_rolled_out(deployment: Obj) -> Gate:
    seen = _generation_seen(deployment)
    if not seen.ok:
        return seen
    status = deployment.get("status", {})
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return Gate(False, f"rollout exceeded its progress deadline: {condition.get('message', '')}")
    wanted = deployment.get("spec", {}).get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    if updated < wanted:
        return Gate(False, f"{updated} of {wanted} replicas updated")
    if (status.get("replicas") or 0) > updated:
        return Gate(False, f"{status['replicas'] - updated} old replicas pending termination")
    available = status.get("availableReplicas") or 0
    if available < updated:
        return Gate(False, f"{available} of {updated} updated replicas available")
    return PASS


def has_available_pod(workload: Obj) -> bool:
    """The `Available` condition's test: a Deployment or DaemonSet with at least one available pod (a rolling
    update takes pods out one at a time by design, so fewer than wanted is not unavailable)."""
    status = workload.get("status") or {}
    return bool(status.get("availableReplicas" if workload.get("kind") == "Deployment" else "numberAvailable"))


def daemonset_rolled_out(daemonset: Obj) -> Gate:
    seen = _generation_seen(daemonset)
    if not seen.ok:
        return seen
    status = daemonset.get("status", {})
    desired = status.get("desiredNumberScheduled") or 0
    if desired == 0:
        return Gate(False, "no pods scheduled")
    updated = status.get("updatedNumberScheduled") or 0
    if updated < desired:
        return Gate(False, f"{updated} of {desired} pods updated")
    available = status.get("numberAvailable") or 0
    if available < desired:
        return Gate(False, f"{available} of {desired} pods available")
    return PASS


def rolled_out(workload: Obj) -> Gate:
    return deployment_rolled_out(workload) if workload.get("kind") == "Deployment" else daemonset_rolled_out(workload)


def at_image(workload: Obj, container: str, image: str, version: Version) -> Gate:
    """The template asks for the image and carries the version annotation, and every pod runs it."""
    found = template_image(workload, container)
    if found != image:
        return Gate(False, f"container {container} runs {found}, not {image}")
    if template_version(workload) != version:
        return Gate(False, f"pod template is not annotated with version {version}")
    return rolled_out(workload)


def node_ready(node: Obj) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def kubelet_version(node: Obj) -> Version | None:
    return observed(node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion"))


def node_at_version(node: Obj, version: Version) -> Gate:
    name = node.get("metadata", {}).get("name")
    found = kubelet_version(node)
    if found != version:
        return Gate(False, f"node {name} reports kubelet {found}, waiting for {version.kubelet}")
    if not node_ready(node):
        return Gate(False, f"node {name} is not Ready")
    return PASS


def is_control_plane(node: Obj) -> bool:
    labels = node.get("metadata", {}).get("labels") or {}
    return any(label in labels for label in CONTROL_PLANE_LABELS)


def evictable(pod: Obj) -> bool:
    """Pods a drain must move: not DaemonSet-managed, not a static mirror pod, not finished."""
    metadata = pod.get("metadata", {})
    if any(owner.get("kind") == "DaemonSet" for owner in metadata.get("ownerReferences") or []):
        return False
    if "kubernetes.io/config.mirror" in (metadata.get("annotations") or {}):
        return False
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


def job_outcome(job: Obj) -> str | None:
    """`Complete`, `Failed`, or None while it runs."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def _scaled(value: int | str | None, total: int, default: str, round_up: bool) -> int:
    value = default if value is None else value
    if isinstance(value, int):
        return value
    fraction = total * int(value.rstrip("%")) / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def surge_room(deployment: Obj) -> Gate:
    """A new pod can start before the last old one stops (Tectonic's `maxUnavailable: 0` rule)."""
    name = deployment.get("metadata", {}).get("name")
    spec = deployment.get("spec", {})
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return Gate(False, f"Deployment {name} uses Recreate: the old version stops before the new one runs")
    replicas = spec.get("replicas", 1)
    rolling = strategy.get("rollingUpdate") or {}
    unavailable = _scaled(rolling.get("maxUnavailable"), replicas, "25%", round_up=False)
    surge = _scaled(rolling.get("maxSurge"), replicas, "25%", round_up=True)
    if unavailable == 0 and surge == 0:
        unavailable = 1  # what the Deployment controller does with two zeros
    if replicas - unavailable < 1:
        return Gate(False, f"Deployment {name} may stop every old replica before a new one runs; set maxUnavailable: 0")
    return PASS


def preflight(
    *,
    nodes: Iterable[Obj],
    workloads: Iterable[tuple[Component, Obj]],
    current: Version,
) -> list[str]:
    """Problems that forbid starting an update (version checks are made by `channels.choose_target`).

    `workloads` pairs each component with its workload; its version is read from its own container's image tag
    when the template has no version annotation.
    """
    problems: list[str] = []
    node_list = list(nodes)
    for node in node_list:
        if is_control_plane(node) and not node_ready(node):
            problems.append(f"control-plane node {node['metadata']['name']} is not Ready")
        elif (found := kubelet_version(node)) is not None and found != current:
            problems.append(f"node {node['metadata']['name']} runs kubelet {found}, not {current}")
    for component, workload in workloads:
        name = component.name
        version = running_version(workload, component.container)
        if version is not None and version != current:
            problems.append(f"{name} is at {version}, not at the current version {current}")
        health = rolled_out(workload)
        if not health.ok:
            problems.append(f"{name} is not healthy: {health.message}")
        if workload.get("kind") == "Deployment":
            room = surge_room(workload)
            if not room.ok:
                problems.append(room.message)
    return problems
