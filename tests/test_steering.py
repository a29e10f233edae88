"""Steering queries on a small hand-made region: budgets, continuity risks, long-running and
switching youth. Figures are computed by hand for the region; every role's view is the
isolation test of each query path (threshold 5, so some figures of 0193 pass it).

The data (2024; the data date is 2024-12-31 for the region, 0193 and 0150):

| youth | municipality | provider: care (product category) |
|---|---|---|
| Y1-Y6 | 0193 | P1 ambulant (45), Y3 also P4 crisis (46) in October |
| Y7 | 0193 | P3 ambulant since 2023-02, P1 ambulant Feb-Mar, P2 residential (35) Apr-Aug |
| Y8 | 0193 | P2 residential 2021-06 - 2023-05, then P1 ambulant |
| Z1 | 0150 | P1 ambulant May-Dec |
| Z2 | 0150 | P2 residential (36) since January |
| Z3 | 0150 | P3 ambulant since 2022-11 |

Y7 switches (three providers in 2024); Y8 and Z3 are in long-running care.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.config import default_region
from hub.ingest import ingest
from hub.store.load import SourceInfo

from .conftest import Api, settings_for, token

TWO = [m for m in default_region() if m.code in ("0193", "0150")]
P1, P2, P3, P4, P5 = "11111111", "22222222", "33333333", "44444444", "55555555"
BSN = {f"Y{i}": f"9999001{i:02d}" for i in range(1, 9)} | {
    f"Z{i}": f"9999002{i:02d}" for i in range(1, 4)
}
BIRTH = {"Y7": "2010-01-20", "Y8": "2008-03-15", "Z3": "2009-07-01"}
MUNI = {y: ("0193" if y.startswith("Y") else "0150") for y in BSN}

PROVIDERS = f"""provider_agb,name,lot,start,end
{P1},Ambulant Plus,AMBULANT,2020-01-01,
{P2},Woonhuis,RESIDENTIAL,2020-01-01,
{P3},Klein Zorg,AMBULANT,2020-01-01,2024-12-31
{P4},Crisisdienst,CRISIS,2020-01-01,
{P5},Slapend,AMBULANT,2020-01-01,
"""
BUDGETS = """municipality,year,lot,amount
0193,2024,AMBULANT,1200000000
0193,2024,RESIDENTIAL,1000000000
0193,2024,HSWV,50000000
0150,2024,AMBULANT,300000000
0150,2024,RESIDENTIAL,800000000
0193,2023,AMBULANT,1100000000
"""
SIGNALS = f"""provider_agb,dated,early_warning,escalation,waiting_list,waiting_days
{P1},2024-11-30,GREEN,NONE,,
{P2},2024-10-31,YELLOW,MONITORING,12,40
{P3},2024-06-30,ORANGE,MONITORING,,
{P3},2024-11-30,RED,ESCALATED,30,95
"""
# youth, provider, number, product, assigned on, start, end, budget (cents)
ASSIGNMENTS = [
    ("Y1", P1, "A1", "45A01", "2024-01-02", "2024-01-08", "2024-06-30", "100000"),
    ("Y2", P1, "A2", "45A01", "2024-02-01", "2024-02-12", "2024-12-31", "200000"),
    ("Y3", P1, "A3", "45A01", "2024-03-01", "2024-03-11", "2024-09-30", "150000"),
    ("Y4", P1, "A4", "45A01", "2024-07-01", "2024-07-31", "2025-06-30", "300000"),
    ("Y5", P1, "A5", "45A01", "2024-08-01", "2024-09-10", "", ""),
    ("Y6", P1, "A6", "45A01", "2023-11-01", "2023-11-15", "2024-04-30", "100000"),
    ("Y7", P1, "A7", "45A01", "2024-01-15", "2024-02-01", "2024-03-31", "50000"),
    ("Y7", P2, "A8", "35A01", "2024-04-01", "2024-04-01", "2024-08-31", "600000"),
    ("Y7", P3, "A9", "45A01", "2023-01-10", "2023-02-01", "", ""),
    ("Y8", P2, "A10", "35A01", "2021-05-20", "2021-06-01", "2023-05-31", ""),
    ("Y8", P1, "A11", "45A01", "2023-05-15", "2023-06-01", "", "400000"),
    ("Y3", P4, "A12", "46A01", "2024-10-01", "2024-10-01", "2024-10-14", ""),
    ("Z1", P1, "C1", "45A01", "2024-05-01", "2024-05-06", "2024-12-31", "80000"),
    ("Z2", P2, "C2", "36A01", "2023-12-01", "2024-01-02", "", ""),
    ("Z3", P3, "C3", "45A01", "2022-10-01", "2022-11-01", "", ""),
]
# youth, provider, assignment, product, start, end, reason
CARE_PERIODS = [
    ("Y1", P1, "A1", "45A01", "2024-01-08", "2024-06-30", "31"),
    ("Y2", P1, "A2", "45A01", "2024-02-12", "2024-12-31", "31"),
    ("Y3", P1, "A3", "45A01", "2024-03-11", "2024-09-30", "31"),
    ("Y4", P1, "A4", "45A01", "2024-07-31", "", ""),
    ("Y5", P1, "A5", "45A01", "2024-09-10", "", ""),
    ("Y6", P1, "A6", "45A01", "2023-11-15", "2024-04-30", "35"),
    ("Y7", P1, "A7", "45A01", "2024-02-01", "2024-03-31", "38"),
    ("Y7", P2, "A8", "35A01", "2024-04-01", "2024-08-31", "38"),
    ("Y7", P3, "A9", "45A01", "2023-02-01", "", ""),
    ("Y8", P2, "A10", "35A01", "2021-06-01", "2023-05-31", "31"),
    ("Y8", P1, "A11", "45A01", "2023-06-01", "", ""),
    ("Y3", P4, "A12", "46A01", "2024-10-01", "2024-10-14", "31"),
    ("Z1", P1, "C1", "45A01", "2024-05-06", "2024-12-31", "31"),
    ("Z2", P2, "C2", "36A01", "2024-01-02", "", ""),
    ("Z3", P3, "C3", "45A01", "2022-11-01", "", ""),
]
# youth, provider, reference, previous, assignment, product, period, amount (cents), D/C,
# claim number, claim date, status, retourcodes. Delay = claim date - period end.
CLAIMS = [
    ("Y1", P1, "L101", "", "A1", "45A01", "2024-01-08", "2024-03-31", 60000, "D", "C101",
     "2024-04-10", "GRANTED", ""),  # delay 10
    ("Y1", P1, "L102", "", "A1", "45A01", "2024-04-01", "2024-06-30", 30000, "D", "C102",
     "2024-07-15", "GRANTED", ""),  # 15
    ("Y2", P1, "L103", "", "A2", "45A01", "2024-02-12", "2024-06-30", 120000, "D", "C102",
     "2024-07-15", "GRANTED", ""),  # 15
    ("Y2", P1, "L104", "", "A2", "45A01", "2024-07-01", "2024-11-30", 100000, "D", "C104",
     "2024-12-10", "REJECTED", "0611"),  # 10
    ("Y3", P1, "L105", "", "A3", "45A01", "2024-03-11", "2024-09-30", 140000, "D", "C105",
     "2024-10-20", "GRANTED", ""),  # 20
    ("Y4", P1, "L106", "", "A4", "45A01", "2024-07-31", "2024-10-31", 90000, "D", "C106",
     "2024-11-25", "GRANTED", ""),  # 25
    ("Y5", P1, "L107", "", "A5", "45A01", "2024-09-10", "2024-11-30", 50000, "D", "C107",
     "2024-12-05", "SUBMITTED", ""),  # 5
    ("Y6", P1, "L108", "", "A6", "45A01", "2023-11-15", "2023-12-31", 30000, "D", "C108",
     "2024-01-10", "GRANTED", ""),  # 10
    ("Y6", P1, "L109", "", "A6", "45A01", "2024-01-01", "2024-04-30", 70000, "D", "C109",
     "2024-05-20", "REJECTED", "0611"),  # 20
    ("Y7", P1, "L110", "", "A7", "45A01", "2024-02-01", "2024-03-31", 45000, "D", "C101",
     "2024-04-10", "GRANTED", ""),  # 10, credited by L111
    ("Y7", P1, "L111", "L110", "A7", "45A01", "2024-02-01", "2024-03-31", 45000, "C", "C112",
     "2024-05-10", "GRANTED", ""),
    ("Y7", P1, "L112", "", "A7", "45A01", "2024-02-01", "2024-03-31", 40000, "D", "C112",
     "2024-05-10", "GRANTED", ""),  # 40
    ("Y8", P1, "L113", "", "A11", "45A01", "2024-01-01", "2024-11-30", 440000, "D", "C113",
     "2024-12-15", "GRANTED", ""),  # 15
    ("Z1", P1, "L114", "", "C1", "45A01", "2024-05-06", "2024-10-31", 70000, "D", "C114",
     "2024-11-15", "GRANTED", ""),  # 15
    ("Y7", P2, "L201", "", "A8", "35A01", "2024-04-01", "2024-08-31", 500000, "D", "C201",
     "2024-09-30", "GRANTED", ""),  # 30
    ("Z2", P2, "L202", "", "C2", "36A01", "2024-01-02", "2024-06-30", 600000, "D", "C202",
     "2024-09-15", "GRANTED", ""),  # 77
    ("Z2", P2, "L203", "", "C2", "36A01", "2024-07-01", "2024-10-31", 500000, "D", "C203",
     "2024-11-28", "REJECTED", "0611"),  # 28
    ("Y8", P2, "L204", "", "A10", "35A01", "2023-01-01", "2023-05-31", 300000, "D", "C204",
     "2023-06-30", "GRANTED", ""),
    ("Y7", P3, "L301", "", "A9", "45A01", "2024-01-01", "2024-06-30", 60000, "D", "C301",
     "2024-09-30", "GRANTED", ""),  # 92
    ("Y7", P3, "L302", "", "A9", "45A01", "2024-07-01", "2024-09-30", 30000, "D", "C302",
     "2024-12-30", "REJECTED", "0611"),  # 91
    ("Z3", P3, "L303", "", "C3", "45A01", "2024-01-01", "2024-06-30", 60000, "D", "C303",
     "2024-09-30", "GRANTED", ""),  # 92
]  # fmt: skip


def _csv(header: str, rows: list[tuple[Any, ...]]) -> str:
    return header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows)


FILES = [
    ("reference", {"kind": "provider"}, "providers.csv", PROVIDERS),
    ("reference", {"kind": "budget"}, "budgets.csv", BUDGETS),
    ("reference", {"kind": "signal"}, "signals.csv", SIGNALS),
    (
        "csv",
        {"kind": "assignment"},
        "assignments.csv",
        _csv(
            "municipality,bsn,birth_date,provider_agb,assignment_number,product_code,"
            "assigned_on,start,end,budget",
            [(MUNI[y], BSN[y], BIRTH.get(y, "2012-06-01"), *rest) for y, *rest in ASSIGNMENTS],
        ),
    ),
    (
        "csv",
        {"kind": "care_period"},
        "periods.csv",
        _csv(
            "municipality,bsn,provider_agb,assignment_number,product_code,start,end,end_reason",
            [(MUNI[y], BSN[y], *rest) for y, *rest in CARE_PERIODS],
        ),
    ),
    (
        "claims-csv",
        {},
        "claims.csv",
        _csv(
            "municipality,bsn,provider_agb,reference,previous_reference,assignment_number,"
            "product_code,period_start,period_end,amount,debit_credit,claim_number,claim_date,"
            "status,retourcodes,volume,unit",
            [(MUNI[y], BSN[y], *rest, 1, "14") for y, *rest in CLAIMS],
        ),
    ),
]


@pytest.fixture(scope="module")
async def api(make_database, open_db, tmp_path_factory) -> Api:
    folder: Path = tmp_path_factory.mktemp("steering")
    urls = await make_database(TWO)
    db = await open_db(urls)
    settings = settings_for(TWO, folder)
    for adapter, options, name, text in FILES:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        source = SourceInfo(f"{adapter}-{name}", adapter, "region", None, options)
        (run,) = await ingest(db, settings, source, [path])
        assert run.status == "loaded", run
        assert run.records_quarantined == 0, run
    return Api(db, [m.code for m in TWO], threshold=5)


ROLES = {
    "region": token("region"),
    "0193": token("municipality", "0193"),
    "0150": token("municipality", "0150"),
    "P1": token("provider", provider=P1),
    "P5": token("provider", provider=P5),
    "public": token("public"),
    "admin": token("admin"),
}


# Budgets ---------------------------------------------------------------------------------

BUDGETS_QUERY = """query($year: Int!, $m: String) {
  budgets(year: $year, municipality: $m) {
    municipality year lot budget runRateUntil
    committed { value suppressed } realised { value suppressed }
    released { value suppressed } forecast { value suppressed } } }"""

LOT_ORDER = ["AMBULANT", "RESIDENTIAL", "CRISIS", "HSWV", "PROTECTION", "PROBATION"]


def _amounts(line: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (line[k]["value"], line[k]["suppressed"])
        for k in ("committed", "realised", "released", "forecast")
    )


def _exact(committed: float, realised: float, released: float, forecast: float) -> Any:
    return ((committed, False), (realised, False), (released, False), (forecast, False))


ZERO = _exact(0.0, 0.0, 0.0, 0.0)
HIDDEN = ((None, True),) * 4
NONE = ((None, False),) * 4

# Exact figures by hand (euros). Committed: budgets of assignments starting in 2024.
# Realised: granted lines with period start in 2024 (L110 credited, L104/L109/L302/L203
# rejected, L107 submitted, L108 in 2023). Released: A1 1000-900, A3 1500-1400, A6 1000-300,
# A7 500-400 (ambulant), A8 6000-5000 (residential), ended by 0193's run-rate end
# 2024-11-30; 0150's C1 ends after its 2024-10-31. Forecast: 0193 x 366/335, 0150 x 366/305.
EXPECTED = {
    "0193": (
        "2024-11-30",
        {
            "AMBULANT": (12_000_000.0, _exact(8000.0, 9800.0, 1000.0, 10706.87)),
            "RESIDENTIAL": (10_000_000.0, _exact(6000.0, 5000.0, 1000.0, 5462.69)),
            "CRISIS": (None, ZERO),
            "HSWV": (500_000.0, NONE),
            "PROTECTION": (None, ZERO),
            "PROBATION": (None, ZERO),
        },
    ),
    "0150": (
        "2024-10-31",
        {
            "AMBULANT": (3_000_000.0, _exact(800.0, 1300.0, 0.0, 1560.0)),
            "RESIDENTIAL": (8_000_000.0, _exact(0.0, 6000.0, 0.0, 7200.0)),
            "CRISIS": (None, ZERO),
            "HSWV": (None, NONE),
            "PROTECTION": (None, ZERO),
            "PROBATION": (None, ZERO),
        },
    ),
    None: (
        "2024-11-30",
        {
            "AMBULANT": (15_000_000.0, _exact(8800.0, 11100.0, 1000.0, 12266.87)),
            "RESIDENTIAL": (18_000_000.0, _exact(6000.0, 11000.0, 1000.0, 12662.69)),
            "CRISIS": (None, ZERO),
            "HSWV": (500_000.0, NONE),
            "PROTECTION": (None, ZERO),
            "PROBATION": (None, ZERO),
        },
    ),
}


async def _budgets(api: Api, who: str, municipality: str | None) -> dict[str, Any]:
    data = await api.query(BUDGETS_QUERY, {"year": 2024, "m": municipality}, bearer=ROLES[who])
    lines = data["budgets"]
    assert [line["lot"] for line in lines] == LOT_ORDER
    assert {(line["municipality"], line["year"]) for line in lines} == {(municipality, 2024)}
    return {line["lot"]: line for line in lines}


@pytest.mark.parametrize("municipality", ["0193", "0150", None])
async def test_budgets_for_the_region_by_hand(api: Api, municipality: str | None) -> None:
    until, expected = EXPECTED[municipality]
    lines = await _budgets(api, "region", municipality)
    for lot, (budget, amounts) in expected.items():
        line = lines[lot]
        assert line["budget"] == budget, lot
        assert _amounts(line) == amounts, lot
        assert line["runRateUntil"] == until


# Who sees what: each role's own municipality exactly as the region sees it, every other
# record figure null and suppressed; budgets (public figures) for everyone.
OWNS = {"region": {"0193", "0150", None}, "0193": {"0193"}, "0150": {"0150"}}


@pytest.mark.parametrize("who", list(ROLES))
@pytest.mark.parametrize("municipality", ["0193", "0150", None])
async def test_budgets_per_role(api: Api, who: str, municipality: str | None) -> None:
    until, expected = EXPECTED[municipality]
    lines = await _budgets(api, who, municipality)
    owned = municipality in OWNS.get(who, set())
    for lot, (budget, amounts) in expected.items():
        line = lines[lot]
        assert line["budget"] == budget, (who, lot)
        if owned:
            assert _amounts(line) == amounts, (who, lot)
            assert line["runRateUntil"] == until
        else:
            assert _amounts(line) == (NONE if lot == "HSWV" else HIDDEN), (who, lot)
            assert line["runRateUntil"] is None


async def test_budgets_of_another_year_and_bad_arguments(api: Api) -> None:
    lines = await _budgets(api, "region", "0193")
    assert lines["AMBULANT"]["budget"] == 12_000_000.0
    data = await api.query(BUDGETS_QUERY, {"year": 2023, "m": "0193"}, bearer=ROLES["region"])
    ambulant = data["budgets"][0]
    assert ambulant["budget"] == 11_000_000.0
    # 2023: A6 (Y6) and A11 (Y8) started, L108 granted; no release (nothing ended by the
    # run-rate end 2023-12-31 with a budget); full year, forecast = realised.
    assert _amounts(ambulant) == _exact(5000.0, 300.0, 0.0, 300.0)
    assert ambulant["runRateUntil"] == "2023-12-31"
    empty = await api.query(BUDGETS_QUERY, {"year": 2030, "m": None}, bearer=ROLES["region"])
    assert _amounts(empty["budgets"][0]) == ((0.0, False), (0.0, False), (0.0, False),
                                             (None, False))  # fmt: skip
    for variables, code in (
        ({"year": 2024, "m": "0363"}, "UNKNOWN_MUNICIPALITY"),
        ({"year": 24, "m": None}, "YEAR"),
    ):
        response = await api.post(BUDGETS_QUERY, variables, bearer=ROLES["region"])
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == code, body
        assert body.get("data") is None


# Continuity risks ------------------------------------------------------------------------

RISKS_QUERY = """query($m: String, $first: Int! = 100) {
  continuityRisks(municipality: $m, first: $first) {
    provider { agb name } level impact
    signals { kind level value previous status dated suppressed evidence } } }"""

KINDS = [
    "YOUTH_SHARE",
    "RESIDENTIAL_YOUTH",
    "CLAIM_REJECTION_RATE",
    "CLAIM_DELAY_DAYS",
    "WAITING_DAYS_TREND",
    "MONTHS_SINCE_NEW_ASSIGNMENT",
    "EARLY_WARNING",
    "ESCALATION",
]
S = "suppressed"  # a signal whose evidence is null and suppressed


async def _risks(api: Api, who: str, municipality: str | None = None, first: int = 100) -> Any:
    data = await api.query(RISKS_QUERY, {"m": municipality, "first": first}, bearer=ROLES[who])
    return data["continuityRisks"]


def _signals(entry: dict[str, Any]) -> dict[str, Any]:
    """kind -> (level, value, previous, status) or S."""
    assert [s["kind"] for s in entry["signals"]] == KINDS
    out = {}
    for s in entry["signals"]:
        if s["suppressed"]:
            assert (s["level"], s["value"], s["previous"]) == (None, None, None), s
            out[s["kind"]] = S
        else:
            out[s["kind"]] = (s["level"], s["value"], s["previous"], s["status"])
        assert s["evidence"]
    return out


# By hand, region, data date 2024-12-31, windows 2024 (12 months) and Jul-Dec / Jan-Jun.
# 11 youth in jeugdhulp in 2024. P1: 9 of them; 12 answered lines, 2 rejected; 13 delays,
# median 15; waiting Jan-Jun 6, 11, 10, 17, 5 (median 10), Jul-Dec 30, 40 (35); last
# assignment 2024-08-01. P2: Y7 and Z2; 1 of 3 rejected; delays 30, 77, 28; waiting 0, 32
# in Jan-Jun only; last assignment 2024-04-01. P3: Y7 and Z3; 1 of 3 rejected; delays 92,
# 91, 92; last assignment 2023-01-10; RED/ESCALATED. P4: Y3's crisis care, no claims.
# P5: a contract since 2020 and nothing else.
REGION_RISKS = {
    P3: ("HIGH", "MEDIUM", {
        "YOUTH_SHARE": ("MEDIUM", 2 / 11, None, None),
        "RESIDENTIAL_YOUTH": ("LOW", 0.0, None, None),
        "CLAIM_REJECTION_RATE": ("HIGH", 1 / 3, None, None),
        "CLAIM_DELAY_DAYS": ("HIGH", 92.0, None, None),
        "WAITING_DAYS_TREND": (None, None, None, None),
        "MONTHS_SINCE_NEW_ASSIGNMENT": ("HIGH", 23.0, None, None),
        "EARLY_WARNING": ("HIGH", None, None, "RED"),
        "ESCALATION": ("HIGH", None, None, "ESCALATED"),
    }),
    P2: ("HIGH", "MEDIUM", {
        "YOUTH_SHARE": ("MEDIUM", 2 / 11, None, None),
        "RESIDENTIAL_YOUTH": ("LOW", 1.0, None, None),
        "CLAIM_REJECTION_RATE": ("HIGH", 1 / 3, None, None),
        "CLAIM_DELAY_DAYS": ("LOW", 30.0, None, None),
        "WAITING_DAYS_TREND": (None, None, 16.0, None),
        "MONTHS_SINCE_NEW_ASSIGNMENT": ("MEDIUM", 8.0, None, None),
        "EARLY_WARNING": ("LOW", None, None, "YELLOW"),
        "ESCALATION": ("MEDIUM", None, None, "MONITORING"),
    }),
    P5: ("HIGH", "LOW", {
        "YOUTH_SHARE": ("LOW", 0.0, None, None),
        "RESIDENTIAL_YOUTH": ("LOW", 0.0, None, None),
        "CLAIM_REJECTION_RATE": (None, None, None, None),
        "CLAIM_DELAY_DAYS": (None, None, None, None),
        "WAITING_DAYS_TREND": (None, None, None, None),
        "MONTHS_SINCE_NEW_ASSIGNMENT": ("HIGH", 59.0, None, None),  # since its contract
        "EARLY_WARNING": (None, None, None, None),
        "ESCALATION": (None, None, None, None),
    }),
    P1: ("MEDIUM", "HIGH", {
        "YOUTH_SHARE": ("HIGH", 9 / 11, None, None),
        "RESIDENTIAL_YOUTH": ("LOW", 0.0, None, None),
        "CLAIM_REJECTION_RATE": ("MEDIUM", 2 / 12, None, None),
        "CLAIM_DELAY_DAYS": ("LOW", 15.0, None, None),
        "WAITING_DAYS_TREND": ("MEDIUM", 35.0, 10.0, None),
        "MONTHS_SINCE_NEW_ASSIGNMENT": ("LOW", 4.0, None, None),
        "EARLY_WARNING": ("LOW", None, None, "GREEN"),
        "ESCALATION": ("LOW", None, None, "NONE"),
    }),
    P4: ("LOW", "MEDIUM", {
        "YOUTH_SHARE": ("MEDIUM", 1 / 11, None, None),
        "RESIDENTIAL_YOUTH": ("LOW", 0.0, None, None),
        "CLAIM_REJECTION_RATE": (None, None, None, None),
        "CLAIM_DELAY_DAYS": (None, None, None, None),
        "WAITING_DAYS_TREND": (None, 0.0, None, None),
        "MONTHS_SINCE_NEW_ASSIGNMENT": ("LOW", 2.0, None, None),
        "EARLY_WARNING": (None, None, None, None),
        "ESCALATION": (None, None, None, None),
    }),
}  # fmt: skip


def _check(entries: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert [e["provider"]["agb"] for e in entries] == list(expected)
    for e in entries:
        level, impact, signals = expected[e["provider"]["agb"]]
        assert (e["level"], e["impact"]) == (level, impact), e["provider"]
        got = _signals(e)
        for kind, want in signals.items():
            if want == S:
                assert got[kind] == S, (e["provider"], kind)
            else:
                assert got[kind] == pytest.approx(want), (e["provider"], kind)


async def test_continuity_risks_for_the_region_by_hand(api: Api) -> None:
    entries = await _risks(api, "region")
    _check(entries, REGION_RISKS)
    assert entries[0]["provider"] == {"agb": P3, "name": "Klein Zorg"}
    (escalation,) = [s for s in entries[0]["signals"] if s["kind"] == "ESCALATION"]
    assert escalation["dated"] == "2024-11-30"
    assert "waiting list 30" in escalation["evidence"]
    # The providers 0150's youth depend on (P4 and P5 have none of its youth), regional
    # figures; `first` cuts the sorted list.
    only = await _risks(api, "region", "0150")
    _check(only, {agb: REGION_RISKS[agb] for agb in (P3, P2, P1)})
    assert [e["provider"]["agb"] for e in await _risks(api, "region", "0150", 2)] == [P3, P2]


# 0193 with threshold 5, from its own records (8 youth in care): P1 has all 8 of them
# (share 1.0); 11 answered lines of 7 youth, 2 rejected (0.18); 12 delays of 8 youth,
# median 15; waiting suppressed (4 and 2 youth); 8 youth with assignments, last 2024-08-01.
# Everything about P2, P3 and P4 rests on one or two youth: suppressed; the contract-
# management signals remain.
MUNICIPALITY_0193 = {
    P3: ("HIGH", None, {
        **dict.fromkeys(KINDS[:6], S),
        "EARLY_WARNING": ("HIGH", None, None, "RED"),
        "ESCALATION": ("HIGH", None, None, "ESCALATED"),
    }),
    P1: ("MEDIUM", "HIGH", {
        "YOUTH_SHARE": ("HIGH", 1.0, None, None),
        "RESIDENTIAL_YOUTH": S,
        "CLAIM_REJECTION_RATE": ("MEDIUM", 0.18, None, None),
        "CLAIM_DELAY_DAYS": ("LOW", 15.0, None, None),
        "WAITING_DAYS_TREND": S,
        "MONTHS_SINCE_NEW_ASSIGNMENT": ("LOW", 4.0, None, None),
        "EARLY_WARNING": ("LOW", None, None, "GREEN"),
        "ESCALATION": ("LOW", None, None, "NONE"),
    }),
    P2: ("MEDIUM", None, {
        **dict.fromkeys(KINDS[:6], S),
        "EARLY_WARNING": ("LOW", None, None, "YELLOW"),
        "ESCALATION": ("MEDIUM", None, None, "MONITORING"),
    }),
    P4: ("LOW", None, {
        **dict.fromkeys(KINDS[:6], S),
        "EARLY_WARNING": (None, None, None, None),
        "ESCALATION": (None, None, None, None),
    }),
}  # fmt: skip
MUNICIPALITY_0150 = {
    P3: ("HIGH", None, MUNICIPALITY_0193[P3][2]),
    P2: ("MEDIUM", None, MUNICIPALITY_0193[P2][2]),
    P1: ("LOW", None, {
        **dict.fromkeys(KINDS[:6], S),
        "EARLY_WARNING": ("LOW", None, None, "GREEN"),
        "ESCALATION": ("LOW", None, None, "NONE"),
    }),
}  # fmt: skip
# P1 itself: its own records of both municipalities. Its share needs the other providers'
# youth: suppressed. 12 answered lines of 8 youth (0.17), 13 delays of 9 youth (15),
# waiting Jan-Jun 5 youth but Jul-Dec only 2: suppressed; 9 youth with assignments.
PROVIDER_P1 = {
    P1: ("MEDIUM", None, {
        "YOUTH_SHARE": S,
        "RESIDENTIAL_YOUTH": S,
        "CLAIM_REJECTION_RATE": ("MEDIUM", 0.17, None, None),
        "CLAIM_DELAY_DAYS": ("LOW", 15.0, None, None),
        "WAITING_DAYS_TREND": S,
        "MONTHS_SINCE_NEW_ASSIGNMENT": ("LOW", 4.0, None, None),
        "EARLY_WARNING": ("LOW", None, None, "GREEN"),
        "ESCALATION": ("LOW", None, None, "NONE"),
    }),
}  # fmt: skip
PROVIDER_P5 = {
    P5: ("LOW", None, {
        **dict.fromkeys(KINDS[:6], S),
        "EARLY_WARNING": (None, None, None, None),
        "ESCALATION": (None, None, None, None),
    }),
}  # fmt: skip


@pytest.mark.parametrize(
    ("who", "municipality", "expected"),
    [
        ("0193", None, MUNICIPALITY_0193),
        ("0193", "0193", MUNICIPALITY_0193),
        ("0193", "0150", {}),  # another municipality's dependencies are not its to see
        ("0150", None, MUNICIPALITY_0150),
        ("0150", "0193", {}),
        ("P1", None, PROVIDER_P1),
        ("P1", "0150", PROVIDER_P1),  # 0150's youth depend on P1 too
        ("P5", None, PROVIDER_P5),
        ("P5", "0193", {}),
        ("public", None, {}),
        ("public", "0193", {}),
        ("admin", None, {}),
    ],
)
async def test_continuity_risks_per_role(
    api: Api, who: str, municipality: str | None, expected: dict[str, Any]
) -> None:
    _check(await _risks(api, who, municipality), expected)


async def test_suppressed_evidence_says_why_without_numbers(api: Api) -> None:
    entries = await _risks(api, "0193")
    for entry in entries:
        for s in entry["signals"]:
            if s["suppressed"]:
                assert s["evidence"] == "suppressed: computed from fewer than 5 youth"
    (own,) = await _risks(api, "P1")
    share = own["signals"][0]
    assert share["evidence"] == "suppressed: needs records outside the caller's scope"


# Long-running and switching youth --------------------------------------------------------

YOUTH_QUERY = """query($years: Int, $first: Int! = 100, $after: String) {
  longRunningYouth(years: $years, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id birthYear birthMonth municipality { code } } }
  switchingYouth { totalCount nodes { birthYear birthMonth municipality { code } } } }"""


def _who(nodes: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [(n["municipality"]["code"], n["birthYear"], n["birthMonth"]) for n in nodes]


Y7, Y8, Z3 = ("0193", 2010, 1), ("0193", 2008, 3), ("0150", 2009, 7)


@pytest.mark.parametrize(
    ("who", "long_running", "switching"),
    [
        ("region", [Z3, Y8], [Y7]),
        ("0193", [Y8], [Y7]),
        ("0150", [Z3], []),
        ("P1", [], []),  # P1 cares for Y7 and Y8, yet these lists are not a provider's
        ("P5", [], []),
        ("public", [], []),
        ("admin", [], []),
    ],
)
async def test_long_running_and_switching_youth_per_role(
    api: Api, who: str, long_running: list[Any], switching: list[Any]
) -> None:
    data = await api.query(YOUTH_QUERY, bearer=ROLES[who])
    assert _who(data["longRunningYouth"]["nodes"]) == long_running
    assert data["longRunningYouth"]["totalCount"] == len(long_running)
    assert _who(data["switchingYouth"]["nodes"]) == switching
    assert data["switchingYouth"]["totalCount"] == len(switching)


async def test_long_running_years_and_pages(api: Api) -> None:
    # Y8 since 2021-06-01 (residential at P2, then touching ambulant care at P1), Z3 since
    # 2022-11-01; the data date is 2024-12-31.
    for years, expected in ((3, [Y8]), (4, []), (2, [Z3, Y8])):
        data = await api.query(YOUTH_QUERY, {"years": years}, bearer=ROLES["region"])
        assert _who(data["longRunningYouth"]["nodes"]) == expected, years
    first = await api.query(YOUTH_QUERY, {"first": 1}, bearer=ROLES["region"])
    page = first["longRunningYouth"]
    assert _who(page["nodes"]) == [Z3]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 2
    after = page["pageInfo"]["endCursor"]
    second = await api.query(YOUTH_QUERY, {"first": 1, "after": after}, bearer=ROLES["region"])
    assert _who(second["longRunningYouth"]["nodes"]) == [Y8]
    assert second["longRunningYouth"]["pageInfo"]["hasNextPage"] is False
    # The youth's id opens its record for its own municipality only.
    y8 = second["longRunningYouth"]["nodes"][0]
    lookup = "query($id: ID!) { youth(id: $id) { birthYear } }"
    assert (await api.query(lookup, {"id": y8["id"]}, bearer=ROLES["0193"]))["youth"] == {
        "birthYear": 2008
    }
    assert (await api.query(lookup, {"id": y8["id"]}, bearer=ROLES["0150"]))["youth"] is None
    for variables, code in (
        ({"years": 0}, "YEARS"),
        ({"first": 501}, "PAGE_SIZE"),
        ({"after": "not-a-cursor"}, "INVALID_CURSOR"),
    ):
        body = (await api.post(YOUTH_QUERY, variables, bearer=ROLES["region"])).json()
        assert body["errors"][0]["extensions"]["code"] == code, body
