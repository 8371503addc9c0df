"""api.Dex over a real mTLS channel with hand-encoded bytes: what a Dex client's generated code sends, without
dexpy's generated code in between."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import grpc
import pytest

from dexpy import __version__
from dexpy.admin.channel import add_connection_options, channel
from dexpy.api import pb
from tests.ops.conftest import Ops
from tests.ops.test_grpc_interface import DEX_LEVEL_4_CALLS

VARINT, LEN = 0, 2


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
    return out + bytes([n])


def _field(number: int, value: bytes | int) -> bytes:
    """One field in protobuf's encoding: key (number and wire type), then a varint or length and bytes."""
    if isinstance(value, int):
        return _varint(number << 3 | VARINT) + _varint(value)
    return _varint(number << 3 | LEN) + _varint(len(value)) + value


def _raw(ops: Ops, method: str) -> Callable[[bytes], bytes]:
    """Call /api.Dex/<method> with request bytes as given and return the response bytes."""
    parser = argparse.ArgumentParser()
    add_connection_options(parser)
    call = channel(parser.parse_args(ops.cli_args())).unary_unary(f"/api.Dex/{method}")
    return lambda request: call(request, timeout=5)  # type: ignore[no-any-return]


def _refused(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def test_dex_encoded_requests_and_responses(ops: Ops) -> None:
    assert _raw(ops, "GetVersion")(b"") == _field(1, __version__.encode()) + _field(2, 3)

    client = (_field(1, b"wire-app") + _field(3, b"http://127.0.0.1:5571/cb") + _field(5, 1) + _field(6, b"Wire")
              + _field(10, b"https://wire.example/logout"))
    created = pb.CreateClientResp.FromString(_raw(ops, "CreateClient")(_field(1, client)))
    assert not created.already_exists
    assert (created.client.id, created.client.public, created.client.name) == ("wire-app", True, "Wire")
    assert list(created.client.redirect_uris) == ["http://127.0.0.1:5571/cb"]

    # UpdateClientReq.backchannel_logout_uri (8) is optional: present and empty clears it, absent keeps it.
    def stored() -> tuple[str, str]:
        client = pb.GetClientResp.FromString(_raw(ops, "GetClient")(_field(1, b"wire-app"))).client
        return client.name, client.backchannel_logout_uri

    assert _raw(ops, "UpdateClient")(_field(1, b"wire-app") + _field(4, b"Renamed")) == b""
    assert stored() == ("Renamed", "https://wire.example/logout")
    assert _raw(ops, "UpdateClient")(_field(1, b"wire-app") + _field(8, b"")) == b""
    assert stored() == ("Renamed", "")

    assert _raw(ops, "DeleteClient")(_field(1, b"wire-app")) == b""
    assert _raw(ops, "DeleteClient")(_field(1, b"wire-app")) == _field(1, 1)  # not_found


@pytest.mark.parametrize(("method", "request_bytes", "where"), [
    ("GetVersion", _field(1, b"from a newer Dex"), "unknown field 1 in api.VersionReq"),
    ("CreateClient", _field(1, _field(1, b"new-app") + _field(13, b"x")), "unknown field 13 in client (api.Client)"),
    ("CreateClient", _field(1, b"") + _field(200, 1), "unknown field 200 in api.CreateClientReq"),
    ("UpdateConnector", _field(1, b"local") + _field(5, _field(2, b"x")),
     "unknown field 2 in new_grant_types (api.GrantTypes)"),
], ids=["VersionReq", "nested Client", "CreateClientReq", "nested GrantTypes"])
def test_unknown_fields_are_refused_not_dropped(ops: Ops, method: str, request_bytes: bytes, where: str) -> None:
    error = _refused(lambda: _raw(ops, method)(request_bytes))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert where in error.details()  # type: ignore[attr-defined]
    assert ops.stub().GetClient(pb.GetClientReq(id="example-app")).client.id  # the server still answers


def test_an_unknown_field_writes_nothing(ops: Ops) -> None:
    _refused(lambda: _raw(ops, "CreateClient")(_field(1, _field(1, b"new-app") + _field(13, b"session"))))
    error = _refused(lambda: ops.stub().GetClient(pb.GetClientReq(id="new-app")))
    assert error.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_dexs_level_4_calls_are_unimplemented(ops: Ops) -> None:
    for method in DEX_LEVEL_4_CALLS:
        error = _refused(lambda m=method: _raw(ops, m)(b""))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED, method  # type: ignore[attr-defined]
