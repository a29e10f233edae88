"""The compiled completion path (hub/schema/fast.py) and the record page built in SQL (W2).

The fast path must answer exactly what graphql-core's own completion answers, errors
included: an identity suite of tricky queries runs both ways, on a tiny inline schema (for
the error cases plain hub data never has) and on the hub's schema over synthetic data, and
the JSON must be byte-identical. CI also runs the whole suite with HUB_FAST_PATH=compare,
where every value the plan completes is completed the standard way as well and compared.
W2 (100 trajectories with youth, provider and the latest three claims, as a municipality)
must cost one statement whatever the page size, and answer what the tables say."""

from __future__ import annotations

import json
from datetime import date
from enum import Enum
from typing import Annotated, Any

import asyncpg
import pytest
import strawberry
from strawberry.types import ExecutionResult

import hub.schema
from hub import auth
from hub.config import default_region
from hub.resolvers.context import Context
from hub.schema import build_schema
from hub.schema.fast import (
    COMPUTED,
    PREFETCHED,
    FastExecutor,
    FastPathMismatchError,
    prefetch_key,
)
from hub.synth import generate

from .conftest import SECRET, Api, load_generated, settings_for, token

# An inline schema with what the hub's plain data never has -----------------------------


@strawberry.enum
class Color(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Item:
    name: str
    size: int | None
    color: Color
    tags: list[str]
    maybe_tags: list[str | None] | None
    when: date | None
    child: Item | None
    _prefetched: strawberry.Private[dict[tuple[Any, ...], Any] | None] = None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field(metadata={COMPUTED: True})
    def initial(self) -> str:
        return self.name[:1]

    @strawberry.field(metadata={PREFETCHED: "twin"})
    def twin(self, times: int | None = None) -> Item | None:
        key = prefetch_key("twin", {"times": times})
        if self._prefetched is not None and key in self._prefetched:
            return self._prefetched[key]  # type: ignore[no-any-return]
        return Item(**_plain("twin"))


@strawberry.type
class Other:
    label: str


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Dog(Named):
    barks: bool


@strawberry.type
class Cat(Named):
    lives: int


Thing = Annotated[Item | Other, strawberry.union("Thing")]


def _plain(name: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": name,
        "size": 3,
        "color": Color.RED,
        "tags": ["a", "b"],
        "maybe_tags": [None, "x"],
        "when": date(2025, 1, 2),
        "child": None,
    }
    return values | changes


def _items() -> list[Item]:
    leaf = Item(**_plain("leaf"))
    middle = Item(**_plain("middle", child=leaf, color=Color.BLUE, size=None))
    twin = Item(**_plain("prefetched twin"))
    with_twin = Item(**_plain("has twin", child=middle))
    with_twin._prefetched = {
        prefetch_key("twin", {}): twin,
        prefetch_key("twin", {"times": 2}): None,
    }
    return [Item(**_plain("first", child=middle, maybe_tags=None)), with_twin, leaf]


BAD = {
    "null name": {"name": None},
    "big int": {"size": 2**40},
    "bad enum": {"color": "GREEN"},
    "null tag": {"tags": ["a", None]},
    "string for list": {"tags": "abc"},
    "bad date": {"when": "2025-01-02"},
    "exception child": {"child": ValueError("broken child")},
}


@strawberry.type
class InlineQuery:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def bad_items(self, kind: str) -> list[Item | None]:
        return [_items()[0], Item(**_plain("bad", **BAD[kind])), _items()[2]]

    @strawberry.field
    def strict_bad_items(self, kind: str) -> list[Item]:
        return [_items()[0], Item(**_plain("bad", **BAD[kind]))]

    @strawberry.field
    def text_colored(self) -> list[Item]:  # enum values given as their text, as cells do
        return [Item(**_plain(name, color=color)) for name, color in (("a", "BLUE"), ("b", "RED"))]

    @strawberry.field
    def with_exception(self) -> list[Item | None]:
        return [_items()[0], ValueError("an item that failed")]  # type: ignore[list-item]

    @strawberry.field
    async def async_items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def generated_items(self) -> list[Item]:
        return (i for i in _items())  # type: ignore[return-value]

    @strawberry.field
    def things(self) -> list[Thing]:
        return [_items()[0], Other(label="other")]

    @strawberry.field
    def pets(self) -> list[Named]:
        return [Dog(name="rex", barks=True), Cat(name="tom", lives=9)]


ITEM_FIELDS = "name size color tags when child { name }"
INLINE_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("{ items { name size color tags maybeTags when } }", {}),
    ("{ items { initial child { initial name } } }", {}),
    ("{ a: items { n: name name } b: items { size s: size } }", {}),
    ("{ items { __typename name child { __typename name child { name child { name } } } } }", {}),
    (
        "fragment F on Item { name child { ...G } } fragment G on Item { size color }"
        " { items { ...F ... on Item { tags } } }",
        {},
    ),
    (
        "query($s: Boolean!) { items { name size @skip(if: $s) tags @include(if: $s)"
        " child @include(if: $s) { name } } }",
        {"s": True},
    ),
    (
        "query($s: Boolean!) { items { name size @skip(if: $s) tags @include(if: $s)"
        " child @include(if: $s) { name } } }",
        {"s": False},
    ),
    ("{ items { name shout child { shout } } }", {}),
    ("{ items { name twin { name } t2: twin(times: 2) { name } } }", {}),
    ("query($t: Int) { items { twin(times: $t) { name size } } }", {"t": 2}),
    ("{ withException { name } }", {}),
    ("{ textColored { name color } again: textColored { color } }", {}),
    ("{ asyncItems { name child { name } } }", {}),
    ("{ generatedItems { name } }", {}),
    ("{ things { __typename ... on Item { name } ... on Other { label } } }", {}),
    ("{ pets { __typename name ... on Dog { barks } ... on Cat { lives } } }", {}),
    *((f'{{ badItems(kind: "{kind}") {{ {ITEM_FIELDS} }} }}', {}) for kind in BAD),
    *(
        (
            f'{{ strictBadItems(kind: "{kind}") {{ {ITEM_FIELDS} }} }}',
            {},
        )
        for kind in BAD
    ),
    ('{ ok: items { name } bad: strictBadItems(kind: "null name") { name } }', {}),
]


class _Counting(FastExecutor):
    compiled: int = 0

    def _compile(self, return_type: Any, fields: Any) -> Any:
        plan = super()._compile(return_type, fields)
        _Counting.compiled += plan is not None
        return plan


STOCK = strawberry.Schema(query=InlineQuery)
FAST = strawberry.Schema(query=InlineQuery, execution_context_class=_Counting)


def _dump(result: ExecutionResult) -> str:
    errors = [e.formatted for e in result.errors or ()]
    return json.dumps({"data": result.data, "errors": errors}, separators=(",", ":"))


@pytest.mark.parametrize(("query", "variables"), INLINE_QUERIES)
async def test_inline_identity(query: str, variables: dict[str, Any]) -> None:
    stock = await STOCK.execute(query, variables)
    fast = await FAST.execute(query, variables)
    assert _dump(fast) == _dump(stock)


async def test_plain_lists_are_compiled_and_anomalies_answered_as_graphql_core_does() -> None:
    _Counting.compiled = 0
    result = await FAST.execute("{ items { name child { name } } }")
    assert result.errors is None
    assert _Counting.compiled >= 1
    _Counting.compiled = 0
    result = await FAST.execute("{ things { ... on Other { label } } }")
    assert _Counting.compiled == 0  # a union is never compiled
    bad = await FAST.execute('{ badItems(kind: "big int") { name size } }')
    assert bad.data == {
        "badItems": [
            {"name": "first", "size": 3},
            {"name": "bad", "size": None},
            {"name": "leaf", "size": 3},
        ]
    }
    assert bad.errors is not None
    assert [e.path for e in bad.errors] == [["badItems", 1, "size"]]
    assert "32-bit" in bad.errors[0].message


async def test_computed_fields_are_compiled() -> None:
    _Counting.compiled = 0
    result = await FAST.execute("{ items { initial child { initial } } }")
    assert _Counting.compiled >= 1  # `initial` (COMPUTED) does not stop the plan
    assert result.data == {
        "items": [{"initial": "f", "child": {"initial": "m"}},
                  {"initial": "h", "child": {"initial": "m"}},
                  {"initial": "l", "child": None}]
    }  # fmt: skip


async def test_compare_mode_reports_a_plan_that_differs() -> None:
    class Broken(FastExecutor):
        compare = True

        def _compile(self, return_type: Any, fields: Any) -> Any:
            plan = super()._compile(return_type, fields)
            return None if plan is None else (lambda value: ["not", "the", "answer"])

    schema = strawberry.Schema(query=InlineQuery, execution_context_class=Broken)
    result = await schema.execute("{ items { name } }")
    assert result.errors is not None
    assert isinstance(result.errors[0].original_error, FastPathMismatchError)
    assert result.errors[0].path == ["items"]


def test_fast_path_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="fast_path must be one of on, off, compare"):
        build_schema(fast_path="fast")
    monkeypatch.setenv("HUB_FAST_PATH", "quick")
    with pytest.raises(ValueError, match="HUB_FAST_PATH must be one of on, off, compare"):
        build_schema()
    monkeypatch.setenv("HUB_FAST_PATH", "off")
    assert build_schema().execution_context_class is not FastExecutor


def test_parse_and_validation_are_cached_by_query_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import strawberry.schema.schema as stock  # noqa: PLC0415

    calls = {"parse": 0, "validate": 0}
    parse, validate = stock.parse, stock.validate_document

    def counting_parse(*args: Any, **kwargs: Any) -> Any:
        calls["parse"] += 1
        return parse(*args, **kwargs)

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        calls["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(stock, "parse", counting_parse)
    monkeypatch.setattr(stock, "validate_document", counting_validate)
    schema = build_schema(documents=2)
    for _ in range(3):
        assert schema.execute_sync("{ __typename }").data == {"__typename": "Query"}
    assert calls == {"parse": 1, "validate": 1}
    for _ in range(2):  # a refused query is refused each time, with the same error
        errors = schema.execute_sync("{ nope }").errors
        assert errors is not None
        assert "Cannot query field 'nope'" in errors[0].message
    assert calls == {"parse": 2, "validate": 2}
    for text in ("{ a: __typename }", "{ b: __typename }", "{ __typename }"):
        schema.execute_sync(text)  # beyond two texts the oldest go
    assert calls == {"parse": 5, "validate": 5}
    assert schema.execute_sync("{ __typename").errors is not None  # syntax: never cached


# The hub's schema over synthetic data --------------------------------------------------

TWO = [m for m in default_region() if m.code in ("0193", "0150")]

W2 = """query W2($first: Int!) { trajectories(first: $first) { nodes {
  id careType start end repeatInflow
  youth { id birthYear birthMonth gender }
  provider { agb name }
  claims(last: 3) { id reference periodStart periodEnd amountCents debitCredit status } } } }"""

HUB_QUERIES: list[tuple[str, dict[str, Any]]] = [
    (W2, {"first": 100}),
    (
        """{ trajectories(first: 20) { totalCount pageInfo { hasNextPage endCursor }
          edges { cursor node { ...T } } nodes { id kind: careType __typename } } }
        fragment T on Trajectory { id start end __typename youth { id birthYear __typename }
          provider { agb name } latest: claims(last: 2) { id amountCents status retourcodes }
          all: claims { id periodStart } none: claims(last: 0) { id } }""",
        {},
    ),
    (
        """query($y: Boolean!, $n: Int) { trajectories(first: 30) { nodes { id
          youth @include(if: $y) { id } provider @skip(if: $y) { agb }
          claims(last: $n) { id periodStart } } } }""",
        {"y": True, "n": 1},
    ),
    (
        """query($y: Boolean!, $n: Int) { trajectories(first: 30) { nodes { id
          youth @include(if: $y) { id } provider @skip(if: $y) { agb }
          claims(last: $n) { id periodStart } } } }""",
        {"y": False, "n": None},
    ),
    (
        """{ trajectories(first: 10) { nodes { id youth { id municipality { code }
          trajectories { id claims(last: 1) { id } } } carePeriods { id start assignment { id } }
          assignments { id number budgetCents } municipality { code } source { id } } } }""",
        {},
    ),
    ("{ trajectories(first: 5) { nodes { id claims(last: -1) { id } } } }", {}),
    ("{ trajectories(first: 501) { nodes { id } } }", {}),
    ('{ trajectories(after: "bm90IGEgY3Vyc29y") { nodes { id } } }', {}),
    ("{ trajectories { nodes { nope } } }", {}),
    (
        """{ claims(first: 50) { totalCount nodes { id reference previousReference claimNumber
          claimDate periodStart periodEnd productCategory productCode volume unit rateCents
          amountCents debitCredit status retourcodes assignment { id number }
          youth { id } provider { agb } } } }""",
        {},
    ),
    (
        """{ assignments(first: 50) { edges { cursor node { id number productCategory
          assignedOn start end volume unit frequency budgetCents changeReason } } } }""",
        {},
    ),
    (
        """{ municipalities { code name youthPopulation(year: 2025) }
          providers(first: 10) { totalCount edges { cursor node { agb name } }
          pageInfo { hasNextPage } } viewer { role municipality provider } }""",
        {},
    ),
    (
        """{ indicators(metrics: [YOUTH_IN_CARE, COST_EUR, TRAJECTORIES_STARTED],
          groupBy: [MUNICIPALITY, YEAR]) { rows { municipality year
          values { metric value suppressed } } } }""",
        {},
    ),
]


@pytest.fixture(scope="module")
async def world(make_database, open_db, tmp_path_factory) -> Any:
    out = tmp_path_factory.mktemp("synth")
    generated = generate(out, seed=11, years=1, scale=0.05, region=TWO)
    urls = await make_database(TWO)
    db = await open_db(urls)
    runs = await load_generated(db, settings_for(TWO, out), generated.sources_toml.parent)
    assert all(r.status == "loaded" for r in runs)
    return Api(db, [m.code for m in TWO]), urls


SCHEMAS = {mode: build_schema(fast_path=mode) for mode in ("off", "on")}


async def _execute(
    api: Api, mode: str, query: str, variables: dict[str, Any], bearer: str
) -> tuple[ExecutionResult, int]:
    scope = auth.verify(SECRET, bearer)
    async with api.db.tenant(scope) as tx:
        result = await SCHEMAS[mode].execute(
            query, variables, context_value=Context(tx=tx, scope=scope)
        )
        return result, tx.statements


ROLES = {
    "region": token("region"),
    "municipality": token("municipality", municipality="0150"),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("query", "variables"), HUB_QUERIES)
async def test_hub_identity(world, role: str, query: str, variables: dict[str, Any]) -> None:
    api, _ = world
    stock, stock_statements = await _execute(api, "off", query, variables, ROLES[role])
    fast, fast_statements = await _execute(api, "on", query, variables, ROLES[role])
    assert _dump(fast) == _dump(stock)
    assert fast_statements == stock_statements


async def test_hub_identity_suite_meets_data_and_errors(world) -> None:
    """The suite above is only worth something if its queries return records and errors."""
    api, _ = world
    rows, _ = await _execute(api, "on", W2, {"first": 100}, ROLES["municipality"])
    assert rows.data is not None
    nodes = rows.data["trajectories"]["nodes"]
    assert len(nodes) == 100
    assert sum(len(n["claims"]) == 3 for n in nodes) > 10
    failing, _ = await _execute(api, "on", *HUB_QUERIES[5], ROLES["region"])
    assert failing.errors is not None
    assert failing.errors[0].message == "`last` must be at least 0, got -1"
    assert failing.errors[0].path == ["trajectories", "nodes", 0, "claims"]


async def test_plans_are_shared_by_requests_of_the_same_operation(
    world, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeated operation completes with the plans of the first request; other variables
    (here one that includes a field) get plans of their own, with the right answer."""
    api, _ = world
    compiled: list[str] = []
    original = FastExecutor._compile

    def counting(self: FastExecutor, return_type: Any, fields: Any) -> Any:
        compiled.append(str(return_type))
        return original(self, return_type, fields)

    monkeypatch.setattr(FastExecutor, "_compile", counting)
    monkeypatch.setattr(FastExecutor, "_shared", {})
    query = """query Q($first: Int!, $ids: Boolean!) { trajectories(first: $first) {
        nodes { id @include(if: $ids) careType youth { id @include(if: $ids) birthYear } } } }"""
    first, _ = await _execute(api, "on", query, {"first": 5, "ids": False}, ROLES["region"])
    assert compiled
    compiled.clear()
    again, _ = await _execute(api, "on", query, {"first": 5, "ids": False}, ROLES["region"])
    assert compiled == []
    assert again.data == first.data
    with_ids, _ = await _execute(api, "on", query, {"first": 5, "ids": True}, ROLES["region"])
    assert compiled
    assert with_ids.data is not None
    assert first.data is not None
    nodes = with_ids.data["trajectories"]["nodes"]
    assert all(n["id"] and n["youth"]["id"] for n in nodes)
    without_ids = [
        {"careType": n["careType"], "youth": {"birthYear": n["youth"]["birthYear"]}} for n in nodes
    ]
    assert without_ids == first.data["trajectories"]["nodes"]


@pytest.mark.parametrize(
    ("first", "total", "expected"), [(1, False, 1), (10, False, 1), (100, False, 1), (100, True, 2)]
)
async def test_w2_statement_count(world, first: int, total: bool, expected: int) -> None:
    api, _ = world
    query = W2.replace("nodes {", "totalCount nodes {") if total else W2
    for mode in SCHEMAS:
        result, statements = await _execute(
            api, mode, query, {"first": first}, ROLES["municipality"]
        )
        assert result.errors is None
        assert result.data is not None
        assert len(result.data["trajectories"]["nodes"]) == first
        assert statements == expected


async def test_w2_answers_what_the_tables_say(world) -> None:
    api, urls = world
    data = await api.query(W2, {"first": 100}, bearer=ROLES["municipality"])
    nodes = data["trajectories"]["nodes"]
    conn = await asyncpg.connect(urls.admin)
    try:
        expected = await conn.fetch(
            """select t.id, t.start_date, y.birth_year, t.provider_agb, p.name,
                      array(select c.reference from claim c
                            where c.municipality_code = t.municipality_code
                              and c.toewijzing_nummer in (
                                select cp.toewijzing_nummer from care_period cp
                                where cp.municipality_code = t.municipality_code
                                  and cp.trajectory_id = t.id)
                              and c.period_end >= t.start_date
                              and c.period_start <= coalesce(t.end_date, 'infinity')
                            order by c.period_start, c.reference, c.id) as refs
               from trajectory t
               join youth y on y.municipality_code = t.municipality_code and y.id = t.youth_id
               left join provider p on p.agb = t.provider_agb
               where t.municipality_code = '0150' order by t.id limit 100"""
        )
    finally:
        await conn.close()
    assert len(nodes) == len(expected) == 100
    for node, row in zip(nodes, expected, strict=True):
        assert node["start"] == row["start_date"].isoformat()
        assert node["youth"]["birthYear"] == row["birth_year"]
        assert node["provider"] == {"agb": row["provider_agb"], "name": row["name"]}
        assert [c["reference"] for c in node["claims"]] == list(row["refs"][-3:])
    # Built in SQL or loaded by the resolvers, the same claims (by youth: loaders).
    youth = nodes[0]["youth"]["id"]
    by_youth = await api.query(
        """query($y: ID!) { youth(id: $y) { trajectories { id claims(last: 3) { reference }
           all: claims { reference } } } }""",
        {"y": youth},
        bearer=ROLES["municipality"],
    )
    for trajectory in by_youth["youth"]["trajectories"]:
        assert trajectory["claims"] == trajectory["all"][-3:]
        if trajectory["id"] == nodes[0]["id"]:
            assert [c["reference"] for c in trajectory["claims"]] == [
                c["reference"] for c in nodes[0]["claims"]
            ]


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("region", {}),
        ("municipality", {"municipality": "0150"}),
        ("municipality", {"municipality": "0193"}),
        ("provider", {}),
        ("public", {}),
        ("admin", {}),
    ],
)
async def test_w2_as_every_role(world, role: str, scope: dict[str, str]) -> None:
    """The page built in SQL shows what the tables' row-level security lets the role see,
    links included: nothing of another municipality, nothing for public and admin."""
    api, urls = world
    if role == "provider":
        conn = await asyncpg.connect(urls.admin)
        try:
            scope = {"provider": await conn.fetchval("select min(provider_agb) from claim_line")}
        finally:
            await conn.close()
    query = W2.replace("id careType", "id municipality { code } careType").replace(
        "youth { id", "youth { id municipality { code }"
    )
    body = (await api.post(query, {"first": 100}, bearer=token(role, **scope))).json()
    nodes = body["data"]["trajectories"]["nodes"] if body.get("data") else []
    municipalities = {n["municipality"]["code"] for n in nodes} | {
        n["youth"]["municipality"]["code"] for n in nodes if n["youth"]
    }
    if role == "region":
        assert municipalities
        assert municipalities <= {"0150", "0193"}
    elif role == "municipality":
        assert municipalities == {scope["municipality"]}
        claims = [c["id"] for n in nodes for c in n["claims"]]
        assert claims
        assert all(_municipality_of(c) == scope["municipality"] for c in claims)
    elif role == "provider":
        assert all(n["provider"]["agb"] == scope["provider"] for n in nodes)
    else:
        assert nodes == []


def _municipality_of(opaque: str) -> str:
    import base64  # noqa: PLC0415

    return base64.urlsafe_b64decode(opaque.encode()).decode().split(":")[1]


async def test_default_schema_follows_the_setting() -> None:
    assert hub.schema.schema.execution_context_class is not None
    assert issubclass(hub.schema.schema.execution_context_class, FastExecutor) or (
        hub.schema.fast_path_mode() == "off"
    )
