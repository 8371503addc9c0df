"""The typed configuration, in Dex's YAML format (Dex's key names), validated once at start-up.

Each dataclass field's YAML key is its `key` metadata when given, else the field name in lowerCamelCase.
Durations are Go-style strings in YAML ("6h", "30m", "1h30m", "500ms") and `timedelta` here.
`load_config(path)` parses, expands environment variables where Dex does, fills defaults and validates;
any problem raises `ConfigError` naming the file, the key path and what was expected.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import yaml

from dexpy.connectors.base import ConnectorConfigError, check_connector_config, connector_types
from dexpy.schema import ConfigError as ConfigError
from dexpy.schema import Problem as Problem
from dexpy.schema import decode, join, yaml_key


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
class LockoutConfig:
    """dexpy-only: brute-force protection for passwords and client secrets (Dex has none)."""

    enabled: bool = True
    max_failures: int = 5
    """Failed attempts per user (or client) before the first lockout."""
    ip_max_failures: int = 20
    """Failed attempts per client IP, over all users, before the first lockout."""
    duration: timedelta = timedelta(minutes=1)
    """The first lockout; each further failure after a lockout ends doubles it."""
    max_duration: timedelta = timedelta(minutes=15)
    failure_window: timedelta = timedelta(minutes=15)
    """A counter is forgotten this long after its last failure or lockout end."""


@dataclass
class RateLimitConfig:
    """dexpy-only: per-client-IP token buckets on /auth…, /device/code and /token (each its own bucket)."""

    enabled: bool = True
    requests_per_second: float = 20.0
    burst: int = 400


@dataclass
class RequestLimitsConfig:
    """dexpy-only: the largest request dexpy reads."""

    max_body_bytes: int = 64 * 1024
    max_headers: int = 100
    max_params: int = 100
    """Query plus form parameters."""
    max_url_bytes: int = field(default=8 * 1024, metadata=key("maxURLBytes"))


@dataclass
class SecurityConfig:
    lockout: LockoutConfig = field(default_factory=LockoutConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    limits: RequestLimitsConfig = field(default_factory=RequestLimitsConfig)


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
    security: SecurityConfig = field(default_factory=SecurityConfig)
    """dexpy-only: lockout, rate limits and request size limits (docs/security.md)."""
    source: str = field(default="", metadata={"internal": True})
    """The file this config came from (not a YAML key)."""


# --- loading -------------------------------------------------------------------------------------------------

STORAGE_TYPES = ("memory", "sqlite3", "kubernetes")
RESPONSE_TYPES = ("code", "token", "id_token", "code id_token", "code token", "id_token token",
                  "code id_token token")
"""What Dex accepts in `oauth2.responseTypes` (server/config.go)."""
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
CONNECTOR_GRANT_TYPES = ("authorization_code", "refresh_token", "implicit", "password", DEVICE_CODE_GRANT,
                         TOKEN_EXCHANGE_GRANT)
GRANT_TYPES = (*CONNECTOR_GRANT_TYPES, "client_credentials")
PKCE_METHODS = ("S256", "plain")
SIGNING_ALGORITHMS = ("RS256", "ES256")
TLS_VERSIONS = ("1.2", "1.3")
LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("text", "json")
THEMES = ("light", "dark")
LEGACY_THEMES = ("coreos", "tectonic")
"""Dex's old theme names; both render as `light`."""
LOCAL_CONNECTOR = "local"
"""The connector id `enablePasswordDB` adds."""

Report = Callable[[str, str], None]
"""report(key path, message): records one problem."""


@dataclass
class _SQLiteStorage:
    file: str = ""


@dataclass
class _KubernetesStorage:
    in_cluster: bool = False
    kube_config_file: str = ""
    crd_handling: str = "ensure"


_STORAGE_SCHEMAS: dict[str, type[Any]] = {"sqlite3": _SQLiteStorage, "kubernetes": _KubernetesStorage}


def load_config(path: str, env: Mapping[str, str] | None = None) -> Config:
    """Read, decode, expand, default and validate a Dex-format config file (`env`: default os.environ)."""
    env = os.environ if env is None else env
    raw = _read_yaml(path)
    if _feature_flag(env, "DEX_EXPAND_ENV", default=True):
        _expand_config_blocks(raw, env)
    config = decode(Config, raw, source=path)
    config.source = path
    _fill_defaults(config, env)
    _run_checks(config, (lambda c, report: _resolve_env_references(c, env, report), *_CHECKS))
    return config


def with_overrides(config: Config, web_http: str | None = None, web_https: str | None = None,
                   telemetry: str | None = None, grpc: str | None = None) -> Config:
    """A copy of `config` with the listen addresses the command line gave (`dexpy serve --web-http-addr` …)."""
    web = dataclasses.replace(config.web, http=_first(web_http, config.web.http),
                              https=_first(web_https, config.web.https))
    changed = dataclasses.replace(
        config, web=web,
        telemetry=dataclasses.replace(config.telemetry, http=_first(telemetry, config.telemetry.http)),
        grpc=dataclasses.replace(config.grpc, addr=_first(grpc, config.grpc.addr)),
    )
    _run_checks(changed, (_check_web, _check_grpc, _check_listen_addresses))
    return changed


def _run_checks(config: Config, checks: Iterable[Callable[[Config, Report], None]]) -> None:
    """Run `checks` on `config`; raise one ConfigError with every problem they report."""
    problems: list[Problem] = []
    for check in checks:
        check(config, lambda where, message: problems.append(Problem(config.source, where, message)))
    if problems:
        raise ConfigError(problems=problems)


def _first(override: str | None, value: str) -> str:
    return value if override is None else override


class _StrictLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; Go's YAML parser, like us, refuses the file."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys: set[Any] = set()
        for key_node, _ in node.value:
            name = self.construct_object(key_node, deep=True)
            if name in keys:
                raise yaml.constructor.ConstructorError(None, None, f"key {name!r} is given twice",
                                                        key_node.start_mark)
            keys.add(name)
        return super().construct_mapping(node, deep)


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.load(f, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read the config file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"the config file is not UTF-8 text: {exc.reason}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, "", f"invalid YAML: {where}{problem}") from exc
    if raw is None:
        raise ConfigError(path, "", "the config file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(path, "", f"expected a mapping of settings at the top, got {type(raw).__name__}")
    return raw


def _feature_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Dex's feature flags: Go's strconv.ParseBool; unset or unparsable keeps the default."""
    value = env.get(name, "")
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return default


_ENV_REFERENCE = re.compile(r"\$(?:\{([^}]*)\}|\{|([*#$@!?\-0-9]|[A-Za-z_][A-Za-z0-9_]*))")


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Go's os.ExpandEnv: `$VAR` and `${VAR}` become the variable's value, "" when unset; a `$` before
    anything else stays."""
    return _ENV_REFERENCE.sub(lambda m: env.get(m.group(1) or m.group(2) or "", ""), text)


def _expand_tree(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return expand_env(value, env)
    if isinstance(value, list):
        return [_expand_tree(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _expand_tree(v, env) for k, v in value.items()}
    return value


def _expand_config_blocks(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """Expand env references in `storage.config`, each `connectors[].config` and `signer.config` only, as Dex
    does; done on the raw YAML so that a duration or flag may come from the environment too."""
    def expand_config_of(block: Any) -> None:
        if isinstance(block, dict):
            for k in [k for k in block if str(k).lower() == "config"]:
                block[k] = _expand_tree(block[k], env)

    for k, v in raw.items():
        name = str(k).lower()
        if name in ("storage", "signer"):
            expand_config_of(v)
        elif name == "connectors" and isinstance(v, list):
            for connector in v:
                expand_config_of(connector)


def _resolve_env_references(config: Config, env: Mapping[str, str], report: Report) -> None:
    """`idEnv`, `secretEnv` and `hashFromEnv` name variables holding the value."""
    def read(path: str, variable: str) -> str:
        value = env.get(variable, "")
        if not value:
            report(path, f"environment variable {variable} is not set or empty")
        return value

    for i, client in enumerate(config.static_clients):
        where = join("staticClients", i)
        if client.id_env:
            if client.id:
                report(join(where, "idEnv"), "give either id or idEnv, not both")
            client.id = read(join(where, "idEnv"), client.id_env)
        if client.secret_env:
            if client.secret:
                report(join(where, "secretEnv"), "give either secret or secretEnv, not both")
            client.secret = read(join(where, "secretEnv"), client.secret_env)
    for i, password in enumerate(config.static_passwords):
        if password.hash_from_env:
            where = join(join("staticPasswords", i), "hashFromEnv")
            if password.hash:
                report(where, "give either hash or hashFromEnv, not both")
            password.hash = read(where, password.hash_from_env)


def _fill_defaults(config: Config, env: Mapping[str, str]) -> None:
    """Every default that depends on other settings or on the environment, in one place."""
    if config.signer.config.keys_rotation_period is None:
        config.signer.config.keys_rotation_period = config.expiry.signing_keys
    if not config.frontend.dir:
        config.frontend.dir = env.get("DEX_FRONTEND_DIR", "")
    if config.frontend.theme in LEGACY_THEMES or not config.frontend.theme:
        config.frontend.theme = "light"
    config.logger.level = config.logger.level.lower()
    config.logger.format = config.logger.format.lower()


def _one_of(report: Report, path: str, value: str, allowed: Iterable[str], what: str = "") -> None:
    allowed = list(allowed)
    if value in allowed:
        return
    close = ([a for a in allowed if a.endswith(":" + value) or sorted(a.split()) == sorted(value.split())]
             or difflib.get_close_matches(value, allowed, n=1, cutoff=0.7))
    hint = f"; did you mean {close[0]!r}?" if close else ""
    report(path, f"{what or 'value'} {value!r} is not one of {', '.join(allowed)}{hint}")


def _each_one_of(report: Report, path: str, values: list[str], allowed: Iterable[str], what: str) -> None:
    for i, value in enumerate(values):
        _one_of(report, join(path, i), value, allowed, what)


def _is_absolute_url(value: str, schemes: Iterable[str] = ()) -> bool:
    """Has a scheme (one of `schemes` when given) and, for http(s), a host; `urn:…` and `app:/cb` qualify."""
    parts = urlsplit(value)
    if schemes and parts.scheme not in schemes:
        return False
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


def _check_issuer(config: Config, report: Report) -> None:
    parts = urlsplit(config.issuer)
    if not config.issuer:
        report("issuer", "required: the URL clients discover this server at")
    elif not _is_absolute_url(config.issuer, ("http", "https")):
        report("issuer", f"must be an absolute http(s) URL, got {config.issuer!r}")
    elif parts.query or parts.fragment:
        report("issuer", "must not have a query or fragment")


def _check_storage(config: Config, report: Report) -> None:
    storage = config.storage
    if storage.type not in STORAGE_TYPES:
        _one_of(report, "storage.type", storage.type, STORAGE_TYPES, "storage type")
        return
    schema = _STORAGE_SCHEMAS.get(storage.type)
    if schema is None:
        if storage.config:
            report("storage.config", f"storage type {storage.type} takes no config")
        return
    try:
        settings = decode(schema, storage.config, path="storage.config", source=config.source)
    except ConfigError as exc:
        for p in exc.problems:
            report(p.path, p.message)
        return
    # Canonical keys, defaults filled: the backends read `storage.config["file"]` and the like.
    storage.config = {yaml_key(f): getattr(settings, f.name) for f in dataclasses.fields(settings)}
    if isinstance(settings, _SQLiteStorage) and not settings.file:
        report("storage.config.file", "required for sqlite3 storage: the database file")
    if isinstance(settings, _KubernetesStorage):
        if settings.in_cluster == bool(settings.kube_config_file):
            report("storage.config", "kubernetes storage needs exactly one of inCluster: true or kubeConfigFile")
        _one_of(report, "storage.config.crdHandling", settings.crd_handling, ("ensure", "check"))


def _check_tls_versions(report: Report, path: str, minimum: str, maximum: str) -> None:
    for name, value in (("tlsMinVersion", minimum), ("tlsMaxVersion", maximum)):
        if value:
            _one_of(report, join(path, name), value, TLS_VERSIONS, "TLS version")
    if minimum in TLS_VERSIONS and maximum in TLS_VERSIONS and minimum > maximum:
        report(join(path, "tlsMinVersion"), f"TLS version {minimum} is above tlsMaxVersion {maximum}")


def _check_web(config: Config, report: Report) -> None:
    web = config.web
    if not web.http and not web.https:
        report("web", "give an address to listen on: web.http or web.https")
    if web.https:
        for name, value in (("tlsCert", web.tls_cert), ("tlsKey", web.tls_key)):
            if not value:
                report(join("web", name), "required with web.https")
    _check_tls_versions(report, "web", web.tls_min_version, web.tls_max_version)
    for i, proxy in enumerate(web.client_remote_ip.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            report(f"web.clientRemoteIP.trustedProxies[{i}]", f"not an IP address or CIDR range: {proxy!r}")


def _check_listen_addresses(config: Config, report: Report) -> None:
    for key, addr in (("web.http", config.web.http), ("web.https", config.web.https),
                      ("telemetry.http", config.telemetry.http), ("grpc.addr", config.grpc.addr)):
        _, colon, port = addr.rpartition(":")
        if addr and not (colon and port.isdigit() and 0 < int(port) < 65536):
            report(key, f"not a host:port address with a port from 1 to 65535: {addr!r}")


def _check_grpc(config: Config, report: Report) -> None:
    grpc = config.grpc
    if bool(grpc.tls_cert) != bool(grpc.tls_key):
        report("grpc", "tlsCert and tlsKey must be given together")
    if grpc.tls_client_ca and not grpc.tls_cert:
        report("grpc.tlsClientCA", "needs grpc.tlsCert and grpc.tlsKey")
    if grpc.tls_cert and not grpc.addr:
        report("grpc.addr", "required when gRPC TLS is configured")
    _check_tls_versions(report, "grpc", grpc.tls_min_version, grpc.tls_max_version)
    # grpcio's Python API cannot bound the TLS versions: it always offers 1.2 and 1.3. Refuse what it
    # cannot keep rather than accept the setting and serve something else.
    for key, value, refused, allowed in (("tlsMinVersion", grpc.tls_min_version, "1.3", "1.2"),
                                         ("tlsMaxVersion", grpc.tls_max_version, "1.2", "1.3")):
        if value == refused:
            report(f"grpc.{key}", f"{refused} cannot be enforced: grpcio's TLS always accepts 1.2 and 1.3 (leave it "
                                  f"unset or {allowed})")


def _check_oauth2(config: Config, report: Report) -> None:
    oauth2 = config.oauth2
    _each_one_of(report, "oauth2.grantTypes", oauth2.grant_types, GRANT_TYPES, "grant type")
    _each_one_of(report, "oauth2.responseTypes", oauth2.response_types, RESPONSE_TYPES, "response type")
    _each_one_of(report, "oauth2.pkce.codeChallengeMethodsSupported",
                 oauth2.pkce.code_challenge_methods_supported, PKCE_METHODS, "code challenge method")
    if oauth2.pkce.enforce and not oauth2.pkce.code_challenge_methods_supported:
        report("oauth2.pkce.codeChallengeMethodsSupported", "must not be empty when pkce.enforce is true")
    connector = oauth2.password_connector
    if connector and connector not in _connector_ids(config):
        hint = " (enable it with enablePasswordDB: true)" if connector == LOCAL_CONNECTOR else ""
        report("oauth2.passwordConnector", f"no connector with id {connector!r}{hint}")


def _check_signer(config: Config, report: Report) -> None:
    _one_of(report, "signer.type", config.signer.type, ("local",), "signer type")
    _one_of(report, "signer.config.algorithm", config.signer.config.algorithm, SIGNING_ALGORITHMS, "algorithm")


def _check_durations(config: Config, report: Report) -> None:
    expiry, refresh, sessions = config.expiry, config.expiry.refresh_tokens, config.sessions
    positive = {
        "expiry.signingKeys": expiry.signing_keys, "expiry.idTokens": expiry.id_tokens,
        "expiry.authRequests": expiry.auth_requests, "expiry.deviceRequests": expiry.device_requests,
        "sessions.absoluteLifetime": sessions.absolute_lifetime,
        "sessions.validIfNotUsedFor": sessions.valid_if_not_used_for,
    }
    if config.signer.config.keys_rotation_period is not None:
        positive["signer.config.keysRotationPeriod"] = config.signer.config.keys_rotation_period
    for path, value in positive.items():
        if value <= timedelta(0):
            report(path, "must be a positive duration")
    never_when_zero = {
        "expiry.refreshTokens.reuseInterval": refresh.reuse_interval,
        "expiry.refreshTokens.validIfNotUsedFor": refresh.valid_if_not_used_for,
        "expiry.refreshTokens.absoluteLifetime": refresh.absolute_lifetime,
    }
    for path, value in never_when_zero.items():
        if value < timedelta(0):
            report(path, "must not be negative")


def _check_presentation(config: Config, report: Report) -> None:
    # With a custom frontend.dir, any theme directory it holds may be named.
    if not config.frontend.dir:
        _one_of(report, "frontend.theme", config.frontend.theme, THEMES, "theme")
    _one_of(report, "logger.level", config.logger.level, LOG_LEVELS, "log level")
    _one_of(report, "logger.format", config.logger.format, LOG_FORMATS, "log format")
    if not config.sessions.cookie_name:
        report("sessions.cookieName", "must not be empty")


def _connector_ids(config: Config) -> list[str]:
    local = [LOCAL_CONNECTOR] if config.enable_password_db else []
    return [c.id for c in config.connectors] + local


def _check_connectors(config: Config, report: Report) -> None:
    if not config.connectors and not config.enable_password_db:
        report("connectors", "no connectors specified: add one, or set enablePasswordDB: true")
    known_types = connector_types()
    seen: set[str] = set()
    for i, connector in enumerate(config.connectors):
        where = join("connectors", i)
        for name in ("type", "id", "name"):
            if not getattr(connector, name):
                report(join(where, name), "required")
        if connector.type:
            _one_of(report, join(where, "type"), connector.type, known_types, "connector type")
        if connector.id in seen:
            report(join(where, "id"), f"another connector already has id {connector.id!r}")
        if connector.id == LOCAL_CONNECTOR and config.enable_password_db:
            report(join(where, "id"), "'local' is the password DB's connector id (enablePasswordDB)")
        seen.add(connector.id)
        _each_one_of(report, join(where, "grantTypes"), connector.grant_types, CONNECTOR_GRANT_TYPES,
                     "grant type")
        if connector.type in known_types:
            try:
                check_connector_config(connector.type, connector.config)
            except ConnectorConfigError as exc:
                report(join(join(where, "config"), exc.field), exc.message)


def _check_redirect(report: Report, path: str, uri: str, issuer_path: str) -> None:
    # Dex's own device callback path (`/dex/device/callback`) is the one relative URI it takes.
    if uri in ("/device/callback", issuer_path + "/device/callback"):
        return
    if not _is_absolute_url(uri):
        report(path, f"must be an absolute URI, got {uri!r}")


def _check_clients(config: Config, report: Report) -> None:
    issuer_path = urlsplit(config.issuer).path.rstrip("/")
    connectors = _connector_ids(config)
    seen: set[str] = set()
    for i, client in enumerate(config.static_clients):
        where = join("staticClients", i)
        if not client.id and not client.id_env:
            report(join(where, "id"), "required (or idEnv)")
        elif client.id in seen:
            report(join(where, "id"), f"another static client already has id {client.id!r}")
        seen.add(client.id)
        if not client.name:
            report(join(where, "name"), "required")
        if not client.public and not client.secret and not client.secret_env:
            report(join(where, "secret"), "required unless the client is public (or give secretEnv)")
        for key_name, uris in (("redirectURIs", client.redirect_uris),
                               ("postLogoutRedirectURIs", client.post_logout_redirect_uris)):
            for j, uri in enumerate(uris):
                _check_redirect(report, join(join(where, key_name), j), uri, issuer_path)
        if client.backchannel_logout_uri and not _is_absolute_url(client.backchannel_logout_uri,
                                                                   ("http", "https")):
            report(join(where, "backchannelLogoutURI"), "must be an absolute http(s) URL")
        for j, connector in enumerate(client.allowed_connectors):
            if connector not in connectors:
                report(join(join(where, "allowedConnectors"), j), f"no connector with id {connector!r}")
        unknown_claims = sorted(set(client.client_credentials_claims) - {"groups"})
        if unknown_claims:
            report(join(where, "clientCredentialsClaims"), f"only 'groups' is supported, got {unknown_claims}")


_BCRYPT = re.compile(r"\$2[abxy]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}")


def bcrypt_hash(value: str) -> str | None:
    """The bcrypt string `value` is, or is the base64 of (Dex accepts both); None when neither."""
    if _BCRYPT.fullmatch(value):
        return value
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if _BCRYPT.fullmatch(decoded) else None


def _check_passwords(config: Config, report: Report) -> None:
    if config.static_passwords and not config.enable_password_db:
        report("staticPasswords", "static passwords need enablePasswordDB: true")
    seen: set[str] = set()
    for i, password in enumerate(config.static_passwords):
        where = join("staticPasswords", i)
        if not password.email:
            report(join(where, "email"), "required")
        elif password.email.lower() in seen:
            report(join(where, "email"), f"another static password already has email {password.email!r}")
        seen.add(password.email.lower())
        if not password.hash and not password.hash_from_env:
            report(join(where, "hash"), "required: a bcrypt hash (or hashFromEnv)")
        elif password.hash:
            normalised = bcrypt_hash(password.hash)
            if normalised is None:
                report(join(where, "hashFromEnv" if password.hash_from_env else "hash"),
                       "not a bcrypt hash ($2a$…, $2b$…, $2y$…) nor base64 of one")
            else:
                password.hash = normalised


def _check_security(config: Config, report: Report) -> None:
    lockout, rate, limits = config.security.lockout, config.security.rate_limit, config.security.limits
    counts = {"security.lockout.maxFailures": lockout.max_failures,
              "security.lockout.ipMaxFailures": lockout.ip_max_failures, "security.rateLimit.burst": rate.burst,
              "security.limits.maxBodyBytes": limits.max_body_bytes, "security.limits.maxHeaders": limits.max_headers,
              "security.limits.maxParams": limits.max_params, "security.limits.maxURLBytes": limits.max_url_bytes}
    for path, value in counts.items():
        if value < 1:
            report(path, "must be at least 1")
    if rate.requests_per_second <= 0:
        report("security.rateLimit.requestsPerSecond", "must be positive")
    for path, duration in (("security.lockout.duration", lockout.duration),
                           ("security.lockout.maxDuration", lockout.max_duration),
                           ("security.lockout.failureWindow", lockout.failure_window)):
        if duration <= timedelta(0):
            report(path, "must be a positive duration")
    if lockout.max_duration < lockout.duration:
        report("security.lockout.maxDuration", "must not be shorter than security.lockout.duration")


_CHECKS: tuple[Callable[[Config, Report], None], ...] = (
    _check_issuer, _check_storage, _check_web, _check_listen_addresses, _check_grpc, _check_oauth2, _check_signer,
    _check_durations, _check_presentation, _check_connectors, _check_clients, _check_passwords,
    _check_security,
)
