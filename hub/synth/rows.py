"""The simulated records as canonical rows (the fields of `hub.adapters.tabular.KINDS`), each
with the day its source recorded that state.

An access system records a referral when it is requested, an assignment when it is made, a
care period when it starts and again when it ends; a GI records a measure likewise. A yearly
export holds the records changed in that year (what changed before the window comes with the
first year's export); an API serves every record in its latest state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from hub.synth.claims import Claim, Line
from hub.synth.tabular import Money, Row
from hub.synth.world import Assignment, Measure, MunicipalityWorld, Period, Youth

ACCESS_KINDS = ("referral", "assignment", "care_period")


@dataclass(frozen=True, slots=True)
class Change:
    dated: date  # when the source recorded this state of the record
    key: tuple[str, ...]  # the record's identity within its source
    row: Row


def _youth(code: str, y: Youth) -> Row:
    return {"municipality": code, "bsn": y.bsn, "birth_date": y.birth, "gender": y.gender}


def referral(code: str, a: Assignment) -> Row:
    r = a.referral
    return {
        **_youth(code, a.youth),
        "provider_agb": a.provider.agb,
        "provider_reference": a.reference,
        "referrer_type": r.type,
        "referrer_code": r.agb,
        "referrer_name": r.name,
        "product_category": a.product.category,
        "product_code": a.product.code,
        "requested_start": a.start,
        "requested_end": a.end,
        "volume": a.volume,
        "unit": a.product.unit,
        "frequency": a.frequency,
        "budget": None if a.budget is None else Money(a.budget),
        "dated": a.requested,
    }


def assignment(code: str, a: Assignment) -> Row:
    return {
        **_youth(code, a.youth),
        "provider_agb": a.provider.agb,
        "assignment_number": str(a.number),
        "provider_reference": a.reference,
        "product_category": a.product.category,
        "product_code": a.product.code,
        "assigned_on": a.assigned,
        "start": a.start,
        "end": a.end,
        "volume": a.volume,
        "unit": a.product.unit,
        "frequency": a.frequency,
        "budget": None if a.budget is None else Money(a.budget),
        "dated": a.assigned,
    }


def care_period(code: str, a: Assignment, p: Period, *, ended: bool) -> Row:
    return {
        **_youth(code, a.youth),
        "provider_agb": a.provider.agb,
        "assignment_number": str(a.number),
        "product_category": a.product.category,
        "product_code": a.product.code,
        "start": p.begin,
        "end": p.end if ended else None,
        "end_reason": p.reason if ended else None,
        "dated": p.stop_sent if ended else p.start_sent,
    }


def access_changes(world: MunicipalityWorld, as_of: date) -> dict[str, list[Change]]:
    """Every recorded state of the municipality's referrals, assignments and care periods."""
    code = world.municipality.code
    changes: dict[str, list[Change]] = {kind: [] for kind in ACCESS_KINDS}
    for a in world.assignments:
        if a.requested <= as_of:
            changes["referral"].append(Change(a.requested, (a.reference,), referral(code, a)))
        number = str(a.number)
        changes["assignment"].append(Change(a.assigned, (number,), assignment(code, a)))
        for p in a.periods:
            key = (number, p.begin.isoformat())
            if p.start_sent <= as_of:
                row = care_period(code, a, p, ended=False)
                changes["care_period"].append(Change(p.start_sent, key, row))
            if p.stop_sent <= as_of:
                row = care_period(code, a, p, ended=True)
                changes["care_period"].append(Change(p.stop_sent, key, row))
    return changes


def measure(code: str, m: Measure, *, ended: bool) -> Row:
    return {
        **_youth(code, m.youth),
        "provider_agb": m.gi.agb,
        "measure_id": m.ident,
        "measure_type": m.type,
        "start": m.start,
        "end": m.end if ended else None,
        "end_reason": m.end_reason if ended else None,
        "dated": m.stop_sent if ended else m.start_sent,
    }


def measure_changes(world: MunicipalityWorld, gi: str, as_of: date) -> list[Change]:
    code = world.municipality.code
    result = []
    for m in world.measures:
        if m.gi.agb != gi:
            continue
        key = (code, m.ident)
        if m.start_sent <= as_of:
            result.append(Change(m.start_sent, key, measure(code, m, ended=False)))
        if m.stop_sent <= as_of:
            result.append(Change(m.stop_sent, key, measure(code, m, ended=True)))
    return result


def claim_line(claim: Claim, line: Line, as_of: date, *, signed: bool) -> Row:
    """A claim line with the municipality's answer as known on `as_of`; `signed` writes a
    credit as a negative amount instead of a C."""
    a = line.assignment
    status = "REJECTED" if line.retour else "GRANTED"
    if claim.answered > as_of:
        status = "SUBMITTED"
    return {
        **_youth(claim.municipality, a.youth),
        "provider_agb": claim.provider.agb,
        "reference": line.reference,
        "previous_reference": line.previous,
        "assignment_number": str(a.number),
        "product_category": a.product.category,
        "product_code": a.product.code,
        "period_start": line.begin,
        "period_end": line.end,
        "volume": line.volume,
        "unit": a.product.unit,
        "rate": Money(a.product.rate),
        "amount": Money(line.signed if signed else line.amount),
        "debit_credit": "C" if line.credit else "D",
        "claim_number": claim.number,
        "claim_date": claim.sent,
        "status": status,
        "retourcodes": " ".join(line.retour) if status == "REJECTED" else None,
    }


def per_year(changes: Iterable[Change], years: range) -> dict[int, list[Change]]:
    """The yearly exports, one for every year (empty or not): the last state of each record
    changed in that year, in the order of change; what changed before the window comes
    with the first year's export."""
    exports: dict[int, dict[tuple[str, ...], Change]] = {year: {} for year in years}
    for change in sorted(changes, key=lambda c: (c.dated, c.key)):
        latest = exports[max(years[0], change.dated.year)]
        latest.pop(change.key, None)
        latest[change.key] = change
    return {year: list(latest.values()) for year, latest in exports.items()}


def latest(changes: Iterable[Change]) -> Iterator[Change]:
    """Every record once, in its last state, in the order of those last changes."""
    last: dict[tuple[str, ...], Change] = {}
    for change in sorted(changes, key=lambda c: (c.dated, c.key)):
        last.pop(change.key, None)
        last[change.key] = change
    return iter(last.values())
