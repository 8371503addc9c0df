"""Token revocation (RFC 7009) on authlib's revocation endpoint.

The client authenticates as at the token endpoint (secret, or its id alone for a public client). Revoking a
refresh token ends its whole grant: the token is deleted and the grant recorded as revoked, so the access
tokens issued with it stop working at `/userinfo` and introspection. Revoking an access token stops that one
token (its `jti`). An unknown, expired or already revoked token is answered 200: the outcome the client wants
holds (§2.2). A live token issued to another client is refused with `invalid_grant` and left alone: §2.1 has
the server verify "whether the token was issued to the client making the revocation request" and refuse
otherwise, and RFC 6749 §5.2 names that case `invalid_grant`.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from dexpy.logs import audit
from dexpy.oidc.presented import REFRESH_TOKEN, Presented, PresentedTokenMixin


class RevocationEndpoint(PresentedTokenMixin, _RevocationEndpoint):
    def authenticate_token(self, request: Any, client: Any) -> Presented | None:
        found = self.find_presented(request)
        if found is not None and found.client_id != client.get_client_id():
            raise InvalidGrantError("The token was issued to another client.")
        return found

    def revoke_token(self, token: Presented, request: Any) -> None:
        if token.kind == REFRESH_TOKEN:
            assert token.refresh is not None
            self.issuance.revoke_grant(token.refresh.grant_id, token.refresh.id)
            who = {"user_id": token.refresh.claims.user_id, "connector_id": token.refresh.connector_id}
        else:
            self.issuance.revoke_id(str(token.claims["jti"]))
            who = {"sub": str(token.claims.get("sub", ""))}
        audit("revocation", client_id=token.client_id, token_type=token.kind, **who)
