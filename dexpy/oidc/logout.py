"""Ending a browser session: RP-initiated logout (OIDC RP-Initiated Logout 1.0) and back-channel logout
(OIDC Back-Channel Logout 1.0).

Ending a session writes one `Revocation` for its `sid` (its access tokens stop everywhere at once, and no
replica opens its cookie again) and deletes the refresh tokens bound to it. Each client of the session that
registered a `backchannelLogoutURI` is then sent a signed logout token, after the user has their answer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from dexpy.logs import audit
from dexpy.model import Client
from dexpy.oidc.issuance import Issuance
from dexpy.oidc.redirects import with_params
from dexpy.oidc.sessions import Session
from dexpy.oidc.tokens import InvalidToken, TokenIssuer
from dexpy.storage import NotFound, Storage

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = timedelta(minutes=2)
BACKCHANNEL_TIMEOUT = 5.0


class LogoutError(Exception):
    """A logout request to refuse on an error page (never redirected: that would be an open redirect)."""


@dataclass(frozen=True)
class LogoutRequest:
    client_id: str
    redirect_uri: str
    """A registered post_logout_redirect_uri, or "" to show the logged-out page."""
    state: str
    hint: dict[str, Any] | None
    """The verified claims of the id_token_hint."""

    def names(self, session: Session) -> bool:
        """Whether the hint proves the client knows this session, so no confirmation is needed."""
        if self.hint is None:
            return False
        if self.hint.get("sid"):
            return bool(self.hint["sid"] == session.sid)
        return bool(self.hint.get("sub") == session.subject)

    @property
    def location(self) -> str:
        return with_params(self.redirect_uri, {"state": self.state} if self.state else {})


@dataclass(frozen=True)
class Delivery:
    client_id: str
    uri: str
    logout_token: str


def _hint_client(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]
    azp = claims.get("azp")
    return [azp] if isinstance(azp, str) and azp else audiences


class Logout:
    def __init__(self, storage: Storage, tokens: TokenIssuer, issuance: Issuance) -> None:
        self.storage = storage
        self.tokens = tokens
        self.issuance = issuance

    def _client(self, client_id: str) -> Client | None:
        try:
            return self.storage.get(Client, client_id)
        except NotFound:
            return None

    def request(self, params: Mapping[str, str]) -> LogoutRequest:
        """Validate the parameters of an end-session request."""
        hint: dict[str, Any] | None = None
        if params.get("id_token_hint"):
            try:
                hint = self.tokens.verify(params["id_token_hint"], check_expiry=False)
            except InvalidToken:
                raise LogoutError("The id_token_hint is not valid.") from None
        client_id = params.get("client_id", "")
        hinted = _hint_client(hint) if hint else []
        if client_id and hint is not None and client_id not in hinted:
            raise LogoutError("The id_token_hint was not issued to this client_id.")
        client_id = client_id or (hinted[0] if hinted else "")
        redirect_uri = params.get("post_logout_redirect_uri", "")
        if redirect_uri:
            client = self._client(client_id) if client_id else None
            if client is None or redirect_uri not in client.post_logout_redirect_uris:
                raise LogoutError("Unregistered post_logout_redirect_uri.")
        return LogoutRequest(client_id=client_id, redirect_uri=redirect_uri, state=params.get("state", ""),
                             hint=hint)

    def end(self, session: Session, client_id: str) -> list[Delivery]:
        """End the session everywhere; return the back-channel notices still to send."""
        self.issuance.revoke_id(session.sid)
        for refresh_id in self._refresh_ids(session):
            self.issuance.revoke_grant("", refresh_id)
        audit("logout", result="success", user_id=session.claims.user_id, connector_id=session.connector_id,
              client_id=client_id, session_id=session.sid)
        deliveries = []
        for cid in sorted(session.consents):
            client = self._client(cid)
            if client is not None and client.backchannel_logout_uri:
                deliveries.append(Delivery(cid, client.backchannel_logout_uri, self.logout_token(session, cid)))
        return deliveries

    def _refresh_ids(self, session: Session) -> list[str]:
        """The refresh tokens issued in the session (every device's, found through the user's OfflineSessions)."""
        return [t.id for t in self.issuance.list_user_refresh(session.claims.user_id, session.connector_id)
                if t.session_id == session.sid]

    def logout_token(self, session: Session, client_id: str) -> str:
        """A logout token (Back-Channel Logout §2.4): no nonce, typ `logout+jwt`."""
        now = self.tokens.clock()
        claims = {"iss": self.tokens.issuer, "sub": session.subject, "aud": client_id,
                  "iat": int(now.timestamp()), "exp": int((now + LOGOUT_TOKEN_TTL).timestamp()),
                  "jti": secrets.token_urlsafe(16), "sid": session.sid, "events": {BACKCHANNEL_EVENT: {}}}
        return self.tokens.keys.current.signer.sign(claims, typ="logout+jwt")


async def deliver(deliveries: list[Delivery]) -> None:
    """POST every logout token at once; a receiver that fails or is slow is logged, never retried."""
    if not deliveries:
        return
    async with httpx.AsyncClient(timeout=BACKCHANNEL_TIMEOUT, follow_redirects=False) as client:
        results = await asyncio.gather(
            *(client.post(d.uri, data={"logout_token": d.logout_token}) for d in deliveries), return_exceptions=True)
    for delivery, result in zip(deliveries, results):
        if isinstance(result, BaseException):
            log.warning("back-channel logout failed", extra={"client_id": delivery.client_id,
                                                             "error": result.__class__.__name__})
        elif result.status_code >= 300:
            log.warning("back-channel logout refused", extra={"client_id": delivery.client_id,
                                                              "status": result.status_code})
