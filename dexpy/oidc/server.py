"""authlib's AuthorizationServer bound to dexpy's storage, clients and token issuer.

authlib owns the token endpoint's protocol steps (client authentication, grant dispatch, code and redirect URI
checks, PKCE, scope narrowing, error responses); dexpy supplies the models and persistence hooks. Requests are
framework-free `OAuth2Request`s built by `dexpy.web.adapter`, so this module knows no HTTP framework.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from dexpy.model import Client
from dexpy.oidc.grants.base import single_form_param
from dexpy.security.clientip import client_ip
from dexpy.security.lockout import Lockout, client_target, ip_target
from dexpy.storage import NotFound, Storage

# authlib logs issued tokens at debug level; tokens must never reach the logs.
logging.getLogger("authlib").setLevel(logging.INFO)


class ClientModel(ClientMixin):
    """A stored client as authlib sees it."""

    def __init__(self, client: Client, grant_types: frozenset[str]) -> None:
        self.client = client
        self._grant_types = grant_types

    def get_client_id(self) -> str:
        return self.client.id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if self.client.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.client.secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client.public:
            return method == "none" or (method != "none" and not self.client.secret)
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return True

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self._grant_types


def authenticate_public(query_client: Callable[[str], ClientModel | None], request: Any) -> ClientModel | None:
    """`none` for public clients, also accepting HTTP Basic with an empty secret as Dex does."""
    client_id = request.payload.client_id
    secret = request.payload.data.get("client_secret")
    if not client_id:
        basic_id, basic_secret = extract_basic_authorization(request.headers)
        if basic_id and not basic_secret:
            client_id, secret = basic_id, ""
    if not client_id or secret:
        return None
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(description="Invalid client credentials.")
    return client


class DexpyAuthorizationServer(AuthorizationServer):
    def __init__(self, storage: Storage, grant_types: frozenset[str], lockout: Lockout, *,
                 insecure_transport: bool) -> None:
        super().__init__(scopes_supported=None)
        self.storage = storage
        self.lockout = lockout
        self.grant_types = grant_types
        if insecure_transport:
            # An http:// issuer is the operator's choice (local runs, TLS at an ingress), as in Dex.
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
        self.register_client_auth_method("none", authenticate_public)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> ClientModel:
        """authlib's client authentication, with brute-force lockout per client id and client IP: a locked
        client is refused like a wrong secret, though the secret is still checked (the same answer time)."""
        basic_id, _ = extract_basic_authorization(request.headers)
        client_id = basic_id or request.payload.client_id or ""
        targets = [client_target(client_id)] if client_id else []
        attempt = self.lockout.begin([*targets, ip_target(client_ip())])
        try:
            client: ClientModel = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            attempt.finish(False)
            raise
        if not attempt.finish(True):
            raise InvalidClientError(status_code=401 if "client_secret_basic" in methods else 400,
                                     description=f"The client cannot authenticate with methods: {methods}")
        return client

    def query_client(self, client_id: str) -> ClientModel | None:
        try:
            return ClientModel(self.storage.get(Client, client_id), self.grant_types)
        except NotFound:
            return None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Grants persist what they issue themselves (refresh tokens, code redemption) atomically."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> tuple[int, Any, list]:
        return status, body, headers

    def create_token_response(self, request: Any = None) -> Any:
        """Refuse a missing grant_type and a repeated parameter that every grant shares (RFC 6749 §3.1, §5.2)
        before dispatching on it."""
        try:
            for name in ("grant_type", "client_id", "client_secret"):
                single_form_param(request, name)
            if not single_form_param(request, "grant_type"):
                raise InvalidRequestError("Missing 'grant_type' parameter.")
        except InvalidRequestError as error:
            return self.handle_error_response(request, error)
        return super().create_token_response(request)

    def create_oauth2_request(self, request: Any) -> Any:
        return request
