"""A dexpy with its gRPC API on mutual TLS (test CA) and its telemetry app, on loopback, plus a stub."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import uvicorn

from dexpy.api import rpc
from dexpy.api.server import start_grpc, stop_grpc
from dexpy.config import load_config
from dexpy.runtime import build_storage
from dexpy.storage import Storage, Unavailable
from dexpy.telemetry.listener import telemetry_app
from dexpy.telemetry.storage import InstrumentedStorage
from tests.fixtures.dexpy_server import DexpyServer, free_port, serve_config, write_config
from tests.fixtures.pki import PkiFiles, make_pki


class SwitchableStorage:
    """A storage whose backend can be made unreachable: every call raises `Unavailable` while `down`."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name == "close" or not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise Unavailable("backend unreachable (test)")
            return target(*args, **kwargs)

        return call


@dataclass
class Ops:
    server: DexpyServer
    storage: SwitchableStorage
    grpc_addr: str
    telemetry_url: str
    pki: PkiFiles

    def stub(self) -> Any:
        creds = grpc.ssl_channel_credentials(root_certificates=self.pki.ca.read_bytes(),
                                             private_key=self.pki.client_key.read_bytes(),
                                             certificate_chain=self.pki.client_cert.read_bytes())
        return rpc.DexStub(grpc.secure_channel(self.grpc_addr, creds))

    def cli_args(self) -> list[str]:
        return ["--addr", self.grpc_addr, "--ca-cert", str(self.pki.ca), "--client-cert", str(self.pki.client_cert),
                "--client-key", str(self.pki.client_key)]


def serve_asgi(app: Any, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "telemetry listener did not start"
        time.sleep(0.01)
    return server


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Ops]:
    """dexpy on loopback with the gRPC API on mTLS and the telemetry listener, storage instrumented."""
    pki = make_pki(dns_names=["localhost"]).write(tmp_path)
    grpc_addr = f"127.0.0.1:{free_port()}"
    extra = (f"grpc:\n  addr: {grpc_addr}\n  tlsCert: {pki.server_cert}\n  tlsKey: {pki.server_key}\n"
             f"  tlsClientCA: {pki.ca}\n")
    config = load_config(str(write_config(tmp_path, extra)))
    storage = SwitchableStorage(build_storage(config))
    with serve_config(config, storage=InstrumentedStorage(storage)) as server:  # type: ignore[arg-type]
        grpc_server, _ = start_grpc(config.grpc, server.runtime.provider)
        port = free_port()
        telemetry = serve_asgi(telemetry_app(server.runtime.provider), port)
        try:
            yield Ops(server, storage, grpc_addr, f"http://127.0.0.1:{port}", pki)
        finally:
            telemetry.should_exit = True
            stop_grpc(grpc_server, grace=1)
