"""Prometheus metrics, served on the telemetry listener (`telemetry.http`) at `/metrics`.

The HTTP metrics carry Dex's names and labels; the rest are dexpy's own. Other parts report through the
functions here, so that none of them imports prometheus_client:

    observe_ldap("search", seconds, ok=True)    # the LDAP connector, per directory operation
    count_lockout("ldap")                       # the lockout policy, per account locked

Under `dexpy serve --workers N` each process keeps its values in files that `/metrics` merges
(`workers_registry`), so the counts are the whole server's: prometheus_client's multiprocess mode, which it
picks when it is first imported with `PROMETHEUS_MULTIPROC_DIR` set. `dexpy serve` sets it, to a fresh private
directory, before it imports this module.
"""

from __future__ import annotations

import os
import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

from dexpy import __version__

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


def _process_id() -> int:
    return _pid


if MULTIPROC_DIR in os.environ:
    # Multiprocess values notice a fork by asking os.getpid(), a system call, on every update (~14 a refresh
    # grant, ~4% of a worker's time holding the GIL); here the fork tells them. Set before the first metric.
    os.register_at_fork(after_in_child=_forked)
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_id)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests by status code, method and route.",
                        ["code", "method", "handler"])
HTTP_DURATION = Histogram("request_duration_seconds", "HTTP request latency.", ["code", "method", "handler"],
                          buckets=(0.25, 0.5, 1, 2.5, 5, 10))
HTTP_RESPONSE_SIZE = Histogram("response_size_bytes", "HTTP response body sizes.", ["code", "method", "handler"],
                               buckets=(200, 500, 900, 1500))
BUILD_INFO = Gauge("dexpy_build_info", "dexpy's version and platform; always 1.",
                   ["version", "python_version", "platform"], multiprocess_mode="max")
LOGINS = Counter("dexpy_logins_total", "Interactive logins by connector and result.", ["connector", "result"])
TOKENS = Counter("dexpy_tokens_issued_total", "Token responses issued by grant type.", ["grant_type"])
REFRESH_FAILURES = Counter("dexpy_refresh_failures_total", "Refused refresh requests by OAuth2 error.", ["reason"])
STORAGE_LATENCY = Histogram("dexpy_storage_request_duration_seconds", "Storage calls by verb and record kind.",
                            ["verb", "kind"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
STORAGE_ERRORS = Counter("dexpy_storage_errors_total",
                         "Storage calls that failed: backend unavailable, conflicts, refused records.",
                         ["verb", "kind", "error"])
LDAP_LATENCY = Histogram("dexpy_ldap_request_duration_seconds", "LDAP operations by kind and outcome.",
                         ["operation", "result"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
KEY_ROTATIONS = Counter("dexpy_signing_key_rotations_total", "Signing key rotations this dexpy performed.")
LOCKOUTS = Counter("dexpy_lockouts_total", "Accounts locked out after repeated failed logins.", ["connector"])


BUILD_INFO.labels(version=__version__, python_version=platform.python_version(),
                  platform=f"{platform.system().lower()}/{platform.machine()}").set(1)


def observe_ldap(operation: str, seconds: float, *, ok: bool) -> None:
    """Record one LDAP operation (`bind`, `search`, …) and how long it took."""
    LDAP_LATENCY.labels(operation=operation, result="ok" if ok else "error").observe(seconds)


def count_lockout(connector: str) -> None:
    LOCKOUTS.labels(connector=connector).inc()


def workers_registry() -> CollectorRegistry:
    """What `/metrics` reports under several workers: every process's values, merged from the files of the
    directory `PROMETHEUS_MULTIPROC_DIR` names (set before this module was imported; see above). No gauge uses
    a `live` mode, so the files of a worker that exited stay, its counts part of the totals."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ[MULTIPROC_DIR])
    return registry
