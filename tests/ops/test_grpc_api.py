"""Every api.Dex call over a real gRPC channel with mutual TLS, and what the running server makes of it."""

from __future__ import annotations

import json
from typing import Any

import bcrypt
import grpc
import pytest

from dexpy.api import API_VERSION, pb, rpc
from dexpy.oidc.wire import encode_subject
from tests.fixtures.dexpy_server import CLIENT_SECRET
from tests.fixtures.rp import RelyingParty
from tests.ops.conftest import Ops

ADMIN_SUB = encode_subject("08a8684b-db88-4b73-90a9-3cd1661f5466", "local")


def _code(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()  # type: ignore[no-any-return]


def test_a_client_without_a_certificate_is_refused(ops: Ops) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=ops.pki.ca.read_bytes())
    stub = rpc.DexStub(grpc.secure_channel(ops.grpc_addr, creds))
    assert _code(lambda: stub.GetVersion(pb.VersionReq(), timeout=5)) == grpc.StatusCode.UNAVAILABLE


def test_version_and_discovery(ops: Ops) -> None:
    stub = ops.stub()
    version = stub.GetVersion(pb.VersionReq(), timeout=5)
    assert version.api == API_VERSION and version.server
    discovery = stub.GetDiscovery(pb.DiscoveryReq(), timeout=5)
    published = RelyingParty(ops.server.issuer).discovery()
    assert discovery.issuer == published["issuer"]
    assert discovery.token_endpoint == published["token_endpoint"]
    assert list(discovery.scopes_supported) == published["scopes_supported"]


def test_client_lifecycle_and_the_server_uses_it_at_once(ops: Ops) -> None:
    stub = ops.stub()
    redirect = "http://127.0.0.1:5560/cb"
    created = stub.CreateClient(pb.CreateClientReq(client=pb.Client(name="New", redirect_uris=[redirect])))
    client = created.client
    assert not created.already_exists and len(client.id) == 25 and len(client.secret) == 50

    rp = RelyingParty(ops.server.issuer, client_id=client.id, client_secret=client.secret, redirect_uri=redirect)
    assert rp.exchange(rp.login()).status_code == 200

    assert stub.GetClient(pb.GetClientReq(id=client.id)).client.secret == client.secret
    again = stub.CreateClient(pb.CreateClientReq(client=pb.Client(id=client.id, redirect_uris=[redirect])))
    assert again.already_exists
    assert not stub.UpdateClient(pb.UpdateClientReq(id=client.id, name="Renamed")).not_found
    listed = {c.id: c for c in stub.ListClients(pb.ListClientReq()).clients}
    assert listed[client.id].name == "Renamed" and list(listed[client.id].redirect_uris) == [redirect]
    assert "example-app" in listed
    assert not stub.DeleteClient(pb.DeleteClientReq(id=client.id)).not_found
    assert stub.DeleteClient(pb.DeleteClientReq(id=client.id)).not_found
    assert stub.UpdateClient(pb.UpdateClientReq(id=client.id, name="x")).not_found
    assert _code(lambda: stub.GetClient(pb.GetClientReq(id=client.id))) == grpc.StatusCode.NOT_FOUND
    assert rp.token(grant_type="authorization_code", code="x", redirect_uri=redirect).status_code == 401


BAD_REDIRECT_URIS = ["/relative/callback", "http:///no-host", "https://a.example/cb#fragment"]
WEAK_HASHES = [(bcrypt.hashpw(b"pw", bcrypt.gensalt(4)), "cost 4"), (b"plaintext", "not a bcrypt hash")]


@pytest.mark.parametrize("client", [
    pb.Client(id="has space", redirect_uris=["http://a.example/cb"]),
    *(pb.Client(id="ok", redirect_uris=[uri]) for uri in BAD_REDIRECT_URIS),
    pb.Client(id="ok", logo_url="javascript:alert(1)"),
])
def test_invalid_clients_are_refused_with_a_message(ops: Ops, client: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        ops.stub().CreateClient(pb.CreateClientReq(client=client))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid" in info.value.details()


@pytest.mark.parametrize("uri", BAD_REDIRECT_URIS)
def test_an_update_with_a_bad_redirect_uri_is_refused_and_changes_nothing(ops: Ops, uri: str) -> None:
    stub = ops.stub()
    client = pb.Client(id="app", name="App", redirect_uris=["http://127.0.0.1:5560/cb"])
    stub.CreateClient(pb.CreateClientReq(client=client))
    update = pb.UpdateClientReq(id="app", name="Renamed", redirect_uris=["http://127.0.0.1:5560/ok", uri])
    with pytest.raises(grpc.RpcError) as info:
        stub.UpdateClient(update)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "invalid redirect URI" in info.value.details()
    stored = stub.GetClient(pb.GetClientReq(id="app")).client
    assert (stored.name, list(stored.redirect_uris)) == ("App", ["http://127.0.0.1:5560/cb"])


def test_static_clients_are_read_only(ops: Ops) -> None:
    code = _code(lambda: ops.stub().DeleteClient(pb.DeleteClientReq(id="example-app")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


def test_password_lifecycle_and_login(ops: Ops) -> None:
    stub = ops.stub()
    hashed = bcrypt.hashpw(b"s3cret-pw", bcrypt.gensalt(10))
    password = pb.Password(email="Kim@Example.com", hash=hashed, username="kim", user_id="kim-1")
    assert not stub.CreatePassword(pb.CreatePasswordReq(password=password)).already_exists
    assert stub.CreatePassword(pb.CreatePasswordReq(password=password)).already_exists

    rp = RelyingParty(ops.server.issuer)
    assert rp.exchange(rp.login(username="kim@example.com", password="s3cret-pw")).status_code == 200

    verify = stub.VerifyPassword(pb.VerifyPasswordReq(email="kim@example.com", password="s3cret-pw"))
    assert verify.verified and not verify.not_found
    assert not stub.VerifyPassword(pb.VerifyPasswordReq(email="kim@example.com", password="nope")).verified
    assert stub.VerifyPassword(pb.VerifyPasswordReq(email="who@example.com", password="x")).not_found

    new_hash = bcrypt.hashpw(b"changed", bcrypt.gensalt(10))
    assert not stub.UpdatePassword(pb.UpdatePasswordReq(email="kim@example.com", new_hash=new_hash)).not_found
    assert stub.VerifyPassword(pb.VerifyPasswordReq(email="kim@example.com", password="changed")).verified
    assert stub.UpdatePassword(pb.UpdatePasswordReq(email="x@example.com", new_username="x")).not_found
    emails = {p.email: p for p in stub.ListPasswords(pb.ListPasswordReq()).passwords}
    assert emails["kim@example.com"].user_id == "kim-1" and "admin@example.com" in emails
    assert not stub.DeletePassword(pb.DeletePasswordReq(email="kim@example.com")).not_found
    assert stub.DeletePassword(pb.DeletePasswordReq(email="kim@example.com")).not_found


@pytest.mark.parametrize(("hashed", "message"), WEAK_HASHES)
def test_weak_or_missing_hashes_are_refused(ops: Ops, hashed: bytes, message: str) -> None:
    password = pb.Password(email="a@example.com", hash=hashed, user_id="a")
    with pytest.raises(grpc.RpcError) as info:
        ops.stub().CreatePassword(pb.CreatePasswordReq(password=password))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in info.value.details()


@pytest.mark.parametrize(("hashed", "message"), WEAK_HASHES)
def test_an_update_to_a_weak_or_missing_hash_is_refused_and_keeps_the_old_one(ops: Ops, hashed: bytes,
                                                                              message: str) -> None:
    stub = ops.stub()
    old = bcrypt.hashpw(b"s3cret-pw", bcrypt.gensalt(10))
    stub.CreatePassword(pb.CreatePasswordReq(password=pb.Password(email="a@example.com", hash=old, user_id="a")))
    with pytest.raises(grpc.RpcError) as info:
        stub.UpdatePassword(pb.UpdatePasswordReq(email="a@example.com", new_hash=hashed, new_username="renamed"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in info.value.details()
    stored = {p.email: p for p in stub.ListPasswords(pb.ListPasswordReq()).passwords}["a@example.com"]
    assert (stored.hash, stored.username) == (old, "")
    assert stub.VerifyPassword(pb.VerifyPasswordReq(email="a@example.com", password="s3cret-pw")).verified


def test_connector_lifecycle_is_live(ops: Ops) -> None:
    stub = ops.stub()
    connector = pb.Connector(id="mock", type="mockCallback", name="Mock", config=b"{}")
    assert not stub.CreateConnector(pb.CreateConnectorReq(connector=connector)).already_exists
    assert stub.CreateConnector(pb.CreateConnectorReq(connector=connector)).already_exists
    assert "Mock" in RelyingParty(ops.server.issuer).browse(RelyingParty(ops.server.issuer).auth_url()).text
    update = pb.UpdateConnectorReq(id="mock", new_name="Mocked", new_grant_types=pb.GrantTypes(grant_types=["password"]))
    assert not stub.UpdateConnector(update).not_found
    listed = {c.id: c for c in stub.ListConnectors(pb.ListConnectorReq()).connectors}
    assert listed["mock"].name == "Mocked" and list(listed["mock"].grant_types) == ["password"]
    assert json.loads(listed["mock"].config) == {}
    assert stub.UpdateConnector(pb.UpdateConnectorReq(id="nope", new_name="x")).not_found
    assert not stub.DeleteConnector(pb.DeleteConnectorReq(id="mock")).not_found
    assert stub.DeleteConnector(pb.DeleteConnectorReq(id="mock")).not_found


@pytest.mark.parametrize(("connector", "message"), [
    (pb.Connector(id="x", type="saml2000", name="X", config=b"{}"), "unknown connector type"),
    (pb.Connector(id="x", type="mockCallback", name="X", config=b"{not json"), "not valid JSON"),
    (pb.Connector(id="x", type="mockCallback", name="X", config=b"{}", grant_types=["magic"]), "unknown grant type"),
    (pb.Connector(id="x", type="ldap", name="X", config=b"{}"), "config:"),
])
def test_invalid_connectors_are_refused(ops: Ops, connector: Any, message: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        ops.stub().CreateConnector(pb.CreateConnectorReq(connector=connector))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in info.value.details()


def test_list_and_revoke_refresh_tokens(ops: Ops) -> None:
    stub = ops.stub()
    assert list(stub.ListRefresh(pb.ListRefreshReq(user_id=ADMIN_SUB)).refresh_tokens) == []
    rp = RelyingParty(ops.server.issuer)
    tokens = rp.exchange(rp.login(scope="openid offline_access")).json()
    assert rp.verify_id_token(tokens["id_token"])["sub"] == ADMIN_SUB

    refs = stub.ListRefresh(pb.ListRefreshReq(user_id=ADMIN_SUB)).refresh_tokens
    assert [r.client_id for r in refs] == ["example-app"] and refs[0].last_used >= refs[0].created_at > 0
    assert stub.RevokeRefresh(pb.RevokeRefreshReq(user_id=ADMIN_SUB, client_id="other-app")).not_found
    assert not stub.RevokeRefresh(pb.RevokeRefreshReq(user_id=ADMIN_SUB, client_id="example-app")).not_found
    assert list(stub.ListRefresh(pb.ListRefreshReq(user_id=ADMIN_SUB)).refresh_tokens) == []

    refused = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    userinfo = rp.http.get(rp.discovery()["userinfo_endpoint"],
                           headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    for garbage in ("%%%", "AAAA", encode_subject("only-a-user", "")):
        assert _code(lambda g=garbage: stub.ListRefresh(pb.ListRefreshReq(user_id=g))) == grpc.StatusCode.INVALID_ARGUMENT


def test_storage_outage_is_unavailable(ops: Ops) -> None:
    ops.storage.down = True
    assert _code(lambda: ops.stub().ListClients(pb.ListClientReq())) == grpc.StatusCode.UNAVAILABLE
    ops.storage.down = False
    assert ops.stub().ListClients(pb.ListClientReq()).clients


def test_client_secret_of_static_client_is_returned(ops: Ops) -> None:
    assert ops.stub().GetClient(pb.GetClientReq(id="example-app")).client.secret == CLIENT_SECRET
