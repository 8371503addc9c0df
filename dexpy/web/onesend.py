"""One send per small HTTP response: uvicorn writes a response's header block and its body in two calls, and
with TCP_NODELAY each call is its own TCP segment, its own wake-up of the client and its own trip through the
kernel on both sides. `OneSendProtocol` holds the header block until the first body write (or the response's
end) and sends them together."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _HeldHeaders:
    """A transport that delays the header block of each response until the body's first write."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._awaiting_headers = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._awaiting_headers and bytes(data[:9]) == b"HTTP/1.1 " and data[9:10] != b"1":  # not 100 Continue
            self._awaiting_headers = False
            self._held = bytes(data)
            return
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
        self._transport.write(data)

    def response_sent(self) -> None:
        """The response is complete: send what is held; the next write starts another response."""
        if self._held is not None:
            self._transport.write(self._held)
            self._held = None
        self._awaiting_headers = True

    def close(self) -> None:
        self.response_sent()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSendProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeldHeaders(transport))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        self.transport.response_sent()  # type: ignore[attr-defined]
        super().on_response_complete()
