"""The synthetic region writer: deterministic, valid against the iJw 3.2 XSDs, consistent
across messages. No database."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from hub.config import default_region
from hub.pseudonym import TEST_RANGE, elfproef
from hub.synth import GeneratedRegion, generate

XSD_DIR = Path(__file__).resolve().parents[2] / "shared" / "ijw-3.2" / "xsd"
SCALE = 0.005


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


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRegion:
    return generate(tmp_path_factory.mktemp("seed1"), seed=1, scale=SCALE)


@pytest.fixture(scope="module")
def docs(region: GeneratedRegion) -> dict[str, list[tuple[Path, etree._Element]]]:
    by_kind: dict[str, list[tuple[Path, etree._Element]]] = defaultdict(list)
    for path in region.files:
        by_kind[_kind(path)].append((path, etree.parse(path).getroot()))
    return by_kind


def test_same_seed_same_bytes_other_seed_differs(
    region: GeneratedRegion, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outdir = region.sources_toml.parent
    again = generate(tmp_path_factory.mktemp("again"), seed=1, scale=SCALE)
    assert _tree(again.sources_toml.parent) == _tree(outdir)
    assert again.counts == region.counts
    other = generate(tmp_path_factory.mktemp("seed2"), seed=2, scale=SCALE)
    assert _tree(other.sources_toml.parent) != _tree(outdir)


def test_rerun_in_same_folder_replaces_old_messages(tmp_path: Path) -> None:
    first = generate(tmp_path, seed=3, scale=0.002)
    second = generate(tmp_path, seed=4, scale=0.002)
    on_disk = sorted(p for p in tmp_path.rglob("*.xml"))
    assert on_disk == sorted(second.files)
    assert first.files != second.files


def test_every_file_is_valid_against_its_xsd(
    docs: dict[str, list[tuple[Path, etree._Element]]],
) -> None:
    assert set(docs) == {"JW301", "JW305", "JW307", "JW315", "JW323", "JW325"}
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
    assert len(region.files) == sum(len(items) for items in docs.values())


def test_all_municipalities_and_sources_toml(region: GeneratedRegion) -> None:
    codes = [m.code for m in default_region()]
    assert len(codes) == 11
    assert {p.parent.name for p in region.files} == set(codes)
    sources = tomllib.loads(region.sources_toml.read_text(encoding="utf-8"))["source"]
    assert sources == [
        {"id": f"ijw-{c}", "adapter": "ijw", "owner": c, "location": f"{c}/*.xml"} for c in codes
    ]
    for source in sources:
        assert list(region.sources_toml.parent.glob(source["location"]))


def test_bsns_pass_the_elfproef_outside_the_test_range(
    docs: dict[str, list[tuple[Path, etree._Element]]],
) -> None:
    bsns = {
        el.text or "" for items in docs.values() for _, doc in items for el in doc.iter("{*}Bsn")
    }
    assert bsns
    for bsn in bsns:
        assert elfproef(bsn), bsn
        assert not TEST_RANGE[0] <= int(bsn) <= TEST_RANGE[1], bsn


def test_assignments_requests_and_claims_refer_to_each_other(
    docs: dict[str, list[tuple[Path, etree._Element]]],
) -> None:
    requests = {
        (p.parent.name, _text(d, "Afzender"), _text(d, "ReferentieAanbieder"))
        for p, d in docs["JW315"]
    }
    assigned: dict[tuple[str, str], tuple[str, str]] = {}  # (gemeente, nummer) -> bsn, agb
    for path, doc in docs["JW301"]:
        key = (path.parent.name, _text(doc, "ToewijzingNummer"))
        assert key not in assigned, f"ToewijzingNummer not unique: {key}"
        agb = _text(doc, "Ontvanger")
        assigned[key] = (_text(doc, "Bsn"), agb)
        assert (path.parent.name, agb, _text(doc, "ReferentieAanbieder")) in requests
        assert _text(doc, "Toewijzingsdatum") <= _text(doc, "Ingangsdatum")
    for kind in ("JW305", "JW307"):
        for path, doc in docs[kind]:
            key = (path.parent.name, _text(doc, "ToewijzingNummer"))
            assert assigned[key] == (_text(doc, "Bsn"), _text(doc, "Afzender"))
            assert _text(doc, "ToewijzingIngangsdatum") <= _text(doc, "Begindatum")
    for path, doc in docs["JW323"]:
        for client in doc.iter("{*}Client"):
            for line in client.iter("{*}Prestatie"):
                key = (path.parent.name, _text(line, "ToewijzingNummer"))
                assert key in assigned, f"{path}: unknown assignment {key}"
                assert assigned[key] == (_text(client, "Bsn"), _text(doc, "Afzender"))


def test_claim_lines_and_answers(docs: dict[str, list[tuple[Path, etree._Element]]]) -> None:
    claims: dict[tuple[str, str, str], str] = {}  # (gemeente, Identificatie, dag) -> agb
    refs: dict[str, set[str]] = defaultdict(set)
    credits = 0
    for path, doc in sorted(docs["JW323"]):
        agb = _text(doc, "Afzender")
        ident = doc.find("{*}Header/{*}BerichtIdentificatie")
        assert ident is not None
        claims[(path.parent.name, _text(ident, "Identificatie"), _text(ident, "Dagtekening"))] = agb
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
        dc = "C" if total < 0 else "D"
        summary = doc.find(".//{*}TotaalIngediendBedrag")
        assert summary is not None
        assert (_text(summary, "TotaalBedrag"), _text(summary, "DebetCredit")) == (
            str(abs(total)),
            dc,
        )
    assert credits > 0
    rejected = 0
    for path, doc in docs["JW325"]:
        ident = doc.find("{*}Header/{*}DeclaratieIdentificatie")
        assert ident is not None
        key = (path.parent.name, _text(ident, "Identificatie"), _text(ident, "Dagtekening"))
        assert claims.get(key) == _text(doc, "Ontvanger"), f"{path} answers no JW323"
        rejected += len(list(doc.iter("{*}Prestatie")))
    lines = sum(len(list(d.iter("{*}Prestatie"))) for _, d in docs["JW323"])
    assert 0 < rejected < lines * 0.1
