"""W1, the dashboard (DESIGN.md "Performance"): every metric but BUDGET_EUR for the 11
municipalities by month over the last year of data, as `region`, through the whole HTTP
stack in one process, response cache off.

    python bench/w1.py [--years 5] [--scale 0.1] [--runs 30]

Generates the synthetic region into bench/.state/ (kept between runs), ingests it into the
embedded PostgreSQL there, then times W1 and prints the latency distribution. The whole
benchmark, with PostGraphile 5 and the raw-SQL floor side by side, is `python -m bench`
(bench/README.md); W1 alone there: `python -m bench --workloads W1 --no-multi`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

STATE = Path(__file__).resolve().parent / ".state"

W1 = """query W1($from: Date!, $to: Date!) { indicators(
  metrics: [YOUTH_IN_CARE, TRAJECTORIES_STARTED, TRAJECTORIES_ENDED, AVERAGE_DURATION_DAYS,
            RESIDENTIAL_SHARE, YOUTH_PER_1000, REPEAT_INFLOW_SHARE, DROPOUT_SHARE, COST_EUR,
            BUDGET_UTILISATION, CLAIM_DELAY_DAYS, WAITING_DAYS]
  groupBy: [MUNICIPALITY, MONTH], filter: {from: $from, to: $to}) {
    rows { municipality year month values { metric value suppressed } } } }"""


async def main(years: int, scale: float, runs: int) -> None:
    home = STATE / f"years{years}-scale{scale:g}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["HUB_HOME"] = str(home / "hub")
    import httpx  # noqa: PLC0415

    from hub import auth  # noqa: PLC0415
    from hub.app import create_app  # noqa: PLC0415
    from hub.cli import _migrate  # noqa: PLC0415
    from hub.config import settings  # noqa: PLC0415
    from hub.db import Database  # noqa: PLC0415
    from hub.ingest import ingest_source, read_sources, refresh_facts  # noqa: PLC0415
    from hub.synth import generate  # noqa: PLC0415
    from hub.synth.api import ApiServer  # noqa: PLC0415

    s = settings()
    urls = await asyncio.to_thread(_migrate, s)
    db = Database(urls.service)
    await db.open()
    region_dir = home / "region"
    if not (home / "ingested").exists():
        started = time.monotonic()
        generate(region_dir, years=years, scale=scale, region=s.region())
        generated = time.monotonic()
        records = 0
        with ApiServer(region_dir / "api") as api:
            os.environ["HUB_DEMO_API"] = api.url
            for c in read_sources(region_dir / "sources.toml"):
                runs_ = await ingest_source(db, s, c.info, None if c.is_url else c.files())
                records += sum(r.records_read for r in runs_)
        done = time.monotonic()
        print(
            f"generated in {generated - started:.0f} s; ingested {records:,} records in "
            f"{done - generated:.0f} s ({records / (done - generated):,.0f}/s)"
        )
        (home / "ingested").write_text("ok")
    started = time.monotonic()
    refreshed = await refresh_facts(db, s)  # as `hub ingest` does at its end
    print(
        f"indicator facts of {refreshed} municipalities refreshed in "
        f"{time.monotonic() - started:.1f} s"
    )
    app = create_app(db, s.secret, {m.code for m in s.region()}, manage_pool=False)
    bearer = auth.issue(s.secret, "region")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
    body = {"query": W1, "variables": {"from": "2025-01-01", "to": "2025-12-31"}}
    headers = {"authorization": f"Bearer {bearer}"}
    timings = []
    for _ in range(runs + 2):
        started = time.perf_counter()
        response = await client.post("/graphql", json=body, headers=headers)
        timings.append(time.perf_counter() - started)
        rows = response.json()["data"]["indicators"]["rows"]
    timings = sorted(timings[2:])  # two warm-up runs
    p50 = statistics.median(timings) * 1000
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1000
    print(f"W1: {len(rows)} rows x 12 metrics, {runs} runs: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    await db.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--runs", type=int, default=30)
    a = p.parse_args()
    asyncio.run(main(a.years, a.scale, a.runs))
