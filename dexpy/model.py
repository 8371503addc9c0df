"""Plain typed records shared by every layer.

Field meanings follow Dex's `storage/storage.go`; the Kubernetes backend maps them to Dex's CRD JSON. Each
record kind that storage holds declares `key` (its identity within its kind). Records with an `expiry` are
removed by the garbage collector once it has passed (see `EXPIRING_KINDS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import ClassVar

EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)
"""Go's zero time, which Dex writes for unset timestamps."""


@dataclass
class Claims:
    """What a connector says about a user; copied into tokens."""

    user_id: str
    username: str = ""
    preferred_username: str = ""
    email: str = ""
    email_verified: bool = False
    groups: list[str] = field(default_factory=list)


@dataclass
class Client:
    id: str
    name: str = ""
    secret: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    trusted_peers: list[str] = field(default_factory=list)
    public: bool = False
    logo_url: str = ""
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str = ""
    allowed_connectors: list[str] = field(default_factory=list)
    client_credentials_groups: list[str] = field(default_factory=list)
    """`clientCredentialsClaims.groups`: the groups a client_credentials token carries."""

    KIND: ClassVar[str] = "client"

    @property
    def key(self) -> str:
        return self.id


@dataclass
class AuthCode:
    """A stored authorization code. Kept (marked `used`) after redemption until it expires, so that a
    replay can be recognised and the tokens it issued revoked (RFC 6749 §4.1.2)."""

    id: str
    client_id: str
    redirect_uri: str
    claims: Claims
    connector_id: str
    expiry: datetime
    scopes: list[str] = field(default_factory=list)
    nonce: str = ""
    connector_data: bytes = b""
    code_challenge: str = ""
    code_challenge_method: str = ""
    auth_time: datetime = EPOCH
    session_id: str = ""
    grant_id: str = ""
    """The grant this code starts; access tokens carry it so that revoking the grant stops them."""
    used: bool = False
    refresh_id: str = ""
    """The refresh token issued when the code was redeemed, revoked if the code is replayed."""

    KIND: ClassVar[str] = "authcode"

    @property
    def key(self) -> str:
        return self.id


@dataclass
class RefreshToken:
    id: str
    token: str
    client_id: str
    connector_id: str
    claims: Claims
    created_at: datetime
    last_used: datetime
    scopes: list[str] = field(default_factory=list)
    obsolete_token: str = ""
    nonce: str = ""
    connector_data: bytes = b""
    grant_id: str = ""
    session_id: str = ""

    KIND: ClassVar[str] = "refreshtoken"

    @property
    def key(self) -> str:
        return self.id


@dataclass
class RefreshTokenRef:
    id: str
    client_id: str
    created_at: datetime
    last_used: datetime


def offline_session_key(user_id: str, conn_id: str) -> str:
    """The storage key of the OfflineSessions of (user, connector); unambiguous for any strings."""
    return json.dumps([user_id, conn_id])


@dataclass
class OfflineSessions:
    user_id: str
    conn_id: str
    refresh: dict[str, RefreshTokenRef] = field(default_factory=dict)
    """Keyed by client ID, as Dex keys it: the newest token of each client."""
    connector_data: bytes = b""
    tokens: dict[str, RefreshTokenRef] = field(default_factory=dict)
    """dexpy-only: every live refresh token of the user on the connector, keyed by refresh ID (a user may
    hold several per client: laptop and phone)."""

    KIND: ClassVar[str] = "offlinesessions"

    @property
    def key(self) -> str:
        return offline_session_key(self.user_id, self.conn_id)

    def all_refs(self) -> dict[str, RefreshTokenRef]:
        """Every linked token by refresh ID, including those a Dex wrote (in `refresh` only)."""
        return {**{ref.id: ref for ref in self.refresh.values()}, **self.tokens}


@dataclass
class Password:
    email: str
    hash: bytes
    username: str = ""
    user_id: str = ""
    name: str = ""
    preferred_username: str = ""
    email_verified: bool = True
    groups: list[str] = field(default_factory=list)

    KIND: ClassVar[str] = "password"

    @property
    def key(self) -> str:
        return self.email.lower()


@dataclass
class ConnectorRecord:
    """A connector stored in the backend (Dex's `Connector`); `config` is the connector's JSON."""

    id: str
    type: str
    name: str
    config: bytes = b"{}"
    resource_version: str = ""
    grant_types: list[str] = field(default_factory=list)

    KIND: ClassVar[str] = "connector"

    @property
    def key(self) -> str:
        return self.id


@dataclass
class VerificationKey:
    public_key: dict[str, object]
    """A public JWK."""
    expiry: datetime


KEYS_KEY = "openid-connect-keys"


@dataclass
class Keys:
    """The one signing key set, shared by every replica."""

    signing_key: dict[str, object] | None = None
    """The private JWK that signs now."""
    signing_key_pub: dict[str, object] | None = None
    verification_keys: list[VerificationKey] = field(default_factory=list)
    next_rotation: datetime = EPOCH
    state_keys: list[bytes] = field(default_factory=list)
    """dexpy-only: 32-byte AES keys that seal login state and CSRF tokens, newest first. Rotated with the
    signing key; the previous one is kept so that logins in flight survive a rotation."""

    KIND: ClassVar[str] = "keys"

    @property
    def key(self) -> str:
        return KEYS_KEY


@dataclass
class DeviceRequest:
    user_code: str
    device_code: str
    client_id: str
    expiry: datetime
    client_secret: str = ""
    scopes: list[str] = field(default_factory=list)

    KIND: ClassVar[str] = "devicerequest"

    @property
    def key(self) -> str:
        return self.user_code


@dataclass
class DeviceToken:
    device_code: str
    status: str
    expiry: datetime
    last_request: datetime
    poll_interval: int = 5
    token: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""

    KIND: ClassVar[str] = "devicetoken"

    @property
    def key(self) -> str:
        return self.device_code


@dataclass
class Revocation:
    """dexpy's own: a grant, session or token id whose access tokens no longer count. Kept until every
    token it could stop has expired."""

    id: str
    expiry: datetime

    KIND: ClassVar[str] = "revocation"

    @property
    def key(self) -> str:
        return self.id


@dataclass
class FailureCounter:
    """dexpy's own: failed password or client-secret attempts for one user, client or client IP, shared by
    every replica. Written only on failures; forgotten (garbage collected) at `expiry`."""

    id: str
    """`user:<connector>:<username>`, `client:<client id>` or `ip:<address>`."""
    failures: int
    last_failure: datetime
    expiry: datetime
    locked_until: datetime = EPOCH

    KIND: ClassVar[str] = "failurecounter"

    @property
    def key(self) -> str:
        return self.id


Record = Client | AuthCode | RefreshToken | OfflineSessions | Password | ConnectorRecord | Keys | DeviceRequest | DeviceToken | Revocation | FailureCounter

RECORD_KINDS: tuple[type, ...] = (
    Client,
    AuthCode,
    RefreshToken,
    OfflineSessions,
    Password,
    ConnectorRecord,
    Keys,
    DeviceRequest,
    DeviceToken,
    Revocation,
    FailureCounter,
)

EXPIRING_KINDS: tuple[type, ...] = (AuthCode, DeviceRequest, DeviceToken, Revocation, FailureCounter)
"""Kinds whose `expiry` field lets the garbage collector delete them."""
