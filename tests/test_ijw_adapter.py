"""Unit tests of the iJw 3.2 adapter over the official sample messages and small variants of
them. No database: the adapter only reads files."""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from pathlib import Path
from typing import NamedTuple

import pytest
from lxml import etree

from hub.adapters.base import AdapterContext
from hub.adapters.ijw import IjwAdapter, content_hash
from hub.model import Assignment, ClaimLine, ClaimRejection, FileResult, Retour
from hub.pseudonym import elfproef, pseudonymise

SHARED = Path(__file__).resolve().parents[2] / "shared" / "ijw-3.2"
SAMPLES = SHARED / "samples"
XSD_DIR = SHARED / "xsd"
SAMPLE_REGION = frozenset({"0363", "0384"})  # the samples' municipalities
IJSSELLAND = frozenset(
    {"0148", "0150", "0160", "0166", "1773", "0175", "0177", "0180", "1708", "1896", "0193"}
)
# Personal values in the samples that must never leave the adapter.
PERSONAL = ("999900006", "999900018", "Wit", "Tom", "Woustraat", "9999XX", "abc@def.com")


class Expected(NamedTuple):
    read: int
    accepted: int
    rejected: tuple[str, ...] = ()  # rejection codes, in order
    failed: bool = False


EXPECTED: dict[str, Expected] = {
    # one client with two ToegewezenProducten
    "JW301.xml": Expected(2, 2),
    # retour without Client: one header-only Retour (RetourCode 8848)
    "JW302.xml": Expected(1, 1),
    # two StartProducten, StatusAanlevering 1
    "JW305.xml": Expected(2, 2),
    # header-only retour
    "JW306.xml": Expected(1, 1),
    # two StopProducten, RedenBeeindiging 31
    "JW307.xml": Expected(2, 2),
    # header-only retour without any RetourCodes
    "JW308.xml": Expected(1, 1),
    # known-invalid: ToewijzingEinddatum 2027-06-31 is no xs:date, so the file fails its XSD
    "JW315.xml": Expected(1, 0, ("xsd",), failed=True),
    # retour of two AangevraagdProducten (RetourCodes 9347 and 0200)
    "JW316.xml": Expected(2, 2),
    # one Verzoek (ReferentieAanbieder 9003)
    "JW317.xml": Expected(1, 1),
    # known-invalid: a RetourCode directly under Verzoek, not wrapped in RetourCodes
    "JW318.xml": Expected(1, 0, ("xsd",), failed=True),
    # one Antwoord
    "JW319.xml": Expected(1, 1),
    # retour of one Antwoord (RetourCode 9360)
    "JW320.xml": Expected(1, 1),
    # five Prestaties: RN001..RN004 and RN004 again, which is a duplicate key
    "JW323.xml": Expected(5, 4, ("duplicate-key",)),
    # three rejected Prestaties RN001..RN003 under one DeclaratieAntwoord
    "JW325.xml": Expected(3, 3),
}
INVALID_SAMPLES = {"JW315.xml", "JW318.xml"}


def context(
    region: frozenset[str] = SAMPLE_REGION, xsd_dir: Path | None = XSD_DIR
) -> AdapterContext:
    return AdapterContext(
        source_id="test",
        region=region,
        pseudonymise=lambda bsn: pseudonymise(b"k", bsn),
        xsd_dir=xsd_dir,
    )


def read(path: Path, ctx: AdapterContext | None = None) -> FileResult:
    result = IjwAdapter("samples", {}, None).read(path, ctx or context())
    assert len(result.records) + len(result.rejections) == result.records_read
    text = repr(result)
    for value in PERSONAL:
        assert value not in text, f"{value!r} left the adapter"
    return result


def variant(tmp_path: Path, sample: str, *replacements: tuple[str, str]) -> Path:
    """A sample with text replaced (each replacement must apply), written to tmp_path."""
    text = (SAMPLES / sample).read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / sample
    path.write_text(text, encoding="utf-8")
    return path


def test_every_sample_has_an_expectation() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.xml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_counts(name: str) -> None:
    result = read(SAMPLES / name)
    expected = EXPECTED[name]
    assert result.records_read == expected.read
    assert len(result.records) == expected.accepted
    assert tuple(r.code for r in result.rejections) == expected.rejected
    assert result.failed is expected.failed
    assert result.schema_validated
    for record in result.records:
        provenance = record.provenance
        assert provenance.file_hash == result.file_hash
        assert provenance.position.startswith("/Bericht/")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_samples_outside_the_default_region(name: str) -> None:
    result = read(SAMPLES / name, context(region=IJSSELLAND))
    assert result.records == []
    if name in INVALID_SAMPLES:  # the XSD is checked before the region
        assert [r.code for r in result.rejections] == ["xsd"]
        return
    assert not result.failed
    assert result.records_read == EXPECTED[name].read
    assert {r.code for r in result.rejections} == {"unknown-municipality"}


def test_invalid_samples_say_why() -> None:
    (jw315,) = read(SAMPLES / "JW315.xml").rejections
    assert jw315.field == "ToewijzingEinddatum"
    assert "2027-06-31" in jw315.reason
    assert jw315.reason == "ToewijzingEinddatum: '2027-06-31' is not a valid xs:date"
    assert jw315.position.startswith("line ")
    (jw318,) = read(SAMPLES / "JW318.xml").rejections
    assert jw318.field == "RetourCode"
    assert "not expected" in jw318.reason


def test_records_of_the_samples() -> None:
    first, _ = read(SAMPLES / "JW301.xml").records
    assert isinstance(first, Assignment)
    assert first.toewijzing_nummer == "300201"
    assert (first.youth.birth_year, first.youth.birth_month, first.youth.gender) == (2010, 2, "1")
    assert first.youth.pseudonym == pseudonymise(b"k", "999900006")
    assert (
        first.provenance.position == "/Bericht/Client[1]/ToegewezenProducten/ToegewezenProduct[1]"
    )

    rejections = [r for r in read(SAMPLES / "JW325.xml").records if isinstance(r, ClaimRejection)]
    assert [r.reference for r in rejections] == ["RN001", "RN002", "RN003"]
    answer = rejections[0].answer
    assert (answer.submitted_cents, answer.granted_cents) == (-58000, -34000)  # credit totals
    assert answer.claim_message_id == "765432198"

    retours = [r for r in read(SAMPLES / "JW316.xml").records if isinstance(r, Retour)]
    assert [(r.item, r.item_retourcodes) for r in retours] == [
        ("AangevraagdProduct[1]", ("9347",)),
        ("AangevraagdProduct[2]", ("0200",)),
    ]
    (header_only,) = read(SAMPLES / "JW302.xml").records
    assert isinstance(header_only, Retour)
    assert header_only.item is None
    assert header_only.header_retourcodes == ("8848",)


@pytest.mark.parametrize("key", [b"k", b"k" * 64, b"a longer key than a block of sha256" * 3])
def test_a_pseudonym_is_the_hmac_sha256_of_the_bsn(key: bytes) -> None:
    """Whatever the key's length (one beyond a block is hashed first), and for each key in
    turn: the keyed state is made once per key and copied per BSN."""
    for bsn in ("999900006", "999900018", "111222333"):
        expected = hmac.new(key, bsn.encode("ascii"), hashlib.sha256).hexdigest()
        assert pseudonymise(key, bsn) == expected
    assert pseudonymise(b"other", "999900006") != pseudonymise(key, "999900006")


def test_not_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text('<?xml version="1.0"?>\n<Bericht>\n  <Header>\n</Bericht>\n')
    result = read(path)
    assert result.failed
    assert (result.records_read, result.records) == (1, [])
    (rejection,) = result.rejections
    assert rejection.code == "not-well-formed"
    assert rejection.position == "/"
    assert "line 4" in rejection.reason


def test_unknown_message(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_text('<Bericht xmlns="urn:example"><Header/></Bericht>')
    result = read(path)
    assert result.failed
    assert [r.code for r in result.rejections] == ["unknown-message"]


def test_bsn_failing_the_elfproef(tmp_path: Path) -> None:
    assert not elfproef("123456780")
    path = variant(tmp_path, "JW301.xml", ("<jw301:Bsn>999900006<", "<jw301:Bsn>123456780<"))
    result = read(path)
    assert result.records == []
    assert [(r.code, r.field, r.value) for r in result.rejections] == [
        ("elfproef", "Bsn", None)
    ] * 2
    assert result.rejections[1].position.endswith("/ToegewezenProduct[2]")
    assert "123456780" not in repr(result)


def test_bsn_failing_the_xsd_is_not_quoted(tmp_path: Path) -> None:
    path = variant(tmp_path, "JW301.xml", ("<jw301:Bsn>999900006<", "<jw301:Bsn>12345678<"))
    result = read(path)
    (rejection,) = result.rejections
    assert (rejection.code, rejection.field) == ("xsd", "Bsn")
    assert "12345678" not in repr(result)


def test_status_aanlevering_2_is_quarantined(tmp_path: Path) -> None:
    status = "<jw305:StatusAanlevering>1<"
    path = variant(tmp_path, "JW305.xml", (status, "<jw305:StatusAanlevering>2<"))
    result = read(path)
    assert len(result.records) == 1
    (rejection,) = result.rejections
    assert (rejection.code, rejection.field) == ("status-aanlevering", "StatusAanlevering")
    assert rejection.value == "2"
    assert "CS058" in rejection.reason
    assert rejection.position == "/Bericht/Client[1]/StartProducten/StartProduct[1]"


def test_start_without_toewijzing_nummer(tmp_path: Path) -> None:
    number = "<jw305:ToewijzingNummer>300201</jw305:ToewijzingNummer>"
    path = variant(tmp_path, "JW305.xml", (number, ""))
    result = read(path)
    assert [(r.code, r.field) for r in result.rejections] == [("missing-field", "ToewijzingNummer")]
    assert len(result.records) == 1


def _prestatie(reference: str, amount: int, dc: str, previous: str | None = None) -> str:
    vorig = f"<ijw:VorigReferentieNummer>{previous}</ijw:VorigReferentieNummer>" if previous else ""
    return f"""
      <jw323:Prestatie>
        <jw323:ProductReferentie>
          <ijw:ReferentieNummer>{reference}</ijw:ReferentieNummer>{vorig}
        </jw323:ProductReferentie>
        <jw323:ToewijzingNummer>10072</jw323:ToewijzingNummer>
        <jw323:ProductCategorie>45</jw323:ProductCategorie>
        <jw323:ProductCode>45A03</jw323:ProductCode>
        <jw323:ProductPeriode>
          <ijw:Begindatum>2026-04-01</ijw:Begindatum>
          <ijw:Einddatum>2026-04-30</ijw:Einddatum>
        </jw323:ProductPeriode>
        <jw323:GeleverdVolume>4</jw323:GeleverdVolume>
        <jw323:Eenheid>04</jw323:Eenheid>
        <jw323:ProductTarief>1250</jw323:ProductTarief>
        <jw323:IngediendBedrag>
          <ijw:Bedrag>{amount}</ijw:Bedrag>
          <ijw:DebetCredit>{dc}</ijw:DebetCredit>
        </jw323:IngediendBedrag>
      </jw323:Prestatie>"""


def jw323(tmp_path: Path, *prestaties: str) -> Path:
    path = tmp_path / "claim.xml"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<jw323:Bericht xmlns:ijw="http://www.istandaarden.nl/ijw/3_2/basisschema/schema"
               xmlns:jw323="http://www.istandaarden.nl/ijw/3_2/jw323/schema">
  <jw323:Header>
    <jw323:BerichtCode>490</jw323:BerichtCode>
    <jw323:BerichtVersie>3</jw323:BerichtVersie>
    <jw323:BerichtSubversie>2</jw323:BerichtSubversie>
    <jw323:Afzender>65656055</jw323:Afzender>
    <jw323:Ontvanger>0193</jw323:Ontvanger>
    <jw323:BerichtIdentificatie>
      <ijw:Identificatie>C1</ijw:Identificatie>
      <ijw:Dagtekening>2026-05-06</ijw:Dagtekening>
    </jw323:BerichtIdentificatie>
    <jw323:XsdVersie>
      <ijw:BasisschemaXsdVersie>1.0.0</ijw:BasisschemaXsdVersie>
      <ijw:BerichtXsdVersie>1.0.0</ijw:BerichtXsdVersie>
    </jw323:XsdVersie>
  </jw323:Header>
  <jw323:Declaratie>
    <jw323:DeclaratieNummer>DN9</jw323:DeclaratieNummer>
    <jw323:DeclaratiePeriode>
      <ijw:Begindatum>2026-04-01</ijw:Begindatum>
      <ijw:Einddatum>2026-04-30</ijw:Einddatum>
    </jw323:DeclaratiePeriode>
    <jw323:DeclaratieDagtekening>2026-05-06</jw323:DeclaratieDagtekening>
    <jw323:TotaalIngediendBedrag>
      <ijw:TotaalBedrag>0</ijw:TotaalBedrag>
      <ijw:DebetCredit>D</ijw:DebetCredit>
    </jw323:TotaalIngediendBedrag>
    <jw323:Clienten><jw323:Client>
      <jw323:Bsn>999900006</jw323:Bsn>
      <jw323:Prestaties>{"".join(prestaties)}
      </jw323:Prestaties>
    </jw323:Client></jw323:Clienten>
  </jw323:Declaratie>
</jw323:Bericht>
""")
    return path


def test_duplicate_reference_quarantines_the_second(tmp_path: Path) -> None:
    lines = (_prestatie("R1", 5000, "D"), _prestatie("R2", 5000, "D"), _prestatie("R1", 4000, "D"))
    result = read(jw323(tmp_path, *lines), context(region=IJSSELLAND))
    assert [r.reference for r in result.records if isinstance(r, ClaimLine)] == ["R1", "R2"]
    (rejection,) = result.rejections
    assert (rejection.code, rejection.field) == ("duplicate-key", "ReferentieNummer")
    assert rejection.value == "R1"
    assert rejection.position == "/Bericht/Declaratie/Clienten/Client[1]/Prestaties/Prestatie[3]"
    assert rejection.municipality_code == "0193"


def test_credit_line(tmp_path: Path) -> None:
    path = jw323(tmp_path, _prestatie("R2", 5000, "C", previous="R1"))
    (line,) = read(path, context(region=IJSSELLAND)).records
    assert isinstance(line, ClaimLine)
    assert (line.amount_cents, line.debit_credit, line.previous_reference) == (5000, "C", "R1")
    assert (line.rate_cents, line.volume, line.claim_number) == (1250, 4, "DN9")
    assert line.youth.birth_year is None  # a JW323 client has no Geboortedatum


def test_same_content_different_bytes_same_hash(tmp_path: Path) -> None:
    original = SAMPLES / "JW301.xml"
    text = original.read_text(encoding="utf-8")
    # default namespace instead of the jw301 prefix, other indentation, CRLF, other encoding
    rewritten = (
        text.replace("xmlns:jw301=", "xmlns=")
        .replace("jw301:", "")
        .replace("\t", "   ")
        .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        .replace("\n", "\r\n")
    )
    copy = tmp_path / "copy.xml"
    copy.write_bytes(rewritten.encode("latin-1"))
    assert copy.read_bytes() != original.read_bytes()
    first, second = read(original), read(copy)
    assert first.file_hash == second.file_hash
    assert [r.provenance.file_hash for r in second.records] == [first.file_hash] * 2
    assert first.records == second.records

    changed = variant(tmp_path, "JW301.xml", ("2026-07-14", "2026-07-15"))
    assert read(changed).file_hash != first.file_hash


def test_a_message_larger_than_one_read_is_read_whole(tmp_path: Path) -> None:
    """A file is read in pieces of 64 KiB: a file of several pieces reads as the same message."""
    original = SAMPLES / "JW323.xml"
    text = original.read_text(encoding="utf-8")
    padded = tmp_path / "padded.xml"
    padded.write_text(text.replace("\n", "\n" + " " * 4000), encoding="utf-8")
    assert padded.stat().st_size > 3 * 2**16
    first, second = read(original), read(padded)
    assert (second.file_hash, second.records) == (first.file_hash, first.records)
    assert len(second.records) == 4


def test_unknown_municipality(tmp_path: Path) -> None:
    result = read(SAMPLES / "JW301.xml", context(region=frozenset({"0363"})))
    assert not result.failed
    assert (result.records_read, result.records) == (2, [])
    assert result.municipality_code == "0384"
    for rejection in result.rejections:
        assert rejection.code == "unknown-municipality"
        assert (rejection.field, rejection.value) == ("Afzender", "0384")
        assert rejection.municipality_code == "0384"
        assert "municipality 0384 is not in the region" in rejection.reason
    receiver = read(SAMPLES / "JW323.xml", context(region=frozenset({"0363"})))
    assert {r.field for r in receiver.rejections} == {"Ontvanger"}


def test_header_only_claim_answer(tmp_path: Path) -> None:
    text = (SAMPLES / "JW325.xml").read_text(encoding="utf-8")
    start, end = text.index("<jw325:DeclaratieAntwoord>"), text.index("</jw325:Bericht>")
    path = tmp_path / "answer.xml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    (record,) = read(path).records
    assert isinstance(record, ClaimRejection)
    assert record.reference is None
    assert record.retourcodes == ("0200",)
    assert record.provenance.position == "/Bericht/Header"


def test_without_xsd_the_adapter_still_checks(tmp_path: Path) -> None:
    result = read(SAMPLES / "JW315.xml", context(xsd_dir=None))
    assert not result.schema_validated
    assert not result.failed
    assert result.records_read == 2
    assert [(r.code, r.field, r.value) for r in result.rejections] == [
        ("invalid-value", "ToewijzingEinddatum", "2027-06-31")
    ] * 2
    assert len(read(SAMPLES / "JW301.xml", context(xsd_dir=None)).records) == 2


def test_doctype_and_entities_are_refused(tmp_path: Path) -> None:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    doctype = '<!DOCTYPE Bericht [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    path = variant(
        tmp_path,
        "JW301.xml",
        (declaration, declaration + doctype),
        (">40A12341234<", ">&x;<"),
    )
    for xsd_dir in (XSD_DIR, None):
        result = read(path, context(xsd_dir=xsd_dir))
        assert result.failed
        assert [r.code for r in result.rejections] == ["doctype"]


def test_content_hash_is_json_of_every_element_in_document_order() -> None:
    """The file hash behind re-ingestion: each element as json.dumps([tag, sorted attributes,
    stripped text]), then its children, then `)`; comments and layout do not count."""
    xml = '<a xmlns="urn:x" z="1" b="2"> é "q" \\ <!-- note --><b>\n  één\t</b><c k="v&amp;w"/></a>'
    root = etree.fromstring(xml.encode())
    b, c = root.iterchildren(etree.Element)  # the comment is not an element
    reference = hashlib.sha256()
    for el, closing in [(root, False), (b, False), (b, True), (c, False), (c, True), (root, True)]:
        if closing:
            reference.update(b")")
        else:
            text = (el.text or "").strip()
            reference.update(json.dumps([el.tag, sorted(el.attrib.items()), text]).encode())
    assert content_hash(root) == reference.hexdigest()
    relaid = etree.fromstring(etree.tostring(root).replace(b"><", b">\n  <"))
    assert content_hash(relaid) == content_hash(root)


def test_a_file_of_invented_tags_leaves_the_tag_caches_bounded() -> None:
    """The hash and field index cache per tag, and a file is hashed before its XSD: a pushed
    file with thousands of made-up tags neither grows the caches past their bound nor hashes
    differently from one read after they are full."""
    from hub.adapters import ijw  # noqa: PLC0415

    tags = [f"t{i}" for i in range(3 * ijw._TAGS_KEPT)]
    xml = "<a xmlns='urn:invented'>" + "".join(f"<{t}>x</{t}>" for t in tags) + "</a>"
    first = ijw._walk_python(etree.fromstring(xml.encode()), ())  # the walk with the caches
    assert len(ijw._HASH_HEADS) <= ijw._TAGS_KEPT
    assert len(ijw._LOCAL_NAMES) <= ijw._TAGS_KEPT
    assert ijw._walk_python(etree.fromstring(xml.encode()), ()) == first


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_read_travels_between_processes_unchanged(name: str) -> None:
    """Files are read in worker processes: what an adapter made of a file, records and
    rejections included, comes back from pickling equal and of the same classes."""
    result = read(SAMPLES / name, context(IJSSELLAND | SAMPLE_REGION))
    copy = pickle.loads(pickle.dumps(result))  # noqa: S301 (its own bytes)
    assert copy == result
    assert [type(r) for r in copy.records] == [type(r) for r in result.records]
    assert copy.records_read == len(copy.records) + len(copy.rejections) > 0
