"""Storage on Kubernetes custom resources, compatible with the objects Dex writes.

    storage:
      type: kubernetes
      config:
        inCluster: true            # or kubeConfigFile: /path/to/kubeconfig
        crdHandling: ensure        # or check

See docs/storage-kubernetes.md for the object mapping, RBAC and operations.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dexpy.model import OfflineSessions, Revocation
from dexpy.storage import AlreadyExists, NotFound, StorageError
from dexpy.storage.kubernetes.connect import SERVICE_ACCOUNT_DIR, connect
from dexpy.storage.kubernetes.crds import check_crds, ensure_crds
from dexpy.storage.kubernetes.errors import Forbidden, MissingNamespace, SetupError
from dexpy.storage.kubernetes.kinds import spec_of
from dexpy.storage.kubernetes.store import KubernetesStorage
from dexpy.storage.kubernetes.transport import Transport

log = logging.getLogger(__name__)

__all__ = ["KubernetesStorage", "SetupError", "open_kubernetes_storage"]

CRD_HANDLING = ("ensure", "check")


def open_kubernetes_storage(config: Mapping[str, Any], *, environ: Mapping[str, str] = os.environ,
                            account_dir: Path = SERVICE_ACCOUNT_DIR, watch: bool = True) -> KubernetesStorage:
    """Connect, verify the namespace and CRDs (creating them with `crdHandling: ensure`) and open the store."""
    handling = config.get("crdHandling") or "ensure"
    if handling not in CRD_HANDLING:
        raise SetupError(f"storage.config.crdHandling must be one of {', '.join(CRD_HANDLING)}, not {handling!r}")
    connection = connect(config, environ, account_dir)
    transport = Transport(connection.configuration)
    try:
        _check_namespace(transport, connection.namespace)
        if handling == "ensure":
            created = ensure_crds(transport, connection.namespace)
            if created:
                log.info("created CRDs %s", ", ".join(created))
        else:
            check_crds(transport, connection.namespace)
        _check_writable(transport, connection.namespace)
    except StorageError:
        transport.close()
        raise
    store = KubernetesStorage(transport, connection.namespace, watch=watch)
    store.wait_synced(timeout=5.0)
    return store


WRITE_PROBES = (Revocation(id="dexpy-start-up-probe", expiry=datetime(2000, 1, 1, tzinfo=timezone.utc)),
                OfflineSessions(user_id="dexpy-start-up-probe", conn_id="probe"))
"""One record per API group, created with dryRun=All at start-up: nothing is stored."""


def _check_writable(transport: Transport, namespace: str) -> None:
    """Fail at start-up, not at the first login, when RBAC lets dexpy read but not write (or the namespace is
    wrong where RBAC hides namespaces)."""
    for record in WRITE_PROBES:
        spec = spec_of(type(record))
        try:
            transport.request("POST", spec.path(namespace), {"dryRun": "All"}, spec.to_object(record, namespace))
        except Forbidden as exc:
            raise SetupError(
                f"not allowed to create {spec.crd_name} in namespace {namespace!r} ({exc}). Grant the service "
                f"account get, list, watch, create, update and delete on the {spec.group} resources in that "
                "namespace (see docs/storage-kubernetes.md)") from exc
        except (NotFound, MissingNamespace) as exc:
            raise _no_such_namespace(namespace, exc) from exc
        except AlreadyExists:
            pass  # a leftover object of that name: the create was allowed


def _check_namespace(transport: Transport, namespace: str) -> None:
    """Fail early on a wrong namespace; stay quiet when RBAC hides namespaces (Dex's RBAC does)."""
    try:
        transport.request("GET", f"/api/v1/namespaces/{namespace}")
    except (NotFound, MissingNamespace) as exc:
        raise _no_such_namespace(namespace, exc) from exc
    except Forbidden:
        pass  # _check_writable finds a wrong namespace then


def _no_such_namespace(namespace: str, exc: Exception) -> SetupError:
    return SetupError(f"namespace {namespace!r} does not exist ({exc}): create it, or point KUBERNETES_POD_NAMESPACE "
                      "(in a pod) or the kubeconfig context's namespace at the right one")
