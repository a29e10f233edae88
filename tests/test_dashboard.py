"""The reference dashboard at /dashboard: served from the hub's origin under a strict
Content-Security-Policy, and, in headless Chromium (Playwright driving Debian's chromium), showing
for each role exactly what the GraphQL API answers that role's token: the region its figures
exactly, a municipality its own exactly and the others suppressed (marked "•" and hatched), and
`public` only aggregates (every request the page makes is checked). Screenshots of the signed-in
page go to tests/browser/screenshots/."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from graphql import FieldNode, OperationDefinitionNode, parse

from hub.config import default_region
from hub.dashboard import CONTENT_SECURITY_POLICY, FOLDER
from hub.synth import generate

from .conftest import Api, load_generated, settings_for, token

INSTALL = "tests/browser/install.sh"
CHROMIUM = Path(os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent / "browser" / "screenshots"
REGION = default_region()
OWN = "0193"  # Zwolle, the largest municipality: its own figures are never suppressed for it
# Root fields that hold no youth-level records: all a `public` page may ask for.
AGGREGATE_FIELDS = {"viewer", "municipalities", "providers", "indicators", "budgets"}
GLANCE = [
    "YOUTH_IN_CARE",
    "YOUTH_PER_1000",
    "RESIDENTIAL_SHARE",
    "TRAJECTORIES_STARTED",
    "TRAJECTORIES_ENDED",
    "AVERAGE_DURATION_DAYS",
    "COST_EUR",
    "BUDGET_EUR",
    "BUDGET_UTILISATION",
]
COMPARE = [m for m in GLANCE if m != "BUDGET_EUR"]
KINDS = {
    "YOUTH_IN_CARE": "count",
    "TRAJECTORIES_STARTED": "count",
    "TRAJECTORIES_ENDED": "count",
    "YOUTH_PER_1000": "per1000",
    "RESIDENTIAL_SHARE": "share",
    "BUDGET_UTILISATION": "share",
    "AVERAGE_DURATION_DAYS": "days",
    "COST_EUR": "euro",
    "BUDGET_EUR": "euro",
}
# How far the text shown may be from the value: half its last digit.
MISSING = "\u2013"  # the en dash the page shows for a null value
SUPPRESSED = "\u2022"  # the bullet of a suppressed one
TOLERANCE = {"count": 0.5, "per1000": 0.05, "share": 0.0005, "days": 0.5, "euro": 0.5}


def _unavailable(reason: str) -> None:
    """Fails in CI (the browser tests must run there), skips on a machine without a browser."""
    if os.environ.get("CI", "").lower() in {"true", "1"}:
        pytest.fail(f"{reason}: CI must run `bash {INSTALL}` before pytest")
    pytest.skip(f"{reason}: run `bash {INSTALL}` to install it")


# Served over HTTP, no browser ---------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def region(make_database, open_db, tmp_path_factory) -> Api:
    """The synthetic region (11 municipalities, two years, small scale) through every adapter."""
    out = tmp_path_factory.mktemp("dashboard-region")
    generate(out, seed=5, years=2, scale=0.01, region=REGION)
    db = await open_db(await make_database(REGION))
    await load_generated(db, settings_for(REGION, out), out)
    return Api(db, [m.code for m in REGION])


async def test_the_dashboard_is_served_from_the_hubs_own_origin(region: Api) -> None:
    client = region.client
    moved = await client.get("/dashboard")
    assert moved.status_code == 308
    assert moved.headers["location"] == "/dashboard/"
    page = await client.get("/dashboard/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY  # no inline script, no other origin
    assert "connect-src 'self';" in CONTENT_SECURITY_POLICY
    for name, media in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = await client.get(f"/dashboard/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"] == f"{media}; charset=utf-8"
        assert asset.content == (FOLDER / name).read_bytes()
    for missing in ("/dashboard/secrets.txt", "/dashboard/__init__.py", "/dashboard/..%2fapp.py"):
        assert (await client.get(missing)).status_code == 404, missing
    # No data and no token in the page: it holds nothing until signed in.
    assert "Bearer" not in page.text
    assert (await client.post("/dashboard/")).status_code == 405


def test_every_asset_is_local() -> None:
    """No CDN, no other origin: the only absolute URL in the files is the SVG namespace."""
    for path in FOLDER.iterdir():
        if path.suffix not in {".html", ".js", ".css"}:
            continue
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"'`)]*", path.read_text()))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
    html = (FOLDER / "index.html").read_text()
    assert "<script>" not in html
    assert " style=" not in html
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="app.js">']


# In the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    """Playwright and Debian's chromium (checked before the region is loaded for nothing)."""
    try:
        import playwright.async_api  # noqa: F401, PLC0415
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    return str(CHROMIUM)


@contextlib.asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[str]:
    """Serves `app` over HTTP on a free port of 127.0.0.1 in this event loop (the loop the
    database pool is bound to); yields the dashboard's URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                pytest.fail("the hub's HTTP server stopped before it started")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}/dashboard"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@pytest_asyncio.fixture(scope="module")
async def browser(chromium: str, region: Api) -> AsyncIterator[tuple[Any, str]]:
    from playwright.async_api import async_playwright  # noqa: PLC0415

    async with _serve(region.app) as url, async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched, url
        finally:
            await launched.close()


class Page:
    """A signed-in dashboard, with every GraphQL request it made."""

    def __init__(self, page: Any, requests: list[dict[str, Any]], problems: list[str]) -> None:
        self.page = page
        self.requests = requests
        self.problems = problems

    async def filters(self) -> dict[str, Any]:
        values: dict[str, Any] = await self.page.evaluate(
            """() => Object.fromEntries(['from', 'to', 'per', 'municipality', 'care-type',
                 'provider'].map((k) => [k, document.getElementById('f-' + k).value]))"""
        )
        return values

    async def cells(self, table: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(row, metric) → what the table shows: the value, suppressed, the text."""
        found = await self.page.eval_on_selector_all(
            f"#{table} tbody tr",
            """rows => rows.flatMap((tr) => [...tr.querySelectorAll('td[data-metric]')].map(
                 (td) => ({row: tr.dataset.period ?? tr.dataset.municipality ?? tr.dataset.lot,
                           metric: td.dataset.metric, value: td.dataset.value ?? null,
                           suppressed: td.classList.contains('suppressed')
                                       && td.dataset.suppressed === 'true',
                           text: td.textContent})))""",
        )
        return {(c["row"], c["metric"]): c for c in found}

    async def ready(self) -> None:
        await self.page.wait_for_selector("#board[data-ready=true]", timeout=60_000)
        assert not self.problems, self.problems
        errors = await self.page.eval_on_selector_all(
            ".error:not([hidden])", "nodes => nodes.map((n) => n.textContent)"
        )
        assert not errors, errors


@contextlib.asynccontextmanager
async def _signed_in(browser: tuple[Any, str], bearer: str) -> AsyncIterator[Page]:
    launched, url = browser
    context = await launched.new_context(viewport={"width": 1440, "height": 1000}, locale="nl-NL")
    page = await context.new_page()
    requests: list[dict[str, Any]] = []
    problems: list[str] = []

    def on_request(request: Any) -> None:
        requests.append(
            {
                "url": request.url,
                "method": request.method,
                "authorization": request.headers.get("authorization"),
                "body": request.post_data,
            }
        )

    page.on("request", on_request)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    try:
        await page.goto(url)
        assert page.url == url + "/"
        await page.fill("#token", bearer)
        await page.click("#sign-in-form button[type=submit]")
        signed_in = Page(page, requests, problems)
        await signed_in.ready()
        yield signed_in
    finally:
        await context.close()


def _label(row: dict[str, Any]) -> str:
    if row.get("month") is not None:
        return f"{row['year']}-{row['month']:02d}"
    if row.get("quarter") is not None:
        return f"{row['year']} Q{row['quarter']}"
    return str(row["year"])


def _shown(text: str, kind: str) -> float:
    number = float(re.sub(r"[€,%d\s]", "", text))
    return number / 100 if kind == "share" else number


def _assert_shown(
    shown: dict[tuple[str, str], dict[str, Any]],
    expected: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Every cell of the answer is on the page as the answer has it, and nothing else is."""
    assert set(shown) == set(expected), set(shown) ^ set(expected)
    for key, cell in expected.items():
        page = shown[key]
        if cell["suppressed"]:
            assert page["suppressed"], (key, page)
            assert page["text"] == SUPPRESSED, (key, page)
        elif cell["value"] is None:
            assert not page["suppressed"], (key, page)
            assert page["value"] is None, (key, page)
            assert page["text"] == MISSING, (key, page)
        else:
            assert not page["suppressed"], (key, page)
            assert float(page["value"]) == cell["value"], (key, page, cell)
            kind = KINDS.get(key[1], "euro")
            assert abs(_shown(page["text"], kind) - cell["value"]) <= TOLERANCE[kind] + 1e-9, (
                key,
                page,
                cell,
            )


def _filter(f: dict[str, Any], *, municipality: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"from": f["from"], "to": f["to"]}
    if municipality and f["municipality"]:
        out["municipalities"] = [f["municipality"]]
    if f["care-type"]:
        out["careTypes"] = [f["care-type"]]
    if f["provider"]:
        out["providers"] = [f["provider"]]
    return out


VALUES = "values { metric value suppressed }"


async def _expected_glance(api: Api, bearer: str, f: dict[str, Any]) -> dict[Any, Any]:
    data = await api.query(
        f"""query($g: [Dimension!]!, $f: IndicatorFilter) {{
              indicators(metrics: [{" ".join(GLANCE)}], groupBy: $g, filter: $f) {{
                rows {{ year quarter month {VALUES} }} }} }}""",
        {"g": [f["per"]], "f": _filter(f, municipality=True)},
        bearer=bearer,
    )
    return {
        (_label(row), v["metric"]): v for row in data["indicators"]["rows"] for v in row["values"]
    }


async def _expected_compare(api: Api, bearer: str, f: dict[str, Any]) -> dict[Any, Any]:
    data = await api.query(
        f"""query($f: IndicatorFilter) {{
              indicators(metrics: [{" ".join(COMPARE)}], groupBy: [MUNICIPALITY], filter: $f) {{
                rows {{ municipality {VALUES} }} }} }}""",
        {"f": _filter(f, municipality=False)},
        bearer=bearer,
    )
    return {
        (row["municipality"], v["metric"]): v
        for row in data["indicators"]["rows"]
        for v in row["values"]
    }


async def _expected_budgets(api: Api, bearer: str, f: dict[str, Any]) -> dict[Any, Any]:
    amount = "{ value suppressed }"
    data = await api.query(
        f"""query($y: Int!, $m: String) {{ budgets(year: $y, municipality: $m) {{
              lot budget committed {amount} realised {amount} released {amount}
              forecast {amount} }} }}""",
        {"y": int(f["to"][:4]), "m": f["municipality"] or None},
        bearer=bearer,
    )
    expected = {}
    for line in data["budgets"]:
        expected[(line["lot"], "budget")] = {"value": line["budget"], "suppressed": False}
        for k in ("committed", "realised", "released", "forecast"):
            expected[(line["lot"], k)] = line[k]
    return expected


def _budget_cells(shown: dict[Any, Any]) -> dict[Any, Any]:
    return {k: v for k, v in shown.items() if k[1] != "forecastShare"}


def _root_fields(body: str) -> set[str]:
    document = parse(json.loads(body)["query"])
    fields = set()
    for definition in document.definitions:
        assert isinstance(definition, OperationDefinitionNode)
        assert definition.operation.value == "query"
        for selection in definition.selection_set.selections:
            assert isinstance(selection, FieldNode)
            fields.add(selection.name.value)
    return fields


def _graphql_requests(page: Page, bearer: str) -> list[set[str]]:
    """The root fields of every GraphQL request the page made; each sent with `bearer`, and
    nothing but the page's own files and /graphql was requested."""
    base = page.page.url.rsplit("/dashboard/", 1)[0]
    fields = []
    for r in page.requests:
        if r["url"] == f"{base}/graphql":
            assert r["method"] == "POST"
            assert r["authorization"] == f"Bearer {bearer}"
            fields.append(_root_fields(r["body"]))
        else:
            assert r["url"] == f"{base}/dashboard" or r["url"].startswith(f"{base}/dashboard/"), r[
                "url"
            ]
    return fields


async def _screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 50_000  # a page of figures, not a blank one
    return path


async def test_the_region_sees_every_figure_exactly(browser, region: Api) -> None:
    bearer = token("region")
    async with _signed_in(browser, bearer) as page:
        f = await page.filters()
        assert (f["from"], f["to"], f["per"]) == ("2024-01-01", "2025-12-31", "QUARTER")
        glance = await page.cells("glance-table")
        assert len({row for row, _ in glance}) == 8  # two years by quarter
        _assert_shown(glance, await _expected_glance(region, bearer, f))
        compare = await page.cells("compare-table")
        assert len({row for row, _ in compare}) == len(REGION)
        _assert_shown(compare, await _expected_compare(region, bearer, f))
        assert not any(c["suppressed"] for c in [*glance.values(), *compare.values()])
        _assert_shown(
            _budget_cells(await page.cells("budgets-table")),
            await _expected_budgets(region, bearer, f),
        )
        risks = (
            await region.query("{ continuityRisks(first: 12) { provider { agb } } }", bearer=bearer)
        )["continuityRisks"]
        shown = await page.page.eval_on_selector_all(
            "#risks-list > li", "items => items.map((li) => li.dataset.provider)"
        )
        assert shown == [r["provider"]["agb"] for r in risks]
        assert shown, "the synthetic region has providers with signals"
        assert await page.page.locator("#risks-list .evidence").count() > 0
        for fields in _graphql_requests(page, bearer):  # aggregates even for the region
            assert fields <= AGGREGATE_FIELDS | {"continuityRisks"}, fields
        await _screenshot(page, "region")


async def test_a_municipality_sees_its_own_exactly_and_others_suppressed(
    browser, region: Api
) -> None:
    bearer = token("municipality", municipality=OWN)
    async with _signed_in(browser, bearer) as page:
        f = await page.filters()
        assert f["municipality"] == OWN  # its own municipality by default
        glance = await page.cells("glance-table")
        _assert_shown(glance, await _expected_glance(region, bearer, f))
        assert not any(c["suppressed"] for c in glance.values())  # its own: exact
        compare = await page.cells("compare-table")
        expected = await _expected_compare(region, bearer, f)
        _assert_shown(compare, expected)
        own = [c for (m, _), c in compare.items() if m == OWN]
        others = [c for (m, _), c in compare.items() if m != OWN]
        assert own
        assert not any(c["suppressed"] for c in own)
        assert any(c["suppressed"] for c in others), "small municipalities are suppressed"
        # Marked for the eye too: "•" on a hatched background, and the legend says what it is.
        marked = page.page.locator("#compare-table td.suppressed").first
        assert await marked.text_content() == SUPPRESSED
        background = await marked.evaluate("(td) => getComputedStyle(td).backgroundImage")
        assert "repeating-linear-gradient" in background
        assert "suppressed" in (await page.page.text_content("#legend") or "")
        assert await page.page.locator("#compare-chart rect.hatched").count() > 0
        _assert_shown(
            _budget_cells(await page.cells("budgets-table")),
            await _expected_budgets(region, bearer, f),
        )
        for fields in _graphql_requests(page, bearer):
            assert fields <= AGGREGATE_FIELDS | {"continuityRisks"}, fields
        await _screenshot(page, "municipality")

        # A filter changes every panel: residential care of the whole region.
        await page.page.select_option("#f-care-type", "RESIDENTIAL")
        await page.ready()
        await page.page.select_option("#f-municipality", "")
        await page.ready()
        f = await page.filters()
        assert (f["care-type"], f["municipality"]) == ("RESIDENTIAL", "")
        _assert_shown(await page.cells("glance-table"), await _expected_glance(region, bearer, f))
        _assert_shown(await page.cells("compare-table"), await _expected_compare(region, bearer, f))
        assert "residential" in (await page.page.text_content("#glance-scope") or "")


async def test_public_sees_nothing_but_aggregates(browser, region: Api) -> None:
    bearer = token("public")
    async with _signed_in(browser, bearer) as page:
        f = await page.filters()
        compare = await page.cells("compare-table")
        _assert_shown(compare, await _expected_compare(region, bearer, f))
        _assert_shown(await page.cells("glance-table"), await _expected_glance(region, bearer, f))
        for (_, metric), cell in compare.items():
            if KINDS[metric] == "count" and cell["value"] is not None:
                assert float(cell["value"]) % 5 == 0, cell  # rounded: not owned
        assert any(c["suppressed"] for c in compare.values())
        requested = _graphql_requests(page, bearer)
        assert {"viewer", "indicators", "budgets"} <= set().union(*requested)
        for fields in requested:
            assert fields <= AGGREGATE_FIELDS, fields
        assert await page.page.locator("#risks-list > li").count() == 0
        assert await page.page.is_visible("#risks-note")
        await _screenshot(page, "public")


async def test_the_other_roles_see_what_their_token_allows(browser, region: Api) -> None:
    """A provider and an admin: the page loads without an error, asks only aggregates and
    shows what the API answers their tokens."""
    provider = (
        await region.query("{ providers(first: 1) { nodes { agb } } }", bearer=token("public"))
    )["providers"]["nodes"][0]["agb"]
    for bearer in (token("provider", provider=provider), token("admin")):
        async with _signed_in(browser, bearer) as page:
            f = await page.filters()
            _assert_shown(
                await page.cells("compare-table"), await _expected_compare(region, bearer, f)
            )
            for fields in _graphql_requests(page, bearer):
                assert fields <= AGGREGATE_FIELDS | {"continuityRisks"}, fields


async def test_a_bad_token_is_refused_with_the_reason(browser) -> None:
    launched, url = browser
    context = await launched.new_context()
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.fill("#token", "not-a-token")
        await page.click("#sign-in-form button[type=submit]")
        error = page.locator("#sign-in-error")
        await error.wait_for(state="visible")
        assert "Signed out:" in (await error.text_content() or "")
        assert await page.is_hidden("#board")
        assert await page.evaluate("() => sessionStorage.getItem('hub.token')") is None
    finally:
        await context.close()
