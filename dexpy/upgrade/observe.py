"""Reading the cluster into the planner's views: one pass, no memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dexpy.upgrade import channels, errors, gates, paths, plan
from dexpy.upgrade.channels import Target
from dexpy.upgrade.kube import Kube
from dexpy.upgrade.plan import DRAINING, PHASE, VERIFYING, ComponentView, NodeView
from dexpy.upgrade.resources import ClusterVersionSpec, Component, InvalidResource, Release
from dexpy.upgrade.status import ROLLING_BACK, parse_time, rollback_source
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
            pods = component_pods_on(kube, agent, name)
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


def component_pods_on(kube: Kube, component: Component, node: str) -> list[dict[str, Any]]:
    """The per-node `component`'s pods on `node` that are not terminating."""
    selector = {"labelSelector": component.label_selector, "fieldSelector": f"spec.nodeName={node}"}
    return [pod for pod in kube.list(paths.pods(component.namespace), **selector) if not _terminating(pod)]


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


def target(
    spec: ClusterVersionSpec,
    status: dict[str, Any],
    found: tuple[list[Release], dict[str, str]],
    current: Version,
    *,
    desired: Version | None,
    automatic: bool,
) -> Target | None:
    """What a pass works towards: while rolling back, the images saved before the attempt; else the channel's
    choice for `desired` (the spec's, or the one `dexpy upgrade plan` is asked about). `found` is `releases()`."""
    releases_, malformed = found
    if desired is not None and str(desired) in malformed:
        raise errors.MalformedRelease(malformed[str(desired)])
    if (status.get("progress") or {}).get("phase") == ROLLING_BACK:
        return _rollback_target(status)
    return channels.choose_target(
        releases=releases_,
        channel=spec.channel,
        current=current,
        desired=desired,
        automatic=automatic,
        previous=parse_or_none(rollback_source(status.get("history") or [], str(current))),
        saved_images=_saved_images(status, desired),
        components=[c.name for c in spec.components],
    )


def _saved_images(status: dict[str, Any], version: Version | None) -> dict[str, str]:
    return {
        c["name"]: c["previousImage"]
        for c in status.get("components") or []
        if c.get("previousImage") and version is not None and c.get("previousVersion") == str(version)
    }


def _rollback_target(status: dict[str, Any]) -> Target:
    """Back to the images saved before this attempt, for the components it changed."""
    progress = status["progress"]
    changed = {
        c["name"]: c["previousImage"]
        for c in status.get("components") or []
        if c.get("previousImage") and c.get("targetVersion") == progress.get("target")
    }
    return Target(Version.parse(progress["from"]), changed)


def situation(
    kube: Kube,
    spec: ClusterVersionSpec,
    status: dict[str, Any],
    views: list[ComponentView],
    target: Target,
    current: Version,
    now: datetime,
    own_node: str | None,
) -> plan.Situation:
    """The planner's input: reads the Nodes (with the per-node component's pods on the ones being verified)."""
    progress = status.get("progress") or {}
    return plan.Situation(
        components=views,
        nodes=nodes(kube, next((c for c in spec.components if c.per_node), None)),
        target=target,
        strategy=spec.strategy,
        now=now,
        descending=progress.get("phase") == ROLLING_BACK or plan.descending(views, target, current),
        own_node=own_node,
        progress=plan.Progress(
            step=progress.get("step", ""),
            since=parse_time(progress.get("stepStartedTime")),
            message=progress.get("message", ""),
        ),
    )
