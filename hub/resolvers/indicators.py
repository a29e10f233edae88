"""Indicators in SQL: the metrics of docs/indicators.md per group and period.

One query per family of facts (trajectories, claim lines, assignments, long-running and
switching youth), each grouped by the requested dimensions over a set of calendar buckets
computed here. Every value comes with its support (the distinct youth it is computed from)
for hub/suppression.py. The facts are read region-wide: a municipality or the public sees
other municipalities only through suppression.

Questions by municipality and whole calendar months, quarters or years (the dashboard's)
read the stored results of the same queries instead (table indicator_fact, kept by
`refresh_facts` for the municipalities whose records changed); while any municipality
awaits its refresh, they are computed live like every other question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import orjson

from hub.db import Database, Scope, Tx
from hub.suppression import TIME, Answer, Cell, Row

JEUGDHULP = ("AMBULANT", "RESIDENTIAL", "CRISIS")
CATEGORICAL = ("CARE_TYPE", "PRODUCT_CATEGORY", "PROVIDER", "REFERRER_TYPE")
_COLUMN = {"CARE_TYPE": "ct", "PRODUCT_CATEGORY": "pc", "PROVIDER": "pv", "REFERRER_TYPE": "rt"}
# Lots of a budget -> care type; HSWV has none (it counts only where care types are not split).
_LOT_CARE_TYPE = {lot: lot for lot in (*JEUGDHULP, "PROTECTION", "PROBATION")}


@dataclass(frozen=True, slots=True)
class Request:
    metrics: tuple[str, ...]
    group_by: tuple[str, ...]
    municipalities: tuple[str, ...] | None = None
    start: date | None = None
    end: date | None = None
    care_types: tuple[str, ...] | None = None
    product_categories: tuple[str, ...] | None = None
    providers: tuple[str, ...] | None = None

    @property
    def time(self) -> str | None:
        """The finest time dimension grouped by."""
        return next((t for t in reversed(TIME) if t in self.group_by), None)

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(d for d in CATEGORICAL if d in self.group_by)

    @property
    def counted_care_types(self) -> tuple[str, ...] | None:
        """Jeugdhulp, unless grouped by CARE_TYPE or filtered by careTypes (None: all)."""
        if self.care_types is not None:
            return self.care_types
        return None if "CARE_TYPE" in self.group_by else JEUGDHULP

    @property
    def filter_key(self) -> tuple[Any, ...]:
        return (
            self.municipalities,
            self.start,
            self.end,
            self.care_types,
            self.product_categories,
            self.providers,
            self.counted_care_types,
        )


@dataclass(frozen=True, slots=True)
class Bucket:
    key: dict[str, int]  # year / quarter / month of the bucket (empty: no time grouping)
    start: date
    end: date


def buckets(req: Request, first: date | None, last: date | None) -> list[Bucket]:
    """The periods of the rows: calendar periods from `from` (else the first date in the
    data) to `to` (else the last), each intersected with from/to; or the one period."""
    lo, hi = req.start or date.min, req.end or date.max
    time = req.time
    if time is None:
        return [Bucket({}, lo, hi)]
    first, last = req.start or first, req.end or last
    if first is None or last is None or first > last:
        return []
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[time]
    cursor = date(first.year, (first.month - 1) // months * months + 1 if months < 12 else 1, 1)
    result = []
    while cursor <= last:
        nxt = _add_months(cursor, months)
        key = {"YEAR": cursor.year}
        if time in ("QUARTER", "MONTH"):
            key["QUARTER"] = (cursor.month - 1) // 3 + 1
        if time == "MONTH":
            key["MONTH"] = cursor.month
        result.append(Bucket(key, max(cursor, lo), min(nxt - timedelta(days=1), hi)))
        cursor = nxt
    return result


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


# Facts: one row per trajectory, claim line or assignment with the dimension columns
# m (municipality), y (youth), ct, pc, pv, rt, filtered by the request ($1..$4) and, before
# any grouping, by the span of all buckets ($10, $11), so only the period asked is computed.
# The span is given as values, not taken from the buckets' arrays in the statement: the
# planner then sees how many rows it keeps (for the whole data, all of them) and hashes what
# it joins a claim line's status from, instead of looking it up per line (the claims family
# over the region in 3 s instead of 5).
_FILTER = """($1::text[] is null or f.m = any($1)) and ($2::text[] is null or f.ct = any($2))
    and ($3::text[] is null or f.pc = any($3)) and ($4::text[] is null or f.pv = any($4))"""

# A youth as one bigint, for counting distinct youth: a municipality's code is four digits
# (its table's check) and its youth's ids are bigints, so (m, y) maps to y * 10000 + m one
# to one (or fails as out of range). Distinct (m, y) records took 1.3 to 1.8 times as long
# (the claims and trajectory families): each comparison takes both records apart.
_YOUTH = "(f.y * 10000 + f.m::int)"

_ALL_TRAJECTORIES = """select municipality_code m, youth_id y, care_type ct,
    product_category pc, provider_agb pv, referrer_type rt, start_date s,
    coalesce(end_date, 'infinity') e, end_date, end_reason, repeat_inflow from trajectory"""
_TRAJECTORIES = (
    _ALL_TRAJECTORIES
    + """
    where start_date <= $11::date and coalesce(end_date, 'infinity') >= $10::date"""
)

_CLAIMS = """select c.municipality_code m, c.youth_id y, care_type_of(c.product_category) ct,
    c.product_category pc, c.provider_agb pv, r.referrer_type rt, c.period_start s,
    c.period_end, c.claim_date, c.amount_cents, c.status, c.debit_credit
    from claim c
    left join assignment a on a.municipality_code = c.municipality_code
                          and a.toewijzing_nummer = c.toewijzing_nummer
    left join referral r on r.municipality_code = a.municipality_code
                        and r.provider_agb = a.provider_agb
                        and r.provider_reference = a.provider_reference
    where c.period_start between $10::date and $11::date"""

_ASSIGNMENTS = """select a.municipality_code m, a.youth_id y,
    care_type_of(coalesce(a.product_category, p.category)) ct,
    coalesce(a.product_category, p.category) pc, a.provider_agb pv, r.referrer_type rt,
    p.first_start s, a.assigned_on
    from assignment a
    join lateral (select min(cp.start_date) first_start,
                         (array_agg(cp.product_category order by cp.start_date))[1] category
                  from care_period cp where cp.municipality_code = a.municipality_code
                    and cp.toewijzing_nummer = a.toewijzing_nummer) p on p.first_start is not null
    left join referral r on r.municipality_code = a.municipality_code
                        and r.provider_agb = a.provider_agb
                        and r.provider_reference = a.provider_reference"""

# Buckets as arrays: $5 ids, $6 starts, $7 ends; $8 the last date in the data, $9 the years
# of long-running care; $10 and $11 the first and last day of all buckets.
_BUCKETS = "unnest($5::int[], $6::date[], $7::date[]) b(bid, ps, pe)"
# The buckets of rows that fall on one day f.s, as a CTE `b` to join on the month (a hash
# join, not a loop over every bucket per row): each bucket once per calendar month it spans
# within the rows' own days.
_BUCKET_MONTHS = f"""b as materialized (
    select b.bid, b.ps, b.pe, m::date mo
    from (select min(s) lo, max(s) hi from f) r, {_BUCKETS},
         generate_series(date_trunc('month', greatest(b.ps, r.lo)::timestamp),
                         least(b.pe, r.hi)::timestamp, interval '1 month') m)"""
_IN_BUCKET = "b.mo = date_trunc('month', f.s::timestamp)::date and f.s between b.ps and b.pe"

_DATA_RANGE = """select least((select min(start_date) from trajectory),
                              (select min(period_start) from claim_line),
                              (select min(assigned_on) from assignment)),
                        greatest((select max(greatest(start_date, end_date)) from trajectory),
                                 (select max(period_end) from claim_line),
                                 (select max(assigned_on) from assignment))"""

# Each youth's jeugdhulp care, all providers and care types, chained by overlap or touch.
# The trajectories of jeugdhulp in the asked municipalities (the table's columns, unaliased):
# the ones long-running and switching youth are counted over.
_JEUGDHULP_TRAJECTORIES = f"""care_type in {JEUGDHULP!r}
    and ($1::text[] is null or municipality_code = any($1))"""

_CHAINS = f"""chains as (
  select m, y, min(s) cs, max(e) ce from (
    select m, y, s, e, sum(gap) over (partition by m, y order by s, e) grp from (
      select municipality_code m, youth_id y, start_date s, coalesce(end_date, 'infinity') e,
             case when start_date > max(coalesce(end_date, 'infinity')) over (
                    partition by municipality_code, youth_id order by start_date, end_date
                    rows between unbounded preceding and 1 preceding) + 1
                  then 1 else 0 end gap
      from trajectory where {_JEUGDHULP_TRAJECTORIES}) x) g
  group by m, y, grp)"""


def _group_sql(req: Request) -> tuple[str, str]:
    cols = [f"f.{_COLUMN[d]}" for d in req.categorical]
    if "MUNICIPALITY" in req.group_by:
        cols.insert(0, "f.m")
    select = ", ".join(["b.bid", *cols])
    return select, select


def _queries(req: Request) -> list[tuple[str, str]]:
    """(family, SQL) for the families the metrics need."""
    wanted = set(req.metrics)
    select, group = _group_sql(req)
    # The referrer's type only when grouped by: the joins that find it for claims and
    # assignments then drop out of the plan (a materialized CTE computes all it selects).
    rt = ", rt" if "REFERRER_TYPE" in req.categorical else ""
    found = []
    if wanted & {
        "YOUTH_IN_CARE", "TRAJECTORIES_STARTED", "TRAJECTORIES_ENDED", "AVERAGE_DURATION_DAYS",
        "RESIDENTIAL_SHARE", "YOUTH_PER_1000", "REPEAT_INFLOW_SHARE", "DROPOUT_SHARE",
    }:  # fmt: skip
        started = "f.s between b.ps and b.pe"
        ended = "f.end_date between b.ps and b.pe"
        found.append((
            "trajectory",
            f"""select {select},
                  count(distinct {_YOUTH}) youth,
                  count(distinct {_YOUTH}) filter (where f.ct = 'RESIDENTIAL') residential,
                  count(*) filter (where {started}) started,
                  count(distinct {_YOUTH}) filter (where {started}) started_youth,
                  count(*) filter (where {started} and f.repeat_inflow) repeat,
                  count(*) filter (where {ended}) ended,
                  count(distinct {_YOUTH}) filter (where {ended}) ended_youth,
                  count(*) filter (where {ended} and f.end_reason in ('32', '33', '34', '35'))
                    dropouts,
                  avg(f.end_date - f.s + 1) filter (where {ended}) duration
                from {_BUCKETS} join ({_TRAJECTORIES}) f on f.s <= b.pe and f.e >= b.ps
                where {_FILTER} group by {group}""",
        ))  # fmt: skip
    if wanted & {"COST_EUR", "BUDGET_UTILISATION", "CLAIM_DELAY_DAYS"}:
        granted = "f.status = 'GRANTED'"
        found.append((
            "claim",
            # Each line's status once (a view column with subqueries), before the buckets.
            f"""with f as materialized (
                  select m, y, ct, pc, pv, s, period_end, claim_date, amount_cents, status,
                         debit_credit{rt}
                  from ({_CLAIMS}) f where {_FILTER}),
                {_BUCKET_MONTHS}
                select {select},
                  coalesce(sum(f.amount_cents) filter (where {granted}), 0) cost,
                  count(distinct {_YOUTH}) filter (where {granted}) cost_youth,
                  percentile_cont(0.5) within group (order by f.claim_date - f.period_end)
                    filter (where f.debit_credit = 'D') delay,
                  count(distinct {_YOUTH}) filter (where f.debit_credit = 'D') delay_youth
                from f join b on {_IN_BUCKET}
                group by {group}""",
        ))  # fmt: skip
    if "WAITING_DAYS" in wanted:
        found.append((
            "assignment",
            f"""with f as materialized (
                  select m, y, ct, pc, pv, s, assigned_on{rt}
                  from ({_ASSIGNMENTS}) f where {_FILTER}),
                {_BUCKET_MONTHS}
                select {select},
                  percentile_cont(0.5) within group (order by f.s - f.assigned_on) waiting,
                  count(distinct {_YOUTH}) waiting_youth
                from f join b on {_IN_BUCKET}
                group by {group}""",
        ))  # fmt: skip
    day = "least(b.pe, $8::date)"
    if "LONG_RUNNING_YOUTH" in wanted:
        found.append((
            "long_running",
            # Only a chain that lasts the years may hold a long-running day: the buckets
            # meet those chains' trajectories alone (every youth's, 110,000 for the region's
            # five years, made 12 million pairs with the buckets).
            f"""with {_CHAINS}
                select {select}, count(distinct {_YOUTH}) long_running
                from {_BUCKETS} join ({_TRAJECTORIES}) f on f.s <= {day} and f.e >= {day}
                join chains ch on ch.m = f.m and ch.y = f.y and ch.cs <= {day}
                  and ch.ce >= {day} and ch.cs + make_interval(years => $9) <= {day}
                  and ch.cs + make_interval(years => $9) <= ch.ce
                where {_FILTER} group by {group}""",
        ))  # fmt: skip
    if "SWITCHING_YOUTH" in wanted:
        window = f"f.s <= {day} and f.e > {day} - interval '1 year'"
        found.append((
            "switching",
            # Only a youth with three providers in all may have three in one year: the
            # buckets are joined to those youth's trajectories alone (1.4 million rows of
            # every youth's for the region's five years, sorted, were most of its time).
            f"""with candidates as materialized (
                  select t.municipality_code m, t.youth_id y from trajectory t
                  where {_JEUGDHULP_TRAJECTORIES}
                  group by t.municipality_code, t.youth_id
                  having count(distinct t.provider_agb) >= 3),
                switching as (
                  select b.bid, t.municipality_code m, t.youth_id y from {_BUCKETS}
                  join trajectory t on t.start_date <= {day}
                    and coalesce(t.end_date, 'infinity') > {day} - interval '1 year'
                  join candidates c on c.m = t.municipality_code and c.y = t.youth_id
                  where {_JEUGDHULP_TRAJECTORIES}
                  group by b.bid, t.municipality_code, t.youth_id
                  having count(distinct t.provider_agb) >= 3)
                select {select}, count(distinct {_YOUTH}) switching
                from {_BUCKETS} join ({_ALL_TRAJECTORIES}) f on {window}
                join switching sw on sw.bid = b.bid and sw.m = f.m and sw.y = f.y
                where {_FILTER} group by {group}""",
        ))  # fmt: skip
    return found


# What every question needs besides the facts, in one statement: the region, the budgets,
# the population per municipality (the region file's, overridden per year by ingested
# population data) and the state of the stored facts.
_REFERENCE = """select
    array(select code from municipality where in_region order by code) as region,
    (select coalesce(json_agg(b), '[]') from (
       select municipality_code, year, lot, amount_cents from budget) b)::text as budgets,
    (select json_object_agg(m.code, m.youth_population || coalesce(
       (select jsonb_object_agg(p.year::text, p.youth_0_17) from population p
        where p.municipality_code = m.code), '{}')) from municipality m)::text as populations,
    s.first_date, s.last_date, s.long_running_years, s.refreshed_at,
    s.refreshed_at is not null and not exists (select 1 from fact_dirty) as clean
    from indicator_fact_state s"""


async def compute(tx: Tx, req: Request, long_running_years: int) -> list[Row]:
    """The exact rows of one request: every cell with its value and support."""
    ((state,),) = await tx.fetch_region_wide([(_REFERENCE, ())])
    region: list[str] = state["region"]
    budgets = _budget_table(state["budgets"])
    populations = _population_table(state["populations"] or "{}")
    # Fresh facts: no records changed since they were computed, over the data's range then.
    fresh = state["clean"] and state["long_running_years"] == long_running_years
    if fresh:
        first, last = state["first_date"], state["last_date"]
    else:
        ((data_range,),) = await tx.fetch_region_wide([(_DATA_RANGE, ())])
        first, last = data_range[0], data_range[1]
    periods = buckets(req, first, last)
    grain = _fact_grain(req, periods) if fresh else None
    if grain is not None:
        facts = await _stored_facts(tx, req, grain, periods)
    else:
        families = _queries(req)
        args = _args(req, periods, last, long_running_years)
        results = await tx.fetch_region_wide([_bound(sql, args) for _, sql in families])
        facts = {
            family: _by_key(rows, req) for (family, _), rows in zip(families, results, strict=True)
        }
    return _rows(
        req,
        periods,
        region=region,
        facts=facts,
        budgets=budgets,
        populations=populations,
        last=last,
    )


def _args(req: Request, periods: list[Bucket], last: date | None, years: int) -> list[Any]:
    return [
        list(req.municipalities) if req.municipalities else None,
        list(req.counted_care_types) if req.counted_care_types else None,
        list(req.product_categories) if req.product_categories else None,
        list(req.providers) if req.providers else None,
        list(range(len(periods))),
        [b.start for b in periods],
        [b.end for b in periods],
        last or date.max,
        years,
        min((b.start for b in periods), default=None),
        max((b.end for b in periods), default=None),
    ]


# Stored facts --------------------------------------------------------------------------

GRAINS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}  # months per period
# One metric of each family: a refresh stores every family.
_EVERY_FAMILY = (
    "YOUTH_IN_CARE",
    "COST_EUR",
    "WAITING_DAYS",
    "LONG_RUNNING_YOUTH",
    "SWITCHING_YOUTH",
)
_FACT_STATE = """select s.first_date, s.last_date, s.long_running_years, s.refreshed_at,
    s.refreshed_at is not null and not exists (select 1 from fact_dirty) as clean
    from indicator_fact_state s"""


def _fact_grain(req: Request, periods: list[Bucket]) -> str | None:
    """The grain of stored facts that answers the request exactly, if any: grouped by
    municipality and a time dimension only, no filter but municipalities, and every period a
    whole calendar month, quarter or year."""
    time = req.time
    if time is None or set(req.group_by) - set(TIME) != {"MUNICIPALITY"}:
        return None
    if (req.care_types, req.product_categories, req.providers) != (None, None, None):
        return None
    months = GRAINS[time]
    whole = all(
        b.start.day == 1
        and (b.start.month - 1) % months == 0
        and b.end == _add_months(b.start, months) - timedelta(days=1)
        for b in periods
    )
    return time if whole else None


async def _stored_facts(
    tx: Tx, req: Request, grain: str, periods: list[Bucket]
) -> dict[str, dict[tuple[Any, ...], Any]]:
    """The stored family rows of the periods, read as one JSON document: one decode instead
    of one per row."""
    families = [family for family, _ in _queries(req)]
    ((found,),) = await tx.fetch_region_wide(
        [
            (
                """select coalesce(json_agg(json_build_array(family, municipality_code,
                                                           period_start, data)), '[]')::text
                   from indicator_fact
                   where grain = $1 and period_start = any($2::date[])
                     and family = any($3::text[])
                     and ($4::text[] is null or municipality_code = any($4))""",
                (
                    grain,
                    [b.start for b in periods],
                    families,
                    list(req.municipalities) if req.municipalities else None,
                ),
            )
        ]
    )
    bid = {b.start.isoformat(): i for i, b in enumerate(periods)}
    facts: dict[str, dict[tuple[Any, ...], Any]] = {family: {} for family in families}
    # Numbers are read as float where the live row has a Decimal (sums, averages): the
    # metrics use them only as floats, and float() of the stored exact text is float() of
    # that Decimal.
    for family, municipality, start, data in orjson.loads(found[0]):
        facts[family][(bid[start], municipality)] = data
    return facts


async def refresh_facts(
    db: Database, region: Sequence[str], long_running_years: int, *, readers: int = 0
) -> int:
    """Recompute the stored facts of the municipalities whose records changed; returns how
    many were recomputed.

    The others keep theirs, except when the data's last date moved: periods from the one
    that held the old last date on depend on it (open care runs into new months, and
    long-running and switching care are counted on the last day), so those are recomputed
    for every municipality. The first date needs nothing: no municipality whose records did
    not change has records before it. Holds fact_dirty locked throughout, so a concurrent
    ingest waits to mark what it changes until this is done, and nothing is lost from view.
    `readers`: the families are computed on up to that many connections of their own at
    once (`Database.tenant`); no concurrent ingest can change what they read meanwhile."""
    scope = Scope("ingest", actor="facts", ingest_municipalities=tuple(sorted(region)))
    async with db.tenant(scope, readonly=False, timeout_ms=3_600_000, readers=readers) as tx:
        await tx.execute("lock table fact_dirty in share row exclusive mode")
        # Each family reads whole tables: hash joins, whatever statistics that lag behind a
        # load make the planner expect (when it took the span of the periods to keep 0.5% of
        # the rows, every join was a loop of index lookups: the claims family in 10 s, not 8).
        await tx.execute("set local enable_nestloop = off")
        dirty = {r[0] for r in await tx.fetch("select municipality_code from fact_dirty")}
        ((first, last),) = await tx.fetch(_DATA_RANGE)
        (state,) = await tx.fetch(_FACT_STATE)
        known = (
            state["refreshed_at"] is not None and state["long_running_years"] == long_running_years
        )
        if not known or state["last_date"] is None or last is None:
            full, since = set(region), None
        else:
            full = dirty & set(region)
            since = min(state["last_date"], last) if state["last_date"] != last else None
        # The municipalities of one kind at once, every grain in one statement per family:
        # each family's facts are found once, and the families that chain or compare a
        # youth's care once for the whole region.
        partial = set(region) - full if since is not None else set()
        for municipalities, start in ((full, None), (partial, since)):
            if municipalities:
                await _store_facts(
                    tx,
                    tuple(sorted(municipalities)),
                    first=first,
                    last=last,
                    years=long_running_years,
                    since=start,
                )
        await tx.execute("delete from fact_dirty")
        await tx.execute(
            """update indicator_fact_state set first_date = $1, last_date = $2,
                 long_running_years = $3, refreshed_at = now()""",
            first,
            last,
            long_running_years,
        )
        return len(full)


async def _store_facts(
    tx: Tx,
    municipalities: tuple[str, ...],
    *,
    first: date | None,
    last: date | None,
    years: int,
    since: date | None,
) -> None:
    """Store the municipalities' facts of every grain: of every period, or of the periods
    from the one holding `since` on. The periods of all grains are the buckets of one
    statement per family, each stored under its own grain."""
    req = Request(_EVERY_FAMILY, ("MUNICIPALITY",), municipalities=municipalities)
    grains, periods, replaced_from = [], [], []  # per grain: where the stored ones go
    for grain in GRAINS:
        by_grain = replace(req, group_by=("MUNICIPALITY", grain))
        found = [b for b in buckets(by_grain, first, last) if since is None or b.end >= since]
        grains += [grain] * len(found)
        periods += found
        replaced_from.append(None if since is None else found[0].start if found else date.max)
    await tx.execute(
        """delete from indicator_fact f using unnest($2::text[], $3::date[]) g(grain, since)
           where f.municipality_code = any($1) and f.grain = g.grain
             and (g.since is null or f.period_start >= g.since)""",
        list(municipalities),
        list(GRAINS),
        replaced_from,
    )
    if not periods:
        return
    args = _args(req, periods, last, years)
    families = _queries(req)
    computed = await tx.fetch_region_wide(
        [
            _bound(f"select q.m, q.bid, (to_jsonb(q) - 'bid' - 'm')::text from ({sql}) q", args)
            for _, sql in families
        ]
    )  # fmt: skip
    rows = [
        (m, grains[bid], periods[bid].start, family, data)
        for (family, _), result in zip(families, computed, strict=True)
        for m, bid, data in result
    ]
    if rows:
        await tx.execute(
            """insert into indicator_fact(municipality_code, grain, period_start, family, data)
               select * from unnest($1::text[], $2::text[], $3::date[], $4::text[],
                                    $5::jsonb[])""",
            *map(list, zip(*rows, strict=True)),
        )


def _bound(sql: str, args: list[Any]) -> tuple[str, list[Any]]:
    """The statement with the parameters it uses numbered $1..$N in their order, and their
    values (PostgreSQL cannot type a parameter that a statement does not use)."""
    numbered, used = _renumbered(sql)
    return numbered, [args[n - 1] for n in used]


@lru_cache(maxsize=256)
def _renumbered(sql: str) -> tuple[str, tuple[int, ...]]:
    """The statement with its parameters numbered $1..$N, and which ones they were (worked
    out once per statement text: every live question asks it)."""
    used = tuple(sorted({int(n) for n in _PARAMETER.findall(sql)}))
    number = {n: f"${i}" for i, n in enumerate(used, 1)}
    return _PARAMETER.sub(lambda m: number[int(m[1])], sql), used


_PARAMETER = re.compile(r"\$(\d+)")


def _by_key(rows: list[Any], req: Request) -> dict[tuple[Any, ...], Any]:
    width = 1 + ("MUNICIPALITY" in req.group_by) + len(req.categorical)
    return {tuple(r[i] for i in range(width)): r for r in rows}


def _rows(
    req: Request,
    periods: list[Bucket],
    *,
    region: Sequence[str],
    facts: dict[str, dict[tuple[Any, ...], Any]],
    budgets: _BudgetTable,
    populations: _PopulationTable,
    last: date | None,
) -> list[Row]:
    municipalities = list(req.municipalities or region)
    by_municipality = "MUNICIPALITY" in req.group_by
    width = 1 + by_municipality
    combos = sorted(
        {key[width:] for found in facts.values() for key in found},
        key=lambda k: tuple("" if v is None else str(v) for v in k),
    ) if req.categorical else [()]  # fmt: skip
    population = populations.total
    budget = _Budgets(req, budgets)
    trajectory, claim, assignment, long_running, switching = (
        facts.get(family, _NO_ROWS) for family in _FAMILIES
    )
    metrics, categorical = req.metrics, req.categorical
    everyone = tuple(municipalities)
    rows = []
    for bid, bucket in enumerate(periods):
        year = (min(bucket.end, last) if last else bucket.end).year  # of the population
        shares = _year_shares(bucket)
        for muni in municipalities if by_municipality else [None]:
            scope = (muni,) if muni else everyone
            pop = population(scope, year)
            for combo in combos:
                key = (bid, muni, *combo) if by_municipality else (bid, *combo)
                dims: dict[str, Any] = dict(bucket.key)
                if by_municipality:
                    dims["MUNICIPALITY"] = muni
                if combo:
                    dims.update(zip(categorical, combo, strict=True))
                values = _values(
                    trajectory.get(key) or _NOTHING,
                    claim.get(key) or _NOTHING,
                    assignment.get(key) or _NOTHING,
                    (long_running.get(key) or _NOTHING).get("long_running") or 0,
                    (switching.get(key) or _NOTHING).get("switching") or 0,
                    pop,
                    budget(scope, shares, dims.get("CARE_TYPE", _ANY_CARE_TYPE)),
                )
                cells = [
                    Cell(m, value, support, False)
                    for m in metrics
                    for value, support in (values[m],)
                ]
                youth = values["YOUTH_IN_CARE"][1]  # the count is its own support
                rows.append(Row(dims, cells, youth_in_care=youth, population=pop))
    return rows


_NOTHING: dict[str, Any] = {}
_NO_ROWS: dict[tuple[Any, ...], Any] = {}
_ANY_CARE_TYPE = "*"  # a row not grouped by care type
_FAMILIES = ("trajectory", "claim", "assignment", "long_running", "switching")


def _values(  # noqa: PLR0917 (one row's family rows, straight from _rows)
    t: Any, c: Any, a: Any, long_running: int, switching: int, pop: int | None, budget: float | None
) -> dict[str, tuple[float | None, int | None]]:
    """(value, support) of every metric of one row, from its family rows (a row missing or
    a column null counts as zero, or as no value for medians and averages)."""
    youth = t.get("youth") or 0
    started, started_youth = t.get("started") or 0, t.get("started_youth") or 0
    ended, ended_youth = t.get("ended") or 0, t.get("ended_youth") or 0
    duration = t.get("duration")
    cost, cost_youth = float(c.get("cost") or 0) / 100, c.get("cost_youth") or 0
    return {
        "YOUTH_IN_CARE": (youth, youth),
        "TRAJECTORIES_STARTED": (started, started_youth),
        "TRAJECTORIES_ENDED": (ended, ended_youth),
        "AVERAGE_DURATION_DAYS": (None if duration is None else float(duration), ended_youth),
        "RESIDENTIAL_SHARE": (_ratio(t.get("residential") or 0, youth), youth),
        "YOUTH_PER_1000": (youth * 1000 / pop if pop else None, youth),
        "REPEAT_INFLOW_SHARE": (_ratio(t.get("repeat") or 0, started), started_youth),
        "DROPOUT_SHARE": (_ratio(t.get("dropouts") or 0, ended), ended_youth),
        "COST_EUR": (cost, cost_youth),
        "BUDGET_EUR": (budget, None),
        "BUDGET_UTILISATION": (cost / budget if budget else None, cost_youth),
        "CLAIM_DELAY_DAYS": (c.get("delay"), c.get("delay_youth") or 0),
        "WAITING_DAYS": (a.get("waiting"), a.get("waiting_youth") or 0),
        "LONG_RUNNING_YOUTH": (long_running, long_running),
        "SWITCHING_YOUTH": (switching, switching),
    }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class _PopulationTable:
    """Youth aged 0-17 per municipality and year, from the JSON text PostgreSQL sends, with
    the totals asked of it. Parsed once per distinct text (_population_table): it changes
    only with an ingest."""

    def __init__(self, text: str) -> None:
        self.years = {
            code: {int(k): int(v) for k, v in years.items()}
            for code, years in orjson.loads(text).items()
        }
        self.totals: dict[tuple[tuple[str, ...], int], int | None] = {}

    def total(self, municipalities: tuple[str, ...], year: int) -> int | None:
        """Of these municipalities in a year; None when one of them has no figure for it."""
        key = (municipalities, year)
        if key not in self.totals:
            if len(self.totals) >= _MEMO_MAX:
                self.totals.clear()
            counts = [self.years.get(m, {}).get(year) for m in municipalities]
            known = [c for c in counts if c is not None]
            self.totals[key] = sum(known) if known and len(known) == len(counts) else None
        return self.totals[key]


_MEMO_MAX = 10_000  # entries of a table's memo; it starts over when full
_population_table = lru_cache(maxsize=4)(_PopulationTable)


def _year_shares(bucket: Bucket) -> list[tuple[int, float]]:
    """The calendar years a period overlaps, each with the share of its days in the period
    (budgets are spread evenly over the days of their year)."""
    shares = []
    for year in range(bucket.start.year, bucket.end.year + 1):
        year_start, year_end = date(year, 1, 1), date(year, 12, 31)
        lo, hi = max(bucket.start, year_start), min(bucket.end, year_end)
        shares.append((year, ((hi - lo).days + 1) / ((year_end - year_start).days + 1)))
    return shares


class _BudgetTable:
    """The budgets PostgreSQL sends as JSON text, by municipality, with the euros per year
    asked of them. Parsed once per distinct text (_budget_table): it changes only with an
    ingest."""

    def __init__(self, text: str) -> None:
        self.by_municipality: dict[str, list[tuple[int, str | None, float]]] = {}
        for b in orjson.loads(text):
            self.by_municipality.setdefault(b["municipality_code"], []).append(
                (b["year"], _LOT_CARE_TYPE.get(b["lot"]), b["amount_cents"] / 100)
            )
        self.memo: dict[tuple[Any, ...], dict[int, float]] = {}

    def per_year(
        self,
        scope: tuple[str, ...],
        care_type: str | None,
        counted: tuple[str, ...] | None,
        split: bool,
    ) -> dict[int, float]:
        """Euros per year of the budgets counted in a row of these municipalities (and this
        care type, when split by care type). Read only: it is shared by requests."""
        key = (scope, care_type, counted, split)
        found = self.memo.get(key)
        if found is not None:
            return found
        per_year: dict[int, float] = {}
        for m in scope:
            for year, lot_type, euros in self.by_municipality.get(m, ()):
                if split:
                    if lot_type is None or (counted is not None and lot_type not in counted):
                        continue
                    if care_type not in (_ANY_CARE_TYPE, lot_type):
                        continue
                elif lot_type is not None and counted is not None and lot_type not in counted:
                    continue
                per_year[year] = per_year.get(year, 0.0) + euros
        if len(self.memo) >= _MEMO_MAX:
            self.memo.clear()
        self.memo[key] = per_year
        return per_year


_budget_table = lru_cache(maxsize=4)(_BudgetTable)


class _Budgets:
    """The budget of a row, in euros: its municipalities' budgets per year and lot, each
    spread evenly over the days of its year; null when the row splits what budgets do not
    (provider, product category, referrer type)."""

    def __init__(self, req: Request, table: _BudgetTable) -> None:
        self.none = bool(
            {"PROVIDER", "PRODUCT_CATEGORY", "REFERRER_TYPE"} & set(req.group_by)
            or req.providers
            or req.product_categories
        )
        self.counted = req.counted_care_types
        self.split = req.care_types is not None or "CARE_TYPE" in req.group_by
        self.table = table

    def __call__(
        self, scope: tuple[str, ...], shares: list[tuple[int, float]], care_type: str | None
    ) -> float | None:
        """The budget of a row of these municipalities (and care type) over a period, given
        as its years' shares (_year_shares)."""
        if self.none:
            return None
        per_year = self.table.per_year(scope, care_type, self.counted, self.split)
        total = 0.0
        for year, share in shares:
            euros = per_year.get(year)
            if euros is not None:
                total += euros * share
        return total


def answer(req: Request, rows: list[Row]) -> Answer:
    dims = {d for d in req.group_by if d not in TIME}
    time = req.time
    if time:  # MONTH rows carry their quarter and year, QUARTER rows their year
        dims |= set(TIME[: TIME.index(time) + 1])
    return Answer(frozenset(dims), req.filter_key, rows)
