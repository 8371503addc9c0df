"""One record of every kind with every field away from its default, so a round trip that drops or bends a
field shows up as an inequality."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from dexpy.model import (
    AuthCode,
    Claims,
    Client,
    ConnectorRecord,
    DeviceRequest,
    DeviceToken,
    FailureCounter,
    Keys,
    OfflineSessions,
    Password,
    RefreshToken,
    RefreshTokenRef,
    Revocation,
    VerificationKey,
)

T0 = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)
"""With microseconds, so a backend that rounds to seconds fails."""

CEST = timezone(timedelta(hours=2))


def claims(n: int) -> Claims:
    return Claims(
        user_id=f"user-{n}",
        username=f"Jürgen {n} 日本",
        preferred_username=f"jürgen{n}",
        email=f"j{n}@example.com",
        email_verified=True,
        groups=["admins", "grüne", f"g{n}"],
    )


def client(n: int) -> Client:
    return Client(
        id=f"client-{n}",
        name=f"App {n} ✓",
        secret=f"secret-{n}",
        redirect_uris=[f"https://app{n}.example/cb", "http://127.0.0.1:5555/callback"],
        trusted_peers=["peer-a"],
        public=True,
        logo_url="https://logo.example/l.png",
        post_logout_redirect_uris=["https://app.example/bye"],
        backchannel_logout_uri="https://app.example/bc",
        allowed_connectors=["ldap", "local"],
        client_credentials_groups=["robots"],
    )


def auth_code(n: int) -> AuthCode:
    return AuthCode(
        id=f"code-{n}",
        client_id="client-1",
        redirect_uri="https://app.example/cb",
        claims=claims(n),
        connector_id="ldap",
        expiry=T0 + timedelta(minutes=30),
        scopes=["openid", "email", "offline_access"],
        nonce="n-0S6_WzA2Mj",
        connector_data=b"\x00\xffbinary\n",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
        auth_time=T0.astimezone(CEST),
        session_id="sess-1",
        grant_id="grant-1",
        used=True,
        refresh_id="refresh-1",
    )


def refresh_token(n: int) -> RefreshToken:
    return RefreshToken(
        id=f"refresh-{n}",
        token=f"token-{n}",
        client_id="client-1",
        connector_id="ldap",
        claims=claims(n),
        created_at=T0,
        last_used=T0 + timedelta(seconds=1, microseconds=7),
        scopes=["openid", "offline_access"],
        obsolete_token="old-token",
        nonce="nonce",
        connector_data=b'{"refresh":"upstream"}',
        grant_id="grant-1",
        session_id="sess-1",
    )


def offline_sessions(n: int) -> OfflineSessions:
    ref = RefreshTokenRef(id=f"refresh-{n}", client_id="client-1", created_at=T0, last_used=T0 + timedelta(hours=1))
    other = RefreshTokenRef(id="refresh-x", client_id="client-2", created_at=T0, last_used=T0)
    return OfflineSessions(
        user_id=f"user-{n}",
        conn_id="ldap",
        refresh={"client-1": ref, "client-2": other},
        connector_data=b"\x01\x02",
        tokens={ref.id: ref, other.id: other},
    )


def password(n: int) -> Password:
    return Password(
        email=f"user{n}@example.com",
        hash=b"$2a$10$33EMT0cVYVlPy6WAMCLsceLYjWhuHpbz5yuZxu/GAFj03J9Lytjuy",
        username=f"user{n}",
        user_id=f"08a8684b-db88-4b73-90a9-3cd1661f546{n % 10}",
        name="Ünïcode Name",
        preferred_username="pref",
        email_verified=False,
        groups=["team"],
    )


def connector(n: int) -> ConnectorRecord:
    return ConnectorRecord(
        id=f"conn-{n}",
        type="ldap",
        name=f"LDAP {n}",
        config=b'{"host":"127.0.0.1:389","insecureNoSSL":true}',
        resource_version="17",
        grant_types=["authorization_code", "password"],
    )


def keys(n: int) -> Keys:
    jwk: dict[str, object] = {"kty": "RSA", "kid": f"k{n}", "n": "0vx7agoebGcQ", "e": "AQAB", "alg": "RS256"}
    return Keys(
        signing_key={**jwk, "d": "X4cTteJY_gn4FY"},
        signing_key_pub=jwk,
        verification_keys=[VerificationKey(public_key={"kty": "EC", "kid": "old", "crv": "P-256"}, expiry=T0)],
        next_rotation=T0 + timedelta(hours=6),
        state_keys=[bytes(range(32)), b"\xff" * 32],
    )


def device_request(n: int) -> DeviceRequest:
    return DeviceRequest(
        user_code=f"BCDF-GHJ{n}",
        device_code=f"device-{n}",
        client_id="client-1",
        expiry=T0 + timedelta(minutes=5),
        client_secret="s",
        scopes=["openid", "groups"],
    )


def device_token(n: int) -> DeviceToken:
    return DeviceToken(
        device_code=f"device-{n}",
        status="complete",
        expiry=T0 + timedelta(minutes=5),
        last_request=T0,
        poll_interval=7,
        token='{"access_token":"x"}',
        code_challenge="c",
        code_challenge_method="plain",
    )


def revocation(n: int) -> Revocation:
    return Revocation(id=f"grant-{n}", expiry=T0 + timedelta(days=1))


def failure_counter(n: int) -> FailureCounter:
    return FailureCounter(id=f"user:local:user-{n}@example.com", failures=n + 4, last_failure=T0,
                          expiry=T0 + timedelta(minutes=30), locked_until=T0 + timedelta(minutes=2))


SAMPLES: dict[type, Callable[[int], Any]] = {
    Client: client,
    AuthCode: auth_code,
    RefreshToken: refresh_token,
    OfflineSessions: offline_sessions,
    Password: password,
    ConnectorRecord: connector,
    Keys: keys,
    DeviceRequest: device_request,
    DeviceToken: device_token,
    Revocation: revocation,
    FailureCounter: failure_counter,
}


def sample(kind: type, n: int = 1) -> Any:
    return SAMPLES[kind](n)


def with_expiry(record: Any, expiry: datetime) -> Any:
    record.expiry = expiry
    return record
