"""A fake API server with dexpy's CRDs installed, and stores opened on it the way `dexpy serve` does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dexpy.storage.kubernetes import KubernetesStorage, open_kubernetes_storage
from dexpy.storage.kubernetes.crds import CRD_DIR
from tests.fixtures.kubeapi.fixture import KubeAPIFixture, kube_api  # noqa: F401

OpenStore = Callable[..., KubernetesStorage]


@pytest.fixture
def kube(kube_api: KubeAPIFixture) -> KubeAPIFixture:  # noqa: F811
    """The fake with the shipped CRDs installed, as `kubectl apply -f crds/` would."""
    kube_api.create_crds(CRD_DIR)
    return kube_api


@pytest.fixture
def open_store(kube: KubeAPIFixture, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens stores on `kube` through a kubeconfig file, and closes them after the test."""
    opened: list[KubernetesStorage] = []
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")

    def open_(**config: object) -> KubernetesStorage:
        store = open_kubernetes_storage({"kubeConfigFile": str(kubeconfig), "crdHandling": "check", **config})
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> KubernetesStorage:
    return open_store()
