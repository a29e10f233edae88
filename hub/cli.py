"""The `hub` command: demo, serve, migrate, generate, ingest, token, sources."""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub import auth, logs
from hub.config import ConfigError, Settings, settings
from hub.db import (
    EMBEDDED_DATABASE,
    OWNER_ROLE,
    SERVICE_ROLE,
    Database,
    DatabaseError,
    Scope,
    Urls,
    ensure_database,
    migrate,
    start_embedded,
    with_user,
)
from hub.progress import SourceProgress, summary_table
from hub.store.load import RunResult, SourceInfo

if TYPE_CHECKING:
    from hub.ingest import Files, SourceConfig

log = logging.getLogger("hub")

DEMO_SCALE = 0.05  # of the region's youth: one year generates and loads in well under a minute


def resolve_urls(s: Settings) -> Urls:
    """HUB_DATABASE_URL (administrative) if set, else the embedded server, started on demand."""
    if s.database_url:
        service = s.service_database_url or with_user(s.database_url, SERVICE_ROLE)
        return Urls(admin=s.database_url, service=service)
    maintenance = start_embedded(s)
    asyncio.run(ensure_database(maintenance, EMBEDDED_DATABASE))
    return Urls(
        admin=with_user(maintenance, "postgres", database=EMBEDDED_DATABASE),
        service=with_user(maintenance, SERVICE_ROLE, database=EMBEDDED_DATABASE),
    )


def _migrate(s: Settings) -> Urls:
    urls = resolve_urls(s)
    applied = asyncio.run(migrate(urls.admin, s.region()))
    for name in applied:
        print(f"applied {name}", file=sys.stderr)
    return urls


def cmd_migrate(s: Settings, _: argparse.Namespace) -> int:
    _migrate(s)
    print("database is current")
    return 0


def cmd_token(s: Settings, a: argparse.Namespace) -> int:
    print(auth.issue(s.secret, a.role, municipality=a.municipality, provider=a.provider))
    return 0


def _collect_rarely() -> None:
    """Start-up objects live forever: keep them out of cyclic collection. A page of records,
    like a batch of files being loaded, is thousands of short-lived objects and no cycles:
    collect far less often than every 700 allocations (PERFORMANCE.md: about 20% of a
    request's time; in `hub ingest`, a fifth of the loading process's CPU)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


# Connections that compute the indicator facts and analyst figures side by side at the end of
# `hub ingest`, one per core (the pool holds them besides the transaction's own).
_READERS = os.cpu_count() or 1


async def _ingest_sources(urls: Urls, s: Settings, batches: list[Batch]) -> list[RunResult]:
    """Ingest each source (its files, or a pull when it has no files but a URL), with a
    progress bar per source and a summary table at the end."""
    from hub.ingest import (  # noqa: PLC0415  (keeps `hub token` light)
        Reading,
        ingest_source,
        refresh_facts,
    )

    _collect_rarely()
    db = Database(urls.service, max_size=1 + _READERS)
    await db.open()
    shown: list[SourceProgress] = []
    # Each source's files are read while the files of the source before it load.
    readings = [None if paths is None else Reading(s, source, paths) for source, paths in batches]
    for earlier, later in itertools.pairwise(r for r in readings if r is not None):
        earlier.then = later
    try:
        for (source, paths), reading in zip(batches, readings, strict=True):
            progress = SourceProgress(source.id, None if paths is None else len(paths))
            shown.append(progress)
            await ingest_source(db, s, source, paths, progress, reading=reading)
            progress.done()
        started = time.monotonic()
        refreshed = await refresh_facts(db, s, readers=_READERS)  # nothing else runs now
        print(
            f"indicator facts of {refreshed} municipalities refreshed in "
            f"{time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        return [run for p in shown for run in p.runs]
    finally:
        await db.close()
        if shown:
            print(summary_table(shown), file=sys.stderr)


Batch = tuple[SourceInfo, "Files | None"]  # None: pull the source's URL


def _batches(configs: list[SourceConfig], paths: list[str]) -> list[Batch]:
    if paths:
        return [(c.info, sorted(Path(p) for p in paths)) for c in configs]
    return [(c.info, None if c.is_url else c.files()) for c in configs]


def cmd_ingest(s: Settings, a: argparse.Namespace) -> int:
    from hub.ingest import ADAPTERS, SourceConfig, read_sources  # noqa: PLC0415

    if a.adapter:
        if a.adapter not in ADAPTERS:
            raise ConfigError(f"unknown adapter {a.adapter!r} (known: {', '.join(ADAPTERS)})")
        source = SourceInfo(f"adhoc-{a.adapter}", a.adapter)
        batches = _batches([SourceConfig(source, Path.cwd())], a.paths)
    else:
        configs = read_sources(Path(a.sources))
        if a.source:
            configs = [c for c in configs if c.info.id == a.source]
            if not configs:
                raise ConfigError(f"no source {a.source!r} in {a.sources}")
        batches = _batches(configs, a.paths)
    urls = _migrate(s)
    runs = asyncio.run(_ingest_sources(urls, s, batches))
    failed = sum(r.status == "failed" for r in runs)
    print(
        f"{len(runs)} files, {sum(r.records_read for r in runs)} read, "
        f"{sum(r.records_accepted for r in runs)} accepted, "
        f"{sum(r.records_quarantined for r in runs)} quarantined, {failed} files failed"
    )
    _refresh_analyst(urls, s)
    return 1 if failed and a.strict else 0


def cmd_sources(s: Settings, _: argparse.Namespace) -> int:
    from hub.resolvers.records import sources  # noqa: PLC0415

    urls = _migrate(s)

    async def run() -> None:
        db = Database(urls.service, max_size=1)
        await db.open()
        try:
            async with db.tenant(Scope("admin", actor="cli")) as tx:
                rows = await sources(tx)
        finally:
            await db.close()
        print(
            f"{'source':28} {'adapter':10} {'owner':9} {'status':7} {'files':>6} "
            f"{'read':>9} {'accepted':>9} {'quarantined':>11} {'unaccounted':>11}  last ingest"
        )
        for r in rows:
            unaccounted = r["read"] - r["accepted"] - r["quarantined"]
            print(
                f"{r['id']:28} {r['adapter']:10} {r['owner'] or '-':9} {r['status'] or '-':7} "
                f"{r['files']:>6} {r['read']:>9} {r['accepted']:>9} {r['quarantined']:>11} "
                f"{unaccounted:>11}  {_when(r['last_ingest'])}"
                + ("" if r["schema_validated"] else "  (schema validation off)")
            )

    asyncio.run(run())
    return 0


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "never"


def cmd_audit(s: Settings, a: argparse.Namespace) -> int:
    """`hub audit verify`: recompute the audit trail's hash chain."""
    import asyncpg  # noqa: PLC0415

    from hub.audit import verify  # noqa: PLC0415

    urls = _migrate(s)

    async def run() -> int:
        conn = await asyncpg.connect(urls.admin)
        try:
            await conn.execute(f"set role {OWNER_ROLE}")  # the owner reads the whole chain
            verdict = await verify(conn)
        finally:
            await conn.close()
        if verdict.problem:
            print(f"audit trail broken: {verdict.problem}", file=sys.stderr)
            return 1
        if a.head and a.head != verdict.head:
            print("audit trail broken: its last row is not the head given", file=sys.stderr)
            return 1
        print(f"audit trail intact: {verdict.rows} rows, head {verdict.head or '-'}")
        return 0

    return asyncio.run(run())


def _refresh_analyst(urls: Urls, s: Settings) -> None:
    """Refill the analyst schema (the SQL face for BI tools) with the public figures."""
    from hub.analyst import ensure_role, refresh  # noqa: PLC0415

    async def run() -> None:
        await ensure_role(urls.admin, os.environ.get("HUB_ANALYST_PASSWORD") or None)
        db = Database(urls.service, max_size=1 + _READERS)
        await db.open()
        try:
            done = await refresh(
                db,
                urls.admin,
                threshold=s.suppression_threshold,
                long_running_years=s.long_running_years,
                readers=_READERS,
            )
        finally:
            await db.close()
        print(
            f"analyst figures refreshed: {done.cells} cells ({done.suppressed} suppressed), "
            f"data version {done.data_version}",
            file=sys.stderr,
        )

    asyncio.run(run())


def cmd_analyst(s: Settings, a: argparse.Namespace) -> int:
    """`hub analyst refresh`: recompute the analyst figures; `hub analyst url`: where
    hub_analyst connects (the password is HUB_ANALYST_PASSWORD, not printed)."""
    from hub.analyst import ANALYST_ROLE  # noqa: PLC0415

    urls = _migrate(s)
    if a.action == "url":
        print(with_user(urls.admin, ANALYST_ROLE))
        return 0
    _refresh_analyst(urls, s)
    return 0


def _step(started: float) -> Callable[[str], None]:
    def say(step: str) -> None:
        print(f"  {time.monotonic() - started:6.1f} s  {step}", file=sys.stderr)

    return say


def cmd_generate(s: Settings, a: argparse.Namespace) -> int:
    from hub.synth import generate  # noqa: PLC0415

    out = generate(
        Path(a.outdir),
        seed=a.seed,
        years=a.years,
        scale=a.scale,
        region=s.region(),
        progress=_step(time.monotonic()),
    )
    print(f"wrote {len(out.files)} files and {out.sources_toml}")
    return 0


def serve(
    urls: Urls,
    s: Settings,
    host: str,
    port: int,
    *,
    sources: Path | None = None,
    workers: int = 1,
) -> None:
    """Serve GraphQL in `workers` processes; with a sources file, also push ingestion for
    its file sources."""
    import uvicorn  # noqa: PLC0415

    # The worker processes build their app from the environment (worker_app).
    os.environ[_SERVICE_URL] = urls.service
    if sources is not None:
        os.environ[_PUSH_SOURCES] = str(sources.resolve())
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        # uvloop and httptools (dependencies) are uvicorn's defaults once installed.
        # Our own JSON logging and one log line per request (hub.metrics) instead of uvicorn's.
        "log_config": None,
        "access_log": False,
    }
    if workers > 1:
        uvicorn.run("hub.cli:worker_app", factory=True, workers=workers, **common)
    else:
        uvicorn.run(worker_app(), **common)


_SERVICE_URL, _PUSH_SOURCES = "HUB_SERVICE_DATABASE_URL", "HUB_PUSH_SOURCES"


def worker_app() -> Any:
    """The app of one server process, from the environment `serve` leaves (also usable as
    `uvicorn hub.cli:worker_app --factory` against HUB_SERVICE_DATABASE_URL)."""
    from hub.app import create_app  # noqa: PLC0415
    from hub.ingest import Pusher, read_sources  # noqa: PLC0415
    from hub.metrics import token_from_env  # noqa: PLC0415

    logs.setup()  # again in a worker process of its own
    s = settings()
    db = Database(os.environ[_SERVICE_URL])
    push = None
    if os.environ.get(_PUSH_SOURCES):
        configs = [c for c in read_sources(Path(os.environ[_PUSH_SOURCES])) if not c.is_url]
        push = Pusher(db, s, {c.info.id: c.info for c in configs})
    app = create_app(
        db,
        s.secret,
        {m.code for m in s.region()},
        page_size_max=s.page_size_max,
        introspection=s.introspection,
        threshold=s.suppression_threshold,
        long_running_years=s.long_running_years,
        max_cost=s.max_cost,
        batch_max=s.batch_max,
        ide=s.ide,
        statement_timeout_ms=s.statement_timeout_ms,
        cache_entries=s.cache_entries,
        push=push,
        metrics_token=token_from_env(),
    )
    _collect_rarely()
    return app


def cmd_serve(s: Settings, a: argparse.Namespace) -> int:
    urls = _migrate(s)
    print(f"serving http://{a.host}:{a.port}/graphql", file=sys.stderr)
    serve(
        urls,
        s,
        a.host,
        a.port,
        sources=Path(a.sources) if a.sources else None,
        workers=a.workers,
    )
    return 0


def cmd_demo(s: Settings, a: argparse.Namespace) -> int:
    from hub.ingest import read_sources  # noqa: PLC0415
    from hub.synth import generate  # noqa: PLC0415
    from hub.synth.api import ApiServer  # noqa: PLC0415

    outdir = s.state_dir / "demo" / f"seed{a.seed}-years{a.years}-scale{a.scale:g}"
    toml = outdir / "sources.toml"
    if not toml.exists():
        print(f"generating a synthetic region in {outdir}", file=sys.stderr)
        started = time.monotonic()
        out = generate(
            outdir,
            seed=a.seed,
            years=a.years,
            scale=a.scale,
            region=s.region(),
            progress=_step(started),
        )
        print(
            f"wrote {len(out.files)} files in {time.monotonic() - started:.1f} s", file=sys.stderr
        )
    urls = _migrate(s)
    # The JSON API municipalities: their access systems' APIs, served locally and pulled.
    with ApiServer(outdir / "api") as api:
        os.environ["HUB_DEMO_API"] = api.url
        asyncio.run(_ingest_sources(urls, s, _batches(read_sources(toml), [])))
    _refresh_analyst(urls, s)
    base = f"http://{a.host}:{a.port}"
    region = s.region()
    print(f"\nThe hub: {base}/graphql  (POST, Authorization: Bearer <token>)\n")
    for role in ("region", "public", "admin", "municipality"):
        own = region[-1].code if role == "municipality" else None
        print(f"{role:13} {auth.issue(s.secret, role, municipality=own)}")
    print(
        f"\ncurl -s {base}/graphql -H 'content-type: application/json' "
        '-H "authorization: Bearer $TOKEN" '
        '-d \'{"query":"{ trajectories(first: 5) { totalCount nodes { careType start '
        "provider { agb } } } }\"}'\n"
    )
    serve(urls, s, a.host, a.port, sources=toml)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hub", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def with_host(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=8000)

    d = sub.add_parser("demo", help="synthetic region, ingested and served")
    with_host(d)
    d.add_argument("--years", type=int, default=1)
    d.add_argument("--scale", type=float, default=DEMO_SCALE)
    d.add_argument("--seed", type=int, default=1)
    sv = sub.add_parser("serve", help="serve GraphQL")
    with_host(sv)
    sv.add_argument("--sources", help="sources file whose file sources accept POST /ingest/ID")
    sv.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes (default: one per core)",
    )
    sub.add_parser("migrate", help="create roles and apply migrations")
    g = sub.add_parser("generate", help="write the synthetic region's sources")
    g.add_argument("outdir")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--years", type=int, default=1)
    g.add_argument("--scale", type=float, default=0.02)
    i = sub.add_parser("ingest", help="load sources")
    i.add_argument("--adapter", help="ad hoc: this adapter over PATHs (source adhoc-NAME)")
    i.add_argument("--source", help="one source of the sources file")
    i.add_argument("--sources", default="sources.toml", help="sources file (sources.toml)")
    i.add_argument("--strict", action="store_true", help="exit 1 when a file failed")
    i.add_argument("paths", nargs="*")
    t = sub.add_parser("token", help="print a bearer token")
    t.add_argument("--role", required=True, choices=auth.ROLES)
    t.add_argument("--municipality")
    t.add_argument("--provider")
    sub.add_parser("sources", help="each source's last run and counts")
    au = sub.add_parser("audit", help="the audit trail")
    au.add_argument("action", choices=["verify"])
    au.add_argument("--head", help="the head hash kept from an earlier verify")
    an = sub.add_parser("analyst", help="the SQL face for BI tools (docs/bi.md)")
    an.add_argument("action", choices=["refresh", "url"])
    return p


COMMANDS = {
    "demo": cmd_demo,
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "generate": cmd_generate,
    "ingest": cmd_ingest,
    "token": cmd_token,
    "sources": cmd_sources,
    "audit": cmd_audit,
    "analyst": cmd_analyst,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        logs.setup()  # HUB_LOG_LEVEL, HUB_LOG_FORMAT: JSON lines on stderr by default
    except ConfigError as exc:
        print(f"hub {args.command}: {exc}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](settings(), args)
    except (ConfigError, DatabaseError, auth.AuthError) as exc:
        print(f"hub {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
