"""The controller killed right before or right after one of its writes, then a new one carries on.

A reference run records, for every write the controller makes, the fake API server's resourceVersion just
before and just after it. Each case then rewinds the server's store to one of those points (as if that
controller had died there), and new controllers take over until the run ends. Rewinding instead of replaying
the prefix keeps a case to the tail of one run. To keep the file to a few seconds the kill points are sampled:
before and after the first write of each kind, and every write of the pass that ends the run (`kill_points`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import Kube
from dexpy.upgrade.plan import PHASE_SINCE
from tests.fixtures.kubeapi.auth import Rule
from tests.upgrade.builders import images
from tests.upgrade.conftest import NEW, NODES, OLD, Cluster, completed, halted
from tests.upgrade.test_scenarios import add_guarded_pod

WRITES = ("POST", "PATCH", "PUT", "DELETE")
WORKLOADS = ("deployments", "daemonsets")
PDB = "/apis/policy/v1/namespaces/apps/poddisruptionbudgets/web-pdb"


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    rv_before: int
    rv_after: int
    clock: datetime
    in_pass: int  # 1 for the first write of its pass


class Recording(Kube):
    """Records each write with the store's resourceVersion just before and just after it."""

    cluster: Cluster
    writes: list[Write]
    in_pass: int

    def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        if method not in WRITES:
            return super().request(method, path, **kw)
        store = self.cluster.api.store
        self.in_pass += 1
        rv = store.rv
        try:
            return super().request(method, path, **kw)
        finally:
            self.writes.append(Write(method, path, rv, store.rv, self.cluster.clock(), self.in_pass))


History = tuple[dict[Any, list[Any]], dict[str, tuple[list[int], list[Any]]]]


def save(cluster: Cluster) -> History:
    """The fake API server's store history (append-only; the objects in it are never changed in place)."""
    store = cluster.api.store
    with store.cond:
        return {k: list(v) for k, v in store._history.items()}, {k: (list(r), list(e)) for k, (r, e) in store._events.items()}


def rewind(cluster: Cluster, saved: History, rv: int) -> None:
    """Put the store back to what it held at resourceVersion `rv`, from a saved history that goes past it."""
    store = cluster.api.store
    history, events = saved
    with store.cond:
        store._history = {}
        for key, versions in history.items():
            kept = [version for version in versions if version[0] <= rv]
            if kept:
                store._history[key] = kept
        store._events = {}
        for resource, (rvs, logged) in events.items():
            count = sum(1 for r in rvs if r <= rv)
            store._events[resource] = (rvs[:count], logged[:count])
        store.rv = rv


@dataclass
class Run:
    cluster: Cluster
    kube: Recording
    done: Callable[[Cluster], bool]
    step: timedelta
    hook: Callable[[Cluster], None] = lambda cluster: None
    reference: list[Write] = field(default_factory=list)
    saved: History = ({}, {})

    def go(self, passes: int = 150) -> None:
        """New controllers, a simulator tick and a clock step after each pass, until `done`."""
        for _ in range(passes):
            if self.done(self.cluster):
                return
            self.kube.in_pass = 0
            Controller(self.kube, clock=self.cluster.clock).reconcile()
            self.hook(self.cluster)
            self.cluster.sim.tick()
            self.cluster.clock.advance(self.step)
        raise AssertionError(f"not done after {passes} passes: {self.cluster.status().get('progress')}")

    def record(self) -> None:
        self.kube.writes = []
        self.go()
        self.reference, self.saved = self.kube.writes, save(self.cluster)

    def kill_points(self, first: int = 0, last: int | None = None) -> list[tuple[int, bool]]:
        """Before and after the first write of each kind among writes `first`..`last`, and every write of the last
        pass (the one that ends the run); each state once.

        A kind is the method, what it writes to (Nodes, kubelet pods, Deployments and the DaemonSets other than
        the kubelet's each count as one, but each step of a node's cycle is its own kind) and whether the server
        changed anything. Events are left out: the
        state after one is the state before the next write. Before a write that is not the first of its pass is
        the state after the one before it, so that state is run once.
        """
        seen: set[tuple[str, ...]] = set()
        states: set[int] = set()
        points = []
        chosen = list(enumerate(self.reference))[first:last]
        for index, write in chosen:
            path = re.sub(r"/(nodes|pods|deployments)/[^/]+|/daemonsets/(?!kubelet$)[^/]+", r"/\1/*", write.path)
            occurrence = sum(1 for w in self.reference[:index] if w.path == write.path)
            refused = write.rv_after == write.rv_before  # a 429 eviction, say: a kind apart from one that acted
            kind = (write.method, path, str(occurrence % 3 if "/nodes/" in path else 0), str(refused))
            final = index > chosen[-1][0] - chosen[-1][1].in_pass  # the last pass: the one that ends the run
            if (kind in seen or path.endswith("/events")) and not final:
                continue
            seen.add(kind)
            for before, rv in ((True, write.rv_before), (False, write.rv_after)):
                if rv not in states:
                    states.add(rv)
                    points.append((index, before))
        return points

    def crash_at(self, index: int, before: bool) -> list[tuple[str, str]]:
        """Rewind to the kill point, let new controllers finish; returns the workload patches of the whole run."""
        write = self.reference[index]
        rewind(self.cluster, self.saved, write.rv_before if before else write.rv_after)
        self.cluster.clock.now = write.clock
        prefix = self.reference[: index if before else index + 1]
        logged = len(self.cluster.api.requests)
        self.kube.writes = []
        self.hook(self.cluster)  # the pass that died is followed by what follows any pass
        self.cluster.sim.tick()
        self.cluster.clock.advance(self.step)
        self.go()
        tail = [(r.resource, r.name) for r in self.cluster.api.requests[logged:]
                if r.user == "controller" and r.verb == "patch" and r.status < 400
                and r.resource in WORKLOADS and not r.subresource]
        return [p for w in prefix if w.method == "PATCH" and (p := _workload(w.path))] + tail


def _workload(path: str) -> tuple[str, str] | None:
    parts = path.split("/")
    return (parts[-2], parts[-1]) if len(parts) > 2 and parts[-2] in WORKLOADS else None


def start(cluster: Cluster, tmp_path: Path, done: Callable[[Cluster], bool], step: timedelta = timedelta(seconds=5),
          hook: Callable[[Cluster], None] = lambda cluster: None) -> Run:
    token = cluster.api.add_user("controller", [Rule(frozenset({"*"}), frozenset({"*"}))])
    kube = Recording.connect(str(cluster.api.write_kubeconfig(tmp_path / "kc", token=token)))
    kube.cluster, kube.in_pass = cluster, 0
    run = Run(cluster, kube, done, step, hook)
    run.record()
    return run


def assert_completed_once(cluster: Cluster, patches: list[tuple[str, str]], point: str) -> None:
    status = cluster.status()
    assert status["currentVersion"] == NEW and [h["state"] for h in status["history"]] == ["Completed"], point
    assert set(Counter(patches).values()) == {1} and len(patches) == len(images(NEW)), (point, patches)
    for name, image in images(NEW).items():
        assert cluster.workload(name)["spec"]["template"]["spec"]["containers"][0]["image"] == image, point
    for name in NODES:
        node = cluster.node(name)
        assert not node["spec"].get("unschedulable"), (point, name)
        assert not any(k.startswith("upgrade.dexpy.io/phase") for k in node["metadata"].get("annotations") or {}), point
        assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{NEW}", point


def test_a_full_update_survives_a_crash_before_or_after_each_kind_of_write(cluster: Cluster, tmp_path: Path) -> None:
    cluster.set_spec(desiredVersion=NEW)
    run = start(cluster, tmp_path, completed)
    points = run.kill_points()
    assert len(run.reference) > 40 and len(points) >= 15
    for index, before in points:
        point = f"{'before' if before else 'after'} write {index + 1}: {run.reference[index].method} {run.reference[index].path}"
        assert_completed_once(cluster, run.crash_at(index, before), point)


def test_a_backup_and_rollback_survive_a_crash_before_or_after_each_kind_of_write(cluster: Cluster, tmp_path: Path) -> None:
    cluster.sim.stuck["kube-controller-manager"] = NEW
    cluster.set_spec(desiredVersion=NEW, rollback={"automatic": True}, backup={"policy": "Required"})
    run = start(cluster, tmp_path, halted, step=timedelta(seconds=20))
    assert any(w.path.endswith("/jobs") for w in run.reference)
    for index, before in run.kill_points():
        point = f"{'before' if before else 'after'} write {index + 1}: {run.reference[index].path}"
        patches = Counter(name for _, name in run.crash_at(index, before))
        assert patches == {"kube-apiserver": 2, "kube-scheduler": 2, "kube-controller-manager": 2}, (point, patches)
        status = cluster.status()
        assert status["history"][0]["state"] == "RolledBack" and status["currentVersion"] == OLD, point
        assert cluster.condition("Failing")["reason"] == "StepTimeout", point
        assert len(cluster.kube.list("/apis/batch/v1/namespaces/kube-system/jobs")) == 1, point
        for name in ("kube-apiserver", "kube-scheduler", "kube-controller-manager"):
            assert cluster.workload(name)["spec"]["template"]["spec"]["containers"][0]["image"] == images(OLD)[name]


def test_a_drain_under_a_disruption_budget_survives_a_crash_before_or_after_each_kind_of_write(
    cluster: Cluster, tmp_path: Path
) -> None:
    add_guarded_pod(cluster, "w1")

    def budget_frees_up_later(c: Cluster) -> None:
        """The budget refuses evictions until w1 has been draining for 15 s (the app scaled up meanwhile)."""
        since = (c.node("w1")["metadata"].get("annotations") or {}).get(PHASE_SINCE)
        if since and c.clock() - datetime.fromisoformat(since) >= timedelta(seconds=15):
            if not c.kube.get(PDB)["status"]["disruptionsAllowed"] and c.kube.list("/api/v1/namespaces/apps/pods"):
                c.kube.patch(f"{PDB}/status", {"status": {"disruptionsAllowed": 1}})

    cluster.set_spec(desiredVersion=NEW)
    run = start(cluster, tmp_path, completed, hook=budget_frees_up_later)
    evictions = [w for w in run.reference if w.path.endswith("/eviction")]
    assert len(evictions) > 1  # refused at least once, then let through
    on_w1 = [index for index, w in enumerate(run.reference) if w.path.endswith(("/w1", "/kubelet-w1", "/eviction"))]
    for index, before in run.kill_points(on_w1[0], on_w1[-1] + 1):
        point = f"{'before' if before else 'after'} write {index + 1}: {run.reference[index].path}"
        assert_completed_once(cluster, run.crash_at(index, before), point)
        assert cluster.kube.list("/api/v1/namespaces/apps/pods") == [], point
