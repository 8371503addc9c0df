"""The LDAP connector's config, with Dex's key names, checked once when the connector is built.

Dex's fields are all here (`kerberos`, unreleased in Dex, is not). dexpy adds `connectTimeout`, `timeout`
and `poolSize`. Every problem raises ConnectorConfigError naming the key (e.g. `userSearch.baseDN`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import ldap3

from dexpy.config import key
from dexpy.connectors.base import ConnectorConfigError
from dexpy.schema import ConfigError, decode

SCOPES = {"": ldap3.SUBTREE, "sub": ldap3.SUBTREE, "one": ldap3.LEVEL}
DN_ATTR = "dn"
"""`idAttr: DN` and `userAttr: DN` (any case) mean the entry's DN."""


@dataclass
class UserMatcher:
    user_attr: str = ""
    group_attr: str = ""
    recursion_group_attr: str = ""


@dataclass
class UserSearch:
    base_dn: str = field(default="", metadata=key("baseDN"))
    filter: str = ""
    username: Any = None
    """One attribute name, or a list of them (matched with OR)."""
    scope: str = ""
    id_attr: str = ""
    email_attr: str = ""
    name_attr: str = ""
    preferred_username_attr: str = ""
    email_suffix: str = ""


@dataclass
class GroupSearch:
    base_dn: str = field(default="", metadata=key("baseDN"))
    filter: str = ""
    scope: str = ""
    user_matchers: list[UserMatcher] = field(default_factory=list)
    user_attr: str = ""
    """Deprecated single matcher (with `groupAttr`, `recursionGroupAttr`), used when `userMatchers` is empty."""
    group_attr: str = ""
    recursion_group_attr: str = ""
    name_attr: str = ""


@dataclass
class LDAPConfig:
    host: str = ""
    insecure_no_ssl: bool = field(default=False, metadata=key("insecureNoSSL"))
    insecure_skip_verify: bool = False
    start_tls: bool = field(default=False, metadata=key("startTLS"))
    root_ca: str = field(default="", metadata=key("rootCA"))
    root_ca_data: str = field(default="", metadata=key("rootCAData"))
    """Base64 of PEM, as Dex (a Go []byte) reads it; plain PEM text is accepted too."""
    client_cert: str = ""
    client_key: str = ""
    bind_dn: str = field(default="", metadata=key("bindDN"))
    bind_pw: str = field(default="", metadata=key("bindPW"))
    username_prompt: str = ""
    user_search: UserSearch = field(default_factory=UserSearch)
    group_search: GroupSearch = field(default_factory=GroupSearch)
    connect_timeout: timedelta = timedelta(seconds=5)
    timeout: timedelta = timedelta(seconds=10)
    """Longest wait for one LDAP operation's answer (and for a free pooled connection)."""
    pool_size: int = 10
    """Connections kept per pool (one pool searches as the service account, one checks passwords)."""


def parse_config(raw: Any) -> LDAPConfig:
    try:
        config = decode(LDAPConfig, raw)
    except ConfigError as exc:
        raise ConnectorConfigError(exc.path or "config", exc.message) from exc
    _check(config)
    return config


def username_attrs(search: UserSearch) -> list[str]:
    names = [search.username] if isinstance(search.username, str) else search.username
    return [name for name in names or [] if name]


def matchers(search: GroupSearch) -> list[UserMatcher]:
    if search.user_matchers:
        return search.user_matchers
    if search.user_attr or search.group_attr:
        return [UserMatcher(search.user_attr, search.group_attr, search.recursion_group_attr)]
    return []


def _require(value: object, path: str) -> None:
    if not value:
        raise ConnectorConfigError(path, "required")


def _check_filter(text: str, path: str) -> None:
    if text and not (text.startswith("(") and text.endswith(")")):
        raise ConnectorConfigError(path, f"an LDAP filter must be enclosed in parentheses, got {text!r}")


def _check_scope(text: str, path: str) -> None:
    if text not in SCOPES:
        raise ConnectorConfigError(path, f"must be 'sub' or 'one', got {text!r}")


def _check(config: LDAPConfig) -> None:
    _require(config.host, "host")
    if bool(config.client_cert) != bool(config.client_key):
        raise ConnectorConfigError("clientKey" if config.client_cert else "clientCert",
                                   "clientCert and clientKey must be given together")
    if config.timeout <= timedelta(0) or config.connect_timeout <= timedelta(0):
        raise ConnectorConfigError("timeout" if config.timeout <= timedelta(0) else "connectTimeout",
                                   "must be positive")
    if config.pool_size < 1:
        raise ConnectorConfigError("poolSize", "must be at least 1")
    if bool(config.bind_dn) != bool(config.bind_pw):
        raise ConnectorConfigError("bindPW" if config.bind_dn else "bindDN",
                                   "bindDN and bindPW must be given together (both empty: anonymous search)")
    users = config.user_search
    _require(users.base_dn, "userSearch.baseDN")
    if not (isinstance(users.username, str) or (isinstance(users.username, list)
                                                 and all(isinstance(n, str) for n in users.username))):
        raise ConnectorConfigError("userSearch.username", "required: an attribute name or a list of them")
    _require(username_attrs(users), "userSearch.username")
    _check_scope(users.scope, "userSearch.scope")
    _check_filter(users.filter, "userSearch.filter")
    _require(users.id_attr, "userSearch.idAttr")
    if users.email_suffix:
        _require(users.name_attr, "userSearch.nameAttr")  # the suffix rule appends to the nameAttr value
    else:
        _require(users.email_attr, "userSearch.emailAttr")
    groups = config.group_search
    _check_scope(groups.scope, "groupSearch.scope")
    _check_filter(groups.filter, "groupSearch.filter")
    if groups.base_dn:
        _require(groups.name_attr, "groupSearch.nameAttr")
        _require(matchers(groups), "groupSearch.userMatchers")
        for i, matcher in enumerate(matchers(groups)):
            where = f"groupSearch.userMatchers[{i}]" if groups.user_matchers else "groupSearch"
            _require(matcher.user_attr, f"{where}.userAttr")
            _require(matcher.group_attr, f"{where}.groupAttr")
