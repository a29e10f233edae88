"""The benchmark's SQL (bench/sql.py), which PostGraphile and the floor serve: W1's function
answers the hub's `indicators` rows value for value, W2's page and the computed column of a
trajectory's claims answer the hub's `trajectories` page, and both keep row-level security
for every role (they run as the caller: a municipality sees its own records, the public and
admins none)."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench import sql as bench_sql
from bench import workloads
from hub.config import default_region
from hub.db import Scope
from hub.synth import generate

from .conftest import Api, load_generated, settings_for, token

THREE = [m for m in default_region() if m.code in ("0148", "0150", "0193")]
OWN = "0148"
PERIOD = (date.fromisoformat(workloads.PERIOD[0]), date.fromisoformat(workloads.PERIOD[1]))


@pytest.fixture(scope="module")
async def region(make_database, open_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    generate(out, seed=3, years=2, scale=0.03, region=THREE)
    urls = await make_database(THREE)
    db = await open_db(urls)
    await load_generated(db, settings_for(THREE, out), out)
    await bench_sql.install(urls.admin)
    conn = await asyncpg.connect(urls.admin)
    try:
        provider = await conn.fetchval(
            "select provider_agb from trajectory group by 1 order by count(*) desc limit 1"
        )
        counts = {
            "region": await conn.fetchval("select count(*) from trajectory"),
            "municipality": await conn.fetchval(
                "select count(*) from trajectory where municipality_code = $1", OWN
            ),
            "provider": await conn.fetchval(
                "select count(*) from trajectory where provider_agb = $1", provider
            ),
            "public": 0,
            "admin": 0,
        }
    finally:
        await conn.close()
    return db, Api(db, [m.code for m in THREE], max_cost=10**9), provider, counts


def _scope(role: str, provider: str) -> Scope:
    if role == "municipality":
        return Scope(role, municipality=OWN)
    return Scope(role, provider=provider if role == "provider" else None)


async def _fetch(db: Any, scope: Scope, statement: str, *args: Any) -> list[dict[str, Any]]:
    async with db.tenant(scope) as tx:
        return [dict(r) for r in await tx.fetch(statement, *args)]


def _floor_w2(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    import json  # noqa: PLC0415

    plain = [
        {
            **r,
            "start_date": r["start_date"].isoformat(),
            "end_date": r["end_date"] and r["end_date"].isoformat(),
            "claims": json.loads(r["claims"]),
        }
        for r in rows
    ]
    return workloads.rows_of("W2", "floor", plain)


async def test_w1_function_answers_the_hubs_rows(region):
    db, api, _, _ = region
    data = await api.query(
        workloads.W1_HUB,
        {"from": workloads.PERIOD[0], "to": workloads.PERIOD[1]},
        bearer=token("region"),
    )
    hub = workloads.rows_of("W1", "hub", {"data": data})
    rows = await _fetch(db, Scope("region"), "select * from bench.w1($1, $2)", *PERIOD)
    function = workloads.rows_of("W1", "floor", rows)
    assert len(hub) == 12 * len(THREE)
    assert any(values[0] for values in hub.values())  # youth in care somewhere
    assert workloads.same(hub, function), workloads.first_difference(hub, function)


@pytest.mark.parametrize("latest", [None, workloads.LATEST])
async def test_w2_page_answers_the_hubs_page(region, latest):
    db, api, _, counts = region
    argument = None
    if latest:  # the hub's argument for the latest claims, when its schema has one
        for candidate in workloads.HUB_CLAIMS_ARGUMENTS:
            body = workloads.w2(candidate).requests["hub"].body
            response = await api.post(body["query"], body["variables"], bearer=token("region"))
            if "errors" not in response.json():
                argument = candidate
                break
        else:
            pytest.skip("the hub's Trajectory.claims takes no argument for the latest claims")
    body = workloads.w2(argument).requests["hub"].body
    bearer = token("municipality", municipality=OWN)
    hub = workloads.rows_of("W2", "hub", {"data": await api.query(**_q(body), bearer=bearer)})
    scope = Scope("municipality", municipality=OWN)
    everything, _ = bench_sql.w2_floor(None)
    page = _floor_w2(await _fetch(db, scope, everything, latest, workloads.PAGE))
    own, extra = bench_sql.w2_floor(OWN)  # what the floor asks for a municipality
    own_page = _floor_w2(await _fetch(db, scope, own, latest, workloads.PAGE, *extra))
    assert len(hub) == min(workloads.PAGE, counts["municipality"]) > 0
    assert any(row[-1] for row in hub)  # some trajectory has claims
    if latest:
        assert all(len(row[-1]) <= latest for row in hub)
    assert page == hub
    assert own_page == hub


def _q(body: dict[str, Any]) -> dict[str, Any]:
    return {"query": body["query"], "variables": body["variables"]}


@pytest.mark.parametrize("role", ["region", "municipality", "provider", "public", "admin"])
async def test_bench_sql_keeps_row_level_security(region, role):
    db, _, provider, counts = region
    scope = _scope(role, provider)
    page = await _fetch(db, scope, bench_sql.w2_floor(None)[0], None, 10**6)
    assert len(page) == counts[role]
    if role == "provider":
        assert {r["agb"] for r in page} == {provider}
    w1 = await _fetch(db, scope, "select * from bench.w1($1, $2)", *PERIOD)
    seen = {r["municipality"] for r in w1 if r["youth_in_care"]}
    expected = {
        "region": {m.code for m in THREE},
        "municipality": {OWN},
        "public": set(),
        "admin": set(),
    }
    if role == "provider":
        assert seen <= {m.code for m in THREE}
    else:
        assert seen == expected[role]
    claims = await _fetch(
        db,
        scope,
        "select c.municipality_code, c.provider_agb from trajectory t,"
        " bench.trajectory_claims(t) c",
    )
    if role == "municipality":
        assert claims
        assert {c["municipality_code"] for c in claims} == {OWN}
    elif role == "provider":
        assert {c["provider_agb"] for c in claims} <= {provider}
    elif role in ("public", "admin"):
        assert claims == []


async def test_w1_function_reads_the_stored_facts_as_the_hub_does(region, tmp_path):
    """After a refresh the hub answers W1 from its stored facts; so does bench.w1, with the
    same rows. (Last in this module: it leaves the facts refreshed.)"""
    from hub.ingest import refresh_facts  # noqa: PLC0415

    db, api, _, _ = region
    assert await refresh_facts(db, settings_for(THREE, tmp_path)) == len(THREE)
    data = await api.query(
        workloads.W1_HUB,
        {"from": workloads.PERIOD[0], "to": workloads.PERIOD[1]},
        bearer=token("region"),
    )
    hub = workloads.rows_of("W1", "hub", {"data": data})
    async with db.tenant(Scope("region")) as tx:
        rows = [dict(r) for r in await tx.fetch("select * from bench.w1($1, $2)", *PERIOD)]
        fresh = await tx.fetchval(
            "select s.refreshed_at is not null and not exists (select 1 from fact_dirty)"
            " from indicator_fact_state s"
        )
    function = workloads.rows_of("W1", "floor", rows)
    assert fresh  # what bench.w1 checks before reading the stored facts
    assert any(values[0] for values in hub.values())
    assert workloads.same(hub, function), workloads.first_difference(hub, function)
    async with db.tenant(Scope("region")) as tx:
        stored = await tx.fetchval(
            "select count(*) from bench.w1_trajectory_stored($1::date[])",
            [date(2025, m, 1) for m in range(1, 13)],
        )
    assert stored > 0


# A process that uses `cpu` seconds of CPU (in a child of its own when `child`), then idles
# so that a sample sees all of it, and ends.
_BUSY = """import os, sys, time
cpu, child = float(sys.argv[1]), sys.argv[2] == "child"
if child:
    import subprocess
    subprocess.run([sys.executable, "-c", sys.argv[3], sys.argv[1], "self", sys.argv[3]])
else:
    block = bytearray(32 * 2**20)  # resident: the pages are written
    while time.process_time() < cpu:
        pass
    time.sleep(0.5)
"""


def test_w4_reads_the_regions_files_once_before_it_starts(tmp_path: Path) -> None:
    from bench.state import _read_through  # noqa: PLC0415

    (tmp_path / "0193" / "ijw").mkdir(parents=True)
    (tmp_path / "0193" / "ijw" / "a.xml").write_bytes(b"x" * 3_000_000)
    (tmp_path / "sources.toml").write_bytes(b"# none\n")
    assert _read_through(tmp_path) == 3_000_007


def test_w4_usage_counts_a_tree_that_ended_and_the_servers_processes() -> None:
    """W4's CPU time counts the ingest's processes, children that ended included, and the
    PostgreSQL server's, each since W4 started; its peak RSS is the ingest tree's."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from bench.state import _processes, _Usage  # noqa: PLC0415

    server = subprocess.Popen([sys.executable, "-c", _BUSY, "0.6", "self", ""])
    while _processes()[server.pid][2] < 0.2:  # CPU the server used before W4: not W4's
        time.sleep(0.01)
    ingest = subprocess.Popen([sys.executable, "-c", _BUSY, "0.4", "child", _BUSY])
    started = time.monotonic()
    usage = _Usage(ingest.pid, server.pid)
    while ingest.poll() is None or server.poll() is None:
        usage.sample()
        time.sleep(0.02)
    usage.sample()
    elapsed = time.monotonic() - started
    assert 0.35 <= usage.cpu("ingest") < 1.0  # the child's 0.4 s, though it has ended
    assert 0.35 <= usage.cpu("readers") < 1.0  # the child is the ingest's reader
    assert usage.cpu("loading") == pytest.approx(usage.cpu("ingest") - usage.cpu("readers"))
    assert usage.cpu("loading") < 0.3  # the ingest process itself only started the child
    assert 0.3 < usage.cpu("postgres") < 0.5  # about 0.6 s, less the 0.2 s used before
    assert usage.peak_rss >= 32 * 2**20
    assert 0 <= usage.iowait <= usage.idle <= (os.cpu_count() or 1) * (elapsed + 0.05)
