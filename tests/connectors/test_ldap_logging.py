"""No username or password in any log record, even with the root and ldap3 loggers at DEBUG: ldap3 logs bind and
search requests (filters hold the username) once its detail level is raised, and dexpy must never raise it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from ldap3.utils import log as ldap3_log

from dexpy.connectors.base import ConnectorError, Scopes
from tests.connectors.conftest import MakeLDAP
from tests.fixtures.slapd import BASE_DN

ALL = Scopes(groups=True, offline_access=True)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="ldap3")
    yield caplog
    assert ldap3_log.get_library_log_detail_level() == ldap3_log.OFF


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: message, arguments, extra fields and traceback."""
    formatter = logging.Formatter()
    return "\n".join(f"{formatter.format(r)} {vars(r)}" for r in caplog.records)


@pytest.mark.parametrize("username, password, works", [
    ("tricky@example.com", "tricky-pw", True),
    ("tricky@example.com", "wrong-pw-2c9e", False),
    ("nobody-7f3a@example.com", "tricky-pw", False),
])
def test_login_logs_neither_username_nor_password(make_ldap: MakeLDAP, debug_logs: pytest.LogCaptureFixture,
                                                  username: str, password: str, works: bool) -> None:
    connector = make_ldap()
    identity = connector.login(ALL, username, password)
    assert (identity is not None) == works
    if identity is not None:
        connector.refresh(ALL, identity)
    text = logged(debug_logs)
    assert username not in text and password not in text


def test_login_errors_name_neither_username_nor_password(make_ldap: MakeLDAP,
                                                         debug_logs: pytest.LogCaptureFixture) -> None:
    """The web layer logs a ConnectorError's message, so it must not carry them either."""
    connector = make_ldap(userSearch={"baseDN": BASE_DN})  # clone@example.com matches two entries
    with pytest.raises(ConnectorError) as caught:
        connector.login(ALL, "clone@example.com", "c1-secret")
    text = f"{caught.value} {logged(debug_logs)}"
    assert "clone@example.com" not in text and "c1-secret" not in text
