"""Objects exactly as Dex (v2.45.1, plus the HEAD fields dexpy also has) writes them to the cluster, and the
records they hold. Names follow Dex's rules, spelled out here independently of dexpy's code."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

from dexpy.model import (
    AuthCode,
    Claims,
    Client,
    ConnectorRecord,
    DeviceRequest,
    DeviceToken,
    Keys,
    OfflineSessions,
    Password,
    RefreshToken,
    RefreshTokenRef,
    VerificationKey,
)

UTC = timezone.utc
BCRYPT = b"$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
JWK_PUB: dict[str, Any] = {"use": "sig", "kty": "RSA", "kid": "4f0b5f7c0c6f", "alg": "RS256", "n": "u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw", "e": "AQAB"}
JWK_PRIV: dict[str, Any] = {**JWK_PUB, "d": "Tg", "p": "7w", "q": "yQ", "dp": "AQ", "dq": "Ag", "qi": "Aw"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def id_to_name(value: str) -> str:
    """Dex's idToName: base32 of the bytes followed by the FNV-1 64 offset basis cb f2 9c e4 84 22 23 25."""
    return base64.b32encode(value.encode() + bytes.fromhex("cbf29ce484222325")).decode().rstrip("=").lower()


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


CLAIMS_JSON = {"userID": "0-385-28089-0", "username": "Kilgore Trout", "preferredUsername": "",
               "email": "kilgore@kilgore.trout", "emailVerified": True, "groups": ["authors"]}
CLAIMS = Claims(user_id="0-385-28089-0", username="Kilgore Trout", email="kilgore@kilgore.trout",
                email_verified=True, groups=["authors"])

# (Dex kind, plural, object name, the object's fields as Dex writes them, the record dexpy must read)
DEX_OBJECTS: list[tuple[str, str, str, dict[str, Any], object]] = [
    ("OAuth2Client", "oauth2clients", "mv4gc3lqnrss2ylqodf7fhheqqrcgji",
     {"id": "example-app", "secret": "ZXhhbXBsZS1hcHAtc2VjcmV0", "redirectURIs": ["http://127.0.0.1:5555/callback"],
      "public": False, "name": "Example App"},
     Client(id="example-app", secret="ZXhhbXBsZS1hcHAtc2VjcmV0", redirect_uris=["http://127.0.0.1:5555/callback"],
            name="Example App")),
    ("Password", "passwords", id_to_name("admin@example.com"),
     {"email": "admin@example.com", "hash": b64(BCRYPT), "username": "admin",
      "userID": "08a8684b-db88-4b73-90a9-3cd1661f5466"},
     Password(email="admin@example.com", hash=BCRYPT, username="admin", user_id="08a8684b-db88-4b73-90a9-3cd1661f5466")),
    ("SigningKey", "signingkeies", "openid-connect-keys",
     {"signingKey": JWK_PRIV, "signingKeyPub": JWK_PUB,
      "verificationKeys": [{"publicKey": {**JWK_PUB, "kid": "old"}, "expiry": "2026-01-01T16:00:00.5Z"}],
      "nextRotation": "2026-01-01T18:00:00.123456+01:00"},
     Keys(signing_key=JWK_PRIV, signing_key_pub=JWK_PUB,
          verification_keys=[VerificationKey({**JWK_PUB, "kid": "old"}, t("2026-01-01T16:00:00.5+00:00"))],
          next_rotation=t("2026-01-01T18:00:00.123456+01:00"))),
    ("RefreshToken", "refreshtokens", "ox3gjhd2dyexdvfn3s4pr4vwy",
     {"CreatedAt": "2026-01-01T10:00:00.123456Z", "LastUsed": "2026-01-01T11:00:00Z", "clientID": "example-app",
      "scopes": ["openid", "email", "offline_access"], "token": "jl4m6ppx2fshvdudqq7o3m2ls", "nonce": "abc",
      "claims": CLAIMS_JSON, "connectorID": "mock", "connectorData": b64(b'{"upstream":"x"}')},
     RefreshToken(id="ox3gjhd2dyexdvfn3s4pr4vwy", token="jl4m6ppx2fshvdudqq7o3m2ls", client_id="example-app",
                  connector_id="mock", claims=CLAIMS, created_at=t("2026-01-01T10:00:00.123456+00:00"),
                  last_used=t("2026-01-01T11:00:00+00:00"), scopes=["openid", "email", "offline_access"], nonce="abc",
                  connector_data=b'{"upstream":"x"}')),
    ("OfflineSessions", "offlinesessionses", "s2zzxpggomkhw",
     {"userID": "0-385-28089-0", "connID": "mock",
      "refresh": {"example-app": {"ID": "ox3gjhd2dyexdvfn3s4pr4vwy", "ClientID": "example-app",
                                  "CreatedAt": "2026-01-01T10:00:00.123456Z", "LastUsed": "2026-01-01T11:00:00Z"}}},
     OfflineSessions(user_id="0-385-28089-0", conn_id="mock", refresh={"example-app": RefreshTokenRef(
         "ox3gjhd2dyexdvfn3s4pr4vwy", "example-app", t("2026-01-01T10:00:00.123456+00:00"), t("2026-01-01T11:00:00+00:00"))})),
    ("Connector", "connectors", "ldap",
     {"id": "ldap", "type": "ldap", "name": "OpenLDAP", "config": b64(b'{"host":"ldap:389","insecureNoSSL":true}')},
     ConnectorRecord(id="ldap", type="ldap", name="OpenLDAP", config=b'{"host":"ldap:389","insecureNoSSL":true}')),
    ("AuthCode", "authcodes", "c4tbkrt7ew6gk6t5ae4ek45mq",
     {"clientID": "example-app", "scopes": ["openid"], "redirectURI": "http://127.0.0.1:5555/callback",
      "claims": CLAIMS_JSON, "connectorID": "mock", "expiry": "2026-01-01T10:30:00.25Z",
      "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
      "authTime": "0001-01-01T00:00:00Z"},
     AuthCode(id="c4tbkrt7ew6gk6t5ae4ek45mq", client_id="example-app", redirect_uri="http://127.0.0.1:5555/callback",
              claims=CLAIMS, connector_id="mock", expiry=t("2026-01-01T10:30:00.25+00:00"), scopes=["openid"],
              code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method="S256")),
    ("DeviceRequest", "devicerequests", "bcdf-ghjk",
     {"device_code": "f4xwx6ejwnbgbu5itgdyshmrtwswqfyiuijkxxmgfzk5vm7udgb", "client_id": "example-app",
      "scopes": ["openid", "profile"], "expiry": "2026-01-01T10:05:00Z"},
     DeviceRequest(user_code="BCDF-GHJK", device_code="f4xwx6ejwnbgbu5itgdyshmrtwswqfyiuijkxxmgfzk5vm7udgb",
                   client_id="example-app", expiry=t("2026-01-01T10:05:00+00:00"), scopes=["openid", "profile"])),
    ("DeviceToken", "devicetokens", "f4xwx6ejwnbgbu5itgdyshmrtwswqfyiuijkxxmgfzk5vm7udgb",
     {"status": "pending", "expiry": "2026-01-01T10:05:00Z", "last_request": "2026-01-01T10:00:05Z", "poll_interval": 5},
     DeviceToken(device_code="f4xwx6ejwnbgbu5itgdyshmrtwswqfyiuijkxxmgfzk5vm7udgb", status="pending",
                 expiry=t("2026-01-01T10:05:00+00:00"), last_request=t("2026-01-01T10:00:05+00:00") + timedelta(0))),
]
