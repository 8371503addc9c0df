"""The login pages in real chromium, served over loopback HTTP with the CSP the app sends.

Each theme is served under its own issuer path (`/light`, `/dark`), as the app mounts it: rendered pages,
`static/`, `theme/` and `robots.txt` from `static_roots`. A second server on another port plays the client
that receives the form post.
"""

from __future__ import annotations

import html
import mimetypes
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.request import urlopen

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from dexpy.config import FrontendConfig
from dexpy.web.render import Renderer, static_roots
from tests.fixtures.browser import screenshot

CSP = "default-src 'self'"
THEMES = ("light", "dark")
Handler = Callable[[BaseHTTPRequestHandler], tuple[int, str, bytes]]


def serve(handle: Handler) -> Iterator[str]:
    """Runs a loopback HTTP server whose every request is answered by `handle`; yields its base URL."""

    class Answer(BaseHTTPRequestHandler):
        def answer(self) -> None:
            status, content_type, body = handle(self)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def file_answer(roots: tuple[Path, ...], name: str) -> tuple[int, str, bytes]:
    for root in roots:
        path = root / name if name else root
        if path.is_file() and root in (path, *path.resolve().parents):
            return 200, mimetypes.guess_type(path.name)[0] or "application/octet-stream", path.read_bytes()
    return 404, "text/plain", b"not found"


@pytest.fixture(scope="module")
def client() -> Iterator[str]:
    """The relying party: shows the fields it was posted, escaped."""

    def received(request: BaseHTTPRequestHandler) -> tuple[int, str, bytes]:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0)).decode()
        fields = [(html.escape(k), html.escape(v)) for k, v in parse_qsl(body)]
        rows = "".join(f"<dt>{k}</dt><dd id='{k}'>{v}</dd>" for k, v in fields)
        return 200, "text/html", f"<title>received {request.command}</title><dl>{rows}</dl>".encode()

    yield from serve(received)


@pytest.fixture(scope="module")
def site(client: str) -> Iterator[str]:
    pages: dict[str, dict[str, Any]] = {
        "login.html": {
            "connectors": [
                {"id": "ldap", "name": "OpenLDAP", "url": "#ldap", "type": "ldap"},
                {"id": "local", "name": "Email", "url": "#local", "type": "local"},
                {"id": "mock", "name": "Example", "url": "#mock", "type": "mockCallback"},
            ]
        },
        "password.html": {
            "post_url": "#",
            "back_link": "login.html",
            "username": "",
            "username_prompt": "Email Address",
            "invalid": False,
            "csrf_token": "t",
        },
        "approval.html": {
            "client_name": "Example App",
            "user": "Jane Doe",
            "scopes": ["openid", "email", "groups", "profile", "offline_access"],
            "req": "r",
            "csrf_token": "t",
        },
        "form_post.html": {
            "redirect_uri": f"{client}/callback",
            "params": {"code": "c0de", "state": "<b>&state</b>"},
        },
    }
    renderers = {theme: Renderer(FrontendConfig(theme=theme), f"/{theme}") for theme in THEMES}
    roots = {theme: static_roots(FrontendConfig(theme=theme)) for theme in THEMES}

    def answer(request: BaseHTTPRequestHandler) -> tuple[int, str, bytes]:
        _, theme, where, *rest = request.path.split("?")[0].split("/", 3)
        if theme not in THEMES:
            return 404, "text/plain", b"no such issuer"
        name = rest[0] if rest else ""
        if where == "static":
            return file_answer(roots[theme].static, name)
        if where == "theme":
            return file_answer(roots[theme].theme, name)
        if where == "robots.txt":
            return file_answer((roots[theme].robots,), "")
        if where in pages:
            return 200, "text/html; charset=utf-8", renderers[theme].render(where, **pages[where]).encode()
        return 404, "text/plain", b"not found"

    yield from serve(answer)


def css(within: Chrome | WebElement, selector: str, prop: str) -> str:
    return within.find_element(By.CSS_SELECTOR, selector).value_of_css_property(prop)


def luminance(colour: str) -> float:
    """WCAG relative luminance of a computed `rgb(...)`/`rgba(...)` colour."""
    channels = [int(float(c)) / 255 for c in colour[colour.index("(") + 1 : -1].split(",")[:3]]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def problems(driver: Chrome) -> list[str]:
    """Console errors: CSP violations, failed loads, script errors."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize("theme", THEMES)
def test_password_page_is_readable_in_each_theme(browser: Chrome, site: str, theme: str) -> None:
    browser.get(f"{site}/{theme}/password.html")
    assert browser.title == "Log in · dexpy"
    login = browser.find_element(By.NAME, "login")
    password = browser.find_element(By.NAME, "password")
    assert login.is_displayed() and password.is_displayed()
    assert browser.switch_to.active_element == login
    assert browser.find_element(By.ID, "submit-login").is_displayed()
    logo = browser.find_element(By.CSS_SELECTOR, ".dex-navbar__logo")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", logo)

    page_bg = css(browser, "body", "background-color")
    card_bg = css(browser, ".dex-card", "background-color")
    assert (luminance(page_bg) < 0.05) == (theme == "dark")
    assert (luminance(card_bg) > 0.9) == (theme == "light")
    assert contrast(css(browser, ".dex-title", "color"), card_bg) >= 7
    assert contrast(css(browser, ".dex-label", "color"), card_bg) >= 7
    assert contrast(css(browser, "#submit-login", "color"), css(browser, "#submit-login", "background-color")) >= 4.5
    assert problems(browser) == []
    screenshot(browser, f"password-{theme}")


@pytest.mark.parametrize("theme", THEMES)
def test_login_page_shows_each_connector_with_its_icon(browser: Chrome, site: str, theme: str) -> None:
    browser.get(f"{site}/{theme}/login.html")
    buttons = browser.find_elements(By.CSS_SELECTOR, "a.dex-btn--connector")
    assert [b.text for b in buttons] == ["Log in with Email", "Log in with Example", "Log in with OpenLDAP"]
    icons = [css(button, ".dex-btn-icon", "background-image") for button in buttons]
    assert len(set(icons)) == 3, "each connector type has its own icon"
    for icon in icons:
        with urlopen(icon.removeprefix('url("').removesuffix('")')) as reply:
            assert reply.status == 200 and reply.headers["Content-Type"] == "image/svg+xml"
    assert problems(browser) == []
    screenshot(browser, f"login-{theme}")


def test_approval_page_fits_a_phone_screen(browser: Chrome, site: str) -> None:
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{site}/light/approval.html")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        items = [li.text for li in browser.find_elements(By.CSS_SELECTOR, ".dex-scopes li")]
        assert items == [
            "Have offline access",
            "View basic profile information",
            "View your email address",
            "View your groups",
        ]
        for label in ("Grant access", "Cancel"):
            assert browser.find_element(By.XPATH, f"//button[text()='{label}']").is_displayed()
        screenshot(browser, "approval-light-phone")
    finally:
        browser.set_window_size(1280, 900)


def test_form_post_submits_itself_to_the_client(browser: Chrome, site: str, client: str) -> None:
    browser.get(f"{site}/light/form_post.html")
    WebDriverWait(browser, 5).until(lambda d: d.current_url == f"{client}/callback")
    assert browser.title == "received POST"
    assert browser.find_element(By.ID, "code").text == "c0de"
    assert browser.find_element(By.ID, "state").text == "<b>&state</b>"


def test_robots_txt_forbids_indexing(site: str) -> None:
    with urlopen(f"{site}/light/robots.txt") as reply:
        assert "Disallow: /" in reply.read().decode()
