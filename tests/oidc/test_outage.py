"""A storage outage is a 503 with a message (HTML page or `temporarily_unavailable`), never a traceback."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import httpx

from dexpy.config import load_config
from dexpy.model import OfflineSessions, RefreshToken
from dexpy.runtime import build_storage
from dexpy.storage import Unavailable
from tests.fixtures.dexpy_server import CLIENT_SECRET, serve_config, write_config
from tests.fixtures.rp import RelyingParty
from tests.security.conftest import NO_RATE_LIMIT


class Switchable:
    """A store that can be made to fail every call, as an unreachable backend does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = threading.Event()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down.is_set() and name != "close":
                raise Unavailable("storage backend unreachable (test)")
            return method(*args, **kwargs)

        return call


def test_outage_answers_503_and_recovers(tmp_path):
    config = load_config(str(write_config(tmp_path)))
    storage = Switchable(build_storage(config))
    with serve_config(config, storage=storage) as server:  # type: ignore[arg-type]
        rp = RelyingParty(server.issuer)
        login = rp.login()
        storage.down.set()
        token = rp.exchange(login)
        assert token.status_code == 503 and token.json()["error"] == "temporarily_unavailable"
        page = rp.browse(rp.auth_url(state="s"))
        assert page.status_code == 503 and "temporarily unavailable" in page.text
        assert "Traceback" not in page.text
        health = rp.http.get(f"{server.issuer}/healthz")
        assert health.status_code == 503
        storage.down.clear()
        assert rp.exchange(login).status_code == 200  # the code was not consumed by the failed attempt
        assert rp.http.get(f"{server.issuer}/healthz").status_code == 200


def test_keys_and_userinfo_answer_503_json_when_a_key_reload_meets_an_outage(tmp_path, clock):
    config = load_config(str(write_config(tmp_path)))
    storage = Switchable(build_storage(config))
    with serve_config(config, storage=storage, clock=clock) as server:  # type: ignore[arg-type]
        rp = RelyingParty(server.issuer)
        access = rp.login_tokens()["access_token"]
        storage.down.set()
        clock.advance(timedelta(hours=7))  # past expiry.signingKeys: the keys must be read again
        for answer in (rp.http.get(f"{server.issuer}/keys"),
                       rp.http.get(f"{server.issuer}/userinfo", headers={"Authorization": f"Bearer {access}"})):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "temporarily_unavailable"
        storage.down.clear()
        assert rp.http.get(f"{server.issuer}/keys").status_code == 200


class FailsLinking(Switchable):
    """A store that goes down between a login's two writes: the refresh token is created, its link is not."""

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down.is_set() and name in ("create", "update") and OfflineSessions in (args[0], type(args[0])):
                raise Unavailable("storage backend unreachable (test)")
            return method(*args, **kwargs)

        return call


def test_a_login_that_cannot_link_its_refresh_token_leaves_no_token(tmp_path):
    config = load_config(str(write_config(tmp_path, NO_RATE_LIMIT + "oauth2:\n  passwordConnector: local\n")))
    storage = FailsLinking(build_storage(config))
    form = {"grant_type": "password", "username": "admin@example.com", "password": "password",
            "scope": "openid offline_access"}
    with serve_config(config, storage=storage) as server:  # type: ignore[arg-type]
        storage.down.set()
        answer = httpx.post(f"{server.issuer}/token", data=form, auth=("example-app", CLIENT_SECRET))
        assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
        assert storage.inner.list(RefreshToken) == []
        storage.down.clear()
        answer = httpx.post(f"{server.issuer}/token", data=form, auth=("example-app", CLIENT_SECRET))
        assert answer.status_code == 200 and len(storage.inner.list(RefreshToken)) == 1
