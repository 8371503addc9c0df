from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dexpy.kube.credential import exec_credential, requested_api_version
from dexpy.kube.errors import UserError


def test_v1_shape_with_utc_timestamp() -> None:
    expiry = datetime(2026, 3, 1, 13, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert exec_credential("client.authentication.k8s.io/v1", "tok", expiry) == {
        "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
        "status": {"token": "tok", "expirationTimestamp": "2026-03-01T11:30:05Z"}}


def test_version_comes_from_kubernetes_exec_info() -> None:
    assert requested_api_version(None) == "client.authentication.k8s.io/v1"
    info = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
            "spec": {"interactive": False}}
    assert requested_api_version(json.dumps(info)) == "client.authentication.k8s.io/v1beta1"


@pytest.mark.parametrize("info", ["{", "[]", '{"kind": "ExecCredential"}',
                                  '{"apiVersion": "client.authentication.k8s.io/v1alpha1"}'])
def test_bad_exec_info_is_a_user_error(info: str) -> None:
    with pytest.raises(UserError):
        requested_api_version(info)
