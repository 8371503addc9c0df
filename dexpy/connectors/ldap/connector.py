"""The LDAP connector: password login, refresh and group lookup, following Dex's `connector/ldap`.

Differences from Dex, on purpose: the username is escaped once (Dex escapes twice, so names with `( ) * \\`
or non-ASCII letters never match there); connections are pooled; duplicate groups are always removed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import ldap3

from dexpy.connectors.base import ConnectorError, Identity, IdentityGone, Scopes
from dexpy.connectors.ldap import filters
from dexpy.connectors.ldap.config import DN_ATTR, SCOPES, LDAPConfig, matchers, parse_config, username_attrs
from dexpy.connectors.ldap.transport import Pool, server_factory, opener

log = logging.getLogger(__name__)

_INVALID_CREDENTIALS = {49, 19}  # invalidCredentials, constraintViolation (e.g. a locked or expired password)
_NO_SUCH_OBJECT = 32


@dataclass(frozen=True)
class Entry:
    dn: str
    attrs: Mapping[str, list[str]]
    """Keyed by lower-cased attribute name."""

    def values(self, attr: str) -> list[str]:
        return [self.dn] if attr.lower() == DN_ATTR else list(self.attrs.get(attr.lower(), []))

    def first(self, attr: str, what: str) -> str:
        values = self.values(attr)
        if not values:
            raise ConnectorError(f"LDAP entry {self.dn!r} has no {attr!r} attribute ({what})")
        return values[0]


def _decode(value: bytes) -> str:
    return value.decode("utf-8", errors="backslashreplace")  # binary IDs (objectGUID) stay unique


def _entries(conn: ldap3.Connection) -> list[Entry]:
    return [Entry(item["dn"], {name.lower(): [_decode(v) for v in values]
                               for name, values in item["raw_attributes"].items()})
            for item in conn.response or [] if item.get("type") == "searchResEntry"]


class LDAPConnector:
    """Implements PasswordConnector, RefreshConnector and Pingable."""

    def __init__(self, config: LDAPConfig) -> None:
        if config.insecure_no_ssl and config.start_tls:
            log.warning("LDAP connector: insecureNoSSL and startTLS are both set; as in Dex, insecureNoSSL wins: "
                        "plain LDAP, no StartTLS, passwords cross the network in clear (remove insecureNoSSL "
                        "to use StartTLS)", extra={"ldap_host": config.host})
            config = replace(config, start_tls=False)
        self.config = config
        self.prompt = config.username_prompt or "Username"
        server = server_factory(config)
        wait = config.timeout.total_seconds()
        service = opener(server, config, config.bind_dn or None, config.bind_pw or None)
        self._search_pool = Pool(service, config.pool_size, wait, "search")
        self._bind_pool = Pool(opener(server, config, None, None), config.pool_size, wait, "bind")
        users = config.user_search
        self._username_attrs = username_attrs(users)
        self._user_attrs = sorted({a for a in (users.id_attr, users.email_attr, users.name_attr,
                                               users.preferred_username_attr, *self._username_attrs,
                                               *(m.user_attr for m in matchers(config.group_search)))
                                   if a and a.lower() != DN_ATTR})

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> LDAPConnector:
        return cls(parse_config(raw))

    def close(self) -> None:
        self._search_pool.close()
        self._bind_pool.close()

    def ping(self) -> None:
        self._search_pool.run(lambda conn: conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["1.1"]))

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        if not password or not username:
            return None  # never an unauthenticated bind (RFC 4513 §5.1.2)
        entry = self._find_user(username)
        if entry is None:
            # Bind anyway, as a name no entry has: an unknown user then costs what a wrong password costs, so the
            # answer time does not tell which users exist.
            self._password_ok(f"cn=dexpy-no-such-user,{self.config.user_search.base_dn}", password)
            return None
        if not self._password_ok(entry.dn, password):
            return None
        identity = self._identity(entry, scopes)
        if scopes.offline_access:
            # Dex's shape ({"username", "entry": {"DN"}}), so refresh tokens Dex issued keep working.
            identity.connector_data = json.dumps({"username": username, "entry": {"DN": entry.dn}}).encode()
        return identity

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        try:
            data = json.loads(identity.connector_data)
            username, dn = data["username"], data["entry"]["DN"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConnectorError("LDAP refresh: the stored connector data is not readable") from exc
        entry = self._find_user(username)
        if entry is None or entry.dn.lower() != dn.lower():
            raise IdentityGone("the LDAP user no longer exists under the same DN")
        fresh = self._identity(entry, scopes)
        fresh.connector_data = identity.connector_data
        return fresh

    def _search(self, base: str, scope: str, flt: str, attrs: list[str]) -> list[Entry]:
        def op(conn: ldap3.Connection) -> list[Entry]:
            ok = conn.search(base, flt, search_scope=SCOPES[scope], attributes=attrs or [ldap3.NO_ATTRIBUTES],
                             time_limit=int(self.config.timeout.total_seconds()) or 1)
            if not ok and conn.result["result"] not in (0, _NO_SUCH_OBJECT):
                raise ConnectorError(f"LDAP search under {base!r} failed: {conn.result['description']} "
                                     f"{conn.result.get('message', '')}".rstrip())
            return _entries(conn) if ok else []

        return self._search_pool.run(op)

    def _find_user(self, username: str) -> Entry | None:
        users = self.config.user_search
        flt = filters.both(users.filter, filters.any_equals(self._username_attrs, username))
        found = self._search(users.base_dn, users.scope, flt, self._user_attrs)
        if len(found) > 1:
            raise ConnectorError(f"userSearch matched {len(found)} entries for one username; "
                                 "make userSearch.filter or userSearch.username unique")
        return found[0] if found else None

    def _password_ok(self, dn: str, password: str) -> bool:
        def op(conn: ldap3.Connection) -> bool:
            conn.authentication, conn.user, conn.password = ldap3.SIMPLE, dn, password
            if conn.bind():
                return True
            if conn.result["result"] in _INVALID_CREDENTIALS:
                return False
            raise ConnectorError(f"LDAP bind as the user failed: {conn.result['description']}")

        return self._bind_pool.run(op)

    def _identity(self, entry: Entry, scopes: Scopes) -> Identity:
        users = self.config.user_search
        identity = Identity(user_id=entry.first(users.id_attr, "userSearch.idAttr"), email_verified=True)
        if users.name_attr:
            identity.username = entry.first(users.name_attr, "userSearch.nameAttr")
        if users.preferred_username_attr:
            identity.preferred_username = entry.first(users.preferred_username_attr,
                                                      "userSearch.preferredUsernameAttr")
        if users.email_suffix:
            identity.email = f"{identity.username}@{users.email_suffix}"
        else:
            identity.email = entry.first(users.email_attr, "userSearch.emailAttr")
        if scopes.groups:
            identity.groups = self._groups(entry)
        return identity

    def _groups(self, user: Entry) -> list[str]:
        """Groups named by each matcher, then (breadth first) the groups containing them when the matcher has
        a recursionGroupAttr. Each group is visited once, which also breaks membership cycles."""
        search = self.config.group_search
        if not search.base_dn:
            return []
        names: list[str] = []
        for matcher in matchers(search):
            seen: set[str] = set()
            frontier = [group for value in user.values(matcher.user_attr)
                        for group in self._new_groups(matcher.group_attr, value, seen, names)]
            while matcher.recursion_group_attr and frontier:
                frontier = [parent for group in frontier
                            for parent in self._new_groups(matcher.recursion_group_attr, group.dn, seen, names)]
        return names

    def _new_groups(self, attr: str, value: str, seen: set[str], names: list[str]) -> list[Entry]:
        """The groups whose `attr` is `value` and not yet in `seen`; adds them to `seen` and their names to
        `names`."""
        search = self.config.group_search
        flt = filters.both(search.filter, filters.equals(attr, value))
        new = [g for g in self._search(search.base_dn, search.scope, flt, [search.name_attr])
               if g.dn.lower() not in seen]
        for group in new:
            seen.add(group.dn.lower())
            name = group.first(search.name_attr, "groupSearch.nameAttr")
            if name not in names:
                names.append(name)
        return new
