"""The telemetry listener: metric values after a scripted login and a password grant, liveness, and readiness
following storage."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from dexpy.api import pb
from dexpy.clock import FrozenClock
from dexpy.config import load_config
from dexpy.logs import AUDIT_LOGGER
from dexpy.runtime import build_storage
from dexpy.telemetry.storage import InstrumentedStorage
from tests.fixtures.dexpy_server import run_dexpy, serve_config, write_config
from tests.fixtures.rp import RelyingParty, form_action, form_fields
from tests.ops.conftest import Ops


def scrape(ops: Ops) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{ops.telemetry_url}/metrics").text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_after_a_login_token_and_refresh(ops: Ops) -> None:
    before = scrape(ops)
    rp = RelyingParty(ops.server.issuer)
    tokens = rp.exchange(rp.login(scope="openid offline_access")).json()
    assert rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 200
    assert rp.token(grant_type="refresh_token", refresh_token="bogus").status_code == 400
    after = scrape(ops)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("dexpy_logins_total", connector="local", result="success") == 1
    assert delta("dexpy_tokens_issued_total", grant_type="authorization_code") == 1
    assert delta("dexpy_tokens_issued_total", grant_type="refresh_token") == 1
    assert delta("dexpy_refresh_failures_total", reason="invalid_grant") == 1
    assert delta("http_requests_total", code="200", method="POST", handler="/token") == 2
    assert delta("http_requests_total", code="303", method="POST", handler="/auth/{connector}/login") == 1
    assert delta("request_duration_seconds_count", code="400", method="POST", handler="/token") == 1
    assert delta("response_size_bytes_count", code="200", method="GET", handler="/.well-known/openid-configuration") >= 1
    assert delta("dexpy_storage_request_duration_seconds_count", verb="create", kind="authcode") == 1
    assert value(after, "dexpy_build_info", **dict(next(k[1] for k in after if k[0] == "dexpy_build_info"))) == 1
    errors = {k: v - before.get(k, 0.0) for k, v in after.items() if k[0] == "dexpy_storage_errors_total"}
    assert not any(errors.values()), errors  # absent lockout counters and revocations are answers, not errors


def test_a_wrong_password_counts_as_a_failed_login(ops: Ops) -> None:
    before = scrape(ops)
    rp = RelyingParty(ops.server.issuer)
    page = rp.browse(rp.auth_url())
    response = rp.browse(form_action(page.text, str(page.url)), method="POST",
                         data={**form_fields(page.text), "login": "admin@example.com", "password": "wrong"})
    assert response.status_code == 401
    after = scrape(ops)
    failed = ("dexpy_logins_total", frozenset({"connector": "local", "result": "invalid_credentials"}.items()))
    assert after[failed] - before.get(failed, 0.0) == 1


def test_storage_errors_are_counted(ops: Ops) -> None:
    before = scrape(ops)
    ops.storage.down = True
    try:
        assert httpx.get(f"{ops.telemetry_url}/healthz/ready").status_code == 503
    finally:
        ops.storage.down = False
    key = ("dexpy_storage_errors_total", frozenset({"verb": "ping", "kind": "keys", "error": "Unavailable"}.items()))
    assert scrape(ops)[key] - before.get(key, 0.0) == 1


def test_liveness_and_readiness_follow_storage(ops: Ops) -> None:
    assert httpx.get(f"{ops.telemetry_url}/healthz/live").text == "ok"
    ready = httpx.get(f"{ops.telemetry_url}/healthz/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"storage": {"ok": True}, "connector:local": {"ok": True}}}

    ops.storage.down = True
    down = httpx.get(f"{ops.telemetry_url}/healthz/ready")
    assert down.status_code == 503
    assert down.json()["checks"]["storage"] == {"ok": False, "error": "backend unreachable (test)"}
    assert httpx.get(f"{ops.telemetry_url}/healthz").status_code == 503
    assert httpx.get(f"{ops.telemetry_url}/healthz/live").status_code == 200

    ops.storage.down = False
    assert httpx.get(f"{ops.telemetry_url}/healthz/ready").status_code == 200


def test_readiness_reports_a_connector_outage_as_degraded_but_stays_ready(ops: Ops) -> None:
    ldap = pb.Connector(id="dir", type="ldap", name="Directory", config=(
        b'{"host": "127.0.0.1:1", "insecureNoSSL": true, "userSearch": {"baseDN": "dc=example", "username": "uid",'
        b' "idAttr": "uid", "emailAttr": "mail", "nameAttr": "cn"}}'))
    ops.stub().CreateConnector(pb.CreateConnectorReq(connector=ldap))
    ready = httpx.get(f"{ops.telemetry_url}/healthz/ready")
    assert ready.status_code == 200  # a shared directory's outage must not pull every replica out of the Service
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["connector:dir"]["ok"] is False
    assert ready.json()["checks"]["storage"] == {"ok": True}


def test_password_grant_counts_one_login_and_one_token_per_request(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    logins = {r: count("dexpy_logins_total", connector="local", result=r) for r in ("success", "invalid_credentials")}
    issued = count("dexpy_tokens_issued_total", grant_type="password")
    with run_dexpy(tmp_path, "oauth2:\n  passwordConnector: local\n") as server:
        rp = RelyingParty(server.issuer)
        assert rp.token(grant_type="password", username="admin@example.com", password="wrong",
                        scope="openid").status_code == 400
        assert rp.token(grant_type="password", username="admin@example.com", password="password",
                        scope="openid").status_code == 200
    assert count("dexpy_logins_total", connector="local", result="invalid_credentials") - \
        logins["invalid_credentials"] == 1
    assert count("dexpy_logins_total", connector="local", result="success") - logins["success"] == 1
    assert count("dexpy_tokens_issued_total", grant_type="password") - issued == 1
    lines = [(r.event, r.result, r.client_id) for r in caplog.records if r.name == AUDIT_LOGGER]  # type: ignore[attr-defined]
    assert lines == [("login", "invalid_credentials", "example-app"), ("token", "failure", "example-app"),
                     ("login", "success", "example-app"), ("token", "success", "example-app")]


def test_discovery_and_keys_are_counted_under_their_routes(ops: Ops) -> None:
    before = scrape(ops)
    for path in ("/.well-known/openid-configuration", "/.well-known/openid-configuration", "/keys"):
        assert httpx.get(ops.server.issuer + path).status_code == 200
    after = scrape(ops)
    for handler, count in (("/.well-known/openid-configuration", 2), ("/keys", 1)):
        labels = {"code": "200", "method": "GET", "handler": handler}
        assert value(after, "http_requests_total", **labels) - value(before, "http_requests_total", **labels) == count


def test_a_signing_key_rotation_is_counted_once_when_it_happens(tmp_path: Path) -> None:
    """Storage wrapped as `dexpy serve` wraps it; the first key set is a creation, not a rotation."""
    config = load_config(str(write_config(tmp_path)))
    clock = FrozenClock(datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc))

    def rotations() -> float:
        return REGISTRY.get_sample_value("dexpy_signing_key_rotations_total") or 0.0

    before = rotations()
    with serve_config(config, storage=InstrumentedStorage(build_storage(config)), clock=clock) as server:
        first = httpx.get(f"{server.issuer}/keys").json()["keys"]
        assert rotations() == before
        clock.advance(config.expiry.signing_keys + timedelta(seconds=1))
        second = httpx.get(f"{server.issuer}/keys").json()["keys"]
        httpx.get(f"{server.issuer}/keys")
    assert rotations() == before + 1
    assert {k["kid"] for k in first} < {k["kid"] for k in second}  # the new key is published beside the old
