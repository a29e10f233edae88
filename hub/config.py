"""Settings and the region. Everything comes from the environment (HUB_*) with defaults
that make `hub demo` work on a fresh machine; secrets never live in the database."""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str
    name: str
    youth_population: dict[int, int] = field(default_factory=dict)


# IJsselland (DOMAIN.md): CBS code, name, approximate youth aged 0-17.
_IJSSELLAND = [
    ("0148", "Dalfsen", 6_500),
    ("0150", "Deventer", 20_500),
    ("0160", "Hardenberg", 14_000),
    ("0166", "Kampen", 12_500),
    ("1773", "Olst-Wijhe", 3_900),
    ("0175", "Ommen", 4_000),
    ("0177", "Raalte", 8_500),
    ("0180", "Staphorst", 4_700),
    ("1708", "Steenwijkerland", 9_000),
    ("1896", "Zwartewaterland", 5_700),
    ("0193", "Zwolle", 27_500),
]
_DEFAULT_YEARS = range(2019, 2027)


def default_region() -> list[Municipality]:
    return [
        Municipality(code, name, dict.fromkeys(_DEFAULT_YEARS, youth))
        for code, name, youth in _IJSSELLAND
    ]


def load_region(path: Path | None) -> list[Municipality]:
    """The region file (TOML): one `[[municipality]]` table per municipality with `code`,
    `name` and `youth_population = {2023 = n, ...}`."""
    if path is None:
        return default_region()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"region file {path}: {exc}") from exc
    result = []
    for i, item in enumerate(data.get("municipality", [])):
        code = str(item.get("code", ""))
        if len(code) != 4 or not code.isdigit():
            raise ConfigError(f"region file {path}: municipality[{i}].code must be 4 digits")
        population = {int(y): int(n) for y, n in item.get("youth_population", {}).items()}
        result.append(Municipality(code, str(item.get("name", code)), population))
    if not result:
        raise ConfigError(f"region file {path}: no [[municipality]] entries")
    return result


def _state_dir() -> Path:
    return Path(os.environ.get("HUB_HOME", ".hub")).resolve()


def _secret(env: str, filename: str) -> str:
    """The environment wins; otherwise a generated secret kept in ./.hub/ (mode 0600) so
    every command run from the same folder agrees."""
    value = os.environ.get(env)
    if value:
        return value
    path = _state_dir() / filename
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value)
    return value


def _default_xsd_dir() -> Path | None:
    env = os.environ.get("HUB_IJW_XSD_DIR")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parent.parent.parent / "shared" / "ijw-3.2" / "xsd"
    return beside if beside.is_dir() else None


@dataclass(frozen=True, slots=True)
class Settings:
    state_dir: Path
    database_url: str | None  # administrative login; None: embedded server
    service_database_url: str | None
    region_file: Path | None
    xsd_dir: Path | None
    suppression_threshold: int
    long_running_years: int = 2  # uninterrupted care longer than this counts as long-running
    page_size_max: int = 500
    introspection: bool = False
    max_cost: int = 200_000  # HUB_MAX_COST: the estimated cost a query may have
    batch_max: int = 0  # HUB_BATCH_MAX: operations per batched request; 0: batching off
    ide: bool = False  # HUB_IDE: the query console at /ide
    statement_timeout_ms: int = 15_000  # HUB_STATEMENT_TIMEOUT_MS: per request
    cache_entries: int = 1_000  # HUB_CACHE_ENTRIES: cached aggregate answers; 0: off

    @property
    def secret(self) -> str:
        return _secret("HUB_SECRET", "secret")

    @property
    def pseudonym_key(self) -> bytes:
        return _secret("HUB_PSEUDONYM_KEY", "pseudonym_key").encode("utf-8")

    def region(self) -> list[Municipality]:
        return load_region(self.region_file)


def settings() -> Settings:
    threshold = int(os.environ.get("HUB_SUPPRESSION_THRESHOLD", "10"))
    if threshold < 5:
        raise ConfigError("HUB_SUPPRESSION_THRESHOLD may not be below 5")
    region = os.environ.get("HUB_REGION")
    return Settings(
        state_dir=_state_dir(),
        database_url=os.environ.get("HUB_DATABASE_URL") or None,
        service_database_url=os.environ.get("HUB_SERVICE_DATABASE_URL") or None,
        region_file=Path(region) if region else None,
        xsd_dir=_default_xsd_dir(),
        suppression_threshold=threshold,
        long_running_years=int(os.environ.get("HUB_LONG_RUNNING_YEARS", "2")),
        introspection=os.environ.get("HUB_INTROSPECTION", "") in ("1", "true", "yes"),
        max_cost=int(os.environ.get("HUB_MAX_COST", "200000")),
        batch_max=int(os.environ.get("HUB_BATCH_MAX", "0")),
        ide=os.environ.get("HUB_IDE", "") in ("1", "true", "yes"),
        statement_timeout_ms=int(os.environ.get("HUB_STATEMENT_TIMEOUT_MS", "15000")),
        cache_entries=int(os.environ.get("HUB_CACHE_ENTRIES", "1000")),
    )
