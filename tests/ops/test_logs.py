"""Audit lines for each event, request ids, the JSON format, and no secrets in any log line."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from dexpy.api import pb
from dexpy.config import LoggerConfig
from dexpy.logs import AUDIT_LOGGER, configure, handler, redact
from dexpy.model import FailureCounter
from dexpy.security.usernames import user_ref
from tests.fixtures.dexpy_server import ADMIN_PASSWORD_HASH, CLIENT_SECRET
from tests.fixtures.rp import RelyingParty
from tests.ops.conftest import Ops
from tests.ops.test_grpc_api import ADMIN_SUB

USER_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"


def audits(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [vars(r) for r in caplog.records if r.name == AUDIT_LOGGER]


def test_audit_lines_for_login_token_refresh_and_revocation(ops: Ops, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    rp = RelyingParty(ops.server.issuer)
    tokens = rp.exchange(rp.login(scope="openid offline_access")).json()
    rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    ops.stub().RevokeRefresh(pb.RevokeRefreshReq(user_id=ADMIN_SUB, client_id="example-app"),
                             metadata=(("x-request-id", "change-4711"),))

    login, token, refresh, revocation = audits(caplog)
    assert (login["event"], login["result"], login["user"], login["user_id"], login["connector_id"],
            login["client_id"], login["remote_addr"]) == (
        "login", "success", "admin@example.com", USER_ID, "local", "example-app", "127.0.0.1")
    assert (token["event"], token["grant_type"], token["user_id"], token["connector_id"], token["client_id"]) == (
        "token", "authorization_code", USER_ID, "local", "example-app")
    assert (refresh["event"], refresh["result"], refresh["client_id"]) == ("refresh", "success", "example-app")
    assert (revocation["event"], revocation["user_id"], revocation["client_id"]) == (
        "revocation", USER_ID, "example-app")
    assert revocation["remote_addr"] == "127.0.0.1"  # the gRPC peer, spelled as HTTP lines spell it
    ids = [line["request_id"] for line in (login, token, refresh)]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == 3
    assert revocation["request_id"] == "change-4711"  # the caller's id, as HTTP keeps X-Request-Id


def test_failures_are_audited(ops: Ops, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    rp = RelyingParty(ops.server.issuer)
    assert rp.token(grant_type="refresh_token", refresh_token="bogus").status_code == 400
    (line,) = audits(caplog)
    assert (line["event"], line["result"], line["reason"], line["client_id"]) == (
        "refresh", "failure", "invalid_grant", "example-app")


def test_a_failed_login_is_audited_by_reference_never_by_the_name_typed(
        ops: Ops, caplog: pytest.LogCaptureFixture) -> None:
    """A password typed into the name field must not land in the logs or the store: the failure is audited,
    and counted for lockout, under the name's reference (the same for every spelling of the name)."""
    caplog.set_level(logging.DEBUG)
    typed = "Correct-Horse-Battery-9"
    rp = RelyingParty(ops.server.issuer)
    assert rp.authorize(username=typed, password="wrong", response_type="code").status_code == 401
    assert rp.authorize(username=f" {typed.upper()} ", password="wrong", response_type="code").status_code == 401

    first, second = audits(caplog)
    assert (first["event"], first["result"], first["connector_id"], first["client_id"]) == (
        "login", "invalid_credentials", "local", "example-app")
    assert first["user_ref"] == second["user_ref"] == user_ref(typed) != user_ref("admin@example.com")
    assert "user" not in first
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    stored = str(ops.storage.list(FailureCounter))
    assert f"user:local:{user_ref(typed)}" in stored
    for text in (logged, stored):
        assert typed.casefold() not in text.casefold()


def test_logs_of_a_login_token_and_refresh_hold_no_secrets(ops: Ops, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    formatted = handler(LoggerConfig(level="debug", format="json"), stream)
    logging.getLogger().addHandler(formatted)
    try:
        rp = RelyingParty(ops.server.issuer)
        login = rp.login(scope="openid offline_access")
        tokens = rp.exchange(login).json()
        refreshed = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    finally:
        logging.getLogger().removeHandler(formatted)
    ours = [r for r in caplog.records if r.name.startswith(("dexpy", "uvicorn"))]
    assert any(r.name == AUDIT_LOGGER for r in ours)
    raw = "\n".join(f"{r.getMessage()} {vars(r)}" for r in ours)
    secrets = ["password", CLIENT_SECRET, ADMIN_PASSWORD_HASH, login.code, login.verifier, tokens["access_token"],
               tokens["id_token"], tokens["refresh_token"], refreshed["refresh_token"], refreshed["access_token"]]
    for secret in secrets:
        assert secret not in raw
        assert secret not in stream.getvalue()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(line.get("event") == "login" and line.get("request_id") for line in lines)


def test_request_id_is_returned_and_kept_when_given(ops: Ops) -> None:
    rp = RelyingParty(ops.server.issuer)
    ids = [rp.http.get(f"{ops.server.issuer}/.well-known/openid-configuration").headers["x-request-id"]
           for _ in range(3)]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"[0-9a-f-]{8,64}", i) for i in ids)
    given = rp.http.get(f"{ops.server.issuer}/healthz", headers={"X-Request-Id": "trace-123"})
    assert given.headers["x-request-id"] == "trace-123"
    odd = rp.http.get(f"{ops.server.issuer}/healthz", headers={"X-Request-Id": "a b;<script>"})
    assert odd.headers["x-request-id"] not in {"a b;<script>", *ids}
    assert re.fullmatch(r"[0-9a-f-]{8,64}", odd.headers["x-request-id"])


@pytest.mark.parametrize("line", [
    "POST /token code=abc123&client_secret=s3cr3t",
    "Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
    "hash $2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W stored",
    'password="hunter2"',
])
def test_redaction_masks_what_looks_like_a_secret(line: str) -> None:
    masked = redact(line)
    for secret in ("abc123", "s3cr3t", "eyJ", "2b2cU8CPhOTaGrs1", "hunter2"):
        assert secret not in masked
    assert "[REDACTED]" in masked


def test_text_and_json_formats_redact_extras() -> None:
    for fmt in ("text", "json"):
        stream = io.StringIO()
        logger = logging.getLogger(f"tests.ops.format.{fmt}")
        logger.propagate = False
        logger.addHandler(handler(LoggerConfig(format=fmt), stream))
        logger.warning("refused %s", "client_secret=abc", extra={"client_id": "app", "password": "hunter2"})
        out = stream.getvalue()
        assert "hunter2" not in out and "abc" not in out and "app" in out
        if fmt == "json":
            entry = json.loads(out)
            assert (entry["level"], entry["client_id"], entry["password"]) == ("WARNING", "app", "[REDACTED]")
        else:
            assert "WARNING tests.ops.format.text: refused client_secret=[REDACTED] client_id=app" in out


@pytest.mark.parametrize(("level", "shown"), [("debug", {"DEBUG", "INFO", "WARNING", "ERROR"}),
                                              ("info", {"INFO", "WARNING", "ERROR"}), ("warn", {"WARNING", "ERROR"}),
                                              ("error", {"ERROR"})])
def test_logger_level_sets_the_least_severe_line_shown(level: str, shown: set[str]) -> None:
    root = logging.getLogger()
    handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure(LoggerConfig(level=level, format="json"), stream)
        for severity in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
            logging.getLogger("dexpy.tests.level").log(severity, "line")
    finally:
        root.handlers[:] = handlers
        root.setLevel(saved_level)
    assert {json.loads(line)["level"] for line in stream.getvalue().splitlines()} == shown
