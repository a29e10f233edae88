"""Isolation, generated from introspection: for every root field, a query selecting every
field of every type it reaches (to the depth limit, each type once per path) runs as every
role against a region of three municipalities and two providers. Nothing outside the role's
scope may come back, and another tenant's ids answer like unknown ids. A meta-test fails
when a root field or a type is not covered (say, a new required argument without a value)."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    graphql_sync,
)

from hub.config import default_region
from hub.schema import MAX_DEPTH, schema
from hub.synth import generate

from .conftest import Api, load_generated, settings_for, token

THREE = [m for m in default_region() if m.code in ("0148", "0150", "0193")]
# Values for the arguments a field requires (or that decide what it shows).
ARGUMENTS: dict[str, str] = {
    "Query.provider": '(agb: "{provider}")',
    "Query.youth": '(id: "{youth}")',
    "Query.budgets": "(year: 2025)",
    "Query.indicators": "(metrics: [YOUTH_IN_CARE, COST_EUR], groupBy: [MUNICIPALITY])",
    "Municipality.youthPopulation": "(year: 2025)",
}
# Types that hold youth-level records, and what only admins see.
RECORDS = {"Youth", "Trajectory", "CarePeriod", "Assignment", "Claim", "Measure"}
ADMIN_ONLY = {"AuditEntry"}
OPERATIONS = {"QuarantinedRecord", "IngestRun", "SourceStatus"}  # admins; municipalities own


def _client_schema() -> Any:
    result = graphql_sync(schema._schema, get_introspection_query())
    assert result.errors is None
    return build_client_schema(result.data)  # type: ignore[arg-type]


def _selection(kind: GraphQLObjectType, path: frozenset[str], depth: int, seen: set[str]) -> str:
    seen.add(kind.name)
    parts = ["__typename"]
    for name, field in kind.fields.items():
        key = f"{kind.name}.{name}"
        required = [
            a
            for a, arg in field.args.items()
            if isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
        ]
        if required and key not in ARGUMENTS:
            continue  # the meta-test reports the type as not covered
        args = ARGUMENTS.get(key, "") if key != "Query.youth" else ""
        named = get_named_type(field.type)
        if isinstance(named, GraphQLScalarType | GraphQLEnumType):
            parts.append(name + args)
        elif isinstance(named, GraphQLObjectType) and named.name not in path and depth < MAX_DEPTH:
            inner = _selection(named, path | {named.name}, depth + 1, seen)
            parts.append(f"{name}{args} {{ {inner} }}")
    return " ".join(parts)


def root_queries() -> tuple[dict[str, str], set[str]]:
    """One query per root field, and every type the queries reach."""
    client = _client_schema()
    query = client.query_type
    seen: set[str] = set()
    queries = {}
    for name, field in query.fields.items():
        named = get_named_type(field.type)
        args = ARGUMENTS.get(f"Query.{name}", "")
        if isinstance(named, GraphQLObjectType):
            inner = _selection(named, frozenset({named.name}), 2, seen)
            queries[name] = f"{{ {name}{args} {{ {inner} }} }}"
        else:
            queries[name] = f"{{ {name}{args} }}"
    return queries, seen


def test_every_root_field_and_type_is_covered() -> None:
    queries, seen = root_queries()
    client = _client_schema()
    assert set(queries) == set(client.query_type.fields)
    objects = {
        n for n, t in client.type_map.items()
        if isinstance(t, GraphQLObjectType) and not n.startswith("__") and n != "Query"
    }  # fmt: skip
    assert objects - seen == set(), "types no generated query reaches"


@pytest.fixture(scope="module")
async def region(make_database, open_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("isolation")
    generate(out, seed=11, years=1, scale=0.03, region=THREE)
    urls = await make_database(THREE)
    db = await open_db(urls)
    await load_generated(db, settings_for(THREE, out), out)
    conn = await asyncpg.connect(urls.admin)
    try:
        providers = [
            r["provider_agb"]
            for r in await conn.fetch(
                """select provider_agb from trajectory group by provider_agb
                   having count(distinct municipality_code) >= 2
                   order by count(*) desc limit 2"""
            )
        ]
        visible = {
            agb: {
                (r["municipality_code"], r["id"])
                for r in await conn.fetch(
                    """select y.municipality_code, y.id from youth y where exists (
                         select 1 from trajectory t where t.municipality_code = y.municipality_code
                           and t.youth_id = y.id and t.provider_agb = $1)
                       or exists (select 1 from assignment a where a.youth_id = y.id
                           and a.municipality_code = y.municipality_code and a.provider_agb = $1)
                       or exists (select 1 from claim_line c where c.youth_id = y.id
                           and c.municipality_code = y.municipality_code and c.provider_agb = $1)
                       or exists (select 1 from care_period p where p.youth_id = y.id and
                           p.municipality_code = y.municipality_code and p.provider_agb = $1)
                       or exists (select 1 from gi_measure g where g.youth_id = y.id and
                           g.municipality_code = y.municipality_code and g.provider_agb = $1)
                    """,
                    agb,
                )
            }
            for agb in providers
        }
        youth = {
            r["municipality_code"]: r["id"]
            for r in await conn.fetch(
                "select distinct on (municipality_code) municipality_code, id from youth"
            )
        }
    finally:
        await conn.close()
    assert len(providers) == 2
    assert set(youth) == {"0148", "0150", "0193"}
    api = Api(db, [m.code for m in THREE], threshold=5, max_cost=10**12)
    return api, providers, visible, youth


ROLES = [
    ("region", {}),
    ("municipality", {"municipality": "0148"}),
    ("municipality", {"municipality": "0150"}),
    ("municipality", {"municipality": "0193"}),
    ("provider", {"provider": 0}),
    ("provider", {"provider": 1}),
    ("public", {}),
    ("admin", {}),
]


def _objects(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if "__typename" in node:
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for item in node:
            found += _objects(item)
    return found


def _municipality_of(obj: dict[str, Any]) -> str:
    """The municipality an opaque record id names (`Kind:municipality:id`)."""
    return base64.urlsafe_b64decode(obj["id"]).decode().split(":")[1]


def _youth_key(obj: dict[str, Any]) -> tuple[str, int]:
    _, municipality, row_id = base64.urlsafe_b64decode(obj["id"]).decode().split(":")
    return municipality, int(row_id)


@pytest.mark.parametrize(("role", "scope"), ROLES, ids=str)
async def test_no_role_sees_outside_its_scope(region, role: str, scope: dict[str, Any]) -> None:
    api, providers, visible, _youth = region
    if role == "provider":
        scope = {"provider": providers[scope["provider"]]}
    bearer = token(role, **scope)
    queries, _ = root_queries()
    outside, records = [], 0
    for name, text in queries.items():
        query = text.replace("{provider}", providers[0]).replace("{youth}", "x")
        response = await api.post(query, bearer=bearer)
        body = response.json()
        assert response.status_code == 200, (name, body)
        assert "errors" not in body, (name, body["errors"])
        for obj in _objects(body["data"]):
            kind = obj["__typename"]
            records += kind in RECORDS
            if (
                (kind in RECORDS and role in ("public", "admin"))
                or (kind in ADMIN_ONLY and role != "admin")
                or (kind in OPERATIONS and role not in ("admin", "municipality"))
            ):
                outside.append((name, kind))
            elif role == "municipality":
                own = scope["municipality"]
                if kind in RECORDS and _municipality_of(obj) != own:
                    outside.append((name, kind))
                if kind in OPERATIONS and obj.get("municipality", obj.get("owner")) != own:
                    outside.append((name, kind))
            elif role == "provider" and kind in RECORDS:
                if kind == "Youth" and _youth_key(obj) not in visible[scope["provider"]]:
                    outside.append((name, kind))
                if "provider" in obj and obj["provider"]["agb"] != scope["provider"]:
                    outside.append((name, kind))
    assert outside == []
    assert (records > 0) == (role not in ("public", "admin"))  # the test saw something


@pytest.mark.parametrize(("role", "scope"), ROLES, ids=str)
async def test_another_tenants_id_answers_like_an_unknown_id(
    region, role: str, scope: dict[str, Any]
) -> None:
    api, providers, visible, youth = region
    if role == "provider":
        scope = {"provider": providers[scope["provider"]]}
    bearer = token(role, **scope)
    query = '{ youth(id: "%s") { id municipality { code } } }'
    unknown = (await api.post(query % "WW91dGg6MDE5MzoxMDAwMDAwMDA=", bearer=bearer)).json()
    assert unknown == {"data": {"youth": None}}
    for municipality, row_id in youth.items():
        ident = base64.urlsafe_b64encode(f"Youth:{municipality}:{row_id}".encode()).decode()
        answer = (await api.post(query % ident, bearer=bearer)).json()
        allowed = (
            role == "region"
            or (role == "municipality" and scope["municipality"] == municipality)
            or (role == "provider" and (municipality, row_id) in visible[scope["provider"]])
        )
        if not allowed:
            assert answer == unknown, (role, municipality)
        else:
            assert answer["data"]["youth"]["id"] == ident
