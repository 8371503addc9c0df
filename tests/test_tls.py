"""HTTPS on the web listener: TLS 1.2 or newer, and a rotated certificate is served without a restart."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dexpy import tls
from dexpy.config import Config, StorageConfig, WebConfig
from dexpy.server import listeners
from tests.fixtures.dexpy_server import free_port
from tests.fixtures.pki import make_pki


def _served_certificate(port: int, ca: Path, **context_options: object) -> x509.Certificate:
    context = ssl.create_default_context(cafile=str(ca))
    for name, value in context_options.items():
        setattr(context, name, value)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls_sock:
            der = tls_sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


@pytest.fixture
def https_listener(tmp_path, monkeypatch):
    monkeypatch.setattr(tls, "CHECK_INTERVAL", 0.0)
    files = make_pki().write(tmp_path)
    port = free_port()

    async def app(scope, receive, send):  # the smallest ASGI app: TLS is what is under test
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    config = Config(issuer="https://127.0.0.1/dex", storage=StorageConfig(type="memory"),
                    web=WebConfig(https=f"127.0.0.1:{port}", tls_cert=str(files.server_cert),
                                  tls_key=str(files.server_key)))
    (server,) = listeners(config, app)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield port, files
    server.should_exit = True
    thread.join(timeout=5)


def test_rotated_certificate_files_are_served_without_restart(https_listener, tmp_path):
    port, files = https_listener
    first = _served_certificate(port, files.ca)
    rotated = make_pki()
    files.ca.write_bytes(rotated.ca_pem)
    files.server_cert.write_bytes(rotated.cert_pem)
    files.server_key.write_bytes(rotated.key_pem)
    second = _served_certificate(port, files.ca)
    assert second.serial_number != first.serial_number
    assert second.public_bytes(serialization.Encoding.PEM) == rotated.cert_pem


def test_a_broken_new_certificate_keeps_the_old_one(https_listener):
    port, files = https_listener
    first = _served_certificate(port, files.ca)
    files.server_cert.write_text("not a certificate")
    assert _served_certificate(port, files.ca).serial_number == first.serial_number


def test_every_context_served_refuses_below_tls_1_2(tmp_path, monkeypatch):
    """The client's OpenSSL may refuse TLS 1.1 by itself, so the handshake test alone cannot fail: check the
    server's contexts, the first and a reloaded one."""
    monkeypatch.setattr(tls, "CHECK_INTERVAL", 0.0)
    files = make_pki().write(tmp_path)
    served = tls.ReloadingTLS(str(files.server_cert), str(files.server_key))
    rotated = make_pki()
    files.server_cert.write_bytes(rotated.cert_pem)
    files.server_key.write_bytes(rotated.key_pem)
    os.utime(files.server_cert, ns=(1, 1))  # a stamp unlike the first, even within one clock tick
    reloaded = served.current()
    assert reloaded is not served.context
    for context in (served.context, reloaded):
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_tls_1_1_is_refused(https_listener):
    port, files = https_listener
    with pytest.raises(ssl.SSLError):
        _served_certificate(port, files.ca, minimum_version=ssl.TLSVersion.TLSv1,
                            maximum_version=ssl.TLSVersion.TLSv1_1)
