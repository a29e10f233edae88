"""`indicators`: the regional monitor's figures, suppressed for every cell the caller does
not own. All `indicators` fields of one operation are suppressed together (complementary
suppression must see every total and part of the response), so each field computes its exact
cells, then waits until every other `indicators` field of the operation has done the same."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, cast

import strawberry
from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.types import Info

from hub.resolvers import indicators as sql
from hub.resolvers.context import Context
from hub.schema.errors import PublicError
from hub.schema.types import CareType
from hub.suppression import Answer, suppress


@strawberry.enum(description="What to count; definitions in docs/indicators.md.")
class Metric(Enum):
    YOUTH_IN_CARE = "YOUTH_IN_CARE"
    TRAJECTORIES_STARTED = "TRAJECTORIES_STARTED"
    TRAJECTORIES_ENDED = "TRAJECTORIES_ENDED"
    AVERAGE_DURATION_DAYS = "AVERAGE_DURATION_DAYS"
    RESIDENTIAL_SHARE = "RESIDENTIAL_SHARE"
    YOUTH_PER_1000 = "YOUTH_PER_1000"
    REPEAT_INFLOW_SHARE = "REPEAT_INFLOW_SHARE"
    DROPOUT_SHARE = "DROPOUT_SHARE"
    COST_EUR = "COST_EUR"
    BUDGET_EUR = "BUDGET_EUR"
    BUDGET_UTILISATION = "BUDGET_UTILISATION"
    CLAIM_DELAY_DAYS = "CLAIM_DELAY_DAYS"
    WAITING_DAYS = "WAITING_DAYS"
    LONG_RUNNING_YOUTH = "LONG_RUNNING_YOUTH"
    SWITCHING_YOUTH = "SWITCHING_YOUTH"


@strawberry.enum(description="What to group by. MONTH and QUARTER also fill year.")
class Dimension(Enum):
    MUNICIPALITY = "MUNICIPALITY"
    YEAR = "YEAR"
    QUARTER = "QUARTER"
    MONTH = "MONTH"
    CARE_TYPE = "CARE_TYPE"
    PRODUCT_CATEGORY = "PRODUCT_CATEGORY"
    PROVIDER = "PROVIDER"
    REFERRER_TYPE = "REFERRER_TYPE"


@strawberry.input
class IndicatorFilter:
    municipalities: list[str] | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    care_types: list[CareType] | None = None
    product_categories: list[str] | None = None
    providers: list[str] | None = None


# Served straight from the suppressed cells (hub.suppression.Cell, of the same attribute
# names): `value` is what the caller may see.
@strawberry.type
class IndicatorValue:
    metric: Metric
    shown: float | None = strawberry.field(
        name="value", description="Null when suppressed or undefined."
    )
    suppressed: bool


@strawberry.type
class IndicatorRow:
    municipality: str | None
    year: int | None
    quarter: int | None
    month: int | None
    care_type: CareType | None
    product_category: str | None
    provider: str | None
    referrer_type: str | None
    values: list[IndicatorValue]


@strawberry.type
class Indicators:
    rows: list[IndicatorRow]


@dataclass
class _Batch:
    """The `indicators` fields of one operation, suppressed together."""

    expected: set[str]
    answers: dict[str, Answer | None] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def register(self, key: str, answer: Answer | None, threshold: int) -> None:
        self.answers[key] = answer
        if self.expected <= set(self.answers):
            suppress([a for a in self.answers.values() if a is not None], threshold)
            self.done.set()


def _batch(info: Info[Context, None]) -> _Batch:
    ctx = info.context
    if ctx.indicator_batch is None:
        ctx.indicator_batch = _Batch(_indicator_keys(info))
    batch: _Batch = ctx.indicator_batch
    return batch


def _indicator_keys(info: Info[Context, None]) -> set[str]:
    """Response keys of the operation's root `indicators` fields that will run (fragments
    followed, @skip and @include applied)."""
    variables = info.variable_values or {}
    fragments = info._raw_info.fragments  # strawberry's Info has no fragments
    keys: set[str] = set()

    def included(node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            arg = next((a.value for a in directive.arguments if a.name.value == "if"), None)
            value = (
                variables.get(arg.name.value)
                if isinstance(arg, VariableNode)
                else isinstance(arg, BooleanValueNode) and arg.value
            )
            if bool(value) == (name == "skip"):
                return False
        return True

    def walk(selection_set: SelectionSetNode) -> None:
        for node in selection_set.selections:
            if not included(node):
                continue
            if isinstance(node, FieldNode):
                if node.name.value == "indicators":
                    keys.add((node.alias or node.name).value)
            elif isinstance(node, InlineFragmentNode):
                walk(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                fragment = fragments[node.name.value]
                walk(getattr(fragment, "definition", fragment).selection_set)

    walk(info.operation.selection_set)
    return keys


def _request(metrics: list[Any], group_by: list[Any], f: IndicatorFilter | None) -> sql.Request:
    f = f or IndicatorFilter()
    if not metrics:
        raise PublicError("`metrics` needs at least one metric", code="BAD_ARGUMENT")
    if f.from_ and f.to and f.from_ > f.to:
        raise PublicError(
            f"`filter.from` ({f.from_}) is after `filter.to` ({f.to})", code="BAD_ARGUMENT"
        )

    def tup(values: list[Any] | None) -> tuple[Any, ...] | None:
        return tuple(getattr(v, "value", v) for v in values) if values is not None else None

    return sql.Request(
        metrics=tuple(dict.fromkeys(m.value for m in metrics)),
        group_by=tuple(dict.fromkeys(d.value for d in group_by)),
        municipalities=tup(f.municipalities),
        start=f.from_,
        end=f.to,
        care_types=tup(f.care_types),
        product_categories=tup(f.product_categories),
        providers=tup(f.providers),
    )


@strawberry.type
class IndicatorsQuery:
    @strawberry.field(
        description="Metrics per group and period. Cells you do not own are suppressed when "
        "computed from fewer youth than the threshold, and rounded (docs/indicators.md)."
    )
    async def indicators(
        self,
        info: Info[Context, None],
        metrics: list[Metric],
        group_by: list[Dimension] | None = None,
        filter: IndicatorFilter | None = None,
    ) -> Indicators:
        ctx = info.context
        batch = _batch(info)
        key = str(info.path.key)
        try:
            req = _request(metrics, group_by or [], filter)
            rows = await sql.compute(ctx.tx, req, ctx.long_running_years)
            for row in rows:
                owned = _owned(ctx, req, row.key.get("MUNICIPALITY"))
                for cell in row.cells:
                    cell.owned = owned
            answer = sql.answer(req, rows)
        except BaseException:
            batch.register(key, None, ctx.suppression_threshold)
            raise
        batch.register(key, answer, ctx.suppression_threshold)
        await asyncio.wait_for(batch.done.wait(), timeout=60)
        return Indicators(rows=[_row(r) for r in answer.rows])


def _owned(ctx: Context, req: sql.Request, municipality: str | None) -> bool:
    """Region owns every cell; a municipality the cells of only its own municipality."""
    scope = ctx.scope
    if scope.role == "region":
        return True
    if scope.role != "municipality" or not scope.municipality:
        return False
    own = (scope.municipality,)
    return municipality == scope.municipality or (
        municipality is None and req.municipalities == own
    )


def _row(row: Any) -> IndicatorRow:
    k = row.key
    care_type = k.get("CARE_TYPE")
    return IndicatorRow(
        municipality=k.get("MUNICIPALITY"),
        year=k.get("YEAR"),
        quarter=k.get("QUARTER") if "MONTH" not in k else None,
        month=k.get("MONTH"),
        care_type=CareType(care_type) if care_type else None,
        product_category=k.get("PRODUCT_CATEGORY"),
        provider=k.get("PROVIDER"),
        referrer_type=k.get("REFERRER_TYPE"),
        # The cells themselves, not a copy: a cell is read as an IndicatorValue.
        values=cast(list[IndicatorValue], row.cells),
    )
