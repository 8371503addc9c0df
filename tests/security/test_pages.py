"""Security headers on every page, cookie flags, CSRF on every form, no inline script; and bounded
property-based fuzzing of every endpoint (no 5xx, no traceback).

schemathesis is not used: the routes take the raw `Request` (forms and queries are parsed by hand, as Dex's
handlers do), so `app.openapi()` declares no parameters for them and a schema-driven fuzzer would only send
empty requests. hypothesis drives the same endpoints with random parameters, forms and headers instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dexpy.config import Config, StorageConfig, TelemetryConfig, WebConfig, load_config
from dexpy.server import listeners
from tests.fixtures.dexpy_server import free_port, serve_config, write_config
from tests.fixtures.rp import form_action, form_fields
from tests.security.conftest import password_page

TEMPLATES = Path(__file__).parents[2] / "dexpy" / "web" / "templates"


def assert_security_headers(response: httpx.Response, https: bool = False) -> None:
    csp = response.headers["content-security-policy"]
    script = re.search(r"script-src ([^;]*)", csp)
    assert script and "'unsafe-inline'" not in script[1] and "'unsafe-eval'" not in script[1], csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert ("strict-transport-security" in response.headers) == https


def pages(rp) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    login = password_page(rp)
    return [
        rp.http.get(f"{rp.issuer}/.well-known/openid-configuration"), rp.http.get(f"{rp.issuer}/keys"),
        rp.http.get(f"{rp.issuer}/healthz"), rp.http.get(f"{rp.issuer}/robots.txt"),
        rp.http.get(f"{rp.issuer}/no-such-page"), rp.http.post(f"{rp.issuer}/token", data={}),
        rp.http.get(f"{rp.issuer}/userinfo"), rp.browser.get(f"{rp.issuer}/auth"), login,
        rp.browser.post(str(login.url), data={"login": "x", "password": "y"}),
    ]


def test_every_page_carries_the_security_headers(rp):
    for response in pages(rp):
        assert_security_headers(response)


def test_https_issuer_adds_hsts_and_secure_cookies(tmp_path):
    """TLS at an ingress: the issuer is https, dexpy itself listens on plain HTTP."""
    config = load_config(str(write_config(tmp_path)))
    plain = config.issuer
    config.issuer = plain.replace("http://", "https://")
    with serve_config(config):
        response = httpx.get(f"{plain}/auth/local?client_id=example-app&response_type=code&scope=openid"
                             "&redirect_uri=http://127.0.0.1:5555/callback")
        assert_security_headers(response, https=True)
        cookie = response.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_web_headers_are_added_to_every_answer_and_win_over_the_defaults(tmp_path):
    config = load_config(str(write_config(tmp_path)))
    config.web.headers = {"X-Frame-Options": "SAMEORIGIN", "Strict-Transport-Security": "max-age=63072000",
                          "X-Team": "identity"}
    with serve_config(config) as server:
        for url in (f"{server.issuer}/.well-known/openid-configuration", f"{server.issuer}/keys",
                    f"{server.issuer}/auth?client_id=example-app", f"{server.issuer}/no-such-page"):
            headers = httpx.get(url).headers
            assert (headers["x-frame-options"], headers["strict-transport-security"], headers["x-team"]) == (
                "SAMEORIGIN", "max-age=63072000", "identity"), url
            assert headers["x-content-type-options"] == "nosniff"


def test_cookies_are_httponly_and_samesite(rp):
    response = rp.browser.get(rp.auth_url(state="s"))
    cookies = response.headers.get_list("set-cookie")
    assert cookies
    for cookie in cookies:
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_every_form_carries_a_csrf_token_and_is_refused_without_it(rp):
    login = password_page(rp)
    assert form_fields(login.text).get("csrf_token")
    refused = rp.browser.post(str(login.url), data={"login": "admin@example.com", "password": "password"})
    assert refused.status_code == 400 and "expired" in refused.text
    forged = rp.browser.post(str(login.url), data={"login": "admin@example.com", "password": "password",
                                                   "csrf_token": "forged"})
    assert forged.status_code == 400
    non_ascii = rp.browser.post(str(login.url), data={"login": "admin@example.com", "password": "password",
                                                      "csrf_token": "\x81"})
    assert non_ascii.status_code == 400
    stranger = httpx.post(str(login.url), data={**form_fields(login.text), "login": "admin@example.com",
                                                "password": "password"})  # no cookie: another browser
    assert stranger.status_code == 400


def test_the_approval_form_is_refused_without_its_csrf_token(rp):
    login = password_page(rp)
    approval = rp.browse(form_action(login.text, str(login.url)), method="POST",
                         data={**form_fields(login.text), "login": "admin@example.com", "password": "password"})
    assert 'name="approval"' in approval.text, approval.text[:300]
    fields = {**form_fields(approval.text), "approval": "approve"}
    action = form_action(approval.text, str(approval.url))
    for forged in ({k: v for k, v in fields.items() if k != "csrf_token"}, {**fields, "csrf_token": "forged"}):
        refused = rp.browser.post(action, data=forged)
        assert refused.status_code == 400 and "code=" not in refused.headers.get("location", "")
    granted = rp.browser.post(action, data=fields)
    assert granted.is_redirect and "code=" in granted.headers["location"]


def test_the_server_never_trusts_forwarded_headers_by_itself():
    """uvicorn would take X-Forwarded-For from any loopback peer; only web.clientRemoteIP may (dexpy.security)."""
    config = Config(issuer="http://127.0.0.1/dex", storage=StorageConfig(type="memory"),
                    web=WebConfig(http=f"127.0.0.1:{free_port()}"),
                    telemetry=TelemetryConfig(http=f"127.0.0.1:{free_port()}"))
    servers = listeners(config, app=object(), telemetry=object())
    assert servers and all(server.config.proxy_headers is False for server in servers)


def test_every_template_form_posting_to_dexpy_has_a_csrf_field_and_no_inline_script():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {template.name}"
        for form in re.findall(r"<form[^>]*>.*?</form>", text, re.S):
            if 'method="post"' in form.lower() and "redirect_uri" not in form:  # form_post goes to the client
                assert "csrf_token" in form or "device" in template.name, f"form without CSRF in {template.name}"


ENDPOINTS = ["/auth", "/auth/local", "/auth/local/login", "/callback", "/approval", "/token", "/userinfo",
             "/keys", "/.well-known/openid-configuration", "/device/code", "/device", "/device/auth/verify_code",
             "/logout", "/token/introspect", "/token/revoke", "/healthz"]
NAMES = st.sampled_from(["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code",
                         "grant_type", "refresh_token", "code_verifier", "code_challenge", "code_challenge_method",
                         "req", "login", "password", "csrf_token", "approval", "prompt", "max_age", "id_token_hint",
                         "response_mode", "connector_id", "username", "token", "user_code", "device_code"])
VALUES = st.one_of(st.text(max_size=40), st.sampled_from(["example-app", "http://127.0.0.1:5555/callback", "code",
                                                          "openid", "refresh_token", "password", "S256", "\x00",
                                                          "%00", "../..", "a" * 3000, "-1", "9" * 30]))
PARAMS = st.lists(st.tuples(NAMES | st.text(max_size=10), VALUES), max_size=8)
HEADERS = st.dictionaries(st.sampled_from(["Authorization", "Content-Type", "Cookie", "X-Forwarded-For",
                                           "Accept", "X-Request-Id"]),
                          st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
                          max_size=3)


def test_fuzzing_every_endpoint_gives_no_server_error(dexpy):
    client = httpx.Client(timeout=10)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(ENDPOINTS), method=st.sampled_from(["GET", "POST"]), query=PARAMS, form=PARAMS,
           headers=HEADERS)
    def probe(path, method, query, form, headers):  # type: ignore[no-untyped-def]
        url = f"{dexpy.issuer}{path}"
        try:
            response = client.request(method, url, params=query, data=dict(form) if method == "POST" else None,
                                      headers=headers)
        except httpx.LocalProtocolError:  # a header httpx itself will not send
            return
        assert response.status_code < 500, (method, path, query, form, headers, response.text[:300])
        assert "Traceback" not in response.text

    probe()
