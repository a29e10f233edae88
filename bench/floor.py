"""The floor: W1 and W2's SQL straight through asyncpg, JSON-encoded, no GraphQL.

    uvicorn bench.floor:create --factory   (HUB_SERVICE_DATABASE_URL, HUB_SECRET or HUB_HOME)

POST /w1 {"from": "2025-01-01", "to": "2025-12-31"} and POST /w2 {"first": 100, "latest": 3}
with the hub's bearer token, which sets the scope in one transaction exactly as the hub does
(hub/db.py Database.tenant); then one statement, its rows encoded by the standard json module.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import sql
from hub import auth
from hub.config import settings
from hub.db import Database, Scope


def _default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    """A row as a dict; W2's claims come from PostgreSQL as JSON text."""
    out = dict(row)
    if isinstance(out.get("claims"), str):
        out["claims"] = json.loads(out["claims"])
    return out


def create() -> Starlette:
    s = settings()
    db = Database(os.environ["HUB_SERVICE_DATABASE_URL"])
    region = {m.code for m in s.region()}
    secret = s.secret

    async def run(request: Request, query: Callable[[Scope], tuple[str, list[Any]]]) -> Response:
        try:
            scope = auth.from_header(secret, request.headers.get("authorization"), region)
        except auth.AuthError as exc:
            return JSONResponse({"error": str(exc)}, 401)
        statement, args = query(scope)
        async with db.tenant(scope, timeout_ms=s.statement_timeout_ms) as tx:
            rows = await tx.fetch(statement, *args)
        body = json.dumps([_plain(r) for r in rows], default=_default)
        return Response(body, media_type="application/json")

    async def w1(request: Request) -> Response:
        body = json.loads(await request.body())
        start, end = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
        return await run(request, lambda _: ("select * from bench.w1($1, $2)", [start, end]))

    async def w2(request: Request) -> Response:
        body = json.loads(await request.body())
        args = [body.get("latest"), int(body["first"])]

        def page(scope: Scope) -> tuple[str, list[Any]]:
            own = scope.municipality if scope.role == "municipality" else None
            statement, extra = sql.w2_floor(own)
            return statement, args + extra

        return await run(request, page)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await db.open()
        try:
            yield
        finally:
            await db.close()

    return Starlette(
        routes=[
            Route("/w1", w1, methods=["POST"]),
            Route("/w2", w2, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
