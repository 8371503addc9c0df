"""Finding the API server, the credentials and the namespace, in a pod or from a kubeconfig."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from dexpy.storage.kubernetes import SetupError
from dexpy.storage.kubernetes.connect import ThrottledRefresh, connect
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


def test_a_kubeconfig_proxy_is_refused_by_name_not_bypassed(kube: KubeAPIFixture, tmp_path: Path) -> None:
    config = yaml.safe_load(kube.write_kubeconfig(tmp_path / "kubeconfig").read_text())
    config["clusters"][0]["cluster"]["proxy-url"] = "http://proxy.corp.example:3128"
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    with pytest.raises(SetupError, match=r"kubeconfig: the cluster's proxy-url \(http://proxy.corp.example:3128\) is "
                                         "not supported"):
        connect({"kubeConfigFile": str(tmp_path / "kubeconfig")})


EXEC_PLUGIN = """\
import datetime, json, pathlib, sys
state = pathlib.Path(sys.argv[1])
tokens = state.read_text().split()
state.write_text(" ".join(tokens[1:]))  # each run hands out the next token
expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5, seconds=float(sys.argv[2]))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": tokens[0], "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
"""


def test_a_kubeconfig_exec_plugin_is_run_again_when_its_credential_expires(kube: KubeAPIFixture,
                                                                          tmp_path: Path) -> None:
    """Outside a pod, clusters hand out short-lived tokens through exec plugins (EKS, GKE, OIDC logins): the
    store must run the plugin again once the credential nears its expiry, not fail with 401 from then on.
    The client library renews five minutes early; the plugin's credential (to the second) enters that skew
    two to three seconds after it was made."""
    reader = [Rule(verbs=frozenset({"list"}), resources=frozenset({"*"}))]
    state = tmp_path / "tokens"
    state.write_text(f"{kube.add_user('first', reader)} {kube.add_user('second', reader)}")
    (tmp_path / "plugin.py").write_text(EXEC_PLUGIN)
    config = yaml.safe_load(kube.write_kubeconfig(tmp_path / "kubeconfig").read_text())
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                                           "args": [str(tmp_path / "plugin.py"), str(state), "3"],
                                           "interactiveMode": "Never"}}
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    transport = Transport(connect({"kubeConfigFile": str(tmp_path / "kubeconfig")}).configuration)
    path = f"/apis/dex.coreos.com/v1/namespaces/{kube.namespace}/refreshtokens"
    transport.request("GET", path)
    transport.request("GET", path)
    assert (kube.count(user="first"), kube.count(user="second")) == (2, 0)
    time.sleep(3.5)
    transport.request("GET", path)
    assert (kube.count(user="first"), kube.count(user="second")) == (2, 1)
    transport.close()


def test_a_kubeconfig_credential_hook_is_asked_at_most_once_a_second(kube: KubeAPIFixture, tmp_path: Path) -> None:
    """The client library's kubeconfig hook rebuilds the whole client configuration on each call; every API
    request asked it."""
    configuration = connect({"kubeConfigFile": str(kube.write_kubeconfig(tmp_path / "kubeconfig"))}).configuration
    transport = Transport(configuration)
    for _ in range(2):
        assert transport._headers()["Authorization"].startswith("Bearer ")
        assert isinstance(configuration.refresh_api_key_hook, ThrottledRefresh)  # still, after the library's ran
    transport.close()
    configuration = SimpleNamespace(refresh_api_key_hook=None)
    calls, now = [], [100.0]
    hook = ThrottledRefresh(calls.append, clock=lambda: now[0])
    for _ in range(50):
        hook(configuration)
    assert calls == [configuration]
    now[0] += 0.99
    hook(configuration)
    assert len(calls) == 1
    now[0] += 0.02
    hook(configuration)
    assert len(calls) == 2
