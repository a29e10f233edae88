"""Ingestion: sources.toml, adapters and the store put together. One transaction per file."""

from __future__ import annotations

import glob
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.adapters.base import Adapter, AdapterContext
from hub.adapters.ijw import IjwAdapter
from hub.config import ConfigError, Settings
from hub.db import Database
from hub.pseudonym import pseudonymise
from hub.store.load import RunResult, SourceInfo, load_file

log = logging.getLogger("hub.ingest")

ADAPTERS: dict[str, type[Adapter]] = {IjwAdapter.name: IjwAdapter}


@dataclass(frozen=True, slots=True)
class SourceConfig:
    info: SourceInfo
    base: Path  # folder the location is relative to

    def paths(self) -> list[Path]:
        location = self.info.location or ""
        pattern = location if Path(location).is_absolute() else str(self.base / location)
        return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())


def read_sources(path: Path) -> list[SourceConfig]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"sources file {path}: {exc}") from exc
    result = []
    for i, item in enumerate(data.get("source", [])):
        missing = [k for k in ("id", "adapter") if not item.get(k)]
        if missing:
            raise ConfigError(f"sources file {path}: source[{i}] lacks {', '.join(missing)}")
        if item["adapter"] not in ADAPTERS:
            raise ConfigError(
                f"sources file {path}: source {item['id']!r} names unknown "
                f"adapter {item['adapter']!r} (known: {', '.join(ADAPTERS)})"
            )
        info = SourceInfo(
            str(item["id"]), str(item["adapter"]), item.get("owner"), item.get("location")
        )
        result.append(SourceConfig(info, path.resolve().parent))
    return result


def adapter_context(settings: Settings, source_id: str) -> AdapterContext:
    key = settings.pseudonym_key
    if settings.xsd_dir is None:
        log.warning("schema_validation_off reason=no XSD directory (set HUB_IJW_XSD_DIR)")
    return AdapterContext(
        source_id=source_id,
        region=frozenset(m.code for m in settings.region()),
        pseudonymise=lambda bsn: pseudonymise(key, bsn),
        xsd_dir=settings.xsd_dir,
    )


async def ingest(
    db: Database,
    settings: Settings,
    source: SourceInfo,
    paths: list[Path],
    progress: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    adapter = ADAPTERS[source.adapter]()
    ctx = adapter_context(settings, source.id)
    results = []
    for path in paths:
        run = await load_file(db, source, adapter.read(path, ctx))
        results.append(run)
        if progress:
            progress(run)
    return results
