"""The JSON API adapter against the local API server (hub/synth/api.py) on loopback, loaded
into a real PostgreSQL: paging, the incremental cursor, retries, timeouts, 4xx, bad items and
bodies, and saved pages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub import ingest as ingest_module
from hub.adapters.base import file_sha256
from hub.adapters.json_api import JsonApiAdapter, flatten
from hub.config import ConfigError, Settings
from hub.db import Database, Urls
from hub.ingest import adapter_context, ingest, make_adapter, pull
from hub.pseudonym import elfproef
from hub.store.load import RunResult, SourceInfo
from hub.synth.api import ApiServer

from .conftest import SAMPLE_REGION, settings_for

MUNI = "0193"
AGB = "12345678"
RESOURCE = f"/{MUNI}/toewijzingen"
COLUMNS = {
    "municipality": "gemeente",
    "bsn": "client.bsn",
    "birth_date": "client.geboortedatum",
    "gender": "client.geslacht",
    "provider_agb": "aanbieder.agb",
    "assignment_number": "toewijzingNummer",
    "product_category": "product.categorie",
    "product_code": "product.code",
    "assigned_on": "toegewezenOp",
    "start": "begin",
    "end": "einde",
    "volume": "omvang",
    "unit": "eenheid",
    "frequency": "frequentie",
    "budget": "budget",
}
OPTIONS: dict[str, Any] = {
    "kind": "assignment",
    "columns": COLUMNS,
    "page_size": 3,
    "retries": 3,
    "backoff": 0.01,
    "timeout": 2,
}
# The assignment table by content: no identities, file hashes or positions, which depend on
# how the items were paged.
CONTENT = """select md5(coalesce(string_agg(row(a.municipality_code, y.pseudonym, a.provider_agb,
               a.toewijzing_nummer, a.provider_reference, a.product_category, a.product_code,
               a.assigned_on, a.start_date, a.end_date, a.volume, a.unit, a.frequency,
               a.budget_cents, a.change_reason, a.dated, a.source_id)::text, ','
               order by a.toewijzing_nummer), ''))
             from assignment a join youth y on y.municipality_code = a.municipality_code
                                           and y.id = a.youth_id"""
# Every row as it is, provenance and identities included.
EXACT = {
    table: f"select md5(coalesce(string_agg(t::text, ',' order by id), '')) from {table} t"
    for table in ("assignment", "youth", "quarantine")
}


def bsn(n: int) -> str:
    value = f"{999_910_000 + n}"  # the test range, exempt from the elfproef
    assert elfproef(value)
    return value


def item(n: int, modified: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "lastModified": modified,
        "toewijzingNummer": f"T{n:05d}",
        "gemeente": MUNI,
        "client": {"bsn": bsn(n), "geboortedatum": "2012-05-01", "geslacht": 1},
        "aanbieder": {"agb": AGB, "naam": "Zorg B.V."},
        "product": {"categorie": "45", "code": "45A48"},
        "toegewezenOp": "2024-02-20",
        "begin": "2024-03-01",
        "einde": None,
        "omvang": 10,
        "eenheid": "04",
        "frequentie": "2",
        "budget": 125000,
    }
    data.update(changes)
    return data


def items(count: int, day: int = 1) -> list[dict[str, Any]]:
    return [item(n, f"2024-03-{day:02d}T10:{n:02d}:00") for n in range(1, count + 1)]


def write(folder: Path, path: str, content: list[Any] | bytes) -> None:
    file = folder / f"{path.lstrip('/')}.json"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


@dataclass
class Env:
    urls: Urls
    db: Database
    settings: Settings
    api: ApiServer
    folder: Path

    def source(
        self, options: dict[str, Any] | None = None, path: str = RESOURCE, sid: str = "api-0193"
    ) -> SourceInfo:
        return SourceInfo(sid, "json-api", MUNI, self.api.url + path, options or OPTIONS)

    async def pull(
        self,
        source: SourceInfo | None = None,
        progress: Callable[[RunResult], None] | None = None,
    ) -> list[RunResult]:
        return await pull(self.db, self.settings, source or self.source(), progress)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.urls.admin)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def value(self, sql: str, *args: Any) -> Any:
        return (await self.fetch(sql, *args))[0][0]

    async def cursor(self, sid: str = "api-0193") -> str | None:
        rows = await self.fetch("select cursor from source where id = $1", sid)
        return rows[0]["cursor"] if rows else None

    async def exact(self) -> dict[str, str]:
        return {table: await self.value(sql) for table, sql in EXACT.items()}


MakeEnv = Callable[[], Awaitable[Env]]


@pytest.fixture
async def make_env(make_database, open_db, tmp_path: Path):
    servers: list[ApiServer] = []
    folder = tmp_path / "api"
    folder.mkdir()

    async def make() -> Env:
        urls = await make_database(SAMPLE_REGION)
        db = await open_db(urls)
        if not servers:
            servers.append(ApiServer(folder, page_size=500).start())
        return Env(urls, db, settings_for(SAMPLE_REGION, tmp_path), servers[0], folder)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
async def env(make_env: MakeEnv) -> Env:
    return await make_env()


def accounted(runs: list[RunResult]) -> None:
    for run in runs:
        assert run.records_accepted + run.records_quarantined == run.records_read, run


# -- the server


def test_server_pages_since_and_errors(tmp_path: Path) -> None:
    write(tmp_path, RESOURCE, items(5))
    with ApiServer(tmp_path, page_size=2) as api:
        first = httpx.get(api.url + RESOURCE).json()
        assert [i["toewijzingNummer"] for i in first["items"]] == ["T00001", "T00002"]
        assert first["next"] == f"{api.url}{RESOURCE}?page=2"
        assert first["cursor"] == "2024-03-01T10:05:00"
        last = httpx.get(api.url + RESOURCE, params={"page": 3}).json()
        assert ([i["toewijzingNummer"] for i in last["items"]], last["next"]) == (["T00005"], None)
        since = "2024-03-01T10:03:00"
        newer = httpx.get(api.url + RESOURCE, params={"since": since, "page_size": 1}).json()
        assert [i["toewijzingNummer"] for i in newer["items"]] == ["T00004"]
        assert newer["next"] == (
            f"{api.url}{RESOURCE}?since=2024-03-01T10%3A03%3A00&page=2&page_size=1"
        )
        none = httpx.get(api.url + RESOURCE, params={"since": "2025-01-01T00:00:00"}).json()
        assert none == {"items": [], "next": None, "cursor": "2025-01-01T00:00:00"}
        missing = httpx.get(api.url + "/0193/nothing")
        assert missing.status_code == 404
        assert "error" in missing.json()
        assert httpx.get(api.url + "/../secret").status_code == 404
        assert httpx.get(api.url + RESOURCE, params={"page": "x"}).status_code == 400
        api.fail(503, times=2, path="/other")
        assert httpx.get(api.url + RESOURCE).status_code == 200
        api.fail(503)
        assert httpx.get(api.url + RESOURCE).status_code == 503
        assert httpx.get(api.url + RESOURCE).status_code == 200
        api.corrupt(b"nope")
        assert httpx.get(api.url + RESOURCE).content == b"nope"
        assert api.requests[0] == RESOURCE
        assert api.requests[2] == f"{RESOURCE}?since=2024-03-01T10%3A03%3A00&page_size=1"


def test_the_server_serves_a_file_as_it_is_at_each_request(tmp_path: Path) -> None:
    """A change to a file reaches the next request, even one that keeps its length: the
    server keeps a file parsed for its pages only while its bytes stay the same."""
    write(tmp_path, RESOURCE, items(3))
    with ApiServer(tmp_path, page_size=2) as api:
        assert len(httpx.get(api.url + RESOURCE).json()["items"]) == 2
        write(
            tmp_path,
            RESOURCE,
            [{**i, "toewijzingNummer": "X" + i["toewijzingNummer"][1:]} for i in items(3)],
        )
        served = httpx.get(api.url + RESOURCE, params={"page": 2}).json()["items"]
        assert [i["toewijzingNummer"] for i in served] == ["X00003"]
        write(tmp_path, RESOURCE, b'{"items": []}')  # not a JSON array
        assert httpx.get(api.url + RESOURCE).status_code == 500


# -- pulling


async def test_pull_over_pages_loads_every_item(env: Env) -> None:
    write(env.folder, RESOURCE, items(7))
    runs = await env.pull()
    assert [r.status for r in runs] == ["loaded"] * 3
    assert [r.records_read for r in runs] == [3, 3, 1]
    assert all(r.records_quarantined == 0 for r in runs)
    accounted(runs)
    assert env.api.requests == [
        f"{RESOURCE}?page_size=3",
        f"{RESOURCE}?page=2&page_size=3",
        f"{RESOURCE}?page=3&page_size=3",
    ]
    assert runs[1].file_name == f"{env.api.url}{RESOURCE}?page=2&page_size=3"
    rows = await env.fetch(
        """select a.toewijzing_nummer, a.budget_cents, a.volume, a.position, a.source_id,
                  r.file_name, r.status
             from assignment a join ingest_run r on r.file_hash = a.file_hash
            order by a.toewijzing_nummer"""
    )
    assert [r["toewijzing_nummer"] for r in rows] == [f"T{n:05d}" for n in range(1, 8)]
    assert [r["position"] for r in rows] == ["item 1", "item 2", "item 3"] * 2 + ["item 1"]
    assert {(r["source_id"], r["status"], r["budget_cents"], r["volume"]) for r in rows} == {
        ("api-0193", "loaded", 125000, 10)
    }
    assert rows[6]["file_name"].endswith("page=3&page_size=3")
    youth = await env.fetch("select birth_year, birth_month, gender from youth")
    assert {tuple(y) for y in youth} == {(2012, 5, "1")}
    assert len(youth) == 7
    assert await env.cursor() == "2024-03-01T10:07:00"


async def test_pull_again_from_the_cursor_changes_nothing(env: Env) -> None:
    write(env.folder, RESOURCE, items(7))
    await env.pull()
    before = await env.exact()
    env.api.requests.clear()
    runs = await env.pull()
    assert env.api.requests == [f"{RESOURCE}?since=2024-03-01T10%3A07%3A00&page_size=3"]
    assert [(r.status, r.records_read) for r in runs] == [("loaded", 0)]
    assert await env.exact() == before
    assert await env.cursor() == "2024-03-01T10:07:00"


async def test_a_later_window_brings_only_the_changes(make_env: MakeEnv) -> None:
    env = await make_env()
    data = items(7)
    write(env.folder, RESOURCE, data)
    await env.pull()

    # Item 2 ends, item 4 gets a bigger budget, item 8 is new: all modified later.
    data[1] |= {"lastModified": "2024-04-02T09:00:00", "einde": "2024-06-30"}
    data[3] |= {"lastModified": "2024-04-01T09:00:00", "budget": 250000}
    data.append(item(8, "2024-04-03T09:00:00"))
    write(env.folder, RESOURCE, data)
    env.api.requests.clear()
    runs = await env.pull()
    assert env.api.requests == [f"{RESOURCE}?since=2024-03-01T10%3A07%3A00&page_size=3"]
    assert [(r.status, r.records_read, r.records_accepted) for r in runs] == [("loaded", 3, 3)]
    assert await env.cursor() == "2024-04-03T09:00:00"
    rows = await env.fetch(
        "select toewijzing_nummer, end_date::text, budget_cents from assignment order by 1"
    )
    assert len(rows) == 8
    assert tuple(rows[1]) == ("T00002", "2024-06-30", 125000)
    assert tuple(rows[3]) == ("T00004", None, 250000)

    # The same as one full pull of today's data into an empty database.
    fresh = await make_env()
    runs = await fresh.pull()
    assert [r.records_read for r in runs] == [3, 3, 2]
    assert await fresh.value(CONTENT) == await env.value(CONTENT)
    assert await fresh.cursor() == await env.cursor()


async def test_server_errors_are_retried(env: Env) -> None:
    write(env.folder, RESOURCE, items(4))
    env.api.fail(503, times=2)
    runs = await env.pull()
    assert [r.status for r in runs] == ["loaded", "loaded"]
    assert env.api.requests == [f"{RESOURCE}?page_size=3"] * 3 + [f"{RESOURCE}?page=2&page_size=3"]
    assert await env.value("select count(*) from assignment") == 4


async def test_retries_exhausted_fail_the_pull_and_keep_the_cursor(env: Env) -> None:
    write(env.folder, RESOURCE, items(7))
    await env.pull()
    data = [*items(7), *[item(n, f"2024-04-01T10:{n:02d}:00") for n in range(8, 15)]]
    write(env.folder, RESOURCE, data)

    env.api.fail(500, times=4, after=1)  # the second page: 1 + retries
    env.api.requests.clear()
    runs = await env.pull()
    assert [r.status for r in runs] == ["loaded", "failed"]
    assert len(env.api.requests) == 1 + 4
    second = f"{RESOURCE}?since=2024-03-01T10%3A07%3A00&page=2&page_size=3"
    assert env.api.requests[1:] == [second] * 4
    failed = await env.fetch(
        """select r.status, r.file_name, r.records_read, q.code, q.position, q.reason
             from ingest_run r join quarantine q on q.run_id = r.id where r.status = 'failed'"""
    )
    assert len(failed) == 1
    assert failed[0]["file_name"] == env.api.url + second
    assert (failed[0]["code"], failed[0]["position"]) == ("http-status", "/")
    assert failed[0]["reason"] == f"GET {second} answered 500 Internal Server Error (4 attempts)"
    assert await env.cursor() == "2024-03-01T10:07:00"  # not moved
    assert await env.value("select count(*) from assignment") == 10  # the first page kept

    runs = await env.pull()
    assert [r.status for r in runs] == ["loaded"] * 3
    assert await env.value("select count(*) from assignment") == 14
    assert await env.cursor() == "2024-04-01T10:14:00"


@pytest.mark.parametrize(
    ("status", "path", "answer"),
    [
        (400, RESOURCE, "400 Bad Request"),
        (401, RESOURCE, "401 Unauthorized"),
        (None, f"/{MUNI}/unknown", "404 Not Found"),
    ],
)
async def test_a_client_error_is_not_retried(
    env: Env, status: int | None, path: str, answer: str
) -> None:
    write(env.folder, RESOURCE, items(2))
    if status:
        env.api.fail(status)
    runs = await env.pull(env.source(path=path))
    assert [(r.status, r.records_read, r.records_accepted) for r in runs] == [("failed", 1, 0)]
    assert env.api.requests == [f"{path}?page_size=3"]
    (q,) = await env.fetch("select code, reason, file_name from quarantine")
    assert q["code"] == "http-status"
    assert q["reason"] == f"GET {path}?page_size=3 answered {answer}"
    assert await env.value("select count(*) from assignment") == 0
    assert await env.cursor() is None


async def test_a_slow_page_is_retried_after_the_timeout(env: Env) -> None:
    write(env.folder, RESOURCE, items(2))
    env.api.delay(1.0)
    runs = await env.pull(env.source({**OPTIONS, "timeout": 0.2}))
    assert [(r.status, r.records_accepted) for r in runs] == [("loaded", 2)]
    assert env.api.requests == [f"{RESOURCE}?page_size=3"] * 2

    env.api.delay(1.0, times=2)
    runs = await env.pull(env.source({**OPTIONS, "timeout": 0.2, "retries": 1}, sid="slow"))
    assert [r.status for r in runs] == ["failed"]
    reason = await env.value("select reason from quarantine where source_id = 'slow'")
    assert reason == f"GET {RESOURCE}?page_size=3 timed out after 0.2 s (2 attempts)"
    assert await env.cursor("slow") is None


async def test_a_server_that_is_gone_fails_after_the_retries(env: Env) -> None:
    with ApiServer(env.folder) as gone:
        location = gone.url + RESOURCE
    source = SourceInfo("gone", "json-api", MUNI, location, {**OPTIONS, "retries": 1})
    runs = await env.pull(source)
    assert [r.status for r in runs] == ["failed"]
    (q,) = await env.fetch("select code, reason from quarantine")
    assert q["code"] == "http-error"
    assert q["reason"].startswith(f"GET {RESOURCE}?page_size=3 failed: ConnectError")
    assert q["reason"].endswith("(2 attempts)")


async def test_bad_items_are_quarantined_and_the_rest_loads(env: Env) -> None:
    data = items(6)
    data[1]["client"]["bsn"] = "123456789"  # fails the elfproef
    del data[2]["toewijzingNummer"]
    data[3]["begin"] = "01-03-2024"
    data[4]["aanbieder"] = {"agb": None}
    write(env.folder, RESOURCE, data)
    runs = await env.pull(env.source({**OPTIONS, "page_size": 10}))
    assert [(r.status, r.records_read, r.records_accepted) for r in runs] == [("loaded", 6, 2)]
    accounted(runs)
    rows = await env.fetch("select position, field, code, value from quarantine order by position")
    assert [tuple(r) for r in rows] == [
        ("item 2", "client.bsn", "elfproef", None),
        ("item 3", "toewijzingNummer", "missing-field", None),
        ("item 4", "begin", "invalid-value", "01-03-2024"),
        ("item 5", "aanbieder.agb", "missing-field", None),
    ]
    reasons = [r["reason"] for r in await env.fetch("select reason from quarantine")]
    assert not any("123456789" in r for r in reasons)
    numbers = [r[0] for r in await env.fetch("select toewijzing_nummer from assignment order by 1")]
    assert numbers == ["T00001", "T00006"]
    assert await env.cursor() == "2024-03-01T10:06:00"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>Service temporarily down</html>", "the body is not JSON (Expecting value"),
        (b'{"data": []}', "the body is a JSON object, not an object with a list 'items'"),
        (b'{"items": {"a": 1}}', "not an object with a list 'items'"),
        (b"\xff\xfe\x00garbage", "the body is not UTF-8"),
    ],
)
async def test_a_body_that_is_not_the_wire_format_fails_the_page(
    env: Env, body: bytes, expected: str
) -> None:
    write(env.folder, RESOURCE, items(4))
    env.api.corrupt(body)
    runs = await env.pull()
    assert [(r.status, r.records_accepted) for r in runs] == [("failed", 0)]
    assert len(env.api.requests) == 1  # not retried: the server answered
    (q,) = await env.fetch("select code, position, reason, file_hash from quarantine")
    assert q["code"] in ("malformed-json", "encoding")
    assert q["position"] == "/"
    assert q["reason"].startswith(f"GET {RESOURCE}?page_size=3: ")
    assert expected in q["reason"]
    assert q["file_hash"] == file_sha256(body)
    assert await env.value("select count(*) from assignment") == 0
    assert await env.cursor() is None


@pytest.mark.parametrize(
    ("following", "problem"),
    [
        (
            "http://elsewhere.example/0193/toewijzingen?page=2",
            "leads to another server (elsewhere.example)",
        ),
        (f"{RESOURCE}?page_size=3", "leads to a page fetched before"),
        (17, "is not a URL"),
    ],
)
async def test_a_next_link_that_goes_astray_stops_the_pull(
    env: Env, following: Any, problem: str
) -> None:
    write(env.folder, RESOURCE, items(2))
    page = {"items": items(2), "next": following, "cursor": "2024-03-01T10:02:00"}
    env.api.corrupt(json.dumps(page).encode())
    runs = await env.pull()
    assert [(r.status, r.records_accepted) for r in runs] == [("loaded", 2), ("failed", 0)]
    assert len(env.api.requests) == 1
    reason = await env.value("select reason from quarantine where code = 'paging'")
    assert reason == f"GET {RESOURCE}?page_size=3: its 'next' {problem}; the pull stops"
    assert await env.cursor() is None


async def test_a_location_that_is_no_url_is_a_config_error(env: Env) -> None:
    source = SourceInfo("ftp", "json-api", MUNI, "ftp://example.org/x", OPTIONS)
    with pytest.raises(ConfigError, match="location is not an http"):
        await env.pull(source)


async def test_credentials_stay_out_of_names_and_reach_every_page(env: Env) -> None:
    write(env.folder, RESOURCE, items(4))
    location = env.api.url.replace("http://", "http://user:pw-secret@")
    source = SourceInfo(
        "keyed", "json-api", MUNI, f"{location}{RESOURCE}?api_key=k-secret&region=ijsselland",
        OPTIONS,
    )  # fmt: skip
    runs = await env.pull(source)
    assert [r.status for r in runs] == ["loaded", "loaded"]
    assert all("api_key=k-secret" in r and "region=ijsselland" in r for r in env.api.requests)
    names = [
        r["file_name"] for r in await env.fetch("select file_name from ingest_run order by id")
    ]
    assert names[0] == f"{env.api.url}{RESOURCE}?region=ijsselland&page_size=3"
    assert not any("secret" in n for n in names)


PERIOD_OPTIONS: dict[str, Any] = {
    "kind": "care_period",
    "columns": {
        "assignment_number": "toewijzing",
        "provider_agb": "agb",
        "product_code": "productcode",
        "end": "eind",
        "end_reason": "reden",
    },
    "backoff": 0.01,
}


async def test_a_care_period_resource(env: Env) -> None:
    path = f"/{MUNI}/zorgperiodes"
    periods = [
        {
            "lastModified": f"2024-05-0{n}T08:00:00",
            "toewijzing": f"T{n:05d}",
            "bsn": bsn(n),
            "agb": AGB,
            "productcode": "45A48",
            "start": "2024-03-04",
            "eind": "2024-05-01" if n == 2 else None,
            "reden": "01" if n == 2 else None,
        }
        for n in (1, 2)
    ]
    write(env.folder, path, periods)
    runs = await env.pull(env.source(PERIOD_OPTIONS, path=path, sid="periods"))
    assert [(r.status, r.records_accepted) for r in runs] == [("loaded", 2)]
    rows = await env.fetch(
        """select municipality_code, toewijzing_nummer, product_category, start_date::text,
                  end_date::text, end_reason, position from care_period order by 2"""
    )
    assert [tuple(r) for r in rows] == [
        (MUNI, "T00001", "45", "2024-03-04", None, None, "item 1"),
        (MUNI, "T00002", "45", "2024-03-04", "2024-05-01", "01", "item 2"),
    ]
    assert await env.cursor("periods") == "2024-05-02T08:00:00"


async def test_a_pull_recomputes_its_trajectories_once_at_its_end(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page lists the youth whose care it changed; the pull recomputes them when its
    last page is in, and they are what recomputing every youth from scratch gives."""
    path = f"/{MUNI}/zorgperiodes"
    periods = [
        {
            "lastModified": f"2024-05-0{n}T08:00:00",
            "toewijzing": f"T{n:05d}",
            "bsn": bsn(n if n < 3 else 1),  # the third page continues the first youth's care
            "agb": AGB,
            "productcode": "45A48",
            "start": "2024-03-04" if n < 3 else "2024-05-02",
            "eind": "2024-05-01" if n == 1 else None,
            "reden": "01" if n == 1 else None,
        }
        for n in (1, 2, 3)
    ]
    write(env.folder, path, periods)
    options = {**PERIOD_OPTIONS, "page_size": 1}
    listed_then: list[int] = []
    refresh = ingest_module.refresh_pending_trajectories

    async def counted(*args: Any) -> None:
        listed_then.append(await env.value("select count(*) from trajectory_pending"))
        await refresh(*args)

    monkeypatch.setattr(ingest_module, "refresh_pending_trajectories", counted)
    runs = await env.pull(env.source(options, path=path, sid="periods"))
    assert [r.records_accepted for r in runs] == [1, 1, 1]  # a page each
    assert listed_then == [2]  # once, after the last page: both youth, listed
    assert await env.value("select count(*) from trajectory_pending") == 0
    trajectories = """select y.pseudonym, t.start_date::text, t.end_date::text
                      from trajectory t join youth y on y.municipality_code = t.municipality_code
                                                   and y.id = t.youth_id order by 1, 2"""
    pulled = [tuple(r) for r in await env.fetch(trajectories)]
    assert len(pulled) == 2  # the first youth's two periods touch: one trajectory
    assert ("2024-03-04", None) in {r[1:] for r in pulled}
    await env.fetch(
        "select refresh_trajectories($1, array(select id from youth where municipality_code = $1))",
        MUNI,
    )
    assert [tuple(r) for r in await env.fetch(trajectories)] == pulled


# -- saved pages


async def test_read_a_saved_page(env: Env, tmp_path: Path) -> None:
    source = env.source()
    adapter = make_adapter(source)
    ctx = adapter_context(env.settings, source)
    page = tmp_path / "page-1.json"
    data = json.dumps({"items": [*items(2), "not an item"], "next": None, "cursor": "x"})
    page.write_bytes(data.encode())
    result = adapter.read(page, ctx)
    assert (result.file_name, result.file_hash) == ("page-1.json", file_sha256(data.encode()))
    assert (result.records_read, len(result.records), result.failed) == (3, 2, False)
    assert [r.provenance.position for r in result.records] == ["item 1", "item 2"]
    assert {r.message.message_type for r in result.records} == {"API"}
    (rejection,) = result.rejections
    assert (rejection.position, rejection.code) == ("item 3", "malformed-row")
    assert rejection.reason == "the item is a JSON string, not an object"

    bare = tmp_path / "items.json"
    bare.write_text(json.dumps(items(3)), encoding="utf-8")
    (run,) = await ingest(env.db, env.settings, source, [bare])
    assert (run.status, run.records_read, run.records_accepted) == ("loaded", 3, 3)
    assert await env.value("select count(*) from assignment where position like 'item %'") == 3

    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"items": [')
    result = adapter.read(broken, ctx)
    assert result.failed
    assert result.rejections[0].code == "malformed-json"
    assert result.rejections[0].reason.startswith("broken.json: the body is not JSON")
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"naam": "Zoë"}]'.encode("latin-1"))
    result = adapter.read(latin, ctx)
    assert result.failed
    assert result.rejections[0].code == "encoding"
    assert "not UTF-8" in result.rejections[0].reason


# -- options and flattening


def test_flatten_joins_nested_names_and_spells_values_as_json() -> None:
    row = flatten(
        {"a": {"b": {"c": 1}, "d": True}, "e": None, "f": [1, "x", False], "g": [{"h": 1}]}
    )
    assert row == {"a.b.c": "1", "a.d": "true", "e": None, "f": "1;x;false", "g": '[{"h": 1}]'}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"columns": COLUMNS}, "option kind must be one of"),
        ({"kind": "claim"}, "option kind must be one of"),
        ({**OPTIONS, "retries": -1}, "option retries must be a whole number of at least 0"),
        ({**OPTIONS, "retries": 1.5}, "option retries"),
        ({**OPTIONS, "timeout": 0}, "option timeout must be more than 0"),
        ({**OPTIONS, "timeout": "soon"}, "option timeout must be a number"),
        ({**OPTIONS, "backoff": True}, "option backoff"),
        ({**OPTIONS, "page_size": 0}, "option page_size"),
        ({**OPTIONS, "items_key": ""}, "option items_key must be a non-empty string"),
        ({**OPTIONS, "headers": {}}, "unknown option(s) headers"),
    ],
)
def test_option_mistakes_name_the_source_and_the_option(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"source 'api'") as exc:
        JsonApiAdapter("api", options, MUNI)
    assert message in str(exc.value)


def test_measures_may_come_from_an_api() -> None:
    adapter = JsonApiAdapter("gi-api", {"kind": "measure"}, "GI")
    assert (adapter.opts.kind, adapter.timeout, adapter.retries, adapter.backoff) == (
        "measure",
        10.0,
        3,
        0.5,
    )
