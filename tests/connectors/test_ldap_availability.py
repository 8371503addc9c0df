"""A stopped or hung directory costs a bounded wait and ConnectorUnavailable; logins resume when it is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from dexpy.connectors.base import ConnectorUnavailable, Scopes
from dexpy.connectors.ldap import LDAPConnector
from tests.connectors.conftest import MakeLDAP
from tests.fixtures.slapd import Slapd

TIMEOUT = 1.0  # the connectors built by make_ldap use 1s connect and operation timeouts


def login(connector: LDAPConnector) -> object:
    return connector.login(Scopes(groups=True), "janedoe@example.com", "foo")


def unavailable_within(seconds: float, call: Callable[[], object]) -> None:
    start = time.monotonic()
    with pytest.raises(ConnectorUnavailable):
        call()
    assert time.monotonic() - start < seconds


@pytest.fixture
def warm(make_ldap: MakeLDAP) -> LDAPConnector:
    """A connector whose pools hold open connections."""
    connector = make_ldap()
    assert login(connector) is not None
    connector.ping()
    return connector


@pytest.fixture
def stopped(slapd: Slapd) -> Iterator[Slapd]:
    slapd.stop()
    try:
        yield slapd
    finally:
        slapd.start()


def test_stopped_directory_then_restarted(warm: LDAPConnector, stopped: Slapd, make_ldap: MakeLDAP) -> None:
    unavailable_within(TIMEOUT, lambda: login(warm))
    unavailable_within(TIMEOUT, warm.ping)
    unavailable_within(TIMEOUT, lambda: login(make_ldap()))
    stopped.start()
    assert login(warm) is not None
    warm.ping()


def test_restart_behind_a_warm_pool_is_invisible(warm: LDAPConnector, slapd: Slapd) -> None:
    slapd.restart()
    assert login(warm) is not None


def test_hung_directory_costs_a_bounded_wait(warm: LDAPConnector, slapd: Slapd, make_ldap: MakeLDAP) -> None:
    slapd.pause()
    try:
        # A timeout is not retried on a fresh connection: one operation timeout and no more.
        unavailable_within(TIMEOUT + 0.5, lambda: login(warm))
        unavailable_within(TIMEOUT + 0.5, lambda: login(make_ldap()))
    finally:
        slapd.resume()
    assert login(warm) is not None
