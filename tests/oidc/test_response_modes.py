"""Implicit and hybrid responses and the response modes (OAuth 2.0 Multiple Response Types, Form Post
Response Mode, OIDC Core §3.2-3.3), over HTTP with `oauth2.responseTypes` enabling them all."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dexpy.clock import FrozenClock
from tests.fixtures.dexpy_server import RP_REDIRECT, run_dexpy
from tests.fixtures.rp import RelyingParty, form_action, form_fields, pkce_pair

ENABLED = """
oauth2:
  responseTypes: [code, id_token, "id_token token", "code id_token", "code token", "code id_token token"]
  skipApprovalScreen: true
"""
TOKEN_RESPONSES = ["id_token", "id_token token", "code id_token", "code token", "code id_token token"]


@pytest.fixture
def server(tmp_path):
    with run_dexpy(tmp_path, ENABLED, clock=FrozenClock(datetime.now(timezone.utc))) as running:
        yield running


def _half_hash(value: str) -> str:
    """at_hash / c_hash for RS256, computed here independently of dexpy."""
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:16]).decode().rstrip("=")


def _delivered(response: httpx.Response, where: str) -> dict[str, str]:
    """The parameters of a redirect to the client, asserting they came in `where` (query | fragment) only."""
    assert response.is_redirect, f"{response.status_code}: {response.text[:300]}"
    parts = urlsplit(response.headers["location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == RP_REDIRECT
    carried, empty = (parts.fragment, parts.query) if where == "fragment" else (parts.query, parts.fragment)
    assert not empty, f"parameters leaked outside the {where}: {response.headers['location']}"
    return {k: v[0] for k, v in parse_qs(carried).items()}


def _expected_keys(response_type: str) -> set[str]:
    kinds = set(response_type.split())
    keys = {"state", "iss"} | (kinds & {"code", "id_token"})
    return keys | ({"access_token", "token_type", "expires_in"} if "token" in kinds else set())


def _check_response(rp: RelyingParty, got: dict[str, str], response_type: str, verifier: str) -> None:
    kinds = set(response_type.split())
    assert set(got) == _expected_keys(response_type) and got["state"] == "st-1" and got["iss"] == rp.issuer
    if "id_token" in kinds:
        claims = rp.verify_id_token(got["id_token"], nonce="n-1")
        assert claims.get("c_hash") == (_half_hash(got["code"]) if "code" in kinds else None)
        assert claims.get("at_hash") == (_half_hash(got["access_token"]) if "token" in kinds else None)
    if "token" in kinds:
        assert got["token_type"].lower() == "bearer" and int(got["expires_in"]) > 0
        info = rp.http.get(rp.discovery()["userinfo_endpoint"], headers={"Authorization": f"Bearer {got['access_token']}"})
        assert info.status_code == 200
    if "code" in kinds:
        exchanged = rp.token(grant_type="authorization_code", code=got["code"], redirect_uri=rp.redirect_uri,
                             code_verifier=verifier)
        assert exchanged.status_code == 200, exchanged.text
        assert rp.verify_id_token(exchanged.json()["id_token"])["nonce"] == "n-1"


def _authorize(rp: RelyingParty, response_type: str, approve: bool = True, **params: str) -> tuple[httpx.Response, str]:
    verifier, challenge = pkce_pair()
    response = rp.authorize(response_type=response_type, nonce="n-1", state="st-1", code_challenge=challenge,
                            code_challenge_method="S256", approve=approve, **params)
    return response, verifier


@pytest.mark.parametrize("response_type", TOKEN_RESPONSES)
def test_token_responses_arrive_in_the_fragment(server, response_type):
    rp = RelyingParty(server.issuer)
    response, verifier = _authorize(rp, response_type)
    _check_response(rp, _delivered(response, "fragment"), response_type, verifier)


@pytest.mark.parametrize("mode", ["query", "fragment"])
def test_a_code_response_goes_where_the_mode_says(server, mode):
    rp = RelyingParty(server.issuer)
    response, verifier = _authorize(rp, "code", response_mode=mode)
    _check_response(rp, _delivered(response, mode), "code", verifier)


@pytest.mark.parametrize("response_type", ["code", "code id_token", "id_token token"])
def test_form_post_page_posts_the_response_to_the_client(server, response_type):
    rp = RelyingParty(server.issuer)
    page, verifier = _authorize(rp, response_type, response_mode="form_post")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert form_action(page.text, str(page.url)) == RP_REDIRECT
    assert re.search(r'<form[^>]*method="post"', page.text)
    _check_response(rp, form_fields(page.text), response_type, verifier)


@pytest.mark.parametrize("response_type", ["id_token", "id_token token", "code id_token", "code token"])
def test_response_mode_query_is_refused_for_token_responses_in_the_fragment(server, response_type):
    response, _ = _authorize(RelyingParty(server.issuer), response_type, response_mode="query")
    error = _delivered(response, "fragment")
    assert error["error"] == "invalid_request" and error["state"] == "st-1"


@pytest.mark.parametrize("response_type", ["id_token", "id_token token", "code id_token", "code id_token token"])
def test_a_nonce_is_required_when_an_id_token_comes_from_the_authorization_endpoint(server, response_type):
    rp = RelyingParty(server.issuer)
    response = rp.authorize(response_type=response_type, state="st-1")
    error = _delivered(response, "fragment")
    assert error["error"] == "invalid_request" and "nonce" in error["error_description"]


def test_code_token_needs_no_nonce(server):
    got = _delivered(RelyingParty(server.issuer).authorize(response_type="code token", state="st-1"), "fragment")
    assert {"code", "access_token"} <= set(got)


@pytest.mark.parametrize("response_type, where", [("code", "query"), ("id_token token", "fragment"),
                                                  ("code id_token", "fragment")])
def test_a_rejected_approval_is_access_denied_where_the_response_would_go(server, response_type, where):
    response, _ = _authorize(RelyingParty(server.issuer), response_type, approve=False, approval_prompt="force")
    error = _delivered(response, where)
    assert error == {"error": "access_denied", "error_description": error["error_description"], "state": "st-1",
                     "iss": server.issuer}


def test_a_rejected_approval_in_form_post_mode_is_posted(server):
    page, _ = _authorize(RelyingParty(server.issuer), "code id_token", approve=False,
                         approval_prompt="force", response_mode="form_post")
    assert form_action(page.text, str(page.url)) == RP_REDIRECT
    assert form_fields(page.text)["error"] == "access_denied"
