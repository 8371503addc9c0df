from __future__ import annotations

import os
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from dexpy.config import FrontendConfig
from dexpy.web.render import (
    BUILTIN_DIR,
    REQUIRED_TEMPLATES,
    FrontendError,
    LayeredStaticFiles,
    Renderer,
    static_roots,
)

EVIL = '<script>alert("x")</script>'
CSRF = "csrf-7f3a9c"

# Each page with the data its route passes; EVIL marks values a user or client controls.
PAGES: dict[str, dict[str, Any]] = {
    "login.html": {
        "connectors": [
            {"id": "ldap", "name": "OpenLDAP", "url": "/dex/auth/ldap?state=1", "type": "ldap"},
            {"id": "local", "name": EVIL, "url": "/dex/auth/local?state=1", "type": "local"},
        ]
    },
    "password.html": {
        "post_url": "/dex/auth/local/login?state=abc",
        "back_link": "/dex/auth?state=abc",
        "username": EVIL,
        "username_prompt": "Email Address",
        "invalid": True,
        "csrf_token": CSRF,
    },
    "approval.html": {
        "client_name": EVIL,
        "user": EVIL,
        "scopes": ["openid", "email", "groups"],
        "req": "state-abc",
        "csrf_token": CSRF,
    },
    "oob.html": {"code": EVIL},
    "error.html": {"err_type": "Bad Request", "err_msg": EVIL},
    "device.html": {"post_url": "/dex/device/auth/verify_code", "user_code": EVIL, "invalid": True, "csrf_token": CSRF},
    "device_success.html": {"client_name": EVIL},
    "logout.html": {
        "logged_out": False,
        "post_url": "/dex/logout",
        "csrf_token": CSRF,
        "hidden_fields": {"state": EVIL, "post_logout_redirect_uri": "https://app.example/bye"},
    },
    "form_post.html": {"redirect_uri": "https://app.example/callback", "params": {"code": "c0de", "state": EVIL}},
}
FORM_PAGES = {"password.html", "approval.html", "device.html", "logout.html"}


class Page(HTMLParser):
    """The elements of a rendered page, with their attributes and the text between tags."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **match: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in match.items())]

    def shows(self, value: str) -> bool:
        """Whether `value` is on the page as text or as an attribute value (after unescaping)."""
        return value in "".join(self.text) or any(value in v for _, a in self.elements for v in a.values())

    def forms_fields(self) -> list[dict[str, str]]:
        """Hidden inputs per form, in order (a form's inputs follow it until the next form)."""
        forms: list[dict[str, str]] = []
        for tag, attrs in self.elements:
            if tag == "form":
                forms.append({})
            elif tag == "input" and attrs.get("type") == "hidden" and forms:
                forms[-1][attrs["name"]] = attrs["value"]
        return forms


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(FrontendConfig(issuer="Acme SSO"), "/dex")


def test_every_required_template_has_sample_data() -> None:
    assert set(PAGES) | {"header.html", "footer.html"} == set(REQUIRED_TEMPLATES)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_is_safe_under_csp_and_escapes_input(renderer: Renderer, name: str) -> None:
    html = renderer.render(name, **PAGES[name])
    page = Page(html)
    assert EVIL not in html
    assert page.shows(EVIL), "user input must be shown escaped, not dropped"
    assert all(s.get("src", "").startswith("/dex/static/") for s in page.all("script"))
    assert not page.all("style")
    for tag, attrs in page.elements:
        assert "style" not in attrs, tag
        assert not [a for a in attrs if a.startswith("on")], tag
    assert page.all("link", rel="stylesheet", href="/dex/static/main.css")
    assert page.all("link", rel="stylesheet", href="/dex/theme/styles.css")
    assert page.all("img", src="/dex/theme/logo.svg")
    assert "· Acme SSO" in "".join(page.text)


@pytest.mark.parametrize("name", sorted(FORM_PAGES))
def test_every_form_carries_the_csrf_token(renderer: Renderer, name: str) -> None:
    forms = Page(renderer.render(name, **PAGES[name])).forms_fields()
    assert forms and all(f.get("csrf_token") == CSRF for f in forms)


def test_password_form(renderer: Renderer) -> None:
    page = Page(renderer.render("password.html", **PAGES["password.html"]))
    (form,) = page.all("form")
    assert (form["method"], form["action"]) == ("post", "/dex/auth/local/login?state=abc")
    assert page.all("input", name="login", value=EVIL)
    assert page.all("input", name="password", type="password")
    assert page.all("a", href="/dex/auth?state=abc")
    assert any("Invalid Email Address or password." in t for t in page.text)


def test_password_form_without_error_or_back_link(renderer: Renderer) -> None:
    data = PAGES["password.html"] | {"invalid": False, "back_link": "", "username": ""}
    page = Page(renderer.render("password.html", **data))
    assert not page.all("div", role="alert")
    assert not page.all("a")
    (login,) = page.all("input", name="login")
    assert "autofocus" in login


def test_login_lists_connectors_sorted_by_name(renderer: Renderer) -> None:
    connectors = [
        {"id": "b", "name": "beta", "url": "/dex/auth/b", "type": "ldap"},
        {"id": "a", "name": "Alpha", "url": "/dex/auth/a", "type": "mockCallback"},
        {"id": "c", "name": "Gamma", "url": "/dex/auth/c", "type": "local"},
    ]
    page = Page(renderer.render("login.html", connectors=connectors))
    links = page.all("a")
    assert [a["href"] for a in links] == ["/dex/auth/a", "/dex/auth/b", "/dex/auth/c"]
    icons = [a["class"] for a in page.all("span") if "dex-btn-icon" in a.get("class", "")]
    assert icons == [f"dex-btn-icon dex-btn-icon--{t}" for t in ("mockCallback", "ldap", "local")]


def test_approval_lists_dex_scope_descriptions(renderer: Renderer) -> None:
    scopes = ["openid", "profile", "groups", "email", "offline_access", "federated:id"]
    data = PAGES["approval.html"] | {"scopes": scopes}
    page = Page(renderer.render("approval.html", **data))
    items = [t.strip() for t in page.text if t.strip()]
    listed = items[items.index(f'{EVIL} would like to:') + 1 : items.index("Cancel")]
    assert listed == [
        "Have offline access",
        "View basic profile information",
        "View your email address",
        "View your groups",
    ]
    assert [f["approval"] for f in page.forms_fields()] == ["rejected", "approve"]
    assert all(f["req"] == "state-abc" for f in page.forms_fields())


def test_logout_confirm_carries_fields_and_done_state_has_no_form(renderer: Renderer) -> None:
    (fields,) = Page(renderer.render("logout.html", **PAGES["logout.html"])).forms_fields()
    assert fields == {"csrf_token": CSRF, "state": EVIL, "post_logout_redirect_uri": "https://app.example/bye"}
    done = Page(renderer.render("logout.html", logged_out=True))
    assert not done.all("form")
    assert any("You are logged out" in t for t in done.text)


def test_form_post_targets_the_client_without_our_csrf_token(renderer: Renderer) -> None:
    page = Page(renderer.render("form_post.html", **PAGES["form_post.html"]))
    (form,) = page.all("form")
    assert (form["method"], form["action"]) == ("post", "https://app.example/callback")
    assert page.forms_fields() == [{"code": "c0de", "state": EVIL}]
    assert page.all("script", src="/dex/static/form_post.js")
    assert page.all("button", type="submit")
    assert (BUILTIN_DIR / "static/form_post.js").is_file()


def test_globals_follow_the_frontend_config() -> None:
    frontend = FrontendConfig(issuer="Corp", logo_url="https://cdn.example/logo.png", theme="dark")
    page = Page(Renderer(frontend, "").render("error.html", err_type="Oops", err_msg="m"))
    assert page.all("img", src="https://cdn.example/logo.png")
    assert page.all("link", rel="stylesheet", href="/theme/styles.css")
    assert page.all("body", **{"class": "dex-theme dex-theme--dark"})
    assert any("Oops · Corp" in t for t in page.text)


def test_legacy_theme_names_mean_light() -> None:
    html = Renderer(FrontendConfig(theme="coreos"), "/dex").render("oob.html", code="x")
    assert "dex-theme--light" in html
    assert static_roots(FrontendConfig(theme="tectonic")).theme == (BUILTIN_DIR / "themes/light",)


def test_unknown_theme_fails_at_start() -> None:
    with pytest.raises(FrontendError, match="'purple'"):
        Renderer(FrontendConfig(theme="purple"), "")


def test_a_missing_custom_dir_fails_at_start_instead_of_serving_the_builtin_pages(tmp_path: Path) -> None:
    with pytest.raises(FrontendError, match=f"frontend.dir: {tmp_path / 'web'} is not a directory"):
        Renderer(FrontendConfig(dir=str(tmp_path / "web")), "")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_custom_dir_overrides_per_file_and_falls_back(tmp_path: Path) -> None:
    write(
        tmp_path / "templates/oob.html",
        '{% set title = "Code" %}{% include "header.html" %}<p id="custom">{{ extra.tagline }}: {{ code }}</p>'
        '{% include "footer.html" %}',
    )
    write(tmp_path / "themes/light/logo.png", "png")
    renderer = Renderer(FrontendConfig(dir=str(tmp_path), extra={"tagline": "Your code"}), "/dex")
    custom = Page(renderer.render("oob.html", code="<b>42</b>"))
    assert custom.all("p", id="custom") and any("Your code: <b>42</b>" in t for t in custom.text)
    assert custom.all("link", href="/dex/static/main.css")
    assert custom.all("img", src="/dex/theme/logo.png")
    builtin = Page(renderer.render("error.html", err_type="E", err_msg="m"))
    assert builtin.all("div", role="alert")


def test_missing_template_without_fallback_names_dir_and_file(tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    for name in REQUIRED_TEMPLATES:
        if name != "device.html":
            write(custom / "templates" / name, "ok")
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(FrontendError) as e:
        Renderer(FrontendConfig(dir=str(custom)), "", builtin_templates=empty)
    assert "device.html" in str(e.value) and str(custom / "templates") in str(e.value)


def test_broken_custom_template_fails_at_start(tmp_path: Path) -> None:
    write(tmp_path / "templates/login.html", "{% for c in connectors %}")
    with pytest.raises(FrontendError, match="login.html line 1"):
        Renderer(FrontendConfig(dir=str(tmp_path)), "")


def test_templates_are_read_at_start_only_so_a_broken_edit_cannot_break_the_pages(tmp_path: Path) -> None:
    """As in Dex: an edit on disk (a ConfigMap update, say) takes effect at the next start, which refuses a
    broken one."""
    template = write(tmp_path / "templates/oob.html", '<p id="code">{{ code }}</p>')
    renderer = Renderer(FrontendConfig(dir=str(tmp_path)), "")
    template.write_text("{% for c in connectors %}")
    later = time.time() + 5
    os.utime(template, (later, later))  # newer than what was read, whatever the file system's time resolution
    assert Page(renderer.render("oob.html", code="42")).all("p", id="code")


def test_static_files_from_custom_dir_hide_builtin_ones(tmp_path: Path) -> None:
    write(tmp_path / "static/main.css", "body { color: red }")
    write(tmp_path / "robots.txt", "User-agent: *\nAllow: /\n")
    roots = static_roots(FrontendConfig(dir=str(tmp_path), theme="dark"))
    assert roots.robots == tmp_path / "robots.txt"
    app = Starlette(
        routes=[
            Mount("/dex/static", LayeredStaticFiles(roots.static)),
            Mount("/dex/theme", LayeredStaticFiles(roots.theme)),
        ]
    )
    with TestClient(app) as client:
        assert client.get("/dex/static/main.css").text == "body { color: red }"
        assert client.get("/dex/static/form_post.js").status_code == 200
        assert "--dex-bg: #0d1117" in client.get("/dex/theme/styles.css").text
        assert client.get("/dex/static/../render.py").status_code == 404
