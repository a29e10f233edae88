"""JSON APIs of municipal access systems (and GI systems), pulled over HTTP with paging,
an incremental cursor and retries.

The wire format (what `hub/synth/api.py` serves): `GET location?since=CURSOR` answers
`{"items": [...], "next": "<URL of the next page>" | null, "cursor": "..."}`; the adapter
follows `next` until it is null and keeps the last page's `cursor` for the next pull. Every
item is one record of the source's kind, read like a row of a CSV export (see
`hub/adapters/tabular.py` for the options kind, columns, values, date_format, decimal, money,
municipality); nested objects are flattened with dots, so a column may be `client.bsn`.

Options besides those of tabular.py:

    since_param   query parameter of the cursor (default "since")
    items_key     key of the item list in a page (default "items")
    next_key      key of the next page's URL (default "next"; may be relative)
    cursor_key    key of the cursor for the next pull (default "cursor")
    page_size     sent as `page_size` when set
    timeout       seconds to wait for the server (default 10)
    retries       further attempts after a 5xx, 408, 429, timeout or connection error
                  (default 3), waiting `backoff` seconds (default 0.5), doubled each time

Each page is one FileResult (one transaction in the store): its name is the page's URL
without credentials (user info and query parameters such as `token` or `api_key`), its hash
the sha256 of the body, its records' positions `item N`. A page that cannot be fetched (a 4xx
at once; a 5xx, timeout or connection error after the retries) or whose body is not the wire
format ends the pull with one failed FileResult naming the request and the status, so the
cursor stays where it was. `read()` takes a saved page: a body as above or a bare array.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar

import certifi
import httpx

from hub.adapters.base import AdapterContext, PullAdapter, file_sha256
from hub.adapters.tabular import RowOptions, RowReader
from hub.config import ConfigError
from hub.model import FileResult, Rejection

MESSAGE_TYPE = "API"
_OPTIONS = (
    "since_param",
    "items_key",
    "next_key",
    "cursor_key",
    "page_size",
    "timeout",
    "retries",
    "backoff",
)
# Query parameters that carry credentials: never in a file name or a reason.
_SECRET_PARAM = re.compile(r"token|key|secret|passw|pwd|auth|sig|credential", re.IGNORECASE)
_RETRYABLE = frozenset({408, 429})  # besides every 5xx


class JsonApiAdapter(PullAdapter):
    name: ClassVar[str] = "json-api"
    kinds: ClassVar[tuple[str, ...]] = ("referral", "assignment", "care_period", "measure")

    def __init__(self, source_id: str, options: Mapping[str, Any], owner: str | None) -> None:
        super().__init__(source_id, {}, owner)
        self.opts = RowOptions.parse(
            source_id, options, kinds=self.kinds, extra=_OPTIONS, owner=owner
        )
        where = f"source {source_id!r}"
        self.since_param = _key(where, options, "since_param", "since")
        self.items_key = _key(where, options, "items_key", "items")
        self.next_key = _key(where, options, "next_key", "next")
        self.cursor_key = _key(where, options, "cursor_key", "cursor")
        size = options.get("page_size")
        self.page_size = None if size is None else int(_number(where, "page_size", size, 1, True))
        self.timeout = _number(where, "timeout", options.get("timeout", 10), 0, False)
        if self.timeout <= 0:
            raise ConfigError(f"{where}: option timeout must be more than 0 seconds")
        self.retries = int(_number(where, "retries", options.get("retries", 3), 0, True))
        self.backoff = _number(where, "backoff", options.get("backoff", 0.5), 0, False)

    # -- a saved page

    def read(self, path: Path, ctx: AdapterContext) -> FileResult:
        data = path.read_bytes()
        reader = RowReader(self.opts, ctx, path.name, file_sha256(data), MESSAGE_TYPE)
        return self._page(reader, data, bare_array=True)[0]

    # -- pulling

    async def pull(
        self, location: str, since: str | None, ctx: AdapterContext
    ) -> AsyncIterator[FileResult]:
        self.cursor = since
        try:
            base = httpx.URL(location)
        except httpx.InvalidURL:
            base = httpx.URL()
        if base.scheme not in ("http", "https") or not base.host:
            raise ConfigError(f"source {self.source_id!r}: location is not an http(s) URL")
        auth = httpx.BasicAuth(base.username, base.password) if base.userinfo else None
        base = base.copy_with(userinfo=b"")
        own_params = [(k, v) for k, v in base.params.multi_items() if k != self.since_param]
        params: dict[str, str] = {}
        if since is not None:
            params[self.since_param] = since
        if self.page_size is not None:
            params["page_size"] = str(self.page_size)
        url = base.copy_merge_params(params) if params else base
        fetched: set[str] = set()
        async with httpx.AsyncClient(
            auth=auth,
            verify=_tls(),
            timeout=httpx.Timeout(self.timeout),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        ) as client:
            while True:
                fetched.add(str(url))
                shown = _shown(url)
                got = await self._get(client, url)
                if isinstance(got, _Failure):
                    yield self._failed(ctx, shown, got)
                    return
                reader = RowReader(self.opts, ctx, shown, file_sha256(got), MESSAGE_TYPE)
                result, body = self._page(reader, got, bare_array=False)
                if result.failed:
                    yield result
                    return
                following = body.get(self.next_key)
                cursor = body.get(self.cursor_key)
                yield result
                if following is None or following == "":
                    self.cursor = since if cursor is None else str(cursor)
                    return
                problem = None
                if not isinstance(following, str):
                    problem = f"its {self.next_key!r} is not a URL"
                else:
                    url = _carry(url.join(following), own_params)
                    if _origin(url) != _origin(base):
                        problem = f"its {self.next_key!r} leads to another server ({url.host})"
                    elif str(url) in fetched:
                        problem = f"its {self.next_key!r} leads to a page fetched before"
                if problem:
                    reason = f"GET {_target(shown)}: {problem}; the pull stops"
                    yield self._failed(ctx, shown, _Failure("paging", reason, got))
                    return

    async def _get(self, client: httpx.AsyncClient, url: httpx.URL) -> bytes | _Failure:
        """The body of a 2xx answer, after retries; else why not."""
        target = _target(_shown(url))
        failure = _Failure("http-error", f"GET {target} was not sent", b"")
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            attempts += 1
            try:
                response = await client.get(url)
            except httpx.TimeoutException:
                failure = _Failure(
                    "http-timeout", f"GET {target} timed out after {self.timeout:g} s", b""
                )
                continue
            except httpx.RequestError as exc:
                failure = _Failure("http-error", f"GET {target} failed: {_describe(exc)}", b"")
                continue
            if response.is_success:
                return response.content
            failure = _Failure(
                "http-status",
                f"GET {target} answered {_status(response.status_code)}",
                response.content,
            )
            if not (response.status_code >= 500 or response.status_code in _RETRYABLE):
                break
        if attempts > 1:
            failure.reason += f" ({attempts} attempts)"
        return failure

    def _failed(self, ctx: AdapterContext, shown: str, failure: _Failure) -> FileResult:
        # No page to hash: the hash names the request, the failure and when, so that every
        # failed pull keeps its own reason in quarantine.
        now = datetime.now(UTC).isoformat()
        digest = file_sha256(f"GET {shown}\n{failure.code}\n{now}\n".encode() + failure.body)
        reader = RowReader(self.opts, ctx, shown, digest, MESSAGE_TYPE)
        return reader.fail(failure.code, failure.reason)

    # -- one page's body

    def _page(
        self, reader: RowReader, data: bytes, *, bare_array: bool
    ) -> tuple[FileResult, dict[str, Any]]:
        """The page's records and rejections, and its body (for next and cursor)."""
        what = reader.file_name if bare_array else f"GET {_target(reader.file_name)}"
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            reason = f"{what}: the body is not UTF-8 (byte {exc.start}: {exc.reason})"
            return reader.fail("encoding", reason), {}
        try:
            body = json.loads(text, parse_float=Decimal)
        except (ValueError, RecursionError) as exc:
            detail = (
                f"{exc.msg} at line {exc.lineno} column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else type(exc).__name__
            )
            return reader.fail("malformed-json", f"{what}: the body is not JSON ({detail})"), {}
        if bare_array and isinstance(body, list):
            items, body = body, {}
        elif isinstance(body, dict) and isinstance(body.get(self.items_key), list):
            items = body[self.items_key]
        else:
            shape = f"a JSON {_json_type(body)}"
            reason = f"{what}: the body is {shape}, not an object with a list {self.items_key!r}"
            return reader.fail("malformed-json", reason, self.items_key), {}
        for number, item in enumerate(items, 1):
            position = f"item {number}"
            if isinstance(item, dict):
                reader.add(position, flatten(item))
                continue
            reader.result.records_read += 1
            reader.result.rejections.append(
                Rejection(
                    reader.ctx.source_id,
                    reader.file_name,
                    reader.file_hash,
                    position,
                    None,
                    f"the item is a JSON {_json_type(item)}, not an object",
                    "malformed-row",
                    self.opts.municipality,
                )
            )
        return reader.result, body


def flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One row of an item: nested objects become dotted names (`client.bsn`); values are
    their JSON spelling (true, 12.50), arrays of plain values joined with `;`."""
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, f"{name}."))
        else:
            row[name] = _plain(value)
    return row


def _plain(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ";".join(p for v in value if (p := _plain(v)) is not None)
    return json.dumps(value, default=str)


@dataclass(slots=True)
class _Failure:
    code: str
    reason: str
    body: bytes


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle), made once: loading the bundle
    costs tens of milliseconds per client otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


def _shown(url: httpx.URL) -> str:
    """The URL without credentials: no user info, no token-like query parameters."""
    url = url.copy_with(userinfo=b"")
    for name in {k for k in url.params if _SECRET_PARAM.search(k)}:
        url = url.copy_remove_param(name)
    return str(url)


def _target(shown: str) -> str:
    """Path and query of a (credential-free) URL, as a reason names the request."""
    return httpx.URL(shown).raw_path.decode("ascii", "replace")


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _carry(url: httpx.URL, params: list[tuple[str, str]]) -> httpx.URL:
    """The location's own query parameters (a filter, a key) that the next link lacks."""
    for name, value in params:
        if name not in url.params:
            url = url.copy_add_param(name, value)
    return url


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _describe(exc: httpx.RequestError) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def _key(where: str, options: Mapping[str, Any], name: str, default: str) -> str:
    value = options.get(name, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: option {name} must be a non-empty string")
    return value


def _number(where: str, name: str, value: Any, minimum: float, whole: bool) -> float:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        what = "a whole number" if whole else "a number"
        raise ConfigError(f"{where}: option {name} must be {what} of at least {minimum:g}")
    return float(value)


__all__ = ["JsonApiAdapter", "flatten"]
