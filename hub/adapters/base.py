"""The one small interface every source adapter implements.

An adapter is made for one source (its id, owner and the options from `sources.toml`) and
reads one input at a time into a `FileResult`: the canonical records it accepted and typed
rejections for what it refused, so that for every input
`len(records) + len(rejections) == records_read`. Adapters never touch the database; the
store loads what they return (hub/store/).

File adapters implement `read(path)`. Adapters of HTTP APIs also implement `pull()`, which
yields one `FileResult` per page; the store loads each page in its own transaction.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hub.config import ConfigError
from hub.model import FileResult


@dataclass(frozen=True, slots=True)
class AdapterContext:
    source_id: str
    region: frozenset[str]  # municipality codes of the region; others are quarantined
    pseudonymise: Callable[[str], str]  # BSN -> pseudonym (HMAC)
    xsd_dir: Path | None  # None: schema validation is off (said plainly by the caller)
    owner: str | None = None  # municipality code, provider AGB or GI of the source


class Adapter(ABC):
    name: ClassVar[str]

    def __init__(self, source_id: str, options: Mapping[str, Any], owner: str | None) -> None:
        """Check the source's options; a mistake is a ConfigError naming the source."""
        self.source_id, self.owner = source_id, owner
        if options:
            raise ConfigError(
                f"source {source_id!r}: adapter {self.name} takes no options "
                f"(got {', '.join(sorted(options))})"
            )

    @abstractmethod
    def read(self, path: Path, ctx: AdapterContext) -> FileResult:
        """Read one file into canonical records and rejections. Must not raise for bad
        content: a file that fails as a whole is a `FileResult` with `failed=True` and one
        rejection saying why."""


class PullAdapter(Adapter):
    """An adapter whose source is an HTTP API. `read` takes a saved page."""

    @abstractmethod
    def pull(
        self, location: str, since: str | None, ctx: AdapterContext
    ) -> AsyncIterator[FileResult]:
        """Yield one FileResult per page of everything changed since the cursor `since`
        (everything when None). After the last page `self.cursor` holds the cursor for the
        next pull. A page that cannot be fetched (4xx, or 5xx and timeouts after the
        retries) ends the pull with a failed FileResult naming the URL and the status."""

    cursor: str | None = None


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
