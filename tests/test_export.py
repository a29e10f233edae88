"""Exports: the indicators CSV and JSON equal the GraphQL answer cell for cell, suppression
included, for every role; record exports give a municipality exactly its own records and the
region all of them, page by page with an audit row per page, and refuse every other role."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import asyncpg
import pytest

from hub.config import default_region
from hub.synth import generate

from .conftest import Api, load_generated, settings_for, token

THREE = [m for m in default_region() if m.code in ("0148", "0150", "0193")]
PAGE = 10  # a small page maximum, so every record export spans several pages


@pytest.fixture(scope="module")
async def region(make_database, open_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    generate(out, seed=5, years=1, scale=0.03, region=THREE)
    urls = await make_database(THREE)
    db = await open_db(urls)
    await load_generated(db, settings_for(THREE, out), out)
    conn = await asyncpg.connect(urls.admin)
    try:
        provider = await conn.fetchval(
            "select provider_agb from trajectory group by 1 order by count(*) desc limit 1"
        )
    finally:
        await conn.close()
    api = Api(db, [m.code for m in THREE], page_size_max=PAGE, max_cost=10**9)
    return urls, api, provider


ROLES = [
    ("region", {}),
    ("municipality", {"municipality": "0148"}),
    ("provider", {}),
    ("public", {}),
    ("admin", {}),
]


def _bearer(role: str, scope: dict[str, Any], provider: str) -> str:
    return token(role, provider=provider, **scope) if role == "provider" else token(role, **scope)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# The same questions, once as export parameters and once as a hand-written GraphQL query.
CASES = [
    (
        "metrics=YOUTH_IN_CARE,COST_EUR,TRAJECTORIES_STARTED,RESIDENTIAL_SHARE"
        "&groupBy=MUNICIPALITY,MONTH&from=2025-01-01&to=2025-12-31",
        """{ indicators(metrics: [YOUTH_IN_CARE, COST_EUR, TRAJECTORIES_STARTED,
                                 RESIDENTIAL_SHARE],
                       groupBy: [MUNICIPALITY, MONTH],
                       filter: {from: "2025-01-01", to: "2025-12-31"}) {
               rows { municipality year month values { metric value suppressed } } } }""",
        ["municipality", "year", "month"],
    ),
    (
        "metric=YOUTH_IN_CARE&metric=AVERAGE_DURATION_DAYS&groupBy=QUARTER,CARE_TYPE"
        "&municipality=0148&careType=AMBULANT,RESIDENTIAL",
        """{ indicators(metrics: [YOUTH_IN_CARE, AVERAGE_DURATION_DAYS],
                       groupBy: [QUARTER, CARE_TYPE],
                       filter: {municipalities: ["0148"], careTypes: [AMBULANT, RESIDENTIAL]}) {
               rows { year quarter careType values { metric value suppressed } } } }""",
        ["year", "quarter", "careType"],
    ),
]


def _expected(data: dict[str, Any], dims: list[str]) -> list[dict[str, Any]]:
    return [
        {**{d: row[d] for d in dims}, **v}
        for row in data["indicators"]["rows"]
        for v in row["values"]
    ]


def _same_cell(csv_value: str, value: Any) -> bool:
    if value is None:
        return csv_value == ""
    if isinstance(value, bool):
        return csv_value == ("true" if value else "false")
    if isinstance(value, float):
        return float(csv_value) == value
    return csv_value == str(value)


@pytest.mark.parametrize(("role", "scope"), ROLES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=["monthly", "care-types"])
async def test_indicator_exports_equal_the_graphql_answer_cell_for_cell(
    region, role: str, scope: dict[str, Any], case: tuple[str, str, list[str]]
) -> None:
    _, api, provider = region
    params, graphql, dims = case
    bearer = _bearer(role, scope, provider)
    expected = _expected(await api.query(graphql, bearer=bearer), dims)
    headers = {"authorization": f"Bearer {bearer}"}

    response = await api.client.get(f"/export/indicators.csv?{params}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = _csv(response.text)
    assert list(rows[0]) == [*dims, "metric", "value", "suppressed"]
    assert len(rows) == len(expected) > 0
    for got, want in zip(rows, expected, strict=True):
        assert set(got) == set(want)
        for column, value in want.items():
            assert _same_cell(got[column], value), (column, got, want)
        if want["suppressed"]:
            assert got["value"] == ""

    response = await api.client.get(f"/export/indicators.json?{params}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == [*dims, "metric", "value", "suppressed"]
    assert body["rows"] == expected

    suppressed = sum(r["suppressed"] for r in expected)
    if role == "region" or (role == "municipality" and "0148" in params):
        assert suppressed == 0  # all its own cells: exact
    elif role in ("public", "admin", "provider") and "MONTH" in params:
        assert suppressed > 0  # small monthly cells exist in this region: the test saw some


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ("groupBy=MONTH", "metrics"),
        ("metrics=YOUTH", "metrics"),
        ("metrics=YOUTH_IN_CARE&groupBy=WEEK", "groupBy"),
        ("metrics=YOUTH_IN_CARE&from=2025-13-01", "from"),
        ("metrics=YOUTH_IN_CARE&from=2025-06-01&to=2025-01-01", "from"),
        ("metrics=YOUTH_IN_CARE&municipality=Zwolle", "municipalities"),
        ("metrics=YOUTH_IN_CARE&provider=123", "providers"),
        ("metrics=YOUTH_IN_CARE&careType=HOME", "careTypes"),
        ("metrics=YOUTH_IN_CARE&colour=red", "colour"),
        ("metrics=YOUTH_IN_CARE&to=", "to"),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it(region, params: str, parameter: str) -> None:
    _, api, _ = region
    headers = {"authorization": f"Bearer {token('public')}"}
    for fmt in ("csv", "json"):
        response = await api.client.get(f"/export/indicators.{fmt}?{params}", headers=headers)
        assert response.status_code == 400, response.text
        (error,) = response.json()["errors"]
        assert error["parameter"] == parameter
        assert f"`{parameter}`" in error["message"]


async def test_exports_need_a_valid_token(region) -> None:
    _, api, _ = region
    for path in ("/export/indicators.csv?metrics=YOUTH_IN_CARE", "/export/claims.csv"):
        assert (await api.client.get(path)).status_code == 401
        bad = {"authorization": "Bearer nonsense"}
        assert (await api.client.get(path, headers=bad)).status_code == 401


RECORDS = [
    ("trajectories", "trajectory"),
    ("assignments", "assignment"),
    ("claims", "claim"),
]


async def _ids(urls: Any, table: str, municipality: str | None) -> set[str]:
    """The opaque ids of every row of the table (of one municipality), read as the owner."""
    kind = {"trajectory": "Trajectory", "assignment": "Assignment", "claim": "Claim"}[table]
    conn = await asyncpg.connect(urls.admin)
    try:
        rows = await conn.fetch(
            f"select municipality_code, id from {table} "
            "where $1::text is null or municipality_code = $1",
            municipality,
        )
    finally:
        await conn.close()
    return {
        base64.urlsafe_b64encode(f"{kind}:{r['municipality_code']}:{r['id']}".encode()).decode()
        for r in rows
    }


async def _audit_rows(urls: Any, action: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(urls.admin)
    try:
        return await conn.fetch(
            "select role, on_behalf_of, youth from audit_log where action = $1", action
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(("role", "scope"), ROLES, ids=str)
@pytest.mark.parametrize(("kind", "table"), RECORDS, ids=[k for k, _ in RECORDS])
async def test_record_exports_are_the_owners_records_and_nobody_elses(
    region, role: str, scope: dict[str, Any], kind: str, table: str
) -> None:
    urls, api, provider = region
    bearer = _bearer(role, scope, provider)
    headers = {"authorization": f"Bearer {bearer}"}
    before = len(await _audit_rows(urls, f"export {kind}"))
    response = await api.client.get(f"/export/{kind}.csv", headers=headers)
    if role not in ("municipality", "region"):
        assert response.status_code == 403, response.text
        assert role in response.json()["errors"][0]["message"]
        assert len(await _audit_rows(urls, f"export {kind}")) == before
        return
    assert response.status_code == 200, response.text
    rows = _csv(response.text)
    own = scope.get("municipality")
    expected = await _ids(urls, table, own)
    assert len(expected) > 2 * PAGE  # the export spans several pages
    assert [r["id"] for r in rows] != []
    assert len(rows) == len({r["id"] for r in rows})  # no row twice across pages
    assert {r["id"] for r in rows} == expected
    if own:
        assert {r["municipality"] for r in rows} == {own}
    # One audit row per page, each listing the youth that page showed.
    audits = (await _audit_rows(urls, f"export {kind}"))[before:]
    assert len(audits) == -(-len(rows) // PAGE)
    assert {a["role"] for a in audits} == {role}
    youth_in_audit = {y for a in audits for y in a["youth"]}
    youth_in_rows = {r["youth"] for r in rows if r["youth"]}
    assert len(youth_in_audit) == len(youth_in_rows)
    # Asking for another municipality's records gives no row, like asking for none.
    if own:
        other = await api.client.get(f"/export/{kind}.csv?municipality=0150", headers=headers)
        assert other.status_code == 200
        assert _csv(other.text) == []


async def test_record_exports_take_the_filters_of_their_field(region) -> None:
    _, api, _ = region
    headers = {"authorization": f"Bearer {token('region')}"}
    graphql = await api.query(
        """{ claims(first: 1, filter: {municipalities: ["0193"], statuses: [GRANTED],
                                        from: "2025-03-01", to: "2025-03-31"}) {
               totalCount } }""",
        bearer=token("region"),
    )
    response = await api.client.get(
        "/export/claims.csv?municipality=0193&status=GRANTED&from=2025-03-01&to=2025-03-31",
        headers=headers,
    )
    assert response.status_code == 200, response.text
    rows = _csv(response.text)
    assert len(rows) == graphql["claims"]["totalCount"] > 0
    assert {r["status"] for r in rows} == {"GRANTED"}
    bad = await api.client.get("/export/claims.csv?careType=AMBULANT", headers=headers)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["parameter"] == "careType"
    unknown = await api.client.get("/export/youth.csv", headers=headers)
    assert unknown.status_code == 404
