"""Every adapter into a real PostgreSQL: nothing lost (accepted + quarantined = read in every
run), nothing doubled (re-ingesting changes no row), a failed file leaves the data as it was
and is visible, and quarantine, runs and sources in GraphQL for exactly the right roles."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub import ingest as ingest_module
from hub.ingest import SourceConfig, _one_ahead, ingest
from hub.store.load import SourceInfo

from .conftest import SAMPLE_REGION, SAMPLES, Api, settings_for, table_checksums, token
from .test_adapters import ASSIGNMENTS_CSV, CASES, Case


@pytest.fixture
async def env(make_database, open_db, tmp_path: Path):
    urls = await make_database(SAMPLE_REGION)
    db = await open_db(urls)
    settings = settings_for(SAMPLE_REGION, tmp_path)

    async def load(case: Case, data: bytes | None = None, name: str | None = None):
        path = tmp_path / (name or case.name)
        path.write_bytes(case.data if data is None else data)
        source = SourceInfo(f"{case.adapter}-{case.options.get('kind', 'x')}", case.adapter,
                            case.owner, None, case.options)  # fmt: skip
        (run,) = await ingest(db, settings, source, [path])
        assert run.records_read == run.records_accepted + run.records_quarantined, run
        return run

    async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(urls.admin)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return urls, db, load, fetch


TABLE = {
    "beschikkingen.csv": "assignment",
    "referrals.csv": "referral",
    "periods.tsv": "care_period",
    "claims.csv": "claim_line",
    "measures.csv": "gi_measure",
    "providers.csv": "provider_contract",
    "budgets.csv": "budget",
    "population.csv": "population",
    "signals.csv": "provider_signal",
    "page.json": "assignment",
}


@pytest.mark.parametrize("case", [c for c in CASES if c.adapter != "ijw"], ids=lambda c: c.name)
async def test_each_adapter_loads_once_and_reingest_changes_nothing(env, case: Case) -> None:
    urls, _, load, fetch = env
    run = await load(case)
    assert (run.status, run.records_accepted, run.records_quarantined) == (
        "loaded",
        case.records,
        0,
    )
    rows = await fetch(f"select * from {TABLE[case.name]}")
    assert len(rows) == case.records
    assert all(r["source_id"] and r["file_hash"] and r["position"] for r in rows)
    before = await table_checksums(urls.admin)
    again = await load(case)
    assert again.records_accepted == case.records
    after = await table_checksums(urls.admin)
    changed = {t for t in before if before[t] != after[t]}
    assert changed <= {"ingest_run"}  # only the new run was recorded


async def test_same_content_with_other_bytes_changes_nothing(env) -> None:
    urls, _, load, _ = env
    await load(CASES[1])
    before = await table_checksums(urls.admin)
    crlf = ASSIGNMENTS_CSV.replace("\n", "\r\n").encode()
    await load(CASES[1], crlf, "beschikkingen-crlf.csv")
    after = await table_checksums(urls.admin)
    changed = {t for t in before if before[t] != after[t]}
    assert changed <= {"ingest_run", "source"}


async def test_bad_rows_are_quarantined_and_the_rest_loads(env) -> None:
    _, _, load, fetch = env
    text = ASSIGNMENTS_CSV + "0193;123456789;;;12345678;B-3;45A01;01-02-2024;05-02-2024;;\n"
    run = await load(CASES[1], text.encode())
    assert (run.records_read, run.records_accepted, run.records_quarantined) == (3, 2, 1)
    (q,) = await fetch("select * from quarantine")
    assert (q["position"], q["field"], q["code"], q["municipality_code"]) == (
        "line 4",
        "BSN client",
        "elfproef",
        "0193",
    )
    assert q["value"] is None
    assert q["file_name"] == "beschikkingen.csv"


async def test_a_failed_file_leaves_the_data_as_it_was_and_is_visible(env) -> None:
    urls, db, load, _fetch = env
    await load(CASES[1])
    before = await table_checksums(urls.admin)
    bad = ASSIGNMENTS_CSV.replace("Beschikkingsnummer", "Nr").replace("B-1", "B-9")
    run = await load(CASES[1], bad.encode(), "broken.csv")
    assert run.status == "failed"
    assert run.records_accepted == 0
    after = await table_checksums(urls.admin)
    assert {t for t in before if before[t] != after[t]} <= {"ingest_run", "quarantine"}
    api = Api(db, [m.code for m in SAMPLE_REGION])
    data = await api.query(
        """{ sources { id status filesFailed recordsRead recordsAccepted recordsQuarantined
                       recordsUnaccounted }
             ingestRuns(first: 5) { nodes { fileName status error recordsRead } }
             quarantine { totalCount nodes { fileName position code field reason } } }""",
        bearer=token("admin"),
    )
    (source,) = data["sources"]
    assert source == {
        "id": "csv-assignment",
        "status": "failed",
        "filesFailed": 1,
        "recordsRead": 3,
        "recordsAccepted": 2,
        "recordsQuarantined": 1,
        "recordsUnaccounted": 0,
    }
    assert data["ingestRuns"]["nodes"][0]["fileName"] == "broken.csv"
    assert data["ingestRuns"]["nodes"][0]["status"] == "failed"
    (q,) = data["quarantine"]["nodes"]
    assert (q["fileName"], q["position"], q["code"], q["field"]) == (
        "broken.csv",
        "/",
        "missing-columns",
        "Beschikkingsnummer",
    )


async def test_quarantine_and_runs_are_for_admins_and_the_owning_municipality(env) -> None:
    _, db, load, _ = env
    text = ASSIGNMENTS_CSV + "0193;123456789;;;12345678;B-3;45A01;01-02-2024;05-02-2024;;\n"
    await load(CASES[1], text.encode())
    other = Case("csv", {**CASES[1].options, "municipality": "0150"}, "b150.csv",
                 text.replace("0193;", "0150;").encode(), 2, "0150")  # fmt: skip
    await load(other)
    api = Api(db, [m.code for m in SAMPLE_REGION])
    query = """{ quarantine { nodes { municipality position } }
                 ingestRuns { nodes { municipality } } sources { id } }"""
    seen = {}
    for role, scope in [
        ("admin", {}),
        ("municipality", {"municipality": "0193"}),
        ("municipality", {"municipality": "0150"}),
        ("municipality", {"municipality": "0148"}),
        ("region", {}),
        ("public", {}),
        ("provider", {"provider": "12345678"}),
    ]:
        data = await api.query(query, bearer=token(role, **scope))
        seen[(role, scope.get("municipality"))] = (
            sorted(n["municipality"] for n in data["quarantine"]["nodes"]),
            sorted(n["municipality"] for n in data["ingestRuns"]["nodes"]),
            len(data["sources"]),
        )
    assert seen == {
        ("admin", None): (["0150", "0193"], ["0150", "0193"], 1),
        ("municipality", "0193"): (["0193"], ["0193"], 1),
        ("municipality", "0150"): (["0150"], ["0150"], 1),
        ("municipality", "0148"): ([], [], 0),
        ("region", None): ([], [], 0),
        ("public", None): ([], [], 0),
        ("provider", None): ([], [], 0),
    }


async def test_claims_csv_carries_its_answers(env) -> None:
    _, db, load, _ = env
    await load(next(c for c in CASES if c.adapter == "claims-csv"))
    api = Api(db, [m.code for m in SAMPLE_REGION])
    data = await api.query(
        "{ claims { nodes { reference status retourcodes debitCredit amountCents } } }",
        bearer=token("region"),
    )
    got = {n["reference"]: (n["status"], n["retourcodes"]) for n in data["claims"]["nodes"]}
    assert got == {
        "L1": ("CREDITED", []),  # granted, then cancelled by the credit line L2
        "L2": ("CREDIT", []),
        "L3": ("REJECTED", ["0611"]),
    }


async def test_a_later_export_wins_and_an_older_one_does_not_undo_it(env) -> None:
    _, _, load, fetch = env
    case = next(c for c in CASES if c.name == "periods.tsv")
    await load(case)
    text = case.data.decode()
    ended = text.replace("2024-03-04\t\t\n", "2024-03-04\t2024-09-30\t33\n")
    await load(case, ended.encode(), "periods-later.tsv")
    await load(case)  # the older export again
    rows = await fetch(
        "select end_date, end_reason from care_period where toewijzing_nummer = 'B-2'"
    )
    assert [(str(r["end_date"]), r["end_reason"]) for r in rows] == [("2024-09-30", "33")]


async def test_ingested_population_overrides_the_region_file(env) -> None:
    _, db, load, _ = env
    api = Api(db, [m.code for m in SAMPLE_REGION])
    query = "{ municipalities { code y2024: youthPopulation(year: 2024) } }"
    before = {
        m["code"]: m["y2024"]
        for m in (await api.query(query, bearer=token("public")))["municipalities"]
    }
    await load(next(c for c in CASES if c.name == "population.csv"))
    after = {
        m["code"]: m["y2024"]
        for m in (await api.query(query, bearer=token("public")))["municipalities"]
    }
    assert after["0193"] == 27650
    assert after["0150"] == 20400
    assert {k: v for k, v in after.items() if k not in ("0193", "0150")} == {
        k: v for k, v in before.items() if k not in ("0193", "0150")
    }


async def test_a_source_cannot_write_another_municipality(env) -> None:
    """A municipal source's rows for another municipality never reach the database, even
    when the adapter's own check were bypassed: its transaction may write only the
    municipalities the file names, and the owner check quarantines the row first."""
    _, _, load, fetch = env
    text = ASSIGNMENTS_CSV.replace("0193;" + "999900018", "0150;" + "999900018")
    run = await load(CASES[1], text.encode())
    assert (run.records_accepted, run.records_quarantined) == (1, 1)
    assert [r["municipality_code"] for r in await fetch("select * from assignment")] == ["0193"]


@pytest.mark.parametrize(
    ("role", "scope", "expected"),
    [
        ("region", {}, ["0150", "0193"]),
        ("municipality", {"municipality": "0193"}, ["0193"]),
        ("municipality", {"municipality": "0150"}, ["0150"]),
        ("municipality", {"municipality": "0148"}, []),
        ("provider", {"provider": "87654321"}, ["0150", "0193"]),  # the GI itself
        ("provider", {"provider": "12345678"}, []),
        ("public", {}, []),
        ("admin", {}, []),
    ],
)
async def test_gi_measures_as_every_role(env, role: str, scope: dict, expected: list) -> None:
    _, db, load, _ = env
    await load(next(c for c in CASES if c.adapter == "gi"))
    api = Api(db, [m.code for m in SAMPLE_REGION])
    data = await api.query(
        """{ measures(filter: {measureTypes: [OTS, JEUGDRECLASSERING]}) {
               totalCount nodes { measureType start end provider { agb }
                                  municipality { code } youth { birthYear } } } }""",
        bearer=token(role, **scope),
    )
    nodes = data["measures"]["nodes"]
    assert sorted(n["municipality"]["code"] for n in nodes) == expected
    assert data["measures"]["totalCount"] == len(expected)
    assert all(n["youth"] is not None for n in nodes)  # whoever sees a measure sees its youth


def test_a_location_lists_the_files_glob_finds_in_path_order(tmp_path: Path) -> None:
    """One folder is listed from its entries (no stat per file), a deeper pattern by glob:
    either way the files glob finds, without folders or hidden files, as Paths sort."""
    folder = tmp_path / "in"
    (folder / "deeper").mkdir(parents=True)
    for name in ("b.xml", "a.xml", "A.xml", ".hidden.xml", "notes.txt", "deeper/c.xml"):
        (folder / name).write_text("x")
    (folder / "folder.xml").mkdir()
    (folder / "linked.xml").symlink_to(folder / "a.xml")
    (folder / "dangling.xml").symlink_to(folder / "gone.xml")
    for location in ("in/*.xml", "in/**/*.xml", str(folder / "*.xml"), "in/a.xml", "none/*.xml"):
        config = SourceConfig(SourceInfo("s", "ijw", location=location), tmp_path)
        pattern = location if Path(location).is_absolute() else str(tmp_path / location)
        expected = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        assert [Path(f) for f in config.files()] == expected, location
    listed = SourceConfig(SourceInfo("s", "ijw", location="in/*.xml"), tmp_path).files()
    assert [Path(f).name for f in listed] == ["A.xml", "a.xml", "b.xml", "linked.xml"]


async def test_pages_are_fetched_one_ahead_and_the_rest_dropped_on_an_early_stop() -> None:
    """A pull asks for the next page while the one before loads; when loading stops early,
    the page asked for is dropped and the pull is closed."""
    events: list[str] = []

    async def pages() -> AsyncIterator[int]:
        try:
            for n in range(1, 5):
                events.append(f"fetch {n}")
                await asyncio.sleep(0)
                yield n
        finally:
            events.append("closed")

    async with contextlib.aclosing(_one_ahead(pages())) as ahead:
        async for n in ahead:
            await asyncio.sleep(0.01)  # loading
            events.append(f"loaded {n}")
            if n == 2:
                break
    assert events == ["fetch 1", "fetch 2", "loaded 1", "fetch 3", "loaded 2", "closed"]


@pytest.mark.parametrize("in_workers", [False, True], ids=["thread", "workers"])
async def test_reading_keeps_at_most_read_ahead_batches_in_flight_and_yields_them_in_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, in_workers: bool
) -> None:
    """Files are read READ_AHEAD batches ahead of the one loading, never more (what is read
    waits in memory), and the batches come in the order of the files. The next batch is
    taken (and unpickled) while one loads. A batch read in a worker process waits as the
    bytes it was pickled to."""
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 2)
    monkeypatch.setattr(ingest_module, "READ_AHEAD", 3)
    monkeypatch.setattr(ingest_module, "_PARALLEL_FROM", 1 if in_workers else 100)
    paths = [tmp_path / f"{i:02}.xml" for i in range(11)]  # six batches
    for path in paths:
        path.write_bytes((SAMPLES / "JW301.xml").read_bytes())
    source = SourceInfo("ijw-ahead", "ijw", None, None, {})
    reading = ingest_module.Reading(settings_for(SAMPLE_REGION, tmp_path), source, paths)
    names, in_flight, waiting = [], [], []
    async for batch in reading.batches():
        in_flight.append(len(reading._reading))
        if reading._reading:
            waiting.append(type(await reading._reading[-1]))
        await asyncio.sleep(0.05)  # loading
        names += [f.file_name for f in batch]
    assert names == [p.name for p in paths]
    assert in_flight == [3, 3, 2, 1, 0, 0]
    assert set(waiting) == {bytes if in_workers else list}


def test_many_files_or_a_few_large_ones_are_read_in_worker_processes(tmp_path: Path) -> None:
    """A few small files are read in a thread of the loading process: handing them to a
    worker and back would cost more than reading them."""
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_bytes(b"x" * 1000)
    large.write_bytes(b"x" * ingest_module._PARALLEL_FROM_BYTES)
    assert not ingest_module._worth_a_worker([small, small])
    assert not ingest_module._worth_a_worker([tmp_path / "missing.csv"])
    assert ingest_module._worth_a_worker([small, large])
    assert ingest_module._worth_a_worker([small] * ingest_module._PARALLEL_FROM)


async def test_the_readers_run_at_a_lower_priority_than_the_loading() -> None:
    """The loading (this process and PostgreSQL) is what the others wait for: the worker
    processes that read ahead of it get the cores it leaves."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("with one core the files are read in a thread of this process")
    here = os.nice(0)
    readers = ingest_module._readers()
    niceness = await asyncio.get_running_loop().run_in_executor(readers, os.nice, 0)
    assert niceness == min(here + ingest_module.READERS_NICE, 19)
