"""The step planner: given what the cluster looks like now, the single next thing to do.

Pure: the controller reads the cluster into `ComponentView`/`NodeView`, calls `next_step`, and carries out
the step it gets. Components go in the skew-policy order (apiserver first, kubelet last) and come back in
reverse; kubelets go node by node under `maxUnavailable`, canaries first, the controller's own node last.
All per-node progress lives in annotations on the Node, so a restarted controller resumes where it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dexpy.upgrade import gates
from dexpy.upgrade.channels import Target
from dexpy.upgrade.resources import GROUP, LABEL_CANARY, Component, Strategy
from dexpy.upgrade.versions import Version

PHASE = f"{GROUP}/phase"
PHASE_SINCE = f"{GROUP}/phase-since"
MADE_UNSCHEDULABLE = f"{GROUP}/made-unschedulable"
UPGRADED_AT = f"{GROUP}/upgraded-at"
DRAINING, RESTARTING, VERIFYING = "Draining", "Restarting", "Verifying"


@dataclass(frozen=True)
class ComponentView:
    component: Component
    workload: dict[str, Any]


@dataclass(frozen=True)
class NodeView:
    node: dict[str, Any]
    pods_to_evict: tuple[str, ...] = ()
    pods_terminating: tuple[str, ...] = ()
    agent_versions: tuple[Version | None, ...] | None = None
    """On a node being verified: the version annotation of each live pod of the per-node component (None if it is
    not known, as in a plan)."""

    @property
    def name(self) -> str:
        return str(self.node["metadata"]["name"])

    @property
    def annotations(self) -> dict[str, str]:
        return self.node["metadata"].get("annotations") or {}

    @property
    def phase(self) -> str:
        return self.annotations.get(PHASE, "")

    def time(self, key: str) -> datetime | None:
        value = self.annotations.get(key)
        return datetime.fromisoformat(value) if value else None

    @property
    def canary(self) -> bool:
        return (self.node["metadata"].get("labels") or {}).get(LABEL_CANARY) == "true"


@dataclass(frozen=True)
class Progress:
    """What the last pass wrote to `status.progress`: used only to time the step it names."""

    step: str = ""
    since: datetime | None = None
    message: str = ""


@dataclass(frozen=True)
class Patch:
    component: Component
    image: str
    version: Version


@dataclass(frozen=True)
class Wait:
    step: str
    message: str
    since: datetime


@dataclass(frozen=True)
class Soak:
    until: datetime


@dataclass(frozen=True)
class Cordon:
    node: str
    drain: bool


@dataclass(frozen=True)
class Evict:
    node: str
    pods: tuple[str, ...]
    since: datetime


@dataclass(frozen=True)
class Restart:
    component: Component
    node: str


@dataclass(frozen=True)
class Uncordon:
    node: str
    version: Version


@dataclass(frozen=True)
class Failed:
    step: str
    reason: str
    message: str


@dataclass(frozen=True)
class Done:
    pass


Step = Patch | Wait | Soak | Cordon | Evict | Restart | Uncordon | Failed | Done


@dataclass(frozen=True)
class Situation:
    components: Sequence[ComponentView]
    nodes: Sequence[NodeView]
    target: Target
    strategy: Strategy
    now: datetime
    descending: bool = False
    own_node: str | None = None
    progress: Progress = field(default_factory=Progress)


def preflight(situation: Situation, current: Version) -> list[str]:
    """The checks before anything is changed (`gates.preflight`) on what the situation saw; the failed ones."""
    return gates.preflight(
        nodes=[n.node for n in situation.nodes],
        workloads=[(v.component, v.workload) for v in situation.components],
        current=current,
    )


def order(components: Sequence[ComponentView], descending: bool) -> list[ComponentView]:
    """Components in update order; a rollback or a downgrade walks them backwards."""
    return list(reversed(components)) if descending else list(components)


def next_step(situation: Situation) -> Step:
    target = situation.target
    for view in order(situation.components, situation.descending):
        component = view.component
        image = target.images.get(component.name)
        if image is None:
            continue
        if gates.template_image(view.workload, component.container) != image or (
            gates.template_version(view.workload) != target.version
        ):
            return Patch(component, image, target.version)
        if component.per_node:
            step = _node_step(situation, component)
            if step is not None:
                return step
            continue
        gate = gates.at_image(view.workload, component.container, image, target.version)
        if not gate.ok:
            return _wait(situation, component.name, gate.message, situation.strategy.step_timeout)
    return Done()


def _wait(situation: Situation, step: str, message: str, timeout: timedelta, since: datetime | None = None) -> Step:
    progress = situation.progress
    if since is None:
        since = progress.since if progress.step == step and progress.since else situation.now
    if situation.now - since > timeout:
        return Failed(step, "StepTimeout", f"{step} not done after {int(timeout.total_seconds())}s: {message}")
    return Wait(step, message, since)


def node_order(nodes: Sequence[NodeView], canary_count: int, own_node: str | None) -> list[NodeView]:
    """Canaries, then control-plane nodes, then workers, each by name; the controller's own node last."""

    def rank(view: NodeView) -> tuple[int, str]:
        return (1 if gates.is_control_plane(view.node) else 2, view.name)

    others = sorted((v for v in nodes if v.name != own_node), key=rank)
    labelled = [v for v in others if v.canary]
    canaries = labelled or others[:canary_count]
    rest = [v for v in others if v not in canaries]
    return canaries + rest + [v for v in nodes if v.name == own_node]


def canaries(situation: Situation) -> list[NodeView]:
    ordered = node_order(situation.nodes, situation.strategy.canary_count, situation.own_node)
    labelled = [v for v in ordered if v.canary and v.name != situation.own_node]
    return labelled or ordered[: situation.strategy.canary_count]


def max_unavailable(value: int | str, total: int) -> int:
    """An int, or a percentage of the nodes rounded down; at least one node can always move."""
    if isinstance(value, str):
        return max(1, total * int(value.rstrip("%")) // 100)
    return max(1, value)


def _node_step(situation: Situation, component: Component) -> Step | None:
    version = situation.target.version
    strategy = situation.strategy
    ordered = node_order(situation.nodes, strategy.canary_count, situation.own_node)
    in_flight = [v for v in ordered if v.phase]
    steps = [_continue_node(situation, component, view) for view in in_flight]
    acting = [step for step in steps if not isinstance(step, Wait)]
    if acting:
        return acting[0]
    waiting = [step for step in steps if isinstance(step, Wait)]
    pending = [v for v in ordered if not v.phase and not gates.node_at_version(v.node, version).ok]
    if not pending:
        return waiting[0] if waiting else None
    candidates = _startable(situation, ordered, pending, in_flight)
    if isinstance(candidates, Soak):
        return waiting[0] if waiting else candidates
    capacity = max_unavailable(strategy.max_unavailable, len(ordered)) - len(in_flight)
    if candidates and capacity > 0:
        return Cordon(candidates[0].name, drain=strategy.drain_enabled)
    if waiting:
        return waiting[0]
    return Wait("kubelet", f"{len(pending)} nodes wait for their turn", situation.now)


def _startable(
    situation: Situation, ordered: list[NodeView], pending: list[NodeView], in_flight: list[NodeView]
) -> list[NodeView] | Soak:
    """Nodes that may start now: canaries alone until they have soaked; the own node only when alone."""
    canary_nodes = canaries(situation)
    canary_names = {v.name for v in canary_nodes}
    if any(v.name in canary_names for v in pending + in_flight):
        return [v for v in pending if v.name in canary_names]
    finished = [t for t in (v.time(UPGRADED_AT) for v in canary_nodes) if t is not None]
    if finished and situation.strategy.canary_soak:
        until = max(finished) + situation.strategy.canary_soak
        if situation.now < until:
            return Soak(until)
    own = situation.own_node
    others = [v for v in pending if v.name != own]
    if others:
        return others
    return [] if in_flight else pending


def _continue_node(situation: Situation, component: Component, view: NodeView) -> Step:
    strategy = situation.strategy
    since = view.time(PHASE_SINCE) or situation.now
    step = f"kubelet/{view.name}"
    if view.phase == DRAINING:
        if view.pods_to_evict or view.pods_terminating:
            if situation.now - since > strategy.drain_timeout:
                left = ", ".join(view.pods_to_evict + view.pods_terminating)
                detail = situation.progress.message if situation.progress.step == step else ""
                return Failed(step, "DrainBlocked", f"drain of {view.name} timed out with {left} left. {detail}".strip())
            if view.pods_to_evict:
                return Evict(view.name, view.pods_to_evict, since)
            return _wait(situation, step, f"waiting for {len(view.pods_terminating)} pods to terminate", strategy.drain_timeout, since)
        return Restart(component, view.name)
    if view.phase == RESTARTING:
        return Restart(component, view.name)
    agents = view.agent_versions
    if agents and any(version != situation.target.version for version in agents):
        return Restart(component, view.name)  # its pod came from another template: a rollback while it was verified
    gate = gates.node_at_version(view.node, situation.target.version)
    if gate.ok and agents == ():
        gate = gates.Gate(False, f"no {component.name} pod runs on {view.name} yet")
    if gate.ok:
        return Uncordon(view.name, situation.target.version)
    return _wait(situation, step, gate.message, strategy.step_timeout, since)


def node_batches(situation: Situation) -> tuple[list[list[str]], list[list[str]]]:
    """The nodes still to update as the kubelet step moves them: (canary batches, then the other batches).

    At most maxUnavailable nodes a batch; the canaries go first and soak; the controller's own node is last, alone.
    """
    strategy = situation.strategy
    ordered = node_order(situation.nodes, strategy.canary_count, situation.own_node)
    size = max_unavailable(strategy.max_unavailable, len(ordered))
    pending = [v.name for v in ordered if not gates.node_at_version(v.node, situation.target.version).ok]
    first = [v.name for v in canaries(situation) if v.name in pending]
    rest = [name for name in pending if name not in first and name != situation.own_node]
    last = [[name] for name in pending if name == situation.own_node]
    return _chunks(first, size), _chunks(rest, size) + last


def _chunks(names: list[str], size: int) -> list[list[str]]:
    return [names[i : i + size] for i in range(0, len(names), size)]


def descending(components: Sequence[ComponentView], target: Target, current: Version) -> bool:
    """A downgrade, or a return to `current` from a partial update: components go in reverse order."""
    ahead = (gates.template_version(view.workload) for view in components)
    return target.version < current or any(version is not None and version > target.version for version in ahead)
