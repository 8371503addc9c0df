"""Bad config fails when the connector is built, naming the offending key."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from dexpy.connectors.base import ConnectorConfigError, Scopes, build_connector
from dexpy.connectors.ldap import LDAPConnector
from tests.connectors.conftest import MakeLDAP, dex_example_config, merged
from tests.fixtures.slapd import Slapd

LDAPS: dict[str, Any] = {"insecureNoSSL": None}


@pytest.mark.parametrize("changes, field", [
    ({"host": None}, "host"),
    ({"host": "127.0.0.1:ldap"}, "host"),
    ({"userSearch": {"baseDN": None}}, "userSearch.baseDN"),
    ({"userSearch": {"username": None}}, "userSearch.username"),
    ({"userSearch": {"username": []}}, "userSearch.username"),
    ({"userSearch": {"idAttr": None}}, "userSearch.idAttr"),
    ({"userSearch": {"emailAttr": None}}, "userSearch.emailAttr"),
    ({"userSearch": {"scope": "subtree"}}, "userSearch.scope"),
    ({"userSearch": {"filter": "objectClass=person"}}, "userSearch.filter"),
    ({"groupSearch": {"scope": "base"}}, "groupSearch.scope"),
    ({"groupSearch": {"nameAttr": None}}, "groupSearch.nameAttr"),
    ({"groupSearch": {"userMatchers": [{"userAttr": "DN"}]}}, "groupSearch.userMatchers[0].groupAttr"),
    ({"bindPW": None}, "bindPW"),
    ({"timeout": "soon"}, "timeout"),
    ({"poolSize": 0}, "poolSize"),
    ({"hots": "x"}, "hots"),
    ({**LDAPS, "rootCA": "/nonexistent/ca.pem"}, "rootCA"),
    ({**LDAPS, "rootCAData": "not base64!"}, "rootCAData"),
    ({**LDAPS, "rootCAData": base64.b64encode(b"hello").decode()}, "rootCAData"),
    ({**LDAPS, "clientCert": "/nonexistent/client.pem"}, "clientKey"),
    ({**LDAPS, "clientCert": "/nonexistent/c.pem", "clientKey": "/nonexistent/c.key"}, "clientCert"),
])
def test_bad_field_is_named(slapd: Slapd, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        build_connector("ldap", merged(dex_example_config(slapd), changes))
    assert caught.value.field == field


def test_insecure_no_ssl_with_start_tls_is_plain_ldap_as_in_dex_with_a_warning(
        slapd: Slapd, caplog: pytest.LogCaptureFixture) -> None:
    """A Dex config works as is: Dex checks insecureNoSSL first and never sends StartTLS. dexpy does the same,
    and says so at start."""
    with caplog.at_level(logging.WARNING, logger="dexpy.connectors.ldap"):
        connector = build_connector("ldap", merged(dex_example_config(slapd), {"insecureNoSSL": True,
                                                                              "startTLS": True}))
    assert isinstance(connector, LDAPConnector)
    assert connector.login(Scopes(), "janedoe@example.com", "foo") is not None
    used = [*connector._search_pool._idle, *connector._bind_pool._idle]  # white box: what the login ran over
    assert used and not any(conn.tls_started for conn in used)
    [warning] = [r for r in caplog.records if "insecureNoSSL" in r.getMessage()]
    assert "startTLS" in warning.getMessage() and "in clear" in warning.getMessage()


def test_unreadable_ca_file_is_named(slapd: Slapd, tmp_path: Any) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n")
    with pytest.raises(ConnectorConfigError) as caught:
        build_connector("ldap", merged(dex_example_config(slapd), {**LDAPS, "rootCA": str(not_pem)}))
    assert caught.value.field == "rootCA"


def test_plain_pem_ca_data_is_accepted(make_ldap: MakeLDAP, slapd: Slapd) -> None:
    make_ldap(**LDAPS, host=slapd.ldaps_host, rootCAData=slapd.pki.ca_pem.decode()).ping()
