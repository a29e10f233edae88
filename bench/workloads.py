"""W1, W2 and W3 as each target is asked them, and each answer reduced to the same plain rows
so that the targets can be checked against each other before anything is timed."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.sql import W1_COLUMNS, W1_METRICS

# The last year of the synthetic region (hub.synth.generate: end_year 2025).
PERIOD = ("2025-01-01", "2025-12-31")
PAGE = 100
LATEST = 3
W2_MUNICIPALITY = "0193"  # Zwolle, the largest


def _camel(column: str) -> str:
    return "".join(w if i == 0 else w.capitalize() for i, w in enumerate(column.split("_")))


W1_HUB = (
    "query W1($from: Date!, $to: Date!) { indicators(metrics: ["
    + ", ".join(W1_METRICS)
    + "], groupBy: [MUNICIPALITY, MONTH], filter: {from: $from, to: $to}) {"
    " rows { municipality year month values { metric value suppressed } } } }"
)
W1_POSTGRAPHILE = (
    "query W1($from: Date!, $to: Date!) { benchW1(fromDate: $from, toDate: $to) {"
    " nodes { municipality year month " + " ".join(_camel(c) for c in W1_COLUMNS) + " } } }"
)

_CLAIM = "claimDate periodStart periodEnd amountCents status"
W2_HUB = """query W2($first: Int!) { trajectories(first: $first) { nodes {
  careType start end endReason youth { birthYear gender } provider { agb name }
  claims%s { %s } } } }"""
W2_POSTGRAPHILE = """query W2($first: Int!) {
  allTrajectories(first: $first, orderBy: PRIMARY_KEY_ASC) { nodes {
    careType startDate endDate endReason youthByMunicipalityCodeAndYouthId { birthYear gender }
    providerByProviderAgb { agb name } claims%s { nodes { %s } } } } }"""


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    role: str
    municipality: str | None
    cache: bool  # the hub's response cache on
    requests: dict[str, Request]  # per kind of target: hub, postgraphile, floor
    rows: dict[str, Callable[[Any], Any]]  # an answer -> comparable rows


def w1(name: str = "W1", *, cache: bool = False) -> Workload:
    variables = {"from": PERIOD[0], "to": PERIOD[1]}
    return Workload(
        name,
        "region",
        None,
        cache,
        {
            "hub": Request("/graphql", {"query": W1_HUB, "variables": variables}),
            "postgraphile": Request("/graphql", {"query": W1_POSTGRAPHILE, "variables": variables}),
            "floor": Request("/w1", variables),
        },
        {"hub": _w1_hub, "postgraphile": _w1_postgraphile, "floor": _w1_floor},
    )


def w2(hub_claims_argument: str | None) -> Workload:
    """W2; `hub_claims_argument` is how the hub asks for the latest claims (`(last: 3)`), or
    None when its schema cannot: then every target answers all claims of each trajectory."""
    latest = LATEST if hub_claims_argument else None
    variables = {"first": PAGE}
    return Workload(
        "W2",
        "municipality",
        W2_MUNICIPALITY,
        False,
        {
            "hub": Request(
                "/graphql",
                {"query": W2_HUB % (hub_claims_argument or "", _CLAIM), "variables": variables},
            ),
            "postgraphile": Request(
                "/graphql",
                {
                    "query": W2_POSTGRAPHILE % (f"(latest: {latest})" if latest else "", _CLAIM),
                    "variables": variables,
                },
            ),
            "floor": Request("/w2", {"first": PAGE, "latest": latest}),
        },
        {"hub": _w2_hub, "postgraphile": _w2_postgraphile, "floor": _w2_floor},
    )


HUB_CLAIMS_ARGUMENTS = (f"(last: {LATEST})", f"(latest: {LATEST})")


# Answers -> rows ----------------------------------------------------------------------------


class AnswerError(ValueError):
    """An answer is not what the workload asks for."""


def _data(answer: Any, field: str) -> Any:
    if not isinstance(answer, dict) or answer.get("errors") or not answer.get("data"):
        raise AnswerError(f"no data: {str(answer)[:500]}")
    return answer["data"][field]


def _w1_hub(answer: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = {}
    for r in _data(answer, "indicators")["rows"]:
        values = {v["metric"]: v for v in r["values"]}
        if any(v["suppressed"] for v in values.values()):
            raise AnswerError("the region sees a suppressed cell")
        rows[(r["municipality"], r["year"], r["month"])] = tuple(
            values[m]["value"] for m in W1_METRICS
        )
    return rows


def _w1_postgraphile(answer: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {
        (n["municipality"], n["year"], n["month"]): tuple(n[_camel(c)] for c in W1_COLUMNS)
        for n in _data(answer, "benchW1")["nodes"]
    }


def _w1_floor(answer: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {
        (r["municipality"], r["year"], r["month"]): tuple(r[c] for c in W1_COLUMNS) for r in answer
    }


def _claims(claims: list[dict[str, Any]]) -> tuple[Any, ...]:
    return tuple(
        (c["claimDate"], c["periodStart"], c["periodEnd"], int(c["amountCents"]), c["status"])
        for c in claims
    )


def _w2_hub(answer: Any) -> list[tuple[Any, ...]]:
    return [
        (
            n["careType"],
            n["start"],
            n["end"],
            n["endReason"],
            n["youth"] and (n["youth"]["birthYear"], n["youth"]["gender"]),
            (n["provider"]["agb"], n["provider"]["name"]),
            _claims(n["claims"]),
        )
        for n in _data(answer, "trajectories")["nodes"]
    ]


def _w2_postgraphile(answer: Any) -> list[tuple[Any, ...]]:
    result = []
    for n in _data(answer, "allTrajectories")["nodes"]:
        youth, provider = n["youthByMunicipalityCodeAndYouthId"], n["providerByProviderAgb"]
        result.append(
            (
                n["careType"],
                n["startDate"],
                n["endDate"],
                n["endReason"],
                youth and (youth["birthYear"], youth["gender"]),
                (provider["agb"], provider["name"]),
                _claims(n["claims"]["nodes"]),
            )
        )
    return result


def _w2_floor(answer: Any) -> list[tuple[Any, ...]]:
    return [
        (
            r["care_type"],
            r["start_date"],
            r["end_date"],
            r["end_reason"],
            (r["birth_year"], r["gender"]) if r["has_youth"] else None,
            (r["agb"], r["name"]),
            _claims(r["claims"]),
        )
        for r in answer
    ]


def same(a: Any, b: Any) -> bool:
    """Equal, floats within a relative 1e-9 (SQL and Python sum in different orders)."""
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys differ: {sorted(set(a) ^ set(b), key=str)[:5]}"
        for k in a:
            if not same(a[k], b[k]):
                return first_difference(a[k], b[k], f"{path}[{k!r}]")
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if not same(x, y):
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {str(a)[:300]} != {str(b)[:300]}"


ROWS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "W1": {"hub": _w1_hub, "postgraphile": _w1_postgraphile, "floor": _w1_floor},
    "W2": {"hub": _w2_hub, "postgraphile": _w2_postgraphile, "floor": _w2_floor},
}


def rows_of(workload: str, kind: str, answer: Any) -> Any:
    """The comparable rows of one target's answer to W1 or W2."""
    return ROWS[workload][kind](answer)
