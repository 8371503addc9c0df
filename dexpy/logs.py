"""Logging: `logger.format` (text | json) and `logger.level`, a request id on every line, the audit trail,
and a redaction filter that keeps secrets out of every line as defence in depth.

    configure(config.logger)
    audit("login", user="jane", connector_id="ldap", client_id="kubectl", result="success")

Audit lines go to the `dexpy.audit` logger, one per event (login, token, refresh, revocation, logout), with
who, which client and connector, and where from (the request's remote address).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from dexpy.config import LoggerConfig

AUDIT_LOGGER = "dexpy.audit"
REDACTED = "[REDACTED]"
_audit_log = logging.getLogger(AUDIT_LOGGER)
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING,
          "error": logging.ERROR}

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName",
                                                                      "color_message"}  # uvicorn's ANSI copy
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|code|hash|authorization|cookie|credential", re.I)
_SECRET_PATTERNS = (
    re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"),                                     # JWTs (ID and access tokens)
    re.compile(r"\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}"),                             # bcrypt hashes
    re.compile(r"(?i)\b(Basic|Bearer)\s+[\w.~+/=-]+"),                             # Authorization headers
    re.compile(r"(?i)\b((?:client_|refresh_|access_|id_|subject_|device_)?(?:secret|token|password|code"
               r"|code_verifier))(\s*[=:]\s*[\"']?)[^\s&\"',;]+"),                 # key=value pairs
)


@dataclass
class RequestContext:
    request_id: str
    remote_addr: str = ""


request_context: ContextVar[RequestContext | None] = ContextVar("dexpy_request", default=None)


_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIds:
    """Unique request ids without a syscall per request: a random prefix and a counter. Make one per process
    (after forking), so that workers' ids differ."""

    def __init__(self) -> None:
        self.prefix = secrets.token_hex(6)
        self.counter = itertools.count(1)

    def new(self) -> str:
        return f"{self.prefix}-{next(self.counter):x}"

    def given_or_new(self, given: str) -> str:
        """The caller's id (`X-Request-Id`, also as gRPC metadata) when it is a sane one, else a new one."""
        return given if _VALID_REQUEST_ID.fullmatch(given) else self.new()


def redact(text: str) -> str:
    """`text` with anything that looks like a token, hash, password or secret replaced."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}" if m.re.groups >= 2 else REDACTED, text)
    return text


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class ContextFilter(logging.Filter):
    """Stamp the current request's id and remote address on every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = request_context.get()
        if ctx is not None:
            record.__dict__.setdefault("request_id", ctx.request_id)
            if ctx.remote_addr:
                record.__dict__.setdefault("client_remote_addr", ctx.remote_addr)
        return True


class RedactFilter(logging.Filter):
    """Rewrite the record so that its message and extra fields carry no secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        record.msg, record.args, record.exc_text = redact(message), None, None
        for key, value in extra_fields(record).items():
            if _SECRET_NAME.search(key) and not key.endswith("_id"):
                record.__dict__[key] = REDACTED
            elif isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


class ExcludeFilter(logging.Filter):
    """`logger.excludeFields`: drop the named extra fields."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        for name in self.names:
            record.__dict__.pop(name, None)
        return True


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value …`, in the spirit of slog's text handler."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        fields = " ".join(f"{k}={_text_value(v)}" for k, v in extra_fields(record).items())
        return f"{stamp} {record.levelname} {record.name}: {record.getMessage()}" + (f" {fields}" if fields else "")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
                 **extra_fields(record)}
        return json.dumps(entry, default=str)


def _text_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if not text or any(c in text for c in " \"=") else text


def handler(config: LoggerConfig, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler with dexpy's filters and the configured format."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(ContextFilter())
    if config.exclude_fields:
        out.addFilter(ExcludeFilter(config.exclude_fields))
    out.addFilter(RedactFilter())
    out.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    return out


def configure(config: LoggerConfig, stream: IO[str] | None = None) -> None:
    """Route every logger through one handler at `logger.level` (replacing earlier handlers)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(config, stream))
    root.setLevel(LEVELS.get(config.level.lower(), logging.INFO))


def audit(event: str, **fields: Any) -> None:
    """One audit line: `event` plus who/client/connector/result; the remote address comes from the request."""
    ctx = request_context.get()
    if ctx is not None:
        fields = {"request_id": ctx.request_id, "remote_addr": ctx.remote_addr, **fields}
    _audit_log.info(event, extra={"event": event, **fields})
