"""The synthetic region writer: deterministic, every municipality in its own format, every
file read by its source's adapter without a single rejection, consistent across sources,
and calibrated to the region's figures (DOMAIN.md). No database."""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.adapters.json_api import flatten
from hub.adapters.tabular import KINDS, RowOptions
from hub.config import Municipality, default_region
from hub.ingest import ADAPTERS, SourceConfig, adapter_context, make_adapter, read_sources
from hub.model import Budget, Population
from hub.pseudonym import TEST_RANGE, elfproef
from hub.synth import GeneratedRegion, generate, municipality_formats
from hub.synth import reference as synth_reference
from hub.synth.claims import add_claims
from hub.synth.simulation import simulate
from hub.synth.world import AMBULANT, JEUGDHULP_LOTS, Region, yearly_figures

from .conftest import XSD_DIR, settings_for

SCALE, YEARS, END = 0.02, 2, 2025
IJW_KINDS = {"JW301", "JW305", "JW307", "JW315", "JW323", "JW325"}
CODECS = {"utf-8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "windows-1252": "cp1252"}


def _tree(outdir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(outdir).as_posix(): p.read_bytes()
        for p in sorted(outdir.rglob("*"))
        if p.is_file()
    }


def _kind(path: Path) -> str:
    return path.name.split("_")[1]


def _text(el: etree._Element, tag: str) -> str:
    found = el.find(f".//{{*}}{tag}")
    assert found is not None, tag
    return found.text or ""


def _sources(region: GeneratedRegion) -> list[dict[str, Any]]:
    data = tomllib.loads(region.sources_toml.read_text(encoding="utf-8"))
    sources: list[dict[str, Any]] = data["source"]
    return sources


def _api_file(region: GeneratedRegion, location: str) -> Path:
    """The file behind a JSON API source: ${HUB_DEMO_API}/<code>/<resource>."""
    assert location.startswith("${HUB_DEMO_API}/"), location
    return region.sources_toml.parent / "api" / f"{location.split('/', 1)[1]}.json"


def _paths(region: GeneratedRegion, config: SourceConfig) -> list[Path]:
    if config.info.adapter == "json-api":
        return [_api_file(region, config.info.location or "")]
    return [Path(f) for f in config.files()]


def _rows(region: GeneratedRegion, source: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The rows of a tabular source by canonical field name: values as written, codes
    translated by the source's `values` option."""
    options = dict(source.get("options", {}))
    extra = [k for k in options if k not in RowOptions.__slots__]
    kind = options["kind"]
    opts = RowOptions.parse(source["id"], options, kinds=[kind], extra=extra)
    if source["adapter"] == "json-api":
        items = json.loads(_api_file(region, source["location"]).read_text(encoding="utf-8"))
        raw: Iterator[dict[str, Any]] = (flatten(item) for item in items)
    else:
        codec = CODECS[options.get("encoding", "utf-8")]
        files = sorted(region.sources_toml.parent.glob(source["location"]))
        raw = (
            row
            for path in files
            for row in csv.DictReader(
                io.StringIO(path.read_bytes().decode(codec), newline=""),
                delimiter=options.get("delimiter", ","),
            )
        )
    for row in raw:
        texts = {name: str(row.get(opts.source_name(name)) or "") for name in KINDS[kind]}
        yield {name: opts.values.get(name, {}).get(text, text) for name, text in texts.items()}


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRegion:
    return generate(tmp_path_factory.mktemp("seed1"), seed=1, years=YEARS, scale=SCALE)


@pytest.fixture(scope="module")
def world() -> Region:
    """The simulated world behind `region` (same arguments, so the same world)."""
    w = simulate(default_region(), seed=1, first_year=END - YEARS + 1, last_year=END, scale=SCALE)
    add_claims(w)
    return w


@pytest.fixture(scope="module")
def docs(region: GeneratedRegion) -> dict[str, list[tuple[Path, etree._Element]]]:
    by_kind: dict[str, list[tuple[Path, etree._Element]]] = defaultdict(list)
    for path in region.files:
        if path.suffix == ".xml":
            by_kind[_kind(path)].append((path, etree.parse(path).getroot()))
    return by_kind


@pytest.fixture(scope="module")
def calibrated() -> Region:
    """A moderate scale, two years, another seed: for the figures."""
    w = simulate(default_region(), seed=3, first_year=2024, last_year=2025, scale=0.25)
    add_claims(w)
    return w


# --- determinism and layout -----------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(
    region: GeneratedRegion, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outdir = region.sources_toml.parent
    again = generate(tmp_path_factory.mktemp("again"), seed=1, years=YEARS, scale=SCALE)
    assert _tree(again.sources_toml.parent) == _tree(outdir)
    assert (again.counts, again.records) == (region.counts, region.records)
    other = generate(tmp_path_factory.mktemp("seed2"), seed=2, years=YEARS, scale=SCALE)
    assert _tree(other.sources_toml.parent) != _tree(outdir)


def test_rerun_in_same_folder_replaces_old_files(tmp_path: Path) -> None:
    first = generate(tmp_path, seed=3, scale=0.003)
    second = generate(tmp_path, seed=4, scale=0.003)
    on_disk = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sources.toml")
    assert on_disk == sorted(second.files)
    assert first.files != second.files


def test_every_municipality_has_one_access_format(region: GeneratedRegion) -> None:
    codes = [m.code for m in default_region()]
    assert list(region.formats) == codes
    assert Counter(region.formats.values()) == {"ijw": 4, "csv": 4, "json-api": 3}
    sources = _sources(region)
    ids = [s["id"] for s in sources]
    assert len(ids) == len(set(ids))
    for code, kind in region.formats.items():
        owned = {s["id"] for s in sources if s["owner"] == code}
        expected = {
            "ijw": {f"ijw-{code}"},
            "csv": {f"csv-{code}-{k}" for k in ("referrals", "assignments", "care-periods")}
            | {f"ijw-{code}-claims"},
            "json-api": {f"api-{code}-{k}" for k in ("referrals", "assignments", "care-periods")}
            | {f"ijw-{code}-claims"},
        }[kind]
        assert owned == expected, code
    adapters = Counter(s["adapter"] for s in sources)
    assert adapters["claims-csv"] == 5
    assert adapters["gi"] == 3
    assert {s["options"]["kind"] for s in sources if s["adapter"] == "reference"} == {
        "provider",
        "budget",
        "population",
        "signal",
    }
    assert all(s["owner"] == "region" for s in sources if s["adapter"] == "reference")


def test_the_csv_systems_really_differ(region: GeneratedRegion) -> None:
    csv_sources = [s for s in _sources(region) if s["adapter"] == "csv"]
    referrals = [s for s in csv_sources if s["options"]["kind"] == "referral"]
    assert len(referrals) == 4
    options = [s["options"] for s in referrals]
    assert len({o["delimiter"] for o in options}) == 4
    assert {o["encoding"] for o in options} == {"utf-8", "utf-8-sig", "windows-1252"}
    assert {o.get("date_format", "%Y-%m-%d") for o in options} == {"%Y-%m-%d", "%d-%m-%Y"}
    assert {o.get("money", "cents") for o in options} == {"cents", "euros"}
    assert any(o.get("decimal") == "," for o in options)
    assert sum("gender" in o.get("values", {}) for o in options) >= 2
    assert len({o["columns"]["bsn"] for o in options if "bsn" in o["columns"]}) >= 3
    root = region.sources_toml.parent
    written_short = False
    for source in referrals:
        codec = CODECS[source["options"]["encoding"]]
        data = b"".join(p.read_bytes() for p in sorted(root.glob(source["location"])))
        assert data, source["id"]
        text = data.decode(codec)
        assert "ë" in text, f"{source['id']}: no non-ASCII text, the encoding would not matter"
        if source["options"]["encoding"] == "windows-1252":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        if source["options"]["encoding"] == "utf-8-sig":
            assert data.startswith(b"\xef\xbb\xbf")
        written_short |= any(
            len(day.split("-")[0]) == 1
            for row in _rows(region, source)
            if (day := row.get("requested_start", ""))
        )
    assert written_short, "no system writes dates like 1-3-2024"


def test_other_regions_get_the_formats_round_robin() -> None:
    many = [Municipality(f"{9000 + i:04d}", f"M{i}", {2025: 1000}) for i in range(22)]
    assert Counter(municipality_formats(many).values()) == {"ijw": 8, "csv": 8, "json-api": 6}
    two = [m for m in default_region() if m.code in ("0150", "0193")]
    assert set(municipality_formats(two).values()) == {"ijw", "csv"}


# --- every source reads cleanly ---------------------------------------------------------------


def test_every_source_reads_every_file_without_rejections(
    region: GeneratedRegion, tmp_path: Path
) -> None:
    if "json-api" not in ADAPTERS:
        pytest.skip("the json-api adapter is not registered in hub.ingest.ADAPTERS yet")
    settings = settings_for(None, tmp_path)
    configs = read_sources(region.sources_toml)
    assert [c.info.id for c in configs] == [s["id"] for s in _sources(region)]
    seen: set[Path] = set()
    for config in configs:
        adapter = make_adapter(config.info)
        ctx = adapter_context(settings, config.info)
        paths = _paths(region, config)
        assert paths or config.info.adapter == "claims-csv", config.info.id
        read = 0
        for path in paths:
            assert path.is_file(), path
            result = adapter.read(path, ctx)
            assert not result.failed, (path, result.rejections[:1])
            assert result.rejections == [], (path, result.rejections[:3])
            assert len(result.records) == result.records_read
            read += result.records_read
            seen.add(path)
        assert read == region.records[config.info.id], config.info.id
    assert seen == set(region.files)  # every file belongs to exactly one source's location


def test_every_ijw_file_is_valid_against_its_xsd(
    docs: dict[str, list[tuple[Path, etree._Element]]],
) -> None:
    if not XSD_DIR.is_dir():
        pytest.skip("../shared/ijw-3.2/xsd is not beside the project")
    assert set(docs) == IJW_KINDS
    for kind, items in docs.items():
        schema = etree.XMLSchema(etree.parse(XSD_DIR / f"{kind}.xsd"))
        for path, doc in items:
            assert schema.validate(doc), f"{path}: {schema.error_log}"


def test_counts_match_the_files(
    region: GeneratedRegion, docs: dict[str, list[tuple[Path, etree._Element]]]
) -> None:
    body = {
        "JW301": "ToegewezenProduct",
        "JW305": "StartProduct",
        "JW307": "StopProduct",
        "JW315": "AangevraagdProduct",
        "JW323": "Prestatie",
    }
    for kind, tag in body.items():
        assert region.counts[kind] == sum(
            len(list(doc.iter(f"{{*}}{tag}"))) for _, doc in docs[kind]
        ), kind
    assert region.counts["JW325"] >= len(docs["JW325"])
    xml = sum(len(items) for items in docs.values())
    assert xml == sum(1 for p in region.files if p.suffix == ".xml")
    ijw = sum(n for source, n in region.records.items() if source.startswith("ijw-"))
    assert ijw == sum(region.counts.values())


# --- content -----------------------------------------------------------------------------------


def test_bsns_pass_the_elfproef_outside_the_test_range(
    region: GeneratedRegion, docs: dict[str, list[tuple[Path, etree._Element]]]
) -> None:
    bsns = {
        el.text or "" for items in docs.values() for _, doc in items for el in doc.iter("{*}Bsn")
    }
    for source in _sources(region):
        if "bsn" in source.get("options", {}).get("columns", {}):
            bsns |= {row["bsn"] for row in _rows(region, source)}
    assert len(bsns) > 100
    for bsn in bsns:
        assert elfproef(bsn), bsn
        assert not TEST_RANGE[0] <= int(bsn) <= TEST_RANGE[1], bsn


def test_tabular_files_carry_only_mapped_fields(region: GeneratedRegion) -> None:
    """No names or addresses: every CSV column and JSON field is a canonical field of its
    kind (names only as provider and referrer names)."""
    root = region.sources_toml.parent
    for source in _sources(region):
        options = source.get("options", {})
        if source["adapter"] == "ijw":
            continue
        known = set(options["columns"].values()) | set(KINDS[options["kind"]])
        if source["adapter"] == "json-api":
            items = json.loads(_api_file(region, source["location"]).read_text(encoding="utf-8"))
            for item in items:
                assert set(flatten(item)) - known <= {"lastModified"}, source["id"]
            continue
        codec = CODECS[options["encoding"]]
        for path in sorted(root.glob(source["location"])):
            text = path.read_bytes().decode(codec)
            header = next(csv.reader(io.StringIO(text), delimiter=options["delimiter"]))
            assert set(header) <= known, (path, set(header) - known)


def test_assignments_requests_and_claims_refer_to_each_other(
    region: GeneratedRegion, docs: dict[str, list[tuple[Path, etree._Element]]]
) -> None:
    def muni(path: Path) -> str:
        return path.parent.parent.name  # <code>/ijw/<file>

    requests = {
        (muni(p), _text(d, "Afzender"), _text(d, "ReferentieAanbieder")) for p, d in docs["JW315"]
    }
    assigned: dict[tuple[str, str], tuple[str, str]] = {}  # (gemeente, nummer) -> bsn, agb
    for path, doc in docs["JW301"]:
        key = (muni(path), _text(doc, "ToewijzingNummer"))
        assert key not in assigned, f"ToewijzingNummer not unique: {key}"
        agb = _text(doc, "Ontvanger")
        assigned[key] = (_text(doc, "Bsn"), agb)
        assert (muni(path), agb, _text(doc, "ReferentieAanbieder")) in requests
        assert _text(doc, "Toewijzingsdatum") <= _text(doc, "Ingangsdatum")
    for kind in ("JW305", "JW307"):
        for path, doc in docs[kind]:
            key = (muni(path), _text(doc, "ToewijzingNummer"))
            assert assigned[key] == (_text(doc, "Bsn"), _text(doc, "Afzender"))
            assert _text(doc, "ToewijzingIngangsdatum") <= _text(doc, "Begindatum")
    for source in _sources(region):  # the CSV and API municipalities' assignments
        if source.get("options", {}).get("kind") == "assignment":
            for row in _rows(region, source):
                key = (source["owner"], row["assignment_number"])
                assert key not in assigned, f"assignment number not unique: {key}"
                assigned[key] = (row["bsn"], row["provider_agb"])
    for path, doc in docs["JW323"]:
        for client in doc.iter("{*}Client"):
            for line in client.iter("{*}Prestatie"):
                key = (muni(path), _text(line, "ToewijzingNummer"))
                assert key in assigned, f"{path}: unknown assignment {key}"
                assert assigned[key] == (_text(client, "Bsn"), _text(doc, "Afzender"))
    for source in _sources(region):  # the claims of the providers that bill in CSV
        if source["adapter"] == "claims-csv":
            for row in _rows(region, source):
                code = row["municipality"].removeprefix("GM")
                key = (code, row["assignment_number"])
                assert key in assigned, f"{source['id']}: unknown assignment {key}"
                assert assigned[key] == (row["bsn"], source["owner"])


def test_claim_lines_and_answers(docs: dict[str, list[tuple[Path, etree._Element]]]) -> None:
    claims: dict[tuple[str, str, str], str] = {}  # (gemeente, Identificatie, dag) -> agb
    refs: dict[str, set[str]] = defaultdict(set)
    credits = 0
    for path, doc in sorted(docs["JW323"]):
        agb = _text(doc, "Afzender")
        ident = doc.find("{*}Header/{*}BerichtIdentificatie")
        assert ident is not None
        key = (path.parent.parent.name, _text(ident, "Identificatie"), _text(ident, "Dagtekening"))
        claims[key] = agb
        assert _text(doc, "DeclaratieDagtekening") > _text(doc, "DeclaratiePeriode")
        total = 0
        for line in doc.iter("{*}Prestatie"):
            ref = _text(line, "ReferentieNummer")
            assert ref not in refs[agb], f"ReferentieNummer not unique for {agb}: {ref}"
            amount = int(_text(line, "Bedrag"))
            assert amount == int(_text(line, "GeleverdVolume")) * int(_text(line, "ProductTarief"))
            credit = _text(line, "DebetCredit") == "C"
            if line.find(".//{*}VorigReferentieNummer") is not None:
                assert _text(line, "VorigReferentieNummer") in refs[agb]
                credits += credit
            refs[agb].add(ref)
            total += -amount if credit else amount
        summary = doc.find(".//{*}TotaalIngediendBedrag")
        assert summary is not None
        assert (_text(summary, "TotaalBedrag"), _text(summary, "DebetCredit")) == (
            str(abs(total)),
            "C" if total < 0 else "D",
        )
    assert credits > 0
    rejected = 0
    for path, doc in docs["JW325"]:
        ident = doc.find("{*}Header/{*}DeclaratieIdentificatie")
        assert ident is not None
        key = (path.parent.parent.name, _text(ident, "Identificatie"), _text(ident, "Dagtekening"))
        assert claims.get(key) == _text(doc, "Ontvanger"), f"{path} answers no JW323"
        rejected += len(list(doc.iter("{*}Prestatie")))
    lines = sum(len(list(d.iter("{*}Prestatie"))) for _, d in docs["JW323"])
    assert 0 < rejected < lines * 0.1


def test_gi_referrals_come_as_jw315_with_verwijzer_04(
    region: GeneratedRegion, docs: dict[str, list[tuple[Path, etree._Element]]]
) -> None:
    gis = {s["owner"] for s in _sources(region) if s["adapter"] == "gi"}
    by_gi = [
        d for _, d in docs["JW315"] if _text(d, "Type") == "04" and _text(d, "Afzender") not in gis
    ]
    assert by_gi, "no jeugdhulp referred by a GI"
    assert {_text(d, "ZorgverlenerCode") for d in by_gi} <= gis
    measures = [row for s in _sources(region) if s["adapter"] == "gi" for row in _rows(region, s)]
    assert {row["measure_type"].upper() for row in measures} == {
        "OTS",
        "VOOGDIJ",
        "JEUGDRECLASSERING",
    }


def test_claims_csv_carry_the_answer(region: GeneratedRegion, world: Region) -> None:
    billing = {p.agb for p in world.market.providers if p.claims_csv}
    assert {s["owner"] for s in _sources(region) if s["adapter"] == "claims-csv"} == billing
    statuses: Counter[str] = Counter()
    for source in _sources(region):
        if source["adapter"] == "claims-csv":
            for row in _rows(region, source):
                status = row["status"]
                statuses[status] += 1
                assert (status == "REJECTED") == bool(row["retourcodes"])
    assert statuses["GRANTED"] > 0
    assert set(statuses) <= {"GRANTED", "REJECTED", "SUBMITTED"}
    # claims CSV providers send no JW323, and they do correct claims
    senders = {
        _text(etree.parse(p).getroot(), "Afzender") for p in region.files if "_JW323_" in p.name
    }
    assert not senders & billing
    lines = [
        line for w in world.worlds for c in w.claims if c.provider.claims_csv for line in c.lines
    ]
    assert any(line.retour for line in lines)


def test_reference_data(region: GeneratedRegion, world: Region, tmp_path: Path) -> None:
    settings = settings_for(None, tmp_path)
    records: dict[str, list[Any]] = defaultdict(list)
    for config in read_sources(region.sources_toml):
        if config.info.adapter == "reference":
            adapter = make_adapter(config.info)
            for path in config.files():
                records[str(config.info.options["kind"])] += adapter.read(
                    Path(path), adapter_context(settings, config.info)
                ).records
    years = range(END - YEARS + 1, END + 1)
    codes = {m.code for m in default_region()}
    population = {(r.municipality_code, r.year) for r in records["population"]}
    assert all(isinstance(r, Population) for r in records["population"])
    assert population == {(c, y) for c in codes for y in years}
    for r in records["population"]:
        base = next(m for m in default_region() if m.code == r.municipality_code)
        assert abs(r.youth_0_17 / base.youth_population[r.year] - 1) < 0.02
    spending = {
        (w.municipality.code, y, lot): v for w in world.worlds for (y, lot), v in w.spending.items()
    }
    budgets = [r for r in records["budget"] if isinstance(r, Budget)]
    assert len(budgets) == len(codes) * len(years) * 6
    for b in budgets:
        value = spending.get((b.municipality_code, b.year, b.lot), 0)
        assert 0.95 * value - 100 <= b.amount_cents <= 1.05 * value + 100, b
    agbs = {p.agb for p in world.market.providers}
    assert {r.provider_agb for r in records["provider"]} == agbs
    assert 140 <= len(agbs) <= 160
    signals = records["signal"]
    assert len(signals) == len(agbs) * 4 * YEARS  # quarterly per provider


# --- the world: calibration and its stories ----------------------------------------------------


def test_calibrated_to_the_region(calibrated: Region) -> None:
    figures = yearly_figures(calibrated, 2025)
    assert 0.85 * 120 <= figures["jeugdhulp_per_1000"] <= 1.15 * 120, figures
    assert 0.10 <= figures["residential_share"] <= 0.16, figures
    protection = 1000 * 1410 / 113_000
    probation = 1000 * 245 / 113_000
    assert 0.8 * protection <= figures["protection_per_1000"] <= 1.2 * protection, figures
    assert 0.6 * probation <= figures["probation_per_1000"] <= 1.4 * probation, figures
    assert 0.2 <= figures["repeat_inflow_share"] <= 0.6, figures


def test_durations_waiting_and_endings(calibrated: Region) -> None:
    chains: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    waits, reasons = [], Counter[str]()
    for w in calibrated.worlds:
        for a in w.assignments:
            if not a.periods or a.lot not in JEUGDHULP_LOTS:
                continue
            chains[(a.youth.bsn, a.provider.agb, a.lot)].append(a)
            if not a.extension and a.start.year == 2025:
                waits.append((a.periods[0].begin - a.assigned).days)
    spans = []
    for (_, _, lot), chain in chains.items():
        periods = [p for a in chain for p in a.periods]
        begin, end = min(p.begin for p in periods), max(p.end for p in periods)
        last = max(periods, key=lambda p: p.end)
        if lot == AMBULANT and date(2024, 1, 1) <= begin and end <= calibrated.last:
            spans.append((end - begin).days)
            reasons[last.reason] += 1
    median = statistics.median(spans)
    assert 90 <= median <= 365, median  # most ambulant care: 3-12 months
    assert 7 <= statistics.median(waits) <= 60
    assert max(waits) > 90  # and sometimes months
    ended = sum(reasons.values())
    dropouts = sum(reasons[r] for r in ("32", "33", "34", "35"))
    assert 0.1 <= dropouts / ended <= 0.35, reasons
    assert reasons["38"] > 0
    assert reasons["31"] > ended / 2
    long = sum(
        1
        for chain in chains.values()
        if max(p.end for a in chain for p in a.periods)
        - min(p.begin for a in chain for p in a.periods)
        > timedelta(days=730)
    )
    assert long > 0  # a tail of years


def test_the_provider_in_trouble_and_the_quiet_one(calibrated: Region) -> None:
    market = calibrated.market
    signals = [
        s
        for s in synth_reference.signals(calibrated, random.Random(1))
        if s["provider_agb"] == market.troubled.agb
    ]
    warnings = [s["early_warning"] for s in signals]
    assert warnings[-1] == "RED"
    assert "ORANGE" in warnings
    assert warnings.index("ORANGE") < warnings.index("RED")
    assert signals[-1]["escalation"] == "CONTINUITY_PLAN"
    assert {s["escalation"] for s in signals} >= {"ESCALATED", "CONTINUITY_PLAN"}
    assert int(str(signals[-1]["waiting_list"])) > int(str(signals[0]["waiting_list"]))

    def rejected_share(troubled: bool, year: int) -> float:
        lines = [
            line
            for w in calibrated.worlds
            for c in w.claims
            if (c.provider is market.troubled) == troubled and c.sent.year == year
            for line in c.lines
            if not line.credit
        ]
        return sum(1 for line in lines if line.retour) / len(lines)

    assert rejected_share(True, 2025) > 2 * rejected_share(False, 2025)
    quiet = [a for w in calibrated.worlds for a in w.assignments if a.provider is market.dormant]
    assert quiet, "the quiet provider had assignments before"
    assert max(a.assigned for a in quiet) < calibrated.last - timedelta(days=365)


def test_claims_are_monthly_some_late_rejected_corrected(calibrated: Region) -> None:
    claims = [c for w in calibrated.worlds for c in w.claims]
    assert all(c.begin.day == 1 and c.end.month == c.begin.month for c in claims)
    assert all(c.sent > c.end for c in claims)
    late = sum(1 for c in claims if (c.sent - c.end).days > 30)
    assert 0.03 < late / len(claims) < 0.3
    lines = [line for c in claims for line in c.lines]
    assert any(line.credit and line.previous for line in lines)
    assert 0.01 < sum(1 for line in lines if line.retour) / len(lines) < 0.1
