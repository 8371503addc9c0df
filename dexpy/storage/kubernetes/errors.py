"""Errors of the Kubernetes backend beyond the shared storage errors, for start-up diagnostics."""

from __future__ import annotations

from dexpy.storage import NotFound, StorageError, Unavailable


class Forbidden(Unavailable):
    """The credentials are refused (401) or lack RBAC rights (403); fixing RBAC heals it without a restart."""


class MissingResource(NotFound):
    """The API server does not serve this resource type: its CRD is not installed."""


class MissingNamespace(Unavailable):
    """The namespace the objects live in does not exist."""


class Gone(StorageError):
    """410: a watch or continue token is too old; list again."""


class SetupError(StorageError):
    """The backend cannot start; the message says what the operator must do."""
