"""The admin CLI's connection to the gRPC API: plaintext, TLS with a CA, or mutual TLS."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import grpc

from dexpy.api import rpc

DEFAULT_ADDR = "127.0.0.1:5557"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--addr", default=os.environ.get("DEXPY_GRPC_ADDR", DEFAULT_ADDR),
                       help="the gRPC API's host:port (default $DEXPY_GRPC_ADDR or %(default)s)")
    group.add_argument("--ca-cert", help="CA certificate that signed the server's certificate (enables TLS)")
    group.add_argument("--client-cert", help="client certificate for mutual TLS")
    group.add_argument("--client-key", help="client key for mutual TLS")
    group.add_argument("--server-name", help="name to expect in the server's certificate (default: the host)")
    group.add_argument("--timeout", type=float, default=10.0, help="seconds per call (default %(default)s)")


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def channel(args: argparse.Namespace) -> grpc.Channel:
    """A channel to the API at `args.addr`; TLS when a CA or client certificate is given."""
    if not (args.ca_cert or args.client_cert):
        return grpc.insecure_channel(args.addr)
    creds = grpc.ssl_channel_credentials(root_certificates=_read(args.ca_cert), private_key=_read(args.client_key),
                                         certificate_chain=_read(args.client_cert))
    options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
    return grpc.secure_channel(args.addr, creds, options=options)


def connect(args: argparse.Namespace) -> Any:
    return rpc.DexStub(channel(args))
