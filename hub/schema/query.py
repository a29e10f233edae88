"""The root Query. Resolvers here only translate arguments and wrap rows: SQL lives in
hub/resolvers/, tenant filtering in the database's row-level security."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from hub.resolvers import records
from hub.resolvers.context import Context
from hub.schema.errors import cursor_errors, page_size
from hub.schema.types import (
    Assignment,
    AuditEntry,
    CareType,
    Claim,
    ClaimStatus,
    Connection,
    IngestRun,
    Measure,
    MeasureType,
    Municipality,
    Provider,
    QuarantinedRecord,
    SourceStatus,
    Trajectory,
    Youth,
    connection,
    provider_cursor,
)

DEFAULT_PAGE = 100


@strawberry.type
class Viewer:
    role: str
    municipality: str | None
    provider: str | None


@strawberry.input
class TrajectoryFilter:
    municipalities: list[str] | None = None
    providers: list[str] | None = None
    care_types: list[CareType] | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    youth: strawberry.ID | None = None


@strawberry.input
class AssignmentFilter:
    municipalities: list[str] | None = None
    providers: list[str] | None = None
    product_categories: list[str] | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    youth: strawberry.ID | None = None


@strawberry.input
class ClaimFilter:
    municipalities: list[str] | None = None
    providers: list[str] | None = None
    product_categories: list[str] | None = None
    statuses: list[ClaimStatus] | None = None
    from_: date | None = strawberry.field(
        default=None, name="from", description="Product period overlaps [from, to]."
    )
    to: date | None = None
    youth: strawberry.ID | None = None


@strawberry.input
class MeasureFilter:
    municipalities: list[str] | None = None
    providers: list[str] | None = strawberry.field(default=None, description="AGB of the GI.")
    measure_types: list[MeasureType] | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    youth: strawberry.ID | None = None


def _youth_key(value: strawberry.ID | None) -> tuple[str, int] | None:
    if value is None:
        return None
    # An id that is not a youth id matches nothing, like an id of another tenant.
    return records.decode_id("Youth", value) or ("", 0)


async def _page(
    info: Info[Context, None], kind: str, f: records.RecordFilter, first: int, after: str | None
) -> records.Page:
    with cursor_errors():
        return await records.page(
            info.context.tx, kind, f, page_size(first, info.context.page_size_max), after
        )


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection, with fragments spread."""
    for s in selections:
        if isinstance(s, SelectedField):
            yield s
        elif isinstance(s, FragmentSpread | InlineFragment):
            yield from _fields(s.selections)


def _trajectory_links(info: Info[Context, None]) -> tuple[records.Links, frozenset[int | None]]:
    """The links the query selects on the page's trajectories (under `nodes` or
    `edges { node }`), to build them in the page's statement, and the `last` arguments of
    its `claims` selections. Anything skipped is built needlessly, never missed: a link not
    built here is loaded by its resolver."""
    nodes: list[SelectedField] = []
    for field in _fields(s for top in info.selected_fields for s in top.selections):
        if field.name == "nodes":
            nodes.append(field)
        elif field.name == "edges":
            nodes += [f for f in _fields(field.selections) if f.name == "node"]
    wanted = {f.name: f for node in nodes for f in _fields(node.selections)}
    lasts: set[int | None] = set()
    for node in nodes:
        for f in _fields(node.selections):
            if f.name != "claims":
                continue
            last: Any = f.arguments.get("last")  # literals come as their text
            if isinstance(last, str) and last.isdigit():
                last = int(last)
            if last is None or (isinstance(last, int) and last >= 0):
                lasts.add(last)
    latest = None if None in lasts or not lasts else max(v for v in lasts if v is not None)
    links = records.Links(
        youth="youth" in wanted,
        provider="provider" in wanted,
        claims=bool(lasts),
        claims_latest=latest,
    )
    return links, frozenset(lasts)


@strawberry.type
class Query:
    @strawberry.field(description="Who the token says you are.")
    def viewer(self, info: Info[Context, None]) -> Viewer:
        s = info.context.scope
        return Viewer(role=s.role, municipality=s.municipality, provider=s.provider)

    @strawberry.field(description="The region's municipalities.")
    async def municipalities(self, info: Info[Context, None]) -> list[Municipality]:
        return [Municipality.of(r) for r in await records.all_municipalities(info.context.tx)]

    @strawberry.field
    async def providers(
        self, info: Info[Context, None], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Provider]:
        with cursor_errors():
            page = await records.providers_page(
                info.context.tx, page_size(first, info.context.page_size_max), after
            )
        return connection(page, Provider.of, provider_cursor)

    @strawberry.field
    async def provider(self, info: Info[Context, None], agb: str) -> Provider | None:
        row = await info.context.loader("provider").load(agb)
        return Provider.of(row) if row else None

    @strawberry.field(description="One youth by id; null when unknown or not yours.")
    async def youth(self, info: Info[Context, None], id: strawberry.ID) -> Youth | None:
        key = records.decode_id("Youth", id)
        if key is None:
            return None
        row = await info.context.loader("youth").load(key)
        return Youth.of(row) if row else None

    @strawberry.field
    async def trajectories(
        self,
        info: Info[Context, None],
        filter: TrajectoryFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[Trajectory]:
        f = filter or TrajectoryFilter()
        rf = records.RecordFilter(
            municipalities=f.municipalities,
            providers=f.providers,
            care_types=[c.value for c in f.care_types] if f.care_types else None,
            start=f.from_,
            end=f.to,
            youth=_youth_key(f.youth),
        )
        links, lasts = _trajectory_links(info)
        with cursor_errors():
            page = await records.trajectory_page(
                info.context.tx, rf, page_size(first, info.context.page_size_max), after, links
            )
        return connection(page, lambda row: Trajectory.of_page(row, links, lasts))

    @strawberry.field
    async def assignments(
        self,
        info: Info[Context, None],
        filter: AssignmentFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[Assignment]:
        f = filter or AssignmentFilter()
        rf = records.RecordFilter(
            municipalities=f.municipalities,
            providers=f.providers,
            product_categories=f.product_categories,
            start=f.from_,
            end=f.to,
            youth=_youth_key(f.youth),
        )
        return connection(
            await _page(info, "assignment", rf, first, after),
            Assignment.of,
        )

    @strawberry.field
    async def claims(
        self,
        info: Info[Context, None],
        filter: ClaimFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[Claim]:
        f = filter or ClaimFilter()
        rf = records.RecordFilter(
            municipalities=f.municipalities,
            providers=f.providers,
            product_categories=f.product_categories,
            statuses=[s.value for s in f.statuses] if f.statuses else None,
            start=f.from_,
            end=f.to,
            youth=_youth_key(f.youth),
        )
        return connection(
            await _page(info, "claim", rf, first, after),
            Claim.of,
        )

    @strawberry.field(description="GI measures: OTS, voogdij and jeugdreclassering.")
    async def measures(
        self,
        info: Info[Context, None],
        filter: MeasureFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[Measure]:
        f = filter or MeasureFilter()
        rf = records.RecordFilter(
            municipalities=f.municipalities,
            providers=f.providers,
            measure_types=[t.value for t in f.measure_types] if f.measure_types else None,
            start=f.from_,
            end=f.to,
            youth=_youth_key(f.youth),
        )
        return connection(await _page(info, "measure", rf, first, after), Measure.of)

    @strawberry.field(
        description="Each source with its last ingest (admins; a municipality "
        "sees its own sources)."
    )
    async def sources(self, info: Info[Context, None]) -> list[SourceStatus]:
        return [SourceStatus.of(r) for r in await records.sources(info.context.tx)]

    @strawberry.field(
        description="Ingest runs, newest first, failed ones included (admins; a "
        "municipality its own)."
    )
    async def ingest_runs(
        self,
        info: Info[Context, None],
        source: str | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[IngestRun]:
        with cursor_errors():
            page = await records.runs_page(
                info.context.tx, source, page_size(first, info.context.page_size_max), after
            )
        return connection(page, IngestRun.of, records.id_cursor)

    @strawberry.field(description="The audit trail of record access, newest first (admins).")
    async def audit_log(
        self, info: Info[Context, None], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[AuditEntry]:
        with cursor_errors():
            page = await records.audit_page(
                info.context.tx, page_size(first, info.context.page_size_max), after
            )
        return connection(page, AuditEntry.of, records.seq_cursor)

    @strawberry.field(
        description="Quarantined records, newest first (admins; a municipality its own)."
    )
    async def quarantine(
        self,
        info: Info[Context, None],
        source: str | None = None,
        run: strawberry.ID | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Connection[QuarantinedRecord]:
        run_id = int(run) if run is not None and str(run).isdigit() else None
        if run is not None and run_id is None:
            run_id = 0  # not a run id: matches nothing
        with cursor_errors():
            page = await records.quarantine_page(
                info.context.tx, source, run_id, page_size(first, info.context.page_size_max), after
            )
        return connection(page, QuarantinedRecord.of, records.id_cursor)
