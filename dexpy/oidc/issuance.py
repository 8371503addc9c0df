"""What every grant shares once the request is validated: the token response, refresh tokens, code
redemption and revocation of a grant.

Writes are few and atomic: redeeming a code is one compare-and-swap that marks it used (a concurrent or later
replay loses the swap and revokes what the code issued), a refresh rotation is one compare-and-swap on the
refresh token, and revocation is one small record that `/userinfo` and introspection consult.
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from authlib.oauth2.rfc6749.errors import InvalidGrantError

from dexpy.clock import Clock
from dexpy.config import RefreshTokenExpiry
from dexpy.connectors.base import Identity, IdentityGone, RefreshConnector, Scopes, implements
from dexpy.connectors.manager import ConnectorManager, UnknownConnector
from dexpy.ids import new_id, new_secret_id
from dexpy.model import AuthCode, Claims, RefreshToken, Revocation
from dexpy.oidc import offline
from dexpy.oidc import scopes as sc
from dexpy.oidc.tokens import Subject, TokenIssuer
from dexpy.oidc.wire import decode_refresh_token, encode_refresh_token
from dexpy.storage import AlreadyExists, NotFound, Storage, StorageError
from dexpy.storage.gc import refresh_token_expired
from dexpy.telemetry import events

log = logging.getLogger(__name__)

NO_STORE_HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]


LAST_USED_GRANULARITY = timedelta(minutes=1)
"""A token that is not rotated records its use at most this often (and at most every tenth of
`validIfNotUsedFor`) when its claims did not change: a client refreshing every few seconds would otherwise write
the same object on every request (an etcd write each on Kubernetes) to move a time only `validIfNotUsedFor`
reads. Such a token may so end idle that much early."""


class _Replayed(Exception):
    """A refresh presented the value its token was rotated away from, outside the reuse interval."""

    def __init__(self, record: RefreshToken) -> None:
        super().__init__(record.id)
        self.record = record


class _CodeAlreadyUsed(Exception):
    pass


def connector_scopes(scopes: list[str]) -> Scopes:
    return Scopes(offline_access=sc.OFFLINE_ACCESS in scopes, groups=sc.GROUPS in scopes)


class Issuance:
    def __init__(self, storage: Storage, tokens: TokenIssuer, connectors: ConnectorManager, clock: Clock,
                 refresh_policy: RefreshTokenExpiry) -> None:
        self.storage = storage
        self.tokens = tokens
        self.connectors = connectors
        self.clock = clock
        self.policy = refresh_policy

    # -- responses ------------------------------------------------------------------------------------------

    def token_response(self, subject: Subject, *, grant_type: str, code: str = "",
                       refresh_value: str = "") -> dict[str, Any]:
        """Dex's token response: a signed access token, an ID token when `openid` was granted, and the
        refresh token when one was issued; counted and audited by `grant_type`."""
        shared = self.tokens.shared_claims(subject)
        access, expires_in = self.tokens.access_token(subject, shared)
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", "expires_in": expires_in}
        if refresh_value:
            body["refresh_token"] = refresh_value
        if sc.OPENID in subject.scopes:
            body["id_token"] = self.tokens.id_token(subject, shared=shared, access_token=access, code=code)
        events.token_issued(grant_type, subject)
        return body

    def wants_refresh(self, scopes: list[str], connector_id: str) -> bool:
        if sc.OFFLINE_ACCESS not in scopes:
            return False
        return implements(self.connectors.get(connector_id), RefreshConnector)

    # -- authorization codes --------------------------------------------------------------------------------

    def redeem_code(self, code: AuthCode, refresh_id: str) -> None:
        """Mark the code used, recording the refresh token it is about to issue. If another redemption got
        there first, revoke everything the code issued and refuse (RFC 6749 §4.1.2)."""

        def mark_used(current: AuthCode) -> AuthCode:
            if current.used:
                raise _CodeAlreadyUsed()
            return replace(current, used=True, refresh_id=refresh_id)

        try:
            self.storage.update(AuthCode, code.id, mark_used)
        except (_CodeAlreadyUsed, NotFound):
            self.revoke_code_grant(code.id)
            raise InvalidGrantError("Invalid or expired code parameter.") from None

    def revoke_code_grant(self, code_id: str) -> None:
        try:
            code = self.storage.get(AuthCode, code_id)
        except NotFound:
            return
        log.warning("authorization code replayed; revoking the tokens it issued",
                    extra={"client_id": code.client_id})
        self.revoke_grant(code.grant_id, code.refresh_id)

    # -- refresh tokens -------------------------------------------------------------------------------------

    def create_refresh(self, subject: Subject, connector_data: bytes, refresh_id: str | None = None) -> str:
        """Store a new refresh token for `subject` and link it from the user's OfflineSessions; return the
        wire value the client gets."""
        now = self.clock()
        record = RefreshToken(
            id=refresh_id or new_id(),
            token=new_secret_id(),
            client_id=subject.client_id,
            connector_id=subject.connector_id,
            claims=subject.claims,
            created_at=now,
            last_used=now,
            scopes=list(subject.scopes),
            nonce=subject.nonce,
            connector_data=connector_data,
            grant_id=subject.grant_id,
            session_id=subject.session_id,
        )
        try:
            self.storage.create(record)
            dropped = offline.link(self.storage, record, connector_data)
        except Exception:
            self._forget_unlinked(record.id)  # its create may have succeeded even if it raised
            raise
        for dropped_id in dropped:
            self._forget_unlinked(dropped_id)
        return encode_refresh_token(record.id, record.token)

    def _forget_unlinked(self, refresh_id: str) -> None:
        """Delete a token no OfflineSessions links (any more), if the storage lets us. Failing to is not the
        request's failure: the garbage collector deletes unlinked tokens on its next pass."""
        try:
            self.storage.delete(RefreshToken, refresh_id)
        except StorageError:
            pass

    def _delete_record(self, refresh_id: str) -> RefreshToken | None:
        try:
            record = self.storage.get(RefreshToken, refresh_id)
            self.storage.delete(RefreshToken, refresh_id)
        except NotFound:
            return None
        return record

    def _delete_refresh(self, refresh_id: str) -> None:
        """Delete a refresh token and its link from the user's OfflineSessions."""
        if (record := self._delete_record(refresh_id)) is not None:
            offline.unlink(self.storage, record)

    def list_user_refresh(self, user_id: str, connector_id: str) -> list[RefreshToken]:
        """Every live refresh token of the user on the connector, oldest first."""
        return offline.live_tokens(self.storage, user_id, connector_id)

    def revoke_user_refresh(self, user_id: str, connector_id: str, client_id: str | None = None) -> int:
        """Revoke the user's refresh tokens on the connector (of one client, or all) and their grants;
        return how many there were."""
        tokens = [t for t in self.list_user_refresh(user_id, connector_id) if client_id in (None, t.client_id)]
        for token in tokens:
            self.revoke_grant(token.grant_id, token.id)
        return len(tokens)

    def find_refresh(self, value: str) -> tuple[RefreshToken, str]:
        """The stored token a presented value names and the secret presented; InvalidGrantError when it is
        unknown, expired, or a replay of a rotated-away value (which revokes the whole grant)."""
        refresh_id, presented = decode_refresh_token(value)
        if not refresh_id:
            raise InvalidGrantError("Refresh token is invalid or has already been claimed by another client.")
        now = self.clock()
        record = self._local_copy(refresh_id)
        if record is None or not hmac_equal(presented, record.token) or refresh_token_expired(record, self.policy, now):
            try:  # a copy that would refuse may be stale: refusals are decided on the stored token
                record = self.storage.get(RefreshToken, refresh_id)
            except NotFound:
                raise InvalidGrantError("Refresh token is invalid or has already been claimed by another client.") \
                    from None
        if refresh_token_expired(record, self.policy, now):
            raise InvalidGrantError("Refresh token expired.")
        if record.session_id and self.is_revoked({"sid": record.session_id}):
            self._delete_refresh(record.id)
            raise InvalidGrantError("The login session of this refresh token has ended.")
        if hmac_equal(presented, record.token) or self._within_reuse(record, presented, now):
            return record, presented
        if record.obsolete_token and hmac_equal(presented, record.obsolete_token):
            self._replayed(record)
        raise InvalidGrantError("Refresh token is invalid or has already been claimed by another client.")

    def _local_copy(self, refresh_id: str) -> RefreshToken | None:
        """This process's copy of a token, which may be stale: good enough to accept a refresh that its
        compare-and-swap rotation then confirms (or to refuse one for its session, which no copy changes),
        never to refuse one for its value or age."""
        try:
            return self.storage.get_possibly_stale(RefreshToken, refresh_id)
        except NotFound:
            return None

    def _replayed(self, record: RefreshToken) -> NoReturn:
        log.warning("rotated refresh token replayed; revoking its grant", extra={"client_id": record.client_id})
        self.revoke_grant(record.grant_id, record.id)
        raise InvalidGrantError("Refresh token is invalid or has already been claimed by another client.")

    def live_refresh(self, value: str) -> RefreshToken | None:
        """The stored token a presented value names if it still works (current, or just rotated away within
        the reuse interval; unexpired; its session not ended), else None. No side effects: for revocation
        and introspection."""
        refresh_id, presented = decode_refresh_token(value)
        if not (refresh_id and presented):
            return None
        try:
            record = self.storage.get(RefreshToken, refresh_id)
        except NotFound:
            return None
        now = self.clock()
        if refresh_token_expired(record, self.policy, now) or self.is_revoked({"sid": record.session_id}):
            return None
        if hmac_equal(presented, record.token) or self._within_reuse(record, presented, now):
            return record
        return None

    def _within_reuse(self, record: RefreshToken, presented: str, now: datetime) -> bool:
        return (
            bool(record.obsolete_token and self.policy.reuse_interval)  # 0 disables reuse, as in Dex
            and hmac_equal(presented, record.obsolete_token)
            and now <= record.last_used + self.policy.reuse_interval
        )

    def refresh(self, record: RefreshToken, presented: str, scopes: list[str]) -> tuple[Subject, str]:
        """Refresh the identity through the connector and rotate the token in one compare-and-swap.

        Of concurrent refreshes with one value exactly one rotates; the others see the rotated record and get
        the same successor inside the reuse interval, or `invalid_grant` outside it."""
        claims, connector_data = self._refreshed_identity(record, scopes)
        now = self.clock()

        def rotate(current: RefreshToken) -> RefreshToken:
            if self._within_reuse(current, presented, now):
                return current
            if current.obsolete_token and hmac_equal(presented, current.obsolete_token):
                raise _Replayed(current)
            if not hmac_equal(presented, current.token):
                raise InvalidGrantError("Refresh token is invalid or has already been claimed by another client.")
            if self.policy.disable_rotation:
                if (claims, connector_data) == (current.claims, current.connector_data) \
                        and now - current.last_used < self._last_used_granularity():
                    return current  # nothing to record: no write
                return replace(current, claims=claims, connector_data=connector_data, last_used=now)
            return replace(current, obsolete_token=current.token, token=new_secret_id(), claims=claims,
                           connector_data=connector_data, last_used=now)

        try:
            if self._within_reuse(record, presented, now) or self._unchanged(record, rotate):
                updated = record  # costs no write
            else:
                updated = self.storage.update(RefreshToken, record.id, rotate)
        except NotFound:
            raise InvalidGrantError("Refresh token was revoked.") from None
        except _Replayed as replay:  # rotated away meanwhile (by another request or replica)
            self._replayed(replay.record)
        subject = Subject(claims=updated.claims, connector_id=updated.connector_id, scopes=scopes,
                          client_id=updated.client_id, nonce=updated.nonce, grant_id=updated.grant_id,
                          session_id=updated.session_id)
        return subject, encode_refresh_token(updated.id, updated.token)

    def _unchanged(self, record: RefreshToken, rotate: Callable[[RefreshToken], RefreshToken]) -> bool:
        """Whether a token without rotation needs no write: `record` was read from storage by this request (not
        a copy), and neither its claims nor its `lastUsed` need recording. With a copy, the compare-and-swap
        update must confirm the token still exists."""
        return self.policy.disable_rotation and not self.storage.stale_copies and rotate(record) is record

    def _last_used_granularity(self) -> timedelta:
        idle = self.policy.valid_if_not_used_for
        return min(LAST_USED_GRANULARITY, idle / 10) if idle else LAST_USED_GRANULARITY

    def _refreshed_identity(self, record: RefreshToken, scopes: list[str]) -> tuple[Claims, bytes]:
        try:
            connector = self.connectors.get(record.connector_id)
        except UnknownConnector:
            raise InvalidGrantError("The connector that issued this refresh token no longer exists.") from None
        if not implements(connector, RefreshConnector):
            return record.claims, record.connector_data
        c = record.claims
        identity = Identity.of(c, record.connector_data)
        try:
            fresh = connector.refresh(connector_scopes(scopes), identity)
        except IdentityGone:
            raise InvalidGrantError("The user no longer exists upstream.") from None
        claims = replace(fresh.claims(), user_id=c.user_id)
        return claims, fresh.connector_data or record.connector_data

    # -- revocation -----------------------------------------------------------------------------------------

    def revoke_grant(self, grant_id: str, refresh_id: str = "") -> None:
        """Stop every token of a grant: delete its refresh token; record the grant as revoked until its
        access tokens have expired."""
        if refresh_id:
            self._delete_refresh(refresh_id)
        if grant_id:
            self.revoke_id(grant_id)

    def revoke_id(self, revoked_id: str) -> None:
        try:
            self.storage.create(Revocation(id=revoked_id, expiry=self.clock() + self.tokens.ttl + timedelta(minutes=5)))
        except AlreadyExists:
            pass

    def is_revoked(self, claims: dict[str, Any]) -> bool:
        for claim in ("gid", "sid", "jti"):
            value = claims.get(claim)
            if isinstance(value, str) and value:
                try:
                    self.storage.get(Revocation, value)
                    return True
                except NotFound:
                    continue
        return False


def hmac_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def encode_connector_data(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_connector_data(data: str) -> bytes:
    return base64.b64decode(data) if data else b""
