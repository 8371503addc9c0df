"""dexpy's HTTP protocol (dexpy.web.protocol): a request asking to upgrade the connection is answered as plain
HTTP/1.1, and nothing tells the operator to install a WebSocket library."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fixtures.dexpy_server import run_dexpy

UPGRADES = {
    "websocket": "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n",
    "h2c": "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
}


def _get(url: str, headers: str) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{headers}\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


@pytest.mark.parametrize("upgrade", sorted(UPGRADES))
def test_an_upgrade_request_is_answered_as_http_1_1_and_logs_no_warning(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture,
                                                                        upgrade: str) -> None:
    with run_dexpy(tmp_path) as server, caplog.at_level(logging.DEBUG):
        answer = _get(server.issuer + "/keys", UPGRADES[upgrade])
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"keys"' in answer
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    assert any("dexpy serves no WebSockets" in r.getMessage() for r in caplog.records)
