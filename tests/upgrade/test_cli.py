from __future__ import annotations

import argparse

import pytest

from dexpy.upgrade.cli import register
from tests.upgrade.conftest import NEW, Cluster


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
