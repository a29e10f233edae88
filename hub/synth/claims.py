"""Monthly claims of the simulated care: one claim per provider, municipality and month with
a line per assignment, the municipality's answer (some lines rejected with retourcodes), and
now and then a follow-up claim that corrects granted lines (a credit line naming the line it
cancels plus a new debit line) and resubmits rejected ones. Most claims go out in the month
after the care, some months later; the provider in trouble is later and rejected more.

Every claim is made, also those sent after the window: the renderers keep what was sent
(and answered) by the day the data is as of, and the budgets follow the value of all care.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from hub.synth.world import (
    Assignment,
    Market,
    MunicipalityWorld,
    Provider,
    Region,
    Registry,
    days,
    month_end,
    months,
    pick,
)

REJECT_SHARE = 0.03  # claim lines the municipality rejects
TROUBLE_REJECT_SHARE = 0.15  # more, for the provider in trouble at its worst
LATE_SHARE = 0.08  # claims sent a month or more late
TROUBLE_LATE_SHARE = 0.40
CORRECTION_SHARE = 0.06  # claims followed by a credit-and-rebill correction
RESUBMIT_SHARE = 0.5  # rejected lines claimed again
REJECT_CODES = {"0611": 3, "9321": 3, "9322": 2, "9369": 2, "8187": 1}
MAX_CLAIM_CENTS = 90_000_000  # a JW323 total fits LDT_Bedrag (< 1 million euros)


@dataclass(frozen=True, slots=True)
class Line:
    """One claim line (a JW323 Prestatie)."""

    reference: str  # ReferentieNummer, unique per provider
    previous: str | None  # VorigReferentieNummer: the line a credit line cancels
    assignment: Assignment
    begin: date
    end: date
    volume: int
    credit: bool
    retour: tuple[str, ...]  # WJ001 codes of the answer; empty: granted

    @property
    def amount(self) -> int:
        return self.volume * self.assignment.product.rate

    @property
    def signed(self) -> int:
        return -self.amount if self.credit else self.amount


@dataclass(frozen=True, slots=True)
class Claim:
    number: str  # DeclaratieNummer
    municipality: str
    provider: Provider
    begin: date
    end: date
    sent: date
    answered: date
    lines: list[Line]


def add_claims(region: Region) -> None:
    """Fill every municipality's `claims` and `spending` for the window's months."""
    rng = random.Random(region.claims_seed)  # noqa: S311 -- reproducible test data
    for world in region.worlds:
        sub = random.Random(rng.getrandbits(64))  # noqa: S311
        _Claims(world, region.market, sub, region.registry).run()


class _Claims:
    def __init__(
        self, world: MunicipalityWorld, market: Market, rng: random.Random, registry: Registry
    ) -> None:
        self.world, self.market, self.rng, self.registry = world, market, rng, registry
        self.code = world.municipality.code

    def run(self) -> None:
        delivered: dict[tuple[date, str], list[tuple[Assignment, date, date, int]]] = defaultdict(
            list
        )
        providers: dict[str, Provider] = {}
        spending: dict[tuple[int, str], int] = defaultdict(int)
        for a in self.world.assignments:
            claimed = 0
            for month, (first, last, count) in self.per_month(a):
                volume = self.volume(a, count, claimed)
                if volume:
                    claimed += volume
                    delivered[(month, a.provider.agb)].append((a, first, last, volume))
                    providers[a.provider.agb] = a.provider
                    spending[(month.year, a.lot)] += volume * a.product.rate
        for month, agb in sorted(delivered):
            items = sorted(delivered[(month, agb)], key=lambda i: (i[0].youth.bsn, i[0].number))
            self.claims(month, providers[agb], items)
        self.world.spending = dict(sorted(spending.items()))

    def per_month(self, a: Assignment) -> list[tuple[date, tuple[date, date, int]]]:
        """Per month of the window: first and last day of care, and the days of care."""
        found: dict[date, tuple[date, date, int]] = {}
        for p in a.periods:
            lo, hi = max(p.begin, self.market.first), min(p.end, self.market.last)
            for month in months(lo, hi):
                s, e = max(lo, month), min(hi, month_end(month))
                if s > e:
                    continue
                if month in found:
                    f, l_, n = found[month]
                    found[month] = (min(f, s), max(l_, e), n + (e - s).days + 1)
                else:
                    found[month] = (s, e, (e - s).days + 1)
        return sorted(found.items())

    def volume(self, a: Assignment, count: int, claimed: int) -> int:
        unit = a.product.unit
        if unit == "14":
            return count  # etmaal: every day of care
        if unit == "82":
            return 1  # output: one a month
        wanted = max(1, round(a.weekly * count / 7 * self.rng.uniform(0.6, 1.0)))
        return max(0, min(wanted, a.volume - claimed))

    def ref(self, provider: Provider) -> str:
        return f"P{provider.agb}{self.registry.next(provider.agb + '/line'):09d}"

    def claims(
        self, month: date, provider: Provider, items: list[tuple[Assignment, date, date, int]]
    ) -> None:
        """The claims of one provider for one month (split when the total gets too large
        for one message), each with its follow-up when there is one."""
        rng, market = self.rng, self.market
        chunks: list[list[tuple[Assignment, date, date, int]]] = [[]]
        total = 0
        for item in items:
            amount = item[3] * item[0].product.rate
            if chunks[-1] and total + amount > MAX_CLAIM_CENTS:
                chunks.append([])
                total = 0
            chunks[-1].append(item)
            total += amount
        end = month_end(month)
        for i, chunk in enumerate(chunks):
            late = LATE_SHARE + TROUBLE_LATE_SHARE * market.trouble(provider, end)
            sent = end + (days(rng, 31, 150) if rng.random() < late else days(rng, 3, 25))
            reject = REJECT_SHARE + TROUBLE_REJECT_SHARE * market.trouble(provider, sent)
            lines = [
                Line(
                    self.ref(provider),
                    None,
                    a,
                    first,
                    last,
                    volume,
                    False,
                    (pick(rng, REJECT_CODES),) if rng.random() < reject else (),
                )
                for a, first, last, volume in chunk
            ]
            answered = sent + (days(rng, 3, 10) if rng.random() < 0.92 else days(rng, 11, 25))
            number = f"D{self.code}{month:%y%m}{i:02d}"
            self.world.claims.append(
                Claim(number, self.code, provider, month, end, sent, answered, lines)
            )
            self.follow_up(f"D{self.code}{month:%y%m}{50 + i:02d}", lines, answered)

    def follow_up(self, number: str, lines: list[Line], answered: date) -> None:
        """After the answer: credit and rebill some granted lines, resubmit rejected ones."""
        rng = self.rng
        granted = [line for line in lines if not line.retour]
        corrected = []
        if granted and rng.random() < 0.06:
            corrected = rng.sample(granted, min(len(granted), rng.randint(1, 3)))
        resubmitted = [line for line in lines if line.retour and rng.random() < RESUBMIT_SHARE]
        if not corrected and not resubmitted:
            return
        provider = lines[0].assignment.provider
        fixed: list[Line] = []
        for old in sorted(corrected, key=lambda line: line.reference):
            a = old.assignment
            volume = old.volume if old.volume == 1 else old.volume - rng.randint(1, 2)
            fixed.append(
                Line(self.ref(provider), old.reference, a, old.begin, old.end, old.volume, True, ())
            )
            fixed.append(
                Line(self.ref(provider), None, a, old.begin, old.end, max(1, volume), False, ())
            )
        for old in resubmitted:
            fixed.append(
                Line(
                    self.ref(provider),
                    None,
                    old.assignment,
                    old.begin,
                    old.end,
                    old.volume,
                    False,
                    (),
                )
            )
        fixed.sort(key=lambda line: (line.assignment.youth.bsn, line.reference))
        sent = answered + days(self.rng, 10, 60)
        begin = lines[0].begin.replace(day=1)
        self.world.claims.append(
            Claim(
                number,
                self.code,
                provider,
                begin,
                month_end(begin),
                sent,
                sent + days(rng, 3, 10),
                fixed,
            )
        )


__all__ = ["Claim", "Line", "add_claims"]
