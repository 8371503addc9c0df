"""One TCP segment per small response (dexpy.web.onesend), checked on the wire, and the transport's edge cases:
an interim `100 Continue` is never held, a response without a body write or cut short by a close still goes
out, and a streamed body after its first chunk goes out as written."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dexpy.web.onesend import _HeldHeaders
from tests.fixtures.dexpy_server import DexpyServer, run_dexpy


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DexpyServer]:
    with run_dexpy(tmp_path_factory.mktemp("onesend")) as running:
        yield running


def _connect(server: DexpyServer) -> socket.socket:
    host, port = server.config.web.http.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length: (\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def _data_segments_sent_to(sock: socket.socket, server: DexpyServer) -> int:
    """What the server side of this connection has sent, counted by the kernel (`ss -ti`)."""
    port = server.config.web.http.rsplit(":", 1)[1]
    ss = shutil.which("ss") or "/usr/bin/ss"
    connection = f"( sport = :{port} and dport = :{sock.getsockname()[1]} )"
    out = subprocess.run([ss, "-tinH", "state", "established", connection], capture_output=True, text=True,
                         check=True).stdout
    return int(re.search(r"data_segs_out:(\d+)", out)[1])  # type: ignore[index]


@pytest.mark.parametrize("request_bytes", [
    b"GET /dex/keys HTTP/1.1\r\nHost: dexpy\r\n\r\n",
    b"POST /dex/token HTTP/1.1\r\nHost: dexpy\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 29\r\n\r\ngrant_type=client_credentials",  # a 401 JSON answer
], ids=["jwks", "token-error"])
def test_each_small_response_is_one_segment(server: DexpyServer, request_bytes: bytes) -> None:
    with _connect(server) as sock:
        for _ in range(20):
            sock.sendall(request_bytes)
            head, body = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 ") and body
        assert _data_segments_sent_to(sock, server) == 20  # headers and body apart would be 40


def test_expect_100_continue_is_answered_before_the_body_is_sent(server: DexpyServer) -> None:
    body = b"grant_type=client_credentials"
    with _connect(server) as sock:
        sock.sendall(b"POST /dex/token HTTP/1.1\r\nHost: dexpy\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.settimeout(2)
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")  # not held back as a header block
        sock.sendall(body)
        head, answer = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 401") and b"invalid_client" in answer


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_held_headers_go_out_with_the_first_body_write_and_later_chunks_as_written() -> None:
    inner = RecordingTransport()
    transport = _HeldHeaders(inner)  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n")
    assert inner.writes == []
    transport.write(b"first")
    transport.write(b"second")
    transport.response_sent()
    transport.write(b"HTTP/1.1 404 Not Found\r\n\r\n")  # the next response on the connection is held again
    transport.write(b"gone")
    assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst", b"second",
                            b"HTTP/1.1 404 Not Found\r\n\r\ngone"]
    assert not transport.is_closing()  # everything else is the real transport's


def test_a_response_without_a_body_write_or_cut_by_a_close_still_goes_out() -> None:
    inner = RecordingTransport()
    transport = _HeldHeaders(inner)  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 304 Not Modified\r\n\r\n")
    transport.response_sent()
    transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad")  # uvicorn's own 400, then close
    transport.close()
    assert inner.writes == [b"HTTP/1.1 304 Not Modified\r\n\r\n",
                            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad"]
    assert inner.closed


def test_dexpy_serve_listeners_use_the_one_send_protocol(tmp_path: Path) -> None:
    from dexpy.config import load_config
    from dexpy.server import listeners
    from dexpy.web.onesend import OneSendProtocol
    from tests.fixtures.dexpy_server import write_config

    [listener] = listeners(load_config(str(write_config(tmp_path))), app=object())
    assert issubclass(listener.config.http, OneSendProtocol) and listener.config.ws == "none"
