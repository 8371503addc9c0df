from __future__ import annotations

import argparse
from typing import Any

import pytest

from dexpy.upgrade.cli import register
from tests.upgrade.conftest import CV_PATH, NEW, OLD, Cluster


def run(cluster: Cluster, tmp_path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    kubeconfig = str(cluster.api.write_kubeconfig(tmp_path / "kc"))
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

