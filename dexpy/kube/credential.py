"""The ExecCredential that kubectl reads from a credential plugin's stdout (client.authentication.k8s.io)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from dexpy.kube.errors import UserError

API_V1 = "client.authentication.k8s.io/v1"
SUPPORTED_API_VERSIONS = (API_V1, "client.authentication.k8s.io/v1beta1")


def requested_api_version(exec_info: str | None) -> str:
    """The apiVersion kubectl asks for in KUBERNETES_EXEC_INFO; v1 when the variable is absent."""
    if not exec_info:
        return API_V1
    try:
        info = json.loads(exec_info)
        api_version = info["apiVersion"]
    except (ValueError, KeyError, TypeError):
        raise UserError("KUBERNETES_EXEC_INFO is not an ExecCredential JSON object") from None
    if api_version not in SUPPORTED_API_VERSIONS:
        raise UserError(f"KUBERNETES_EXEC_INFO asks for {api_version}; supported: {', '.join(SUPPORTED_API_VERSIONS)}")
    return str(api_version)


def exec_credential(api_version: str, token: str, expiry: datetime) -> dict[str, Any]:
    timestamp = expiry.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"apiVersion": api_version, "kind": "ExecCredential",
            "status": {"token": token, "expirationTimestamp": timestamp}}
