from __future__ import annotations

import httpx
import pytest

from dexpy.kube.errors import UserError
from dexpy.kube.loopback import LoopbackReceiver


def test_redirect_uri_is_a_free_loopback_port() -> None:
    with LoopbackReceiver("s") as a, LoopbackReceiver("s") as b:
        assert a.redirect_uri.startswith("http://127.0.0.1:") and a.redirect_uri.endswith("/callback")
        assert a.redirect_uri != b.redirect_uri


def test_the_code_with_the_right_state_completes_the_login() -> None:
    with LoopbackReceiver("st4te") as receiver:
        assert httpx.get(receiver.redirect_uri.replace("/callback", "/favicon.ico")).status_code == 404
        forged = httpx.get(receiver.redirect_uri, params={"code": "evil", "state": "other"})
        assert forged.status_code == 400
        answer = httpx.get(receiver.redirect_uri, params={"code": "c0de", "state": "st4te"})
        assert answer.status_code == 200 and "close this tab" in answer.text
        assert receiver.wait(timeout=5) == "c0de"
        assert httpx.get(receiver.redirect_uri, params={"code": "again", "state": "st4te"}).status_code == 409


def test_an_error_redirect_fails_the_login_with_its_reason() -> None:
    with LoopbackReceiver("s") as receiver:
        httpx.get(receiver.redirect_uri, params={"error": "access_denied", "error_description": "nope", "state": "s"})
        with pytest.raises(UserError, match="access_denied nope"):
            receiver.wait(timeout=5)


def test_no_callback_times_out() -> None:
    with LoopbackReceiver("s") as receiver:
        httpx.get(receiver.redirect_uri, params={"code": "c", "state": "wrong"})
        with pytest.raises(UserError, match="no login completed within 0.2s"):
            receiver.wait(timeout=0.2)


def test_the_port_is_closed_afterwards() -> None:
    with LoopbackReceiver("s") as receiver:
        uri = receiver.redirect_uri
    with pytest.raises(httpx.ConnectError):
        httpx.get(uri)
