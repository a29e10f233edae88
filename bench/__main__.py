"""The benchmark of issue 6: the hub beside PostGraphile 5 and the raw-SQL floor.

    python -m bench [--scale 0.1] [--duration 10] [--repeats 3] [--markdown bench/RESULTS.md]

Sets up the five-year synthetic region (bench/.state/, kept between runs), starts the hub (one
process, and one per core), PostGraphile 5 on Node 22 and the floor on loopback, checks that
they answer the same rows, then times W1 (dashboard), W2 (record page) and W3 (W1 with the
hub's response cache on) with wrk, alternating targets, median of the repeats; then the
scaling series (W1 and W2 on the data replicated 3x and 10x) and W4 (the region's files
ingested into a fresh database). Prints requests/s, p50 and p99 per target and the ratios
hub/PostGraphile and hub/floor, and writes them as JSON. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import load, report, state, targets, workloads
from bench.targets import Target
from bench.workloads import Workload


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class VerificationError(RuntimeError):
    """Two targets answered different rows to the same workload."""


@contextlib.contextmanager
def running(servers: list[Target]) -> Iterator[list[Target]]:
    try:
        for t in servers:
            t.start()
        for t in servers:
            t.wait_ready()
        yield servers
    finally:
        for t in servers:
            t.stop()


def hub_claims_argument(hub: Target, token: str) -> str | None:
    """How this hub asks for a trajectory's latest claims, if its schema can."""
    for argument in workloads.HUB_CLAIMS_ARGUMENTS:
        body = workloads.w2(argument).requests["hub"].body
        if "errors" not in hub.post("/graphql", body, token):
            return argument
    return None


def verify(w: Workload, servers: list[Target], token: str) -> tuple[Any, float]:
    """Every target's rows equal the first target's; returns them and the slowest answer's
    seconds (one request at a time, unwarmed)."""
    reference = None
    slowest = 0.0
    for t in servers:
        request = w.requests[t.kind]
        started = time.perf_counter()
        answer = t.post(request.path, request.body, token)
        slowest = max(slowest, time.perf_counter() - started)
        rows = w.rows[t.kind](answer)
        if reference is None:
            reference = rows
        elif not workloads.same(reference, rows):
            raise VerificationError(
                f"{w.name}: {t.name} differs from {servers[0].name}: "
                + workloads.first_difference(reference, rows)
            )
    names = ", ".join(t.name for t in servers)
    say(f"{w.name}: {len(reference or ())} rows, the same from {names}; slowest {slowest:.3f} s")
    return reference, slowest


def seconds_for(
    single: float, a: argparse.Namespace, seconds: float, *, scaling: bool = False
) -> float:
    """Long enough for every connection to complete several requests (a slow workload on
    few cores), at most --max-duration."""
    cores = len(os.sched_getaffinity(0))
    connections: int = a.scaling_connections if scaling else a.connections
    longest: float = a.max_duration
    return min(max(seconds, 5 * single * connections / min(cores, connections)), longest)


def measure(
    ws: list[Workload],
    servers: list[Target],
    tokens: dict[str, str],
    a: argparse.Namespace,
    *,
    seconds: dict[str, float],
    repeats: int,
    connections: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Timed runs of `seconds[workload]`, alternating targets (and workloads) within each
    repeat; medians."""
    connections = connections or a.connections
    runs: dict[str, dict[str, list[load.Run]]] = defaultdict(lambda: defaultdict(list))
    for w in ws:
        for t in servers:  # warm-up: connections, plans, JIT
            request = w.requests[t.kind]
            load.run(
                t.url(request.path),
                request.body,
                tokens[w.role],
                seconds=a.warmup,
                connections=connections,
            )
    for repeat in range(repeats):
        for w in ws:
            for t in servers:
                request = w.requests[t.kind]
                r = load.run(
                    t.url(request.path),
                    request.body,
                    tokens[w.role],
                    seconds=seconds[w.name],
                    connections=connections,
                )
                runs[w.name][t.name].append(r)
                say(
                    f"{w.name} {t.name} run {repeat + 1}/{repeats}: {r.rps:,.1f} req/s, "
                    f"p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, errors {r.errors}"
                )
    return {w: {t: load.median(rs) for t, rs in by_target.items()} for w, by_target in runs.items()}


def _youth_total(rows: dict[Any, tuple[Any, ...]]) -> float:
    return sum(values[0] or 0 for values in rows.values())


def main(a: argparse.Namespace) -> int:
    started = time.monotonic()
    if a.reset:
        state.reset(a.years, a.scale)
    say(f"preparing the region: {a.years} years at scale {a.scale:g}")
    try:
        region = state.prepare(a.years, a.scale, say)
    except state.StateError as exc:
        say(str(exc))
        return 2
    from hub import auth  # noqa: PLC0415

    tokens = {
        "region": auth.issue(region.secret, "region"),
        "municipality": auth.issue(
            region.secret, "municipality", municipality=workloads.W2_MUNICIPALITY
        ),
    }
    cores = len(os.sched_getaffinity(0))
    logs = region.home / "logs"
    result: dict[str, Any] = {
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "machine": report.machine(region.admin("hub")),
        "settings": {k: v for k, v in vars(a).items() if k not in ("json", "markdown")},
        "workloads": {},
        "scaling": {},
        "notes": [],
    }
    chosen = set(a.workloads.split(","))

    # W1 and W2, cache off: the hub (one process, one per core), PostGraphile, the floor.
    env = region.env("hub")
    hub = targets.hub("hub", env, logs, workers=1, cache=False)
    servers = [hub, targets.postgraphile(env, logs), targets.floor(env, logs)]
    if cores > 1 and not a.no_multi:
        servers.insert(1, targets.hub(f"hub x{cores}", env, logs, workers=cores, cache=False))
    base_youth = None
    w1 = workloads.w1()
    if chosen & {"W1", "W2", "W3", "scaling"}:
        with running(servers):
            argument = hub_claims_argument(hub, tokens["municipality"])
            if argument is None:
                result["notes"].append(
                    "W2: the hub's Trajectory.claims takes no argument for the latest claims, "
                    "so every target answers all claims of each trajectory"
                )
                say("W2: " + result["notes"][-1])
            w2 = workloads.w2(argument)
            rows, slowest = verify(w1, servers, tokens["region"])
            base_youth = _youth_total(rows)
            seconds = {"W1": seconds_for(slowest, a, a.duration)}
            seconds["W2"] = seconds_for(
                verify(w2, servers, tokens["municipality"])[1], a, a.duration
            )
            ws = [w for w in (w1, w2) if w.name in chosen]
            result["workloads"].update(
                measure(ws, servers, tokens, a, seconds=seconds, repeats=a.repeats)
            )

    # W3: W1 with the hub's response cache on; PostGraphile and the floor have no response
    # cache, so their W3 is their W1 of this run.
    if "W3" in chosen:
        cached = [targets.hub("hub", env, logs, workers=1, cache=True)]
        if cores > 1 and not a.no_multi:
            cached.append(targets.hub(f"hub x{cores}", env, logs, workers=cores, cache=True))
        w3 = workloads.w1("W3", cache=True)
        with running(cached):
            verify(w3, cached, tokens["region"])  # fills the caches
            seconds = {"W3": seconds_for(verify(w3, cached, tokens["region"])[1], a, a.duration)}
            result["workloads"].update(
                measure([w3], cached, tokens, a, seconds=seconds, repeats=a.repeats)
            )
        for name in ("postgraphile", "floor"):
            if name in result["workloads"].get("W1", {}):
                result["workloads"]["W3"][name] = {
                    **result["workloads"]["W1"][name],
                    "from": "W1 (no response cache)",
                }

    # The scaling series: W1 and W2 on the region (1x) and on its data replicated.
    if "scaling" in chosen:
        for factor in (int(f) for f in a.scaling.split(",")):
            database = "hub" if factor == 1 else asyncio.run(state.replica(region, factor, say))
            env_k = region.env(database)
            scaled = [
                targets.hub("hub", env_k, logs, workers=1, cache=False),
                targets.postgraphile(env_k, logs),
                targets.floor(env_k, logs),
            ]
            with running(scaled):
                rows, slowest = verify(w1, scaled, tokens["region"])
                youth = _youth_total(rows)
                seconds = {"W1": seconds_for(slowest, a, a.scaling_duration, scaling=True)}
                if base_youth is not None and abs(youth - factor * base_youth) > 1e-6:
                    raise VerificationError(
                        f"{factor}x: W1 counts {youth:g} youth-months, "
                        f"not {factor} x {base_youth:g}"
                    )
                slowest = verify(w2, scaled, tokens["municipality"])[1]
                seconds["W2"] = seconds_for(slowest, a, a.scaling_duration, scaling=True)
                result["scaling"][str(factor)] = measure(
                    [w1, w2],
                    scaled,
                    tokens,
                    a,
                    seconds=seconds,
                    repeats=a.scaling_repeats,
                    connections=a.scaling_connections,
                )

    if "W4" in chosen:
        say("W4: ingesting the region's files into a fresh database")
        result["w4"] = state.ingest_fresh(region, a.w4_timeout)
        say(f"W4: {result['w4']}")

    result["seconds"] = time.monotonic() - started
    result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    result["ratios"] = report.ratios(result["workloads"])
    out = Path(a.json) if a.json else region.home / "results.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.text(result))
    print(f"\nwritten to {out}")
    if a.markdown:
        Path(a.markdown).write_text(report.markdown(result))
        print(f"and {a.markdown}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scale", type=float, default=1.0, help="of the region's youth (1: all)")
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--reset", action="store_true", help="regenerate and re-ingest the region")
    p.add_argument("--duration", type=float, default=10, help="seconds per timed run")
    p.add_argument("--repeats", type=int, default=3, help="alternated runs per target")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per target")
    p.add_argument("--connections", type=int, default=10, help="wrk connections")
    p.add_argument(
        "--workloads",
        default="W1,W2,W3,scaling,W4",
        help="comma-separated subset of W1,W2,W3,scaling,W4",
    )
    p.add_argument("--scaling", default="1,3,10", help="data factors of the scaling series")
    p.add_argument("--scaling-duration", type=float, default=5)
    p.add_argument("--scaling-repeats", type=int, default=1)
    p.add_argument(
        "--scaling-connections",
        type=int,
        default=1,
        help="wrk connections of the scaling series: 1 measures the cost of one request",
    )
    p.add_argument("--no-multi", action="store_true", help="skip the hub with one process per core")
    p.add_argument(
        "--max-duration",
        type=float,
        default=60,
        help="a slow workload's runs are lengthened until every connection completes several "
        "requests, up to this many seconds",
    )
    p.add_argument("--w4-timeout", type=float, default=1800, help="seconds W4 may take")
    p.add_argument("--json", help="results file (default: bench/.state/<region>/results.json)")
    p.add_argument("--markdown", help="also write the results as markdown (bench/RESULTS.md)")
    return p


if __name__ == "__main__":
    sys.exit(main(parser().parse_args()))
