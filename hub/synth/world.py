"""The simulated region as plain data: the product catalogue, providers, youth and their
care (referrals, assignments, care periods), GI measures, and the yearly figures the
simulation is calibrated to. No I/O and no randomness here: `hub.synth.market` makes the
providers, `hub.synth.simulation` the care, `hub.synth.claims` the monthly claims, and the
render modules write it all in each source's own format.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from hub.config import Municipality

if TYPE_CHECKING:
    from hub.synth.claims import Claim

# Procurement lots, as the provider register and the budgets name them.
AMBULANT, RESIDENTIAL, CRISIS, HSWV = "AMBULANT", "RESIDENTIAL", "CRISIS", "HSWV"
PROTECTION, PROBATION = "PROTECTION", "PROBATION"
JEUGDHULP_LOTS = (AMBULANT, RESIDENTIAL, CRISIS, HSWV)
GI_LOTS = (PROTECTION, PROBATION)
LOTS = JEUGDHULP_LOTS + GI_LOTS
DAY = timedelta(days=1)


# The CBS care type of a JZ020 product category (DOMAIN.md).
_RESIDENTIAL_CATEGORIES = frozenset(["35", "36", "37", "38", "43", "44"])
_AMBULANT_CATEGORIES = frozenset(
    ["31", "32", "33", "34", "40", "41", "42", "45", "51", "52", "53", "54"]
)


def care_type(category: str) -> str:
    if category in _RESIDENTIAL_CATEGORIES:
        return RESIDENTIAL
    if category in _AMBULANT_CATEGORIES:
        return AMBULANT
    return {"46": CRISIS, "47": PROBATION, "48": PROTECTION}.get(category, "OTHER")


@dataclass(frozen=True, slots=True)
class Product:
    lot: str
    code: str  # its first two digits are the JZ020 category
    unit: str  # WJ756: 04 hour, 14 etmaal, 16 dagdeel, 82 output, 84 effort
    rate: int  # cents per unit
    weight: int

    @property
    def category(self) -> str:
        return self.code[:2]

    @property
    def care_type(self) -> str:
        return care_type(self.category)


_PRODUCTS: dict[str, list[tuple[str, str, int, int]]] = {  # code, unit, rate, weight
    AMBULANT: [
        ("45A01", "04", 8_200, 30),
        ("45A02", "04", 10_800, 20),
        ("31A01", "04", 6_900, 8),
        ("32A01", "04", 9_600, 8),
        ("33A01", "16", 6_100, 5),
        ("34A01", "04", 8_400, 5),
        ("40A01", "04", 5_400, 3),
        ("41A01", "16", 9_900, 4),
        ("42A01", "84", 2_300, 2),
    ],
    RESIDENTIAL: [
        ("35A01", "14", 5_900, 30),
        ("36A01", "14", 18_500, 15),
        ("37A01", "14", 62_000, 3),
        ("38A01", "14", 34_000, 10),
        ("43A01", "14", 29_500, 20),
        ("44A01", "14", 19_800, 12),
    ],
    CRISIS: [("46A01", "14", 41_000, 1)],
    HSWV: [("54H01", "04", 14_500, 3), ("37H01", "14", 72_000, 2)],
    PROTECTION: [("48A01", "82", 128_000, 0), ("48A02", "82", 96_000, 0)],
    PROBATION: [("47A01", "82", 84_000, 0)],
}
CATALOGUE = {lot: tuple(Product(lot, *item) for item in items) for lot, items in _PRODUCTS.items()}
MEASURE_PRODUCTS = {"OTS": "48A01", "VOOGDIJ": "48A02", "JEUGDRECLASSERING": "47A01"}


@dataclass(frozen=True, slots=True)
class Provider:
    agb: str
    name: str
    lots: tuple[str, ...]  # in the order of LOTS
    weight: float
    contract_start: date
    claims_csv: bool = False  # sends its claims as CSV, not as JW323

    @property
    def is_gi(self) -> bool:
        return all(lot in GI_LOTS for lot in self.lots)


@dataclass(frozen=True, slots=True)
class Market:
    """The providers of the region and the two whose story the data tells: one in
    financial trouble towards the end of the window, one without new assignments in the
    last year or more of it."""

    providers: tuple[Provider, ...]
    troubled: Provider
    trouble_from: date
    dormant: Provider
    dormant_since: date
    first: date  # the window: first .. last; the data is as of `last`
    last: date

    def trouble(self, provider: Provider, day: date) -> float:
        """0 (fine) .. 1 (at the end of the window) for the provider in trouble."""
        if provider is not self.troubled or day <= self.trouble_from:
            return 0.0
        return min(
            1.0, (day - self.trouble_from).days / max(1, (self.last - self.trouble_from).days)
        )


@dataclass(frozen=True, slots=True)
class Youth:
    bsn: str
    birth: date
    gender: str  # COD046: 1 male, 2 female
    first_name: str
    surname: str
    house_number: int

    @property
    def adult(self) -> date:
        """The 18th birthday (29 February counts as 28 February)."""
        return date(self.birth.year + 18, self.birth.month, min(self.birth.day, 28))


@dataclass(frozen=True, slots=True)
class Referral:
    type: str  # COD327
    name: str | None
    agb: str | None  # ZorgverlenerCode


@dataclass(frozen=True, slots=True)
class Period:
    """One delivery period of an assignment: a start (JW305) and its stop (JW307). `end` is
    the real last day of care, possibly after the window; a message counts once it is sent
    on or before the day the data is as of."""

    begin: date
    end: date
    reason: str  # JZ588 reason of that end
    start_sent: date
    stop_sent: date


@dataclass(slots=True)
class Assignment:
    youth: Youth
    provider: Provider
    product: Product
    lot: str
    referral: Referral
    requested: date  # the request (JW315) of the provider
    assigned: date  # Toewijzingsdatum
    assigned_time: str
    start: date
    end: date
    volume: int
    frequency: str  # WMO757
    budget: int | None  # cents, for effort products
    weekly: int
    extension: bool  # continues the provider's previous assignment for the same care
    periods: list[Period] = field(default_factory=list)
    number: int = 0  # ToewijzingNummer, unique per municipality (set once all are known)
    reference: str = ""  # ReferentieAanbieder, unique per provider


@dataclass(slots=True)
class Measure:
    """A GI's measure: OTS, voogdij or jeugdreclassering."""

    ident: str  # the GI's own reference
    gi: Provider
    youth: Youth
    type: str  # OTS | VOOGDIJ | JEUGDRECLASSERING
    start: date
    end: date  # the real end, possibly after the window
    end_reason: str
    start_sent: date  # when the GI's system recorded the start, and the end
    stop_sent: date


@dataclass(slots=True)
class MunicipalityWorld:
    municipality: Municipality
    population: dict[int, int]  # youth aged 0-17 on 1 January, per year
    assignments: list[Assignment]
    measures: list[Measure]
    claims: list[Claim] = field(default_factory=list)
    # The value of the care delivered per (year, lot) in the window, in cents: what the
    # municipality pays when every claim is granted (budgets are set near it).
    spending: dict[tuple[int, str], int] = field(default_factory=dict)


@dataclass(slots=True)
class Registry:
    """What must stay unique across municipalities: BSNs and numbers per provider."""

    used_bsns: set[str] = field(default_factory=set)
    sequences: dict[str, int] = field(default_factory=dict)

    def next(self, key: str) -> int:
        self.sequences[key] = self.sequences.get(key, 0) + 1
        return self.sequences[key]


@dataclass(slots=True)
class Region:
    market: Market
    worlds: list[MunicipalityWorld]
    registry: Registry
    claims_seed: int
    scale: float

    @property
    def first(self) -> date:
        return self.market.first

    @property
    def last(self) -> date:
        return self.market.last


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def days(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high))


def month_end(day: date) -> date:
    nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return nxt - DAY


# --- figures to calibrate to --------------------------------------------------------------------


def _overlaps(begin: date, end: date, year: int) -> bool:
    return begin <= date(year, 12, 31) and end >= date(year, 1, 1)


def yearly_figures(region: Region, year: int) -> dict[str, float]:
    """The year's figures as CBS counts them: distinct youth with a jeugdhulp (ambulant,
    residential, crisis) care period overlapping the year, of whom with residence; youth
    with a protection or probation measure; started jeugdhulp trajectories that are repeat
    inflow (care in the five years before, with a day without care in between)."""
    counts = {"population": 0, "jeugdhulp": 0, "residential": 0, "protection": 0, "probation": 0}
    starts = repeats = 0
    for world in region.worlds:
        counts["population"] += world.population.get(year, 0)
        care: set[str] = set()
        residential: set[str] = set()
        periods: dict[str, list[tuple[date, date]]] = {}
        for a in world.assignments:
            kind = a.product.care_type
            if kind not in (AMBULANT, RESIDENTIAL, CRISIS):
                continue
            for p in a.periods:
                periods.setdefault(a.youth.bsn, []).append((p.begin, p.end))
                if _overlaps(p.begin, p.end, year):
                    care.add(a.youth.bsn)
                    if kind == RESIDENTIAL:
                        residential.add(a.youth.bsn)
        counts["jeugdhulp"] += len(care)
        counts["residential"] += len(residential)
        for m in world.measures:
            if _overlaps(m.start, m.end, year):
                counts["probation" if m.type == "JEUGDRECLASSERING" else "protection"] += 1
        for spans in periods.values():
            for begin, _ in spans:
                if begin.year != year:
                    continue
                if any(b < begin and e >= begin - DAY for b, e in spans):
                    continue  # continues care (a touching or overlapping period)
                starts += 1
                horizon = date(begin.year - 5, begin.month, min(begin.day, 28))
                repeats += any(b < begin and e >= horizon for b, e in spans)
    population = max(1.0, counts["population"] * region.scale)  # the youth simulated
    return {
        **{k: float(v) for k, v in counts.items()},
        "jeugdhulp_per_1000": 1000 * counts["jeugdhulp"] / population,
        "residential_share": counts["residential"] / max(1, counts["jeugdhulp"]),
        "protection_per_1000": 1000 * counts["protection"] / population,
        "probation_per_1000": 1000 * counts["probation"] / population,
        "repeat_inflow_share": repeats / max(1, starts),
    }


def months(begin: date, end: date) -> Iterator[date]:
    """The first day of every month from begin's month to end's month."""
    month = date(begin.year, begin.month, 1)
    while month <= end:
        yield month
        month = month_end(month) + DAY
