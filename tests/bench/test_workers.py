"""`dexpy serve --workers N`: every worker serves on the one address, small answers are not held back by Nagle,
SIGTERM stops them all; a storage the processes cannot share is refused."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dexpy.workers import bind
from tests.fixtures.dexpy_server import write_config


def test_workers_refuse_memory_storage(tmp_path: Path) -> None:
    config = write_config(tmp_path)  # storage: memory
    done = subprocess.run([sys.executable, "-m", "dexpy", "serve", str(config), "--workers", "2"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "several workers need a storage they share" in done.stderr


def test_worker_sockets_share_the_port_and_accept_tcp_nodelay() -> None:
    first = bind("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = bind("127.0.0.1", port)  # a second worker binds the same address
    try:
        assert first.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only when the proto says TCP
        with socket.create_connection(("127.0.0.1", port)):
            ready = [s for s in (first, second) if _accepts(s)]
            assert ready
    finally:
        first.close()
        second.close()


def _accepts(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


STARTING_WORKERS = """
import sys, time
from dexpy.workers import run_workers
sys.exit(run_workers(2, lambda index: time.sleep(60) or 0))
"""


def test_sigterm_while_workers_start_is_a_clean_stop() -> None:
    """A worker still opening its runtime has no signal handler yet; SIGTERM kills it, and that is a stop."""
    process = subprocess.Popen([sys.executable, "-c", STARTING_WORKERS], text=True)
    try:
        deadline = time.monotonic() + 20
        while len(_pids_by_worker(process)) < 2:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def _pids_by_worker(process: subprocess.Popen[str]) -> list[int]:
    """The pids of the process's children: its workers."""
    return [int(p) for p in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]


def test_two_workers_answer_fast_and_stop_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"storage:\n  type: sqlite3\n  config:\n    file: {tmp_path / 'dex.db'}\n",
                          base=_without_storage())
    issuer = next(line.split(": ", 1)[1] for line in config.read_text().splitlines() if line.startswith("issuer:"))
    process = subprocess.Popen([sys.executable, "-m", "dexpy", "serve", str(config), "--workers", "2"],
                               stderr=subprocess.PIPE, text=True)
    try:
        url = f"{issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + 30
        while len(_pids_by_worker(process)) < 2 or not _ready(url):
            assert time.monotonic() < deadline and process.poll() is None, "dexpy workers did not become ready"
            time.sleep(0.05)
        with httpx.Client() as http:  # one keep-alive connection: each answer must not wait for a delayed ACK
            timings = []
            for _ in range(30):
                start = time.perf_counter()
                assert http.get(url).status_code == 200
                timings.append(time.perf_counter() - start)
        assert min(timings) < 0.030, timings  # Nagle + delayed ACK holds back every answer by >= 40 ms
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.communicate()


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _without_storage() -> str:
    from tests.fixtures.dexpy_server import BASE_YAML

    return BASE_YAML.replace("storage:\n  type: memory\n", "")
