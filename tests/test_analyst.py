"""The SQL face for BI tools: `hub_analyst` connects like a BI tool would (with psql when it
is installed, else through asyncpg), cannot read any table with records, and its views hold
exactly the public GraphQL answer: every cell from fewer youth than the threshold is null
and marked suppressed."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.analyst import (
    ANALYST_ROLE,
    GROUPINGS,
    REFRESH_QUERY,
    REFRESH_VARIABLES,
    ensure_role,
    refresh,
)
from hub.config import default_region
from hub.db import with_user
from hub.synth import generate

from .conftest import (
    PUBLIC_TABLES,
    TENANT_TABLES,
    TENANT_VIEWS,
    Api,
    load_generated,
    settings_for,
    token,
)

THREE = [m for m in default_region() if m.code in ("0148", "0150", "0193")]
THRESHOLD = 10
PSQL = shutil.which("psql")  # a fresh machine may lack postgresql-client: asyncpg then


@pytest.fixture(scope="module")
async def region(make_database, open_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("analyst")
    generate(out, seed=5, years=1, scale=0.03, region=THREE)
    urls = await make_database(THREE)
    db = await open_db(urls)
    await load_generated(db, settings_for(THREE, out), out)
    password = secrets.token_hex(12)
    await ensure_role(urls.admin, password)
    # computed on two connections beside the operation's own, as `hub ingest` does; the
    # tests below hold them to the public answer computed on one
    done = await refresh(db, urls.admin, threshold=THRESHOLD, readers=2)
    assert done.cells > 0
    analyst = with_user(urls.admin, ANALYST_ROLE, password)
    api = Api(db, [m.code for m in THREE], threshold=THRESHOLD, max_cost=10**12)
    return urls, analyst, api


def as_analyst(url: str, sql: str) -> tuple[bool, str]:
    """Run one statement as hub_analyst: (succeeded, output or error)."""
    if PSQL:
        out = subprocess.run(
            [PSQL, url, "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return out.returncode == 0, out.stdout if out.returncode == 0 else out.stderr

    async def run() -> tuple[bool, str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(sql)
        except asyncpg.PostgresError as exc:
            return False, f"ERROR: {exc}"
        finally:
            await conn.close()
        return True, "".join("|".join(map(str, r.values())) + "\n" for r in rows)  # as psql -tA

    return asyncio.run(run())


async def _public_tables(urls: Any) -> list[str]:
    conn = await asyncpg.connect(urls.admin)
    try:
        return [
            r["name"]
            for r in await conn.fetch(
                """select c.relname as name from pg_class c
                   join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = 'public' and c.relkind in ('r', 'v', 'm', 'p')
                   order by 1"""
            )
        ]
    finally:
        await conn.close()


async def test_hub_analyst_cannot_read_any_table_with_records(region) -> None:
    urls, analyst, _ = region
    everything = await _public_tables(urls)
    assert set(TENANT_TABLES + TENANT_VIEWS + PUBLIC_TABLES) <= set(everything)
    for table in everything:
        ok, output = await _off_loop(as_analyst, analyst, f"select * from public.{table} limit 1")
        assert not ok, table
        assert "permission denied" in output, (table, output)
    # Claiming a tenant scope changes nothing: there is no privilege for RLS to narrow.
    ok, output = await _off_loop(
        as_analyst,
        analyst,
        "select set_config('hub.role', 'region', false), (select count(*) from youth)",
    )
    assert not ok
    assert "permission denied" in output
    ok, output = await _off_loop(as_analyst, analyst, "set role hub_owner")
    assert not ok
    assert "permission denied" in output
    # Read-only, and the figures cannot be changed by the analyst.
    ok, output = await _off_loop(as_analyst, analyst, "delete from analyst.indicator")
    assert not ok
    # The views answer.
    ok, output = await _off_loop(
        as_analyst, analyst, "select count(*) from analyst.municipality_month"
    )
    assert ok, output
    assert int(output) > 0


async def test_hub_analyst_holds_only_analyst_privileges(region) -> None:
    urls, _, _ = region
    conn = await asyncpg.connect(urls.admin)
    try:
        grants = await conn.fetch(
            """select table_schema, table_name, privilege_type
               from information_schema.role_table_grants where grantee = $1""",
            ANALYST_ROLE,
        )
        role = await conn.fetchrow("select * from pg_roles where rolname = $1", ANALYST_ROLE)
        members = await conn.fetchval(
            "select count(*) from pg_auth_members m join pg_roles r on r.oid = m.member "
            "where r.rolname = $1",
            ANALYST_ROLE,
        )
        views = await conn.fetch(
            """select c.relname, coalesce(c.reloptions, '{}') as options from pg_class c
               join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'analyst' and c.relkind = 'v'"""
        )
    finally:
        await conn.close()
    assert grants
    assert {(g["table_schema"], g["privilege_type"]) for g in grants} == {("analyst", "SELECT")}
    assert [role[k] for k in ("rolsuper", "rolbypassrls", "rolcreaterole")] == [False] * 3
    assert members == 0
    assert len(views) == 5
    for v in views:
        assert "security_invoker=true" in v["options"], v["relname"]


async def _analyst_cells(analyst: str) -> dict[tuple[Any, ...], tuple[Any, bool]]:
    conn = await asyncpg.connect(analyst)
    try:
        cells = {}
        for grouping, view, columns in (
            ("municipality_month", "municipality_month", "municipality_code, year, month, null"),
            ("municipality_year", "municipality_year", "municipality_code, year, null, null"),
            (
                "municipality_year_care_type",
                "municipality_year_care_type",
                "municipality_code, year, null, care_type",
            ),
            ("region_month", "region_month", "null, year, month, null"),
        ):
            for r in await conn.fetch(
                f"select {columns}, metric, value, suppressed from analyst.{view}"
            ):
                cells[(grouping, *tuple(r)[:5])] = (r["value"], r["suppressed"])
        return cells
    finally:
        await conn.close()


def _graphql_cells(data: dict[str, Any]) -> dict[tuple[Any, ...], tuple[Any, bool]]:
    return {
        (
            grouping,
            row["municipality"],
            row["year"],
            row["month"],
            row["careType"],
            v["metric"],
        ): (v["value"], v["suppressed"])
        for alias, (grouping, _) in GROUPINGS.items()
        for row in data[alias]["rows"]
        for v in row["values"]
    }


async def test_the_views_hold_the_public_answer_cell_for_cell(region) -> None:
    _, analyst, api = region
    public = await api.query(REFRESH_QUERY, REFRESH_VARIABLES, bearer=token("public"))
    expected = _graphql_cells(public)
    got = await _analyst_cells(analyst)
    assert got == expected
    assert any(s for _, s in got.values())
    assert any(v is not None for v, _ in got.values())


# Metrics computed from the youth in care of their cell (or a subset of them).
_FROM_YOUTH_IN_CARE = (
    "YOUTH_IN_CARE",
    "TRAJECTORIES_STARTED",
    "TRAJECTORIES_ENDED",
    "AVERAGE_DURATION_DAYS",
    "RESIDENTIAL_SHARE",
    "YOUTH_PER_1000",
    "REPEAT_INFLOW_SHARE",
    "DROPOUT_SHARE",
)


async def test_no_value_from_fewer_youth_than_the_threshold_is_shown(region) -> None:
    _, analyst, api = region
    exact = _graphql_cells(
        await api.query(REFRESH_QUERY, REFRESH_VARIABLES, bearer=token("region"))
    )
    got = await _analyst_cells(analyst)
    small = [
        key[:-1]
        for key, (value, _) in exact.items()
        if key[-1] == "YOUTH_IN_CARE" and value is not None and value < THRESHOLD
    ]
    assert small, "the test region has small cells"
    for cell in small:
        for metric in _FROM_YOUTH_IN_CARE:
            key = (*cell, metric)
            if key in got:
                assert got[key] == (None, True), key
    for key, (value, suppressed) in got.items():
        if suppressed:
            assert value is None, key
        elif key[-1] in ("YOUTH_IN_CARE", "TRAJECTORIES_STARTED", "TRAJECTORIES_ENDED"):
            assert value is None or value % 5 == 0, key  # shown counts are rounded


async def _off_loop(fn: Any, *args: Any) -> Any:
    """psql is a blocking subprocess (and the asyncpg fallback runs its own loop)."""
    return await asyncio.to_thread(fn, *args)


def _hub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **env},
    )


A, B, C = "999900006", "999900018", "999900031"
PERIODS = f"""municipality,bsn,provider_agb,assignment_number,product_code,start,end,end_reason
0193,{A},11111111,T-A,45A01,2025-01-01,2025-04-30,31
0193,{B},11111111,T-B,35A01,2025-01-15,2025-02-15,33
0193,{C},22222222,T-C,45A01,2025-03-01,,
"""
SOURCES = """[[source]]
id = "periods-0193"
adapter = "csv"
owner = "0193"
location = "periods.csv"
[source.options]
kind = "care_period"
"""


async def test_hub_ingest_refreshes_the_analyst_figures(make_database, tmp_path: Path) -> None:
    urls = await make_database(default_region())
    password = secrets.token_hex(12)
    env = {
        "HUB_DATABASE_URL": urls.admin,
        "HUB_SERVICE_DATABASE_URL": urls.service,
        "HUB_ANALYST_PASSWORD": password,
    }
    (tmp_path / "periods.csv").write_text(PERIODS, encoding="utf-8")
    (tmp_path / "sources.toml").write_text(SOURCES, encoding="utf-8")
    out = await _off_loop(
        lambda: _hub("ingest", "--sources", str(tmp_path / "sources.toml"), env=env)
    )
    assert out.returncode == 0, out.stderr
    assert "analyst figures refreshed" in out.stderr
    analyst = with_user(urls.admin, ANALYST_ROLE, password)
    conn = await asyncpg.connect(analyst)
    try:
        version = await conn.fetchval("select data_version from analyst.freshness")
        youth_in_care = await conn.fetch(
            "select value, suppressed from analyst.region_month where metric = 'YOUTH_IN_CARE'"
        )
    finally:
        await conn.close()
    admin = await asyncpg.connect(urls.admin)
    try:
        assert version == await admin.fetchval("select version from data_version") > 0
        in_care = await admin.fetchval("select count(distinct youth_id) from trajectory")
    finally:
        await admin.close()
    # Three youth in care: fewer than the threshold, so every month is suppressed.
    assert in_care == 3
    assert youth_in_care
    assert {tuple(r) for r in youth_in_care} == {(None, True)}
    url = await _off_loop(lambda: _hub("analyst", "url", env=env))
    assert url.returncode == 0, url.stderr
    assert url.stdout.strip() == with_user(urls.admin, ANALYST_ROLE)
