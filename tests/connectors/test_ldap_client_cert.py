"""clientCert/clientKey against a slapd that demands a client certificate from the test CA (its own instance:
slapd's TLSVerifyClient is global). Without one, or with one the directory does not trust, logins fail as a 503
that says which certificate check failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ldap3.core import exceptions as ldap_errors

from dexpy.connectors.ldap import TLSVerificationFailed
from dexpy.connectors.ldap.config import parse_config
from dexpy.connectors.ldap.transport import Pool, server_factory, unavailable
from tests.connectors.conftest import MakeLDAP, dex_example_config, ldap_maker, merged
from tests.connectors.test_ldap_tls import assert_logs_in, ldaps, refusal, starttls
from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.pki import PkiFiles, make_pki
from tests.fixtures.rp import RelyingParty
from tests.fixtures.slapd import Slapd, running_slapd

TRANSPORTS = [ldaps, starttls]


@pytest.fixture(scope="module")
def strict_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with running_slapd(tmp_path_factory.mktemp("strict-slapd") / "run", demand_client_cert=True) as server:
        yield server


@pytest.fixture(scope="module")
def client_files(strict_slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    """The test CA's client certificate and key, as files."""
    return strict_slapd.pki.write(tmp_path_factory.mktemp("client-pki"))


@pytest.fixture
def make_strict(strict_slapd: Slapd) -> Iterator[MakeLDAP]:
    with ldap_maker(strict_slapd) as make:
        yield make


def client_cert(files: PkiFiles) -> dict[str, str]:
    return {"clientCert": str(files.client_cert), "clientKey": str(files.client_key)}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_login_with_a_client_certificate(make_strict: MakeLDAP, strict_slapd: Slapd, client_files: PkiFiles,
                                         transport: Any) -> None:
    connector = make_strict(**transport(strict_slapd, rootCA=str(strict_slapd.ca_file), **client_cert(client_files)))
    assert_logs_in(connector)
    connector.ping()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_without_a_client_certificate_the_check_is_named(make_strict: MakeLDAP, strict_slapd: Slapd,
                                                         transport: Any) -> None:
    refused = refusal(make_strict(**transport(strict_slapd, rootCA=str(strict_slapd.ca_file))))
    assert refused.check == "client_cert_required"
    assert "client certificate (set clientCert and clientKey)" in str(refused)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_client_certificate_from_another_ca_is_refused(make_strict: MakeLDAP, strict_slapd: Slapd,
                                                         tmp_path: Path, transport: Any) -> None:
    stranger = make_pki("some other CA").write(tmp_path)
    connector = make_strict(**transport(strict_slapd, rootCA=str(strict_slapd.ca_file), **client_cert(stranger)))
    assert refusal(connector).check == "client_cert_refused"


def test_plain_ldap_needs_no_client_certificate(make_strict: MakeLDAP) -> None:
    """The demand is on TLS sessions only; plain LDAP to the same server still works (so failures above are TLS)."""
    assert_logs_in(make_strict())


def test_password_grant_without_a_client_certificate_is_a_503(strict_slapd: Slapd, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    config = merged(dex_example_config(strict_slapd), ldaps(strict_slapd, rootCA=str(strict_slapd.ca_file)))
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": config}
    with run_dexpy(tmp_path, f"oauth2:\n  passwordConnector: ldap\nconnectors: [{json.dumps(connector)}]\n") as server:
        response = RelyingParty(server.issuer).token(grant_type="password", username="janedoe@example.com",
                                                     password="foo", scope="openid")
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert "TLS certificate check failed (client_cert_required)" in caplog.text


def test_only_a_session_that_never_answered_is_taken_for_a_certificate_check(strict_slapd: Slapd) -> None:
    """A pooled connection that has served an operation (anonymous, so never bound) and is then cut — a
    directory restart, a load balancer dropping idle sessions — is the directory gone, not a refused certificate."""
    settings = merged(dex_example_config(strict_slapd), ldaps(strict_slapd, rootCA=str(strict_slapd.ca_file)))
    conn = ldap3.Connection(server_factory(parse_config(settings))())
    conn.dexpy_tls_up = True  # as the TLS layer marks a session it set up
    cut = ldap_errors.LDAPSocketReceiveError("connection reset by peer")
    assert isinstance(unavailable(cut, conn), TLSVerificationFailed)  # never answered: the certificate check
    Pool(lambda: conn, size=1, wait=1, operation="search").run(lambda c: "answered")
    after = unavailable(cut, conn)
    assert not isinstance(after, TLSVerificationFailed) and "unreachable" in str(after)
