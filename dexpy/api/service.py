"""The `api.Dex` servicer: Dex's management calls over dexpy's storage.

Writes go straight to storage, which the web layer reads per request, and connectors reopen when their
record changes, so whatever is created here is in force at once, without a restart.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import bcrypt
import grpc

from dexpy import __version__
from dexpy.api import API_VERSION, pb, rpc
from dexpy.api import validate as v
from dexpy.ids import new_id
from dexpy.logs import RequestContext, RequestIds, audit, request_context
from dexpy.model import Client, ConnectorRecord, Password
from dexpy.oidc.provider import Provider
from dexpy.oidc.wire import decode_subject
from dexpy.storage import AlreadyExists, Conflict, Invalid, NotFound, Storage, Unavailable

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

_STATUS: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (v.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (Invalid, grpc.StatusCode.FAILED_PRECONDITION),
    (Conflict, grpc.StatusCode.ABORTED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)


def _statuses(method: F) -> F:
    """Refuse unknown fields, then turn validation and storage errors into gRPC statuses with a one-line
    message."""

    @functools.wraps(method)
    def call(self: DexService, request: Any, context: grpc.ServicerContext) -> Any:
        given = dict(context.invocation_metadata() or ()).get("x-request-id", "")
        ctx = RequestContext(self.request_ids.given_or_new(given), peer_address(context.peer()))
        token = request_context.set(ctx)
        try:
            v.known_fields(request)
            return method(self, request, context)
        except tuple(e for e, _ in _STATUS) as exc:
            code = next(c for e, c in _STATUS if isinstance(exc, e))
            if code is grpc.StatusCode.UNAVAILABLE:
                log.warning("api %s: storage unavailable: %s", method.__name__, exc)
            context.abort(code, str(exc) or code.name.lower())
        finally:
            request_context.reset(token)

    return call  # type: ignore[return-value]


def peer_address(peer: str) -> str:
    """The address in a gRPC peer string (`ipv4:10.0.0.7:41234`, `ipv6:[::1]:41234`), as HTTP lines give it."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return peer


def _client_pb(c: Client, message: Any = None) -> Any:
    message = message or pb.Client
    fields = {"id": c.id, "redirect_uris": c.redirect_uris, "trusted_peers": c.trusted_peers, "public": c.public,
              "name": c.name, "logo_url": c.logo_url, "allowed_connectors": c.allowed_connectors,
              "backchannel_logout_uri": c.backchannel_logout_uri,
              "post_logout_redirect_uris": c.post_logout_redirect_uris}
    if message is pb.Client:
        fields["secret"] = c.secret
    return message(**fields)


def _password_pb(p: Password) -> Any:
    return pb.Password(email=p.email, hash=p.hash, username=p.username, user_id=p.user_id)


def _connector_pb(c: ConnectorRecord) -> Any:
    return pb.Connector(id=c.id, type=c.type, name=c.name, config=c.config, grant_types=c.grant_types)


def _subject(encoded: str) -> tuple[str, str]:
    try:
        user_id, conn_id = decode_subject(v.require(encoded, "user_id"))
    except ValueError:
        user_id = conn_id = ""
    if not (user_id and conn_id):
        raise v.InvalidArgument("user_id is not an encoded subject (the `sub` claim of an ID token)")
    return user_id, conn_id


class DexService(rpc.DexServicer):
    def __init__(self, storage: Storage, provider: Provider) -> None:
        self.storage = storage
        self.provider = provider
        self.request_ids = RequestIds()

    # -- clients --------------------------------------------------------------------------------------------

    @_statuses
    def GetClient(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            client = self.storage.get(Client, v.require(request.id, "id"))
        except NotFound:
            raise NotFound(f"client {request.id!r} not found") from None
        return pb.GetClientResp(client=_client_pb(client))

    @_statuses
    def CreateClient(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not request.HasField("client"):
            raise v.InvalidArgument("no client supplied")
        c = request.client
        v.unsupported(list(c.sso_shared_with), "sso_shared_with")
        v.unsupported(c.refresh_token_lifetime, "refresh_token_lifetime")
        secret = c.secret or ("" if c.public else new_id() + new_id())
        client = Client(
            id=v.identifier(c.id, "client id") if c.id else new_id(), secret=secret,
            redirect_uris=v.absolute_uris(c.redirect_uris, "redirect URI"), trusted_peers=list(c.trusted_peers),
            public=c.public, name=c.name, logo_url=v.optional_url(c.logo_url, "logo_url"),
            allowed_connectors=list(c.allowed_connectors),
            backchannel_logout_uri=v.optional_url(c.backchannel_logout_uri, "backchannel_logout_uri"),
            post_logout_redirect_uris=v.absolute_uris(c.post_logout_redirect_uris, "post-logout redirect URI"),
        )
        try:
            self.storage.create(client)
        except AlreadyExists:
            return pb.CreateClientResp(already_exists=True)
        log.info("api: created client", extra={"client_id": client.id})
        return pb.CreateClientResp(client=_client_pb(client))

    @_statuses
    def UpdateClient(self, request: Any, context: grpc.ServicerContext) -> Any:
        v.require(request.id, "client id")
        v.unsupported(list(request.sso_shared_with), "sso_shared_with")
        v.unsupported(request.refresh_token_lifetime, "refresh_token_lifetime")
        redirects = v.absolute_uris(request.redirect_uris, "redirect URI")
        post_logout = v.absolute_uris(request.post_logout_redirect_uris, "post-logout redirect URI")
        logo = v.optional_url(request.logo_url, "logo_url")
        backchannel = v.optional_url(request.backchannel_logout_uri, "backchannel_logout_uri")

        def change(c: Client) -> Client:
            # As in Dex: empty fields keep their value; the optional one is replaced whenever it is present.
            return replace(
                c, redirect_uris=redirects or c.redirect_uris,
                trusted_peers=list(request.trusted_peers) or c.trusted_peers, name=request.name or c.name,
                logo_url=logo or c.logo_url, allowed_connectors=list(request.allowed_connectors) or c.allowed_connectors,
                post_logout_redirect_uris=post_logout or c.post_logout_redirect_uris,
                backchannel_logout_uri=backchannel if request.HasField("backchannel_logout_uri")
                else c.backchannel_logout_uri,
            )

        try:
            self.storage.update(Client, request.id, change)
        except NotFound:
            return pb.UpdateClientResp(not_found=True)
        return pb.UpdateClientResp()

    @_statuses
    def DeleteClient(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            self.storage.delete(Client, v.require(request.id, "client id"))
        except NotFound:
            return pb.DeleteClientResp(not_found=True)
        log.info("api: deleted client", extra={"client_id": request.id})
        return pb.DeleteClientResp()

    @_statuses
    def ListClients(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ListClientResp(clients=[_client_pb(c, pb.ClientInfo) for c in self.storage.list(Client)])

    # -- passwords ------------------------------------------------------------------------------------------

    @_statuses
    def CreatePassword(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not request.HasField("password"):
            raise v.InvalidArgument("no password supplied")
        p = request.password
        record = Password(email=v.require(p.email, "email").lower(), hash=v.bcrypt_hash(p.hash),
                          username=p.username, user_id=v.require(p.user_id, "user ID"))
        try:
            self.storage.create(record)
        except AlreadyExists:
            return pb.CreatePasswordResp(already_exists=True)
        return pb.CreatePasswordResp()

    @_statuses
    def UpdatePassword(self, request: Any, context: grpc.ServicerContext) -> Any:
        v.require(request.email, "email")
        if not request.new_hash and not request.new_username:
            raise v.InvalidArgument("nothing to update")
        new_hash = v.bcrypt_hash(request.new_hash, "new_hash") if request.new_hash else b""

        def change(p: Password) -> Password:
            return replace(p, hash=new_hash or p.hash, username=request.new_username or p.username)

        try:
            self.storage.update(Password, request.email, change)
        except NotFound:
            return pb.UpdatePasswordResp(not_found=True)
        return pb.UpdatePasswordResp()

    @_statuses
    def DeletePassword(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            self.storage.delete(Password, v.require(request.email, "email"))
        except NotFound:
            return pb.DeletePasswordResp(not_found=True)
        return pb.DeletePasswordResp()

    @_statuses
    def ListPasswords(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ListPasswordResp(passwords=[_password_pb(p) for p in self.storage.list(Password)])

    @_statuses
    def VerifyPassword(self, request: Any, context: grpc.ServicerContext) -> Any:
        v.require(request.email, "email")
        v.require(request.password, "password to verify")
        try:
            record = self.storage.get(Password, request.email)
        except NotFound:
            return pb.VerifyPasswordResp(not_found=True)
        return pb.VerifyPasswordResp(verified=bcrypt.checkpw(request.password.encode(), record.hash))

    # -- connectors -----------------------------------------------------------------------------------------

    @_statuses
    def CreateConnector(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not request.HasField("connector"):
            raise v.InvalidArgument("no connector supplied")
        c = request.connector
        record = ConnectorRecord(
            id=v.identifier(v.require(c.id, "id"), "connector id"), type=v.require(c.type, "type"),
            name=v.require(c.name, "name"), config=v.connector(c.type, c.config), resource_version="1",
            grant_types=v.grant_types(c.grant_types),
        )
        try:
            self.storage.create(record)
        except AlreadyExists:
            return pb.CreateConnectorResp(already_exists=True)
        log.info("api: created connector", extra={"connector_id": record.id})
        return pb.CreateConnectorResp()

    @_statuses
    def UpdateConnector(self, request: Any, context: grpc.ServicerContext) -> Any:
        v.require(request.id, "id")
        grants = v.grant_types(request.new_grant_types.grant_types) if request.HasField("new_grant_types") else None
        try:
            current = self.storage.get(ConnectorRecord, request.id)
        except NotFound:
            return pb.UpdateConnectorResp(not_found=True)
        new_type = request.new_type or current.type
        config = v.connector(new_type, request.new_config or current.config)

        def change(c: ConnectorRecord) -> ConnectorRecord:
            version = str(int(c.resource_version) + 1) if c.resource_version.isdigit() else c.resource_version
            return replace(c, type=new_type, name=request.new_name or c.name, config=config,
                           grant_types=c.grant_types if grants is None else grants, resource_version=version)

        try:
            self.storage.update(ConnectorRecord, request.id, change)
        except NotFound:
            return pb.UpdateConnectorResp(not_found=True)
        log.info("api: updated connector", extra={"connector_id": request.id})
        return pb.UpdateConnectorResp()

    @_statuses
    def DeleteConnector(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            self.storage.delete(ConnectorRecord, v.require(request.id, "id"))
        except NotFound:
            return pb.DeleteConnectorResp(not_found=True)
        log.info("api: deleted connector", extra={"connector_id": request.id})
        return pb.DeleteConnectorResp()

    @_statuses
    def ListConnectors(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ListConnectorResp(connectors=[_connector_pb(c) for c in self.storage.list(ConnectorRecord)])

    # -- server ---------------------------------------------------------------------------------------------

    @_statuses
    def GetVersion(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.VersionResp(server=__version__, api=API_VERSION)

    @_statuses
    def GetDiscovery(self, request: Any, context: grpc.ServicerContext) -> Any:
        fields = {k: val for k, val in self.provider.discovery().items() if k in pb.DiscoveryResp.DESCRIPTOR.fields_by_name}
        return pb.DiscoveryResp(**fields)

    # -- refresh tokens -------------------------------------------------------------------------------------

    @_statuses
    def ListRefresh(self, request: Any, context: grpc.ServicerContext) -> Any:
        user_id, conn_id = _subject(request.user_id)
        refs = [pb.RefreshTokenRef(id=t.id, client_id=t.client_id, created_at=int(t.created_at.timestamp()),
                                   last_used=int(t.last_used.timestamp()))
                for t in self.provider.issuance.list_user_refresh(user_id, conn_id)]
        return pb.ListRefreshResp(refresh_tokens=refs)

    @_statuses
    def RevokeRefresh(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Revoke every refresh token the user holds for the client (each device's), and their grants."""
        user_id, conn_id = _subject(request.user_id)
        if not self.provider.issuance.revoke_user_refresh(user_id, conn_id, request.client_id):
            return pb.RevokeRefreshResp(not_found=True)
        audit("revocation", user_id=user_id, connector_id=conn_id, client_id=request.client_id)
        return pb.RevokeRefreshResp()
