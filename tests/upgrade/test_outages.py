"""The controller through Kubernetes API outages: it keeps running, backs off, respects the Lease, then finishes."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from dexpy.clock import FrozenClock
from dexpy.upgrade import cli
from dexpy.upgrade.replica import RENEW_SECONDS, Replica
from tests.fixtures.kubeapi.auth import Rule
from tests.fixtures.kubeapi.server import LoggedRequest
from tests.upgrade.builders import images
from tests.upgrade.conftest import CV_PATH, NEW, Cluster, completed
from tests.upgrade.test_replicas import assert_updated_once, replica, writes


def scheduler_patched(cluster: Cluster) -> bool:
    image = cluster.workload("kube-scheduler")["spec"]["template"]["spec"]["containers"][0]["image"]
    return image == images(NEW)["kube-scheduler"]


def from_replica_a(request: LoggedRequest) -> bool:
    return request.user == "replica-a"


def run(cluster: Cluster, replicas: list[Replica], passes: int, stop: Callable[[Cluster], bool] = completed) -> None:
    for _ in range(passes):
        for member in replicas:
            member.turn()
        cluster.sim.tick()
        cluster.clock.advance(timedelta(seconds=5))
        if stop(cluster):
            return


def test_a_replica_rides_out_5xx_a_closed_port_and_403_then_finishes(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leader = replica(cluster, "replica-a", tmp_path)
    cluster.set_spec(desiredVersion=NEW)
    run(cluster, [leader], 30, stop=scheduler_patched)
    assert scheduler_patched(cluster) and not completed(cluster)
    caplog.set_level(logging.INFO, logger="dexpy.upgrade")

    waits: list[float] = []

    def turns(count: int) -> None:
        for _ in range(count):
            waits.append(leader.turn())
            cluster.clock.advance(timedelta(seconds=waits[-1]))  # the Lease runs out meanwhile

    cluster.api.fail_when(from_replica_a, 503, "etcdserver: request timed out")
    turns(3)
    cluster.api.clear_faults()
    cluster.api.stop()
    turns(2)
    cluster.api.start()
    cluster.api.fail_when(from_replica_a, 403, "replica-a cannot get leases")
    turns(2)
    cluster.api.clear_faults()

    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]  # doubling, capped
    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) == 7 and all(r.exc_info is None and "\n" not in r.getMessage() for r in failures)
    assert "503" in failures[0].getMessage() and "Connection refused" in failures[3].getMessage()
    assert "403" in failures[-1].getMessage()
    run(cluster, [leader], 80)
    assert leader.failures == 0 and "reconciling again after 7 failed turns" in caplog.text
    assert_updated_once(cluster)


def test_an_unexpected_exception_is_logged_and_backed_off_not_fatal(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    leader = replica(cluster, "replica-a", tmp_path)
    cluster.set_spec(desiredVersion=NEW)
    run(cluster, [leader], 30, stop=scheduler_patched)
    caplog.set_level(logging.INFO, logger="dexpy.upgrade")
    reconcile = leader.controller.reconcile

    def broken() -> float:
        raise ValueError("invalid literal for int() with base 10: 'one'")

    monkeypatch.setattr(leader.controller, "reconcile", broken)
    waits = [leader.turn() for _ in range(3)]  # would have ended `dexpy upgrade-controller` before
    assert waits == [2.0, 4.0, 8.0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("\n" not in r.getMessage() for r in warnings)
    assert "unexpected ValueError" in warnings[0].getMessage() and "'one'" in warnings[0].getMessage()
    # the first of the streak carries the traceback, at the level the CLI logs; the later ones are one line
    assert warnings[0].exc_info is not None and warnings[0].exc_info[0] is ValueError
    assert [r.exc_info for r in warnings[1:]] == [None, None]
    monkeypatch.setattr(leader.controller, "reconcile", reconcile)
    run(cluster, [leader], 80)
    assert leader.failures == 0 and "reconciling again after 3 failed turns" in caplog.text
    assert_updated_once(cluster)


def test_a_leader_that_cannot_renew_stops_acting_and_the_other_replica_finishes(
    cluster: Cluster, tmp_path: Path
) -> None:
    first, second = replica(cluster, "replica-a", tmp_path), replica(cluster, "replica-b", tmp_path)
    cluster.set_spec(desiredVersion=NEW)
    run(cluster, [first], 30, stop=scheduler_patched)
    # replica-a's Lease requests fail, everything else it sends would still work
    cluster.api.fail_when(lambda r: from_replica_a(r) and r.resource == "leases", 500)
    before = len(writes(cluster, "replica-a"))
    run(cluster, [first, second], 80)
    cluster.api.clear_faults()
    run(cluster, [first, second], 5)  # back in touch, replica-a finds replica-b's live Lease and stays a follower
    assert len(writes(cluster, "replica-a")) == before
    assert writes(cluster, "replica-b")
    assert_updated_once(cluster)


def test_a_controller_started_before_the_cluster_version_exists_waits_then_acts(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = cluster.cluster_version()["spec"]
    cluster.kube.delete(CV_PATH)
    leader = replica(cluster, "replica-a", tmp_path)
    caplog.set_level(logging.INFO, logger="dexpy.upgrade")
    assert [leader.turn() for _ in range(3)] == [RENEW_SECONDS] * 3  # idle, but it keeps its Lease
    assert [r.message for r in caplog.records] == ["no ClusterVersion 'cluster' yet: waiting for one to be created"]
    body = {"apiVersion": "upgrade.dexpy.io/v1alpha1", "kind": "ClusterVersion", "metadata": {"name": "cluster"}}
    cluster.kube.create(CV_PATH.rsplit("/", 1)[0], {**body, "spec": {**spec, "desiredVersion": NEW}})
    run(cluster, [leader], 80)
    assert_updated_once(cluster)


def test_the_controller_process_keeps_running_through_an_outage(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dexpy upgrade-controller` itself: its loop sleeps between turns; each sleep here moves the world on."""
    cluster.set_spec(desiredVersion=NEW)
    token = cluster.api.add_user("controller", [Rule(frozenset({"*"}), frozenset({"*"}))])
    kubeconfig = cluster.api.write_kubeconfig(tmp_path / "kc", token=token)
    slept: list[float] = []
    clock = FrozenClock()  # the process's clock: each sleep moves it on, so the passes it waited for are due

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        if len(slept) == 8:
            cluster.api.fail_when(lambda r: r.user == "controller", 503)
        if len(slept) == 12:
            cluster.api.clear_faults()
            cluster.api.stop()
        if len(slept) == 14:
            cluster.api.start()
        if not cluster.api.running:
            return
        cluster.sim.tick()
        if len(slept) > 200 or (len(slept) > 14 and completed(cluster)):
            raise KeyboardInterrupt  # how the loop is stopped

    monkeypatch.setattr(cli, "time", SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(cli, "system_clock", clock)
    args = argparse.Namespace(kubeconfig=str(kubeconfig), namespace="kube-system")
    assert cli._run_controller(args) == 0
    assert completed(cluster) and cluster.status()["currentVersion"] == NEW
    assert 14 < len(slept) < 200
    assert slept[8:14] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]  # the replica's backoff, not capped by the loop
    lease = cluster.kube.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/dexpy-upgrade-controller")
    assert lease["spec"]["holderIdentity"] is None  # released on the way out
