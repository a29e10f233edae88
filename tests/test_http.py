"""The HTTP face: GraphQL over HTTP status codes and media types, the audit trail of record
access and its hash chain, health and readiness, recovery from dropped connections, and push
ingestion by a source's owner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.audit import verify
from hub.ingest import Pusher
from hub.store.load import SourceInfo

from .conftest import SAMPLE_REGION, SECRET, Api, settings_for, token
from .test_adapters import ASSIGNMENT_OPTIONS, ASSIGNMENTS_CSV
from .test_indicators import PERIODS

RECORDS = "{ trajectories { nodes { id youth { id } } } }"
AGGREGATES = "{ indicators(metrics: [YOUTH_IN_CARE]) { rows { values { value } } } }"


@pytest.fixture
async def env(make_database, open_db, tmp_path: Path):
    from hub.app import create_app  # noqa: PLC0415
    from hub.ingest import ingest  # noqa: PLC0415

    urls = await make_database(SAMPLE_REGION)
    db = await open_db(urls)
    settings = settings_for(SAMPLE_REGION, tmp_path)
    path = tmp_path / "periods.csv"
    path.write_text(PERIODS, encoding="utf-8")
    periods = SourceInfo("periods-0193", "csv", "0193", None, {"kind": "care_period"})
    await ingest(db, settings, periods, [path])
    assignments = SourceInfo("csv-0193", "csv", "0193", None, ASSIGNMENT_OPTIONS)
    pusher = Pusher(db, settings, {"csv-0193": assignments})
    app = create_app(db, SECRET, [m.code for m in SAMPLE_REGION], manage_pool=False, push=pusher)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test")
    yield urls, db, client
    await pusher.close()


def _post(query: str, bearer: str, accept: str | None = None, **extra: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {bearer}", "content-type": "application/json"}
    if accept:
        headers["accept"] = accept
    return {"json": {"query": query, **extra}, "headers": headers}


async def _admin(urls: Any, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(urls.admin)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("accept", "query", "status", "media"),
    [
        ("application/graphql-response+json", "{ viewer { role", 400,
         "application/graphql-response+json"),
        ("application/graphql-response+json", "{ nosuchfield }", 400,
         "application/graphql-response+json"),
        ("application/json", "{ viewer { role", 200, "application/json"),
        ("application/json", "{ nosuchfield }", 200, "application/json"),
        (None, "{ viewer { role } }", 200, "application/json"),
        ("application/graphql-response+json, application/json;q=0.9", "{ viewer { role } }",
         200, "application/graphql-response+json"),
    ],
)  # fmt: skip
async def test_graphql_over_http_status_and_media_type(
    env, accept: str | None, query: str, status: int, media: str
) -> None:
    _, _, client = env
    response = await client.post("/graphql", **_post(query, token("public"), accept))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == media
    body = response.json()
    if status == 400:
        assert "data" not in body
        assert body["errors"][0]["message"]


async def test_variables_that_do_not_fit_are_a_request_error(env) -> None:
    _, _, client = env
    response = await client.post(
        "/graphql",
        **_post("query($n: Int) { providers(first: $n) { totalCount } }", token("public"),
                "application/graphql-response+json", variables={"n": "many"}),
    )  # fmt: skip
    assert response.status_code == 400
    assert "$n" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("method", "headers", "content", "status"),
    [
        ("GET", {}, None, 405),
        ("POST", {"content-type": "text/plain"}, b'{"query": "{ viewer { role } }"}', 415),
        ("POST", {"content-type": "application/json"}, b"{not json", 400),
        ("POST", {"content-type": "application/json"}, b'[{"query": "{ viewer { role } }"}]', 400),
        ("POST", {"content-type": "application/json", "accept": "text/html"},
         b'{"query": "{ viewer { role } }"}', 406),
    ],
)  # fmt: skip
async def test_what_is_not_a_graphql_request(
    env, method: str, headers: dict[str, str], content: bytes | None, status: int
) -> None:
    _, _, client = env
    headers = {"authorization": f"Bearer {token('public')}", **headers}
    response = await client.request(method, "/graphql", headers=headers, content=content)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["message"]


async def test_every_record_read_is_audited_in_a_verifiable_chain(env) -> None:
    urls, _, client = env
    response = await client.post(
        "/graphql", **_post(RECORDS, token("municipality", "0193"), operationName=None)
    )
    ids = {n["youth"]["id"] for n in response.json()["data"]["trajectories"]["nodes"]}
    assert len(ids) == 3
    await client.post("/graphql", **_post(AGGREGATES, token("public")))  # no records: no row
    await client.post("/graphql", **_post(RECORDS, token("region")))
    log = await client.post(
        "/graphql",
        **_post("{ auditLog { nodes { seq actor role onBehalfOf action result youth } } }",
                token("admin")),
    )  # fmt: skip
    nodes = log.json()["data"]["auditLog"]["nodes"]
    assert [(n["seq"], n["role"], n["onBehalfOf"], n["result"]) for n in nodes] == [
        (2, "region", None, "ok"),
        (1, "municipality", "0193", "ok"),
    ]
    assert set(nodes[1]["youth"]) == ids
    for role, scope in [("region", {}), ("municipality", {"municipality": "0193"})]:
        other = await client.post(
            "/graphql", **_post("{ auditLog { totalCount } }", token(role, **scope))
        )
        assert other.json()["data"]["auditLog"]["totalCount"] == 0  # admins only
    conn = await asyncpg.connect(urls.admin)
    try:
        await conn.execute("set role hub_owner")
        verdict = await verify(conn)
        assert (verdict.rows, verdict.problem) == (2, None)
        await conn.execute("reset role")
        await conn.execute("update audit_log set actor = 'someone else' where seq = 1")
        await conn.execute("set role hub_owner")
        assert (await verify(conn)).problem == "row 1 was changed after it was written"
    finally:
        await conn.close()


async def test_a_deleted_audit_row_is_detected_and_the_service_cannot_delete(env) -> None:
    urls, _, client = env
    for _ in range(3):
        await client.post("/graphql", **_post(RECORDS, token("region")))
    service = await asyncpg.connect(urls.service)
    try:
        for sql in ("update audit_log set result = 'ok'", "delete from audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await service.execute(sql)
    finally:
        await service.close()
    await _admin(urls, "delete from audit_log where seq = 2")
    conn = await asyncpg.connect(urls.admin)
    try:
        await conn.execute("set role hub_owner")
        assert (await verify(conn)).problem == "row 2 is missing (found seq 3)"
    finally:
        await conn.close()


async def test_no_audit_row_no_answer(env) -> None:
    urls, _, client = env
    await _admin(urls, "revoke insert on audit_log from hub_service")
    response = await client.post("/graphql", **_post(RECORDS, token("region")))
    assert response.status_code == 503
    assert "data" not in response.json()
    aggregates = await client.post("/graphql", **_post(AGGREGATES, token("region")))
    assert aggregates.status_code == 200  # reads no records: needs no audit row


async def test_health_readiness_and_recovery_from_dropped_connections(env) -> None:
    urls, _, client = env
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    # the database drops every connection of the service (as a restart does)
    await _admin(
        urls,
        "select pg_terminate_backend(pid) from pg_stat_activity where usename = 'hub_service'",
    )
    for _ in range(100):  # termination is asynchronous: wait until they are really gone
        gone = await _admin(
            urls, "select count(*) = 0 from pg_stat_activity where usename = 'hub_service'"
        )
        if gone[0][0]:
            break
        await asyncio.sleep(0.05)
    response = await client.post("/graphql", **_post("{ viewer { role } }", token("public")))
    assert response.status_code == 200, response.text
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    await _admin(urls, "delete from schema_migration where version = '005'")
    not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert "005_audit.sql" in not_ready.json()["reason"]


async def test_push_ingestion_by_the_sources_owner(env) -> None:
    urls, _, client = env
    url = "/ingest/csv-0193?name=beschikkingen.csv"
    data = ASSIGNMENTS_CSV.encode()
    own = {"authorization": f"Bearer {token('municipality', '0193')}"}
    response = await client.post(url, content=data, headers=own)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["read"], body["accepted"], body["quarantined"]) == (
        "loaded", 2, 2, 0)  # fmt: skip
    again = await client.post(url, content=data, headers=own)
    assert again.json()["accepted"] == 2  # the same content twice changes nothing
    rows = await _admin(urls, "select count(*) from assignment")
    assert rows[0][0] == 2
    # The stored indicator facts are refreshed in the background after the push answered.
    for _ in range(300):
        if not await _admin(urls, "select 1 from fact_dirty"):
            break
        await asyncio.sleep(0.1)
    assert await _admin(urls, "select 1 from fact_dirty") == []
    (state,) = await _admin(urls, "select refreshed_at from indicator_fact_state")
    assert state["refreshed_at"] is not None
    bad = await client.post(url, content=data.replace(b"Ingangsdatum", b"Begin"), headers=own)
    assert bad.status_code == 422
    assert bad.json()["rejections"][0]["code"] == "missing-columns"
    for headers, status in [
        ({"authorization": f"Bearer {token('municipality', '0150')}"}, 404),
        ({"authorization": f"Bearer {token('region')}"}, 404),
        ({"authorization": f"Bearer {token('admin')}"}, 404),
        ({}, 401),
    ]:
        response = await client.post(url, content=data, headers=headers)
        assert response.status_code == status, headers
    empty = await client.post(url, content=b"", headers=own)
    assert empty.status_code == 400


async def test_the_api_class_still_answers(env) -> None:
    """Tests elsewhere post through `Api`; it sends application/json."""
    _, db, _ = env
    data = await Api(db, [m.code for m in SAMPLE_REGION]).query(
        "{ viewer { role } }", bearer=token("public")
    )
    assert data == {"viewer": {"role": "public"}}


async def test_batching_is_off_unless_configured_with_a_maximum(env) -> None:
    from hub.app import create_app  # noqa: PLC0415

    _, db, client = env
    batch = [{"query": "{ viewer { role } }"}, {"query": "{ municipalities { code } }"}]
    headers = {"authorization": f"Bearer {token('public')}"}
    off = await client.post("/graphql", json=batch, headers=headers)
    assert off.status_code == 400
    assert "batched requests are off" in off.json()["errors"][0]["message"]
    app = create_app(db, SECRET, [m.code for m in SAMPLE_REGION], manage_pool=False, batch_max=2)
    batching = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
    answers = (await batching.post("/graphql", json=batch, headers=headers)).json()
    assert answers[0] == {"data": {"viewer": {"role": "public"}}}
    assert len(answers[1]["data"]["municipalities"]) == len(SAMPLE_REGION)
    too_many = await batching.post("/graphql", json=batch * 2, headers=headers)
    assert too_many.status_code == 400
    assert "1 to 2 operations, got 4" in too_many.json()["errors"][0]["message"]


async def test_the_console_is_off_unless_configured_and_loads_nothing_from_elsewhere(
    env,
) -> None:
    from hub.app import create_app  # noqa: PLC0415

    _, db, client = env
    assert (await client.get("/ide")).status_code == 404
    app = create_app(db, SECRET, [m.code for m in SAMPLE_REGION], manage_pool=False, ide=True)
    page = await httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h").get(
        "/ide"
    )
    assert page.status_code == 200
    assert "<script>" in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert " src=" not in page.text


async def test_errors_are_masked_and_logged_in_one_line_without_internals(
    env, caplog: pytest.LogCaptureFixture
) -> None:
    urls, _, client = env
    await _admin(urls, "revoke select on trajectory from hub_service")
    caplog.set_level("DEBUG")
    bearer = token("region")
    response = await client.post("/graphql", **_post(RECORDS, bearer))
    body = response.text
    assert "Internal error" in body
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "resolver_error type=InsufficientPrivilegeError path=trajectories" in logged
    for secret in ("Traceback", "select ", "permission denied", "trajectory", bearer, A_BSN):
        assert secret not in body
        assert secret not in logged.replace("path=trajectories", "")
    assert all(r.exc_info is None for r in caplog.records)


A_BSN = "999900006"


async def test_aggregate_answers_are_cached_per_scope_until_ingestion_changes_data(
    env, tmp_path: Path
) -> None:
    from hub.app import create_app  # noqa: PLC0415
    from hub.ingest import ingest  # noqa: PLC0415

    urls, db, _ = env
    codes = [m.code for m in SAMPLE_REGION]
    app = create_app(db, SECRET, codes, manage_pool=False, cache_entries=10, threshold=5)
    cached = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
    query = """{ indicators(metrics: [TRAJECTORIES_STARTED], groupBy: [MUNICIPALITY],
                   filter: {municipalities: ["0193"]}) { rows { values { value } } } }"""
    own = token("municipality", "0193")
    first = (await cached.post("/graphql", **_post(query, own))).json()
    again = (await cached.post("/graphql", **_post(query, own))).json()
    assert again == first
    assert (app.state.cache.hits, app.state.cache.misses) == (1, 1)
    await cached.post("/graphql", **_post(query, token("public")))  # another scope: a miss
    assert app.state.cache.misses == 2
    for _ in range(2):  # records are never cached: each request writes its audit row
        await cached.post("/graphql", **_post(RECORDS, own))
    assert len(await _admin(urls, "select * from audit_log")) == 2
    path = tmp_path / "more.csv"
    path.write_text(PERIODS + "0193,999900043,11111111,T-D,45A01,2024-06-01,,\n")
    source = SourceInfo("periods-0193", "csv", "0193", None, {"kind": "care_period"})
    await ingest(db, settings_for(SAMPLE_REGION, tmp_path), source, [path])
    fresh = (await cached.post("/graphql", **_post(query, own))).json()
    assert fresh != first  # the ingested period counts at once
    assert (app.state.cache.hits, app.state.cache.misses) == (1, 5)  # 2 record lookups too
