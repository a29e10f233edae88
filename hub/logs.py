"""Structured logs: one JSON object per line (time, level, logger, event, request_id and the
line's key=value fields). The hub logs `event key=value` strings through `logging`; this
formatter turns them into fields, so no call site needs to know about JSON.

No personal data leaves through a log line: every message is scrubbed of anything shaped
like a BSN (nine digits), a bearer token or a JWT, and an exception is logged by its class
only (tracebacks and driver messages can carry SQL and the values in it)."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from hub.config import ConfigError

REQUEST_ID: ContextVar[str | None] = ContextVar("hub_request_id", default=None)

# A caller's x-request-id is kept when it is a short plain token; anything else is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_BSN = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+\S+")
_EVENT = re.compile(r"[a-z][a-z0-9_.]*")
_FIELD = re.compile(r"([a-z][a-z0-9_]*)=(\S*)")
_RESERVED = frozenset({"time", "level", "logger", "event", "message", "request_id"})
FORMATS = ("json", "text")


def request_id(header: str | None) -> str:
    """The caller's x-request-id when sane (1-64 letters, digits and `._:-`, not a BSN),
    else a fresh one."""
    if header and _SANE_REQUEST_ID.fullmatch(header) and not _BSN.search(header):
        return header
    return uuid.uuid4().hex


def scrub(text: str) -> str:
    """The text without BSN-shaped numbers, bearer tokens and JWTs."""
    text = _BEARER.sub("Bearer [redacted]", text)
    text = _JWT.sub("[redacted-token]", text)
    return _BSN.sub("[redacted-number]", text)


def _value(raw: str) -> Any:
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def fields(message: str) -> dict[str, Any]:
    """`event key=value ...` as {"event": ..., key: value}; text that does not follow that
    shape is kept as `message`."""
    head, _, rest = message.partition(" ")
    head = head.rstrip(":")
    words = rest.split()
    pairs = [m.groups() for w in words if (m := _FIELD.fullmatch(w))]
    structured = bool(words) and len(pairs) == len(words)
    # An event is a snake_case word ("migration_applied"), or any lower-case word followed
    # only by fields ("request method=GET"); other libraries' prose stays a message.
    if not _EVENT.fullmatch(head) or not ("_" in head or structured):
        return {"message": message}
    result: dict[str, Any] = {"event": head}
    if structured:
        for key, raw in pairs:
            result[key if key not in _RESERVED else f"{key}_"] = _value(raw)
    elif rest:
        result["message"] = rest
    return result


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": REQUEST_ID.get(),
        }
        line.update(fields(scrub(record.getMessage())))
        if record.exc_info and record.exc_info[0] is not None:
            line.setdefault("error", record.exc_info[0].__name__)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`LEVEL logger [request id] message`, scrubbed the same way."""

    def format(self, record: logging.LogRecord) -> str:
        rid = REQUEST_ID.get()
        text = f"{record.levelname} {record.name} " + (f"[{rid}] " if rid else "")
        text += scrub(record.getMessage())
        if record.exc_info and record.exc_info[0] is not None:
            text += f" error={record.exc_info[0].__name__}"
        return text


def setup(level: str | None = None, fmt: str | None = None) -> None:
    """Log to stderr: HUB_LOG_LEVEL (default WARNING; INFO adds one line per request) and
    HUB_LOG_FORMAT (json, the default, or text)."""
    level = (level or os.environ.get("HUB_LOG_LEVEL") or "WARNING").upper()
    fmt = (fmt or os.environ.get("HUB_LOG_FORMAT") or "json").lower()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"HUB_LOG_LEVEL={level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if fmt not in FORMATS:
        raise ConfigError(f"HUB_LOG_FORMAT={fmt!r}: use json or text")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
