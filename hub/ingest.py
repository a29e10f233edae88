"""Ingestion: sources.toml, adapters and the store put together. Files are read (parsed,
validated) in worker processes while the ones read before load, a batch of files per
transaction; a pulled API loads a page per transaction."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fnmatch
import glob
import logging
import multiprocessing
import os
import pickle
import re
import tempfile
import tomllib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg

from hub.adapters.base import Adapter, AdapterContext, PullAdapter
from hub.adapters.claims_csv import ClaimsCsvAdapter
from hub.adapters.csv_export import CsvAdapter
from hub.adapters.gi import GiAdapter
from hub.adapters.ijw import IjwAdapter
from hub.adapters.json_api import JsonApiAdapter
from hub.adapters.reference import ReferenceAdapter
from hub.config import ConfigError, Settings
from hub.db import Database, DatabaseError, Scope
from hub.model import FileResult
from hub.pseudonym import pseudonymise
from hub.resolvers import indicators
from hub.store.load import (
    RunResult,
    SourceInfo,
    load_file,
    load_files,
    refresh_pending_trajectories,
    register_source,
)

log = logging.getLogger("hub.ingest")

Files = Sequence[str | Path]  # a source's files, as `SourceConfig.files` lists them or Paths

ADAPTERS: dict[str, type[Adapter]] = {
    a.name: a
    for a in (
        IjwAdapter,
        CsvAdapter,
        ClaimsCsvAdapter,
        GiAdapter,
        ReferenceAdapter,
        JsonApiAdapter,
    )
}


@dataclass(frozen=True, slots=True)
class SourceConfig:
    info: SourceInfo
    base: Path  # folder the location is relative to

    @property
    def is_url(self) -> bool:
        return location_is_url(self.info.location)

    def files(self) -> list[str]:
        """The source's files, in the order of their path components (as Paths sort). As
        strings: the region's 278,000 files are listed in 0.4 s, where making each a Path
        took 1.1 s more, and a string reaches a reader process in 0.07 us where a Path took
        4.7 (pickled, unpickled); the reader makes it a Path in 2.4."""
        if self.is_url:
            return []
        location = expand(self.info)
        pattern = location if Path(location).is_absolute() else str(self.base / location)
        folder, name = os.path.split(pattern)
        if glob.has_magic(folder) or "**" in name:
            found = [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]
            return sorted(found, key=lambda p: p.split(os.sep))
        # one folder (where glob took 5.5 s for the region): its entries say whether they are
        # files without a stat per file; as glob, a wildcard does not match a leading dot
        matches = re.compile(fnmatch.translate(name)).match
        hidden = name.startswith(".")
        try:
            with os.scandir(folder or os.curdir) as entries:
                names = [
                    e.name
                    for e in entries
                    if matches(e.name) and (hidden or e.name[0] != ".") and e.is_file()
                ]
        except (FileNotFoundError, NotADirectoryError):
            return []
        base = str(Path(folder))
        return [os.path.join(base, n) for n in sorted(names)]


def location_is_url(location: str | None) -> bool:
    return os.path.expandvars(location or "").startswith(("http://", "https://"))


def expand(source: SourceInfo) -> str:
    """The source's location with ${VARIABLES} expanded; an unset one is an error naming it
    (rather than a glob that silently matches nothing)."""
    location = os.path.expandvars(source.location or "")
    unset = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", location)
    if unset:
        raise ConfigError(
            f"source {source.id!r}: location {source.location!r} names "
            f"{', '.join(unset)}, which is not set"
        )
    return location


def read_sources(path: Path) -> list[SourceConfig]:
    """Read and check a sources file: every source's adapter exists and takes its options."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"sources file {path}: {exc}") from exc
    result, seen = [], set()
    for i, item in enumerate(data.get("source", [])):
        missing = [k for k in ("id", "adapter") if not item.get(k)]
        if missing:
            raise ConfigError(f"sources file {path}: source[{i}] lacks {', '.join(missing)}")
        if item["id"] in seen:
            raise ConfigError(f"sources file {path}: source id {item['id']!r} occurs twice")
        seen.add(item["id"])
        info = SourceInfo(
            str(item["id"]),
            str(item["adapter"]),
            item.get("owner"),
            item.get("location"),
            dict(item.get("options", {})),
        )
        make_adapter(info)  # fails early on a wrong adapter or option
        result.append(SourceConfig(info, path.resolve().parent))
    return result


def make_adapter(source: SourceInfo) -> Adapter:
    if source.adapter not in ADAPTERS:
        raise ConfigError(
            f"source {source.id!r} names unknown adapter {source.adapter!r} "
            f"(known: {', '.join(ADAPTERS)})"
        )
    return ADAPTERS[source.adapter](source.id, source.options, source.owner)


def adapter_context(settings: Settings, source: SourceInfo) -> AdapterContext:
    if settings.xsd_dir is None and source.adapter == IjwAdapter.name:
        log.warning("schema_validation_off reason=no XSD directory (set HUB_IJW_XSD_DIR)")
    return _context(source, settings.pseudonym_key, _region(settings), settings.xsd_dir)


def _region(settings: Settings) -> frozenset[str]:
    return frozenset(m.code for m in settings.region())


def _context(
    source: SourceInfo, key: bytes, region: frozenset[str], xsd_dir: Path | None
) -> AdapterContext:
    return AdapterContext(
        source_id=source.id,
        region=region,
        pseudonymise=lambda bsn: pseudonymise(key, bsn),
        xsd_dir=xsd_dir,
        owner=source.owner,
    )


async def ingest_source(
    db: Database,
    settings: Settings,
    source: SourceInfo,
    paths: Files | None,
    progress: Callable[[RunResult], None] | None = None,
    *,
    reading: Reading | None = None,
) -> list[RunResult]:
    """Ingest a source: the given files (read by `reading` when it was started earlier), or
    when `paths` is None, a pull of its URL."""
    if paths is None:
        return await pull(db, settings, source, progress)
    return await ingest(db, settings, source, paths, progress, reading=reading)


BATCH_FILES = 1000  # files per transaction (and per read in a worker)
# Batches read ahead of the one loading. The small sources between the iJw ones (a few CSV
# files or API pages) are read and loaded by this process for a second or more each, and
# the readers idle meanwhile once they are this far ahead. A batch from a worker waits here
# as the bytes it was pickled to: 0.4 to 1.5 MiB for 1,000 of the region's files, a quarter
# of what its records take once unpickled.
READ_AHEAD = 32
# The readers' niceness. The loading (this process and its PostgreSQL backend, one after
# the other) is what the end of a run waits for; the readers, far enough ahead, take the
# cores it leaves. W4 runs had 11.5 and 12.8 idle core-seconds with eight batches ahead at
# equal priority, 5.0 and 7.2 with 32 ahead at this niceness.
READERS_NICE = 10
# Fewer files than this, and fewer bytes in all, are read in a thread of this process: at
# most about 20 ms of reading, where new workers take 0.2 s to a first read. A CSV export
# (0.3 to 1.7 MB a source in the region) is read in a worker, beside the loading rather than
# in its way.
_PARALLEL_FROM = 100
_PARALLEL_FROM_BYTES = 100_000


async def ingest(
    db: Database,
    settings: Settings,
    source: SourceInfo,
    paths: Files,
    progress: Callable[[RunResult], None] | None = None,
    *,
    reading: Reading | None = None,
) -> list[RunResult]:
    """Load files of a source, a batch of files per transaction, in order; then recompute
    the trajectories of the youth whose care the batches changed, once."""
    make_adapter(source)  # a wrong adapter or option fails before anything is read
    if not paths:
        log.warning("source_without_files source=%s location=%s", source.id, source.location)
        await register_source(db, source)
    adapter_context(settings, source)  # says so once when schema validation is off
    results = []
    async for batch in (reading or Reading(settings, source, paths)).batches():
        runs = await load_files(db, source, batch, defer_trajectories=True)
        results.extend(runs)
        if progress:
            for run in runs:
                progress(run)
    await refresh_pending_trajectories(db, _region(settings), f"source:{source.id}")
    return results


class Reading:
    """A source's files read in batches, in order: in worker processes (a few files in a
    thread of this process), READ_AHEAD batches ahead of the one being loaded. When `then`
    is set, the source it reads starts as soon as this one's last batch is on its way, so it
    is read while this one's last batches load."""

    def __init__(self, settings: Settings, source: SourceInfo, paths: Files) -> None:
        self._chunks = [paths[i : i + BATCH_FILES] for i in range(0, len(paths), BATCH_FILES)]
        self._executor = _readers() if _worth_a_worker(paths) else _THREAD
        self._read = _read_chunk if self._executor is _THREAD else _read_chunk_pickled
        self._args = (source, settings.pseudonym_key, _region(settings), settings.xsd_dir)
        self._reading: deque[asyncio.Future[list[FileResult] | bytes]] = deque()
        self._started = 0
        self.then: Reading | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        while self._started < len(self._chunks) and len(self._reading) < READ_AHEAD:
            chunk = self._chunks[self._started]
            self._reading.append(
                loop.run_in_executor(self._executor, self._read, *self._args, chunk)
            )
            self._started += 1
        if self._started == len(self._chunks) and self.then is not None:
            then, self.then = self.then, None
            then.start()

    async def batches(self) -> AsyncIterator[list[FileResult]]:
        """The batches in order; the next one is unpickled (in a thread) while this one loads."""
        self.start()
        upcoming = self._next()
        while upcoming is not None:
            batch = await upcoming
            upcoming = self._next()
            yield batch

    def _next(self) -> asyncio.Task[list[FileResult]] | None:
        if not self._reading:
            return None
        read = self._reading.popleft()
        self.start()
        return asyncio.ensure_future(_unpickled(read))


def _worth_a_worker(paths: Files) -> bool:
    if len(paths) >= _PARALLEL_FROM:
        return True
    size = 0
    for path in paths:
        with contextlib.suppress(OSError):  # the adapter says what is wrong with it
            size += os.stat(path).st_size
    return size >= _PARALLEL_FROM_BYTES


async def _unpickled(read: asyncio.Future[list[FileResult] | bytes]) -> list[FileResult]:
    batch = await read
    if isinstance(batch, bytes):
        loaded: list[FileResult] = await asyncio.to_thread(pickle.loads, batch)
        return loaded
    return batch


def _read_chunk(
    source: SourceInfo, key: bytes, region: frozenset[str], xsd_dir: Path | None, paths: Files
) -> list[FileResult]:
    adapter = make_adapter(source)
    ctx = _context(source, key, region, xsd_dir)
    return [adapter.read(Path(p), ctx) for p in paths]


def _read_chunk_pickled(
    source: SourceInfo, key: bytes, region: frozenset[str], xsd_dir: Path | None, paths: Files
) -> bytes:
    """`_read_chunk` in a worker process, pickled there: its batch waits in the loading
    process as bytes (see READ_AHEAD)."""
    return pickle.dumps(_read_chunk(source, key, region, xsd_dir, paths), pickle.HIGHEST_PROTOCOL)


_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-read")
_pool: list[Executor] = []


def _readers() -> Executor:
    """Worker processes that read files, one per core, started once and reused."""
    if not _pool:
        if (os.cpu_count() or 1) < 2:
            return _THREAD
        # spawn: the workers share nothing with this process's threads and event loop
        executor = ProcessPoolExecutor(
            os.cpu_count(),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=os.nice,
            initargs=(READERS_NICE,),
        )
        atexit.register(executor.shutdown, cancel_futures=True)
        _pool.append(executor)
    return _pool[0]


async def pull(
    db: Database,
    settings: Settings,
    source: SourceInfo,
    progress: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Pull an API source from its stored cursor, one transaction per page, then
    recompute the trajectories of the youth whose care the pages changed, once. The cursor
    moves only when every page loaded, so a failed pull is simply pulled again."""
    adapter = make_adapter(source)
    if not isinstance(adapter, PullAdapter):
        raise ConfigError(f"source {source.id!r}: adapter {source.adapter} cannot pull a URL")
    ctx = adapter_context(settings, source)
    since = await _cursor(db, source.id)
    results = []
    async with contextlib.aclosing(_one_ahead(adapter.pull(expand(source), since, ctx))) as pages:
        async for page in pages:
            (run,) = await load_files(db, source, [page], defer_trajectories=True)
            results.append(run)
            if progress:
                progress(run)
    await refresh_pending_trajectories(db, _region(settings), f"source:{source.id}")
    if results and all(r.status == "loaded" for r in results) and adapter.cursor != since:
        async with db.tenant(_CURSOR_SCOPE, readonly=False) as tx:
            await tx.execute(
                "update source set cursor = $2 where id = $1", source.id, adapter.cursor
            )
    return results


class Pusher:
    """Push ingestion (`POST /ingest/{source}`): a file sent by its source's owner, loaded
    like `hub ingest` loads it.

    The stored indicator facts are brought up to date in the background once the file is
    loaded, so a push answers as soon as its records are in rather than after recomputing
    its municipality's facts (seconds on a large region; a push that arrives during a
    refresh still waits for it to end before it can mark its municipality). Pushes that
    arrive meanwhile are covered by one more refresh after the running one. Until a refresh
    is done the pushed municipality is marked in `fact_dirty`, so every answer is computed
    live and never stale."""

    def __init__(self, db: Database, settings: Settings, sources: dict[str, SourceInfo]) -> None:
        self.db, self.settings, self.sources = db, settings, sources
        self._refreshing: asyncio.Task[None] | None = None
        self._again = False

    async def load(self, source: SourceInfo, name: str, data: bytes) -> RunResult:
        adapter = make_adapter(source)
        ctx = adapter_context(self.settings, source)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[:100] or "pushed"
        with tempfile.TemporaryDirectory(prefix="hub-push-") as folder:
            path = Path(folder) / safe
            path.write_bytes(data)
            result = await asyncio.to_thread(adapter.read, path, ctx)
        run = await load_file(self.db, source, result)
        self._refresh_soon()
        return run

    def _refresh_soon(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            self._again = True
            return
        self._refreshing = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        while True:
            self._again = False
            try:
                await refresh_facts(self.db, self.settings)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, DatabaseError) as exc:
                # the facts stay marked: answers stay live, and correct
                log.error("facts_refresh_failed error=%s", type(exc).__name__)  # noqa: TRY400
            if not self._again:
                return

    async def close(self) -> None:
        """Stop a refresh in progress: its municipalities stay marked for the next one."""
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing


async def refresh_facts(db: Database, settings: Settings, *, readers: int = 0) -> int:
    """Bring the stored indicator facts up to date with what was loaded (see
    hub/resolvers/indicators.py), after the trajectories a run left pending (one that
    stopped before its source's end); returns how many municipalities were recomputed.
    `readers`: connections beside the refresh's own that may compute at once."""
    await refresh_pending_trajectories(db, _region(settings), "facts")
    return await indicators.refresh_facts(
        db, [m.code for m in settings.region()], settings.long_running_years, readers=readers
    )


_T = TypeVar("_T")


async def _one_ahead(items: AsyncIterator[_T]) -> AsyncGenerator[_T, None]:
    """The items in order, the next one fetched while the caller works on this one (a page
    is requested and parsed while the one before it loads)."""
    pending = asyncio.ensure_future(anext(items, None))
    try:
        while (item := await pending) is not None:
            pending = asyncio.ensure_future(anext(items, None))
            yield item
    finally:
        if not pending.done():
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pending  # the caller stopped early: what it would fetch next is dropped
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()


_CURSOR_SCOPE = Scope("ingest", actor="cursor", ingest_municipalities=("-",))


async def _cursor(db: Database, source_id: str) -> str | None:
    async with db.tenant(_CURSOR_SCOPE) as tx:
        value: str | None = await tx.fetchval("select cursor from source where id = $1", source_id)
        return value
