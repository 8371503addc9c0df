"""A uvloop event loop whose TCP servers accept every pending connection per loop turn.

libuv (uvloop 0.23) accepts one connection per turn of the loop, so when many clients connect at once and turns are
long (a busy app), the last ones wait for dozens of turns before their first request is even read. asyncio's own
loop drains the accept queue instead; `AcceptingLoop` does the same on uvloop, and hands each connection to uvloop
through `connect_accepted_socket`. Use it as uvicorn's `loop="dexpy.web.accepting:new_loop"`."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable, Sequence
from typing import Any

import uvloop

log = logging.getLogger(__name__)

ACCEPT_RETRY_DELAY = 1.0  # seconds without accepting after the process or system ran out of descriptors or memory
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class AcceptingServer(asyncio.AbstractServer):
    """The `asyncio.Server` surface uvicorn uses, over listening sockets that this object accepts on. Like asyncio's
    and uvloop's servers, `close()` stops accepting and closes the listening sockets, also ones passed in."""

    def __init__(self, loop: AcceptingLoop, sockets: list[socket.socket], protocol_factory: ProtocolFactory,
                 backlog: int, ssl: ssl_module.SSLContext | None, ssl_options: dict[str, float]) -> None:
        self._loop = loop
        self._sockets = sockets
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._ssl = ssl
        self._ssl_options = ssl_options
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry: asyncio.TimerHandle | None = None

    def _start(self) -> None:
        self._retry = None
        for sock in self._sockets:
            self._loop.add_reader(sock, self._accept, sock)

    def _accept(self, listening: socket.socket) -> None:
        for _ in range(self._backlog):
            try:
                conn, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:  # gone before it was accepted; others may be waiting
                continue
            except OSError as exc:  # anything else propagates, and the loop logs it, as asyncio's does
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                log.error("accepting connections on %s paused for %gs: %s", listening.getsockname(),
                          ACCEPT_RETRY_DELAY, exc)
                for sock in self._sockets:
                    self._loop.remove_reader(sock)
                self._retry = self._loop.call_later(ACCEPT_RETRY_DELAY, self._start)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._connect(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, conn: socket.socket) -> None:
        """Hand `conn` to uvloop (its transports set TCP_NODELAY); one connection's failure, such as a TLS
        handshake that fails or times out, is that connection's only."""
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, conn, ssl=self._ssl,
                                                     **self._ssl_options)
        except Exception as exc:  # noqa: BLE001 - it ends this connection only, whatever it is
            log.debug("connection not set up: %r", exc)

    def close(self) -> None:
        if self._closed.is_set():
            return
        if self._retry is not None:
            self._retry.cancel()
        for sock in self._sockets:
            self._loop.remove_reader(sock)
            sock.close()
        self._sockets = []
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def is_serving(self) -> bool:
        return not self._closed.is_set()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    async def start_serving(self) -> None:
        """Accepting starts when the server is created (asyncio's `start_serving=True`): nothing left to start."""

    async def serve_forever(self) -> None:
        """Accept until cancelled; cancelling closes the server, as asyncio's does."""
        try:
            await self._closed.wait()
        finally:
            self.close()


class AcceptingLoop(uvloop.Loop):
    """uvloop, with `create_server` for TCP returning an `AcceptingServer`; other servers are uvloop's own."""

    async def create_server(  # type: ignore[override]
            self, protocol_factory: ProtocolFactory, host: str | Sequence[str] | None = None, port: int | None = None,
            *, sock: socket.socket | None = None, backlog: int = 100, ssl: ssl_module.SSLContext | None = None,
            ssl_handshake_timeout: float | None = None, **options: Any) -> asyncio.AbstractServer:
        """A listening TCP socket passed as `sock` (dexpy's listeners always bind their own: dexpy.workers.bind)
        is accepted on here; anything else is uvloop's."""
        tcp = sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
        if not tcp or host is not None or port is not None or options:
            uvloop_create_server: Any = super().create_server
            server: asyncio.AbstractServer = await uvloop_create_server(
                protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl,
                ssl_handshake_timeout=ssl_handshake_timeout, **options)
            return server
        assert sock is not None
        if ssl is None and ssl_handshake_timeout is not None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        sock.setblocking(False)
        sock.listen(backlog)
        ssl_options = {} if ssl_handshake_timeout is None else {"ssl_handshake_timeout": ssl_handshake_timeout}
        accepting = AcceptingServer(self, [sock], protocol_factory, backlog, ssl, ssl_options)
        accepting._start()
        return accepting


def new_loop() -> asyncio.AbstractEventLoop:
    """The loop factory uvicorn's `Config(loop=...)` imports and calls (uvicorn >= 0.36 takes a custom `loop` as
    the factory itself)."""
    return AcceptingLoop()
