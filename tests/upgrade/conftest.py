from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpy.clock import FrozenClock
from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import Kube
from dexpy.upgrade.resources import DEFAULT_COMPONENTS
from tests.fixtures.kubeapi.fixture import KubeAPIFixture, kube_api  # noqa: F401
from tests.upgrade.builders import node, release, workload
from tests.upgrade.simulator import Simulator

CRDS = Path(__file__).resolve().parents[2] / "crds"
OLD, NEW = "1.30.2", "1.31.0"
NODES = ("cp1", "w1", "w2")
CV_PATH = "/apis/upgrade.dexpy.io/v1alpha1/clusterversions/cluster"


@dataclass
class Cluster:
    kube: Kube
    api: KubeAPIFixture
    sim: Simulator
    clock: FrozenClock = field(default_factory=FrozenClock)

    def controller(self, own_node: str | None = None) -> Controller:
        return Controller(self.kube, clock=self.clock, own_node=own_node)

    def cluster_version(self) -> dict[str, Any]:
        return self.kube.get(CV_PATH)

    def status(self) -> dict[str, Any]:
        return self.cluster_version().get("status") or {}

    def condition(self, kind: str) -> dict[str, Any]:
        return next(c for c in self.status()["conditions"] if c["type"] == kind)

    def set_spec(self, **spec: Any) -> None:
        self.kube.patch(CV_PATH, {"spec": spec})

    def drive(self, passes: int, *, fresh: bool = False, step: timedelta = timedelta(seconds=5), stop=None) -> int:
        """Alternate reconcile passes and simulator ticks; `fresh` builds a new controller every pass."""
        controller = self.controller()
        for count in range(1, passes + 1):
            (self.controller() if fresh else controller).reconcile()
            self.sim.tick()
            self.clock.advance(step)
            if stop is not None and stop(self):
                return count
        return passes

    def node(self, name: str) -> dict[str, Any]:
        return self.kube.get(f"/api/v1/nodes/{name}")

    def workload(self, name: str) -> dict[str, Any]:
        component = next(c for c in DEFAULT_COMPONENTS if c.name == name)
        plural = "deployments" if component.kind == "Deployment" else "daemonsets"
        return self.kube.get(f"/apis/apps/v1/namespaces/kube-system/{plural}/{name}")


def spec_writes(cluster: Cluster) -> int:
    """Patches of workloads and Nodes themselves (the simulator only writes their status)."""
    kinds = ("deployments", "daemonsets", "nodes")
    return sum(cluster.api.count(verb="patch", resource=kind, subresource="") for kind in kinds)


def completed(cluster: Cluster) -> bool:
    return cluster.status().get("progress", {}).get("phase") == "Done"


def halted(cluster: Cluster) -> bool:
    return cluster.status().get("progress", {}).get("phase") == "Halted"


@pytest.fixture
def cluster(kube_api: KubeAPIFixture, tmp_path: Path) -> Iterator[Cluster]:  # noqa: F811
    kube_api.create_crds(CRDS)
    kube = Kube.connect(str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")))
    for name in NODES:
        kube.create("/api/v1/nodes", node(name, OLD, control_plane=name.startswith("cp")))
    for component in DEFAULT_COMPONENTS:
        body = workload(component, OLD, replicas=len(NODES))
        body.pop("status")
        plural = "deployments" if component.kind == "Deployment" else "daemonsets"
        kube.create(f"/apis/apps/v1/namespaces/kube-system/{plural}", body)
    for body in (release(OLD, ["1.30.1"]), release(NEW, [OLD])):
        kube.create("/apis/upgrade.dexpy.io/v1alpha1/releases", body)
    spec = {"channel": "stable", "strategy": {"stepTimeoutSeconds": 120, "nodes": {"drain": {"timeoutSeconds": 60}}}}
    kube.create(
        "/apis/upgrade.dexpy.io/v1alpha1/clusterversions",
        {"apiVersion": "upgrade.dexpy.io/v1alpha1", "kind": "ClusterVersion", "metadata": {"name": "cluster"}, "spec": spec},
    )
    sim = Simulator(kube)
    sim.tick()
    yield Cluster(kube, kube_api, sim)
