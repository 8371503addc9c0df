"""The full authorization-code + PKCE login, as a browser and a relying party play it, against either server:
/auth, the login form, the consent page, the redirect back with a code, the code exchange at /token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
import statistics
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from bench.servers import REDIRECT_URI, Server
from bench.wrk import Result

CONCURRENCY = 8
"""Users logging in at once."""

SCOPE = "openid email profile groups offline_access"
_INPUT = re.compile(r'<input[^>]*name="(?P<name>[^"]+)"[^>]*value="(?P<value>[^"]*)"', re.S)
_FORM = re.compile(r'<form[^>]*action="(?P<action>[^"]+)"', re.S)


class LoginFailed(Exception):
    pass


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _submission(page: str, server: Server) -> dict[str, str]:
    """What the user sends from a login or consent page: its filled-in fields, credentials, approval."""
    fields = {m["name"]: html.unescape(m["value"]) for m in _INPUT.finditer(page)}
    if 'name="password"' in page:
        fields.update(login=server.username, password=server.password)
    if 'name="approval"' in page:
        fields["approval"] = "approve"
    return fields


async def _code(http: httpx.AsyncClient, server: Server, client_id: str, challenge: str) -> str:
    query = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": SCOPE,
             "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
             "code_challenge_method": "S256", **dict(server.auth_params)}
    response = await http.get(f"{server.issuer}/auth?{urlencode(query)}")
    for _ in range(12):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if target.startswith(REDIRECT_URI):
                params = parse_qs(urlsplit(target).query)
                if "code" not in params:
                    raise LoginFailed(f"no code in the redirect: {params}")
                return params["code"][0]
            response = await http.get(target)
        elif response.status_code == 200 and "<form" in response.text:
            match = _FORM.search(response.text)
            action = urljoin(str(response.url), html.unescape(match["action"])) if match else str(response.url)
            response = await http.post(action, data=_submission(response.text, server))
        else:
            raise LoginFailed(f"login stopped at {response.status_code} {response.url}")
    raise LoginFailed("login did not end")


async def login(http: httpx.AsyncClient, server: Server, client_id: str = "") -> dict[str, Any]:
    """One login in a fresh browser session; the token response of the code exchange."""
    client_id = client_id or server.client_id
    http.cookies.clear()
    verifier, challenge = _pkce()
    code = await _code(http, server, client_id, challenge)
    response = await http.post(f"{server.issuer}/token", auth=(client_id, server.client_secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    if response.status_code != 200:
        raise LoginFailed(f"code exchange: {response.status_code} {response.text[:200]}")
    return dict(response.json())


def mint(server: Server, client_id: str = "") -> dict[str, Any]:
    """Tokens from one login, for the scenarios that need a refresh or an access token."""
    async def once() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as http:
            return await login(http, server, client_id)
    return asyncio.run(once())


async def _load(server: Server, seconds: float, concurrency: int) -> Result:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds

    async def user() -> None:
        nonlocal failures
        async with httpx.AsyncClient(timeout=10) as http:
            while time.monotonic() < deadline:
                start = time.monotonic()
                try:
                    await login(http, server)
                    latencies.append(time.monotonic() - start)
                except (LoginFailed, httpx.HTTPError):
                    failures += 1

    start = time.monotonic()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    elapsed = time.monotonic() - start
    done = len(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if done > 1 else float("nan")
    return Result(rps=done / elapsed, p99_ms=p99, error_ratio=failures / max(1, done + failures), answers=done)


def login_load(server: Server, seconds: float, concurrency: int = CONCURRENCY) -> Result:
    """Complete logins per second by `concurrency` users in one Python process (httpx), for `seconds`. Take a
    short one first as a warm-up (templates, connections)."""
    return asyncio.run(_load(server, seconds, concurrency))
