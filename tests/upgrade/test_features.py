"""Spec features the scenarios did not reach: window, BestEffort backup, history cap, narrow patches,
automatic updates, and a cluster installed without dexpy's version annotation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dexpy.upgrade.paths import EVENTS
from tests.upgrade.builders import images, release
from tests.upgrade.conftest import CV_PATH, NEW, NODES, OLD, Cluster, completed
from tests.upgrade.test_scenarios import image

RELEASES = "/apis/upgrade.dexpy.io/v1alpha1/releases"
SATURDAY = datetime(2026, 1, 3, 2, 0, tzinfo=timezone.utc)  # the suite's clock starts on a Thursday
WEEKENDS = {"days": ["sat", "sun"], "startTime": "02:00", "endTime": "06:00", "timeZone": "UTC"}


def events(cluster: Cluster) -> list[str]:
    return [e["reason"] for e in cluster.kube.list(EVENTS)]


def patched(cluster: Cluster) -> list[str]:
    return [name for name in images(OLD) if image(cluster, name) != images(OLD)[name]]


def test_outside_the_window_nothing_is_patched_and_the_condition_says_why(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW, window=WEEKENDS)
    cluster.drive(5)
    assert patched(cluster) == []
    progressing = cluster.condition("Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "OutsideWindow")
    cluster.clock.now = SATURDAY
    cluster.drive(80, stop=completed)
    assert cluster.status()["currentVersion"] == NEW


def test_outside_the_window_no_attempt_starts_and_no_snapshot_is_taken(cluster: Cluster) -> None:
    """A snapshot taken days before the first step would lose every write made in between if restored."""
    cluster.set_spec(desiredVersion=NEW, window=WEEKENDS, backup={"policy": "Required"})
    cluster.drive(5)
    assert cluster.status().get("history", []) == []
    assert events(cluster) == []
    assert cluster.kube.list("/apis/batch/v1/namespaces/kube-system/jobs") == []


def test_a_window_that_closes_mid_update_holds_the_next_step_until_it_opens_again(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW, window=WEEKENDS)
    cluster.clock.now = SATURDAY.replace(hour=5, minute=59, second=40)
    cluster.drive(20)
    held = patched(cluster)
    assert held and held != list(images(OLD))  # some steps ran, the rest wait
    assert cluster.condition("Progressing")["reason"] == "OutsideWindow"
    cluster.clock.now = SATURDAY + timedelta(days=1)
    cluster.drive(80, stop=completed)
    assert cluster.status()["currentVersion"] == NEW


def test_a_failed_best_effort_backup_warns_and_the_update_goes_on(cluster: Cluster) -> None:
    cluster.sim.backup_fails = True
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "BestEffort"})
    warnings: list[str] = []

    def note_warning(c: Cluster) -> bool:
        upgradeable = next(x for x in c.status()["conditions"] if x["type"] == "Upgradeable")
        if upgradeable["reason"] == "BackupFailed":
            warnings.append(upgradeable["message"])
        return completed(c)

    cluster.drive(80, stop=note_warning)
    status = cluster.status()
    assert status["currentVersion"] == NEW
    assert warnings and all(word in warnings[0] for word in ("etcd snapshot Job", "failed", "BestEffort"))
    assert "lastBackup" not in status  # no snapshot is claimed


def test_a_failed_best_effort_backup_leaves_a_warning_event_and_a_note_in_history(cluster: Cluster) -> None:
    """The Upgradeable condition is reset when the update completes; the Event and the history entry stay."""
    cluster.sim.backup_fails = True
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "BestEffort"})
    cluster.drive(80, stop=completed)
    entry = cluster.status()["history"][0]
    assert entry["state"] == "Completed"
    assert "etcd snapshot Job" in entry["backupError"] and "BestEffort" in entry["backupError"]
    warnings = [e for e in cluster.kube.list(EVENTS) if e["type"] == "Warning"]
    assert [(e["reason"], e["note"]) for e in warnings] == [("BackupFailed", entry["backupError"])]


def test_history_keeps_twenty_entries_newest_first(cluster: Cluster) -> None:
    old = [
        {"version": f"1.30.{n}", "from": f"1.30.{n - 1}", "state": "Completed",
         "startedTime": "2025-01-01T00:00:00Z", "completionTime": "2025-01-01T01:00:00Z"}
        for n in range(2, -18, -1)
    ]
    cluster.kube.patch(f"{CV_PATH}/status", {"status": {"currentVersion": OLD, "history": old}})
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    history = cluster.status()["history"]
    assert len(history) == 20
    assert (history[0]["version"], history[0]["from"], history[0]["state"]) == (NEW, OLD, "Completed")
    assert history[1:] == old[:19]


SIDECAR = {"name": "checkpoint-helper", "image": "example.com/helper:1"}


def extras(container: str) -> dict:
    """What others put on a component: a workload annotation, the pod-checkpointer's, env and a sidecar."""
    return {
        "metadata": {"annotations": {"team": "platform"}},
        "spec": {"template": {
            "metadata": {"annotations": {"checkpointer.alpha.coreos.com/checkpoint": "true"}},
            "spec": {"containers": [{"name": container, "env": [{"name": "LOG_LEVEL", "value": "2"}]}, dict(SIDECAR)]},
        }},
    }


def test_only_the_image_and_the_version_annotation_change(cluster: Cluster) -> None:
    paths = {
        "kube-apiserver": "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-apiserver",
        "kube-scheduler": "/apis/apps/v1/namespaces/kube-system/deployments/kube-scheduler",
    }
    for name, path in paths.items():
        cluster.kube.patch(path, extras(name), kind="strategic")
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    for name in paths:
        found = cluster.workload(name)
        template = found["spec"]["template"]
        containers = {c["name"]: c for c in template["spec"]["containers"]}
        assert containers[name]["image"] == images(NEW)[name]
        assert containers[name]["env"] == [{"name": "LOG_LEVEL", "value": "2"}]
        assert containers["checkpoint-helper"]["image"] == SIDECAR["image"]
        assert template["metadata"]["annotations"] == {
            "checkpointer.alpha.coreos.com/checkpoint": "true", "upgrade.dexpy.io/version": NEW}
        assert template["metadata"]["labels"] == {"k8s-app": name}
        assert found["metadata"]["annotations"]["team"] == "platform"


def test_automatic_updates_walk_the_channel_one_release_at_a_time(cluster: Cluster) -> None:
    for body in (
        release("1.30.3", [OLD]),
        release("1.31.1", [NEW]),
        release("1.31.2", ["1.31.1"], channels=["beta"]),
        release("1.31.3", ["1.31.1"], blocked=True),
    ):
        cluster.kube.create(RELEASES, body)
    cluster.set_spec(automaticUpdates=True)
    cluster.drive(200, stop=lambda c: c.status().get("currentVersion") == "1.31.1" and completed(c))
    cluster.drive(5)
    status = cluster.status()
    assert [(h["version"], h["from"]) for h in status["history"]] == [("1.31.1", NEW), (NEW, OLD)]
    assert status["currentVersion"] == "1.31.1" and status["availableUpdates"] == []
    assert "desiredVersion" not in cluster.cluster_version()["spec"]
    assert all(cluster.node(n)["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.1" for n in NODES)


def strip_version_annotations(cluster: Cluster) -> None:
    """As a cluster installed by bootkube has them: only the image tag tells the version."""
    for name in images(OLD):
        plural = "deployments" if name in ("kube-scheduler", "kube-controller-manager") else "daemonsets"
        path = f"/apis/apps/v1/namespaces/kube-system/{plural}/{name}"
        cluster.kube.patch(path, {"spec": {"template": {"metadata": {"annotations": None}}}})
    for pod in cluster.kube.list("/api/v1/namespaces/kube-system/pods"):
        path = f"/api/v1/namespaces/kube-system/pods/{pod['metadata']['name']}"
        cluster.kube.patch(path, {"metadata": {"annotations": None}})
    cluster.sim.tick()


def test_without_version_annotations_the_image_tags_tell_the_version(cluster: Cluster) -> None:
    strip_version_annotations(cluster)
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    assert cluster.status()["currentVersion"] == NEW


def test_without_version_annotations_a_component_at_another_tag_fails_preflight(cluster: Cluster) -> None:
    strip_version_annotations(cluster)
    path = "/apis/apps/v1/namespaces/kube-system/deployments/kube-scheduler"
    stale = {"name": "kube-scheduler", "image": "registry.k8s.io/kube-scheduler:v1.30.1"}
    cluster.kube.patch(path, {"spec": {"template": {"spec": {"containers": [stale]}}}}, kind="strategic")
    cluster.sim.tick()
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(3)
    assert cluster.condition("Upgradeable")["reason"] == "PreflightFailed"
    assert "kube-scheduler is at 1.30.1, not at the current version 1.30.2" in cluster.condition("Failing")["message"]
    assert patched(cluster) == ["kube-scheduler"]  # only the stale image above; nothing by the controller
