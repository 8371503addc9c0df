"""TLS for the web listener: TLS 1.2+ with a certificate that is re-read when its files change.

kube-apiserver only accepts an https issuer, and certificates in clusters rotate (cert-manager rewrites the
Secret's files in place). Every handshake runs the SNI callback, which swaps in a freshly loaded context when
the files' modification times have moved; a bad new pair is logged and the old one kept.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time

log = logging.getLogger(__name__)

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
CHECK_INTERVAL = 1.0
"""Seconds between looks at the files' modification times (handshakes in between reuse the answer)."""


def _context(cert: str, key: str, min_version: str, max_version: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = VERSIONS[min_version or "1.2"]
    if max_version:
        context.maximum_version = VERSIONS[max_version]
    context.load_cert_chain(cert, key)
    return context


class ReloadingTLS:
    def __init__(self, cert: str, key: str, min_version: str = "1.2", max_version: str = "") -> None:
        self._files = (cert, key)
        self._versions = (min_version, max_version)
        self._lock = threading.Lock()
        self._stamp = self._mtimes()
        self._checked = time.monotonic()
        self._current = _context(cert, key, min_version, max_version)
        self.context = _context(cert, key, min_version, max_version)
        """The context given to the server; its SNI callback hands each handshake the current pair."""
        self.context.sni_callback = self._on_handshake

    def _mtimes(self) -> tuple[float, ...]:
        return tuple(os.stat(f).st_mtime_ns for f in self._files)

    def current(self) -> ssl.SSLContext:
        now = time.monotonic()
        with self._lock:
            if now - self._checked >= CHECK_INTERVAL:
                self._checked = now
                self._reload_if_changed()
            return self._current

    def _reload_if_changed(self) -> None:
        try:
            stamp = self._mtimes()
            if stamp == self._stamp:
                return
            self._current = _context(*self._files, *self._versions)
            self._stamp = stamp
            log.info("reloaded the TLS certificate from %s", self._files[0])
        except (OSError, ssl.SSLError) as exc:
            log.warning("keeping the current TLS certificate: the new one could not be loaded: %s", exc)

    def _on_handshake(self, conn: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        conn.context = self.current()
