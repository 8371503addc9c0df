"""The typed configuration, in Dex's YAML format (Dex's key names), validated once at start-up.

Each dataclass field's YAML key is its `key` metadata when given, else the field name in lowerCamelCase.
Durations are Go-style strings in YAML ("6h", "30m", "1h30m", "500ms") and `timedelta` here.
`load_config(path)` parses, expands environment variables where Dex does, fills defaults and validates;
any problem raises `ConfigError` naming the file, the key path and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from dexpy.schema import ConfigError, Problem

__all__ = ["ConfigError", "Problem"]  # re-exported: config problems are raised as dexpy.config.ConfigError


def key(name: str) -> Any:
    """Field metadata naming the YAML key where lowerCamelCase of the field name is not it."""
    return {"key": name}


@dataclass
class StorageConfig:
    type: str
    """memory | sqlite3 | kubernetes"""
    config: dict[str, Any] = field(default_factory=dict)
    """The backend's own settings (sqlite3: `file`; kubernetes: `inCluster`, `kubeConfigFile`, `crdHandling`)."""


@dataclass
class ClientRemoteIP:
    header: str = ""
    trusted_proxies: list[str] = field(default_factory=list)


@dataclass
class WebConfig:
    http: str = ""
    https: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_min_version: str = "1.2"
    tls_max_version: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    allowed_origins: list[str] = field(default_factory=list)
    allowed_headers: list[str] = field(default_factory=lambda: ["Authorization"])
    client_remote_ip: ClientRemoteIP = field(default_factory=ClientRemoteIP, metadata=key("clientRemoteIP"))


@dataclass
class TelemetryConfig:
    http: str = ""
    enable_profiling: bool = False


@dataclass
class GRPCConfig:
    addr: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = field(default="", metadata=key("tlsClientCA"))
    tls_min_version: str = "1.2"
    tls_max_version: str = ""
    reflection: bool = False


@dataclass
class RefreshTokenExpiry:
    disable_rotation: bool = False
    reuse_interval: timedelta = timedelta(0)
    valid_if_not_used_for: timedelta = timedelta(0)
    """0 means never."""
    absolute_lifetime: timedelta = timedelta(0)
    """0 means never."""


@dataclass
class ExpiryConfig:
    signing_keys: timedelta = timedelta(hours=6)
    id_tokens: timedelta = timedelta(hours=24)
    auth_requests: timedelta = timedelta(hours=24)
    """How long a login may take from /auth to the end (bounds the signed login state)."""
    device_requests: timedelta = timedelta(minutes=5)
    refresh_tokens: RefreshTokenExpiry = field(default_factory=RefreshTokenExpiry)


@dataclass
class PKCEConfig:
    enforce: bool = False
    code_challenge_methods_supported: list[str] = field(default_factory=lambda: ["S256", "plain"])


@dataclass
class OAuth2Config:
    grant_types: list[str] = field(default_factory=list)
    """Empty: every grant dexpy supports that the rest of the config enables."""
    response_types: list[str] = field(default_factory=lambda: ["code"])
    skip_approval_screen: bool = False
    always_show_login_screen: bool = False
    password_connector: str = ""
    pkce: PKCEConfig = field(default_factory=PKCEConfig, metadata=key("pkce"))


@dataclass
class SignerLocalConfig:
    keys_rotation_period: timedelta | None = None
    """When unset, `expiry.signingKeys` applies."""
    algorithm: str = "RS256"
    """RS256 | ES256"""


@dataclass
class SignerConfig:
    type: str = "local"
    config: SignerLocalConfig = field(default_factory=SignerLocalConfig)


@dataclass
class FrontendConfig:
    dir: str = ""
    logo_url: str = field(default="", metadata=key("logoURL"))
    issuer: str = "dexpy"
    theme: str = "light"
    """light | dark (Dex's legacy coreos/tectonic mean light)."""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class LoggerConfig:
    level: str = "info"
    """debug | info | warn | error"""
    format: str = "text"
    """text | json"""
    exclude_fields: list[str] = field(default_factory=list)


@dataclass
class StaticClient:
    id: str = ""
    id_env: str = ""
    secret: str = ""
    secret_env: str = ""
    name: str = ""
    redirect_uris: list[str] = field(default_factory=list, metadata=key("redirectURIs"))
    trusted_peers: list[str] = field(default_factory=list)
    public: bool = False
    logo_url: str = field(default="", metadata=key("logoURL"))
    post_logout_redirect_uris: list[str] = field(default_factory=list, metadata=key("postLogoutRedirectURIs"))
    backchannel_logout_uri: str = field(default="", metadata=key("backchannelLogoutURI"))
    allowed_connectors: list[str] = field(default_factory=list)
    client_credentials_claims: dict[str, list[str]] = field(default_factory=dict)
    """Only `groups` is read."""


@dataclass
class StaticPassword:
    email: str
    hash: str = ""
    """bcrypt, or base64 of a bcrypt string, as Dex accepts."""
    hash_from_env: str = ""
    username: str = ""
    name: str = ""
    preferred_username: str = ""
    email_verified: bool = True
    user_id: str = field(default="", metadata=key("userID"))
    groups: list[str] = field(default_factory=list)


@dataclass
class ConnectorConfig:
    type: str
    id: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    grant_types: list[str] = field(default_factory=list)


@dataclass
class SessionsConfig:
    """Browser sessions (SSO); dexpy has them on by default."""

    cookie_name: str = "dexpy_session"
    absolute_lifetime: timedelta = timedelta(hours=24)
    valid_if_not_used_for: timedelta = timedelta(hours=1)


@dataclass
class Config:
    issuer: str
    storage: StorageConfig
    web: WebConfig = field(default_factory=WebConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    grpc: GRPCConfig = field(default_factory=GRPCConfig, metadata=key("grpc"))
    expiry: ExpiryConfig = field(default_factory=ExpiryConfig)
    oauth2: OAuth2Config = field(default_factory=OAuth2Config, metadata=key("oauth2"))
    signer: SignerConfig = field(default_factory=SignerConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    static_clients: list[StaticClient] = field(default_factory=list)
    enable_password_db: bool = field(default=False, metadata=key("enablePasswordDB"))
    static_passwords: list[StaticPassword] = field(default_factory=list)
    connectors: list[ConnectorConfig] = field(default_factory=list)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    source: str = field(default="", metadata={"internal": True})
    """The file this config came from (not a YAML key)."""
