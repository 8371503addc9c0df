"""A stand-in for kube-controller-manager and the kubelets, which the fake API server does not run.

Each `tick` does what those would have done since the last one: report workload rollouts in `/status`,
recreate deleted kubelet pods from the DaemonSet template (the node then reports that kubelet version),
finish terminating pods and complete (or fail, or never finish) Jobs. A component mapped in `stuck` never gets healthy at that version.
"""

from __future__ import annotations

from typing import Any

from dexpy.upgrade import gates
from dexpy.upgrade.kube import Kube

SYSTEM = "/apis/apps/v1/namespaces/kube-system"


class Simulator:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.stuck: dict[str, str] = {}
        self.backup_fails = False
        self.backup_hangs = False  # its Job never finishes

    def tick(self) -> None:
        nodes = self.kube.list("/api/v1/nodes")
        self._finish_terminating_pods()
        for deployment in self.kube.list(f"{SYSTEM}/deployments"):
            replicas = deployment["spec"].get("replicas", 1)
            counts = {"replicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas, "readyReplicas": replicas}
            self._report(deployment, "deployments", counts)
        for daemonset in self.kube.list(f"{SYSTEM}/daemonsets"):
            if daemonset["spec"]["updateStrategy"]["type"] == "OnDelete":
                self._run_kubelets(daemonset, nodes)
            updated = self._updated_pods(daemonset, len(nodes))
            counts = {
                "desiredNumberScheduled": len(nodes),
                "currentNumberScheduled": len(nodes),
                "numberReady": len(nodes),
                "updatedNumberScheduled": updated,
                "numberAvailable": len(nodes),
                "numberMisscheduled": 0,
            }
            self._report(daemonset, "daemonsets", counts)
        self._finish_jobs()

    def _report(self, workload: dict[str, Any], plural: str, counts: dict[str, int]) -> None:
        name = workload["metadata"]["name"]
        status = {"observedGeneration": workload["metadata"]["generation"], **counts}
        if self.stuck.get(name) == str(gates.template_version(workload)):  # its pods never become available
            status = {**status, "availableReplicas": 0, "numberAvailable": 0}
        if all(workload.get("status", {}).get(k) == v for k, v in status.items()):
            return
        self.kube.patch(f"{SYSTEM}/{plural}/{name}/status", {"status": status})

    def _updated_pods(self, daemonset: dict[str, Any], total: int) -> int:
        if daemonset["spec"]["updateStrategy"]["type"] != "OnDelete":
            return total
        version = gates.template_version(daemonset)
        pods = self.kube.list("/api/v1/namespaces/kube-system/pods", labelSelector="k8s-app=kubelet")
        return sum(1 for pod in pods if gates.template_version({"spec": {"template": pod}}) == version)

    def _run_kubelets(self, daemonset: dict[str, Any], nodes: list[dict[str, Any]]) -> None:
        """A node whose kubelet pod is gone starts the DaemonSet's current template and reports its version."""
        pods = self.kube.list("/api/v1/namespaces/kube-system/pods", labelSelector="k8s-app=kubelet")
        running = {pod["spec"]["nodeName"] for pod in pods}
        template = daemonset["spec"]["template"]
        version = gates.template_version(daemonset)
        for node in nodes:
            name = node["metadata"]["name"]
            if name in running:
                continue
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"kubelet-{name}",
                    "namespace": "kube-system",
                    "labels": template["metadata"]["labels"],
                    "annotations": template["metadata"].get("annotations", {}),
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kubelet", "uid": daemonset["metadata"]["uid"]}
                    ],
                },
                "spec": {"nodeName": name, "containers": template["spec"]["containers"]},
            }
            self.kube.create("/api/v1/namespaces/kube-system/pods", pod)
            if self.stuck.get("kubelet") != str(version):
                report = {"nodeInfo": {"kubeletVersion": version.kubelet if version else "v0.0.0"}}
                self.kube.patch(f"/api/v1/nodes/{name}/status", {"status": report})

    def _finish_terminating_pods(self) -> None:
        for pod in self.kube.list("/api/v1/pods"):
            metadata = pod["metadata"]
            if metadata.get("deletionTimestamp"):
                self.kube.delete(f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}", gracePeriodSeconds="0")

    def _finish_jobs(self) -> None:
        for job in self.kube.list("/apis/batch/v1/namespaces/kube-system/jobs"):
            if job.get("status", {}).get("conditions") or self.backup_hangs:
                continue
            path = f"/apis/batch/v1/namespaces/kube-system/jobs/{job['metadata']['name']}/status"
            start = job["metadata"]["creationTimestamp"]
            condition = {"status": "True", "lastTransitionTime": start, "lastProbeTime": start}
            if self.backup_fails:
                status = {"startTime": start, "failed": 2, "conditions": [
                    {**condition, "type": "FailureTarget", "reason": "BackoffLimitExceeded"},
                    {**condition, "type": "Failed", "reason": "BackoffLimitExceeded"},
                ]}
            else:
                status = {"startTime": start, "completionTime": start, "succeeded": 1, "conditions": [
                    {**condition, "type": "SuccessCriteriaMet", "reason": "CompletionsReached"},
                    {**condition, "type": "Complete", "reason": "CompletionsReached"},
                ]}
            self.kube.patch(path, {"status": status})
