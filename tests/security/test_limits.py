"""Request size limits, rate limits and the client IP behind proxies, over real HTTP."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from dexpy.clock import system_clock
from dexpy.security.clientip import resolve
from dexpy.security.ratelimit import TokenBuckets
from tests.fixtures.dexpy_server import CLIENT_SECRET, run_dexpy
from tests.fixtures.rp import RelyingParty
from tests.security.conftest import password_page, run_with_web

TOKEN_FORM = {"grant_type": "authorization_code", "code": "x", "redirect_uri": "http://127.0.0.1:5555/callback"}


def test_oversized_token_request_is_413_with_an_oauth_error(rp):
    response = rp.http.post(f"{rp.issuer}/token", auth=("example-app", CLIENT_SECRET),
                            data={**TOKEN_FORM, "pad": "a" * 70_000})
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


def test_oversized_body_without_length_is_cut_off(rp):
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=authorization_code&pad="
        for _ in range(40):
            yield b"a" * 4096

    response = rp.http.post(f"{rp.issuer}/token", content=chunks(), auth=("example-app", CLIENT_SECRET),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_oversized_login_form_is_413(rp):
    page = password_page(rp)
    response = rp.browser.post(str(page.url), data={"login": "a" * 70_000, "password": "p"})
    assert response.status_code == 413 and "too large" in response.text


def test_too_many_form_fields_is_413(rp):
    response = rp.http.post(f"{rp.issuer}/token", auth=("example-app", CLIENT_SECRET),
                            content="&".join(f"f{n}=1" for n in range(150)),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_too_many_query_parameters_or_a_long_url_is_414(rp):
    many = "&".join(f"p{n}=1" for n in range(150))
    assert rp.browser.get(f"{rp.issuer}/auth?{many}").status_code == 414
    assert rp.browser.get(f"{rp.issuer}/auth?state={'s' * 9000}").status_code == 414


def test_too_many_headers_is_431(rp):
    headers = {f"X-Filler-{n}": "1" for n in range(120)}
    response = rp.http.get(f"{rp.issuer}/.well-known/openid-configuration", headers=headers)
    assert response.status_code == 431


def test_limit_answers_carry_the_security_headers(rp):
    response = rp.browser.get(f"{rp.issuer}/auth?{'&'.join(f'p{n}=1' for n in range(150))}")
    assert response.headers["x-frame-options"] == "DENY"


RATE_LIMITED = """
security:
  rateLimit:
    requestsPerSecond: 0.5
    burst: 3
"""


@pytest.fixture
def limited(tmp_path) -> Iterator[RelyingParty]:
    with run_dexpy(tmp_path, RATE_LIMITED) as server:
        yield RelyingParty(server.issuer)


def test_token_endpoint_answers_429_with_retry_after(limited):
    answers = [limited.http.post(f"{limited.issuer}/token", data=TOKEN_FORM) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [401, 401, 401]
    assert answers[3].status_code == 429
    assert answers[3].json()["error"] == "temporarily_unavailable"
    assert 1 <= int(answers[3].headers["retry-after"]) <= 2


def test_auth_pages_share_a_bucket_that_other_endpoints_do_not_touch(limited):
    for _ in range(3):
        assert limited.browser.get(f"{limited.issuer}/auth/local").status_code != 429
    assert limited.browser.get(f"{limited.issuer}/auth").status_code == 429
    assert limited.http.get(f"{limited.issuer}/.well-known/openid-configuration").status_code == 200
    assert limited.http.post(f"{limited.issuer}/token", data=TOKEN_FORM).status_code == 401  # its own bucket


def test_buckets_refill_at_the_configured_rate():
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0
    now[0] += 0.5
    assert buckets.take("a") == 0  # the refused attempt cost nothing but time


def test_buckets_forget_the_least_recently_used():
    buckets = TokenBuckets(rate=1.0, burst=1, clock=lambda: 0.0, max_tracked=2)
    buckets.take("a")
    buckets.take("b")
    buckets.take("c")  # "a" is dropped: it starts full again
    assert buckets.take("a") == 0 and buckets.take("c") > 0


TRUSTED = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(("peer", "hops", "client"), [
    ("192.0.2.1", ["203.0.113.5"], "192.0.2.1"),                          # untrusted peer: header ignored
    ("10.0.0.2", ["203.0.113.5"], "203.0.113.5"),                         # one trusted proxy
    ("10.0.0.2", ["198.51.100.1", "203.0.113.5", "10.1.1.1"], "203.0.113.5"),  # spoofed hop left of the client
    ("10.0.0.2", ["10.9.9.9", "10.1.1.1"], "10.9.9.9"),                   # all trusted: the leftmost
    ("10.0.0.2", ["not-an-ip", "10.1.1.1"], "10.1.1.1"),                  # garbage stops the walk
    ("10.0.0.2", [" [2001:db8::1]:443 "], "2001:db8::1"),
    ("10.0.0.2", [], "10.0.0.2"),
])
def test_client_address_walks_hops_right_to_left_past_trusted_proxies(peer, hops, client):
    assert resolve(peer, hops, TRUSTED) == client


def test_forwarded_header_from_an_untrusted_peer_does_not_dodge_the_rate_limit(limited):
    codes = [limited.http.post(f"{limited.issuer}/token", data=TOKEN_FORM,
                               headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(4)]
    assert codes[-1] == 429, codes


def test_trusted_proxy_header_gives_each_client_its_bucket(tmp_path):
    yaml = RATE_LIMITED + "web:\n  clientRemoteIP:\n    header: X-Forwarded-For\n    trustedProxies: [127.0.0.1/32]\n"
    with run_with_web(tmp_path, yaml, system_clock) as server:
        def post(ip: str) -> httpx.Response:
            return httpx.post(f"{server.issuer}/token", data=TOKEN_FORM, headers={"X-Forwarded-For": ip})

        assert [post(f"203.0.113.{n}").status_code for n in range(6)] == [401] * 6
        assert [post("198.51.100.1").status_code for _ in range(4)][-1] == 429
