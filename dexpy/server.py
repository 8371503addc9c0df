"""`dexpy serve`: run the web app on its listeners (http, https) and the telemetry listener in one event loop,
the gRPC API beside them; SIGTERM/SIGINT stop all of them gracefully (in-flight requests finish)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry

from dexpy.api.server import start_grpc, stop_grpc
from dexpy.config import Config
from dexpy.connectors.base import ConnectorError
from dexpy.runtime import Runtime, build_storage
from dexpy.storage import StorageError
from dexpy.telemetry import MULTIPROC_DIR, workers_registry
from dexpy.telemetry.listener import telemetry_app
from dexpy.telemetry.storage import InstrumentedStorage
from dexpy.tls import ReloadingTLS
from dexpy.web.app import create_app
from dexpy.web.protocol import HTTPProtocol
from dexpy.web.render import FrontendError
from dexpy.workers import bind, run_workers

log = logging.getLogger("dexpy")


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class TLSConfig(uvicorn.Config):
    """uvicorn's config with dexpy's reloading TLS context in place of the one uvicorn builds once."""

    def __init__(self, app: object, tls: ReloadingTLS, **kwargs: object) -> None:
        super().__init__(app, **kwargs)  # type: ignore[arg-type]
        self._tls = tls

    def load(self) -> None:
        super().load()
        self.ssl = self._tls.context


class Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve`, which stops every listener at once; it serves `bound`
    sockets when a worker bound them itself (`--workers`)."""

    def __init__(self, config: uvicorn.Config, bound: socket.socket | None = None) -> None:
        super().__init__(config)
        self.bound = bound

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Always on a socket bound here (dexpy.workers.bind), which dexpy's loop accepts on (dexpy.web.accepting)."""
        await super().serve(sockets or [self.bound or bind(self.config.host, self.config.port, shared=False)])

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listeners(config: Config, app: object, telemetry: object | None = None,
              bound: dict[str, socket.socket] | None = None) -> list[uvicorn.Server]:
    bound = bound or {}
    servers: list[uvicorn.Server] = []
    # proxy_headers off: uvicorn would trust X-Forwarded-For from loopback peers; dexpy's ClientIPMiddleware
    # honours web.clientRemoteIP only. One send per response; no WebSocket routes, so none of uvicorn's
    # WebSocket handling (dexpy.web.protocol). uvloop, but accepting every waiting connection per loop turn, not
    # one (dexpy.web.accepting): else a burst of connections waits out one busy turn per connection.
    common = {"log_config": None, "access_log": False, "lifespan": "off", "server_header": False,
              "proxy_headers": False, "http": HTTPProtocol, "ws": "none", "loop": "dexpy.web.accepting:new_loop"}
    if config.web.http:
        host, port = split_addr(config.web.http)
        servers.append(Listener(uvicorn.Config(app, host=host, port=port, **common),  # type: ignore[arg-type]
                                bound.get("http")))
    if config.web.https:
        host, port = split_addr(config.web.https)
        try:
            tls = ReloadingTLS(config.web.tls_cert, config.web.tls_key, config.web.tls_min_version,
                               config.web.tls_max_version)
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"web.tlsCert/web.tlsKey ({config.web.tls_cert}, {config.web.tls_key}): {exc}") from exc
        servers.append(Listener(TLSConfig(app, tls, host=host, port=port, **common), bound.get("https")))
    if telemetry is not None and config.telemetry.http:
        host, port = split_addr(config.telemetry.http)
        servers.append(Listener(uvicorn.Config(telemetry, host=host, port=port, **common),  # type: ignore[arg-type]
                                bound.get("telemetry")))
    return servers


class StartupError(Exception):
    """dexpy cannot start; the message says why and what to do."""


def open_app(config: Config) -> tuple[Runtime, FastAPI]:
    """Open storage, connectors and keys and build the app; every expected failure becomes a StartupError."""
    try:
        runtime = Runtime.open(config, storage=InstrumentedStorage(build_storage(config)))
        return runtime, create_app(runtime)
    except (StorageError, ConnectorError, FrontendError) as exc:
        raise StartupError(str(exc)) from exc


def serve(config: Config, *, started: float, workers: int = 1) -> int:
    """Serve until SIGTERM/SIGINT; with `workers` > 1, as that many processes (dexpy.workers) of which the
    first also runs the telemetry listener and the gRPC API. The workers' metrics go to files in the directory
    `PROMETHEUS_MULTIPROC_DIR` names (dexpy.telemetry), so the listener reports them all."""
    if workers <= 1:
        return serve_worker(config, started=started, bound=bind_listeners(config, primary=True, shared=False))
    if config.storage.type == "memory":
        raise StartupError("several workers need a storage they share (sqlite3 or kubernetes), not memory")

    if MULTIPROC_DIR not in os.environ:
        raise StartupError(f"several workers share their metrics through {MULTIPROC_DIR}, set before dexpy is "
                           "imported (`dexpy serve` does)")
    registry = workers_registry()

    def worker(index: int) -> int:
        try:
            bound = bind_listeners(config, primary=index == 0, shared=True)
            return serve_worker(config, started=started, bound=bound, primary=index == 0, registry=registry)
        except StartupError as exc:
            print(f"dexpy: cannot start: {exc}", file=sys.stderr)
            return 1

    return run_workers(workers, worker)


def bind_listeners(config: Config, *, primary: bool, shared: bool) -> dict[str, socket.socket]:
    """This process's listening sockets (dexpy.workers.bind): the web ones, and in the primary the telemetry one;
    `shared` lets the other workers bind the web addresses too. A taken address is a StartupError."""
    addresses = [("http", config.web.http), ("https", config.web.https)]
    bound: dict[str, socket.socket] = {}
    for name, addr in [*addresses, ("telemetry", config.telemetry.http if primary else "")]:
        if addr:
            try:
                bound[name] = bind(*split_addr(addr), shared=shared and name != "telemetry")
            except OSError as exc:
                for sock in bound.values():
                    sock.close()
                raise StartupError(f"cannot listen on {addr}: {exc.strerror or exc}") from exc
    return bound


def serve_worker(config: Config, *, started: float, bound: dict[str, socket.socket] | None = None,
                 primary: bool = True, registry: CollectorRegistry = REGISTRY) -> int:
    runtime, app = open_app(config)
    servers = listeners(config, app, telemetry_app(runtime.provider, registry) if primary else None, bound)

    def stop(sig: int) -> None:
        log.info("received %s; shutting down", signal.Signals(sig).name)
        for s in servers:
            s.should_exit = True

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, sig)
        async with app.router.lifespan_context(app):
            tasks = [asyncio.create_task(s.serve()) for s in servers]
            while not all(s.started for s in servers):
                await asyncio.sleep(0.01)
            addrs = ", ".join(a for a in (config.web.http, config.web.https) if a)
            log.info("dexpy ready on %s (issuer %s) in %.2fs", addrs, config.issuer, time.monotonic() - started)
            await asyncio.gather(*tasks)
            if grpc_server is not None:
                await asyncio.to_thread(stop_grpc, grpc_server)

    try:
        grpc_server = start_grpc(config.grpc, runtime.provider)[0] if config.grpc.addr and primary else None
    except (RuntimeError, OSError) as exc:  # grpc: "Failed to bind"; a TLS file that cannot be read
        raise StartupError(f"gRPC API on {config.grpc.addr}: {exc}") from exc
    with asyncio.Runner(loop_factory=servers[0].config.get_loop_factory()) as runner:  # uvloop, as uvicorn picks
        runner.run(run())
    return 0
