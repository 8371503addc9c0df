"""Connector capabilities, the identity they return, their errors, and the type registry.

As in Dex, a connector is any object; small Protocols say what it can do. The server checks capabilities
with `isinstance` (the Protocols are runtime-checkable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeGuard, TypeVar, runtime_checkable

from dexpy.model import Claims


@dataclass(frozen=True)
class Scopes:
    """What the connector needs to know of the requested scopes."""

    offline_access: bool = False
    groups: bool = False


@dataclass
class Identity(Claims):
    """What a connector says about a user: the claims, plus data the connector wants back at refresh."""

    connector_data: bytes = b""

    def claims(self) -> Claims:
        return Claims(**{f.name: getattr(self, f.name) for f in fields(Claims)})

    @classmethod
    def of(cls, claims: Claims, connector_data: bytes = b"") -> Identity:
        return cls(**{f.name: getattr(claims, f.name) for f in fields(Claims)}, connector_data=connector_data)


class ConnectorError(Exception):
    """Base of the errors a connector raises."""


class ConnectorUnavailable(ConnectorError):
    """The upstream (directory, IdP) cannot be reached or timed out: a 503 to the user, try again later."""


class IdentityGone(ConnectorError):
    """At refresh: the user no longer exists upstream (deleted, moved, disabled): `invalid_grant`."""


class UserNotInRequiredGroups(ConnectorError):
    """The user authenticated but may not use this connector: 403."""


class ConnectorConfigError(ConnectorError):
    """The connector's config is wrong; `field` names the offending key (e.g. `userSearch.baseDN`)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


@runtime_checkable
class PasswordConnector(Protocol):
    prompt: str
    """The label of the username field ("Username", "Email Address")."""

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        """Return the identity, or None when the credentials are wrong (unknown user and wrong password
        alike). Raise ConnectorUnavailable when the upstream cannot answer."""
        ...


@runtime_checkable
class CallbackConnector(Protocol):
    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> str: ...

    def handle_callback(self, scopes: Scopes, params: Mapping[str, str]) -> Identity: ...


@runtime_checkable
class RefreshConnector(Protocol):
    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        """Re-check the user; raise IdentityGone when they no longer exist upstream."""
        ...


P = TypeVar("P")
_IMPLEMENTS: dict[tuple[type, type], bool] = {}


def implements(connector: object, protocol: type[P]) -> TypeGuard[P]:
    """`isinstance(connector, protocol)` for the runtime protocols here, remembered per connector class: a
    protocol check costs ~5 µs, and every login page and refresh grant asks. A connector class gives all its
    instances the same members (`prompt` included), so the first instance's answer holds for the class."""
    key = (type(connector), protocol)
    known = _IMPLEMENTS.get(key)
    if known is None:
        known = _IMPLEMENTS[key] = isinstance(connector, protocol)
    return known


@runtime_checkable
class TokenIdentityConnector(Protocol):
    def token_identity(self, subject_token_type: str, subject_token: str) -> Identity:
        """Verify an upstream token (RFC 8693 token exchange) and return who it names."""
        ...


@runtime_checkable
class Pingable(Protocol):
    def ping(self) -> None:
        """Raise ConnectorUnavailable when the upstream cannot be reached (readiness checks)."""
        ...


@runtime_checkable
class Closable(Protocol):
    def close(self) -> None:
        """Release what the connector holds upstream (pooled connections). Called once it is replaced or
        removed; a call still running on it may go on, and may reopen what it needs."""
        ...


ConnectorFactory = Callable[[Mapping[str, Any]], object]
"""Builds a connector from its `config` mapping; raises ConnectorConfigError on bad config."""

_REGISTRY: dict[str, ConnectorFactory] = {}
_CONFIG_CHECKS: dict[str, Callable[[Mapping[str, Any]], object]] = {}


def register(type_name: str, factory: ConnectorFactory, check: Callable[[Mapping[str, Any]], object]) -> None:
    """A connector type: `factory` opens one; `check` parses its config without opening anything, raising
    ConnectorConfigError for a wrong key (start-up config checks and the API use it)."""
    _REGISTRY[type_name] = factory
    _CONFIG_CHECKS[type_name] = check


def connector_types() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def build_connector(type_name: str, config: Mapping[str, Any]) -> object:
    """Open a connector of a registered type; KeyError for an unknown type."""
    _load_builtin()
    return _REGISTRY[type_name](config)


def check_connector_config(type_name: str, config: Mapping[str, Any]) -> None:
    """Raise ConnectorConfigError when a connector of a registered type would refuse `config`."""
    _load_builtin()
    _CONFIG_CHECKS[type_name](config)


def _load_builtin() -> None:
    # Importing the modules registers their types; done lazily so that ldap3 loads only when needed.
    import dexpy.connectors.ldap  # noqa: F401
    import dexpy.connectors.mock  # noqa: F401
