"""What the grants share: access to dexpy's issuance service through the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError

if TYPE_CHECKING:
    from dexpy.oidc.issuance import Issuance

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class IssuanceMixin:
    server: Any
    """dexpy's authlib `AuthorizationServer`, which carries `issuance` and the storage."""
    request: Any
    """authlib's `OAuth2Request`, with what the grant attaches as it validates (client, refresh_token, user…)."""

    @property
    def issuance(self) -> Issuance:
        return self.server.issuance

    def single_param(self, name: str) -> str | None:
        return single_form_param(self.request, name) or None


def single_form_param(request: Any, name: str) -> str:
    """A form parameter that must not repeat (RFC 6749 §3.1); "" when absent."""
    values = request.payload.datalist.get(name, [])
    if len(values) > 1:
        raise InvalidRequestError(f"Parameter '{name}' is repeated.")
    return str(values[0]) if values else ""
