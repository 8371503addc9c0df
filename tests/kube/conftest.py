"""Fixtures for the kubectl side: a tiny HTTPS issuer on loopback and a runner for the real CLI."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fixtures.pki import make_pki

REPO = Path(__file__).resolve().parents[2]

# Builds dexpy's parser from `register` alone, as dexpy/cli.py does, and runs the chosen subcommand.
_CLI = """
import argparse, sys
from dexpy.kube.cli import register
parser = argparse.ArgumentParser(prog="dexpy")
register(parser.add_subparsers(required=True))
args = parser.parse_args()
sys.exit(args.func(args))
"""


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    done = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)
    return CliResult(done.returncode, done.stdout, done.stderr)


def install_dexpy_command(bin_dir: Path) -> Path:
    """A `dexpy` executable running this checkout's CLI, for kubeconfigs whose exec command is `dexpy`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "dexpy"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n{_CLI}")
    script.chmod(0o755)
    return script


@dataclass(frozen=True)
class HttpsIssuer:
    url: str
    ca_file: Path
    other_ca_file: Path


@pytest.fixture
def https_issuer(tmp_path: Path) -> Iterator[HttpsIssuer]:
    """An HTTPS server on 127.0.0.1 whose discovery document names another issuer than its own URL."""
    pki, other = make_pki(), make_pki("some other CA")
    for name, data in {"ca.pem": pki.ca_pem, "other-ca.pem": other.ca_pem,
                       "cert.pem": pki.cert_pem, "key.pem": pki.key_pem}.items():
        (tmp_path / name).write_bytes(data)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/dex/.well-known/openid-configuration":
                self.send_error(404)
                return
            body = json.dumps({"issuer": "https://elsewhere.example/dex"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpsIssuer(f"https://127.0.0.1:{server.server_address[1]}/dex",
                          tmp_path / "ca.pem", tmp_path / "other-ca.pem")
    finally:
        server.shutdown()
        server.server_close()
