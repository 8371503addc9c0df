"""The client_credentials grant (RFC 6749 §4.4; Dex `server/grants/clientcredentials.go`): a confidential
client gets tokens about itself. `sub` encodes (client id, connector ""); `profile` names the client; `groups`
are the client's `clientCredentialsClaims.groups`. No refresh token: the client can always ask again."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError, UnauthorizedClientError

from dexpy.ids import new_id
from dexpy.model import Claims, Client
from dexpy.oidc import scopes as sc
from dexpy.oidc.grants.base import TOKEN_AUTH_METHODS, IssuanceMixin
from dexpy.oidc.issuance import NO_STORE_HEADERS
from dexpy.oidc.tokens import Subject

REFUSED_SCOPES = (sc.OFFLINE_ACCESS, sc.FEDERATED_ID)
"""No user and no connector: nothing to refresh, no federated identity."""


def client_claims(client: Client, scopes: list[str]) -> Claims:
    name = client.name if sc.PROFILE in scopes else ""
    groups = list(client.client_credentials_groups) if sc.GROUPS in scopes else []
    return Claims(user_id=client.id, username=name, preferred_username=name, groups=groups)


class ClientCredentialsGrant(IssuanceMixin, grants.ClientCredentialsGrant):
    # `none` lets a public client authenticate, so that it is told why it is refused (`unauthorized_client`)
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        self.single_param("scope")
        super().validate_token_request()
        client: Client = self.request.client.client
        if client.public:
            raise UnauthorizedClientError("Public clients cannot use the client_credentials grant.")
        scopes = sc.split_scopes(self.request.payload.scope)
        refused = [s for s in scopes if s in REFUSED_SCOPES]
        if refused:
            raise InvalidScopeError(f"The client_credentials grant does not support scope(s) {refused}.")
        sc.check_requested_scopes(scopes, client.id, self.server.get_stored_client,
                                  require_openid=False)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: Client = self.request.client.client
        scopes = sc.split_scopes(self.request.payload.scope)
        subject = Subject(claims=client_claims(client, scopes), connector_id="", scopes=scopes, client_id=client.id,
                          grant_id=new_id())
        return 200, self.issuance.token_response(subject, grant_type=self.GRANT_TYPE), NO_STORE_HEADERS
