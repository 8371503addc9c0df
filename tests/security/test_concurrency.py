"""Races across real `dexpy serve` processes sharing one SQLite file, and a login storm."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dexpy.clock import system_clock
from tests.fixtures.dexpy_server import BASE_YAML, CLIENT_SECRET, free_port, write_config
from tests.fixtures.rp import RelyingParty
from tests.security.conftest import run_with_web

PROCESS_YAML = """
oauth2:
  passwordConnector: local
security:
  rateLimit:
    enabled: false
"""


@contextmanager
def dexpy_processes(tmp_path: Path, count: int, extra_yaml: str = "") -> Iterator[list[str]]:
    """`count` `dexpy serve` processes, one issuer, one SQLite file; yields each one's base URL."""
    issuer_port = free_port()
    shared = BASE_YAML.replace("type: memory", f"type: sqlite3\n  config:\n    file: {tmp_path / 'shared.db'}")
    processes, urls = [], []
    try:
        for n in range(count):
            directory = tmp_path / f"p{n}"
            directory.mkdir()
            port = free_port()
            path = write_config(directory, PROCESS_YAML + extra_yaml, port=issuer_port, base=shared)
            path.write_text(path.read_text().replace(f"http: 127.0.0.1:{issuer_port}", f"http: 127.0.0.1:{port}"))
            processes.append(subprocess.Popen([sys.executable, "-m", "dexpy", "serve", str(path)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            urls.append(f"http://127.0.0.1:{port}/dex")
        for url, process in zip(urls, processes):
            _wait_ready(url, process)
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dexpy exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready in 30s")


def test_three_processes_starting_without_keys_agree_on_one_key_set(tmp_path):
    with dexpy_processes(tmp_path, 3) as urls:
        key_sets = [httpx.get(f"{url}/keys").json() for url in urls]
    assert key_sets[0] == key_sets[1] == key_sets[2]
    assert len({k["kid"] for k in key_sets[0]["keys"]}) == 1


def _refresh_race(urls: list[str], count: int) -> tuple[Counter[tuple[int, str]], set[str]]:
    token = httpx.post(f"{urls[0]}/token", auth=("example-app", CLIENT_SECRET),
                       data={"grant_type": "password", "username": "admin@example.com", "password": "password",
                             "scope": "openid offline_access"}).json()["refresh_token"]

    def refresh(n: int) -> httpx.Response:
        return httpx.post(f"{urls[n % len(urls)]}/token", auth=("example-app", CLIENT_SECRET), timeout=30,
                          data={"grant_type": "refresh_token", "refresh_token": token})

    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(refresh, range(count)))
    outcomes = Counter((a.status_code, a.json().get("error", "")) for a in answers)
    successors = {a.json()["refresh_token"] for a in answers if a.status_code == 200}
    return outcomes, successors


def test_fifty_parallel_refreshes_across_two_processes_rotate_once(tmp_path):
    with dexpy_processes(tmp_path, 2) as urls:
        outcomes, successors = _refresh_race(urls, 50)
    assert all(status < 500 for status, _ in outcomes), outcomes
    assert outcomes[(200, "")] == 1 and len(successors) == 1, outcomes
    assert outcomes[(400, "invalid_grant")] == 49, outcomes


def test_with_a_reuse_interval_every_parallel_refresh_gets_the_one_successor(tmp_path):
    reuse = "expiry:\n  refreshTokens:\n    reuseInterval: 30s\n"
    with dexpy_processes(tmp_path, 2, reuse) as urls:
        outcomes, successors = _refresh_race(urls, 50)
    assert all(status < 500 for status, _ in outcomes), outcomes
    assert len(successors) == 1, outcomes
    assert sum(n for (status, error), n in outcomes.items() if status == 200 or error == "invalid_grant") == 50


STORM_YAML = "web:\n  clientRemoteIP:\n    header: X-Forwarded-For\n    trustedProxies: [127.0.0.1/32]\n"


@pytest.mark.timeout(180)
def test_login_storm_of_200_logins_over_8_threads_all_succeed(tmp_path):
    """Default rate limits and lockout on; each simulated user comes from its own address (via the proxy)."""
    with run_with_web(tmp_path, STORM_YAML, system_clock) as server:
        def login(n: int) -> int:
            rp = RelyingParty(server.issuer)
            rp.browser.headers["X-Forwarded-For"] = f"10.{n // 250}.{n % 250}.1"
            rp.http.headers["X-Forwarded-For"] = f"10.{n // 250}.{n % 250}.1"
            return rp.exchange(rp.login(scope="openid")).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = Counter(pool.map(login, range(200)))
    assert statuses == Counter({200: 200})
