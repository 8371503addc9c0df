"""A person logging in with a real browser: Chromium fills the password form, approves, and lands on the
client's redirect URI with a code that the client then redeems."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.fixtures.browser import screenshot
from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.rp import RelyingParty, pkce_pair


class Receiver:
    """The client's redirect endpoint: records the query it is called with."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlsplit(self.path)
                if url.path == "/callback":
                    received.append({k: v[0] for k, v in parse_qs(url.query).items()})
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html><title>client</title><body>signed in</body></html>")

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_browser_login_approve_and_code_exchange(tmp_path, browser, receiver):
    with run_dexpy(tmp_path) as server:
        rp = RelyingParty(server.issuer, client_id="kubectl", client_secret="", redirect_uri=receiver.url)
        verifier, challenge = pkce_pair()
        browser.get(rp.auth_url(state="st-1", nonce="n-1", code_challenge=challenge, code_challenge_method="S256"))
        wait = WebDriverWait(browser, 10)
        wait.until(ec.visibility_of_element_located((By.NAME, "login")))
        browser.find_element(By.NAME, "login").send_keys("admin@example.com")
        browser.find_element(By.NAME, "password").send_keys("password")
        screenshot(browser, "password-page")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        grant = wait.until(ec.element_to_be_clickable((By.XPATH, "//button[contains(., 'Grant access')]")))
        assert "Grant access" in browser.page_source and "View your email address" in browser.page_source
        screenshot(browser, "approval-page")
        grant.click()
        wait.until(lambda d: d.current_url.startswith(receiver.url))
        assert receiver.received[-1]["state"] == "st-1"
        code = receiver.received[-1]["code"]
        response = rp.token(auth="none", grant_type="authorization_code", code=code, redirect_uri=receiver.url,
                            code_verifier=verifier)
        assert response.status_code == 200, response.text
        claims = rp.verify_id_token(response.json()["id_token"], nonce="n-1")
        assert claims["email"] == "admin@example.com"


def test_browser_sees_a_wrong_password_message(tmp_path, browser, receiver):
    with run_dexpy(tmp_path) as server:
        rp = RelyingParty(server.issuer, client_id="kubectl", client_secret="", redirect_uri=receiver.url)
        browser.get(rp.auth_url(state="s"))
        wait = WebDriverWait(browser, 10)
        wait.until(ec.visibility_of_element_located((By.NAME, "login"))).send_keys("admin@example.com")
        browser.find_element(By.NAME, "password").send_keys("not-it")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # the answer's own element, which the form page lacks: waiting for the old form to go stale raced with
        # the navigation (chromedriver can answer "Node with given id does not belong to the document" instead)
        alert = wait.until(ec.visibility_of_element_located((By.ID, "login-error")))
        assert "Invalid" in alert.text
        assert browser.find_element(By.NAME, "password").get_attribute("aria-describedby") == "login-error"
        assert receiver.received == []
