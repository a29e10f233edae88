"""The machine, the ratios, and the results as text (printed) and markdown (RESULTS.md)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import asyncpg

from bench.load import LoadError, wrk
from bench.targets import NODE, POSTGRAPHILE, ROOT

COMPARED = ("postgraphile", "floor")


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    except OSError:
        return "?"
    if done.returncode != 0:
        return "?"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else ""


def _wrk_version() -> str:
    try:  # wrk -v prints its version and exits 1
        done = subprocess.run([wrk(), "-v"], capture_output=True, text=True, check=False)
    except (OSError, LoadError):
        return "wrk ?"
    return (done.stdout or done.stderr).strip().split(" [")[0] or "wrk ?"


def machine(admin_url: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)

    async def pg_version() -> str:
        conn = await asyncpg.connect(admin_url)
        try:
            return str(await conn.fetchval("show server_version"))
        finally:
            await conn.close()

    postgraphile = POSTGRAPHILE / "node_modules" / "postgraphile" / "package.json"
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"]) not in ("", "?")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "ram_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": asyncio.run(pg_version()),
        "node": _run([str(NODE), "--version"]),
        "postgraphile": json.loads(postgraphile.read_text())["version"]
        if postgraphile.exists()
        else None,
        "wrk": _wrk_version(),
        "hub_commit": _run(["git", "rev-parse", "--short", "HEAD"]) + ("+" if dirty else ""),
        "load_average_before": [round(x, 1) for x in os.getloadavg()],
    }


def ratios(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per workload and hub target: throughput and p99 against PostGraphile and the floor."""
    out: dict[str, dict[str, Any]] = {}
    for workload, by_target in table.items():
        for name, hub in by_target.items():
            if not name.startswith("hub"):
                continue
            for other in COMPARED:
                theirs = by_target.get(other)
                if theirs and theirs["rps"] and hub["p99_ms"]:
                    out.setdefault(workload, {})[f"{name} / {other}"] = {
                        "throughput": hub["rps"] / theirs["rps"],
                        "p99": hub["p99_ms"] / theirs["p99_ms"],
                    }
    return out


def _rows(table: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for workload, by_target in table.items():
        for name, m in by_target.items():
            note = " (its W1)" if m.get("from") else ""
            rows.append(
                [
                    workload,
                    name + note,
                    f"{m['rps']:,.1f}",
                    f"{m['p50_ms']:,.1f}",
                    f"{m['p99_ms']:,.1f}",
                    str(m["errors"]),
                ]
            )
    return rows


def _ratio_rows(ratios_: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [
        [w, pair, f"{r['throughput']:.2f}", f"{r['p99']:.2f}"]
        for w, pairs in ratios_.items()
        for pair, r in pairs.items()
    ]


def _scaling_rows(scaling: dict[str, Any]) -> list[list[str]]:
    rows = []
    for factor, table in scaling.items():
        for workload, by_target in table.items():
            for name, m in by_target.items():
                rows.append(
                    [
                        f"{factor}x",
                        workload,
                        name,
                        f"{m['rps']:,.1f}",
                        f"{m['p50_ms']:,.1f}",
                        f"{m['p99_ms']:,.1f}",
                    ]
                )
    return rows


def _w4(w4: dict[str, float] | None) -> str:
    if not w4:
        return "not run"
    text = (
        f"{w4['records']:,} records in {w4['seconds']:.1f} s = {w4['records_per_s']:,.0f} "
        f"records/s; peak RSS of the ingest process tree {w4['peak_rss_mib']:,.0f} MiB"
    )
    if "cpu_ingest_s" in w4:  # runs before the CPU was measured have no such figures
        text += (
            f"; CPU time {w4['cpu_ingest_s'] + w4['cpu_postgres_s']:,.1f} s (the ingest's "
            f"processes {w4['cpu_ingest_s']:,.1f}, PostgreSQL's {w4['cpu_postgres_s']:,.1f})"
        )
    if "idle_core_s" in w4:  # and these came later still
        text += (
            f"; the loading process {w4['cpu_loading_s']:,.1f} s of the ingest's, its readers "
            f"{w4['cpu_ingest_s'] - w4['cpu_loading_s']:,.1f}; the cores idle "
            f"{w4['idle_core_s']:,.1f} core-seconds, {w4['iowait_core_s']:,.1f} of them "
            "waiting for I/O"
        )
    return text


def goals(result: dict[str, Any]) -> list[list[str]]:
    """Issue 6's goals against this run: [goal, figure, met]."""
    rows = []
    ratios_ = result.get("ratios", {})
    for w in ("W1", "W2", "W3"):
        r = ratios_.get(w, {}).get("hub / postgraphile")
        if r:
            met = r["throughput"] >= 1.0 and r["p99"] <= 1.0
            rows.append(
                [
                    f"{w}: hub at least PostGraphile's throughput, p99 no worse",
                    f"{r['throughput']:.2f}x, p99 {r['p99']:.2f}x",
                    _yes(met),
                ]
            )
    for w in ("W1", "W2"):
        r = ratios_.get(w, {}).get("hub / floor")
        if r:
            rows.append(
                [
                    f"{w}: hub within 2x of the floor",
                    f"{r['throughput']:.2f}x",
                    _yes(r["throughput"] >= 0.5),
                ]
            )
    w4 = result.get("w4")
    if w4:
        scale = result["settings"]["scale"]
        rows.append(
            [
                f"W4: the region in under 60 s and 1 GiB (here at scale {scale:g})",
                f"{w4['seconds']:.0f} s, {w4['peak_rss_mib']:,.0f} MiB",
                _yes(w4["seconds"] < 60 and w4["peak_rss_mib"] < 1024),
            ]
        )
    scaling = result.get("scaling", {})
    factors = sorted(int(f) for f in scaling)
    hub_w1 = {f: scaling[str(f)].get("W1", {}).get("hub") for f in factors}
    if len(factors) > 1 and all(m and m["rps"] > 0 for m in hub_w1.values()):
        lo, hi = factors[0], factors[-1]
        growth = hub_w1[hi]["p50_ms"] / hub_w1[lo]["p50_ms"]
        rows.append(
            [
                f"W1's cost sub-linear in the data ({lo}x to {hi}x)",
                f"p50 x{growth:.1f} for data x{hi / lo:g}",
                _yes(growth < hi / lo),
            ]
        )
    return rows


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _load(values: list[float] | None) -> str:
    return " / ".join(f"{v:.1f}" for v in values) if values else "?"


def _table(header: list[str], rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
    return "\n".join(
        "  ".join(x.ljust(w) for x, w in zip(r, widths, strict=False)) for r in [header, *rows]
    )


def text(result: dict[str, Any]) -> str:
    parts = (
        []
        if not result["workloads"]
        else [
            _table(
                ["workload", "target", "req/s", "p50 ms", "p99 ms", "errors"],
                _rows(result["workloads"]),
                markdown=False,
            ),
            "",
            _table(
                ["workload", "ratio", "throughput", "p99"],
                _ratio_rows(result["ratios"]),
                markdown=False,
            ),
        ]
    )
    if result.get("scaling"):
        parts += [
            "",
            _table(
                ["data", "workload", "target", "req/s", "p50 ms", "p99 ms"],
                _scaling_rows(result["scaling"]),
                markdown=False,
            ),
        ]
    parts += ["", "W4: " + _w4(result.get("w4"))]
    if goals(result):
        parts += ["", _table(["goal", "this run", "met"], goals(result), markdown=False)]
    parts += [f"note: {n}" for n in result.get("notes", [])]
    return "\n".join(parts)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    s = result["settings"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench --markdown bench/RESULTS.md` (bench/README.md says what "
        "each workload is and how it is measured). The latest run:",
        "",
        "```sh",
        result["command"],
        "```",
        "",
        f"- machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['os']}; the "
        "load generator, every server and PostgreSQL share the cores; load average (1, 5, 15 "
        f"min) {_load(m.get('load_average_before'))} before the run and "
        f"{_load(result.get('load_average_after'))} after it",
        f"- PostgreSQL {m['postgresql']}, Python {m['python']}, Node {m['node']}, PostGraphile "
        f"{m['postgraphile']}, {m['wrk']}; hub at commit {m['hub_commit']}",
        f"- region: {s['years']} years at scale {s['scale']:g}; wrk, {s['connections']} "
        f"connections, {s['duration']:g} s per run after {s['warmup']:g} s of warm-up, median "
        f"of {s['repeats']} alternated runs; the whole run took {result['seconds'] / 60:.0f} min",
        "",
        "## Throughput and latency",
        "",
        _table(
            ["workload", "target", "req/s", "p50 ms", "p99 ms", "errors"],
            _rows(result["workloads"]),
            markdown=True,
        ),
        "",
        "## Ratios (above 1.0 the hub is ahead on throughput; below 1.0 its p99 is lower)",
        "",
        _table(
            ["workload", "ratio", "throughput", "p99"], _ratio_rows(result["ratios"]), markdown=True
        ),
        "",
    ]
    if result.get("scaling"):
        lines += [
            "## Scaling (the region's records replicated in SQL; "
            f"at least {s['scaling_duration']:g} s, "
            f"{s['scaling_repeats']} run(s) of {s.get('scaling_connections', '?')} "
            "connection(s) each: "
            "the cost of a request as the data grows)",
            "",
            _table(
                ["data", "workload", "target", "req/s", "p50 ms", "p99 ms"],
                _scaling_rows(result["scaling"]),
                markdown=True,
            ),
            "",
        ]
    lines += ["## W4: ingest", "", _w4(result.get("w4")), ""]
    lines += [
        "## Against the goals of issue 6",
        "",
        _table(["goal", "this run", "met"], goals(result), markdown=True),
        "",
    ]
    if result.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in result["notes"]], ""]
    return "\n".join(lines)


if __name__ == "__main__":  # re-render a results file: python -m bench.report FILE.json
    import sys

    print(markdown(json.loads(Path(sys.argv[1]).read_text())), end="")
