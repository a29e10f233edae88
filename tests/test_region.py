"""The synthetic region end to end: every municipality in its own format, every adapter
kind, the JSON API municipalities pulled from a local server. Nothing is unaccounted for,
and loading the same region twice from scratch gives identical tables."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub import ingest as ingest_module
from hub.config import default_region
from hub.db import Scope
from hub.ingest import ADAPTERS, read_sources
from hub.resolvers.records import sources
from hub.synth import generate
from hub.synth.api import ApiServer

from .conftest import XSD_DIR, load_generated, settings_for, table_checksums


@pytest.fixture(scope="module")
def region_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("region")
    generate(outdir, seed=7, years=2, scale=0.01)
    return outdir


@pytest.fixture(scope="module")
def api(region_dir: Path):
    """One server for the module: page URLs (and so the runs' file names) stay the same."""
    with ApiServer(region_dir / "api") as server:
        yield server


async def _load(make_database, open_db, region_dir: Path, api: ApiServer):
    urls = await make_database(default_region())
    db = await open_db(urls)
    runs = await load_generated(db, settings_for(None, region_dir), region_dir, api)
    return urls, db, runs


async def test_the_region_loads_through_every_adapter_with_nothing_unaccounted(
    make_database, open_db, region_dir: Path, api: ApiServer
) -> None:
    urls, db, _ = await _load(make_database, open_db, region_dir, api)
    configs = read_sources(region_dir / "sources.toml")
    assert {c.info.adapter for c in configs} == set(ADAPTERS)
    async with db.tenant(Scope("admin", actor="test")) as tx:
        rows = await sources(tx)
    assert {r["id"] for r in rows} == {c.info.id for c in configs}
    for r in rows:
        assert r["failed"] == 0, dict(r)
        assert r["status"] in ("loaded", None), dict(r)  # None: no file at this scale yet
        assert r["read"] == r["accepted"] + r["quarantined"], dict(r)
        assert r["quarantined"] == 0, dict(r)  # the synthetic sources are clean
    assert sum(r["read"] for r in rows if r["status"]) == sum(r["read"] for r in rows) > 0
    checksums = await table_checksums(urls.admin)
    # every source again (the APIs from their cursors) changes no record
    await load_generated(db, settings_for(None, region_dir), region_dir, api)
    again = await table_checksums(urls.admin)
    assert {t for t in checksums if checksums[t] != again[t]} <= {"ingest_run", "source"}


async def test_loading_the_region_twice_from_scratch_gives_identical_tables(
    make_database, open_db, region_dir: Path, api: ApiServer
) -> None:
    first, _, _ = await _load(make_database, open_db, region_dir, api)
    second, _, _ = await _load(make_database, open_db, region_dir, api)
    a, b = await table_checksums(first.admin), await table_checksums(second.admin)
    assert a == b


async def test_loading_file_by_file_gives_the_tables_of_loading_in_batches(
    make_database, open_db, region_dir: Path, api: ApiServer, monkeypatch
) -> None:
    """A batch of files in one transaction (set-based statements, an upsert of a key seen
    twice split into rounds) ends as loading its files one at a time. Generated ids are left
    out: an insert that meets a conflict still draws one, in another order."""
    batched, _, _ = await _load(make_database, open_db, region_dir, api)
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 1)
    one_by_one, _, _ = await _load(make_database, open_db, region_dir, api)
    ids = ("id", "youth_id", "trajectory_id", "run_id")
    a = await table_checksums(batched.admin, ids)
    b = await table_checksums(one_by_one.admin, ids)
    # the data version counts the transactions that changed data
    assert {t for t in a if a[t] != b[t]} == {"data_version"}


async def test_hub_ingest_reading_ahead_gives_the_tables_of_one_source_after_another(
    make_database, open_db, region_dir: Path, api: ApiServer
) -> None:
    """`hub ingest --sources` reads each source's first files while the source before it
    loads; what it stores is what loading the sources one after another stores (besides the
    indicator facts, which only it refreshes, and the data version that counts that)."""
    one_after_another, _, _ = await _load(make_database, open_db, region_dir, api)
    urls = await make_database(default_region())
    env = {
        **os.environ,
        "HUB_DATABASE_URL": urls.admin,
        "HUB_SERVICE_DATABASE_URL": urls.service,
        "HUB_IJW_XSD_DIR": str(XSD_DIR),
        "HUB_DEMO_API": api.url,
    }
    argv = [
        sys.executable,
        "-m",
        "hub.cli",
        "ingest",
        "--sources",
        str(region_dir / "sources.toml"),
    ]
    out = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr
    a = await table_checksums(one_after_another.admin)
    b = await table_checksums(urls.admin)
    facts = {"indicator_fact", "indicator_fact_state", "fact_dirty", "data_version"}
    assert {t for t in a if a[t] != b[t]} <= facts
    assert a["claim_line"] == b["claim_line"]
