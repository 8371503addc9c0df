"""The admin commands against the running API over mutual TLS: tables, `-o json`, one-line errors."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from dexpy.admin import register
from dexpy.oidc.wire import encode_subject
from tests.fixtures.rp import RelyingParty
from tests.ops.conftest import Ops


def admin(ops: Ops, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="dexpy")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([*argv, *ops.cli_args()])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_client_commands(ops: Ops, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = admin(ops, capsys, "client", "add", "--id", "cli-app", "--name", "CLI App",
                         "--redirect-uri", "http://127.0.0.1:5570/cb", "-o", "json")
    created = json.loads(out)
    assert code == 0 and created["id"] == "cli-app" and len(created["secret"]) == 50

    code, out, _ = admin(ops, capsys, "client", "list")
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "NAME", "PUBLIC", "REDIRECT_URIS"]
    assert ["cli-app", "CLI", "App", "no", "http://127.0.0.1:5570/cb"] in [r.split() for r in rows]
    assert created["secret"] not in out

    assert admin(ops, capsys, "client", "update", "cli-app", "--name", "Renamed")[0] == 0
    listed = json.loads(admin(ops, capsys, "client", "list", "-o", "json")[1])
    assert {c["id"]: c["name"] for c in listed}["cli-app"] == "Renamed"
    assert all("secret" not in c for c in listed)
    code, _, err = admin(ops, capsys, "client", "add", "--id", "cli-app")
    assert (code, err) == (1, "dexpy: client 'cli-app' already exists\n")
    assert admin(ops, capsys, "client", "delete", "cli-app")[:2] == (0, "client cli-app deleted\n")


@pytest.mark.parametrize(("argv", "error"), [
    (["client", "add", "--id", "x", "--redirect-uri", "not-a-uri"], "dexpy: invalid_argument: invalid redirect URI"),
    (["client", "add", "--id", "example-app"], "dexpy: failed_precondition: static client: read-only"),
    (["client", "delete", "nope"], "dexpy: client 'nope' not found"),
    (["password", "delete", "nope@example.com"], "dexpy: password for 'nope@example.com' not found"),
    (["password", "add", "a@example.com", "--user-id", "a", "--hash", "$2a$04$weak"],
     "dexpy: invalid_argument: hash is not a bcrypt hash"),
    (["refresh", "list", "garbage"], "dexpy: invalid_argument: user_id is not an encoded subject"),
])
def test_bad_input_is_one_line_on_stderr(ops: Ops, capsys: pytest.CaptureFixture[str], argv: list[str],
                                         error: str) -> None:
    code, out, err = admin(ops, capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith(error) and err.count("\n") == 1


def test_password_commands(ops: Ops, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n3w-pass\n"))
    code, out, _ = admin(ops, capsys, "password", "add", "lee@example.com", "--user-id", "lee-1", "--username", "lee",
                         "--password-stdin")
    assert (code, out) == (0, "password for lee@example.com created\n")
    rp = RelyingParty(ops.server.issuer)
    assert rp.exchange(rp.login(username="lee@example.com", password="n3w-pass")).status_code == 200

    code, out, _ = admin(ops, capsys, "password", "list")
    assert ["lee@example.com", "lee", "lee-1"] in [line.split() for line in out.splitlines()]
    users = json.loads(admin(ops, capsys, "password", "list", "-o", "json")[1])
    assert {"email": "lee@example.com", "username": "lee", "user_id": "lee-1"} in users
    assert admin(ops, capsys, "password", "delete", "lee@example.com")[0] == 0


def test_refresh_commands(ops: Ops, capsys: pytest.CaptureFixture[str]) -> None:
    rp = RelyingParty(ops.server.issuer)
    assert rp.exchange(rp.login(scope="openid offline_access")).status_code == 200
    user = ["08a8684b-db88-4b73-90a9-3cd1661f5466", "--connector", "local"]

    tokens = json.loads(admin(ops, capsys, "refresh", "list", *user, "-o", "json")[1])
    assert [t["client_id"] for t in tokens] == ["example-app"]
    code, out, _ = admin(ops, capsys, "refresh", "list", encode_subject(user[0], "local"))
    assert out.splitlines()[0].split() == ["ID", "CLIENT_ID", "CREATED_AT", "LAST_USED"]
    assert tokens[0]["id"] in out

    assert admin(ops, capsys, "refresh", "revoke", *user, "--client", "example-app")[0] == 0
    assert json.loads(admin(ops, capsys, "refresh", "list", *user, "-o", "json")[1]) == []
    code, _, err = admin(ops, capsys, "refresh", "revoke", *user, "--client", "example-app")
    assert code == 1 and "no refresh token" in err
