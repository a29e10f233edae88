"""What DESIGN.md says deliveries mean: StatusAanlevering 3 removes the delivery with the
same key, a JW323 credit line cancels the line it names, JW325 answers decide the outcome.
The messages are the iJw samples with their content edited, so they stay schema-valid."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from hub import ingest as ingest_module
from hub.adapters.ijw import IjwAdapter
from hub.ingest import adapter_context, ingest, refresh_facts
from hub.store import load as load_module
from hub.store.load import SourceInfo, load_files

from .conftest import SAMPLE_REGION, SAMPLES, settings_for

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/ijw-3.2 is not beside")


@pytest.fixture
async def env(make_database, open_db, tmp_path: Path):
    urls = await make_database(SAMPLE_REGION)
    db = await open_db(urls)
    settings = settings_for(SAMPLE_REGION, tmp_path)

    async def load(name: str, text: str):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        (run,) = await ingest(db, settings, SourceInfo("edited", "ijw"), [path])
        assert run.status == "loaded", run
        return run

    async def fetch(sql: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(urls.admin)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return load, fetch


def _sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def _new_id(text: str, ident: str) -> str:
    return re.sub(
        r"<ijw:Identificatie>\d+</ijw:Identificatie>",
        f"<ijw:Identificatie>{ident}</ijw:Identificatie>",
        text,
        count=1,
    )


async def test_status_3_removes_the_start_and_the_stop(env) -> None:
    load, fetch = env
    await load("start.xml", _sample("JW305.xml"))
    await load("stop.xml", _sample("JW307.xml"))
    periods = (
        "select toewijzing_nummer, start_date::text, end_date::text from care_period order by 1"
    )
    assert [tuple(r) for r in await fetch(periods)] == [
        ("300201", "2026-04-03", "2026-07-17"),
        ("300202", "2026-04-15", "2026-07-17"),
    ]

    # Withdraw the stop of 300201: the period is open again; 300202 is untouched.
    stop = _new_id(_sample("JW307.xml"), "900000000001")
    stop = stop.replace(
        "<jw307:StatusAanlevering>1</jw307:StatusAanlevering>",
        "<jw307:StatusAanlevering>3</jw307:StatusAanlevering>",
        1,
    )
    await load("stop-withdrawn.xml", stop)
    assert [tuple(r) for r in await fetch(periods)] == [
        ("300201", "2026-04-03", None),
        ("300202", "2026-04-15", "2026-07-17"),
    ]

    # Withdraw the start of 300202: its delivery (same key) is gone.
    start = _new_id(_sample("JW305.xml"), "900000000002")
    parts = start.split("<jw305:StatusAanlevering>1</jw305:StatusAanlevering>")
    start = (
        parts[0]
        + "<jw305:StatusAanlevering>1</jw305:StatusAanlevering>"
        + parts[1]
        + "<jw305:StatusAanlevering>3</jw305:StatusAanlevering>"
        + parts[2]
    )
    await load("start-withdrawn.xml", start)
    assert [tuple(r) for r in await fetch(periods)] == [("300201", "2026-04-03", None)]


async def test_status_2_is_quarantined(env) -> None:
    load, fetch = env
    text = _sample("JW305.xml").replace(
        "<jw305:StatusAanlevering>1</jw305:StatusAanlevering>",
        "<jw305:StatusAanlevering>2</jw305:StatusAanlevering>",
        1,
    )
    run = await load("status2.xml", text)
    assert (run.records_accepted, run.records_quarantined) == (1, 1)
    (q,) = await fetch("select code, reason from quarantine")
    assert q["code"] == "status-aanlevering"
    assert "CS058" in q["reason"]


def _prestatie(block: str, reference: str, previous: str | None, dc: str, amount: int) -> str:
    ref = f"<ijw:ReferentieNummer>{reference}</ijw:ReferentieNummer>"
    if previous:
        ref += f"<ijw:VorigReferentieNummer>{previous}</ijw:VorigReferentieNummer>"
    block = re.sub(r"<ijw:ReferentieNummer>RN001</ijw:ReferentieNummer>", ref, block)
    block = re.sub(r"<ijw:Bedrag>\d+</ijw:Bedrag>", f"<ijw:Bedrag>{amount}</ijw:Bedrag>", block)
    return re.sub(
        r"<ijw:DebetCredit>D</ijw:DebetCredit>", f"<ijw:DebetCredit>{dc}</ijw:DebetCredit>", block
    )


async def test_a_credit_line_cancels_the_line_it_names_and_a_new_debit_replaces_it(env) -> None:
    load, fetch = env
    claims = _sample("JW323.xml")
    await load("claims.xml", claims)
    await load("answer.xml", _sample("JW325.xml"))
    status = "select reference, status, amount_cents, debit_credit from claim order by reference"
    before = {r["reference"]: r["status"] for r in await fetch(status)}
    assert before["RN004"] == "GRANTED"

    # A correction of RN004: credit it (RN104 names RN004) and send a new debit RN105.
    first = re.search(r"<jw323:Prestatie>.*?</jw323:Prestatie>", claims, re.S)
    assert first is not None
    block = first.group(0).replace("RN001", "RN004")
    correction = _prestatie(
        block.replace("RN004", "RN001"), "RN104", "RN004", "C", 24000
    ) + _prestatie(block.replace("RN004", "RN001"), "RN105", None, "D", 22500)
    text = _new_id(claims, "765432299")
    text = re.sub(
        r"<jw323:Clienten>.*</jw323:Clienten>",
        "<jw323:Clienten><jw323:Client><jw323:Bsn>999900018</jw323:Bsn>"
        f"<jw323:Prestaties>{correction}</jw323:Prestaties></jw323:Client>"
        "</jw323:Clienten>",
        text,
        flags=re.S,
    )
    await load("correction.xml", text)
    after = {
        r["reference"]: (r["status"], r["amount_cents"], r["debit_credit"])
        for r in await fetch(status)
    }
    assert after["RN004"] == ("CREDITED", 24000, "D")
    assert after["RN104"] == ("CREDIT", 24000, "C")
    assert after["RN105"] == ("SUBMITTED", 22500, "D")
    # The other lines keep their outcome.
    assert {k: v[0] for k, v in after.items() if k in before and k != "RN004"} == {
        k: v for k, v in before.items() if k != "RN004"
    }


async def test_withdrawing_a_stop_without_a_start_leaves_no_period(env) -> None:
    load, fetch = env
    await load("stop.xml", _sample("JW307.xml"))
    assert len(await fetch("select * from care_period")) == 2
    withdrawn = _new_id(_sample("JW307.xml"), "900000000003").replace(
        "<jw307:StatusAanlevering>1</jw307:StatusAanlevering>",
        "<jw307:StatusAanlevering>3</jw307:StatusAanlevering>",
    )
    await load("stop-withdrawn.xml", withdrawn)
    assert await fetch("select * from care_period") == []


async def test_replaying_a_message_does_not_undo_a_later_withdrawal(env) -> None:
    load, fetch = env
    start = _sample("JW305.xml")
    await load("start.xml", start)
    withdrawn = _new_id(start, "900000000004").replace(
        "<jw305:StatusAanlevering>1</jw305:StatusAanlevering>",
        "<jw305:StatusAanlevering>3</jw305:StatusAanlevering>",
    )
    await load("start-withdrawn.xml", withdrawn)
    assert await fetch("select * from care_period") == []
    await load("start-again.xml", start)  # the same message, replayed
    assert await fetch("select * from care_period") == []


async def test_a_rejected_credit_line_cancels_nothing(env) -> None:
    load, fetch = env
    claims = _sample("JW323.xml")
    await load("claims.xml", claims)
    first = re.search(r"<jw323:Prestatie>.*?</jw323:Prestatie>", claims, re.S)
    assert first is not None
    credit = _prestatie(first.group(0), "RN101", "RN001", "C", 5000)
    text = _new_id(claims, "765432300")
    text = re.sub(
        r"<jw323:Clienten>.*</jw323:Clienten>",
        "<jw323:Clienten><jw323:Client><jw323:Bsn>999900006</jw323:Bsn>"
        f"<jw323:Prestaties>{credit}</jw323:Prestaties></jw323:Client></jw323:Clienten>",
        text,
        flags=re.S,
    )
    await load("credit.xml", text)
    status = "select reference, status from claim where reference in ('RN001', 'RN101')"
    assert dict(await fetch(status)) == {"RN001": "CREDITED", "RN101": "CREDIT"}
    # The municipality rejects the credit line: RN001 stands again.
    answer = _new_id(_sample("JW325.xml"), "654321999")
    answer = answer.replace(
        "<ijw:Identificatie>765432198</ijw:Identificatie>",
        "<ijw:Identificatie>765432300</ijw:Identificatie>",
    )
    answer = answer.replace(
        "<ijw:ReferentieNummer>RN001</ijw:ReferentieNummer>",
        "<ijw:ReferentieNummer>RN101</ijw:ReferentieNummer>",
    )
    await load("credit-rejected.xml", answer)
    assert dict(await fetch(status)) == {"RN001": "SUBMITTED", "RN101": "REJECTED"}


async def test_a_reference_claimed_again_in_another_message_is_quarantined(env) -> None:
    load, fetch = env
    claims = _sample("JW323.xml")
    await load("claims.xml", claims)
    again = _new_id(claims, "765432301").replace(
        "<ijw:Bedrag>5000</ijw:Bedrag>", "<ijw:Bedrag>5100</ijw:Bedrag>"
    )
    run = await load("claims-again.xml", again)
    assert (run.records_read, run.records_accepted, run.records_quarantined) == (5, 0, 5)
    reasons = [
        r["reason"]
        for r in await fetch(
            "select reason from quarantine where code = 'duplicate-key' and reason like '%already%'"
        )
    ]
    assert len(reasons) == 4
    assert all("765432198" in r for r in reasons)
    amounts = dict(await fetch("select reference, amount_cents from claim_line"))
    assert amounts["RN001"] == 5000


async def test_a_file_whose_values_the_database_refuses_fails_alone(
    make_database, open_db, tmp_path: Path
) -> None:
    """A value beyond what the database takes (a volume over 32 bits; one over 64 bits, which
    cannot even be sent) fails its file as a whole, recorded with its run and one quarantined
    record; the other files of the batch load."""
    urls = await make_database(SAMPLE_REGION)
    db = await open_db(urls)
    settings = settings_for(SAMPLE_REGION, tmp_path)
    source = SourceInfo("edited", "ijw")
    ctx = adapter_context(settings, source)
    results = []
    for i, volume in enumerate((2, 2**40, 10**20)):
        path = tmp_path / f"assignments-{i}.xml"
        path.write_text(_new_id(_sample("JW301.xml"), f"76543{i:04d}"), encoding="utf-8")
        result = IjwAdapter(source.id, {}, None).read(path, ctx)
        assert result.records
        assert not result.rejections
        result.records = [replace(r, volume=volume) for r in result.records]
        results.append(result)
    runs = await load_files(db, source, results)
    assert [r.status for r in runs] == ["loaded", "failed", "failed"]
    assert [r.records_accepted for r in runs] == [len(results[0].records), 0, 0]
    assert [[q.code for q in r.rejections] for r in runs[1:]] == [["load-failed"]] * 2
    conn = await asyncpg.connect(urls.admin)
    try:
        volumes = await conn.fetch("select distinct volume from assignment")
        failed = await conn.fetchval("select count(*) from quarantine where code = 'load-failed'")
    finally:
        await conn.close()
    assert [v["volume"] for v in volumes] == [2]
    assert failed == 2


async def test_rows_beyond_one_statement_go_in_the_next_in_order(env, monkeypatch) -> None:
    """A file's rows are sent in statements of a bounded size (the JSON of one statement
    stays below jsonb's limit); split up, they load as in one."""
    load, fetch = env
    claims = _sample("JW323.xml")
    monkeypatch.setattr(load_module, "_STATEMENT_ROWS", 2)
    run = await load("claims.xml", claims)
    assert run.records_accepted >= 3  # more than one statement's worth
    rows = await fetch("select reference, amount_cents, claim_message_id from claim_line")
    assert len(rows) == run.records_accepted
    assert {r["claim_message_id"] for r in rows} == {"765432198"}
    assert {r["reference"]: r["amount_cents"] for r in rows}["RN001"] == 5000
    again = await load("claims-again.xml", _new_id(claims, "765432301"))
    assert again.records_accepted == 0  # every reference was claimed: the first lines stay
    assert len(await fetch("select 1 from claim_line")) == run.records_accepted


def _read_samples(settings, source: SourceInfo) -> list:
    ctx = adapter_context(settings, source)
    return [IjwAdapter(source.id, {}, None).read(p, ctx) for p in sorted(SAMPLES.glob("*.xml"))]


async def _trajectories_and_pending(urls) -> tuple[list[tuple], int]:
    conn = await asyncpg.connect(urls.admin)
    try:
        rows = await conn.fetch(
            """select t.municipality_code, y.pseudonym, t.provider_agb, t.care_type,
                      t.start_date, t.end_date, t.end_reason, t.repeat_inflow, t.referrer_type
               from trajectory t join youth y on y.municipality_code = t.municipality_code
                                            and y.id = t.youth_id
               order by 1, 2, 3, 4, 5"""
        )
        pending = await conn.fetchval("select count(*) from trajectory_pending")
    finally:
        await conn.close()
    return [tuple(r) for r in rows], pending


async def test_a_source_recomputes_its_trajectories_once_at_its_end(
    make_database, open_db, tmp_path: Path, monkeypatch
) -> None:
    """`ingest` lists the youth whose care a batch changed and recomputes them when the
    source's last batch is in: the trajectories are those of recomputing after every file
    (the start and the stop of the samples' care arrive in different batches)."""
    settings = settings_for(SAMPLE_REGION, tmp_path)
    source = SourceInfo("samples", "ijw")
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 1)
    per_source = await make_database(SAMPLE_REGION)
    listed_then: list[int] = []
    refresh = ingest_module.refresh_pending_trajectories

    async def counted(*args):
        listed_then.append((await _trajectories_and_pending(per_source))[1])
        return await refresh(*args)

    monkeypatch.setattr(ingest_module, "refresh_pending_trajectories", counted)
    runs = await ingest(await open_db(per_source), settings, source, sorted(SAMPLES.glob("*.xml")))
    assert len(runs) == len(list(SAMPLES.glob("*.xml")))  # a batch per file
    assert len(listed_then) == 1  # one refresh, after the last batch, of what they listed
    assert listed_then[0] > 0
    per_file = await make_database(SAMPLE_REGION)
    db = await open_db(per_file)
    for result in _read_samples(settings, source):
        await load_files(db, source, [result])
    expected, pending = await _trajectories_and_pending(per_file)
    assert pending == 0
    assert expected
    assert any(t[5] is not None for t in expected)  # the stop, in a later file, ended one
    assert await _trajectories_and_pending(per_source) == (expected, 0)


async def test_a_run_stopped_before_its_sources_end_is_recomputed_by_the_facts_refresh(
    make_database, open_db, tmp_path: Path
) -> None:
    """Batches loaded with their trajectories deferred, and nothing after them (the run
    stopped): their youth stay listed, and the next facts refresh recomputes them first."""
    settings = settings_for(SAMPLE_REGION, tmp_path)
    source = SourceInfo("samples", "ijw")
    urls = await make_database(SAMPLE_REGION)
    db = await open_db(urls)
    for result in _read_samples(settings, source):
        await load_files(db, source, [result], defer_trajectories=True)
    trajectories, pending = await _trajectories_and_pending(urls)
    assert trajectories == []
    assert pending > 0
    await refresh_facts(db, settings)
    trajectories, pending = await _trajectories_and_pending(urls)
    assert pending == 0
    reference = await make_database(SAMPLE_REGION)
    reference_db = await open_db(reference)
    for result in _read_samples(settings, source):
        await load_files(reference_db, source, [result])
    assert trajectories == (await _trajectories_and_pending(reference))[0]
