"""Observability of the HTTP face: Prometheus metrics at /metrics, a request id per request
(echoed as `x-request-id` and carried by every log line of the request) and one log line
per request.

Who may scrape: an admin token, or the scraper's own bearer token `HUB_METRICS_TOKEN` (at
least 32 characters) so that Prometheus needs no JWT. Every other role gets 403. The
metrics hold no record data: counts per route, operation name, status and source, and
process, pool and cache figures; nothing is broken down by municipality or youth.

Ingestion mostly runs in other processes (`hub ingest`), so its figures are read from the
database at scrape time (ingest_run per source, through the admin scope), not counted here.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

import asyncpg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub import auth, logs
from hub.cache import ResponseCache
from hub.config import ConfigError
from hub.db import Database, DatabaseError
from hub.db import Scope as TenantScope

log = logging.getLogger("hub.http")

TOKEN_MIN_LENGTH = 32
OPERATIONS_MAX = 200  # distinct operation labels kept; later names count as "other"
_OPERATION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
# Keys the /graphql handler sets on the ASGI scope for the middleware to read.
OPERATION_KEY = "hub.operation"
ERRORS_KEY = "hub.graphql_errors"


def token_from_env() -> str | None:
    """HUB_METRICS_TOKEN: the bearer token a scraper may use instead of an admin JWT."""
    value = os.environ.get("HUB_METRICS_TOKEN") or None
    if value is not None and len(value) < TOKEN_MIN_LENGTH:
        raise ConfigError(
            f"HUB_METRICS_TOKEN must be at least {TOKEN_MIN_LENGTH} characters "
            "(say, `openssl rand -hex 32`)"
        )
    return value


def name_operation(scope: Scope, operations: Sequence[Any]) -> None:
    """Label the request with its operation name (called by /graphql once the body is read)."""
    if len(operations) != 1:
        scope[OPERATION_KEY] = "batch"
        return
    name = operations[0].get("operationName")
    scope[OPERATION_KEY] = name if isinstance(name, str) and name else "anonymous"


def count_errors(scope: Scope, payloads: Iterable[dict[str, Any]]) -> None:
    """Record how many GraphQL errors the answers carry."""
    scope[ERRORS_KEY] = sum(len(p.get("errors") or ()) for p in payloads)


class _Live(Collector):
    """Pool and cache figures, read when scraped."""

    def __init__(self, db: Database, cache: ResponseCache) -> None:
        self.db = db
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        pool = self.db._pool  # a read-only look at the pool's size
        size, idle = (pool.get_size(), pool.get_idle_size()) if pool is not None else (0, 0)
        yield GaugeMetricFamily("hub_db_pool_size", "Connections open in the pool", size)
        yield GaugeMetricFamily("hub_db_pool_idle", "Open connections not in use", idle)
        yield GaugeMetricFamily("hub_db_pool_in_use", "Connections in use", size - idle)
        yield GaugeMetricFamily(
            "hub_db_pool_max",
            "Most connections the pool opens",
            self.db._max,
        )
        yield CounterMetricFamily(
            "hub_cache_hits", "Aggregate answers served from the cache", self.cache.hits
        )
        yield CounterMetricFamily(
            "hub_cache_misses", "Cacheable answers not in the cache", self.cache.misses
        )
        yield GaugeMetricFamily(
            "hub_cache_capacity", "Answers the cache may hold (0: off)", self.cache.entries
        )


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


_INGEST_FIGURES = (
    ("read", "hub_ingest_records_read", "Records read, over the latest run of each file"),
    ("accepted", "hub_ingest_records_accepted", "Records accepted, latest run of each file"),
    ("quarantined", "hub_ingest_records_quarantined", "Records rejected into quarantine"),
    ("unlinked", "hub_ingest_records_unlinked", "Records accepted but not yet linked"),
    ("files", "hub_ingest_files", "Files (or pages) ingested"),
    ("failed", "hub_ingest_files_failed", "Files whose latest run failed as a whole"),
)


def ingest_families(rows: Sequence[Any]) -> list[Metric]:
    """Per source: the figures of `hub sources`, as gauges (a re-run replaces a file's)."""
    families = []
    for key, name, text in _INGEST_FIGURES:
        family = GaugeMetricFamily(name, text, labels=["source", "adapter"])
        for r in rows:
            family.add_metric([r["id"], r["adapter"]], r[key])
        families.append(family)
    last = GaugeMetricFamily(
        "hub_ingest_last_run_timestamp_seconds", "When the latest run ended", labels=["source"]
    )
    last_failed = GaugeMetricFamily(
        "hub_ingest_last_run_failed", "1 when the latest run failed", labels=["source"]
    )
    for r in rows:
        if r["last_ingest"] is not None:
            last.add_metric([r["id"]], r["last_ingest"].timestamp())
            last_failed.add_metric([r["id"]], 1.0 if r["status"] == "failed" else 0.0)
    return [*families, last, last_failed]


class Metrics:
    """The registry of one app: counted in process, plus live and scrape-time figures."""

    def __init__(self, db: Database, cache: ResponseCache) -> None:
        self.db = db
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.http = Counter(
            "hub_http_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.http_seconds = Histogram(
            "hub_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.graphql = Counter(
            "hub_graphql_requests",
            "GraphQL requests by operation name and HTTP status",
            ["operation", "status"],
            registry=r,
        )
        self.graphql_seconds = Histogram(
            "hub_graphql_duration_seconds",
            "Time to answer a GraphQL request, by operation name",
            ["operation"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.graphql_errors = Counter(
            "hub_graphql_errors",
            "Errors in GraphQL answers (entries of `errors`), by operation name",
            ["operation"],
            registry=r,
        )
        self.operations: set[str] = set()
        ProcessCollector(registry=r)
        r.register(_Live(db, cache))

    def operation_label(self, name: str) -> str:
        """The name as a label, bounded: odd or too many distinct names count as `other`."""
        if not _OPERATION.fullmatch(name):
            return "other"
        if name not in self.operations:
            if len(self.operations) >= OPERATIONS_MAX:
                return "other"
            self.operations.add(name)
        return name

    def observe(self, scope: Scope, route: str, status: int, seconds: float) -> str:
        """Count one request; returns its operation label (`-` when not GraphQL)."""
        self.http.labels(route, scope["method"], str(status)).inc()
        self.http_seconds.labels(route).observe(seconds)
        if route != "/graphql" or scope["method"] != "POST":
            return "-"
        operation = self.operation_label(scope.get(OPERATION_KEY, "anonymous"))
        self.graphql.labels(operation, str(status)).inc()
        self.graphql_seconds.labels(operation).observe(seconds)
        errors = scope.get(ERRORS_KEY, 0)
        if errors:
            self.graphql_errors.labels(operation).inc(errors)
        return operation

    async def exposition(self) -> bytes:
        """Everything, with the ingestion figures read from the database now."""
        from hub.resolvers.records import sources  # noqa: PLC0415 (resolvers import the schema)

        up = 1.0
        rows: list[Any] = []
        try:
            async with self.db.tenant(TenantScope("admin", actor="metrics")) as tx:
                rows = await sources(tx)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, DatabaseError) as exc:
            log.warning("metrics_ingest_unavailable error=%s", type(exc).__name__)
            up = 0.0
        figures = [
            GaugeMetricFamily("hub_database_up", "1 when the scrape could read the database", up),
            *ingest_families(rows),
        ]
        extra = CollectorRegistry(auto_describe=False)
        extra.register(_Fixed(figures))
        return generate_latest(self.registry) + generate_latest(extra)


class Observe:
    """ASGI middleware: a request id, metrics and one log line per HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[Any]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # the app's live list: routes added later are labelled too

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return str(getattr(route, "path", "other"))
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        rid = logs.request_id(header.decode("latin-1"))
        token = logs.REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("x-request-id", rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = self._route(scope)
            operation = self.metrics.observe(scope, route, status, seconds)
            log.info(
                "request method=%s route=%s operation=%s status=%d duration_ms=%.1f",
                scope["method"],
                route,
                operation,
                status,
                seconds * 1000,
            )
            logs.REQUEST_ID.reset(token)


def instrument(
    app: Starlette,
    db: Database,
    cache: ResponseCache,
    secret: str,
    region: Collection[str],
    *,
    token: str | None = None,
) -> Metrics:
    """Add /metrics and the middleware to the app."""
    metrics = Metrics(db, cache)
    expected = f"Bearer {token}".encode() if token else None

    async def endpoint(request: Request) -> Response:
        header = request.headers.get("authorization")
        if not (expected and header and hmac.compare_digest(header.encode(), expected)):
            try:
                scope = auth.from_header(secret, header, region)
            except auth.AuthError as exc:
                return JSONResponse(
                    {"errors": [{"message": str(exc)}]},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if scope.role != "admin":
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "message": "metrics are for admin tokens and the scraper's "
                                "token (HUB_METRICS_TOKEN)"
                            }
                        ]
                    },
                    status_code=403,
                )
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.router.routes.append(Route("/metrics", endpoint, methods=["GET"]))
    app.add_middleware(Observe, metrics=metrics, routes=app.router.routes)
    app.state.metrics = metrics
    return metrics
