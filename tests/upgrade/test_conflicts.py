"""Real 409s mid-update: another client edits the object between the controller's read and its write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import Kube
from dexpy.upgrade.paths import EVENTS
from dexpy.upgrade.resources import DEFAULT_COMPONENTS
from tests.fixtures.kubeapi.auth import Rule
from tests.upgrade.test_backup import FIRST
from tests.upgrade.conftest import NEW, NODES, Cluster, completed

TOUCHED = "example.com/touched-by"
SCHEDULER = "/apis/apps/v1/namespaces/kube-system/deployments/kube-scheduler"


class RivalBeforeWrite(Kube):
    """The controller's client: just before the first patch `when` picks, someone else annotates that object."""

    rival: Kube
    when: Callable[[str, list[str]], bool]
    patched: list[str]

    def patch(self, path: str, body: Any, kind: str = "merge") -> dict[str, Any]:
        if self.when(path, self.patched) and not any(p.startswith("rival ") for p in self.patched):
            self.patched.append(f"rival {path}")
            self.rival.patch(path.removesuffix("/status"), {"metadata": {"annotations": {TOUCHED: "someone"}}})
        self.patched.append(path)
        return super().patch(path, body, kind)


def after_scheduler_patch(path: str, patched: list[str]) -> bool:
    """The status write that records the kube-scheduler patch just made."""
    return path.endswith("/clusterversions/cluster/status") and patched[-1:] == [SCHEDULER]


def controller_manager_patch(path: str, patched: list[str]) -> bool:
    return path.endswith("/deployments/kube-controller-manager")


def cordon_of_w1(path: str, patched: list[str]) -> bool:
    return path.endswith("/nodes/w1")


def uncordon_of_w1(path: str, patched: list[str]) -> bool:
    """The third patch of w1: after its cordon and the one that marks it Verifying."""
    return path.endswith("/nodes/w1") and patched.count(path) == 2


@pytest.mark.parametrize("when", [after_scheduler_patch, controller_manager_patch, cordon_of_w1, uncordon_of_w1])
def test_a_conflicting_write_is_read_again_and_the_update_finishes_once(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: Callable[[str, list[str]], bool]
) -> None:
    token = cluster.api.add_user("controller", [Rule(frozenset({"*"}), frozenset({"*"}))])
    kube = RivalBeforeWrite.connect(str(cluster.api.write_kubeconfig(tmp_path / "kc", token=token)))
    kube.rival, kube.when, kube.patched = cluster.kube, when, []
    controller = Controller(kube, clock=cluster.clock)
    monkeypatch.setattr(cluster, "controller", lambda: controller)  # drive it with this client
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)

    rival = next(p.removeprefix("rival ") for p in kube.patched if p.startswith("rival "))
    conflicts = [r for r in cluster.api.requests if r.user == "controller" and r.status == 409]
    resource = next(kind for kind in ("clusterversions", "deployments", "nodes") if f"/{kind}/" in rival)
    assert [(r.resource, r.subresource) for r in conflicts] == [(resource, "status" if rival.endswith("/status") else "")]
    assert completed(cluster) and cluster.status()["currentVersion"] == NEW
    assert [h["state"] for h in cluster.status()["history"]] == ["Completed"]
    patches = Counter(
        r.name for r in cluster.api.requests
        if r.user == "controller" and r.verb == "patch" and r.status < 400
        and r.resource in ("deployments", "daemonsets") and not r.subresource
    )
    assert patches == Counter(c.name for c in DEFAULT_COMPONENTS)  # each workload changed once
    assert cluster.kube.get(rival.removesuffix("/status"))["metadata"]["annotations"][TOUCHED] == "someone"
    reasons = Counter(e["reason"] for e in cluster.kube.list(EVENTS))
    assert reasons["UpdateStarted"] == reasons["UpgradeCompleted"] == 1
    assert reasons["ComponentUpdating"] == len(DEFAULT_COMPONENTS)  # one Event per change, none lost or doubled
    assert reasons["NodeCordoned"] == reasons["NodeUpgraded"] == len(NODES)


class RivalCreatesTheJob(Kube):
    """Another replica creates the backup Job between this controller's look-up (404) and its create."""

    rival: Kube

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path.endswith("/jobs") and not self.rival.list(path):
            self.rival.create(path, body)
        return super().create(path, body)


def test_a_backup_job_created_meanwhile_is_adopted_not_doubled(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = cluster.api.add_user("controller", [Rule(frozenset({"*"}), frozenset({"*"}))])
    kube = RivalCreatesTheJob.connect(str(cluster.api.write_kubeconfig(tmp_path / "kc", token=token)))
    kube.rival = cluster.kube
    controller = Controller(kube, clock=cluster.clock)
    monkeypatch.setattr(cluster, "controller", lambda: controller)
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    cluster.drive(80, stop=completed)

    [refused] = [r for r in cluster.api.requests if r.user == "controller" and r.resource == "jobs" and r.verb == "create"]
    assert refused.status == 409  # AlreadyExists
    [job] = cluster.kube.list("/apis/batch/v1/namespaces/kube-system/jobs")
    assert cluster.status()["lastBackup"]["name"] == job["metadata"]["name"] == FIRST
    assert cluster.status()["currentVersion"] == NEW
    assert cluster.condition("Failing")["status"] == "False"
