from __future__ import annotations

import copy

import pytest

from dexpy.upgrade import gates
from dexpy.upgrade.resources import DEFAULT_COMPONENTS, Component
from dexpy.upgrade.versions import InvalidVersion, Version, observed
from tests.upgrade.builders import images, node, workload

APISERVER, SCHEDULER, _, _, KUBELET = DEFAULT_COMPONENTS
V1, V2 = Version.parse("1.30.2"), Version.parse("1.31.0")


def test_deployment_is_done_only_when_every_replica_is_new_and_available() -> None:
    deployment = workload(SCHEDULER, "1.31.0", replicas=3)
    assert gates.deployment_rolled_out(deployment).ok
    for field, value, message in [
        ("observedGeneration", 0, "generation"),
        ("updatedReplicas", 2, "2 of 3 replicas updated"),
        ("replicas", 4, "old replicas"),
        ("availableReplicas", 1, "1 of 3 updated replicas available"),
    ]:
        broken = copy.deepcopy(deployment)
        broken["status"][field] = value
        gate = gates.deployment_rolled_out(broken)
        assert not gate.ok and message in gate.message


def test_deployment_past_its_progress_deadline_is_not_done() -> None:
    deployment = workload(SCHEDULER, "1.31.0")
    deployment["status"]["conditions"] = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    assert not gates.deployment_rolled_out(deployment).ok


def test_daemonset_needs_updated_and_available_pods_on_every_node() -> None:
    daemonset = workload(APISERVER, "1.31.0", replicas=3)
    assert gates.daemonset_rolled_out(daemonset).ok
    daemonset["status"]["numberAvailable"] = 2
    assert gates.daemonset_rolled_out(daemonset).message == "2 of 3 pods available"
    daemonset["status"]["updatedNumberScheduled"] = 1
    assert gates.daemonset_rolled_out(daemonset).message == "1 of 3 pods updated"
    daemonset["metadata"]["generation"] = 2
    assert not gates.daemonset_rolled_out(daemonset).ok


def test_at_image_requires_the_new_image_and_version_annotation() -> None:
    daemonset = workload(APISERVER, "1.30.2")
    assert gates.at_image(daemonset, "kube-apiserver", images("1.30.2")["kube-apiserver"], V1).ok
    assert "not registry.k8s.io/kube-apiserver:v1.31.0" in gates.at_image(
        daemonset, "kube-apiserver", images("1.31.0")["kube-apiserver"], V2
    ).message
    assert "annotated" in gates.at_image(daemonset, "kube-apiserver", images("1.30.2")["kube-apiserver"], V2).message


def test_node_at_version_needs_the_kubelet_version_and_ready() -> None:
    assert gates.node_at_version(node("n1", "1.31.0"), V2).ok
    assert "waiting for v1.31.0" in gates.node_at_version(node("n1", "1.30.2"), V2).message
    assert "not Ready" in gates.node_at_version(node("n1", "1.31.0", ready=False), V2).message


@pytest.mark.parametrize("reported", ["v1.31.0+k3s1", "v1.31.0-eks-1234", "v1.31.0-gke.1000", "1.31.0"])
def test_a_kubelet_version_with_a_distribution_suffix_counts_as_its_release(reported: str) -> None:
    found = node("n1", "1.31.0")
    found["status"]["nodeInfo"]["kubeletVersion"] = reported
    assert gates.kubelet_version(found) == V2 and gates.node_at_version(found, V2).ok
    tagged = without_annotation("1.31.0", f"registry.k8s.io/kube-scheduler:{reported}")
    assert gates.running_version(tagged, "kube-scheduler") == V2


def test_versions_in_specs_stay_strict() -> None:
    with pytest.raises(InvalidVersion):
        Version.parse("v1.31.0+k3s1")
    assert observed("v1.31") is None and observed("1.31.0x") is None


def test_drain_moves_ordinary_pods_only() -> None:
    pod = {"metadata": {"name": "web"}, "status": {"phase": "Running"}}
    assert gates.evictable(pod)
    assert not gates.evictable({**pod, "metadata": {"ownerReferences": [{"kind": "DaemonSet"}]}})
    assert not gates.evictable({**pod, "metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}}})
    assert not gates.evictable({**pod, "status": {"phase": "Succeeded"}})


def test_job_outcome_reads_the_final_condition() -> None:
    assert gates.job_outcome({"status": {}}) is None
    assert gates.job_outcome({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == "Complete"
    assert gates.job_outcome({"status": {"conditions": [{"type": "Failed", "status": "True"}]}}) == "Failed"


def test_surge_room_follows_the_deployment_controller_rounding() -> None:
    deployment = workload(SCHEDULER, "1.30.2", replicas=1)
    assert gates.surge_room(deployment).ok  # maxUnavailable 0, maxSurge 1
    deployment["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert "maxUnavailable: 0" in gates.surge_room(deployment).message
    deployment["spec"]["strategy"] = {"type": "RollingUpdate"}  # 25%/25% of one replica: 0 down, 1 up
    assert gates.surge_room(deployment).ok
    deployment["spec"]["strategy"] = {"type": "Recreate"}
    assert "Recreate" in gates.surge_room(deployment).message


def healthy_workloads(version: str) -> dict:
    return {c.name: workload(c, version) for c in DEFAULT_COMPONENTS}


def paired(workloads: dict) -> list:
    return [(c, workloads[c.name]) for c in DEFAULT_COMPONENTS]


def test_preflight_passes_on_a_healthy_cluster() -> None:
    nodes = [node("cp", "1.30.2", control_plane=True), node("w1", "1.30.2")]
    assert gates.preflight(nodes=nodes, workloads=paired(healthy_workloads("1.30.2")), current=V1) == []


def test_preflight_reports_every_problem() -> None:
    nodes = [node("cp", "1.30.2", control_plane=True, ready=False), node("w1", "1.29.9")]
    workloads = healthy_workloads("1.30.2")
    workloads["kube-proxy"]["status"]["updatedNumberScheduled"] = 1
    workloads["kube-scheduler"]["spec"]["strategy"] = {"type": "Recreate"}
    workloads["kube-apiserver"] = workload(APISERVER, "1.29.9")
    problems = gates.preflight(nodes=nodes, workloads=paired(workloads), current=V1)
    assert problems == [
        "control-plane node cp is not Ready",
        "node w1 runs kubelet 1.29.9, not 1.30.2",
        "kube-apiserver is at 1.29.9, not at the current version 1.30.2",
        "Deployment kube-scheduler uses Recreate: the old version stops before the new one runs",
        "kube-proxy is not healthy: 1 of 2 pods updated",
    ]


def test_daemonset_without_any_pod_is_not_healthy() -> None:
    assert gates.daemonset_rolled_out(workload(APISERVER, "1.30.2", rolled_out=False)).message == "no pods scheduled"


def without_annotation(version: str, image: str | None = None) -> dict:
    """The scheduler as a cluster installed without dexpy has it: no version annotation on the template."""
    found = workload(SCHEDULER, version)
    del found["spec"]["template"]["metadata"]["annotations"]
    if image is not None:
        found["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return found


@pytest.mark.parametrize(
    ("scheduler", "problems"),
    [
        (without_annotation("1.29.9"), ["kube-scheduler is at 1.29.9, not at the current version 1.30.2"]),
        (without_annotation("1.30.2"), []),
        (without_annotation("1.29.9", "registry.k8s.io/kube-scheduler@sha256:0123abcd"), []),  # no tag: no opinion
        (without_annotation("1.29.9", "registry:5000/kube-scheduler"), []),
    ],
)
def test_preflight_without_a_version_annotation_reads_the_image_tag(scheduler: dict, problems: list[str]) -> None:
    nodes = [node("cp", "1.30.2", control_plane=True)]
    workloads = {**healthy_workloads("1.30.2"), "kube-scheduler": scheduler}
    assert gates.preflight(nodes=nodes, workloads=paired(workloads), current=V1) == problems


def test_the_annotation_wins_over_the_image_tag() -> None:
    scheduler = workload(SCHEDULER, "1.31.0")
    scheduler["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/custom-scheduler:build-7"
    assert gates.running_version(scheduler, "kube-scheduler") == V2
    assert gates.running_version(without_annotation("1.31.0"), "kube-scheduler") == V2
    assert gates.running_version(without_annotation("1.31.0"), "other-container") is None


def test_preflight_reads_the_tag_of_a_custom_component_from_its_own_container() -> None:
    custom = Component("scheduler", "Deployment", "kube-system", {"app": "scheduler"}, "kube-scheduler")
    scheduler = without_annotation("1.29.9")
    scheduler["metadata"]["name"] = "scheduler"
    nodes = [node("cp", "1.30.2", control_plane=True)]
    problems = gates.preflight(nodes=nodes, workloads=[(custom, scheduler)], current=V1)
    assert problems == ["scheduler is at 1.29.9, not at the current version 1.30.2"]
