"""Finding the API server, the credentials and the namespace, in a pod or from a kubeconfig."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dexpy.storage.kubernetes import SetupError
from dexpy.storage.kubernetes.connect import connect
from dexpy.storage.kubernetes.transport import Transport
from tests.fixtures.kubeapi import Rule
from tests.fixtures.kubeapi.fixture import KubeAPIFixture

POD_ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@pytest.fixture
def account_dir(tmp_path: Path) -> Path:
    (tmp_path / "token").write_text("first-token\n")
    (tmp_path / "ca.crt").write_text("")
    (tmp_path / "namespace").write_text("auth\n")
    return tmp_path


def test_in_cluster_uses_the_service_and_the_pods_namespace(account_dir: Path) -> None:
    connection = connect({"inCluster": True}, POD_ENV, account_dir)
    assert connection.configuration.host == "https://10.96.0.1:443"
    assert connection.configuration.ssl_ca_cert == str(account_dir / "ca.crt")
    assert connection.namespace == "auth"
    assert connect({"inCluster": True}, {**POD_ENV, "KUBERNETES_POD_NAMESPACE": "other"}, account_dir).namespace == "other"


def test_in_cluster_reads_the_token_again_when_the_kubelet_rotates_it(kube: KubeAPIFixture, account_dir: Path) -> None:
    reader = [Rule(verbs=frozenset({"list"}), resources=frozenset({"*"}))]
    (account_dir / "token").write_text(kube.add_user("old-token-user", reader))
    connection = connect({"inCluster": True}, POD_ENV, account_dir)
    connection.configuration.host = kube.url  # the fake speaks plain HTTP; everything else is as in a pod
    transport = Transport(connection.configuration)
    path = f"/apis/dex.coreos.com/v1/namespaces/{kube.namespace}/refreshtokens"
    transport.request("GET", path)
    rotated = account_dir / "token.new"
    rotated.write_text(kube.add_user("new-token-user", reader))
    os.replace(rotated, account_dir / "token")  # the kubelet swaps the file atomically
    transport.request("GET", path)
    assert (kube.count(user="old-token-user"), kube.count(user="new-token-user")) == (1, 1)
    transport.close()


def test_outside_a_pod_in_cluster_says_to_use_a_kubeconfig(account_dir: Path) -> None:
    with pytest.raises(SetupError, match="kubeConfigFile"):
        connect({"inCluster": True}, {}, account_dir)


@pytest.mark.parametrize("config", [{}, {"inCluster": True, "kubeConfigFile": "/k"}], ids=["neither", "both"])
def test_exactly_one_source_is_required(config: dict[str, object], account_dir: Path) -> None:
    with pytest.raises(SetupError, match="exactly one"):
        connect(config, POD_ENV, account_dir)


def test_kubeconfig_gives_server_token_and_context_namespace(kube: KubeAPIFixture, tmp_path: Path) -> None:
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="team-a")
    connection = connect({"kubeConfigFile": str(path)})
    assert (connection.configuration.host, connection.namespace) == (kube.url, "team-a")
    assert connection.configuration.get_api_key_with_prefix("BearerToken", alias="authorization") == f"Bearer {kube.token}"


def test_a_missing_kubeconfig_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="kubeConfigFile"):
        connect({"kubeConfigFile": str(tmp_path / "missing")})
