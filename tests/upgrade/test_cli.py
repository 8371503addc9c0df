from __future__ import annotations

import argparse
from typing import Any

import pytest

from dexpy.upgrade.cli import register
from tests.upgrade.builders import release
from tests.upgrade.conftest import CV_PATH, NEW, OLD, Cluster, completed, halted
from tests.upgrade.test_backup import FIRST, job_names

VERBS = [["plan"], ["status"], ["start", NEW], ["pause"], ["resume"], ["retry"], ["rollback"]]


def run(cluster: Cluster, tmp_path, *argv: str, token: str | None = None) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    kubeconfig = str(cluster.api.write_kubeconfig(tmp_path / "kc", token=token))
    args = parser.parse_args(["upgrade", "--kubeconfig", kubeconfig, *argv])
    return int(args.func(args))


def test_start_pause_and_status_patch_the_cluster_version_and_print_a_table(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.controller().reconcile()
    assert run(cluster, tmp_path, "start", f"v{NEW}") == 0
    assert cluster.cluster_version()["spec"]["desiredVersion"] == NEW
    cluster.controller().reconcile()
    run(cluster, tmp_path, "pause")
    assert cluster.cluster_version()["spec"]["paused"] is True
    capsys.readouterr()
    run(cluster, tmp_path, "status")
    out = capsys.readouterr().out
    assert "CURRENT  1.30.2" in out and f"DESIRED  {NEW}" in out and "PAUSED" in out
    assert "kube-apiserver" in out


def test_rollback_without_a_completed_update_refuses(cluster: Cluster, tmp_path) -> None:
    cluster.controller().reconcile()
    assert run(cluster, tmp_path, "rollback") == 1


def entry(version: str, source: str, state: str) -> dict[str, Any]:
    return {"version": version, "from": source, "state": state, "startedTime": "2026-01-01T00:00:00Z"}


def set_status(cluster: Cluster, current: str, history: list[dict[str, Any]]) -> None:
    cluster.kube.patch(f"{CV_PATH}/status", {"status": {"currentVersion": current, "history": history}})


@pytest.mark.parametrize(
    "history",
    [
        [entry(NEW, OLD, "Completed")],
        [entry("1.31.1", NEW, "Partial"), entry(NEW, OLD, "Completed")],  # halted on the way to 1.31.1
        [entry(NEW, NEW, "Partial"), entry("1.31.1", NEW, "Abandoned"), entry(NEW, OLD, "Completed")],
        [entry(NEW, NEW, "Completed"), entry("1.31.1", NEW, "Abandoned"), entry(NEW, OLD, "Completed")],
        [entry(NEW, "1.30.9", "RolledBack"), entry(NEW, OLD, "Completed"), entry(OLD, "1.30.1", "Completed")],
    ],
)
def test_rollback_goes_to_the_version_before_the_last_completed_update(
    cluster: Cluster, tmp_path, history: list[dict[str, Any]]
) -> None:
    cluster.set_spec(mode="Preflight", paused=True)
    set_status(cluster, NEW, history)
    assert run(cluster, tmp_path, "rollback") == 0
    spec = cluster.cluster_version()["spec"]
    assert (spec["desiredVersion"], spec["mode"], spec["paused"]) == (OLD, "Apply", False)


@pytest.mark.parametrize(
    ("current", "history"),
    [
        (NEW, []),
        (NEW, [entry(NEW, OLD, "Partial")]),
        (NEW, [entry(NEW, OLD, "RolledBack"), entry(NEW, OLD, "Abandoned")]),
        (OLD, [entry(NEW, OLD, "RolledBack")]),
        (OLD, [entry(NEW, OLD, "Completed")]),  # the record does not match the cluster: do not guess
    ],
)
def test_rollback_refuses_without_a_completed_update_to_the_current_version(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str], current: str, history: list[dict[str, Any]]
) -> None:
    set_status(cluster, current, history)
    assert run(cluster, tmp_path, "rollback") == 1
    assert "nothing to roll back" in capsys.readouterr().err
    assert "desiredVersion" not in cluster.cluster_version()["spec"]


def test_plan_shows_the_next_update_its_steps_node_batches_and_checks_and_writes_nothing(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No desiredVersion and no automatic updates: the plan is towards the channel's next release."""
    cluster.kube.patch("/api/v1/nodes/w2", {"metadata": {"labels": {"upgrade.dexpy.io/canary": "true"}}})
    cluster.set_spec(strategy={"nodes": {"maxUnavailable": 2, "canary": {"soakSeconds": 600}}})
    generation = cluster.cluster_version()["metadata"]["generation"]
    cluster.api.clear_log()
    assert run(cluster, tmp_path, "plan") == 0
    assert {r.method for r in cluster.api.requests} == {"GET"}
    assert cluster.cluster_version()["metadata"]["generation"] == generation
    out = capsys.readouterr().out
    assert f"{OLD} -> {NEW}" in out
    steps = [line.split()[1] for line in out.splitlines() if line[3:5] == ". "]
    assert steps == ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "kube-proxy", "kubelet"]
    assert "canaries: w2, then soak 600s\n       nodes: cp1, w1\n" in out
    assert out.rstrip().endswith("PREFLIGHT passed")


def test_plan_puts_the_node_of_the_controller_holding_the_lease_last(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the controller does with its own node (`NODE_NAME`): the plan finds it from the Lease holder's pod."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "upgrade-controller-5d8f", "namespace": "kube-system"},
           "spec": {"nodeName": "cp1", "containers": [{"name": "controller", "image": "dexpy"}]}}
    cluster.kube.create("/api/v1/namespaces/kube-system/pods", pod)
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "dexpy-upgrade-controller", "namespace": "kube-system"},
             "spec": {"holderIdentity": "upgrade-controller-5d8f-1", "leaseDurationSeconds": 15}}
    cluster.kube.create("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", lease)
    assert run(cluster, tmp_path, "plan") == 0
    assert "nodes: w1\n       nodes: w2\n       nodes: cp1\n" in capsys.readouterr().out


def test_plan_towards_a_named_version_reports_failed_checks(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.kube.create("/apis/upgrade.dexpy.io/v1alpha1/releases", release("1.30.3", [OLD]))
    cluster.kube.patch("/api/v1/nodes/cp1/status", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert run(cluster, tmp_path, "plan", "v1.30.3") == 0
    out = capsys.readouterr().out
    assert f"{OLD} -> 1.30.3" in out and "nodes: cp1\n       nodes: w1\n       nodes: w2\n" in out
    assert "FAIL  control-plane node cp1 is not Ready" in out


@pytest.mark.parametrize(
    ("argv", "message"), [(["1.99.0"], "no Release for version 1.99.0"), (["1.31"], "not a version")]
)
def test_plan_refuses_a_version_it_cannot_reach(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(cluster, tmp_path, "plan", *argv) == 1
    assert message in capsys.readouterr().err


def test_plan_with_no_update_on_the_channel_says_so(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.kube.patch(f"/apis/upgrade.dexpy.io/v1alpha1/releases/v{NEW}", {"spec": {"channels": ["beta"]}})
    assert run(cluster, tmp_path, "plan") == 0
    assert capsys.readouterr().out == f"CURRENT  {OLD}\nno update available on channel stable\n"


def test_rollback_after_a_halted_update_was_put_back_reaches_the_version_before(cluster: Cluster, tmp_path) -> None:
    cluster.kube.create("/apis/upgrade.dexpy.io/v1alpha1/releases", release("1.31.1", [NEW]))
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    cluster.sim.stuck["kube-scheduler"] = "1.31.1"
    assert run(cluster, tmp_path, "start", "1.31.1") == 0
    cluster.drive(80, stop=halted)
    cluster.sim.stuck.clear()
    assert run(cluster, tmp_path, "start", NEW) == 0  # put the halted update back
    cluster.drive(80, stop=completed)
    assert run(cluster, tmp_path, "rollback") == 0
    assert cluster.cluster_version()["spec"]["desiredVersion"] == OLD
    cluster.drive(80, stop=lambda c: c.status()["currentVersion"] == OLD and completed(c))
    assert cluster.status()["currentVersion"] == OLD


@pytest.mark.parametrize("argv", VERBS)
def test_every_verb_without_a_cluster_version_says_so_in_one_line(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    cluster.kube.delete(CV_PATH)
    assert run(cluster, tmp_path, *argv) == 1
    assert capsys.readouterr().err == "dexpy: no ClusterVersion 'cluster' (create one: see docs/upgrade.md)\n"


@pytest.mark.parametrize("argv", VERBS)
def test_every_verb_with_the_api_down_says_so_in_one_line(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    cluster.api.stop()
    try:
        assert run(cluster, tmp_path, *argv) == 1
    finally:
        cluster.api.start()
    err = capsys.readouterr().err
    assert err.startswith("dexpy: Kubernetes API unreachable: ") and "Connection refused" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("argv", [["upgrade", *VERBS[1]], ["upgrade-controller"]])
def test_a_kubeconfig_that_cannot_be_loaded_is_one_line(tmp_path, capsys: pytest.CaptureFixture[str],
                                                       argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    missing = str(tmp_path / "no-such-kubeconfig")
    args = parser.parse_args([argv[0], "--kubeconfig", missing, *argv[1:]])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dexpy: cannot load the Kubernetes credentials ({missing}): ") and err.count("\n") == 1


def test_a_user_without_rights_is_told_forbidden_in_one_line(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = cluster.api.add_user("viewer")
    assert run(cluster, tmp_path, "start", NEW, token=token) == 1
    err = capsys.readouterr().err
    assert err.startswith("dexpy: forbidden: ") and "viewer" in err and err.count("\n") == 1


def test_a_server_error_is_one_line_with_its_status(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.api.fail_when(lambda r: r.resource == "clusterversions", 500, "etcdserver: request timed out")
    assert run(cluster, tmp_path, "status") == 1
    assert capsys.readouterr().err == "dexpy: Kubernetes API error: 500: etcdserver: request timed out\n"


def test_retry_after_a_failed_required_backup_takes_a_new_snapshot_and_completes(cluster: Cluster, tmp_path) -> None:
    """Nothing else in the spec needs to change: `retry` alone moves the generation past the halt."""
    cluster.sim.backup_fails = True
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    cluster.drive(10, stop=halted)
    cluster.drive(3)
    halted_at = cluster.status()["progress"]["haltedGeneration"]
    assert job_names(cluster) == [FIRST]
    cluster.sim.backup_fails = False
    assert run(cluster, tmp_path, "retry") == 0
    assert cluster.cluster_version()["spec"]["retry"] == 1
    cluster.drive(80, stop=completed)
    retry = f"{FIRST}-retry-{halted_at}"
    assert job_names(cluster) == [FIRST, retry]
    assert cluster.status()["currentVersion"] == NEW and cluster.status()["lastBackup"]["name"] == retry


def test_retry_with_nothing_halted_changes_nothing(
    cluster: Cluster, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    generation = cluster.cluster_version()["metadata"]["generation"]
    assert run(cluster, tmp_path, "retry") == 1
    assert capsys.readouterr().err == "dexpy: nothing to retry: no update is halted\n"
    assert cluster.cluster_version()["metadata"]["generation"] == generation
