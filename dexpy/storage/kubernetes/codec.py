"""Converters between dexpy records and the JSON bodies of Dex's custom resources (`storage/kubernetes/types.go`).

Encoders return only the record's fields (no apiVersion, kind or metadata) with Dex's JSON names and Go's
`omitempty` rules, so an object dexpy writes has the shape Dex writes. Fields Dex has no place for are kept
in one extra object, `dexpy`, which Dex ignores when it reads and which is left out when all of it is empty.
Decoders take the whole object and raise `MalformedObject` on anything they cannot read.
"""

from __future__ import annotations

import builtins
import copy
from datetime import datetime
from typing import Any

from dexpy.model import (
    EPOCH,
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
from dexpy.storage.kubernetes.jsonvalues import MalformedObject, decode_bytes, encode_bytes, format_time, parse_time

JSON = dict[str, Any]
EXTENSION = "dexpy"


def _omitempty(body: JSON, **fields: object) -> JSON:
    """Add the fields that Go's `omitempty` would keep (non-empty)."""
    body.update({name: value for name, value in fields.items() if value})
    return body


class _Reader:
    """Typed access to one object's fields; a wrong type is a `MalformedObject`, a missing field its zero.

    Its methods are named after the types they read, so annotations after `str` spell the types `builtins.…`."""

    def __init__(self, body: object, where: str = "") -> None:
        if not isinstance(body, dict):
            raise MalformedObject(f"{where or 'object'} is not a JSON object")
        self.body = body
        self.where = where

    def _get(self, name: str, kind: type | tuple[type, ...], zero: object) -> Any:
        value = self.body.get(name)
        if value is None:
            return zero
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise MalformedObject(f"field {self.where}{name} has the wrong type: {value!r}")
        return value

    def str(self, name: str) -> str:
        return self._get(name, str, "")

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        return self._get(name, bool, default)

    def int(self, name: builtins.str) -> builtins.int:
        return self._get(name, int, 0)

    def strs(self, name: builtins.str) -> list[builtins.str]:
        values = self._get(name, list, [])
        if not all(isinstance(v, str) for v in values):
            raise MalformedObject(f"field {self.where}{name} must be a list of strings")
        return list(values)

    def time(self, name: builtins.str) -> datetime:
        return EPOCH if self.body.get(name) is None else parse_time(self.body[name])

    def bytes(self, name: builtins.str) -> builtins.bytes:
        return decode_bytes(self.body.get(name))

    def dict(self, name: builtins.str) -> builtins.dict[builtins.str, Any]:
        return copy.deepcopy(self._get(name, dict, {}))

    def items(self, name: builtins.str) -> list[_Reader]:
        return [_Reader(item, f"{self.where}{name}[].") for item in self._get(name, list, [])]

    def sub(self, name: builtins.str) -> _Reader:
        return _Reader(self.body.get(name) or {}, f"{self.where}{name}.")

    def name(self) -> builtins.str:
        return self.sub("metadata").str("name")


def _extension(**fields: object) -> JSON:
    extension = _omitempty({}, **fields)
    return {EXTENSION: extension} if extension else {}


def _encode_claims(claims: Claims) -> JSON:
    body: JSON = {
        "userID": claims.user_id,
        "username": claims.username,
        "preferredUsername": claims.preferred_username,
        "email": claims.email,
        "emailVerified": claims.email_verified,
    }
    return _omitempty(body, groups=claims.groups)


def _decode_claims(r: _Reader) -> Claims:
    return Claims(
        user_id=r.str("userID"),
        username=r.str("username"),
        preferred_username=r.str("preferredUsername"),
        email=r.str("email"),
        email_verified=r.bool("emailVerified"),
        groups=r.strs("groups"),
    )


def encode_client(c: Client) -> JSON:
    body = _omitempty({}, id=c.id, secret=c.secret, redirectURIs=c.redirect_uris, trustedPeers=c.trusted_peers)
    body["public"] = c.public
    _omitempty(
        body,
        name=c.name,
        logoURL=c.logo_url,
        allowedConnectors=c.allowed_connectors,
        postLogoutRedirectURIs=c.post_logout_redirect_uris,
        backchannelLogoutURI=c.backchannel_logout_uri,
    )
    return body | _extension(clientCredentialsGroups=c.client_credentials_groups)


def decode_client(obj: JSON) -> Client:
    r, ext = _Reader(obj), _Reader(obj).sub(EXTENSION)
    return Client(
        id=r.str("id"),
        secret=r.str("secret"),
        redirect_uris=r.strs("redirectURIs"),
        trusted_peers=r.strs("trustedPeers"),
        public=r.bool("public"),
        name=r.str("name"),
        logo_url=r.str("logoURL"),
        allowed_connectors=r.strs("allowedConnectors"),
        post_logout_redirect_uris=r.strs("postLogoutRedirectURIs"),
        backchannel_logout_uri=r.str("backchannelLogoutURI"),
        client_credentials_groups=ext.strs("clientCredentialsGroups"),
    )


def encode_auth_code(a: AuthCode) -> JSON:
    body = _omitempty({"clientID": a.client_id}, scopes=a.scopes)
    body["redirectURI"] = a.redirect_uri
    _omitempty(body, nonce=a.nonce)
    body["claims"] = _encode_claims(a.claims)
    _omitempty(body, connectorID=a.connector_id, connectorData=encode_bytes(a.connector_data))
    body["expiry"] = format_time(a.expiry)
    _omitempty(body, code_challenge=a.code_challenge, code_challenge_method=a.code_challenge_method)
    body["authTime"] = format_time(a.auth_time)
    _omitempty(body, sessionID=a.session_id)
    return body | _extension(grantID=a.grant_id, used=a.used, refreshID=a.refresh_id)


def decode_auth_code(obj: JSON) -> AuthCode:
    r, ext = _Reader(obj), _Reader(obj).sub(EXTENSION)
    return AuthCode(
        id=r.name(),
        client_id=r.str("clientID"),
        redirect_uri=r.str("redirectURI"),
        claims=_decode_claims(r.sub("claims")),
        connector_id=r.str("connectorID"),
        expiry=r.time("expiry"),
        scopes=r.strs("scopes"),
        nonce=r.str("nonce"),
        connector_data=r.bytes("connectorData"),
        code_challenge=r.str("code_challenge"),
        code_challenge_method=r.str("code_challenge_method"),
        auth_time=r.time("authTime"),
        session_id=r.str("sessionID"),
        grant_id=ext.str("grantID"),
        used=ext.bool("used"),
        refresh_id=ext.str("refreshID"),
    )


def encode_refresh_token(t: RefreshToken) -> JSON:
    body: JSON = {"CreatedAt": format_time(t.created_at), "LastUsed": format_time(t.last_used), "clientID": t.client_id}
    _omitempty(body, scopes=t.scopes, token=t.token, obsoleteToken=t.obsolete_token, nonce=t.nonce)
    body["claims"] = _encode_claims(t.claims)
    _omitempty(body, connectorID=t.connector_id, connectorData=encode_bytes(t.connector_data))
    return body | _extension(grantID=t.grant_id, sessionID=t.session_id)


def decode_refresh_token(obj: JSON) -> RefreshToken:
    r, ext = _Reader(obj), _Reader(obj).sub(EXTENSION)
    return RefreshToken(
        id=r.name(),
        token=r.str("token"),
        client_id=r.str("clientID"),
        connector_id=r.str("connectorID"),
        claims=_decode_claims(r.sub("claims")),
        created_at=r.time("CreatedAt"),
        last_used=r.time("LastUsed"),
        scopes=r.strs("scopes"),
        obsolete_token=r.str("obsoleteToken"),
        nonce=r.str("nonce"),
        connector_data=r.bytes("connectorData"),
        grant_id=ext.str("grantID"),
        session_id=ext.str("sessionID"),
    )


def _encode_refs(refs: dict[str, RefreshTokenRef]) -> JSON:
    return {
        key: {
            "ID": ref.id,
            "ClientID": ref.client_id,
            "CreatedAt": format_time(ref.created_at),
            "LastUsed": format_time(ref.last_used),
        }
        for key, ref in refs.items()
    }


def _decode_refs(refs: _Reader) -> dict[str, RefreshTokenRef]:
    out = {}
    for key in refs.body:
        ref = refs.sub(key)
        out[key] = RefreshTokenRef(
            id=ref.str("ID"), client_id=ref.str("ClientID"), created_at=ref.time("CreatedAt"), last_used=ref.time("LastUsed")
        )
    return out


def encode_offline_sessions(o: OfflineSessions) -> JSON:
    body = _omitempty({}, userID=o.user_id, connID=o.conn_id, refresh=_encode_refs(o.refresh),
                      connectorData=encode_bytes(o.connector_data))
    return body | _extension(tokens=_encode_refs(o.tokens))


def decode_offline_sessions(obj: JSON) -> OfflineSessions:
    r, ext = _Reader(obj), _Reader(obj).sub(EXTENSION)
    return OfflineSessions(user_id=r.str("userID"), conn_id=r.str("connID"), refresh=_decode_refs(r.sub("refresh")),
                           connector_data=r.bytes("connectorData"), tokens=_decode_refs(ext.sub("tokens")))


def encode_password(p: Password) -> JSON:
    body = _omitempty(
        {}, email=p.email.lower(), hash=encode_bytes(p.hash), username=p.username, name=p.name, preferredUsername=p.preferred_username
    )
    if not p.email_verified:
        body["emailVerified"] = False  # Dex's *bool: left out (nil) means verified
    return _omitempty(body, userID=p.user_id, groups=p.groups)


def decode_password(obj: JSON) -> Password:
    r = _Reader(obj)
    return Password(
        email=r.str("email"),
        hash=r.bytes("hash"),
        username=r.str("username"),
        name=r.str("name"),
        preferred_username=r.str("preferredUsername"),
        email_verified=r.bool("emailVerified", default=True),  # Dex: a missing value means verified
        user_id=r.str("userID"),
        groups=r.strs("groups"),
    )


def encode_connector(c: ConnectorRecord) -> JSON:
    body = _omitempty({}, id=c.id, type=c.type, name=c.name, config=encode_bytes(c.config), grantTypes=c.grant_types)
    return body | {EXTENSION: {"resourceVersion": c.resource_version}}  # kept even when empty: see decode


def decode_connector(obj: JSON) -> ConnectorRecord:
    r, ext = _Reader(obj), _Reader(obj).sub(EXTENSION)
    return ConnectorRecord(
        id=r.str("id"),
        type=r.str("type"),
        name=r.str("name"),
        config=r.bytes("config"),
        # dexpy stores the caller's version as given; for an object Dex wrote, report its resourceVersion as Dex does.
        resource_version=ext.str("resourceVersion") if "resourceVersion" in ext.body else r.sub("metadata").str("resourceVersion"),
        grant_types=r.strs("grantTypes"),
    )


def encode_keys(k: Keys) -> JSON:
    verification = [{"publicKey": v.public_key, "expiry": format_time(v.expiry)} for v in k.verification_keys]
    body = _omitempty({}, signingKey=k.signing_key, signingKeyPub=k.signing_key_pub, verificationKeys=verification)
    body["nextRotation"] = format_time(k.next_rotation)
    return body | _extension(stateKeys=[encode_bytes(key) for key in k.state_keys])


def decode_keys(obj: JSON) -> Keys:
    r = _Reader(obj)
    verification = [VerificationKey(public_key=v.dict("publicKey"), expiry=v.time("expiry")) for v in r.items("verificationKeys")]
    return Keys(
        signing_key=r.dict("signingKey") or None,
        signing_key_pub=r.dict("signingKeyPub") or None,
        verification_keys=verification,
        next_rotation=r.time("nextRotation"),
        state_keys=[decode_bytes(key) for key in _Reader(obj).sub(EXTENSION).strs("stateKeys")],
    )


def encode_device_request(d: DeviceRequest) -> JSON:
    body = _omitempty({}, device_code=d.device_code, client_id=d.client_id, client_secret=d.client_secret, scopes=d.scopes)
    body["expiry"] = format_time(d.expiry)
    return body


def decode_device_request(obj: JSON) -> DeviceRequest:
    r = _Reader(obj)
    return DeviceRequest(
        user_code=r.name().upper(),
        device_code=r.str("device_code"),
        client_id=r.str("client_id"),
        expiry=r.time("expiry"),
        client_secret=r.str("client_secret"),
        scopes=r.strs("scopes"),
    )


def encode_device_token(t: DeviceToken) -> JSON:
    body = _omitempty({}, status=t.status, token=t.token)
    body |= {"expiry": format_time(t.expiry), "last_request": format_time(t.last_request), "poll_interval": t.poll_interval}
    return _omitempty(body, code_challenge=t.code_challenge, code_challenge_method=t.code_challenge_method)


def decode_device_token(obj: JSON) -> DeviceToken:
    r = _Reader(obj)
    return DeviceToken(
        device_code=r.name(),
        status=r.str("status"),
        expiry=r.time("expiry"),
        last_request=r.time("last_request"),
        poll_interval=r.int("poll_interval"),
        token=r.str("token"),
        code_challenge=r.str("code_challenge"),
        code_challenge_method=r.str("code_challenge_method"),
    )


def encode_revocation(v: Revocation) -> JSON:
    return {"id": v.id, "expiry": format_time(v.expiry)}


def decode_revocation(obj: JSON) -> Revocation:
    r = _Reader(obj)
    return Revocation(id=r.str("id"), expiry=r.time("expiry"))


def encode_failure_counter(v: FailureCounter) -> JSON:
    return {"id": v.id, "failures": v.failures, "lastFailure": format_time(v.last_failure),
            "lockedUntil": format_time(v.locked_until), "expiry": format_time(v.expiry)}


def decode_failure_counter(obj: JSON) -> FailureCounter:
    r = _Reader(obj)
    return FailureCounter(id=r.str("id"), failures=r.int("failures"), last_failure=r.time("lastFailure"),
                          locked_until=r.time("lockedUntil"), expiry=r.time("expiry"))
