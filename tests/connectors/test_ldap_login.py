"""Password login against the real slapd: binds, user search options, escaping, and wrong credentials."""

from __future__ import annotations

import logging

import pytest

from dexpy.connectors.base import ConnectorError, ConnectorUnavailable, PasswordConnector, Pingable, RefreshConnector
from dexpy.connectors.base import Scopes
from tests.connectors.conftest import MakeLDAP
from tests.fixtures.slapd import BASE_DN, JANE, JOHN, TRICKY_UID, ZOE

NO_SCOPES = Scopes()


def test_dex_example_config_logs_jane_in(make_ldap: MakeLDAP) -> None:
    connector = make_ldap()
    assert isinstance(connector, PasswordConnector)
    assert isinstance(connector, RefreshConnector)
    assert isinstance(connector, Pingable)
    assert connector.prompt == "Email Address"
    identity = connector.login(NO_SCOPES, "janedoe@example.com", "foo")
    assert identity is not None
    assert (identity.user_id, identity.username, identity.email) == (JANE, "jane", "janedoe@example.com")
    assert identity.email_verified is True
    assert identity.groups == []  # the groups scope was not requested


@pytest.mark.parametrize("username, password", [
    ("janedoe@example.com", "bar"),        # wrong password (john's)
    ("nobody@example.com", "foo"),         # unknown user
    ("janedoe@example.com", ""),           # empty password: never an unauthenticated bind
    ("", "foo"),
])
def test_wrong_credentials_all_give_none(make_ldap: MakeLDAP, username: str, password: str) -> None:
    assert make_ldap().login(NO_SCOPES, username, password) is None


def test_anonymous_search_binds_as_the_user(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(bindDN=None, bindPW=None)
    identity = connector.login(NO_SCOPES, "johndoe@example.com", "bar")
    assert identity is not None and identity.user_id == JOHN
    assert connector.login(NO_SCOPES, "johndoe@example.com", "foo") is None


def test_wrong_service_password_is_unavailable(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(bindPW="not-admin")
    with pytest.raises(ConnectorUnavailable, match="service account"):
        connector.login(NO_SCOPES, "janedoe@example.com", "foo")
    with pytest.raises(ConnectorUnavailable):
        connector.ping()


def test_user_filter_restricts_who_may_log_in(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(userSearch={"filter": "(employeeType=staff)"})
    assert connector.login(NO_SCOPES, "johndoe@example.com", "bar") is not None
    assert connector.login(NO_SCOPES, "janedoe@example.com", "foo") is None


def test_email_suffix_uses_the_name_attribute(make_ldap: MakeLDAP) -> None:
    identity = make_ldap(userSearch={"emailSuffix": "corp.example", "emailAttr": None}).login(
        NO_SCOPES, "janedoe@example.com", "foo")
    assert identity is not None and identity.email == "jane@corp.example"


def test_id_and_preferred_username_attributes(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(userSearch={"idAttr": "uid", "preferredUsernameAttr": "uid"})
    identity = connector.login(NO_SCOPES, "janedoe@example.com", "foo")
    assert identity is not None
    assert (identity.user_id, identity.preferred_username) == ("jane", "jane")


def test_several_username_attributes(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(userSearch={"username": ["uid", "mail"]})
    by_uid = connector.login(NO_SCOPES, "jane", "foo")
    by_mail = connector.login(NO_SCOPES, "janedoe@example.com", "foo")
    assert by_uid is not None and by_mail is not None
    assert by_uid.user_id == by_mail.user_id == JANE


def test_username_with_filter_metacharacters_logs_in(make_ldap: MakeLDAP) -> None:
    identity = make_ldap(userSearch={"username": "uid"}).login(NO_SCOPES, TRICKY_UID, "tricky-pw")
    assert identity is not None and identity.email == "tricky@example.com"


def test_non_ascii_username_logs_in(make_ldap: MakeLDAP) -> None:
    identity = make_ldap(userSearch={"username": "uid"}).login(NO_SCOPES, "zoë", "zoë-pw")
    assert identity is not None and identity.user_id == ZOE and identity.username == "zoë"


@pytest.mark.parametrize("username", ["*", "j*", "admin)(uid=*", "jane)(uid=*", "*)(|(uid=*", "jane\x00"])
def test_filter_injection_matches_nobody(make_ldap: MakeLDAP, username: str) -> None:
    connector = make_ldap(userSearch={"username": "uid"})
    assert connector.login(NO_SCOPES, username, "foo") is None


def test_several_matching_entries_is_an_error_not_a_wrong_password(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(userSearch={"baseDN": BASE_DN})
    with pytest.raises(ConnectorError, match="matched 2 entries") as caught:
        connector.login(NO_SCOPES, "clone@example.com", "c1")
    assert not isinstance(caught.value, ConnectorUnavailable)


def test_missing_required_attribute_is_an_error(make_ldap: MakeLDAP) -> None:
    connector = make_ldap(userSearch={"preferredUsernameAttr": "displayName"})
    with pytest.raises(ConnectorError, match="displayName"):
        connector.login(NO_SCOPES, "janedoe@example.com", "foo")


def test_credentials_never_reach_the_logs(make_ldap: MakeLDAP, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    connector = make_ldap()
    connector.login(Scopes(groups=True), "janedoe@example.com", "foo-secret-1")
    connector.login(Scopes(groups=True), "janedoe@example.com", "foo")
    assert "foo-secret-1" not in caplog.text
    assert "janedoe" not in caplog.text


def test_ldap_operations_are_timed_in_the_metrics(make_ldap: MakeLDAP) -> None:
    from prometheus_client import REGISTRY

    def count(operation: str) -> float:
        return REGISTRY.get_sample_value("dexpy_ldap_request_duration_seconds_count",
                                         {"operation": operation, "result": "ok"}) or 0.0

    before = count("search"), count("bind")
    assert make_ldap().login(NO_SCOPES, "janedoe@example.com", "foo") is not None
    assert count("search") > before[0] and count("bind") > before[1]


def test_an_unknown_user_costs_a_bind_like_a_wrong_password(make_ldap: MakeLDAP, monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer time must not tell which users exist: an unknown name still binds once (and is refused)."""
    connector = make_ldap()
    binds: list[str] = []
    real = connector._password_ok
    monkeypatch.setattr(connector, "_password_ok", lambda dn, password: binds.append(dn) or real(dn, password))
    assert connector.login(NO_SCOPES, "nobody@example.com", "foo") is None
    assert connector.login(NO_SCOPES, "janedoe@example.com", "bar") is None
    assert len(binds) == 2 and BASE_DN in binds[0] and binds[1] != binds[0]


def test_user_search_scope(make_ldap: MakeLDAP) -> None:
    """From the base DN, people sit two levels down (ou=People): `one` does not find them, `sub` does."""
    assert make_ldap(userSearch={"baseDN": BASE_DN, "scope": "one"}).login(NO_SCOPES, "janedoe@example.com",
                                                                            "foo") is None
    found = make_ldap(userSearch={"baseDN": BASE_DN, "scope": "sub"}).login(NO_SCOPES, "janedoe@example.com", "foo")
    assert found is not None and found.user_id == JANE
