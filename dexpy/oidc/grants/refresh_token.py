"""The refresh_token grant (RFC 6749 §6) with rotation, a reuse interval and replay detection."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError

from dexpy.model import RefreshToken
from dexpy.oidc.grants.base import TOKEN_AUTH_METHODS, IssuanceMixin
from dexpy.oidc.issuance import NO_STORE_HEADERS
from dexpy.oidc.scopes import split_scopes


class RefreshModel:
    def __init__(self, record: RefreshToken, presented: str) -> None:
        self.record = record
        self.presented = presented

    def check_client(self, client: Any) -> bool:
        return bool(self.record.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return " ".join(self.record.scopes)


class RefreshTokenGrant(IssuanceMixin, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def validate_token_request(self) -> None:
        self.single_param("refresh_token")
        self.single_param("scope")
        super().validate_token_request()

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshModel:
        record, presented = self.issuance.find_refresh(refresh_token)
        return RefreshModel(record, presented)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        model: RefreshModel = self.request.refresh_token
        requested = split_scopes(self.request.payload.scope) or list(model.record.scopes)
        if not set(requested) <= set(model.record.scopes):
            raise InvalidScopeError("Requested scopes contain unauthorized scope(s).")
        subject, value = self.issuance.refresh(model.record, model.presented, requested)
        body = self.issuance.token_response(subject, grant_type=self.GRANT_TYPE, refresh_value=value)
        return 200, body, NO_STORE_HEADERS
