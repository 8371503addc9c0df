"""A client that closes its side of the connection before its form body has arrived: the request is dropped
quietly (no application error, no traceback in the log), nothing is answered, and the server keeps serving."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures.dexpy_server import run_dexpy


def _send_half_a_form(url: str) -> bytes:
    """POST to `url` announcing 100 bytes, send 11, shut the writing side; what the server sent back."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
                     "grant_type=".encode())
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        return received


@pytest.mark.parametrize("path", ["/token", "/token/revoke", "/device/code"])
def test_a_client_gone_mid_body_is_dropped_without_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                            path: str) -> None:
    with run_dexpy(tmp_path) as server, caplog.at_level(logging.INFO):
        assert _send_half_a_form(server.issuer + path) == b""
        assert httpx.get(server.issuer + "/keys").status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert any("disconnected before its request body arrived" in r.getMessage() and path in r.getMessage()
               for r in caplog.records)
