"""The login pages: Jinja2 templates, themes and static assets, built-in or from `frontend.dir`.

A custom `frontend.dir` overrides file by file (`templates/`, `static/`, `themes/<theme>/`, `robots.txt`);
whatever it lacks comes from the built-in set. Every required template is loaded once at start-up, so a
missing or broken one stops the server with an error naming the directory and the file; and only then, as in
Dex: an edit on disk takes effect at the next start (a running server neither serves a broken edit nor looks
at the files' times on every page).

Templates see the globals `issuer`, `logo`, `favicon`, `extra` (dict), `theme` and `url(path)`, plus what the
route passes (all keys are required; undefined names raise):
  login.html          connectors: [{id, name, url, type}] (shown sorted by name)
  password.html       post_url, back_link ("" hides it), username, username_prompt, invalid, csrf_token
  approval.html       client_name, user, scopes (raw scope strings), req, csrf_token
  oob.html            code
  error.html          err_type, err_msg
  device.html         post_url, user_code, invalid, csrf_token
  device_success.html client_name
  logout.html         logged_out; when false also post_url, csrf_token, hidden_fields: {name: value}
  form_post.html      redirect_uri, params: {name: value}   (posts to the client: no csrf_token)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from starlette.staticfiles import PathLike, StaticFiles

from dexpy.config import FrontendConfig

BUILTIN_DIR = Path(__file__).parent

REQUIRED_TEMPLATES = (
    "header.html",
    "footer.html",
    "login.html",
    "password.html",
    "approval.html",
    "oob.html",
    "error.html",
    "device.html",
    "device_success.html",
    "logout.html",
    "form_post.html",
)

LEGACY_THEMES = {"coreos": "light", "tectonic": "light"}

SCOPE_DESCRIPTIONS = {
    "offline_access": "Have offline access",
    "profile": "View basic profile information",
    "email": "View your email address",
    "groups": "View your groups",
}


class FrontendError(Exception):
    """The front end cannot start: a template or theme is missing or broken."""


def describe_scopes(scopes: Iterable[str]) -> list[str]:
    """What the approval page lists, as Dex does: known scopes only, sorted by description."""
    return sorted(SCOPE_DESCRIPTIONS[s] for s in set(scopes) if s in SCOPE_DESCRIPTIONS)


@dataclass(frozen=True)
class StaticRoots:
    """Directories to serve, first match wins (`frontend.dir` before the built-in ones)."""

    static: tuple[Path, ...]
    """Served at `<issuer path>/static`."""
    theme: tuple[Path, ...]
    """Served at `<issuer path>/theme`."""
    robots: Path
    """Served at `<issuer path>/robots.txt`."""


def theme_name(frontend: FrontendConfig) -> str:
    return LEGACY_THEMES.get(frontend.theme, frontend.theme or "light")


def _layers(frontend: FrontendConfig, sub: str) -> tuple[Path, ...]:
    candidates = [Path(frontend.dir) / sub] if frontend.dir else []
    candidates.append(BUILTIN_DIR / sub)
    return tuple(p for p in candidates if p.exists())


def static_roots(frontend: FrontendConfig) -> StaticRoots:
    if frontend.dir and not Path(frontend.dir).is_dir():
        raise FrontendError(f"frontend.dir: {frontend.dir} is not a directory (set by the config or DEX_FRONTEND_DIR)")
    theme = theme_name(frontend)
    theme_dirs = _layers(frontend, f"themes/{theme}")
    if not theme_dirs:
        raise FrontendError(f"frontend.theme: no theme {theme!r} (looked in {frontend.dir or BUILTIN_DIR}/themes)")
    (robots, *_) = _layers(frontend, "robots.txt")
    return StaticRoots(static=_layers(frontend, "static"), theme=theme_dirs, robots=robots)


class LayeredStaticFiles(StaticFiles):
    """Starlette static files over several directories; a file in an earlier one hides a later one."""

    def __init__(self, directories: tuple[Path, ...]) -> None:
        self._directories = directories
        super().__init__(directory=directories[0])

    def get_directories(self, directory: PathLike | None = None, packages: Any = None) -> list[PathLike]:
        return list(self._directories)


def _join(prefix: str, path: str) -> str:
    return f"{prefix.rstrip('/')}/{path.lstrip('/')}"


class Renderer:
    """Renders the login pages; `issuer_path` is the URL path of the issuer (e.g. "/dex", or "")."""

    def __init__(self, frontend: FrontendConfig, issuer_path: str, builtin_templates: Path | None = None) -> None:
        """`builtin_templates=None` uses the package's templates; pass a directory to replace them."""
        self.roots = roots = static_roots(frontend)
        """Where the static and theme files are served from."""
        search = [Path(frontend.dir) / "templates"] if frontend.dir else []
        search.append(builtin_templates or BUILTIN_DIR / "templates")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(p) for p in search]),
            autoescape=True,
            auto_reload=False,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        def url(path: str) -> str:
            return _join(issuer_path, path)

        self._env.filters["describe_scopes"] = describe_scopes
        self._env.globals.update(
            issuer=frontend.issuer,
            logo=frontend.logo_url or url(f"theme/{_first_asset(roots.theme, 'logo')}"),
            favicon=url(f"theme/{_first_asset(roots.theme, 'favicon')}"),
            extra=dict(frontend.extra),
            theme=theme_name(frontend),
            url=url,
        )
        self._check(search)

    def _check(self, search: list[Path]) -> None:
        where = " or ".join(str(p) for p in search)
        for name in REQUIRED_TEMPLATES:
            try:
                self._env.get_template(name)
            except jinja2.TemplateNotFound:
                raise FrontendError(f"frontend: required template {name} is missing from {where}") from None
            except jinja2.TemplateSyntaxError as e:
                raise FrontendError(f"frontend: template {e.filename or name} line {e.lineno}: {e.message}") from e

    def render(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context)


def _first_asset(theme_dirs: tuple[Path, ...], stem: str) -> str:
    """`logo.svg` for our themes; a Dex theme directory brings `logo.png`."""
    for directory in theme_dirs:
        for suffix in (".svg", ".png"):
            if (directory / f"{stem}{suffix}").is_file():
                return f"{stem}{suffix}"
    raise FrontendError(f"frontend: theme {theme_dirs[0]} has no {stem}.svg or {stem}.png")
