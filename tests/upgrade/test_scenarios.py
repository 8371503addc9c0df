from __future__ import annotations

from datetime import timedelta

import pytest

from dexpy.upgrade import gates
from dexpy.upgrade.lease import LeaderElector
from dexpy.upgrade.paths import EVENTS
from dexpy.upgrade.plan import MADE_UNSCHEDULABLE, PHASE
from dexpy.upgrade.resources import ANNOTATION_VERSION
from dexpy.upgrade.versions import Version
from tests.upgrade.builders import images, release
from tests.upgrade.test_backup import FIRST
from tests.upgrade.conftest import NEW, NODES, OLD, Cluster, completed, halted, spec_writes


def image(cluster: Cluster, name: str) -> str:
    return cluster.workload(name)["spec"]["template"]["spec"]["containers"][0]["image"]


def test_controller_restarted_between_every_pair_of_steps_still_finishes(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, fresh=True, stop=completed)
    assert cluster.status()["currentVersion"] == NEW
    assert all(cluster.node(n)["status"]["nodeInfo"]["kubeletVersion"] == f"v{NEW}" for n in NODES)


def test_a_step_that_never_gets_healthy_halts_and_rolls_back_in_reverse_order(cluster: Cluster) -> None:
    cluster.sim.stuck["kube-controller-manager"] = NEW
    cluster.set_spec(desiredVersion=NEW, rollback={"automatic": True})
    patched: list[str] = []
    original = cluster.kube.patch

    def record(path: str, body, kind: str = "merge"):
        if "/apis/apps/" in path and not path.endswith("/status"):
            patched.append(path.rsplit("/", 1)[-1])
        return original(path, body, kind)

    cluster.kube.patch = record  # type: ignore[method-assign]
    cluster.drive(120, step=timedelta(seconds=20), stop=halted)
    assert patched == [
        "kube-apiserver", "kube-scheduler", "kube-controller-manager",
        "kube-controller-manager", "kube-scheduler", "kube-apiserver",
    ]
    for name in ("kube-apiserver", "kube-scheduler", "kube-controller-manager", "kube-proxy"):
        assert image(cluster, name) == images(OLD)[name]
    status = cluster.status()
    assert cluster.condition("Failing")["reason"] == "StepTimeout"
    assert "kube-controller-manager" in cluster.condition("Failing")["message"]
    assert status["history"][0]["state"] == "RolledBack"
    assert status["currentVersion"] == OLD


def test_a_kubelet_that_never_reports_the_new_version_is_rolled_back_and_its_node_uncordoned(cluster: Cluster) -> None:
    cluster.sim.stuck["kubelet"] = NEW
    cluster.set_spec(desiredVersion=NEW, rollback={"automatic": True})
    cluster.drive(150, step=timedelta(seconds=20), stop=halted)
    status = cluster.status()
    assert cluster.condition("Failing")["reason"] == "StepTimeout" and "kubelet/cp1" in cluster.condition("Failing")["message"]
    assert status["history"][0]["state"] == "RolledBack" and status["currentVersion"] == OLD
    for name, old_image in images(OLD).items():
        assert image(cluster, name) == old_image
    assert gates.template_version(cluster.workload("kubelet")) == Version.parse(OLD)
    for name in NODES:
        node = cluster.node(name)
        assert not node["spec"].get("unschedulable"), name
        annotations = node["metadata"].get("annotations") or {}
        assert PHASE not in annotations and MADE_UNSCHEDULABLE not in annotations, name
        assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{OLD}", name
    pods = cluster.kube.list("/api/v1/namespaces/kube-system/pods", labelSelector="k8s-app=kubelet")
    assert {p["spec"]["nodeName"]: p["metadata"]["annotations"][ANNOTATION_VERSION] for p in pods} == dict.fromkeys(NODES, OLD)


def test_without_automatic_rollback_a_timeout_halts_where_it_is(cluster: Cluster) -> None:
    cluster.sim.stuck["kube-scheduler"] = NEW
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(60, step=timedelta(seconds=20), stop=halted)
    assert halted(cluster)
    assert image(cluster, "kube-scheduler") == images(NEW)["kube-scheduler"]
    assert image(cluster, "kube-controller-manager") == images(OLD)["kube-controller-manager"]
    before = cluster.workload("kube-controller-manager")["metadata"]["resourceVersion"]
    cluster.drive(5)
    assert cluster.workload("kube-controller-manager")["metadata"]["resourceVersion"] == before


def test_manual_rollback_sets_the_desired_version_back(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    cluster.set_spec(desiredVersion=OLD)
    cluster.drive(80, stop=lambda c: c.status()["currentVersion"] == OLD and completed(c))
    assert cluster.status()["currentVersion"] == OLD
    assert all(image(cluster, name) == images(OLD)[name] for name in ("kube-apiserver", "kube-proxy"))
    assert all(cluster.node(n)["status"]["nodeInfo"]["kubeletVersion"] == f"v{OLD}" for n in NODES)


def add_guarded_pod(cluster: Cluster, node: str) -> None:
    api = cluster.api
    api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
           "spec": {"nodeName": node, "containers": [{"name": "web", "image": "nginx"}]}}
    cluster.kube.create("/api/v1/namespaces/apps/pods", pod)
    cluster.kube.patch("/api/v1/namespaces/apps/pods/web/status", {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}]}})
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web-pdb", "namespace": "apps"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}
    cluster.kube.create("/apis/policy/v1/namespaces/apps/poddisruptionbudgets", pdb)
    cluster.kube.patch("/apis/policy/v1/namespaces/apps/poddisruptionbudgets/web-pdb/status", {"status": {
        "observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}})


def test_a_drain_blocked_by_a_disruption_budget_fails_after_the_drain_timeout(cluster: Cluster) -> None:
    add_guarded_pod(cluster, "cp1")
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, step=timedelta(seconds=10), stop=halted)
    failing = cluster.condition("Failing")
    assert failing["reason"] == "DrainBlocked"
    assert "apps/web" in failing["message"] and "disruption budget" in failing["message"]
    assert cluster.node("cp1")["spec"]["unschedulable"] is True  # left cordoned for the operator
    assert cluster.kube.get("/api/v1/namespaces/apps/pods/web")["metadata"]["name"] == "web"


def test_a_drain_goes_on_once_the_budget_allows_it(cluster: Cluster) -> None:
    add_guarded_pod(cluster, "w1")
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(15, stop=lambda c: "web" in c.status().get("progress", {}).get("message", ""))
    cluster.kube.patch("/apis/policy/v1/namespaces/apps/poddisruptionbudgets/web-pdb/status",
                       {"status": {"disruptionsAllowed": 1}})
    cluster.drive(80, stop=completed)
    assert cluster.status()["currentVersion"] == NEW
    assert cluster.kube.list("/api/v1/namespaces/apps/pods") == []


def test_pause_and_resume_mid_update(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(30, stop=lambda c: image(c, "kube-scheduler") == images(NEW)["kube-scheduler"])
    cluster.set_spec(paused=True)
    cluster.drive(10)
    assert image(cluster, "kube-controller-manager") == images(OLD)["kube-controller-manager"]
    assert cluster.condition("Paused")["status"] == "True"
    assert cluster.condition("Progressing")["reason"] == "Paused"
    cluster.set_spec(paused=False)
    cluster.drive(80, stop=completed)
    assert cluster.status()["currentVersion"] == NEW


def test_preflight_only_mode_changes_nothing(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW, mode="Preflight")
    before = {name: cluster.workload(name)["metadata"]["resourceVersion"] for name in images(OLD)}
    cluster.drive(5)
    assert {name: cluster.workload(name)["metadata"]["resourceVersion"] for name in images(OLD)} == before
    assert cluster.condition("Upgradeable")["status"] == "True"
    assert "kube-apiserver -> kube-scheduler" in cluster.status()["progress"]["message"]


def test_preflight_only_mode_records_no_attempt_and_no_event(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW, mode="Preflight")
    cluster.drive(5)
    assert "checks: all passed" in cluster.status()["progress"]["message"]
    assert cluster.status().get("history", []) == []
    assert [e["reason"] for e in cluster.kube.list(EVENTS)] == []


def test_preflight_only_mode_does_not_roll_back_either(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    cluster.set_spec(desiredVersion=OLD, mode="Preflight")
    cluster.drive(5)
    assert [image(cluster, name) for name in images(NEW)] == list(images(NEW).values())
    assert not any(cluster.node(n)["spec"].get("unschedulable") for n in NODES)


def test_preflight_failure_blocks_the_update(cluster: Cluster) -> None:
    cluster.kube.patch("/api/v1/nodes/cp1/status", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    cluster.set_spec(desiredVersion=NEW)
    cluster.controller().reconcile()
    assert cluster.condition("Upgradeable")["reason"] == "PreflightFailed"
    assert "cp1 is not Ready" in cluster.condition("Failing")["message"]
    assert image(cluster, "kube-apiserver") == images(OLD)["kube-apiserver"]


def test_two_controllers_share_one_lease_and_only_the_holder_acts(cluster: Cluster) -> None:
    electors = [LeaderElector(cluster.kube, namespace="dexpy", identity=i, clock=cluster.clock) for i in ("a", "b")]
    assert [e.try_acquire() for e in electors] == [True, False]
    assert [e.try_acquire() for e in electors] == [True, False]  # renewal keeps it
    cluster.clock.advance(timedelta(seconds=16))  # a stops renewing
    assert electors[1].try_acquire() is True
    assert electors[0].try_acquire() is False
    lease = cluster.kube.get("/apis/coordination.k8s.io/v1/namespaces/dexpy/leases/dexpy-upgrade-controller")
    assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] == 1


def test_backup_runs_before_the_first_step_and_is_recorded(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    cluster.drive(80, stop=completed)
    status = cluster.status()
    assert status["lastBackup"]["name"] == FIRST
    assert status["history"][0]["backup"] == status["lastBackup"]["name"]


def test_a_failed_required_backup_stops_before_anything_changes(cluster: Cluster) -> None:
    cluster.sim.backup_fails = True
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    cluster.drive(10, stop=halted)
    assert cluster.condition("Failing")["reason"] == "BackupFailed"
    assert image(cluster, "kube-apiserver") == images(OLD)["kube-apiserver"]


def test_automatic_updates_with_nothing_offered_say_so(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    cluster.set_spec(desiredVersion=None, automaticUpdates=True)
    cluster.drive(2)
    progressing = cluster.condition("Progressing")
    assert (progressing["status"], progressing["message"]) == ("False", "no update available on channel stable")
    cluster.set_spec(automaticUpdates=False)
    cluster.drive(1)
    assert cluster.condition("Progressing")["message"] == "no update requested"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"desiredVersion": "1.99.0"}, "VersionNotFound"),
        ({"desiredVersion": "1.30.1"}, "NotReachable"),
        ({"automaticUpdates": True, "channel": "beta"}, "NoChannel"),
        ({"desiredVersion": NEW, "strategy": {"nodes": {"maxUnavailable": "one"}}}, "InvalidSpec"),
        ({"desiredVersion": NEW, "strategy": {"nodes": {"maxUnavailable": -1}}}, "InvalidSpec"),
    ],
)
def test_bad_input_is_reported_and_nothing_is_patched(cluster: Cluster, spec: dict, reason: str) -> None:
    for name in ("v1.30.2", "v1.31.0"):
        cluster.kube.patch(f"/apis/upgrade.dexpy.io/v1alpha1/releases/{name}", {"spec": {"channels": ["stable"]}})
    cluster.set_spec(**spec)
    cluster.drive(3)
    assert cluster.condition("Failing")["reason"] == reason
    assert cluster.condition("Progressing")["message"] == "nothing was changed"
    assert spec_writes(cluster) == 0


def test_a_blocked_release_is_refused(cluster: Cluster) -> None:
    cluster.kube.patch("/apis/upgrade.dexpy.io/v1alpha1/releases/v1.31.0", {"spec": {"blocked": True, "blockedReason": "CVE"}})
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(3)
    assert cluster.condition("Failing")["reason"] == "ReleaseBlocked" and "CVE" in cluster.condition("Failing")["message"]
    assert cluster.condition("Progressing")["message"] == "nothing was changed"
    assert spec_writes(cluster) == 0
    assert cluster.kube.list("/apis/batch/v1/namespaces/kube-system/jobs") == []


def test_a_release_blocked_mid_update_halts_it_where_it_is_until_unblocked(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(30, stop=lambda c: image(c, "kube-scheduler") == images(NEW)["kube-scheduler"])
    release_path = "/apis/upgrade.dexpy.io/v1alpha1/releases/v1.31.0"
    cluster.kube.patch(release_path, {"spec": {"blocked": True, "blockedReason": "CVE"}})
    before = spec_writes(cluster)
    cluster.drive(10)
    assert spec_writes(cluster) == before  # no further patch, no node touched
    assert image(cluster, "kube-controller-manager") == images(OLD)["kube-controller-manager"]
    assert cluster.condition("Failing")["reason"] == "ReleaseBlocked"
    assert cluster.condition("Progressing")["message"] == "halted mid-update"
    assert cluster.status()["history"][0]["state"] == "Partial"
    cluster.kube.patch(release_path, {"spec": {"blocked": False}})
    cluster.drive(80, stop=completed)
    assert cluster.status()["currentVersion"] == NEW


def test_a_missing_component_is_refused(cluster: Cluster) -> None:
    cluster.kube.delete("/apis/apps/v1/namespaces/kube-system/deployments/kube-scheduler")
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(3)
    assert cluster.condition("Failing")["reason"] == "ComponentNotFound"
    assert image(cluster, "kube-apiserver") == images(OLD)["kube-apiserver"]


def test_a_malformed_release_for_the_desired_version_is_refused(cluster: Cluster) -> None:
    broken = release("1.31.1", [NEW])
    del broken["spec"]["images"]["kubelet"]
    cluster.kube.create("/apis/upgrade.dexpy.io/v1alpha1/releases", broken)
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    cluster.set_spec(desiredVersion="1.31.1")
    cluster.drive(3)
    assert cluster.condition("Failing")["reason"] == "MalformedRelease"
    assert "kubelet" in cluster.condition("Failing")["message"]
