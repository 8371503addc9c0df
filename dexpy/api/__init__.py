"""The gRPC management API, wire-compatible with Dex's `api.Dex` service (see `api.proto` for the error
conventions). The message and stub modules are generated from `api.proto` by the build (`codegen.py`), so an
installed dexpy needs no grpcio-tools. An editable install writes them next to the proto: after changing
the proto, run `pip install -e .` again.

    from dexpy.api import pb, rpc
    rpc.DexStub(channel).GetVersion(pb.VersionReq())
"""

from __future__ import annotations

from typing import Any

try:
    from dexpy.api import api_pb2, api_pb2_grpc
except ImportError as exc:
    if exc.name != __name__:
        raise
    # Python would blame a circular import; the cause is a source tree that was never built or installed.
    raise ImportError("dexpy/api/api_pb2*.py are generated from api.proto by the build: run `pip install -e .`",
                      name=__name__) from exc

API_VERSION = 3
"""What GetVersion reports. Dex raises its API level with every call it adds, and clients read it to know
which calls they may make: dexpy serves every call of level 3, none of those level 4 added (sessions,
identities, MFA, consent)."""

pb: Any = api_pb2
rpc: Any = api_pb2_grpc

__all__ = ["API_VERSION", "pb", "rpc"]
