"""The gRPC management API, wire-compatible with Dex's `api.Dex` service (see `api.proto` for the error
conventions). The message and stub modules are compiled from `api.proto` at import time by grpcio-tools, so
no generated code is kept in the tree:

    from dexpy.api import pb, rpc
    rpc.DexStub(channel).GetVersion(pb.VersionReq())
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import grpc

# grpcio-tools finds the proto through sys.path; an editable install does not put the source root there.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
if _SOURCE_ROOT not in sys.path:
    sys.path.append(_SOURCE_ROOT)

API_VERSION = 4
"""What GetVersion reports: the level of Dex's API this server speaks (Dex HEAD is 4)."""

pb: Any
rpc: Any
pb, rpc = grpc.protos_and_services("dexpy/api/api.proto")  # type: ignore[attr-defined]

__all__ = ["API_VERSION", "pb", "rpc"]
