"""What an operator meets when the cluster misbehaves: every failure is a typed error that says what to do."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dexpy.model import AuthCode, Client, Keys, OfflineSessions, RefreshToken, Revocation
from dexpy.storage import Invalid, Unavailable
from dexpy.storage.kubernetes import KubernetesStorage, SetupError, open_kubernetes_storage
from dexpy.storage.kubernetes.crds import CRD_DIR, load_crds
from dexpy.storage.kubernetes.kinds import KINDS
from dexpy.storage.kubernetes.transport import MAX_OBJECT_BYTES
from tests.fixtures.kubeapi import Rule
from tests.fixtures.kubeapi.fixture import KubeAPIFixture
from tests.storage.samples import sample

REFRESH: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]


def open_with(kube: KubeAPIFixture, tmp_path: Path, crd_handling: str = "check", **kubeconfig: str) -> KubernetesStorage:
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", **kubeconfig)
    return open_kubernetes_storage({"kubeConfigFile": str(path), "crdHandling": crd_handling})


def on_refreshtokens(request: object) -> bool:
    return getattr(request, "resource", "") == "refreshtokens"


def test_stopped_api_is_unavailable_then_recovers_without_restart(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    store.create(REFRESH)
    kube.stop()
    with pytest.raises(Unavailable, match="unreachable"):
        store.get(RefreshToken, REFRESH.id)
    kube.start()
    assert store.get(RefreshToken, REFRESH.id) == REFRESH
    assert store.wait_synced(timeout=5)  # the watches are back too
    store.create(Client(id="after-restart"))
    assert [c.id for c in store.list(Client)] == ["after-restart"]


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_server_errors_are_unavailable_and_pass(kube: KubeAPIFixture, store: KubernetesStorage, code: int) -> None:
    store.create(REFRESH)
    kube.fail_when(on_refreshtokens, code=code, message="etcd leader changed", count=1)
    with pytest.raises(Unavailable, match="etcd leader changed"):
        store.get(RefreshToken, REFRESH.id)
    assert store.get(RefreshToken, REFRESH.id) == REFRESH


def test_etcd_size_refusal_is_invalid(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    kube.fail_when(on_refreshtokens, code=500, message="etcdserver: request is too large", count=1)
    with pytest.raises(Invalid, match="too large"):
        store.create(REFRESH)


def test_an_object_over_the_size_limit_is_refused_before_sending(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    huge = RefreshToken(**{**vars(REFRESH), "connector_data": b"x" * MAX_OBJECT_BYTES})
    with pytest.raises(Invalid, match="exceeds"):
        store.create(huge)
    assert kube.count(verb="create", resource="refreshtokens") == 0


def test_missing_rbac_at_start_up_says_what_to_grant(kube: KubeAPIFixture, tmp_path: Path) -> None:
    token = kube.add_user("system:serviceaccount:dexpy:dexpy")
    with pytest.raises(SetupError, match=r"not allowed to list .*Grant the service account"):
        open_with(kube, tmp_path, token=token)


READS = frozenset({"get", "list", "watch"})
EVERY_VERB = frozenset({"get", "list", "watch", "create", "update", "patch", "delete"})
DEXPY_RESOURCES = frozenset(spec.plural for spec in KINDS.values())


def test_read_only_rbac_at_start_up_says_what_to_grant(kube: KubeAPIFixture, tmp_path: Path) -> None:
    token = kube.add_user("system:serviceaccount:dexpy:reader", [
        Rule(READS, DEXPY_RESOURCES, frozenset({"dexpy"})),
        Rule(READS, frozenset({"customresourcedefinitions"}), None)])
    with pytest.raises(SetupError, match=r"not allowed to create .* Grant the service account"):
        open_with(kube, tmp_path, token=token)


def test_a_wrong_namespace_hidden_by_rbac_is_named_at_start_up(kube: KubeAPIFixture, tmp_path: Path) -> None:
    """Dex's RBAC grants nothing on namespaces, so the namespace GET is forbidden; the write probe finds it."""
    token = kube.add_user("system:serviceaccount:dexpy:dexpy", [
        Rule(EVERY_VERB, DEXPY_RESOURCES, None), Rule(READS, frozenset({"customresourcedefinitions"}), None)])
    with pytest.raises(SetupError, match="namespace 'nope' does not exist"):
        open_with(kube, tmp_path, token=token, namespace="nope")
    store = open_with(kube, tmp_path, token=token)  # the right namespace: starts, and the probes stored nothing
    assert store.list(Revocation) == [] and store.list(OfflineSessions) == []
    store.close()


def test_a_missing_namespace_at_start_up_names_it(kube: KubeAPIFixture, tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="namespace 'nope' does not exist"):
        open_with(kube, tmp_path, namespace="nope")


def test_check_names_every_missing_crd_and_the_install_command(kube_api: KubeAPIFixture, tmp_path: Path) -> None:
    shipped = sorted(load_crds())
    kube_api.create_crds([load_crds()[shipped[0]]])
    with pytest.raises(SetupError) as failure:
        open_with(kube_api, tmp_path)
    message = str(failure.value)
    assert "kubectl apply -f crds/" in message
    assert [name for name in shipped if name in message] == shipped[1:]


def test_ensure_creates_the_missing_crds_and_keeps_the_others(kube_api: KubeAPIFixture, tmp_path: Path) -> None:
    shipped = load_crds()
    present = sorted(shipped)[:3]
    kube_api.create_crds([shipped[name] for name in present])
    uids = {name: crd_uid(kube_api, name) for name in present}
    store = open_with(kube_api, tmp_path, crd_handling="ensure")
    try:
        assert all(crd_uid(kube_api, name) for name in shipped)
        assert {name: crd_uid(kube_api, name) for name in present} == uids
        store.create(REFRESH)
        assert store.get(RefreshToken, REFRESH.id) == REFRESH
    finally:
        store.close()


def crd_uid(kube: KubeAPIFixture, name: str) -> str | None:
    status, body = kube.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    return body["metadata"]["uid"] if status == 200 else None


def test_ensure_without_the_right_to_create_crds_says_how_to_install(kube_api: KubeAPIFixture, tmp_path: Path) -> None:
    reader = Rule(verbs=frozenset({"get", "list", "watch"}), resources=frozenset({"*"}))
    token = kube_api.add_user("system:serviceaccount:dexpy:dexpy", [reader])
    with pytest.raises(SetupError, match=r"may not be created .*kubectl apply -f crds/"):
        open_with(kube_api, tmp_path, crd_handling="ensure", token=token)


def test_a_malformed_object_is_skipped_in_lists_and_named_by_get(kube: KubeAPIFixture, store: KubernetesStorage,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    store.create(REFRESH)
    hand_edited = {"apiVersion": "dex.coreos.com/v1", "kind": "RefreshToken", "metadata": {"name": "broken"},
                   "CreatedAt": "yesterday", "clientID": "example-app"}
    status, body = kube.request("POST", f"/apis/dex.coreos.com/v1/namespaces/{kube.namespace}/refreshtokens", hand_edited)
    assert status == 201, body
    with caplog.at_level(logging.WARNING):
        assert store.list(RefreshToken) == [REFRESH]
    assert "broken" in caplog.text and "yesterday" in caplog.text
    with pytest.raises(Invalid, match=r"'broken' .* is malformed .*yesterday"):
        store.get(RefreshToken, "broken")


def test_crd_handling_must_be_known(kube: KubeAPIFixture, tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="crdHandling"):
        open_with(kube, tmp_path, crd_handling="create")


def test_crds_in_the_repository_are_the_shipped_ones() -> None:
    repository = Path(__file__).parents[2] / "crds"  # what `kubectl apply -f crds/` installs
    shipped = sorted(CRD_DIR.glob("*.yaml"))
    assert len(shipped) == len(KINDS)  # one CRD per record kind
    assert all((repository / p.name).read_text() == p.read_text() for p in shipped)


def test_an_outage_never_puts_a_code_in_an_error_or_a_log_line(kube: KubeAPIFixture, store: KubernetesStorage,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Auth codes and device codes are their objects' names, so they sit in every request path."""
    caplog.set_level(logging.DEBUG)
    code: AuthCode = sample(AuthCode)  # type: ignore[assignment]
    store.create(code)
    kube.fail_next(1, 503)
    with pytest.raises(Unavailable) as answered:
        store.get(AuthCode, code.id)
    kube.stop()
    with pytest.raises(Unavailable) as unreachable:
        store.update(AuthCode, code.id, lambda c: c)
    kube.start()
    for error in (answered.value, unreachable.value):
        assert "authcodes/<name>" in str(error) and code.id not in str(error)
    assert not [r for r in caplog.records if code.id in r.getMessage()]


def test_ping_reaches_the_api_while_the_watches_stay_open(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    """Health checks ping: the signing keys are watch-cached, so reading them would say 'fine' while the API
    answers every other request with 503."""
    store.create(sample(Keys))
    assert store.wait_synced(timeout=5)
    store.ping()
    kube.fail_when(lambda request: getattr(request, "verb", "") == "get", code=503, message="etcd unhealthy")
    with pytest.raises(Unavailable, match="etcd unhealthy"):
        store.ping()
    kube.clear_faults()
    store.ping()
