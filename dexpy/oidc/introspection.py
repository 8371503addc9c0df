"""Token introspection (RFC 7662) at Dex's `/token/introspect`, on authlib's introspection endpoint.

Unlike Dex, the caller must authenticate as a client (401 `invalid_client` otherwise): introspection tells
who a token belongs to, which is not for anyone who found a token. A client sees a token only if it was
issued to it or names it as an audience (cross-client tokens); any other token, and every expired, revoked,
unknown, malformed or foreign-issuer token, is `{"active": false}` (§2.2).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from dexpy.config import RefreshTokenExpiry
from dexpy.model import RefreshToken
from dexpy.oidc import scopes as sc
from dexpy.oidc.presented import Presented, PresentedTokenMixin, UnsupportedTokenType
from dexpy.oidc.wire import encode_subject


class IntrospectionEndpoint(PresentedTokenMixin, _IntrospectionEndpoint):
    def authenticate_token(self, request: Any, client: Any) -> Presented | None:
        try:
            found = self.find_presented(request)
        except UnsupportedTokenType:
            return None
        if found is None or client.get_client_id() not in (found.client_id, *found.audience):
            return None
        return found

    def create_introspection_payload(self, token: Presented | None) -> dict[str, Any]:
        if token is None:
            return {"active": False}
        body = self._refresh_payload(token) if token.refresh is not None else self._access_payload(token.claims)
        body = {"active": True, "client_id": token.client_id, "iss": self.issuance.tokens.issuer, **body}
        return {k: v for k, v in body.items() if v not in ("", None)}

    @staticmethod
    def _access_payload(claims: dict[str, Any]) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "scope": claims.get("scope"),
            "sub": claims.get("sub"),
            "aud": claims.get("aud"),
            "exp": claims.get("exp"),
            "iat": claims.get("iat"),
            "jti": claims.get("jti"),
            "username": claims.get("preferred_username") or claims.get("email"),
        }

    def _refresh_payload(self, token: Presented) -> dict[str, Any]:
        record = token.refresh
        assert record is not None
        aud = sc.audience(record.scopes, record.client_id)
        return {
            "token_type": "refresh_token",
            "scope": " ".join(record.scopes),
            "sub": encode_subject(record.claims.user_id, record.connector_id),
            "aud": aud[0] if len(aud) == 1 else aud,
            "iat": int(record.created_at.timestamp()),
            "exp": _refresh_expiry(self.issuance.policy, record),
            "username": record.claims.preferred_username or record.claims.email,
        }


def _refresh_expiry(policy: RefreshTokenExpiry, record: RefreshToken) -> int | None:
    """When the refresh token stops working unless used again; None when it never does."""
    ends = []
    if policy.absolute_lifetime:
        ends.append(record.created_at + policy.absolute_lifetime)
    if policy.valid_if_not_used_for:
        ends.append(record.last_used + policy.valid_if_not_used_for)
    return int(min(ends).timestamp()) if ends else None
