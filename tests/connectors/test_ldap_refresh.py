"""Refresh re-finds the user by the stored identity; a removed or moved user is gone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dexpy.connectors.base import Identity, IdentityGone, Scopes
from dexpy.connectors.ldap import LDAPConnector
from tests.connectors.conftest import MakeLDAP
from tests.fixtures.slapd import GROUPS, PEOPLE, Slapd

OFFLINE = Scopes(offline_access=True, groups=True)


@pytest.fixture
def temp_user(slapd: Slapd, request: pytest.FixtureRequest) -> Iterator[str]:
    """A user of its own (so tests may delete or move it), in a group of its own; yields its mail."""
    name = f"temp-{request.node.name.replace('_', '-')[:40]}"
    dn, group = f"cn={name},{PEOPLE}", f"cn={name}-group,{GROUPS}"
    slapd.add([(dn, {"objectClass": ["person", "inetOrgPerson"], "cn": name, "sn": "t", "uid": name,
                     "mail": f"{name}@example.com", "userPassword": "pw"}),
               (group, {"objectClass": ["groupOfNames"], "cn": f"{name}-group", "member": [dn]})])
    yield f"{name}@example.com"
    for leftover in (group, dn, f"cn={name}-moved,{PEOPLE}"):
        slapd.delete(leftover, missing_ok=True)


def logged_in(make_ldap: MakeLDAP, mail: str) -> tuple[Identity, LDAPConnector]:
    connector = make_ldap()
    identity = connector.login(OFFLINE, mail, "pw")
    assert identity is not None and identity.connector_data
    return identity, connector


def test_refresh_rebuilds_the_identity_with_fresh_groups(make_ldap: MakeLDAP, slapd: Slapd, temp_user: str) -> None:
    identity, connector = logged_in(make_ldap, temp_user)
    assert identity.groups == [temp_user.split("@")[0] + "-group"]
    with slapd.admin() as conn:
        conn.modify(f"cn=developers,{GROUPS}", {"member": [("MODIFY_ADD", [identity.user_id])]})
    try:
        fresh = connector.refresh(OFFLINE, identity)
        assert fresh.user_id == identity.user_id and fresh.email == temp_user
        assert sorted(fresh.groups) == sorted([*identity.groups, "developers"])
        assert connector.refresh(Scopes(offline_access=True), identity).groups == []
    finally:
        with slapd.admin() as conn:
            conn.modify(f"cn=developers,{GROUPS}", {"member": [("MODIFY_DELETE", [identity.user_id])]})


def test_deleted_user_is_gone(make_ldap: MakeLDAP, slapd: Slapd, temp_user: str) -> None:
    identity, connector = logged_in(make_ldap, temp_user)
    slapd.delete(f"cn={temp_user.split('@')[0]}-group,{GROUPS}")
    slapd.delete(identity.user_id)
    with pytest.raises(IdentityGone):
        connector.refresh(OFFLINE, identity)


def test_moved_user_is_gone(make_ldap: MakeLDAP, slapd: Slapd, temp_user: str) -> None:
    identity, connector = logged_in(make_ldap, temp_user)
    slapd.move(identity.user_id, f"cn={temp_user.split('@')[0]}-moved")
    with pytest.raises(IdentityGone):
        connector.refresh(OFFLINE, identity)
