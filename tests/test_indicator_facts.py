"""Stored indicator facts (table indicator_fact): the questions they answer get exactly the
live answer, for every role; they are used only while fresh; a refresh recomputes only the
municipalities whose records changed; and the table keeps each municipality's figures
behind its wall."""

from __future__ import annotations

import gc
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub import auth
from hub.config import default_region
from hub.db import Scope
from hub.ingest import ingest, refresh_facts
from hub.resolvers import indicators
from hub.store.load import SourceInfo
from hub.synth import generate

from .conftest import SECRET, Api, load_generated, settings_for, token

BSN = "999990123"  # in the test range of BSNs
THREE = [m for m in default_region() if m.code in ("0148", "0150", "0193")]
CODES = [m.code for m in THREE]
METRICS = [
    "YOUTH_IN_CARE", "TRAJECTORIES_STARTED", "TRAJECTORIES_ENDED", "AVERAGE_DURATION_DAYS",
    "RESIDENTIAL_SHARE", "YOUTH_PER_1000", "REPEAT_INFLOW_SHARE", "DROPOUT_SHARE", "COST_EUR",
    "BUDGET_EUR", "BUDGET_UTILISATION", "CLAIM_DELAY_DAYS", "WAITING_DAYS",
    "LONG_RUNNING_YOUTH", "SWITCHING_YOUTH",
]  # fmt: skip
QUERY = """query ($metrics: [Metric!]!, $groupBy: [Dimension!]!, $filter: IndicatorFilter) {
  indicators(metrics: $metrics, groupBy: $groupBy, filter: $filter) {
    rows { municipality year quarter month values { metric value suppressed } } } }"""
# (groupBy, filter): questions the stored facts answer
STORED = [
    (["MUNICIPALITY", "MONTH"], {"from": "2025-01-01", "to": "2025-12-31"}),
    (["MUNICIPALITY", "YEAR", "QUARTER"], {"from": "2024-04-01", "to": "2025-09-30"}),
    (["MUNICIPALITY", "YEAR"], {}),
    (["MUNICIPALITY", "MONTH"], {"municipalities": ["0193"], "from": "2024-11-01"}),
]
# and questions they do not: answered live even when the facts are fresh
LIVE = [
    (["MUNICIPALITY", "MONTH"], {"from": "2025-01-15", "to": "2025-12-31"}),
    (["MUNICIPALITY", "YEAR"], {"careTypes": ["RESIDENTIAL"]}),
    (["MUNICIPALITY", "CARE_TYPE", "YEAR"], {}),
    (["YEAR"], {}),
    (["MUNICIPALITY"], {}),
]
ROLES = [
    ("region", {}),
    ("municipality", {"municipality": "0193"}),
    ("public", {}),
    ("provider", {"provider": "12345678"}),
    ("admin", {}),
]


@pytest.fixture(scope="module")
async def region(make_database, open_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("facts")
    generate(out, seed=11, years=2, scale=0.03, region=THREE)
    urls = await make_database(THREE)
    db = await open_db(urls)
    settings = settings_for(THREE, out)
    await load_generated(db, settings, out)
    return urls, db, settings, Api(db, CODES, max_cost=10**9)


async def _admin(urls: Any, sql: str) -> Any:
    conn = await asyncpg.connect(urls.admin)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def _statements(db: Any, group_by: list[str], f: dict[str, Any]) -> int:
    """Statements the region's answer takes (the facts path reads one table)."""
    req = indicators.Request(
        tuple(METRICS),
        tuple(group_by),
        municipalities=tuple(f["municipalities"]) if "municipalities" in f else None,
        start=date.fromisoformat(f["from"]) if "from" in f else None,
        end=date.fromisoformat(f["to"]) if "to" in f else None,
        care_types=tuple(f["careTypes"]) if "careTypes" in f else None,
    )
    async with db.tenant(auth.verify(SECRET, token("region"))) as tx:
        await indicators.compute(tx, req, 2)
        return int(tx.statements)


async def _answers(api: Api, questions: list[Any]) -> list[Any]:
    return [
        await api.query(
            QUERY,
            {"metrics": METRICS, "groupBy": group_by, "filter": f},
            bearer=token(role, **claims),
        )
        for group_by, f in questions
        for role, claims in ROLES
        if role != "admin"
    ]


async def test_stored_facts_give_the_live_answer_for_every_role(region) -> None:
    urls, db, settings, api = region
    assert await refresh_facts(db, settings) == 3  # every municipality, the first time
    assert await refresh_facts(db, settings) == 0  # nothing changed since
    assert await _admin(urls, "select * from fact_dirty") == []
    rows = await _admin(urls, "select grain, count(*) from indicator_fact group by 1 order by 1")
    assert {r["grain"] for r in rows} == {"MONTH", "QUARTER", "YEAR"}

    fresh = [await _statements(db, g, f) for g, f in STORED + LIVE]
    stored = await _answers(api, STORED)
    live_anyway = await _answers(api, LIVE)

    await _admin(urls, "insert into fact_dirty values ('0148')")  # facts no longer fresh
    stale = [await _statements(db, g, f) for g, f in STORED + LIVE]
    assert await _answers(api, STORED) == stored
    assert await _answers(api, LIVE) == live_anyway
    # one read of what every answer needs (region, budgets, population, the facts' state),
    # then fresh facts: one read of them; stale: the data's range and a query per family
    assert fresh[: len(STORED)] == [1 + 1] * len(STORED)
    assert stale[: len(STORED)] == [1 + 1 + 5] * len(STORED)
    # questions the facts do not answer: live either way (stale: the range read as well)
    assert [n + 1 for n in fresh[len(STORED) :]] == stale[len(STORED) :]
    assert any(
        v["suppressed"] for a in stored for r in a["indicators"]["rows"] for v in r["values"]
    )
    assert await refresh_facts(db, settings) == 1


async def _load_care(
    db: Any, settings: Any, folder: Path, *, number: str, start: str, end: str
) -> None:
    """One assignment of 0150 and its care period, through the CSV adapter."""
    files = {
        "assignment": "bsn,provider_agb,assignment_number,product_category,product_code,"
        f"assigned_on,start,end\n{BSN},12345678,{number},45,45A01,{start},{start},{end}\n",
        "care_period": "bsn,provider_agb,assignment_number,product_category,product_code,"
        f"start,end,end_reason\n{BSN},12345678,{number},45,45A01,{start},{end},"
        f"{'01' if end else ''}\n",
    }
    for kind, text in files.items():
        path = folder / f"{number}-{kind}.csv"
        path.write_text(text, encoding="utf-8")
        source = SourceInfo(
            f"facts-{kind}", "csv", "0150", None, {"kind": kind, "municipality": "0150"}
        )
        (run,) = await ingest(db, settings, source, [path])
        assert (run.status, run.records_accepted) == ("loaded", 1), run


async def test_an_answer_leaves_nothing_for_the_cyclic_collector(region) -> None:
    """A request's cells are freed when it ends (Context.release), not left in the cycle of
    graphql-core's executor for a collection that is slow over thousands of objects."""
    *_, api = region
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        answers = await _answers(api, [(["MUNICIPALITY", "MONTH"], {})])
        gc.collect()
        left = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert all(a["indicators"]["rows"] for a in answers)
    assert left["Cell"] == left["Row"] == left["Answer"] == 0, left


async def test_a_refresh_recomputes_only_what_changed(region, tmp_path) -> None:
    urls, db, settings, api = region
    await refresh_facts(db, settings)
    before = await _answers(api, STORED[:1])
    # care of one more youth of 0150, within the data's period
    await _load_care(db, settings, tmp_path, number="FACTS-1", start="2025-03-03", end="2025-03-31")
    assert {r[0] for r in await _admin(urls, "select * from fact_dirty")} == {"0150"}
    # until the refresh the answer is live, and already includes the new youth
    changed = await _answers(api, STORED[:1])
    assert changed != before
    assert await refresh_facts(db, settings) == 1
    assert await _answers(api, STORED[:1]) == changed

    # Care of 0150 beyond the data's last date: the last date moves, so every municipality's
    # later periods are recomputed (open care runs on into them), its other periods kept.
    ((last,),) = await _admin(urls, "select last_date from indicator_fact_state")
    later = [(["MUNICIPALITY", "MONTH"], {"from": f"{last.year}-{last.month:02d}-01"})]
    await _load_care(
        db, settings, tmp_path, number="FACTS-2", start=f"{last.year + 1}-02-01", end=""
    )
    live = await _answers(api, [*STORED, *later])
    assert await refresh_facts(db, settings) == 1
    assert await _statements(db, *later[0]) == 1 + 1  # from the stored facts
    assert await _answers(api, [*STORED, *later]) == live


@pytest.mark.parametrize(("role", "claims"), ROLES)
async def test_stored_facts_stay_behind_each_municipalitys_wall(region, role, claims) -> None:
    """Read directly, the table shows a municipality its own figures, the region all, and
    nobody else anything; through `indicators` everyone gets suppressed figures (above)."""
    urls, db, settings, _ = region
    await refresh_facts(db, settings)
    await _admin(urls, "insert into fact_dirty values ('0193'), ('0150')")
    scope: Scope = auth.verify(SECRET, token(role, **claims))
    async with db.tenant(scope) as tx:
        seen = {r[0] for r in await tx.fetch("select municipality_code from indicator_fact")}
        marked = {r[0] for r in await tx.fetch("select municipality_code from fact_dirty")}
    expected = {"region": set(CODES), "municipality": {"0193"}}.get(role, set())
    assert seen == expected
    # which municipalities changed lately: read region-wide for freshness only
    assert marked == ({"0193", "0150"} if role == "region" else set())
    await refresh_facts(db, settings)


async def _stored(urls: Any) -> list[Any]:
    return [
        tuple(r)
        for r in await _admin(
            urls,
            """select municipality_code, grain, period_start, family, data::text
               from indicator_fact order by 1, 2, 3, 4""",
        )
    ]


async def test_a_refresh_on_readers_stores_what_one_connection_stores(region) -> None:
    urls, db, settings, _ = region
    await _admin(urls, "insert into fact_dirty select code from municipality")
    assert await refresh_facts(db, settings) == len(CODES)
    alone = await _stored(urls)
    await _admin(urls, "insert into fact_dirty select code from municipality")
    assert await refresh_facts(db, settings, readers=2) == len(CODES)
    assert await _stored(urls) == alone
    assert {r[0] for r in alone} == set(CODES)


_REGION_WIDE = [
    ("select municipality_code, count(*) from care_period group by 1 order by 1", ()),
    ("select municipality_code, count(*) from claim_line group by 1 order by 1", ()),
]
_RECORDS = "select distinct municipality_code from care_period order by 1"


@pytest.mark.parametrize(("role", "claims"), ROLES)
async def test_readers_read_region_wide_only_what_fetch_region_wide_reads(
    region, role, claims
) -> None:
    """A transaction with readers answers `fetch_region_wide` from them exactly as from its
    own connection, while its own reads stay behind the caller's wall."""
    _, db, _, _ = region
    scope: Scope = auth.verify(SECRET, token(role, **claims))
    async with db.tenant(scope) as tx:
        own = await tx.fetch(_RECORDS)
        wide = await tx.fetch_region_wide(_REGION_WIDE)
    async with db.tenant(scope, readers=2) as tx:
        assert await tx.fetch(_RECORDS) == own
        assert await tx.fetch_region_wide(_REGION_WIDE) == wide
        assert await tx.fetch(_RECORDS) == own
        assert tx.statements == 2 + len(_REGION_WIDE)
    assert {r[0] for r in wide[0]} == set(CODES)
    if role in ("region", "municipality", "public"):
        expected = {"region": CODES, "municipality": ["0193"], "public": []}[role]
        assert [r[0] for r in own] == sorted(expected)
