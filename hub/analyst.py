"""The SQL face for BI tools that cannot speak GraphQL (docs/bi.md).

The schema `analyst` (sql/007_analyst.sql) holds the `public` role's answer of `indicators`,
computed by the served schema in one operation, so complementary suppression covers all its
groupings together: what one view hides no other view gives away. `hub_analyst` logs in
and reads those views; it has no privilege on any table with records."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from hub.db import OWNER_ROLE, Database, Scope
from hub.export import Runner
from hub.schema import build_schema
from hub.schema.indicators import Metric

log = logging.getLogger("hub.analyst")

ANALYST_ROLE = "hub_analyst"
VIEWS = (
    "analyst.municipality_month",
    "analyst.municipality_year",
    "analyst.municipality_year_care_type",
    "analyst.region_month",
    "analyst.freshness",
)
# Under the security_invoker views: hold nothing but the public answer.
TABLES = ("analyst.indicator", "analyst.refresh")
# alias of the refresh operation -> (grouping in analyst.indicator, groupBy)
GROUPINGS = {
    "municipalityMonth": ("municipality_month", "[MUNICIPALITY, MONTH]"),
    "municipalityYear": ("municipality_year", "[MUNICIPALITY, YEAR]"),
    "municipalityYearCareType": ("municipality_year_care_type", "[MUNICIPALITY, YEAR, CARE_TYPE]"),
    "regionMonth": ("region_month", "[MONTH]"),
}
REFRESH_QUERY = (
    "query AnalystRefresh($metrics: [Metric!]!) {\n  municipalities { code name }\n"
    + "".join(
        f"  {alias}: indicators(metrics: $metrics, groupBy: {group_by}) {{ ...Cells }}\n"
        for alias, (_, group_by) in GROUPINGS.items()
    )
    + "}\nfragment Cells on Indicators {\n"
    "  rows { municipality year month careType values { metric value suppressed } }\n}"
)
REFRESH_VARIABLES = {"metrics": [m.name for m in Metric]}
REFRESH_TIMEOUT_MS = 600_000  # the whole region's figures, all metrics, four groupings


@dataclass(frozen=True, slots=True)
class Refreshed:
    cells: int
    suppressed: int
    data_version: int
    seconds: float  # computing the figures


async def ensure_role(admin_url: str, password: str | None = None) -> None:
    """As the administrative login: create hub_analyst if missing, state what it may not do,
    and grant it the analyst views (and the tables under them) and nothing else."""
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("select 1 from pg_roles where rolname = $1", ANALYST_ROLE):
            await conn.execute(f"create role {ANALYST_ROLE} login")
        await conn.execute(
            f"alter role {ANALYST_ROLE} nosuperuser nobypassrls nocreatedb nocreaterole "
            "noinherit noreplication"
        )
        await conn.execute(f"alter role {ANALYST_ROLE} set default_transaction_read_only = on")
        await conn.execute(f"alter role {ANALYST_ROLE} set statement_timeout = '60s'")
        if password:
            # Quoted by the server: the password never becomes part of a statement's text.
            statement = await conn.fetchval(
                "select format('alter role %I password %L', $1::text, $2::text)",
                ANALYST_ROLE,
                password,
            )
            await conn.execute(statement)
        database = await conn.fetchval("select current_database()")
        await conn.execute(f'grant connect on database "{database}" to {ANALYST_ROLE}')
        await conn.execute(f"set role {OWNER_ROLE}")
        await conn.execute(f"grant usage on schema analyst to {ANALYST_ROLE}")
        await conn.execute(f"grant select on {', '.join(TABLES + VIEWS)} to {ANALYST_ROLE}")
        await conn.execute("reset role")
    finally:
        await conn.close()


def cells(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of analyst.indicator from the answer of REFRESH_QUERY."""
    names = {m["code"]: m["name"] for m in data["municipalities"]}
    out = []
    for alias, (grouping, _) in GROUPINGS.items():
        for row in data[alias]["rows"]:
            code = row["municipality"]
            for v in row["values"]:
                out.append(
                    (
                        grouping,
                        code,
                        names.get(code) if code else None,
                        row["year"],
                        row["month"],
                        row["careType"],
                        v["metric"],
                        v["value"],
                        v["suppressed"],
                    )
                )
    return out


async def refresh(
    db: Database,
    admin_url: str,
    *,
    threshold: int,
    long_running_years: int = 2,
    readers: int = 0,
) -> Refreshed:
    """Replace the analyst figures with the public answer as of now, in one transaction.
    `readers`: connections of `db` that may compute figures at once (`Database.tenant`)."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"set role {OWNER_ROLE}")
        version = int(await conn.fetchval("select version from data_version"))
        started = time.monotonic()
        runner = Runner(
            db,
            build_schema(max_cost=10**12),
            threshold=threshold,
            long_running_years=long_running_years,
            timeout_ms=REFRESH_TIMEOUT_MS,
            readers=readers,
        )
        data = await runner.run(
            Scope("public", actor="analyst-refresh"),
            REFRESH_QUERY,
            REFRESH_VARIABLES,
            action="analyst refresh",
        )
        rows = cells(data)
        computed = time.monotonic() - started
        async with conn.transaction():
            await conn.execute("delete from analyst.indicator")
            # RLS (forced, as on every table of figures) rules out COPY.
            await conn.executemany(
                """insert into analyst.indicator (grouping, municipality_code,
                       municipality_name, year, month, care_type, metric, value, suppressed)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                rows,
            )
            await conn.execute(
                """insert into analyst.refresh values (1, now(), $1, $2)
                   on conflict (id) do update set refreshed_at = excluded.refreshed_at,
                       data_version = excluded.data_version,
                       suppression_threshold = excluded.suppression_threshold""",
                version,
                threshold,
            )
        await conn.execute("reset role")
    finally:
        await conn.close()
    result = Refreshed(len(rows), sum(r[-1] for r in rows), version, round(computed, 1))
    log.info("analyst_refreshed cells=%d version=%d seconds=%.1f", result.cells, version, computed)
    return result
