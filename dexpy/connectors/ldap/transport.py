"""Connections to the directory: TLS set up once, a bounded pool, and ldap3 failures turned into our errors.

Every socket has a connect timeout and a receive timeout, and waiting for a free pooled connection is bounded
too, so a slow or dead directory costs a worker a bounded wait and then `ConnectorUnavailable`.
"""

from __future__ import annotations

import base64
import binascii
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import ldap3
from ldap3.core import exceptions as ldap_errors

from dexpy.connectors.base import ConnectorConfigError, ConnectorUnavailable
from dexpy.connectors.ldap.config import LDAPConfig
from dexpy.loopwork import off_loop
from dexpy.telemetry import observe_ldap

T = TypeVar("T")

_UNREACHABLE = (ldap_errors.LDAPCommunicationError, ldap_errors.LDAPResponseTimeoutError,
                ldap_errors.LDAPStartTLSError, ldap_errors.LDAPMaximumRetriesError, OSError)


class TLSVerificationFailed(ConnectorUnavailable):
    """A TLS certificate check failed; `check` says which: one on the directory's certificate (`unknown_ca`,
    `hostname_mismatch`, `expired`, `not_yet_valid`, `other`) or, as far as a client can tell, the directory's
    check on ours (`client_cert_required`, `client_cert_refused`)."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"TLS certificate check failed ({check}): {detail}")
        self.check = check


class ServiceBindFailed(ConnectorUnavailable):
    """The directory refused bindDN/bindPW: nobody can log in until the config or the directory is fixed."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the directory refused the service account (bindDN): {reason}")


_VERIFY_CHECKS = {
    9: "not_yet_valid", 10: "expired",
    18: "unknown_ca", 19: "unknown_ca", 20: "unknown_ca", 21: "unknown_ca",
    62: "hostname_mismatch",
}
_CHECK_ADVICE = {
    "expired": "the directory's certificate has expired",
    "not_yet_valid": "the directory's certificate is not valid yet",
    "unknown_ca": "the directory's certificate is not signed by a trusted CA (see rootCA / rootCAData)",
    "hostname_mismatch": "the directory's certificate does not name the configured host",
    "client_cert_required": "the directory closed the TLS session before answering: it probably demands a "
                            "client certificate (set clientCert and clientKey)",
    "client_cert_refused": "the directory closed the TLS session before answering: it probably refused the "
                           "client certificate (is clientCert issued by a CA the directory trusts, and valid?)",
}


def _tls_failure(exc: ssl.SSLCertVerificationError) -> TLSVerificationFailed:
    check = _VERIFY_CHECKS.get(exc.verify_code, "other")
    return TLSVerificationFailed(check, _CHECK_ADVICE.get(check, str(exc.verify_message)))


class _ContextTls(ldap3.Tls):
    """ldap3 TLS with our own SSLContext (built once, hostname checked by OpenSSL); remembers why a handshake
    was refused on the connection, since ldap3 re-wraps the exception and loses its verify code."""

    def __init__(self, context: ssl.SSLContext, server_name: str, client_cert: bool) -> None:
        super().__init__()
        self._context = context
        self._server_name = server_name
        self.client_cert_check = "client_cert_refused" if client_cert else "client_cert_required"

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        try:
            connection.socket = self._context.wrap_socket(
                connection.socket, server_hostname=self._server_name, do_handshake_on_connect=do_handshake)
        except ssl.SSLCertVerificationError as exc:
            connection.dexpy_tls_failure = _tls_failure(exc)
            raise
        connection.dexpy_tls_up = True


def split_host(host: str, default_port: int) -> tuple[str, int]:
    """`h`, `h:p`, `[v6]:p` → (name, port)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, int(rest[1:]) if rest.startswith(":") else default_port
    name, sep, port = host.rpartition(":")
    if not sep or ":" in name:  # no port, or a bare IPv6 address
        return host, default_port
    return name, int(port)


def _ca_data(config: LDAPConfig) -> str | None:
    if config.root_ca_data:
        text = config.root_ca_data.strip()
        if text.startswith("-----BEGIN"):
            return text
        try:
            return base64.b64decode(text, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ConnectorConfigError("rootCAData", "not base64 of a PEM certificate bundle") from exc
    if config.root_ca:
        try:
            with open(config.root_ca, encoding="ascii") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConnectorConfigError("rootCA", f"cannot read {config.root_ca}: {exc}") from exc
    return None


def ssl_context(config: LDAPConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if config.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    ca = _ca_data(config)
    if ca is not None:
        field_name = "rootCAData" if config.root_ca_data else "rootCA"
        if "-----BEGIN CERTIFICATE-----" not in ca:
            raise ConnectorConfigError(field_name, "no PEM certificate found")
        try:
            context.load_verify_locations(cadata=ca)
        except ssl.SSLError as exc:
            raise ConnectorConfigError(field_name, f"invalid certificate: {exc}") from exc
    if config.client_cert:
        try:
            context.load_cert_chain(config.client_cert, config.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectorConfigError("clientCert", f"cannot load the client certificate and key: {exc}") from exc
    return context


def server_factory(config: LDAPConfig) -> Callable[[], ldap3.Server]:
    """Checks the TLS settings now; each call then gives a fresh ldap3.Server, because a shared one remembers
    failed addresses and refuses to retry them for a while (a restarted directory would stay unreachable)."""
    try:
        name, port = split_host(config.host, 389 if config.insecure_no_ssl or config.start_tls else 636)
    except ValueError as exc:
        raise ConnectorConfigError("host", f"expected host[:port], got {config.host!r}") from exc
    tls = None if config.insecure_no_ssl else _ContextTls(ssl_context(config), name, bool(config.client_cert))
    use_ssl = not (config.insecure_no_ssl or config.start_tls)
    connect_timeout = config.connect_timeout.total_seconds()
    return lambda: ldap3.Server(name, port=port, use_ssl=use_ssl, tls=tls, get_info=ldap3.NONE,
                                connect_timeout=connect_timeout, mode=ldap3.IP_V4_PREFERRED)


def unavailable(exc: BaseException, conn: ldap3.Connection | None = None) -> ConnectorUnavailable:
    failure = getattr(conn, "dexpy_tls_failure", None)
    if isinstance(failure, TLSVerificationFailed):
        return failure
    if conn is not None and _ended_before_any_answer(exc, conn):
        check = conn.server.tls.client_cert_check
        return TLSVerificationFailed(check, _CHECK_ADVICE[check])
    return ConnectorUnavailable(f"LDAP server unreachable: {exc}")


def _ended_before_any_answer(exc: BaseException, conn: ldap3.Connection) -> bool:
    """The directory ended a TLS session we had set up before it answered anything on it (a bind, or an
    operation of the pool), without a timeout. In TLS 1.3 a server checks our certificate after our side of the
    handshake is done, so a missing or refused client certificate shows only like this (slapd sends no alert
    we could read). A connection that has answered before (an anonymous one too) and then ends is not that."""
    answered = conn.bound or bool(getattr(conn, "dexpy_answered", False))
    return (bool(getattr(conn, "dexpy_tls_up", False)) and not answered and not _timed_out(exc)
            and not isinstance(exc, ldap_errors.LDAPResponseTimeoutError))


class Pool:
    """At most `size` connections, each used by one thread at a time; idle ones are reused newest first.

    `opener` returns a connection ready for use (open, StartTLS done, bound if need be). `run(op)` lends one
    to `op`; when a reused connection turns out dead (the directory restarted), the idle ones are dropped and
    `op` is retried once on a fresh connection. Operations must therefore be safe to repeat (reads, binds).
    """

    def __init__(self, opener: Callable[[], ldap3.Connection], size: int, wait: float, operation: str) -> None:
        """`operation` names what the pool's connections do ("search", "bind") in the latency metric."""
        self._opener = opener
        self._operation = operation
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[ldap3.Connection] = []
        self._closed = False
        self._lock = threading.Lock()
        self._wait = wait

    def run(self, op: Callable[[ldap3.Connection], T]) -> T:
        started, ok = time.monotonic(), False
        try:
            result = off_loop(self._run, op)  # on the event loop: it serves other requests meanwhile
            ok = True
            return result
        finally:
            observe_ldap(self._operation, time.monotonic() - started, ok=ok)

    def _run(self, op: Callable[[ldap3.Connection], T]) -> T:
        with self._slot():
            conn = self._take()
            if conn is not None:
                try:
                    return self._use(conn, op)
                except ConnectorUnavailable as exc:
                    self._drop_idle()
                    if _timed_out(exc):  # a slow directory, not a dead socket: another try would double the wait
                        raise
            return self._use(self._opener(), op)

    def close(self) -> None:
        """Close the idle connections; one an operation in flight hands back afterwards is closed, not kept."""
        with self._lock:
            self._closed = True
        self._drop_idle()

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._wait):
            raise ConnectorUnavailable("all LDAP connections are busy")
        try:
            yield
        finally:
            self._slots.release()

    def _take(self) -> ldap3.Connection | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _use(self, conn: ldap3.Connection, op: Callable[[ldap3.Connection], T]) -> T:
        with _closed_on_failure(conn):
            result = op(conn)
        conn.dexpy_answered = True  # from now on, its end is not a certificate check (_ended_before_any_answer)
        with self._lock:
            keep = not self._closed
            if keep:
                self._idle.append(conn)
        if not keep:
            _close(conn)
        return result

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close(conn)


def _timed_out(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def _closed_on_failure(conn: ldap3.Connection) -> Iterator[None]:
    """Close `conn` if the block fails; a directory that cannot be reached becomes ConnectorUnavailable."""
    try:
        yield
    except _UNREACHABLE as exc:
        _close(conn)
        raise unavailable(exc, conn) from exc
    except BaseException:
        _close(conn)
        raise


def _close(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken socket may fail in many ways; it is gone either way
        pass


def opener(server: Callable[[], ldap3.Server], config: LDAPConfig, user: str | None,
           password: str | None) -> Callable[[], ldap3.Connection]:
    """Opens connections (StartTLS when configured), bound as `user` when given, else anonymous."""
    receive_timeout = math.ceil(config.timeout.total_seconds())  # ldap3 packs it as whole seconds

    def open_connection() -> ldap3.Connection:
        conn = ldap3.Connection(server(), user=user, password=password, receive_timeout=receive_timeout,
                                read_only=True, check_names=False, auto_referrals=False, raise_exceptions=False)
        with _closed_on_failure(conn):
            conn.open()
            if config.start_tls:
                conn.start_tls()
            if user and not conn.bind():
                raise ServiceBindFailed(conn.result.get("description", "bind refused"))
        return conn

    return open_connection

