"""The one seam to the Kubernetes API: raw JSON requests through the official client's `ApiClient`.

Tests point it at the fake API server with a kubeconfig; production uses a kubeconfig or the in-cluster
service account. Everything above this module sees plain dicts and the error types below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import kubernetes.client
import kubernetes.config
import urllib3

CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.message = str(body.get("message", "")) or f"HTTP {status}"
        super().__init__(f"{status}: {self.message}")


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class TooManyRequests(ApiError):
    """429: for an eviction, a PodDisruptionBudget says no."""


class Unreachable(ApiError):
    """No answer at all (refused, reset, timed out, TLS failure): status 0, so callers handle one error type."""

    def __str__(self) -> str:
        return self.message


class NoCredentials(Exception):
    """The kubeconfig (or the pod's service account) cannot be loaded: nothing was sent."""


class NotLeader(Exception):
    """A write through a guarded view after the Lease ran out: nothing was sent. Not an `ApiError`, so no
    caller retries it; it ends the pass, and what the pass would still write is left to the next leader."""


REQUEST_TIMEOUT = 30.0


_ERRORS = {404: NotFound, 409: Conflict, 429: TooManyRequests}


class Kube:
    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self._api = api_client

    @classmethod
    def connect(cls, kubeconfig: str | None = None) -> Kube:
        configuration = kubernetes.client.Configuration()
        try:
            if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            else:
                kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        except (kubernetes.config.ConfigException, OSError) as exc:
            raise NoCredentials(f"cannot load the Kubernetes credentials ({kubeconfig or 'default kubeconfig'}): "
                                f"{exc}") from exc
        configuration.retries = False  # callers retry whole passes with backoff; urllib3's retries add only log noise
        return cls(kubernetes.client.ApiClient(configuration))

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = REQUEST_TIMEOUT,
    ) -> dict[str, Any]:
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Accept": "application/json", "Content-Type": content_type}
        serialized = self._api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self._api.call_api(*serialized, _request_timeout=timeout)
            raw = response.read()
        except (urllib3.exceptions.HTTPError, kubernetes.client.ApiException) as exc:
            raise Unreachable(0, {"message": f"{method} {path}: {type(exc).__name__}: {exc}"}) from exc
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"message": raw.decode(errors="replace")}
        if response.status >= 400:
            raise _ERRORS.get(response.status, ApiError)(response.status, data)
        return data

    def guarded(self, time_left: Callable[[], float]) -> Kube:
        """A view for a leader's work: reads as usual; a write is refused with `NotLeader` once `time_left()` (the
        seconds the leadership has left, e.g. `LeaderElector.time_left`) is down to 0, and otherwise may take no
        longer than that. The elector keeps the unguarded client for its own Lease writes."""
        return _Guarded(self, time_left)

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def list(self, path: str, **query: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.request("GET", path, query=query).get("items") or []
        return items

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body=body)

    def replace(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", path, body=body)

    def patch(self, path: str, body: Any, kind: str = "merge") -> dict[str, Any]:
        return self.request("PATCH", path, body=body, content_type=CONTENT_TYPES[kind])

    def delete(self, path: str, **query: str) -> dict[str, Any]:
        return self.request("DELETE", path, query=query)


class _Guarded(Kube):
    def __init__(self, inner: Kube, time_left: Callable[[], float]) -> None:
        self._inner = inner
        self._time_left = time_left

    def request(self, method: str, path: str, *, timeout: float = REQUEST_TIMEOUT, **kw: Any) -> dict[str, Any]:
        if method != "GET":
            left = self._time_left()
            if left <= 0:
                raise NotLeader(f"the Lease ran out during the pass: {method} {path} not sent")
            timeout = min(timeout, left)
        return self._inner.request(method, path, timeout=timeout, **kw)
