"""Steering: budgets per lot, continuity risks of providers, and the youth in long-running or
switching care. The rules (what each figure is, who sees what) are in
hub/resolvers/steering.py; here arguments are checked and rows wrapped."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry
from strawberry.types import Info

from hub.resolvers import records, steering
from hub.resolvers.context import Context
from hub.schema.errors import PublicError, cursor_errors, page_size
from hub.schema.types import Connection, Provider, Youth, connection

DEFAULT_PAGE = 100


@strawberry.enum(description="A lot of the regional procurement; HSWV has no product category.")
class BudgetLot(Enum):
    AMBULANT = "AMBULANT"
    RESIDENTIAL = "RESIDENTIAL"
    CRISIS = "CRISIS"
    HSWV = "HSWV"
    PROTECTION = "PROTECTION"
    PROBATION = "PROBATION"


@strawberry.type(
    description="An amount in euros computed from records. null with suppressed: it needs "
    "records outside the caller's scope; null without: not applicable (HSWV, or no run rate "
    "yet)."
)
class BudgetAmount:
    value: float | None
    suppressed: bool

    @staticmethod
    def of(a: steering.Amount) -> BudgetAmount:
        return BudgetAmount(value=a.value, suppressed=a.suppressed)


@strawberry.type(description="One lot's budget and spending for a year. Amounts in euros.")
class BudgetLine:
    municipality: str | None = strawberry.field(description="null: the region's total.")
    year: int
    lot: BudgetLot
    budget: float | None = strawberry.field(
        description="The budget (public); the region's is the sum of its municipalities'."
    )
    committed: BudgetAmount = strawberry.field(
        description="Budgets of the assignments whose start is in the year (not prorated)."
    )
    realised: BudgetAmount = strawberry.field(
        description="Granted claim lines whose product period starts in the year."
    )
    released: BudgetAmount = strawberry.field(
        description="Unused budget of assignments with a budget that ended in the year (up "
        "to runRateUntil): budget minus the granted claims on it, when positive."
    )
    forecast: BudgetAmount = strawberry.field(
        description="realised x days in the year / days up to runRateUntil, per "
        "municipality; the region's is the sum of its municipalities'."
    )
    run_rate_until: date | None = strawberry.field(
        description="The latest product period end of the year's claim lines (at most 31 "
        "December): the run rate's end."
    )

    @staticmethod
    def of(line: steering.BudgetLine) -> BudgetLine:
        return BudgetLine(
            municipality=line.municipality,
            year=line.year,
            lot=BudgetLot(line.lot),
            budget=line.budget,
            committed=BudgetAmount.of(line.committed),
            realised=BudgetAmount.of(line.realised),
            released=BudgetAmount.of(line.released),
            forecast=BudgetAmount.of(line.forecast),
            run_rate_until=line.run_rate_until,
        )


@strawberry.enum
class RiskLevel(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@strawberry.enum(description="A continuity signal; windows end on the caller's data date.")
class ContinuitySignalKind(Enum):
    YOUTH_SHARE = "YOUTH_SHARE"  # impact: share of the youth in jeugdhulp, 12 months
    RESIDENTIAL_YOUTH = "RESIDENTIAL_YOUTH"  # impact: youth in its residential care now
    CLAIM_REJECTION_RATE = "CLAIM_REJECTION_RATE"  # rejected / answered lines, 12 months
    CLAIM_DELAY_DAYS = "CLAIM_DELAY_DAYS"  # median claim date - period end, 12 months
    WAITING_DAYS_TREND = "WAITING_DAYS_TREND"  # median waiting, last 6 months vs 6 before
    MONTHS_SINCE_NEW_ASSIGNMENT = "MONTHS_SINCE_NEW_ASSIGNMENT"
    EARLY_WARNING = "EARLY_WARNING"  # contract management, latest signal
    ESCALATION = "ESCALATION"  # contract management, latest signal


@strawberry.type(description="One signal with its evidence.")
class ContinuitySignal:
    kind: ContinuitySignalKind
    level: RiskLevel | None = strawberry.field(
        description="null when the evidence is suppressed or missing."
    )
    value: float | None = strawberry.field(
        description="The figure: a share (0.25), a count, days or months; for "
        "WAITING_DAYS_TREND the median of the last 6 months."
    )
    previous: float | None = strawberry.field(
        description="WAITING_DAYS_TREND: the median of the 6 months before."
    )
    status: str | None = strawberry.field(
        description="EARLY_WARNING (GREEN..RED) or ESCALATION (NONE..CONTINUITY_PLAN)."
    )
    dated: date | None = strawberry.field(description="Date of the contract-management signal.")
    suppressed: bool
    evidence: str

    @staticmethod
    def of(s: steering.Signal) -> ContinuitySignal:
        return ContinuitySignal(
            kind=ContinuitySignalKind(s.kind),
            level=RiskLevel(s.level) if s.level else None,
            value=s.value,
            previous=s.previous,
            status=s.status,
            dated=s.dated,
            suppressed=s.suppressed,
            evidence=s.evidence,
        )


@strawberry.type(description="A provider's continuity risk.")
class ContinuityRisk:
    provider: Provider
    level: RiskLevel = strawberry.field(
        description="The highest level of its likelihood signals (all but YOUTH_SHARE and "
        "RESIDENTIAL_YOUTH); LOW when none has one."
    )
    impact: RiskLevel | None = strawberry.field(
        description="The highest level of YOUTH_SHARE and RESIDENTIAL_YOUTH."
    )
    signals: list[ContinuitySignal]

    @staticmethod
    def of(r: steering.Risk) -> ContinuityRisk:
        return ContinuityRisk(
            provider=Provider(agb=r.agb, name=r.name),
            level=RiskLevel(r.level),
            impact=RiskLevel(r.impact) if r.impact else None,
            signals=[ContinuitySignal.of(s) for s in r.signals],
        )


async def _check_municipality(info: Info[Context, None], municipality: str | None) -> None:
    if municipality is None:
        return
    known = {r["code"] for r in await records.all_municipalities(info.context.tx)}
    if municipality not in known:
        raise PublicError(
            f"municipality {municipality[:8]!r} is not part of the region",
            code="UNKNOWN_MUNICIPALITY",
        )


@strawberry.type
class SteeringQuery:
    @strawberry.field(
        description="Budget, committed, realised, released and forecast per lot for one "
        "municipality, or the region's total when `municipality` is omitted. Budgets are "
        "public; record figures are exact for what the caller owns (region: all; a "
        "municipality: its own), else null and suppressed."
    )
    async def budgets(
        self, info: Info[Context, None], year: int, municipality: str | None = None
    ) -> list[BudgetLine]:
        if not 1990 <= year <= 2100:
            raise PublicError(f"`year` must be between 1990 and 2100, got {year}", code="YEAR")
        await _check_municipality(info, municipality)
        lines = await steering.budgets(info.context.tx, info.context.scope, year, municipality)
        return [BudgetLine.of(line) for line in lines]

    @strawberry.field(
        description="Providers with their continuity signals, the riskiest first. With "
        "`municipality`: the providers its youth depend on. region: all, exact; "
        "municipality: the providers its own youth depend on, from its own records; "
        "provider: its own entry; public and admin: none. Figures from fewer youth than the "
        "threshold are suppressed for all but the region."
    )
    async def continuity_risks(
        self,
        info: Info[Context, None],
        municipality: str | None = None,
        first: int = DEFAULT_PAGE,
    ) -> list[ContinuityRisk]:
        ctx = info.context
        await _check_municipality(info, municipality)
        risks = await steering.continuity_risks(
            ctx.tx,
            ctx.scope,
            ctx.suppression_threshold,
            municipality,
            page_size(first, info.context.page_size_max),
        )
        return [ContinuityRisk.of(r) for r in risks]

    @strawberry.field(
        description="Youth in uninterrupted jeugdhulp (any provider and care type, chained "
        "by overlap or touch) for more than `years` years (default HUB_LONG_RUNNING_YEARS) "
        "on the data date: the latest date in the caller's data, or today when earlier. A "
        "municipality its own youth, the region all, other roles none."
    )
    async def long_running_youth(
        self,
        info: Info[Context, None],
        years: int | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[Youth]:
        ctx = info.context
        span = ctx.long_running_years if years is None else years
        if not 1 <= span <= 50:
            raise PublicError(f"`years` must be between 1 and 50, got {span}", code="YEARS")
        with cursor_errors():
            page = await steering.long_running_youth(
                ctx.tx, ctx.scope, span, page_size(first, info.context.page_size_max), after
            )
        return connection(page, Youth.of)

    @strawberry.field(
        description="Youth with jeugdhulp trajectories at three or more providers in the 12 "
        "months up to the data date. A municipality its own youth, the region all, other "
        "roles none."
    )
    async def switching_youth(
        self,
        info: Info[Context, None],
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[Youth]:
        ctx = info.context
        with cursor_errors():
            page = await steering.switching_youth(
                ctx.tx, ctx.scope, page_size(first, info.context.page_size_max), after
            )
        return connection(page, Youth.of)
