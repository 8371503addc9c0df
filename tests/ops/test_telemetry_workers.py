"""`dexpy serve --workers 2`: the telemetry listener's `/metrics` counts what every worker served, not only the
worker that runs the listener, every kind of metric adds up over processes, and the metric files go away with the
server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.dexpy_server import BASE_YAML, CLIENT_SECRET, free_port, write_config

FORKED_WORKERS = """
import os, sys, tempfile
with tempfile.TemporaryDirectory() as directory:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # before prometheus_client is imported, as dexpy serve does
    from prometheus_client import generate_latest
    from dexpy import telemetry

    registry = telemetry.workers_registry()
    for _ in range(2):
        if os.fork() == 0:
            telemetry.KEY_ROTATIONS.inc()
            telemetry.count_lockout("local")
            telemetry.observe_ldap("bind", 0.25, ok=True)
            os._exit(0)
        os.wait()
    sys.stdout.write(generate_latest(registry).decode())
"""
PASSWORD_GRANT = {"grant_type": "password", "username": "admin@example.com", "password": "password", "scope": "openid"}


def totals(text: str) -> Callable[..., float]:
    """`total(name, **labels)`: the sum of the exposition's samples with that name and exactly those labels."""
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def total(name: str, **labels: str) -> float:
        return sum(s.value for s in samples if s.name == name and s.labels == labels)

    return total


def build_info(text: str) -> list[float]:
    return [s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "dexpy_build_info"]


def on_both_workers(request: Callable[[], httpx.Response], at_least: int) -> int:
    """Send `request` (each on a new connection) until at least `at_least` were answered and both workers answered
    some; return how many were sent. A worker is told by its request-id prefix, drawn once per process."""
    workers: set[str] = set()
    sent = 0
    deadline = time.monotonic() + 60
    while sent < at_least or len(workers) < 2:
        assert time.monotonic() < deadline, f"only {workers} answered {sent} requests"
        response = request()
        assert response.status_code == 200, response.text
        workers.add(response.headers["x-request-id"].split("-")[0])
        sent += 1
    return sent


def test_every_kind_of_metric_adds_up_over_forked_processes() -> None:
    """Counters made at import (key rotations) and on first use (lockouts), histograms and the build-info gauge,
    in a fresh interpreter, as prometheus_client's mode cannot be left once entered."""
    done = subprocess.run([sys.executable, "-c", FORKED_WORKERS], capture_output=True, text=True, check=True)
    assert done.stderr == ""  # no warning from prometheus_client
    text = done.stdout
    value = totals(text)
    assert value("dexpy_signing_key_rotations_total") == 2
    assert value("dexpy_lockouts_total", connector="local") == 2
    assert value("dexpy_ldap_request_duration_seconds_count", operation="bind", result="ok") == 2
    assert value("dexpy_ldap_request_duration_seconds_sum", operation="bind", result="ok") == 0.5
    assert build_info(text) == [1.0]  # one sample, not one per process


def test_metrics_are_the_totals_of_every_worker(tmp_path: Path) -> None:
    telemetry = free_port()
    config = write_config(tmp_path, f"storage:\n  type: sqlite3\n  config:\n    file: {tmp_path / 'dex.db'}\n"
                                    f"telemetry:\n  http: 127.0.0.1:{telemetry}\noauth2:\n  passwordConnector: local\n",
                          base=BASE_YAML.replace("storage:\n  type: memory\n", ""))
    issuer = next(line.split(": ", 1)[1] for line in config.read_text().splitlines() if line.startswith("issuer:"))
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "dexpy", "serve", str(config), "--workers", "2"],
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(temp)},
                               start_new_session=True)
    try:
        _wait_ready(f"http://127.0.0.1:{telemetry}/healthz/ready", process)
        discovery = on_both_workers(lambda: httpx.get(f"{issuer}/.well-known/openid-configuration"), at_least=50)
        tokens = on_both_workers(lambda: httpx.post(f"{issuer}/token", data=PASSWORD_GRANT,
                                                    auth=("example-app", CLIENT_SECRET)), at_least=6)
        text = httpx.get(f"http://127.0.0.1:{telemetry}/metrics").text
        value = totals(text)
        route = {"code": "200", "method": "GET", "handler": "/.well-known/openid-configuration"}
        assert value("http_requests_total", **route) == discovery  # counters
        assert value("request_duration_seconds_count", **route) == discovery  # histograms
        assert value("response_size_bytes_bucket", **route, le="+Inf") == discovery
        assert value("dexpy_tokens_issued_total", grant_type="password") == tokens
        assert value("dexpy_logins_total", connector="local", result="success") == tokens
        assert value("http_requests_total", code="200", method="POST", handler="/token") == tokens
        assert build_info(text) == [1.0]
        assert [p.name.startswith("dexpy-metrics-") for p in temp.iterdir()] == [True]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):  # the workers too, or they hold stderr open
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert list(temp.iterdir()) == []


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "dexpy did not become ready"
        time.sleep(0.1)
