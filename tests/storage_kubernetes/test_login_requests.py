"""What one login costs the Kubernetes API: dexpy on the CRD store against the fake API server, counting the
requests of a whole browser login and code exchange (issue: no AuthRequest flood, few writes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dexpy.config import load_config
from dexpy.storage.kubernetes.crds import CRD_DIR
from tests.fixtures.dexpy_server import serve_config, write_config
from tests.fixtures.kubeapi.fixture import start_fake
from tests.fixtures.rp import RelyingParty

WRITES = ("create", "update", "patch", "delete", "deletecollection")
READS = ("get", "list")


@pytest.fixture
def kube_dexpy(tmp_path) -> Iterator[tuple[object, RelyingParty]]:
    fake = start_fake()
    try:
        fake.create_crds(CRD_DIR)
        base = fake.dexpy_base_yaml(tmp_path)
        with serve_config(load_config(str(write_config(tmp_path, base=base)))) as server:
            rp = RelyingParty(server.issuer)
            rp.discovery()
            yield fake, rp
    finally:
        fake.stop()


def _counts(fake) -> tuple[int, int]:
    writes = sum(fake.count(verb=v) for v in WRITES)
    reads = sum(fake.count(verb=v) for v in READS)
    return reads, writes


@pytest.mark.parametrize(("scope", "max_writes"), [("openid email", 2), ("openid email offline_access", 4)])
def test_a_login_costs_few_api_writes(kube_dexpy, scope, max_writes):
    fake, rp = kube_dexpy
    fake.clear_log()
    response = rp.exchange(rp.login(scope=scope))
    assert response.status_code == 200, response.text
    reads, writes = _counts(fake)
    print(f"login with scope {scope!r}: {reads} reads, {writes} writes")  # shown with -s; quoted in the notes
    assert writes <= max_writes
    assert reads <= 6


def test_an_auth_visit_that_never_logs_in_costs_no_api_request(kube_dexpy):
    fake, rp = kube_dexpy
    fake.clear_log()
    for _ in range(10):
        rp.browse(rp.auth_url(state="s"))
    reads, writes = _counts(fake)
    assert writes == 0 and reads == 0


def test_token_endpoint_reads_no_client_object(kube_dexpy):
    """Clients come from the watch-fed cache, so the token endpoint does not GET the client per request."""
    fake, rp = kube_dexpy
    login = rp.login(scope="openid")
    fake.clear_log()
    assert rp.exchange(login).status_code == 200
    assert fake.count(verb="get", resource="oauth2clients") == 0
