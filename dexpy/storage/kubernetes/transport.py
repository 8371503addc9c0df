"""The one seam to the Kubernetes API: JSON over HTTPS with the official client's `Configuration`.

The `Configuration` (from `kubernetes.config`) carries the server, TLS material and credentials, including
the refresh hooks of exec plugins and rotated service-account tokens; this module only sends requests and
turns answers into storage errors. Every request has a timeout.

Two HTTP clients, one per caller: protocol work on the event loop (dexpy.loopwork) sends with aiohttp on that
loop, its greenlet parked until the answer is in; threads (watches, key rotation, the CLI) send with urllib3.
A round trip from the loop through a thread cost ~40% more CPU per refresh grant, most of it the two threads
handing the GIL back and forth at each socket call while the loop was busy with other requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import urllib3
from kubernetes.client import Configuration

from dexpy import loopwork
from dexpy.storage import AlreadyExists, Conflict, Invalid, NotFound, StorageError, Unavailable
from dexpy.storage.kubernetes.errors import Forbidden, Gone, MissingNamespace, MissingResource, SetupError


SECRET_NAMED = ("authcodes", "devicetokens", "devicerequests")
"""Resources whose object names are secrets (the code, the device code, the user code): never in a message."""

logging.getLogger("urllib3").setLevel(logging.ERROR)
"""urllib3 logs each retry with the request's path, and so with a code; dexpy reports the failure itself."""

MAX_OBJECT_BYTES = 1024 * 1024
"""Refuse bigger objects before sending: etcd refuses about 1.5 MiB, with metadata and managedFields included."""

LOOP_CONNECTIONS = 32
"""API connections per event loop at most; a request beyond them waits for one to be free."""


def error_for(status: int, payload: Any, what: str) -> StorageError:
    """The storage error for an API answer that is not a success."""
    status_body = payload if isinstance(payload, dict) and payload.get("kind") == "Status" else {}
    message = status_body.get("message") or (payload if isinstance(payload, str) else "") or f"HTTP {status}"
    reason = status_body.get("reason", "")
    text = f"{what}: {message}"
    if status == 404 and not status_body:
        return MissingResource(f"{what}: the API server does not serve this resource; are the CRDs installed?")
    if status == 404 and (status_body.get("details") or {}).get("kind") == "namespaces":
        return MissingNamespace(text)
    if status == 404:
        return NotFound(text)
    if status == 409:
        return AlreadyExists(text) if reason == "AlreadyExists" else Conflict(text)
    if status == 410:
        return Gone(text)
    if status in (401, 403):
        return Forbidden(text)
    if status in (400, 413, 422) or (status == 500 and "too large" in message):
        return Invalid(text)
    return Unavailable(text)


class Transport:
    def __init__(self, configuration: Configuration, timeout: float = 15.0) -> None:
        self.configuration = configuration
        self.timeout = timeout
        self.host = configuration.host.rstrip("/")
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=16,
            ssl_context=_ssl_context(configuration),  # its own: urllib3 sets options on the context it is given
            server_hostname=configuration.tls_server_name,  # a kubeconfig's tls-server-name: the name to check
            retries=urllib3.Retry(total=1, connect=1, read=0, status=0, redirect=0, other=0),
        )
        self._clients: dict[asyncio.AbstractEventLoop, _LoopClient] = {}

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": "dexpy"}
        token = self.configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
        if not token and self.configuration.username and self.configuration.password:
            token = self.configuration.get_basic_auth_token()
        if token:
            headers["Authorization"] = token
        return headers

    def _url(self, path: str, query: dict[str, Any] | None) -> str:
        return self.host + path + (f"?{urlencode(query)}" if query else "")

    def _send(self, method: str, path: str, query: dict[str, Any] | None, body: bytes | None,
              read_timeout: float, stream: bool = False) -> urllib3.BaseHTTPResponse:
        url = self._url(path, query)
        what = f"{method} {path}"
        try:
            return self._pool.request(
                method,
                url,
                body=body,
                headers=self._headers(),
                timeout=urllib3.Timeout(connect=_connect_timeout(self.timeout), read=read_timeout),
                preload_content=not stream,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise self._unreachable(what, exc) from exc

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: object = None) -> Any:
        """Send one request; the decoded JSON answer, or the storage error for a failure."""
        secret = _secret_name(path)
        if not secret:
            return self._request(method, path, query, body)
        try:
            return self._request(method, path, query, body)
        except StorageError as exc:  # the path, the API's Status message and urllib3's error all hold the name
            raise type(exc)(str(exc).replace(secret, "<name>")) from None

    def _request(self, method: str, path: str, query: dict[str, Any] | None, body: object) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if data is not None and len(data) > MAX_OBJECT_BYTES:
            raise Invalid(f"{method} {path}: object of {len(data)} bytes exceeds the {MAX_OBJECT_BYTES}-byte limit")
        if loopwork.as_protocol_work():
            status, answer = loopwork.awaiting(self._send_on_loop(method, path, query, data, self._headers()))
        else:
            response = self._send(method, path, query, data, self.timeout)
            status, answer = response.status, response.data
        payload = _decode(answer)
        if status >= 300:
            raise error_for(status, payload, f"{method} {path}")
        return payload

    async def _send_on_loop(self, method: str, path: str, query: dict[str, Any] | None, body: bytes | None,
                            headers: dict[str, str]) -> tuple[int, bytes]:
        client = self._client()
        try:
            async with asyncio.timeout(self.timeout):
                await client.turns.acquire()
        except TimeoutError:
            raise Unavailable(f"{method} {path}: all {LOOP_CONNECTIONS} connections to the Kubernetes API at "
                              f"{self.host} stayed busy for {self.timeout:g} s") from None
        try:
            async with client.session.request(method, self._url(path, query), data=body, headers=headers,
                                              server_hostname=self.configuration.tls_server_name) as answer:
                return answer.status, await answer.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._unreachable(f"{method} {path}", exc) from exc
        finally:
            client.turns.release()

    def _client(self) -> _LoopClient:
        """This loop's client, closed with the loop's protocol work (`loopwork.at_close`)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = _LoopClient(self.configuration, self.timeout)
            loopwork.at_close(lambda: self._clients.pop(loop).session.close())
        return client

    def _unreachable(self, what: str, exc: Exception) -> Unavailable:
        return Unavailable(f"{what}: Kubernetes API at {self.host} unreachable: {str(exc) or repr(exc)}")

    def watch(self, path: str, query: dict[str, Any], read_timeout: float) -> WatchStream:
        """Open a watch; iterate the returned stream for its events."""
        response = self._send("GET", path, {**query, "watch": "true"}, None, read_timeout, stream=True)
        if response.status >= 300:
            error = error_for(response.status, _decode(response.read()), f"watch {path}")
            response.release_conn()
            raise error
        return WatchStream(response, path)

    def close(self) -> None:
        self._pool.clear()


class _LoopClient:
    """One event loop's aiohttp session, and the queue of its requests for one of the session's connections.
    aiohttp's own queue lets a new request take a connection freed for a waiting one: under load, waiting
    requests starved for seconds (p99 over 1 s with 64 clients on 8 connections). An asyncio.Semaphore serves
    them in order."""

    def __init__(self, configuration: Configuration, timeout: float) -> None:
        connector = aiohttp.TCPConnector(ssl=_ssl_context(configuration) or False, limit=LOOP_CONNECTIONS)
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(sock_connect=_connect_timeout(timeout), sock_read=timeout))
        self.turns = asyncio.Semaphore(LOOP_CONNECTIONS)


class WatchStream:
    """The events of one watch, one JSON object each, until the server ends it or `close` is called."""

    def __init__(self, response: urllib3.BaseHTTPResponse, path: str) -> None:
        self._response = response
        self._path = path
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = b""
        try:
            for chunk in self._response.stream(None):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if not self._closed:
                raise Unavailable(f"watch {self._path}: stream broken: {exc}") from exc
        finally:
            self._response.release_conn()

    def close(self) -> None:
        """Interrupt a blocked read from another thread."""
        self._closed = True
        try:
            self._response.shutdown()
        except (ValueError, OSError, RuntimeError):  # urllib3: RuntimeError once the connection went back to the pool
            pass  # the stream already ended


def _connect_timeout(timeout: float) -> float:
    return min(5.0, timeout)


def _ssl_context(configuration: Configuration) -> ssl.SSLContext | None:
    """The TLS settings of a Configuration, for either client: the CA, the client certificate, verification;
    None for a plain-HTTP server."""
    if not configuration.host.startswith("https:"):
        return None
    try:
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert,
                                             cadata=getattr(configuration, "ca_cert_data", None))
        if configuration.cert_file:
            context.load_cert_chain(configuration.cert_file, configuration.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise SetupError(f"cannot load the TLS material for the Kubernetes API at {configuration.host} (CA "
                         f"{configuration.ssl_ca_cert}, client certificate {configuration.cert_file}): {exc}") from exc
    if not configuration.verify_ssl:  # insecure-skip-tls-verify
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _secret_name(path: str) -> str:
    """The object name in a path to one object of a SECRET_NAMED resource, else ''."""
    parts = path.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] in SECRET_NAMED else ""


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode(errors="replace").strip()
