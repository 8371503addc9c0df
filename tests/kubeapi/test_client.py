"""The official kubernetes client works against the fake; fault hooks behave as documented."""
from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from tests.fixtures.kubeapi.fixture import KubeAPIFixture, kube_api  # noqa: F401

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "authcodes.dex.coreos.com"},
       "spec": {"group": "dex.coreos.com", "scope": "Namespaced",
                "names": {"plural": "authcodes", "singular": "authcode", "kind": "AuthCode", "listKind": "AuthCodeList"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def _client(fake: KubeAPIFixture, tmp_path: Path) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(str(fake.write_kubeconfig(tmp_path / "kubeconfig")))


def test_custom_objects_round_trip(kube_api: KubeAPIFixture, tmp_path: Path) -> None:  # noqa: F811
    kube_api.create_crds([CRD])
    api = kubernetes.client.CustomObjectsApi(_client(kube_api, tmp_path))
    body = {"apiVersion": "dex.coreos.com/v1", "kind": "AuthCode", "metadata": {"name": "code1"}, "clientID": "a"}
    created = api.create_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes", body)
    patched = api.patch_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes", "code1", {"clientID": "b"})
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert patched["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as conflict:
        api.replace_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes", "code1", created)
    assert conflict.value.status == 409
    listed = api.list_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes")
    assert [i["clientID"] for i in listed["items"]] == ["b"]
    api.delete_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes", "code1")
    assert kube_api.count(verb="create", resource="authcodes") == 1
    assert kube_api.count(verb="delete", resource="authcodes") == 1


def test_apps_and_core_clients(kube_api: KubeAPIFixture, tmp_path: Path) -> None:  # noqa: F811
    client = _client(kube_api, tmp_path)
    apps, core = kubernetes.client.AppsV1Api(client), kubernetes.client.CoreV1Api(client)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                      "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}
    apps.create_namespaced_deployment("kube-system", deployment)
    patched = apps.patch_namespaced_deployment("web", "kube-system", {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "nginx:2"}]}}}})
    assert [c.image for c in patched.spec.template.spec.containers] == ["nginx:2"]
    assert patched.metadata.generation == 2
    core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    node = core.patch_node("n1", {"spec": {"unschedulable": True}})
    assert node.spec.unschedulable is True
    assert [t.key for t in node.spec.taints] == ["node.kubernetes.io/not-ready"]


def test_stop_start_and_injected_failures(kube_api: KubeAPIFixture) -> None:  # noqa: F811
    url = kube_api.url
    kube_api.stop()
    with pytest.raises(OSError):
        kube_api.request("GET", "/api/v1/namespaces")
    kube_api.start()
    assert kube_api.url == url
    kube_api.fail_next(2, code=503)
    assert [kube_api.request("GET", "/api/v1/namespaces")[0] for _ in range(3)] == [503, 503, 200]


def test_watch_sees_changes(kube_api: KubeAPIFixture, tmp_path: Path) -> None:  # noqa: F811
    kube_api.create_crds([CRD])
    api = kubernetes.client.CustomObjectsApi(_client(kube_api, tmp_path))
    rv = api.list_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes")["metadata"]["resourceVersion"]
    body = {"apiVersion": "dex.coreos.com/v1", "kind": "AuthCode", "metadata": {"name": "w"}}
    api.create_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes", body)
    api.delete_namespaced_custom_object("dex.coreos.com", "v1", "dexpy", "authcodes", "w")
    stream = kubernetes.watch.Watch().stream(api.list_namespaced_custom_object, "dex.coreos.com", "v1", "dexpy",
                                             "authcodes", resource_version=rv, timeout_seconds=1)
    assert [e["type"] for e in stream] == ["ADDED", "DELETED"]
