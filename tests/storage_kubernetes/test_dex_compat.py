"""A cluster that ran Dex keeps its data: dexpy reads Dex's objects, and writes objects of Dex's shape."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dexpy.model import ConnectorRecord
from dexpy.storage.kubernetes import KubernetesStorage
from dexpy.storage.kubernetes.codec import EXTENSION
from tests.fixtures.kubeapi.fixture import KubeAPIFixture
from tests.storage_kubernetes.dex_objects import DEX_OBJECTS

by_object = pytest.mark.parametrize(("kind", "plural", "name", "fields", "record"), DEX_OBJECTS,
                                    ids=[entry[0] for entry in DEX_OBJECTS])


def dex_write(kube: KubeAPIFixture, kind: str, plural: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    obj = {"apiVersion": "dex.coreos.com/v1", "kind": kind, "metadata": {"name": name, "namespace": kube.namespace}, **fields}
    status, body = kube.request("POST", f"/apis/dex.coreos.com/v1/namespaces/{kube.namespace}/{plural}", obj)
    assert status == 201, body
    return body  # type: ignore[no-any-return]


@by_object
def test_objects_dex_wrote_read_back_as_records(kube: KubeAPIFixture, store: KubernetesStorage, kind: str, plural: str,
                                                name: str, fields: dict[str, Any], record: Any) -> None:
    written = dex_write(kube, kind, plural, name, fields)
    if isinstance(record, ConnectorRecord):  # Dex reports the object's resourceVersion
        record = dataclasses.replace(record, resource_version=written["metadata"]["resourceVersion"])
    assert store.get(type(record), record.key) == record
    assert store.list(type(record)) == [record]


@by_object
def test_objects_dexpy_writes_have_dexs_name_and_fields(kube: KubeAPIFixture, store: KubernetesStorage, kind: str,
                                                       plural: str, name: str, fields: dict[str, Any], record: Any) -> None:
    store.create(record)
    status, obj = kube.request("GET", f"/apis/dex.coreos.com/v1/namespaces/{kube.namespace}/{plural}/{name}")
    assert status == 200, obj
    assert (obj["apiVersion"], obj["kind"]) == ("dex.coreos.com/v1", kind)
    written = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind", "metadata")}
    for field, value in fields.items():
        assert written.get(field) == value, field
    assert set(written) - set(fields) <= {EXTENSION}


def test_a_dexpy_update_keeps_fields_it_does_not_know(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    kind, plural, name, fields, record = DEX_OBJECTS[0]
    dex_write(kube, kind, plural, name, {**fields, "ssoSharedWith": None, "mfaChain": ["totp"]})
    store.update(type(record), record.key, lambda c: dataclasses.replace(c, name="Renamed"))
    _, obj = kube.request("GET", f"/apis/dex.coreos.com/v1/namespaces/{kube.namespace}/{plural}/{name}")
    assert (obj["name"], obj["mfaChain"], obj["ssoSharedWith"]) == ("Renamed", ["totp"], None)


def test_an_offline_session_under_a_colliding_name_is_not_anothers(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    kind, plural, name, fields, record = DEX_OBJECTS[4]
    dex_write(kube, kind, plural, name, {**fields, "userID": "someone-else"})
    with pytest.raises(Exception, match="not found"):
        store.get(type(record), record.key)
