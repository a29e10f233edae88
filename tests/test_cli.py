"""The `hub` command end to end, as a user runs it, against the run's database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub import auth
from hub.config import default_region

from .conftest import SAMPLES, SECRET, XSD_DIR


def _hub(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_token_prints_a_token_the_hub_accepts() -> None:
    out = _hub("token", "--role", "municipality", "--municipality", "0193")
    assert out.returncode == 0, out.stderr
    scope = auth.verify(SECRET, out.stdout.strip())
    assert (scope.role, scope.municipality) == ("municipality", "0193")


def test_token_refuses_a_role_without_its_scope() -> None:
    out = _hub("token", "--role", "provider")
    assert out.returncode == 2
    assert "8-digit AGB" in out.stderr


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/ijw-3.2 is not beside")
async def test_ingest_and_sources(make_database, tmp_path: Path) -> None:
    urls = await make_database(default_region())
    env = {
        "HUB_DATABASE_URL": urls.admin,
        "HUB_SERVICE_DATABASE_URL": urls.service,
        "HUB_IJW_XSD_DIR": str(XSD_DIR),
    }
    out = _hub(
        "ingest",
        "--adapter",
        "ijw",
        str(SAMPLES / "JW301.xml"),
        str(SAMPLES / "JW315.xml"),
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "2 files, 3 read, 0 accepted, 3 quarantined, 1 files failed" in out.stdout
    assert "999900006" not in out.stdout + out.stderr
    strict = _hub(
        "ingest", "--strict", "--adapter", "ijw", str(SAMPLES / "JW315.xml"), env=env, cwd=tmp_path
    )
    assert strict.returncode == 1
    listed = _hub("sources", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("adhoc-ijw"))
    # source, adapter, owner, status, files, read, accepted, quarantined, unaccounted
    assert line.split()[:9] == ["adhoc-ijw", "ijw", "-", "failed", "2", "3", "0", "3", "0"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_trajectories(tmp_path: Path) -> None:
    """`hub demo` on an empty folder: embedded database, synthetic region, ingest, serve."""
    port = _free_port()
    env = {**os.environ, "HUB_HOME": str(tmp_path / ".hub"), "HUB_IJW_XSD_DIR": str(XSD_DIR)}
    for key in ("HUB_DATABASE_URL", "HUB_SERVICE_DATABASE_URL", "HUB_SECRET"):
        env.pop(key, None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert demo.stdout is not None
        tokens: dict[str, str] = {}
        for line in demo.stdout:  # the tokens are printed once the region is ingested
            parts = line.split()
            if len(parts) == 2 and parts[0] in auth.ROLES:
                tokens[parts[0]] = parts[1]
            if len(tokens) == 4:
                break
        query = {
            "query": "{ trajectories(first: 3) { totalCount nodes { careType youth { id } } } }"
        }
        body = None
        for _ in range(100):  # until uvicorn listens
            try:
                body = httpx.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json=query,
                    timeout=5,
                    headers={"authorization": f"Bearer {tokens['municipality']}"},
                ).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert body is not None
        assert body["data"]["trajectories"]["totalCount"] > 0
        assert len(body["data"]["trajectories"]["nodes"]) == 3
    finally:
        demo.terminate()
        demo.wait(timeout=30)
        if demo.stdout:
            demo.stdout.close()
