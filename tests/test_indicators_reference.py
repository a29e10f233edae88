"""`indicators` against an independent plain-Python reference (tests/indicator_reference.py)
over a small hand-made data set loaded through the real adapters: every metric, every single
dimension and no grouping, a few combinations and filters, as every role.

As `region` (and as a municipality for its own rows) every value is exact. For every other
cell: a value computed from fewer youth than the threshold is suppressed, a shown value is
the exact one rounded as docs/indicators.md says; any cell may also be suppressed by
complementary suppression, except BUDGET_EUR, which is public. The readings this test takes
where docs/indicators.md leaves room are listed in tests/indicator_reference.py (R1-R12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from hub.config import default_region
from hub.ingest import ingest
from hub.store.load import SourceInfo

from . import indicator_reference as ref
from .conftest import Api, settings_for, token
from .indicator_reference import (
    DATA,
    METRICS,
    PA,
    PB,
    PC,
    Cell,
    Filter,
    Model,
)

THRESHOLD = 5  # the lowest allowed: the small data set has visible and suppressed cells
REGION = default_region()
MODEL = Model(DATA, {m.code: dict(m.youth_population) for m in REGION})
D = date.fromisoformat


# -- the model on its own --------------------------------------------------------------------


def _one_row(model: Model, group_by: list[str], f: Filter) -> ref.Row:
    rows = model.rows(group_by, f)
    assert len(rows) == 1, rows
    return rows[0]


def test_the_worked_example_of_the_docs() -> None:
    youth = [ref.Youth(k, "0193", ref._bsn(i), date(2012, 1, 1), "1") for i, k in enumerate("ABC")]
    assignments = [
        ref.Assignment("N-A", "A", "11111111", "45A01", D("2023-09-20"), D("2023-10-01"), None),
        ref.Assignment("N-B", "B", "11111111", "35A01", D("2024-01-02"), D("2024-01-15"), None),
        ref.Assignment("N-C", "C", "22222222", "45A01", D("2021-02-20"), D("2021-03-01"), None),
    ]
    periods = [
        ref.CarePeriod("N-A", D("2023-10-01"), D("2024-01-31"), "31"),
        ref.CarePeriod("N-A", D("2024-02-01"), D("2024-04-30"), "31"),
        ref.CarePeriod("N-B", D("2024-01-15"), D("2024-02-15"), "33"),
        ref.CarePeriod("N-C", D("2021-03-01"), D("2021-09-30"), "31"),
        ref.CarePeriod("N-C", D("2024-03-01"), None, None),
    ]
    data = ref.Dataset(youth, assignments, [], periods, [], [], {})
    model = Model(data, {"0193": {2024: 27_500}})
    assert [
        (t.youth, t.care_type, t.start, t.end, t.repeat_inflow) for t in model.trajectories
    ] == [
        ("A", "AMBULANT", D("2023-10-01"), D("2024-04-30"), False),
        ("B", "RESIDENTIAL", D("2024-01-15"), D("2024-02-15"), False),
        ("C", "AMBULANT", D("2021-03-01"), D("2021-09-30"), False),
        ("C", "AMBULANT", D("2024-03-01"), None, True),
    ]
    f = Filter(municipalities=("0193",), from_=D("2024-01-01"), to=D("2024-03-31"))
    row = _one_row(model, ["QUARTER"], f)
    assert row.values == {"YEAR": 2024, "QUARTER": 1}
    got = {m: model.cell(m, ["QUARTER"], f, row).value for m in METRICS[:8]}
    assert got["YOUTH_IN_CARE"] == 3
    assert got["TRAJECTORIES_STARTED"] == 2
    assert got["DROPOUT_SHARE"] == 1
    assert got["RESIDENTIAL_SHARE"] == Fraction(1, 3)
    assert got["REPEAT_INFLOW_SHARE"] == Fraction(1, 2)
    assert model.cell("YOUTH_IN_CARE", ["QUARTER"], f, row).support == 3  # < 10: suppressed


def _traj(youth: str) -> list[tuple[Any, ...]]:
    return [
        (
            t.provider,
            t.care_type,
            t.product_category,
            t.referrer_type,
            str(t.start),
            str(t.end) if t.end else None,
            t.end_reason,
            t.repeat_inflow,
        )
        for t in MODEL.trajectories
        if t.youth == youth
    ]


def test_trajectories_of_the_data_set() -> None:
    # touching periods merge; the reason is that of the period ending last
    assert _traj("Y01") == [(PA, "AMBULANT", "45", "02", "2023-01-01", "2024-03-31", "31", False)]
    # a temporary stop and a restart after a gap: two trajectories, the second repeat inflow
    assert _traj("Y03") == [
        (PB, "AMBULANT", "45", "04", "2023-02-01", "2023-08-31", "20", False),
        (PB, "AMBULANT", "45", "04", "2023-10-01", "2024-06-30", "31", True),
    ]
    # a temporary stop with a restart the next day: touching, one trajectory
    assert _traj("Y34") == [(PB, "AMBULANT", "45", None, "2024-05-01", "2024-10-31", "31", False)]
    # crisis then residential the next day: the residential one is no repeat inflow
    assert _traj("Y04") == [
        (PB, "CRISIS", "46", None, "2023-11-20", "2023-12-05", "31", False),
        (PA, "RESIDENTIAL", "43", "08", "2023-12-06", None, None, False),
    ]
    # overlapping periods (45, then an uncoded one whose assignment says 41): one trajectory
    # with the first category, the first assignment's (unknown) referrer and the last reason
    assert _traj("Y05") == [(PA, "AMBULANT", "45", None, "2024-01-10", "2024-09-30", "35", False)]
    # repeat inflow at another provider, and after more than a year
    assert _traj("Y07")[1][-1] is True
    assert _traj("Y13")[1][-1] is True
    # three providers in a row, each touching the previous: no repeat inflow
    assert [t[-1] for t in _traj("Y08")] == [False, False, False]
    # the youth who moved is a youth of each municipality, unlinked
    assert _traj("Y21") == [(PB, "AMBULANT", "45", "02", "2023-05-01", "2024-12-31", "31", False)]
    assert _traj("Y14") == [(PB, "AMBULANT", "45", None, "2025-01-01", None, None, False)]
    assert len(MODEL.trajectories) == 42


def _cell(metric: str, group_by: list[str], f: Filter, **values: Any) -> Cell:
    rows = [r for r in MODEL.rows(group_by, f) if all(r.values[k] == v for k, v in values.items())]
    assert len(rows) == 1, (values, rows)
    return MODEL.cell(metric, group_by, f, rows[0])


def test_hand_computed_cells_of_the_data_set() -> None:
    zwolle = Filter(municipalities=("0193",))
    deventer = Filter(municipalities=("0150",))
    # waiting days of Zwolle's jeugdhulp assignments whose care started in 2024: A-06 26,
    # A-07 12, A-09 17, A-11 31 (assigned 2024-07-01, care from 2024-08-01), A-12 31, A-13 6,
    # A-14 11, A-17 14, A-18 17 (A-23 is care type OTHER)
    # (9 assignments of 6 youth: Y05, Y06, Y07, Y08, Y11, Y12)
    assert _cell("WAITING_DAYS", ["YEAR"], zwolle, YEAR=2024) == Cell(17, 6)
    # Y09 residential since 2023-01-15: long-running from 2025-01-15; Y04 crisis from
    # 2023-11-20 then residential: from 2025-11-20
    assert _cell("LONG_RUNNING_YOUTH", ["MONTH"], zwolle, YEAR=2024, MONTH=12).value == 0
    assert _cell("LONG_RUNNING_YOUTH", ["MONTH"], zwolle, YEAR=2025, MONTH=1).value == 1
    assert _cell("LONG_RUNNING_YOUTH", ["MONTH"], zwolle, YEAR=2025, MONTH=11).value == 2
    # Deventer: Y24 from 2023-07-01 is in care exactly two years on 2025-06-30, not more;
    # Y22 since 2023-01-10 is long-running
    assert _cell("LONG_RUNNING_YOUTH", ["MONTH"], deventer, YEAR=2025, MONTH=6).value == 1
    assert _cell("LONG_RUNNING_YOUTH", ["MONTH"], deventer, YEAR=2025, MONTH=7).value == 2
    # the region: Y09 (0193), Y22, Y24 (0150), Y31 (0148) in September 2025; Y04 (0193)
    # too from 2025-11-20
    assert _cell("LONG_RUNNING_YOUTH", ["MONTH"], Filter(), YEAR=2025, MONTH=9) == Cell(4, 4)
    assert _cell("LONG_RUNNING_YOUTH", ["MONTH"], Filter(), YEAR=2025, MONTH=11) == Cell(5, 5)
    # Y08 with PA, PB, PC in 2024; PA ended 2024-03-20, outside the window of 2025-03
    assert _cell("SWITCHING_YOUTH", ["MONTH"], zwolle, YEAR=2024, MONTH=7).value == 1
    assert _cell("SWITCHING_YOUTH", ["MONTH"], zwolle, YEAR=2025, MONTH=2).value == 1
    assert _cell("SWITCHING_YOUTH", ["MONTH"], zwolle, YEAR=2025, MONTH=3).value == 0
    # Y30 in Deventer: PC until 2023-07-20, PA, PB until 2024-05-31
    assert _cell("SWITCHING_YOUTH", ["MONTH"], deventer, YEAR=2024, MONTH=6).value == 1
    assert _cell("SWITCHING_YOUTH", ["MONTH"], deventer, YEAR=2024, MONTH=7).value == 0
    # Zwolle 2023 Q1: Y01, Y02, Y03, Y09 in jeugdhulp; Y02 and Y09 residential
    assert _cell("YOUTH_IN_CARE", ["QUARTER"], zwolle, YEAR=2023, QUARTER=1) == Cell(4, 4)
    assert _cell("RESIDENTIAL_SHARE", ["QUARTER"], zwolle, YEAR=2023, QUARTER=1).value == (
        Fraction(1, 2)
    )
    # ended in Zwolle 2024: Y01 (31), Y03 (31), Y05 (35), Y06 ambulant (32), Y08 x3 (34, 38,
    # 31), Y11 (32): dropouts 4 of 8
    assert _cell("DROPOUT_SHARE", ["YEAR"], zwolle, YEAR=2024) == Cell(Fraction(1, 2), 6)
    # started in Zwolle 2025: Y10, Y12 ambulant, Y13 (repeat), Y14: 1 of 4
    assert _cell("REPEAT_INFLOW_SHARE", ["YEAR"], zwolle, YEAR=2025) == Cell(Fraction(1, 4), 4)
    # the credit cancels A-01's May 2023 line; its rebill (+500 euros) is granted
    may = Filter(municipalities=("0193",), providers=(PA,), from_=D("2023-05-01"),
                 to=D("2023-05-31"))  # fmt: skip
    cost = _cell("COST_EUR", [], may)
    # PA in Zwolle in May 2023: Y01 ambulant (31 days + 500 euros), Y02 residential (10 days),
    # Y07 ambulant (31 days), unless rejected
    lines = [c for c in DATA.claims if c.municipality == "0193" and c.provider == PA
             and c.period_start.strftime("%Y%m") == "202305" and c.debit_credit == "D"]  # fmt: skip
    granted = [c for c in lines if MODEL.status[(c.municipality, c.provider, c.reference)]
               == "GRANTED"]  # fmt: skip
    assert {c.reference for c in lines} - {c.reference for c in granted} >= {"A-01-20230501"}
    assert cost.value == Fraction(sum(c.amount_cents for c in granted), 100)
    # the budget of 0193's jeugdhulp lots and HSWV in March 2024: (400+300+40+50) * 31 days
    assert _cell("BUDGET_EUR", ["MONTH"], zwolle, YEAR=2024, MONTH=3).value == 790 * 31
    # grouped by care type HSWV is left out; PROTECTION has its own lot
    assert _cell("BUDGET_EUR", ["CARE_TYPE", "YEAR"], zwolle, YEAR=2023,
                 CARE_TYPE="PROTECTION").value == 30 * 365  # fmt: skip


def test_rounding_of_cells_not_owned() -> None:
    assert ref.shown("YOUTH_IN_CARE", Cell(7, 7)) == 5
    assert ref.shown("YOUTH_IN_CARE", Cell(8, 8)) == 10
    assert ref.shown("TRAJECTORIES_ENDED", Cell(12, 9)) == 10
    assert ref.shown("DROPOUT_SHARE", Cell(Fraction(1, 8), 8)) == Fraction(13, 100)
    assert ref.shown("WAITING_DAYS", Cell(Fraction(21, 2), 8)) == 11
    assert ref.shown("COST_EUR", Cell(Fraction(12_499), 8)) == 12_000
    assert ref.shown("COST_EUR", Cell(Fraction(12_500), 8)) == 13_000
    assert ref.shown("YOUTH_PER_1000", Cell(0, 8), Cell(8, 8), 20_000) == Fraction(1, 2)


# -- against the hub -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    group_by: tuple[str, ...]
    filter: Filter = field(default_factory=Filter)


CASES = [
    Case("all", ()),
    Case("municipality", ("MUNICIPALITY",)),
    Case("year", ("YEAR",)),
    Case("quarter", ("QUARTER",)),
    Case("month", ("MONTH",)),
    Case("care_type", ("CARE_TYPE",)),
    Case("product_category", ("PRODUCT_CATEGORY",)),
    Case("provider", ("PROVIDER",)),
    Case("referrer_type", ("REFERRER_TYPE",)),
    Case("municipality_year", ("MUNICIPALITY", "YEAR")),
    Case("municipality_month", ("MUNICIPALITY", "MONTH")),
    Case("care_type_quarter", ("CARE_TYPE", "QUARTER")),
    Case("from_to", (), Filter(from_=D("2024-02-15"), to=D("2025-03-10"))),
    Case("from_to_month", ("MONTH",), Filter(from_=D("2024-02-15"), to=D("2025-03-10"))),
    Case("care_types_year", ("YEAR",), Filter(care_types=("AMBULANT", "PROTECTION"))),
    Case("residential", (), Filter(care_types=("RESIDENTIAL",))),
    Case(
        "care_types_care_type",
        ("CARE_TYPE",),
        Filter(care_types=("AMBULANT", "RESIDENTIAL", "PROTECTION")),
    ),
    Case("provider_pa_quarter", ("QUARTER",), Filter(providers=(PA,))),
    Case("providers_pb_pc", (), Filter(providers=(PB, PC))),
    Case("category_45_municipality", ("MUNICIPALITY",), Filter(product_categories=("45",))),
    Case("zwolle_year", ("YEAR",), Filter(municipalities=("0193",))),
    Case("zwolle", (), Filter(municipalities=("0193",))),
    Case("zwolle_deventer_provider", ("PROVIDER",), Filter(municipalities=("0193", "0150"))),
]
ROLES = {
    "region": {},
    "public": {},
    "provider": {"provider": PA},
    "admin": {},
    "municipality-0193": {"municipality": "0193"},
    "municipality-0148": {"municipality": "0148"},
}
QUERY = """
query ($metrics: [Metric!]!, $groupBy: [Dimension!]!, $filter: IndicatorFilter) {
  indicators(metrics: $metrics, groupBy: $groupBy, filter: $filter) {
    rows { municipality year quarter month careType productCategory provider referrerType
           values { metric value suppressed } }
  }
}"""


@pytest.fixture(scope="module")
async def hub(make_database, open_db, tmp_path_factory) -> Api:
    urls = await make_database(REGION)
    db = await open_db(urls)
    folder: Path = tmp_path_factory.mktemp("indicator-reference")
    settings = settings_for(REGION, folder)
    for f in ref.source_files(DATA):
        path = folder / f.name
        path.write_text(f.text, encoding="utf-8")
        source = SourceInfo(f.source_id, f.adapter, f.owner, None, f.options)
        (run,) = await ingest(db, settings, source, [path])
        assert (run.status, run.records_quarantined, run.records_unlinked) == (
            "loaded",
            0,
            1 if f.name == f"claims-{PA}.csv" else 0,  # the claim for an unknown assignment
        ), (f.name, run)
    return Api(db, [m.code for m in REGION], threshold=THRESHOLD)


_ANSWERS: dict[tuple[str, str], list[dict[str, Any]]] = {}


async def answer(api: Api, case: Case, role: str) -> list[dict[str, Any]]:
    """The hub's rows for a case as a role (all metrics in one request), asked once."""
    if (case.name, role) not in _ANSWERS:
        role_name = role.split("-", 1)[0]
        data = await api.query(
            QUERY,
            {
                "metrics": list(METRICS),
                "groupBy": list(case.group_by),
                "filter": case.filter.graphql(),
            },
            bearer=token(role_name, **ROLES[role]),
        )
        _ANSWERS[(case.name, role)] = data["indicators"]["rows"]
    return _ANSWERS[(case.name, role)]


def _key(case: Case, row: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return MODEL.row_for(case.group_by, case.filter, row).key


def _owned(case: Case, role: str, row: ref.Row) -> bool:
    if role == "region":
        return True
    if not role.startswith("municipality-"):
        return False
    own = role.split("-")[1]
    if "MUNICIPALITY" in case.group_by:
        return bool(row.values["MUNICIPALITY"] == own)
    return case.filter.municipalities == (own,)


def _empty(case: Case, row: ref.Row) -> bool:
    """No youth behind any metric of the row (budgets aside)."""
    return all(
        not MODEL.cell(m, case.group_by, case.filter, row).support
        for m in METRICS
        if m != "BUDGET_EUR"
    )


async def test_loaded_trajectories_and_claims_are_those_of_the_model(hub: Api) -> None:
    """The data arrived as the model reads it (trajectories and claim outcomes exist
    already): a difference here is in the data or the trajectory rules, not in
    `indicators`."""
    data = await hub.query(
        """{ trajectories(first: 500) { nodes { careType start end endReason repeatInflow
               provider { agb } municipality { code } } }
             claims(first: 500) { totalCount nodes { reference status provider { agb }
               municipality { code } } } }""",
        bearer=token("region"),
    )
    got = sorted(
        (
            n["municipality"]["code"],
            n["provider"]["agb"],
            n["careType"],
            n["start"],
            n["end"],
            n["endReason"],
            n["repeatInflow"],
        )
        for n in data["trajectories"]["nodes"]
    )
    expected = sorted(
        (
            t.municipality,
            t.provider,
            t.care_type,
            t.start.isoformat(),
            t.end.isoformat() if t.end else None,
            t.end_reason,
            t.repeat_inflow,
        )
        for t in MODEL.trajectories
    )
    assert got == expected
    claims = data["claims"]
    assert claims["totalCount"] == len(DATA.claims)
    if len(claims["nodes"]) == claims["totalCount"]:
        statuses = {
            (n["municipality"]["code"], n["provider"]["agb"], n["reference"]): n["status"]
            for n in claims["nodes"]
        }
        assert statuses == MODEL.status


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_indicator_rows(hub: Api, case: Case, role: str) -> None:
    """Rows: every municipality and calendar period; values of the other dimensions that
    have data (rows without any youth may be there or not: READING R2); only the grouped
    dimensions filled (MONTH and QUARTER also fill YEAR); no row twice."""
    rows = await answer(hub, case, role)
    grouped = {ref.FIELD[d] for d in case.group_by}
    if grouped & {"month", "quarter"}:
        grouped.add("year")
    problems = [
        f"{name} filled in {r}"
        for r in rows
        for name in ref.ROW_FIELDS
        if name not in grouped and r[name] is not None
    ]
    keys = [_key(case, r) for r in rows]
    problems += [f"row {k} twice" for k in set(keys) if keys.count(k) > 1]
    expected = MODEL.rows(case.group_by, case.filter)
    only_data_dims = all(d == "MUNICIPALITY" or d in ref.TIME_DIMS for d in case.group_by)
    required = {r.key for r in expected if only_data_dims or not _empty(case, r)}
    problems += [f"missing row {k}" for k in sorted(required - set(keys), key=str)]
    known = {r.key for r in expected}
    for r in rows:
        k = _key(case, r)
        if k not in known and not _empty(case, MODEL.row_for(case.group_by, case.filter, r)):
            problems.append(f"unexpected row {k}")
        elif k not in known and only_data_dims:
            problems.append(f"unexpected row {k} (municipalities and periods are fixed)")
    assert not problems, "\n".join(problems)


def _close(got: Any, expected: Any) -> bool:
    if expected is None or got is None:
        return got is None and expected is None
    return abs(float(got) - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))


def _exact_ok(metric: str, case: Case, cell: Cell, got: Any) -> bool:
    if _close(got, cell.value):
        return True
    if metric == "COST_EUR" and not cell.support:  # READING R5: a sum of nothing
        return got in (0, None)
    by_dim = {"PROVIDER", "PRODUCT_CATEGORY", "REFERRER_TYPE"} & set(case.group_by)
    by_dim = by_dim or case.filter.providers or case.filter.product_categories
    if metric == "BUDGET_EUR" and cell.value is None and not by_dim:  # READING R4
        return got == 0
    return False


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_indicator_values(hub: Api, case: Case, metric: str, role: str) -> None:
    rows = await answer(hub, case, role)
    problems = _problems(case, metric, role, rows)
    assert not problems, f"{case.name} {metric} as {role}:\n" + "\n".join(problems)


def _problems(case: Case, metric: str, role: str, rows: list[dict[str, Any]]) -> list[str]:
    """Every cell of `metric` in the hub's rows against the model, as `role` sees it."""
    problems = []
    for r in rows:
        row = MODEL.row_for(case.group_by, case.filter, r)
        cells = {v["metric"]: v for v in r["values"]}
        if metric not in cells:
            problems.append(f"{row.key}: no value")
            continue
        got, suppressed = cells[metric]["value"], cells[metric]["suppressed"]
        cell = MODEL.cell(metric, case.group_by, case.filter, row)
        where = f"{row.key}: expected"
        if _owned(case, role, row):
            if suppressed or not _exact_ok(metric, case, cell, got):
                problems.append(
                    f"{where} {_show(cell.value)} (exact, {cell.support} youth), got {got}"
                    f"{' suppressed' if suppressed else ''}"
                )
            continue
        if metric == "BUDGET_EUR":  # public: never suppressed, exact (READING R11)
            if suppressed or not _exact_ok(metric, case, cell, got):
                problems.append(
                    f"{where} {_show(cell.value)} (budgets are public), got {got}"
                    f"{' suppressed' if suppressed else ''}"
                )
            continue
        assert cell.support is not None
        if cell.support < THRESHOLD:
            if not suppressed or got is not None:
                problems.append(
                    f"{where} suppressed ({cell.support} youth < {THRESHOLD}), got {got}"
                    f"{' suppressed' if suppressed else ' not suppressed'}"
                )
            continue
        if suppressed:  # complementary suppression
            if got is not None:
                problems.append(f"{row.key}: suppressed but value {got}")
            continue
        count = MODEL.cell("YOUTH_IN_CARE", case.group_by, case.filter, row)
        population = MODEL.population_of(case.group_by, case.filter, row)
        want = ref.shown(metric, cell, count, population)
        ok = _close(got, want) or (metric == "COST_EUR" and want == 0 and got is None)
        if not ok:
            problems.append(
                f"{where} {_show(want)} (rounded from {_show(cell.value)}, {cell.support} "
                f"youth), got {got}"
            )
    return problems


def _show(value: Any) -> str:
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{float(value):.6g}"
    return repr(value)


ALIASES = {
    "total": Case("total", ("YEAR",)),
    "byMunicipality": Case("byMunicipality", ("MUNICIPALITY", "YEAR")),
    "byMonth": Case("byMonth", ("MONTH",)),
}
# metric -> the aliases whose rows add up to the total's row of their year (docs: counts add
# up over municipalities; trajectory counts and euros also over time)
ADDS_UP = {
    "YOUTH_IN_CARE": ("byMunicipality",),
    "TRAJECTORIES_STARTED": ("byMunicipality", "byMonth"),
    "TRAJECTORIES_ENDED": ("byMunicipality", "byMonth"),
    "COST_EUR": ("byMunicipality", "byMonth"),
    "LONG_RUNNING_YOUTH": ("byMunicipality",),
    "SWITCHING_YOUTH": ("byMunicipality",),
}


async def test_complementary_suppression_across_aliases(hub: Api) -> None:
    """Years, their municipalities and their months in one response, as `public`: every cell
    as in the test above, and for every total with its parts (docs/indicators.md,
    Suppression 3) shown: either no part suppressed or at least two holding together at least
    threshold - 1 youth."""
    fields = "rows { municipality year quarter month careType productCategory provider " + (
        "referrerType values { metric value suppressed } }"
    )
    query = (
        "query ($metrics: [Metric!]!) {"
        + "".join(
            f" {alias}: indicators(metrics: $metrics, groupBy: [{', '.join(c.group_by)}]) "
            f"{{ {fields} }}"
            for alias, c in ALIASES.items()
        )
        + " }"
    )
    data = await hub.query(query, {"metrics": list(METRICS)}, bearer=token("public"))
    problems = []
    for alias, c in ALIASES.items():
        for metric in METRICS:
            problems += [
                f"{alias} {metric}: {p}"
                for p in _problems(c, metric, "public", data[alias]["rows"])
            ]
    for metric, part_aliases in ADDS_UP.items():
        for total in data["total"]["rows"]:
            year = total["year"]
            if next(v for v in total["values"] if v["metric"] == metric)["suppressed"]:
                continue  # nothing of its parts can be derived from a suppressed total
            cells = []
            for alias in part_aliases:
                cells += [(ALIASES[alias], r) for r in data[alias]["rows"] if r["year"] == year]
            held, youth = [], 0
            for c, r in cells:
                value = next(v for v in r["values"] if v["metric"] == metric)
                if value["suppressed"]:
                    row = MODEL.row_for(c.group_by, c.filter, r)
                    held.append(row.key)
                    youth += MODEL.cell(metric, c.group_by, c.filter, row).support or 0
            if held and (len(held) < 2 or youth < THRESHOLD - 1):
                problems.append(
                    f"{metric} {year} over {'+'.join(part_aliases)}: suppressed {held} hold "
                    f"{youth} youth (needs none, or two or more holding {THRESHOLD - 1})"
                )
    assert not problems, "\n".join(problems)
