"""Few requests: watched kinds are read from memory and stay fresh; GC pages through big lists."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

from dexpy.model import AuthCode, Client
from dexpy.storage.kubernetes import KubernetesStorage
from dexpy.storage.kubernetes.kinds import spec_of
from tests.fixtures.kubeapi.fixture import KubeAPIFixture
from tests.storage.samples import T0, sample
from tests.storage_kubernetes.conftest import OpenStore


def eventually(check: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_reading_a_client_again_and_again_sends_no_request(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    store.create(Client(id="example-app", name="Example"))
    kube.clear_log()
    for _ in range(50):
        assert store.get(Client, "example-app").name == "Example"
    assert kube.count(resource="oauth2clients", verb="get") == 0
    assert kube.count(resource="oauth2clients", verb="list") == 0


def test_a_write_by_another_replica_reaches_the_cache(kube: KubeAPIFixture, open_store: OpenStore) -> None:
    writer, reader = open_store(), open_store()
    writer.create(Client(id="example-app", name="before"))
    assert reader.get(Client, "example-app").name == "before"
    writer.update(Client, "example-app", lambda c: dataclasses.replace(c, name="after"))
    assert eventually(lambda: reader.get(Client, "example-app").name == "after")
    writer.delete(Client, "example-app")
    assert eventually(lambda: reader.list(Client) == [])


def test_the_cache_lists_again_after_its_watch_expires(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    store.create(Client(id="one"))
    kube.stop()
    kube.compact()  # the watch's resourceVersion is now too old: 410 on reconnect
    kube.start()
    status, _ = kube.request("POST", spec_of(Client).path(kube.namespace), spec_of(Client).to_object(Client(id="two"), kube.namespace))
    assert status == 201
    assert eventually(lambda: store.wait_synced(0) and [c.id for c in store.list(Client)] == ["one", "two"])


def test_garbage_collection_pages_through_more_than_one_page(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    now = T0 + timedelta(days=1)
    expired, live = 700, 350
    for i in range(expired + live):
        code: AuthCode = sample(AuthCode, i)  # type: ignore[assignment]
        store.create(dataclasses.replace(code, expiry=now - timedelta(seconds=1) if i < expired else now))
    kube.clear_log()
    assert store.garbage_collect(now)[AuthCode.KIND] == expired
    assert kube.count(resource="authcodes", verb="list") == 3  # 500 + 500 + 50
    assert len(store.list(AuthCode)) == live
