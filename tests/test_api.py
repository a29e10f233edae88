"""GraphQL over HTTP as each role, on synthetic data of two municipalities: what each role
sees, that nothing crosses the wall, tokens, limits, and constant statement counts."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import pytest

from hub import auth
from hub.config import default_region
from hub.db import Scope, Tx
from hub.resolvers import records
from hub.resolvers.context import Context
from hub.schema import schema
from hub.synth import generate

from .conftest import ROOT, SECRET, Api, load_generated, settings_for, token

TWO = [m for m in default_region() if m.code in ("0193", "0150")]

EVERYTHING = """
query Everything($first: Int!, $youth: ID! = "none", $agb: String! = "none") {
  viewer { role municipality provider }
  youth(id: $youth) { id birthYear municipality { code } trajectories { id } }
  provider(agb: $agb) { agb name }
  municipalities { code name youthPopulation(year: 2025) }
  providers(first: 500) { totalCount nodes { agb name } }
  trajectories(first: $first) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id careType start end endReason repeatInflow
      youth { id birthYear birthMonth gender municipality { code }
              trajectories { id municipality { code } } }
      provider { agb } municipality { code } source { id adapter owner }
      carePeriods { id start end endReason assignment { id municipality { code } } }
      assignments { id number municipality { code } provider { agb } }
      claims { id reference status municipality { code } provider { agb } } }
  }
  assignments(first: $first) {
    totalCount
    nodes { id number productCategory productCode assignedOn start end volume unit frequency
      budgetCents changeReason youth { id municipality { code } } provider { agb }
      municipality { code } source { id } }
  }
  claims(first: $first) {
    totalCount
    nodes { id reference previousReference claimNumber claimDate periodStart periodEnd
      productCategory productCode volume unit rateCents amountCents debitCredit status
      retourcodes assignment { id municipality { code } } youth { id municipality { code } }
      provider { agb } municipality { code } source { id } }
  }
  sources { id adapter owner status recordsAccepted recordsQuarantined }
}"""


@pytest.fixture(scope="module")
async def world(make_database, open_db, tmp_path_factory):

    out = tmp_path_factory.mktemp("synth")
    generated = generate(out, seed=7, years=1, scale=0.05, region=TWO)
    urls = await make_database(TWO)
    db = await open_db(urls)
    runs = await load_generated(db, settings_for(TWO, out), generated.sources_toml.parent)
    assert all(r.status == "loaded" and r.records_quarantined == 0 for r in runs)
    return Api(db, [m.code for m in TWO]), urls


def _codes(data: Any, key: str = "code") -> set[str]:
    """Every value of `key` inside `municipality { code }` objects anywhere in the answer."""
    found: set[str] = set()

    def walk(node: Any, parent: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if parent == "municipality" and k == key:
                    found.add(v)
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, parent)

    walk({k: v for k, v in data.items() if k != "municipalities"}, None)
    return found


def _record_count(data: dict[str, Any]) -> int:
    return sum(
        data[k]["totalCount"] + len(data[k]["nodes"])
        for k in ("trajectories", "assignments", "claims")
    )


async def test_region_sees_both_municipalities(world) -> None:
    api, _ = world
    data = await api.query(EVERYTHING, {"first": 500}, bearer=token("region"))
    assert _codes(data) == {"0193", "0150"}
    assert data["trajectories"]["totalCount"] > 100
    assert data["claims"]["totalCount"] > 100
    assert data["sources"] == []  # sources are for admins and their owners


@pytest.mark.parametrize(("own", "other"), [("0193", "0150"), ("0150", "0193")])
async def test_municipality_sees_only_its_own_records(world, own: str, other: str) -> None:
    api, _ = world
    data = await api.query(EVERYTHING, {"first": 500}, bearer=token("municipality", own))
    assert _codes(data) == {own}
    assert data["viewer"] == {"role": "municipality", "municipality": own, "provider": None}
    assert {m["code"] for m in data["municipalities"]} == {"0193", "0150"}  # reference data
    assert {s["owner"] for s in data["sources"]} == {own}
    _, urls = world
    conn = await asyncpg.connect(urls.admin)  # superuser: the truth behind the wall
    try:
        for kind, table in (
            ("trajectories", "trajectory"),
            ("assignments", "assignment"),
            ("claims", "claim_line"),
        ):
            expected = await conn.fetchval(
                f"select count(*) from {table} where municipality_code = $1", own
            )
            assert data[kind]["totalCount"] == expected > 0
    finally:
        await conn.close()


@pytest.mark.parametrize("role", ["public", "admin"])
async def test_public_and_admin_see_no_records(world, role: str) -> None:
    api, _ = world
    data = await api.query(EVERYTHING, {"first": 500}, bearer=token(role))
    assert _record_count(data) == 0
    assert len(data["municipalities"]) == 2
    if role == "admin":
        assert {"0193", "0150"} <= {s["owner"] for s in data["sources"]}  # and the others
        assert all(s["status"] == "loaded" for s in data["sources"])
    else:
        assert data["sources"] == []


async def test_provider_sees_only_its_own_records(world) -> None:
    api, _ = world
    region = await api.query(EVERYTHING, {"first": 500}, bearer=token("region"))
    agb = region["claims"]["nodes"][0]["provider"]["agb"]
    data = await api.query(EVERYTHING, {"first": 500}, bearer=token("provider", provider=agb))
    assert data["claims"]["totalCount"] > 0
    for kind in ("trajectories", "assignments", "claims"):
        assert {n["provider"]["agb"] for n in data[kind]["nodes"]} <= {agb}
        for node in data[kind]["nodes"]:
            for link in node.get("assignments", []) + node.get("claims", []):
                assert link["provider"]["agb"] == agb
    assert data["sources"] == []


async def test_not_yours_looks_like_not_found(world) -> None:
    api, _ = world
    region = await api.query(EVERYTHING, {"first": 500}, bearer=token("region"))
    theirs = next(
        n["youth"]["id"]
        for n in region["trajectories"]["nodes"]
        if n["municipality"]["code"] == "0150"
    )
    query = "query($id: ID!) { youth(id: $id) { id birthYear trajectories { id } } }"
    mine = await api.post(query, {"id": theirs}, bearer=token("municipality", "0193"))
    unknown = await api.post(
        query, {"id": "WW91dGg6MDE5Mzo5OTk5OTk5"}, bearer=token("municipality", "0193")
    )
    garbage = await api.post(query, {"id": "not-an-id"}, bearer=token("municipality", "0193"))
    assert mine.json() == unknown.json() == garbage.json() == {"data": {"youth": None}}
    found = await api.query(query, {"id": theirs}, bearer=token("municipality", "0150"))
    assert found["youth"]["id"] == theirs
    filtered = await api.query(
        "query($id: ID!) { trajectories(filter: {youth: $id}) { totalCount } }",
        {"id": theirs},
        bearer=token("municipality", "0193"),
    )
    assert filtered["trajectories"]["totalCount"] == 0


async def test_pages_follow_cursors_without_gaps(world) -> None:
    api, _ = world
    query = """query($after: String) { claims(first: 50, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await api.query(query, {"after": after}, bearer=token("region")))["claims"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == page["totalCount"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ trajectories(first: 501) { totalCount } }", "PAGE_SIZE"),
        ("{ claims(first: -1) { totalCount } }", "PAGE_SIZE"),
        ('{ claims(after: "%%%") { totalCount } }', "INVALID_CURSOR"),
    ],
)
async def test_typed_errors_name_the_limit(world, query: str, code: str) -> None:
    api, _ = world
    body = (await api.post(query, bearer=token("region"))).json()
    assert body["errors"][0]["extensions"]["code"] == code
    assert "Traceback" not in str(body)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Authorization"),
        ("Basic abc", "Bearer"),
        ("Bearer not-a-token", "not valid"),
        ("Bearer " + auth.issue("another-secret-" + "y" * 32, "region"), "not valid"),
        (
            "Bearer " + auth.issue("test-secret-" + "x" * 32, "municipality", municipality="0363"),
            "not in this hub's region",
        ),
    ],
)
async def test_no_or_bad_token_is_401_with_a_clear_message(
    world, header: str | None, reason: str
) -> None:
    api, _ = world
    headers = {"authorization": header} if header else {}
    response = await api.client.post(
        "/graphql", json={"query": "{ viewer { role } }"}, headers=headers
    )
    assert response.status_code == 401
    assert reason in response.json()["errors"][0]["message"]


def test_a_token_verified_before_is_refused_once_it_expires() -> None:
    short = auth.issue(SECRET, "municipality", municipality="0193", ttl_seconds=1)
    assert auth.verify(SECRET, short).municipality == "0193"  # now remembered as verified
    assert auth.verify(SECRET, short).municipality == "0193"
    with pytest.raises(auth.AuthError, match="not in this hub's region"):
        auth.verify(SECRET, short, region={"0150"})  # the region is checked every time
    time.sleep(1.2)
    with pytest.raises(auth.AuthError, match="expired"):
        auth.verify(SECRET, short)
    with pytest.raises(auth.AuthError, match="not valid"):
        auth.verify("another-secret-" + "y" * 32, auth.issue(SECRET, "region"))


async def test_statement_count_does_not_grow_with_the_page(world) -> None:
    api, _ = world
    query = """query($first: Int!) { trajectories(first: $first) {
        nodes { id start youth { id birthYear } provider { agb name } } } }"""
    counts = {}
    for first in (1, 10, 100):
        async with api.db.tenant(auth.verify(SECRET, token("region"))) as tx:
            result = await schema.execute(
                query, {"first": first}, context_value=Context(tx=tx, scope=tx.scope)
            )
            assert result.errors is None
            assert result.data is not None
            assert len(result.data["trajectories"]["nodes"]) == first
            counts[first] = tx.statements
    assert counts[1] == counts[10] == counts[100] == 1  # the page, its links built in SQL


def test_schema_graphql_is_current() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema.as_str() + "\n", "run: python -m hub.schema > schema.graphql"


@pytest.mark.parametrize(
    ("role", "scope", "sees"),
    [
        ("region", {}, True),
        ("municipality", {"municipality": "0150"}, True),
        ("municipality", {"municipality": "0193"}, False),
        ("public", {}, False),
        ("admin", {}, False),
        ("provider", {"provider": "00000000"}, False),
    ],
)
async def test_by_id_root_fields_as_every_role(world, role: str, scope: dict, sees: bool) -> None:
    api, _ = world
    region = await api.query(EVERYTHING, {"first": 500}, bearer=token("region"))
    node = next(n for n in region["trajectories"]["nodes"] if n["municipality"]["code"] == "0150")
    youth_id, agb = node["youth"]["id"], node["provider"]["agb"]
    data = await api.query(
        EVERYTHING, {"first": 500, "youth": youth_id, "agb": agb}, bearer=token(role, **scope)
    )
    assert data["provider"]["agb"] == agb  # reference data, for everyone
    assert data["provider"]["name"]  # from the provider register
    if sees:
        assert data["youth"]["id"] == youth_id
        assert data["youth"]["municipality"]["code"] == "0150"
    else:
        assert data["youth"] is None
    if role != "provider":
        return
    mine = await api.query(
        EVERYTHING, {"first": 500, "youth": youth_id}, bearer=token("provider", provider=agb)
    )
    assert mine["youth"]["id"] == youth_id  # a provider sees the youth it cares for


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("{ __schema { types { name } } }", "introspection"),
        ("{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(31)) + " }", "aliases"),
        (
            "{ trajectories { nodes "
            + "{ youth { trajectories " * 6
            + "{ id }"
            + " } }" * 6
            + " } }",
            "depth",
        ),
        (  # 500 trajectories, each youth's trajectories, their claims, and so on
            "query($n: Int) { trajectories(first: 500) { nodes { youth { trajectories "
            "{ claims { youth { trajectories { id } } } } } } } "
            "providers(first: $n) { nodes { agb } } }",
            "estimated cost",
        ),
    ],
)
async def test_limits_are_checked_before_execution(world, query: str, fragment: str) -> None:
    api, _ = world
    response = await api.post(query, bearer=token("public"))
    body = response.json()
    assert body.get("data") is None
    assert fragment in body["errors"][0]["message"].lower()
    if fragment == "estimated cost":  # names the value and the limit
        assert body["errors"][0]["extensions"] == {
            "code": "COST_LIMIT",
            "cost": body["errors"][0]["extensions"]["cost"],
            "limit": 200_000,
        }
        assert body["errors"][0]["extensions"]["cost"] > 200_000


@pytest.mark.parametrize(
    ("scope", "municipalities", "one"),
    [
        (Scope("municipality", municipality="0193"), None, ["0193"]),
        (Scope("region"), ["0193"], ["0193"]),
        (Scope("region"), None, None),
        (Scope("region"), ["0193", "0150"], None),
        (Scope("provider", provider="12345678"), None, None),
    ],
)
def test_a_page_of_one_municipality_asks_for_it_by_equality(
    scope: Scope, municipalities: list[str] | None, one: list[str] | None
) -> None:
    """A municipality's pages (and any filter on one municipality) name it with an equality
    that PostgreSQL reads from the index; row-level security still decides what is seen."""
    tx = Tx(None, scope)
    for kind in ("trajectory", "assignment", "claim", "measure"):
        where, args = records._where(tx, kind, records.RecordFilter(municipalities=municipalities))
        assert ("municipality_code = ($1::text[])[1]" in where) == (one is not None)
        assert ("municipality_code = any($1)" in where) == (one is None)
        assert args[0] == (one if one is not None else municipalities)
