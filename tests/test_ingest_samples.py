"""The 14 iJw 3.2 sample messages through adapter and store into a real PostgreSQL.

The samples are real-shape examples, not a consistent data set: ids repeat across message
types, JW323 repeats ReferentieNummer RN004, and the starts, stops and claims name
assignments that are not there (they are kept, flagged as unlinked)."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import pytest

from hub.config import default_region
from hub.db import Database, Scope
from hub.ingest import ingest
from hub.store.load import SourceInfo

from .conftest import SAMPLE_REGION, SAMPLES, TENANT_TABLES, settings_for

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/ijw-3.2 is not beside")

# file: (records read, accepted, quarantined, status, why)
EXPECTED = {
    "JW301.xml": (2, 2, 0, "loaded", "two ToegewezenProducten"),
    "JW302.xml": (1, 1, 0, "loaded", "header-only retour on a JW301"),
    "JW305.xml": (2, 2, 0, "loaded", "two starts, for assignments of another municipality"),
    "JW306.xml": (1, 1, 0, "loaded", "header-only retour"),
    "JW307.xml": (2, 2, 0, "loaded", "two stops of the two starts"),
    "JW308.xml": (1, 1, 0, "loaded", "header-only retour without retourcodes"),
    "JW315.xml": (1, 0, 1, "failed", "XSD: ToewijzingEinddatum 2027-06-31 is no date"),
    "JW316.xml": (2, 2, 0, "loaded", "retour with two AangevraagdProducten"),
    "JW317.xml": (1, 1, 0, "loaded", "one Verzoek"),
    "JW318.xml": (1, 0, 1, "failed", "XSD: RetourCode not wrapped in RetourCodes"),
    "JW319.xml": (1, 1, 0, "loaded", "one Antwoord"),
    "JW320.xml": (1, 1, 0, "loaded", "retour with one Antwoord"),
    "JW323.xml": (5, 4, 1, "loaded", "five Prestaties, RN004 twice: the second quarantined"),
    "JW325.xml": (3, 3, 0, "loaded", "three rejected Prestaties"),
}
REASONS = {"JW315.xml": r"ToewijzingEinddatum.*2027-06-31", "JW318.xml": r"RetourCode"}
# Everything ingestion writes but its run log.
DATA_TABLES = [t for t in TENANT_TABLES if t != "ingest_run"] + ["provider", "source"]


async def _runs(urls, names: list[str]) -> dict[str, asyncpg.Record]:
    conn = await asyncpg.connect(urls.admin)
    try:
        rows = await conn.fetch(
            "select * from ingest_run where file_name = any($1) order by id", names
        )
        return {r["file_name"]: r for r in rows}
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def sample_db(make_database, open_db):
    urls = await make_database(SAMPLE_REGION)
    db = await open_db(urls)
    return urls, db


@pytest.fixture(scope="module")
def sample_settings(tmp_path_factory: pytest.TempPathFactory):
    return settings_for(SAMPLE_REGION, tmp_path_factory.mktemp("region"))


async def _ingest_samples(db: Database, settings, paths: list[Path]):
    return await ingest(db, settings, SourceInfo("samples", "ijw"), paths)


async def test_samples_with_their_municipalities_configured(sample_db, sample_settings) -> None:
    urls, db = sample_db
    runs = await _ingest_samples(db, sample_settings, sorted(SAMPLES.glob("*.xml")))
    got = {
        Path(r.file_name).name: (
            r.records_read,
            r.records_accepted,
            r.records_quarantined,
            r.status,
        )
        for r in runs
    }
    assert got == {name: e[:4] for name, e in EXPECTED.items()}
    for run in runs:
        assert run.records_accepted + run.records_quarantined == run.records_read
    conn = await asyncpg.connect(urls.admin)
    try:
        quarantined = await conn.fetch(
            "select file_name, code, reason, field, position from quarantine order by id"
        )
        by_file = {Path(q["file_name"]).name: q for q in quarantined}
        for name, pattern in REASONS.items():
            assert by_file[name]["code"] == "xsd"
            assert re.search(pattern, by_file[name]["reason"]), by_file[name]["reason"]
        assert by_file["JW323.xml"]["code"] == "duplicate-key"
        assert "RN004" in by_file["JW323.xml"]["reason"]
        counts = {
            t: await conn.fetchval(f"select count(*) from {t}")
            for t in (
                "assignment",
                "care_period",
                "claim_line",
                "claim_rejection",
                "retour",
                "change_request",
                "change_answer",
            )
        }
        assert counts == {
            "assignment": 2,
            "care_period": 2,
            "claim_line": 4,
            "claim_rejection": 3,
            "retour": 6,
            "change_request": 1,
            "change_answer": 1,
        }
        # The stops closed the starts; the claims and periods name unknown assignments.
        ended = await conn.fetch("select end_date, end_reason from care_period")
        assert {(str(r["end_date"]), r["end_reason"]) for r in ended} == {("2026-07-17", "31")}
        unlinked = {
            Path(r["file_name"]).name: r["records_unlinked"]
            for r in await conn.fetch("select file_name, records_unlinked from ingest_run")
        }
        assert unlinked["JW305.xml"] == 2
        assert unlinked["JW323.xml"] == 4
        statuses = dict(await conn.fetch("select reference, status from claim"))
        assert statuses == {
            "RN001": "REJECTED",
            "RN002": "REJECTED",
            "RN003": "REJECTED",
            "RN004": "GRANTED",
        }
        # Nothing identifying is stored: the test BSN appears nowhere.
        for table in DATA_TABLES:
            dump = await conn.fetchval(
                f"select coalesce(string_agg(t::text, ''), '') from {table} t"
            )
            assert "999900006" not in dump, table
            assert "Van Woustraat" not in dump, table
    finally:
        await conn.close()


async def test_samples_outside_the_default_region_are_rejected(
    make_database, open_db, hub_settings
) -> None:
    urls = await make_database(default_region())
    db = await open_db(urls)
    runs = await _ingest_samples(db, settings_for(None, Path()), sorted(SAMPLES.glob("*.xml")))
    for run in runs:
        name = Path(run.file_name).name
        read = EXPECTED[name][0]
        assert (run.records_read, run.records_accepted, run.records_quarantined) == (
            read,
            0,
            read,
        ), name
    conn = await asyncpg.connect(urls.admin)
    try:
        codes = dict(await conn.fetch("select code, count(*) from quarantine group by code"))
        assert codes == {"xsd": 2, "unknown-municipality": 22}
        reasons = await conn.fetch(
            "select distinct reason from quarantine where code = 'unknown-municipality'"
        )
        assert all(re.search(r"03(63|84)", r["reason"]) for r in reasons)
        assert await conn.fetchval("select count(*) from youth") == 0
    finally:
        await conn.close()


def _reserialise(text: str) -> str:
    """Same content, other bytes: other prefixes, no indentation, CRLF, single quotes."""
    text = re.sub(r">\s+<", "><", text)
    text = re.sub(r"\bijw:", "b:", text).replace("xmlns:ijw=", "xmlns:b=")
    text = re.sub(r"<(/?)jw3(\d\d):", r"<\1m:", text)
    text = re.sub(r"xmlns:jw3\d\d=", "xmlns:m=", text)
    return text.replace(
        '<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0' encoding='utf-8'?>\r\n"
    )


async def _snapshot(urls) -> dict[str, list[tuple[object, ...]]]:
    conn = await asyncpg.connect(urls.admin)
    try:
        return {
            t: [tuple(r) for r in await conn.fetch(f"select xmin::text, * from {t} order by 2, 3")]
            for t in DATA_TABLES
        }
    finally:
        await conn.close()


async def test_reingesting_reserialised_messages_changes_no_row(
    sample_db, sample_settings, tmp_path: Path
) -> None:
    urls, db = sample_db
    settings = sample_settings
    await _ingest_samples(db, settings, sorted(SAMPLES.glob("*.xml")))
    before = await _snapshot(urls)
    copies = []
    # The two files that fail their XSD are left out: their quarantine position is the
    # failing line, which re-serialising moves.
    for path in sorted(SAMPLES.glob("*.xml")):
        if path.name in REASONS:
            continue
        copy = tmp_path / path.name
        copy.write_bytes(_reserialise(path.read_text(encoding="utf-8")).encode("utf-8"))
        assert copy.read_bytes() != path.read_bytes()
        copies.append(copy)
    runs = await _ingest_samples(db, settings, copies)
    assert sum(r.records_accepted for r in runs) == sum(e[1] for e in EXPECTED.values())
    assert await _snapshot(urls) == before


async def test_ingest_writes_only_in_its_own_municipality(sample_db) -> None:
    _, db = sample_db
    async with db.tenant(Scope("ingest", ingest_municipalities=("0363",)), readonly=False) as tx:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await tx.execute(
                """insert into youth(municipality_code, pseudonym, source_id, file_hash,
                   position) values ('0384', 'p', 's', 'h', '/')"""
            )
