"""The gRPC API on server-only TLS (`grpc.tlsCert`/`tlsKey`, no `tlsClientCA`), and its graceful stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from dexpy.api import pb, rpc
from dexpy.api.server import start_grpc, stop_grpc
from dexpy.config import load_config
from dexpy.model import Password
from dexpy.runtime import Runtime, build_storage
from dexpy.storage import Storage
from tests.fixtures.dexpy_server import free_port, write_config
from tests.fixtures.pki import PkiFiles, make_pki

VERIFY_ADMIN = pb.VerifyPasswordReq(email="admin@example.com", password="password")


class GatedStorage:
    """Holds every password read until `gate` is set, and sets `entered` when one arrives: a call that stays
    in flight for as long as the test wants."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.entered, self.gate = threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, kind: type, key: str) -> Any:
        if kind is Password:
            self.entered.set()
            assert self.gate.wait(10)
        return self.inner.get(kind, key)


@dataclass
class TlsApi:
    server: grpc.Server
    addr: str
    pki: PkiFiles
    storage: GatedStorage

    def stub(self, root_certificates: bytes | None = None) -> Any:
        """A client that presents no certificate and trusts `root_certificates` (default: the test CA)."""
        creds = grpc.ssl_channel_credentials(root_certificates=root_certificates or self.pki.ca.read_bytes())
        return rpc.DexStub(grpc.secure_channel(self.addr, creds))


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[TlsApi]:
    pki = make_pki().write(tmp_path)
    addr = f"127.0.0.1:{free_port()}"
    config = load_config(str(write_config(
        tmp_path, f"grpc:\n  addr: {addr}\n  tlsCert: {pki.server_cert}\n  tlsKey: {pki.server_key}\n")))
    storage = GatedStorage(build_storage(config))
    runtime = Runtime.open(config, storage=storage)  # type: ignore[arg-type]
    server, _ = start_grpc(config.grpc, runtime.provider)
    try:
        yield TlsApi(server, addr, pki, storage)
    finally:
        storage.gate.set()
        stop_grpc(server, grace=0)
        runtime.close()


def _refused(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(pb.VersionReq(), timeout=5)
    return info.value.code()  # type: ignore[no-any-return]


def test_a_client_that_trusts_the_ca_needs_no_certificate(tls_api: TlsApi) -> None:
    assert tls_api.stub().GetVersion(pb.VersionReq(), timeout=5).server


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_api: TlsApi) -> None:
    stranger = tls_api.stub(root_certificates=make_pki("another CA").ca_pem)
    assert _refused(stranger.GetVersion) == grpc.StatusCode.UNAVAILABLE


def test_a_plaintext_client_is_refused(tls_api: TlsApi) -> None:
    plaintext = rpc.DexStub(grpc.insecure_channel(tls_api.addr))
    assert _refused(plaintext.GetVersion) == grpc.StatusCode.UNAVAILABLE


def test_stop_lets_a_call_in_flight_finish_and_refuses_new_ones(tls_api: TlsApi) -> None:
    stub = tls_api.stub()
    in_flight = stub.VerifyPassword.future(VERIFY_ADMIN, timeout=10)
    assert tls_api.storage.entered.wait(5)
    stopping = threading.Thread(target=stop_grpc, args=(tls_api.server,))
    stopping.start()

    deadline = time.monotonic() + 5
    while True:  # until stop_grpc has begun: from then on the server takes no new call, old channel or new
        try:
            tls_api.stub().GetVersion(pb.VersionReq(), timeout=1)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE
            break
        assert time.monotonic() < deadline, "stop_grpc did not stop taking new calls"
        time.sleep(0.01)
    assert _refused(stub.GetVersion) == grpc.StatusCode.UNAVAILABLE
    assert stopping.is_alive()  # still waiting for the call in flight

    tls_api.storage.gate.set()
    assert in_flight.result().verified
    stopping.join(5)
    assert not stopping.is_alive()
