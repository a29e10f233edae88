"""The servers under test, one OS process group each on a free loopback port: the hub (one
process, or one per core), PostGraphile 5 on Node 22, and the floor."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
POSTGRAPHILE = ROOT / "bench" / "postgraphile"
NODE = POSTGRAPHILE / "node_modules" / ".bin" / "node"


class TargetError(RuntimeError):
    """A server did not start or answered something else than expected."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    name: str  # as reported: hub, hub x2, postgraphile, floor
    kind: str  # hub | postgraphile | floor: which requests it is sent
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with its workers
            )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise TargetError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if self.kind == "postgraphile":
                    r = httpx.post(self.url("/graphql"), json={"query": "{__typename}"}, timeout=5)
                else:
                    r = httpx.get(self.url("/healthz"), timeout=5)
                if r.status_code == 200:
                    return
            time.sleep(0.3)
        raise TargetError(f"{self.name} not ready after {timeout:.0f} s; see {self.log}")

    def post(self, path: str, body: Any, token: str | None) -> Any:
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        r = httpx.post(self.url(path), json=body, headers=headers, timeout=300)
        if r.status_code != 200:
            raise TargetError(f"{self.name} {path}: HTTP {r.status_code}: {r.text[:500]}")
        return r.json()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def _uvicorn(app: str, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def hub(name: str, env: dict[str, str], logs: Path, *, workers: int, cache: bool) -> Target:
    return Target(
        name,
        "hub",
        _uvicorn("hub.cli:worker_app", workers),
        {**env, "HUB_CACHE_ENTRIES": "1000" if cache else "0"},
        logs / f"{name}.log",
    )


def floor(env: dict[str, str], logs: Path) -> Target:
    return Target("floor", "floor", _uvicorn("bench.floor:create", 1), env, logs / "floor.log")


def postgraphile(env: dict[str, str], logs: Path) -> Target:
    if not NODE.exists():
        raise TargetError("PostGraphile is not installed: run `bash bench/install.sh`")
    pg_env = {
        "DATABASE_URL": env["HUB_SERVICE_DATABASE_URL"],
        "HUB_SECRET": env["HUB_SECRET"],
        "NODE_ENV": "production",
    }
    return Target(
        "postgraphile",
        "postgraphile",
        [str(NODE), str(POSTGRAPHILE / "server.mjs")],
        pg_env,
        logs / "postgraphile.log",
    )
