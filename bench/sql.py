"""The `bench` schema: W1 and W2 as SQL, for PostGraphile and the floor.

W1's facts are the hub's own statements (`hub.resolvers.indicators`), each wrapped in a SQL
function with the same positional parameters, so PostGraphile, the floor and the hub run the
same SQL even as the hub's changes; `bench.w1(from_date, to_date)` adds the buckets, budgets,
population and the metric formulas (the hub computes those in Python) and returns one row per
municipality and month, as the region sees them (the region owns every cell: nothing is
suppressed or rounded). Functions are `security invoker`: row-level security applies to the
caller, set from the token's claims exactly as hub/db.py sets it.

W2's SQL (the floor's page in one statement) and `bench.trajectory_claims`, the computed
column PostGraphile serves a trajectory's claims through (the hub's claims_by_trajectory).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from hub.config import settings
from hub.resolvers import indicators

W1_METRICS = (
    "YOUTH_IN_CARE",
    "TRAJECTORIES_STARTED",
    "TRAJECTORIES_ENDED",
    "AVERAGE_DURATION_DAYS",
    "RESIDENTIAL_SHARE",
    "YOUTH_PER_1000",
    "REPEAT_INFLOW_SHARE",
    "DROPOUT_SHARE",
    "COST_EUR",
    "BUDGET_UTILISATION",
    "CLAIM_DELAY_DAYS",
    "WAITING_DAYS",
)
W1_GROUP_BY = ("MUNICIPALITY", "MONTH")
# Positional parameters of the fact statements (hub.resolvers.indicators.compute: args), and
# what the live W1 passes for them (None: W1's families do not take it).
_PARAM_TYPES = (
    "text[]", "text[]", "text[]", "text[]", "int[]", "date[]", "date[]", "date", "int", "date",
    "date",
)  # fmt: skip
_LIVE_ARGS: tuple[str | None, ...] = (
    "null", "{care_types}", "null", "null", "arr.ids", "arr.starts", "arr.ends", None, None,
    "arr.starts[1]", "arr.ends[array_upper(arr.ends, 1)]",
)  # fmt: skip

# W1 from the facts: the stored ones (table indicator_fact) when the hub would read them
# (refreshed, nothing marked since, whole months), else the live statements, as the hub does.
_W1 = """
create function bench.w1(from_date date, to_date date) returns setof bench.w1_row
language plpgsql stable as $fn$
begin
  if {fresh} then
    return query {stored};
  else
    return query {live};
  end if;
end $fn$"""
_W1_QUERY = """
  with b as (
    select (row_number() over (order by c) - 1)::int bid, extract(year from c)::int y,
           extract(month from c)::int mo, greatest(c::date, from_date) ps,
           least((c + interval '1 month' - interval '1 day')::date, to_date) pe
    from generate_series(date_trunc('month', from_date), to_date::timestamp,
                         interval '1 month') c),
  arr as (select array_agg(bid order by bid) ids, array_agg(ps order by bid) starts,
                 array_agg(pe order by bid) ends from b),
  span as (select d.* from ({span}) d(first_day, last_day)),
  tr as (select f.* from arr, bench.w1_trajectory{trajectory} f),
  cl as (select f.* from arr, bench.w1_claim{claim} f),
  wa as (select f.* from arr, bench.w1_assignment{assignment} f),
  mu as (select m.code, m.youth_population || coalesce((select jsonb_object_agg(p.year::text,
                  p.youth_0_17) from population p where p.municipality_code = m.code), '{{}}')
                  population
         from municipality m where m.in_region),
  cells as (
    select b.bid, b.y, b.mo, mu.code,
           coalesce(tr.youth, 0) youth, coalesce(tr.started, 0) started,
           coalesce(tr.ended, 0) ended, coalesce(tr.residential, 0) residential,
           coalesce(tr.repeat, 0) repeat, coalesce(tr.dropouts, 0) dropouts, tr.duration,
           coalesce(cl.cost, 0)::float8 / 100 cost, cl.delay, wa.waiting,
           (mu.population ->> extract(year from least(b.pe, coalesce(span.last_day, b.pe)))
                                 ::text)::int pop,
           (select coalesce(sum(bu.amount_cents::float8 / 100
                     * ((least(b.pe, make_date(bu.year, 12, 31))
                         - greatest(b.ps, make_date(bu.year, 1, 1)) + 1)::float8
                        / (make_date(bu.year, 12, 31) - make_date(bu.year, 1, 1) + 1))), 0)
            from budget bu
            where bu.municipality_code = mu.code and bu.lot not in ('PROTECTION', 'PROBATION')
              and greatest(b.ps, make_date(bu.year, 1, 1))
                  <= least(b.pe, make_date(bu.year, 12, 31))) budget
    from b cross join mu cross join span
    left join tr on tr.bid = b.bid and tr.m = mu.code
    left join cl on cl.bid = b.bid and cl.m = mu.code
    left join wa on wa.bid = b.bid and wa.m = mu.code)
  select code, y, mo, youth::float8, started::float8, ended::float8, duration::float8,
         case when youth > 0 then residential::float8 / youth end,
         case when pop > 0 then youth * 1000::float8 / pop end,
         case when started > 0 then repeat::float8 / started end,
         case when ended > 0 then dropouts::float8 / ended end,
         cost, case when budget <> 0 then cost / budget end, delay::float8, waiting::float8
  from cells order by bid, code"""
_FRESH = """(select s.refreshed_at is not null and s.long_running_years = {years}
                  and not exists (select 1 from fact_dirty)
                  and from_date = date_trunc('month', from_date)
                  and to_date = (date_trunc('month', to_date) + interval '1 month'
                                 - interval '1 day')::date
           from indicator_fact_state s)"""

_W1_ROW = """create type bench.w1_row as (
  municipality text, year int, month int, youth_in_care float8, trajectories_started float8,
  trajectories_ended float8, average_duration_days float8, residential_share float8,
  youth_per_1000 float8, repeat_inflow_share float8, dropout_share float8, cost_eur float8,
  budget_utilisation float8, claim_delay_days float8, waiting_days float8)"""
W1_COLUMNS = (
    "youth_in_care",
    "trajectories_started",
    "trajectories_ended",
    "average_duration_days",
    "residential_share",
    "youth_per_1000",
    "repeat_inflow_share",
    "dropout_share",
    "cost_eur",
    "budget_utilisation",
    "claim_delay_days",
    "waiting_days",
)

# A trajectory's claims, as hub.resolvers.records.claims_by_trajectory finds them, in the
# same order; `latest` keeps the last n of them (null: all).
_TRAJECTORY_CLAIMS = """
create function bench.trajectory_claims(t public.trajectory, latest int default null)
returns setof public.claim language sql stable as $$
  select * from (
    select c.* from public.claim c
    where c.municipality_code = t.municipality_code
      and c.toewijzing_nummer in (select p.toewijzing_nummer from public.care_period p
                                  where p.municipality_code = t.municipality_code
                                    and p.trajectory_id = t.id)
      and c.period_end >= t.start_date and c.period_start <= coalesce(t.end_date, 'infinity')
    order by c.period_start desc, c.reference desc
    limit latest) last_ones
  order by period_start, reference
$$"""

# W2 for the floor: the page in one statement, claims as JSON built in PostgreSQL.
W2_FLOOR = """
select t.care_type, t.start_date, t.end_date, t.end_reason, y.id is not null has_youth,
       y.birth_year, y.gender, p.agb, p.name,
       (select coalesce(json_agg(json_build_object(
                 'claimDate', c.claim_date, 'periodStart', c.period_start,
                 'periodEnd', c.period_end, 'amountCents', c.amount_cents, 'status', c.status)),
               '[]')
        from bench.trajectory_claims(t, $1) c) claims
from trajectory t
left join youth y on y.municipality_code = t.municipality_code and y.id = t.youth_id
join provider p on p.agb = t.provider_agb
{where}order by t.municipality_code, t.id limit $2"""


def w2_floor(municipality: str | None) -> tuple[str, list[Any]]:
    """The floor's W2 statement and its extra arguments: for a caller that sees one
    municipality, that municipality by equality, as the hub asks it (hub/resolvers/records.py
    `_where`), so PostgreSQL reads its rows from the index."""
    if municipality is None:
        return W2_FLOOR.format(where=""), []
    return W2_FLOOR.format(where="where t.municipality_code = $3\n"), [municipality]


def _w1_request() -> indicators.Request:
    return indicators.Request(metrics=W1_METRICS, group_by=W1_GROUP_BY)


async def _fact_functions(
    conn: asyncpg.Connection, family: str, sql: str
) -> tuple[list[str], list[str]]:
    """`create function` for one fact statement, returning exactly its columns, and for
    reading the same columns from the stored facts of whole months (`_stored`); and what
    the live W1 passes it."""
    sql, used = indicators._renumbered(sql)
    live = [a for n in used if (a := _LIVE_ARGS[n - 1]) is not None]
    if len(live) < len(used):
        raise RuntimeError(f"W1's {family} facts take parameters {used}; the bench passes fewer")
    attributes = (await conn.prepare(sql)).get_attributes()
    if [a.name for a in attributes[:2]] != ["bid", "m"]:
        raise RuntimeError(f"W1's {family} facts do not start with bid, m")
    columns = ", ".join(f'"{a.name}" {_type(a.type)}' for a in attributes)
    data = ", ".join(f'"{a.name}" {_type(a.type)}' for a in attributes[2:])
    types = ", ".join(_PARAM_TYPES[n - 1] for n in used)
    return [
        f"create function bench.w1_{family}({types}) "
        f"returns table({columns}) language sql stable as $fact$ {sql} $fact$",
        f"create function bench.w1_{family}_stored(date[]) returns table({columns}) "
        "language sql stable as $fact$ "
        "select (array_position($1, f.period_start) - 1)::int, f.municipality_code, d.* "
        f"from indicator_fact f, jsonb_to_record(f.data) d({data}) "
        f"where f.grain = 'MONTH' and f.family = '{family}' and f.period_start = any($1) $fact$",
    ], live


def _type(t: Any) -> str:
    return t.name if t.schema == "pg_catalog" else f"{t.schema}.{t.name}"


async def install(admin_url: str) -> None:
    """(Re)create the bench schema in the hub's database, owned by hub_owner, usable by
    hub_service. Run as the administrative login; idempotent."""
    conn = await asyncpg.connect(admin_url)
    try:
        families = dict(indicators._queries(_w1_request()))
        missing = {"trajectory", "claim", "assignment"} - set(families)
        if missing:
            raise RuntimeError(f"W1 needs the hub's fact families {sorted(missing)}")
        async with conn.transaction():
            await conn.execute("drop schema if exists bench cascade")
            await conn.execute("create schema bench authorization hub_owner")
            await conn.execute("set local role hub_owner")
            await conn.execute(_W1_ROW)
            # W1's arguments: all municipalities, the counted care types, no further filter.
            care_types = _w1_request().counted_care_types or ()
            counted = "array[" + ", ".join(f"'{c}'" for c in care_types) + "]::text[]"
            live_args, stored_args = {}, {}
            for family in ("trajectory", "claim", "assignment"):
                creates, args = await _fact_functions(conn, family, families[family])
                for create in creates:
                    await conn.execute(create)
                live_args[family] = f"({', '.join(args)})".format(care_types=counted)
                stored_args[family] = "_stored(arr.starts)"
            live = _W1_QUERY.format(span=indicators._DATA_RANGE, **live_args)
            stored = _W1_QUERY.format(
                span="select first_date, last_date from indicator_fact_state", **stored_args
            )
            fresh = _FRESH.format(years=settings().long_running_years)
            await conn.execute(_W1.format(fresh=fresh, stored=stored, live=live))
            await conn.execute(_TRAJECTORY_CLAIMS)
            await conn.execute("grant usage on schema bench to hub_service")
            await conn.execute("grant execute on all functions in schema bench to hub_service")
    finally:
        await conn.close()
