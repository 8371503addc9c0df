"""Two controller replicas, each with its own API user and Lease identity, against one API server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import Kube, NotLeader
from dexpy.upgrade.lease import LeaderElector
from dexpy.upgrade.paths import EVENTS
from dexpy.upgrade.plan import DRAINING, PHASE, VERIFYING
from dexpy.upgrade.replica import RENEW_SECONDS, Replica
from dexpy.upgrade.resources import DEFAULT_COMPONENTS
from tests.fixtures.kubeapi.auth import Rule
from tests.fixtures.kubeapi.server import LoggedRequest
from tests.upgrade.builders import images
from tests.upgrade.conftest import NEW, NODES, Cluster, completed


WRITES = ("create", "update", "patch", "delete", "deletecollection")
LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/dexpy-upgrade-controller"


def replica(cluster: Cluster, name: str, tmp_path: Path) -> Replica:
    token = cluster.api.add_user(name, [Rule(frozenset({"*"}), frozenset({"*"}))])
    kube = Kube.connect(str(cluster.api.write_kubeconfig(tmp_path / f"{name}.kubeconfig", token=token)))
    elector = LeaderElector(kube, namespace="kube-system", identity=name, clock=cluster.clock)
    return Replica(elector, Controller(kube.guarded(elector.time_left), clock=cluster.clock), clock=cluster.clock)


def writes(cluster: Cluster, user: str | None = None) -> list[LoggedRequest]:
    """Successful writes by the controllers (any user but the simulator's admin), leaving out the Lease."""
    return [
        r for r in list(cluster.api.requests)
        if r.verb in WRITES and r.status < 400 and r.resource != "leases" and r.user != "admin"
        and (user is None or r.user == user)
    ]


def run(cluster: Cluster, replicas: list[Replica], passes: int, stop: Callable[[Cluster], bool] = completed) -> None:
    """Every replica takes a turn each pass, in alternating order so neither always asks first."""
    for count in range(passes):
        for member in replicas if count % 2 else reversed(replicas):
            member.turn()
        cluster.sim.tick()
        cluster.clock.advance(timedelta(seconds=5))
        if stop(cluster):
            return


def assert_updated_once(cluster: Cluster) -> None:
    status = cluster.status()
    assert status["currentVersion"] == NEW
    assert [h["state"] for h in status["history"] if h["version"] == NEW] == ["Completed"]
    done = [e for e in cluster.kube.list(EVENTS) if e["reason"] == "UpgradeCompleted"]
    assert len(done) == 1
    spec_patches = Counter(r.name for r in writes(cluster) if r.resource in ("deployments", "daemonsets") and not r.subresource)
    assert spec_patches == Counter(c.name for c in DEFAULT_COMPONENTS)  # each workload patched exactly once
    kubelet_deletes = Counter(r.name for r in writes(cluster) if r.resource == "pods" and r.verb == "delete")
    assert kubelet_deletes == Counter(f"kubelet-{n}" for n in NODES)  # each node restarted exactly once
    for name, image in images(NEW).items():
        assert cluster.workload(name)["spec"]["template"]["spec"]["containers"][0]["image"] == image
    for name in NODES:
        node = cluster.node(name)
        assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{NEW}" and not node["spec"].get("unschedulable")


def test_only_the_leader_writes_during_a_full_update(cluster: Cluster, tmp_path: Path) -> None:
    replicas = [replica(cluster, name, tmp_path) for name in ("replica-a", "replica-b")]
    cluster.set_spec(desiredVersion=NEW)
    run(cluster, replicas, 80)
    run(cluster, replicas, 5)  # passes after the end change nothing
    leader = cluster.kube.get(LEASE)["spec"]["holderIdentity"]
    follower = next(r.elector.identity for r in replicas if r.elector.identity != leader)
    by_leader = {(r.resource, r.subresource) for r in writes(cluster, leader)}
    assert {("deployments", ""), ("daemonsets", ""), ("nodes", ""), ("clusterversions", "status"), ("events", "")} <= by_leader
    assert cluster.api.count(verb="get", resource="leases", user=follower) > 10  # it kept asking
    assert writes(cluster, follower) == []
    assert_updated_once(cluster)


def test_the_other_replica_takes_over_mid_update_and_redoes_nothing(cluster: Cluster, tmp_path: Path) -> None:
    first, second = replica(cluster, "replica-a", tmp_path), replica(cluster, "replica-b", tmp_path)
    first.turn()  # first holds the Lease from the start
    cluster.set_spec(desiredVersion=NEW)

    def node_in_flight_after_one_done(c: Cluster) -> bool:
        nodes = c.status().get("progress", {}).get("nodes", {})
        return bool(nodes.get("done")) and bool(nodes.get("inFlight"))

    for _ in range(60):
        first.turn()
        second.turn()
        cluster.sim.tick()
        cluster.clock.advance(timedelta(seconds=5))
        if node_in_flight_after_one_done(cluster):
            break
    assert node_in_flight_after_one_done(cluster) and not completed(cluster)
    assert writes(cluster, "replica-b") == []
    before_takeover = len(writes(cluster, "replica-a"))

    # replica-a hangs (stops renewing); replica-b waits out the Lease, then finishes; replica-a then comes back
    run(cluster, [second], 80)
    run(cluster, [first, second], 5)
    lease = cluster.kube.get(LEASE)["spec"]
    assert lease["holderIdentity"] == "replica-b" and lease["leaseTransitions"] == 1
    assert len(writes(cluster, "replica-a")) == before_takeover
    assert writes(cluster, "replica-b")
    assert_updated_once(cluster)


class Stalling(Kube):
    """A replica's client that stalls once (`stall`, which moves the clock), in the first read that `at` matches:
    by default its pass's read of the Nodes."""

    stall: Callable[[], None] | None = None
    at: Callable[[str, dict[str, str]], bool] = staticmethod(lambda path, query: path == "/api/v1/nodes")

    def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        if self.stall is not None and method == "GET" and self.at(path, kw.get("query") or {}):
            stall, self.stall = self.stall, None
            stall()
        return super().request(method, path, **kw)


def test_a_pass_that_outlasts_the_lease_writes_nothing_after_it_ran_out(cluster: Cluster, tmp_path: Path) -> None:
    first, second = replica(cluster, "replica-a", tmp_path), replica(cluster, "replica-b", tmp_path)
    first.turn()  # replica-a holds the Lease from the start
    cluster.set_spec(desiredVersion=NEW)
    run(cluster, [first, second], 12)
    assert writes(cluster, "replica-a") and not writes(cluster, "replica-b") and not completed(cluster)
    stalled: list[int] = []

    def meanwhile() -> None:
        """replica-a is stuck (a GC pause, a slow API); its Lease expires and replica-b takes over and acts."""
        cluster.clock.advance(timedelta(seconds=20))
        second.turn()
        stalled.append(len(cluster.api.requests))

    kube = Stalling.connect(str(tmp_path / "replica-a.kubeconfig"))
    kube.stall = meanwhile
    first.controller = Controller(kube.guarded(first.elector.time_left), clock=cluster.clock)
    first.turn()
    assert stalled and writes(cluster, "replica-b")
    assert [r for r in cluster.api.requests[stalled[0]:] if r.user == "replica-a" and r.verb in WRITES] == []
    run(cluster, [first, second], 80)
    assert cluster.kube.get(LEASE)["spec"]["holderIdentity"] == "replica-b"
    assert_updated_once(cluster)


def test_a_pod_delete_after_the_lease_ran_out_mid_step_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    """The restart step lists the node's kubelet pod, then deletes it: a stall between the two outlasts the Lease."""
    leader = replica(cluster, "replica-a", tmp_path)
    cluster.set_spec(desiredVersion=NEW)

    def draining(c: Cluster) -> bool:
        phases = [(n["metadata"].get("annotations") or {}).get(PHASE) for n in c.kube.list("/api/v1/nodes")]
        return DRAINING in phases and VERIFYING not in phases

    run(cluster, [leader], 60, stop=draining)
    assert draining(cluster)
    stalled: list[int] = []

    def stall() -> None:
        cluster.clock.advance(timedelta(seconds=20))
        stalled.append(len(cluster.api.requests))

    kube = Stalling.connect(str(tmp_path / "replica-a.kubeconfig"))
    kube.stall, kube.at = stall, lambda path, query: path.endswith("/pods") and "labelSelector" in query
    leader.controller = Controller(kube.guarded(leader.elector.time_left), clock=cluster.clock)
    leader.turn()
    assert stalled  # in the restart step, after its pass began as the leader
    assert [r for r in cluster.api.requests[stalled[0]:] if r.user == "replica-a" and r.verb in WRITES] == []
    pods = cluster.kube.list("/api/v1/namespaces/kube-system/pods", labelSelector="k8s-app=kubelet")
    assert not any(pod["metadata"].get("deletionTimestamp") for pod in pods)
    run(cluster, [leader], 80)  # the next turn renews the Lease and carries on
    assert_updated_once(cluster)


def test_a_guarded_write_is_refused_after_the_lease_and_may_not_outlast_it() -> None:
    sent: list[tuple[str, float]] = []

    class Recording(Kube):
        def __init__(self) -> None:
            pass

        def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
            sent.append((method, kw["timeout"]))
            return {}

    left = [3.5]
    kube = Recording().guarded(lambda: left[0])
    kube.get("/api/v1/nodes")
    kube.patch("/api/v1/nodes/w1", {})
    left[0] = 0.0
    kube.list("/api/v1/nodes")  # reads go on: the pass ends at its next write
    with pytest.raises(NotLeader):
        kube.create("/api/v1/namespaces/default/pods/web/eviction", {})
    assert sent == [("GET", 30.0), ("PATCH", 3.5), ("GET", 30.0)]


def test_an_idle_leader_renews_every_turn_reconciles_once_a_minute_and_patches_no_status(
    cluster: Cluster, tmp_path: Path
) -> None:
    leader = replica(cluster, "replica-a", tmp_path)
    cluster.set_spec(desiredVersion=NEW)
    run(cluster, [leader], 80)
    assert completed(cluster)
    for _ in range(2):  # the passes right after the end may still record it
        leader.turn()
        cluster.clock.advance(timedelta(minutes=1))
    cluster.api.clear_log()
    waits = []
    for _ in range(30):  # two minutes of turns
        waits.append(leader.turn())
        cluster.clock.advance(timedelta(seconds=waits[-1]))
    assert set(waits) == {RENEW_SECONDS}
    assert cluster.api.count(verb="update", resource="leases") == 30  # the Lease is renewed every turn
    assert cluster.api.count(verb="get", resource="clusterversions") == 2  # a pass a minute, as IDLE says
    assert cluster.api.count(verb="patch", resource="clusterversions", subresource="status") == 0
    assert writes(cluster) == []
