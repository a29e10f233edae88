"""The record types of the GraphQL contract (DESIGN.md). Field names are a contract.

Each type wraps one database row; links resolve through the request's DataLoaders, so a page
of N records costs the same number of statements for any N. A page of trajectories builds the
links its query selects in its own statement (`Trajectory.of_page`): such links are stored in
`_prefetched` under `prefetch_key` and the field (marked PREFETCHED) answers from there, in
the resolver and in the compiled completion of hub/schema/fast.py alike."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from hub import audit
from hub.resolvers import records
from hub.resolvers.context import Context
from hub.schema.errors import PublicError
from hub.schema.fast import COMPUTED, PREFETCHED, prefetch_key

T = TypeVar("T")
Row = Any


@strawberry.enum
class CareType(Enum):
    AMBULANT = "AMBULANT"
    RESIDENTIAL = "RESIDENTIAL"
    CRISIS = "CRISIS"
    PROTECTION = "PROTECTION"
    PROBATION = "PROBATION"
    OTHER = "OTHER"


@strawberry.enum
class ClaimStatus(Enum):
    SUBMITTED = "SUBMITTED"
    GRANTED = "GRANTED"
    REJECTED = "REJECTED"
    CREDITED = "CREDITED"
    CREDIT = "CREDIT"


# Members by value, looked up for every record built (a dict is cheaper than calling the enum).
_CARE_TYPES = {m.value: m for m in CareType}
_CLAIM_STATUSES = {m.value: m for m in ClaimStatus}


def _ctx(info: Info[Context, None]) -> Context:
    return info.context


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _page: strawberry.Private[records.Page]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]

    @strawberry.field
    async def total_count(self) -> int:
        return await self._page.count()


def connection(
    page: records.Page,
    wrap: Callable[[Row], T],
    cursor: Callable[[Row], str] = records.encode_cursor,
) -> Connection[T]:
    edges = [Edge(cursor=cursor(r), node=wrap(r)) for r in page.rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _page=page,
    )


@strawberry.type
class Municipality:
    code: str
    name: str
    _population: strawberry.Private[dict[str, int]]

    @strawberry.field(description="Youth aged 0-17 on 1 January of the year, if known.")
    def youth_population(self, year: int) -> int | None:
        return self._population.get(str(year))

    @staticmethod
    def of(row: Row) -> Municipality:
        import json  # noqa: PLC0415

        population = row["youth_population"]
        if isinstance(population, str):
            population = json.loads(population)
        return Municipality(code=row["code"], name=row["name"], _population=population)


@strawberry.type
class Provider:
    agb: str
    name: str | None

    @staticmethod
    def of(row: Row) -> Provider:
        return Provider(agb=row["agb"], name=row["name"])


def provider_cursor(row: Row) -> str:
    return records.b64(row["agb"])


@strawberry.type
class Source:
    id: str
    adapter: str
    owner: str | None


@strawberry.type(description="A source with the totals over the latest run of each file.")
class SourceStatus:
    id: str
    adapter: str
    owner: str | None
    last_ingest: datetime | None
    status: str | None = strawberry.field(description="Status of the last run: loaded, failed.")
    files: int
    files_failed: int
    records_read: int
    records_accepted: int
    records_quarantined: int
    records_unaccounted: int = strawberry.field(
        description="Read minus accepted minus quarantined: zero when nothing was lost."
    )
    records_unlinked: int = strawberry.field(
        description="Accepted records naming an assignment the hub does not know (yet)."
    )
    schema_validated: bool = strawberry.field(
        description="False when a file was read without its XSD (HUB_IJW_XSD_DIR unset)."
    )

    @staticmethod
    def of(row: Row) -> SourceStatus:
        read, accepted, quarantined = (
            int(row["read"]),
            int(row["accepted"]),
            int(row["quarantined"]),
        )
        return SourceStatus(
            id=row["id"],
            adapter=row["adapter"],
            owner=row["owner"],
            last_ingest=row["last_ingest"],
            status=row["status"],
            files=int(row["files"]),
            files_failed=int(row["failed"]),
            records_read=read,
            records_accepted=accepted,
            records_quarantined=quarantined,
            records_unaccounted=read - accepted - quarantined,
            records_unlinked=int(row["unlinked"]),
            schema_validated=bool(row["schema_validated"]),
        )


@strawberry.type(description="One file or page a source delivered, as it was loaded.")
class IngestRun:
    id: strawberry.ID
    source_id: str
    municipality: str | None
    file_name: str
    file_hash: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    records_read: int
    records_accepted: int
    records_quarantined: int
    records_unlinked: int
    schema_validated: bool
    error: str | None

    @staticmethod
    def of(row: Row) -> IngestRun:
        return IngestRun(
            id=strawberry.ID(str(row["id"])),
            source_id=row["source_id"],
            municipality=row["municipality_code"],
            file_name=row["file_name"],
            file_hash=row["file_hash"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            status=row["status"],
            records_read=row["records_read"],
            records_accepted=row["records_accepted"],
            records_quarantined=row["records_quarantined"],
            records_unlinked=row["records_unlinked"],
            schema_validated=row["schema_validated"],
            error=row["error"],
        )


@strawberry.type(description="One request that read youth-level records (NEN 7513).")
class AuditEntry:
    seq: int = strawberry.field(description="Position in the hash chain.")
    at: datetime
    actor: str
    role: str
    on_behalf_of: str | None
    action: str
    result: str
    origin: str | None
    youth: list[strawberry.ID] = strawberry.field(description="Every youth read (opaque ids).")
    hash: str

    @staticmethod
    def of(row: Row) -> AuditEntry:
        youth = []
        for item in row["youth"]:
            municipality, _, youth_id = item.partition(":")
            youth.append(strawberry.ID(records.encode_id("Youth", municipality, int(youth_id))))
        return AuditEntry(
            seq=row["seq"],
            at=row["at"],
            actor=row["actor"],
            role=row["role"],
            on_behalf_of=row["on_behalf_of"],
            action=row["action"],
            result=row["result"],
            origin=row["origin"],
            youth=youth,
            hash=row["hash"],
        )


@strawberry.type(
    description="A record (or a whole file, position `/`) the hub refused: where and why. "
    "Never holds a BSN, name or address."
)
class QuarantinedRecord:
    id: strawberry.ID
    run_id: strawberry.ID
    source_id: str
    municipality: str | None
    file_name: str
    file_hash: str
    position: str = strawberry.field(description="Line, item or XPath; `/` for the file.")
    field: str | None
    code: str = strawberry.field(description="Class of the reason: xsd, elfproef, ...")
    reason: str
    value: str | None
    created_at: datetime

    @staticmethod
    def of(row: Row) -> QuarantinedRecord:
        return QuarantinedRecord(
            id=strawberry.ID(str(row["id"])),
            run_id=strawberry.ID(str(row["run_id"])),
            source_id=row["source_id"],
            municipality=row["municipality_code"],
            file_name=row["file_name"],
            file_hash=row["file_hash"],
            position=row["position"],
            field=row["field"],
            code=row["code"],
            reason=row["reason"],
            value=row["value"],
            created_at=row["created_at"],
        )


_MISSING: Any = object()
YOUTH_KEY = prefetch_key("youth", {})
PROVIDER_KEY = prefetch_key("provider", {})


def _prefetched(record: Any, key: tuple[Any, ...]) -> Any:
    prefetched = getattr(record, "_prefetched", None)
    return _MISSING if prefetched is None else prefetched.get(key, _MISSING)


def _record_id(kind: str) -> Any:
    """The `id` field of a record type: encoded when asked for, not for every record built."""

    def id_(self: Any) -> strawberry.ID:
        row = self._row
        return strawberry.ID(records.encode_id(kind, row["municipality_code"], row["id"]))

    return strawberry.field(resolver=id_, name="id", metadata={COMPUTED: True})


class _Linked:
    """Links every record type shares: municipality, provider, youth, source."""

    _row: strawberry.Private[Row]

    async def _municipality(self, info: Info[Context, None]) -> Municipality:
        row = await _ctx(info).loader("municipality").load(self._row["municipality_code"])
        return Municipality.of(row)

    async def _provider(self, info: Info[Context, None]) -> Provider:
        prefetched = _prefetched(self, PROVIDER_KEY)
        if prefetched is not _MISSING:
            return prefetched  # type: ignore[no-any-return]
        agb = self._row["provider_agb"]
        row = await _ctx(info).loader("provider").load(agb)
        return Provider.of(row) if row else Provider(agb=agb, name=None)

    async def _youth(self, info: Info[Context, None]) -> Youth | None:
        prefetched = _prefetched(self, YOUTH_KEY)
        if prefetched is not _MISSING:
            return prefetched  # type: ignore[no-any-return]
        if self._row["youth_id"] is None:
            return None
        key = (self._row["municipality_code"], self._row["youth_id"])
        row = await _ctx(info).loader("youth").load(key)
        return Youth.of(row) if row else None

    async def _source(self, info: Info[Context, None]) -> Source | None:
        row = await _ctx(info).loader("source").load(self._row["source_id"])
        return Source(id=row["id"], adapter=row["adapter"], owner=row["owner"]) if row else None


@strawberry.type
class Youth:
    id: strawberry.ID = _record_id("Youth")
    birth_year: int | None
    birth_month: int | None
    gender: str | None = strawberry.field(description="COD046: 0 unknown, 1 male, 2 female.")
    _row: strawberry.Private[Row]

    @strawberry.field
    async def municipality(self, info: Info[Context, None]) -> Municipality:
        row = await _ctx(info).loader("municipality").load(self._row["municipality_code"])
        return Municipality.of(row)

    @strawberry.field
    async def trajectories(self, info: Info[Context, None]) -> list[Trajectory]:
        key = (self._row["municipality_code"], self._row["id"])
        rows = await _ctx(info).loader("trajectories_by_youth").load(key)
        return [Trajectory.of(r) for r in rows]

    @staticmethod
    def of(row: Row) -> Youth:
        audit.saw(row["municipality_code"], row["id"])
        return Youth(
            birth_year=row["birth_year"],
            birth_month=row["birth_month"],
            gender=row["gender"],
            _row=row,
        )


def _key(row: Row) -> tuple[str, int]:
    return (row["municipality_code"], row["id"])


@strawberry.type
class Assignment(_Linked):
    id: strawberry.ID = _record_id("Assignment")
    number: str = strawberry.field(description="ToewijzingNummer, unique per municipality.")
    product_category: str | None
    product_code: str | None
    assigned_on: date
    start: date
    end: date | None
    volume: int | None
    unit: str | None = strawberry.field(description="WJ756 Eenheid.")
    frequency: str | None = strawberry.field(description="WMO757 Frequentie.")
    budget_cents: int | None
    change_reason: str | None = strawberry.field(description="JZ002 RedenWijziging.")
    _row: strawberry.Private[Row]

    youth = strawberry.field(resolver=_Linked._youth)
    provider = strawberry.field(resolver=_Linked._provider)
    municipality = strawberry.field(resolver=_Linked._municipality)
    source = strawberry.field(resolver=_Linked._source)

    @staticmethod
    def of(row: Row) -> Assignment:
        audit.saw(row["municipality_code"], row["youth_id"])
        return Assignment(
            number=row["toewijzing_nummer"],
            product_category=row["product_category"],
            product_code=row["product_code"],
            assigned_on=row["assigned_on"],
            start=row["start_date"],
            end=row["end_date"],
            volume=row["volume"],
            unit=row["unit"],
            frequency=row["frequency"],
            budget_cents=row["budget_cents"],
            change_reason=row["change_reason"],
            _row=row,
        )


@strawberry.enum(description="A certified institution's measure.")
class MeasureType(Enum):
    OTS = "OTS"  # ondertoezichtstelling (youth protection)
    VOOGDIJ = "VOOGDIJ"  # guardianship (youth protection)
    JEUGDRECLASSERING = "JEUGDRECLASSERING"  # youth probation


@strawberry.type(description="A measure of a certified institution (GI), from its own files.")
class Measure(_Linked):
    id: strawberry.ID = _record_id("Measure")
    measure_id: str = strawberry.field(description="The GI's own reference.")
    measure_type: MeasureType
    start: date
    end: date | None
    end_reason: str | None
    _row: strawberry.Private[Row]

    youth = strawberry.field(resolver=_Linked._youth)
    provider = strawberry.field(resolver=_Linked._provider, description="The GI.")
    municipality = strawberry.field(resolver=_Linked._municipality)
    source = strawberry.field(resolver=_Linked._source)

    @staticmethod
    def of(row: Row) -> Measure:
        audit.saw(row["municipality_code"], row["youth_id"])
        return Measure(
            measure_id=row["measure_id"],
            measure_type=MeasureType(row["measure_type"]),
            start=row["start_date"],
            end=row["end_date"],
            end_reason=row["end_reason"],
            _row=row,
        )


@strawberry.type
class Claim(_Linked):
    id: strawberry.ID = _record_id("Claim")
    reference: str = strawberry.field(description="ReferentieNummer, unique per provider.")
    previous_reference: str | None
    claim_number: str = strawberry.field(description="DeclaratieNummer.")
    claim_date: date
    period_start: date
    period_end: date
    product_category: str
    product_code: str
    volume: int
    unit: str
    rate_cents: int | None
    amount_cents: int = strawberry.field(description="As sent, never negative: see debitCredit.")
    debit_credit: str = strawberry.field(description="D (debit) or C (credit).")
    status: ClaimStatus
    retourcodes: list[str] = strawberry.field(description="WJ001 codes of a rejected line.")
    _row: strawberry.Private[Row]

    youth = strawberry.field(resolver=_Linked._youth)
    provider = strawberry.field(resolver=_Linked._provider)
    municipality = strawberry.field(resolver=_Linked._municipality)
    source = strawberry.field(resolver=_Linked._source)

    @strawberry.field
    async def assignment(self, info: Info[Context, None]) -> Assignment | None:
        return await _assignment(info, self._row)

    @staticmethod
    def of(row: Row) -> Claim:
        audit.saw(row["municipality_code"], row["youth_id"])
        return Claim(
            reference=row["reference"],
            previous_reference=row["previous_reference"],
            claim_number=row["claim_number"],
            claim_date=row["claim_date"],
            period_start=row["period_start"],
            period_end=row["period_end"],
            product_category=row["product_category"],
            product_code=row["product_code"],
            volume=row["volume"],
            unit=row["unit"],
            rate_cents=row["rate_cents"],
            amount_cents=row["amount_cents"],
            debit_credit=row["debit_credit"],
            status=_CLAIM_STATUSES[row["status"]],
            retourcodes=list(row["retourcodes"]),
            _row=row,
        )


async def _assignment(info: Info[Context, None], row: Row) -> Assignment | None:
    key = (row["municipality_code"], row["toewijzing_nummer"])
    rows = await _ctx(info).loader("assignments_by_number").load(key)
    return Assignment.of(rows[0]) if rows else None


@strawberry.type
class CarePeriod:
    id: strawberry.ID = _record_id("CarePeriod")
    start: date
    end: date | None
    end_reason: str | None = strawberry.field(description="JZ588 RedenBeeindiging.")
    _row: strawberry.Private[Row]

    @strawberry.field
    async def assignment(self, info: Info[Context, None]) -> Assignment | None:
        return await _assignment(info, self._row)

    @staticmethod
    def of(row: Row) -> CarePeriod:
        audit.saw(row["municipality_code"], row["youth_id"])
        return CarePeriod(
            start=row["start_date"],
            end=row["end_date"],
            end_reason=row["end_reason"],
            _row=row,
        )


@strawberry.type
class Trajectory(_Linked):
    id: strawberry.ID = _record_id("Trajectory")
    care_type: CareType | None
    start: date
    end: date | None
    end_reason: str | None = strawberry.field(description="JZ588 reason of the last period.")
    repeat_inflow: bool = strawberry.field(
        description="Jeugdhulp in the five years before, with at least a day between (CBS)."
    )
    _row: strawberry.Private[Row]
    _prefetched: strawberry.Private[dict[tuple[Any, ...], Any] | None] = None

    youth = strawberry.field(resolver=_Linked._youth, metadata={PREFETCHED: "youth"})
    provider = strawberry.field(resolver=_Linked._provider, metadata={PREFETCHED: "provider"})
    municipality = strawberry.field(resolver=_Linked._municipality)
    source = strawberry.field(resolver=_Linked._source)

    @strawberry.field(description="Its care periods, in order of start.")
    async def care_periods(self, info: Info[Context, None]) -> list[CarePeriod]:
        rows = await _ctx(info).loader("care_periods_by_trajectory").load(_key(self._row))
        return [CarePeriod.of(r) for r in rows]

    @strawberry.field(description="The assignments its care periods deliver.")
    async def assignments(self, info: Info[Context, None]) -> list[Assignment]:
        rows = await _ctx(info).loader("assignments_by_trajectory").load(_key(self._row))
        return [Assignment.of(r) for r in rows]

    @strawberry.field(
        description="Claim lines on its assignments for product periods within it, by "
        "period start; `last`: only the latest so many.",
        metadata={PREFETCHED: "claims"},
    )
    async def claims(self, info: Info[Context, None], last: int | None = None) -> list[Claim]:
        if last is not None and last < 0:
            raise PublicError(f"`last` must be at least 0, got {last}", code="PAGE_SIZE")
        prefetched = _prefetched(self, _claims_key(last))
        if prefetched is not _MISSING:
            return prefetched  # type: ignore[no-any-return]
        rows = await _ctx(info).loader("claims_by_trajectory").load(_key(self._row))
        return [Claim.of(r) for r in _latest(rows, last)]

    @staticmethod
    def of_page(row: Row, links: records.Links, lasts: frozenset[int | None]) -> Trajectory:
        """A trajectory of a page built with its links (records.trajectory_page); `lasts`:
        the `last` arguments of the `claims` selections the claims were fetched for."""
        trajectory = Trajectory.of(row)
        prefetched: dict[tuple[Any, ...], Any] = {}
        if links.youth:
            youth = row["youth_row"]
            prefetched[YOUTH_KEY] = Youth.of(youth) if youth is not None else None
        if links.provider:
            provider = row["provider_row"]
            prefetched[PROVIDER_KEY] = (
                Provider.of(provider)
                if provider is not None
                else Provider(agb=row["provider_agb"], name=None)
            )
        if links.claims:
            claims = [Claim.of(r) for r in reversed(row["claim_rows"])]
            for last in lasts:
                prefetched[_claims_key(last)] = _latest(claims, last)
        trajectory._prefetched = prefetched
        return trajectory

    @staticmethod
    def of(row: Row) -> Trajectory:
        audit.saw(row["municipality_code"], row["youth_id"])
        care_type = row["care_type"]
        return Trajectory(
            care_type=_CARE_TYPES[care_type] if care_type else None,
            start=row["start_date"],
            end=row["end_date"],
            end_reason=row["end_reason"],
            repeat_inflow=bool(row["repeat_inflow"]),
            _row=row,
        )


def _latest(items: list[T], last: int | None) -> list[T]:
    if last is None:
        return list(items)
    return items[max(len(items) - last, 0) :] if last else []


@functools.lru_cache(maxsize=64)
def _claims_key(last: int | None) -> tuple[Any, ...]:
    return prefetch_key("claims", {"last": last})
