"""The HTTP face: starlette routes, bearer auth, one tenant-scoped transaction per request."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub import auth
from hub.db import Database
from hub.resolvers.context import Context
from hub.schema import build_schema
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
) -> Starlette:
    schema = build_schema(introspection=introspection)

    async def graphql(request: Request) -> Response:
        try:
            scope = auth.from_header(secret, request.headers.get("authorization"), region)
        except auth.AuthError as exc:
            return _error(str(exc), 401, **{"WWW-Authenticate": "Bearer"})
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error("the request body must be JSON", 400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _error("the JSON body needs a `query` string", 400)
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return _error("`variables` must be a JSON object", 400)
        async with db.tenant(scope) as tx:
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
                operation_name=body.get("operationName"),
            )
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [_format(e) for e in result.errors]
        if result.data is not None or not result.errors:
            payload["data"] = result.data
        return JSONResponse(payload)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

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
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
