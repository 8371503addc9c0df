"""`dexpy serve` and `dexpy version` as an operator runs them: errors are one line, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest

from dexpy.api import pb, rpc
from dexpy.model import OfflineSessions, RefreshToken
from dexpy.storage.sqlite import SQLiteStorage

from tests.fixtures.dexpy_server import free_port

REPO = Path(__file__).resolve().parents[1]


def dexpy(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dexpy", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def test_version():
    result = dexpy("version")
    assert result.returncode == 0 and result.stdout.startswith("dexpy version ")


def test_user_ref_prints_what_failed_login_lines_carry_for_any_spelling_of_a_name():
    result = dexpy("user-ref", "Jane@Example.com", " jane@example.com", "bob")
    jane, jane_again, bob = result.stdout.split()
    assert result.returncode == 0 and jane == jane_again != bob
    assert jane.startswith("sha256:") and len(jane) == len("sha256:") + 20


def test_mistyped_key_names_the_file_and_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("issuer: http://127.0.0.1:1/dex\nstorage: {type: memory}\nweb: {htp: 127.0.0.1:1}\n"
                      "enablePasswordDB: true\n")
    result = dexpy("serve", str(config))
    assert result.returncode == 2
    assert f"{config}: web.htp: unknown key" in result.stderr and "did you mean 'http'" in result.stderr
    assert "Traceback" not in result.stderr


def test_storage_that_cannot_open_is_one_line_not_a_traceback(tmp_path):
    config = tmp_path / "kube.yaml"
    config.write_text("issuer: http://127.0.0.1:1/dex\nweb: {http: 127.0.0.1:1}\nenablePasswordDB: true\n"
                      f"storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: {tmp_path}/missing\n")
    result = dexpy("serve", str(config))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("dexpy: cannot start: kubeConfigFile")
    assert "Traceback" not in result.stderr


def test_example_config_serves_with_listen_addresses_from_the_flags(tmp_path):
    """The config's own addresses are taken by something else; the flags move every listener away from them."""
    web, telemetry, grpc_port = free_port(), free_port(), free_port()
    config = (REPO / "config.example.yaml").read_text().replace("file: var/dexpy.db", f"file: {tmp_path}/dexpy.db")
    config = config.replace("issuer: http://127.0.0.1:5556", f"issuer: http://127.0.0.1:{web}")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        taken_addr = f"127.0.0.1:{taken.getsockname()[1]}"
        (tmp_path / "config.yaml").write_text(config.replace("http: 127.0.0.1:5556", f"http: {taken_addr}")
                                              .replace("http: 127.0.0.1:5558", f"http: {taken_addr}"))
        proc = subprocess.Popen([sys.executable, "-m", "dexpy", "serve", str(tmp_path / "config.yaml"),
                                 "--web-http-addr", f"127.0.0.1:{web}", "--telemetry-addr", f"127.0.0.1:{telemetry}",
                                 "--grpc-addr", f"127.0.0.1:{grpc_port}"], cwd=REPO, stderr=subprocess.PIPE, text=True)
        try:
            response = _wait_for(f"http://127.0.0.1:{web}/dex/.well-known/openid-configuration", proc)
            assert response.json()["issuer"] == f"http://127.0.0.1:{web}/dex"
            assert httpx.get(f"http://127.0.0.1:{telemetry}/healthz/ready").status_code == 200
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            assert rpc.DexStub(channel).GetVersion(pb.VersionReq(), timeout=10).server
            channel.close()
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def _wait_for(url: str, proc: subprocess.Popen[str], seconds: float = 20) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url)
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None, "dexpy serve did not come up"
            time.sleep(0.1)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_an_in_flight_request_finish_and_write_all_it_issued(tmp_path, workers):
    import signal
    import threading

    import bcrypt

    port = free_port()
    slow_hash = bcrypt.hashpw(b"slow-password", bcrypt.gensalt(14)).decode()  # about a second to check
    (tmp_path / "config.yaml").write_text(f"""
issuer: http://127.0.0.1:{port}/dex
storage: {{type: sqlite3, config: {{file: {tmp_path}/dexpy.db}}}}
web: {{http: 127.0.0.1:{port}}}
oauth2: {{passwordConnector: local}}
enablePasswordDB: true
staticPasswords:
- {{email: slow@example.com, hash: "{slow_hash}", username: slow, userID: slow-1}}
staticClients:
- {{id: app, name: App, secret: app-secret, redirectURIs: ["http://127.0.0.1:1/cb"]}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "dexpy", "serve", str(tmp_path / "config.yaml"), "--workers",
                             str(workers)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/dex/healthz", proc)
        time.sleep(0.5 * (workers - 1))  # the other worker too
        answer: dict[str, httpx.Response] = {}

        def token_request() -> None:
            answer["response"] = httpx.post(f"http://127.0.0.1:{port}/dex/token", auth=("app", "app-secret"),
                                            data={"grant_type": "password", "username": "slow@example.com",
                                                  "password": "slow-password", "scope": "openid offline_access"},
                                            timeout=30)

        request = threading.Thread(target=token_request)
        request.start()
        time.sleep(0.3)  # the request is now inside bcrypt
        proc.send_signal(signal.SIGTERM)
        request.join(timeout=30)
        assert answer["response"].status_code == 200, answer["response"].text
        assert "refresh_token" in answer["response"].json()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    store = SQLiteStorage(str(tmp_path / "dexpy.db"))
    [token] = store.list(RefreshToken)
    [sessions] = store.list(OfflineSessions)
    assert sessions.refresh["app"].id == token.id  # the token it issued, linked: nothing half-written
    store.close()


def test_a_taken_address_or_a_missing_certificate_is_one_line_not_a_traceback(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    base = "issuer: http://127.0.0.1:1/dex\nstorage: {type: memory}\nenablePasswordDB: true\n"
    cases = {
        f"web: {{http: '127.0.0.1:{port}'}}\n": f"cannot listen on 127.0.0.1:{port}",
        f"web: {{http: '127.0.0.1:{free_port()}'}}\ntelemetry: {{http: '127.0.0.1:{port}'}}\n":
            f"cannot listen on 127.0.0.1:{port}",
        f"web: {{https: '127.0.0.1:{free_port()}', tlsCert: {tmp_path}/no.crt, tlsKey: {tmp_path}/no.key}}\n":
            "web.tlsCert/web.tlsKey",
    }
    try:
        for i, (web, expected) in enumerate(cases.items()):
            config = tmp_path / f"c{i}.yaml"
            config.write_text(base + web)
            result = dexpy("serve", str(config))
            assert result.returncode == 1, result.stderr
            assert "Traceback" not in result.stderr and expected in result.stderr, result.stderr
    finally:
        taken.close()
