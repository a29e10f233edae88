"""The simulated region as plain data: providers, youth, assignments with their care
periods, and monthly claims. No I/O; `hub.synth.ijw` renders it as iJw 3.2 messages.

Calibration (DOMAIN.md): about 10% of the youth aged 0-17 get care in a year, mostly
ambulant, some residential, few crisis, about a tenth youth protection or probation."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from hub.config import Municipality
from hub.pseudonym import TEST_RANGE, elfproef

CARE_SHARE = 0.10  # youth with care in a year, per youth aged 0-17
REJECT_SHARE = 0.03  # claim lines rejected in the JW325
CORRECTION_SHARE = 0.08  # claims followed by a credit-and-rebill correction


@dataclass(frozen=True, slots=True)
class Product:
    lot: str  # ambulant, residential, crisis, gi
    code: str  # its first two digits are the JZ020 category
    unit: str  # WJ756: 04 hour, 14 etmaal, 16 dagdeel, 82 output, 84 effort
    rate: int  # cents per unit
    weight: int

    @property
    def category(self) -> str:
        return self.code[:2]


_PRODUCTS = {  # code, unit, rate, weight; 48A01 OTS, 48A02 voogdij, 47A01 jeugdreclassering
    "ambulant": [
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
    "residential": [
        ("35A01", "14", 5_900, 30),
        ("36A01", "14", 18_500, 15),
        ("37A01", "14", 62_000, 3),
        ("38A01", "14", 34_000, 10),
        ("43A01", "14", 29_500, 20),
        ("44A01", "14", 19_800, 12),
    ],
    "crisis": [("46A01", "14", 41_000, 1)],
    "gi": [("48A01", "82", 128_000, 8), ("48A02", "82", 96_000, 3), ("47A01", "82", 84_000, 3)],
}
CATALOGUE = tuple(Product(lot, *item) for lot, items in _PRODUCTS.items() for item in items)
LOT_MIX = {"ambulant": 80, "residential": 8, "crisis": 3, "gi": 9}
DURATION = {
    "ambulant": (42, 365, 150),
    "residential": (90, 730, 300),
    "crisis": (5, 42, 14),
    "gi": (180, 540, 365),
}  # days: low, high, mode
AGE = {"ambulant": (0, 17), "residential": (4, 17), "crisis": (8, 17), "gi": (0, 17)}
WEEKLY = {"04": (1, 4), "16": (2, 6), "84": (4, 10)}  # planned units per week
END_REASONS = {"31": 60, "20": 10, "32": 5, "33": 4, "34": 6, "35": 3, "38": 6, "36": 2, "39": 2}
REFERRERS = {"01": 46, "02": 34, "03": 8, "04": 4, "06": 6, "08": 2}
GI_REFERRERS = {"04": 75, "08": 25}
REJECT_CODES = {"0611": 3, "9321": 3, "9322": 2, "9369": 2, "8187": 1}
SURNAMES = (
    "Jansen",
    "de Vries",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Dijk",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Kok",
    "van der Linden",
    "Schouten",
)
FIRST_NAMES = (
    "Noah",
    "Emma",
    "Liam",
    "Julia",
    "Luca",
    "Mila",
    "Sem",
    "Tess",
    "Finn",
    "Sophie",
    "Daan",
    "Zoë",
    "Levi",
    "Nora",
    "Milan",
    "Sara",
    "Bram",
    "Anna",
    "Jesse",
    "Evi",
)
PROVIDER_NAMES = (
    "Horizon",
    "Het Kompas",
    "De Brug",
    "Het Anker",
    "Vlinder",
    "De Linde",
    "Sterrenhuis",
    "De Eik",
    "Wegwijzer",
    "De Haven",
    "Zonnestraal",
    "Kiem",
    "De Vonk",
    "Samen Sterk",
    "Het Baken",
    "Groeikracht",
    "De Boog",
    "Opstap",
    "Lichtpunt",
    "Kleurrijk",
)


@dataclass(frozen=True, slots=True)
class Provider:
    agb: str
    name: str
    lots: frozenset[str]
    weight: float


@dataclass(frozen=True, slots=True)
class Youth:
    bsn: str
    birth: date
    gender: str  # COD046: 1 male, 2 female
    first_name: str
    surname: str
    house_number: int


@dataclass(frozen=True, slots=True)
class Referral:
    type: str  # COD327
    name: str | None
    agb: str | None


@dataclass(frozen=True, slots=True)
class Period:
    """One delivery period of an assignment: a JW305 and, when ended in the window, a JW307."""

    begin: date
    end: date  # the real last day of care, possibly after the window
    reason: str  # JZ588 reason of that end
    start_sent: date
    stop_sent: date | None  # None: no JW307 (care continues past the window)


@dataclass(slots=True)
class Assignment:
    number: int  # ToewijzingNummer, unique per municipality
    reference: str  # ReferentieAanbieder, unique per provider
    youth: Youth
    provider: Provider
    product: Product
    referral: Referral
    requested: date  # JW315 dagtekening
    assigned: date  # Toewijzingsdatum, JW301 dagtekening
    assigned_time: str
    start: date
    end: date
    volume: int
    frequency: str  # WMO757
    budget: int | None  # cents, ambulant only
    weekly: int
    periods: list[Period] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Line:
    """One Prestatie of a JW323."""

    reference: str  # ReferentieNummer, unique per provider
    previous: str | None  # VorigReferentieNummer
    assignment: Assignment
    begin: date
    end: date
    volume: int
    credit: bool
    retour: tuple[str, ...]  # WJ001 codes in the JW325; empty: granted

    @property
    def amount(self) -> int:
        return self.volume * self.assignment.product.rate

    @property
    def signed(self) -> int:
        return -self.amount if self.credit else self.amount


@dataclass(frozen=True, slots=True)
class Claim:
    number: str  # DeclaratieNummer
    provider: Provider
    begin: date
    end: date
    sent: date
    answered: date
    lines: list[Line]


@dataclass(slots=True)
class MunicipalityWorld:
    municipality: Municipality
    assignments: list[Assignment]
    claims: list[Claim]


@dataclass(slots=True)
class Registry:
    """What must stay unique across municipalities: BSNs and per-provider numbers."""

    used_bsns: set[str] = field(default_factory=set)
    provider_seq: dict[str, int] = field(default_factory=dict)

    def next(self, agb: str) -> int:
        self.provider_seq[agb] = self.provider_seq.get(agb, 0) + 1
        return self.provider_seq[agb]


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _days(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high))


def month_end(day: date) -> date:
    nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def make_providers(rng: random.Random, count: int = 20) -> list[Provider]:
    lots: list[frozenset[str]] = (
        [frozenset({"gi"})] * 2
        + [frozenset({"crisis", "residential"})] * 2
        + [frozenset({"residential", "ambulant"})] * 4
        + [frozenset({"ambulant"})] * (count - 8)
    )
    agbs = sorted(rng.sample(range(10**6, 10**7), count))
    names = rng.sample(PROVIDER_NAMES, count)
    kinds = {"gi": "Jeugdbescherming", "crisis": "Jeugdzorg", "residential": "Jeugdzorg"}
    return [
        Provider(
            f"9{agb}",
            f"{kinds.get(min(lot), 'Jeugdhulp')} {name} (fictief)",
            lot,
            round(rng.uniform(0.5, 2.5) ** 2, 3),
        )
        for agb, name, lot in zip(agbs, names, lots, strict=True)
    ]


def make_bsn(rng: random.Random, used: set[str]) -> str:
    """A BSN passing the elfproef, outside the test range, not used before."""
    while True:
        digits = [rng.randint(1, 6)] + [rng.randrange(10) for _ in range(7)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        bsn = "".join(map(str, digits)) + str(check)
        if (
            check < 10
            and bsn not in used
            and elfproef(bsn)
            and not (TEST_RANGE[0] <= int(bsn) <= TEST_RANGE[1])
        ):
            used.add(bsn)
            return bsn


class _Municipal:
    """Simulates one municipality over the window [first, last] (plus a warm-up year whose
    care still running at the window start is kept, with its earlier messages)."""

    def __init__(
        self,
        muni: Municipality,
        providers: list[Provider],
        rng: random.Random,
        *,
        registry: Registry,
        first: date,
        last: date,
        scale: float,
    ) -> None:
        self.muni, self.rng, self.registry = muni, rng, registry
        self.first, self.last, self.scale = first, last, scale
        self.providers = [p for p in providers if rng.random() < 0.85]
        for lot in LOT_MIX:  # every lot needs at least one provider
            if not any(lot in p.lots for p in self.providers):
                self.providers.append(
                    max((p for p in providers if lot in p.lots), key=lambda p: p.weight)
                )
        self.gps = [f"0199{rng.randrange(10**4):04d}" for _ in range(12)]
        self.numbers = 10_000
        self.assignments: list[Assignment] = []

    def population(self, year: int) -> int:
        known = self.muni.youth_population
        if not known:
            return 0
        return known.get(year) or known[min(known, key=lambda y: abs(y - year))]

    def run(self) -> MunicipalityWorld:
        mean_days = sum(LOT_MIX[lot] * sum(DURATION[lot]) / 3 for lot in LOT_MIX) / 100
        for year in range(self.first.year - 1, self.last.year + 1):
            starts = CARE_SHARE * self.population(year) * self.scale / (0.95 + mean_days / 365)
            count = int(starts) + (self.rng.random() < starts % 1)
            for _ in range(count):
                requested = date(year, 1, 1) + _days(self.rng, 0, 364)
                self.arrival(requested)
        self.assignments.sort(key=lambda a: a.number)
        return MunicipalityWorld(self.muni, self.assignments, self.claims())

    def arrival(self, requested: date) -> None:
        lot = _pick(self.rng, LOT_MIX)
        low, high = AGE[lot]
        age_days = self.rng.randint(low * 365, high * 365 + 364)
        youth = Youth(
            make_bsn(self.rng, self.registry.used_bsns),
            requested - timedelta(days=age_days),
            self.rng.choice("12"),
            self.rng.choice(FIRST_NAMES),
            self.rng.choice(SURNAMES),
            self.rng.randint(1, 250),
        )
        self.assign(youth, lot, requested, previous=None)

    def assign(
        self,
        youth: Youth,
        lot: str,
        requested: date,
        previous: Provider | None,
        start: date | None = None,
    ) -> None:
        rng = self.rng
        products = [p for p in CATALOGUE if p.lot == lot]
        product = rng.choices(products, weights=[p.weight for p in products])[0]
        candidates = [p for p in self.providers if lot in p.lots and p != previous]
        provider = rng.choices(candidates, weights=[p.weight for p in candidates])[0]
        assigned = requested + _days(rng, 2, 10)
        start = start or assigned + _days(rng, 0, 7)
        low, high, mode = DURATION[lot]
        end = start + timedelta(days=int(rng.triangular(low, high, mode)))
        weekly = rng.randint(*WEEKLY.get(product.unit, (1, 1)))
        if product.unit == "14":
            volume, frequency, budget = 1, "1", None
        elif product.unit == "82":
            volume, frequency, budget = 1, "4", None
        else:
            volume = math.ceil(weekly * ((end - start).days + 1) / 7)
            frequency, budget = "6", volume * product.rate
        self.numbers += 1
        a = Assignment(
            self.numbers,
            f"RA{provider.agb}{self.registry.next(provider.agb):06d}",
            youth,
            provider,
            product,
            self.referral(lot),
            requested,
            assigned,
            f"{rng.randint(8, 16):02d}:{rng.randrange(60):02d}:00",
            start,
            end,
            volume,
            frequency,
            budget,
            weekly,
        )
        switch = self.deliver(a, allow_switch=previous is None and len(candidates) > 1)
        if a.assigned <= self.last and (not a.periods or a.periods[-1].end >= self.first):
            self.assignments.append(a)
        if switch and switch < self.last:  # reason 38: the youth moves to another provider
            self.assign(
                youth, lot, switch - _days(rng, 14, 21), a.provider, switch + timedelta(days=1)
            )

    def referral(self, lot: str) -> Referral:
        kind = _pick(self.rng, GI_REFERRERS if lot == "gi" else REFERRERS)
        names = {
            "01": f"Toegang {self.muni.name}",
            "03": "JGZ IJsselland",
            "04": "Gecertificeerde Instelling (fictief)",
            "08": "Rechtbank Overijssel",
        }
        agb = self.rng.choice(self.gps) if kind == "02" else None
        return Referral(kind, names.get(kind), agb)

    def deliver(self, a: Assignment, *, allow_switch: bool) -> date | None:
        """Fill the care periods; return the last day of care when the youth switches."""
        rng = self.rng
        reasons = (
            dict(END_REASONS)
            if allow_switch
            else {k: v for k, v in END_REASONS.items() if k != "38"}
        )
        reason = _pick(rng, reasons)
        begin = a.start + _days(rng, 0, min(10, (a.end - a.start).days // 3))
        span = (a.end - begin).days
        pause = begin + timedelta(days=int(span * rng.uniform(0.2, 0.5)))
        restart = pause + _days(rng, 14, 56)  # a temporary stop, then a new start
        if reason == "20" and restart + timedelta(days=14) < a.end:
            self.period(a, begin, pause, "20")
            begin, reason = restart, "31"
        if reason in ("31", "20"):
            self.period(a, begin, max(begin, a.end - _days(rng, 0, 7)), "31")
            return None
        stop = begin + timedelta(days=int((a.end - begin).days * rng.uniform(0.2, 0.8)))
        self.period(a, begin, stop, reason)
        return stop if reason == "38" else None

    def period(self, a: Assignment, begin: date, end: date, reason: str) -> None:
        if begin > self.last:
            return
        stop_sent = end + _days(self.rng, 0, 4) if end <= self.last else None
        a.periods.append(Period(begin, end, reason, begin + _days(self.rng, 0, 4), stop_sent))

    def claims(self) -> list[Claim]:
        claimed: dict[int, int] = {}
        result: list[Claim] = []
        month = self.first
        while month <= self.last:
            end = month_end(month)
            lines: dict[str, list[tuple[Assignment, int]]] = {}
            for a in self.assignments:
                days = sum(
                    max(0, (min(p.end, end) - max(p.begin, month)).days + 1) for p in a.periods
                )
                volume = self.volume(a, days, claimed)
                if volume:
                    lines.setdefault(a.provider.agb, []).append((a, volume))
            for agb in sorted(lines):
                result.extend(self.claim(month, end, lines[agb]))
            month = end + timedelta(days=1)
        return result

    def volume(self, a: Assignment, days: int, claimed: dict[int, int]) -> int:
        unit = a.product.unit
        if days == 0 or unit in ("14", "82"):
            return days if unit == "14" else min(days, 1)
        wanted = max(1, round(a.weekly * days / 7 * self.rng.uniform(0.6, 1.0)))
        volume = min(wanted, a.volume - claimed.get(a.number, 0))
        claimed[a.number] = claimed.get(a.number, 0) + volume
        return volume

    def claim(self, begin: date, end: date, items: list[tuple[Assignment, int]]) -> list[Claim]:
        rng, provider = self.rng, items[0][0].provider
        sent = end + _days(rng, 2, 20)
        lines = [
            Line(
                self.ref(provider),
                None,
                a,
                max(begin, a.start),
                min(end, a.end),
                vol,
                False,
                (_pick(rng, REJECT_CODES),) if rng.random() < REJECT_SHARE else (),
            )
            for a, vol in sorted(items, key=lambda item: (item[0].youth.bsn, item[0].number))
        ]
        number = f"D{self.muni.code}{begin:%y%m}"
        claims = [Claim(number + "00", provider, begin, end, sent, sent + _days(rng, 3, 12), lines)]
        granted = [line for line in lines if not line.retour]
        if granted and rng.random() < CORRECTION_SHARE:
            fixed = []
            for old in sorted(
                rng.sample(granted, min(len(granted), rng.randint(1, 2))),
                key=lambda line: line.reference,
            ):
                fixed.append(
                    Line(
                        self.ref(provider),
                        old.reference,
                        old.assignment,
                        old.begin,
                        old.end,
                        old.volume,
                        True,
                        (),
                    )
                )
                fixed.append(
                    Line(
                        self.ref(provider),
                        old.reference,
                        old.assignment,
                        old.begin,
                        old.end,
                        max(1, old.volume - 1),
                        False,
                        (),
                    )
                )
            fixed.sort(key=lambda line: (line.assignment.youth.bsn, line.reference))
            resent = sent + _days(rng, 20, 45)
            claims.append(
                Claim(
                    number + "01", provider, begin, end, resent, resent + _days(rng, 3, 12), fixed
                )
            )
        return claims

    def ref(self, provider: Provider) -> str:
        return f"P{provider.agb}{self.registry.next(provider.agb + '/line'):08d}"


def simulate(
    region: list[Municipality], *, seed: int, first_year: int, last_year: int, scale: float
) -> list[MunicipalityWorld]:
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data, not security
    providers = make_providers(rng)
    registry = Registry()
    first, last = date(first_year, 1, 1), date(last_year, 12, 31)
    worlds = []
    for muni in region:
        sub = random.Random(rng.getrandbits(64))  # noqa: S311 -- one stream per municipality
        worlds.append(
            _Municipal(
                muni, providers, sub, registry=registry, first=first, last=last, scale=scale
            ).run()
        )
    return worlds
