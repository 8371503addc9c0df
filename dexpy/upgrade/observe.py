"""Reading the cluster into the planner's views: one pass, no memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dexpy.upgrade import errors, gates, paths
from dexpy.upgrade.kube import Kube
from dexpy.upgrade.plan import DRAINING, PHASE, VERIFYING, ComponentView, NodeView
from dexpy.upgrade.resources import Component, InvalidResource, Release
from dexpy.upgrade.versions import Version, parse_or_none


def releases(kube: Kube) -> tuple[list[Release], dict[str, str]]:
    """Parsed Releases, and for each malformed one the version it claims (or its name) with the problem."""
    found: list[Release] = []
    malformed: dict[str, str] = {}
    for obj in kube.list(paths.RELEASES):
        try:
            found.append(Release.from_object(obj))
        except InvalidResource as exc:
            claimed = str((obj.get("spec") or {}).get("version") or obj["metadata"]["name"]).lstrip("v")
            malformed[claimed] = str(exc)
    return found, malformed


def components(kube: Kube, wanted: Sequence[Component]) -> list[ComponentView]:
    views = []
    for component in wanted:
        found = kube.list(paths.workloads(component), labelSelector=component.label_selector)
        if len(found) != 1:
            raise errors.ComponentNotFound(
                f"{component.name}: found {len(found)} {component.kind}s in {component.namespace} "
                f"matching {component.label_selector}, expected exactly one"
            )
        workload = found[0]
        workload.setdefault("kind", component.kind)
        if gates.template_image(workload, component.container) is None:
            raise errors.ComponentNotFound(f"{component.name}: {component.kind} has no container {component.container}")
        views.append(ComponentView(component, workload))
    return views


def nodes(kube: Kube, agent: Component | None = None) -> list[NodeView]:
    """Nodes; for the ones being drained, the pods still to evict and those still terminating; for the ones being
    verified, the versions of the per-node `agent` component's pods on them."""
    views = []
    for node in kube.list(paths.NODES):
        name = node["metadata"]["name"]
        phase = (node["metadata"].get("annotations") or {}).get(PHASE)
        if phase == VERIFYING and agent is not None:
            selector = {"labelSelector": agent.label_selector, "fieldSelector": f"spec.nodeName={name}"}
            pods = [pod for pod in kube.list(paths.pods(agent.namespace), **selector) if not _terminating(pod)]
            views.append(NodeView(node, agent_versions=tuple(gates.pod_version(pod) for pod in pods)))
            continue
        if phase != DRAINING:
            views.append(NodeView(node))
            continue
        on_node = kube.list(paths.ALL_PODS, fieldSelector=f"spec.nodeName={name}")
        movable = [pod for pod in on_node if gates.evictable(pod)]
        views.append(
            NodeView(
                node,
                pods_to_evict=tuple(_key(p) for p in movable if not _terminating(p)),
                pods_terminating=tuple(_key(p) for p in movable if _terminating(p)),
            )
        )
    return views


def _key(pod: dict[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def _terminating(pod: dict[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def current_version(recorded: object, views: Sequence[ComponentView]) -> Version:
    """The version the status records, else what the first component (the apiserver) runs."""
    found = parse_or_none(recorded)
    if found is not None:
        return found
    first = views[0]
    found = gates.running_version(first.workload, first.component.container)
    if found is None:
        raise errors.InvalidSpec(f"cannot tell the current version from {first.component.name}'s image tag")
    return found
