"""Recognising a token a client presents to revocation (RFC 7009) or introspection (RFC 7662).

A token is one of ours if it is an access token (a JWT this issuer signed, unexpired, unrevoked, with a `jti`)
or a refresh token that still works. An ID token is recognised too, but neither endpoint handles it: it is
not a credential, so it cannot be revoked, and introspection reports it inactive. `token_type_hint` only
orders the search (RFC 7009 §2.1: an unknown hint is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error

from dexpy.model import RefreshToken
from dexpy.oidc.grants.base import TOKEN_AUTH_METHODS, single_form_param
from dexpy.oidc.issuance import Issuance
from dexpy.oidc.tokens import InvalidToken

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
TOKEN_TYPE_HINTS = (ACCESS_TOKEN, REFRESH_TOKEN)
MAX_TOKEN_LENGTH = 16 * 1024
"""Far above any token dexpy issues; a longer value is not ours and is not worth parsing."""


class UnsupportedTokenType(OAuth2Error):
    """RFC 7009 §2.2.1: the server does not revoke this type of token (here: an ID token)."""

    error = "unsupported_token_type"
    status_code = 400


@dataclass(frozen=True)
class Presented:
    kind: str
    """ACCESS_TOKEN or REFRESH_TOKEN."""
    claims: dict[str, Any] = field(default_factory=dict)
    """The access token's verified claims."""
    refresh: RefreshToken | None = None

    @property
    def client_id(self) -> str:
        """The client the token was issued to (an access token's `azp` when it has several audiences)."""
        if self.refresh is not None:
            return self.refresh.client_id
        return str(self.claims.get("azp") or self.claims.get("aud") or "")

    @property
    def audience(self) -> list[str]:
        if self.refresh is not None:
            return [self.refresh.client_id]
        aud = self.claims.get("aud")
        return [str(a) for a in aud] if isinstance(aud, list) else [str(aud)]


class PresentedTokenMixin:
    """What the revocation and introspection endpoints share: client authentication as at the token
    endpoint, and finding the presented token."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: Any

    @property
    def issuance(self) -> Issuance:
        return self.server.issuance

    def find_presented(self, request: Any) -> Presented | None:
        token, hint = presented_token(request)
        return recognise(self.issuance, token, hint)


def presented_token(request: Any) -> tuple[str, str]:
    """(token, token_type_hint) of a revocation or introspection request; `invalid_request` without a token."""
    for name in ("client_id", "client_secret"):
        single_form_param(request, name)
    token = single_form_param(request, "token")
    if not token:
        raise InvalidRequestError("Missing 'token' parameter.")
    return token, single_form_param(request, "token_type_hint")


def recognise(issuance: Issuance, value: str, hint: str) -> Presented | None:
    """The live token `value` is, or None. Raises UnsupportedTokenType for a valid ID token."""
    if len(value) > MAX_TOKEN_LENGTH:
        return None
    finders = (_refresh, _access) if hint == REFRESH_TOKEN else (_access, _refresh)
    for find in finders:
        if (found := find(issuance, value)) is not None:
            return found
    return None


def _access(issuance: Issuance, value: str) -> Presented | None:
    if value.count(".") != 2:
        return None
    try:
        claims = issuance.tokens.verify(value)
    except InvalidToken:
        return None
    if "jti" not in claims or "events" in claims:
        raise UnsupportedTokenType("Only access and refresh tokens are handled here.")
    return None if issuance.is_revoked(claims) else Presented(ACCESS_TOKEN, claims=claims)


def _refresh(issuance: Issuance, value: str) -> Presented | None:
    record = issuance.live_refresh(value)
    return None if record is None else Presented(REFRESH_TOKEN, refresh=record)
