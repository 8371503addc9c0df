"""The Kubernetes store used by protocol work on the event loop (a grant): its API requests go out on the loop
itself (aiohttp), with the same answers, errors, TLS material and credentials as from a thread (urllib3)."""

from __future__ import annotations

import asyncio
import http.server
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import Configuration

from dexpy import loopwork
from dexpy.model import AuthCode, RefreshToken
from dexpy.storage import NotFound, Unavailable
from dexpy.storage.kubernetes import KubernetesStorage, SetupError
from dexpy.storage.kubernetes.connect import ThrottledRefresh, connect
from dexpy.storage.kubernetes import transport as transport_module
from dexpy.storage.kubernetes.transport import Transport
from tests.fixtures.kubeapi.fixture import KubeAPIFixture
from tests.fixtures.pki import PkiFiles, make_pki
from tests.fixtures.protocol_work import as_protocol_work, on_new_loop, wait_threads
from tests.storage.samples import sample

REFRESH: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]
CODE: AuthCode = sample(AuthCode)  # type: ignore[assignment]


def test_a_grants_reads_and_writes_go_out_on_the_loop(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    before = wait_threads()

    def grant() -> tuple[RefreshToken, RefreshToken, int]:
        store.create(REFRESH)
        updated = store.update(RefreshToken, REFRESH.id, lambda token: RefreshToken(**{**vars(token), "nonce": "n2"}))
        return store.get(RefreshToken, REFRESH.id), updated, threading.get_ident()

    read, updated, work_thread = as_protocol_work(grant)
    assert read == updated and read.nonce == "n2"
    assert work_thread == threading.get_ident()  # asyncio.run's loop ran here
    assert kube.count(verb="create", resource="refreshtokens") == 1
    assert kube.count(verb="update", resource="refreshtokens") == 1
    assert wait_threads() == before  # no round trip went through a thread


def test_errors_on_the_loop_are_the_storage_errors(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    def missing() -> None:
        store.delete(RefreshToken, "no-such-token")

    with pytest.raises(NotFound):
        as_protocol_work(missing)
    kube.fail_when(lambda request: getattr(request, "resource", "") == "refreshtokens", code=503,
                   message="etcd leader changed", count=1)
    with pytest.raises(Unavailable, match="etcd leader changed"):
        as_protocol_work(lambda: store.create(REFRESH))


def test_an_unreachable_api_on_the_loop_is_unavailable_and_names_no_code(kube: KubeAPIFixture,
                                                                        store: KubernetesStorage) -> None:
    kube.stop()
    try:
        with pytest.raises(Unavailable, match="unreachable") as raised:
            as_protocol_work(lambda: store.delete(AuthCode, CODE.id))
    finally:
        kube.start()
    assert kube.url.split("//")[1] in str(raised.value)
    assert CODE.id not in str(raised.value)


def test_a_credential_hook_due_to_run_runs_off_the_loop(kube: KubeAPIFixture) -> None:
    """A kubeconfig's hook may start an exec plugin (seconds, for some clouds): never on the loop's thread."""
    configuration = Configuration()
    configuration.host = kube.url
    ran_in: list[int] = []

    def hook(config: Configuration) -> None:
        ran_in.append(threading.get_ident())
        config.api_key["authorization"] = f"Bearer {kube.token}"

    configuration.refresh_api_key_hook = ThrottledRefresh(hook)
    transport = Transport(configuration)

    def two_requests() -> int:
        transport.request("GET", "/version")
        transport.request("GET", "/version")
        return threading.get_ident()

    try:
        loop_thread = as_protocol_work(two_requests)
    finally:
        transport.close()
    assert len(ran_in) == 1 and ran_in[0] != loop_thread


def test_the_loops_client_closes_with_the_loop(kube: KubeAPIFixture, store: KubernetesStorage) -> None:
    sessions: list[Any] = []

    def grant() -> None:
        store.create(REFRESH)
        sessions.extend((client.session for client in store.transport._clients.values()))

    as_protocol_work(grant)
    assert len(sessions) == 1 and sessions[0].closed
    assert store.transport._clients == {}


def test_requests_waiting_for_a_connection_are_served_in_turn(kube: KubeAPIFixture, store: KubernetesStorage,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """More grants at once than connections to the API: each waits its turn. aiohttp's own queue let a grant
    that had just been answered take the freed connection again ahead of those waiting (seconds, under load)."""
    monkeypatch.setattr(transport_module, "LOOP_CONNECTIONS", 2)
    answered: list[tuple[int, int]] = []

    def grant(number: int) -> None:
        for turn in range(8):
            store.transport.request("GET", "/version")
            answered.append((turn, number))

    on_new_loop(lambda: asyncio.gather(*(loopwork.run(grant, number) for number in range(20))))
    # sent in turn, every grant's first request before anyone's second, and so on; answered in that order give
    # or take the requests of the other connection: no grant gets three requests ahead of another
    lag = [max(turn for turn, _ in answered[:index + 1]) - turn for index, (turn, _) in enumerate(answered)]
    assert max(lag) <= 2, answered


class _TricklingHandler(http.server.BaseHTTPRequestHandler):
    """An API that answers one byte every 0.1 s for a second: busy, never silent long enough to time out."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "10")
        self.end_headers()
        for byte in b" " * 8 + b"{}":
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, *args: object) -> None:
        pass


def test_a_request_that_cannot_get_a_connection_in_time_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "LOOP_CONNECTIONS", 1)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TricklingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    configuration = Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    transport = Transport(configuration, timeout=0.3)

    try:
        first, second = on_new_loop(lambda: asyncio.gather(
            *(loopwork.run(transport.request, "GET", "/version") for _ in range(2)), return_exceptions=True))
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
    assert first == {}
    assert isinstance(second, Unavailable) and "all 1 connections" in str(second) and "busy for 0.3 s" in str(second)


class _JSONHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"client": self.connection.getpeercert()["subject"][0][0][1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[str, PkiFiles]]:
    """An HTTPS server that requires a client certificate from the test CA, as an apiserver can."""
    files = make_pki(dns_names=["kube.test"]).write(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(files.ca))
    context.load_cert_chain(files.server_cert, files.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JSONHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


def _configuration(host: str, ca: Path | None, cert: Path | None, key: Path | None) -> Configuration:
    configuration = Configuration()
    configuration.host = host
    configuration.ssl_ca_cert = str(ca) if ca else None
    configuration.cert_file = str(cert) if cert else None
    configuration.key_file = str(key) if key else None
    return configuration


@pytest.mark.parametrize("on_loop", [False, True], ids=["thread", "loop"])
def test_tls_material_is_used_the_same_from_a_thread_and_from_the_loop(tls_api: tuple[str, PkiFiles],
                                                                      on_loop: bool) -> None:
    host, files = tls_api
    run: Callable[[Callable[[], Any]], Any] = as_protocol_work if on_loop else (lambda call: call())

    def get(configuration: Configuration) -> Any:
        transport = Transport(configuration, timeout=5)
        try:
            return run(lambda: transport.request("GET", "/version"))
        finally:
            transport.close()

    assert get(_configuration(host, files.ca, files.client_cert, files.client_key)) == {"client": "admin"}
    with pytest.raises(Unavailable, match="unreachable"):  # the server refuses a client without a certificate
        get(_configuration(host, files.ca, None, None))
    with pytest.raises(Unavailable, match="unreachable"):  # a server the configured CA did not sign
        get(_configuration(host, None, files.client_cert, files.client_key))


@pytest.mark.parametrize("on_loop", [False, True], ids=["thread", "loop"])
def test_insecure_skip_tls_verify_still_presents_the_client_certificate(tls_api: tuple[str, PkiFiles],
                                                                        on_loop: bool) -> None:
    host, files = tls_api
    configuration = _configuration(host, None, files.client_cert, files.client_key)
    configuration.verify_ssl = False  # a kubeconfig's insecure-skip-tls-verify: no CA, still a client certificate
    transport = Transport(configuration, timeout=5)
    try:
        answer = (as_protocol_work if on_loop else lambda call: call())(lambda: transport.request("GET", "/version"))
    finally:
        transport.close()
    assert answer == {"client": "admin"}


@pytest.mark.parametrize("on_loop", [False, True], ids=["thread", "loop"])
def test_a_kubeconfig_tls_server_name_is_the_name_checked(tls_api: tuple[str, PkiFiles], tmp_path: Path,
                                                          on_loop: bool) -> None:
    """A cluster reached under another name (a tunnel, a load balancer's address): the kubeconfig's
    tls-server-name is the name the certificate must carry, as kubectl checks it."""
    host, files = tls_api
    host = host.replace("127.0.0.1", "localhost")  # not in the certificate, which names 127.0.0.1 and kube.test
    run: Callable[[Callable[[], Any]], Any] = as_protocol_work if on_loop else (lambda call: call())

    def get(tls_server_name: str | None) -> Any:
        cluster = {"server": host, "certificate-authority": str(files.ca)}
        if tls_server_name:
            cluster["tls-server-name"] = tls_server_name
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": {"client-certificate": str(files.client_cert),
                                             "client-key": str(files.client_key)}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
        transport = Transport(connect({"kubeConfigFile": str(tmp_path / "kubeconfig")}).configuration, timeout=5)
        try:
            return run(lambda: transport.request("GET", "/version"))
        finally:
            transport.close()

    assert get("kube.test") == {"client": "admin"}
    with pytest.raises(Unavailable, match="unreachable"):
        get(None)
    with pytest.raises(Unavailable, match="unreachable"):
        get("other.test")


def test_unreadable_tls_material_is_a_setup_error_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("")  # e.g. a mounted CA that is not there yet
    with pytest.raises(SetupError, match=f"CA {tmp_path / 'ca.crt'}"):
        Transport(_configuration("https://10.96.0.1:443", tmp_path / "ca.crt", None, None))
