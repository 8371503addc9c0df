"""The Kubernetes backend as a conformance-suite factory: a fresh fake API server with the CRDs per store."""

from __future__ import annotations

import pytest

from dexpy.storage.kubernetes import KubernetesStorage, open_kubernetes_storage
from dexpy.storage.kubernetes.crds import CRD_DIR
from tests.fixtures.kubeapi.fixture import start_fake


def kubernetes_backend(request: pytest.FixtureRequest) -> KubernetesStorage:
    fake = start_fake()
    request.addfinalizer(fake.stop)
    fake.create_crds(CRD_DIR)
    kubeconfig = fake.write_kubeconfig(request.getfixturevalue("tmp_path") / "kubeconfig")
    return open_kubernetes_storage({"kubeConfigFile": str(kubeconfig), "crdHandling": "check"})
