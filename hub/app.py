"""The HTTP face: starlette routes, bearer auth, one tenant-scoped transaction per request."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hub import audit, auth
from hub.cache import ResponseCache
from hub.dashboard import routes as dashboard_routes
from hub.db import Database, DatabaseError
from hub.export import Runner
from hub.export import routes as export_routes
from hub.ide import IDE_PAGE
from hub.ingest import Pusher
from hub.metrics import count_errors, instrument, name_operation
from hub.resolvers.context import Context
from hub.schema import MAX_COST, build_schema
from hub.schema.errors import PublicError

log = logging.getLogger("hub.app")


class GraphQLResponse(JSONResponse):
    """A JSON response encoded by orjson: a page of records or a dashboard is thousands of
    values, several times faster than the standard library's encoder."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _error(message: str, status: int, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message}]}, status_code=status, headers=headers or None
    )


def _format(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    if isinstance(error.original_error, PublicError):
        formatted["extensions"] = {"code": error.original_error.code}
    return formatted


GRAPHQL_RESPONSE = "application/graphql-response+json"


def _accepts(request: Request) -> str | None:
    """The response media type (GraphQL over HTTP): graphql-response+json when the client
    accepts it, else application/json; None when it accepts neither."""
    accept = request.headers.get("accept", "")
    types = {t.split(";")[0].strip().lower() for t in accept.split(",") if t.strip()}
    if not types or GRAPHQL_RESPONSE in types:
        return GRAPHQL_RESPONSE if types else "application/json"
    if types & {"application/json", "application/*", "*/*"}:
        return "application/json"
    return None


def _invalid(op: Any) -> str | None:
    """What is wrong with one operation of the body, if anything."""
    if not isinstance(op, dict) or not isinstance(op.get("query"), str):
        return "the JSON body needs a `query` string"
    if op.get("variables") is not None and not isinstance(op["variables"], dict):
        return "`variables` must be a JSON object"
    if op.get("operationName") is not None and not isinstance(op["operationName"], str):
        return "`operationName` must be a string"
    if op.get("extensions") is not None and not isinstance(op["extensions"], dict):
        return "`extensions` must be a JSON object"
    return None


def _request_error(result: Any) -> bool:
    """Nothing executed: a parse, validation or variable error."""
    return result.data is None and all(e.path is None for e in result.errors or ())


def _payload(result: Any, *, request_error: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if result.errors:
        payload["errors"] = [_format(e) for e in result.errors]
    if result.data is not None or not result.errors:
        payload["data"] = result.data
    if request_error:
        payload["_request_error"] = True
    return payload


def _public(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.startswith("_")}


def create_app(
    db: Database,
    secret: str,
    region: Collection[str],
    *,
    page_size_max: int = 500,
    manage_pool: bool = True,
    introspection: bool = False,
    threshold: int = 10,
    long_running_years: int = 2,
    push: Pusher | None = None,
    max_cost: int = MAX_COST,
    batch_max: int = 0,
    ide: bool = False,
    statement_timeout_ms: int = 15_000,
    cache_entries: int = 0,
    metrics_token: str | None = None,
) -> Starlette:
    schema = build_schema(
        introspection=introspection, max_cost=max_cost, page_size_max=page_size_max
    )
    cache = ResponseCache(cache_entries)

    async def graphql(request: Request) -> Response:
        media = _accepts(request)
        if media is None:
            return _error(f"send `Accept: {GRAPHQL_RESPONSE}` or `application/json`", 406)
        try:
            scope = auth.from_header(secret, request.headers.get("authorization"), region)
        except auth.AuthError as exc:
            return _error(str(exc), 401, **{"WWW-Authenticate": "Bearer"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error("send the request as `Content-Type: application/json`", 415)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error("the request body must be JSON", 400)
        batch = isinstance(body, list)
        if batch and not batch_max:
            return _error("batched requests are off: send one operation", 400)
        operations = body if batch else [body]
        if batch and not 1 <= len(operations) <= batch_max:
            return _error(f"a batch holds 1 to {batch_max} operations, got {len(operations)}", 400)
        for op in operations:
            problem = _invalid(op)
            if problem:
                return _error(problem, 400)
        name_operation(request.scope, operations)
        version = None
        if cache.on and not batch:
            # A cached answer is served without a transaction: the data version is all it needs.
            try:
                version = await db.data_version()
            except (asyncpg.PostgresError, DatabaseError) as exc:
                log.error("request_failed error=%s", type(exc).__name__)  # noqa: TRY400
                return _error("the request could not be completed; it has been logged", 503)
            (op,) = operations
            key = cache.key(
                op["query"], op.get("operationName"), op.get("variables"), scope, version
            )
            body = cache.encoded(key, lambda payload: orjson.dumps(_public(payload)))
            if body is not None:
                return Response(body, media_type=media)
        results = []
        try:
            async with db.tenant(scope, readonly=False, timeout_ms=statement_timeout_ms) as tx:
                read = audit.start()
                context = Context(
                    tx=tx,
                    scope=scope,
                    page_size_max=page_size_max,
                    suppression_threshold=threshold,
                    long_running_years=long_running_years,
                )
                if version is None:
                    version = (
                        await tx.fetchval("select version from data_version") if cache.on else 0
                    )
                for op in operations:
                    key = cache.key(
                        op["query"], op.get("operationName"), op.get("variables"), scope, version
                    )
                    cached = cache.get(key) if cache.on and batch else None
                    if cached is not None:
                        results.append(cached)
                        continue
                    seen = len(read)
                    result = await schema.execute(
                        op["query"],
                        variable_values=op.get("variables"),
                        context_value=context,
                        operation_name=op.get("operationName"),
                    )
                    context.release()  # and each operation is suppressed on its own
                    results.append(_payload(result, request_error=_request_error(result)))
                    if cache.on and not result.errors and len(read) == seen:
                        cache.put(key, results[-1])  # read no youth: nothing to audit
                # No audit row, no answer: a failure here fails the request.
                await audit.record(
                    tx,
                    scope,
                    read,
                    action=",".join(op.get("operationName") or "query" for op in operations),
                    ok=not any("errors" in r for r in results),
                    origin=request.client.host if request.client else None,
                )
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            log.error("request_failed error=%s", type(exc).__name__)  # noqa: TRY400 (no traceback in logs)
            return _error("the request could not be completed; it has been logged", 503)
        count_errors(request.scope, results)
        if batch:
            return GraphQLResponse([_public(r) for r in results], media_type=media)
        (payload,) = results
        # A request error (nothing executed: parse, validation, variables) is 400 with
        # graphql-response+json, and 200 with application/json, as the spec says.
        status = 400 if payload.get("_request_error") and media == GRAPHQL_RESPONSE else 200
        return GraphQLResponse(_public(payload), status_code=status, media_type=media)

    async def console(_: Request) -> Response:
        return HTMLResponse(IDE_PAGE)

    async def not_get(_: Request) -> Response:
        return _error("GraphQL is served over POST only", 405, Allow="POST")

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        """Ready when the database answers and has every migration of this version."""
        try:
            missing = await db.missing_migrations()
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, DatabaseError) as exc:
            return JSONResponse(
                {"status": "unavailable", "reason": f"database: {type(exc).__name__}"}, 503
            )
        if missing:
            return JSONResponse(
                {"status": "unavailable", "reason": f"migrations not applied: {missing}"}, 503
            )
        return JSONResponse({"status": "ready"})

    async def ingest(request: Request) -> Response:
        if push is None:
            return _error("push ingestion is not configured (start with a sources file)", 404)
        try:
            scope = auth.from_header(secret, request.headers.get("authorization"), region)
        except auth.AuthError as exc:
            return _error(str(exc), 401, **{"WWW-Authenticate": "Bearer"})
        source = push.sources.get(request.path_params["source"])
        owner = scope.municipality or scope.provider
        # Another owner's source and an unknown source look the same.
        if source is None or not owner or source.owner != owner:
            return _error("no such source for this token", 404)
        name = request.query_params.get("name") or "pushed"
        data = await request.body()
        if not data:
            return _error("the request body is the file to ingest; it is empty", 400)
        run = await push.load(source, name, data)
        return JSONResponse(
            {
                "run": run.run_id,
                "status": run.status,
                "read": run.records_read,
                "accepted": run.records_accepted,
                "quarantined": run.records_quarantined,
                "unlinked": run.records_unlinked,
                "rejections": [
                    {"position": r.position, "field": r.field, "code": r.code, "reason": r.reason}
                    for r in run.rejections
                ],
            },
            status_code=200 if run.status == "loaded" else 422,
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage_pool:
            await db.open()
        try:
            yield
        finally:
            if push is not None:
                await push.close()
            if manage_pool:
                await db.close()

    extra = [Route("/ide", console, methods=["GET"])] if ide else []
    app = Starlette(
        routes=[
            *extra,
            Route("/graphql", graphql, methods=["POST"]),
            Route("/graphql", not_get, methods=["GET"]),
            Route("/ingest/{source}", ingest, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *dashboard_routes(),
            *export_routes(
                Runner(
                    db,
                    schema,
                    page_size_max=page_size_max,
                    threshold=threshold,
                    long_running_years=long_running_years,
                    timeout_ms=statement_timeout_ms,
                ),
                secret,
                region,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.cache = cache  # its hits and misses, for observing it
    instrument(app, db, cache, secret, region, token=metrics_token)
    return app
