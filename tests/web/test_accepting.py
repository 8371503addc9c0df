"""dexpy's event loop (dexpy.web.accepting): uvloop, but a burst of connections is accepted in one loop turn, not one
per turn; a failed TLS handshake or a failing accept() does not stop the server, and close() stops it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from dexpy.config import Config, StorageConfig, WebConfig
from dexpy.server import listeners
from dexpy.web import accepting
from dexpy.web.accepting import AcceptingLoop, new_loop
from dexpy.workers import bind
from tests.fixtures.dexpy_server import free_port, run_dexpy
from tests.fixtures.pki import make_pki
from tests.fixtures.waiting import until


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(asyncio.wait_for(main(), 10))


class _Recorder(asyncio.Protocol):
    """Records each connection and read in `events`; every read holds the loop a little, as a busy app does."""

    def __init__(self, events: list[tuple[str, float]]) -> None:
        self.events = events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append(("made", time.monotonic()))
        sock = transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), "small answers would wait out Nagle"

    def data_received(self, data: bytes) -> None:
        self.events.append(("data", time.monotonic()))
        time.sleep(0.005)


def _connect_holding_the_loop(address: tuple[str, int], count: int) -> list[socket.socket]:
    """`count` clients, each connected (by the kernel: nothing accepts meanwhile) and with a byte sent; called on
    the loop's thread, so the loop is held as by a long request."""
    clients = [socket.create_connection(address, timeout=5) for _ in range(count)]
    for client in clients:
        client.sendall(b"a")
    time.sleep(0.05)  # the last handshakes and bytes reach the server's side
    return clients


def test_a_burst_of_connections_is_accepted_in_one_loop_turn() -> None:
    """Clients connect while the loop is held; once it is free, all of them are accepted before any request is
    read (uvloop alone accepts one per turn, each turn made long by the reads of those accepted before)."""
    events: list[tuple[str, float]] = []
    clients: list[socket.socket] = []
    count = 16

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _Recorder(events),
                                                                sock=bind("127.0.0.1", 0, shared=False))
        clients.extend(_connect_holding_the_loop(server.sockets[0].getsockname(), count))
        await until(lambda: len(events) == 2 * count)
        server.close()

    try:
        _run(main)
    finally:
        for client in clients:
            client.close()
    assert [kind for kind, _ in events] == ["made"] * count + ["data"] * count


def test_close_stops_accepting_and_closes_the_listening_socket() -> None:
    events: list[tuple[str, float]] = []
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Recorder(events), sock=listening)
        assert server.is_serving() and server.get_loop() is loop
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await until(lambda: len(events) == 1)
        server.close()
        await asyncio.wait_for(server.wait_closed(), 1)
        assert not server.is_serving() and not server.sockets
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    _run(main)
    assert listening.fileno() == -1


def test_cancelling_serve_forever_closes_the_server() -> None:
    async def main() -> None:
        listening = bind("127.0.0.1", 0, shared=False)
        server = await asyncio.get_running_loop().create_server(asyncio.Protocol, sock=listening)
        await server.start_serving()
        serving = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0.01)
        assert server.is_serving() and not serving.done()
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        assert not server.is_serving() and not server.sockets

    _run(main)


class _OutOfDescriptors(socket.socket):
    """A listening socket whose first accept() fails as when the process has no file descriptor left."""

    def __init__(self) -> None:
        super().__init__()
        self.accepts: list[float] = []

    def accept(self) -> tuple[socket.socket, Any]:
        self.accepts.append(time.monotonic())
        if len(self.accepts) == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_running_out_of_descriptors_pauses_accepting_then_resumes(monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(accepting, "ACCEPT_RETRY_DELAY", 0.3)
    events: list[tuple[str, float]] = []
    listening = _OutOfDescriptors()
    listening.bind(("127.0.0.1", 0))

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _Recorder(events), sock=listening)
        address = server.sockets[0].getsockname()
        writers = [(await asyncio.open_connection(*address))[1] for _ in range(2)]
        await until(lambda: len(events) == 2)
        server.close()
        for writer in writers:
            writer.close()

    with caplog.at_level(logging.ERROR, logger=accepting.__name__):
        _run(main)
    failed, *later = listening.accepts
    assert min(at for _, at in events) - failed >= 0.25  # paused, then resumed
    assert len(later) <= 3, "accept() was retried during the pause"  # two connections and one EAGAIN
    assert [r.levelno for r in caplog.records] == [logging.ERROR] and "paused" in caplog.text


def test_https_listener_runs_on_this_loop_and_outlives_a_failed_handshake(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """dexpy's own HTTPS listener (uvicorn's `run`, which builds its loop from the config) on `AcceptingLoop`: a
    client that does not speak TLS is logged at debug level only, and the next one is served."""
    files = make_pki().write(tmp_path)
    port = free_port()
    loops: list[type] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        loops.append(type(asyncio.get_running_loop()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    config = Config(issuer=f"https://127.0.0.1:{port}/dex", storage=StorageConfig(type="memory"),
                    web=WebConfig(https=f"127.0.0.1:{port}", tls_cert=str(files.server_cert),
                                  tls_key=str(files.server_key)))
    (server,) = listeners(config, app)
    thread = threading.Thread(target=server.run, daemon=True)
    caplog.set_level(logging.DEBUG, logger=accepting.__name__)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the listener did not start"
        time.sleep(0.01)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as plain, contextlib.suppress(OSError):
            plain.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            plain.recv(1024)
        response = httpx.get(f"https://127.0.0.1:{port}/", verify=ssl.create_default_context(cafile=str(files.ca)))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    gc.collect()
    assert response.status_code == 200 and loops == [AcceptingLoop]
    assert "connection not set up" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no "Task exception was never retrieved"


def test_dexpy_serves_a_burst_of_clients_on_this_loop(tmp_path: Path) -> None:
    with run_dexpy(tmp_path) as server:
        [listener] = listeners(server.config, server.runtime)
        assert listener.config.get_loop_factory() is new_loop
        url = f"{server.issuer}/.well-known/openid-configuration"
        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(lambda _: httpx.get(url, timeout=10).status_code, range(64)))
    assert statuses == [200] * 64
