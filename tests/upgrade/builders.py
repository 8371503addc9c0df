"""API objects as a real cluster would hold them, for the unit tests and the simulator."""

from __future__ import annotations

from typing import Any

from dexpy.upgrade.resources import ANNOTATION_VERSION, DEFAULT_COMPONENTS, Component

REGISTRY = "registry.k8s.io"


def images(version: str) -> dict[str, str]:
    return {c.name: f"{REGISTRY}/{c.name}:v{version}" for c in DEFAULT_COMPONENTS}


def release(version: str, previous: list[str], channels: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    body = {"version": version, "channels": channels or ["alpha", "beta", "stable"], "previous": previous}
    body["images"] = images(version)
    body.update(spec)
    return {
        "apiVersion": "upgrade.dexpy.io/v1alpha1",
        "kind": "Release",
        "metadata": {"name": f"v{version}"},
        "spec": body,
    }


def workload(component: Component, version: str, *, replicas: int = 2, rolled_out: bool = True) -> dict[str, Any]:
    """A Deployment or DaemonSet for the component, running `version` everywhere when rolled out."""
    template = {
        "metadata": {"labels": dict(component.selector), "annotations": {ANNOTATION_VERSION: version}},
        "spec": {"containers": [{"name": component.container, "image": images(version)[component.name]}]},
    }
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(component.selector)}, "template": template}
    if component.kind == "Deployment":
        spec["replicas"] = replicas
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        done = {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas}
    else:
        strategy = "OnDelete" if component.per_node else "RollingUpdate"
        spec["updateStrategy"] = {"type": strategy}
        done = {
            "observedGeneration": 1,
            "desiredNumberScheduled": replicas,
            "updatedNumberScheduled": replicas,
            "numberAvailable": replicas,
        }
    return {
        "apiVersion": "apps/v1",
        "kind": component.kind,
        "metadata": {
            "name": component.name,
            "namespace": component.namespace,
            "labels": dict(component.selector),
            "generation": 1,
        },
        "spec": spec,
        "status": done if rolled_out else {"observedGeneration": 1},
    }


def node(name: str, kubelet: str, *, ready: bool = True, control_plane: bool = False, **labels: str) -> dict[str, Any]:
    all_labels = dict(labels)
    if control_plane:
        all_labels["node-role.kubernetes.io/control-plane"] = ""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady"}],
            "nodeInfo": {"kubeletVersion": f"v{kubelet}"},
        },
    }
