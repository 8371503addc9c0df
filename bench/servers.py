"""The servers under test, each a separate process on loopback: dexpy (`dexpy serve`), panva's oidc-provider
(Node, installed with npm into the gitignored `bench/peer/node_modules`), and a bare uvicorn "hello" app."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PEER_DIR = Path(__file__).with_name("peer")
REDIRECT_URI = "http://127.0.0.1:5555/callback"
DEXPY_WORKERS = 2
"""One per core of the 2-core machines: the token endpoint is CPU-bound (signatures)."""


@dataclass(frozen=True)
class Server:
    """A running server: where it answers and how a relying party and a user sign in to it."""

    name: str
    issuer: str
    pid: int
    client_id: str
    client_secret: str
    username: str
    password: str
    startup_s: float
    auth_params: tuple[tuple[str, str], ...] = ()
    """Extra /auth parameters the server needs to issue a refresh token."""
    userinfo_client: str = ""
    """The client whose access tokens the server's /userinfo accepts (default: `client_id`)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], started: float, timeout: float = 30) -> float:
    """Seconds from `started` to the first 200 at `url`."""
    deadline = started + timeout
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
            try:
                if http.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _with_children(pid: int) -> list[int]:
    """The process and its children (dexpy's workers)."""
    return [pid, *(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]


def rss_mb(pid: int) -> list[float]:
    """Resident memory (MB) of the process and each of its children: one figure per worker."""
    out = []
    for p in _with_children(pid):
        status = Path(f"/proc/{p}/status").read_text()
        out.append(int(status.split("VmRSS:")[1].split()[0]) / 1024)
    return out[1:] if len(out) > 1 else out


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process and its children (the workers) so far."""
    ticks = 0
    for p in _with_children(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def running(command: list[str], ready_url: str, *, cwd: Path | None = None,
            ready_timeout: float = 30) -> Iterator[tuple[int, float]]:
    """Start `command`, wait for a 200 on `ready_url`; (pid, seconds to ready); SIGTERM at the end."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        yield process.pid, wait_ready(ready_url, process, started, ready_timeout)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


DEXPY_YAML = """\
issuer: {issuer}
storage:
  type: {storage}
  config: {storage_config}
web:
  http: 127.0.0.1:{port}
logger:
  level: warn
expiry:
  refreshTokens:
    disableRotation: true  # one refresh token serves the whole run (oidc-provider: rotateRefreshToken false)
security:
  rateLimit:
    enabled: false  # the load comes from one IP; the peer has no rate limit either
staticClients:
- id: bench
  name: Bench
  secret: bench-secret
  redirectURIs: [{redirect}]
connectors: [{connector}]
{extra}"""

MOCK_CONNECTOR = {"type": "mockPassword", "id": "mock", "name": "Mock",
                  "config": {"username": "kilgore", "password": "kilgore-password"}}
"""A connector that hashes no password, so that the login path itself is measured."""


def dexpy_config(directory: Path, port: int, storage: str = "sqlite3", storage_config: str = "", *,
                 connector: dict[str, Any] = MOCK_CONNECTOR, extra_yaml: str = "") -> Path:
    """The bench's config file: `connector` its one connector, `extra_yaml` more top-level keys."""
    issuer = f"http://127.0.0.1:{port}/dex"
    settings = storage_config or ("{file: " + str(directory / "dexpy.db") + "}" if storage == "sqlite3" else "{}")
    path = directory / f"dexpy-{storage}.yaml"
    path.write_text(DEXPY_YAML.format(issuer=issuer, port=port, storage=storage, storage_config=settings,
                                      redirect=REDIRECT_URI, connector=json.dumps(connector), extra=extra_yaml))
    return path


@contextmanager
def dexpy(directory: Path, *, workers: int = DEXPY_WORKERS, storage: str = "sqlite3", storage_config: str = "",
          connector: dict[str, Any] = MOCK_CONNECTOR, extra_yaml: str = "", wrapper: Sequence[str] = (),
          ready_timeout: float = 30) -> Iterator[Server]:
    """`dexpy serve` on the bench's config; `wrapper` is a command it runs under (valgrind)."""
    port = free_port()
    config = dexpy_config(directory, port, storage, storage_config, connector=connector, extra_yaml=extra_yaml)
    issuer = f"http://127.0.0.1:{port}/dex"
    command = [*wrapper, sys.executable, "-m", "dexpy", "serve", str(config), "--workers", str(workers)]
    with running(command, f"{issuer}/.well-known/openid-configuration", cwd=ROOT,
                 ready_timeout=ready_timeout) as (pid, startup):
        yield Server(name="dexpy", issuer=issuer, pid=pid, client_id="bench", client_secret="bench-secret",
                     username="kilgore", password="kilgore-password", startup_s=startup)


def install_peer() -> Path:
    """node_modules with oidc-provider (peer/package.json), installed once by npm next to the peer's script."""
    if not (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed (Debian: nodejs npm)")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock"],
                       cwd=PEER_DIR, check=True, capture_output=True)
    return PEER_DIR


@contextmanager
def peer() -> Iterator[Server]:
    directory = install_peer()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    node = shutil.which("node") or "node"
    with running([node, "server.mjs", str(port)], f"{issuer}/.well-known/openid-configuration",
                 cwd=directory) as (pid, startup):
        # oidc-provider issues a refresh token only for offline_access with prompt=consent
        yield Server(name="oidc-provider", issuer=issuer, pid=pid, client_id="bench", client_secret="bench-secret",
                     username="kilgore", password="any", startup_s=startup,
                     auth_params=(("prompt", "consent"),), userinfo_client="bench-opaque")


HELLO_APP = textwrap.dedent("""\
    from fastapi import FastAPI
    from starlette.responses import Response

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> Response:
        return Response(b"hello", media_type="text/plain")
    """)


@contextmanager
def hello(directory: Path, workers: int = DEXPY_WORKERS) -> Iterator[str]:
    """A bare FastAPI route on uvicorn with dexpy's worker count: the framework's ceiling."""
    (directory / "bench_hello.py").write_text(HELLO_APP)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench_hello:app", "--port", str(port), "--workers", str(workers),
               "--log-level", "warning", "--no-access-log"]
    url = f"http://127.0.0.1:{port}/hello"
    with running(command, url, cwd=directory):
        yield url
