"""Minting and verifying ID and access tokens (Dex `server/tokens/issuer.go`, `claims.go`).

Access tokens are signed JWTs, as in Dex: the ID-token claims plus `jti` and dexpy's `gid` (the grant they
belong to), so `/userinfo` and introspection can verify them without storage and revocation can name them.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from dexpy.clock import Clock
from dexpy.model import Claims
from dexpy.oidc import scopes as sc
from dexpy.oidc.keys import VERIFY_ALGORITHMS, KeyManager
from dexpy.oidc.wire import encode_subject


class InvalidToken(Exception):
    """A token that is malformed, badly signed, from another issuer, or expired."""


def half_hash(value: str, algorithm: str) -> str:
    """`at_hash`/`c_hash`: base64url of the left half of the algorithm's SHA-2 digest (OIDC Core §3.1.3.6)."""
    digest = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[algorithm[-3:]](value.encode())
    half = digest.digest()[: digest.digest_size // 2]
    return base64.urlsafe_b64encode(half).decode().rstrip("=")


@dataclass(frozen=True)
class Subject:
    """Who a token is about and what they granted: everything the claims depend on."""

    claims: Claims
    connector_id: str
    scopes: list[str]
    client_id: str
    nonce: str = ""
    auth_time: datetime | None = None
    session_id: str = ""
    grant_id: str = ""


def identity_claims(subject: Subject) -> dict[str, Any]:
    """The user claims the granted scopes allow (pure)."""
    claims = subject.claims
    out: dict[str, Any] = {"sub": encode_subject(claims.user_id, subject.connector_id)}
    scopes = subject.scopes
    if sc.EMAIL in scopes and claims.email:
        out["email"] = claims.email
        out["email_verified"] = claims.email_verified
    if sc.GROUPS in scopes:
        out["groups"] = list(claims.groups)
    if sc.PROFILE in scopes:
        out["name"] = claims.username
        if claims.preferred_username:
            out["preferred_username"] = claims.preferred_username
    if sc.FEDERATED_ID in scopes:
        out["federated_claims"] = {"connector_id": subject.connector_id, "user_id": claims.user_id}
    return out


class TokenIssuer:
    def __init__(self, issuer: str, keys: KeyManager, clock: Clock, id_token_ttl: timedelta) -> None:
        self.issuer = issuer
        self.keys = keys
        self.clock = clock
        self.ttl = id_token_ttl

    def shared_claims(self, subject: Subject) -> dict[str, Any]:
        """The claims an access token and an ID token issued together share: one moment, built once for both."""
        now = self.clock()
        aud = sc.audience(subject.scopes, subject.client_id)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            **identity_claims(subject),
            "aud": aud[0] if len(aud) == 1 else aud,
            "exp": int((now + self.ttl).timestamp()),
            "iat": int(now.timestamp()),
        }
        if len(aud) > 1:
            claims["azp"] = subject.client_id
        if subject.nonce:
            claims["nonce"] = subject.nonce
        if subject.auth_time is not None:
            claims["auth_time"] = int(subject.auth_time.timestamp())
        if subject.session_id:
            claims["sid"] = subject.session_id
        return claims

    def _sign(self, claims: dict[str, Any]) -> str:
        return self.keys.current.signer.sign(claims)

    def access_token(self, subject: Subject, shared: dict[str, Any] | None = None) -> tuple[str, int]:
        """(token, expires_in seconds); `shared` from `shared_claims` when an ID token goes with it."""
        claims = dict(shared) if shared else self.shared_claims(subject)
        claims["jti"] = secrets.token_urlsafe(16)
        claims["scope"] = " ".join(subject.scopes)  # RFC 9068 §2.2.3; what introspection reports
        if subject.grant_id:
            claims["gid"] = subject.grant_id
        return self._sign(claims), int(self.ttl.total_seconds())

    def id_token(self, subject: Subject, *, shared: dict[str, Any] | None = None, access_token: str = "",
                 code: str = "") -> str:
        claims = dict(shared) if shared else self.shared_claims(subject)
        alg = self.keys.current.algorithm
        if access_token:
            claims["at_hash"] = half_hash(access_token, alg)
        if code:
            claims["c_hash"] = half_hash(code, alg)
        return self._sign(claims)

    def verify(self, token: str, *, check_expiry: bool = True) -> dict[str, Any]:
        """The claims of a token this issuer signed with a key it still publishes; InvalidToken otherwise."""
        try:
            decoded = jwt.decode(token, self.keys.current.verify_keys, algorithms=VERIFY_ALGORITHMS)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise InvalidToken(f"token could not be verified: {exc.__class__.__name__}") from exc
        claims = dict(decoded.claims)
        if claims.get("iss") != self.issuer:
            raise InvalidToken("token was issued by another issuer")
        exp = claims.get("exp")
        if not isinstance(exp, int) or (check_expiry and exp <= int(self.clock().timestamp())):
            raise InvalidToken("token is expired")
        return claims
