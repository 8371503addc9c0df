"""`grpc.reflection`: as in Dex, the API describes itself to tools such as grpcurl when asked to, and only then;
and the TLS versions grpcio cannot bound are refused at start rather than ignored."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from dexpy.api.server import start_grpc, stop_grpc
from dexpy.config import GRPCConfig
from tests.ops.conftest import Ops


@pytest.fixture(params=[True, False], ids=["reflection", "no-reflection"])
def plain_channel(request: pytest.FixtureRequest, ops: Ops) -> Iterator[tuple[bool, grpc.Channel]]:
    """A second, plaintext listener on the same provider, with or without reflection."""
    server, port = start_grpc(GRPCConfig(addr="127.0.0.1:0", reflection=request.param), ops.server.runtime.provider)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield request.param, channel
    finally:
        channel.close()
        stop_grpc(server, grace=1)


def test_reflection_lists_and_describes_the_dex_service_only_when_enabled(
        plain_channel: tuple[bool, grpc.Channel]) -> None:
    enabled, channel = plain_channel
    database = ProtoReflectionDescriptorDatabase(channel)
    if not enabled:
        with pytest.raises(grpc.RpcError) as refused:
            list(database.get_services())
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
        return
    assert "api.Dex" in set(database.get_services())
    service = DescriptorPool(database).FindServiceByName("api.Dex")
    create = service.methods_by_name["CreateClient"]
    assert (create.input_type.full_name, create.output_type.full_name) == (
        "api.CreateClientReq", "api.CreateClientResp")
    assert create.input_type.fields_by_name["client"].number == 1


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_the_tls_listener_accepts_exactly_what_the_config_check_says(ops: Ops, version: ssl.TLSVersion) -> None:
    """The config refuses bounds other than 1.2..1.3 because grpcio offers both: a client limited to either
    version completes the handshake (with its client certificate, ALPN h2 as gRPC clients send)."""
    context = ssl.create_default_context(cafile=str(ops.pki.ca))
    context.load_cert_chain(str(ops.pki.client_cert), str(ops.pki.client_key))
    context.minimum_version = context.maximum_version = version
    context.set_alpn_protocols(["h2"])
    host, _, port = ops.grpc_addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        assert (tls.version(), tls.selected_alpn_protocol()) == (
            {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version], "h2")
