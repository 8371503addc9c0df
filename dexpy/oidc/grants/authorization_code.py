"""The authorization_code grant (RFC 6749 §4.1) with PKCE (RFC 7636) as an authlib extension."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge

from dexpy.ids import new_id
from dexpy.model import AuthCode
from dexpy.oidc.grants.base import TOKEN_AUTH_METHODS, IssuanceMixin
from dexpy.oidc.issuance import NO_STORE_HEADERS, Issuance
from dexpy.oidc.tokens import Subject
from dexpy.storage import NotFound


class CodeModel:
    """A stored code as authlib sees it."""

    def __init__(self, code: AuthCode) -> None:
        self.code = code

    def get_redirect_uri(self) -> str:
        return self.code.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.code.scopes)

    @property
    def code_challenge(self) -> str:
        return self.code.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.code.code_challenge_method or None


def subject_of(code: AuthCode) -> Subject:
    return Subject(claims=code.claims, connector_id=code.connector_id, scopes=list(code.scopes),
                   client_id=code.client_id, nonce=code.nonce, auth_time=code.auth_time, session_id=code.session_id,
                   grant_id=code.grant_id)


class AuthorizationCodeGrant(IssuanceMixin, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        for name in ("code", "redirect_uri", "code_verifier"):
            self.single_param(name)
        super().validate_token_request()

    def query_authorization_code(self, code: str, client: Any) -> CodeModel | None:
        try:
            stored = self.server.storage.get(AuthCode, code)
        except NotFound:
            return None
        if stored.used:
            self.issuance.revoke_code_grant(stored.id)
            return None
        if stored.client_id != client.get_client_id() or stored.expiry <= self.issuance.clock():
            return None
        return CodeModel(stored)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return 200, redeem(self.issuance, self.request.authorization_code.code, self.GRANT_TYPE), NO_STORE_HEADERS


def redeem(issuance: Issuance, code: AuthCode, grant_type: str) -> dict[str, Any]:
    """Spend a checked code: mark it used, store the refresh token it grants, and build the token response
    (the code grant, and the device callback)."""
    subject = subject_of(code)
    want_refresh = issuance.wants_refresh(code.scopes, code.connector_id)
    refresh_id = new_id() if want_refresh else ""
    issuance.redeem_code(code, refresh_id)
    refresh_value = issuance.create_refresh(subject, code.connector_data, refresh_id) if want_refresh else ""
    return issuance.token_response(subject, grant_type=grant_type, code=code.id, refresh_value=refresh_value)


def pkce() -> CodeChallenge:
    """PKCE checked at the token endpoint; whether /auth demands a challenge is `oauth2.pkce.enforce`."""
    return CodeChallenge(required=False)
