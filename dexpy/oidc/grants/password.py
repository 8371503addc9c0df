"""The password grant (RFC 6749 §4.3) through `oauth2.passwordConnector`."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError

from dexpy.connectors.base import Identity, PasswordConnector, implements
from dexpy.ids import new_id
from dexpy.oidc.grants.base import TOKEN_AUTH_METHODS, IssuanceMixin
from dexpy.oidc.issuance import NO_STORE_HEADERS, connector_scopes
from dexpy.oidc.scopes import check_requested_scopes, split_scopes
from dexpy.oidc.tokens import Subject


class PasswordGrant(IssuanceMixin, grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    @property
    def _scopes(self) -> list[str]:
        return split_scopes(self.request.payload.scope)

    def validate_token_request(self) -> None:
        for name in ("username", "password", "scope"):
            self.single_param(name)
        super().validate_token_request()

    def authenticate_token_endpoint_client(self) -> object:
        # authlib sets request.client only after authenticate_user, which needs it for the scope check
        client = super().authenticate_token_endpoint_client()
        self.request.client = client
        return client

    def authenticate_user(self, username: str, password: str) -> Identity:
        client_id = self.request.client.get_client_id()
        check_requested_scopes(self._scopes, client_id, self.server.get_stored_client)
        connector_id = self.server.password_connector
        connector = self.issuance.connectors.get(connector_id)
        assert implements(connector, PasswordConnector)
        identity = self.server.login_with_password(
            connector_id, connector, connector_scopes(self._scopes), username, password, client_id=client_id
        )
        if identity is None:
            raise InvalidGrantError("Invalid username or password")
        return identity

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        identity: Identity = self.request.user
        scopes = self._scopes
        connector_id = self.server.password_connector
        subject = Subject(claims=identity.claims(), connector_id=connector_id, scopes=scopes,
                          client_id=self.request.client.get_client_id(), grant_id=new_id())
        refresh_value = ""
        if self.issuance.wants_refresh(scopes, connector_id):
            refresh_value = self.issuance.create_refresh(subject, identity.connector_data)
        body = self.issuance.token_response(subject, grant_type=self.GRANT_TYPE, refresh_value=refresh_value)
        return 200, body, NO_STORE_HEADERS
