from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dexpy.upgrade import plan
from dexpy.upgrade.channels import Target
from dexpy.upgrade.plan import ComponentView, NodeView, Situation
from dexpy.upgrade.resources import DEFAULT_COMPONENTS, Strategy
from dexpy.upgrade.versions import Version
from tests.upgrade.builders import images, node, workload

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
OLD, NEW = "1.30.2", "1.31.0"
TARGET = Target(Version.parse(NEW), images(NEW))
ORDER = [c.name for c in DEFAULT_COMPONENTS]


def views(*, at_new: int = 0) -> list[ComponentView]:
    """The first `at_new` components already run the new version."""
    return [ComponentView(c, workload(c, NEW if i < at_new else OLD)) for i, c in enumerate(DEFAULT_COMPONENTS)]


def situation(components=None, nodes=(), strategy=Strategy(), **kwargs) -> Situation:
    return Situation(
        components=components if components is not None else views(),
        nodes=[n if isinstance(n, NodeView) else NodeView(n) for n in nodes],
        target=kwargs.pop("target", TARGET),
        strategy=strategy,
        now=kwargs.pop("now", NOW),
        **kwargs,
    )


def test_components_are_patched_in_skew_policy_order() -> None:
    patched = []
    for done in range(4):
        step = plan.next_step(situation(views(at_new=done)))
        assert isinstance(step, plan.Patch)
        patched.append(step.component.name)
    assert patched == ORDER[:4]
    assert step.image == images(NEW)["kube-proxy"] and step.version == TARGET.version


def test_a_patched_component_is_waited_for_before_the_next_one() -> None:
    components = views(at_new=1)
    components[0].workload["status"]["updatedNumberScheduled"] = 1
    step = plan.next_step(situation(components))
    assert isinstance(step, plan.Wait) and step.step == "kube-apiserver" and "1 of 2 pods updated" in step.message


def test_a_step_past_its_timeout_fails_and_names_the_reason() -> None:
    components = views(at_new=1)
    components[0].workload["status"]["numberAvailable"] = 0
    progress = plan.Progress(step="kube-apiserver", since=NOW - timedelta(minutes=11))
    step = plan.next_step(situation(components, progress=progress))
    assert isinstance(step, plan.Failed) and step.reason == "StepTimeout" and "0 of 2 pods available" in step.message


def test_rollback_walks_the_components_backwards() -> None:
    back = Target(Version.parse(OLD), {name: images(OLD)[name] for name in ORDER[:3]})
    step = plan.next_step(situation(views(at_new=3), target=back, descending=True))
    assert isinstance(step, plan.Patch) and step.component.name == "kube-controller-manager"
    step = plan.next_step(situation(views(at_new=1), target=back, descending=True))
    assert isinstance(step, plan.Patch) and step.component.name == "kube-apiserver"


def with_phase(n: dict, phase: str, since: datetime = NOW, **pods) -> NodeView:
    n["metadata"]["annotations"] = {plan.PHASE: phase, plan.PHASE_SINCE: since.isoformat()}
    return NodeView(n, **pods)


def kubelet_step(nodes, strategy=Strategy(), **kwargs):
    return plan.next_step(situation(views(at_new=5), nodes, strategy, **kwargs))


def test_nodes_start_control_plane_first_and_the_controllers_own_node_last() -> None:
    nodes = [node("w-b", OLD), node("own", OLD, control_plane=True), node("w-a", OLD), node("cp", OLD, control_plane=True)]
    started = []
    for _ in range(4):
        step = kubelet_step(nodes, own_node="own")
        assert isinstance(step, plan.Cordon)
        started.append(step.node)
        nodes = [node(n["metadata"]["name"], NEW) if n["metadata"]["name"] == step.node else n for n in nodes]
    assert started == ["cp", "w-a", "w-b", "own"]


def test_the_own_node_waits_until_every_other_node_is_finished() -> None:
    nodes = [with_phase(node("w1", OLD), plan.VERIFYING), node("own", OLD)]
    step = kubelet_step(nodes, strategy=Strategy(max_unavailable=2), own_node="own")
    assert isinstance(step, plan.Wait) and step.step == "kubelet/w1"


def test_at_most_max_unavailable_nodes_are_in_flight() -> None:
    nodes = [with_phase(node("a", OLD), plan.VERIFYING), node("b", OLD), node("c", OLD)]
    assert isinstance(kubelet_step(nodes), plan.Wait)
    step = kubelet_step(nodes, strategy=Strategy(max_unavailable=2))
    assert step == plan.Cordon("b", drain=True)
    nodes[1] = with_phase(node("b", OLD), plan.VERIFYING)
    assert isinstance(kubelet_step(nodes, strategy=Strategy(max_unavailable="50%")), plan.Wait)
    assert kubelet_step(nodes, strategy=Strategy(max_unavailable="100%")) == plan.Cordon("c", drain=True)


def test_canaries_go_alone_and_the_rest_wait_for_the_soak() -> None:
    strategy = Strategy(max_unavailable=3, canary_count=1, canary_soak=timedelta(minutes=5))
    nodes = [node("a", OLD), node("b", OLD), node("c", OLD)]
    assert kubelet_step(nodes, strategy) == plan.Cordon("a", drain=True)
    nodes[0] = with_phase(node("a", OLD), plan.VERIFYING)
    assert isinstance(kubelet_step(nodes, strategy), plan.Wait)  # b may not start beside the canary
    nodes[0] = node("a", NEW)
    nodes[0]["metadata"]["annotations"] = {plan.UPGRADED_AT: (NOW - timedelta(minutes=2)).isoformat()}
    assert kubelet_step(nodes, strategy) == plan.Soak(NOW + timedelta(minutes=3))
    assert kubelet_step(nodes, strategy, now=NOW + timedelta(minutes=3)) == plan.Cordon("b", drain=True)


def test_labelled_canaries_are_chosen_over_the_first_nodes() -> None:
    nodes = [node("a", OLD), node("z", OLD, **{"upgrade.dexpy.io/canary": "true"})]
    assert kubelet_step(nodes, Strategy(canary_count=1)) == plan.Cordon("z", drain=True)


def test_a_node_goes_cordon_drain_restart_verify_uncordon() -> None:
    assert kubelet_step([with_phase(node("a", OLD), plan.DRAINING, pods_to_evict=("apps/web",))]) == plan.Evict(
        "a", ("apps/web",), NOW
    )
    waiting = kubelet_step([with_phase(node("a", OLD), plan.DRAINING, pods_terminating=("apps/web",))])
    assert isinstance(waiting, plan.Wait) and "terminate" in waiting.message
    restart = kubelet_step([with_phase(node("a", OLD), plan.DRAINING)])
    assert isinstance(restart, plan.Restart) and restart.node == "a"
    assert isinstance(kubelet_step([with_phase(node("a", OLD), plan.VERIFYING)]), plan.Wait)
    assert kubelet_step([with_phase(node("a", NEW), plan.VERIFYING)]) == plan.Uncordon("a", TARGET.version)
    assert kubelet_step([node("a", NEW)]) == plan.Done()


def test_a_drain_that_outlives_its_timeout_fails_as_blocked() -> None:
    since = NOW - timedelta(minutes=6)
    progress = plan.Progress(step="kubelet/a", message="evicting apps/web: disruption budget web-pdb")
    step = kubelet_step([with_phase(node("a", OLD), plan.DRAINING, since, pods_to_evict=("apps/web",))], progress=progress)
    assert isinstance(step, plan.Failed) and step.reason == "DrainBlocked"
    assert "apps/web" in step.message and "web-pdb" in step.message


def test_a_node_that_never_comes_back_fails_the_step() -> None:
    since = NOW - timedelta(minutes=11)
    step = kubelet_step([with_phase(node("a", OLD), plan.VERIFYING, since)])
    assert isinstance(step, plan.Failed) and step.step == "kubelet/a" and step.reason == "StepTimeout"


def walk_kubelets(nodes: list[dict], strategy: Strategy, own_node: str) -> list[list[str]]:
    """The batches `next_step` really starts when each batch finishes together, soaks included."""
    batches, now = [], NOW
    while True:
        batch, views = [], {n["metadata"]["name"]: n for n in nodes}
        while isinstance(step := kubelet_step(list(views.values()), strategy, own_node=own_node, now=now), plan.Cordon):
            batch.append(step.node)
            views[step.node] = with_phase(node(step.node, OLD), plan.VERIFYING)
        if isinstance(step, plan.Soak):
            now = step.until
            continue
        if not batch:
            return batches
        batches.append(batch)
        for name in batch:
            nodes = [n for n in nodes if n["metadata"]["name"] != name] + [node(name, NEW)]
            nodes[-1]["metadata"]["annotations"] = {plan.UPGRADED_AT: now.isoformat()}


@pytest.mark.parametrize(
    ("strategy", "canary_nodes"),
    [
        (Strategy(), []),
        (Strategy(max_unavailable=2, canary_count=3, canary_soak=timedelta(minutes=5)), ["cp", "w1"]),  # and "done"
        (Strategy(max_unavailable="50%", canary_count=1), ["cp"]),
    ],
)
def test_node_batches_are_the_batches_the_planner_starts(strategy: Strategy, canary_nodes: list[str]) -> None:
    nodes = [node("cp", OLD, control_plane=True), node("done", NEW)]
    nodes += [node(f"w{i}", OLD) for i in range(1, 6)]
    nodes.append(node("own", OLD, control_plane=True))
    first, rest = plan.node_batches(situation(views(at_new=5), nodes, strategy, own_node="own"))
    assert first + rest == walk_kubelets(nodes, strategy, "own")
    assert sum(first, []) == canary_nodes and rest[-1] == ["own"]
    assert "done" not in sum(rest, [])


def test_a_return_from_a_partial_update_walks_backwards() -> None:
    back = Target(Version.parse(OLD), images(OLD))
    assert plan.descending(views(at_new=2), back, Version.parse(OLD))
    assert plan.descending(views(), back, Version.parse(NEW))
    assert not plan.descending(views(at_new=2), TARGET, Version.parse(OLD))
