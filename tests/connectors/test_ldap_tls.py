"""LDAPS and StartTLS with the fixture's CA, and refusals that say which certificate check failed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from dexpy.connectors.base import Scopes
from dexpy.connectors.ldap import TLSVerificationFailed
from tests.connectors.conftest import MakeLDAP
from tests.fixtures.slapd import Slapd
from tests.fixtures.pki import make_pki


def ldaps(slapd: Slapd, **changes: Any) -> dict[str, Any]:
    return {"host": slapd.ldaps_host, "insecureNoSSL": None, **changes}


def starttls(slapd: Slapd, **changes: Any) -> dict[str, Any]:
    return {"host": slapd.ldap_host, "insecureNoSSL": None, "startTLS": True, **changes}


def b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode()


def assert_logs_in(connector: Any) -> None:
    identity = connector.login(Scopes(groups=True), "janedoe@example.com", "foo")
    assert identity is not None and identity.groups == ["admins", "developers"]


def refusal(connector: Any) -> TLSVerificationFailed:
    """Why TLS refused a login; the readiness check must be refused too."""
    with pytest.raises(TLSVerificationFailed) as caught:
        connector.login(Scopes(), "janedoe@example.com", "foo")
    with pytest.raises(TLSVerificationFailed):
        connector.ping()
    return caught.value


@pytest.mark.parametrize("transport", [ldaps, starttls])
def test_tls_with_the_fixture_ca_file(make_ldap: MakeLDAP, slapd: Slapd, transport: Any) -> None:
    assert_logs_in(make_ldap(**transport(slapd, rootCA=str(slapd.ca_file))))


@pytest.mark.parametrize("transport", [ldaps, starttls])
def test_tls_with_inline_ca_data(make_ldap: MakeLDAP, slapd: Slapd, transport: Any) -> None:
    assert_logs_in(make_ldap(**transport(slapd, rootCAData=b64(slapd.pki.ca_pem))))


@pytest.mark.parametrize("transport", [ldaps, starttls])
def test_wrong_ca_is_refused_as_unknown_ca(make_ldap: MakeLDAP, slapd: Slapd, transport: Any) -> None:
    refused = refusal(make_ldap(**transport(slapd, rootCAData=b64(make_pki("some other CA").ca_pem))))
    assert refused.check == "unknown_ca"
    assert "trusted CA" in str(refused)


def test_system_cas_do_not_trust_the_test_ca(make_ldap: MakeLDAP, slapd: Slapd) -> None:
    assert refusal(make_ldap(**ldaps(slapd))).check == "unknown_ca"


def test_hostname_mismatch(make_ldap: MakeLDAP, slapd: Slapd) -> None:
    # The server certificate names only IP 127.0.0.1.
    connector = make_ldap(**ldaps(slapd, host=f"localhost:{slapd.ldaps_port}", rootCA=str(slapd.ca_file)))
    assert refusal(connector).check == "hostname_mismatch"


def test_insecure_skip_verify_accepts_any_certificate(make_ldap: MakeLDAP, slapd: Slapd) -> None:
    assert_logs_in(make_ldap(**ldaps(slapd, host=f"localhost:{slapd.ldaps_port}", insecureSkipVerify=True)))


@pytest.fixture
def expired_certificate(slapd: Slapd) -> Iterator[bytes]:
    """slapd serving an expired certificate; yields the CA that signed it."""
    expired = make_pki("expiring CA", expired=True)
    slapd.install_pki(expired)
    slapd.restart()
    try:
        yield expired.ca_pem
    finally:
        slapd.install_pki(slapd.pki)
        slapd.restart()


def test_expired_certificate(make_ldap: MakeLDAP, slapd: Slapd, expired_certificate: bytes) -> None:
    assert refusal(make_ldap(**ldaps(slapd, rootCAData=b64(expired_certificate)))).check == "expired"
