"""The password grant through `oauth2.passwordConnector`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dexpy.config import load_config
from tests.fixtures.dexpy_server import free_port, run_dexpy, serve_config
from tests.fixtures.rp import RelyingParty


@pytest.fixture
def rp(tmp_path):
    with run_dexpy(tmp_path, "oauth2:\n  passwordConnector: local\n") as server:
        yield RelyingParty(server.issuer)


def test_password_grant_issues_tokens(rp):
    assert "password" in rp.discovery()["grant_types_supported"]
    response = rp.token(grant_type="password", username="admin@example.com", password="password",
                        scope="openid email offline_access")
    assert response.status_code == 200, response.text
    body = response.json()
    assert rp.verify_id_token(body["id_token"])["email"] == "admin@example.com"
    assert "refresh_token" in body


@pytest.mark.parametrize("user", ["admin@example.com", "nobody@example.com"])
def test_bad_credentials_are_invalid_grant_alike(rp, user):
    response = rp.token(grant_type="password", username=user, password="wrong", scope="openid")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid username or password"}


def test_password_grant_requires_openid(rp):
    response = rp.token(grant_type="password", username="admin@example.com", password="password", scope="email")
    assert response.json()["error"] == "invalid_scope"


def test_password_grant_is_off_without_a_password_connector(tmp_path):
    with run_dexpy(tmp_path) as server:
        response = RelyingParty(server.issuer).token(grant_type="password", username="a", password="b")
        assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_repeated_parameter_is_invalid_request(rp):
    response = rp.http.post(f"{rp.issuer}/token", auth=(rp.client_id, rp.client_secret),
                            content="grant_type=password&username=a&username=b&password=x&scope=openid",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_the_example_configs_commented_oauth2_block_turns_the_grant_on(tmp_path):
    """config.example.yaml says that uncommenting its `oauth2` block allows the password grant: it must."""
    example = (Path(__file__).parents[2] / "config.example.yaml").read_text()
    start = example.index("# oauth2:\n")
    end = example.index("\n\n", start)
    uncommented = "\n".join(line[2:] for line in example[start:end].splitlines())
    port = free_port()
    example = (example[:start] + uncommented + example[end:]).replace("127.0.0.1:5556", f"127.0.0.1:{port}")
    example = example.replace("var/dexpy.db", str(tmp_path / "dexpy.db"))
    (tmp_path / "config.yaml").write_text(example)
    config = load_config(str(tmp_path / "config.yaml"))
    assert config.oauth2.password_connector == "local"
    with serve_config(dataclasses.replace(config, telemetry=dataclasses.replace(config.telemetry, http=""))) as server:
        rp = RelyingParty(server.issuer)  # example-app, whose secret the example and the fixtures share
        response = rp.token(grant_type="password", username="admin@example.com", password="password",
                            scope="openid email")
        assert response.status_code == 200, response.text
        assert rp.verify_id_token(response.json()["id_token"])["email"] == "admin@example.com"
