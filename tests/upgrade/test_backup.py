"""The etcd snapshot Job before an update: one Job per try, so a failed backup can be retried by a spec change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dexpy.upgrade.kube import ApiError
from tests.upgrade.conftest import NEW, OLD, Cluster, completed, halted, spec_writes

JOBS = "/apis/batch/v1/namespaces/kube-system/jobs"
FIRST = "etcd-backup-1-30-2-to-1-31-0"


def job_names(cluster: Cluster) -> list[str]:
    return sorted(job["metadata"]["name"] for job in cluster.kube.list(JOBS))


def test_a_failed_required_backup_is_retried_with_a_new_job_after_a_spec_change(cluster: Cluster) -> None:
    cluster.sim.backup_fails = True
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    cluster.drive(10, stop=halted)
    failing = cluster.condition("Failing")
    assert failing["reason"] == "BackupFailed" and f"etcd snapshot Job {FIRST} failed" in failing["message"]
    assert spec_writes(cluster) == 0
    cluster.drive(3)
    assert job_names(cluster) == [FIRST]  # halted: the failed Job is not tried again on its own
    halted_at = cluster.status()["progress"]["haltedGeneration"]

    # ten minutes later the operator has fixed the disk and edits the spec: that is the retry
    cluster.sim.backup_fails = False
    cluster.clock.advance(timedelta(minutes=10))
    cluster.set_spec(backup={"policy": "Required", "hostPath": "/var/lib/etcd-snapshots"})
    retry = f"{FIRST}-retry-{halted_at}"
    cluster.api.fail_when(lambda r: r.resource == "clusterversions" and r.subresource == "status", count=1)
    with pytest.raises(ApiError):
        cluster.controller().reconcile()  # killed after creating the Job: its status write is lost
    assert job_names(cluster) == [FIRST, retry]
    cluster.controller().reconcile()  # a new controller finds that Job, and it is not timed out by the old step
    assert cluster.api.count(verb="create", resource="jobs") == 2
    assert cluster.condition("Failing")["status"] == "False"

    cluster.drive(80, stop=completed)
    status = cluster.status()
    assert status["currentVersion"] == NEW
    assert status["lastBackup"]["name"] == retry and status["history"][0]["backup"] == retry
    assert job_names(cluster) == [FIRST, retry]


def test_the_same_update_again_after_a_rollback_takes_a_fresh_snapshot(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    cluster.drive(80, stop=completed)
    cluster.set_spec(desiredVersion=OLD)
    cluster.drive(80, stop=lambda c: c.status()["currentVersion"] == OLD and completed(c))
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=lambda c: c.status()["currentVersion"] == NEW and completed(c))
    again = f"{FIRST}-attempt-2"
    assert cluster.status()["lastBackup"]["name"] == again  # not the finished Job of the first attempt
    assert job_names(cluster) == [FIRST, again]  # going down takes no snapshot


def test_a_required_backup_that_never_finishes_times_out_before_anything_changes(cluster: Cluster) -> None:
    cluster.sim.backup_hangs = True
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})  # stepTimeoutSeconds: 120
    cluster.drive(30, step=timedelta(seconds=10), stop=halted)
    failing = cluster.condition("Failing")
    assert (failing["status"], failing["reason"]) == ("True", "BackupFailed")
    assert failing["message"] == f"etcd snapshot Job {FIRST} did not finish in time"
    assert cluster.condition("Progressing")["reason"] == "Halted"
    assert spec_writes(cluster) == 0
    assert job_names(cluster) == [FIRST]
    assert cluster.status()["history"][0]["state"] == "Partial" and "lastBackup" not in cluster.status()
