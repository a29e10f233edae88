"""SQL and rules for the steering questions: budgets, continuity risks of providers, and the
lists of youth in long-running or switching care.

As everywhere, tenant filtering is row-level security inside the request's transaction; the
rules below only decide what a figure may show given what the caller's scope can read:

- A figure is computed from the rows the caller can read. When it needs rows outside that
  scope (another municipality's records for a municipality, any record for public, admin and
  provider in `budgets`, the other providers' youth for a provider's share of youth) it is
  null with `suppressed` true. No aggregate is ever computed with rights the caller lacks.
- Budgets (the `budget` table) are public figures and always shown.
- The date "now" of the data (`data date`): the latest start or end of a trajectory, product
  period end of a claim line or assignment date the caller can read, or today when that is
  earlier. So a municipality's data date is that of its own records.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from hub.db import Scope, Tx
from hub.resolvers import records

JEUGDHULP = "('AMBULANT', 'RESIDENTIAL', 'CRISIS')"

# The caller's data date: the latest date in the data it can read, or today when earlier.
_DATA_DATE = """select least(current_date, greatest(
      (select max(greatest(start_date, end_date)) from trajectory),
      (select max(period_end) from claim_line),
      (select max(assigned_on) from assignment))) as d"""


# Budgets ---------------------------------------------------------------------------------

LOTS = ("AMBULANT", "RESIDENTIAL", "CRISIS", "HSWV", "PROTECTION", "PROBATION")
# Records reach a lot through the care type of their product category (JZ020). No category
# maps to HSWV, so HSWV has a budget but no record figures; OTHER records are in no lot.
RECORD_LOTS = frozenset({"AMBULANT", "RESIDENTIAL", "CRISIS", "PROTECTION", "PROBATION"})


@dataclass(frozen=True, slots=True)
class Amount:
    """Euros, or null: suppressed (needs rows the caller cannot read) or not applicable."""

    value: float | None
    suppressed: bool = False


SUPPRESSED = Amount(None, True)
NOT_APPLICABLE = Amount(None, False)


@dataclass(frozen=True, slots=True)
class BudgetLine:
    municipality: str | None  # None: the region's total
    year: int
    lot: str
    budget: float | None  # euros; None when no budget was delivered for it
    committed: Amount
    realised: Amount
    released: Amount
    forecast: Amount
    run_rate_until: date | None


def owns_budget(scope: Scope, municipality: str | None) -> bool:
    """The region owns every figure; a municipality those of its own municipality. Every
    other figure needs records outside the caller's scope."""
    if scope.role == "region":
        return True
    if scope.role != "municipality" or municipality is None:
        return False
    return municipality == scope.municipality


_BUDGETS = """select lot, sum(amount_cents)::bigint as cents from budget
    where year = $1 and ($2::text is null or municipality_code = $2)
      and municipality_code in (select code from municipality where in_region)
    group by lot"""

# Per municipality and lot: committed, realised and released cents; per municipality the
# date its claims of the year run to ('until'). $1 the year, $2 one municipality or null.
_RECORD_FIGURES = """
with bounds as (select make_date($1, 1, 1) as y0, make_date($1, 12, 31) as y1),
claims_year as (
  select c.municipality_code, care_type(c.product_category) as lot, c.amount_cents, c.status,
         c.period_end
  from claim c, bounds b
  where c.period_start between b.y0 and b.y1 and c.debit_credit = 'D'
    and ($2::text is null or c.municipality_code = $2)
), as_of as (
  select municipality_code, least(max(period_end), (select y1 from bounds)) as until
  from claims_year group by municipality_code
)
select 'committed' as figure, a.municipality_code, care_type(a.product_category) as lot,
       sum(coalesce(a.budget_cents, 0))::bigint as cents, null::date as until
from assignment a, bounds b
where a.start_date between b.y0 and b.y1 and ($2::text is null or a.municipality_code = $2)
group by a.municipality_code, care_type(a.product_category)
union all
select 'realised', municipality_code, lot, sum(amount_cents)::bigint, null
from claims_year where status = 'GRANTED'
group by municipality_code, lot
union all
select 'released', a.municipality_code, care_type(a.product_category),
       sum(greatest(a.budget_cents - coalesce(
         (select sum(c.amount_cents) from claim c
          where c.municipality_code = a.municipality_code
            and c.toewijzing_nummer = a.toewijzing_nummer and c.status = 'GRANTED'), 0),
         0))::bigint, null
from assignment a
join as_of o on o.municipality_code = a.municipality_code
cross join bounds b
where a.budget_cents is not null and a.end_date between b.y0 and o.until
group by a.municipality_code, care_type(a.product_category)
union all
select 'until', municipality_code, null, null, until from as_of"""


def _euros(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


async def budgets(tx: Tx, scope: Scope, year: int, municipality: str | None) -> list[BudgetLine]:
    """One line per lot for a municipality, or for the region's total when `municipality` is
    None. The rules (amounts in euros):

    - budget: the municipality's budget for the year and lot (the region: the sum over its
      municipalities); public, always shown.
    - committed: the sum of the budgets of assignments whose start is in the year (an
      assignment without a budget adds nothing), not prorated: a personal budget is committed
      when the assignment starts.
    - realised: granted claim lines (status GRANTED) whose product period starts in the year.
    - released: for assignments with a budget that ended in the year, on or before the date
      the municipality's claims run to (`run_rate_until`): budget minus all granted claim
      lines on the assignment, when positive (unused personal budget falls back to the
      municipality).
    - forecast: the run rate to the year's end. `run_rate_until` is the latest product period
      end of the municipality's claim lines of the year (at most 31 December); forecast =
      realised x days in the year / days from 1 January to `run_rate_until`, per
      municipality, in whole cents; null when the municipality has no claim line in the year
      yet. The region's forecast is the sum of its municipalities' forecasts (its
      `run_rate_until` the latest of theirs).
    - Lots come from the care type of the product category (assignment's for committed and
      released, claim line's for realised); HSWV has no category, so its record figures are
      null without being suppressed.
    - Who sees what: `owns_budget`; figures the caller does not own are null and suppressed.
    """
    budget_rows = await tx.fetch(_BUDGETS, year, municipality)
    budget = {r["lot"]: int(r["cents"]) for r in budget_rows}
    owned = owns_budget(scope, municipality)
    figures: dict[tuple[str, str], int] = defaultdict(int)  # (figure, lot) -> cents
    forecast: dict[str, int] = defaultdict(int)
    until: date | None = None
    if owned:
        rows = await tx.fetch(_RECORD_FIGURES, year, municipality)
        per_municipality: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        ends: dict[str, date] = {}
        for r in rows:
            if r["figure"] == "until":
                ends[r["municipality_code"]] = r["until"]
            elif r["lot"] in RECORD_LOTS:
                cents = int(r["cents"] or 0)
                figures[(r["figure"], r["lot"])] += cents
                per_municipality[r["municipality_code"]][(r["figure"], r["lot"])] = cents
        days_in_year = 366 if calendar.isleap(year) else 365
        for code, end in ends.items():
            elapsed = (end - date(year, 1, 1)).days + 1
            for lot in RECORD_LOTS:
                realised = per_municipality[code].get(("realised", lot), 0)
                forecast[lot] += round(Decimal(realised * days_in_year) / elapsed)
        until = max(ends.values(), default=None)
    lines = []
    for lot in LOTS:
        if lot not in RECORD_LOTS:
            record: dict[str, Amount] = dict.fromkeys(
                ("committed", "realised", "released", "forecast"), NOT_APPLICABLE
            )
        elif not owned:
            record = dict.fromkeys(("committed", "realised", "released", "forecast"), SUPPRESSED)
        else:
            record = {
                name: Amount(_euros(figures[(name, lot)]))
                for name in ("committed", "realised", "released")
            }
            record["forecast"] = Amount(_euros(forecast[lot]) if until else None)
        lines.append(
            BudgetLine(
                municipality=municipality,
                year=year,
                lot=lot,
                budget=_euros(budget.get(lot)),
                run_rate_until=until if owned else None,
                **record,
            )
        )
    return lines


# Continuity risks ------------------------------------------------------------------------

LOW, MEDIUM, HIGH = "LOW", "MEDIUM", "HIGH"
_RANK = {None: 0, LOW: 1, MEDIUM: 2, HIGH: 3}

# The thresholds of the levels, plainly. A value at or above (for "more than": above) the
# HIGH bound is HIGH, else at or above the MEDIUM bound MEDIUM, else LOW.
YOUTH_SHARE = (0.20, 0.05)  # share of the youth in care: >= 20% HIGH, >= 5% MEDIUM
RESIDENTIAL_YOUTH = (10, 3)  # youth in its residential care: >= 10 HIGH, >= 3 MEDIUM
REJECTION_RATE = (0.25, 0.10)  # rejected / answered claim lines: > 25% HIGH, > 10% MEDIUM
CLAIM_DELAY_DAYS = (90, 45)  # median claim date - period end: > 90 HIGH, > 45 MEDIUM
WAITING_DAYS_RISE = (30, 7)  # median waiting days, last 6 months minus the 6 before:
#                               >= 30 days more HIGH, >= 7 MEDIUM
MONTHS_SINCE_ASSIGNMENT = (12, 6)  # >= 12 months HIGH (seed 001 dissolves such contracts)
EARLY_WARNING = {"RED": HIGH, "ORANGE": MEDIUM, "YELLOW": LOW, "GREEN": LOW}
ESCALATION = {"CONTINUITY_PLAN": HIGH, "ESCALATED": HIGH, "MONITORING": MEDIUM, "NONE": LOW}
# Impact signals say how much the region depends on the provider; the others how likely it
# is to get into trouble. A provider's `level` is the highest level of its likelihood
# signals, its `impact` the highest of its impact signals.
IMPACT = frozenset({"YOUTH_SHARE", "RESIDENTIAL_YOUTH"})


def _at_least(value: float, bounds: tuple[float, float]) -> str:
    return HIGH if value >= bounds[0] else MEDIUM if value >= bounds[1] else LOW


def _above(value: float, bounds: tuple[float, float]) -> str:
    return HIGH if value > bounds[0] else MEDIUM if value > bounds[1] else LOW


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str
    level: str | None  # None: not determinable from what is shown
    value: float | None
    evidence: str
    suppressed: bool = False
    previous: float | None = None  # WAITING_DAYS_TREND: the median of the 6 months before
    status: str | None = None  # EARLY_WARNING / ESCALATION: the contract-management value
    dated: date | None = None  # EARLY_WARNING / ESCALATION: date of the signal


@dataclass(frozen=True, slots=True)
class Risk:
    agb: str
    name: str | None
    level: str
    impact: str | None
    signals: list[Signal] = field(default_factory=list)

    def sort_key(self) -> tuple[int, int, int, int, str]:
        likely = [s.level for s in self.signals if s.kind not in IMPACT]
        return (
            -_RANK[self.level],
            -_RANK[self.impact],
            -likely.count(HIGH),
            -likely.count(MEDIUM),
            self.agb,
        )


# One row per provider the caller may see an entry for, with raw figures and their support
# (distinct youth, as municipality:youth_id). $1 municipality filter, $2 provider filter.
_RISKS = f"""
with d as materialized ({_DATA_DATE}),
w as (select d.d, (d.d - interval '12 months')::date as y12,
             (d.d - interval '6 months')::date as m6 from d),
traj as (
  select t.municipality_code, t.provider_agb, t.care_type, t.start_date, t.end_date,
         t.municipality_code || ':' || t.youth_id as who
  from trajectory t, w
  where t.start_date <= w.d and coalesce(t.end_date, 'infinity') > w.y12
), candidates as (
  select provider_agb as agb from traj where $1::text is null or municipality_code = $1
  union
  select c.provider_agb from provider_contract c, w
  where $1::text is null and c.start_date <= w.d and coalesce(c.end_date, 'infinity') >= w.d
  union
  select s.provider_agb from provider_signal s, w where $1::text is null and s.dated > w.y12
), in_care as (
  select count(distinct who) as n from traj where care_type in {JEUGDHULP}
), share as (
  select provider_agb, count(distinct who) as n from traj
  where care_type in {JEUGDHULP} group by provider_agb
), residential as (
  select t.provider_agb, count(distinct t.municipality_code || ':' || t.youth_id) as n
  from trajectory t, w
  where t.care_type = 'RESIDENTIAL' and t.start_date <= w.d
    and coalesce(t.end_date, 'infinity') >= w.d
  group by t.provider_agb
), lines as (
  select c.provider_agb, c.status, c.claim_date - c.period_end as delay,
         c.municipality_code || ':' || c.youth_id as who
  from claim c, w
  where c.debit_credit = 'D' and c.claim_date > w.y12 and c.claim_date <= w.d
), claims as (
  select provider_agb,
         count(*) filter (where status in ('GRANTED', 'REJECTED', 'CREDITED')) as answered,
         count(*) filter (where status = 'REJECTED') as rejected,
         count(distinct who) filter (where status in ('GRANTED', 'REJECTED', 'CREDITED'))
           as answered_youth,
         percentile_cont(0.5) within group (order by delay) as delay,
         count(distinct who) as delay_youth
  from lines group by provider_agb
), firsts as (
  select a.provider_agb, a.assigned_on, a.municipality_code || ':' || a.youth_id as who,
         (select min(p.start_date) from care_period p
          where p.municipality_code = a.municipality_code
            and p.toewijzing_nummer = a.toewijzing_nummer) as first_start
  from assignment a, w where a.assigned_on <= w.d
), waiting as (
  select f.provider_agb,
         percentile_cont(0.5) within group (order by f.first_start - f.assigned_on)
           filter (where f.first_start > w.m6) as recent,
         count(distinct f.who) filter (where f.first_start > w.m6) as recent_youth,
         percentile_cont(0.5) within group (order by f.first_start - f.assigned_on)
           filter (where f.first_start <= w.m6) as previous,
         count(distinct f.who) filter (where f.first_start <= w.m6) as previous_youth
  from firsts f, w
  where f.first_start > w.y12 and f.first_start <= w.d
  group by f.provider_agb
), assigned as (
  select provider_agb, max(assigned_on) as last, count(distinct municipality_code || ':'
         || youth_id) as youth
  from assignment group by provider_agb
), contracted as (
  select c.provider_agb, min(c.start_date) as since from provider_contract c, w
  where c.start_date <= w.d and coalesce(c.end_date, 'infinity') >= w.d
  group by c.provider_agb
), signal as (
  select distinct on (provider_agb) provider_agb, dated, early_warning, escalation,
         waiting_list, waiting_days
  from provider_signal order by provider_agb, dated desc
)
select k.agb, p.name, w.d as data_date, i.n as in_care, coalesce(s.n, 0) as share_youth,
       coalesce(r.n, 0) as residential_youth,
       coalesce(c.answered, 0) as answered, coalesce(c.rejected, 0) as rejected,
       coalesce(c.answered_youth, 0) as answered_youth,
       c.delay, coalesce(c.delay_youth, 0) as delay_youth,
       wt.recent, coalesce(wt.recent_youth, 0) as recent_youth,
       wt.previous, coalesce(wt.previous_youth, 0) as previous_youth,
       a.last as last_assigned, coalesce(a.youth, 0) as assigned_youth, ct.since,
       (select (extract(year from x) * 12 + extract(month from x))::int
        from (select age(w.d, coalesce(a.last, ct.since)) as x) y) as months,
       sg.dated as signal_dated, sg.early_warning, sg.escalation, sg.waiting_list,
       sg.waiting_days
from candidates k
cross join w
cross join in_care i
left join provider p on p.agb = k.agb
left join share s on s.provider_agb = k.agb
left join residential r on r.provider_agb = k.agb
left join claims c on c.provider_agb = k.agb
left join waiting wt on wt.provider_agb = k.agb
left join assigned a on a.provider_agb = k.agb
left join contracted ct on ct.provider_agb = k.agb
left join signal sg on sg.provider_agb = k.agb
where $2::text is null or k.agb = $2"""


class _Shown:
    """What a non-region caller may see of a figure: nothing when fewer youth than the
    threshold are behind it; rounded otherwise (counts to 5, shares to 2 decimals, days and
    months whole). The region sees every figure exactly."""

    def __init__(self, exact: bool, threshold: int) -> None:
        self.exact, self.threshold = exact, threshold

    def hidden(self, support: int) -> bool:
        return not self.exact and support < self.threshold

    def count(self, n: int) -> float:
        return float(n) if self.exact else float(5 * round(n / 5))

    def share(self, x: float) -> float:
        return x if self.exact else round(x, 2)

    def days(self, x: float) -> float:
        return x if self.exact else float(round(x))


def _suppressed(kind: str, why: str) -> Signal:
    return Signal(kind, None, None, why, suppressed=True)


def _risk(row: Any, scope: Scope, threshold: int) -> Risk:
    shown = _Shown(scope.role == "region", threshold)
    few = f"suppressed: computed from fewer than {threshold} youth"
    outside = "suppressed: needs records outside the caller's scope"
    whose = {"region": "the region's", "municipality": "the municipality's"}.get(scope.role, "the")
    signals: list[Signal] = []

    # Impact: share of the youth in care, residential youth depending on it.
    if scope.role == "provider":
        signals.append(_suppressed("YOUTH_SHARE", outside))
    elif shown.hidden(row["share_youth"]):
        signals.append(_suppressed("YOUTH_SHARE", few))
    elif not row["in_care"]:
        signals.append(Signal("YOUTH_SHARE", None, None, "no youth in care"))
    else:
        value = shown.share(row["share_youth"] / row["in_care"])
        signals.append(
            Signal(
                "YOUTH_SHARE",
                _at_least(value, YOUTH_SHARE),
                value,
                f"{value:.0%} of {whose} youth in jeugdhulp in the 12 months up to "
                f"{row['data_date']}",
            )
        )
    if shown.hidden(row["residential_youth"]):
        signals.append(_suppressed("RESIDENTIAL_YOUTH", few))
    else:
        n = shown.count(row["residential_youth"])
        signals.append(
            Signal(
                "RESIDENTIAL_YOUTH",
                _at_least(n, RESIDENTIAL_YOUTH),
                n,
                f"{n:.0f} youth in its residential care on {row['data_date']}",
            )
        )

    # Likelihood: claims, waiting, assignments, contract management.
    if shown.hidden(row["answered_youth"]):
        signals.append(_suppressed("CLAIM_REJECTION_RATE", few))
    elif not row["answered"]:
        signals.append(
            Signal("CLAIM_REJECTION_RATE", None, None, "no answered claims in 12 months")
        )
    else:
        rate = shown.share(row["rejected"] / row["answered"])
        signals.append(
            Signal(
                "CLAIM_REJECTION_RATE",
                _above(rate, REJECTION_RATE),
                rate,
                f"{rate:.0%} of its answered claim lines of the last 12 months rejected",
            )
        )
    if shown.hidden(row["delay_youth"]):
        signals.append(_suppressed("CLAIM_DELAY_DAYS", few))
    elif row["delay"] is None:
        signals.append(Signal("CLAIM_DELAY_DAYS", None, None, "no claims in 12 months"))
    else:
        delay = shown.days(row["delay"])
        signals.append(
            Signal(
                "CLAIM_DELAY_DAYS",
                _above(delay, CLAIM_DELAY_DAYS),
                delay,
                f"median {delay:g} days from product period end to claim (12 months)",
            )
        )
    if shown.hidden(row["recent_youth"]) or shown.hidden(row["previous_youth"]):
        signals.append(_suppressed("WAITING_DAYS_TREND", few))
    elif row["recent"] is None or row["previous"] is None:
        signals.append(
            Signal(
                "WAITING_DAYS_TREND",
                None,
                None if row["recent"] is None else shown.days(row["recent"]),
                "no care started in one of the two half years: no trend",
                previous=None if row["previous"] is None else shown.days(row["previous"]),
            )
        )
    else:
        recent, previous = shown.days(row["recent"]), shown.days(row["previous"])
        signals.append(
            Signal(
                "WAITING_DAYS_TREND",
                _at_least(recent - previous, WAITING_DAYS_RISE),
                recent,
                f"median waiting {recent:g} days in the last 6 months, "
                f"{previous:g} in the 6 before",
                previous=previous,
            )
        )
    if shown.hidden(row["assigned_youth"]):
        signals.append(_suppressed("MONTHS_SINCE_NEW_ASSIGNMENT", few))
    elif row["months"] is None:
        signals.append(Signal("MONTHS_SINCE_NEW_ASSIGNMENT", None, None, "no assignment"))
    else:
        months = float(max(row["months"], 0))
        since = (
            f"its last new assignment ({row['last_assigned']})"
            if row["last_assigned"]
            else f"the start of its contract ({row['since']}), without any assignment"
        )
        signals.append(
            Signal(
                "MONTHS_SINCE_NEW_ASSIGNMENT",
                _at_least(months, MONTHS_SINCE_ASSIGNMENT),
                months,
                f"{months:.0f} months since {since}",
            )
        )
    if row["signal_dated"] is None:
        for kind in ("EARLY_WARNING", "ESCALATION"):
            signals.append(Signal(kind, None, None, "no contract-management signal"))
    else:
        waiting = (
            f"; waiting list {row['waiting_list']}, {row['waiting_days']} waiting days"
            if row["waiting_list"] is not None
            else ""
        )
        for kind, status, levels in (
            ("EARLY_WARNING", row["early_warning"], EARLY_WARNING),
            ("ESCALATION", row["escalation"], ESCALATION),
        ):
            signals.append(
                Signal(
                    kind,
                    levels[status],
                    None,
                    f"contract management {kind.lower().replace('_', ' ')} {status} on "
                    f"{row['signal_dated']}{waiting}",
                    status=status,
                    dated=row["signal_dated"],
                )
            )
    likely = [s.level for s in signals if s.kind not in IMPACT and s.level]
    impact = [s.level for s in signals if s.kind in IMPACT and s.level]
    return Risk(
        agb=row["agb"],
        name=row["name"],
        level=max(likely, key=_RANK.__getitem__, default=LOW),
        impact=max(impact, key=_RANK.__getitem__, default=None),
        signals=signals,
    )


async def continuity_risks(
    tx: Tx, scope: Scope, threshold: int, municipality: str | None, first: int
) -> list[Risk]:
    """Providers with their continuity signals, the riskiest first (level, then impact, then
    the number of HIGH and of MEDIUM likelihood signals, then AGB).

    Which providers: with a municipality, those with a trajectory of its youth overlapping
    the 12 months up to the data date (the providers its youth depend on); without one,
    those with such a trajectory of any youth, a contract running on the data date or a
    contract-management signal in those 12 months. Windows: the 12 (6) months up to the
    caller's data date.

    Who sees what: `region` every provider, figures over all records, exact. `municipality`
    only the providers its own youth depend on (another municipality's filter gives
    nothing), figures over its own records (the share is of its own youth in care).
    `provider` its own entry, figures over its own records, its share of youth suppressed
    (it cannot see the other providers' youth). For every caller but the region a figure
    from fewer youth than the threshold is null and suppressed, and shown figures are
    rounded; levels are judged on the shown figure, so they reveal nothing more.
    `public` and `admin`: nothing.
    """
    if scope.role not in ("region", "municipality", "provider"):
        return []
    if scope.role == "municipality":
        if municipality not in (None, scope.municipality):
            return []
        municipality = scope.municipality
    agb = scope.provider if scope.role == "provider" else None
    if scope.role == "provider" and agb is None:
        return []
    rows = await tx.fetch(_RISKS, municipality, agb)
    risks = sorted((_risk(r, scope, threshold) for r in rows), key=Risk.sort_key)
    return risks[:first]


# Long-running and switching care ---------------------------------------------------------

# Each youth's jeugdhulp of any provider and care type, chained by overlap or touch, that
# covers the data date and started more than $1 years before it.
_LONG_RUNNING = f"""with d as materialized ({_DATA_DATE}),
ordered as (
  select t.municipality_code, t.youth_id, t.start_date,
         coalesce(t.end_date, 'infinity') as end_date,
         max(coalesce(t.end_date, 'infinity')) over (
           partition by t.municipality_code, t.youth_id order by t.start_date, t.id
           rows between unbounded preceding and 1 preceding) as end_so_far,
         t.id
  from trajectory t, d
  where t.care_type in {JEUGDHULP} and t.start_date <= d.d
), grouped as (
  select o.*, sum(case when o.end_so_far is null or o.start_date > o.end_so_far + 1
                       then 1 else 0 end)
                over (partition by o.municipality_code, o.youth_id
                      order by o.start_date, o.id) as grp
  from ordered o
), chains as (
  select municipality_code, youth_id, min(start_date) as s, max(end_date) as e
  from grouped group by municipality_code, youth_id, grp
), hits as (
  select distinct c.municipality_code, c.youth_id from chains c, d
  where c.e >= d.d and c.s < d.d - make_interval(years => $1::int)
)"""

# Youth with jeugdhulp trajectories at three or more providers in the $1 months up to the
# data date.
_SWITCHING = f"""with d as materialized ({_DATA_DATE}),
hits as (
  select t.municipality_code, t.youth_id from trajectory t, d
  where t.care_type in {JEUGDHULP} and t.start_date <= d.d
    and coalesce(t.end_date, 'infinity') > d.d - make_interval(months => $1::int)
  group by t.municipality_code, t.youth_id
  having count(distinct t.provider_agb) >= 3
)"""

_YOUTH_OF_HITS = """ select y.* from youth y
  join hits h on h.municipality_code = y.municipality_code and h.youth_id = y.id
  where ($2::text is null or (y.municipality_code, y.id) > ($2, $3::bigint))
  order by y.municipality_code, y.id limit $4"""


async def _empty_count() -> int:
    return 0


async def _youth_page(
    tx: Tx, scope: Scope, cte: str, span: int, *, first: int, after: str | None
) -> records.Page:
    cursor = records.decode_cursor(after)
    if scope.role not in ("municipality", "region"):
        return records.Page([], False, _empty_count)
    rows = await tx.fetch(cte + _YOUTH_OF_HITS, span, cursor[0], cursor[1], first + 1)

    async def count() -> int:
        return int(await tx.fetchval(cte + " select count(*) from hits", span))

    return records.Page(rows[:first], len(rows) > first, count)


async def long_running_youth(
    tx: Tx, scope: Scope, years: int, first: int, after: str | None
) -> records.Page:
    """Youth in uninterrupted jeugdhulp (their trajectories of any provider and care type
    chained by overlap or touch) for more than `years` years on the data date: the chain
    covers the data date and started before the data date minus `years` years. Records: a
    municipality its own youth, the region all; every other role nothing."""
    return await _youth_page(tx, scope, _LONG_RUNNING, years, first=first, after=after)


async def switching_youth(tx: Tx, scope: Scope, first: int, after: str | None) -> records.Page:
    """Youth with jeugdhulp trajectories at three or more providers in the 12 months up to
    the data date (trajectories overlapping (data date - 12 months, data date]). Records: a
    municipality its own youth, the region all; every other role nothing."""
    return await _youth_page(tx, scope, _SWITCHING, 12, first=first, after=after)
