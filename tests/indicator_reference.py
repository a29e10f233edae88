"""An independent, plain-Python reference for `indicators` (docs/indicators.md) over a small
hand-made data set. No SQL and no hub code: the test loads the same rows through the real
adapters and compares the hub's answers with what this module computes.

The data set (`DATA`) has three municipalities of IJsselland (0193 Zwolle, 0150 Deventer,
0148 Dalfsen), three providers and 32 youth rows (31 persons: one youth moved from 0150 to
0193 and is a youth of each). It has overlapping and touching care periods, a temporary stop
(reason 20) with a restart after a gap and one without a gap, repeat inflow, dropouts (32-35),
residential, ambulant, crisis, protection (48), probation (47) and other (55) care, periods
across year and quarter boundaries, open periods, a care period without a product code (its
category comes from its assignment), an assignment whose care never started, referrals
with referrer types for some assignments, monthly claim lines (granted, rejected, submitted,
a credit with a rebill, a rejected credit, a claim for an unknown assignment), budgets per
lot (HSWV too) and youth population per year. All dates lie in 2023-2025.

Readings of docs/indicators.md where it leaves room (each is marked READING below):

- R1 "dates in the data" (the calendar periods shown, and the open end of a period): the
  trajectory starts and ends, claim product periods (every line, whatever its status) and
  assignment dates (assigned on, start, end) of the facts that the query counts: those that
  pass the filter's municipalities, providers, product categories and the counted care types.
  (In this data set every query of the test spans 2023-01-01 .. 2025-12-31 either way.)
- R2 rows of CARE_TYPE, PRODUCT_CATEGORY, PROVIDER and REFERRER_TYPE: the values of the
  trajectories, claim lines and assignments under the filter (from/to aside), crossed with
  the other dimensions. Rows whose cells are all empty (no youth behind any metric) may be
  left out or shown; rows of MUNICIPALITY and the calendar periods must all be there.
- R3 YOUTH_PER_1000 of an open period: population of the year of the latest date in the
  data (R1), not the latest year that has a population figure.
- R4 BUDGET_EUR: budgets count when the period overlaps their year, pro rata per day; an open
  period takes every budget year on its open side. Lots: the counted care types, plus HSWV
  only when the query neither groups by CARE_TYPE nor filters careTypes (a careTypes filter
  decides which care types count, and HSWV is none of them). Null when the query groups by
  PROVIDER, PRODUCT_CATEGORY or REFERRER_TYPE, and also when it filters providers or
  product categories (a budget is not per provider or category). With no budget row at all
  for the cell it is null; 0 is accepted there too. (The docs name only grouping for both
  points; these two were first read literally here, the hub reads them this way, and this
  reading is the one that makes BUDGET_UTILISATION meaningful.)
- R5 COST_EUR over no granted line is 0 (a sum of nothing); null is accepted too.
- R6 CLAIM_DELAY_DAYS uses every debit line (granted, rejected, submitted, credited).
- R7 WAITING_DAYS: "first care start" is the earliest start of the care periods delivering the
  assignment (same municipality and assignment number); an assignment without care period
  has not started and does not count. Its row: the assignment's own municipality, provider,
  product category (care type from it) and referrer type (its provider reference).
- R8 LONG_RUNNING_YOUTH: a youth's jeugdhulp trajectories (any provider, any jeugdhulp care
  type) chained by overlap or touch; the youth counts in a row when one of the row's
  trajectories covers the period's end and the chain covering that day started more than
  `long_running_years` calendar years before it (start + 2 years < end).
- R9 SWITCHING_YOUTH: window = the twelve months up to the period's end, [end - 12 months +
  1 day, end]; providers counted over the youth's jeugdhulp trajectories overlapping the
  window (any provider, whatever the row); the youth counts in a row when one of the row's
  trajectories overlaps the window. The open end of a period (R8, R9) is the latest date in
  the data (R1).
- R10 youth identity is (municipality, youth): the youth who moved counts once per
  municipality, also in rows over several municipalities (counts add up over municipalities).
- R11 rounding for cells not owned: half up (counts to a multiple of 5, shares to 2 decimals,
  days to whole days, COST_EUR to a multiple of 1000); YOUTH_PER_1000 = rounded count * 1000 /
  population, to `PER_1000_DECIMALS` (one) decimal;
  BUDGET_UTILISATION = exact cost / budget, then 2 decimals. BUDGET_EUR is public and shown
  exact to everyone (the rounding rule serves disclosure control, which budgets do not need).
- R12 a calendar period's end for R8/R9 and the population year is its span intersected with
  `to`.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

JEUGDHULP = frozenset({"AMBULANT", "RESIDENTIAL", "CRISIS"})
DROPOUT = frozenset({"32", "33", "34", "35"})
TIME_DIMS = ("YEAR", "QUARTER", "MONTH")
METRICS = (
    "YOUTH_IN_CARE",
    "TRAJECTORIES_STARTED",
    "TRAJECTORIES_ENDED",
    "AVERAGE_DURATION_DAYS",
    "RESIDENTIAL_SHARE",
    "YOUTH_PER_1000",
    "REPEAT_INFLOW_SHARE",
    "DROPOUT_SHARE",
    "COST_EUR",
    "BUDGET_EUR",
    "BUDGET_UTILISATION",
    "CLAIM_DELAY_DAYS",
    "WAITING_DAYS",
    "LONG_RUNNING_YOUTH",
    "SWITCHING_YOUTH",
)
COUNTS = frozenset(
    {
        "YOUTH_IN_CARE",
        "TRAJECTORIES_STARTED",
        "TRAJECTORIES_ENDED",
        "LONG_RUNNING_YOUTH",
        "SWITCHING_YOUTH",
    }
)
SHARES = frozenset(
    {"RESIDENTIAL_SHARE", "REPEAT_INFLOW_SHARE", "DROPOUT_SHARE", "BUDGET_UTILISATION"}
)
DAYS = frozenset({"AVERAGE_DURATION_DAYS", "CLAIM_DELAY_DAYS", "WAITING_DAYS"})
EUROS = frozenset({"COST_EUR"})
# YOUTH_PER_1000 of a cell not owned: decimals it is rounded to after computing it from the
# rounded count; None: not rounded. docs/indicators.md says nothing of it (READING R11).
PER_1000_DECIMALS: int | None = 1  # docs/indicators.md: one decimal
# GraphQL field of each dimension in a row.
FIELD = {
    "MUNICIPALITY": "municipality",
    "YEAR": "year",
    "QUARTER": "quarter",
    "MONTH": "month",
    "CARE_TYPE": "careType",
    "PRODUCT_CATEGORY": "productCategory",
    "PROVIDER": "provider",
    "REFERRER_TYPE": "referrerType",
}
ROW_FIELDS = tuple(FIELD.values())


def care_type(category: str | None) -> str:
    """JZ020 category -> care type (docs/indicators.md); no category is OTHER."""
    if category in {"35", "36", "37", "38", "43", "44"}:
        return "RESIDENTIAL"
    if category in {"31", "32", "33", "34", "40", "41", "42", "45", "51", "52", "53", "54"}:
        return "AMBULANT"
    return {"46": "CRISIS", "47": "PROBATION", "48": "PROTECTION"}.get(category or "", "OTHER")


def month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def add_years(d: date, years: int) -> date:
    day = min(d.day, calendar.monthrange(d.year + years, d.month)[1])
    return date(d.year + years, d.month, day)


def minus_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _overlaps(start: date, end: date | None, ps: date | None, pe: date | None) -> bool:
    return (pe is None or start <= pe) and (ps is None or end is None or end >= ps)


def _within(d: date | None, ps: date | None, pe: date | None) -> bool:
    return d is not None and (ps is None or d >= ps) and (pe is None or d <= pe)


# -- the data set ----------------------------------------------------------------------------

PA, PB, PC = "12345678", "23456789", "34567890"
FIRST, LAST = date(2023, 1, 1), date(2025, 12, 31)


def D(text: str) -> date:  # noqa: N802 - reads like a literal
    return date.fromisoformat(text)


@dataclass(frozen=True)
class Youth:
    key: str
    municipality: str
    bsn: str
    birth: date
    gender: str


@dataclass(frozen=True)
class Assignment:
    number: str
    youth: str  # Youth.key
    provider: str
    code: str
    assigned_on: date
    start: date
    end: date | None
    budget_cents: int | None = None
    reference: str | None = None  # provider_reference, matched by a referral


@dataclass(frozen=True)
class Referral:
    youth: str
    provider: str
    reference: str
    referrer_type: str
    code: str
    requested_start: date


@dataclass(frozen=True)
class CarePeriod:
    number: str  # its assignment
    start: date
    end: date | None
    reason: str | None
    coded: bool = True  # False: the export has no product code (category of the assignment)


@dataclass(frozen=True)
class Claim:
    municipality: str
    youth: str
    provider: str
    reference: str
    previous_reference: str | None
    number: str  # assignment number
    code: str
    period_start: date
    period_end: date
    volume: int
    amount_cents: int
    debit_credit: str
    claim_number: str
    claim_date: date
    status: str  # as delivered: GRANTED, REJECTED, SUBMITTED
    retourcodes: str = ""

    @property
    def category(self) -> str:
        return self.code[:2]


@dataclass(frozen=True)
class Budget:
    municipality: str
    year: int
    lot: str
    amount_euros: int


@dataclass
class Dataset:
    youth: list[Youth]
    assignments: list[Assignment]
    referrals: list[Referral]
    periods: list[CarePeriod]
    claims: list[Claim]
    budgets: list[Budget]
    population: dict[tuple[str, int], int]  # ingested (municipality, year) -> youth 0-17
    by_key: dict[str, Youth] = field(init=False)
    by_number: dict[tuple[str, str], Assignment] = field(init=False)

    def __post_init__(self) -> None:
        self.by_key = {y.key: y for y in self.youth}
        self.by_number = {
            (self.by_key[a.youth].municipality, a.number): a for a in self.assignments
        }


def _bsn(i: int) -> str:
    return str(999_900_006 + i)  # the test range, exempt from the elfproef


_Y = [
    # key, municipality, person
    ("Y01", "0193", 1), ("Y02", "0193", 2), ("Y03", "0193", 3), ("Y04", "0193", 4),
    ("Y05", "0193", 5), ("Y06", "0193", 6), ("Y07", "0193", 7), ("Y08", "0193", 8),
    ("Y09", "0193", 9), ("Y10", "0193", 10), ("Y11", "0193", 11), ("Y12", "0193", 12),
    ("Y13", "0193", 13), ("Y14", "0193", 14), ("Y15", "0193", 15), ("Y16", "0193", 16),
    ("Y21", "0150", 14),  # the same person as Y14: moved from Deventer to Zwolle
    ("Y22", "0150", 22), ("Y23", "0150", 23), ("Y24", "0150", 24), ("Y25", "0150", 25),
    ("Y26", "0150", 26), ("Y27", "0150", 27), ("Y28", "0150", 28), ("Y29", "0150", 29),
    ("Y30", "0150", 30),
    ("Y31", "0148", 31), ("Y32", "0148", 32), ("Y33", "0148", 33), ("Y34", "0148", 34),
    ("Y35", "0148", 35), ("Y36", "0148", 36),
]  # fmt: skip

_A = [
    # number, youth, provider, code, assigned on, start, end, budget (euros), provider ref
    ("A-01", "Y01", PA, "45A01", "2023-01-01", "2023-01-01", "2024-03-31", 12000, "R01"),
    ("A-02", "Y02", PA, "35A01", "2023-03-01", "2023-03-15", "2023-09-30", 30000, "R02"),
    ("A-03", "Y03", PB, "45A01", "2023-01-20", "2023-02-01", "2024-06-30", 9000, "R03"),
    ("A-04", "Y04", PB, "46A01", "2023-11-20", "2023-11-20", "2023-12-05", None, None),
    ("A-05", "Y04", PA, "43A01", "2023-11-28", "2023-12-06", None, 60000, "R05"),
    ("A-06", "Y05", PA, "45A01", "2023-12-15", "2024-01-10", "2024-05-31", 5000, None),
    ("A-07", "Y05", PA, "41A01", "2024-03-20", "2024-04-01", "2024-09-30", 4000, "R07"),
    ("A-08", "Y06", PC, "48A01", "2023-04-15", "2023-05-01", "2024-10-31", None, "R08"),
    ("A-09", "Y06", PC, "45A01", "2024-01-15", "2024-02-01", "2024-07-31", 6000, None),
    ("A-10", "Y07", PA, "45A01", "2023-03-10", "2023-04-01", "2023-06-30", 3000, "R10"),
    ("A-11", "Y07", PB, "45A01", "2024-07-01", "2024-07-15", None, 8000, "R11"),
    ("A-12", "Y08", PA, "45A01", "2023-12-01", "2024-01-01", "2024-06-30", 4000, "R12"),
    ("A-13", "Y08", PB, "45A01", "2024-03-15", "2024-03-21", "2024-12-31", 4000, None),
    ("A-14", "Y08", PC, "54A01", "2024-06-20", "2024-07-01", "2024-12-31", 7000, None),
    ("A-15", "Y09", PC, "36A01", "2023-01-05", "2023-01-15", None, 90000, "R15"),
    ("A-16", "Y10", PA, "45A01", "2025-01-10", "2025-02-01", "2025-12-31", 11000, "R16"),
    ("A-17", "Y11", PB, "45A01", "2024-06-01", "2024-06-15", "2024-12-31", 3000, None),
    ("A-18", "Y12", PA, "35A01", "2024-08-15", "2024-09-01", "2025-03-31", 40000, "R18"),
    ("A-19", "Y12", PA, "45A01", "2025-03-15", "2025-04-01", None, 6000, None),
    ("A-20", "Y13", PB, "51A01", "2023-05-20", "2023-06-01", "2023-12-31", 5000, None),
    ("A-21", "Y13", PB, "51A01", "2025-05-01", "2025-06-01", "2025-09-30", 5000, "R21"),
    ("A-22", "Y14", PB, "45A01", "2024-12-10", "2025-01-01", None, 7000, None),
    ("A-23", "Y15", PC, "55A01", "2024-02-15", "2024-03-01", "2024-05-31", None, None),
    ("A-24", "Y16", PA, "45A01", "2025-11-01", "2025-12-01", "2025-12-31", 2000, "R24"),
    ("B-01", "Y21", PB, "45A01", "2023-04-10", "2023-05-01", "2024-12-31", 15000, "S01"),
    ("B-02", "Y22", PA, "45A01", "2023-01-02", "2023-01-10", None, 8000, None),
    ("B-03", "Y23", PA, "45A01", "2023-02-15", "2023-03-01", "2023-09-30", 6000, "S03"),
    ("B-04", "Y23", PA, "45A01", "2024-01-05", "2024-01-15", "2024-04-30", 4000, None),
    ("B-05", "Y24", PB, "37A01", "2023-06-15", "2023-07-01", "2025-12-31", 150000, "S05"),
    ("B-06", "Y25", PC, "46A01", "2024-02-01", "2024-02-01", "2024-02-10", None, None),
    ("B-07", "Y26", PA, "45A01", "2024-02-10", "2024-03-01", None, 9000, "S07"),
    ("B-08", "Y27", PC, "47A01", "2023-08-20", "2023-09-01", "2024-08-31", None, None),
    ("B-09", "Y28", PB, "45A01", "2024-11-01", "2024-11-15", "2025-02-15", 3000, None),
    ("B-10", "Y29", PA, "35A01", "2024-12-01", "2025-01-01", "2025-10-31", 50000, "S10"),
    ("B-11", "Y30", PC, "45A01", "2023-05-15", "2023-06-01", "2023-07-20", 2000, None),
    ("B-12", "Y30", PA, "45A01", "2023-07-10", "2023-07-21", "2024-01-31", 5000, None),
    ("B-13", "Y30", PB, "45A01", "2024-01-20", "2024-02-01", "2024-05-31", 4000, None),
    ("C-01", "Y31", PA, "45A01", "2023-01-20", "2023-02-01", None, 10000, None),
    ("C-02", "Y32", PA, "45A01", "2023-03-25", "2023-04-01", "2023-04-30", 1000, None),
    ("C-03", "Y33", PB, "35A01", "2024-04-15", "2024-05-01", None, 80000, "T03"),
    ("C-04", "Y34", PB, "45A01", "2024-04-20", "2024-05-01", "2024-10-31", 5000, None),
    ("C-05", "Y35", PC, "45A01", "2025-02-10", "2025-03-01", "2025-05-31", 3000, None),
    ("C-06", "Y36", PA, "48A01", "2023-12-20", "2024-01-01", "2025-06-30", None, None),
]

# provider reference -> referrer type (COD327). R12 and R24 have no referral: unknown.
_R = {
    "R01": "02", "R02": "01", "R03": "04", "R05": "08", "R07": "02", "R08": "04",
    "R10": "02", "R11": "01", "R15": "01", "R16": "06", "R18": "02", "R21": "02",
    "S01": "02", "S03": "01", "S05": "04", "S07": "02", "S10": "08", "T03": "04",
}  # fmt: skip

_P = [
    # assignment, start, end, reason[, coded]
    ("A-01", "2023-01-01", "2023-06-30", "37"),  # touches the next: one trajectory
    ("A-01", "2023-07-01", "2024-03-31", "31"),
    ("A-02", "2023-03-15", "2023-05-10", "33"),  # residential dropout
    ("A-03", "2023-02-01", "2023-08-31", "20"),  # temporary stop ...
    ("A-03", "2023-10-01", "2024-06-30", "31"),  # ... restart after a gap: repeat inflow
    ("A-04", "2023-11-20", "2023-12-05", "31"),  # crisis, then residential the next day
    ("A-05", "2023-12-06", None, None),
    ("A-06", "2024-01-10", "2024-05-31", "31"),  # overlaps the next (category 41 of A-07)
    ("A-07", "2024-04-01", "2024-09-30", "35", False),  # no product code in the export
    ("A-08", "2023-05-01", "2024-10-31", "31"),  # protection
    ("A-09", "2024-02-01", "2024-07-31", "32"),
    ("A-10", "2023-04-01", "2023-06-30", "31"),
    ("A-11", "2024-08-01", None, None),  # repeat inflow at another provider
    ("A-12", "2024-01-01", "2024-03-20", "34"),  # three providers within a year
    ("A-13", "2024-03-21", "2024-06-30", "38"),
    ("A-14", "2024-07-01", "2024-12-31", "31"),
    ("A-15", "2023-01-15", None, None),  # residential, long-running from 2025-01-15
    ("A-16", "2025-02-01", "2025-12-31", "31", False),
    ("A-17", "2024-06-15", "2024-08-15", "32"),
    ("A-18", "2024-09-01", "2025-03-31", "31"),
    ("A-19", "2025-04-01", None, None),
    ("A-20", "2023-06-01", "2023-12-31", "31"),
    ("A-21", "2025-06-01", "2025-09-30", "31"),  # repeat inflow
    ("A-22", "2025-01-01", None, None),
    ("A-23", "2024-03-01", "2024-05-31", "31"),  # other (55)
    ("B-01", "2023-05-01", "2024-12-31", "31"),
    ("B-02", "2023-01-10", None, None),  # long-running from 2025-01-10
    ("B-03", "2023-03-01", "2023-09-30", "35"),
    ("B-04", "2024-01-15", "2024-04-30", "31"),  # repeat inflow
    ("B-05", "2023-07-01", "2025-12-31", "31"),  # two years on 2025-06-30: not more
    ("B-06", "2024-02-01", "2024-02-10", "31"),
    ("B-07", "2024-03-01", None, None),
    ("B-08", "2023-09-01", "2024-08-31", "31"),  # probation
    ("B-09", "2024-11-15", "2025-02-15", "33"),
    ("B-10", "2025-01-01", "2025-10-31", "34"),
    ("B-11", "2023-06-01", "2023-07-20", "38"),
    ("B-12", "2023-07-21", "2024-01-31", "38"),
    ("B-13", "2024-02-01", "2024-05-31", "31"),
    ("C-01", "2023-02-01", None, None),
    ("C-02", "2023-04-01", "2023-04-30", "32"),
    ("C-03", "2024-05-01", None, None),
    ("C-04", "2024-05-01", "2024-07-31", "20"),  # temporary stop, restart the next day
    ("C-04", "2024-08-01", "2024-10-31", "31"),
    ("C-05", "2025-03-01", "2025-05-31", "31"),
    ("C-06", "2024-01-01", "2025-06-30", "31"),  # protection
]

# cents per day claimed, by care type
_RATE = {
    "AMBULANT": 9000,
    "RESIDENTIAL": 25000,
    "CRISIS": 40000,
    "PROTECTION": 5000,
    "PROBATION": 4000,
    "OTHER": 3000,
}
# euros per day budgeted: (municipality, lot) -> rate; a year's budget is rate * its days
_BUDGET_RATE = {
    ("0193", "AMBULANT"): 400,
    ("0193", "RESIDENTIAL"): 300,
    ("0193", "CRISIS"): 40,
    ("0193", "HSWV"): 50,
    ("0193", "PROTECTION"): 30,
    ("0150", "AMBULANT"): 300,
    ("0150", "RESIDENTIAL"): 200,
    ("0150", "CRISIS"): 30,
    ("0150", "PROBATION"): 20,
    ("0148", "AMBULANT"): 120,
    ("0148", "RESIDENTIAL"): 80,
    ("0148", "PROTECTION"): 15,
}
_POPULATION = {
    ("0193", 2023): 27_600, ("0193", 2024): 27_700, ("0193", 2025): 27_850,
    ("0150", 2023): 20_400, ("0150", 2024): 20_450, ("0150", 2025): 20_550,
    ("0148", 2023): 6_450, ("0148", 2024): 6_480, ("0148", 2025): 6_520,
}  # fmt: skip


def _claims(youth: dict[str, Youth], assignments: dict[str, Assignment]) -> list[Claim]:
    """A debit line per care period and calendar month, claimed 3-42 days after the month;
    claims dated in December 2025 are not answered yet (SUBMITTED); every 9th line is
    rejected. Then a credit with its rebill, a rejected credit, and a claim for an unknown
    assignment."""
    lines: list[Claim] = []
    seq = 0
    for p in _periods():
        a = assignments[p.number]
        y = youth[a.youth]
        end = p.end or LAST
        month = date(p.start.year, p.start.month, 1)
        while month <= end:
            ps, pe = max(month, p.start), min(month_end(month), end)
            month = month_end(month) + timedelta(days=1)
            seq += 1
            claimed = pe + timedelta(days=3 + (seq * 11) % 40)
            if claimed > LAST:
                break
            days = (pe - ps).days + 1
            status = "SUBMITTED" if claimed >= date(2025, 12, 1) else "GRANTED"
            rejected = status == "GRANTED" and seq % 9 == 0
            lines.append(
                Claim(
                    y.municipality, y.key, a.provider, f"{a.number}-{ps:%Y%m%d}", None,
                    a.number, a.code, ps, pe, days, days * _RATE[care_type(a.code[:2])], "D",
                    f"{claimed:%Y%m%d}", claimed, "REJECTED" if rejected else status,
                    "0611" if rejected else "",
                )
            )  # fmt: skip
    by_ref = {c.reference: c for c in lines}
    # A credit of a granted line and its rebill, both granted: the rebill counts, not the
    # original.
    original = by_ref["A-01-20230501"]
    assert original.status == "GRANTED"
    later = original.claim_date + timedelta(days=30)
    answer = {"claim_number": f"{later:%Y%m%d}", "claim_date": later, "status": "GRANTED"}
    lines.append(
        replace(original, reference="A-01-20230501-C", previous_reference=original.reference,
                debit_credit="C", **answer)
    )  # fmt: skip
    lines.append(
        replace(original, reference="A-01-20230501-R",
                amount_cents=original.amount_cents + 50_000, **answer)
    )  # fmt: skip
    # A credit that was rejected cancels nothing: the original stays granted.
    kept = by_ref["B-02-20230601"]
    assert kept.status == "GRANTED"
    later = kept.claim_date + timedelta(days=20)
    lines.append(
        replace(kept, reference="B-02-20230601-C", previous_reference=kept.reference,
                debit_credit="C", claim_number=f"{later:%Y%m%d}", claim_date=later,
                status="REJECTED", retourcodes="0621")
    )  # fmt: skip
    # A claim for an assignment the municipality does not know: stored, unlinked, counted.
    lines.append(
        replace(kept, reference="X-404-20231101", number="X-404",
                period_start=date(2023, 11, 1), period_end=date(2023, 11, 30), volume=30,
                amount_cents=30 * 9000, claim_number="20231212", claim_date=date(2023, 12, 12))
    )  # fmt: skip
    return lines


def _periods() -> list[CarePeriod]:
    return [
        CarePeriod(p[0], D(p[1]), D(p[2]) if p[2] else None, p[3], *p[4:])  # type: ignore[arg-type]
        for p in _P
    ]


def build() -> Dataset:
    youth = [
        Youth(k, m, _bsn(i), date(2008 + i % 9, 1 + i % 12, 1), str(1 + i % 2)) for k, m, i in _Y
    ]
    by_key = {y.key: y for y in youth}
    assignments = [
        Assignment(n, y, p, c, D(on), D(s), D(e) if e else None, b * 100 if b else None, ref)
        for n, y, p, c, on, s, e, b, ref in _A
    ]
    by_number = {a.number: a for a in assignments}
    referrals = [
        Referral(a.youth, a.provider, a.reference, _R[a.reference], a.code, a.assigned_on)
        for a in assignments
        if a.reference in _R
    ]
    budgets = [
        Budget(m, year, lot, rate * (366 if calendar.isleap(year) else 365))
        for (m, lot), rate in _BUDGET_RATE.items()
        for year in (2023, 2024, 2025)
    ]
    return Dataset(
        youth,
        assignments,
        referrals,
        _periods(),
        _claims(by_key, by_number),
        budgets,
        dict(_POPULATION),
    )


DATA = build()


# -- CSV files through the adapters ----------------------------------------------------------


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else str(v) for v in r])
    return out.getvalue()


def _columns(names: str) -> list[str]:
    return names.split()


@dataclass(frozen=True)
class SourceFile:
    source_id: str
    adapter: str
    owner: str | None
    options: dict[str, Any]
    name: str
    text: str


def source_files(data: Dataset) -> list[SourceFile]:
    """The data set as the files of its sources, in load order: per municipality referrals,
    assignments and care periods (CSV exports), per provider its claims (claims CSV), then
    budgets and population (reference data)."""
    files: list[SourceFile] = []
    youth = _columns("municipality bsn birth_date gender provider_agb")

    def person(key: str) -> list[Any]:
        y = data.by_key[key]
        return [y.municipality, y.bsn, y.birth.isoformat(), y.gender]

    for m in sorted({y.municipality for y in data.youth}):
        referrals = [r for r in data.referrals if data.by_key[r.youth].municipality == m]
        assignments = [a for a in data.assignments if data.by_key[a.youth].municipality == m]
        numbers = {a.number: a for a in assignments}
        periods = [(p, numbers[p.number]) for p in data.periods if p.number in numbers]
        files += [
            SourceFile(f"ref-referral-{m}", "csv", m, {"kind": "referral"}, f"referrals-{m}.csv",
                       _csv([*youth, *_columns("provider_reference referrer_type product_code "
                                              "requested_start")],
                            [[*person(r.youth), r.provider, r.reference, r.referrer_type, r.code,
                              r.requested_start] for r in referrals])),
            SourceFile(f"ref-assignment-{m}", "csv", m, {"kind": "assignment"},
                       f"assignments-{m}.csv",
                       _csv([*youth, *_columns("assignment_number provider_reference "
                                              "product_code assigned_on start end budget")],
                            [[*person(a.youth), a.provider, a.number, a.reference, a.code,
                              a.assigned_on, a.start, a.end, a.budget_cents]
                             for a in assignments])),
            SourceFile(f"ref-care-{m}", "csv", m, {"kind": "care_period"}, f"periods-{m}.csv",
                       _csv([*youth, *_columns("assignment_number product_code start end "
                                              "end_reason")],
                            [[*person(a.youth), a.provider, a.number,
                              a.code if p.coded else None, p.start, p.end, p.reason]
                             for p, a in periods])),
        ]  # fmt: skip
    claim_columns = _columns(
        "municipality bsn provider_agb reference previous_reference assignment_number "
        "product_code period_start period_end volume unit amount debit_credit claim_number "
        "claim_date status retourcodes"
    )
    for agb in sorted({c.provider for c in data.claims}):
        files.append(
            SourceFile(f"ref-claims-{agb}", "claims-csv", agb, {"money": "cents"},
                       f"claims-{agb}.csv",
                       _csv(claim_columns,
                            [[c.municipality, data.by_key[c.youth].bsn, c.provider, c.reference,
                              c.previous_reference, c.number, c.code, c.period_start,
                              c.period_end, c.volume, "14", c.amount_cents, c.debit_credit,
                              c.claim_number, c.claim_date, c.status, c.retourcodes]
                             for c in data.claims if c.provider == agb]))
        )  # fmt: skip
    files += [
        SourceFile("ref-budget", "reference", "region", {"kind": "budget", "money": "euros"},
                   "budgets.csv",
                   _csv(["municipality", "year", "lot", "amount"],
                        [[b.municipality, b.year, b.lot, b.amount_euros] for b in data.budgets])),
        SourceFile("ref-population", "reference", "region", {"kind": "population"},
                   "population.csv",
                   _csv(["municipality", "year", "youth_0_17"],
                        [[m, y, n] for (m, y), n in sorted(data.population.items())])),
    ]  # fmt: skip
    return files


# -- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trajectory:
    municipality: str
    youth: str
    provider: str
    care_type: str
    product_category: str | None
    referrer_type: str | None
    start: date
    end: date | None
    end_reason: str | None
    repeat_inflow: bool
    first_assignment: str

    @property
    def who(self) -> tuple[str, str]:
        return (self.municipality, self.youth)


@dataclass(frozen=True)
class Filter:
    municipalities: tuple[str, ...] | None = None
    from_: date | None = None
    to: date | None = None
    care_types: tuple[str, ...] | None = None
    product_categories: tuple[str, ...] | None = None
    providers: tuple[str, ...] | None = None

    def graphql(self) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for name, key in (
            ("municipalities", "municipalities"),
            ("care_types", "careTypes"),
            ("product_categories", "productCategories"),
            ("providers", "providers"),
        ):
            value = getattr(self, name)
            if value is not None:
                out[key] = list(value)
        if self.from_:
            out["from"] = self.from_.isoformat()
        if self.to:
            out["to"] = self.to.isoformat()
        return out or None


@dataclass(frozen=True)
class Row:
    key: tuple[tuple[str, Any], ...]  # (GraphQL field, value) of every filled field
    values: dict[str, Any]  # dimension -> value (YEAR, QUARTER, MONTH as ints)
    period: tuple[date | None, date | None]

    def get(self, dim: str) -> Any:
        return self.values[dim]


@dataclass(frozen=True)
class Cell:
    value: Fraction | int | None
    support: int | None  # youth it is computed from; None: never suppressed (budgets)


def _median(values: list[int]) -> Fraction | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return Fraction(s[mid]) if len(s) % 2 else Fraction(s[mid - 1] + s[mid], 2)


@dataclass(frozen=True)
class _Fact:
    """What places a trajectory, claim line or assignment in a row."""

    municipality: str
    provider: str
    category: str | None
    care_type: str
    referrer_type: str | None
    dates: tuple[date, ...]


class Model:
    def __init__(
        self, data: Dataset, region: dict[str, dict[int, int]], long_running_years: int = 2
    ) -> None:
        """`region`: municipality code -> {year: youth 0-17} of the region file; ingested
        population overrides it per year."""
        self.data = data
        self.region = sorted(region)
        self.population = {(m, y): n for m, years in region.items() for y, n in years.items()}
        self.population.update(data.population)
        self.long_running_years = long_running_years
        self.referrer = {
            (data.by_key[r.youth].municipality, r.provider, r.reference): r.referrer_type
            for r in data.referrals
        }
        self.trajectories = self._trajectories()
        self.status = self._claim_status()

    # -- derivations

    def assignment_referrer(self, municipality: str, number: str) -> str | None:
        a = self.data.by_number.get((municipality, number))
        if a is None or a.reference is None:
            return None
        return self.referrer.get((municipality, a.provider, a.reference))

    def period_category(self, municipality: str, p: CarePeriod) -> str | None:
        """Its own product category, else its assignment's. (A coded period carries its
        assignment's product code in this data set, so both are the assignment's.)"""
        return self.data.by_number[(municipality, p.number)].code[:2]

    def _trajectories(self) -> list[Trajectory]:
        groups: dict[tuple[str, str, str, str], list[tuple[CarePeriod, str | None]]] = {}
        for m in sorted({y.municipality for y in self.data.youth}):
            for p in self.data.periods:
                a = self.data.by_number.get((m, p.number))
                if a is None:
                    continue
                category = self.period_category(m, p)
                key = (m, a.youth, a.provider, care_type(category))
                groups.setdefault(key, []).append((p, category))
        merged: list[dict[str, Any]] = []
        for (m, youth, provider, ctype), periods in groups.items():
            periods.sort(key=lambda pc: pc[0].start)
            current: list[tuple[CarePeriod, str | None]] = []
            end_so_far: date | None = None
            for p, category in periods:
                if current and (end_so_far is None or p.start <= end_so_far + timedelta(days=1)):
                    current.append((p, category))
                    end_so_far = (
                        None if end_so_far is None or p.end is None else max(end_so_far, p.end)
                    )
                else:
                    if current:
                        merged.append(self._one(m, youth, provider, ctype, current))
                    current, end_so_far = [(p, category)], p.end
            merged.append(self._one(m, youth, provider, ctype, current))
        result = []
        for t in merged:
            result.append(Trajectory(**t, repeat_inflow=self._repeat(t, merged)))
        return sorted(result, key=lambda t: (t.municipality, t.youth, t.start, t.provider))

    def _one(
        self,
        m: str,
        youth: str,
        provider: str,
        ctype: str,
        periods: list[tuple[CarePeriod, str | None]],
    ) -> dict[str, Any]:
        first, category = periods[0]
        is_open = any(p.end is None for p, _ in periods)
        last = max(periods, key=lambda pc: pc[0].end or date.max)[0]
        return {
            "municipality": m,
            "youth": youth,
            "provider": provider,
            "care_type": ctype,
            "product_category": category,
            "referrer_type": self.assignment_referrer(m, first.number),
            "start": first.start,
            "end": None if is_open else last.end,
            "end_reason": None if is_open else last.reason,
            "first_assignment": first.number,
        }

    @staticmethod
    def _repeat(t: dict[str, Any], all_: list[dict[str, Any]]) -> bool:
        if t["care_type"] not in JEUGDHULP:
            return False
        mine = [
            o
            for o in all_
            if o is not t
            and (o["municipality"], o["youth"]) == (t["municipality"], t["youth"])
            and o["care_type"] in JEUGDHULP
        ]
        start = t["start"]
        before = add_years(start, -5)
        had = any(o["start"] < start and (o["end"] is None or o["end"] >= before) for o in mine)
        day = start - timedelta(days=1)
        covered = any(o["start"] <= day and (o["end"] is None or o["end"] >= day) for o in mine)
        return had and not covered

    def _claim_status(self) -> dict[tuple[str, str, str], str]:
        """The outcome of every claim line: CREDIT, CREDITED (a credit line that was not
        rejected names it), REJECTED, GRANTED, SUBMITTED."""
        credits = {
            (c.municipality, c.provider, c.previous_reference)
            for c in self.data.claims
            if c.debit_credit == "C" and c.status != "REJECTED"
        }
        status = {}
        for c in self.data.claims:
            key = (c.municipality, c.provider, c.reference)
            if c.status == "REJECTED":
                status[key] = "REJECTED"
            elif c.debit_credit == "C":
                status[key] = "CREDIT"
            elif key in credits:
                status[key] = "CREDITED"
            else:
                status[key] = c.status
        return status

    # -- facts, counted care types, rows

    def _trajectory_facts(self) -> list[tuple[Trajectory, _Fact]]:
        return [
            (
                t,
                _Fact(
                    t.municipality,
                    t.provider,
                    t.product_category,
                    t.care_type,
                    t.referrer_type,
                    tuple(d for d in (t.start, t.end) if d is not None),
                ),
            )
            for t in self.trajectories
        ]

    def _claim_facts(self) -> list[tuple[Claim, _Fact]]:
        return [
            (
                c,
                _Fact(
                    c.municipality,
                    c.provider,
                    c.category,
                    care_type(c.category),
                    self.assignment_referrer(c.municipality, c.number),
                    (c.period_start, c.period_end),
                ),
            )
            for c in self.data.claims
        ]

    def _assignment_facts(self) -> list[tuple[Assignment, _Fact]]:
        out = []
        for a in self.data.assignments:
            m = self.data.by_key[a.youth].municipality
            category = a.code[:2]
            dates = tuple(d for d in (a.assigned_on, a.start, a.end) if d is not None)
            out.append(
                (
                    a,
                    _Fact(
                        m,
                        a.provider,
                        category,
                        care_type(category),
                        self.assignment_referrer(m, a.number),
                        dates,
                    ),
                )
            )
        return out

    def _all_facts(self) -> list[_Fact]:
        return [
            *(f for _, f in self._trajectory_facts()),
            *(f for _, f in self._claim_facts()),
            *(f for _, f in self._assignment_facts()),
        ]

    @staticmethod
    def counted_types(group_by: Sequence[str], f: Filter, row: Row | None) -> frozenset[str]:
        if "CARE_TYPE" in group_by and row is not None:
            types = {row.get("CARE_TYPE")}
            return frozenset(types & set(f.care_types) if f.care_types else types)
        if f.care_types:
            return frozenset(f.care_types)
        if "CARE_TYPE" in group_by:
            return frozenset(
                {"AMBULANT", "RESIDENTIAL", "CRISIS", "PROTECTION", "PROBATION", "OTHER"}
            )
        return JEUGDHULP

    def municipalities(self, f: Filter) -> list[str]:
        if f.municipalities is not None:
            return [m for m in self.region if m in f.municipalities]
        return list(self.region)

    def _passes(self, fact: _Fact, group_by: Sequence[str], f: Filter, row: Row | None) -> bool:
        """The fact passes the filter (from/to aside) and, given a row, belongs to it."""
        if fact.municipality not in self.municipalities(f):
            return False
        if f.providers is not None and fact.provider not in f.providers:
            return False
        if f.product_categories is not None and fact.category not in f.product_categories:
            return False
        if fact.care_type not in self.counted_types(group_by, f, row):
            return False
        if row is None:
            return True
        pairs = (
            ("MUNICIPALITY", fact.municipality),
            ("CARE_TYPE", fact.care_type),
            ("PRODUCT_CATEGORY", fact.category),
            ("PROVIDER", fact.provider),
            ("REFERRER_TYPE", fact.referrer_type),
        )
        return all(row.get(dim) == value for dim, value in pairs if dim in group_by)

    def data_range(self, group_by: Sequence[str], f: Filter) -> tuple[date, date] | None:
        """READING R1: earliest and latest date of the facts the query counts."""
        dates = [
            d
            for fact in self._all_facts()
            if self._passes(fact, group_by, f, None)
            for d in fact.dates
        ]
        return (min(dates), max(dates)) if dates else None

    def periods(
        self, group_by: Sequence[str], f: Filter
    ) -> list[tuple[dict[str, int], tuple[date | None, date | None]]]:
        """The calendar periods of the rows, each with its span intersected with from/to."""
        unit = next((d for d in ("MONTH", "QUARTER", "YEAR") if d in group_by), None)
        if unit is None:
            return [({}, (f.from_, f.to))]
        span = self.data_range(group_by, f)
        lo = f.from_ or (span[0] if span else None)
        hi = f.to or (span[1] if span else None)
        if lo is None or hi is None or lo > hi:
            return []
        out = []
        if unit == "YEAR":
            cursor = date(lo.year, 1, 1)
        elif unit == "QUARTER":
            cursor = date(lo.year, 3 * ((lo.month - 1) // 3) + 1, 1)
        else:
            cursor = date(lo.year, lo.month, 1)
        while cursor <= hi:
            if unit == "YEAR":
                end = date(cursor.year, 12, 31)
                label = {"YEAR": cursor.year}
            elif unit == "QUARTER":
                end = month_end(date(cursor.year, cursor.month + 2, 1))
                label = {"YEAR": cursor.year, "QUARTER": (cursor.month - 1) // 3 + 1}
            else:
                end = month_end(cursor)
                label = {"YEAR": cursor.year, "MONTH": cursor.month}
            ps = max(cursor, f.from_) if f.from_ else cursor
            pe = min(end, f.to) if f.to else end
            out.append((label, (ps, pe)))
            cursor = end + timedelta(days=1)
        return out

    def rows(self, group_by: Sequence[str], f: Filter) -> list[Row]:
        """Every row the answer is expected to have (READING R2: values of the facts under
        the filter for the dimensions other than MUNICIPALITY and time)."""
        axes: list[tuple[str, list[Any]]] = []
        facts = [fact for fact in self._all_facts() if self._passes(fact, group_by, f, None)]
        for dim in group_by:
            if dim in TIME_DIMS:
                continue
            if dim == "MUNICIPALITY":
                values: list[Any] = list(self.municipalities(f))
            else:
                attr = {
                    "CARE_TYPE": "care_type",
                    "PRODUCT_CATEGORY": "category",
                    "PROVIDER": "provider",
                    "REFERRER_TYPE": "referrer_type",
                }[dim]
                values = sorted({getattr(x, attr) for x in facts}, key=lambda v: (v is None, v))
            axes.append((dim, values))
        combos: list[dict[str, Any]] = [{}]
        for dim, values in axes:
            combos = [{**c, dim: v} for c in combos for v in values]
        rows = []
        for label, period in self.periods(group_by, f):
            for combo in combos:
                rows.append(self.row(group_by, {**combo, **label}, period))
        return rows

    @staticmethod
    def row(group_by: Sequence[str], values: dict[str, Any], period: Any) -> Row:
        filled = dict(values)
        key = tuple((FIELD[d], filled.get(d)) for d in FIELD if d in filled)
        return Row(key, filled, period)

    def row_for(self, group_by: Sequence[str], f: Filter, answer: dict[str, Any]) -> Row:
        """The model's row for a row of the hub's answer (to compute cells the model's own
        row list leaves out)."""
        values: dict[str, Any] = {}
        for dim in group_by:
            values[dim] = answer[FIELD[dim]]
        if "MONTH" in group_by or "QUARTER" in group_by:
            values["YEAR"] = answer["year"]
        period: tuple[date | None, date | None] = (f.from_, f.to)
        if "MONTH" in group_by:
            y, mo = answer["year"], answer["month"]
            period = (date(y, mo, 1), month_end(date(y, mo, 1)))
        elif "QUARTER" in group_by:
            y, q = answer["year"], answer["quarter"]
            period = (date(y, 3 * q - 2, 1), month_end(date(y, 3 * q, 1)))
        elif "YEAR" in group_by:
            period = (date(answer["year"], 1, 1), date(answer["year"], 12, 31))
        if any(d in group_by for d in TIME_DIMS):
            ps, pe = period
            assert ps is not None
            assert pe is not None
            period = (max(ps, f.from_) if f.from_ else ps, min(pe, f.to) if f.to else pe)
        return self.row(group_by, values, period)

    # -- metrics

    def cell(self, metric: str, group_by: Sequence[str], f: Filter, row: Row) -> Cell:
        return getattr(self, f"_m_{metric.lower()}")(group_by, f, row)  # type: ignore[no-any-return]

    def _trajs(self, group_by: Sequence[str], f: Filter, row: Row) -> list[Trajectory]:
        return [t for t, fact in self._trajectory_facts() if self._passes(fact, group_by, f, row)]

    def _open_end(self, group_by: Sequence[str], f: Filter, row: Row) -> date | None:
        """The period's end; an open end is the latest date in the data (R1, R8, R9)."""
        pe = row.period[1]
        if pe is not None:
            return pe
        span = self.data_range(group_by, f)
        return span[1] if span else None

    def _in_care(self, group_by: Sequence[str], f: Filter, row: Row) -> list[Trajectory]:
        ps, pe = row.period
        return [t for t in self._trajs(group_by, f, row) if _overlaps(t.start, t.end, ps, pe)]

    def _started(self, group_by: Sequence[str], f: Filter, row: Row) -> list[Trajectory]:
        ps, pe = row.period
        return [t for t in self._trajs(group_by, f, row) if _within(t.start, ps, pe)]

    def _ended(self, group_by: Sequence[str], f: Filter, row: Row) -> list[Trajectory]:
        ps, pe = row.period
        return [t for t in self._trajs(group_by, f, row) if _within(t.end, ps, pe)]

    @staticmethod
    def _youth(items: Iterable[Trajectory]) -> set[tuple[str, str]]:
        return {t.who for t in items}

    def _m_youth_in_care(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        n = len(self._youth(self._in_care(g, f, row)))
        return Cell(n, n)

    def _m_trajectories_started(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        ts = self._started(g, f, row)
        return Cell(len(ts), len(self._youth(ts)))

    def _m_trajectories_ended(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        ts = self._ended(g, f, row)
        return Cell(len(ts), len(self._youth(ts)))

    def _m_average_duration_days(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        ts = self._ended(g, f, row)
        if not ts:
            return Cell(None, 0)
        total = sum((t.end - t.start).days + 1 for t in ts if t.end)
        return Cell(Fraction(total, len(ts)), len(self._youth(ts)))

    def _m_residential_share(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        ts = self._in_care(g, f, row)
        youth = self._youth(ts)
        if not youth:
            return Cell(None, 0)
        residential = self._youth(t for t in ts if t.care_type == "RESIDENTIAL")
        return Cell(Fraction(len(residential), len(youth)), len(youth))

    def population_of(self, g: Sequence[str], f: Filter, row: Row) -> int | None:
        pe = row.period[1]
        if pe is None:  # READING R3
            span = self.data_range(g, f)
            if span is None:
                return None
            year = span[1].year
        else:
            year = pe.year
        codes = [row.get("MUNICIPALITY")] if "MUNICIPALITY" in g else self.municipalities(f)
        counts = [self.population.get((m, year)) for m in codes]
        if any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None)

    def _m_youth_per_1000(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        n = len(self._youth(self._in_care(g, f, row)))
        population = self.population_of(g, f, row)
        if not population:
            return Cell(None, n)
        return Cell(Fraction(n * 1000, population), n)

    def _m_repeat_inflow_share(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        ts = self._started(g, f, row)
        if not ts:
            return Cell(None, 0)
        return Cell(Fraction(sum(t.repeat_inflow for t in ts), len(ts)), len(self._youth(ts)))

    def _m_dropout_share(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        ts = self._ended(g, f, row)
        if not ts:
            return Cell(None, 0)
        return Cell(
            Fraction(sum(t.end_reason in DROPOUT for t in ts), len(ts)), len(self._youth(ts))
        )

    def _claims(self, g: Sequence[str], f: Filter, row: Row) -> list[Claim]:
        ps, pe = row.period
        return [
            c
            for c, fact in self._claim_facts()
            if self._passes(fact, g, f, row) and _within(c.period_start, ps, pe)
        ]

    def _granted(self, g: Sequence[str], f: Filter, row: Row) -> list[Claim]:
        return [
            c
            for c in self._claims(g, f, row)
            if self.status[(c.municipality, c.provider, c.reference)] == "GRANTED"
        ]

    def _m_cost_eur(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        lines = self._granted(g, f, row)
        who = {(c.municipality, c.youth) for c in lines}
        return Cell(Fraction(sum(c.amount_cents for c in lines), 100), len(who))

    def _m_budget_eur(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        """READING R4."""
        if any(d in g for d in ("PROVIDER", "PRODUCT_CATEGORY", "REFERRER_TYPE")):
            return Cell(None, None)
        if f.providers is not None or f.product_categories is not None:
            return Cell(None, None)
        lots = set(self.counted_types(g, f, row))
        if "CARE_TYPE" not in g and not f.care_types:
            lots.add("HSWV")
        codes = [row.get("MUNICIPALITY")] if "MUNICIPALITY" in g else self.municipalities(f)
        ps, pe = row.period
        total, found = Fraction(0), False
        for b in self.data.budgets:
            if b.municipality not in codes or b.lot not in lots:
                continue
            y0, y1 = date(b.year, 1, 1), date(b.year, 12, 31)
            lo = max(y0, ps) if ps else y0
            hi = min(y1, pe) if pe else y1
            if lo > hi:
                continue
            found = True
            days_in_year = (y1 - y0).days + 1
            total += Fraction(b.amount_euros * ((hi - lo).days + 1), days_in_year)
        return Cell(total if found else None, None)

    def _m_budget_utilisation(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        cost = self._m_cost_eur(g, f, row)
        budget = self._m_budget_eur(g, f, row).value
        if not budget:
            return Cell(None, cost.support)
        assert cost.value is not None
        return Cell(Fraction(cost.value) / Fraction(budget), cost.support)

    def _m_claim_delay_days(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        """READING R6: every debit line."""
        lines = [c for c in self._claims(g, f, row) if c.debit_credit == "D"]
        who = {(c.municipality, c.youth) for c in lines}
        return Cell(_median([(c.claim_date - c.period_end).days for c in lines]), len(who))

    def first_care_start(self, municipality: str, number: str) -> date | None:
        if (municipality, number) not in self.data.by_number:
            return None
        # assignment numbers are unique across the data set's municipalities
        starts = [p.start for p in self.data.periods if p.number == number]
        return min(starts) if starts else None

    def _m_waiting_days(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        """READING R7."""
        ps, pe = row.period
        waits, who = [], set()
        for a, fact in self._assignment_facts():
            if not self._passes(fact, g, f, row):
                continue
            started = self.first_care_start(fact.municipality, a.number)
            if started is None or not _within(started, ps, pe):
                continue
            waits.append((started - a.assigned_on).days)
            who.add((fact.municipality, a.youth))
        return Cell(_median(waits), len(who))

    def _jeugdhulp_of(self, who: tuple[str, str]) -> list[Trajectory]:
        return [t for t in self.trajectories if t.who == who and t.care_type in JEUGDHULP]

    def chain_start(self, who: tuple[str, str], day: date) -> date | None:
        """The start of the youth's uninterrupted jeugdhulp (chained by overlap or touch)
        that covers `day`; None when not in jeugdhulp that day."""
        ts = sorted(self._jeugdhulp_of(who), key=lambda t: t.start)
        start: date | None = None
        end: date | None = None
        for t in ts:
            if t.start > day:
                break
            if start is None or (end is not None and t.start > end + timedelta(days=1)):
                start, end = t.start, t.end
            elif end is not None:
                end = None if t.end is None else max(end, t.end)
        if start is None or (end is not None and end < day):
            return None
        return start

    def _m_long_running_youth(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        """READING R8."""
        day = self._open_end(g, f, row)
        if day is None:
            return Cell(0, 0)
        who = set()
        for t in self._trajs(g, f, row):
            if not _overlaps(t.start, t.end, day, day):
                continue
            start = self.chain_start(t.who, day)
            if start is not None and add_years(start, self.long_running_years) < day:
                who.add(t.who)
        return Cell(len(who), len(who))

    def _m_switching_youth(self, g: Sequence[str], f: Filter, row: Row) -> Cell:
        """READING R9."""
        day = self._open_end(g, f, row)
        if day is None:
            return Cell(0, 0)
        since = minus_months(day, 12) + timedelta(days=1)
        who = set()
        for t in self._trajs(g, f, row):
            if not _overlaps(t.start, t.end, since, day):
                continue
            providers = {
                o.provider
                for o in self._jeugdhulp_of(t.who)
                if _overlaps(o.start, o.end, since, day)
            }
            if len(providers) >= 3:
                who.add(t.who)
        return Cell(len(who), len(who))


# -- rounding of cells not owned (READING R11) --------------------------------------------------


def _half_up(x: Fraction, unit: Fraction) -> Fraction:
    """x rounded to a multiple of unit, halves away from zero (all values are >= 0)."""
    q = x / unit
    return (q + Fraction(1, 2)).__floor__() * unit


def shown(metric: str, cell: Cell, count: Cell | None = None, population: int | None = None) -> Any:
    """The value a caller who does not own the cell sees, when it is not suppressed."""
    v = cell.value
    if v is None:
        return None
    x = Fraction(v)
    if metric in COUNTS:
        return int(_half_up(x, Fraction(5)))
    if metric in SHARES:
        return _half_up(x, Fraction(1, 100))
    if metric in DAYS:
        return int(_half_up(x, Fraction(1)))
    if metric in EUROS:
        return int(_half_up(x, Fraction(1000)))
    if metric == "BUDGET_EUR":
        return x
    if metric == "YOUTH_PER_1000":
        assert count is not None
        assert count.value is not None
        assert population
        per_1000 = Fraction(int(_half_up(Fraction(count.value), Fraction(5))) * 1000, population)
        if PER_1000_DECIMALS is None:
            return per_1000
        return _half_up(per_1000, Fraction(1, 10**PER_1000_DECIMALS))
    raise AssertionError(metric)
