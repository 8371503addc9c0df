"""Group lookup: Dex's example, several matchers, the deprecated single matcher, nesting with a cycle."""

from __future__ import annotations

from typing import Any

import pytest

from dexpy.connectors.base import Scopes
from tests.connectors.conftest import MakeLDAP
from tests.fixtures.slapd import BASE_DN, TRICKY_UID

GROUPS_SCOPE = Scopes(groups=True)
BOTH_MATCHERS: dict[str, Any] = {"filter": None, "userMatchers": [{"userAttr": "DN", "groupAttr": "member"},
                                                                  {"userAttr": "uid", "groupAttr": "memberUid"}]}
NESTED: dict[str, Any] = {"userMatchers": [{"userAttr": "DN", "groupAttr": "member", "recursionGroupAttr": "member"}]}


def groups_of(connector: Any, username: str, password: str) -> list[str]:
    identity = connector.login(GROUPS_SCOPE, username, password)
    assert identity is not None
    return sorted(identity.groups)


def test_dex_example_groups(make_ldap: MakeLDAP) -> None:
    connector = make_ldap()
    assert groups_of(connector, "janedoe@example.com", "foo") == ["admins", "developers"]
    assert groups_of(connector, "johndoe@example.com", "bar") == ["admins"]


def test_several_user_matchers(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(groupSearch=BOTH_MATCHERS)
    assert groups_of(connector, "janedoe@example.com", "foo") == ["admins", "developers", "ops"]


def test_a_group_two_matchers_find_is_listed_once(make_ldap: MakeLDAP) -> None:
    twice = {"filter": None, "userMatchers": [{"userAttr": "DN", "groupAttr": "member"}] * 2}
    assert groups_of(make_ldap(groupSearch=twice), "janedoe@example.com", "foo") == ["admins", "developers"]


def test_deprecated_single_matcher(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(groupSearch={"userMatchers": None, "userAttr": "DN", "groupAttr": "member"})
    assert groups_of(connector, "janedoe@example.com", "foo") == ["admins", "developers"]


@pytest.mark.parametrize("username, password, expected", [
    ("janedoe@example.com", "foo", ["admins", "developers", "engineering", "staff"]),
    ("johndoe@example.com", "bar", ["admins"]),
])
def test_nested_groups_with_a_cycle(make_ldap: MakeLDAP, username: str, password: str,
                                    expected: list[str]) -> None:
    identity = make_ldap(groupSearch=NESTED).login(GROUPS_SCOPE, username, password)
    assert identity is not None
    assert sorted(identity.groups) == expected
    assert len(identity.groups) == len(set(identity.groups))


def test_group_filters_escape_dns_and_values(make_ldap: MakeLDAP) -> None:
    """The tricky user's DN and uid both hold filter metacharacters; the member and memberUid searches find them."""
    connector = make_ldap(userSearch={"username": "uid"},
                          groupSearch={**BOTH_MATCHERS, "userMatchers": [{**NESTED["userMatchers"][0]},
                                                                         BOTH_MATCHERS["userMatchers"][1]]})
    assert groups_of(connector, TRICKY_UID, "tricky-pw") == ["developers", "engineering", "ops", "staff"]


def test_no_group_base_means_no_groups(make_ldap: MakeLDAP) -> None:
    assert groups_of(make_ldap(groupSearch=None), "janedoe@example.com", "foo") == []


@pytest.mark.parametrize("scope, expected", [("sub", ["admins", "developers"]), ("one", [])])
def test_group_search_scope(make_ldap: MakeLDAP, scope: str, expected: list[str]) -> None:
    """From the base DN, the groups sit two levels down (ou=Groups): `one` does not reach them, `sub` does."""
    connector = make_ldap(groupSearch={"baseDN": BASE_DN, "scope": scope})
    assert groups_of(connector, "janedoe@example.com", "foo") == expected
