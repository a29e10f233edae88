"""The HTTP face: starlette routes, bearer auth, one tenant-scoped transaction per request."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub import audit, auth
from hub.db import Database, DatabaseError
from hub.ingest import Pusher
from hub.resolvers.context import Context
from hub.schema import MAX_COST, build_schema
from hub.schema.errors import PublicError

log = logging.getLogger("hub.app")


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
) -> Starlette:
    schema = build_schema(
        introspection=introspection, max_cost=max_cost, page_size_max=page_size_max
    )

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
        if isinstance(body, list):
            return _error("batched requests are not accepted: send one operation", 400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _error("the JSON body needs a `query` string", 400)
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return _error("`variables` must be a JSON object", 400)
        operation = body.get("operationName")
        if operation is not None and not isinstance(operation, str):
            return _error("`operationName` must be a string", 400)
        extensions = body.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            return _error("`extensions` must be a JSON object", 400)
        try:
            async with db.tenant(scope, readonly=False) as tx:
                read = audit.start()
                context = Context(
                    tx=tx,
                    scope=scope,
                    page_size_max=page_size_max,
                    suppression_threshold=threshold,
                    long_running_years=long_running_years,
                )
                result = await schema.execute(
                    body["query"],
                    variable_values=variables,
                    context_value=context,
                    operation_name=operation,
                )
                # No audit row, no answer: a failure here fails the request.
                await audit.record(
                    tx,
                    scope,
                    read,
                    action=operation or "query",
                    ok=not result.errors,
                    origin=request.client.host if request.client else None,
                )
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            log.error("request_failed error=%s", type(exc).__name__)  # noqa: TRY400 (no traceback in logs)
            return _error("the request could not be completed; it has been logged", 503)
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [_format(e) for e in result.errors]
        if result.data is not None or not result.errors:
            payload["data"] = result.data
        # A request error (nothing executed: parse, validation, variables) is 400 with
        # graphql-response+json, and 200 with application/json, as the spec says.
        request_error = result.data is None and all(e.path is None for e in result.errors or ())
        status = 400 if request_error and media == GRAPHQL_RESPONSE else 200
        return JSONResponse(payload, status_code=status, media_type=media)

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
            if manage_pool:
                await db.close()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/graphql", not_get, methods=["GET"]),
            Route("/ingest/{source}", ingest, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
