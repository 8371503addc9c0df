"""API paths the controller reads and writes."""

from __future__ import annotations

from dexpy.upgrade.resources import API_VERSION, Component

CLUSTER_VERSIONS = f"/apis/{API_VERSION}/clusterversions"
RELEASES = f"/apis/{API_VERSION}/releases"
NODES = "/api/v1/nodes"
ALL_PODS = "/api/v1/pods"
EVENTS = "/apis/events.k8s.io/v1/namespaces/default/events"  # a cluster-scoped object's Events live in `default`


def workloads(component: Component) -> str:
    plural = "deployments" if component.kind == "Deployment" else "daemonsets"
    return f"/apis/apps/v1/namespaces/{component.namespace}/{plural}"


def pods(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def jobs(namespace: str) -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs"


def leases(namespace: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
