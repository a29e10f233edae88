"""One contract suite run over every adapter, then the CSV family's own cases: column maps,
delimiters, encodings, decimal comma, date formats, and every malformed variant.

The contract (hub/adapters/base.py): reading never raises for bad content, accepted +
quarantined = read for every input, a file that fails as a whole loads nothing and says
why, the same input reads the same, and no BSN ever appears in a rejection."""

from __future__ import annotations

import dataclasses
import inspect
import json
import pickle
from dataclasses import FrozenInstanceError, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from hub import model
from hub.adapters.base import AdapterContext
from hub.config import ConfigError
from hub.ingest import ADAPTERS, make_adapter
from hub.model import (
    Assignment,
    Budget,
    CarePeriod,
    ClaimLine,
    FileResult,
    Measure,
    Population,
    ProviderContract,
    ProviderSignal,
    Referral,
)
from hub.pseudonym import pseudonymise
from hub.store.load import SourceInfo

from .conftest import SAMPLES, XSD_DIR

REGION = frozenset({"0193", "0150", "0363", "0384"})
BSN = ("999900006", "999900018", "999900031", "999900043")  # test range: exempt elfproef


@dataclass(frozen=True)
class Case:
    """A good input of one adapter, as the contract suite feeds it."""

    adapter: str
    options: dict[str, Any]
    name: str
    data: bytes
    records: int
    owner: str | None = None
    kinds: tuple[type, ...] = field(default=())


ASSIGNMENTS_CSV = (
    "Gemeente;BSN client;Geboortedatum;Geslacht;AGB aanbieder;Beschikkingsnummer;"
    "Productcode;Toewijzingsdatum;Ingangsdatum;Einddatum;Budget\n"
    f"0193;{BSN[0]};12-05-2012;M;12345678;B-1;45A01;01-02-2024;05-02-2024;31-07-2024;1.234,50\n"
    f"0193;{BSN[1]};3-9-2015;V;12345678;B-2;35A01;1-3-2024;4-3-2024;;\n"
)
ASSIGNMENT_OPTIONS: dict[str, Any] = {
    "kind": "assignment",
    "delimiter": ";",
    "date_format": "%d-%m-%Y",
    "decimal": ",",
    "money": "euros",
    "columns": {
        "municipality": "Gemeente",
        "bsn": "BSN client",
        "birth_date": "Geboortedatum",
        "gender": "Geslacht",
        "provider_agb": "AGB aanbieder",
        "assignment_number": "Beschikkingsnummer",
        "product_code": "Productcode",
        "assigned_on": "Toewijzingsdatum",
        "start": "Ingangsdatum",
        "end": "Einddatum",
        "budget": "Budget",
    },
    "values": {"gender": {"M": "1", "V": "2", "O": "0"}},
}

CASES = [
    Case("ijw", {}, "JW301.xml", (SAMPLES / "JW301.xml").read_bytes(), 2, kinds=(Assignment,)),
    Case(
        "csv",
        ASSIGNMENT_OPTIONS,
        "beschikkingen.csv",
        ASSIGNMENTS_CSV.encode(),
        2,
        "0193",
        (Assignment,),
    ),
    Case(
        "csv",
        {"kind": "referral", "encoding": "windows-1252"},
        "referrals.csv",
        (
            "municipality,bsn,provider_agb,provider_reference,referrer_type,referrer_name,"
            "product_code,requested_start\n"
            f"0193,{BSN[0]},12345678,R-1,02,Huisartsenpraktijk Zoë,45A01,2024-01-10\n"
        ).encode("cp1252"),
        1,
        kinds=(Referral,),
    ),
    Case(
        "csv",
        {"kind": "care_period", "delimiter": "\t"},
        "periods.tsv",
        (
            "\ufeffmunicipality\tbsn\tprovider_agb\tassignment_number\tproduct_code\tstart\tend"
            "\tend_reason\n"
            f"0193\t{BSN[0]}\t12345678\tB-1\t45A01\t2024-02-05\t2024-07-20\t31\n"
            f"0193\t{BSN[1]}\t12345678\tB-2\t35A01\t2024-03-04\t\t\n"
        ).encode(),
        2,
        kinds=(CarePeriod,),
    ),
    Case(
        "claims-csv",
        {"money": "cents"},
        "claims.csv",
        (
            "municipality,bsn,provider_agb,reference,previous_reference,assignment_number,"
            "product_code,period_start,period_end,volume,unit,amount,debit_credit,claim_number,"
            "claim_date,status,retourcodes\n"
            f"0193,{BSN[0]},12345678,L1,,B-1,45A01,2024-02-01,2024-02-29,4,04,32800,D,C1,"
            "2024-03-05,GRANTED,\n"
            f"0193,{BSN[0]},12345678,L2,L1,B-1,45A01,2024-02-01,2024-02-29,4,04,32800,C,C2,"
            "2024-04-05,SUBMITTED,\n"
            f"0193,{BSN[1]},12345678,L3,,B-2,35A01,2024-03-04,2024-03-31,28,14,165200,D,C1,"
            "2024-03-05,REJECTED,0611\n"
        ).encode(),
        3,
        "12345678",
        (ClaimLine,),
    ),
    Case(
        "gi",
        {"columns": {"provider_agb": "gi", "measure_type": "maatregel"}},
        "measures.csv",
        (
            "municipality,bsn,birth_date,gi,measure_id,maatregel,start,end,end_reason\n"
            f"0193,{BSN[2]},2010-04-01,87654321,M-1,OTS,2023-06-01,2024-05-31,31\n"
            f"0150,{BSN[3]},2007-11-01,87654321,M-2,jeugdreclassering,2024-01-15,,\n"
        ).encode(),
        2,
        "87654321",
        (Measure,),
    ),
    Case(
        "reference",
        {"kind": "provider"},
        "providers.csv",
        (
            b"provider_agb,name,lot,start,end\n"
            b"12345678,Jeugdhulp De Brug,AMBULANT,2021-01-01,\n"
            b"12345678,Jeugdhulp De Brug,RESIDENTIAL,2021-01-01,2024-12-31\n"
        ),
        2,
        "region",
        (ProviderContract,),
    ),
    Case(
        "reference",
        {"kind": "budget", "money": "euros", "decimal": ","},
        "budgets.csv",
        b'municipality,year,lot,amount\nGM0193,2024,AMBULANT,"12.500.000,00"\n',
        1,
        "region",
        (Budget,),
    ),
    Case(
        "reference",
        {"kind": "population"},
        "population.csv",
        b"municipality,year,youth_0_17\n0193,2024,27650\n0150,2024,20400\n",
        2,
        "region",
        (Population,),
    ),
    Case(
        "reference",
        {"kind": "signal"},
        "signals.csv",
        (
            b"provider_agb,dated,early_warning,escalation,waiting_list,waiting_days\n"
            b"12345678,2024-03-31,orange,monitoring,14,45\n"
        ),
        1,
        "region",
        (ProviderSignal,),
    ),
]
if "json-api" in ADAPTERS:
    CASES.append(
        Case(
            "json-api",
            {
                "kind": "assignment",
                "columns": {
                    "municipality": "gemeente",
                    "bsn": "client.bsn",
                    "provider_agb": "aanbieder.agb",
                    "assignment_number": "nummer",
                    "product_code": "product.code",
                    "assigned_on": "besluitdatum",
                    "start": "ingangsdatum",
                    "end": "einddatum",
                },
            },
            "page.json",
            json.dumps(
                {
                    "items": [
                        {
                            "gemeente": "0193",
                            "client": {"bsn": BSN[0]},
                            "aanbieder": {"agb": "12345678"},
                            "nummer": "A-9",
                            "product": {"code": "45A01"},
                            "besluitdatum": "2024-01-02",
                            "ingangsdatum": "2024-01-08",
                            "einddatum": None,
                            "lastModified": "2024-01-02T10:00:00",
                        }
                    ],
                    "next": None,
                    "cursor": "2024-01-02T10:00:00",
                }
            ).encode(),
            1,
            "0193",
            (Assignment,),
        )
    )
IDS = [f"{c.adapter}-{c.name}" for c in CASES]


def context(case: Case) -> AdapterContext:
    return AdapterContext(
        source_id="contract",
        region=REGION | {"0363", "0384"},
        pseudonymise=lambda bsn: pseudonymise(b"k", bsn),
        xsd_dir=XSD_DIR,
        owner=case.owner,
    )


def read(case: Case, tmp_path: Path, data: bytes | None = None) -> FileResult:
    path = tmp_path / case.name
    path.write_bytes(case.data if data is None else data)
    adapter = make_adapter(SourceInfo("contract", case.adapter, case.owner, None, case.options))
    result = adapter.read(path, context(case))
    assert len(result.records) + len(result.rejections) == result.records_read, result
    for r in result.rejections:
        assert r.source_id == "contract"
        assert r.file_name == case.name
        assert r.reason
        assert r.code
        assert r.position
        for bsn in BSN:  # no BSN in any rejection
            assert bsn not in f"{r.reason} {r.value} {r.field}"
    if result.failed:
        assert result.records == []
        assert len(result.rejections) == 1
        assert result.rejections[0].position == "/"
    return result


def test_every_adapter_has_a_contract_case() -> None:
    assert {c.adapter for c in CASES} == set(ADAPTERS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_good_input_reads_every_record(case: Case, tmp_path: Path) -> None:
    result = read(case, tmp_path)
    assert not result.failed
    assert result.rejections == []
    assert result.records_read == len(result.records) == case.records
    assert all(isinstance(r, case.kinds) for r in result.records)
    again = read(case, tmp_path)
    assert again.records == result.records
    assert again.file_hash == result.file_hash


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_read_travels_between_processes_unchanged(case: Case, tmp_path: Path) -> None:
    """Files are read in worker processes: every kind of record comes back from pickling
    equal and of the same classes (its youth, provenance and dates travel flattened)."""
    result = read(case, tmp_path)
    copy = pickle.loads(pickle.dumps(result, pickle.HIGHEST_PROTOCOL))  # noqa: S301 (its own)
    assert copy == result
    assert [type(r) for r in copy.records] == [type(r) for r in result.records]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_records_are_made_from_their_fields_and_stay_frozen(case: Case, tmp_path: Path) -> None:
    """The model's frozen classes set their slots in an `__init__` of their own (see
    hub/model.py): they take their fields as the dataclass did, and refuse changes."""
    for record in read(case, tmp_path).records:
        values = {f.name: getattr(record, f.name) for f in fields(record)}
        assert type(record)(*values.values()) == record == type(record)(**values)
        assert dataclasses.replace(record) == record
        with pytest.raises(FrozenInstanceError):
            setattr(record, fields(record)[0].name, None)


def test_the_model_classes_take_the_parameters_of_their_dataclass() -> None:
    classes = [c for c in vars(model).values() if isinstance(c, type) and is_dataclass(c)]
    assert len(classes) > 20
    for cls in classes:
        if cls.__module__ == model.__name__ and cls.__dataclass_params__.frozen:
            expected = [
                (f.name, inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
                for f in fields(cls)
            ]
            parameters = inspect.signature(cls).parameters.values()
            assert [(p.name, p.default) for p in parameters] == expected, cls.__name__


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda d: d[: len(d) * 2 // 3], id="truncated"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: b"\xff\xfe\x00\x81garbage\x9d" + d[5:], id="wrong-encoding"),
        pytest.param(lambda d: b"<<<not,valid;at\tall>>>\n" * 3, id="garbage"),
    ],
)
def test_malformed_input_never_raises_and_loses_nothing(
    case: Case, mangle: Any, tmp_path: Path
) -> None:
    result = read(case, tmp_path, mangle(case.data))
    assert result.failed or result.rejections or len(result.records) < case.records


@pytest.mark.parametrize("case", [c for c in CASES if c.adapter != "ijw"], ids=lambda c: c.name)
def test_unknown_option_is_a_config_error_naming_the_source(case: Case) -> None:
    with pytest.raises(ConfigError, match=r"source 'contract'.*no_such_option"):
        make_adapter(
            SourceInfo(
                "contract", case.adapter, case.owner, None, {**case.options, "no_such_option": 1}
            )
        )


# The CSV family ------------------------------------------------------------------------


def csv_case(text: str, options: dict[str, Any] | None = None, **kw: Any) -> Case:
    encoding = kw.pop("encoding", "utf-8")
    return Case(
        kw.pop("adapter", "csv"),
        {**ASSIGNMENT_OPTIONS, **(options or {})},
        "export.csv",
        text.encode(encoding),
        0,
        kw.pop("owner", "0193"),
    )


def test_column_map_decimal_comma_and_dates_without_leading_zeros(tmp_path: Path) -> None:
    a, b = read(CASES[1], tmp_path).records
    assert isinstance(a, Assignment)
    assert isinstance(b, Assignment)
    assert a.budget_cents == 123_450
    assert a.youth.gender == "1"
    assert a.youth.birth_year == 2012
    assert (a.product_category, a.start.isoformat(), a.end) == ("45", "2024-02-05", a.end)
    assert b.assigned_on.isoformat() == "2024-03-01"
    assert b.end is None
    assert b.budget_cents is None
    assert b.youth.gender == "2"
    assert (b.youth.birth_year, b.youth.birth_month) == (2015, 9)
    assert a.message.dated.isoformat() == "2024-02-01"  # its latest date: the decision


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "windows-1252"])
def test_encodings(encoding: str, tmp_path: Path) -> None:
    text = ASSIGNMENTS_CSV.replace("B-1", "B-ë")
    case = csv_case(text, {"encoding": encoding}, encoding=encoding.replace("windows-", "cp"))
    records = read(case, tmp_path).records
    assert [r.toewijzing_nummer for r in records] == ["B-ë", "B-2"]  # type: ignore[union-attr]


def test_bytes_undefined_in_windows_1252_fail_the_file(tmp_path: Path) -> None:
    case = csv_case(ASSIGNMENTS_CSV + "0193;\x81\n", {"encoding": "windows-1252"},
                    encoding="latin-1")  # fmt: skip
    result = read(case, tmp_path)
    assert result.failed
    assert result.rejections[0].code == "encoding"


def test_wrong_encoding_fails_the_file_with_a_clear_message(tmp_path: Path) -> None:
    case = csv_case(ASSIGNMENTS_CSV.replace("B-1", "B-ë"), encoding="cp1252")
    result = read(case, tmp_path)
    assert result.failed
    (rejection,) = result.rejections
    assert rejection.code == "encoding"
    assert "encoding option" in rejection.reason


def test_missing_column_fails_the_file_naming_it(tmp_path: Path) -> None:
    case = csv_case(ASSIGNMENTS_CSV.replace("Beschikkingsnummer", "Nummer"))
    result = read(case, tmp_path)
    assert result.failed
    assert result.records_read == 1
    (rejection,) = result.rejections
    assert rejection.code == "missing-columns"
    assert rejection.field == "Beschikkingsnummer"
    assert "Beschikkingsnummer" in rejection.reason


def test_wrong_delimiter_is_missing_columns(tmp_path: Path) -> None:
    result = read(csv_case(ASSIGNMENTS_CSV.replace(";", ",")), tmp_path)
    assert result.failed
    assert result.rejections[0].code == "missing-columns"
    assert "delimiter ';'" in result.rejections[0].reason


def test_bad_rows_are_quarantined_with_line_and_field_the_rest_loads(tmp_path: Path) -> None:
    lines = ASSIGNMENTS_CSV.splitlines()
    bad = [
        lines[1].replace(BSN[0], "123456789"),  # elfproef
        lines[1].replace("01-02-2024", "2024-02-01").replace("B-1", "B-3"),  # date format
        lines[1].replace("12345678", "1234").replace("B-1", "B-4"),  # AGB
        lines[1].replace("0193;", "0999;").replace("B-1", "B-5"),  # outside the region
        lines[1].replace("0193;", "0150;").replace("B-1", "B-6"),  # not the owner's
        lines[1].replace("31-07-2024", "31-01-2024").replace("B-1", "B-7"),  # end < start
        lines[1].replace("1.234,50", "12,345").replace("B-1", "B-8"),  # fraction of a cent
        lines[1].replace(";M;", ";X;").replace("B-1", "B-9"),  # gender not mapped
        lines[1].replace(";B-1;", ";;"),  # required value missing
        lines[2],  # B-2 again: duplicate key
        "0193;" + BSN[3],  # a truncated row
    ]
    text = "\n".join([*lines, *bad]) + "\n"
    result = read(csv_case(text), tmp_path)
    assert len(result.records) == 2
    assert result.records_read == 13
    got = [(r.position, r.code, r.field) for r in result.rejections]
    assert got == [
        ("line 4", "elfproef", "BSN client"),
        ("line 5", "invalid-value", "Toewijzingsdatum"),
        ("line 6", "invalid-value", "AGB aanbieder"),
        ("line 7", "unknown-municipality", "Gemeente"),
        ("line 8", "not-owner", "Gemeente"),
        ("line 9", "invalid-value", "Einddatum"),
        ("line 10", "invalid-value", "Budget"),
        ("line 11", "invalid-value", "Geslacht"),
        ("line 12", "missing-field", "Beschikkingsnummer"),
        ("line 13", "duplicate-key", "Beschikkingsnummer"),
        ("line 14", "malformed-row", None),
    ]
    assert result.rejections[3].municipality_code is None  # outside the region: admins only
    assert result.rejections[0].value is None  # never the BSN


def test_options_are_checked_when_the_sources_file_is_read() -> None:
    def make(options: dict[str, Any], adapter: str = "csv") -> None:
        make_adapter(SourceInfo("s1", adapter, "0193", None, options))

    with pytest.raises(ConfigError, match="kind must be one of referral"):
        make({"kind": "budget"})
    with pytest.raises(ConfigError, match="'bsnr' is no field of kind assignment"):
        make({"kind": "assignment", "columns": {"bsnr": "BSN"}})
    with pytest.raises(ConfigError, match="encoding must be one of"):
        make({"kind": "assignment", "encoding": "latin-7"})
    with pytest.raises(ConfigError, match="decimal"):
        make({"kind": "assignment", "decimal": ";"})
    with pytest.raises(ConfigError, match="takes no options"):
        make({"kind": "assignment"}, "ijw")
