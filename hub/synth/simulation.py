"""The simulation: per municipality, from warm-up years to the end of the window, youth
arrive with a need for care (or a GI measure), get referred, assigned, wait, receive care
in one or more periods, switch provider, drop out, turn 18, and some come back.

Calibration (DOMAIN.md, IJsselland 2019): per year about 12% of the youth aged 0-17 have
jeugdhulp (13,555 of about 113,000), about 13% of them with residence; about 1,410 youth
protection and 245 youth probation. Care that runs at the start of the window comes from
warm-up years: simulated like the window, kept only where it reaches into the window.

Everything is decided by `random.Random` streams derived from the seed, in a fixed order.
"""

from __future__ import annotations

import math
import random
from collections import deque
from datetime import date, timedelta

from hub.config import Municipality
from hub.pseudonym import TEST_RANGE, elfproef
from hub.synth.market import make_market, populations
from hub.synth.world import (
    AMBULANT,
    CATALOGUE,
    CRISIS,
    DAY,
    GI_LOTS,
    HSWV,
    LOTS,
    MEASURE_PRODUCTS,
    PROBATION,
    PROTECTION,
    RESIDENTIAL,
    Assignment,
    Market,
    Measure,
    MunicipalityWorld,
    Period,
    Product,
    Provider,
    Referral,
    Region,
    Registry,
    Youth,
    days,
    pick,
)

WARMUP_YEARS = 8  # simulated before the window: running care, repeat inflow
# New jeugdhulp episodes, youth protection and probation measures per youth aged 0-17 per
# year; tuned so that `yearly_figures` matches DOMAIN.md (see tests/test_synth.py).
CARE_RATE = 0.0485
PROTECTION_RATE = 0.0032
PROBATION_RATE = 0.00122
RETURN_SHARE = 0.40  # ended trajectories whose youth comes back within five years
MAX_ASSIGNMENT_DAYS = {AMBULANT: 365, RESIDENTIAL: 365, CRISIS: 91, HSWV: 365}
LOT_MIX = {AMBULANT: 828, RESIDENTIAL: 82, CRISIS: 75, HSWV: 15}  # of new episodes
GI_CARE = {"OTS": 0.65, "VOOGDIJ": 0.5, "JEUGDRECLASSERING": 0.3}  # share also in jeugdhulp
GI_CARE_MIX = {AMBULANT: 62, RESIDENTIAL: 38}
WEEKLY = {"04": (1, 4), "16": (2, 6), "84": (4, 10)}  # planned units per week
END_REASONS = {"31": 62, "32": 6, "33": 3, "34": 7, "35": 3, "36": 2, "38": 7, "39": 3}
MEASURE_ENDS = {"VERLOPEN": 55, "OPGEHEVEN": 30, "OVERGEDRAGEN": 15}
REFERRERS = {"01": 46, "02": 32, "03": 8, "05": 6, "06": 6, "08": 2}
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
# Referring professionals: some names carry an ë, so a file's encoding matters.
REFERRER_NAMES = (
    "Daniëls",
    "Noël",
    "Jansen",
    "Michiels",
    "Roëll",
    "Mulder",
    "Citroën",
    "Bakker",
    "Raphaël",
    "Smit",
    "Hendriks",
    "van Dijk",
    "Visser",
    "Israël",
)


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


# --- one municipality --------------------------------------------------------------------------


class _Municipal:
    """Simulates one municipality from the warm-up years to the end of the window."""

    def __init__(
        self,
        muni: Municipality,
        market: Market,
        rng: random.Random,
        *,
        registry: Registry,
        population: dict[int, int],
        scale: float,
    ) -> None:
        self.muni, self.market, self.rng, self.registry = muni, market, rng, registry
        self.population, self.scale = population, scale
        self.first, self.last = market.first, market.last
        chosen = [
            p
            for p in market.providers
            if p.is_gi or p is market.troubled or p.claims_csv or rng.random() < 0.85
        ]
        self.pool: dict[str, tuple[list[Provider], list[float]]] = {}
        for lot in LOTS:
            candidates = [p for p in chosen if lot in p.lots] or [
                p for p in market.providers if lot in p.lots
            ]
            cumulative, total = [], 0.0
            for p in candidates:
                total += p.weight
                cumulative.append(total)
            self.pool[lot] = (candidates, cumulative)
        self.gps = [
            (f"01{rng.randrange(10**6):06d}", f"Huisartsenpraktijk {rng.choice(REFERRER_NAMES)}")
            for _ in range(12)
        ]
        self.assignments: list[Assignment] = []
        self.measures: list[Measure] = []
        self.queue: deque[tuple[str, date, Youth | None, Provider | None]] = deque()

    # -- the run

    def run(self) -> MunicipalityWorld:
        rng = self.rng
        for year in range(self.first.year - WARMUP_YEARS, self.last.year + 1):
            simulated = self.population.get(year, 0) * self.scale
            for kind, rate in (
                ("care", CARE_RATE),
                ("protection", PROTECTION_RATE),
                ("probation", PROBATION_RATE),
            ):
                expected = rate * simulated
                for _ in range(int(expected) + (rng.random() < expected % 1)):
                    self.queue.append((kind, date(year, 1, 1) + days(rng, 0, 364), None, None))
        while self.queue:
            kind, day, youth, gi = self.queue.popleft()
            if day > self.last:
                continue
            if kind == "care":
                self.episode(day, youth, gi)
            else:
                self.measure(kind, day)
        self.number()
        return MunicipalityWorld(self.muni, self.population, self.assignments, self.measures)

    def number(self) -> None:
        """ToewijzingNummers in the order of assignment; references per provider."""
        self.assignments.sort(key=lambda a: (a.assigned, a.assigned_time))
        for i, a in enumerate(self.assignments):
            a.number = 100_001 + i
        for a in sorted(self.assignments, key=lambda a: (a.requested, a.number)):
            a.reference = f"RA{a.provider.agb}{self.registry.next(a.provider.agb):07d}"
        self.measures.sort(key=lambda m: (m.start, m.youth.bsn))
        for m in self.measures:
            prefix = {"OTS": "OTS", "VOOGDIJ": "VG", "JEUGDRECLASSERING": "JR"}[m.type]
            m.ident = f"{prefix}-{m.start.year}-{self.registry.next('measure' + m.gi.agb):06d}"

    def new_youth(self, day: date, ages: tuple[float, float, float]) -> Youth:
        rng = self.rng
        age_days = int(rng.triangular(*ages) * 365.25)
        return Youth(
            make_bsn(rng, self.registry.used_bsns),
            day - timedelta(days=age_days),
            "1" if rng.random() < 0.53 else "2",
            rng.choice(FIRST_NAMES),
            rng.choice(SURNAMES),
            rng.randint(1, 250),
        )

    def referral(self) -> Referral:
        rng = self.rng
        kind = pick(rng, REFERRERS)
        if kind == "01":
            team = rng.choice(("Toegang", "Wijkteam", "Sociaal team"))
            return Referral(kind, f"{team} {self.muni.name}"[:64], None)
        if kind == "02":
            agb, name = rng.choice(self.gps)
            return Referral(kind, name, agb)
        if kind == "03":
            return Referral(kind, f"Jeugdarts {rng.choice(REFERRER_NAMES)}", "01990017")
        if kind == "05":
            name = f"Kinderarts {rng.choice('ABDEHJKMRS')}. {rng.choice(REFERRER_NAMES)}"
            return Referral(kind, name, f"01{rng.randrange(10**6):06d}")
        if kind == "08":
            return Referral(kind, "Rechtbank Overijssel", None)
        return Referral(kind, None, None)

    # -- jeugdhulp

    def episode(self, day: date, youth: Youth | None, gi: Provider | None) -> None:
        rng = self.rng
        if youth is None:
            youth = self.new_youth(day, (0, 18, 11))
        if day >= youth.adult - timedelta(days=30):
            return
        lot = pick(rng, GI_CARE_MIX if gi else LOT_MIX)
        if lot == RESIDENTIAL and (day - youth.birth).days < 3 * 365:
            lot = AMBULANT
        referral = Referral("04", gi.name[:64], gi.agb) if gi else self.referral()
        end, reason, provider = self.trajectory(youth, lot, referral, day)
        if reason == "38":  # the youth switches provider and continues the same care
            end, reason, _ = self.trajectory(
                youth, lot, referral, end - days(rng, 14, 21), start=end + DAY, avoid=provider
            )
        elif lot == CRISIS and rng.random() < 0.6:  # crisis care leads to further care
            follow = AMBULANT if rng.random() < 0.65 else RESIDENTIAL
            end, reason, _ = self.trajectory(
                youth,
                follow,
                Referral("01", f"Toegang {self.muni.name}"[:64], None),
                end - days(rng, 3, 10),
                start=end + DAY,
            )
        if reason not in ("39", "02") and rng.random() < RETURN_SHARE:
            gap = 30 + int(rng.expovariate(1 / 420))
            if gap < 5 * 365:
                self.queue.append(("care", end + timedelta(days=gap), youth, None))

    def provider(self, lot: str, day: date, avoid: Provider | None = None) -> Provider:
        candidates, cumulative = self.pool[lot]
        market = self.market

        def allowed(p: Provider) -> bool:
            return (
                p is not avoid
                and p.contract_start <= day
                and not (p is market.dormant and day + timedelta(days=10) > market.dormant_since)
            )

        for _ in range(30):
            p = self.rng.choices(candidates, cum_weights=cumulative)[0]
            if allowed(p):
                return p
        return next((p for p in candidates if allowed(p)), candidates[0])

    def duration(self, lot: str) -> int:
        rng = self.rng
        if lot == AMBULANT:
            if rng.random() < 0.07:  # the tail: years
                return rng.randint(540, 1460)
            return min(540, max(42, int(rng.lognormvariate(math.log(185), 0.5))))
        if lot == RESIDENTIAL:
            return min(1800, max(30, int(rng.lognormvariate(math.log(270), 0.75))))
        if lot == HSWV:
            return min(1800, max(60, int(rng.lognormvariate(math.log(365), 0.6))))
        return int(rng.triangular(5, 42, 14))  # crisis

    def waiting(self, lot: str, provider: Provider, assigned: date) -> timedelta:
        """From the assignment to its start: days, sometimes months; longer at a provider in
        trouble."""
        if lot in (CRISIS, *GI_LOTS):
            return timedelta(0)
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            wait = rng.randint(0, 14)
        elif r < 0.88:
            wait = rng.randint(15, 60)
        else:
            wait = rng.randint(61, 150)
        trouble = self.market.trouble(provider, assigned)
        return timedelta(days=int(wait * (1 + 3 * trouble) + 45 * trouble))

    def trajectory(
        self,
        youth: Youth,
        lot: str,
        referral: Referral,
        requested: date,
        *,
        start: date | None = None,
        avoid: Provider | None = None,
        gi: Provider | None = None,
        measure_type: str | None = None,
        planned: int | None = None,
    ) -> tuple[date, str, Provider]:
        """One uninterrupted stretch of care at one provider: one assignment, or a chain of
        consecutive assignments (extensions) when it lasts longer than one may. Returns the
        last day of care, its reason and the provider."""
        rng = self.rng
        provider = gi or self.provider(lot, requested, avoid)
        if measure_type:
            product = next(p for p in CATALOGUE[lot] if p.code == MEASURE_PRODUCTS[measure_type])
        else:
            products = CATALOGUE[lot]
            product = rng.choices(products, weights=[p.weight for p in products])[0]
        assigned = requested + days(rng, 2, 10)
        if start is None:
            start = assigned + self.waiting(lot, provider, assigned)
        else:
            assigned = min(assigned, start)
        length = self.duration(lot) if planned is None else planned
        reasons = END_REASONS
        if gi or avoid or lot == CRISIS:
            reasons = {k: v for k, v in END_REASONS.items() if k != "38"}
        reason = "31" if gi else pick(rng, reasons)
        planned_end = start + timedelta(days=length)
        if planned_end >= youth.adult and (youth.adult - start).days >= 30:
            planned_end = youth.adult - DAY
            if reason == "31" and not gi and rng.random() < 0.5:
                reason = "39"  # to the Wmo, Wlz or Zvw at 18
        late_start = 0 if lot in (CRISIS, *GI_LOTS) else min(10, length // 4)
        begin = start + days(rng, 0, late_start)
        if reason in ("31", "39"):
            end = planned_end - days(rng, 0, min(7, (planned_end - begin).days))
        else:
            end = begin + timedelta(days=int((planned_end - begin).days * rng.uniform(0.15, 0.85)))
        most = MAX_ASSIGNMENT_DAYS.get(lot, 365)
        if provider is self.market.dormant:  # no new assignments after it went quiet
            segments = max(0, (self.market.dormant_since - start).days) // most + 1
            cut = start + timedelta(days=segments * most - 1)
            if planned_end > cut:
                planned_end = cut
                if end > cut:
                    end, reason = max(begin, cut - days(rng, 0, 7)), "31"
        seg_start, seg_requested, seg_assigned, extension = start, requested, assigned, False
        while True:
            seg_end = min(seg_start + timedelta(days=most - 1), planned_end)
            final = end <= seg_end or seg_end >= planned_end
            a = self.assignment(
                youth,
                provider,
                product,
                lot=lot,
                referral=referral,
                dates=(seg_requested, seg_assigned, seg_start, seg_end),
                extension=extension,
            )
            self.deliver(a, begin if not extension else seg_start, min(end, seg_end), reason)
            if not final:  # the care goes on under the next assignment
                a.periods[-1:] = [_with_reason(p, "31") for p in a.periods[-1:]]
            if final or seg_end >= self.last:
                break
            seg_start = seg_end + DAY
            seg_requested = seg_start - days(rng, 14, 42)
            seg_assigned = min(seg_requested + days(rng, 2, 10), seg_start)
            extension = True
        return end, reason, provider

    def assignment(
        self,
        youth: Youth,
        provider: Provider,
        product: Product,
        *,
        lot: str,
        referral: Referral,
        dates: tuple[date, date, date, date],
        extension: bool,
    ) -> Assignment:
        rng = self.rng
        requested, assigned, start, end = dates
        weekly = rng.randint(*WEEKLY.get(product.unit, (1, 1)))
        if product.unit == "14":
            volume, frequency, budget = 1, "1", None
        elif product.unit == "82":
            volume, frequency, budget = 1, "4", None
        else:
            volume = math.ceil(weekly * ((end - start).days + 1) / 7)
            frequency, budget = "6", volume * product.rate
        a = Assignment(
            youth,
            provider,
            product,
            lot,
            referral,
            requested,
            assigned,
            f"{rng.randint(8, 16):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
            start,
            end,
            volume,
            frequency,
            budget,
            weekly,
            extension,
        )
        if a.assigned <= self.last and a.end >= self.first:
            self.assignments.append(a)
        return a

    def deliver(self, a: Assignment, begin: date, end: date, reason: str) -> None:
        """The care periods of one assignment; now and then with a temporary stop (20)."""
        rng = self.rng
        if (end - begin).days > 120 and rng.random() < 0.04:
            pause = begin + timedelta(days=int((end - begin).days * rng.uniform(0.3, 0.6)))
            restart = pause + days(rng, 14, 56)
            if restart + timedelta(days=14) < end:
                self.period(a, begin, pause, "20")
                begin = restart
        self.period(a, begin, end, reason)

    def period(self, a: Assignment, begin: date, end: date, reason: str) -> None:
        if begin > self.last:
            return
        start_sent = begin + self.lag()
        a.periods.append(Period(begin, end, reason, start_sent, max(start_sent, end + self.lag())))

    def lag(self) -> timedelta:
        """Start and stop messages: within five working days, mostly."""
        rng = self.rng
        return days(rng, 0, 4) if rng.random() < 0.9 else days(rng, 5, 30)

    # -- youth protection and probation

    def measure(self, kind: str, day: date) -> None:
        rng = self.rng
        if kind == "protection":
            mtype = "OTS" if rng.random() < 0.8 else "VOOGDIJ"
            youth = self.new_youth(day, (0, 18, 10) if mtype == "OTS" else (0, 15, 5))
            lot = PROTECTION
        else:
            mtype, lot = "JEUGDRECLASSERING", PROBATION
            youth = self.new_youth(day, (12, 18, 16))
        if day >= youth.adult - timedelta(days=60):
            return
        gi = self.provider(lot, day)
        if mtype == "OTS":
            length = min(2200, max(180, int(rng.lognormvariate(math.log(430), 0.55))))
        elif mtype == "VOOGDIJ":
            length = 3650
        else:
            length = int(rng.triangular(90, 540, 180))
        end = min(day + timedelta(days=length), youth.adult - DAY)
        ending = "MEERDERJARIG" if end == youth.adult - DAY else pick(rng, MEASURE_ENDS)
        start_sent = day + days(rng, 0, 14)
        measure = Measure(
            "",
            gi,
            youth,
            mtype,
            day,
            end,
            ending,
            start_sent,
            max(start_sent, end + days(rng, 0, 14)),
        )
        if measure.start_sent <= self.last and end >= self.first:
            self.measures.append(measure)
        court = "Rechtbank Overijssel" if lot == PROTECTION else "Openbaar Ministerie"
        referral = Referral("08", court, None)  # the juvenile court or the prosecutor
        requested = day + days(rng, 0, 10)
        self.trajectory(
            youth,
            lot,
            referral,
            requested,
            gi=gi,
            measure_type=mtype,
            planned=max(14, (end - requested).days - 10),
        )
        if rng.random() < GI_CARE[mtype]:
            self.queue.append(("care", day + days(rng, 7, 60), youth, gi))


def _with_reason(p: Period, reason: str) -> Period:
    return Period(p.begin, p.end, reason, p.start_sent, p.stop_sent)


# --- the region --------------------------------------------------------------------------------


def simulate(
    region: list[Municipality], *, seed: int, first_year: int, last_year: int, scale: float
) -> Region:
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data, not security
    first, last = date(first_year, 1, 1), date(last_year, 12, 31)
    start = date(first_year - WARMUP_YEARS, 1, 1)
    market = make_market(random.Random(rng.getrandbits(64)), first, last, start)  # noqa: S311
    series = populations(region, rng, range(start.year, last_year + 1), first_year)
    registry = Registry()
    worlds = []
    for muni in region:
        sub = random.Random(rng.getrandbits(64))  # noqa: S311 -- one stream per municipality
        worlds.append(
            _Municipal(
                muni, market, sub, registry=registry, population=series[muni.code], scale=scale
            ).run()
        )
    return Region(market, worlds, registry, rng.getrandbits(64), scale)
