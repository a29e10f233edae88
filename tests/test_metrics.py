"""Observability: /metrics counts exactly the requests made, per operation and status, with
latency histograms, GraphQL errors, cache hits, pool use and the ingestion figures of the
database; only admins and the scraper's token may read it. Log lines are JSON objects that
carry the request id echoed in `x-request-id`, and no BSN, token or SQL."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub import logs
from hub.config import ConfigError
from hub.db import Database
from hub.metrics import TOKEN_MIN_LENGTH, token_from_env
from hub.store.load import SourceInfo

from .conftest import SAMPLE_REGION, Api, settings_for, token
from .test_indicators import PERIODS

SCRAPER = "s" * TOKEN_MIN_LENGTH
BAD_BSN = "123456789"  # fails the elfproef: quarantined
ROWS = PERIODS + f"0193,{BAD_BSN},11111111,T-X,45A01,2024-03-01,,\n"
AGGREGATE = "query Monitor { indicators(metrics: [YOUTH_IN_CARE]) { rows { values { value } } } }"
REGION = [m.code for m in SAMPLE_REGION]


@pytest.fixture(scope="module")
async def loaded(make_database, open_db, tmp_path_factory: pytest.TempPathFactory) -> Database:
    """One database for the module, with one known ingestion run."""
    from hub.ingest import ingest  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("metrics")
    db = await open_db(await make_database(SAMPLE_REGION))
    path = folder / "periods.csv"
    path.write_text(ROWS, encoding="utf-8")
    source = SourceInfo("periods-0193", "csv", "0193", None, {"kind": "care_period"})
    (run,) = await ingest(db, settings_for(SAMPLE_REGION, folder), source, [path])
    assert (run.records_read, run.records_accepted, run.records_quarantined) == (6, 5, 1)
    return db


@pytest.fixture
def api(loaded: Database) -> Api:
    """A fresh app (and so fresh counters) on that database."""
    return Api(loaded, REGION, cache_entries=100, metrics_token=SCRAPER)


async def scrape(api: Api, bearer: str = SCRAPER) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every sample of /metrics, by name and sorted labels."""
    response = await api.client.get("/metrics", headers={"authorization": f"Bearer {bearer}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


async def post(api: Api, query: str, bearer: str, operation: str | None = None) -> int:
    body: dict[str, Any] = {"query": query}
    if operation:
        body["operationName"] = operation
    response = await api.client.post(
        "/graphql",
        json=body,
        headers={
            "authorization": f"Bearer {bearer}",
            "accept": "application/graphql-response+json",
        },
    )
    return response.status_code


async def test_metrics_count_exactly_the_requests_made(api: Api) -> None:
    viewer = token("municipality", "0193")
    for _ in range(7):
        assert await post(api, "query Probe { viewer { role } }", viewer, "Probe") == 200
    for _ in range(3):
        assert await post(api, "{ viewer { role } }", viewer) == 200
    assert await post(api, "{ viewer { role } }", "not-a-token") == 401
    assert await post(api, "query Broken { nosuchfield }", viewer, "Broken") == 400
    m = await scrape(api)
    assert m["hub_graphql_requests_total", (("operation", "Probe"), ("status", "200"))] == 7
    assert m["hub_graphql_requests_total", (("operation", "anonymous"), ("status", "200"))] == 3
    assert m["hub_graphql_requests_total", (("operation", "anonymous"), ("status", "401"))] == 1
    assert m["hub_graphql_requests_total", (("operation", "Broken"), ("status", "400"))] == 1
    assert m["hub_graphql_duration_seconds_count", (("operation", "Probe"),)] == 7
    assert m["hub_graphql_duration_seconds_bucket", (("le", "+Inf"), ("operation", "Probe"))] == 7
    assert m["hub_graphql_errors_total", (("operation", "Broken"),)] == 1
    assert ("hub_graphql_errors_total", (("operation", "Probe"),)) not in m
    http = (("method", "POST"), ("route", "/graphql"), ("status", "200"))
    assert m["hub_http_requests_total", http] == 10
    assert m["hub_http_request_duration_seconds_count", (("route", "/graphql"),)] == 12
    # The scrape itself is counted once it has been answered.
    again = await scrape(api)
    scrapes = (("method", "GET"), ("route", "/metrics"), ("status", "200"))
    assert again["hub_http_requests_total", scrapes] == 1


async def test_cache_pool_and_ingestion_figures(api: Api) -> None:
    public = token("public")
    for _ in range(3):
        assert await post(api, AGGREGATE, public, "Monitor") == 200
    m = await scrape(api)
    assert m["hub_cache_misses_total", ()] == 1
    assert m["hub_cache_hits_total", ()] == 2
    assert m["hub_cache_capacity", ()] == 100
    assert m["hub_db_pool_max", ()] == 4
    assert 1 <= m["hub_db_pool_size", ()] <= 4
    assert m["hub_db_pool_in_use", ()] == m["hub_db_pool_size", ()] - m["hub_db_pool_idle", ()]
    assert m["hub_database_up", ()] == 1
    source = (("adapter", "csv"), ("source", "periods-0193"))
    assert m["hub_ingest_records_read", source] == 6
    assert m["hub_ingest_records_accepted", source] == 5
    assert m["hub_ingest_records_quarantined", source] == 1
    assert m["hub_ingest_files", source] == 1
    assert m["hub_ingest_files_failed", source] == 0
    assert m["hub_ingest_last_run_failed", (("source", "periods-0193"),)] == 0
    assert m["hub_ingest_last_run_timestamp_seconds", (("source", "periods-0193"),)] > 0


async def test_operation_labels_are_bounded(api: Api) -> None:
    viewer = token("public")
    assert await post(api, "query Q { viewer { role } }", viewer, "Q") == 200
    odd = "x" * 65  # too long to be a label: counted as `other`
    assert await post(api, f"query {odd} {{ viewer {{ role }} }}", viewer, odd) == 200
    m = await scrape(api)
    assert m["hub_graphql_requests_total", (("operation", "other"), ("status", "200"))] == 1
    assert all(odd not in str(labels) for _, labels in m)


@pytest.mark.parametrize(
    ("bearer", "status"),
    [
        (None, 401),
        ("garbage", 401),
        ("s" * (TOKEN_MIN_LENGTH + 1), 401),  # not the scraper's token
        (token("municipality", "0193"), 403),
        (token("region"), 403),
        (token("provider", provider="11111111"), 403),
        (token("public"), 403),
        (token("admin"), 200),
        (SCRAPER, 200),
    ],
    ids=["none", "garbage", "wrong-scraper", "municipality", "region", "provider", "public",
         "admin", "scraper"],
)  # fmt: skip
async def test_metrics_isolation_per_role(api: Api, bearer: str | None, status: int) -> None:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    response = await api.client.get("/metrics", headers=headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert "hub_" not in response.text
        assert response.json()["errors"][0]["message"]
        return
    # Nothing per municipality or youth: no such label, no youth's pseudonym or BSN.
    labels = {name for family in text_string_to_metric_families(response.text)
              for s in family.samples for name in s.labels}  # fmt: skip
    assert labels <= {"route", "method", "status", "operation", "le", "source", "adapter"}
    assert BAD_BSN not in response.text


async def test_metrics_without_a_scraper_token_take_an_admin_token(make_database, open_db):
    db = await open_db(await make_database(SAMPLE_REGION))
    api = Api(db, REGION)
    refused = await api.client.get("/metrics", headers={"authorization": "Bearer "})
    assert refused.status_code == 401
    m = await scrape(api, token("admin"))
    assert (
        m["hub_http_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "401"))]
        == 1
    )


def test_a_short_scraper_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_METRICS_TOKEN", "short")
    with pytest.raises(ConfigError, match="HUB_METRICS_TOKEN must be at least 32"):
        token_from_env()
    monkeypatch.setenv("HUB_METRICS_TOKEN", SCRAPER)
    assert token_from_env() == SCRAPER


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Log records of the hub as the JSON formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    hub = logging.getLogger("hub")
    previous = hub.level
    hub.addHandler(handler)
    hub.setLevel(logging.INFO)
    yield stream
    hub.removeHandler(handler)
    hub.setLevel(previous)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_log_lines_are_json_with_the_request_id(api: Api, log_lines: io.StringIO) -> None:
    viewer = token("municipality", "0193")
    response = await api.client.post(
        "/graphql",
        json={"query": "query Probe { viewer { role } }", "operationName": "Probe"},
        headers={"authorization": f"Bearer {viewer}", "x-request-id": "req-0193-abc"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-0193-abc"
    (line,) = [entry for entry in parsed(log_lines) if entry.get("event") == "request"]
    assert line["request_id"] == "req-0193-abc"
    assert line["level"] == "info"
    assert line["logger"] == "hub.http"
    assert (line["method"], line["route"], line["operation"], line["status"]) == (
        "POST",
        "/graphql",
        "Probe",
        200,
    )
    assert isinstance(line["duration_ms"], float)
    assert {"time", "level", "logger", "event", "request_id"} <= line.keys()
    assert viewer not in log_lines.getvalue()


@pytest.mark.parametrize(
    "offered",
    [None, "", "has spaces in it", "x" * 65, "abc\nforged", BAD_BSN],
    ids=["none", "empty", "spaces", "too-long", "newline", "bsn"],
)
async def test_a_request_id_is_generated_when_none_or_odd_is_given(
    api: Api, log_lines: io.StringIO, offered: str | None
) -> None:
    headers = {} if offered is None else {"x-request-id": offered}
    response = await api.client.get("/healthz", headers=headers)
    rid = response.headers["x-request-id"]
    assert rid != offered
    assert len(rid) == 32
    (line,) = parsed(log_lines)
    assert line["request_id"] == rid
    assert (line["route"], line["status"]) == ("/healthz", 200)


def test_log_lines_carry_no_bsn_token_or_sql(log_lines: io.StringIO) -> None:
    jwt = token("admin")
    log = logging.getLogger("hub.test")
    log.warning("youth_rejected bsn=%s", BAD_BSN)
    log.warning("token_seen %s", jwt)
    log.warning("header_seen Authorization: Bearer %s", jwt)
    error = ValueError(f"select * from youth where bsn = '{BAD_BSN}'")
    log.error("query_failed", exc_info=(ValueError, error, None))
    text = log_lines.getvalue()
    assert BAD_BSN not in text
    assert jwt not in text
    assert "select" not in text
    first, second, header, third = parsed(log_lines)
    assert first["event"] == "youth_rejected"
    assert first["bsn"] == "[redacted-number]"
    assert second["message"] == "[redacted-token]"
    assert header["message"] == "Authorization: Bearer [redacted]"
    assert third == {**third, "event": "query_failed", "error": "ValueError", "level": "error"}
    assert first["request_id"] is None  # outside a request


def test_existing_event_lines_become_fields() -> None:
    assert logs.fields("migration_applied name=001_core.sql") == {
        "event": "migration_applied",
        "name": "001_core.sql",
    }
    assert logs.fields("database_reconnect attempt=2 error=OSError") == {
        "event": "database_reconnect",
        "attempt": 2,
        "error": "OSError",
    }
    assert logs.fields("pool_close_timeout: terminating connections still in use") == {
        "event": "pool_close_timeout",
        "message": "terminating connections still in use",
    }
    assert logs.fields("Started server process [12]") == {"message": "Started server process [12]"}
    assert logs.fields("no PG_VERSION file found") == {"message": "no PG_VERSION file found"}
    assert logs.fields("request method=GET status=200") == {
        "event": "request",
        "method": "GET",
        "status": 200,
    }


def test_bad_log_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="HUB_LOG_LEVEL='LOUD'"):
        logs.setup(level="loud")
    with pytest.raises(ConfigError, match="HUB_LOG_FORMAT='xml'"):
        logs.setup(fmt="xml")
