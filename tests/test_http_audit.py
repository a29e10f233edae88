"""GraphQL over HTTP conformance: the `graphql-http` package's server audits (npm, pinned in
tests/http-audit/package.json) run against the hub served over real HTTP, with a `public` token.
No audit may fail or warn; the only notices allowed are the audits of GET requests, which the hub
does not serve."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from .conftest import SAMPLE_REGION, SECRET, token

AUDIT_DIR = Path(__file__).resolve().parent / "http-audit"
INSTALL = "tests/http-audit/install.sh"
# The hub serves GraphQL over POST only: a GET of /graphql answers 405, so no query (let alone a
# mutation) ever runs from a URL, which a proxy, a browser history or an access log would keep
# with whatever it carries. The audits below can only pass on a server that executes GET
# queries; each is a MAY of the spec, so failing it is a notice. ("MAY NOT allow executing
# mutations on GET requests" passes: 405 is the 4xx it asks for.)
GET_ONLY = frozenset(
    {
        "MAY accept application/x-www-form-urlencoded formatted GET requests",
        "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting "
        "application/graphql-response+json",
        "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting "
        "application/json",
    }
)
NODE_TIMEOUT = 120  # seconds, for the ~60 audits; they take a second or two


def _unavailable(reason: str) -> None:
    """Fails in CI (the audit must run there), skips on a machine without the npm packages."""
    if os.environ.get("CI", "").lower() in {"true", "1"}:
        pytest.fail(f"{reason}: CI must run `bash {INSTALL}` before pytest")
    pytest.skip(f"{reason}: run `bash {INSTALL}` to install the audit")


@contextlib.asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[str]:
    """Serves `app` over HTTP on a free port of 127.0.0.1 in this event loop (the loop the
    database pool is bound to); yields the GraphQL URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped the server
                pytest.fail("the hub's HTTP server stopped before it started")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


async def _audit(url: str, bearer: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node,
        "audit.mjs",
        cwd=AUDIT_DIR,
        env={**os.environ, "HUB_URL": url, "HUB_TOKEN": bearer},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=NODE_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"the audit did not finish in {NODE_TIMEOUT}s")
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def audit_installed() -> None:
    """Node and the audit's packages (checked before a database is made for nothing)."""
    if shutil.which("node") is None:
        _unavailable("node is not installed")
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        _unavailable("tests/http-audit/node_modules is missing")


async def test_graphql_over_http_audit(audit_installed, make_database, open_db) -> None:
    from hub.app import create_app  # noqa: PLC0415

    db = await open_db(await make_database(SAMPLE_REGION))
    # Introspection on: the audits of the {variables} parameter ("MUST/SHOULD allow map
    # {variables} parameter") send `query Type($name: String!) { __type(name: $name) { name } }`,
    # and the hub's default (no introspection) rejects `__type` in validation, so they would fail
    # for the schema's policy, not for the HTTP layer under audit, which is the same either way.
    # That introspection is off by default is tested in test_api.py.
    app = create_app(
        db, SECRET, {m.code for m in SAMPLE_REGION}, manage_pool=False, introspection=True
    )
    async with _serve(app) as url:
        results = await _audit(url, token("public"))

    assert len(results) > 50, results  # every audit ran (61 in graphql-http 1.23.1)
    report = {r["name"]: f"{r['status']}: {r['name']}: {r['reason']}" for r in results}
    errors = [report[r["name"]] for r in results if r["status"] == "error"]
    warnings = [report[r["name"]] for r in results if r["status"] == "warn"]
    notices = {r["name"] for r in results if r["status"] == "notice"}
    assert not errors, "\n".join(errors)
    assert not warnings, "\n".join(warnings)
    assert notices <= GET_ONLY, "\n".join(report[n] for n in sorted(notices - GET_ONLY))
    assert {r["status"] for r in results} <= {"ok", "notice"}, results
