"""From `storage.config` to a connected client: where the API server is, who we are, which namespace."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import config as kube_config
from kubernetes.client import Configuration

from dexpy.loopwork import off_loop
from dexpy.storage import Unavailable
from dexpy.storage.kubernetes.errors import SetupError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass
class Connection:
    configuration: Configuration
    namespace: str


class ServiceAccountToken:
    """The pod's bound token, read again whenever the kubelet rotates the file (hourly by default)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._token = ""

    def __call__(self, configuration: Configuration) -> None:
        """A `Configuration.refresh_api_key_hook`: called before each request."""
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise Unavailable(f"cannot read the service-account token {self.path}: {exc}") from exc
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp != self._stamp:
            self._token = self.path.read_text().strip()
            self._stamp = stamp
        configuration.api_key["authorization"] = f"Bearer {self._token}"


class ThrottledRefresh:
    """A kubeconfig's `refresh_api_key_hook`, asked at most once per `interval`. The client library's hook
    rebuilds the whole Configuration on every call (~38 µs of a ~330 µs API request: files, proxy variables);
    the credentials it renews (exec plugins, OIDC) are renewed five minutes before they expire, so asking once a
    second changes nothing."""

    def __init__(self, hook: Callable[[Configuration], None], interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._hook = hook
        self._interval = interval
        self._clock = clock
        self._next = float("-inf")

    def __call__(self, configuration: Configuration) -> None:
        now = self._clock()
        if now >= self._next:
            self._next = now + self._interval
            off_loop(self._hook, configuration)  # it may start an exec plugin: never on the event loop
            renewed = configuration.refresh_api_key_hook
            if renewed is not None and renewed is not self:  # the library's hook installs a new copy of itself
                self._hook = renewed
            configuration.refresh_api_key_hook = self  # type: ignore[assignment]  # the library types it as None


def in_cluster(environ: Mapping[str, str], account_dir: Path = SERVICE_ACCOUNT_DIR) -> Connection:
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise SetupError("inCluster: true, but KUBERNETES_SERVICE_HOST/PORT are not set: not running in a pod? "
                         "Use kubeConfigFile outside a cluster")
    configuration = Configuration()
    configuration.host = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    configuration.ssl_ca_cert = str(account_dir / "ca.crt")
    configuration.refresh_api_key_hook = ServiceAccountToken(account_dir / "token")  # type: ignore[assignment]
    namespace = environ.get("KUBERNETES_POD_NAMESPACE") or _read(account_dir / "namespace")
    if not namespace:
        raise SetupError(f"no namespace: set KUBERNETES_POD_NAMESPACE or mount {account_dir / 'namespace'}")
    return Connection(configuration, namespace)


def from_kubeconfig(path: str) -> Connection:
    configuration = Configuration()
    try:
        kube_config.load_kube_config(config_file=path, client_configuration=configuration, persist_config=False)
        _, active = kube_config.list_kube_config_contexts(config_file=path)
    except (OSError, kube_config.ConfigException) as exc:
        raise SetupError(f"kubeConfigFile {path}: {exc}") from exc
    if configuration.proxy:  # sent direct instead, the requests would fail as "unreachable", or reach another server
        raise SetupError(f"kubeConfigFile {path}: the cluster's proxy-url ({configuration.proxy}) is not supported; "
                         "use a kubeconfig that reaches the API server directly, or run dexpy in the cluster")
    if configuration.refresh_api_key_hook is not None:
        configuration.refresh_api_key_hook = ThrottledRefresh(configuration.refresh_api_key_hook)
    return Connection(configuration, (active.get("context") or {}).get("namespace") or "default")


def connect(config: Mapping[str, Any], environ: Mapping[str, str] = os.environ,
            account_dir: Path = SERVICE_ACCOUNT_DIR) -> Connection:
    in_pod, kubeconfig = bool(config.get("inCluster")), config.get("kubeConfigFile")
    if in_pod == bool(kubeconfig):
        raise SetupError("storage.config needs exactly one of inCluster: true or kubeConfigFile")
    return in_cluster(environ, account_dir) if in_pod else from_kubeconfig(str(kubeconfig))


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
