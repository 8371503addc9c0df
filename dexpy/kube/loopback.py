"""The one-shot loopback redirect receiver of the browser login (RFC 8252 §7.3)."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from dexpy.kube.errors import UserError

CALLBACK_PATH = "/callback"


class LoopbackReceiver:
    """Listens on 127.0.0.1 on a free port until one callback carrying `state` arrives."""

    def __init__(self, state: str) -> None:
        self.state = state
        self._done = threading.Event()
        self._code = ""
        self._error = ""
        self._server = HTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> str:
        """The authorization code; `UserError` on timeout or when the issuer redirected with an error."""
        if not self._done.wait(timeout):
            raise UserError(f"no login completed within {timeout:g}s (was the browser tab closed?)")
        if self._error:
            raise UserError(f"login failed: {self._error}")
        return self._code

    def _accept(self, query: dict[str, list[str]]) -> tuple[int, str]:
        """Decide on one callback request: (HTTP status, message for the browser)."""
        def first(name: str) -> str:
            return query.get(name, [""])[0]

        if self._done.is_set():
            return 409, "This login has already completed."
        if first("state") != self.state:
            return 400, "Unexpected state: this is not the login dexpy started."
        if first("error"):
            self._error = " ".join(filter(None, [first("error"), first("error_description")]))
            self._done.set()
            return 400, f"Login failed: {self._error}. You may close this tab."
        if not first("code"):
            return 400, "The redirect carried no authorization code."
        self._code = first("code")
        self._done.set()
        return 200, "Login complete. You may close this tab and return to your terminal."

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)
                status, message = (receiver._accept(parse_qs(url.query)) if url.path == CALLBACK_PATH
                                   else (404, "Not found."))
                body = f"<!doctype html><title>dexpy login</title><p>{html.escape(message)}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Silence the per-request log: stdout/stderr belong to kubectl."""

        return Handler
