"""Exports for tools that take tables: `GET /export/indicators.csv|json` with the arguments
of the GraphQL `indicators` field, and a municipality's own records as CSV
(`GET /export/trajectories.csv`, `assignments.csv`, `claims.csv`).

Each runs the equivalent GraphQL operation through the served schema, in-process, as the
token's role: the answer is the API's answer (its suppression, row-level security and audit
trail), only flattened. Record exports are streamed: one page of the connection at a time,
each in its own tenant-scoped transaction that writes its own audit row before the page
leaves."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

import asyncpg
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hub import audit, auth
from hub.db import Database, DatabaseError, Scope
from hub.resolvers.context import Context
from hub.schema.errors import PublicError
from hub.schema.indicators import Dimension, Metric
from hub.schema.types import CareType, ClaimStatus

log = logging.getLogger("hub.export")

RECORD_ROLES = ("municipality", "region")


class BadParameterError(Exception):
    """A query parameter the export cannot use; names the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"`{parameter}`: {message}")
        self.parameter = parameter


class ExportError(Exception):
    """The operation behind an export failed; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs one GraphQL operation as the API runs it for `scope`: one tenant-scoped
    transaction, and the audit row of the youth it read before anything is answered."""

    db: Database
    schema: strawberry.Schema
    page_size_max: int = 500
    threshold: int = 10
    long_running_years: int = 2
    timeout_ms: int = 15_000
    readers: int = 0  # region-wide reads at once beside the operation's own (Database.tenant)

    async def run(
        self,
        scope: Scope,
        query: str,
        variables: dict[str, Any],
        *,
        action: str,
        origin: str | None = None,
    ) -> dict[str, Any]:
        async with self.db.tenant(
            scope, readonly=False, timeout_ms=self.timeout_ms, readers=self.readers
        ) as tx:
            read = audit.start()
            context = Context(
                tx=tx,
                scope=scope,
                page_size_max=self.page_size_max,
                suppression_threshold=self.threshold,
                long_running_years=self.long_running_years,
            )
            result = await self.schema.execute(
                query, variable_values=variables, context_value=context
            )
            context.release()
            # No audit row, no answer: a failure here fails the export.
            await audit.record(tx, scope, read, action=action, ok=not result.errors, origin=origin)
        if result.errors:
            raise _failure(result.errors)
        data: dict[str, Any] = result.data or {}
        return data


def _failure(errors: Sequence[GraphQLError]) -> ExportError:
    """The caller's mistake (a typed public error, or one found before execution) is 400;
    anything else was masked by the schema and logged there."""
    public = [
        e.message for e in errors if isinstance(e.original_error, PublicError) or e.path is None
    ]
    if len(public) == len(errors):
        return ExportError("; ".join(public), 400)
    return ExportError("the export could not be completed; it has been logged", 500)


# Query parameters -------------------------------------------------------------------------

_CODE = {
    "municipalities": (re.compile(r"^[0-9]{4}$"), "a 4-digit CBS municipality code"),
    "providers": (re.compile(r"^[0-9]{8}$"), "an 8-digit AGB code"),
    "productCategories": (re.compile(r"^[0-9]{2}$"), "a 2-digit product category"),
}
# Singular spellings accepted for list parameters: ?municipality=0193 reads well.
_SINGULAR = {
    "municipality": "municipalities",
    "provider": "providers",
    "productCategory": "productCategories",
    "careType": "careTypes",
    "status": "statuses",
    "metric": "metrics",
}


def _params(query: Mapping[str, Sequence[str]], known: Collection[str]) -> dict[str, list[str]]:
    """Parameters by their canonical name; a list may be comma-separated or repeated."""
    out: dict[str, list[str]] = {}
    for name, values in query.items():
        canonical = _SINGULAR.get(name, name)
        if canonical not in known:
            raise BadParameterError(name, f"unknown parameter; known: {', '.join(sorted(known))}")
        items = [v.strip() for value in values for v in value.split(",") if v.strip()]
        if not items:
            raise BadParameterError(name, "is empty")
        out.setdefault(canonical, []).extend(items)
    return out


def _enum(name: str, values: list[str], kind: type[Enum]) -> list[str]:
    names = [m.name for m in kind]
    for v in values:
        if v not in names:
            raise BadParameterError(name, f"unknown value {v!r}; one of {', '.join(names)}")
    return list(dict.fromkeys(values))


def _codes(name: str, values: list[str]) -> list[str]:
    pattern, what = _CODE[name]
    for v in values:
        if not pattern.match(v):
            raise BadParameterError(name, f"{v!r} is not {what}")
    return values


def _date(name: str, values: list[str]) -> str:
    if len(values) != 1:
        raise BadParameterError(name, "give one date")
    try:
        return date.fromisoformat(values[0]).isoformat()
    except ValueError:
        raise BadParameterError(name, f"{values[0]!r} is not a date (YYYY-MM-DD)") from None


def _filter(params: dict[str, list[str]]) -> dict[str, Any]:
    """The GraphQL filter input from the parameters it shares with every export."""
    f: dict[str, Any] = {}
    for name in ("municipalities", "providers", "productCategories"):
        if name in params:
            f[name] = _codes(name, params[name])
    if "careTypes" in params:
        f["careTypes"] = _enum("careTypes", params["careTypes"], CareType)
    if "statuses" in params:
        f["statuses"] = _enum("statuses", params["statuses"], ClaimStatus)
    for name in ("from", "to"):
        if name in params:
            f[name] = _date(name, params[name])
    if "from" in f and "to" in f and f["from"] > f["to"]:
        raise BadParameterError("from", f"{f['from']} is after `to` ({f['to']})")
    return f


# Indicators -------------------------------------------------------------------------------

_INDICATOR_PARAMS = (
    "metrics",
    "groupBy",
    "from",
    "to",
    "municipalities",
    "careTypes",
    "productCategories",
    "providers",
)
INDICATORS_QUERY = """query ExportIndicators(
  $metrics: [Metric!]!, $groupBy: [Dimension!], $filter: IndicatorFilter) {
  indicators(metrics: $metrics, groupBy: $groupBy, filter: $filter) {
    rows { municipality year quarter month careType productCategory provider referrerType
           values { metric value suppressed } }
  }
}"""
# Row fields of the dimensions, in the order of IndicatorRow.
_DIMENSION_FIELDS = (
    ("municipality", {"MUNICIPALITY"}),
    ("year", {"YEAR", "QUARTER", "MONTH"}),  # a quarter or month also fills its year
    ("quarter", {"QUARTER"}),
    ("month", {"MONTH"}),
    ("careType", {"CARE_TYPE"}),
    ("productCategory", {"PRODUCT_CATEGORY"}),
    ("provider", {"PROVIDER"}),
    ("referrerType", {"REFERRER_TYPE"}),
)


def indicator_variables(query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """GraphQL variables of INDICATORS_QUERY from the export's query parameters."""
    params = _params(query, _INDICATOR_PARAMS)
    if "metrics" not in params:
        raise BadParameterError("metrics", "is required, e.g. ?metrics=YOUTH_IN_CARE,COST_EUR")
    variables: dict[str, Any] = {"metrics": _enum("metrics", params["metrics"], Metric)}
    if "groupBy" in params:
        variables["groupBy"] = _enum("groupBy", params["groupBy"], Dimension)
    f = _filter(params)
    if f:
        variables["filter"] = f
    return variables


def indicator_columns(group_by: Collection[str]) -> list[str]:
    """The dimension columns a grouping fills, then metric, value, suppressed."""
    grouped = set(group_by)
    dims = [name for name, by in _DIMENSION_FIELDS if grouped & by]
    if "MONTH" in grouped and "quarter" in dims:
        dims.remove("quarter")  # a month row leaves its quarter empty, as GraphQL does
    return [*dims, "metric", "value", "suppressed"]


def indicator_rows(data: dict[str, Any], columns: list[str]) -> list[dict[str, Any]]:
    """One row per group and metric: the GraphQL answer cell for cell."""
    dims = columns[:-3]
    return [
        {
            **{d: row[d] for d in dims},
            "metric": v["metric"],
            "value": v["value"],
            "suppressed": v["suppressed"],
        }
        for row in data["indicators"]["rows"]
        for v in row["values"]
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def to_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], *, header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(columns)
    writer.writerows([_cell(r[c]) for c in columns] for r in rows)
    return buffer.getvalue()


# Records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordExport:
    field: str  # the root connection field
    filter_type: str  # its GraphQL filter input
    params: tuple[str, ...]  # the filter parameters it takes
    columns: tuple[tuple[str, str], ...]  # (column, dotted path in a node)

    def query(self) -> str:
        selection = _selection([path for _, path in self.columns])
        return (
            f"query Export{self.field.title()}($first: Int!, $after: String, "
            f"$filter: {self.filter_type}) {{ {self.field}(first: $first, after: $after, "
            f"filter: $filter) {{ pageInfo {{ hasNextPage endCursor }} "
            f"nodes {{ {selection} }} }} }}"
        )


def _selection(paths: list[str]) -> str:
    """A selection set for dotted paths: `youth.id youth.gender` → `youth { id gender }`."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})

    def render(node: dict[str, Any]) -> str:
        return " ".join(f"{k} {{ {render(v)} }}" if v else k for k, v in node.items())

    return render(tree)


def _at(node: dict[str, Any] | None, path: str) -> Any:
    for part in path.split("."):
        if node is None:
            return None
        node = node[part]
    return node


_COMMON = ("municipalities", "providers", "from", "to")
_LINKS = (
    ("municipality", "municipality.code"),
    ("youth", "youth.id"),
    ("youthBirthYear", "youth.birthYear"),
    ("youthBirthMonth", "youth.birthMonth"),
    ("youthGender", "youth.gender"),
    ("provider", "provider.agb"),
)
RECORD_EXPORTS = {
    "trajectories": RecordExport(
        "trajectories",
        "TrajectoryFilter",
        (*_COMMON, "careTypes"),
        (
            ("id", "id"),
            *_LINKS,
            *((c, c) for c in ("careType", "start", "end", "endReason", "repeatInflow")),
        ),
    ),
    "assignments": RecordExport(
        "assignments",
        "AssignmentFilter",
        (*_COMMON, "productCategories"),
        (
            ("id", "id"),
            *_LINKS,
            *(
                (c, c)
                for c in (
                    "number",
                    "productCategory",
                    "productCode",
                    "assignedOn",
                    "start",
                    "end",
                    "volume",
                    "unit",
                    "frequency",
                    "budgetCents",
                    "changeReason",
                )
            ),
        ),
    ),
    "claims": RecordExport(
        "claims",
        "ClaimFilter",
        (*_COMMON, "productCategories", "statuses"),
        (
            ("id", "id"),
            *_LINKS,
            *(
                (c, c)
                for c in (
                    "reference",
                    "previousReference",
                    "claimNumber",
                    "claimDate",
                    "periodStart",
                    "periodEnd",
                    "productCategory",
                    "productCode",
                    "volume",
                    "unit",
                    "rateCents",
                    "amountCents",
                    "debitCredit",
                    "status",
                    "retourcodes",
                )
            ),
        ),
    ),
}


async def record_pages(
    runner: Runner,
    scope: Scope,
    export: RecordExport,
    variables: dict[str, Any],
    origin: str | None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The export's rows, one page (at most the page size maximum) at a time."""
    query = export.query()
    after: str | None = None
    while True:
        data = await runner.run(
            scope,
            query,
            {**variables, "first": runner.page_size_max, "after": after},
            action=f"export {export.field}",
            origin=origin,
        )
        connection = data[export.field]
        yield [
            {column: _at(node, path) for column, path in export.columns}
            for node in connection["nodes"]
        ]
        if not connection["pageInfo"]["hasNextPage"]:
            return
        after = connection["pageInfo"]["endCursor"]


# Routes -----------------------------------------------------------------------------------


def _error(message: str, status: int, **extra: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"errors": [{"message": message, **extra}]}, status, headers=headers)


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


def routes(runner: Runner, secret: str, region: Collection[str]) -> list[Route]:
    def caller(request: Request) -> Scope:
        return auth.from_header(secret, request.headers.get("authorization"), region)

    def origin(request: Request) -> str | None:
        return request.client.host if request.client else None

    def guarded(
        handler: Callable[[Request, Scope], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                scope = caller(request)
            except auth.AuthError as exc:
                return _error(str(exc), 401)
            try:
                response = await handler(request, scope)
            except BadParameterError as exc:
                return _error(str(exc), 400, parameter=exc.parameter)
            except ExportError as exc:
                return _error(str(exc), exc.status)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, DatabaseError) as exc:
                log.error("export_failed error=%s", type(exc).__name__)  # noqa: TRY400
                return _error("the export could not be completed; it has been logged", 503)
            return response

        return endpoint

    async def indicators(request: Request, scope: Scope, fmt: str) -> Response:
        variables = indicator_variables(_multi(request))
        data = await runner.run(
            scope, INDICATORS_QUERY, variables, action="export indicators", origin=origin(request)
        )
        columns = indicator_columns(variables.get("groupBy", []))
        rows = indicator_rows(data, columns)
        if fmt == "json":
            return JSONResponse({"columns": columns, "rows": rows})
        return Response(
            to_csv(columns, rows, header=True),
            media_type="text/csv; charset=utf-8",
            headers=_attachment("indicators.csv"),
        )

    async def records(request: Request, scope: Scope) -> Response:
        export = RECORD_EXPORTS.get(request.path_params["kind"])
        if export is None:
            return _error(f"no such export; known: {', '.join(RECORD_EXPORTS)}", 404)
        if scope.role not in RECORD_ROLES:
            return _error(
                f"record exports are for the roles {' and '.join(RECORD_ROLES)}; "
                f"this token's role is {scope.role}",
                403,
            )
        f = _filter(_params(_multi(request), export.params))
        pages = record_pages(runner, scope, export, {"filter": f or None}, origin(request))
        # The first page before the status line: a failure to start is a proper error.
        first = await anext(pages)
        columns = [c for c, _ in export.columns]

        async def body() -> AsyncIterator[str]:
            yield to_csv(columns, first, header=True)
            try:
                async for page in pages:
                    yield to_csv(columns, page, header=False)
            except Exception as exc:
                # The status line has left: all that is left is to cut the response short.
                log.error("export_aborted export=%s error=%s", export.field, type(exc).__name__)  # noqa: TRY400
                raise

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers=_attachment(f"{export.field}.csv"),
        )

    async def indicators_csv(request: Request, scope: Scope) -> Response:
        return await indicators(request, scope, "csv")

    async def indicators_json(request: Request, scope: Scope) -> Response:
        return await indicators(request, scope, "json")

    return [
        Route("/export/indicators.csv", guarded(indicators_csv), methods=["GET"]),
        Route("/export/indicators.json", guarded(indicators_json), methods=["GET"]),
        Route("/export/{kind:str}.csv", guarded(records), methods=["GET"]),
    ]


def _multi(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params
