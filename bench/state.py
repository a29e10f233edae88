"""The region under test, kept in bench/.state/years{Y}-scale{S}/ between runs: its files, an
embedded PostgreSQL with the region ingested (database `hub`), copies with the data
replicated 3x and 10x (databases `bench_x3`, `bench_x10`), and W4's fresh ingest."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench import sql

STATE = Path(__file__).resolve().parent / ".state"
_OFFSET = 1_000_000_000  # replica j's ids are j * _OFFSET + the original id
# Tables replicated for the scaling series (what W1 and W2 read), parents first; ids and the
# columns that link records (or must be unique) are shifted per copy.
_REPLICATED = (
    "youth",
    "referral",
    "assignment",
    "care_period",
    "trajectory",
    "claim_line",
    "claim_answer",
    "claim_rejection",
)
_SHIFTED_IDS = {"id", "youth_id", "trajectory_id"}
_SUFFIXED = {
    "pseudonym",
    "provider_reference",
    "toewijzing_nummer",
    "reference",
    "previous_reference",
    "claim_message_id",
}
_REPLICA_FORMAT = "2"  # bump when the replication changes


class StateError(RuntimeError):
    """The kept state cannot be used as it is."""


@dataclass(frozen=True, slots=True)
class Region:
    home: Path
    admin_url: str  # superuser on the database `hub`
    secret: str
    region_dir: Path

    def admin(self, database: str) -> str:
        from hub.db import with_user  # noqa: PLC0415

        return with_user(self.admin_url, "postgres", database=database)

    def service(self, database: str) -> str:
        from hub.db import SERVICE_ROLE, with_user  # noqa: PLC0415

        return with_user(self.admin_url, SERVICE_ROLE, database=database)

    def env(self, database: str) -> dict[str, str]:
        """What a server process needs to serve `database` as the hub does."""
        return {
            "HUB_HOME": str(self.home / "hub"),
            "HUB_SECRET": self.secret,
            "HUB_DATABASE_URL": self.admin(database),
            "HUB_SERVICE_DATABASE_URL": self.service(database),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }


def reset(years: int, scale: float) -> None:
    """Forget the region of this scale (its embedded server must not be running)."""
    shutil.rmtree(STATE / f"years{years}-scale{scale:g}", ignore_errors=True)


def prepare(years: int, scale: float, say: object = print) -> Region:
    """Start (or join) the embedded PostgreSQL of this scale, migrate, generate and ingest the
    region the first time, and (re)install the bench schema. The server lives as long as
    this process."""
    home = STATE / f"years{years}-scale{scale:g}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["HUB_HOME"] = str(home / "hub")
    from hub.cli import resolve_urls  # noqa: PLC0415
    from hub.config import settings  # noqa: PLC0415
    from hub.db import DatabaseError, migrate  # noqa: PLC0415

    s = settings()
    urls = resolve_urls(s)
    try:
        asyncio.run(migrate(urls.admin, s.region()))
    except DatabaseError as exc:
        raise StateError(
            f"{home}: {exc}; rebuild the region with --reset (it regenerates and re-ingests)"
        ) from exc
    region = Region(home, urls.admin, s.secret, home / "region")
    if not (home / "ingested").exists():
        asyncio.run(_generate_and_ingest(region, years, scale, say))
        (home / "ingested").write_text("ok")
    asyncio.run(refresh_facts(region, "hub"))
    asyncio.run(sql.install(urls.admin))
    return region


async def refresh_facts(region: Region, database: str) -> int:
    """Bring the hub's stored indicator facts up to date, as `hub ingest` does after loading;
    returns how many municipalities were recomputed."""
    from hub.config import settings  # noqa: PLC0415
    from hub.db import Database  # noqa: PLC0415
    from hub.ingest import refresh_facts as refresh  # noqa: PLC0415

    db = Database(region.service(database), max_size=2)
    await db.open()
    try:
        return await refresh(db, settings())
    finally:
        await db.close()


async def _generate_and_ingest(region: Region, years: int, scale: float, say: object) -> None:
    from hub.config import settings  # noqa: PLC0415
    from hub.db import Database  # noqa: PLC0415
    from hub.ingest import ingest_source, read_sources  # noqa: PLC0415
    from hub.synth import generate  # noqa: PLC0415
    from hub.synth.api import ApiServer  # noqa: PLC0415

    s = settings()
    started = time.monotonic()
    generate(region.region_dir, years=years, scale=scale, region=s.region())
    _say(say, f"generated the region in {time.monotonic() - started:.0f} s; ingesting it")
    db = Database(region.service("hub"))
    await db.open()
    try:
        with ApiServer(region.region_dir / "api") as api:
            os.environ["HUB_DEMO_API"] = api.url
            for c in read_sources(region.region_dir / "sources.toml"):
                await ingest_source(db, s, c.info, None if c.is_url else c.files())
    finally:
        await db.close()
    _say(say, f"ingested in {time.monotonic() - started:.0f} s")


def _say(say: object, text: str) -> None:
    if callable(say):
        say(text)


# The scaling series ---------------------------------------------------------------------------


async def _marker(conn: asyncpg.Connection, factor: int) -> str:
    """What a replica was made from: the migrations, the data version, the replication."""
    migrations = await conn.fetchval(
        "select string_agg(version || checksum, ',' order by version) from schema_migration"
    )
    version = await conn.fetchval("select version from data_version")
    text = f"{migrations}|{version}|{factor}|{_REPLICA_FORMAT}"
    return "bench replica " + hashlib.sha256(text.encode()).hexdigest()[:16]


async def replica(region: Region, factor: int, say: object = print) -> str:
    """The database with the region's records `factor` times (copies with shifted ids and
    pseudonyms): made from `hub` by SQL, kept while `hub` and the replication are unchanged.
    Nothing may be connected to `hub` meanwhile (it is the template)."""
    name = f"bench_x{factor}"
    source = await asyncpg.connect(region.admin("hub"))
    try:
        marker = await _marker(source, factor)
    finally:
        await source.close()
    maintenance = await asyncpg.connect(region.admin("postgres"))
    try:
        current = await maintenance.fetchval(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = $1",
            name,
        )
        if current == marker:
            await sql.install(region.admin(name))
            return name
        started = time.monotonic()
        await maintenance.execute(f"drop database if exists {name}")
        await maintenance.execute(f"create database {name} template hub owner hub_owner")
    finally:
        await maintenance.close()
    conn = await asyncpg.connect(region.admin(name))
    try:
        await conn.execute(f"grant connect on database {name} to hub_service")
        for table in _REPLICATED:
            columns = [
                r[0]
                for r in await conn.fetch(
                    """select column_name from information_schema.columns
                   where table_schema = 'public' and table_name = $1 and is_generated = 'NEVER'
                   order by ordinal_position""",
                    table,
                )
            ]
            for copy in range(1, factor):
                values = ", ".join(_shifted(c, copy) for c in columns)
                await conn.execute(
                    f"insert into {table} ({', '.join(columns)}) overriding system value "
                    f"select {values} from {table} where id < {_OFFSET}"
                )
        await conn.execute("analyze")
    finally:
        await conn.close()
    await refresh_facts(region, name)
    conn = await asyncpg.connect(region.admin(name))
    try:
        await conn.execute(f"comment on database {name} is '{marker}'")
    finally:
        await conn.close()
    await sql.install(region.admin(name))
    _say(say, f"replicated the region {factor}x into {name} in {time.monotonic() - started:.0f} s")
    return name


def _shifted(column: str, copy: int) -> str:
    if column in _SHIFTED_IDS:
        return f"{column} + {copy * _OFFSET}"
    if column in _SUFFIXED:
        return f"{column} || '~{copy}'"
    return column


# W4: the five years from files to queryable into a fresh database ----------------------------


_HZ = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _processes() -> dict[int, tuple[int, int, float, int]]:
    """pid -> (parent, start time, CPU seconds, resident bytes) of every process. Read with
    os.read, not pathlib: 0.9 against 2.2 ms of this process's CPU for 88 processes, taken
    20 times a second beside the run it measures."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            stat = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        # the fields after the command: state, ppid, ..., utime, stime, ..., starttime, _, rss
        fields = stat.rsplit(b")", 1)[1].split()
        cpu, rss = (int(fields[11]) + int(fields[12])) / _HZ, int(fields[21]) * _PAGE
        found[int(name)] = (int(fields[1]), int(fields[19]), cpu, rss)
    return found


def _idle_seconds() -> tuple[float, float]:
    """Seconds the machine's cores have been idle since boot, summed: in all, and of those
    waiting for I/O."""
    with open("/proc/stat", "rb") as stat:
        fields = stat.readline().split()
    return (int(fields[4]) + int(fields[5])) / _HZ, int(fields[5]) / _HZ


class _Usage:
    """What W4 uses, sampled from /proc while it runs: the peak resident memory of the ingest's
    process tree; the CPU time since the start of the ingest process itself (the loading:
    it and its PostgreSQL backend take turns), of its descendants (the readers) and of the
    PostgreSQL server's processes, a process that ended counting as last seen; and the
    core-seconds the machine's cores idled, and of those waited for I/O. How the work
    divides, and whether W4 computed or waited."""

    def __init__(self, root: int, postmaster: int) -> None:
        self._tops = {"ingest": root, "postgres": postmaster}
        self._before = {(pid, p[1]): p[2] for pid, p in _processes().items()}
        self._idle_before = _idle_seconds()
        self._cpu: dict[tuple[int, int], tuple[str, float]] = {}
        self.peak_rss = 0
        self.idle = self.iowait = 0.0

    def sample(self) -> None:
        processes = _processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, *_) in processes.items():
            children.setdefault(parent, []).append(pid)
        rss = 0
        for kind, top in self._tops.items():
            todo = [top] if top in processes else []
            while todo:
                pid = todo.pop()
                todo.extend(children.get(pid, []))
                _, start, cpu, resident = processes[pid]
                key = (pid, start)
                own = "readers" if kind == "ingest" and pid != top else kind
                self._cpu[key] = (own, cpu - self._before.get(key, 0.0))
                rss += resident if kind == "ingest" else 0
        self.peak_rss = max(self.peak_rss, rss)
        idle, iowait = _idle_seconds()
        self.idle, self.iowait = idle - self._idle_before[0], iowait - self._idle_before[1]

    def cpu(self, kind: str) -> float:
        """CPU seconds of "ingest" (the ingest process and its readers), "loading" (the
        ingest process itself), "readers" or "postgres"."""
        kinds = {"ingest": ("ingest", "readers"), "loading": ("ingest",)}.get(kind, (kind,))
        return sum(seconds for k, seconds in self._cpu.values() if k in kinds)


async def _postmaster(region: Region) -> int:
    """The pid of the region's PostgreSQL server, from its data directory's postmaster.pid."""
    conn = await asyncpg.connect(region.admin("postgres"))
    try:
        folder = await conn.fetchval("show data_directory")
    finally:
        await conn.close()
    return int((Path(folder) / "postmaster.pid").read_text().split()[0])


def _read_through(folder: Path) -> int:
    """Read every file under the folder once (returns their bytes): W4 then finds the region
    in the page cache, as files just written or received are, and measures the ingest
    rather than the disk. Whether they were cached varied between runs before: with the
    page cache emptied, W4 took 105.5 s and 182.6 CPU seconds where it took 76.5 s and 139.8
    (a file of 0193 costs 42 us of CPU to read from the disk, 6 from the cache)."""
    total = 0
    for top, _, names in os.walk(folder):
        for name in names:
            fd = os.open(os.path.join(top, name), os.O_RDONLY)
            try:
                while chunk := os.read(fd, 1 << 20):
                    total += len(chunk)
            finally:
                os.close(fd)
    return total


def ingest_fresh(region: Region, timeout: float) -> dict[str, float]:
    """`hub ingest --sources` of the region's files into a new database, as a process of its
    own: seconds, records read, records per second, peak RSS of its process tree, and the CPU
    seconds of that tree and of PostgreSQL."""
    from hub.synth.api import ApiServer  # noqa: PLC0415

    name = "bench_w4"

    async def recreate(drop_only: bool) -> None:
        conn = await asyncpg.connect(region.admin("postgres"))
        try:
            await conn.execute(f"drop database if exists {name} with (force)")
            if not drop_only:
                await conn.execute(f"create database {name} owner hub_owner")
        finally:
            await conn.close()

    asyncio.run(recreate(drop_only=False))
    postmaster = asyncio.run(_postmaster(region))
    _read_through(region.region_dir)
    log = region.home / "logs" / "w4-ingest.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with ApiServer(region.region_dir / "api") as api, log.open("w") as out:
        env = {**os.environ, **region.env(name), "HUB_DEMO_API": api.url}
        argv = [
            sys.executable,
            "-c",
            "import sys; from hub.cli import main; sys.exit(main())",
            "ingest",
            "--sources",
            str(region.region_dir / "sources.toml"),
        ]
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=out)
        usage = _Usage(proc.pid, postmaster)
        output: list[bytes] = []
        reader = threading.Thread(target=lambda: output.append(proc.stdout.read()))  # type: ignore[union-attr]
        reader.start()
        while proc.poll() is None:
            usage.sample()
            if time.monotonic() - started > timeout:
                proc.kill()
                raise TimeoutError(f"W4 ingest still running after {timeout:.0f} s")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        reader.join()
    text = b"".join(output).decode()
    found = re.search(r"(\d+) read", text)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"W4 ingest failed ({proc.returncode}): {text[-300:]}; see {log}")
    asyncio.run(recreate(drop_only=True))
    records = int(found.group(1))
    return {
        "seconds": seconds,
        "records": records,
        "records_per_s": records / seconds,
        "peak_rss_mib": usage.peak_rss / 2**20,
        "cpu_ingest_s": usage.cpu("ingest"),
        "cpu_loading_s": usage.cpu("loading"),
        "cpu_postgres_s": usage.cpu("postgres"),
        "idle_core_s": usage.idle,
        "iowait_core_s": usage.iowait,
    }
