"""Small-number suppression of indicator answers (DESIGN.md "Suppression", docs/indicators.md).

Pure functions over the exact cells of one response (every `indicators` alias together):
primary suppression of values computed from fewer youth than the threshold, complementary
suppression so that no suppressed cell can be recovered from the totals and other cells of
the same response, and rounding of what is shown. Cells the caller owns stay exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

COUNTS = frozenset(
    {
        "YOUTH_IN_CARE",
        "TRAJECTORIES_STARTED",
        "TRAJECTORIES_ENDED",
        "LONG_RUNNING_YOUTH",
        "SWITCHING_YOUTH",
    }
)
SHARES = frozenset({"RESIDENTIAL_SHARE", "REPEAT_INFLOW_SHARE", "DROPOUT_SHARE"})
DAYS = frozenset({"AVERAGE_DURATION_DAYS", "CLAIM_DELAY_DAYS", "WAITING_DAYS"})
EUROS = frozenset({"COST_EUR"})
NEVER_SUPPRESSED = frozenset({"BUDGET_EUR"})  # public figures, computed from no youth

TIME = ("YEAR", "QUARTER", "MONTH")
# Over which dimensions a metric adds up (a total is the sum of its parts): a youth belongs
# to one municipality, a trajectory to one of everything, a euro to one claim line.
_ALL = frozenset({"MUNICIPALITY", *TIME, "CARE_TYPE", "PRODUCT_CATEGORY", "PROVIDER",
                  "REFERRER_TYPE"})  # fmt: skip
ADDITIVE: dict[str, frozenset[str]] = {
    "YOUTH_IN_CARE": frozenset({"MUNICIPALITY"}),
    "LONG_RUNNING_YOUTH": frozenset({"MUNICIPALITY"}),
    "SWITCHING_YOUTH": frozenset({"MUNICIPALITY"}),
    "TRAJECTORIES_STARTED": _ALL,
    "TRAJECTORIES_ENDED": _ALL,
    "COST_EUR": _ALL,
}


@dataclass(slots=True)
class Cell:
    metric: str
    value: float | None  # exact
    support: int | None  # distinct youth the value is computed from; None: not personal
    owned: bool  # the caller may see it exactly
    suppressed: bool = False
    shown: float | None = None  # what the caller sees (the GraphQL IndicatorValue.value)

    @property
    def weight(self) -> float:
        """What a suppressed cell hides, for the width of the interval left for it."""
        if self.metric in COUNTS:
            return self.value or 0.0
        return float(self.support or 0)


@dataclass(slots=True)
class Row:
    key: dict[str, Any]  # dimension -> value, for the grouped dimensions (YEAR with months)
    cells: list[Cell]
    youth_in_care: int | None = None  # behind YOUTH_PER_1000
    population: int | None = None


@dataclass(slots=True)
class Answer:
    """One `indicators` alias: its grouping, its filter (hashable) and its rows."""

    dims: frozenset[str]  # dimensions filled in the rows (MONTH and QUARTER imply YEAR)
    filter_key: Any
    rows: list[Row] = field(default_factory=list)


def suppress(answers: Sequence[Answer], threshold: int) -> None:
    """Decide `suppressed` and `shown` for every cell of one response, in place."""
    for answer in answers:
        for row in answer.rows:
            for cell in row.cells:
                cell.suppressed = (
                    not cell.owned
                    and cell.metric not in NEVER_SUPPRESSED
                    and (cell.support or 0) < threshold
                )
    relations = list(_relations(answers))
    changed = True
    while changed:  # complementary suppression until every relation is safe
        changed = False
        for members in relations:
            changed |= _protect(members, threshold)
    for answer in answers:
        for row in answer.rows:
            for cell in row.cells:
                shown = None if cell.suppressed else _round(cell, row)
                cell.shown = shown if shown is None or shown.__class__ is float else float(shown)


def _relations(answers: Sequence[Answer]) -> Iterable[list[Cell]]:
    """Every total with its parts within the response: [total, part, part, ...] per metric,
    where the parts' answer groups by exactly one dimension more, over which the metric adds
    up, under the same filter."""
    for parent in answers:
        for child in answers:
            extra = child.dims - parent.dims
            if child.filter_key != parent.filter_key or not parent.dims < child.dims:
                continue
            if len(extra) != 1 and extra - set(TIME):  # one dimension, or a finer time
                continue
            parts: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
            for row in child.rows:
                parts[tuple(row.key.get(d) for d in sorted(parent.dims))].append(row)
            for total in parent.rows:
                below = parts.get(tuple(total.key.get(d) for d in sorted(parent.dims)), [])
                if not below:
                    continue
                for i, cell in enumerate(total.cells):
                    if extra <= ADDITIVE.get(cell.metric, frozenset()):
                        yield [cell, *(r.cells[i] for r in below)]


def _protect(members: list[Cell], threshold: int) -> bool:
    """Make one relation safe; True when it suppressed something more.

    Safe: no member suppressed, or at least two, and the suppressed parts together hide at
    least `threshold - 1` (so the interval left for each holds `threshold` values)."""
    hidden = [c for c in members if c.suppressed]
    if not hidden:
        return False
    parts_hidden = [c for c in members[1:] if c.suppressed]
    enough = sum(c.weight for c in parts_hidden) >= threshold - 1 or members[0].suppressed
    if len(hidden) >= 2 and enough:
        return False
    candidates = sorted(
        (c for c in members[1:] if not c.suppressed and not c.owned), key=lambda c: c.weight
    )
    if candidates:
        candidates[0].suppressed = True
    elif not members[0].owned and not members[0].suppressed:
        members[0].suppressed = True
    else:
        return False  # only owned cells left: the caller knows them anyway
    return True


def _round(cell: Cell, row: Row) -> float | None:
    value = cell.value
    if value is None or cell.owned:
        return value
    if cell.metric in COUNTS:
        return _half_up(value / 5) * 5
    if cell.metric == "YOUTH_PER_1000":  # from the rounded count
        if row.youth_in_care is None or not row.population:
            return None
        per_1000 = _half_up(row.youth_in_care / 5) * 5000 / row.population
        return float(Decimal(repr(per_1000)).quantize(Decimal("0.1"), ROUND_HALF_UP))
    if cell.metric in SHARES or cell.metric == "BUDGET_UTILISATION":
        return float(Decimal(repr(value)).quantize(Decimal("0.01"), ROUND_HALF_UP))
    if cell.metric in DAYS:
        return float(_half_up(value))
    if cell.metric in EUROS:
        return _half_up(value / 1000) * 1000
    return value


def _half_up(x: float) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1), ROUND_HALF_UP))
