from __future__ import annotations

from datetime import timedelta

from tests.upgrade.builders import images
from tests.upgrade.conftest import NEW, NODES, OLD, Cluster, completed, halted


def test_idle_cluster_reports_its_version_and_the_available_update(cluster: Cluster) -> None:
    cluster.controller().reconcile()
    status = cluster.status()
    assert status["currentVersion"] == OLD
    assert [u["version"] for u in status["availableUpdates"]] == [NEW]
    assert cluster.condition("Available")["status"] == "True"
    assert cluster.condition("Progressing")["status"] == "False"
    assert status["observedGeneration"] == cluster.cluster_version()["metadata"]["generation"]


def test_full_update_to_the_next_version(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    passes = cluster.drive(80, stop=completed)
    status = cluster.status()
    assert status["currentVersion"] == NEW, status["progress"]
    assert status["history"][0]["state"] == "Completed" and status["history"][0]["from"] == OLD
    for name, image in images(NEW).items():
        workload = cluster.workload(name)
        assert workload["spec"]["template"]["spec"]["containers"][0]["image"] == image
        assert workload["spec"]["template"]["metadata"]["annotations"]["upgrade.dexpy.io/version"] == NEW
    for name in NODES:
        node = cluster.node(name)
        assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{NEW}"
        assert not node["spec"].get("unschedulable")
        assert node["metadata"]["labels"]["upgrade.dexpy.io/version"] == NEW
    assert passes < 80


def test_available_is_false_while_a_component_at_the_current_version_has_no_pod_serving(cluster: Cluster) -> None:
    cluster.sim.stuck["kube-scheduler"] = OLD
    cluster.sim.tick()
    cluster.controller().reconcile()
    available = cluster.condition("Available")
    assert (available["status"], available["reason"]) == ("False", "ComponentUnavailable")
    assert available["message"] == "no available pods: kube-scheduler"
    del cluster.sim.stuck["kube-scheduler"]
    cluster.sim.tick()
    cluster.controller().reconcile()
    assert cluster.condition("Available")["status"] == "True"


def test_available_is_false_after_a_halted_update_leaves_a_component_down(cluster: Cluster) -> None:
    cluster.sim.stuck["kube-scheduler"] = NEW
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(60, step=timedelta(seconds=20), stop=halted)
    cluster.drive(1)
    assert cluster.condition("Failing")["reason"] == "StepTimeout"
    available = cluster.condition("Available")
    assert available["status"] == "False" and "kube-scheduler" in available["message"]
