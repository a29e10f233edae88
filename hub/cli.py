"""The `hub` command: demo, serve, migrate, generate, ingest, token, sources."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hub import auth
from hub.config import ConfigError, Settings, settings
from hub.db import (
    EMBEDDED_DATABASE,
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
from hub.store.load import RunResult, SourceInfo

log = logging.getLogger("hub")


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


def _print_run(run: RunResult) -> None:
    """Files that lost something are named; the rest is summed per source."""
    if run.status == "failed" or run.records_quarantined:
        print(
            f"  {run.status}: {run.records_accepted} accepted, {run.records_quarantined} "
            f"quarantined  {run.file_name}",
            file=sys.stderr,
        )


async def _ingest_sources(
    urls: Urls, s: Settings, batches: list[tuple[SourceInfo, list[Path]]]
) -> list[RunResult]:
    from hub.ingest import ingest  # noqa: PLC0415  (keeps `hub token` light)

    db = Database(urls.service, max_size=2)
    await db.open()
    try:
        runs: list[RunResult] = []
        for source, paths in batches:
            done = await ingest(db, s, source, paths, _print_run)
            print(f"{source.id}: {_summary(done)}", file=sys.stderr)
            runs += done
        return runs
    finally:
        await db.close()


def _summary(runs: list[RunResult]) -> str:
    failed = sum(r.status == "failed" for r in runs)
    return (
        f"{len(runs)} files, {sum(r.records_read for r in runs)} read, "
        f"{sum(r.records_accepted for r in runs)} accepted, "
        f"{sum(r.records_quarantined for r in runs)} quarantined, {failed} files failed"
    )


def cmd_ingest(s: Settings, a: argparse.Namespace) -> int:
    from hub.ingest import ADAPTERS, read_sources  # noqa: PLC0415

    if a.adapter:
        if a.adapter not in ADAPTERS:
            raise ConfigError(f"unknown adapter {a.adapter!r} (known: {', '.join(ADAPTERS)})")
        source = SourceInfo(f"adhoc-{a.adapter}", a.adapter)
        batches = [(source, sorted(Path(p) for p in a.paths))]
    else:
        configs = read_sources(Path(a.sources))
        if a.source:
            configs = [c for c in configs if c.info.id == a.source]
            if not configs:
                raise ConfigError(f"no source {a.source!r} in {a.sources}")
        batches = [
            (c.info, sorted(Path(p) for p in a.paths) if a.paths else c.paths()) for c in configs
        ]
    urls = _migrate(s)
    runs = asyncio.run(_ingest_sources(urls, s, batches))
    print(_summary(runs))
    return 1 if any(r.status == "failed" for r in runs) and a.strict else 0


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
            f"{'source':24} {'adapter':8} {'owner':9} {'status':7} {'accepted':>9} "
            f"{'quarantined':>11}  last ingest"
        )
        for r in rows:
            print(
                f"{r['id']:24} {r['adapter']:8} {r['owner'] or '-':9} {r['status'] or '-':7} "
                f"{r['accepted']:>9} {r['quarantined']:>11}  {r['last_ingest'] or '-'}"
            )

    asyncio.run(run())
    return 0


def cmd_generate(s: Settings, a: argparse.Namespace) -> int:
    from hub.synth import generate  # noqa: PLC0415

    out = generate(Path(a.outdir), seed=a.seed, years=a.years, scale=a.scale, region=s.region())
    print(f"wrote {len(out.files)} files and {out.sources_toml}")
    return 0


def serve(urls: Urls, s: Settings, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    from hub.app import create_app  # noqa: PLC0415

    app = create_app(
        Database(urls.service),
        s.secret,
        {m.code for m in s.region()},
        page_size_max=s.page_size_max,
        introspection=s.introspection,
    )
    gc.freeze()  # start-up objects live forever; keep them out of cyclic collection
    uvicorn.run(app, host=host, port=port, log_level="warning")


def cmd_serve(s: Settings, a: argparse.Namespace) -> int:
    urls = _migrate(s)
    print(f"serving http://{a.host}:{a.port}/graphql", file=sys.stderr)
    serve(urls, s, a.host, a.port)
    return 0


def cmd_demo(s: Settings, a: argparse.Namespace) -> int:
    from hub.ingest import read_sources  # noqa: PLC0415
    from hub.synth import generate  # noqa: PLC0415

    outdir = s.state_dir / "demo"
    toml = outdir / "sources.toml"
    if not toml.exists():
        print(f"generating a synthetic region in {outdir}", file=sys.stderr)
        generate(outdir, seed=1, years=1, scale=0.02, region=s.region())
    urls = _migrate(s)
    batches = [(c.info, c.paths()) for c in read_sources(toml)]
    runs = asyncio.run(_ingest_sources(urls, s, batches))
    print(_summary(runs), file=sys.stderr)
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
    serve(urls, s, a.host, a.port)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hub", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def with_host(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=8000)

    with_host(sub.add_parser("demo", help="synthetic region, ingested and served"))
    with_host(sub.add_parser("serve", help="serve GraphQL"))
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
    return p


COMMANDS = {
    "demo": cmd_demo,
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "generate": cmd_generate,
    "ingest": cmd_ingest,
    "token": cmd_token,
    "sources": cmd_sources,
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](settings(), args)
    except (ConfigError, DatabaseError, auth.AuthError) as exc:
        print(f"hub {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
