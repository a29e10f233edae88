"""A small local JSON API: the synthetic stand-in for a municipal access system's API, served
by `hub demo` and used by the tests of the JSON API adapter (hub/adapters/json_api.py).

The file `FOLDER/<path>.json` is a JSON array of items, each with a `lastModified` ISO-8601
datetime; `GET /<path>?since=...&page=N&page_size=M` answers

    {"items": [...], "next": "<absolute URL of the next page>" | null, "cursor": "..."}

with the items whose lastModified is after `since` (all without it), ordered by
(lastModified, position in the file), `page_size` per page (1-based `page`). `cursor` is the
greatest lastModified of all matching items, or `since` when none match. An unknown path is a
404, a bad parameter a 400, each with a JSON body `{"error": "..."}`. The file is read again on
every request, so a test can change the data between pulls.

Test hooks inject faults: `fail(status)` answers the next request(s) with that status,
`delay(seconds)` makes them slow, `corrupt(body)` answers 200 with a body that is not the
wire format. `requests` lists every request's path and query as it arrived.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["ApiServer"]


@dataclass(slots=True)
class _Fault:
    remaining: int
    path: str | None  # only requests of this path (without query); None: any
    status: int | None = None
    seconds: float = 0.0
    body: bytes | None = None
    after: int = 0  # matching requests answered normally first

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path is None or self.path == path)


class _BadRequestError(Exception):
    """A parameter of the request is wrong: 400."""


class _BrokenResourceError(Exception):
    """The resource file itself cannot be served: 500."""


class ApiServer:
    """Serves `folder` over HTTP on a daemon thread; `with ApiServer(folder) as api: api.url`."""

    def __init__(
        self, folder: Path, *, page_size: int = 500, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.folder = Path(folder)
        self.page_size = page_size
        self.host, self.port = host, port
        self.url = ""
        self.requests: list[str] = []
        self._faults: list[_Fault] = []
        self._parsed: dict[Path, tuple[bytes, list[tuple[datetime, int, dict[str, Any]]]]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle

    def start(self) -> ApiServer:
        if self._server is not None:
            return self
        api = self

        class Handler(_Handler):
            server_api = api

        server = _Server((self.host, self.port), Handler)
        host, port = server.server_address[:2]
        self.port = int(port)
        self.url = f"http://{_host_in_url(str(host))}:{self.port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"api-server-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test hooks

    def fail(self, status: int, times: int = 1, path: str | None = None, after: int = 0) -> None:
        """Answer the next `times` requests (of `path`, when given) with `status`, after
        answering `after` of them normally."""
        with self._lock:
            self._faults.append(_Fault(times, path, status=status, after=after))

    def delay(self, seconds: float, times: int = 1, path: str | None = None) -> None:
        """Sleep `seconds` before answering the next `times` requests (of `path`)."""
        with self._lock:
            self._faults.append(_Fault(times, path, seconds=seconds))

    def corrupt(
        self, body: bytes = b"<html>oops</html>", times: int = 1, path: str | None = None
    ) -> None:
        """Answer the next `times` requests (of `path`) 200 with `body` as it is."""
        with self._lock:
            self._faults.append(_Fault(times, path, body=body))

    # -- answering

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    if fault.after:
                        fault.after -= 1
                        return None
                    fault.remaining -= 1
                    return fault
            return None

    def answer(self, target: str) -> tuple[int, bytes]:
        """The status and JSON body for a request target (`/path?query`)."""
        with self._lock:
            self.requests.append(target)
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        fault = self._take_fault(path)
        if fault is not None:
            if fault.seconds:
                time.sleep(fault.seconds)
            if fault.status is not None:
                phrase = _phrase(fault.status)
                return fault.status, _json({"error": f"injected fault: {phrase}"})
            if fault.body is not None:
                return 200, fault.body
        file = self._resource(path)
        if file is None:
            return 404, _json({"error": f"no resource {path or '/'}"})
        try:
            return 200, _json(self._page(file, parts.query, path))
        except _BadRequestError as exc:
            return 400, _json({"error": str(exc)})
        except (OSError, ValueError, _BrokenResourceError) as exc:
            return 500, _json({"error": f"resource {path} cannot be served: {exc}"})

    def _resource(self, path: str) -> Path | None:
        if not path or "\\" in path or any(p in ("", ".", "..") for p in path[1:].split("/")):
            return None
        file = self.folder / f"{path[1:]}.json"
        return file if file.is_file() else None

    def _page(self, file: Path, query: str, path: str) -> dict[str, Any]:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        since_text = params.get("since") or None
        since = _moment(since_text, "since") if since_text else None
        page = _positive(params.get("page"), "page", 1)
        size = _positive(params.get("page_size"), "page_size", self.page_size)
        keyed = [k for k in self._items(file) if since is None or k[0] > since]
        chunk = keyed[(page - 1) * size : page * size]
        following = None
        if page * size < len(keyed):
            query_next = {
                "since": since_text,
                "page": page + 1,
                "page_size": params.get("page_size"),
            }
            following = f"{self.url}{path}?" + urlencode(
                {k: v for k, v in query_next.items() if v is not None}
            )
        cursor = keyed[-1][2]["lastModified"] if keyed else since_text
        return {"items": [k[2] for k in chunk], "next": following, "cursor": cursor}

    def _items(self, file: Path) -> list[tuple[datetime, int, dict[str, Any]]]:
        """The file's items by (lastModified, position in the file). The file is read on
        every request; it is parsed again only when its bytes changed (parsing a file of the
        region, 1 to 2.5 MB, for every page of 500 took 2.5 CPU seconds of a W4 run)."""
        data = file.read_bytes()
        with self._lock:
            parsed = self._parsed.get(file)
        if parsed is not None and parsed[0] == data:
            return parsed[1]
        items = json.loads(data.decode("utf-8-sig"))
        if not isinstance(items, list):
            raise _BrokenResourceError("the file is not a JSON array")
        keyed = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("lastModified"), str):
                raise _BrokenResourceError(f"item {i + 1} has no lastModified")
            keyed.append((_naive_utc(datetime.fromisoformat(item["lastModified"])), i, item))
        keyed.sort(key=lambda k: (k[0], k[1]))
        with self._lock:
            self._parsed[file] = (data, keyed)
        return keyed


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that gave up (timeouts) close their end: not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_api: ApiServer

    def do_GET(self) -> None:
        status, body = self.server_api.answer(self.path)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:  # the client gave up waiting (a timeout)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no line on stderr per request."""


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _phrase(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _moment(text: str, name: str) -> datetime:
    try:
        return _naive_utc(datetime.fromisoformat(text))
    except ValueError:
        raise _BadRequestError(f"{name} is not an ISO-8601 datetime") from None


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _positive(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    if not text.isdigit() or int(text) < 1:
        raise _BadRequestError(f"{name} must be a whole number of at least 1")
    return int(text)


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
