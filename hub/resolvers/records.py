"""SQL for the record queries. Tenant filtering is never written here: row-level security
applies it inside the request's transaction (hub/db.py). Every query is static SQL with
parameters; optional filters are `($n is null or ...)`.

Batch functions take a list of keys and return one result per key in the same order, for the
request's DataLoaders (hub/resolvers/context.py)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from hub.db import Tx

Row = asyncpg.Record
Key = tuple[str, int]  # (municipality_code, id)


# Opaque ids and cursors ------------------------------------------------------------------


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64(text: str) -> str:
    """base64.urlsafe_b64encode of the text, as text, in one call less per id (a page
    encodes hundreds)."""
    return binascii.b2a_base64(text.encode(), newline=False).translate(_URLSAFE).decode()


def encode_id(kind: str, municipality: str, row_id: int) -> str:
    return b64(f"{kind}:{municipality}:{row_id}")


def decode_id(kind: str, value: str) -> Key | None:
    """(municipality, id) of an id of this kind, or None for anything else (unknown and
    malformed ids answer the same as ids of another tenant)."""
    try:
        text = base64.urlsafe_b64decode(value.encode()).decode()
        got, municipality, row_id = text.split(":")
        if got != kind or len(municipality) != 4:
            return None
        return municipality, int(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    has_next: bool
    count: Callable[[], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class RecordFilter:
    municipalities: list[str] | None = None
    providers: list[str] | None = None
    care_types: list[str] | None = None
    product_categories: list[str] | None = None
    statuses: list[str] | None = None
    measure_types: list[str] | None = None
    start: date | None = None  # overlap with [start, end]
    end: date | None = None
    youth: Key | None = None


# Keyset pages: order by (municipality_code, id); the cursor is the last row's key.
def _page_sql(base: str, first_arg: int) -> str:
    a, b, lim = first_arg, first_arg + 1, first_arg + 2
    return (
        base + f" and (${a}::text is null or (municipality_code, id) > (${a}, ${b}::bigint))"
        f" order by municipality_code, id limit ${lim}"
    )


_FILTERS = {
    "trajectory": """from trajectory where {municipalities}
        and ($2::text[] is null or provider_agb = any($2))
        and ($3::text[] is null or care_type = any($3))
        and ($4::date is null or coalesce(end_date, 'infinity') >= $4)
        and ($5::date is null or start_date <= $5)
        and ($6::text is null or (municipality_code = $6 and youth_id = $7))""",
    "assignment": """from assignment where {municipalities}
        and ($2::text[] is null or provider_agb = any($2))
        and ($3::text[] is null or product_category = any($3))
        and ($4::date is null or coalesce(end_date, 'infinity') >= $4)
        and ($5::date is null or start_date <= $5)
        and ($6::text is null or (municipality_code = $6 and youth_id = $7))""",
    "claim": """from claim where {municipalities}
        and ($2::text[] is null or provider_agb = any($2))
        and ($3::text[] is null or product_category = any($3))
        and ($4::date is null or period_end >= $4)
        and ($5::date is null or period_start <= $5)
        and ($6::text is null or (municipality_code = $6 and youth_id = $7))
        and ($8::text[] is null or status = any($8))""",
    "measure": """from gi_measure where {municipalities}
        and ($2::text[] is null or provider_agb = any($2))
        and ($3::text[] is null or measure_type = any($3))
        and ($4::date is null or coalesce(end_date, 'infinity') >= $4)
        and ($5::date is null or start_date <= $5)
        and ($6::text is null or (municipality_code = $6 and youth_id = $7))""",
}


# $1, the municipalities asked for: one is asked as an equality, which PostgreSQL answers
# from the index on (municipality_code, ...) instead of reading the whole table through
# row-level security.
_ANY_MUNICIPALITY = "($1::text[] is null or municipality_code = any($1))"
_ONE_MUNICIPALITY = "municipality_code = ($1::text[])[1]"


def _where(tx: Tx, kind: str, f: RecordFilter) -> tuple[str, list[Any]]:
    """The filter of a page and its arguments. A municipality sees only its own records
    (row-level security); saying so in the query lets PostgreSQL read only those."""
    scope = tx.scope
    if f.municipalities is None and scope.role == "municipality" and scope.municipality:
        f = dataclasses.replace(f, municipalities=[scope.municipality])
    one = f.municipalities is not None and len(f.municipalities) == 1
    where = _FILTERS[kind].format(municipalities=_ONE_MUNICIPALITY if one else _ANY_MUNICIPALITY)
    return where, _filter_args(kind, f)


def _filter_args(kind: str, f: RecordFilter) -> list[Any]:
    third = {"trajectory": f.care_types, "measure": f.measure_types}.get(kind, f.product_categories)
    args: list[Any] = [
        f.municipalities,
        f.providers,
        third,
        f.start,
        f.end,
        f.youth[0] if f.youth else None,
        f.youth[1] if f.youth else None,
    ]
    if kind == "claim":
        args.append(f.statuses)
    return args


def encode_cursor(row: Row) -> str:
    return b64(f"{row['municipality_code']}:{row['id']}")


def decode_cursor(cursor: str | None) -> tuple[str | None, int | None]:
    if not cursor:
        return None, None
    try:
        municipality, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        return municipality, int(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError(cursor) from exc


class InvalidCursorError(ValueError):
    def __init__(self, cursor: str) -> None:
        super().__init__(f"`after` is not a cursor this API gave out: {cursor[:40]!r}")


@dataclass(frozen=True, slots=True)
class Links:
    """The links of a page of trajectories built in the page's own statement."""

    youth: bool = False
    provider: bool = False
    claims: bool = False
    claims_latest: int | None = None  # only the latest N claims of each; None: all


# Links as whole rows (asyncpg decodes them as records), claims newest first.
_TRAJECTORY_LINKS = """select t.*,
      case when $11 then (select y from youth y where y.municipality_code = t.municipality_code
                                                   and y.id = t.youth_id) end as youth_row,
      case when $12 then (select p from provider p where p.agb = t.provider_agb) end
        as provider_row,
      case when $13 then array(
        select c from claim c
        where c.municipality_code = t.municipality_code
          and c.toewijzing_nummer in (select p.toewijzing_nummer from care_period p
                                      where p.municipality_code = t.municipality_code
                                        and p.trajectory_id = t.id)
          and c.period_end >= t.start_date
          and c.period_start <= coalesce(t.end_date, 'infinity')
        order by c.period_start desc, c.reference desc, c.id desc
        limit $14) end as claim_rows
    from ({page}) t
    order by t.municipality_code, t.id"""


async def trajectory_page(
    tx: Tx, f: RecordFilter, first: int, after: str | None, links: Links
) -> Page:
    """A page of trajectories with the links asked for, in one statement: the record page
    (W2) costs one statement (and one more for totalCount) whatever its size."""
    where, args = _where(tx, "trajectory", f)
    cursor = decode_cursor(after)
    sql = _TRAJECTORY_LINKS.format(page=_page_sql("select * " + where, len(args) + 1))
    rows = await tx.fetch(
        sql,
        *args,
        cursor[0],
        cursor[1],
        first + 1,
        links.youth,
        links.provider,
        links.claims,
        links.claims_latest,
    )

    async def count() -> int:
        return int(await tx.fetchval("select count(*) " + where, *args))

    return Page(rows[:first], len(rows) > first, count)


async def page(tx: Tx, kind: str, f: RecordFilter, first: int, after: str | None) -> Page:
    """One page of trajectories, assignments or claims, plus a lazy total count."""
    where, args = _where(tx, kind, f)
    cursor = decode_cursor(after)
    sql = _page_sql("select * " + where, len(args) + 1)
    rows = await tx.fetch(sql, *args, cursor[0], cursor[1], first + 1)

    async def count() -> int:
        return int(await tx.fetchval("select count(*) " + where, *args))

    return Page(rows[:first], len(rows) > first, count)


# Batch functions for DataLoaders ---------------------------------------------------------


def _split(keys: Sequence[tuple[str, Any]]) -> tuple[list[str], list[Any]]:
    return [k[0] for k in keys], [k[1] for k in keys]


def _one_per_key(keys: Sequence[Any], rows: list[Row], key: Callable[[Row], Any]) -> list[Any]:
    by_key = {key(r): r for r in rows}
    return [by_key.get(k) for k in keys]


def _many_per_key(keys: Sequence[Any], rows: list[Row], key: Callable[[Row], Any]) -> list[Any]:
    by_key: dict[Any, list[Row]] = defaultdict(list)
    for r in rows:
        by_key[key(r)].append(r)
    return [by_key.get(k, []) for k in keys]


def _mid(r: Row) -> Key:
    return (r["municipality_code"], r["id"])


async def youth_by_key(tx: Tx, keys: Sequence[Key]) -> list[Row | None]:
    m, i = _split(keys)
    rows = await tx.fetch(
        """select * from youth where (municipality_code, id) in
             (select * from unnest($1::text[], $2::bigint[]))""",
        m,
        i,
    )
    return _one_per_key(keys, rows, _mid)


async def providers_by_agb(tx: Tx, keys: Sequence[str]) -> list[Row | None]:
    rows = await tx.fetch("select agb, name from provider where agb = any($1::text[])", keys)
    return _one_per_key(keys, rows, lambda r: r["agb"])


# The region file's population, overridden per year by ingested population data.
_MUNICIPALITY = """select m.code, m.name, m.in_region,
      m.youth_population || coalesce((select jsonb_object_agg(p.year::text, p.youth_0_17)
                                      from population p where p.municipality_code = m.code),
                                     '{}') as youth_population
    from municipality m"""


async def municipalities_by_code(tx: Tx, keys: Sequence[str]) -> list[Row | None]:
    rows = await tx.fetch(_MUNICIPALITY + " where m.code = any($1::text[])", keys)
    return _one_per_key(keys, rows, lambda r: r["code"])


async def sources_by_id(tx: Tx, keys: Sequence[str]) -> list[Row | None]:
    rows = await tx.fetch("select id, adapter, owner from source where id = any($1::text[])", keys)
    return _one_per_key(keys, rows, lambda r: r["id"])


def _number_key(r: Row) -> tuple[str, str]:
    return (r["municipality_code"], r["toewijzing_nummer"])


async def assignments_by_number(tx: Tx, keys: Sequence[tuple[str, str]]) -> list[list[Row]]:
    m, n = _split(keys)
    rows = await tx.fetch(
        """select * from assignment where (municipality_code, toewijzing_nummer) in
             (select * from unnest($1::text[], $2::text[]))""",
        m,
        n,
    )
    return _many_per_key(keys, rows, _number_key)


def _trajectory_key(r: Row) -> Key:
    return (r["municipality_code"], r["trajectory_id"])


async def care_periods_by_trajectory(tx: Tx, keys: Sequence[Key]) -> list[list[Row]]:
    m, i = _split(keys)
    rows = await tx.fetch(
        """select * from care_period where (municipality_code, trajectory_id) in
             (select * from unnest($1::text[], $2::bigint[])) order by start_date, id""",
        m,
        i,
    )
    return _many_per_key(keys, rows, _trajectory_key)


async def assignments_by_trajectory(tx: Tx, keys: Sequence[Key]) -> list[list[Row]]:
    m, i = _split(keys)
    rows = await tx.fetch(
        """select distinct on (p.municipality_code, p.trajectory_id, a.id)
                  a.*, p.trajectory_id
           from care_period p
           join assignment a on a.municipality_code = p.municipality_code
                            and a.toewijzing_nummer = p.toewijzing_nummer
           where (p.municipality_code, p.trajectory_id) in
                 (select * from unnest($1::text[], $2::bigint[]))
           order by p.municipality_code, p.trajectory_id, a.id""",
        m,
        i,
    )
    return _many_per_key(keys, rows, _trajectory_key)


async def claims_by_trajectory(tx: Tx, keys: Sequence[Key]) -> list[list[Row]]:
    m, i = _split(keys)
    rows = await tx.fetch(
        """select c.*, t.id as trajectory_id
           from trajectory t
           join claim c on c.municipality_code = t.municipality_code
                       and c.toewijzing_nummer in (
                         select p.toewijzing_nummer from care_period p
                         where p.municipality_code = t.municipality_code
                           and p.trajectory_id = t.id)
                       and c.period_end >= t.start_date
                       and c.period_start <= coalesce(t.end_date, 'infinity')
           where (t.municipality_code, t.id) in (select * from unnest($1::text[], $2::bigint[]))
           order by c.period_start, c.reference, c.id""",
        m,
        i,
    )
    return _many_per_key(keys, rows, _trajectory_key)


async def trajectories_by_youth(tx: Tx, keys: Sequence[Key]) -> list[list[Row]]:
    m, i = _split(keys)
    rows = await tx.fetch(
        """select * from trajectory where (municipality_code, youth_id) in
             (select * from unnest($1::text[], $2::bigint[])) order by start_date, id""",
        m,
        i,
    )
    return _many_per_key(keys, rows, lambda r: (r["municipality_code"], r["youth_id"]))


async def providers_page(tx: Tx, first: int, after: str | None) -> Page:
    rows = await tx.fetch(
        "select agb, name from provider where ($1::text is null or agb > $1) order by agb limit $2",
        after_agb(after),
        first + 1,
    )

    async def count() -> int:
        return int(await tx.fetchval("select count(*) from provider"))

    return Page(rows[:first], len(rows) > first, count)


def after_agb(after: str | None) -> str | None:
    if not after:
        return None
    try:
        return base64.urlsafe_b64decode(after.encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError(after) from exc


async def all_municipalities(tx: Tx) -> list[Row]:
    return await tx.fetch(_MUNICIPALITY + " where m.in_region order by m.code")


async def sources(tx: Tx) -> list[Row]:
    """Each source (admins: all, also those without a run yet; a municipality: those with
    runs of its own), with its last run and the totals over the latest run of each file
    (or page)."""
    return await tx.fetch(
        """select s.id, s.adapter, s.owner, s.location, last.finished_at as last_ingest,
                  last.status, coalesce(tot.files, 0) as files,
                  coalesce(tot.failed, 0) as failed, coalesce(tot.read, 0) as read,
                  coalesce(tot.accepted, 0) as accepted,
                  coalesce(tot.quarantined, 0) as quarantined,
                  coalesce(tot.unlinked, 0) as unlinked,
                  coalesce(tot.validated, true) as schema_validated
           from source s
           left join lateral (select finished_at, status from ingest_run r
                              where r.source_id = s.id order by r.id desc limit 1) last on true
           left join lateral (
             select count(*) as files, count(*) filter (where status = 'failed') as failed,
                    sum(records_read) as read, sum(records_accepted) as accepted,
                    sum(records_quarantined) as quarantined, sum(records_unlinked) as unlinked,
                    bool_and(schema_validated) as validated
             from (select distinct on (file_hash) status, records_read, records_accepted,
                          records_quarantined, records_unlinked, schema_validated
                   from ingest_run r where r.source_id = s.id
                   order by file_hash, r.id desc) latest) tot on true
           where last.status is not null or (select app_role()) = 'admin'
           order by s.id"""
    )


def after_id(after: str | None) -> int | None:
    if not after:
        return None
    try:
        return int(base64.urlsafe_b64decode(after.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError(after) from exc


def id_cursor(row: Row) -> str:
    return b64(str(row["id"]))


async def quarantine_page(
    tx: Tx, source: str | None, run: int | None, first: int, after: str | None
) -> Page:
    """Quarantined records, newest first (admins all, a municipality its own)."""
    where = """from quarantine where ($1::text is null or source_id = $1)
                 and ($2::bigint is null or run_id = $2)"""
    rows = await tx.fetch(
        f"select * {where} and ($3::bigint is null or id < $3) order by id desc limit $4",
        source,
        run,
        after_id(after),
        first + 1,
    )

    async def count() -> int:
        return int(await tx.fetchval("select count(*) " + where, source, run))

    return Page(rows[:first], len(rows) > first, count)


async def audit_page(tx: Tx, first: int, after: str | None) -> Page:
    """The audit trail, newest first (admins only, by row-level security)."""
    rows = await tx.fetch(
        """select * from audit_log where ($1::bigint is null or seq < $1)
           order by seq desc limit $2""",
        after_id(after),
        first + 1,
    )

    async def count() -> int:
        return int(await tx.fetchval("select count(*) from audit_log"))

    return Page(rows[:first], len(rows) > first, count)


def seq_cursor(row: Row) -> str:
    return b64(str(row["seq"]))


async def runs_page(tx: Tx, source: str | None, first: int, after: str | None) -> Page:
    """Ingest runs, newest first: one per file or page, failed ones included."""
    where = "from ingest_run where ($1::text is null or source_id = $1)"
    rows = await tx.fetch(
        f"select * {where} and ($2::bigint is null or id < $2) order by id desc limit $3",
        source,
        after_id(after),
        first + 1,
    )

    async def count() -> int:
        return int(await tx.fetchval("select count(*) " + where, source))

    return Page(rows[:first], len(rows) > first, count)


BATCHES: dict[str, Callable[[Tx, Any], Awaitable[Sequence[Any]]]] = {
    "youth": youth_by_key,
    "provider": providers_by_agb,
    "municipality": municipalities_by_code,
    "source": sources_by_id,
    "assignments_by_number": assignments_by_number,
    "care_periods_by_trajectory": care_periods_by_trajectory,
    "assignments_by_trajectory": assignments_by_trajectory,
    "claims_by_trajectory": claims_by_trajectory,
    "trajectories_by_youth": trajectories_by_youth,
}
