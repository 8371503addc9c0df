"""The HTTP protocol of dexpy's listeners: uvicorn's httptools protocol with one send per response
(`dexpy.web.onesend`), quiet about `Upgrade` requests."""

from __future__ import annotations

from dexpy.web.onesend import OneSendProtocol


class HTTPProtocol(OneSendProtocol):
    def _unsupported_upgrade_warning(self) -> None:
        """dexpy serves no WebSockets (uvicorn's `ws="none"`), so a request with an `Upgrade` header (a scanner,
        `curl --http2`'s h2c) is answered as plain HTTP/1.1. uvicorn logs two warnings for it, one telling the
        operator to install a WebSocket library: wrong advice, which any client could write into the log."""
        self.logger.debug("Upgrade request answered as plain HTTP/1.1: dexpy serves no WebSockets")
