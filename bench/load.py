"""The load generator: wrk (C, one thread, keep-alive connections) with bench/wrk.lua for the
POST body and the bearer token. One generator for every target, so the client costs the same
whatever is measured; at tens of thousands of requests per second (W3) a Python generator
would measure itself."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "wrk.lua"


class LoadError(RuntimeError):
    """wrk is missing or a run failed."""


@dataclass(frozen=True, slots=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and non-2xx answers

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadError("wrk is not installed: `apt-get install wrk` (or bash bench/install.sh)")
    return path


def run(url: str, body: Any, token: str | None, *, seconds: float, connections: int) -> Run:
    """One timed run of `connections` keep-alive connections POSTing `body` to `url`."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(body, f)
    try:
        env = {**os.environ, "BENCH_BODY": f.name, "BENCH_TOKEN": token or ""}
        args = [
            wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "60s",
            "-s",
            str(SCRIPT),
            url,
        ]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    finally:
        Path(f.name).unlink()
    line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("{")), None)
    if done.returncode != 0 or line is None:
        raise LoadError(f"wrk {url}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    out = json.loads(line)
    return Run(
        requests=out["requests"],
        seconds=out["duration_us"] / 1e6,
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        errors=sum(out["errors"].values()),
    )


def median(runs: list[Run]) -> dict[str, Any]:
    """Median of each figure over repeated runs, with the runs themselves."""
    return {
        "rps": statistics.median(r.rps for r in runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "errors": sum(r.errors for r in runs),
        "runs": [{**asdict(r), "rps": r.rps} for r in runs],
    }
