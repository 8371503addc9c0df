"""The etcd snapshot Job before an update: one Job per try, so a failed backup can be retried by a spec change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dexpy.upgrade.actions import backup_job_name
from dexpy.upgrade.kube import ApiError
from dexpy.upgrade.status import HISTORY_LIMIT
from dexpy.upgrade.versions import Version
from tests.fixtures.kubeapi.server import LoggedRequest
from tests.upgrade.conftest import CV_PATH, NEW, OLD, Cluster, completed, halted, spec_writes

JOBS = "/apis/batch/v1/namespaces/kube-system/jobs"
FIRST = "etcd-backup-1-30-2-to-1-31-0-20260101000000"  # the attempt's startedTime: the clock's start


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
    status_writes: list[LoggedRequest] = []

    def after_the_job(r: LoggedRequest) -> bool:  # the attempt is on record before its Job; the write after it is lost
        if r.resource == "clusterversions" and r.subresource == "status":
            status_writes.append(r)
            return len(status_writes) == 2
        return False

    cluster.api.fail_when(after_the_job, count=1)
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
    again = cluster.status()["lastBackup"]["name"]
    started = cluster.status()["history"][0]["startedTime"]
    assert again == f"etcd-backup-1-30-2-to-1-31-0-{started.replace('-', '').replace(':', '')[:-1].replace('T', '')}"
    assert again != FIRST  # not the finished Job of the first attempt
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


def test_with_a_full_history_a_new_attempt_still_gets_its_own_job(cluster: Cluster) -> None:
    """History keeps 20 entries: a count of earlier attempts stops growing there, their start times do not repeat."""
    old = [{"version": NEW, "from": OLD, "state": "RolledBack", "startedTime": f"2025-12-{day:02d}T00:00:00Z",
            "completionTime": f"2025-12-{day:02d}T01:00:00Z"} for day in range(HISTORY_LIMIT, 0, -1)]
    cluster.kube.patch(f"{CV_PATH}/status", {"status": {"history": old}})
    for entry in old:  # each earlier attempt left its finished Job behind
        name = backup_job_name(Version.parse(OLD), Version.parse(NEW), entry["startedTime"], None)
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "kube-system"},
               "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "x", "image": "x"}]}}}}
        cluster.kube.create(JOBS, job)
    cluster.sim.tick()
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    cluster.drive(80, stop=completed)
    status = cluster.status()
    assert len(status["history"]) == HISTORY_LIMIT and status["history"][0]["state"] == "Completed"
    assert status["lastBackup"]["name"] == FIRST and len(job_names(cluster)) == HISTORY_LIMIT + 1
    assert all(len(name) <= 63 for name in job_names(cluster))
