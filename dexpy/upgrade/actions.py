"""The writes a step turns into. Each is narrow (only the fields it owns) and safe to repeat.

Writes carry the resourceVersion that was read, so a concurrent change makes them fail with 409 and the
pass starts over from a fresh read.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from dexpy.upgrade import paths
from dexpy.upgrade.kube import Kube, NotFound, TooManyRequests
from dexpy.upgrade.observe import component_pods_on
from dexpy.upgrade.plan import (
    MADE_UNSCHEDULABLE,
    PHASE,
    PHASE_SINCE,
    RESTARTING,
    UPGRADED_AT,
    VERIFYING,
    DRAINING,
    ComponentView,
    NodeView,
)
from dexpy.upgrade.resources import ANNOTATION_VERSION, API_VERSION, LABEL_NODE_VERSION, Backup, Component
from dexpy.upgrade.status import micro_time
from dexpy.upgrade.versions import Version

CONTROLLER = "dexpy-upgrade-controller"


def patch_workload(kube: Kube, view: ComponentView, image: str, version: Version) -> None:
    """Strategic merge by container name: only the image and the version annotation change."""
    metadata = view.workload["metadata"]
    body = {
        "metadata": {"resourceVersion": metadata["resourceVersion"]},
        "spec": {
            "template": {
                "metadata": {"annotations": {ANNOTATION_VERSION: str(version)}},
                "spec": {"containers": [{"name": view.component.container, "image": image}]},
            }
        },
    }
    kube.patch(f"{paths.workloads(view.component)}/{metadata['name']}", body, kind="strategic")


def _patch_node(kube: Kube, view: NodeView, metadata: dict[str, Any], spec: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"metadata": {"resourceVersion": view.node["metadata"]["resourceVersion"], **metadata}}
    if spec:
        body["spec"] = spec
    kube.patch(f"{paths.NODES}/{view.name}", body)


def cordon(kube: Kube, view: NodeView, drain: bool, now: datetime) -> None:
    """Mark the node in flight in the same write that cordons it, so no later pass can over-commit."""
    annotations = {PHASE: DRAINING if drain else RESTARTING, PHASE_SINCE: now.isoformat()}
    if not view.node.get("spec", {}).get("unschedulable"):
        annotations[MADE_UNSCHEDULABLE] = "true"  # uncordon later only what we cordoned
    _patch_node(kube, view, {"annotations": annotations}, {"unschedulable": True})


def evict(kube: Kube, pods: tuple[str, ...]) -> list[str]:
    """Ask the Eviction API to move each pod; returns why the ones a disruption budget kept were refused."""
    refused = []
    for key in pods:
        namespace, name = key.split("/", 1)
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        try:
            kube.create(f"{paths.pods(namespace)}/{name}/eviction", body)
        except TooManyRequests as exc:
            refused.append(f"{key}: {exc.message}")
        except NotFound:
            pass
    return refused


def restart(kube: Kube, component: Component, view: NodeView, now: datetime) -> None:
    """Delete the component's pod on the node; the OnDelete DaemonSet recreates it from the new template."""
    for pod in component_pods_on(kube, component, view.name):
        try:
            kube.delete(f"{paths.pods(component.namespace)}/{pod['metadata']['name']}")
        except NotFound:
            pass
    _patch_node(kube, view, {"annotations": {PHASE: VERIFYING, PHASE_SINCE: now.isoformat()}})


def uncordon(kube: Kube, view: NodeView, version: Version, now: datetime) -> None:
    ours = view.annotations.get(MADE_UNSCHEDULABLE) == "true"
    metadata = {
        "annotations": {PHASE: None, PHASE_SINCE: None, MADE_UNSCHEDULABLE: None, UPGRADED_AT: now.isoformat()},
        "labels": {LABEL_NODE_VERSION: str(version)},
    }
    _patch_node(kube, view, metadata, {"unschedulable": False} if ours else None)


def event(kube: Kube, cluster_version: dict[str, Any], kind: str, reason: str, message: str, now: datetime) -> None:
    metadata = cluster_version["metadata"]
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{metadata['name']}.{secrets.token_hex(8)}", "namespace": "default"},
        "regarding": {
            "apiVersion": API_VERSION,
            "kind": "ClusterVersion",
            "name": metadata["name"],
            "uid": metadata.get("uid", ""),
        },
        "eventTime": micro_time(now),
        "reportingController": f"upgrade.dexpy.io/{CONTROLLER}",
        "reportingInstance": CONTROLLER,
        "action": reason,
        "type": kind,
        "reason": reason,
        "note": message[:1024],
    }
    kube.create(paths.EVENTS, body)


def backup_job_name(source: Version, target: Version, started: str, halted_generation: int | None) -> str:
    """One Job per try, named from the status alone so a restarted controller finds it again.

    The attempt's `startedTime` (its history entry) tells attempts of the same update apart, and never repeats as
    a count of the capped history could; a retry after a halt at generation G adds `-retry-G`. So a failed Job,
    or one an earlier attempt finished, is never taken for this try's. A DNS-1123 name of at most 63 characters.
    """
    name = f"etcd-backup-{source}-to-{target}-{''.join(c for c in started if c.isdigit())}"
    name += f"-retry-{halted_generation}" if halted_generation else ""
    name = name.replace(".", "-")
    return name if len(name) <= 63 else f"{name[:54]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def get_backup_job(kube: Kube, backup: Backup, name: str) -> dict[str, Any] | None:
    try:
        return kube.get(f"{paths.jobs(backup.namespace)}/{name}")
    except NotFound:
        return None


def create_backup_job(kube: Kube, backup: Backup, name: str, source: Version) -> None:
    """An etcdctl snapshot on a control-plane node's disk; restoring it is a manual procedure (docs/upgrade.md)."""
    script = (
        'etcdctl snapshot save "/backups/$(date -u +%Y%m%dT%H%M%SZ)-' + str(source) + '.db"'
    )
    pki = "/etc/kubernetes/pki/etcd"
    pod_spec = {
        "restartPolicy": "Never",
        "hostNetwork": True,
        "nodeSelector": dict(backup.node_selector or {"node-role.kubernetes.io/control-plane": ""}),
        "tolerations": [{"operator": "Exists"}],
        "containers": [
            {
                "name": "snapshot",
                "image": backup.image,
                "command": ["/bin/sh", "-c", script],
                "env": [
                    {"name": "ETCDCTL_API", "value": "3"},
                    {"name": "ETCDCTL_ENDPOINTS", "value": "https://127.0.0.1:2379"},
                    {"name": "ETCDCTL_CACERT", "value": f"{pki}/ca.crt"},
                    {"name": "ETCDCTL_CERT", "value": f"{pki}/healthcheck-client.crt"},
                    {"name": "ETCDCTL_KEY", "value": f"{pki}/healthcheck-client.key"},
                ],
                "volumeMounts": [
                    {"name": "backups", "mountPath": "/backups"},
                    {"name": "pki", "mountPath": pki, "readOnly": True},
                ],
            }
        ],
        "volumes": [
            {"name": "backups", "hostPath": {"path": backup.host_path, "type": "DirectoryOrCreate"}},
            {"name": "pki", "hostPath": {"path": pki}},
        ],
    }
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": backup.namespace, "labels": {"app.kubernetes.io/managed-by": CONTROLLER}},
        "spec": {"backoffLimit": 1, "template": {"metadata": {"labels": {"job-name": name}}, "spec": pod_spec}},
    }
    kube.create(paths.jobs(backup.namespace), body)
