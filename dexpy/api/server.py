"""The gRPC listener (`grpc.addr`): TLS when `grpc.tlsCert`/`tlsKey` are set, client certificates required
when `grpc.tlsClientCA` is set. As in Dex, there is no other authentication: without mTLS, anyone who can
reach the port can manage clients and passwords, so bind it to a private address."""

from __future__ import annotations

import logging
from concurrent import futures
from pathlib import Path

import grpc
from grpc_reflection.v1alpha import reflection

from dexpy.api import pb, rpc
from dexpy.api.service import DexService
from dexpy.config import GRPCConfig
from dexpy.oidc.provider import Provider

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0
"""Seconds in-flight calls get to finish when the server stops."""


def credentials(config: GRPCConfig) -> grpc.ServerCredentials | None:
    if not config.tls_cert:
        return None
    key, cert = Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes()
    client_ca = Path(config.tls_client_ca).read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca,
                                       require_client_auth=client_ca is not None)


def start_grpc(config: GRPCConfig, provider: Provider, *, workers: int = 8) -> tuple[grpc.Server, int]:
    """Serve the API on `config.addr`; return the server and the port it bound (`:0` picks a free one)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dexpy-grpc"))
    rpc.add_DexServicer_to_server(DexService(provider.storage, provider), server)
    if config.reflection:  # lets grpcurl and similar tools list and call the API without the .proto
        reflection.enable_server_reflection((pb.DESCRIPTOR.services_by_name["Dex"].full_name,
                                             reflection.SERVICE_NAME), server)
    creds = credentials(config)
    port = server.add_secure_port(config.addr, creds) if creds else server.add_insecure_port(config.addr)
    if port == 0:
        raise OSError(f"cannot listen on grpc.addr {config.addr}")
    server.start()
    log.info("gRPC API listening on %s (%s)", config.addr,
             "mutual TLS" if config.tls_client_ca else "TLS" if creds else "plaintext")
    return server, port


def stop_grpc(server: grpc.Server, grace: float = SHUTDOWN_GRACE) -> None:
    server.stop(grace).wait()
