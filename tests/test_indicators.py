"""Trajectories by the CBS rules and `indicators` with suppression: the worked example of
docs/indicators.md, what every role sees, and a property test of the suppression itself.
(tests/test_indicators_reference.py checks every metric against an independent model.)"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.ingest import ingest
from hub.store.load import SourceInfo
from hub.suppression import ADDITIVE, Answer, Cell, Row, suppress

from .conftest import SAMPLE_REGION, Api, settings_for, token

A, B, C = "999900006", "999900018", "999900031"
PERIODS = f"""municipality,bsn,provider_agb,assignment_number,product_code,start,end,end_reason
0193,{A},11111111,T-A,45A01,2023-10-01,2024-01-31,31
0193,{A},11111111,T-A,45A01,2024-02-01,2024-04-30,31
0193,{B},11111111,T-B,35A01,2024-01-15,2024-02-15,33
0193,{C},22222222,T-C1,45A01,2021-03-01,2021-09-30,31
0193,{C},22222222,T-C2,45A01,2024-03-01,,
"""
EXAMPLE = """{ indicators(
    metrics: [YOUTH_IN_CARE, TRAJECTORIES_STARTED, DROPOUT_SHARE, RESIDENTIAL_SHARE,
              REPEAT_INFLOW_SHARE]
    groupBy: [QUARTER]
    filter: {municipalities: ["0193"], from: "2024-01-01", to: "2024-03-31"}) {
  rows { municipality year quarter month values { metric value suppressed } } } }"""


@pytest.fixture
async def example(make_database, open_db, tmp_path: Path):
    urls = await make_database(SAMPLE_REGION)
    db = await open_db(urls)
    path = tmp_path / "periods.csv"
    path.write_text(PERIODS, encoding="utf-8")
    source = SourceInfo("periods-0193", "csv", "0193", None, {"kind": "care_period"})
    (run,) = await ingest(db, settings_for(SAMPLE_REGION, tmp_path), source, [path])
    assert run.records_accepted == 5
    return urls, db


async def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def test_trajectories_merge_touching_periods_and_flag_repeat_inflow(example) -> None:
    urls, db = example
    rows = await _fetch(
        urls.admin,
        """select y.pseudonym, t.care_type, t.start_date::text, t.end_date::text, t.end_reason,
                  t.repeat_inflow, (select count(*) from care_period p
                                    where p.trajectory_id = t.id) as periods
           from trajectory t join youth y on y.id = t.youth_id order by t.start_date""",
    )
    got = [tuple(r)[1:] for r in rows]
    assert got == [
        ("AMBULANT", "2021-03-01", "2021-09-30", "31", False, 1),  # C, first
        ("AMBULANT", "2023-10-01", "2024-04-30", "31", False, 2),  # A: two touching periods
        ("RESIDENTIAL", "2024-01-15", "2024-02-15", "33", False, 1),  # B
        ("AMBULANT", "2024-03-01", None, None, True, 1),  # C again after a gap
    ]
    api = Api(db, [m.code for m in SAMPLE_REGION])
    data = await api.query(
        """{ trajectories(filter: {municipalities: ["0193"]}) { nodes {
               start end careType repeatInflow carePeriods { start end } } } }""",
        bearer=token("municipality", "0193"),
    )
    a = next(n for n in data["trajectories"]["nodes"] if n["start"] == "2023-10-01")
    assert a["carePeriods"] == [
        {"start": "2023-10-01", "end": "2024-01-31"},
        {"start": "2024-02-01", "end": "2024-04-30"},
    ]


async def test_withdrawing_data_recomputes_only_that_youth(example, tmp_path: Path) -> None:
    """A later export ending C's open period: its trajectory ends, the others stay as they
    were (same rows, same ids)."""
    urls, db = example
    before = {r["id"]: tuple(r) for r in await _fetch(urls.admin, "select * from trajectory")}
    path = tmp_path / "later.csv"
    open_period = f"{C},22222222,T-C2,45A01,2024-03-01,,"
    path.write_text(PERIODS.replace(open_period, open_period[:-2] + ",2024-06-30,34"))
    source = SourceInfo("periods-0193", "csv", "0193", None, {"kind": "care_period"})
    await ingest(db, settings_for(SAMPLE_REGION, tmp_path), source, [path])
    after = {r["id"]: tuple(r) for r in await _fetch(urls.admin, "select * from trajectory")}
    changed = {i for i in before if before[i] != after[i]}
    assert len(changed) == 1
    assert after[changed.pop()][9:11] == (date(2024, 6, 30), "34")


async def test_the_worked_example_of_the_docs(example) -> None:
    _, db = example
    api = Api(db, [m.code for m in SAMPLE_REGION])
    data = await api.query(EXAMPLE, bearer=token("region"))
    (row,) = data["indicators"]["rows"]
    assert (row["year"], row["quarter"], row["month"]) == (2024, 1, None)
    values = {v["metric"]: v["value"] for v in row["values"]}
    assert values == {
        "YOUTH_IN_CARE": 3,
        "TRAJECTORIES_STARTED": 2,
        "DROPOUT_SHARE": 1.0,
        "RESIDENTIAL_SHARE": pytest.approx(1 / 3),
        "REPEAT_INFLOW_SHARE": 0.5,
    }
    for role, scope in [
        ("public", {}),
        ("admin", {}),
        ("provider", {"provider": "11111111"}),
        ("municipality", {"municipality": "0150"}),
    ]:
        data = await api.query(EXAMPLE, bearer=token(role, **scope))
        (row,) = data["indicators"]["rows"]
        assert all(v == {"metric": v["metric"], "value": None, "suppressed": True}
                   for v in row["values"]), role  # fmt: skip
    own = await api.query(EXAMPLE, bearer=token("municipality", "0193"))
    assert own == await api.query(EXAMPLE, bearer=token("region"))


async def test_a_municipality_sees_its_own_row_exactly_and_others_suppressed(example) -> None:
    _, db = example
    api = Api(db, [m.code for m in SAMPLE_REGION], threshold=5)
    query = """{ indicators(metrics: [YOUTH_IN_CARE], groupBy: [MUNICIPALITY]) {
                   rows { municipality values { value suppressed } } } }"""
    for bearer, own in [(token("municipality", "0193"), "0193"), (token("public"), None)]:
        data = await api.query(query, bearer=bearer)
        rows = {r["municipality"]: r["values"][0] for r in data["indicators"]["rows"]}
        assert set(rows) == {m.code for m in SAMPLE_REGION}  # every municipality has a row
        for code, value in rows.items():
            if code == own:
                assert value == {"value": 3, "suppressed": False}
            else:  # 0 or 3 youth: fewer than 5
                assert value == {"value": None, "suppressed": True}


async def test_suppression_spans_every_alias_of_the_response(example) -> None:
    """A total in one alias and its parts in another: a part that is suppressed alone would
    be the total minus the others, so a second part is suppressed with it."""
    _, db = example
    api = Api(db, [m.code for m in SAMPLE_REGION], threshold=5)
    query = """query($f: IndicatorFilter) {
        total: indicators(metrics: [TRAJECTORIES_STARTED], groupBy: [YEAR], filter: $f) {
          rows { year values { value suppressed } } }
        parts: indicators(metrics: [TRAJECTORIES_STARTED], groupBy: [MONTH], filter: $f) {
          rows { year month values { value suppressed } } } }"""
    own = {"f": {"municipalities": ["0193"]}}
    data = await api.query(query, own, bearer=token("municipality", "0193"))
    for alias in ("total", "parts"):
        for row in data[alias]["rows"]:
            assert row["values"][0]["suppressed"] is False  # its own: exact
    data = await api.query(query, own, bearer=token("public"))
    totals = [r["values"][0] for r in data["total"]["rows"]]
    parts = [r["values"][0] for r in data["parts"]["rows"]]
    assert all(t["suppressed"] for t in totals)  # 1 or 2 youth a year
    assert all(p["suppressed"] for p in parts)


# The suppression itself, on random answers ----------------------------------------------


MUNICIPALITIES = ("0001", "0002", "0003", "0004")
CARE_TYPES = ("AMBULANT", "RESIDENTIAL", "CRISIS")
GROUPINGS = ((), ("MUNICIPALITY",), ("CARE_TYPE",), ("MUNICIPALITY", "CARE_TYPE"))


@st.composite
def responses(draw: Any) -> tuple[list[Answer], int]:
    """Random trajectories (municipality, care type, youth), one response of random aliases
    grouped at random, exact values and supports computed here, ownership of a random role."""
    threshold = draw(st.integers(5, 12))
    fact = st.tuples(
        st.sampled_from(MUNICIPALITIES), st.sampled_from(CARE_TYPES), st.integers(0, 25)
    )
    facts = draw(st.lists(fact, max_size=80))
    groupings = draw(st.lists(st.sampled_from(GROUPINGS), min_size=1, max_size=5))
    own = draw(st.sampled_from((None, *MUNICIPALITIES)))  # public, or a municipality
    answers = []
    for dims in groupings:
        domains = [MUNICIPALITIES if d == "MUNICIPALITY" else CARE_TYPES for d in dims]
        rows = []
        for values in itertools.product(*domains):
            key = dict(zip(dims, values, strict=True))
            inside = [
                f
                for f in facts
                if all(f[0 if d == "MUNICIPALITY" else 1] == v for d, v in key.items())
            ]
            youth = len({(m, y) for m, _, y in inside})  # a youth is of one municipality
            owned = own is not None and key.get("MUNICIPALITY") == own
            cells = [
                Cell("TRAJECTORIES_STARTED", len(inside), youth, owned),
                Cell("YOUTH_IN_CARE", youth, youth, owned),
            ]
            rows.append(Row(key, cells))
        answers.append(Answer(frozenset(dims), "f", rows))
    return answers, threshold


@settings(max_examples=400, deadline=None)
@given(responses())
def test_no_suppressed_cell_can_be_recovered(response: tuple[list[Answer], int]) -> None:
    answers, threshold = response
    suppress(answers, threshold)
    for answer in answers:
        for row in answer.rows:
            for m in row.cells:  # primary: nothing from fewer youth than the threshold shown
                if not m.owned and (m.support or 0) < threshold:
                    assert m.suppressed
                if m.owned:
                    assert not m.suppressed
                    assert m.shown == m.value
                elif not m.suppressed:
                    assert m.shown is not None
                    assert m.shown % 5 == 0  # counts are shown rounded
    # Every total with its parts (one more dimension the metric adds up over), found here
    # independently of the engine: none or at least two suppressed, intervals wide enough.
    for parent, child in itertools.permutations(answers, 2):
        extra = child.dims - parent.dims
        if len(extra) != 1 or not parent.dims < child.dims:
            continue
        for total in parent.rows:
            parts = [r for r in child.rows if all(r.key[d] == v for d, v in total.key.items())]
            for j, cell in enumerate(total.cells):
                if not extra <= ADDITIVE[cell.metric]:
                    continue
                members = [cell, *(p.cells[j] for p in parts)]
                assert sum(m.value or 0 for m in members[1:]) == cell.value  # it is a total
                hidden = [m for m in members if m.suppressed]
                assert len(hidden) != 1
                if hidden:
                    _assert_intervals_wide_enough(members, threshold)


def _assert_intervals_wide_enough(members: list[Cell], threshold: int) -> None:
    """The interval of integers a suppressed count can take, given the visible (rounded)
    values of the same relation (a suppressed cell is any count >= 0 to whoever reads it)."""

    def bounds(m: Cell) -> tuple[float, float]:
        if not m.suppressed:
            slack = 0 if m.owned else 2  # rounded to a multiple of 5
            return max(0, (m.shown or 0) - slack), (m.shown or 0) + slack
        return 0, float("inf")

    total, parts = members[0], members[1:]
    for i, cell in enumerate(members):
        if not cell.suppressed:
            continue
        lo, hi = 0.0, float("inf")
        if cell is total:
            lo = sum(bounds(p)[0] for p in parts)
            hi = min(hi, sum(bounds(p)[1] for p in parts))
        else:
            t_lo, t_hi = bounds(total)
            others = [p for j, p in enumerate(parts, 1) if j != i]
            hi = min(hi, t_hi - sum(bounds(p)[0] for p in others))
            lo = max(lo, t_lo - sum(bounds(p)[1] for p in others))
        assert hi - lo + 1 >= threshold, (cell, members)
