"""Dex's test connectors (`connector/mock/connectortest.go`): `mockCallback` and `mockPassword`.

Both answer with the same fixed identity, Kilgore Trout, so that examples and tests work without any upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dexpy.connectors.base import ConnectorConfigError, Identity, Scopes, register
from dexpy.oidc.redirects import with_params

KILGORE = Identity(
    user_id="0-385-28089-0",
    username="Kilgore Trout",
    email="kilgore@kilgore.trout",
    email_verified=True,
    groups=["authors"],
    connector_data=b"foobar",
)


class MockCallbackConnector:
    """Logs in without asking anything: the login URL leads straight back to the callback."""

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> str:
        return with_params(callback_url, {"state": state})

    def handle_callback(self, scopes: Scopes, params: Mapping[str, str]) -> Identity:
        return replace(KILGORE, groups=list(KILGORE.groups))

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        return identity

    def token_identity(self, subject_token_type: str, subject_token: str) -> Identity:
        return replace(KILGORE, groups=list(KILGORE.groups))


class MockPasswordConnector:
    prompt = ""

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        if username == self._username and password == self._password:
            return replace(KILGORE, groups=[], connector_data=b'{"test": "true"}')
        return None

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        return identity


def _mock_password(config: Mapping[str, Any]) -> MockPasswordConnector:
    for name in ("username", "password"):
        if not isinstance(config.get(name), str) or not config.get(name):
            raise ConnectorConfigError(name, "required")
    unknown = set(config) - {"username", "password"}
    if unknown:
        raise ConnectorConfigError(sorted(unknown)[0], "unknown key")
    return MockPasswordConnector(config["username"], config["password"])


def _no_config(config: Mapping[str, Any]) -> None:
    if config:
        raise ConnectorConfigError(sorted(config)[0], "unknown key (mockCallback takes no config)")


register("mockCallback", lambda config: MockCallbackConnector(), _no_config)
register("mockPassword", _mock_password, _mock_password)
