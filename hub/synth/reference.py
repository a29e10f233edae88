"""The region's reference and steering data as canonical rows: the provider register (one
row per provider and contracted lot), budgets per municipality, year and lot (95-105% of
the value of the care simulated), youth population per municipality and year, and
contract management's quarterly signals per provider.

Signals: most providers stay green; a few turn yellow for a while. The provider in trouble
goes yellow, orange, then red, its escalation from monitoring to a continuity plan, while
its waiting list grows (waiting lists and times are those of the simulation)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date

from hub.synth.tabular import Money, Row
from hub.synth.world import CRISIS, DAY, GI_LOTS, LOTS, Provider, Region, month_end

# The provider in trouble over its last quarters: (early warning, escalation).
TROUBLE_STAGES = (
    ("YELLOW", "MONITORING"),
    ("YELLOW", "MONITORING"),
    ("ORANGE", "MONITORING"),
    ("ORANGE", "ESCALATED"),
    ("RED", "ESCALATED"),
    ("RED", "CONTINUITY_PLAN"),
)
_LEVELS = ("GREEN", "YELLOW", "ORANGE")


def providers(region: Region) -> list[Row]:
    return [
        {
            "provider_agb": p.agb,
            "name": p.name,
            "lot": lot,
            "start": p.contract_start,
            "end": None,
        }
        for p in region.market.providers
        for lot in p.lots
    ]


def budgets(region: Region, rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for world in region.worlds:
        for year in range(region.first.year, region.last.year + 1):
            for lot in LOTS:
                value = world.spending.get((year, lot), 0)
                amount = round(value * rng.uniform(0.95, 1.05) / 100) * 100
                rows.append(
                    {
                        "municipality": world.municipality.code,
                        "year": year,
                        "lot": lot,
                        "amount": Money(amount),
                    }
                )
    return rows


def population(region: Region) -> list[Row]:
    return [
        {"municipality": world.municipality.code, "year": year, "youth_0_17": count}
        for world in region.worlds
        for year, count in sorted(world.population.items())
        if region.first.year <= year <= region.last.year
    ]


def quarter_ends(region: Region) -> list[date]:
    return [
        month_end(date(year, month, 1))
        for year in range(region.first.year, region.last.year + 1)
        for month in (3, 6, 9, 12)
    ]


def signals(region: Region, rng: random.Random) -> list[Row]:
    """Quarterly signals per provider, dated at the end of each quarter of the window."""
    waits: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    for world in region.worlds:
        for a in world.assignments:
            if a.extension or a.lot in (CRISIS, *GI_LOTS):
                continue
            begin = a.periods[0].begin if a.periods else None
            waits[a.provider.agb].append((a.assigned, begin))
    quarters = quarter_ends(region)
    market = region.market
    rows: list[Row] = []
    for provider in market.providers:
        level = 0
        stages = _stages(provider, region, quarters)
        for i, day in enumerate(quarters):
            begin = quarters[i - 1] + DAY if i else date(day.year, day.month - 2, 1)
            waiting = sum(
                1
                for assigned, started in waits[provider.agb]
                if assigned <= day and (started is None or started > day)
            )
            started = [
                (start - assigned).days
                for assigned, start in waits[provider.agb]
                if start is not None and begin <= start <= day
            ]
            r = rng.random()
            level = min(level + 1, 2) if r < 0.04 else (max(level - 1, 0) if r < 0.5 else level)
            warning = _LEVELS[level]
            escalation = "MONITORING" if level == 2 or (level == 1 and r < 0.3) else "NONE"
            stage = stages[i]
            if stage is not None:
                warning, escalation = stage
            rows.append(
                {
                    "provider_agb": provider.agb,
                    "dated": day,
                    "early_warning": warning,
                    "escalation": escalation,
                    "waiting_list": waiting,
                    "waiting_days": round(sum(started) / len(started)) if started else None,
                }
            )
    return rows


def _stages(
    provider: Provider, region: Region, quarters: list[date]
) -> list[tuple[str, str] | None]:
    """The signals contract management sets for the special providers, per quarter."""
    market = region.market
    if provider is market.troubled:  # in step with its trouble in the simulation
        return [
            TROUBLE_STAGES[min(len(TROUBLE_STAGES) - 1, int(trouble * len(TROUBLE_STAGES)))]
            if (trouble := market.trouble(provider, day)) > 0
            else None
            for day in quarters
        ]
    if provider is market.dormant:  # contract management watches the quiet one
        return [("GREEN", "MONITORING") if day > market.dormant_since else None for day in quarters]
    return [None] * len(quarters)
