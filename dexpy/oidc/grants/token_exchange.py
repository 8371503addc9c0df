"""The token-exchange grant (RFC 8693) as Dex has it (`server/grants/tokenexchange.go`): a client trades an
upstream ID or access token, verified by the connector named in `connector_id`, for one dexpy token.

Where Dex answers `request_not_supported` (an unsupported `subject_token_type`) or `access_denied` (a subject
token the connector refuses), dexpy uses RFC 8693 §2.2.2's `invalid_request`. Requested scopes follow the usual
rules (unknown scopes and untrusted cross-client peers are refused); `openid` is not required.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2.rfc6749 import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, UnauthorizedClientError

from dexpy.config import TOKEN_EXCHANGE_GRANT
from dexpy.connectors.base import ConnectorError, ConnectorUnavailable, Identity, TokenIdentityConnector, implements
from dexpy.connectors.manager import UnknownConnector
from dexpy.ids import new_id
from dexpy.model import Client
from dexpy.oidc import scopes as sc
from dexpy.oidc.grants.base import TOKEN_AUTH_METHODS, IssuanceMixin
from dexpy.oidc.issuance import NO_STORE_HEADERS
from dexpy.oidc.tokens import Subject
from dexpy.telemetry import events

log = logging.getLogger(__name__)

TOKEN_TYPE_ID = "urn:ietf:params:oauth:token-type:id_token"
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"
TOKEN_TYPES = (TOKEN_TYPE_ID, TOKEN_TYPE_ACCESS)


class TokenExchangeGrant(IssuanceMixin, BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = TOKEN_EXCHANGE_GRANT
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        form = {name: self.single_param(name) or "" for name in (
            "connector_id", "subject_token", "subject_token_type", "requested_token_type", "scope")}
        client_model = self.authenticate_token_endpoint_client()
        if not client_model.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"The client may not use grant_type={self.GRANT_TYPE}.")
        self.request.client = client_model
        client: Client = client_model.client
        if form["subject_token_type"] not in TOKEN_TYPES:
            raise InvalidRequestError("Invalid subject_token_type.")
        if not form["subject_token"]:
            raise InvalidRequestError("Missing subject_token.")
        form["requested_token_type"] = form["requested_token_type"] or TOKEN_TYPE_ACCESS
        if form["requested_token_type"] not in TOKEN_TYPES:
            raise InvalidRequestError("Invalid requested_token_type.")
        sc.check_requested_scopes(sc.split_scopes(form["scope"]), client.id,
                                  self.server.get_stored_client, require_openid=False)
        self.request.exchange = form
        self.request.connector = self._connector(client, form["connector_id"])

    def _connector(self, client: Client, connector_id: str) -> TokenIdentityConnector:
        """Dex's `resolveConnector`: the client may use it, it allows this grant, and it can verify tokens."""
        if not connector_id:
            raise InvalidRequestError("Missing connector_id.")
        if client.allowed_connectors and connector_id not in client.allowed_connectors:
            raise InvalidGrantError("Connector not allowed for this client.")
        try:
            record = self.issuance.connectors.record(connector_id)
            connector = self.issuance.connectors.get(connector_id)
        except UnknownConnector:
            raise InvalidRequestError("Requested connector does not exist.") from None
        if record.grant_types and self.GRANT_TYPE not in record.grant_types:
            raise InvalidRequestError("Requested connector does not support this grant type.")
        if not implements(connector, TokenIdentityConnector):
            raise InvalidRequestError("Requested connector does not support token exchange.")
        return connector

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        form: dict[str, str] = self.request.exchange
        connector: TokenIdentityConnector = self.request.connector
        identity = self._verified_identity(connector, form)
        client_id = self.request.client.get_client_id()
        subject = Subject(claims=identity.claims(), connector_id=form["connector_id"],
                          scopes=sc.split_scopes(form["scope"]), client_id=client_id, grant_id=new_id())
        tokens = self.issuance.tokens
        if form["requested_token_type"] == TOKEN_TYPE_ID:
            token, expires_in = tokens.id_token(subject), int(tokens.ttl.total_seconds())
        else:
            token, expires_in = tokens.access_token(subject)
        events.token_issued(self.GRANT_TYPE, subject)
        body = {"access_token": token, "issued_token_type": form["requested_token_type"], "token_type": "bearer",
                "expires_in": expires_in}
        return 200, body, NO_STORE_HEADERS

    @staticmethod
    def _verified_identity(connector: TokenIdentityConnector, form: dict[str, str]) -> Identity:
        try:
            return connector.token_identity(form["subject_token_type"], form["subject_token"])
        except ConnectorUnavailable:
            raise
        except ConnectorError as exc:
            log.info("token exchange refused: subject token not verified: %s", exc.__class__.__name__)
            raise InvalidRequestError("The subject token could not be verified.") from None
