"""The CRDs the backend needs: shipped as package data (the repository's `crds/` links to them), checked at
start-up and, with `crdHandling: ensure`, created when missing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from dexpy.storage import AlreadyExists, Unavailable
from dexpy.storage.kubernetes.errors import Forbidden, MissingResource, SetupError
from dexpy.storage.kubernetes.kinds import KINDS, KindSpec
from dexpy.storage.kubernetes.transport import Transport

CRD_DIR = Path(__file__).parent / "crds"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
INSTALL_HINT = "kubectl apply -f crds/"


def load_crds() -> dict[str, dict[str, Any]]:
    """The shipped CRDs by name."""
    crds = [yaml.safe_load(path.read_text()) for path in sorted(CRD_DIR.glob("*.yaml"))]
    return {crd["metadata"]["name"]: crd for crd in crds}


def _served(transport: Transport, spec: KindSpec, namespace: str) -> bool:
    try:
        transport.request("GET", spec.path(namespace), query={"limit": 1})
    except MissingResource:
        return False
    except Forbidden as exc:
        raise SetupError(
            f"not allowed to list {spec.crd_name} in namespace {namespace!r} ({exc}). Grant the service account "
            f"get, list, watch, create, update and delete on the {spec.group} resources in that namespace "
            "(see docs/storage-kubernetes.md)"
        ) from exc
    return True


def missing_crds(transport: Transport, namespace: str) -> list[str]:
    return [spec.crd_name for spec in KINDS.values() if not _served(transport, spec, namespace)]


def check_crds(transport: Transport, namespace: str) -> None:
    missing = missing_crds(transport, namespace)
    if missing:
        raise SetupError(
            f"these CRDs are not installed: {', '.join(missing)}. Install them with `{INSTALL_HINT}` "
            "or set storage.config.crdHandling: ensure"
        )


def ensure_crds(transport: Transport, namespace: str, wait: float = 30.0) -> list[str]:
    """Create the missing CRDs and wait until they are served; the names of those created."""
    missing = missing_crds(transport, namespace)
    shipped = load_crds()
    for name in missing:
        try:
            transport.request("POST", CRD_PATH, body=shipped[name])
        except AlreadyExists:
            continue  # another replica was faster
        except Forbidden as exc:
            raise SetupError(
                f"CRDs {', '.join(missing)} are missing and may not be created ({exc}). Install them with "
                f"`{INSTALL_HINT}`, or grant create on customresourcedefinitions.apiextensions.k8s.io"
            ) from exc
    deadline = time.monotonic() + wait
    while missing_names := [n for n in missing if not _served_name(transport, n, namespace)]:
        if time.monotonic() > deadline:
            raise SetupError(f"created CRDs {', '.join(missing_names)} are not served after {wait:.0f}s")
        time.sleep(0.1)
    return missing


def _served_name(transport: Transport, crd_name: str, namespace: str) -> bool:
    spec = next(spec for spec in KINDS.values() if spec.crd_name == crd_name)
    try:
        return _served(transport, spec, namespace)
    except Unavailable:
        return False  # e.g. 429 "storage is (re)initializing" right after the CRD appears
