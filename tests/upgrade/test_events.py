"""Events on the ClusterVersion: one per step transition, not one per pass."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from dexpy.upgrade.paths import EVENTS
from dexpy.upgrade.resources import DEFAULT_COMPONENTS
from tests.upgrade.conftest import NEW, NODES, Cluster, completed, halted
from tests.upgrade.test_scenarios import add_guarded_pod


def events(cluster: Cluster) -> list[tuple[str, str]]:
    return [(e["reason"], e["note"]) for e in cluster.kube.list(EVENTS) if e["regarding"]["kind"] == "ClusterVersion"]


def test_a_full_update_leaves_one_event_per_step(cluster: Cluster) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    cluster.drive(5)
    found = events(cluster)
    assert len(found) == len(set(found)), Counter(found).most_common(3)
    reasons = Counter(reason for reason, _ in found)
    assert reasons == Counter(
        UpdateStarted=1,
        ComponentUpdating=len(DEFAULT_COMPONENTS),
        NodeCordoned=len(NODES),
        NodeRestarting=len(NODES),
        NodeUpgraded=len(NODES),
        UpgradeCompleted=1,
    )


def test_a_drain_blocked_for_many_passes_is_one_event_then_one_for_the_failure(cluster: Cluster) -> None:
    add_guarded_pod(cluster, "cp1")
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, step=timedelta(seconds=10), stop=lambda c: "apps/web" in c.status()["progress"].get("message", ""))
    blocked_passes = cluster.drive(80, step=timedelta(seconds=10), stop=halted)
    assert blocked_passes >= 5  # the drain timeout is 60 s: the blocked state lasts several passes
    notes = [note for reason, note in events(cluster) if reason == "DrainBlocked"]
    assert len(notes) == 2, notes
    assert sum(note.startswith("draining cp1: apps/web") for note in notes) == 1  # while waiting
    assert sum("timed out" in note for note in notes) == 1  # when it failed
